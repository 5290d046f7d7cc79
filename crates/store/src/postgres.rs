//! [`PostgresStore`]: the store on PostgreSQL, through tokio-postgres and a deadpool pool.
//!
//! Behaves as the SQLite store does (same tables, same upserts, same pages); what differs is how
//! rows travel. A write sends a whole batch of one kind in one statement,
//! `INSERT … SELECT * FROM UNNEST($1::text[], …) ON CONFLICT … DO UPDATE … WHERE … IS DISTINCT
//! FROM …`, with one array parameter per column, instead of one round trip per row; the rows it
//! reports affected are the ones written. A [`StoreTx`] holds one pooled connection between
//! `BEGIN` and `COMMIT`/`ROLLBACK`. TLS is not supported yet (connections use `NoTls`).
//!
//! Change feed: rows are stamped with the id of the transaction that wrote them
//! (`pg_current_xact_id()`, see [`schema::PG_CHANGE_SEQ`]). Transactions commit in any order, so a
//! row with a small id can become visible after rows with larger ones; [`Store::changes`] therefore
//! returns only rows below [`HORIZON`], the oldest transaction of this database still in progress
//! when the statement's snapshot was taken. Every transaction below it has ended, so no row can
//! appear there any more, and a cursor handed out never has a later commit sort before it. The
//! engine's tables (cursors, outbox, runs) are in the `engine` submodule.

mod catalog;
mod directory;
mod engine;
mod scim;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;
use wfm_model::{Agent, AgentStateEvent, Record, RecordKind, Segment, Tenant};

use crate::codec::{self, Columns, Value};
use crate::error::{StoreError, postgres as pg_err};
use crate::migrations::{self, CREATE_SCHEMA_MIGRATIONS, MIGRATIONS};
use crate::schema::{
    self, AGENT_SKILLS, AGENTS, COUNTED, Dialect, PG_CHANGE_SEQ, SKILLS, TEAMS, Table, Ty,
};
use crate::url::describe_postgres;
use crate::{
    AgentTimeline, CatalogEntry, CatalogTable, Change, ChangeCursor, NaturalKey, NewMessage,
    OfferedPosition, OutboxDepth, OutboxFilter, OutboxMessage, Run, RunEnd, Store, StoreTx,
    TableCounts, WriteCounts,
};

/// Connections the pool keeps at most.
const POOL_SIZE: usize = 8;
/// Rows sent in one statement at most; bigger writes are split.
const MAX_BATCH: usize = 10_000;
/// Serializes migrations of one database between processes (`pg_advisory_xact_lock`): the bytes
/// of "wfm-migr".
const MIGRATION_LOCK: i64 = 0x7766_6d2d_6d69_6772;

const SKILLS_OF: &str = "SELECT s.tenant, s.agent, s.skill FROM agent_skills s \
     JOIN UNNEST($1::text[], $2::text[]) AS u (tenant, agent) \
     ON s.tenant = u.tenant AND s.agent = u.agent \
     ORDER BY s.tenant, s.agent, s.ordinal";
const CLEAR_SKILLS_OF: &str = "DELETE FROM agent_skills s \
     USING UNNEST($1::text[], $2::text[]) AS u (tenant, agent) \
     WHERE s.tenant = u.tenant AND s.agent = u.agent";

/// The change-feed horizon: rows with a `change_seq` below it are all committed and visible to the
/// statement, and no row can be stamped below it any more.
///
/// It is the statement snapshot's oldest in-progress transaction id, `pg_snapshot_xmin`, except
/// that transactions running in *other* databases of the cluster are passed over: they cannot
/// write these tables, and a long one (another application's, or a parallel test's) would
/// otherwise hold this database's feeds back for as long as it runs. A transaction counts as
/// another database's only while `pg_stat_activity` shows it running there; one that has ended
/// meanwhile, a prepared transaction, or one hidden from this user counts as ours, which can only
/// hold the horizon lower (never skip a row). With no transaction of ours in progress, the horizon
/// is the snapshot's `xmax`: every id below it has ended. `pg_current_snapshot()` is the
/// statement's own snapshot, the one its rows are read with.
const HORIZON: &str = "SELECT coalesce(\
     (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x \
      WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a \
      WHERE a.backend_xid = x::xid AND a.datname <> current_database())), \
     pg_snapshot_xmax(pg_current_snapshot())::text::bigint)";

/// Stamps agents whose skills changed (their rows may not have), for the change feed.
const RESTAMP_AGENTS: &str = "UPDATE agents a SET changed_at = $3, change_seq = {seq} \
     FROM UNNEST($1::text[], $2::text[]) AS u (tenant, agent) \
     WHERE a.tenant = u.tenant AND a.agent = u.agent";

/// The store on PostgreSQL.
pub(crate) struct PostgresStore {
    pool: Pool,
    describe: String,
}

