//! The `http_post` target: Bright Pattern's "WFM over HTTP POST", real-time agent states POSTed
//! as JSON to a WFM's URL.
//!
//! The vendor's body is not public, so the schema is ours, versioned and documented here. Every
//! [`AgentStatesUpdate`] becomes one `POST {url}` with `Content-Type: application/json`, the
//! optional `token` as `Authorization: Bearer …`, and the headers of the generic `http` target
//! (`Idempotency-Key`, `X-Wfm-Bridge-Flow`, `X-Wfm-Bridge-Message`, `X-Wfm-Bridge-Attempt`):
//!
//! ```json
//! {
//!   "version": 1,
//!   "tenant": "nordic",
//!   "snapshot": false,
//!   "at": "2024-03-01T08:00:10Z",
//!   "agents": [
//!     {"id": "1001", "state": "not_ready", "code": "LUNCH", "reason": "Lunch",
//!      "reason_code": 12, "since": "2024-03-01T07:58:00Z", "services": ["q1", "q2"]},
//!     {"id": "1002", "state": "ready", "code": "READY", "reason": null,
//!      "reason_code": 0, "since": "2024-03-01T07:59:30Z", "services": ["q1"]}
//!   ],
//!   "services": [
//!     {"id": "q1", "agents": ["1001", "1002"], "logged_in": 2,
//!      "ready": 1, "busy": 0, "acw": 0, "not_ready": 1},
//!     {"id": "q2", "agents": ["1001"], "logged_in": 1,
//!      "ready": 0, "busy": 0, "acw": 0, "not_ready": 1}
//!   ]
//! }
//! ```
//!
//! - `snapshot: true`: `agents` lists every logged-in agent, and an agent absent is logged out;
//!   `false`: only the agents whose state changed (a logged-out agent appears with state
//!   `logged_out`).
//! - `agents[].state` is the canonical state (`logged_out`, `ready`, `busy`, `acw`, `not_ready`);
//!   `code` the flow's code for it (`[flows.state_codes]`); `reason` the not-ready reason as text;
//!   `reason_code` its number from `reason_codes` ([`ReasonCodes`]); `services` the queues the
//!   agent is skilled for.
//! - `services` groups the logged-in agents **of this message** by queue, with counts per state:
//!   complete in a snapshot, the changed agents only in a delta. Queues are sorted by id.
//!
//! **Test connection** POSTs the same body with empty `agents` and `services` (and `snapshot:
//! false`, so a receiver logs nobody out).
//!
//! **Errors are not kept.** Bright Pattern ignores a failed POST and sends again at the next
//! interval; here every failure, even a refusal (4xx), is logged and returned as
//! [`DeliveryError::Retry`]: the agent_states flow supersedes a message that is not delivered by
//! the next tick with a fresh snapshot, so nothing stale piles up and nothing is dead-lettered for
//! a WFM that refused one update. A 429 stays [`DeliveryError::Throttled`].
//!
//! This module also holds what the other JSON real-time targets (`loxysoft`, `nice`) share: the
//! reason-code table, the per-queue summary and the JSON endpoint.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use wfm_model::AgentState;

use crate::accounts::{AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec};
use crate::http;
use crate::targets::http::{HttpTarget, REQUEST_TIMEOUT};
use crate::targets::realtime::{self, AgentStateEntry, AgentStatesUpdate};
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// Version of the body schema; bumped on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The `http_post` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "http_post",
    description: "Real-time agent states POSTed as JSON to a WFM (Bright Pattern's \"WFM over HTTP POST\")",
    properties: &[
        PropertySpec {
            name: "url",
            kind: PropertyKind::Url,
            required: true,
            secret: false,
            default: None,
            help: "the WFM account's URL every update is POSTed to",
        },
        PropertySpec {
            name: "token",
            kind: PropertyKind::Text,
            required: false,
            secret: true,
            default: None,
            help: "access token of the WFM account, sent as Authorization: Bearer <token>",
        },
        PropertySpec {
            name: "reason_codes",
            kind: PropertyKind::Map,
            required: false,
            secret: false,
            default: None,
            help: "numeric reason codes by canonical state or \"not_ready:<reason>\" \
                   (\"not_ready:Lunch\" = \"12\"); unmapped states and reasons send 0",
        },
        REQUEST_TIMEOUT,
    ],
    single_per_tenant: false,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(HttpPostTarget::from_account(account)?))
}

// ---- reason codes ------------------------------------------------------------------------------

