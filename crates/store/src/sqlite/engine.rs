//! The engine's tables on SQLite: cursors, the outbox and runs.
//!
//! Plain functions on a connection, run on a blocking thread by [`super::SqliteStore`] and
//! [`super::SqliteTx`]. SQLite has one writer at a time, which makes the concurrency rules simple:
//! a claim and a run start are each one `BEGIN IMMEDIATE` transaction, so a second worker or
//! scheduler waits for the first to commit (up to the busy timeout) and then sees what it did.
//! Nobody can claim a message another has claimed while the lease runs, and two starts of one flow
//! cannot both see it free.

use std::sync::LazyLock;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::SqliteRow;
use crate::engine_tables::{
    self as sql, LEASE_EXPIRED, Param, Payload, as_i64, decode_depth, decode_message, decode_run,
    for_sqlite, not_running,
};
use crate::error::{StoreError, sqlite as sqlite_err};
use crate::{NewMessage, OutboxDepth, OutboxFilter, OutboxMessage, Run, RunEnd};

/// The claim: one UPDATE of the due messages, returning them. Parameters: now, limit, lease.
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    for_sqlite(&format!(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1 + $3 \
         WHERE id IN ({}) RETURNING {}",
        sql::DUE,
        sql::message_columns(None)
    ))
});

/// One statement that changes rows; returns how many.
fn execute(
    conn: &Connection,
    context: &str,
    statement: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(&for_sqlite(statement))
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(sqlite_err(context))
}

pub(super) fn cursor(
    conn: &Connection,
    context: &str,
    name: &str,
) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(&for_sqlite(sql::CURSOR_GET))
        .and_then(|mut stmt| stmt.query_row([name], |r| r.get(0)).optional())
        .map_err(sqlite_err(context))
}

pub(super) fn set_cursor(
    conn: &Connection,
    context: &str,
    name: &str,
    value: &str,
    now: i64,
) -> Result<(), StoreError> {
    execute(conn, context, sql::CURSOR_SET, params![name, value, now]).map(drop)
}

pub(super) fn enqueue(
    conn: &Connection,
    context: &str,
    messages: &[NewMessage],
    now: i64,
) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare_cached(&for_sqlite(sql::ENQUEUE_ONE))
        .map_err(sqlite_err(context))?;
    let mut added = 0;
    for m in messages {
        let inserted = stmt
            .execute(params![
                m.flow,
                m.key,
                m.idempotency_key,
                m.name,
                m.content_type,
                m.payload,
                now
            ])
            .map_err(|e| sqlite_err(format!("{context}: message {:?}", m.idempotency_key))(e))?;
        added += inserted as u64;
    }
    Ok(added)
}

pub(super) fn supersede(
    conn: &Connection,
    context: &str,
    flow: &str,
    key: Option<&str>,
    before_id: i64,
) -> Result<u64, StoreError> {
    let n = match key {
        Some(key) => execute(
            conn,
            context,
            sql::SUPERSEDE_KEY,
            params![flow, key, before_id],
        )?,
        None => execute(conn, context, sql::SUPERSEDE_ALL, params![flow, before_id])?,
    };
    Ok(n as u64)
}

pub(super) fn claim_due(
    conn: &Connection,
    store: &str,
    context: &str,
    now: i64,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<OutboxMessage>, StoreError> {
    // One statement, in a transaction that takes the write lock before it reads: the messages it
    // picks cannot be picked by anyone else before their new lease is committed.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sqlite_err(context))?;
    let mut claimed = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&CLAIM).map_err(sqlite_err(context))?;
        let mut rows = stmt
            .query(params![now, as_i64(limit), lease_ms])
            .map_err(sqlite_err(context))?;
        while let Some(row) = rows.next().map_err(sqlite_err(context))? {
            claimed.push(decode_message(&SqliteRow(row), Payload::Bytes, store)?);
        }
    }
    tx.commit().map_err(sqlite_err(context))?;
    // RETURNING gives rows in no promised order.
    claimed.sort_by_key(|m| m.id);
    Ok(claimed)
}

pub(super) fn mark_sent(
    conn: &Connection,
    context: &str,
    id: i64,
    at: i64,
) -> Result<(), StoreError> {
    execute(conn, context, sql::MARK_SENT, params![id, at]).map(drop)
}

pub(super) fn mark_retry(
    conn: &Connection,
    context: &str,
    id: i64,
    next_attempt_at: i64,
    error: &str,
    count_attempt: bool,
) -> Result<(), StoreError> {
    execute(
        conn,
        context,
        sql::MARK_RETRY,
        params![id, next_attempt_at, error, count_attempt],
    )
    .map(drop)
}

pub(super) fn mark_dead(
    conn: &Connection,
    context: &str,
    id: i64,
    error: &str,
) -> Result<(), StoreError> {
    execute(conn, context, sql::MARK_DEAD, params![id, error]).map(drop)
}

