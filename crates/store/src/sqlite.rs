//! [`SqliteStore`]: the embedded store, on rusqlite.
//!
//! rusqlite is synchronous, so every database call runs on a blocking thread
//! (`tokio::task::spawn_blocking`) with a connection taken from a small set of idle ones. A
//! [`StoreTx`] owns one connection holding an open `BEGIN IMMEDIATE` transaction and moves it into
//! and out of the blocking thread on each call. Files use WAL (readers never wait for the writer)
//! with `synchronous=NORMAL` (a commit is durable once the WAL is checkpointed; a power cut loses
//! at most the last commits, never consistency).
//!
//! `sqlite::memory:` is a database file in a private temporary directory, on the memory-backed
//! /dev/shm where there is one, deleted when the store is dropped. SQLite's own in-memory
//! databases were not used because none of them lets readers go on while a writer holds a
//! transaction open: `memdb` refuses new readers once a write has begun, and a shared-cache
//! `:memory:` database locks tables (`SQLITE_LOCKED`, which `busy_timeout` does not wait out).
//! A temporary file in WAL mode behaves exactly as the file store does, which is what tests and
//! demos of the file store need.
//!
//! Writes are one execution of a cached prepared statement per record, an upsert that only
//! touches a row whose columns differ (see [`crate::schema`]), so a re-import changes nothing.
//!
//! Change feed: the first record write of a transaction takes the next number from
//! `change_counter` and stamps it as `change_seq` on every row the transaction inserts or changes.
//! A transaction holds the write lock from `BEGIN IMMEDIATE` to its end, so transactions take
//! their numbers in the order they commit, and a reader (who sees only committed rows, WAL) can
//! never have read past a number that a later commit still uses. The engine's tables (cursors,
//! outbox, runs) are in the `engine` submodule.

mod catalog;
mod directory;
mod engine;
mod scim;

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, OpenFlags, TransactionBehavior, params_from_iter};
use wfm_model::{Agent, AgentStateEvent, Record, RecordKind, Segment, Tenant};

use crate::codec::{self, Columns, Value};
use crate::error::{StoreError, sqlite as sqlite_err};
use crate::migrations::{self, CREATE_SCHEMA_MIGRATIONS, MIGRATIONS};
use crate::schema::{self, AGENT_SKILLS, COUNTED, Dialect, SKILLS, TEAMS};
use crate::url::{SqliteLocation, describe_sqlite};
use crate::{
    AgentTimeline, CatalogEntry, CatalogTable, Change, ChangeCursor, NaturalKey, NewMessage,
    OfferedPosition, OutboxDepth, OutboxFilter, OutboxMessage, Run, RunEnd, Store, StoreTx,
    TableCounts, WriteCounts,
};

/// How long a connection waits for another writer before giving up. Imports hold the write lock
/// for seconds, so this is generous.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept for reuse; more are opened on demand and closed when returned.
const MAX_IDLE: usize = 4;
/// WAL size after which a commit checkpoints itself (SQLite's default: 1,000 pages, 4 MB at 4 KiB).
/// Normally the background checkpointer ([`spawn_checkpointer`]) keeps the WAL far below this; it
/// is the safety net that bounds the WAL should the checkpointer fall behind under sustained
/// ingest. Given in bytes because SQLite counts pages and the page size differs between old and
/// new stores ([`PAGE_SIZE`]).
const WAL_AUTOCHECKPOINT_BYTES: i64 = 200 * 1024 * 1024;

