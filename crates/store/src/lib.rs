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

mod catalog;
mod codec;
mod directory;
mod engine_tables;
mod error;
mod migrations;
mod postgres;
mod schema;
mod scim;
mod sqlite;
mod url;

use std::sync::Arc;

use async_trait::async_trait;
use wfm_model::{Record, RecordKind, Tenant};

pub use catalog::{CatalogEntry, CatalogTable};
pub use directory::{DirectoryLogEntry, DirectoryLogFilter, NewDirectoryLogEntry, PersonLink};
pub use error::StoreError;
pub use scim::{ScimResource, ScimStore, ScimType, ScimWrite};
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
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

/// A position in the change feed of one record table: rows are read in (`seq`, natural key) order.
///
/// `seq` identifies the writing transaction and only grows in commit order as readers see it: a row
/// committed after a reader read up to a cursor always sorts after that cursor, however long its
/// transaction ran. Nothing is skipped, so flows can advance cursors safely (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ChangeCursor {
    /// Change sequence of the last row read (0 before the first).
    pub seq: i64,
    /// Natural key of the last row read within that sequence.
    pub key: Option<NaturalKey>,
}

/// A record read from the change feed, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Position of this row; pass the last one's to read on.
    pub cursor: ChangeCursor,
    /// Wall-clock millisecond the row was inserted or last changed.
    pub changed_at: i64,
    /// The record.
    pub record: Record,
}

/// Delivery state of an outbox message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting to be sent (or being sent, until its lease expires).
    Pending,
    /// Delivered.
    Sent,
    /// Gave up after too many attempts, or refused by the target; kept for an operator.
    Dead,
    /// Replaced by a fresher message before it was sent (real-time snapshots).
    Superseded,
}

impl OutboxStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
            OutboxStatus::Superseded => "superseded",
        }
    }
}

/// A message for the outbox, written in the same transaction as the cursor its flow advances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Producing flow.
    pub flow: String,
    /// Ordering key within the flow: messages of one (flow, key) are delivered in id order.
    pub key: String,
    /// Unique per message. Enqueueing a key that exists already is ignored (exactly one message).
    pub idempotency_key: String,
    /// File name for file targets.
    pub name: String,
    /// MIME type of the payload.
    pub content_type: String,
    /// The bytes to deliver.
    pub payload: Vec<u8>,
}

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxMessage {
    /// Outbox id, increasing in enqueue order.
    pub id: i64,
    /// Producing flow.
    pub flow: String,
    /// Ordering key.
    pub key: String,
    /// Idempotency key.
    pub idempotency_key: String,
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Payload bytes.
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Payload size in bytes.
    pub size: u64,
    /// State.
    pub status: OutboxStatus,
    /// Attempts made so far (including one in progress).
    pub attempts: u32,
    /// Epoch milliseconds when it is next due (while pending: also the end of a claim's lease).
    pub next_attempt_at: i64,
    /// Last failure, if any.
    pub last_error: Option<String>,
    /// Epoch milliseconds when enqueued.
    pub created_at: i64,
    /// Epoch milliseconds when delivered.
    pub sent_at: Option<i64>,
}

/// Which outbox messages to list.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    /// Only this flow.
    pub flow: Option<String>,
    /// Only these states (all when empty).
    pub statuses: Vec<OutboxStatus>,
    /// Only ids below this, for paging newest first.
    pub before_id: Option<i64>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// Messages per flow and state, with the oldest pending message's age, for metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxDepth {
    /// Flow.
    pub flow: String,
    /// State.
    pub status: OutboxStatus,
    /// Messages in that state.
    pub count: u64,
    /// Epoch milliseconds of the oldest message in that state.
    pub oldest_created_at: Option<i64>,
}

/// How a run of a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running (its lease is being renewed).
    Running,
    /// Finished without error.
    Succeeded,
    /// Finished with an error; nothing it read past its last committed cursor is lost.
    Failed,
    /// The process running it stopped (its lease expired).
    Abandoned,
}

