//! The admin catalog (`api_accounts`, `api_flows`) and dead-letter discards on SQLite.

use rusqlite::{Connection, params};

use super::SqliteRow;
use crate::catalog::{self as sql, CatalogEntry, CatalogTable, decode_entry};
use crate::engine_tables::for_sqlite;
use crate::error::{StoreError, sqlite as sqlite_err};

pub(super) fn discard_dead(conn: &Connection, context: &str, id: i64) -> Result<bool, StoreError> {
    let changed = conn
        .execute(&for_sqlite(sql::DISCARD_DEAD), params![id])
        .map_err(sqlite_err(context))?;
    Ok(changed > 0)
}

pub(super) fn list(
    conn: &Connection,
    store: &str,
    context: &str,
    table: CatalogTable,
) -> Result<Vec<CatalogEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&sql::list_sql(table))
        .map_err(sqlite_err(context))?;
    let mut rows = stmt.query([]).map_err(sqlite_err(context))?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        entries.push(decode_entry(&SqliteRow(row), table, store)?);
    }
    Ok(entries)
}

pub(super) fn put(
    conn: &Connection,
    context: &str,
    table: CatalogTable,
    entry: &CatalogEntry,
) -> Result<(), StoreError> {
    conn.prepare_cached(&for_sqlite(&sql::put_sql(table)))
        .and_then(|mut stmt| {
            stmt.execute(params![
                entry.name,
                entry.tenant,
                entry.kind,
                entry.body,
                entry.created_at,
                entry.updated_at
            ])
        })
        .map_err(sqlite_err(context))
        .map(drop)
}

pub(super) fn delete(
    conn: &Connection,
    context: &str,
    table: CatalogTable,
    name: &str,
) -> Result<bool, StoreError> {
    let changed = conn
        .execute(&for_sqlite(&sql::delete_sql(table)), params![name])
        .map_err(sqlite_err(context))?;
    Ok(changed > 0)
}
