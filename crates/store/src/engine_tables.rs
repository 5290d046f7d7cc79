//! The engine's tables — `cursors`, `outbox` and `runs` — as both backends use them: the SQL they
//! share and the decoding of their rows into the public types.
//!
//! Statements here are portable SQL written with PostgreSQL's `$n` parameters; SQLite runs the
//! same text with `?n` ([`for_sqlite`]), which SQLite reads as the same numbered parameters. A
//! statement whose syntax must differ (the claim, the batched enqueue) lives in its backend. Row
//! decoding goes through [`Columns`], which each backend implements for its row type.

use crate::codec::Columns;
use crate::error::StoreError;
use crate::{OutboxDepth, OutboxFilter, OutboxMessage, OutboxStatus, Run, RunStatus};

/// The `error` of a run ended because its lease ran out.
pub(crate) const LEASE_EXPIRED: &str =
    "the process running it stopped before it finished (lease expired)";

/// `$n` parameters as SQLite writes them (`?n`). The shared statements hold no other `$`.
pub(crate) fn for_sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}

pub(crate) const CURSOR_GET: &str = "SELECT value FROM cursors WHERE name = $1";

pub(crate) const CURSOR_SET: &str = "INSERT INTO cursors (name, value, updated_at) \
     VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
     SET value = excluded.value, updated_at = excluded.updated_at";

/// The columns of an outbox message, in the order [`decode_message`] reads them; `{payload}`
/// is the payload itself, or its size for listings.
const MESSAGE_COLUMNS: &str = "id, flow, message_key, idempotency_key, name, content_type, \
     {payload}, status, attempts, next_attempt_at, last_error, created_at, sent_at";

