//! A stand-in for Calabrio's historical statistics intake: it receives the three Teleopti files
//! (DESIGN §6), checks them the way reference/calabrio.md §6 says a faithful emulator must (see
//! [`super::statistics_file`]), keeps what it accepts, and shows what it holds.
//!
//! **Intake.** Over HTTP, the way the `http` target sends:
//!
//! | request | does |
//! |---|---|
//! | `POST /historical/{tenant}` | one or more files: `multipart/form-data` parts named `file` (the part's filename is the file name), or a raw body with the file name in `X-Wfm-Bridge-Message` |
//! | `POST /historical` | the same, when exactly one tenant is configured |
//! | `HEAD`/`GET` on those paths | 200: the "test connection" of an `http` account |
//! | `GET /_sandbox/calabrio/historical` | JSON: every file received (status, errors) and per tenant the rows held and per queue/day totals |
//! | `DELETE /_sandbox/calabrio/historical` | forgets files and rows |
//!
//! A request whose files are all accepted gets 200; if any is refused, 422 with a JSON body
//! `{"errors": ["line N: …", …], "files": [{"name", "status", "rows", "errors", "error_count"}]}`
//! (the first 100 errors of each file; with several files, each error is prefixed by its file's
//! name). With [`HistoricalConfig::token`] set, every request needs `Authorization: Bearer
//! <token>` (401 otherwise), so an account's credentials are tested too.
//!
//! And optionally by watching a directory per tenant ([`TenantConfig::drop_dir`]), the way a
//! `files` or `sftp` account delivers: a visible file (not starting with `.`) that stays the same
//! size and age for one poll is read, then moved to `processed/` when accepted, or to `rejected/`
//! beside a `<name>.errors.txt` when refused.
//!
//! **What is kept.** Per tenant, the accepted rows keyed by their primary key: (queue, date,
//! time), (agent, date, time), (agent, queue, date, time). An accepted file replaces every row of
//! its kind in its date range (from its name) with its own rows, so sending a day again is
//! harmless: the latest file wins, and rows it no longer has are gone. A refused file changes
//! nothing.

use crate::intake;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::statistics_file::{
    AgentQueueStatRow, AgentStatRow, Duplicates, FileKind, QueueMeasures, QueueStatRow, Refusal,
    Rows, Rules, check_file,
};
use crate::multipart::read_request;
use crate::running::RunningRouter;

/// Largest request accepted: a month of statistics for a large center is tens of MiB.
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// The header naming a raw body's file, as the `http` target sends it.
pub const MESSAGE_HEADER: &str = "x-wfm-bridge-message";

/// The multipart field a file is sent in.
pub const FILE_FIELD: &str = "file";

/// One tenant of the emulated Calabrio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id: the `{tenant}` of `/historical/{tenant}`.
    pub id: String,
    /// IANA time zone the files' local dates and times are in (default `UTC`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Interval length in minutes: 15, 30 or 60 (default 15).
    #[serde(default = "default_interval")]
    pub interval_minutes: u32,
    /// Known queue ids (calabrio.md §6 rule 3); absent: any queue is accepted.
    #[serde(default)]
    pub queues: Option<Vec<String>>,
    /// Known agent ids (logins); absent: any agent is accepted.
    #[serde(default)]
    pub agents: Option<Vec<String>>,
    /// A directory to watch for dropped files of this tenant.
    #[serde(default)]
    pub drop_dir: Option<PathBuf>,
}

fn default_time_zone() -> String {
    "UTC".to_string()
}

fn default_interval() -> u32 {
    15
}

impl TenantConfig {
    /// A tenant in `time_zone` with intervals of `interval_minutes`, accepting any queue and
    /// agent, with no drop directory.
    pub fn new(id: &str, time_zone: &str, interval_minutes: u32) -> TenantConfig {
        TenantConfig {
            id: id.to_string(),
            time_zone: time_zone.to_string(),
            interval_minutes,
            queues: None,
            agents: None,
            drop_dir: None,
        }
    }
}

