//! Persistence of wfm-bridge: the canonical records, and the cursors, outbox and runs the engine keeps.
//!
//! Callers see only the [`Store`] trait; [`open`] picks the implementation from the URL:
//! `sqlite://PATH` (the embedded default, no setup), `sqlite::memory:`, or `postgres://…`. Schema
//! migrations run when a store is opened. Writes go through a [`StoreTx`]: everything written in one
//! transaction becomes visible at [`StoreTx::commit`] or not at all, which is what makes imports
//! all-or-nothing. Re-writing a record is an idempotent upsert by its natural key.
//!
//! Both backends keep the same tables (`migrations/`), return the same pages (natural-key order,
//! strings compared byte by byte as Rust compares them, whatever the database's locale) and count
//! writes the same way: a record stored exactly as given is `unchanged` and its row, including
//! `changed_at`, is not touched.

mod codec;
mod error;
mod migrations;
mod postgres;
mod schema;
mod sqlite;
mod url;

use std::sync::Arc;

use async_trait::async_trait;
use wfm_model::{Record, RecordKind, Tenant};

pub use error::StoreError;
pub use url::{SqliteLocation, StoreUrl};

/// What one [`StoreTx::write`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Records inserted or changed.
    pub written: u64,
    /// Records already stored exactly as given (idempotent re-import).
    pub unchanged: u64,
}

impl std::ops::AddAssign for WriteCounts {
    fn add_assign(&mut self, other: WriteCounts) {
        self.written += other.written;
        self.unchanged += other.unchanged;
    }
}

/// Rows per table, for `demo` and operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableCounts {
    /// Tenants.
    pub tenants: u64,
    /// Queues.
    pub queues: u64,
    /// Teams (derived from agents' `team`).
    pub teams: u64,
    /// Agents.
    pub agents: u64,
    /// Skills (queue ids agents are skilled for).
    pub skills: u64,
    /// Agent–skill pairs.
    pub agent_skills: u64,
    /// Contact segments.
    pub segments: u64,
    /// Agent state events.
    pub states: u64,
}

impl TableCounts {
    /// Counts in the order of the tables listed in `schema::COUNTED`.
    fn from_ordered(n: [u64; 8]) -> TableCounts {
        let [
            tenants,
            queues,
            teams,
            agents,
            skills,
            agent_skills,
            segments,
            states,
        ] = n;
        TableCounts {
            tenants,
            queues,
            teams,
            agents,
            skills,
            agent_skills,
            segments,
            states,
        }
    }
}

/// The natural key of a record, used to page through a table in key order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NaturalKey {
    /// `tenant`
    Tenant(String),
    /// `(tenant, queue)`
    Queue(String, String),
    /// `(tenant, agent)`
    Agent(String, String),
    /// `(tenant, contact_id, seq)`
    Segment(String, String, u32),
    /// `(tenant, agent, at)` with `at` in UTC milliseconds.
    State(String, String, i64),
}

impl NaturalKey {
    /// The natural key of a record.
    pub fn of(record: &Record) -> NaturalKey {
        match record {
            Record::Tenant(r) => NaturalKey::Tenant(r.tenant.clone()),
            Record::Queue(r) => NaturalKey::Queue(r.tenant.clone(), r.queue.clone()),
            Record::Agent(r) => NaturalKey::Agent(r.tenant.clone(), r.agent.clone()),
            Record::Segment(r) => {
                NaturalKey::Segment(r.tenant.clone(), r.contact_id.clone(), r.seq)
            }
            Record::State(r) => {
                NaturalKey::State(r.tenant.clone(), r.agent.clone(), r.at.as_millisecond())
            }
        }
    }
}

/// A persistence backend. Implementations: SQLite (embedded) and PostgreSQL.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// What this store is, for messages, without credentials: `SQLite wfm-bridge.db`.
    fn describe(&self) -> String;

    /// Every tenant, ordered by id.
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Starts a write transaction. Dropping it without [`StoreTx::commit`] rolls it back.
    async fn begin(&self) -> Result<Box<dyn StoreTx>, StoreError>;

    /// Rows per table, for one tenant or all.
    async fn counts(&self, tenant: Option<&str>) -> Result<TableCounts, StoreError>;

    /// Up to `limit` records of one kind, in natural-key order, strictly after `after`, for one tenant
    /// or all. Pass the key of the last record returned to read the next page.
    async fn read_page(
        &self,
        kind: RecordKind,
        tenant: Option<&str>,
        after: Option<&NaturalKey>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError>;
}

/// One write transaction.
#[async_trait]
pub trait StoreTx: Send {
    /// Upserts records by natural key. Timestamps are kept to the millisecond.
    ///
    /// Agents also maintain the teams, skills and agent-skill tables: an agent's skills are replaced
    /// by the ones given.
    async fn write(&mut self, records: Vec<Record>) -> Result<WriteCounts, StoreError>;

    /// Makes everything written visible at once.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    /// Discards everything written.
    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// Opens (creating if needed) the store at `url` and runs its migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match StoreUrl::parse(url)? {
        StoreUrl::Sqlite(location) => Ok(Arc::new(sqlite::SqliteStore::open(location).await?)),
        StoreUrl::Postgres(config) => Ok(Arc::new(postgres::PostgresStore::open(config).await?)),
    }
}