impl PostgresStore {
    /// Connects to the database of `config` and migrates it.
    pub(crate) async fn open(
        mut config: tokio_postgres::Config,
    ) -> Result<PostgresStore, StoreError> {
        let describe = describe_postgres(&config);
        let context = format!(
            "cannot open PostgreSQL store at {}",
            describe.trim_start_matches("PostgreSQL ")
        );
        if config.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Unsupported {
                context,
                what: "TLS (sslmode=require) is not supported yet; connect with sslmode=disable \
                       or sslmode=prefer, over a trusted network or a local socket"
                    .to_string(),
            });
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("wfm-bridge");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(15)))
            .wait_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| StoreError::Pool {
                context: context.clone(),
                message: e.to_string(),
            })?;
        let mut client = pool.get().await.map_err(|e| pool_error(&context, e))?;
        migrate(&mut client, &describe).await?;
        Ok(PostgresStore { pool, describe })
    }

    async fn client(&self, context: &str) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| pool_error(context, e))
    }
}

fn pool_error(context: &str, error: PoolError) -> StoreError {
    match error {
        PoolError::Backend(source) => StoreError::Postgres {
            context: context.to_string(),
            source,
        },
        other => StoreError::Pool {
            context: context.to_string(),
            message: other.to_string(),
        },
    }
}

/// Applies the migrations the database lacks, each in its own transaction, under an advisory
/// lock so that processes starting together migrate once.
async fn migrate(client: &mut Object, store: &str) -> Result<(), StoreError> {
    let known = migrations::latest();
    for migration in MIGRATIONS {
        let failed = || format!("migration {} failed on {store}", migration.version);
        let tx = client.transaction().await.map_err(pg_err(failed()))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(pg_err(failed()))?;
        tx.batch_execute(CREATE_SCHEMA_MIGRATIONS)
            .await
            .map_err(pg_err(failed()))?;
        let newest: Option<i64> = tx
            .query_one("SELECT max(version) FROM schema_migrations", &[])
            .await
            .and_then(|row| row.try_get(0))
            .map_err(pg_err(failed()))?;
        if let Some(found) = newest.filter(|&v| v > known) {
            return Err(StoreError::SchemaTooNew {
                store: store.to_string(),
                found,
                known,
            });
        }
        if newest.is_some_and(|v| v >= known) {
            // Up to date: nothing more to do (the common case on every start).
            tx.commit().await.map_err(pg_err(failed()))?;
            return Ok(());
        }
        if newest.is_some_and(|v| v >= migration.version) {
            tx.commit().await.map_err(pg_err(failed()))?;
            continue;
        }
        for sql in migration.postgres {
            tx.batch_execute(sql).await.map_err(pg_err(failed()))?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[&migration.version, &migrations::now_ms()],
        )
        .await
        .map_err(pg_err(failed()))?;
        tx.commit().await.map_err(pg_err(failed()))?;
    }
    Ok(())
}

struct PgRow<'a>(&'a tokio_postgres::Row);

impl Columns for PgRow<'_> {
    fn text(&self, i: usize) -> Result<Option<String>, String> {
        self.0.try_get(i).map_err(|e| e.to_string())
    }
    fn int(&self, i: usize) -> Result<Option<i64>, String> {
        self.0.try_get(i).map_err(|e| e.to_string())
    }
    fn boolean(&self, i: usize) -> Result<Option<bool>, String> {
        self.0.try_get(i).map_err(|e| e.to_string())
    }
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>, String> {
        self.0.try_get(i).map_err(|e| e.to_string())
    }
}