/// How often the background checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Checkpoints the WAL on a thread of its own (PASSIVE: never waits for readers or writers), so
/// that a commit does not pay for copying pages back into the database: that took a seventh of a
/// busy ingest's writer time. The thread ends soon after the store is dropped.
fn spawn_checkpointer(inner: &Arc<Inner>) {
    let store = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".to_string())
        .spawn(move || {
            let Some(conn) = store.upgrade().and_then(|inner| inner.connect().ok()) else {
                return;
            };
            loop {
                std::thread::sleep(CHECKPOINT_EVERY);
                if store.strong_count() == 0 {
                    return;
                }
                // A failed checkpoint is retried at the next tick; commits checkpoint themselves
                // past WAL_AUTOCHECKPOINT_BYTES.
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no background WAL checkpointer ({e}); commits checkpoint themselves");
    }
}

/// Bytes per database page of a new store (SQLite's default: 4,096). Pushed agent states land all
/// over the (tenant, agent, at) key, so a commit dirties about one leaf page per agent; with 16 KiB
/// pages a commit writes a quarter as many pages to the WAL and the checkpointer copies a quarter
/// as many back: the store alone took about 40 % more states a second, the whole HTTP ingest
/// about 18 % more (README "Performance").
const PAGE_SIZE: i64 = 16_384;

/// Page cache per connection, in KiB (SQLite's negative `cache_size`).
const CACHE_KIB: i64 = 32 * 1024;

/// The statements writes run, generated once from the table descriptions.
struct WriteSql {
    upsert: [String; 5],
    team: String,
    skill: String,
    agent_skill: String,
    agent_skills_of: String,
    clear_agent_skills: String,
    /// Stamps an agent whose skills changed (its row may not have): parameters tenant, agent,
    /// changed_at, change_seq.
    restamp_agent: String,
}

/// Takes the transaction's change sequence (see the module documentation).
const NEXT_CHANGE_SEQ: &str =
    "UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value";

static WRITE_SQL: LazyLock<WriteSql> = LazyLock::new(|| WriteSql {
    upsert: RecordKind::ALL.map(|kind| schema::table_of(kind).sqlite_upsert()),
    team: TEAMS.sqlite_upsert(),
    skill: SKILLS.sqlite_upsert(),
    agent_skill: AGENT_SKILLS.sqlite_upsert(),
    agent_skills_of: "SELECT skill FROM agent_skills WHERE tenant = ?1 AND agent = ?2 \
                      ORDER BY ordinal"
        .to_string(),
    clear_agent_skills: "DELETE FROM agent_skills WHERE tenant = ?1 AND agent = ?2".to_string(),
    restamp_agent: "UPDATE agents SET changed_at = ?3, change_seq = ?4 \
                    WHERE tenant = ?1 AND agent = ?2"
        .to_string(),
});

/// The embedded store.
pub(crate) struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    location: SqliteLocation,
    /// The database file (for `sqlite::memory:`, one in `_temporary`).
    file: PathBuf,
    describe: String,
    idle: Mutex<Vec<Connection>>,
    /// `sqlite::memory:` only: the directory of the database, deleted on drop. Declared last so
    /// that the idle connections close before it is deleted.
    _temporary: Option<tempfile::TempDir>,
}

impl Inner {
    /// Opens a connection configured for this store.
    fn connect(&self) -> Result<Connection, StoreError> {
        let context = || self.open_failed();
        let flags = OpenFlags::default();
        let conn = Connection::open_with_flags(&self.file, flags).map_err(sqlite_err(context()))?;
        // A temporary database has nothing to keep across a crash.
        let synchronous = match self.location {
            SqliteLocation::File(_) => "NORMAL",
            SqliteLocation::Memory => "OFF",
        };
        // The page size of a new database; an existing one keeps its own (changing it takes a
        // VACUUM outside WAL mode), so this is a no-op there. Must come before WAL is set.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(sqlite_err(context()))?;
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .map_err(sqlite_err(context()))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .and_then(|()| conn.pragma_update(None, "synchronous", synchronous))
            .and_then(|()| conn.pragma_update(None, "cache_size", -CACHE_KIB))
            .and_then(|()| conn.pragma_update(None, "temp_store", "MEMORY"))
            // Commits leave checkpoints to the background checkpointer (see there).
            .and_then(|()| {
                conn.pragma_update(
                    None,
                    "wal_autocheckpoint",
                    WAL_AUTOCHECKPOINT_BYTES / page_size.max(512),
                )
            })
            .map_err(sqlite_err(context()))?;
        // Room for every statement a write and a read use, so none is re-prepared per call.
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// "cannot open SQLite store at PATH" / "… in memory".
    fn open_failed(&self) -> String {
        match &self.location {
            SqliteLocation::File(path) => {
                format!("cannot open SQLite store at {}", path.display())
            }
            SqliteLocation::Memory => "cannot open SQLite store in memory".to_string(),
        }
    }

    /// An idle connection, or a new one.
    fn checkout(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    /// Returns a connection for reuse; one left inside a transaction is closed instead (closing
    /// rolls the transaction back).
    fn checkin(&self, conn: Connection) {
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `location` and migrates it.
    pub(crate) async fn open(location: SqliteLocation) -> Result<SqliteStore, StoreError> {
        let describe = describe_sqlite(&location);
        let context = format!("opening {describe}");
        spawn(context, move || {
            let (file, temporary) = match &location {
                SqliteLocation::File(path) => {
                    create_parent(path)?;
                    (path.clone(), None)
                }
                SqliteLocation::Memory => {
                    let dir = temporary_dir()?;
                    (dir.path().join("store.db"), Some(dir))
                }
            };
            let inner = Inner {
                location,
                file,
                describe,
                idle: Mutex::new(Vec::new()),
                _temporary: temporary,
            };
            let mut conn = inner.connect()?;
            // WAL is a property of the file: set once, kept by every later connection.
            let mode: String = with_busy_retry(|| {
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            })
            .map_err(sqlite_err(inner.open_failed()))?;
            if !mode.eq_ignore_ascii_case("wal") {
                // A file system without shared memory (some network mounts) refuses WAL; the
                // store still works, with readers waiting for writers.
                tracing::warn!(
                    "{} is in journal mode {mode}, not WAL: readers will wait for writers",
                    inner.describe
                );
            }
            migrate(&mut conn, &inner.describe)?;
            inner.checkin(conn);
            let inner = Arc::new(inner);
            if mode.eq_ignore_ascii_case("wal") {
                spawn_checkpointer(&inner);
            }
            Ok(SqliteStore { inner })
        })
        .await
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    async fn with_conn<T, F>(&self, context: String, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        spawn(context, move || {
            let conn = inner.checkout()?;
            let result = f(&conn, &inner.describe);
            inner.checkin(conn);
            result
        })
        .await
    }
}

/// Runs `f` again while SQLite answers "database is locked", up to [`BUSY_TIMEOUT`].
///
/// For changing the journal mode: SQLite does not call the busy handler there, so a process
/// opening a store while another one is creating or migrating it (processes starting together)
/// would otherwise fail at once instead of waiting its turn as every other statement does.
fn with_busy_retry<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Creates the directory of a database file when it is missing.
fn create_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::Io {
                context: format!(
                    "cannot open SQLite store at {}: creating directory {}",
                    path.display(),
                    dir.display()
                ),
                source,
            }),
        _ => Ok(()),
    }
}

/// A private directory for a `sqlite::memory:` database: in /dev/shm (memory) when possible.
fn temporary_dir() -> Result<tempfile::TempDir, StoreError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("wfm-bridge-memory-");
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        builder.tempdir_in(shm).or_else(|_| builder.tempdir())
    } else {
        builder.tempdir()
    };
    dir.map_err(|source| StoreError::Io {
        context: "cannot open SQLite store in memory: creating its temporary directory".into(),
        source,
    })
}

