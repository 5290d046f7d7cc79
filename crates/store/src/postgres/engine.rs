//! The engine's tables on PostgreSQL: cursors, the outbox and runs.
//!
//! Unlike SQLite, PostgreSQL runs writers concurrently, so the rules are enforced with locks:
//!
//! - a claim selects the due messages `FOR UPDATE SKIP LOCKED` and moves their lease in the same
//!   statement: a second worker skips rows the first has locked, and once the first commits, the
//!   row's new `next_attempt_at` (re-checked on the newest row version) is no longer due. No
//!   message is claimed twice while its lease runs, and workers do not wait for one another;
//! - a run start takes a transaction-scoped advisory lock on the flow's name, so two starts of one
//!   flow run one after the other, and the second (whose statements see what committed before
//!   them, READ COMMITTED) finds the first one's run.

use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;

use super::PgRow;
use crate::engine_tables::{
    self as sql, LEASE_EXPIRED, Param, Payload, as_i64, decode_depth, decode_message, decode_run,
    not_running,
};
use crate::error::{StoreError, postgres as pg_err};
use crate::{NewMessage, OutboxDepth, OutboxFilter, OutboxMessage, Run, RunEnd};

/// The key space of the flows' advisory locks (the two-integer form, apart from the migration
/// lock's single bigint): the bytes of "wfmr".
const RUN_LOCK_SPACE: i32 = 0x7766_6d72;

/// Messages sent in one enqueue statement at most, and the payload bytes (a statement must stay
/// well below PostgreSQL's 1 GiB message limit).
const ENQUEUE_BATCH: usize = 1_000;
const ENQUEUE_BATCH_BYTES: usize = 64 << 20;

/// The batched enqueue: one array per column, in order (`WITH ORDINALITY … ORDER BY` so that ids
/// follow the order given, which is the delivery order within a key). Duplicated idempotency keys,
/// stored or within the batch, insert nothing.
const ENQUEUE: &str = "INSERT INTO outbox (flow, message_key, idempotency_key, name, \
     content_type, payload, next_attempt_at, created_at) \
     SELECT u.flow, u.message_key, u.idempotency_key, u.name, u.content_type, u.payload, \
     $7::bigint, $7::bigint \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[]) \
     WITH ORDINALITY AS u (flow, message_key, idempotency_key, name, content_type, payload, ord) \
     ORDER BY u.ord \
     ON CONFLICT (idempotency_key) DO NOTHING";

/// The claim. Parameters: now, limit, lease.
fn claim_sql() -> String {
    format!(
        "WITH due AS ({} FOR UPDATE OF o SKIP LOCKED) \
         UPDATE outbox SET attempts = outbox.attempts + 1, \
         next_attempt_at = $1::bigint + $3::bigint \
         FROM due WHERE outbox.id = due.id RETURNING {}",
        sql::DUE,
        sql::message_columns(Some("outbox"))
    )
}

async fn execute(
    client: &Object,
    context: &str,
    statement: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let stmt = client
        .prepare_cached(statement)
        .await
        .map_err(pg_err(context))?;
    client.execute(&stmt, params).await.map_err(pg_err(context))
}

async fn query(
    client: &Object,
    context: &str,
    statement: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let stmt = client
        .prepare_cached(statement)
        .await
        .map_err(pg_err(context))?;
    client.query(&stmt, params).await.map_err(pg_err(context))
}

pub(super) async fn cursor(
    client: &Object,
    context: &str,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let rows = query(client, context, sql::CURSOR_GET, &[&name]).await?;
    rows.first()
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(pg_err(context))
}

pub(super) async fn set_cursor(
    client: &Object,
    context: &str,
    name: &str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    execute(client, context, sql::CURSOR_SET, &[&name, &value, &now])
        .await
        .map(drop)
}

pub(super) async fn enqueue(
    client: &Object,
    context: &str,
    messages: &[NewMessage],
    now: i64,
) -> Result<u64, StoreError> {
    let stmt = client
        .prepare_cached(ENQUEUE)
        .await
        .map_err(pg_err(context))?;
    let mut added = 0;
    let mut start = 0;
    while start < messages.len() {
        // As many messages as fit the batch limits, and at least one.
        let mut end = start + 1;
        let mut bytes = messages[start].payload.len();
        while end < messages.len()
            && end - start < ENQUEUE_BATCH
            && bytes + messages[end].payload.len() <= ENQUEUE_BATCH_BYTES
        {
            bytes += messages[end].payload.len();
            end += 1;
        }
        let batch = &messages[start..end];
        let column = |f: fn(&NewMessage) -> &str| batch.iter().map(f).collect::<Vec<&str>>();
        let flows = column(|m| &m.flow);
        let keys = column(|m| &m.key);
        let idempotency = column(|m| &m.idempotency_key);
        let names = column(|m| &m.name);
        let types = column(|m| &m.content_type);
        let payloads: Vec<&[u8]> = batch.iter().map(|m| m.payload.as_slice()).collect();
        added += client
            .execute(
                &stmt,
                &[&flows, &keys, &idempotency, &names, &types, &payloads, &now],
            )
            .await
            .map_err(pg_err(context))?;
        start = end;
    }
    Ok(added)
}

pub(super) async fn supersede(
    client: &Object,
    context: &str,
    flow: &str,
    key: Option<&str>,
    before_id: i64,
) -> Result<u64, StoreError> {
    match key {
        Some(key) => {
            execute(
                client,
                context,
                sql::SUPERSEDE_KEY,
                &[&flow, &key, &before_id],
            )
            .await
        }
        None => execute(client, context, sql::SUPERSEDE_ALL, &[&flow, &before_id]).await,
    }
}