/// A statement parameter owned by the caller (`after` keys, tenant, limit).
fn owned_param(value: Value<'_>) -> Box<dyn ToSql + Sync + Send> {
    match value {
        Value::Text(text) => Box::new(text.map(Cow::into_owned)),
        Value::Int(int) => Box::new(int),
        Value::Bool(b) => Box::new(b),
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn describe(&self) -> String {
        self.describe.clone()
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
        let context = format!("beginning a transaction on {}", self.describe);
        let client = self.client(&context).await?;
        client
            .batch_execute("BEGIN")
            .await
            .map_err(pg_err(context))?;
        Ok(Box::new(PostgresTx {
            client: Some(client),
            describe: self.describe.clone(),
            failed: None,
        }))
    }

    async fn counts(&self, tenant: Option<&str>) -> Result<TableCounts, StoreError> {
        let context = format!("counting rows in {}", self.describe);
        let client = self.client(&context).await?;
        let counts: Vec<String> = COUNTED
            .iter()
            .map(|table| format!("({})", table.count(Dialect::Postgres, tenant.is_some())))
            .collect();
        let sql = format!("SELECT {}", counts.join(", "));
        let stmt = client
            .prepare_cached(&sql)
            .await
            .map_err(pg_err(&context))?;
        let params: Vec<&(dyn ToSql + Sync)> = match &tenant {
            Some(tenant) => vec![tenant],
            None => Vec::new(),
        };
        let row = client
            .query_one(&stmt, &params)
            .await
            .map_err(pg_err(&context))?;
        let mut n = [0u64; 8];
        for (i, slot) in n.iter_mut().enumerate() {
            let count: i64 = row.try_get(i).map_err(pg_err(&context))?;
            *slot = count.unsigned_abs();
        }
        Ok(TableCounts::from_ordered(n))
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
        let context = format!("reading {kind} from {}", self.describe);
        let client = self.client(&context).await?;
        let table = schema::table_of(kind);
        let sql = table.select_page(Dialect::Postgres, tenant.is_some(), after.is_some());
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(5);
        if let Some(tenant) = tenant {
            params.push(Box::new(tenant.to_string()));
        }
        if let Some(key) = after {
            params.extend(codec::key_values(key).into_iter().map(owned_param));
        }
        params.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let rows = query_records(&client, &self.describe, &context, kind, &sql, &params, 0).await?;
        Ok(rows.into_iter().map(|(record, _)| record).collect())
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
        let context = format!("reading changes of {kind} from {}", self.describe);
        let client = self.client(&context).await?;
        let table = schema::table_of(kind);
        let sql = table.select_changes(Dialect::Postgres, key_params.is_some(), Some(HORIZON));
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::with_capacity(6);
        params.push(Box::new(tenant.to_string()));
        params.push(Box::new(after.seq));
        params.extend(key_params.into_iter().flatten().map(owned_param));
        params.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let rows = query_records(&client, &self.describe, &context, kind, &sql, &params, 2).await?;
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
        let context = format!(
            "reading segments offered in a window from {}",
            self.describe
        );
        let client = self.client(&context).await?;
        let sql = schema::select_offered(Dialect::Postgres, after.is_some());
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> =
            vec![Box::new(tenant.to_string()), Box::new(from), Box::new(to)];
        if let Some(p) = after {
            params.push(Box::new(p.offered_at));
            params.push(Box::new(p.contact_id.clone()));
            params.push(Box::new(i64::from(p.seq)));
        }
        params.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let rows = query_records(
            &client,
            &self.describe,
            &context,
            RecordKind::Interactions,
            &sql,
            &params,
            0,
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(record, _)| match record {
                Record::Segment(s) => Some(s),
                _ => None,
            })
            .collect())
    }

    async fn agents_with_states(
        &self,
        tenant: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<String>, StoreError> {
        let context = format!("listing agents with states from {}", self.describe);
        let client = self.client(&context).await?;
        let stmt = client
            .prepare_cached(&schema::select_state_agents(Dialect::Postgres))
            .await
            .map_err(pg_err(&context))?;
        let rows = client
            .query(&stmt, &[&tenant, &from, &to])
            .await
            .map_err(pg_err(&context))?;
        rows.iter()
            .map(|row| row.try_get::<_, String>(0).map_err(pg_err(&context)))
            .collect()
    }

    async fn latest_states(&self, tenant: &str) -> Result<Vec<AgentStateEvent>, StoreError> {
        let context = format!("reading the latest agent states from {}", self.describe);
        let client = self.client(&context).await?;
        let params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(tenant.to_string())];
        let sql = schema::select_latest_states(Dialect::Postgres);
        let rows = query_records(
            &client,
            &self.describe,
            &context,
            RecordKind::States,
            &sql,
            &params,
            0,
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(record, _)| match record {
                Record::State(s) => Some(s),
                _ => None,
            })
            .collect())
    }

    async fn agent_timeline(
        &self,
        tenant: &str,
        agent: &str,
        from: i64,
        to: i64,
    ) -> Result<AgentTimeline, StoreError> {
        let context = format!(
            "reading the states of agent {agent:?} from {}",
            self.describe
        );
        let client = self.client(&context).await?;
        let states = |rows: Vec<(Record, Vec<i64>)>| {
            rows.into_iter()
                .filter_map(|(record, _)| match record {
                    Record::State(s) => Some(s),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let key = |extra: &[i64]| {
            let mut params: Vec<Box<dyn ToSql + Sync + Send>> =
                vec![Box::new(tenant.to_string()), Box::new(agent.to_string())];
            params.extend(
                extra
                    .iter()
                    .map(|i| Box::new(*i) as Box<dyn ToSql + Sync + Send>),
            );
            params
        };
        let before = states(
            query_records(
                &client,
                &self.describe,
                &context,
                RecordKind::States,
                &schema::select_state_before(Dialect::Postgres),
                &key(&[from]),
                0,
            )
            .await?,
        );
        let within = states(
            query_records(
                &client,
                &self.describe,
                &context,
                RecordKind::States,
                &schema::select_states_between(Dialect::Postgres),
                &key(&[from, to]),
                0,
            )
            .await?,
        );
        Ok(AgentTimeline {
            before: before.into_iter().next(),
            within,
        })
    }

    async fn change_head(
        &self,
        _kind: RecordKind,
        _tenant: &str,
    ) -> Result<ChangeCursor, StoreError> {
        // Every transaction below the horizon has ended; later rows are stamped at or above it.
        let context = format!("reading the end of a change feed from {}", self.describe);
        let client = self.client(&context).await?;
        let row = client
            .query_one(&format!("SELECT ({HORIZON})"), &[])
            .await
            .map_err(pg_err(&context))?;
        let seq: i64 = row.try_get(0).map_err(pg_err(&context))?;
        Ok(ChangeCursor { seq, key: None })
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let context = format!("reading cursor {name:?} from {}", self.describe);
        let client = self.client(&context).await?;
        engine::cursor(&client, &context, name).await
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
        let context = format!("claiming outbox messages on {}", self.describe);
        let client = self.client(&context).await?;
        engine::claim_due(&client, &self.describe, &context, now, lease_ms, limit).await
    }

    async fn mark_sent(&self, id: i64, at: i64) -> Result<(), StoreError> {
        let context = format!("marking outbox message {id} sent on {}", self.describe);
        let client = self.client(&context).await?;
        engine::mark_sent(&client, &context, id, at).await
    }

    async fn mark_retry(
        &self,
        id: i64,
        next_attempt_at: i64,
        error: &str,
        count_attempt: bool,
    ) -> Result<(), StoreError> {
        let context = format!(
            "recording a failed attempt of outbox message {id} on {}",
            self.describe
        );
        let client = self.client(&context).await?;
        engine::mark_retry(&client, &context, id, next_attempt_at, error, count_attempt).await
    }

    async fn mark_dead(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let context = format!("marking outbox message {id} dead on {}", self.describe);
        let client = self.client(&context).await?;
        engine::mark_dead(&client, &context, id, error).await
    }

    async fn retry_dead(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let context = format!("retrying dead outbox message {id} on {}", self.describe);
        let client = self.client(&context).await?;
        engine::retry_dead(&client, &context, id, now).await
    }

    async fn outbox(&self, filter: &OutboxFilter) -> Result<Vec<OutboxMessage>, StoreError> {
        let context = format!("listing the outbox of {}", self.describe);
        let client = self.client(&context).await?;
        engine::outbox(&client, &self.describe, &context, filter).await
    }

    async fn pending_messages(&self, flow: &str) -> Result<u64, StoreError> {
        let context = format!("counting pending messages of {flow:?} in {}", self.describe);
        let client = self.client(&context).await?;
        let row = client
            .query_one(crate::engine_tables::PENDING_OF_FLOW, &[&flow])
            .await
            .map_err(pg_err(&context))?;
        let n: i64 = row.try_get(0).map_err(pg_err(&context))?;
        Ok(n.unsigned_abs())
    }

    async fn outbox_depth(&self) -> Result<Vec<OutboxDepth>, StoreError> {
        let context = format!("counting the outbox of {}", self.describe);
        let client = self.client(&context).await?;
        engine::outbox_depth(&client, &self.describe, &context).await
    }

    async fn try_start_run(
        &self,
        flow: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        let context = format!("starting a run of flow {flow:?} on {}", self.describe);
        let mut client = self.client(&context).await?;
        engine::try_start_run(&mut client, &context, flow, now, lease_ms).await
    }

    async fn renew_run(&self, id: i64, until: i64) -> Result<(), StoreError> {
        let context = format!("renewing the lease of run {id} on {}", self.describe);
        let client = self.client(&context).await?;
        engine::renew_run(&client, &self.describe, &context, id, until).await
    }

    async fn finish_run(&self, id: i64, end: &RunEnd) -> Result<(), StoreError> {
        let context = format!("ending run {id} on {}", self.describe);
        let client = self.client(&context).await?;
        engine::finish_run(&client, &self.describe, &context, id, end).await
    }

    async fn runs(&self, flow: Option<&str>, limit: usize) -> Result<Vec<Run>, StoreError> {
        let context = format!("listing runs on {}", self.describe);
        let client = self.client(&context).await?;
        engine::runs(&client, &self.describe, &context, flow, limit).await
    }

    async fn discard_dead(&self, id: i64) -> Result<bool, StoreError> {
        let context = format!("discarding dead letter {id} on {}", self.describe);
        let client = self.client(&context).await?;
        catalog::discard_dead(&client, &context, id).await
    }

    async fn catalog(&self, table: CatalogTable) -> Result<Vec<CatalogEntry>, StoreError> {
        let context = format!("listing {} on {}", table.table(), self.describe);
        let client = self.client(&context).await?;
        catalog::list(&client, &self.describe, &context, table).await
    }

    async fn put_catalog(
        &self,
        table: CatalogTable,
        entry: &CatalogEntry,
    ) -> Result<(), StoreError> {
        let context = format!(
            "saving {} {:?} on {}",
            table.noun(),
            entry.name,
            self.describe
        );
        let client = self.client(&context).await?;
        catalog::put(&client, &context, table, entry).await
    }

    async fn delete_catalog(&self, table: CatalogTable, name: &str) -> Result<bool, StoreError> {
        let context = format!("deleting {} {name:?} on {}", table.noun(), self.describe);
        let client = self.client(&context).await?;
        catalog::delete(&client, &context, table, name).await
    }

    fn scim(&self) -> &dyn crate::ScimStore {
        self
    }

    async fn directory_snapshot(
        &self,
        flow: &str,
        tenant: &str,
        source: &str,
    ) -> Result<Option<wfm_model::DirectorySnapshot>, StoreError> {
        let context = format!(
            "reading the directory snapshot of flow {flow} on {}",
            self.describe
        );
        let client = self.client(&context).await?;
        directory::snapshot(&client, &self.describe, &context, (flow, tenant, source)).await
    }

    async fn persons(
        &self,
        tenant: &str,
        target: &str,
    ) -> Result<Vec<crate::PersonLink>, StoreError> {
        let context = format!(
            "reading the persons of {tenant} in {target} on {}",
            self.describe
        );
        let client = self.client(&context).await?;
        directory::persons(&client, &self.describe, &context, tenant, target).await
    }

    async fn directory_log(
        &self,
        filter: &crate::DirectoryLogFilter,
    ) -> Result<Vec<crate::DirectoryLogEntry>, StoreError> {
        let context = format!("listing the directory log on {}", self.describe);
        let client = self.client(&context).await?;
        directory::log_list(&client, &self.describe, &context, filter).await
    }
}

/// Runs a query whose rows are records of `kind` ([`Table::column_list`]) followed by `extra`
/// bigint columns; returns each record, agents with their skills, and its extras.
async fn query_records(
    client: &Object,
    store: &str,
    context: &str,
    kind: RecordKind,
    sql: &str,
    params: &[Box<dyn ToSql + Sync + Send>],
    extra: usize,
) -> Result<Vec<(Record, Vec<i64>)>, StoreError> {
    let table = schema::table_of(kind);
    let stmt = client.prepare_cached(sql).await.map_err(pg_err(context))?;
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&stmt, &refs).await.map_err(pg_err(context))?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let corrupt = |key: String, problem: String| StoreError::Corrupt {
            store: store.to_string(),
            table: table.name,
            key,
            problem,
        };
        let record = codec::decode(table, &PgRow(row)).map_err(|e| corrupt(e.key, e.problem))?;
        let extras = (table.width()..table.width() + extra)
            .map(|i| row.try_get(i))
            .collect::<Result<Vec<i64>, _>>()
            .map_err(|e| corrupt(record.describe_key(), e.to_string()))?;
        records.push((record, extras));
    }
    if kind == RecordKind::Agents && !records.is_empty() {
        let agents: Vec<&Agent> = records
            .iter()
            .filter_map(|(r, _)| match r {
                Record::Agent(a) => Some(a),
                _ => None,
            })
            .collect();
        let mut skills = skills_of(client, &agents).await.map_err(pg_err(context))?;
        for (record, _) in &mut records {
            if let Record::Agent(agent) = record {
                let key = (agent.tenant.clone(), agent.agent.clone());
                agent.skills = skills.remove(&key).unwrap_or_default();
            }
        }
    }
    Ok(records)
}