/// Runs `f` on a blocking thread.
async fn spawn<T, F>(context: String, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Worker {
            context,
            message: e.to_string(),
        })?
}

/// Applies the migrations `conn`'s database lacks, each in its own transaction.
fn migrate(conn: &mut Connection, store: &str) -> Result<(), StoreError> {
    conn.execute_batch(CREATE_SCHEMA_MIGRATIONS)
        .map_err(sqlite_err(format!("creating schema_migrations on {store}")))?;
    let newest: Option<i64> = conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .map_err(sqlite_err(format!("reading schema_migrations on {store}")))?;
    let known = migrations::latest();
    if let Some(found) = newest.filter(|&v| v > known) {
        return Err(StoreError::SchemaTooNew {
            store: store.to_string(),
            found,
            known,
        });
    }
    for migration in MIGRATIONS {
        if newest.is_some_and(|v| v >= migration.version) {
            continue;
        }
        let failed = || format!("migration {} failed on {store}", migration.version);
        // IMMEDIATE takes the write lock first, so a second process opening the same file waits
        // here and then sees the migration applied.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_err(failed()))?;
        let applied: bool = tx
            .query_row(
                "SELECT count(*) > 0 FROM schema_migrations WHERE version = ?1",
                [migration.version],
                |r| r.get(0),
            )
            .map_err(sqlite_err(failed()))?;
        if applied {
            continue;
        }
        for sql in migration.sqlite {
            tx.execute_batch(sql).map_err(sqlite_err(failed()))?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            [migration.version, migrations::now_ms()],
        )
        .map_err(sqlite_err(failed()))?;
        tx.commit().map_err(sqlite_err(failed()))?;
    }
    Ok(())
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Text(None) | Value::Int(None) => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(Some(i)) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
        })
    }
}

struct SqliteRow<'a, 'stmt>(&'a rusqlite::Row<'stmt>);

impl Columns for SqliteRow<'_, '_> {
    fn text(&self, i: usize) -> Result<Option<String>, String> {
        self.0.get(i).map_err(|e| e.to_string())
    }
    fn int(&self, i: usize) -> Result<Option<i64>, String> {
        self.0.get(i).map_err(|e| e.to_string())
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, String> {
        self.0.get(i).map_err(|e| e.to_string())
    }
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>, String> {
        self.0.get(i).map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn describe(&self) -> String {
        self.inner.describe.clone()
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let records = self
            .read_page(RecordKind::Tenants, None, None, usize::MAX)
            .await?;
        Ok(records
            .into_iter()
            .filter_map(|r| match r {
                Record::Tenant(t) => Some(t),
                _ => None,
            })
            .collect())
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>, StoreError> {
        let context = format!("beginning a transaction on {}", self.inner.describe);
        let conn = self
            .with_conn_owned(context.clone(), move |conn| {
                conn.execute_batch("BEGIN IMMEDIATE")
                    .map_err(sqlite_err(context))
            })
            .await?;
        Ok(Box::new(SqliteTx {
            inner: self.inner.clone(),
            conn: Some(conn),
            failed: None,
            change_seq: None,
        }))
    }

    async fn counts(&self, tenant: Option<&str>) -> Result<TableCounts, StoreError> {
        let tenant = tenant.map(str::to_string);
        let context = format!("counting rows in {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, _| {
            let mut n = [0u64; 8];
            for (slot, table) in n.iter_mut().zip(COUNTED) {
                let sql = table.count(Dialect::Sqlite, tenant.is_some());
                let mut stmt = conn.prepare_cached(&sql).map_err(sqlite_err(&context))?;
                let count: i64 = stmt
                    .query_row(params_from_iter(tenant.iter()), |r| r.get(0))
                    .map_err(sqlite_err(&context))?;
                *slot = count.unsigned_abs();
            }
            Ok(TableCounts::from_ordered(n))
        })
        .await
    }

    async fn read_page(
        &self,
        kind: RecordKind,
        tenant: Option<&str>,
        after: Option<&NaturalKey>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        if let Some(key) = after.filter(|key| !codec::key_matches(kind, key)) {
            return Err(StoreError::KeyMismatch {
                kind,
                key: key.clone(),
            });
        }
        if limit == 0 {
            return Ok(Vec::new());
        }
        let tenant = tenant.map(str::to_string);
        let after = after.cloned();
        let context = format!("reading {kind} from {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            read_page(
                conn,
                store,
                &context,
                kind,
                tenant.as_deref(),
                after.as_ref(),
                limit,
            )
        })
        .await
    }

