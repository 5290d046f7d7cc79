//! A stand-in for Calabrio's real-time adherence (RTA) state API (reference/calabrio.md §1),
//! enforcing the rules §6 "RTA" says a faithful emulator must.
//!
//! **Endpoints.** Paths match ignoring case, as IIS does.
//!
//! | request | does |
//! |---|---|
//! | `POST /Rta/State/Batch` | JSON `{AuthenticationKey, SourceId, IsSnapshot, States: [{UserCode, StateCode}]}` |
//! | `POST /Rta/State/Change` | JSON `{AuthenticationKey, SourceId, UserCode, StateCode}`: a batch of one |
//! | `POST /Rta/TeleoptiRtaService.svc`, `/TeleoptiRtaService.svc` | SOAP 1.1: `SaveBatchExternalUserState`, `SaveExternalUserState` |
//! | `GET /_sandbox/calabrio/rta` | JSON: every tenant's agents and their current state, state groups (with auto-added codes), the request log, ignored entries, the log |
//! | `DELETE /_sandbox/calabrio/rta` | forgets states, logs and auto-added codes |
//!
//! **JSON rules.** Property names match ignoring case and unknown ones are ignored (the old Change
//! model's `PlatformTypeId`, `IsLoggedOn`, `Timestamp`… included). Checked while the request waits
//! (§1.3), in this order:
//!
//! 1. The key: a key starting `!#` and ending `tAbgT%` is the legacy default `!#?atAbgT%`; the
//!    default key with two or more tenants is 400 [`DEFAULT_KEY_MESSAGE`]; a key no tenant has
//!    (or none) is 400 [`INVALID_KEY_MESSAGE`]. A body that is not a JSON object binds as an empty
//!    model, so it fails here too.
//! 2. `States` null (or not a list) is 500; with [`RtaConfig::max_batch_states`] (older releases:
//!    50) a larger batch is 400 [`BATCH_TOO_LARGE_MESSAGE`].
//! 3. A `StateCode` null or longer than 300 characters is 500.
//! 4. With the worker paused and [`RtaConfig::max_pending_batches`] (default 100) batches waiting,
//!    500 `State queue is flooded with N batches`.
//!
//! Then 200 with an empty body, and the batch is queued for the worker, which runs at once unless
//! paused ([`RtaHandle::pause_worker`]). The worker (§1.3, §1.4):
//!
//! - an empty or unknown `SourceId` ignores the batch, recorded as an [`IgnoredEntry`]
//!   (`Source id is required`, `Source id "x" not found`);
//! - a `UserCode` is looked up among the source's persons ignoring case, not trimmed; a code shared
//!   by several persons updates them all; a person twice in a batch takes the last entry; a code
//!   nobody has is ignored (`No person found for UserCode u, DataSourceId d, SourceId s`), unless
//!   the tenant has [`RtaTenantConfig::auto_persons`];
//! - a state code maps to the tenant's state group ignoring case; an unknown code goes to the
//!   default group and is added to it (name = its description, else the code); with no default
//!   group the agent has no group;
//! - a snapshot (JSON: id = server time now) then logs out, with state `CCC Logged out` in the
//!   logged-out group, every agent whose last state came from that source, whose snapshot id is
//!   older or none, and who is not already in a logged-out group. Without a logged-out group that
//!   is only logged: "No Logged out StateGroup found".
//!
//! An agent keeps the time it entered its state while the code does not change.
//!
//! **SOAP rules** (§1.7, like WCF and `TeleoptiRtaService`): operation parameters and the
//! `ExternalUserState` members (`BatchId`, `IsLoggedOn`, `IsSnapshot`, `SecondsInState`,
//! `StateCode`, `StateDescription`, `Timestamp`, `UserCode`) are read in their contract order; an
//! element out of order is skipped, as WCF's serializer does, and the member keeps its default
//! (logged as a warning, so tests see it). A missing key, platform or source is logged as a
//! warning. An empty batch returns 0 before anything else. `UserCode` and `StateCode` are trimmed;
//! `IsLoggedOn` false or omitted makes the code `LOGGED-OFF`; a platform other than the empty GUID
//! appends ` (<platform>)` to the code (counted in its 300 characters). The last item decides:
//! `IsSnapshot` true makes the batch a snapshot with id = the first item's `BatchId`, and with an
//! empty `UserCode` it closes the snapshot (and is not a state). Items of one snapshot may come in
//! several requests. Returns 1; a bad key, a bad value, a null state code or a flooded queue is a
//! SOAP fault (HTTP 500). With [`RtaConfig::soap_sync_validation`] the source and user codes are
//! checked while the request waits, as older releases did: −300 for an unknown source, −100 for
//! an unknown user code, and nothing of that batch applied.
//!
//! **Configuration** ([`RtaConfig`], JSON): tenants with their key, sources (the position in the
//! list + 1 is the DataSourceId), persons (`{id, source, user_code}`; an id listed again is
//! another logon of the same person) and state groups (`{name, codes, is_default, logged_out}`;
//! the default groups cover the canonical codes: `READY`, `BUSY`, `ACW`, `NOT_READY`, `LOGGED_OUT`,
//! `LOGGED-OFF`…). [`RtaHandle`] reads agents' states, ignored entries, the request log and the
//! log, and pauses the worker.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;

use crate::running::RunningRouter;

/// The answer to an unknown key (400; SOAP: a fault).
pub const INVALID_KEY_MESSAGE: &str =
    "You supplied an invalid authentication key. Please verify the key and try again.";

/// The answer to the default key when there are several tenants.
pub const DEFAULT_KEY_MESSAGE: &str =
    "Using the default authentication key with more than one tenant is not allowed";

/// The answer of older releases to more than 50 states.
pub const BATCH_TOO_LARGE_MESSAGE: &str =
    "Incoming batch too large. Please lower the number of user states in a batch to below 50.";

/// The legacy default key, repaired (`!#¤atAbgT%` written in another code page).
pub const DEFAULT_KEY: &str = "!#?atAbgT%";

/// The state code of an agent logged out by a snapshot.
pub const SNAPSHOT_LOGGED_OUT: &str = "CCC Logged out";

/// The code SOAP records for `IsLoggedOn` false.
pub const SOAP_LOGGED_OFF: &str = "LOGGED-OFF";

/// The empty GUID: no platform.
pub const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// The longest state code.
pub const MAX_STATE_CODE_CHARS: usize = 300;

/// Largest request body read.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

const SOAP_ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TEMPURI_NS: &str = "http://tempuri.org/";
const CONTRACT_NS: &str = "http://schemas.datacontract.org/2004/07/Teleopti.Ccc.Rta.WebService";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Normalises a presented key: `!#…tAbgT%` is the legacy default key.
pub fn normalize_key(key: &str) -> String {
    if key.starts_with("!#") && key.ends_with("tAbgT%") {
        DEFAULT_KEY.to_string()
    } else {
        key.to_string()
    }
}

// ---- configuration -----------------------------------------------------------------------------

/// How to start the emulator.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtaConfig {
    /// The tenants (at least one).
    pub tenants: Vec<RtaTenantConfig>,
    /// Strict mode of older releases: a batch of more states is refused (400 / fault); `None`
    /// (default) has no limit, as current releases.
    #[serde(default)]
    pub max_batch_states: Option<usize>,
    /// Batches waiting for the (paused) worker at which requests get 500 "State queue is
    /// flooded"; default 100, as Calabrio's `RtaStateQueueMaxSize`. `None`: never flooded.
    #[serde(default = "default_max_pending")]
    pub max_pending_batches: Option<usize>,
    /// Check SOAP source ids and user codes while the request waits, answering −300 and −100,
    /// as older releases did (default: checked later, as JSON always is).
    #[serde(default)]
    pub soap_sync_validation: bool,
}

