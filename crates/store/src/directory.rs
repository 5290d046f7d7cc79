//! Directory sync's tables (migration 5): the last snapshot each directory flow saw, the persons
//! it created in its target account, and the audit log of the changes it found. The public row
//! types, the SQL both backends share (PostgreSQL's `$n` parameters; SQLite runs it through
//! [`crate::engine_tables::for_sqlite`]) and the decoding of rows.

use wfm_model::DirectorySnapshot;

use crate::codec::Columns;
use crate::error::StoreError;

/// A person created in a target account for one user of one source account.
///
/// The key is (tenant, target, source, external id): the same user id seen in the master tenant
/// and sub-tenants of one source account is one person, two source accounts make two persons
/// (Calabrio ONE's rule, seed 000).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonLink {
    /// Tenant.
    pub tenant: String,
    /// Target account the person lives in.
    pub target: String,
    /// Source account the user comes from (`store` for the store's own directory).
    pub source: String,
    /// The user's id in the source (Calabrio's external user id).
    pub external_id: String,
    /// The person's id in the target.
    pub person_id: String,
    /// Epoch milliseconds when it was created.
    pub created_at: i64,
}

/// One change found by a directory flow, to record in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDirectoryLogEntry {
    /// Tenant.
    pub tenant: String,
    /// The flow that found it.
    pub flow: String,
    /// The source account it came from.
    pub source: String,
    /// Epoch milliseconds.
    pub at: i64,
    /// The kind of change (`user_added`, `queue_renamed`, …).
    pub change: String,
    /// What changed, in words (`user u-7`, `queue q-sales`).
    pub subject: String,
    /// The value before, as JSON, when there was one.
    pub before: Option<String>,
    /// The value after, as JSON, when there is one.
    pub after: Option<String>,
    /// What the flow's policy did about it (`create_person`, `ignore`, …).
    pub action: String,
    /// The target person concerned, if any.
    pub person_id: Option<String>,
}

/// An entry of the directory audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirectoryLogEntry {
    /// Increasing id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// The flow that found it.
    pub flow: String,
    /// The source account it came from.
    pub source: String,
    /// Epoch milliseconds.
    pub at: i64,
    /// The kind of change.
    pub change: String,
    /// What changed.
    pub subject: String,
    /// The value before, as JSON.
    pub before: Option<String>,
    /// The value after, as JSON.
    pub after: Option<String>,
    /// What the policy did.
    pub action: String,
    /// The target person concerned, if any.
    pub person_id: Option<String>,
}

/// Which audit-log entries to list.
#[derive(Debug, Clone, Default)]
pub struct DirectoryLogFilter {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this flow.
    pub flow: Option<String>,
    /// Only ids below this, for paging newest first.
    pub before_id: Option<i64>,
    /// At most this many, newest first.
    pub limit: usize,
}

pub(crate) const SNAPSHOT_GET: &str = "SELECT snapshot FROM directory_snapshots \
     WHERE flow = $1 AND tenant = $2 AND source = $3";

pub(crate) const SNAPSHOT_SET: &str = "INSERT INTO directory_snapshots \
     (flow, tenant, source, snapshot, taken_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (flow, tenant, source) DO UPDATE \
     SET snapshot = excluded.snapshot, taken_at = excluded.taken_at";

pub(crate) const PERSONS: &str = "SELECT tenant, target, source, external_id, person_id, \
     created_at FROM directory_persons WHERE tenant = $1 AND target = $2 \
     ORDER BY source, external_id";

/// Inserts a person link; an existing (tenant, target, source, external id) keeps its person.
pub(crate) const PERSON_ADD: &str = "INSERT INTO directory_persons \
     (tenant, target, source, external_id, person_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (tenant, target, source, external_id) DO NOTHING";

pub(crate) const LOG_ADD: &str = "INSERT INTO directory_log \
     (tenant, flow, source, at, change, subject, before_value, after_value, action, person_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// The log listing: every filter is optional (`$n IS NULL OR …`), so one statement serves all.
/// Parameters: tenant, flow, before id, limit.
pub(crate) const LOG_LIST: &str = "SELECT id, tenant, flow, source, at, change, subject, \
     before_value, after_value, action, person_id FROM directory_log \
     WHERE ($1 IS NULL OR tenant = $1) AND ($2 IS NULL OR flow = $2) \
     AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4";

/// Same as [`LOG_LIST`] with PostgreSQL's parameter types spelled out (a bare `$1 IS NULL`
/// has no type to infer).
pub(crate) const LOG_LIST_PG: &str = "SELECT id, tenant, flow, source, at, change, subject, \
     before_value, after_value, action, person_id FROM directory_log \
     WHERE ($1::text IS NULL OR tenant = $1::text) AND ($2::text IS NULL OR flow = $2::text) \
     AND ($3::bigint IS NULL OR id < $3::bigint) ORDER BY id DESC LIMIT $4::bigint";

/// A stored snapshot back from its JSON.
pub(crate) fn decode_snapshot(
    store: &str,
    key: (&str, &str, &str),
    json: &str,
) -> Result<DirectorySnapshot, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        store: store.to_string(),
        table: "directory_snapshots",
        key: format!("flow {}, tenant {}, source {}", key.0, key.1, key.2),
        problem: e.to_string(),
    })
}

/// A snapshot as stored.
pub(crate) fn encode_snapshot(snapshot: &DirectorySnapshot) -> String {
    serde_json::to_string(snapshot).expect("directory snapshots serialize")
}

fn required<T>(value: Result<Option<T>, String>, column: &str) -> Result<T, String> {
    value
        .map_err(|e| format!("{column}: {e}"))?
        .ok_or_else(|| format!("{column} is NULL"))
}

pub(crate) fn decode_person(row: &impl Columns, store: &str) -> Result<PersonLink, StoreError> {
    let decode = || -> Result<PersonLink, String> {
        Ok(PersonLink {
            tenant: required(row.text(0), "tenant")?,
            target: required(row.text(1), "target")?,
            source: required(row.text(2), "source")?,
            external_id: required(row.text(3), "external_id")?,
            person_id: required(row.text(4), "person_id")?,
            created_at: required(row.int(5), "created_at")?,
        })
    };
    decode().map_err(|problem| StoreError::Corrupt {
        store: store.to_string(),
        table: "directory_persons",
        key: format!(
            "external id {}",
            row.text(3).ok().flatten().unwrap_or_default()
        ),
        problem,
    })
}

pub(crate) fn decode_log(row: &impl Columns, store: &str) -> Result<DirectoryLogEntry, StoreError> {
    let decode = || -> Result<DirectoryLogEntry, String> {
        let optional = |i: usize, column: &str| row.text(i).map_err(|e| format!("{column}: {e}"));
        Ok(DirectoryLogEntry {
            id: required(row.int(0), "id")?,
            tenant: required(row.text(1), "tenant")?,
            flow: required(row.text(2), "flow")?,
            source: required(row.text(3), "source")?,
            at: required(row.int(4), "at")?,
            change: required(row.text(5), "change")?,
            subject: required(row.text(6), "subject")?,
            before: optional(7, "before_value")?,
            after: optional(8, "after_value")?,
            action: required(row.text(9), "action")?,
            person_id: optional(10, "person_id")?,
        })
    };
    decode().map_err(|problem| StoreError::Corrupt {
        store: store.to_string(),
        table: "directory_log",
        key: format!("id {}", row.int(0).ok().flatten().unwrap_or_default()),
        problem,
    })
}