    async fn changes(
        &self,
        kind: RecordKind,
        tenant: &str,
        after: &ChangeCursor,
        limit: usize,
    ) -> Result<Vec<Change>, StoreError> {
        let key_params = codec::change_key_params(kind, tenant, after)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let table = schema::table_of(kind);
        let sql = table.select_changes(Dialect::Sqlite, key_params.is_some(), None);
        let tenant = tenant.to_string();
        let seq = after.seq;
        let context = format!("reading changes of {kind} from {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            let mut params: Vec<Value<'_>> = vec![
                Value::Text(Some(tenant.as_str().into())),
                Value::Int(Some(seq)),
            ];
            params.extend(key_params.into_iter().flatten());
            params.push(Value::Int(Some(i64::try_from(limit).unwrap_or(i64::MAX))));
            let rows = query_records(conn, store, &context, kind, &sql, &params, 2)?;
            rows.into_iter()
                .map(|(record, stamps)| {
                    let [changed_at, seq] = stamps[..] else {
                        unreachable!("two stamp columns were asked for")
                    };
                    Ok(Change {
                        cursor: ChangeCursor {
                            seq,
                            key: Some(NaturalKey::of(&record)),
                        },
                        changed_at,
                        record,
                    })
                })
                .collect()
        })
        .await
    }

    async fn segments_offered(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
        after: Option<&OfferedPosition>,
        limit: usize,
    ) -> Result<Vec<Segment>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = schema::select_offered(Dialect::Sqlite, after.is_some());
        let tenant = tenant.to_string();
        let after = after.cloned();
        let context = format!(
            "reading segments offered in a window from {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, store| {
            let mut params: Vec<Value<'_>> = vec![
                Value::Text(Some(tenant.as_str().into())),
                Value::Int(Some(from)),
                Value::Int(Some(to)),
            ];
            if let Some(p) = &after {
                params.push(Value::Int(Some(p.offered_at)));
                params.push(Value::Text(Some(p.contact_id.as_str().into())));
                params.push(Value::Int(Some(i64::from(p.seq))));
            }
            params.push(Value::Int(Some(i64::try_from(limit).unwrap_or(i64::MAX))));
            let rows = query_records(
                conn,
                store,
                &context,
                RecordKind::Interactions,
                &sql,
                &params,
                0,
            )?;
            Ok(rows
                .into_iter()
                .filter_map(|(record, _)| match record {
                    Record::Segment(s) => Some(s),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    async fn agents_with_states(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql = schema::select_state_agents(Dialect::Sqlite);
        let tenant = tenant.to_string();
        let context = format!("listing agents with states from {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, _| {
            let mut stmt = conn.prepare_cached(&sql).map_err(sqlite_err(&context))?;
            let agents = stmt
                .query_map(rusqlite::params![tenant, from, to], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(sqlite_err(&context))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sqlite_err(&context))?;
            Ok(agents)
        })
        .await
    }

    async fn latest_states(&self, tenant: &str) -> Result<Vec<AgentStateEvent>, StoreError> {
        let sql = schema::select_latest_states(Dialect::Sqlite);
        let tenant = tenant.to_string();
        let context = format!(
            "reading the latest agent states from {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, store| {
            let params = [Value::Text(Some(tenant.as_str().into()))];
            let rows = query_records(conn, store, &context, RecordKind::States, &sql, &params, 0)?;
            Ok(rows
                .into_iter()
                .filter_map(|(record, _)| match record {
                    Record::State(s) => Some(s),
                    _ => None,
                })
                .collect())
        })
        .await
    }

    async fn agent_timeline(
        &self,
        tenant: &str,
        agent: &str,
        from: i64,
        to: i64,
    ) -> Result<AgentTimeline, StoreError> {
        let before_sql = schema::select_state_before(Dialect::Sqlite);
        let within_sql = schema::select_states_between(Dialect::Sqlite);
        let (tenant, agent) = (tenant.to_string(), agent.to_string());
        let context = format!(
            "reading the states of agent {agent:?} from {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, store| {
            let key = |extra: &[i64]| {
                let mut params: Vec<Value<'_>> = vec![
                    Value::Text(Some(tenant.as_str().into())),
                    Value::Text(Some(agent.as_str().into())),
                ];
                params.extend(extra.iter().map(|i| Value::Int(Some(*i))));
                params
            };
            let states = |rows: Vec<(Record, Vec<i64>)>| {
                rows.into_iter()
                    .filter_map(|(record, _)| match record {
                        Record::State(s) => Some(s),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            };
            let before = states(query_records(
                conn,
                store,
                &context,
                RecordKind::States,
                &before_sql,
                &key(&[from]),
                0,
            )?);
            let within = states(query_records(
                conn,
                store,
                &context,
                RecordKind::States,
                &within_sql,
                &key(&[from, to]),
                0,
            )?);
            Ok(AgentTimeline {
                before: before.into_iter().next(),
                within,
            })
        })
        .await
    }

    async fn change_head(
        &self,
        kind: RecordKind,
        tenant: &str,
    ) -> Result<ChangeCursor, StoreError> {
        // Writers are serialised and number their transactions from a counter, so every later
        // write gets a sequence above the highest one stored.
        let sql = format!(
            "SELECT coalesce(max(change_seq), 0) + 1 FROM {} WHERE tenant = ?1",
            schema::table_of(kind).name
        );
        let tenant = tenant.to_string();
        let context = format!(
            "reading the end of the {kind} feed from {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            let seq: i64 = conn
                .query_row(&sql, [tenant], |row| row.get(0))
                .map_err(sqlite_err(&context))?;
            Ok(ChangeCursor { seq, key: None })
        })
        .await
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        let context = format!("reading cursor {name:?} from {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, _| {
            engine::cursor(conn, &context, &name)
        })
        .await
    }

    async fn claim_due(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let context = format!("claiming outbox messages on {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            engine::claim_due(conn, store, &context, now, lease_ms, limit)
        })
        .await
    }

    async fn mark_sent(&self, id: i64, at: i64) -> Result<(), StoreError> {
        let context = format!(
            "marking outbox message {id} sent on {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            engine::mark_sent(conn, &context, id, at)
        })
        .await
    }

    async fn mark_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<(), StoreError> {
        let error = error.to_string();
        let context = format!(
            "recording a failed attempt of outbox message {id} on {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            engine::mark_retry(conn, &context, id, next_attempt_at, &error, count_attempt)
        })
        .await
    }

    async fn mark_dead(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let error = error.to_string();
        let context = format!(
            "marking outbox message {id} dead on {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            engine::mark_dead(conn, &context, id, &error)
        })
        .await
    }

    async fn retry_dead(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let context = format!(
            "retrying dead outbox message {id} on {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            engine::retry_dead(conn, &context, id, now)
        })
        .await
    }

    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>, StoreError> {
        let filter = filter.clone();
        let context = format!("listing the outbox of {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            engine::outbox(conn, store, &context, &filter)
        })
        .await
    }

    async fn pending_messages(&self, flow: &str) -> Result<u64, StoreError> {
        let flow = flow.to_string();
        let context = format!(
            "counting pending messages of {flow:?} in {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            let n: i64 = conn
                .query_row(
                    &crate::engine_tables::for_sqlite(crate::engine_tables::PENDING_OF_FLOW),
                    [flow],
                    |r| r.get(0),
                )
                .map_err(sqlite_err(&context))?;
            Ok(n.unsigned_abs())
        })
        .await
    }

    async fn outbox_depth(&self) -> Result<Vec<OutboxDepth>, StoreError> {
        let context = format!("counting the outbox of {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            engine::outbox_depth(conn, store, &context)
        })
        .await
    }

    async fn try_start_run(
        &self,
        flow: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let flow = flow.to_string();
        let context = format!("starting a run of flow {flow:?} on {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, _| {
            engine::try_start_run(conn, &context, &flow, now, lease_ms)
        })
        .await
    }

    async fn renew_run(&self, id: i64, until: i64) -> Result<(), StoreError> {
        let context = format!("renewing the lease of run {id} on {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            engine::renew_run(conn, store, &context, id, until)
        })
        .await
    }

    async fn finish_run(&self, id: i64, end: &RunEnd) -> Result<(), StoreError> {
        let end = end.clone();
        let context = format!("ending run {id} on {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            engine::finish_run(conn, store, &context, id, &end)
        })
        .await
    }

    async fn runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<Run>, StoreError> {
        let flow = flow.map(str::to_string);
        let context = format!("listing runs on {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            engine::runs(conn, store, &context, flow.as_deref(), limit)
        })
        .await
    }

    async fn discard_dead(&self, id: i64) -> Result<bool, StoreError> {
        let context = format!("discarding dead letter {id} on {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, _| {
            catalog::discard_dead(conn, &context, id)
        })
        .await
    }

    async fn catalog(&self, table: CatalogTable) -> Result<Vec<CatalogEntry>, StoreError> {
        let context = format!("listing {} on {}", table.table(), self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            catalog::list(conn, store, &context, table)
        })
        .await
    }

    async fn put_catalog(
        &self,
        table: CatalogTable,
        entry: &CatalogEntry,
    ) -> Result<(), StoreError> {
        let entry = entry.clone();
        let context = format!(
            "saving {} {:?} on {}",
            table.noun(),
            entry.name,
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            catalog::put(conn, &context, table, &entry)
        })
        .await
    }

    async fn directory_snapshot(
        &self,
        flow: &str,
        tenant: &str,
        source: &str,
    ) -> Result<Option<wfm_model::DirectorySnapshot>, StoreError> {
        let key = (flow.to_string(), tenant.to_string(), source.to_string());
        let context = format!(
            "reading the directory snapshot of flow {flow} on {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, store| {
            directory::snapshot(conn, store, &context, (&key.0, &key.1, &key.2))
        })
        .await
    }

    async fn delete_catalog(&self, table: CatalogTable, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        let context = format!(
            "deleting {} {name:?} on {}",
            table.noun(),
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, _| {
            catalog::delete(conn, &context, table, &name)
        })
        .await
    }

    async fn persons(
        &self,
        tenant: &str,
        target: &str,
    ) -> Result<Vec<crate::PersonLink>, StoreError> {
        let (tenant, target) = (tenant.to_string(), target.to_string());
        let context = format!(
            "reading the persons of {tenant} in {target} on {}",
            self.inner.describe
        );
        self.with_conn(context.clone(), move |conn, store| {
            directory::persons(conn, store, &context, &tenant, &target)
        })
        .await
    }

    fn scim(&self) -> &dyn crate::ScimStore {
        self
    }

    async fn directory_log(
        &self,
        filter: &crate::DirectoryLogFilter,
    ) -> Result<Vec<crate::DirectoryLogEntry>, StoreError> {
        let filter = filter.clone();
        let context = format!("listing the directory log on {}", self.inner.describe);
        self.with_conn(context.clone(), move |conn, store| {
            directory::log_list(conn, store, &context, &filter)
        })
        .await
    }
}