fn default_max_pending() -> Option<usize> {
    Some(100)
}

impl Default for RtaConfig {
    /// A demonstration setup: one tenant `default` with key `sandbox-rta-key`, source `1`, the
    /// default state groups, and persons created for any user code ([`RtaTenantConfig::auto_persons`]).
    fn default() -> RtaConfig {
        let mut tenant = RtaTenantConfig::new("default", "sandbox-rta-key", &["1"]);
        tenant.auto_persons = true;
        RtaConfig {
            tenants: vec![tenant],
            max_batch_states: None,
            max_pending_batches: default_max_pending(),
            soap_sync_validation: false,
        }
    }
}

impl fmt::Debug for RtaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtaConfig")
            .field("tenants", &self.tenants)
            .field("max_batch_states", &self.max_batch_states)
            .field("max_pending_batches", &self.max_pending_batches)
            .field("soap_sync_validation", &self.soap_sync_validation)
            .finish()
    }
}

/// One tenant (one business unit) of the emulated Calabrio.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtaTenantConfig {
    /// Tenant name.
    pub name: String,
    /// Its RTA authentication key. Never serialized.
    #[serde(skip_serializing, default)]
    pub auth_key: String,
    /// Its data sources' `SourceId`s; the DataSourceId of each is its position + 1.
    pub sources: Vec<String>,
    /// Its persons' logons.
    #[serde(default)]
    pub persons: Vec<PersonConfig>,
    /// Its state groups.
    #[serde(default = "default_state_groups")]
    pub state_groups: Vec<StateGroupConfig>,
    /// Create a person (id = the user code) for a user code nobody has, instead of ignoring it:
    /// for demonstrations without a person list. Not something Calabrio does.
    #[serde(default)]
    pub auto_persons: bool,
}

impl fmt::Debug for RtaTenantConfig {
    // The key is a credential, even in an emulator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtaTenantConfig")
            .field("name", &self.name)
            .field("auth_key", &"<secret>")
            .field("sources", &self.sources)
            .field("persons", &self.persons)
            .field("state_groups", &self.state_groups)
            .field("auto_persons", &self.auto_persons)
            .finish()
    }
}

impl RtaTenantConfig {
    /// A tenant with a key and sources, no persons, the default state groups.
    pub fn new(name: &str, auth_key: &str, sources: &[&str]) -> RtaTenantConfig {
        RtaTenantConfig {
            name: name.to_string(),
            auth_key: auth_key.to_string(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            persons: Vec::new(),
            state_groups: default_state_groups(),
            auto_persons: false,
        }
    }

    /// Adds a person's logon: `user_code` on `source`.
    pub fn person(mut self, id: &str, source: &str, user_code: &str) -> RtaTenantConfig {
        self.persons.push(PersonConfig {
            id: id.to_string(),
            source: source.to_string(),
            user_code: user_code.to_string(),
        });
        self
    }
}

/// One logon of a person: the user code it has on a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// Person id.
    pub id: String,
    /// A `SourceId` of the tenant.
    pub source: String,
    /// The person's code on that source (Calabrio's `AcdLogOnOriginalId`).
    pub user_code: String,
}

/// A state group: codes that mean the same to adherence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateGroupConfig {
    /// Name.
    pub name: String,
    /// State codes in it (matched ignoring case).
    #[serde(default)]
    pub codes: Vec<String>,
    /// The group unknown codes go to (at most one).
    #[serde(default)]
    pub is_default: bool,
    /// A logged-out group (`IsLogOutState`).
    #[serde(default)]
    pub logged_out: bool,
}

impl StateGroupConfig {
    fn new(name: &str, codes: &[&str]) -> StateGroupConfig {
        StateGroupConfig {
            name: name.to_string(),
            codes: codes.iter().map(|c| c.to_string()).collect(),
            is_default: false,
            logged_out: false,
        }
    }
}

/// The state groups a tenant has unless configured: the canonical states' codes, a logged-out
/// group and an empty default group.
pub fn default_state_groups() -> Vec<StateGroupConfig> {
    vec![
        StateGroupConfig::new("Ready", &["READY", "IDLE", "AVAILABLE"]),
        StateGroupConfig::new("Busy", &["BUSY", "INCALL", "TALKING"]),
        StateGroupConfig::new("After call work", &["ACW", "WRAPUP"]),
        StateGroupConfig::new(
            "Not ready",
            &[
                "NOT_READY",
                "NOT-READY",
                "NOTREADY",
                "BREAK",
                "LUNCH",
                "MEETING",
            ],
        ),
        StateGroupConfig {
            logged_out: true,
            ..StateGroupConfig::new("Logged out", &["LOGGED_OUT", "LOGGED-OFF", "LOGGEDOUT"])
        },
        StateGroupConfig {
            is_default: true,
            ..StateGroupConfig::new("Other", &[])
        },
    ]
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtaConfigError {
    /// No tenant at all.
    #[error("no tenants: configure at least one")]
    NoTenants,
    /// Two tenants with one name.
    #[error("tenant {0:?} is configured twice")]
    DuplicateTenant(String),
    /// A tenant without a key.
    #[error("tenant {0:?} has no auth_key")]
    NoKey(String),
    /// Two tenants with one key: a key finds its tenant.
    #[error("tenants {0:?} and {1:?} have the same auth_key; each tenant needs its own")]
    DuplicateKey(String, String),
    /// A source listed twice.
    #[error("tenant {tenant:?}: source {source_id:?} is listed twice")]
    DuplicateSource {
        /// Tenant name.
        tenant: String,
        /// The source.
        source_id: String,
    },
    /// A person on a source the tenant does not have.
    #[error(
        "tenant {tenant:?}: person {person:?} is on source {source_id:?}, which is not in its sources"
    )]
    UnknownSource {
        /// Tenant name.
        tenant: String,
        /// Person id.
        person: String,
        /// The source given.
        source_id: String,
    },
    /// More than one default state group.
    #[error("tenant {0:?} has more than one default state group")]
    SeveralDefaultGroups(String),
}

// ---- what is recorded --------------------------------------------------------------------------

/// An agent's current state in the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRtaState {
    /// Tenant name.
    pub tenant: String,
    /// Person id.
    pub person: String,
    /// The state code (as received, after SOAP's fixes; `CCC Logged out` after a snapshot).
    pub state_code: String,
    /// Its state group, if any.
    pub state_group: Option<String>,
    /// Whether that group is a logged-out group.
    pub logged_out: bool,
    /// The `SourceId` the state came from.
    pub source_id: String,
    /// When the agent entered this state code.
    pub since: Timestamp,
    /// When the state was last received (or set by a snapshot).
    pub updated: Timestamp,
    /// The id of the last snapshot the agent was in.
    pub snapshot_id: Option<Timestamp>,
}

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RtaEndpoint {
    /// `Rta/State/Batch`.
    Batch,
    /// `Rta/State/Change`.
    Change,
    /// `TeleoptiRtaService.svc`.
    Soap,
}

/// One state as a request carried it (SOAP: after trimming and the code fixes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedState {
    /// `UserCode`.
    pub user_code: Option<String>,
    /// `StateCode`.
    pub state_code: Option<String>,
}

/// One request to an RTA endpoint and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RtaRequest {
    /// 1 for the first request, counting on across [`RtaHandle::clear`].
    pub seq: u64,
    /// When it arrived.
    pub at: Timestamp,
    /// Where it came.
    pub endpoint: RtaEndpoint,
    /// SOAP operation, for SOAP requests.
    pub operation: Option<String>,
    /// The tenant its key found.
    pub tenant: Option<String>,
    /// Its `SourceId`.
    pub source_id: Option<String>,
    /// A snapshot batch.
    pub is_snapshot: bool,
    /// It closed a snapshot.
    pub close_snapshot: bool,
    /// Its states.
    pub states: Vec<ReceivedState>,
    /// HTTP status answered.
    pub status: u16,
    /// The answer's text (JSON endpoints) or fault string.
    pub answer: String,
    /// The SOAP return value.
    pub soap_result: Option<i32>,
    /// The request body, with the key it presented replaced by `***`.
    pub body: String,
}