/// The skills of `agents` as stored, in their order, by `(tenant, agent)`.
async fn skills_of(
    client: &Object,
    agents: &[&Agent],
) -> Result<HashMap<(String, String), Vec<String>>, tokio_postgres::Error> {
    let tenants: Vec<&str> = agents.iter().map(|a| a.tenant.as_str()).collect();
    let ids: Vec<&str> = agents.iter().map(|a| a.agent.as_str()).collect();
    let stmt = client.prepare_cached(SKILLS_OF).await?;
    let rows = client.query(&stmt, &[&tenants, &ids]).await?;
    let mut skills: HashMap<(String, String), Vec<String>> = HashMap::new();
    for row in rows {
        let key = (row.try_get(0)?, row.try_get(1)?);
        skills.entry(key).or_default().push(row.try_get(2)?);
    }
    Ok(skills)
}

/// A write transaction on one pooled connection.
struct PostgresTx {
    /// `None` once committed or rolled back.
    client: Option<Object>,
    describe: String,
    /// The error of a failed write: PostgreSQL has aborted the transaction, and a COMMIT would
    /// silently roll back, so commit reports this instead.
    failed: Option<String>,
}

impl PostgresTx {
    fn client(&self, what: &str) -> Result<&Object, StoreError> {
        self.client.as_ref().ok_or_else(|| StoreError::TxLost {
            context: format!("{what} on {}", self.describe),
        })
    }

