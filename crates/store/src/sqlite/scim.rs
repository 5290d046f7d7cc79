//! [`ScimStore`] on SQLite: each call one statement (or one IMMEDIATE transaction for the writes
//! that check a name first) on a pooled connection.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::SqliteStore;
use crate::engine_tables::for_sqlite;
use crate::error::{StoreError, sqlite as sqlite_err};
use crate::scim::{ScimResource, ScimStore, ScimType, ScimWrite, parse_type, sql};

fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<ScimResource> {
    Ok(ScimResource {
        tenant: row.get(0)?,
        resource_type: parse_type(&row.get::<_, String>(1)?),
        id: row.get(2)?,
        name_key: row.get(3)?,
        version: row.get(4)?,
        created_at: row.get(5)?,
        modified_at: row.get(6)?,
        deleted_at: row.get(7)?,
        document: row.get(8)?,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Writes `resource` in one IMMEDIATE transaction: checks the name, then runs `statement`.
fn write(
    conn: &mut Connection,
    context: &str,
    resource: &ScimResource,
    expected_version: Option<i64>,
) -> Result<ScimWrite, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite_err(context))?;
    let r = resource;
    if r.resource_type.unique_name() {
        let taken: i64 = tx
            .prepare_cached(&for_sqlite(sql::NAME_TAKEN))
            .and_then(|mut s| {
                s.query_row(
                    params![r.tenant, r.resource_type.as_str(), r.name_key, r.id],
                    |row| row.get(0),
                )
            })
            .map_err(sqlite_err(context))?;
        if taken > 0 {
            return Ok(ScimWrite::NameTaken);
        }
    }
    let changed = match expected_version {
        None => tx
            .prepare_cached(&for_sqlite(sql::INSERT))
            .and_then(|mut s| {
                s.execute(params![
                    r.tenant,
                    r.resource_type.as_str(),
                    r.id,
                    r.name_key,
                    r.version,
                    r.created_at,
                    r.modified_at,
                    r.document
                ])
            }),
        Some(expected) => tx
            .prepare_cached(&for_sqlite(sql::UPDATE))
            .and_then(|mut s| {
                s.execute(params![
                    r.tenant,
                    r.resource_type.as_str(),
                    r.id,
                    r.name_key,
                    r.version,
                    r.modified_at,
                    r.document,
                    expected
                ])
            }),
    };
    let changed = match changed {
        Ok(n) => n,
        Err(e) if is_unique_violation(&e) => return Ok(ScimWrite::NameTaken),
        Err(e) => return Err(sqlite_err(context)(e)),
    };
    tx.commit().map_err(sqlite_err(context))?;
    Ok(if changed == 1 {
        ScimWrite::Written
    } else {
        ScimWrite::VersionMismatch
    })
}

#[async_trait]
impl ScimStore for SqliteStore {
    async fn scim_list(
        &self,
        tenant: &str,
        resource_type: ScimType,
        include_deleted: bool,
    ) -> Result<Vec<ScimResource>, StoreError> {
        let tenant = tenant.to_string();
        let context = format!(
            "listing SCIM {}s of tenant {tenant:?} on {}",
            resource_type.as_str(),
            self.inner.describe
        );
        let statement = if include_deleted {
            sql::LIST_ALL
        } else {
            sql::LIST_LIVE
        };
        self.with_conn(context.clone(), move |conn, _| {
            conn.prepare_cached(&for_sqlite(statement))
                .and_then(|mut s| {
                    s.query_map(params![tenant, resource_type.as_str()], decode)?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sqlite_err(context))
        })
        .await
    }

    async fn scim_get(
        &self,
        tenant: &str,
        resource_type: ScimType,
        id: &str,
    ) -> Result<Option<ScimResource>, StoreError> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        let context = format!(
            "reading SCIM {} {id:?} on {}",
            resource_type.as_str(),
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            conn.prepare_cached(&for_sqlite(sql::GET))
                .and_then(|mut s| {
                    s.query_row(params![tenant, resource_type.as_str(), id], decode)
                        .optional()
                })
                .map_err(sqlite_err(context))
        })
        .await
    }

    async fn scim_insert(&self, resource: &ScimResource) -> Result<ScimWrite, StoreError> {
        let resource = resource.clone();
        let context = format!(
            "adding SCIM {} {:?} on {}",
            resource.resource_type.as_str(),
            resource.id,
            self.inner.describe
        );
        let inner = self.inner.clone();
        super::spawn(context.clone(), move || {
            let mut conn = inner.checkout()?;
            let result = write(&mut conn, &context, &resource, None);
            inner.checkin(conn);
            result
        })
        .await
    }

    async fn scim_update(
        &self,
        resource: &ScimResource,
        expected_version: i64,
    ) -> Result<ScimWrite, StoreError> {
        let resource = resource.clone();
        let context = format!(
            "updating SCIM {} {:?} on {}",
            resource.resource_type.as_str(),
            resource.id,
            self.inner.describe
        );
        let inner = self.inner.clone();
        super::spawn(context.clone(), move || {
            let mut conn = inner.checkout()?;
            let result = write(&mut conn, &context, &resource, Some(expected_version));
            inner.checkin(conn);
            result
        })
        .await
    }

    async fn scim_delete(
        &self,
        tenant: &str,
        resource_type: ScimType,
        id: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.to_string(), id.to_string());
        let context = format!(
            "deleting SCIM {} {id:?} on {}",
            resource_type.as_str(),
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            conn.prepare_cached(&for_sqlite(sql::DELETE))
                .and_then(|mut s| s.execute(params![tenant, resource_type.as_str(), id, at]))
                .map(|n| n == 1)
                .map_err(sqlite_err(context))
        })
        .await
    }
}