/// A batch or state the worker did not apply, and why (what Calabrio only logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredEntry {
    /// The request it came in.
    pub request: u64,
    /// Tenant name.
    pub tenant: String,
    /// Its `SourceId`.
    pub source_id: Option<String>,
    /// The user code (none when the whole batch was ignored).
    pub user_code: Option<String>,
    /// The state code.
    pub state_code: Option<String>,
    /// Calabrio's log text.
    pub reason: String,
}

/// How serious a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Something done on the side (an unknown code added).
    Info,
    /// Something a sender should fix (a SOAP member out of order).
    Warn,
    /// Something that failed (a snapshot without a logged-out group).
    Error,
}

/// A line of the emulator's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// The request it came from.
    pub request: u64,
    /// When.
    pub at: Timestamp,
    /// How serious.
    pub level: LogLevel,
    /// What.
    pub message: String,
}

/// A state group as it is now, with the codes added to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateGroupView {
    /// Name.
    pub name: String,
    /// Configured codes.
    pub codes: Vec<String>,
    /// Codes added because they were unknown: (code, name).
    pub added_codes: Vec<AddedCode>,
    /// The default group.
    pub is_default: bool,
    /// A logged-out group.
    pub logged_out: bool,
}

/// A state code added to the default group when it first arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedCode {
    /// The code.
    pub code: String,
    /// Its name: the description it came with, else the code.
    pub name: String,
}

/// One tenant in [`RtaView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantView {
    /// Name.
    pub name: String,
    /// Its sources.
    pub sources: Vec<String>,
    /// Its agents with a state, by person id.
    pub agents: Vec<AgentRtaState>,
    /// Its state groups.
    pub state_groups: Vec<StateGroupView>,
}

/// What `GET /_sandbox/calabrio/rta` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RtaView {
    /// Every tenant.
    pub tenants: Vec<TenantView>,
    /// Batches waiting for the worker.
    pub pending: usize,
    /// Every request, oldest first.
    pub requests: Vec<RtaRequest>,
    /// What the worker ignored.
    pub ignored: Vec<IgnoredEntry>,
    /// The log.
    pub log: Vec<LogEntry>,
}

// ---- state -------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Group {
    config: StateGroupConfig,
    added: Vec<AddedCode>,
}

impl Group {
    fn has(&self, code: &str) -> bool {
        let same = |c: &String| c.to_lowercase() == code.to_lowercase();
        self.config.codes.iter().any(same) || self.added.iter().any(|a| same(&a.code))
    }
}

#[derive(Debug, Clone)]
struct TenantState {
    name: String,
    key: String,
    sources: Vec<String>,
    /// (source index, lowercased user code) → person ids.
    logons: HashMap<(usize, String), Vec<String>>,
    agents: BTreeMap<String, AgentRtaState>,
    groups: Vec<Group>,
    auto_persons: bool,
}

/// A batch the key check let through, waiting for the worker.
#[derive(Debug, Clone)]
struct Batch {
    request: u64,
    tenant: usize,
    source_id: Option<String>,
    /// Snapshot id: the states are part of a snapshot.
    snapshot_id: Option<Timestamp>,
    close_snapshot: bool,
    /// (user code, state code, description)
    states: Vec<(Option<String>, String, Option<String>)>,
}

/// Why a batch was refused while the request waited.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// 400 / fault.
    BadRequest(String),
    /// 500 / fault.
    ServerError(String),
    /// SOAP result with strict validation.
    SoapResult(i32),
}

struct Inner {
    tenants: Vec<TenantState>,
    config: RtaConfig,
    pending: VecDeque<Batch>,
    paused: bool,
    requests: Vec<RtaRequest>,
    ignored: Vec<IgnoredEntry>,
    log: Vec<LogEntry>,
    last_seq: u64,
    last_snapshot_id: Option<Timestamp>,
}

impl Inner {
    fn log(&mut self, request: u64, level: LogLevel, message: String) {
        tracing::debug!(request, ?level, %message, "calabrio rta");
        self.log.push(LogEntry {
            request,
            at: Timestamp::now(),
            level,
            message,
        });
    }

    /// The tenant of a presented key, or the refusal.
    fn tenant_of_key(&self, key: Option<&str>) -> Result<usize, Refusal> {
        let key = normalize_key(key.unwrap_or_default());
        if key == DEFAULT_KEY && self.tenants.len() > 1 {
            return Err(Refusal::BadRequest(DEFAULT_KEY_MESSAGE.to_string()));
        }
        if key.is_empty() {
            return Err(Refusal::BadRequest(INVALID_KEY_MESSAGE.to_string()));
        }
        self.tenants
            .iter()
            .position(|t| t.key == key)
            .ok_or_else(|| Refusal::BadRequest(INVALID_KEY_MESSAGE.to_string()))
    }

    /// A JSON server time for a snapshot id, strictly after the previous one.
    fn next_snapshot_id(&mut self) -> Timestamp {
        let mut now = Timestamp::now();
        if let Some(last) = self.last_snapshot_id
            && now <= last
        {
            now = last
                .checked_add(jiff::SignedDuration::from_nanos(1))
                .unwrap_or(last);
        }
        self.last_snapshot_id = Some(now);
        now
    }

    /// The synchronous checks after the key, then queueing (and running the worker unless it is
    /// paused). `strict_soap`: check sources and users now, answering −300 / −100.
    fn enqueue(&mut self, batch: Batch, strict_soap: bool) -> Result<(), Refusal> {
        if let Some(max) = self.config.max_batch_states
            && batch.states.len() > max
        {
            return Err(Refusal::BadRequest(BATCH_TOO_LARGE_MESSAGE.to_string()));
        }
        for (_, code, _) in &batch.states {
            let chars = code.chars().count();
            if chars > MAX_STATE_CODE_CHARS {
                return Err(Refusal::ServerError(format!(
                    "State code is {chars} characters long; the longest allowed is \
                     {MAX_STATE_CODE_CHARS}"
                )));
            }
        }
        if let Some(max) = self.config.max_pending_batches
            && self.pending.len() >= max
        {
            return Err(Refusal::ServerError(format!(
                "State queue is flooded with {} batches",
                self.pending.len()
            )));
        }
        if strict_soap {
            let tenant = &self.tenants[batch.tenant];
            let source = batch
                .source_id
                .as_deref()
                .and_then(|s| tenant.sources.iter().position(|x| x == s));
            let Some(source) = source else {
                return Err(Refusal::SoapResult(-300));
            };
            let unknown = batch.states.iter().any(|(user, _, _)| {
                let code = user.clone().unwrap_or_default().to_lowercase();
                !tenant.logons.contains_key(&(source, code))
            });
            if unknown && !tenant.auto_persons {
                return Err(Refusal::SoapResult(-100));
            }
        }
        self.pending.push_back(batch);
        if !self.paused {
            self.drain();
        }
        Ok(())
    }

    fn drain(&mut self) {
        while let Some(batch) = self.pending.pop_front() {
            self.process(batch);
        }
    }

