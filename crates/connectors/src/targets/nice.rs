//! The `nice` target: real-time agent states for NICE, POSTed as JSON, with a keep-alive.
//!
//! Bright Pattern's NICE account has a URL, credentials, an agent id prefix, an extension prefix
//! and a keep-alive interval (60 s by default) that keeps the pathway open. NICE's wire format is
//! not public, so the body is ours, versioned and documented here. Every [`AgentStatesUpdate`]
//! becomes one `POST {url}` with `Content-Type: application/json`, the optional token as
//! `Authorization: Bearer …` and the generic `http` target's headers:
//!
//! ```json
//! {
//!   "version": 1,
//!   "type": "snapshot",
//!   "tenant": "nordic",
//!   "at": "2024-03-01T08:00:10Z",
//!   "keep_alive_seconds": 60,
//!   "agents": [
//!     {"agent_id": "BP1001", "extension": "EXT2001", "state": "not_ready", "code": "LUNCH",
//!      "reason": "Lunch", "since": "2024-03-01T07:58:00Z"}
//!   ]
//! }
//! ```
//!
//! - `type`: `snapshot` (every logged-in agent; an absent one is logged out), `update` (the agents
//!   that changed, logged-out ones with state `logged_out`), or `keep_alive` (test connection: no
//!   agents, changes nothing).
//! - `agent_id` is the agent id with `agent_id_prefix` in front; `extension` the agent's phone
//!   extension with `extension_prefix` in front, present only when the update carries one (an
//!   optional `extension` member of an agent in the agent-states payload; without it the member
//!   is left out and the prefix unused).
//! - `state` is canonical, `code` the flow's code for it.
//! - `keep_alive_seconds` repeats the account's `keep_alive`: NICE may treat a longer silence as a
//!   lost feed.
//!
//! **Keep-alive.** A snapshot is the keep-alive: [`cadence`] tells the engine (through
//! [`crate::targets::realtime::realtime_cadence`]) to send one at least every `keep_alive`, even
//! when nothing changed. Answers are classified like the `http` target's.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::accounts::{AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec};
use crate::targets::http::REQUEST_TIMEOUT;
use crate::targets::http_post::JsonEndpoint;
use crate::targets::realtime::{self, AgentStatesUpdate, RealtimeCadence};
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// Version of the body schema; bumped on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Default keep-alive interval, as in Bright Pattern's NICE account.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// The `nice` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "nice",
    description: "Real-time agent states for NICE (JSON over HTTPS, with a keep-alive)",
    properties: &[
        PropertySpec {
            name: "url",
            kind: PropertyKind::Url,
            required: true,
            secret: false,
            default: None,
            help: "the NICE endpoint the real-time data is POSTed to",
        },
        PropertySpec {
            name: "keep_alive",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("60s"),
            help: "keep-alive update interval: a full snapshot is sent at least this often",
        },
        PropertySpec {
            name: "agent_id_prefix",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: None,
            help: "text put in front of every agent id NICE receives",
        },
        PropertySpec {
            name: "extension_prefix",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: None,
            help: "text put in front of every phone extension NICE receives",
        },
        PropertySpec {
            name: "token",
            kind: PropertyKind::Text,
            required: false,
            secret: true,
            default: None,
            help: "access token, sent as Authorization: Bearer <token>",
        },
        REQUEST_TIMEOUT,
    ],
    single_per_tenant: false,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(NiceTarget::from_account(account)?))
}

/// The cadence a `nice` account asks for: a snapshot at least every `keep_alive`.
pub fn cadence(account: &AccountConfig) -> RealtimeCadence {
    RealtimeCadence {
        update_every: None,
        snapshot_every: Some(keep_alive(account)),
    }
}

fn keep_alive(account: &AccountConfig) -> Duration {
    account
        .duration("keep_alive")
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_KEEP_ALIVE)
}

/// What kind of message a body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Every logged-in agent.
    Snapshot,
    /// The agents that changed.
    Update,
    /// No agents: the test connection.
    KeepAlive,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    version: u32,
    #[serde(rename = "type")]
    kind: MessageType,
    tenant: &'a str,
    at: Timestamp,
    keep_alive_seconds: u64,
    agents: Vec<AgentBody<'a>>,
}