    /// The connection for a statement, unless an earlier one failed (PostgreSQL has then aborted
    /// the transaction, and the first error is the one worth reporting).
    fn usable(&self, what: &str) -> Result<&Object, StoreError> {
        if let Some(first_error) = &self.failed {
            return Err(StoreError::Aborted {
                store: self.describe.clone(),
                first_error: first_error.clone(),
            });
        }
        self.client(what)
    }

    /// Remembers a failed statement: the transaction can only be rolled back now.
    fn note<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }

    async fn finish(mut self: Box<Self>, sql: &'static str) -> Result<(), StoreError> {
        let what = if sql == "COMMIT" {
            "committing"
        } else {
            "rolling back"
        };
        let context = format!("{what} on {}", self.describe);
        let client = self.client.take().ok_or_else(|| StoreError::TxLost {
            context: context.clone(),
        })?;
        match client.batch_execute(sql).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // The connection's state is unknown: do not hand it to anyone else.
                drop(Object::take(client));
                Err(pg_err(context)(e))
            }
        }
    }
}

#[async_trait]
impl StoreTx for PostgresTx {
    async fn write(&mut self, records: Vec<Record>) -> Result<WriteCounts, StoreError> {
        if let Some(first_error) = &self.failed {
            return Err(StoreError::Aborted {
                store: self.describe.clone(),
                first_error: first_error.clone(),
            });
        }
        let client = self.client("writing")?;
        let now = migrations::now_ms();
        let mut counts = WriteCounts::default();
        let mut result = Ok(());
        for batch in batches(&records) {
            let kind = batch[0].kind();
            let written = if kind == RecordKind::Agents {
                write_agents(client, batch, now).await
            } else {
                upsert(client, schema::table_of(kind), batch, now).await
            };
            match written {
                Ok(written) => {
                    counts.written += written;
                    counts.unchanged += batch.len() as u64 - written;
                }
                Err(source) => {
                    let first = &batch[0];
                    let context = if batch.len() == 1 {
                        format!(
                            "writing {kind} {} to {}",
                            first.describe_key(),
                            self.describe
                        )
                    } else {
                        format!(
                            "writing {} {kind} (from {}) to {}",
                            batch.len(),
                            first.describe_key(),
                            self.describe
                        )
                    };
                    result = Err(StoreError::Postgres { context, source });
                    break;
                }
            }
        }
        match result {
            Ok(()) => Ok(counts),
            Err(e) => {
                self.failed = Some(e.to_string());
                Err(e)
            }
        }
    }