    /// The worker: applies one batch (§1.3, §1.4).
    fn process(&mut self, batch: Batch) {
        let now = Timestamp::now();
        let request = batch.request;
        let tenant_name = self.tenants[batch.tenant].name.clone();
        let ignore_batch = |inner: &mut Inner, reason: String| {
            inner.ignored.push(IgnoredEntry {
                request,
                tenant: tenant_name.clone(),
                source_id: batch.source_id.clone(),
                user_code: None,
                state_code: None,
                reason,
            });
        };
        let source_id = match batch.source_id.as_deref() {
            None | Some("") => {
                ignore_batch(self, "Source id is required".to_string());
                return;
            }
            Some(s) => s.to_string(),
        };
        let Some(source) = self.tenants[batch.tenant]
            .sources
            .iter()
            .position(|s| *s == source_id)
        else {
            ignore_batch(self, format!("Source id \"{source_id}\" not found"));
            return;
        };

        // Persons of each entry; a person repeated takes the last entry.
        let mut latest: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        let mut ignored = Vec::new();
        let mut added_persons = Vec::new();
        {
            let tenant = &mut self.tenants[batch.tenant];
            for (user_code, code, description) in &batch.states {
                let user = user_code.clone().unwrap_or_default();
                let key = (source, user.to_lowercase());
                if !tenant.logons.contains_key(&key) && tenant.auto_persons && !user.is_empty() {
                    tenant.logons.insert(key.clone(), vec![user.clone()]);
                    added_persons.push(user.clone());
                }
                match tenant.logons.get(&key) {
                    Some(persons) => {
                        for person in persons {
                            latest.insert(person.clone(), (code.clone(), description.clone()));
                        }
                    }
                    None => ignored.push(IgnoredEntry {
                        request,
                        tenant: tenant.name.clone(),
                        source_id: Some(source_id.clone()),
                        user_code: user_code.clone(),
                        state_code: Some(code.clone()),
                        reason: format!(
                            "No person found for UserCode {user}, DataSourceId {}, SourceId {source_id}",
                            source + 1
                        ),
                    }),
                }
            }
        }
        self.ignored.extend(ignored);
        for person in added_persons {
            self.log(
                request,
                LogLevel::Info,
                format!("person {person:?} created for an unknown user code (auto_persons)"),
            );
        }

        for (person, (code, description)) in latest {
            let (group, logged_out, added) = {
                let tenant = &mut self.tenants[batch.tenant];
                resolve_group(tenant, &code, description.as_deref())
            };
            if let Some(group) = &added {
                self.log(
                    request,
                    LogLevel::Info,
                    format!(
                        "unknown state code {code:?} added to the default state group {group:?}"
                    ),
                );
            }
            let tenant = &mut self.tenants[batch.tenant];
            let previous = tenant.agents.get(&person);
            let since = match previous {
                Some(p) if p.state_code == code => p.since,
                _ => now,
            };
            let snapshot_id = batch
                .snapshot_id
                .or_else(|| previous.and_then(|p| p.snapshot_id));
            tenant.agents.insert(
                person.clone(),
                AgentRtaState {
                    tenant: tenant.name.clone(),
                    person,
                    state_code: code,
                    state_group: group,
                    logged_out,
                    source_id: source_id.clone(),
                    since,
                    updated: now,
                    snapshot_id,
                },
            );
        }

        if batch.close_snapshot {
            self.close_snapshot(request, batch.tenant, &source_id, batch.snapshot_id, now);
        }
    }

    /// Logs out every agent of the source not in the snapshot (§1.4).
    fn close_snapshot(
        &mut self,
        request: u64,
        tenant: usize,
        source_id: &str,
        snapshot_id: Option<Timestamp>,
        now: Timestamp,
    ) {
        let Some(group) = self.tenants[tenant]
            .groups
            .iter()
            .find(|g| g.config.logged_out)
            .map(|g| g.config.name.clone())
        else {
            self.log(
                request,
                LogLevel::Error,
                "No Logged out StateGroup found".to_string(),
            );
            return;
        };
        let snapshot_id = snapshot_id.unwrap_or(now);
        for agent in self.tenants[tenant].agents.values_mut() {
            let older = agent.snapshot_id.is_none_or(|id| id < snapshot_id);
            if agent.source_id == source_id && older && !agent.logged_out {
                agent.state_code = SNAPSHOT_LOGGED_OUT.to_string();
                agent.state_group = Some(group.clone());
                agent.logged_out = true;
                agent.since = now;
                agent.updated = now;
            }
        }
    }
}

/// The group of a code; an unknown code is added to the default group. Returns (group, whether
/// it is a logged-out group, the group the code was added to).
fn resolve_group(
    tenant: &mut TenantState,
    code: &str,
    description: Option<&str>,
) -> (Option<String>, bool, Option<String>) {
    if let Some(g) = tenant.groups.iter().find(|g| g.has(code)) {
        return (Some(g.config.name.clone()), g.config.logged_out, None);
    }
    match tenant.groups.iter_mut().find(|g| g.config.is_default) {
        Some(g) => {
            let name = description
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .unwrap_or(code)
                .to_string();
            g.added.push(AddedCode {
                code: code.to_string(),
                name,
            });
            (
                Some(g.config.name.clone()),
                g.config.logged_out,
                Some(g.config.name.clone()),
            )
        }
        None => (None, false, None),
    }
}

struct Shared {
    inner: Mutex<Inner>,
    /// The configuration, to start again from on [`RtaHandle::clear`].
    initial: Vec<TenantState>,
    /// Bumped after every request, for [`RtaHandle::wait_for_requests`].
    recorded: watch::Sender<u64>,
}

/// Reads what the emulator holds and steers its worker. Cheap to clone.
#[derive(Clone)]
pub struct RtaHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for RtaHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtaHandle").finish_non_exhaustive()
    }
}