#[derive(Debug, Serialize)]
struct AgentBody<'a> {
    agent_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<String>,
    state: &'static str,
    code: &'a str,
    reason: Option<&'a str>,
    since: Timestamp,
}

/// The agents' extensions, when the payload carries them: an optional `extension` member of an
/// agent, which [`AgentStatesUpdate`] does not model (yet) and ignores when reading.
#[derive(Debug, Default, Deserialize)]
struct Extensions {
    #[serde(default)]
    agents: Vec<AgentExtension>,
}

#[derive(Debug, Deserialize)]
struct AgentExtension {
    agent: String,
    #[serde(default)]
    extension: Option<String>,
}

/// The prefixes put in front of ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefixes {
    /// In front of agent ids.
    pub agent_id: String,
    /// In front of extensions.
    pub extension: String,
}

/// Renders an update as the body of one POST; `extensions` gives agents' phone extensions.
pub fn render(
    update: &AgentStatesUpdate,
    kind: MessageType,
    prefixes: &Prefixes,
    extensions: &HashMap<String, String>,
    keep_alive: Duration,
) -> Vec<u8> {
    let body = Body {
        version: SCHEMA_VERSION,
        kind,
        tenant: &update.tenant,
        at: update.at,
        keep_alive_seconds: keep_alive.as_secs(),
        agents: update
            .agents
            .iter()
            .map(|a| AgentBody {
                agent_id: format!("{}{}", prefixes.agent_id, a.agent),
                extension: extensions
                    .get(&a.agent)
                    .map(|e| format!("{}{e}", prefixes.extension)),
                state: a.state.as_str(),
                code: &a.code,
                reason: a.reason.as_deref(),
                since: a.since,
            })
            .collect(),
    };
    // Plain strings, numbers and timestamps: serializing cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Sends real-time updates to NICE.
#[derive(Debug)] // safe: the endpoint shows its origin only, never the token
pub struct NiceTarget {
    tenant: String,
    endpoint: JsonEndpoint,
    prefixes: Prefixes,
    keep_alive: Duration,
}

impl NiceTarget {
    /// Builds the target from an account's checked properties (`url`, `keep_alive`,
    /// `agent_id_prefix`, `extension_prefix`, `token`, `timeout`).
    pub fn from_account(account: &AccountConfig) -> Result<NiceTarget, AccountError> {
        Ok(NiceTarget {
            tenant: account.tenant.clone().unwrap_or_default(),
            endpoint: JsonEndpoint::from_account(account)?,
            prefixes: Prefixes {
                agent_id: account
                    .text("agent_id_prefix")
                    .unwrap_or_default()
                    .to_string(),
                extension: account
                    .text("extension_prefix")
                    .unwrap_or_default()
                    .to_string(),
            },
            keep_alive: keep_alive(account),
        })
    }

    /// The keep-alive interval.
    pub fn keep_alive(&self) -> Duration {
        self.keep_alive
    }
}

#[async_trait]
impl Target for NiceTarget {
    async fn check(&self) -> CheckVerdict {
        let empty = AgentStatesUpdate {
            tenant: self.tenant.clone(),
            snapshot: false,
            at: Timestamp::now(),
            agents: Vec::new(),
        };
        let body = render(
            &empty,
            MessageType::KeepAlive,
            &self.prefixes,
            &HashMap::new(),
            self.keep_alive,
        );
        self.endpoint.probe(body, "a keep-alive").await
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let update = realtime::decode(message, ACCOUNT_TYPE.name)?;
        // The payload was just read as an update, so it is JSON; extensions are optional extras.
        let extensions: HashMap<String, String> =
            serde_json::from_slice::<Extensions>(&message.payload)
                .unwrap_or_default()
                .agents
                .into_iter()
                .filter_map(|a| Some((a.agent, a.extension.filter(|e| !e.is_empty())?)))
                .collect();
        let kind = match update.snapshot {
            true => MessageType::Snapshot,
            false => MessageType::Update,
        };
        let body = render(&update, kind, &self.prefixes, &extensions, self.keep_alive);
        self.endpoint.post(message, body).await
    }
}