impl SqliteStore {
    /// Like [`SqliteStore::with_conn`], but hands the connection itself back (for transactions).
    async fn with_conn_owned<F>(&self, context: String, f: F) -> Result<Connection, StoreError>
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        spawn(context, move || {
            let conn = inner.checkout()?;
            f(&conn)?;
            Ok(conn)
        })
        .await
    }
}

fn read_page(
    conn: &Connection,
    store: &str,
    context: &str,
    kind: RecordKind,
    tenant: Option<&str>,
    after: Option<&NaturalKey>,
    limit: usize,
) -> Result<Vec<Record>, StoreError> {
    let table = schema::table_of(kind);
    let sql = table.select_page(Dialect::Sqlite, tenant.is_some(), after.is_some());
    let mut params: Vec<Value<'_>> = Vec::with_capacity(5);
    if let Some(tenant) = tenant {
        params.push(Value::Text(Some(tenant.into())));
    }
    if let Some(key) = after {
        params.extend(codec::key_values(key));
    }
    params.push(Value::Int(Some(i64::try_from(limit).unwrap_or(i64::MAX))));
    let rows = query_records(conn, store, context, kind, &sql, &params, 0)?;
    Ok(rows.into_iter().map(|(record, _)| record).collect())
}

/// Runs a query whose rows are records of `kind` ([`schema::Table::column_list`]) followed by
/// `extra` integer columns; returns each record, agents with their skills, and its extras.
fn query_records(
    conn: &Connection,
    store: &str,
    context: &str,
    kind: RecordKind,
    sql: &str,
    params: &[Value<'_>],
    extra: usize,
) -> Result<Vec<(Record, Vec<i64>)>, StoreError> {
    let table = schema::table_of(kind);
    let mut stmt = conn.prepare_cached(sql).map_err(sqlite_err(context))?;
    let mut rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(sqlite_err(context))?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        let corrupt = |key: String, problem: String| StoreError::Corrupt {
            store: store.to_string(),
            table: table.name,
            key,
            problem,
        };
        let record =
            codec::decode(table, &SqliteRow(row)).map_err(|e| corrupt(e.key, e.problem))?;
        let extras = (table.width()..table.width() + extra)
            .map(|i| row.get(i))
            .collect::<rusqlite::Result<Vec<i64>>>()
            .map_err(|e| corrupt(record.describe_key(), e.to_string()))?;
        records.push((record, extras));
    }
    if kind == RecordKind::Agents {
        let mut skills = conn
            .prepare_cached(&WRITE_SQL.agent_skills_of)
            .map_err(sqlite_err(context))?;
        for (record, _) in &mut records {
            if let Record::Agent(agent) = record {
                agent.skills = skills
                    .query_map([&agent.tenant, &agent.agent], |r| r.get(0))
                    .and_then(Iterator::collect)
                    .map_err(sqlite_err(context))?;
            }
        }
    }
    Ok(records)
}