impl RtaHandle {
    /// A handle over a checked configuration.
    pub fn new(config: &RtaConfig) -> Result<RtaHandle, RtaConfigError> {
        if config.tenants.is_empty() {
            return Err(RtaConfigError::NoTenants);
        }
        let mut tenants: Vec<TenantState> = Vec::new();
        for t in &config.tenants {
            if tenants.iter().any(|x| x.name == t.name) {
                return Err(RtaConfigError::DuplicateTenant(t.name.clone()));
            }
            if t.auth_key.is_empty() {
                return Err(RtaConfigError::NoKey(t.name.clone()));
            }
            let key = normalize_key(&t.auth_key);
            if let Some(other) = tenants.iter().find(|x| x.key == key) {
                return Err(RtaConfigError::DuplicateKey(
                    other.name.clone(),
                    t.name.clone(),
                ));
            }
            for (i, s) in t.sources.iter().enumerate() {
                if t.sources[..i].contains(s) {
                    return Err(RtaConfigError::DuplicateSource {
                        tenant: t.name.clone(),
                        source_id: s.clone(),
                    });
                }
            }
            let mut logons: HashMap<(usize, String), Vec<String>> = HashMap::new();
            for p in &t.persons {
                let source = t
                    .sources
                    .iter()
                    .position(|s| *s == p.source)
                    .ok_or_else(|| RtaConfigError::UnknownSource {
                        tenant: t.name.clone(),
                        person: p.id.clone(),
                        source_id: p.source.clone(),
                    })?;
                let persons = logons
                    .entry((source, p.user_code.to_lowercase()))
                    .or_default();
                if !persons.contains(&p.id) {
                    persons.push(p.id.clone());
                }
            }
            if t.state_groups.iter().filter(|g| g.is_default).count() > 1 {
                return Err(RtaConfigError::SeveralDefaultGroups(t.name.clone()));
            }
            tenants.push(TenantState {
                name: t.name.clone(),
                key,
                sources: t.sources.clone(),
                logons,
                agents: BTreeMap::new(),
                groups: t
                    .state_groups
                    .iter()
                    .map(|g| Group {
                        config: g.clone(),
                        added: Vec::new(),
                    })
                    .collect(),
                auto_persons: t.auto_persons,
            });
        }
        let (recorded, _) = watch::channel(0);
        Ok(RtaHandle {
            shared: Arc::new(Shared {
                initial: tenants.clone(),
                inner: Mutex::new(Inner {
                    tenants,
                    config: config.clone(),
                    pending: VecDeque::new(),
                    paused: false,
                    requests: Vec::new(),
                    ignored: Vec::new(),
                    log: Vec::new(),
                    last_seq: 0,
                    last_snapshot_id: None,
                }),
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

    /// Every agent of a tenant that has a state, by person id.
    pub fn states(&self, tenant: &str) -> Vec<AgentRtaState> {
        self.lock()
            .tenants
            .iter()
            .find(|t| t.name == tenant)
            .map(|t| t.agents.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One person's current state.
    pub fn state(&self, tenant: &str, person: &str) -> Option<AgentRtaState> {
        self.lock()
            .tenants
            .iter()
            .find(|t| t.name == tenant)
            .and_then(|t| t.agents.get(person).cloned())
    }

    /// One person's current state code.
    pub fn state_code(&self, tenant: &str, person: &str) -> Option<String> {
        self.state(tenant, person).map(|s| s.state_code)
    }

    /// A tenant's state groups as they are now.
    pub fn state_groups(&self, tenant: &str) -> Vec<StateGroupView> {
        self.lock()
            .tenants
            .iter()
            .find(|t| t.name == tenant)
            .map(groups_view)
            .unwrap_or_default()
    }

    /// Every request, oldest first.
    pub fn requests(&self) -> Vec<RtaRequest> {
        self.lock().requests.clone()
    }

    /// What the worker did not apply, oldest first.
    pub fn ignored(&self) -> Vec<IgnoredEntry> {
        self.lock().ignored.clone()
    }

    /// The log, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        self.lock().log.clone()
    }

    /// Stops the worker: accepted batches wait (and can flood the queue).
    pub fn pause_worker(&self) {
        self.lock().paused = true;
    }

    /// Starts the worker again; the waiting batches are applied in order at once.
    pub fn resume_worker(&self) {
        let mut inner = self.lock();
        inner.paused = false;
        inner.drain();
    }

    /// Batches waiting for the worker.
    pub fn pending(&self) -> usize {
        self.lock().pending.len()
    }

    /// Everything, as `GET /_sandbox/calabrio/rta` shows it.
    pub fn view(&self) -> RtaView {
        let inner = self.lock();
        RtaView {
            tenants: inner
                .tenants
                .iter()
                .map(|t| TenantView {
                    name: t.name.clone(),
                    sources: t.sources.clone(),
                    agents: t.agents.values().cloned().collect(),
                    state_groups: groups_view(t),
                })
                .collect(),
            pending: inner.pending.len(),
            requests: inner.requests.clone(),
            ignored: inner.ignored.clone(),
            log: inner.log.clone(),
        }
    }

    /// Forgets states, requests, ignored entries, the log, waiting batches and added codes and
    /// persons: back to the configuration.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.tenants = self.shared.initial.clone();
        inner.pending.clear();
        inner.requests.clear();
        inner.ignored.clear();
        inner.log.clear();
    }

    /// Waits until at least `count` requests were answered, at most `timeout`; returns them all,
    /// or `None` on timeout.
    pub async fn wait_for_requests(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<RtaRequest>> {
        crate::wait::until(&self.shared.recorded, timeout, || {
            self.lock().requests.len() >= count
        })
        .await
        .then(|| self.requests())
    }

    /// Takes one request number.
    fn next_seq(&self) -> u64 {
        let mut inner = self.lock();
        inner.last_seq += 1;
        inner.last_seq
    }

    /// Records a request once answered.
    fn record(&self, request: RtaRequest) {
        self.lock().requests.push(request);
        self.shared.recorded.send_modify(|n| *n += 1);
    }
}

fn groups_view(tenant: &TenantState) -> Vec<StateGroupView> {
    tenant
        .groups
        .iter()
        .map(|g| StateGroupView {
            name: g.config.name.clone(),
            codes: g.config.codes.clone(),
            added_codes: g.added.clone(),
            is_default: g.config.is_default,
            logged_out: g.config.logged_out,
        })
        .collect()
}

/// `body` with the key (raw, XML- and JSON-escaped) replaced by `***`.
fn redact(body: &str, key: Option<&str>) -> String {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return body.to_string();
    };
    let json = serde_json::to_string(key).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    let xml = key
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut out = body.to_string();
    for form in [key.to_string(), json, xml] {
        if !form.is_empty() {
            out = out.replace(&form, "***");
        }
    }
    out
}

// ---- JSON endpoints ----------------------------------------------------------------------------

/// A member of a JSON object by name, ignoring case (the last one when several match).
fn member<'a>(object: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .next_back()
}

/// A string member as .NET model binding reads it: numbers and booleans become their text.
fn text_member(object: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match member(object, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

fn bool_member(object: &serde_json::Map<String, Value>, name: &str) -> bool {
    match member(object, name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    }
}

fn plain(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// `Rta/State/Batch` and `Rta/State/Change`.
fn json_request(handle: &RtaHandle, endpoint: RtaEndpoint, body: &[u8]) -> Response {
    let seq = handle.next_seq();
    // A body that is not a JSON object binds as an empty model.
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => o,
        _ => serde_json::Map::new(),
    };
    let key = text_member(&object, "AuthenticationKey");
    let source_id = text_member(&object, "SourceId");
    let (is_snapshot, states): (bool, Option<Vec<ReceivedState>>) = match endpoint {
        RtaEndpoint::Change => (
            false,
            Some(vec![ReceivedState {
                user_code: text_member(&object, "UserCode"),
                state_code: text_member(&object, "StateCode"),
            }]),
        ),
        _ => {
            let states = match member(&object, "States") {
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|item| match item {
                            Value::Object(o) => ReceivedState {
                                user_code: text_member(o, "UserCode"),
                                state_code: text_member(o, "StateCode"),
                            },
                            _ => ReceivedState {
                                user_code: None,
                                state_code: None,
                            },
                        })
                        .collect(),
                ),
                _ => None,
            };
            (bool_member(&object, "IsSnapshot"), states)
        }
    };

    let mut record = RtaRequest {
        seq,
        at: Timestamp::now(),
        endpoint,
        operation: None,
        tenant: None,
        source_id: source_id.clone(),
        is_snapshot,
        close_snapshot: is_snapshot,
        states: states.clone().unwrap_or_default(),
        status: 200,
        answer: String::new(),
        soap_result: None,
        body: redact(&String::from_utf8_lossy(body), key.as_deref()),
    };

    let outcome = {
        let mut inner = handle.lock();
        match inner.tenant_of_key(key.as_deref()) {
            Err(refusal) => Err(refusal),
            Ok(tenant) => {
                record.tenant = Some(inner.tenants[tenant].name.clone());
                match states {
                    None => Err(Refusal::ServerError(
                        "Object reference not set to an instance of an object. (States is null)"
                            .to_string(),
                    )),
                    Some(states) if states.iter().any(|s| s.state_code.is_none()) => Err(
                        Refusal::ServerError("State code is required (StateCode is null)".into()),
                    ),
                    Some(states) => {
                        let snapshot_id = is_snapshot.then(|| inner.next_snapshot_id());
                        let batch = Batch {
                            request: seq,
                            tenant,
                            source_id,
                            snapshot_id,
                            close_snapshot: is_snapshot,
                            states: states
                                .into_iter()
                                .map(|s| (s.user_code, s.state_code.unwrap_or_default(), None))
                                .collect(),
                        };
                        inner.enqueue(batch, false)
                    }
                }
            }
        }
    };
    let response = match outcome {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Refusal::BadRequest(text)) => {
            record.answer.clone_from(&text);
            plain(StatusCode::BAD_REQUEST, text)
        }
        Err(Refusal::ServerError(text)) => {
            record.answer.clone_from(&text);
            plain(StatusCode::INTERNAL_SERVER_ERROR, text)
        }
        // Only SOAP validates synchronously; JSON never gets here.
        Err(Refusal::SoapResult(result)) => {
            let text = format!("result {result}");
            record.answer.clone_from(&text);
            plain(StatusCode::INTERNAL_SERVER_ERROR, text)
        }
    };
    record.status = response.status().as_u16();
    handle.record(record);
    response
}

// ---- SOAP endpoint -----------------------------------------------------------------------------

/// `SaveBatchExternalUserState`'s parameters, in contract order.
const BATCH_PARAMS: [&str; 4] = [
    "authenticationKey",
    "platformTypeId",
    "sourceId",
    "externalUserStateBatch",
];

/// `SaveExternalUserState`'s parameters, in contract order.
const SINGLE_PARAMS: [&str; 11] = [
    "authenticationKey",
    "userCode",
    "stateCode",
    "stateDescription",
    "isLoggedOn",
    "secondsInState",
    "timestamp",
    "platformTypeId",
    "sourceId",
    "batchId",
    "isSnapshot",
];

/// `ExternalUserState`'s members: the data contract's alphabetical order.
pub const ITEM_MEMBERS: [&str; 8] = [
    "BatchId",
    "IsLoggedOn",
    "IsSnapshot",
    "SecondsInState",
    "StateCode",
    "StateDescription",
    "Timestamp",
    "UserCode",
];

/// One `ExternalUserState` as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Item {
    batch_id: Option<Timestamp>,
    is_logged_on: bool,
    is_snapshot: bool,
    state_code: Option<String>,
    description: Option<String>,
    user_code: Option<String>,
}

/// A SOAP call as read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SoapCall {
    operation: &'static str,
    key: Option<String>,
    platform: Option<String>,
    source: Option<String>,
    /// `None`: the batch was null.
    items: Option<Vec<Item>>,
}

type Node<'a> = roxmltree::Node<'a, 'a>;

/// The children of `parent` named in `order`, read the way WCF's serializer reads ordered
/// members: an element that comes after a later member was read is skipped (and warned about), as
/// is one in another namespace or with a name not in `order`.
fn ordered<'a>(
    parent: Node<'a>,
    namespace: &str,
    order: &[&'static str],
    what: &str,
    warnings: &mut Vec<String>,
) -> HashMap<&'static str, Node<'a>> {
    let mut found = HashMap::new();
    let mut cursor = 0;
    for child in parent.children().filter(Node::is_element) {
        let name = child.tag_name();
        let position = order.iter().position(|m| *m == name.name());
        match position {
            Some(i) if name.namespace() == Some(namespace) && i >= cursor => {
                found.insert(order[i], child);
                cursor = i + 1;
            }
            Some(_) if name.namespace() == Some(namespace) => warnings.push(format!(
                "{what}: {} is out of order and was ignored; the contract's order is {}",
                name.name(),
                order.join(", ")
            )),
            _ => warnings.push(format!(
                "{what}: unexpected element {} ({}) was ignored",
                name.name(),
                name.namespace().unwrap_or("no namespace")
            )),
        }
    }
    found
}

/// An element's text: `None` when absent or `i:nil`, `""` when empty.
fn text_of(node: Option<&Node<'_>>) -> Option<String> {
    let node = node?;
    if node.attribute((XSI_NS, "nil")) == Some("true") {
        return None;
    }
    Some(
        node.children()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect(),
    )
}

fn deserialize_error(member: &str, value: &str, kind: &str) -> String {
    format!(
        "The formatter threw an exception while trying to deserialize the message: the value \
         '{value}' of {member} cannot be parsed as the type '{kind}'."
    )
}

fn bool_of(node: Option<&Node<'_>>, member: &str) -> Result<bool, String> {
    match text_of(node) {
        None => Ok(false),
        Some(text) => match text.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(deserialize_error(member, other, "Boolean")),
        },
    }
}