pub(super) fn retry_dead(
    conn: &Connection,
    context: &str,
    id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(execute(conn, context, sql::RETRY_DEAD, params![id, now])? > 0)
}

pub(super) fn outbox(
    conn: &Connection,
    store: &str,
    context: &str,
    filter: &OutboxFilter,
) -> Result<Vec<OutboxMessage>, StoreError> {
    if filter.limit == 0 {
        return Ok(Vec::new());
    }
    // SQLite's length() of a BLOB is its size in bytes, read from the record header.
    let statement = for_sqlite(&sql::outbox_list(filter, "length"));
    let params: Vec<rusqlite::types::Value> = sql::filter_params(filter)
        .into_iter()
        .map(|p| match p {
            Param::Text(t) => rusqlite::types::Value::Text(t.to_string()),
            Param::Int(i) => rusqlite::types::Value::Integer(i),
        })
        .collect();
    let mut stmt = conn
        .prepare_cached(&statement)
        .map_err(sqlite_err(context))?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(sqlite_err(context))?;
    let mut messages = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        messages.push(decode_message(&SqliteRow(row), Payload::Size, store)?);
    }
    Ok(messages)
}

pub(super) fn outbox_depth(
    conn: &Connection,
    store: &str,
    context: &str,
) -> Result<Vec<OutboxDepth>, StoreError> {
    let mut stmt = conn
        .prepare_cached(sql::OUTBOX_DEPTH)
        .map_err(sqlite_err(context))?;
    let mut rows = stmt.query([]).map_err(sqlite_err(context))?;
    let mut depths = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        depths.push(decode_depth(&SqliteRow(row), store)?);
    }
    Ok(depths)
}

pub(super) fn try_start_run(
    conn: &Connection,
    context: &str,
    flow: &str,
    now: i64,
    lease_ms: i64,
) -> Result<Option<i64>, StoreError> {
    // The write lock, taken first, is the flow's lock: a second start waits here and then sees
    // the first one's run.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(sqlite_err(context))?;
    execute(
        &tx,
        context,
        sql::ABANDON_EXPIRED,
        params![flow, now, LEASE_EXPIRED],
    )?;
    let running: i64 = tx
        .prepare_cached(&for_sqlite(sql::RUNNING))
        .and_then(|mut stmt| stmt.query_row([flow], |r| r.get(0)))
        .map_err(sqlite_err(context))?;
    let started = if running > 0 {
        None
    } else {
        let id: i64 = tx
            .prepare_cached(&for_sqlite(sql::START_RUN))
            .and_then(|mut stmt| {
                stmt.query_row(params![flow, now, now.saturating_add(lease_ms)], |r| {
                    r.get(0)
                })
            })
            .map_err(sqlite_err(context))?;
        Some(id)
    };
    // Committed even when refused: the expired runs stay ended.
    tx.commit().map_err(sqlite_err(context))?;
    Ok(started)
}

/// The status of a run, for the error when it is not running.
fn run_status(conn: &Connection, context: &str, id: i64) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(&for_sqlite(sql::RUN_STATUS))
        .and_then(|mut stmt| stmt.query_row([id], |r| r.get(0)).optional())
        .map_err(sqlite_err(context))
}

pub(super) fn renew_run(
    conn: &Connection,
    store: &str,
    context: &str,
    id: i64,
    until: i64,
) -> Result<(), StoreError> {
    if execute(conn, context, sql::RENEW_RUN, params![id, until])? == 0 {
        return Err(not_running(store, id, run_status(conn, context, id)?));
    }
    Ok(())
}

pub(super) fn finish_run(
    conn: &Connection,
    store: &str,
    context: &str,
    id: i64,
    end: &RunEnd,
) -> Result<(), StoreError> {
    let changed = execute(
        conn,
        context,
        sql::FINISH_RUN,
        params![
            id,
            end.ended_at,
            end.status.as_str(),
            as_i64(end.read),
            as_i64(end.sent),
            as_i64(end.rejected),
            end.error
        ],
    )?;
    if changed == 0 {
        return Err(not_running(store, id, None));
    }
    Ok(())
}

pub(super) fn runs(
    conn: &Connection,
    store: &str,
    context: &str,
    flow: Option<&str>,
    limit: usize,
) -> Result<Vec<Run>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached(&for_sqlite(&sql::runs_list(flow.is_some())))
        .map_err(sqlite_err(context))?;
    let limit = as_i64(limit);
    let mut rows = match flow {
        Some(flow) => stmt.query(params![flow, limit]),
        None => stmt.query(params![limit]),
    }
    .map_err(sqlite_err(context))?;
    let mut runs = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        runs.push(decode_run(&SqliteRow(row), store)?);
    }
    Ok(runs)
}
