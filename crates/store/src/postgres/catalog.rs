//! The admin catalog (`api_accounts`, `api_flows`) and dead-letter discards on PostgreSQL.

use deadpool_postgres::Object;

use super::PgRow;
use crate::catalog::{self as sql, CatalogEntry, CatalogTable, decode_entry};
use crate::error::{StoreError, postgres as pg_err};

pub(super) async fn discard_dead(
    client: &Object,
    context: &str,
    id: i64,
) -> Result<bool, StoreError> {
    let changed = client
        .execute(sql::DISCARD_DEAD, &[&id])
        .await
        .map_err(pg_err(context))?;
    Ok(changed > 0)
}

pub(super) async fn list(
    client: &Object,
    store: &str,
    context: &str,
    table: CatalogTable,
) -> Result<Vec<CatalogEntry>, StoreError> {
    let rows = client
        .query(&sql::list_sql(table), &[])
        .await
        .map_err(pg_err(context))?;
    rows.iter()
        .map(|row| decode_entry(&PgRow(row), table, store))
        .collect()
}

pub(super) async fn put(
    client: &Object,
    context: &str,
    table: CatalogTable,
    entry: &CatalogEntry,
) -> Result<(), StoreError> {
    client
        .execute(
            &sql::put_sql(table),
            &[
                &entry.name,
                &entry.tenant,
                &entry.kind,
                &entry.body,
                &entry.created_at,
                &entry.updated_at,
            ],
        )
        .await
        .map_err(pg_err(context))
        .map(drop)
}

pub(super) async fn delete(
    client: &Object,
    context: &str,
    table: CatalogTable,
    name: &str,
) -> Result<bool, StoreError> {
    let changed = client
        .execute(&sql::delete_sql(table), &[&name])
        .await
        .map_err(pg_err(context))?;
    Ok(changed > 0)
}