fn int_of(node: Option<&Node<'_>>, member: &str) -> Result<i32, String> {
    match text_of(node) {
        None => Ok(0),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| deserialize_error(member, text.trim(), "Int32")),
    }
}

fn date_time_of(node: Option<&Node<'_>>, member: &str) -> Result<Option<Timestamp>, String> {
    let Some(text) = text_of(node) else {
        return Ok(None);
    };
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(Some(at));
    }
    // xs:dateTime without an offset: .NET's unspecified kind, taken as UTC.
    text.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| Some(z.timestamp()))
        .ok_or_else(|| deserialize_error(member, text, "DateTime"))
}

/// Reads a SOAP request: the fault text when it cannot be read.
fn read_soap(text: &str, warnings: &mut Vec<String>) -> Result<SoapCall, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| {
        format!("The formatter threw an exception while trying to deserialize the message: {e}")
    })?;
    let envelope = doc.root_element();
    if envelope.tag_name().name() != "Envelope"
        || envelope.tag_name().namespace() != Some(SOAP_ENVELOPE_NS)
    {
        return Err(format!(
            "not a SOAP 1.1 envelope: the root element must be Envelope in {SOAP_ENVELOPE_NS}"
        ));
    }
    let body = envelope
        .children()
        .find(|n| {
            n.is_element()
                && n.tag_name().name() == "Body"
                && n.tag_name().namespace() == Some(SOAP_ENVELOPE_NS)
        })
        .ok_or("the SOAP envelope has no Body")?;
    let op = body
        .children()
        .find(Node::is_element)
        .ok_or("the SOAP Body is empty")?;
    if op.tag_name().namespace() != Some(TEMPURI_NS) {
        return Err(format!(
            "The message with Action '{}' cannot be processed at the receiver: the operation \
             element must be in {TEMPURI_NS}",
            op.tag_name().name()
        ));
    }
    match op.tag_name().name() {
        "SaveBatchExternalUserState" => {
            let params = ordered(
                op,
                TEMPURI_NS,
                &BATCH_PARAMS,
                "SaveBatchExternalUserState",
                warnings,
            );
            let items = match params.get("externalUserStateBatch") {
                None => None,
                Some(batch) if batch.attribute((XSI_NS, "nil")) == Some("true") => None,
                Some(batch) => {
                    let mut items = Vec::new();
                    for element in batch.children().filter(Node::is_element) {
                        let name = element.tag_name();
                        if name.name() != "ExternalUserState"
                            || name.namespace() != Some(CONTRACT_NS)
                        {
                            warnings.push(format!(
                                "externalUserStateBatch: unexpected element {} was ignored; items \
                                 are ExternalUserState in {CONTRACT_NS}",
                                name.name()
                            ));
                            continue;
                        }
                        let m = ordered(
                            element,
                            CONTRACT_NS,
                            &ITEM_MEMBERS,
                            "ExternalUserState",
                            warnings,
                        );
                        int_of(m.get("SecondsInState"), "SecondsInState")?;
                        date_time_of(m.get("Timestamp"), "Timestamp")?;
                        items.push(Item {
                            batch_id: date_time_of(m.get("BatchId"), "BatchId")?,
                            is_logged_on: bool_of(m.get("IsLoggedOn"), "IsLoggedOn")?,
                            is_snapshot: bool_of(m.get("IsSnapshot"), "IsSnapshot")?,
                            state_code: text_of(m.get("StateCode")),
                            description: text_of(m.get("StateDescription")),
                            user_code: text_of(m.get("UserCode")),
                        });
                    }
                    Some(items)
                }
            };
            Ok(SoapCall {
                operation: "SaveBatchExternalUserState",
                key: text_of(params.get("authenticationKey")),
                platform: text_of(params.get("platformTypeId")),
                source: text_of(params.get("sourceId")),
                items,
            })
        }
        "SaveExternalUserState" => {
            let p = ordered(
                op,
                TEMPURI_NS,
                &SINGLE_PARAMS,
                "SaveExternalUserState",
                warnings,
            );
            int_of(p.get("secondsInState"), "secondsInState")?;
            date_time_of(p.get("timestamp"), "timestamp")?;
            let item = Item {
                batch_id: date_time_of(p.get("batchId"), "batchId")?,
                is_logged_on: bool_of(p.get("isLoggedOn"), "isLoggedOn")?,
                is_snapshot: bool_of(p.get("isSnapshot"), "isSnapshot")?,
                state_code: text_of(p.get("stateCode")),
                description: text_of(p.get("stateDescription")),
                user_code: text_of(p.get("userCode")),
            };
            Ok(SoapCall {
                operation: "SaveExternalUserState",
                key: text_of(p.get("authenticationKey")),
                platform: text_of(p.get("platformTypeId")),
                source: text_of(p.get("sourceId")),
                items: Some(vec![item]),
            })
        }
        other => Err(format!(
            "The message with Action '{TEMPURI_NS}ITeleoptiRtaService/{other}' cannot be \
             processed at the receiver (ActionNotSupported)"
        )),
    }
}