impl RunStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Run {
    /// Run id.
    pub id: i64,
    /// Flow name.
    pub flow: String,
    /// Epoch milliseconds.
    pub started_at: i64,
    /// Epoch milliseconds, once ended.
    pub ended_at: Option<i64>,
    /// State.
    pub status: RunStatus,
    /// Records read.
    pub read: u64,
    /// Messages written to the outbox.
    pub sent: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// Epoch milliseconds.
    pub ended_at: i64,
    /// Succeeded or failed.
    pub status: RunStatus,
    /// Records read.
    pub read: u64,
    /// Messages written to the outbox.
    pub sent: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// Where a read of segments by offered time stopped: (offered_at ms, contact_id, seq) of the last one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OfferedPosition {
    /// `offered_at` in UTC milliseconds.
    pub offered_at: i64,
    /// Contact id.
    pub contact_id: String,
    /// Segment number.
    pub seq: u32,
}

impl OfferedPosition {
    /// The position of a segment.
    pub fn of(segment: &wfm_model::Segment) -> OfferedPosition {
        OfferedPosition {
            offered_at: segment.offered_at.as_millisecond(),
            contact_id: segment.contact_id.clone(),
            seq: segment.seq,
        }
    }
}

/// One agent's state events around a time window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentTimeline {
    /// The last event before the window: the state the agent is in when it starts.
    pub before: Option<wfm_model::AgentStateEvent>,
    /// The events inside the window, in time order.
    pub within: Vec<wfm_model::AgentStateEvent>,
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

    /// Up to `limit` segments of `tenant` offered in `[from, to)` (UTC ms), in (offered_at,
    /// contact_id, seq) order, strictly after `after`.
    async fn segments_offered(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
        after: Option<&OfferedPosition>,
        limit: usize,
    ) -> Result<Vec<wfm_model::Segment>, StoreError>;

    /// The agents of `tenant` with state events in `[from, to)` (UTC ms), in id order.
    async fn agents_with_states(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Every agent's latest state event of `tenant`, in agent order (the real-time board at start).
    async fn latest_states(
        &self,
        tenant: &str,
    ) -> Result<Vec<wfm_model::AgentStateEvent>, StoreError>;

    /// One agent's last event before `from` and its events in `[from, to)` (UTC ms).
    async fn agent_timeline(
        &self,
        tenant: &str,
        agent: &str,
        from: i64,
        to: i64,
    ) -> Result<AgentTimeline, StoreError>;

    /// Up to `limit` rows of one kind (segments, states, agents, queues, tenants) of one tenant that
    /// were inserted or changed after `after`, in change order. Only committed rows are returned, and
    /// a row committed later never sorts before a cursor already handed out.
    async fn changes(
        &self,
        kind: RecordKind,
        tenant: &str,
        after: &ChangeCursor,
        limit: usize,
    ) -> Result<Vec<Change>, StoreError>;

    /// A cursor at the current end of a tenant's change feed of `kind`: reading from it returns
    /// only rows committed after this call (a flow that starts without history begins here).
    async fn change_head(&self, kind: RecordKind, tenant: &str)
    -> Result<ChangeCursor, StoreError>;

    /// The value of a named cursor (flows keep their position here), if set.
    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Claims up to `limit` pending messages that are due at `now` (epoch ms), oldest first, taking
    /// only the oldest pending message of each (flow, key) so that order per key is kept. A claim
    /// counts an attempt and moves `next_attempt_at` to `now + lease_ms`: if the process dies while
    /// sending, the message becomes due again when the lease ends. Safe with several workers.
    async fn claim_due(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records a delivery.
    async fn mark_sent(&self, id: i64, at: i64) -> Result<(), StoreError>;

    /// Records a failed attempt: due again at `next_attempt_at`. With `count_attempt` false (the
    /// target was throttling) the attempt the claim counted is given back.
    async fn mark_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<(), StoreError>;

    /// Moves a message to dead letters with the reason.
    async fn mark_dead(&self, id: i64, error: &str) -> Result<(), StoreError>;

    /// Puts a dead message back to pending, due at `now`, with its attempts reset. Returns false when
    /// there is no dead message with that id.
    async fn retry_dead(&self, id: i64, now: i64) -> Result<bool, StoreError>;

    /// Outbox messages, newest first, without payloads.
    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>, StoreError>;

    /// How many messages of `flow` wait to be delivered.
    async fn pending_messages(&self, flow: &str) -> Result<u64, StoreError>;

    /// Message counts per flow and state.
    async fn outbox_depth(&self) -> Result<Vec<OutboxDepth>, StoreError>;

    /// Starts a run of `flow` unless another one holds the flow's lease; expired leases are ended as
    /// `abandoned` first. Returns the run id, or `None` when a run is in progress.
    async fn try_start_run(
        &self,
        flow: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// Extends a running run's lease to `until` (epoch ms). Fails with
    /// [`StoreError::RunNotRunning`] when the run is no longer running (its lease ran out and a
    /// start ended it as abandoned): the caller has lost the flow and must stop.
    async fn renew_run(&self, id: i64, until: i64) -> Result<(), StoreError>;

    /// Ends a run (also one already ended as abandoned: this records how it really ended). Fails
    /// with [`StoreError::RunNotRunning`] when there is no such run.
    async fn finish_run(&self, id: i64, end: &RunEnd) -> Result<(), StoreError>;

    /// Runs, newest first, of one flow or all.
    async fn runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<Run>, StoreError>;

    /// Deletes a dead letter an operator gave up on. Returns false when there is no dead message
    /// with that id (pending and sent messages are never discarded).
    async fn discard_dead(&self, id: i64) -> Result<bool, StoreError>;

    /// Every account or flow created through the admin API, by name.
    async fn catalog(&self, table: CatalogTable) -> Result<Vec<CatalogEntry>, StoreError>;

    /// Creates or replaces an entry by name (an existing entry keeps its `created_at`).
    async fn put_catalog(
        &self,
        table: CatalogTable,
        entry: &CatalogEntry,
    ) -> Result<(), StoreError>;

    /// Deletes an entry; returns false when there was none of that name.
    async fn delete_catalog(&self, table: CatalogTable, name: &str) -> Result<bool, StoreError>;

    /// The SCIM server's users and groups.
    fn scim(&self) -> &dyn ScimStore;
    /// The directory snapshot a directory flow saved last for (tenant, source), if any.
    async fn directory_snapshot(
        &self,
        flow: &str,
        tenant: &str,
        source: &str,
    ) -> Result<Option<wfm_model::DirectorySnapshot>, StoreError>;

    /// The persons created in `target` for `tenant`, in (source, external id) order.
    async fn persons(&self, tenant: &str, target: &str) -> Result<Vec<PersonLink>, StoreError>;

    /// Directory audit-log entries, newest first.
    async fn directory_log(
        &self,
        filter: &DirectoryLogFilter,
    ) -> Result<Vec<DirectoryLogEntry>, StoreError>;
}

/// One write transaction.
#[async_trait]
pub trait StoreTx: Send {
    /// Upserts records by natural key. Timestamps are kept to the millisecond.
    ///
    /// Agents also maintain the teams, skills and agent-skill tables: an agent's skills are replaced
    /// by the ones given.
    async fn write(&mut self, records: Vec<Record>) -> Result<WriteCounts, StoreError>;

    /// Sets a named cursor, visible when the transaction commits.
    async fn set_cursor(&mut self, name: &str, value: &str) -> Result<(), StoreError>;

    /// Adds messages to the outbox, due at once. A message whose idempotency key is already in the
    /// outbox is skipped; returns how many were added.
    async fn enqueue(&mut self, messages: Vec<NewMessage>, now: i64) -> Result<u64, StoreError>;

    /// Marks the pending messages of `flow` (of one key, or of every key) with ids below `before_id`
    /// as superseded; returns how many. Used when a fresh snapshot replaces stale deltas.
    async fn supersede(
        &mut self,
        flow: &str,
        key: Option<&str>,
        before_id: i64,
    ) -> Result<u64, StoreError>;

    /// Saves the directory a directory flow read from `source` (replacing the previous one), taken
    /// at `at` (epoch ms).
    async fn save_directory_snapshot(
        &mut self,
        flow: &str,
        tenant: &str,
        source: &str,
        snapshot: &wfm_model::DirectorySnapshot,
        at: i64,
    ) -> Result<(), StoreError>;

    /// Records persons created in a target. A (tenant, target, source, external id) already
    /// recorded keeps its person; returns how many were added.
    async fn add_persons(&mut self, persons: Vec<PersonLink>) -> Result<u64, StoreError>;

    /// Appends entries to the directory audit log; returns how many.
    async fn log_directory_changes(
        &mut self,
        entries: Vec<NewDirectoryLogEntry>,
    ) -> Result<u64, StoreError>;

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