/// How to start the emulator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoricalConfig {
    /// The tenants (at least one).
    pub tenants: Vec<TenantConfig>,
    /// Bearer token every request must carry; `None` accepts any or none. Never serialized.
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
    /// A repeated primary key within a file: refused (default) or last write wins.
    #[serde(default)]
    pub duplicates: Duplicates,
    /// How often drop directories are looked at, in milliseconds (default 500).
    #[serde(default = "default_poll_ms")]
    pub poll_interval_ms: u64,
}

fn default_poll_ms() -> u64 {
    500
}

impl Default for HistoricalConfig {
    /// One tenant `default` in UTC with 15-minute intervals, accepting any queue and agent.
    fn default() -> HistoricalConfig {
        HistoricalConfig {
            tenants: vec![TenantConfig::new("default", "UTC", 15)],
            token: None,
            duplicates: Duplicates::Reject,
            poll_interval_ms: default_poll_ms(),
        }
    }
}

impl fmt::Debug for HistoricalConfig {
    // The token is a credential, even in an emulator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoricalConfig")
            .field("tenants", &self.tenants)
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .field("duplicates", &self.duplicates)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .finish()
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No tenant at all.
    #[error("no tenants: configure at least one")]
    NoTenants,
    /// Two tenants with one id.
    #[error("tenant {0:?} is configured twice")]
    DuplicateTenant(String),
    /// An unknown IANA zone.
    #[error(
        "tenant {tenant:?}: time zone {zone:?} is not an IANA time zone (e.g. Europe/Stockholm)"
    )]
    TimeZone {
        /// Tenant id.
        tenant: String,
        /// The zone given.
        zone: String,
    },
    /// An interval length Calabrio does not have.
    #[error("tenant {tenant:?}: interval_minutes {minutes} is not 15, 30 or 60")]
    Interval {
        /// Tenant id.
        tenant: String,
        /// The length given.
        minutes: u32,
    },
}

/// How a file arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Over HTTP.
    Http,
    /// Dropped in a watched directory.
    Directory,
}

/// Whether a file was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Accepted and kept.
    Accepted,
    /// Refused: nothing of it was kept.
    Refused,
}

/// One file the emulator received, and what it made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedFile {
    /// 1 for the first file, counting on across [`HistoricalHandle::clear`].
    pub seq: u64,
    /// When it arrived.
    pub at: jiff::Timestamp,
    /// The tenant it was for.
    pub tenant: String,
    /// Its name.
    pub name: String,
    /// How it came.
    pub via: Via,
    /// Accepted or refused.
    pub status: FileStatus,
    /// Which file, when its name says.
    pub kind: Option<FileKind>,
    /// Rows kept (0 when refused).
    pub rows: usize,
    /// Why it was refused: the first 100 errors, `line N: …`.
    pub errors: Vec<String>,
    /// How many errors there were in all.
    pub error_count: usize,
}

/// A queue's totals over one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueDayTotals {
    /// Queue id.
    pub queue: String,
    /// Queue name, from the latest row.
    pub queue_name: String,
    /// Local date.
    pub date: Date,
    /// How many interval rows.
    pub rows: usize,
    /// Counts and durations summed, longest waits the maximum (see
    /// [`QueueMeasures::accumulate`]).
    #[serde(flatten)]
    pub totals: QueueMeasures,
}

/// What `GET /_sandbox/calabrio/historical` shows of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSnapshot {
    /// Tenant id.
    pub id: String,
    /// Its time zone.
    pub time_zone: String,
    /// Its interval length.
    pub interval_minutes: u32,
    /// Queue rows held.
    pub queue_rows: usize,
    /// Agent rows held.
    pub agent_rows: usize,
    /// Agent-queue rows held.
    pub agent_queue_rows: usize,
    /// Per queue and day.
    pub queue_totals: Vec<QueueDayTotals>,
}

/// What `GET /_sandbox/calabrio/historical` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Every file received, oldest first.
    pub files: Vec<ReceivedFile>,
    /// Every tenant.
    pub tenants: Vec<TenantSnapshot>,
}