/// `TeleoptiRtaService.fixStateCode`: `LOGGED-OFF` when not logged on, trimmed, platform suffix.
fn fix_state_code(code: Option<&str>, platform: Option<&str>, logged_on: bool) -> Option<String> {
    let code = if logged_on { code? } else { SOAP_LOGGED_OFF };
    let code = code.trim();
    match platform {
        Some(p) if !p.is_empty() && p != EMPTY_GUID => Some(format!("{code} ({p})")),
        _ => Some(code.to_string()),
    }
}

/// Runs a SOAP call: its return value, or the fault text.
fn run_soap(
    handle: &RtaHandle,
    seq: u64,
    call: SoapCall,
    record: &mut RtaRequest,
    warnings: &mut Vec<String>,
) -> Result<i32, String> {
    for (name, value) in [
        ("authenticationKey", &call.key),
        ("platformTypeId", &call.platform),
        ("sourceId", &call.source),
    ] {
        if value.as_deref().is_none_or(str::is_empty) {
            warnings.push(format!(
                "{name} was not received. Make sure the SOAP message contains this value and all \
                 parameters are in correct order according to the contract."
            ));
        }
    }
    record.source_id.clone_from(&call.source);
    let null_reference = "Object reference not set to an instance of an object.";
    let items = call
        .items
        .ok_or_else(|| format!("{null_reference} (externalUserStateBatch is null)"))?;
    if call.operation == "SaveBatchExternalUserState" && items.is_empty() {
        return Ok(0);
    }
    let mut states = Vec::with_capacity(items.len());
    for item in &items {
        let user = item
            .user_code
            .as_deref()
            .ok_or_else(|| format!("{null_reference} (UserCode is null)"))?
            .trim()
            .to_string();
        let code = fix_state_code(
            item.state_code.as_deref(),
            call.platform.as_deref(),
            item.is_logged_on,
        );
        states.push((user, code, item.description.clone()));
    }
    let (is_snapshot, close) = match items.last() {
        Some(last) => (
            last.is_snapshot,
            last.is_snapshot && states.last().is_some_and(|(u, _, _)| u.is_empty()),
        ),
        None => (false, false),
    };
    if close {
        states.pop();
    }
    record.is_snapshot = is_snapshot;
    record.close_snapshot = close;
    record.states = states
        .iter()
        .map(|(u, c, _)| ReceivedState {
            user_code: Some(u.clone()),
            state_code: c.clone(),
        })
        .collect();

    let mut inner = handle.lock();
    let tenant = inner
        .tenant_of_key(call.key.as_deref())
        .map_err(|refusal| match refusal {
            Refusal::BadRequest(t) | Refusal::ServerError(t) => t,
            Refusal::SoapResult(n) => format!("result {n}"),
        })?;
    record.tenant = Some(inner.tenants[tenant].name.clone());
    if states.iter().any(|(_, code, _)| code.is_none()) {
        return Err("State code is required (StateCode is null)".to_string());
    }
    let snapshot_id = if is_snapshot {
        Some(
            items
                .first()
                .and_then(|i| i.batch_id)
                .unwrap_or_else(Timestamp::now),
        )
    } else {
        None
    };
    let batch = Batch {
        request: seq,
        tenant,
        source_id: call.source,
        snapshot_id,
        close_snapshot: close,
        states: states
            .into_iter()
            .map(|(u, c, d)| (Some(u), c.unwrap_or_default(), d))
            .collect(),
    };
    let strict = inner.config.soap_sync_validation;
    match inner.enqueue(batch, strict) {
        Ok(()) => Ok(1),
        Err(Refusal::SoapResult(n)) => Ok(n),
        Err(Refusal::BadRequest(t) | Refusal::ServerError(t)) => Err(t),
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn soap_response(status: StatusCode, body_content: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        format!(
            "<s:Envelope xmlns:s=\"{SOAP_ENVELOPE_NS}\"><s:Body>{body_content}</s:Body></s:Envelope>"
        ),
    )
        .into_response()
}

/// `TeleoptiRtaService.svc`.
fn soap_request(handle: &RtaHandle, body: &[u8]) -> Response {
    let seq = handle.next_seq();
    let text = String::from_utf8_lossy(body).into_owned();
    let mut warnings = Vec::new();
    let mut record = RtaRequest {
        seq,
        at: Timestamp::now(),
        endpoint: RtaEndpoint::Soap,
        operation: None,
        tenant: None,
        source_id: None,
        is_snapshot: false,
        close_snapshot: false,
        states: Vec::new(),
        status: 200,
        answer: String::new(),
        soap_result: None,
        body: text.clone(),
    };
    let outcome = match read_soap(&text, &mut warnings) {
        Ok(call) => {
            record.operation = Some(call.operation.to_string());
            record.body = redact(&text, call.key.as_deref());
            let operation = call.operation;
            run_soap(handle, seq, call, &mut record, &mut warnings).map(|n| (operation, n))
        }
        Err(fault) => Err(fault),
    };
    {
        let mut inner = handle.lock();
        for warning in warnings {
            inner.log(seq, LogLevel::Warn, warning);
        }
    }
    let response = match outcome {
        Ok((operation, result)) => {
            record.soap_result = Some(result);
            record.answer = result.to_string();
            soap_response(
                StatusCode::OK,
                format!(
                    "<{operation}Response xmlns=\"{TEMPURI_NS}\"><{operation}Result>{result}\
                     </{operation}Result></{operation}Response>"
                ),
            )
        }
        Err(fault) => {
            record.answer.clone_from(&fault);
            soap_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "<s:Fault><faultcode>s:Client</faultcode>\
                     <faultstring xml:lang=\"en-US\">{}</faultstring></s:Fault>",
                    xml_escape(&fault)
                ),
            )
        }
    };
    record.status = response.status().as_u16();
    handle.record(record);
    response
}

// ---- router and server -------------------------------------------------------------------------

/// The emulator's router and its handle, to serve on a listener of one's own or merge into
/// another router (the `calabrio` module serves it beside the historical intake).
pub fn router(config: &RtaConfig) -> Result<(Router, RtaHandle), RtaConfigError> {
    let handle = RtaHandle::new(config)?;
    let router = Router::new()
        .route("/_sandbox/calabrio/rta", get(get_view).delete(delete_all))
        .fallback(dispatch)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(handle.clone());
    Ok((router, handle))
}

