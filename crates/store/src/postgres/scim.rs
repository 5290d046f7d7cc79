//! [`ScimStore`] on PostgreSQL. A write that checks a name first takes a transaction-scoped
//! advisory lock on (tenant, name) so that two creations of one userName cannot both pass the
//! check; the partial unique index backs it up.

use async_trait::async_trait;
use tokio_postgres::error::SqlState;

use super::PostgresStore;
use crate::error::{StoreError, postgres as pg_err};
use crate::scim::{ScimResource, ScimStore, ScimType, ScimWrite, parse_type, sql};

fn decode(row: &tokio_postgres::Row) -> Result<ScimResource, tokio_postgres::Error> {
    Ok(ScimResource {
        tenant: row.try_get(0)?,
        resource_type: parse_type(row.try_get::<_, &str>(1)?),
        id: row.try_get(2)?,
        name_key: row.try_get(3)?,
        version: row.try_get(4)?,
        created_at: row.try_get(5)?,
        modified_at: row.try_get(6)?,
        deleted_at: row.try_get(7)?,
        document: row.try_get(8)?,
    })
}

impl PostgresStore {
    async fn scim_write(
        &self,
        context: &str,
        r: &ScimResource,
        expected_version: Option<i64>,
    ) -> Result<ScimWrite, StoreError> {
        let mut client = self.client(context).await?;
        let tx = client.transaction().await.map_err(pg_err(context))?;
        if r.resource_type.unique_name() {
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                &[&format!("scim:{}:{}", r.tenant, r.name_key)],
            )
            .await
            .map_err(pg_err(context))?;
            let taken: i64 = tx
                .query_one(
                    sql::NAME_TAKEN,
                    &[&r.tenant, &r.resource_type.as_str(), &r.name_key, &r.id],
                )
                .await
                .and_then(|row| row.try_get(0))
                .map_err(pg_err(context))?;
            if taken > 0 {
                return Ok(ScimWrite::NameTaken);
            }
        }
        let changed = match expected_version {
            None => {
                tx.execute(
                    sql::INSERT,
                    &[
                        &r.tenant,
                        &r.resource_type.as_str(),
                        &r.id,
                        &r.name_key,
                        &r.version,
                        &r.created_at,
                        &r.modified_at,
                        &r.document,
                    ],
                )
                .await
            }
            Some(expected) => {
                tx.execute(
                    sql::UPDATE,
                    &[
                        &r.tenant,
                        &r.resource_type.as_str(),
                        &r.id,
                        &r.name_key,
                        &r.version,
                        &r.modified_at,
                        &r.document,
                        &expected,
                    ],
                )
                .await
            }
        };
        let changed = match changed {
            Ok(n) => n,
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Ok(ScimWrite::NameTaken);
            }
            Err(e) => return Err(pg_err(context)(e)),
        };
        tx.commit().await.map_err(pg_err(context))?;
        Ok(if changed == 1 {
            ScimWrite::Written
        } else {
            ScimWrite::VersionMismatch
        })
    }
}

#[async_trait]
impl ScimStore for PostgresStore {
    async fn scim_list(
        &self,
        tenant: &str,
        resource_type: ScimType,
        include_deleted: bool,
    ) -> Result<Vec<ScimResource>, StoreError> {
        let context = format!(
            "listing SCIM {}s of tenant {tenant:?} on {}",
            resource_type.as_str(),
            self.describe
        );
        let statement = if include_deleted {
            sql::LIST_ALL
        } else {
            sql::LIST_LIVE
        };
        let client = self.client(&context).await?;
        let rows = client
            .query(statement, &[&tenant, &resource_type.as_str()])
            .await
            .map_err(pg_err(&context))?;
        rows.iter()
            .map(decode)
            .collect::<Result<_, _>>()
            .map_err(pg_err(&context))
    }

    async fn scim_get(
        &self,
        tenant: &str,
        resource_type: ScimType,
        id: &str,
    ) -> Result<Option<ScimResource>, StoreError> {
        let context = format!(
            "reading SCIM {} {id:?} on {}",
            resource_type.as_str(),
            self.describe
        );
        let client = self.client(&context).await?;
        let row = client
            .query_opt(sql::GET, &[&tenant, &resource_type.as_str(), &id])
            .await
            .map_err(pg_err(&context))?;
        row.as_ref()
            .map(decode)
            .transpose()
            .map_err(pg_err(&context))
    }

    async fn scim_insert(&self, resource: &ScimResource) -> Result<ScimWrite, StoreError> {
        let context = format!(
            "adding SCIM {} {:?} on {}",
            resource.resource_type.as_str(),
            resource.id,
            self.describe
        );
        self.scim_write(&context, resource, None).await
    }

    async fn scim_update(
        &self,
        resource: &ScimResource,
        expected_version: i64,
    ) -> Result<ScimWrite, StoreError> {
        let context = format!(
            "updating SCIM {} {:?} on {}",
            resource.resource_type.as_str(),
            resource.id,
            self.describe
        );
        self.scim_write(&context, resource, Some(expected_version))
            .await
    }

    async fn scim_delete(
        &self,
        tenant: &str,
        resource_type: ScimType,
        id: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let context = format!(
            "deleting SCIM {} {id:?} on {}",
            resource_type.as_str(),
            self.describe
        );
        let client = self.client(&context).await?;
        client
            .execute(sql::DELETE, &[&tenant, &resource_type.as_str(), &id, &at])
            .await
            .map(|n| n == 1)
            .map_err(pg_err(&context))
    }
}