    async fn set_cursor(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        let what = format!("setting cursor {name:?}");
        let context = format!("{what} on {}", self.describe);
        let result = match self.usable(&what) {
            Ok(client) => {
                engine::set_cursor(client, &context, name, value, migrations::now_ms()).await
            }
            Err(e) => return Err(e),
        };
        self.note(result)
    }

    async fn enqueue(&mut self, messages: Vec<NewMessage>, now: i64) -> Result<u64, StoreError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let what = format!("adding {} messages to the outbox", messages.len());
        let context = format!("{what} on {}", self.describe);
        let result = match self.usable(&what) {
            Ok(client) => engine::enqueue(client, &context, &messages, now).await,
            Err(e) => return Err(e),
        };
        self.note(result)
    }

    async fn supersede(
        &mut self,
        flow: &str,
        key: Option<&str>,
        before_id: i64,
    ) -> Result<u64, StoreError> {
        let what = format!("superseding pending messages of flow {flow:?}");
        let context = format!("{what} on {}", self.describe);
        let result = match self.usable(&what) {
            Ok(client) => engine::supersede(client, &context, flow, key, before_id).await,
            Err(e) => return Err(e),
        };
        self.note(result)
    }

    async fn save_directory_snapshot(
        &mut self,
        flow: &str,
        tenant: &str,
        source: &str,
        snapshot: &wfm_model::DirectorySnapshot,
        at: i64,
    ) -> Result<(), StoreError> {
        let what = format!("saving the directory snapshot of flow {flow}");
        let context = format!("{what} on {}", self.describe);
        let result = match self.usable(&what) {
            Ok(client) => {
                directory::save_snapshot(client, &context, (flow, tenant, source), snapshot, at)
                    .await
            }
            Err(e) => return Err(e),
        };
        self.note(result)
    }

    async fn add_persons(&mut self, persons: Vec<crate::PersonLink>) -> Result<u64, StoreError> {
        if persons.is_empty() {
            return Ok(0);
        }
        let what = format!("recording {} persons", persons.len());
        let context = format!("{what} on {}", self.describe);
        let result = match self.usable(&what) {
            Ok(client) => directory::add_persons(client, &context, &persons).await,
            Err(e) => return Err(e),
        };
        self.note(result)
    }

    async fn log_directory_changes(
        &mut self,
        entries: Vec<crate::NewDirectoryLogEntry>,
    ) -> Result<u64, StoreError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let what = format!("logging {} directory changes", entries.len());
        let context = format!("{what} on {}", self.describe);
        let result = match self.usable(&what) {
            Ok(client) => directory::log(client, &context, &entries).await,
            Err(e) => return Err(e),
        };
        self.note(result)
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if let Some(first_error) = self.failed.clone() {
            let store = self.describe.clone();
            self.finish("ROLLBACK").await?;
            return Err(StoreError::Aborted { store, first_error });
        }
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.finish("ROLLBACK").await
    }
}