/// Numeric reason codes, as WFMs that take reasons only as numbers need them.
///
/// Keys are a canonical state (`ready`, `not_ready`, …) or `not_ready:<reason>`; values whole
/// numbers. A `not_ready` agent takes the code of `not_ready:<its reason>` (the reason matched
/// exactly, else ignoring case), else of `not_ready`; any other agent the code of its state. The
/// default for everything unmapped is [`ReasonCodes::NONE`] (0, "no reason"), so an empty table
/// sends 0 throughout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasonCodes {
    by_state: BTreeMap<AgentState, u32>,
    by_reason: BTreeMap<String, u32>,
}

impl ReasonCodes {
    /// The code of a state or reason nobody mapped: no reason.
    pub const NONE: u32 = 0;

    /// Reads a `reason_codes` table; the error names the entry that is wrong and says why.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<ReasonCodes, String> {
        let mut codes = ReasonCodes::default();
        for (key, value) in map {
            let code: u32 = value.trim().parse().map_err(|_| {
                format!(
                    "reason_codes.{key}: {value:?} is not a whole number from 0 to {}; \
                     a WFM takes reason codes as numbers",
                    u32::MAX
                )
            })?;
            let state = AgentState::parse(key);
            match (key.split_once(':'), state) {
                (Some(("not_ready", reason)), _) if !reason.trim().is_empty() => {
                    codes.by_reason.insert(reason.to_string(), code);
                }
                (None, Some(state)) => {
                    codes.by_state.insert(state, code);
                }
                _ => {
                    return Err(format!(
                        "reason_codes.{key}: not a canonical state (logged_out, ready, busy, acw, \
                         not_ready) or \"not_ready:<reason>\""
                    ));
                }
            }
        }
        Ok(codes)
    }

    /// The code of an agent in `state` with `reason`.
    pub fn code(&self, state: AgentState, reason: Option<&str>) -> u32 {
        if state == AgentState::NotReady
            && let Some(reason) = reason
        {
            let exact = self.by_reason.get(reason);
            let loose = || {
                self.by_reason
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(reason))
                    .map(|(_, v)| v)
            };
            if let Some(code) = exact.or_else(loose) {
                return *code;
            }
        }
        self.by_state.get(&state).copied().unwrap_or(Self::NONE)
    }

    /// The largest code in the table (0 when empty): what a fixed-width field must hold.
    pub fn max_code(&self) -> u32 {
        self.by_state
            .values()
            .chain(self.by_reason.values())
            .copied()
            .max()
            .unwrap_or(Self::NONE)
    }

    /// Reads an account's `reason_codes` property, as an [`AccountError`] when it is wrong.
    pub fn from_account(account: &AccountConfig) -> Result<ReasonCodes, AccountError> {
        ReasonCodes::from_map(&account.map("reason_codes")).map_err(|message| AccountError {
            account: account.name.clone(),
            message,
        })
    }
}

// ---- per-queue summary -------------------------------------------------------------------------

/// The logged-in agents of one message that share a queue (or a skill), with counts per state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceSummary {
    /// Queue id (`http_post`) or skill code (`loxysoft`).
    pub id: String,
    /// The agents, in id order.
    pub agents: Vec<String>,
    /// How many (all logged in).
    pub logged_in: usize,
    /// How many are ready.
    pub ready: usize,
    /// How many are on a contact.
    pub busy: usize,
    /// How many are in after-contact work.
    pub acw: usize,
    /// How many are not ready.
    pub not_ready: usize,
}

/// Groups the logged-in agents of `entries` by the keys `keys_of` gives each (its queues, its
/// skill codes), sorted by key. An agent with a key twice counts once.
pub fn summarize(
    entries: &[AgentStateEntry],
    keys_of: impl Fn(&AgentStateEntry) -> Vec<String>,
) -> Vec<ServiceSummary> {
    let mut by_key: BTreeMap<String, ServiceSummary> = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.state.is_logged_in()) {
        let mut keys = keys_of(entry);
        keys.sort();
        keys.dedup();
        for key in keys {
            let summary = by_key.entry(key.clone()).or_insert_with(|| ServiceSummary {
                id: key,
                agents: Vec::new(),
                logged_in: 0,
                ready: 0,
                busy: 0,
                acw: 0,
                not_ready: 0,
            });
            summary.agents.push(entry.agent.clone());
            summary.logged_in += 1;
            match entry.state {
                AgentState::Ready => summary.ready += 1,
                AgentState::Busy => summary.busy += 1,
                AgentState::Acw => summary.acw += 1,
                AgentState::NotReady => summary.not_ready += 1,
                AgentState::LoggedOut => {}
            }
        }
    }
    let mut summaries: Vec<ServiceSummary> = by_key.into_values().collect();
    for s in &mut summaries {
        s.agents.sort();
    }
    summaries
}

