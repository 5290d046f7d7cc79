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

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, OpenFlags, TransactionBehavior, params_from_iter};
use wfm_model::{Agent, Record, RecordKind, Tenant};

use crate::codec::{self, Columns, Value};
use crate::error::{StoreError, sqlite as sqlite_err};
use crate::migrations::{self, CREATE_SCHEMA_MIGRATIONS, MIGRATIONS};
use crate::schema::{self, AGENT_SKILLS, COUNTED, Dialect, SKILLS, TEAMS};
use crate::url::{SqliteLocation, describe_sqlite};
use crate::{NaturalKey, Store, StoreTx, TableCounts, WriteCounts};

/// How long a connection waits for another writer before giving up. Imports hold the write lock
/// for seconds, so this is generous.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept for reuse; more are opened on demand and closed when returned.
const MAX_IDLE: usize = 4;
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
}

static WRITE_SQL: LazyLock<WriteSql> = LazyLock::new(|| WriteSql {
    upsert: RecordKind::ALL.map(|kind| schema::table_of(kind).sqlite_upsert()),
    team: TEAMS.sqlite_upsert(),
    skill: SKILLS.sqlite_upsert(),
    agent_skill: AGENT_SKILLS.sqlite_upsert(),
    agent_skills_of: "SELECT skill FROM agent_skills WHERE tenant = ?1 AND agent = ?2 \
                      ORDER BY ordinal"
        .to_string(),
    clear_agent_skills: "DELETE FROM agent_skills WHERE tenant = ?1 AND agent = ?2".to_string(),
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
        conn.busy_timeout(BUSY_TIMEOUT)
            .and_then(|()| conn.pragma_update(None, "synchronous", synchronous))
            .and_then(|()| conn.pragma_update(None, "cache_size", -CACHE_KIB))
            .and_then(|()| conn.pragma_update(None, "temp_store", "MEMORY"))
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
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
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
            Ok(SqliteStore {
                inner: Arc::new(inner),
            })
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
    let mut stmt = conn.prepare_cached(&sql).map_err(sqlite_err(context))?;
    let mut params: Vec<Value<'_>> = Vec::with_capacity(5);
    if let Some(tenant) = tenant {
        params.push(Value::Text(Some(tenant.into())));
    }
    if let Some(key) = after {
        params.extend(codec::key_values(key));
    }
    params.push(Value::Int(Some(i64::try_from(limit).unwrap_or(i64::MAX))));
    let mut rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(sqlite_err(context))?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err(context))? {
        let record = codec::decode(table, &SqliteRow(row)).map_err(|e| StoreError::Corrupt {
            store: store.to_string(),
            table: table.name,
            key: e.key,
            problem: e.problem,
        })?;
        records.push(record);
    }
    if kind == RecordKind::Agents {
        let mut skills = conn
            .prepare_cached(&WRITE_SQL.agent_skills_of)
            .map_err(sqlite_err(context))?;
        for record in &mut records {
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
}

impl SqliteTx {
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
        let handle = tokio::task::spawn_blocking(move || {
            let result = write_records(&conn, &store, &records);
            (conn, result)
        });
        let (conn, result) = handle.await.map_err(|e| StoreError::Worker {
            context,
            message: e.to_string(),
        })?;
        self.conn = Some(conn);
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
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

/// Upserts `records` in order, inside the caller's transaction.
fn write_records(
    conn: &Connection,
    store: &str,
    records: &[Record],
) -> Result<WriteCounts, StoreError> {
    let now = Value::Int(Some(migrations::now_ms()));
    let sql = &*WRITE_SQL;
    let mut st = Statements {
        conn,
        upsert: [None, None, None, None, None],
        team: None,
        skill: None,
        agent_skill: None,
        agent_skills_of: None,
        clear_agent_skills: None,
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
        let stamped = schema::table_of(kind).stamped.then_some(&now);
        let rows = stmt
            .execute(params_from_iter(values.iter().chain(stamped)))
            .map_err(fail)?;
        let mut changed = rows > 0;
        if let Record::Agent(agent) = record {
            changed |= write_agent_links(&mut st, sql, agent).map_err(fail)?;
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
            }
            assert_eq!(columns, expected, "{}", table.name);
        }
    }
}