/// Why a file was not taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// No such tenant.
    #[error("unknown tenant {tenant:?}; configured: {known}")]
    UnknownTenant {
        /// The tenant asked for.
        tenant: String,
        /// The configured ids, comma-separated.
        known: String,
    },
    /// The file broke the rules (recorded as refused).
    #[error("{0}")]
    Refused(Refusal),
}

type QueueKey = (String, Date, Time);
type AgentKey = (String, Date, Time);
type AgentQueueKey = (String, String, Date, Time);

/// One tenant's rules and rows.
struct TenantState {
    rules: Arc<Rules>,
    drop_dir: Option<PathBuf>,
    queue_rows: BTreeMap<QueueKey, QueueStatRow>,
    agent_rows: BTreeMap<AgentKey, AgentStatRow>,
    agent_queue_rows: BTreeMap<AgentQueueKey, AgentQueueStatRow>,
}

impl TenantState {
    /// Replaces the rows of `rows`' kind in `from..=to` by `rows`.
    fn replace(&mut self, from: Date, to: Date, rows: Rows) {
        let in_range = |d: &Date| *d >= from && *d <= to;
        match rows {
            Rows::Queue(rows) => {
                self.queue_rows.retain(|k, _| !in_range(&k.1));
                for r in rows {
                    self.queue_rows.insert((r.queue.clone(), r.date, r.time), r);
                }
            }
            Rows::Agent(rows) => {
                self.agent_rows.retain(|k, _| !in_range(&k.1));
                for r in rows {
                    self.agent_rows
                        .insert((r.agent_id.clone(), r.date, r.time), r);
                }
            }
            Rows::AgentQueue(rows) => {
                self.agent_queue_rows.retain(|k, _| !in_range(&k.2));
                for r in rows {
                    self.agent_queue_rows
                        .insert((r.agent_id.clone(), r.queue.clone(), r.date, r.time), r);
                }
            }
        }
    }

    fn queue_totals(&self) -> Vec<QueueDayTotals> {
        let mut totals: BTreeMap<(String, Date), QueueDayTotals> = BTreeMap::new();
        for row in self.queue_rows.values() {
            let entry = totals
                .entry((row.queue.clone(), row.date))
                .or_insert_with(|| QueueDayTotals {
                    queue: row.queue.clone(),
                    queue_name: row.queue_name.clone(),
                    date: row.date,
                    rows: 0,
                    totals: QueueMeasures::default(),
                });
            entry.rows += 1;
            entry.queue_name.clone_from(&row.queue_name);
            entry.totals.accumulate(&row.measures);
        }
        totals.into_values().collect()
    }
}

struct Inner {
    tenants: BTreeMap<String, TenantState>,
    received: Vec<ReceivedFile>,
    last_seq: u64,
}

struct Shared {
    inner: Mutex<Inner>,
    token: Option<String>,
    poll_interval: Duration,
    /// Bumped after every file recorded, for [`HistoricalHandle::wait_for_received`].
    recorded: watch::Sender<u64>,
}

/// Reads what the emulator holds and feeds it files in-process. Cheap to clone.
#[derive(Clone)]
pub struct HistoricalHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for HistoricalHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistoricalHandle").finish_non_exhaustive()
    }
}