impl Drop for PostgresTx {
    /// Dropped without commit or rollback: roll back in the background, then return the
    /// connection to the pool. Without a runtime, close it: the server rolls back.
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(client));
                    }
                });
            }
            Err(_) => drop(Object::take(client)),
        }
    }
}

/// Splits `records` into batches of one kind in which no natural key repeats (PostgreSQL
/// refuses to upsert one row twice in a statement), in order, of at most [`MAX_BATCH`].
fn batches(records: &[Record]) -> Vec<&[Record]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen = HashSet::new();
    for (i, record) in records.iter().enumerate() {
        let key = key_hash(record);
        let split = i > start
            && (record.kind() != records[start].kind()
                || i - start >= MAX_BATCH
                || seen.contains(&key));
        if split {
            out.push(&records[start..i]);
            start = i;
            seen.clear();
        }
        seen.insert(key);
    }
    if start < records.len() {
        out.push(&records[start..]);
    }
    out
}

/// A hash of the stored natural key (timestamps in milliseconds, as stored). A collision only
/// splits a batch where it need not.
fn key_hash(record: &Record) -> u64 {
    let mut h = DefaultHasher::new();
    match record {
        Record::Tenant(r) => r.tenant.hash(&mut h),
        Record::Queue(r) => (&r.tenant, &r.queue).hash(&mut h),
        Record::Agent(r) => (&r.tenant, &r.agent).hash(&mut h),
        Record::Segment(r) => (&r.tenant, &r.contact_id, r.seq).hash(&mut h),
        Record::State(r) => (&r.tenant, &r.agent, r.at.as_millisecond()).hash(&mut h),
    }
    h.finish()
}

/// One array per column of a batch, in the order UNNEST takes them.
enum Column<'a> {
    Text(Vec<Option<Cow<'a, str>>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

impl<'a> Column<'a> {
    fn for_table(table: &Table, rows: usize) -> Vec<Column<'a>> {
        table
            .columns()
            .map(|(_, ty)| match ty {
                Ty::Text => Column::Text(Vec::with_capacity(rows)),
                Ty::Int => Column::Int(Vec::with_capacity(rows)),
                Ty::Bool => Column::Bool(Vec::with_capacity(rows)),
            })
            .collect()
    }

    fn push(&mut self, value: Value<'a>) {
        match (self, value) {
            (Column::Text(c), Value::Text(v)) => c.push(v),
            (Column::Int(c), Value::Int(v)) => c.push(v),
            (Column::Bool(c), Value::Bool(v)) => c.push(Some(v)),
            // codec::tests checks that every record's values have its table's column types.
            (column, value) => unreachable!(
                "a {value:?} does not fit a {} column",
                match column {
                    Column::Text(_) => "text",
                    Column::Int(_) => "bigint",
                    Column::Bool(_) => "boolean",
                }
            ),
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Text(c) => c,
            Column::Int(c) => c,
            Column::Bool(c) => c,
        }
    }
}

/// Upserts one batch of records of `table`'s kind; returns the rows inserted or changed.
async fn upsert(
    client: &Object,
    table: &Table,
    batch: &[Record],
    now: i64,
) -> Result<u64, tokio_postgres::Error> {
    let mut columns = Column::for_table(table, batch.len());
    let mut values = Vec::with_capacity(table.width());
    for record in batch {
        codec::row_values(record, &mut values);
        for (column, value) in columns.iter_mut().zip(values.drain(..)) {
            column.push(value);
        }
    }
    execute_upsert(client, table, &columns, now).await
}

