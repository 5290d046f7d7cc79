//! The `loxysoft` target: real-time agent states for Loxysoft WFM, POSTed as JSON.
//!
//! Bright Pattern's Loxysoft integration has a URL, a token, a periodic update interval (10 s by
//! default) and a mapping of services to Loxysoft skill codes; Loxysoft's own wire format is not
//! public, so the body is ours, versioned and documented here. Every [`AgentStatesUpdate`] becomes
//! one `POST {url}` with `Content-Type: application/json`, `Authorization: Bearer <token>` and the
//! generic `http` target's headers (`Idempotency-Key`, `X-Wfm-Bridge-*`):
//!
//! ```json
//! {
//!   "version": 1,
//!   "tenant": "nordic",
//!   "snapshot": true,
//!   "at": "2024-03-01T08:00:10Z",
//!   "interval_seconds": 10,
//!   "agents": [
//!     {"id": "1001", "state": "not_ready", "code": "LUNCH", "reason": "Lunch",
//!      "since": "2024-03-01T07:58:00Z", "seconds_in_state": 130, "skills": ["SUP", "SALES"]}
//!   ],
//!   "skills": [
//!     {"id": "SALES", "agents": ["1001"], "logged_in": 1,
//!      "ready": 0, "busy": 0, "acw": 0, "not_ready": 1},
//!     {"id": "SUP", "agents": ["1001"], "logged_in": 1,
//!      "ready": 0, "busy": 0, "acw": 0, "not_ready": 1}
//!   ]
//! }
//! ```
//!
//! - `snapshot: true`: every logged-in agent, an absent one is logged out; `false`: the agents that
//!   changed since the previous message (logged-out ones with state `logged_out`).
//! - `state` is canonical, `code` the flow's code for it, `seconds_in_state` = `at` − `since`.
//! - `skills` of an agent: its queues through the `skills` table (queue id → Loxysoft skill code),
//!   deduplicated and sorted. A queue without an entry is sent under its own id, so a gap in the
//!   table shows up in Loxysoft rather than silently dropping the agent's skill.
//! - The top-level `skills` summarises the logged-in agents of this message per skill code
//!   (complete in a snapshot, the changed agents only in a delta).
//! - `interval_seconds` repeats the account's `interval`, so Loxysoft knows when to expect the next
//!   message.
//!
//! **Cadence.** `interval` is how often the flow should send; [`cadence`] exposes it to the engine
//! through [`crate::targets::realtime::realtime_cadence`].
//!
//! **Test connection** POSTs an empty update (`snapshot: false`, no agents, no skills): it checks
//! the URL and the token without changing anything. Answers are classified like the `http`
//! target's: 401/403 wait for the operator, 5xx and network failures are retried, another 4xx
//! refuses the message.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;

use crate::accounts::{AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec};
use crate::targets::http::REQUEST_TIMEOUT;
use crate::targets::http_post::{JsonEndpoint, ServiceSummary, summarize};
use crate::targets::realtime::{self, AgentStateEntry, AgentStatesUpdate, RealtimeCadence};
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// Version of the body schema; bumped on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Default periodic update interval, as in Bright Pattern's Loxysoft account.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// The `loxysoft` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "loxysoft",
    description: "Real-time agent states for Loxysoft WFM (JSON over HTTPS)",
    properties: &[
        PropertySpec {
            name: "url",
            kind: PropertyKind::Url,
            required: true,
            secret: false,
            default: None,
            help: "the Loxysoft account's URL, where the real-time data is submitted",
        },
        PropertySpec {
            name: "token",
            kind: PropertyKind::Text,
            required: true,
            secret: true,
            default: None,
            help: "authorization token of the Loxysoft account, sent as Authorization: Bearer <token>",
        },
        PropertySpec {
            name: "interval",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("10s"),
            help: "periodic update interval: how often the agents that changed are sent",
        },
        PropertySpec {
            name: "skills",
            kind: PropertyKind::Map,
            required: false,
            secret: false,
            default: None,
            help: "Loxysoft skill codes by queue id (support = \"SUP\"); an unmapped queue is sent \
                   under its own id",
        },
        REQUEST_TIMEOUT,
    ],
    single_per_tenant: false,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(LoxysoftTarget::from_account(account)?))
}

/// The cadence a `loxysoft` account asks for: its `interval` as the update clock.
pub fn cadence(account: &AccountConfig) -> RealtimeCadence {
    RealtimeCadence {
        update_every: Some(interval(account)),
        snapshot_every: None,
    }
}

fn interval(account: &AccountConfig) -> Duration {
    account
        .duration("interval")
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_INTERVAL)
}

/// The body of one POST (see the module documentation).
#[derive(Debug, Serialize)]
struct Body<'a> {
    version: u32,
    tenant: &'a str,
    snapshot: bool,
    at: Timestamp,
    interval_seconds: u64,
    agents: Vec<AgentBody<'a>>,
    skills: Vec<ServiceSummary>,
}