impl HistoricalHandle {
    /// A handle over a checked configuration.
    pub fn new(config: &HistoricalConfig) -> Result<HistoricalHandle, ConfigError> {
        if config.tenants.is_empty() {
            return Err(ConfigError::NoTenants);
        }
        let mut tenants = BTreeMap::new();
        for t in &config.tenants {
            let time_zone = TimeZone::get(&t.time_zone).map_err(|_| ConfigError::TimeZone {
                tenant: t.id.clone(),
                zone: t.time_zone.clone(),
            })?;
            if ![15, 30, 60].contains(&t.interval_minutes) {
                return Err(ConfigError::Interval {
                    tenant: t.id.clone(),
                    minutes: t.interval_minutes,
                });
            }
            let set = |ids: &Option<Vec<String>>| {
                ids.as_ref()
                    .map(|ids| ids.iter().cloned().collect::<BTreeSet<_>>())
            };
            let rules = Rules {
                interval_minutes: t.interval_minutes,
                time_zone,
                time_zone_name: t.time_zone.clone(),
                queues: set(&t.queues),
                agents: set(&t.agents),
                duplicates: config.duplicates,
            };
            let state = TenantState {
                rules: Arc::new(rules),
                drop_dir: t.drop_dir.clone(),
                queue_rows: BTreeMap::new(),
                agent_rows: BTreeMap::new(),
                agent_queue_rows: BTreeMap::new(),
            };
            if tenants.insert(t.id.clone(), state).is_some() {
                return Err(ConfigError::DuplicateTenant(t.id.clone()));
            }
        }
        let (recorded, _) = watch::channel(0);
        Ok(HistoricalHandle {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    tenants,
                    received: Vec::new(),
                    last_seq: 0,
                }),
                token: config.token.clone(),
                poll_interval: Duration::from_millis(config.poll_interval_ms.max(10)),
                recorded,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The tenant ids.
    pub fn tenants(&self) -> Vec<String> {
        self.lock().tenants.keys().cloned().collect()
    }

    /// Every file received, oldest first.
    pub fn received(&self) -> Vec<ReceivedFile> {
        self.lock().received.clone()
    }

    /// The queue rows a tenant holds, by queue, date and time.
    pub fn queue_rows(&self, tenant: &str) -> Vec<QueueStatRow> {
        self.lock()
            .tenants
            .get(tenant)
            .map(|t| t.queue_rows.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The agent rows a tenant holds, by agent, date and time.
    pub fn agent_rows(&self, tenant: &str) -> Vec<AgentStatRow> {
        self.lock()
            .tenants
            .get(tenant)
            .map(|t| t.agent_rows.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The agent-queue rows a tenant holds, by agent, queue, date and time.
    pub fn agent_queue_rows(&self, tenant: &str) -> Vec<AgentQueueStatRow> {
        self.lock()
            .tenants
            .get(tenant)
            .map(|t| t.agent_queue_rows.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A tenant's per queue and day totals.
    pub fn queue_totals(&self, tenant: &str) -> Vec<QueueDayTotals> {
        self.lock()
            .tenants
            .get(tenant)
            .map(TenantState::queue_totals)
            .unwrap_or_default()
    }

    /// Everything, as `GET /_sandbox/calabrio/historical` shows it.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        Snapshot {
            files: inner.received.clone(),
            tenants: inner
                .tenants
                .iter()
                .map(|(id, t)| TenantSnapshot {
                    id: id.clone(),
                    time_zone: t.rules.time_zone_name.clone(),
                    interval_minutes: t.rules.interval_minutes,
                    queue_rows: t.queue_rows.len(),
                    agent_rows: t.agent_rows.len(),
                    agent_queue_rows: t.agent_queue_rows.len(),
                    queue_totals: t.queue_totals(),
                })
                .collect(),
        }
    }

    /// Forgets every file and row (the configuration stays).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.received.clear();
        for tenant in inner.tenants.values_mut() {
            tenant.queue_rows.clear();
            tenant.agent_rows.clear();
            tenant.agent_queue_rows.clear();
        }
    }

    /// Waits until at least `count` files were received (accepted or refused), at most
    /// `timeout`; returns them all, or `None` on timeout.
    pub async fn wait_for_received(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<ReceivedFile>> {
        crate::wait::until(&self.shared.recorded, timeout, || {
            self.lock().received.len() >= count
        })
        .await
        .then(|| self.received())
    }

    /// Takes in one file for `tenant`, as if it had been uploaded: checks it, records it, and
    /// keeps its rows when it is accepted. Returns the number of rows kept. Blocking (a large
    /// file takes a while to check): call it from a blocking thread in async code.
    pub fn submit(
        &self,
        tenant: &str,
        name: &str,
        bytes: &[u8],
        via: Via,
    ) -> Result<usize, SubmitError> {
        let rules = {
            let inner = self.lock();
            match inner.tenants.get(tenant) {
                Some(t) => Arc::clone(&t.rules),
                None => {
                    return Err(SubmitError::UnknownTenant {
                        tenant: tenant.to_string(),
                        known: inner.tenants.keys().cloned().collect::<Vec<_>>().join(", "),
                    });
                }
            }
        };
        // Checked outside the lock: the handle stays responsive while a big file is read.
        let checked = check_file(name, bytes, &rules);
        let kind = super::statistics_file::FileName::parse(name)
            .ok()
            .map(|n| n.kind);
        let result = {
            let mut inner = self.lock();
            let seq = inner.last_seq + 1;
            inner.last_seq = seq;
            let mut record = ReceivedFile {
                seq,
                at: jiff::Timestamp::now(),
                tenant: tenant.to_string(),
                name: name.to_string(),
                via,
                status: FileStatus::Accepted,
                kind,
                rows: 0,
                errors: Vec::new(),
                error_count: 0,
            };
            let result = match checked {
                Ok(file) => {
                    let rows = file.rows.len();
                    record.rows = rows;
                    if let Some(t) = inner.tenants.get_mut(tenant) {
                        t.replace(file.name.from, file.name.to, file.rows);
                    }
                    Ok(rows)
                }
                Err(refusal) => {
                    record.status = FileStatus::Refused;
                    record.errors.clone_from(&refusal.errors);
                    record.error_count = refusal.count;
                    Err(SubmitError::Refused(refusal))
                }
            };
            tracing::debug!(
                tenant,
                file = name,
                status = ?record.status,
                rows = record.rows,
                errors = record.error_count,
                "calabrio historical"
            );
            inner.received.push(record);
            result
        };
        // After the lock is released: waiters read the records under it.
        self.shared.recorded.send_modify(|n| *n += 1);
        result
    }

    /// Starts watching the tenants' drop directories on a task of the current runtime; `None`
    /// when no tenant has one.
    pub fn spawn_watcher(&self) -> Option<JoinHandle<()>> {
        let dirs: Vec<(String, PathBuf)> = self
            .lock()
            .tenants
            .iter()
            .filter_map(|(id, t)| t.drop_dir.clone().map(|d| (id.clone(), d)))
            .collect();
        if dirs.is_empty() {
            return None;
        }
        let handle = self.clone();
        Some(tokio::spawn(async move {
            let mut last_seen: HashMap<PathBuf, (u64, Option<SystemTime>)> = HashMap::new();
            loop {
                let dirs = dirs.clone();
                let h = handle.clone();
                let seen = std::mem::take(&mut last_seen);
                // Directory reads and file checks block: off the async threads.
                last_seen = tokio::task::spawn_blocking(move || {
                    let mut seen = seen;
                    for (tenant, dir) in &dirs {
                        h.scan(tenant, dir, &mut seen);
                    }
                    seen
                })
                .await
                .unwrap_or_default();
                tokio::time::sleep(handle.shared.poll_interval).await;
            }
        }))
    }

    /// One look at a drop directory: takes in the files that did not change since the last look.
    fn scan(
        &self,
        tenant: &str,
        dir: &Path,
        seen: &mut HashMap<PathBuf, (u64, Option<SystemTime>)>,
    ) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut present = BTreeSet::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Hidden files are uploads in progress (the files and sftp targets' temporary names).
            let Ok(meta) = entry.metadata() else { continue };
            if name.starts_with('.') || !meta.is_file() {
                continue;
            }
            let path = entry.path();
            present.insert(path.clone());
            let stamp = (meta.len(), meta.modified().ok());
            if seen.get(&path) != Some(&stamp) {
                // New or still changing: look again next time.
                seen.insert(path, stamp);
                continue;
            }
            seen.remove(&path);
            let Ok(bytes) = fs::read(&path) else { continue };
            let outcome = self.submit(tenant, &name, &bytes, Via::Directory);
            let (subdir, errors) = match &outcome {
                Ok(_) => ("processed", None),
                Err(SubmitError::Refused(refusal)) => ("rejected", Some(refusal_text(refusal))),
                Err(e) => ("rejected", Some(format!("{e}\n"))),
            };
            let target_dir = dir.join(subdir);
            let created = fs::create_dir_all(&target_dir);
            // The reasons go first, so whoever sees the file gone finds them beside it.
            if let Some(errors) = errors
                && created.is_ok()
            {
                let _ = fs::write(target_dir.join(format!("{name}.errors.txt")), errors);
            }
            let moved = created.and_then(|()| fs::rename(&path, target_dir.join(&name)));
            if let Err(e) = moved {
                tracing::warn!(file = %path.display(), error = %e, "calabrio sandbox cannot move a dropped file");
                // Never take the same file twice: forget it only once it is gone.
                let _ = fs::remove_file(&path);
            }
        }
        seen.retain(|p, _| !p.starts_with(dir) || present.contains(p));
    }

    /// Whether a request carries the configured token (or none is configured).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        intake::authorized(self.shared.token.as_deref(), headers)
    }

    /// The tenant of a request: named in the path, or the only one; else why not.
    fn tenant_of(&self, named: Option<String>) -> Result<String, String> {
        if let Some(tenant) = named {
            return Ok(tenant);
        }
        let tenants = self.tenants();
        match tenants.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(format!(
                "several tenants are configured ({}): POST to /historical/<tenant>\n",
                tenants.join(", ")
            )),
        }
    }
}

/// The errors of a refusal as text, one per line.
fn refusal_text(refusal: &Refusal) -> String {
    let mut text = refusal.errors.join("\n");
    if refusal.count > refusal.errors.len() {
        text.push_str(&format!(
            "\n… and {} more",
            refusal.count - refusal.errors.len()
        ));
    }
    text.push('\n');
    text
}

/// The emulator's router and its handle, to serve on a listener of one's own or nest in another
/// router. Drop directories are watched only once [`HistoricalHandle::spawn_watcher`] is called
/// ([`serve`] and [`CalabrioHistorical::start`] do).
pub fn router(config: &HistoricalConfig) -> Result<(Router, HistoricalHandle), ConfigError> {
    let handle = HistoricalHandle::new(config)?;
    let router = Router::new()
        .route(
            "/_sandbox/calabrio/historical",
            get(intake::get_snapshot::<HistoricalHandle>)
                .delete(intake::delete_all::<HistoricalHandle>),
        )
        .route(
            "/historical",
            get(intake::probe::<HistoricalHandle>).post(upload_single),
        )
        .route(
            "/historical/{tenant}",
            get(intake::probe::<HistoricalHandle>).post(upload_tenant),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(handle.clone());
    Ok((router, handle))
}

/// Serves the emulator on `listener`, watching drop directories, until the process ends or
/// accepting fails. A bad configuration is an `InvalidInput` error saying what is wrong.
pub async fn serve(listener: TcpListener, config: HistoricalConfig) -> io::Result<()> {
    let (router, handle) =
        router(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let watcher = handle.spawn_watcher();
    let result = axum::serve(listener, router).await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    result
}

/// The emulator running on a task of the current runtime; stopped by
/// [`CalabrioHistorical::stop`] or on drop.
pub struct CalabrioHistorical {
    server: RunningRouter,
    handle: HistoricalHandle,
}

impl fmt::Debug for CalabrioHistorical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalabrioHistorical")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl CalabrioHistorical {
    /// Starts the emulator with the default configuration (one tenant `default`, UTC,
    /// 15-minute intervals) on `addr` (`"127.0.0.1:0"` for a free port).
    pub async fn start(addr: impl ToSocketAddrs) -> io::Result<CalabrioHistorical> {
        CalabrioHistorical::start_with(addr, HistoricalConfig::default()).await
    }

    /// Starts the emulator with a configuration on `addr`.
    pub async fn start_with(
        addr: impl ToSocketAddrs,
        config: HistoricalConfig,
    ) -> io::Result<CalabrioHistorical> {
        let (router, handle) =
            router(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let server = RunningRouter::start(addr, router)
            .await?
            .with_companion(handle.spawn_watcher());
        Ok(CalabrioHistorical { server, handle })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<addr>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Where a tenant's files are POSTed: `http://<addr>/historical/<tenant>`.
    pub fn upload_url(&self, tenant: &str) -> String {
        format!("http://{}/historical/{tenant}", self.addr())
    }

    /// The handle to read what it holds.
    pub fn handle(&self) -> &HistoricalHandle {
        &self.handle
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

async fn upload_single(State(handle): State<HistoricalHandle>, request: Request) -> Response {
    upload(handle, None, request).await
}

async fn upload_tenant(
    State(handle): State<HistoricalHandle>,
    UrlPath(tenant): UrlPath<String>,
    request: Request,
) -> Response {
    upload(handle, Some(tenant), request).await
}

/// One file's outcome in an upload's answer.
#[derive(Debug, Serialize)]
struct FileOutcome {
    name: String,
    status: FileStatus,
    rows: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    error_count: usize,
}

/// An upload's answer; `errors` first, so a client quoting the start of the body quotes them.
#[derive(Debug, Serialize)]
struct UploadAnswer {
    errors: Vec<String>,
    files: Vec<FileOutcome>,
}

async fn upload(handle: HistoricalHandle, tenant: Option<String>, request: Request) -> Response {
    if !handle.authorized(request.headers()) {
        return intake::unauthorized();
    }
    let tenant = match handle.tenant_of(tenant) {
        Ok(tenant) => tenant,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    if !handle.tenants().contains(&tenant) {
        return (
            StatusCode::NOT_FOUND,
            format!(
                "unknown tenant {tenant:?}; configured: {}\n",
                handle.tenants().join(", ")
            ),
        )
            .into_response();
    }
    let read = match read_request(request, MAX_BODY_BYTES).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let files: Vec<(String, Bytes)> = match read.form {
        Some(Err(why)) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
        Some(Ok(parts)) => {
            let mut files = Vec::new();
            for part in parts {
                if part.name.as_deref() != Some(FILE_FIELD) {
                    continue;
                }
                let Some(name) = part.filename.filter(|n| !n.trim().is_empty()) else {
                    return (
                        StatusCode::BAD_REQUEST,
                        "a part named file has no filename: the filename is the file's name\n",
                    )
                        .into_response();
                };
                files.push((name, part.data));
            }
            if files.is_empty() {
                return (
                    StatusCode::BAD_REQUEST,
                    "no part named file: send each file as a multipart part named file\n",
                )
                    .into_response();
            }
            files
        }
        None => {
            let name = read
                .headers
                .get(MESSAGE_HEADER)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
                .filter(|n| !n.is_empty());
            let Some(name) = name else {
                return (
                    StatusCode::BAD_REQUEST,
                    "no file name: send the file name in X-Wfm-Bridge-Message, or the file as \
                     a multipart part named file\n",
                )
                    .into_response();
            };
            vec![(name, read.body)]
        }
    };

    let several = files.len() > 1;
    let mut answer = UploadAnswer {
        errors: Vec::new(),
        files: Vec::new(),
    };
    for (name, bytes) in files {
        let h = handle.clone();
        let t = tenant.clone();
        let n = name.clone();
        let outcome =
            tokio::task::spawn_blocking(move || h.submit(&t, &n, &bytes, Via::Http)).await;
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("checking {name} failed: {e}\n"),
                )
                    .into_response();
            }
        };
        match outcome {
            Ok(rows) => answer.files.push(FileOutcome {
                name,
                status: FileStatus::Accepted,
                rows,
                errors: Vec::new(),
                error_count: 0,
            }),
            Err(SubmitError::Refused(refusal)) => {
                answer
                    .errors
                    .extend(refusal.errors.iter().map(|e| match several {
                        true => format!("{name}: {e}"),
                        false => e.clone(),
                    }));
                answer.files.push(FileOutcome {
                    name,
                    status: FileStatus::Refused,
                    rows: 0,
                    errors: refusal.errors,
                    error_count: refusal.count,
                });
            }
            Err(e @ SubmitError::UnknownTenant { .. }) => {
                return (StatusCode::NOT_FOUND, format!("{e}\n")).into_response();
            }
        }
    }
    let status = if answer
        .files
        .iter()
        .all(|f| f.status == FileStatus::Accepted)
    {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, axum::Json(answer)).into_response()
}

impl intake::Intake for HistoricalHandle {
    const DESCRIPTION: &'static str = "Calabrio historical statistics intake";

    fn authorized(&self, headers: &HeaderMap) -> bool {
        HistoricalHandle::authorized(self, headers)
    }

    fn snapshot_response(&self) -> Response {
        axum::Json(self.snapshot()).into_response()
    }

    fn clear(&self) {
        HistoricalHandle::clear(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_are_checked() {
        assert!(HistoricalHandle::new(&HistoricalConfig::default()).is_ok());
        let mut config = HistoricalConfig::default();
        config.tenants.clear();
        assert_eq!(
            HistoricalHandle::new(&config).unwrap_err(),
            ConfigError::NoTenants
        );
        let mut config = HistoricalConfig::default();
        config.tenants[0].time_zone = "Mars/Olympus".into();
        assert!(matches!(
            HistoricalHandle::new(&config).unwrap_err(),
            ConfigError::TimeZone { .. }
        ));
        let mut config = HistoricalConfig::default();
        config.tenants[0].interval_minutes = 20;
        assert_eq!(
            HistoricalHandle::new(&config).unwrap_err().to_string(),
            "tenant \"default\": interval_minutes 20 is not 15, 30 or 60"
        );
        let mut config = HistoricalConfig::default();
        config.tenants.push(config.tenants[0].clone());
        assert!(matches!(
            HistoricalHandle::new(&config).unwrap_err(),
            ConfigError::DuplicateTenant(_)
        ));
    }

    #[test]
    fn configurations_read_from_json_and_hide_the_token() {
        let config: HistoricalConfig = serde_json::from_str(
            r#"{"tenants": [{"id": "nordic", "time_zone": "Europe/Stockholm", "queues": ["q1"]}],
                "token": "s3cret", "duplicates": "last_write_wins"}"#,
        )
        .unwrap();
        assert_eq!(config.tenants[0].interval_minutes, 15);
        assert_eq!(config.duplicates, Duplicates::LastWriteWins);
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(!serde_json::to_string(&config).unwrap().contains("s3cret"));
        assert!(serde_json::from_str::<HistoricalConfig>(r#"{"tenants": [], "tokn": 1}"#).is_err());
    }

    #[test]
    fn submitting_in_process_keeps_rows_and_records_files() {
        let handle = HistoricalHandle::new(&HistoricalConfig::default()).unwrap();
        let header = FileKind::Queue.header().join(";");
        let text = format!(
            "Teleopti.Queue.Data\n\n{header}\n15;2024-03-01;08:00;q1;Support;2;0;0;0;2;10;0;100;20;6;0;0;2;0;0;0\n"
        );
        let name = "Queue_Statistics_20240301_20240301.csv";
        assert_eq!(
            handle.submit("default", name, text.as_bytes(), Via::Http),
            Ok(1)
        );
        assert!(matches!(
            handle.submit("nope", name, text.as_bytes(), Via::Http),
            Err(SubmitError::UnknownTenant { .. })
        ));
        let refused = handle.submit("default", name, b"junk", Via::Http);
        assert!(matches!(refused, Err(SubmitError::Refused(_))));
        // The refused file changed nothing.
        assert_eq!(handle.queue_rows("default").len(), 1);
        let files = handle.received();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].status, FileStatus::Accepted);
        assert_eq!(files[1].status, FileStatus::Refused);
        assert_eq!(
            files[1].errors[0],
            "line 1: the type line is \"junk\"; a Queue_Statistics file starts with Teleopti.Queue.Data"
        );
        let totals = handle.queue_totals("default");
        assert_eq!(totals[0].totals.answ_call_cnt, 2);
        handle.clear();
        assert!(handle.received().is_empty() && handle.queue_rows("default").is_empty());
    }
}