async fn get_view(State(handle): State<RtaHandle>) -> Response {
    axum::Json(handle.view()).into_response()
}

async fn delete_all(State(handle): State<RtaHandle>) -> StatusCode {
    handle.clear();
    StatusCode::NO_CONTENT
}

/// The RTA endpoints, matched ignoring case as IIS does.
async fn dispatch(
    State(handle): State<RtaHandle>,
    method: Method,
    uri: Uri,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/').to_ascii_lowercase();
    let endpoint = match path.as_str() {
        "/rta/state/batch" => RtaEndpoint::Batch,
        "/rta/state/change" => RtaEndpoint::Change,
        "/rta/teleoptirtaservice.svc" | "/teleoptirtaservice.svc" => RtaEndpoint::Soap,
        _ => {
            return plain(
                StatusCode::NOT_FOUND,
                format!(
                    "the Calabrio sandbox has nothing at {}: the RTA is at /Rta/State/Batch, \
                     /Rta/State/Change and /Rta/TeleoptiRtaService.svc\n",
                    uri.path()
                ),
            );
        }
    };
    match (endpoint, method) {
        (RtaEndpoint::Soap, Method::POST) => soap_request(&handle, &body),
        (_, Method::POST) => json_request(&handle, endpoint, &body),
        (RtaEndpoint::Soap, Method::GET | Method::HEAD) => plain(
            StatusCode::OK,
            "TeleoptiRtaService (wfm-bridge sandbox): POST SOAP 1.1 requests, \
             SaveBatchExternalUserState or SaveExternalUserState\n"
                .to_string(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "POST states here\n",
        )
            .into_response(),
    }
}

/// Serves the emulator on `listener` until the process ends or accepting fails. A bad
/// configuration is an `InvalidInput` error saying what is wrong.
pub async fn serve(listener: TcpListener, config: RtaConfig) -> io::Result<()> {
    let (router, _handle) =
        router(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    axum::serve(listener, router).await
}

/// The emulator running on a task of the current runtime; stopped by [`CalabrioRta::stop`] or
/// on drop.
pub struct CalabrioRta {
    server: RunningRouter,
    handle: RtaHandle,
}

impl fmt::Debug for CalabrioRta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalabrioRta")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl CalabrioRta {
    /// Starts the emulator with the demonstration configuration ([`RtaConfig::default`]) on
    /// `addr` (`"127.0.0.1:0"` for a free port).
    pub async fn start(addr: impl ToSocketAddrs) -> io::Result<CalabrioRta> {
        CalabrioRta::start_with(addr, RtaConfig::default()).await
    }

    /// Starts the emulator with a configuration on `addr`.
    pub async fn start_with(
        addr: impl ToSocketAddrs,
        config: RtaConfig,
    ) -> io::Result<CalabrioRta> {
        let (router, handle) =
            router(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(CalabrioRta {
            server: RunningRouter::start(addr, router).await?,
            handle,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The web root, `http://<addr>/`: what a `calabrio` account's `url` is set to.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr())
    }

    /// The handle to read what it holds.
    pub fn handle(&self) -> &RtaHandle {
        &self.handle
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_keys_are_normalised() {
        assert_eq!(normalize_key("!#¤atAbgT%"), DEFAULT_KEY);
        assert_eq!(normalize_key("!#?atAbgT%"), DEFAULT_KEY);
        assert_eq!(normalize_key("!#xyztAbgT%"), DEFAULT_KEY);
        assert_eq!(normalize_key("k-123"), "k-123");
    }

    #[test]
    fn configurations_are_checked() {
        assert!(RtaHandle::new(&RtaConfig::default()).is_ok());
        let config = |tenants| RtaConfig {
            tenants,
            ..RtaConfig::default()
        };
        assert_eq!(
            RtaHandle::new(&config(vec![])).err(),
            Some(RtaConfigError::NoTenants)
        );
        let a = RtaTenantConfig::new("a", "k1", &["1"]);
        assert!(matches!(
            RtaHandle::new(&config(vec![a.clone(), a.clone()])).err(),
            Some(RtaConfigError::DuplicateTenant(_))
        ));
        let b = RtaTenantConfig::new("b", "k1", &["1"]);
        assert!(matches!(
            RtaHandle::new(&config(vec![a.clone(), b])).err(),
            Some(RtaConfigError::DuplicateKey(..))
        ));
        let c = RtaTenantConfig::new("c", "k3", &["1"]).person("p", "9", "u");
        assert_eq!(
            RtaHandle::new(&config(vec![c])).unwrap_err().to_string(),
            "tenant \"c\": person \"p\" is on source \"9\", which is not in its sources"
        );
        let mut d = RtaTenantConfig::new("d", "k4", &["1"]);
        d.state_groups[0].is_default = true;
        assert!(matches!(
            RtaHandle::new(&config(vec![d])).err(),
            Some(RtaConfigError::SeveralDefaultGroups(_))
        ));
    }

    #[test]
    fn configurations_read_from_json_and_hide_keys() {
        let config: RtaConfig = serde_json::from_str(
            r#"{"tenants": [{"name": "t", "auth_key": "s3cret", "sources": ["7"],
                 "persons": [{"id": "p1", "source": "7", "user_code": "1001"}]}],
                "max_batch_states": 50}"#,
        )
        .unwrap();
        assert_eq!(config.max_pending_batches, Some(100));
        assert_eq!(config.tenants[0].state_groups, default_state_groups());
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(!serde_json::to_string(&config).unwrap().contains("s3cret"));
        assert!(serde_json::from_str::<RtaConfig>(r#"{"tenants": [], "strict": true}"#).is_err());
    }

    #[test]
    fn soap_state_codes_are_fixed_like_the_service() {
        assert_eq!(
            fix_state_code(Some(" READY "), None, true).as_deref(),
            Some("READY")
        );
        assert_eq!(
            fix_state_code(Some("READY"), None, false).as_deref(),
            Some("LOGGED-OFF")
        );
        assert_eq!(
            fix_state_code(None, None, false).as_deref(),
            Some("LOGGED-OFF")
        );
        assert_eq!(fix_state_code(None, None, true), None);
        assert_eq!(
            fix_state_code(Some("READY"), Some(EMPTY_GUID), true).as_deref(),
            Some("READY")
        );
        assert_eq!(
            fix_state_code(
                Some("READY"),
                Some("6f2c1a9e-0b1d-4c3e-9a8f-1234567890ab"),
                true
            )
            .as_deref(),
            Some("READY (6f2c1a9e-0b1d-4c3e-9a8f-1234567890ab)")
        );
    }

    #[test]
    fn members_out_of_order_are_skipped_with_a_warning() {
        let xml = format!(
            "<x xmlns:a=\"{CONTRACT_NS}\"><a:UserCode>1</a:UserCode><a:StateCode>S</a:StateCode>\
             <a:Other>o</a:Other></x>"
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let mut warnings = Vec::new();
        let found = ordered(
            doc.root_element(),
            CONTRACT_NS,
            &ITEM_MEMBERS,
            "item",
            &mut warnings,
        );
        assert_eq!(text_of(found.get("UserCode")).as_deref(), Some("1"));
        assert!(!found.contains_key("StateCode"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("StateCode is out of order"),
            "{warnings:?}"
        );
    }

    #[test]
    fn keys_are_redacted_in_recorded_bodies() {
        assert_eq!(
            redact(r#"{"AuthenticationKey":"k\"1"}"#, Some("k\"1")),
            r#"{"AuthenticationKey":"***"}"#
        );
        assert_eq!(
            redact(
                "<authenticationKey>a&amp;b</authenticationKey>",
                Some("a&b")
            ),
            "<authenticationKey>***</authenticationKey>"
        );
    }
}
