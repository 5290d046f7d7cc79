//! Directory sync's tables on PostgreSQL (see [`crate::directory`] for the shared SQL).

use deadpool_postgres::Object;
use wfm_model::DirectorySnapshot;

use super::PgRow;
use crate::directory::{self as sql, decode_log, decode_person, decode_snapshot, encode_snapshot};
use crate::engine_tables::as_i64;
use crate::error::{StoreError, postgres as pg_err};
use crate::{DirectoryLogEntry, DirectoryLogFilter, NewDirectoryLogEntry, PersonLink};

async fn query(
    client: &Object,
    context: &str,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let stmt = client
        .prepare_cached(statement)
        .await
        .map_err(pg_err(context))?;
    client.query(&stmt, params).await.map_err(pg_err(context))
}

async fn execute(
    client: &Object,
    context: &str,
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, StoreError> {
    let stmt = client
        .prepare_cached(statement)
        .await
        .map_err(pg_err(context))?;
    client.execute(&stmt, params).await.map_err(pg_err(context))
}

pub(super) async fn snapshot(
    client: &Object,
    store: &str,
    context: &str,
    key: (&str, &str, &str),
) -> Result<Option<DirectorySnapshot>, StoreError> {
    let rows = query(
        client,
        context,
        sql::SNAPSHOT_GET,
        &[&key.0, &key.1, &key.2],
    )
    .await?;
    match rows.first() {
        None => Ok(None),
        Some(row) => {
            let json: String = row.try_get(0).map_err(pg_err(context))?;
            decode_snapshot(store, key, &json).map(Some)
        }
    }
}

pub(super) async fn save_snapshot(
    client: &Object,
    context: &str,
    key: (&str, &str, &str),
    snapshot: &DirectorySnapshot,
    at: i64,
) -> Result<(), StoreError> {
    let json = encode_snapshot(snapshot);
    execute(
        client,
        context,
        sql::SNAPSHOT_SET,
        &[&key.0, &key.1, &key.2, &json, &at],
    )
    .await
    .map(drop)
}

pub(super) async fn persons(
    client: &Object,
    store: &str,
    context: &str,
    tenant: &str,
    target: &str,
) -> Result<Vec<PersonLink>, StoreError> {
    query(client, context, sql::PERSONS, &[&tenant, &target])
        .await?
        .iter()
        .map(|row| decode_person(&PgRow(row), store))
        .collect()
}

pub(super) async fn add_persons(
    client: &Object,
    context: &str,
    persons: &[PersonLink],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for p in persons {
        added += execute(
            client,
            context,
            sql::PERSON_ADD,
            &[
                &p.tenant,
                &p.target,
                &p.source,
                &p.external_id,
                &p.person_id,
                &p.created_at,
            ],
        )
        .await?;
    }
    Ok(added)
}

pub(super) async fn log(
    client: &Object,
    context: &str,
    entries: &[NewDirectoryLogEntry],
) -> Result<u64, StoreError> {
    for e in entries {
        execute(
            client,
            context,
            sql::LOG_ADD,
            &[
                &e.tenant,
                &e.flow,
                &e.source,
                &e.at,
                &e.change,
                &e.subject,
                &e.before,
                &e.after,
                &e.action,
                &e.person_id,
            ],
        )
        .await?;
    }
    Ok(entries.len() as u64)
}

pub(super) async fn log_list(
    client: &Object,
    store: &str,
    context: &str,
    filter: &DirectoryLogFilter,
) -> Result<Vec<DirectoryLogEntry>, StoreError> {
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    let limit = as_i64(filter.limit);
    query(
        client,
        context,
        sql::LOG_LIST_PG,
        &[&filter.tenant, &filter.flow, &filter.before_id, &limit],
    )
    .await?
    .iter()
    .map(|row| decode_log(&PgRow(row), store))
    .collect()
}