#[derive(Debug, Serialize)]
struct AgentBody<'a> {
    id: &'a str,
    state: &'static str,
    code: &'a str,
    reason: Option<&'a str>,
    since: Timestamp,
    seconds_in_state: i64,
    skills: Vec<String>,
}

/// Queue ids to Loxysoft skill codes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkillMap(BTreeMap<String, String>);

impl SkillMap {
    /// The table as configured (`skills`); codes are trimmed, and an empty code is an error.
    pub fn from_map(map: BTreeMap<String, String>) -> Result<SkillMap, String> {
        let mut skills = BTreeMap::new();
        for (queue, code) in map {
            let code = code.trim();
            if code.is_empty() {
                return Err(format!(
                    "skills.{queue}: the Loxysoft skill code is empty; give the code or remove \
                     the entry"
                ));
            }
            skills.insert(queue, code.to_string());
        }
        Ok(SkillMap(skills))
    }

    /// The skill codes of an agent: its queues mapped, unmapped ones as they are, sorted, once.
    pub fn skills_of(&self, entry: &AgentStateEntry) -> Vec<String> {
        let mut codes: Vec<String> = entry
            .queues
            .iter()
            .map(|q| self.0.get(q).cloned().unwrap_or_else(|| q.clone()))
            .collect();
        codes.sort();
        codes.dedup();
        codes
    }
}

/// Renders an update as the body of one POST; `interval` is the account's update interval.
pub fn render(update: &AgentStatesUpdate, skills: &SkillMap, interval: Duration) -> Vec<u8> {
    let body = Body {
        version: SCHEMA_VERSION,
        tenant: &update.tenant,
        snapshot: update.snapshot,
        at: update.at,
        interval_seconds: interval.as_secs(),
        agents: update
            .agents
            .iter()
            .map(|a| AgentBody {
                id: &a.agent,
                state: a.state.as_str(),
                code: &a.code,
                reason: a.reason.as_deref(),
                since: a.since,
                // An agent whose state began after the update was built (clock skew) has 0.
                seconds_in_state: (update.at.as_second() - a.since.as_second()).max(0),
                skills: skills.skills_of(a),
            })
            .collect(),
        skills: summarize(&update.agents, |a| skills.skills_of(a)),
    };
    // Plain strings, numbers and timestamps: serializing cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Sends real-time updates to Loxysoft.
#[derive(Debug)] // safe: the endpoint shows its origin only, never the token
pub struct LoxysoftTarget {
    tenant: String,
    endpoint: JsonEndpoint,
    skills: SkillMap,
    interval: Duration,
}

impl LoxysoftTarget {
    /// Builds the target from an account's checked properties (`url`, `token`, `interval`,
    /// `skills`, `timeout`).
    pub fn from_account(account: &AccountConfig) -> Result<LoxysoftTarget, AccountError> {
        let error = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        if account.secret("token").is_none() {
            return Err(error(
                "property token is required: the authorization token of the Loxysoft account"
                    .to_string(),
            ));
        }
        Ok(LoxysoftTarget {
            tenant: account.tenant.clone().unwrap_or_default(),
            endpoint: JsonEndpoint::from_account(account)?,
            skills: SkillMap::from_map(account.map("skills")).map_err(error)?,
            interval: interval(account),
        })
    }

    /// The periodic update interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

#[async_trait]
impl Target for LoxysoftTarget {
    async fn check(&self) -> CheckVerdict {
        let empty = AgentStatesUpdate {
            tenant: self.tenant.clone(),
            snapshot: false,
            at: Timestamp::now(),
            agents: Vec::new(),
        };
        let body = render(&empty, &self.skills, self.interval);
        self.endpoint.probe(body, "an empty update").await
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let update = realtime::decode(message, ACCOUNT_TYPE.name)?;
        let body = render(&update, &self.skills, self.interval);
        self.endpoint.post(message, body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_model::AgentState;

    #[test]
    fn skills_map_queues_and_keep_unmapped_ones() {
        let skills = SkillMap::from_map(
            [("q1", " SUP "), ("q2", "SALES"), ("q3", "SUP")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        )
        .unwrap();
        let entry = AgentStateEntry {
            agent: "a1".into(),
            state: AgentState::Ready,
            reason: None,
            code: "READY".into(),
            since: "2024-03-01T08:00:00Z".parse().unwrap(),
            queues: vec!["q3".into(), "q1".into(), "q9".into(), "q2".into()],
        };
        assert_eq!(skills.skills_of(&entry), ["SALES", "SUP", "q9"]);
        let err = SkillMap::from_map([("q1".to_string(), " ".to_string())].into()).unwrap_err();
        assert!(err.starts_with("skills.q1:"), "{err}");
    }
}