/// A write transaction on one connection.
struct SqliteTx {
    inner: Arc<Inner>,
    /// `None` while a call has it on a blocking thread, and after commit or rollback.
    conn: Option<Connection>,
    /// The error of a failed write: the transaction may hold part of that write, so it can only
    /// be rolled back.
    failed: Option<String>,
    /// The transaction's change sequence, once its first record write has taken it.
    change_seq: Option<i64>,
}

impl SqliteTx {
    /// Runs `f` with the transaction's connection on a blocking thread. A failure leaves the
    /// transaction fit only for rollback, as a failed write does.
    async fn run<T, F>(&mut self, what: &str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, StoreError> + Send + 'static,
    {
        if let Some(first_error) = &self.failed {
            return Err(StoreError::Aborted {
                store: self.inner.describe.clone(),
                first_error: first_error.clone(),
            });
        }
        let conn = self.take(what)?;
        let store = self.inner.describe.clone();
        let context = format!("{what} on {store}");
        let handle = tokio::task::spawn_blocking(move || {
            let result = f(&conn, &context);
            (conn, result)
        });
        let (conn, result) = handle.await.map_err(|e| StoreError::Worker {
            context: format!("{what} on {store}"),
            message: e.to_string(),
        })?;
        self.conn = Some(conn);
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }

    fn take(&mut self, what: &str) -> Result<Connection, StoreError> {
        self.conn.take().ok_or_else(|| StoreError::TxLost {
            context: format!("{what} on {}", self.inner.describe),
        })
    }

    /// Ends the transaction with `sql` (COMMIT or ROLLBACK) and returns the connection.
    async fn finish(mut self: Box<Self>, sql: &'static str) -> Result<(), StoreError> {
        let what = if sql == "COMMIT" {
            "committing"
        } else {
            "rolling back"
        };
        let conn = self.take(what)?;
        let inner = self.inner.clone();
        let context = format!("{what} on {}", inner.describe);
        spawn(context.clone(), move || {
            let result = conn.execute_batch(sql).map_err(sqlite_err(context));
            // A failed COMMIT leaves the transaction open; checkin closes such a connection,
            // which rolls it back.
            inner.checkin(conn);
            result
        })
        .await
    }
}

#[async_trait]
impl StoreTx for SqliteTx {
    async fn write(&mut self, records: Vec<Record>) -> Result<WriteCounts, StoreError> {
        if let Some(first_error) = &self.failed {
            return Err(StoreError::Aborted {
                store: self.inner.describe.clone(),
                first_error: first_error.clone(),
            });
        }
        if records.is_empty() {
            return Ok(WriteCounts::default());
        }
        let conn = self.take("writing")?;
        let store = self.inner.describe.clone();
        let context = format!("writing to {store}");
        let change_seq = self.change_seq;
        let handle = tokio::task::spawn_blocking(move || {
            let result = match change_seq {
                Some(seq) => Ok(seq),
                None => next_change_seq(&conn, &store),
            }
            .and_then(|seq| Ok((seq, write_records(&conn, &store, &records, seq)?)));
            (conn, result)
        });
        let (conn, result) = handle.await.map_err(|e| StoreError::Worker {
            context,
            message: e.to_string(),
        })?;
        self.conn = Some(conn);
        match result {
            Ok((seq, counts)) => {
                self.change_seq = Some(seq);
                Ok(counts)
            }
            Err(e) => {
                self.failed = Some(e.to_string());
                Err(e)
            }
        }
    }