// ---- the JSON endpoint the real-time HTTP targets share ----------------------------------------

/// One URL that real-time updates are POSTed to as JSON, with the generic `http` target's
/// headers, token handling and classification of answers (see [`crate::http`]).
#[derive(Debug, Clone)]
pub struct JsonEndpoint {
    http: HttpTarget,
}

impl JsonEndpoint {
    /// From an account's `url`, `token` (optional, secret) and `timeout`.
    pub fn from_account(account: &AccountConfig) -> Result<JsonEndpoint, AccountError> {
        let error = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        let url = account
            .text("url")
            .ok_or_else(|| error("property url is required: where updates are POSTed".into()))?;
        let token = account.secret("token").cloned();
        let timeout = account.duration("timeout").unwrap_or(http::DEFAULT_TIMEOUT);
        let http = HttpTarget::new(url, token, timeout).map_err(error)?;
        Ok(JsonEndpoint { http })
    }

    /// `scheme://host:port` of the URL: what messages name.
    pub fn origin(&self) -> &str {
        self.http.origin()
    }

    /// POSTs `body` (JSON) in place of `message`'s payload, with `message`'s idempotency key,
    /// flow, name and attempt.
    pub async fn post(
        &self,
        message: &OutboundMessage,
        body: Vec<u8>,
    ) -> Result<(), DeliveryError> {
        let rendered = OutboundMessage {
            id: message.id,
            flow: message.flow.clone(),
            key: message.key.clone(),
            idempotency_key: message.idempotency_key.clone(),
            name: message.name.clone(),
            content_type: "application/json".to_string(),
            payload: body,
            attempt: message.attempt,
        };
        self.http.deliver(&rendered).await
    }

    /// A test connection: POSTs `body`, which must change nothing on the receiver, and says
    /// whether it was taken. `what` names the body in the verdict ("an empty update").
    pub async fn probe(&self, body: Vec<u8>, what: &str) -> CheckVerdict {
        let nonce = Timestamp::now().as_nanosecond();
        let message = OutboundMessage {
            id: 0,
            flow: "test-connection".to_string(),
            key: "test-connection".to_string(),
            idempotency_key: format!("test-connection:{nonce}"),
            name: "test-connection.json".to_string(),
            content_type: "application/json".to_string(),
            payload: Vec::new(),
            attempt: 1,
        };
        match self.post(&message, body).await {
            Ok(()) => CheckVerdict::ok(format!("connected: {} accepted {what}", self.origin())),
            Err(e) => CheckVerdict::failed(e.to_string()),
        }
    }
}

// ---- the target --------------------------------------------------------------------------------

/// The body of one POST (see the module documentation).
#[derive(Debug, Serialize)]
struct Body<'a> {
    version: u32,
    tenant: &'a str,
    snapshot: bool,
    at: Timestamp,
    agents: Vec<AgentBody<'a>>,
    services: Vec<ServiceSummary>,
}

#[derive(Debug, Serialize)]
struct AgentBody<'a> {
    id: &'a str,
    state: &'static str,
    code: &'a str,
    reason: Option<&'a str>,
    reason_code: u32,
    since: Timestamp,
    services: &'a [String],
}

