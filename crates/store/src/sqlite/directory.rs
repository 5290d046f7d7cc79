//! Directory sync's tables on SQLite (see [`crate::directory`] for the shared SQL).

use rusqlite::{Connection, OptionalExtension, params};
use wfm_model::DirectorySnapshot;

use super::SqliteRow;
use crate::directory::{self as sql, decode_log, decode_person, decode_snapshot, encode_snapshot};
use crate::engine_tables::{as_i64, for_sqlite};
use crate::error::{StoreError, sqlite as sqlite_err};
use crate::{DirectoryLogEntry, DirectoryLogFilter, NewDirectoryLogEntry, PersonLink};

pub(super) fn snapshot(
    conn: &Connection,
    store: &str,
    context: &str,
    key: (&str, &str, &str),
) -> Result<Option<DirectorySnapshot>, StoreError> {
    let json: Option<String> = conn
        .prepare_cached(&for_sqlite(sql::SNAPSHOT_GET))
        .and_then(|mut stmt| {
            stmt.query_row(params![key.0, key.1, key.2], |r| r.get(0))
                .optional()
        })
        .map_err(sqlite_err(context))?;
    json.map(|json| decode_snapshot(store, key, &json))
        .transpose()
}

pub(super) fn save_snapshot(
    conn: &Connection,
    context: &str,
    key: (&str, &str, &str),
    snapshot: &DirectorySnapshot,
    at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(&for_sqlite(sql::SNAPSHOT_SET))
        .and_then(|mut stmt| {
            stmt.execute(params![key.0, key.1, key.2, encode_snapshot(snapshot), at])
        })
        .map(drop)
        .map_err(sqlite_err(context))
}

pub(super) fn persons(
    conn: &Connection,
    store: &str,
    context: &str,
    tenant: &str,
    target: &str,
) -> Result<Vec<PersonLink>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::PERSONS))
        .map_err(sqlite_err(context))?;
    let mut rows = stmt
        .query(params![tenant, target])
        .map_err(sqlite_err(context))?;
    let mut persons = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        persons.push(decode_person(&SqliteRow(row), store)?);
    }
    Ok(persons)
}

pub(super) fn add_persons(
    conn: &Connection,
    context: &str,
    persons: &[PersonLink],
) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::PERSON_ADD))
        .map_err(sqlite_err(context))?;
    let mut added = 0;
    for p in persons {
        added += stmt
            .execute(params![
                p.tenant,
                p.target,
                p.source,
                p.external_id,
                p.person_id,
                p.created_at
            ])
            .map_err(sqlite_err(context))? as u64;
    }
    Ok(added)
}

pub(super) fn log(
    conn: &Connection,
    context: &str,
    entries: &[NewDirectoryLogEntry],
) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::LOG_ADD))
        .map_err(sqlite_err(context))?;
    for e in entries {
        stmt.execute(params![
            e.tenant,
            e.flow,
            e.source,
            e.at,
            e.change,
            e.subject,
            e.before,
            e.after,
            e.action,
            e.person_id
        ])
        .map_err(sqlite_err(context))?;
    }
    Ok(entries.len() as u64)
}

pub(super) fn log_list(
    conn: &Connection,
    store: &str,
    context: &str,
    filter: &DirectoryLogFilter,
) -> Result<Vec<DirectoryLogEntry>, StoreError> {
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::LOG_LIST))
        .map_err(sqlite_err(context))?;
    let mut rows = stmt
        .query(params![
            filter.tenant,
            filter.flow,
            filter.before_id,
            as_i64(filter.limit)
        ])
        .map_err(sqlite_err(context))?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        entries.push(decode_log(&SqliteRow(row), store)?);
    }
    Ok(entries)
}