pub(super) async fn claim_due(
    client: &Object,
    store: &str,
    context: &str,
    now: i64,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<OutboxMessage>, StoreError> {
    // One statement is one transaction: the locks are held until the new leases are committed.
    let rows = query(
        client,
        context,
        &claim_sql(),
        &[&now, &as_i64(limit), &lease_ms],
    )
    .await?;
    let mut claimed = rows
        .iter()
        .map(|row| decode_message(&PgRow(row), Payload::Bytes, store))
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives rows in no promised order.
    claimed.sort_by_key(|m| m.id);
    Ok(claimed)
}

pub(super) async fn mark_sent(
    client: &Object,
    context: &str,
    id: i64,
    at: i64,
) -> Result<(), StoreError> {
    execute(client, context, sql::MARK_SENT, &[&id, &at])
        .await
        .map(drop)
}

pub(super) async fn mark_retry(
    client: &Object,
    context: &str,
    id: i64,
    next_attempt_at: i64,
    error: &str,
    count_attempt: bool,
) -> Result<(), StoreError> {
    execute(
        client,
        context,
        sql::MARK_RETRY,
        &[&id, &next_attempt_at, &error, &count_attempt],
    )
    .await
    .map(drop)
}

pub(super) async fn mark_dead(
    client: &Object,
    context: &str,
    id: i64,
    error: &str,
) -> Result<(), StoreError> {
    execute(client, context, sql::MARK_DEAD, &[&id, &error])
        .await
        .map(drop)
}

pub(super) async fn retry_dead(
    client: &Object,
    context: &str,
    id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(execute(client, context, sql::RETRY_DEAD, &[&id, &now]).await? > 0)
}

pub(super) async fn outbox(
    client: &Object,
    store: &str,
    context: &str,
    filter: &OutboxFilter,
) -> Result<Vec<OutboxMessage>, StoreError> {
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    // octet_length of a TOASTed value reads its size, not the value.
    let statement = sql::outbox_list(filter, "octet_length");
    let params: Vec<Box<dyn ToSql + Sync + Send>> = sql::filter_params(filter)
        .into_iter()
        .map(|p| -> Box<dyn ToSql + Sync + Send> {
            match p {
                Param::Text(t) => Box::new(t.to_string()),
                Param::Int(i) => Box::new(i),
            }
        })
        .collect();
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let rows = query(client, context, &statement, &refs).await?;
    rows.iter()
        .map(|row| decode_message(&PgRow(row), Payload::Size, store))
        .collect()
}

pub(super) async fn outbox_depth(
    client: &Object,
    store: &str,
    context: &str,
) -> Result<Vec<OutboxDepth>, StoreError> {
    let rows = query(client, context, sql::OUTBOX_DEPTH, &[]).await?;
    rows.iter()
        .map(|row| decode_depth(&PgRow(row), store))
        .collect()
}

pub(super) async fn try_start_run(
    client: &mut Object,
    context: &str,
    flow: &str,
    now: i64,
    lease_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let tx = client.transaction().await.map_err(pg_err(context))?;
    // Held to the end of the transaction. Its own statement: the ones after it take their
    // snapshots once the lock is ours, so they see a run another start committed meanwhile.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&RUN_LOCK_SPACE, &flow],
    )
    .await
    .map_err(pg_err(context))?;
    let abandon = tx
        .prepare_cached(sql::ABANDON_EXPIRED)
        .await
        .map_err(pg_err(context))?;
    tx.execute(&abandon, &[&flow, &now, &LEASE_EXPIRED])
        .await
        .map_err(pg_err(context))?;
    let running: i64 = tx
        .query_one(sql::RUNNING, &[&flow])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(pg_err(context))?;
    let started = if running > 0 {
        None
    } else {
        let id: i64 = tx
            .query_one(
                sql::START_RUN,
                &[&flow, &now, &now.saturating_add(lease_ms)],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(pg_err(context))?;
        Some(id)
    };
    // Committed even when refused: the expired runs stay ended.
    tx.commit().await.map_err(pg_err(context))?;
    Ok(started)
}

pub(super) async fn renew_run(
    client: &Object,
    store: &str,
    context: &str,
    id: i64,
    until: i64,
) -> Result<(), StoreError> {
    if execute(client, context, sql::RENEW_RUN, &[&id, &until]).await? == 0 {
        let rows = query(client, context, sql::RUN_STATUS, &[&id]).await?;
        let status = rows
            .first()
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(pg_err(context))?;
        return Err(not_running(store, id, status));
    }
    Ok(())
}

pub(super) async fn finish_run(
    client: &Object,
    store: &str,
    context: &str,
    id: i64,
    end: &RunEnd,
) -> Result<(), StoreError> {
    let changed = execute(
        client,
        context,
        sql::FINISH_RUN,
        &[
            &id,
            &end.ended_at,
            &end.status.as_str(),
            &as_i64(end.read),
            &as_i64(end.sent),
            &as_i64(end.rejected),
            &end.error,
        ],
    )
    .await?;
    if changed == 0 {
        return Err(not_running(store, id, None));
    }
    Ok(())
}

pub(super) async fn runs(
    client: &Object,
    store: &str,
    context: &str,
    flow: Option<&str>,
    limit: usize,
) -> Result<Vec<Run>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let limit = as_i64(limit);
    let statement = sql::runs_list(flow.is_some());
    let rows = match flow {
        Some(flow) => query(client, context, &statement, &[&flow, &limit]).await?,
        None => query(client, context, &statement, &[&limit]).await?,
    };
    rows.iter()
        .map(|row| decode_run(&PgRow(row), store))
        .collect()
}