/// Renders an update as the body of one POST.
pub fn render(update: &AgentStatesUpdate, reason_codes: &ReasonCodes) -> Vec<u8> {
    let body = Body {
        version: SCHEMA_VERSION,
        tenant: &update.tenant,
        snapshot: update.snapshot,
        at: update.at,
        agents: update
            .agents
            .iter()
            .map(|a| AgentBody {
                id: &a.agent,
                state: a.state.as_str(),
                code: &a.code,
                reason: a.reason.as_deref(),
                reason_code: reason_codes.code(a.state, a.reason.as_deref()),
                since: a.since,
                services: &a.queues,
            })
            .collect(),
        services: summarize(&update.agents, |a| a.queues.clone()),
    };
    // Plain strings, numbers and timestamps: serializing cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The body of a test connection: no agents, no services, not a snapshot.
pub fn render_empty(tenant: &str) -> Vec<u8> {
    render(
        &AgentStatesUpdate {
            tenant: tenant.to_string(),
            snapshot: false,
            at: Timestamp::now(),
            agents: Vec::new(),
        },
        &ReasonCodes::default(),
    )
}

/// POSTs real-time updates to a WFM.
#[derive(Debug)] // safe: the endpoint shows its origin only, never the token
pub struct HttpPostTarget {
    account: String,
    tenant: String,
    endpoint: JsonEndpoint,
    reason_codes: ReasonCodes,
}

impl HttpPostTarget {
    /// Builds the target from an account's checked properties (`url`, `token`, `reason_codes`,
    /// `timeout`).
    pub fn from_account(account: &AccountConfig) -> Result<HttpPostTarget, AccountError> {
        Ok(HttpPostTarget {
            account: account.name.clone(),
            tenant: account.tenant.clone().unwrap_or_default(),
            endpoint: JsonEndpoint::from_account(account)?,
            reason_codes: ReasonCodes::from_account(account)?,
        })
    }
}

#[async_trait]
impl Target for HttpPostTarget {
    async fn check(&self) -> CheckVerdict {
        self.endpoint
            .probe(
                render_empty(&self.tenant),
                "an empty agents and services list",
            )
            .await
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let update = realtime::decode(message, ACCOUNT_TYPE.name)?;
        let body = render(&update, &self.reason_codes);
        match self.endpoint.post(message, body).await {
            Ok(()) => Ok(()),
            Err(error) => {
                tracing::warn!(
                    account = %self.account,
                    flow = %message.flow,
                    %error,
                    "WFM HTTP POST failed; the next update goes at the next interval"
                );
                Err(match error {
                    // A WFM refusing one update says nothing about the next: keep it retryable
                    // and let the flow's next snapshot supersede it.
                    DeliveryError::Rejected { reason } => DeliveryError::Retry {
                        reason,
                        retry_after: None,
                    },
                    other => other,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reason_codes_by_reason_then_state_then_zero() {
        let codes = ReasonCodes::from_map(&map(&[
            ("not_ready:Lunch", "12"),
            ("not_ready", "9"),
            ("acw", " 3 "),
        ]))
        .unwrap();
        assert_eq!(codes.code(AgentState::NotReady, Some("Lunch")), 12);
        assert_eq!(codes.code(AgentState::NotReady, Some("LUNCH")), 12);
        assert_eq!(codes.code(AgentState::NotReady, Some("Meeting")), 9);
        assert_eq!(codes.code(AgentState::NotReady, None), 9);
        assert_eq!(codes.code(AgentState::Acw, None), 3);
        assert_eq!(codes.code(AgentState::Ready, None), ReasonCodes::NONE);
        assert_eq!(codes.max_code(), 12);
        assert_eq!(
            ReasonCodes::default().code(AgentState::NotReady, Some("x")),
            0
        );
    }

    #[test]
    fn reason_codes_are_checked() {
        let err = ReasonCodes::from_map(&map(&[("not_ready:Lunch", "twelve")])).unwrap_err();
        assert!(err.starts_with("reason_codes.not_ready:Lunch: \"twelve\" is not a whole number"));
        let err = ReasonCodes::from_map(&map(&[("away", "1")])).unwrap_err();
        assert!(err.contains("not a canonical state"), "{err}");
        let err = ReasonCodes::from_map(&map(&[("ready:x", "1")])).unwrap_err();
        assert!(err.contains("not a canonical state"), "{err}");
        assert!(ReasonCodes::from_map(&map(&[("not_ready:", "1")])).is_err());
        assert!(ReasonCodes::from_map(&map(&[("ready", "-1")])).is_err());
    }

    fn entry(agent: &str, state: AgentState, queues: &[&str]) -> AgentStateEntry {
        AgentStateEntry {
            agent: agent.to_string(),
            state,
            reason: None,
            code: state.as_str().to_uppercase(),
            since: "2024-03-01T08:00:00Z".parse().unwrap(),
            queues: queues.iter().map(|q| q.to_string()).collect(),
        }
    }

    #[test]
    fn services_count_logged_in_agents_per_queue() {
        let entries = [
            entry("a2", AgentState::Ready, &["q2", "q1"]),
            entry("a1", AgentState::Busy, &["q1", "q1"]),
            entry("a3", AgentState::LoggedOut, &["q1"]),
            entry("a4", AgentState::NotReady, &[]),
        ];
        let services = summarize(&entries, |a| a.queues.clone());
        assert_eq!(services.len(), 2);
        assert_eq!(services[0].id, "q1");
        assert_eq!(services[0].agents, ["a1", "a2"]);
        assert_eq!(
            (services[0].logged_in, services[0].ready, services[0].busy),
            (2, 1, 1)
        );
        assert_eq!(services[1].id, "q2");
        assert_eq!(services[1].agents, ["a2"]);
    }
}