async fn execute_upsert(
    client: &Object,
    table: &Table,
    columns: &[Column<'_>],
    now: i64,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client.prepare_cached(&table.postgres_upsert()).await?;
    let mut params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(Column::param).collect();
    if table.stamped {
        params.push(&now);
    }
    client.execute(&stmt, &params).await
}

/// Upserts a batch of agents and keeps teams, skills and agent_skills in step; returns the agents
/// whose row or skills changed.
async fn write_agents(
    client: &Object,
    batch: &[Record],
    now: i64,
) -> Result<u64, tokio_postgres::Error> {
    let agents: Vec<&Agent> = batch
        .iter()
        .filter_map(|r| match r {
            Record::Agent(a) => Some(a),
            _ => None,
        })
        .collect();

    let teams: HashSet<(&str, &str)> = agents
        .iter()
        .filter_map(|a| Some((a.tenant.as_str(), a.team.as_deref()?)))
        .collect();
    if !teams.is_empty() {
        let mut columns = Column::for_table(&TEAMS, teams.len());
        for (tenant, team) in teams {
            for (column, value) in columns.iter_mut().zip([tenant, team, team]) {
                column.push(Value::Text(Some(Cow::Borrowed(value))));
            }
        }
        execute_upsert(client, &TEAMS, &columns, now).await?;
    }

    // The agent rows; RETURNING names those inserted or changed.
    let mut columns = Column::for_table(&AGENTS, agents.len());
    let mut values = Vec::with_capacity(AGENTS.width());
    for record in batch {
        codec::row_values(record, &mut values);
        for (column, value) in columns.iter_mut().zip(values.drain(..)) {
            column.push(value);
        }
    }
    let sql = format!("{} RETURNING tenant, agent", AGENTS.postgres_upsert());
    let stmt = client.prepare_cached(&sql).await?;
    let mut params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(Column::param).collect();
    params.push(&now);
    let mut changed: HashSet<(String, String)> = HashSet::new();
    for row in client.query(&stmt, &params).await? {
        changed.insert((row.try_get(0)?, row.try_get(1)?));
    }

    // Skills: replaced only for the agents whose list differs from the stored one.
    let stored = skills_of(client, &agents).await?;
    let differing: Vec<&Agent> = agents
        .iter()
        .copied()
        .filter(|a| {
            let key = (a.tenant.clone(), a.agent.clone());
            stored.get(&key).map_or(&[][..], Vec::as_slice) != a.skills.as_slice()
        })
        .collect();
    if !differing.is_empty() {
        let tenants: Vec<&str> = differing.iter().map(|a| a.tenant.as_str()).collect();
        let ids: Vec<&str> = differing.iter().map(|a| a.agent.as_str()).collect();
        let stmt = client.prepare_cached(CLEAR_SKILLS_OF).await?;
        client.execute(&stmt, &[&tenants, &ids]).await?;

        let skills: HashSet<(&str, &str)> = differing
            .iter()
            .flat_map(|a| a.skills.iter().map(|s| (a.tenant.as_str(), s.as_str())))
            .collect();
        if !skills.is_empty() {
            let mut columns = Column::for_table(&SKILLS, skills.len());
            for (tenant, skill) in skills {
                for (column, value) in columns.iter_mut().zip([tenant, skill]) {
                    column.push(Value::Text(Some(Cow::Borrowed(value))));
                }
            }
            execute_upsert(client, &SKILLS, &columns, now).await?;

            let mut columns = Column::for_table(&AGENT_SKILLS, differing.len());
            for agent in &differing {
                for (ordinal, skill) in agent.skills.iter().enumerate() {
                    let row = [
                        Value::Text(Some(Cow::Borrowed(agent.tenant.as_str()))),
                        Value::Text(Some(Cow::Borrowed(agent.agent.as_str()))),
                        Value::Text(Some(Cow::Borrowed(skill.as_str()))),
                        Value::Int(Some(ordinal as i64)),
                    ];
                    for (column, value) in columns.iter_mut().zip(row) {
                        column.push(value);
                    }
                }
            }
            execute_upsert(client, &AGENT_SKILLS, &columns, now).await?;
        }
        // New skills are a change of the agent, to the feed as well: stamp its row.
        let restamp = RESTAMP_AGENTS.replace("{seq}", PG_CHANGE_SEQ);
        let stmt = client.prepare_cached(&restamp).await?;
        client.execute(&stmt, &[&tenants, &ids, &now]).await?;
    }

    let relinked: HashSet<(&str, &str)> = differing
        .iter()
        .map(|a| (a.tenant.as_str(), a.agent.as_str()))
        .collect();
    let written = agents
        .iter()
        .filter(|a| {
            relinked.contains(&(a.tenant.as_str(), a.agent.as_str()))
                || changed.contains(&(a.tenant.clone(), a.agent.clone()))
        })
        .count();
    Ok(written as u64)
}