/// The message columns with the payload, optionally qualified by a table name (`outbox.id, …`).
pub(crate) fn message_columns(qualifier: Option<&str>) -> String {
    let columns = MESSAGE_COLUMNS.replace("{payload}", "payload");
    match qualifier {
        None => columns,
        Some(table) => columns
            .split(", ")
            .map(|c| format!("{table}.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A single-row insert into the outbox; parameters: flow, key, idempotency key, name, content
/// type, payload, now. An idempotency key already present makes it insert nothing.
pub(crate) const ENQUEUE_ONE: &str = "INSERT INTO outbox (flow, message_key, idempotency_key, \
     name, content_type, payload, next_attempt_at, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (idempotency_key) DO NOTHING";

/// The due pending messages that are first of their (flow, key), oldest first: a later message of
/// a key waits while an earlier one is pending, due or not (being sent, or waiting for a retry).
/// Parameters: now, limit. Both backends claim from it.
///
/// "Oldest" is the one that has been due the longest (`next_attempt_at`, then id: enqueue order
/// among messages due at once). That is the order of the partial index `outbox_pending_due`
/// (migration 3), so the scan walks pending rows from the most overdue and stops after `limit`
/// messages, instead of visiting every pending row and sorting them, which made a claim cost as
/// much as the whole backlog after an outage. `outbox_pending_by_key` answers the "first of its
/// key" probe. Neither index holds the sent rows, however many there are.
///
/// The probe is a correlated `min()`, not `NOT EXISTS`: PostgreSQL turns `NOT EXISTS` into an
/// anti-join whose plan follows the statistics, and the outbox's swing from no pending messages to
/// a backlog of thousands within minutes (faster than autovacuum analyses it) made it scan every
/// pending row once per candidate. A correlated `min()` stays a per-row index probe whatever the
/// statistics say, on both backends.
pub(crate) const DUE: &str = "SELECT o.id FROM outbox o \
     WHERE o.status = 'pending' AND o.next_attempt_at <= $1 \
     AND o.id = (SELECT min(p.id) FROM outbox p WHERE p.status = 'pending' \
     AND p.flow = o.flow AND p.message_key = o.message_key) \
     ORDER BY o.next_attempt_at, o.id LIMIT $2";

/// A delivered message. Any state: a message superseded or given up while it was being sent
/// did reach the target, and that is what the outbox should say. `last_error` is kept: it tells
/// an operator why earlier attempts failed.
pub(crate) const MARK_SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $2 WHERE id = $1";

/// A failed attempt of a pending message (a message superseded meanwhile stays superseded).
/// `$4` false gives back the attempt the claim counted.
pub(crate) const MARK_RETRY: &str = "UPDATE outbox SET next_attempt_at = $2, last_error = $3, \
     attempts = CASE WHEN $4 OR attempts = 0 THEN attempts ELSE attempts - 1 END \
     WHERE id = $1 AND status = 'pending'";

pub(crate) const MARK_DEAD: &str = "UPDATE outbox SET status = 'dead', last_error = $2 \
     WHERE id = $1 AND status = 'pending'";

/// Back to pending, due at `$2`, attempts reset; `last_error` is kept for the operator.
pub(crate) const RETRY_DEAD: &str = "UPDATE outbox SET status = 'pending', attempts = 0, \
     next_attempt_at = $2 WHERE id = $1 AND status = 'dead'";

pub(crate) const SUPERSEDE_KEY: &str = "UPDATE outbox SET status = 'superseded' \
     WHERE status = 'pending' AND flow = $1 AND message_key = $2 AND id < $3";

pub(crate) const SUPERSEDE_ALL: &str = "UPDATE outbox SET status = 'superseded' \
     WHERE status = 'pending' AND flow = $1 AND id < $2";

/// Pending messages of one flow (served by the partial index on pending rows).
pub(crate) const PENDING_OF_FLOW: &str =
    "SELECT count(*) FROM outbox WHERE flow = $1 AND status = 'pending'";

pub(crate) const OUTBOX_DEPTH: &str = "SELECT flow, status, count(*), min(created_at) \
     FROM outbox GROUP BY flow, status ORDER BY flow, status";

/// The listing of [`crate::Store::outbox`], newest first, with the payload's size in its place.
/// `length` is the function giving a payload's size in bytes (SQLite `length` of a BLOB,
/// PostgreSQL `octet_length`; neither reads the payload itself). Parameters in the order of
/// [`filter_params`].
pub(crate) fn outbox_list(filter: &OutboxFilter, length: &str) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut conditions = Vec::new();
    if filter.flow.is_some() {
        conditions.push(format!("flow = {}", next()));
    }
    if !filter.statuses.is_empty() {
        let params: Vec<String> = filter.statuses.iter().map(|_| next()).collect();
        conditions.push(format!("status IN ({})", params.join(", ")));
    }
    if filter.before_id.is_some() {
        conditions.push(format!("id < {}", next()));
    }
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT {} FROM outbox{filter_sql} ORDER BY id DESC LIMIT {}",
        // PostgreSQL's octet_length is an integer, not the BIGINT sizes are read as.
        MESSAGE_COLUMNS.replace("{payload}", &format!("CAST({length}(payload) AS BIGINT)")),
        next()
    )
}

/// A parameter of [`outbox_list`].
pub(crate) enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// The parameters of [`outbox_list`], in order.
pub(crate) fn filter_params(filter: &OutboxFilter) -> Vec<Param<'_>> {
    let mut params = Vec::new();
    if let Some(flow) = &filter.flow {
        params.push(Param::Text(flow));
    }
    params.extend(filter.statuses.iter().map(|s| Param::Text(s.as_str())));
    if let Some(before) = filter.before_id {
        params.push(Param::Int(before));
    }
    params.push(Param::Int(as_i64(filter.limit)));
    params
}

/// Ends the flow's running runs whose lease ran out (or that have none: started before leases
/// existed), at the end of their lease. Parameters: flow, now, error.
pub(crate) const ABANDON_EXPIRED: &str = "UPDATE runs SET status = 'abandoned', \
     ended_at = coalesce(lease_until, started_at), error = $3 \
     WHERE flow = $1 AND status = 'running' AND (lease_until IS NULL OR lease_until < $2)";

pub(crate) const RUNNING: &str = "SELECT count(*) FROM runs WHERE flow = $1 AND status = 'running'";

pub(crate) const START_RUN: &str = "INSERT INTO runs (flow, started_at, status, lease_until) \
     VALUES ($1, $2, 'running', $3) RETURNING id";

pub(crate) const RENEW_RUN: &str =
    "UPDATE runs SET lease_until = $2 WHERE id = $1 AND status = 'running'";

pub(crate) const RUN_STATUS: &str = "SELECT status FROM runs WHERE id = $1";

pub(crate) const FINISH_RUN: &str = "UPDATE runs SET ended_at = $2, status = $3, \
     read_count = $4, sent_count = $5, rejected_count = $6, error = $7 WHERE id = $1";

const RUN_COLUMNS: &str =
    "id, flow, started_at, ended_at, status, read_count, sent_count, rejected_count, error";

/// Runs newest first; parameters: the flow (when `flow`), then the limit.
pub(crate) fn runs_list(flow: bool) -> String {
    if flow {
        format!("SELECT {RUN_COLUMNS} FROM runs WHERE flow = $1 ORDER BY id DESC LIMIT $2")
    } else {
        format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1")
    }
}

/// A count or limit as the BIGINT the tables hold (saturating: no real count reaches it).
pub(crate) fn as_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn as_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn outbox_status(name: &str) -> Result<OutboxStatus, String> {
    [
        OutboxStatus::Pending,
        OutboxStatus::Sent,
        OutboxStatus::Dead,
        OutboxStatus::Superseded,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
    .ok_or_else(|| format!("unknown status {name:?}"))
}

fn run_status(name: &str) -> Result<RunStatus, String> {
    [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Abandoned,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
    .ok_or_else(|| format!("unknown status {name:?}"))
}

/// A NOT NULL column's value, or a message naming it.
fn required<T>(value: Result<Option<T>, String>, column: &str) -> Result<T, String> {
    value
        .map_err(|e| format!("{column}: {e}"))?
        .ok_or_else(|| format!("{column} is NULL"))
}

/// Whether column 6 of a message row is the payload or only its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payload {
    /// The payload's bytes ([`message_columns`]).
    Bytes,
    /// Its size ([`outbox_list`]); the message comes back with an empty payload.
    Size,
}

/// Reads an outbox message from a row of [`message_columns`] or [`outbox_list`].
pub(crate) fn decode_message(
    row: &impl Columns,
    payload: Payload,
    store: &str,
) -> Result<OutboxMessage, StoreError> {
    let id = row.int(0).ok().flatten().unwrap_or_default();
    let decode = || -> Result<OutboxMessage, String> {
        let (payload, size) = match payload {
            Payload::Bytes => {
                let bytes = required(row.bytes(6), "payload")?;
                let size = bytes.len() as u64;
                (bytes, size)
            }
            Payload::Size => (Vec::new(), as_u64(required(row.int(6), "payload size")?)),
        };
        let attempts = required(row.int(8), "attempts")?;
        Ok(OutboxMessage {
            id: required(row.int(0), "id")?,
            flow: required(row.text(1), "flow")?,
            key: required(row.text(2), "message_key")?,
            idempotency_key: required(row.text(3), "idempotency_key")?,
            name: required(row.text(4), "name")?,
            content_type: required(row.text(5), "content_type")?,
            payload,
            size,
            status: outbox_status(&required(row.text(7), "status")?)?,
            attempts: u32::try_from(attempts).map_err(|_| format!("attempts is {attempts}"))?,
            next_attempt_at: required(row.int(9), "next_attempt_at")?,
            last_error: row.text(10).map_err(|e| format!("last_error: {e}"))?,
            created_at: required(row.int(11), "created_at")?,
            sent_at: row.int(12).map_err(|e| format!("sent_at: {e}"))?,
        })
    };
    decode().map_err(|problem| StoreError::Corrupt {
        store: store.to_string(),
        table: "outbox",
        key: format!("id {id}"),
        problem,
    })
}

/// Reads a row of [`OUTBOX_DEPTH`].
pub(crate) fn decode_depth(row: &impl Columns, store: &str) -> Result<OutboxDepth, StoreError> {
    let flow = row.text(0).ok().flatten().unwrap_or_default();
    let decode = || -> Result<OutboxDepth, String> {
        Ok(OutboxDepth {
            flow: required(row.text(0), "flow")?,
            status: outbox_status(&required(row.text(1), "status")?)?,
            count: as_u64(required(row.int(2), "count")?),
            oldest_created_at: row.int(3).map_err(|e| format!("created_at: {e}"))?,
        })
    };
    decode().map_err(|problem| StoreError::Corrupt {
        store: store.to_string(),
        table: "outbox",
        key: format!("flow {flow:?}"),
        problem,
    })
}

/// Reads a run from a row of [`runs_list`].
pub(crate) fn decode_run(row: &impl Columns, store: &str) -> Result<Run, StoreError> {
    let id = row.int(0).ok().flatten().unwrap_or_default();
    let decode = || -> Result<Run, String> {
        Ok(Run {
            id: required(row.int(0), "id")?,
            flow: required(row.text(1), "flow")?,
            started_at: required(row.int(2), "started_at")?,
            ended_at: row.int(3).map_err(|e| format!("ended_at: {e}"))?,
            status: run_status(&required(row.text(4), "status")?)?,
            read: as_u64(required(row.int(5), "read_count")?),
            sent: as_u64(required(row.int(6), "sent_count")?),
            rejected: as_u64(required(row.int(7), "rejected_count")?),
            error: row.text(8).map_err(|e| format!("error: {e}"))?,
        })
    };
    decode().map_err(|problem| StoreError::Corrupt {
        store: store.to_string(),
        table: "runs",
        key: format!("id {id}"),
        problem,
    })
}

/// What [`crate::Store::renew_run`] does when the run is not running: the process must stop,
/// since another run may hold the flow now.
pub(crate) fn not_running(store: &str, id: i64, status: Option<String>) -> StoreError {
    StoreError::RunNotRunning {
        store: store.to_string(),
        id,
        status: status.unwrap_or_else(|| "missing".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_sql_binds_what_the_filter_holds() {
        let filter = OutboxFilter {
            flow: Some("f".into()),
            statuses: vec![OutboxStatus::Pending, OutboxStatus::Dead],
            before_id: Some(10),
            limit: 5,
        };
        let sql = outbox_list(&filter, "octet_length");
        assert!(
            sql.ends_with(
                "FROM outbox WHERE flow = $1 AND status IN ($2, $3) AND id < $4 \
                 ORDER BY id DESC LIMIT $5"
            ),
            "{sql}"
        );
        assert!(sql.contains("content_type, CAST(octet_length(payload) AS BIGINT), status"));
        assert_eq!(filter_params(&filter).len(), 5);
        let all = outbox_list(&OutboxFilter::default(), "length");
        assert!(
            all.ends_with("FROM outbox ORDER BY id DESC LIMIT $1"),
            "{all}"
        );
    }

    #[test]
    fn sqlite_parameters_are_numbered_alike() {
        assert_eq!(
            for_sqlite(MARK_SENT),
            "UPDATE outbox SET status = 'sent', sent_at = ?2 WHERE id = ?1"
        );
        assert_eq!(
            message_columns(Some("outbox")).split(", ").nth(6),
            Some("outbox.payload")
        );
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            OutboxStatus::Pending,
            OutboxStatus::Sent,
            OutboxStatus::Dead,
            OutboxStatus::Superseded,
        ] {
            assert_eq!(outbox_status(s.as_str()), Ok(s));
        }
        for s in [
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Abandoned,
        ] {
            assert_eq!(run_status(s.as_str()), Ok(s));
        }
        assert!(outbox_status("lost").is_err());
    }
}