    async fn set_cursor(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        let (name, value) = (name.to_string(), value.to_string());
        let what = format!("setting cursor {name:?}");
        self.run(&what, move |conn, context| {
            engine::set_cursor(conn, context, &name, &value, migrations::now_ms())
        })
        .await
    }

    async fn enqueue(&mut self, messages: Vec<NewMessage>, now: i64) -> Result<u64, StoreError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let what = format!("adding {} messages to the outbox", messages.len());
        self.run(&what, move |conn, context| {
            engine::enqueue(conn, context, &messages, now)
        })
        .await
    }

    async fn supersede(
        &mut self,
        flow: &str,
        key: Option<&str>,
        before_id: i64,
    ) -> Result<u64, StoreError> {
        let (flow, key) = (flow.to_string(), key.map(str::to_string));
        let what = format!("superseding pending messages of flow {flow:?}");
        self.run(&what, move |conn, context| {
            engine::supersede(conn, context, &flow, key.as_deref(), before_id)
        })
        .await
    }

    async fn save_directory_snapshot(
        &mut self,
        flow: &str,
        tenant: &str,
        source: &str,
        snapshot: &wfm_model::DirectorySnapshot,
        at: i64,
    ) -> Result<(), StoreError> {
        let key = (flow.to_string(), tenant.to_string(), source.to_string());
        let snapshot = snapshot.clone();
        let what = format!("saving the directory snapshot of flow {flow}");
        self.run(&what, move |conn, context| {
            directory::save_snapshot(conn, context, (&key.0, &key.1, &key.2), &snapshot, at)
        })
        .await
    }

    async fn add_persons(&mut self, persons: Vec<crate::PersonLink>) -> Result<u64, StoreError> {
        if persons.is_empty() {
            return Ok(0);
        }
        let what = format!("recording {} persons", persons.len());
        self.run(&what, move |conn, context| {
            directory::add_persons(conn, context, &persons)
        })
        .await
    }

    async fn log_directory_changes(
        &mut self,
        entries: Vec<crate::NewDirectoryLogEntry>,
    ) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let what = format!("logging {} directory changes", entries.len());
        self.run(&what, move |conn, context| {
            directory::log(conn, context, &entries)
        })
        .await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if let Some(first_error) = self.failed.clone() {
            let store = self.inner.describe.clone();
            self.finish("ROLLBACK").await?;
            return Err(StoreError::Aborted { store, first_error });
        }
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.finish("ROLLBACK").await
    }
}

impl Drop for SqliteTx {
    /// Dropped without commit or rollback: roll back off the async thread, then reuse the
    /// connection. Without a runtime, closing the connection here rolls back as well.
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let inner = self.inner.clone();
        let rollback = move || {
            if conn.execute_batch("ROLLBACK").is_ok() {
                inner.checkin(conn);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(rollback);
            }
            Err(_) => rollback(),
        }
    }
}

/// The cached statements one write uses, prepared on first use.
struct Statements<'c> {
    conn: &'c Connection,
    upsert: [Option<CachedStatement<'c>>; 5],
    team: Option<CachedStatement<'c>>,
    skill: Option<CachedStatement<'c>>,
    agent_skill: Option<CachedStatement<'c>>,
    agent_skills_of: Option<CachedStatement<'c>>,
    clear_agent_skills: Option<CachedStatement<'c>>,
    restamp_agent: Option<CachedStatement<'c>>,
}

fn prepared<'s, 'c>(
    conn: &'c Connection,
    slot: &'s mut Option<CachedStatement<'c>>,
    sql: &str,
) -> rusqlite::Result<&'s mut CachedStatement<'c>> {
    match slot {
        Some(stmt) => Ok(stmt),
        None => Ok(slot.insert(conn.prepare_cached(sql)?)),
    }
}

fn kind_index(kind: RecordKind) -> usize {
    match kind {
        RecordKind::Tenants => 0,
        RecordKind::Queues => 1,
        RecordKind::Agents => 2,
        RecordKind::Interactions => 3,
        RecordKind::States => 4,
    }
}

/// Takes the next change sequence from `change_counter`, inside the caller's transaction (which
/// holds the write lock, so numbers are taken in commit order).
fn next_change_seq(conn: &Connection, store: &str) -> Result<i64, StoreError> {
    conn.prepare_cached(NEXT_CHANGE_SEQ)
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(sqlite_err(format!("taking a change sequence on {store}")))
}

/// Upserts `records` in order, inside the caller's transaction, stamping rows that change with
/// the transaction's change sequence `seq`.
fn write_records(
    conn: &Connection,
    store: &str,
    records: &[Record],
    seq: i64,
) -> Result<WriteCounts, StoreError> {
    let now_ms = migrations::now_ms();
    let stamps = [Value::Int(Some(now_ms)), Value::Int(Some(seq))];
    let sql = &*WRITE_SQL;
    let mut st = Statements {
        conn,
        upsert: [None, None, None, None, None],
        team: None,
        skill: None,
        agent_skill: None,
        agent_skills_of: None,
        clear_agent_skills: None,
        restamp_agent: None,
    };
    let mut values: Vec<Value<'_>> = Vec::with_capacity(20);
    let mut counts = WriteCounts::default();
    for record in records {
        let fail = |source| StoreError::Sqlite {
            context: format!(
                "writing {} {} to {store}",
                record.kind(),
                record.describe_key()
            ),
            source,
        };
        let kind = record.kind();
        let i = kind_index(kind);
        let stmt = prepared(conn, &mut st.upsert[i], &sql.upsert[i]).map_err(fail)?;
        values.clear();
        codec::row_values(record, &mut values);
        let stamped: &[Value<'_>] = if schema::table_of(kind).stamped {
            &stamps
        } else {
            &[]
        };
        let rows = stmt
            .execute(params_from_iter(values.iter().chain(stamped)))
            .map_err(fail)?;
        let mut changed = rows > 0;
        if let Record::Agent(agent) = record
            && write_agent_links(&mut st, sql, agent).map_err(fail)?
        {
            // New skills are a change of the agent, to the feed as well: stamp its row.
            changed = true;
            prepared(conn, &mut st.restamp_agent, &sql.restamp_agent)
                .and_then(|stmt| {
                    stmt.execute(rusqlite::params![agent.tenant, agent.agent, now_ms, seq])
                })
                .map_err(fail)?;
        }
        if changed {
            counts.written += 1;
        } else {
            counts.unchanged += 1;
        }
    }
    Ok(counts)
}

/// Keeps teams, skills and agent_skills in step with one agent; true when its skills changed.
fn write_agent_links(
    st: &mut Statements<'_>,
    sql: &WriteSql,
    agent: &Agent,
) -> rusqlite::Result<bool> {
    let conn = st.conn;
    if let Some(team) = &agent.team {
        prepared(conn, &mut st.team, &sql.team)?.execute([&agent.tenant, team, team])?;
    }
    let current: Vec<String> = prepared(conn, &mut st.agent_skills_of, &sql.agent_skills_of)?
        .query_map([&agent.tenant, &agent.agent], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if current == agent.skills {
        return Ok(false);
    }
    prepared(conn, &mut st.clear_agent_skills, &sql.clear_agent_skills)?
        .execute([&agent.tenant, &agent.agent])?;
    for (ordinal, skill) in agent.skills.iter().enumerate() {
        prepared(conn, &mut st.skill, &sql.skill)?.execute([&agent.tenant, skill])?;
        prepared(conn, &mut st.agent_skill, &sql.agent_skill)?.execute(rusqlite::params![
            agent.tenant,
            agent.agent,
            skill,
            ordinal as i64
        ])?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table descriptions the SQL is generated from match the tables the migrations create.
    #[tokio::test]
    async fn schema_descriptions_match_the_migrated_tables() {
        let store = SqliteStore::open(SqliteLocation::Memory).await.unwrap();
        let conn = store.inner.checkout().unwrap();
        for table in COUNTED {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{}')",
                    table.name
                ))
                .unwrap();
            let columns: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let mut expected: Vec<String> =
                table.columns().map(|(name, _)| name.to_string()).collect();
            if table.stamped {
                expected.push("changed_at".to_string());
                expected.push("change_seq".to_string());
            }
            assert_eq!(columns, expected, "{}", table.name);
        }
    }

    fn pragma(conn: &Connection, name: &str) -> i64 {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    }

    /// A new store gets 16 KiB pages; one made with SQLite's 4 KiB pages keeps them and still
    /// works. Either way the WAL bound is the same number of bytes.
    #[tokio::test]
    async fn new_stores_get_large_pages_and_old_ones_keep_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.db");
        let store = SqliteStore::open(SqliteLocation::File(new.clone()))
            .await
            .unwrap();
        let conn = store.inner.checkout().unwrap();
        assert_eq!(pragma(&conn, "page_size"), PAGE_SIZE);
        assert_eq!(
            pragma(&conn, "wal_autocheckpoint") * PAGE_SIZE,
            WAL_AUTOCHECKPOINT_BYTES
        );
        store.inner.checkin(conn);

        let old = dir.path().join("old.db");
        let made_elsewhere = Connection::open(&old).unwrap();
        made_elsewhere
            .execute_batch("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t(x);")
            .unwrap();
        drop(made_elsewhere);
        let store = SqliteStore::open(SqliteLocation::File(old)).await.unwrap();
        let conn = store.inner.checkout().unwrap();
        assert_eq!(pragma(&conn, "page_size"), 4096);
        assert_eq!(
            pragma(&conn, "wal_autocheckpoint") * 4096,
            WAL_AUTOCHECKPOINT_BYTES
        );
        let applied: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied as usize, MIGRATIONS.len());
    }
}
