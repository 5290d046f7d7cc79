//! The payload of real-time agent-state messages, which every real-time target renders into its own
//! protocol (Calabrio RTA, WFM HTTP POST, Loxysoft, Aspect TCP, NICE).
//!
//! An `agent_states` flow builds one [`AgentStatesUpdate`] per tick: a full snapshot of the
//! logged-in agents every `snapshot_every`, and the agents that changed every `update_every`. The
//! flow has already mapped each canonical state (and reason) to the target's code
//! (`[flows.state_codes]`), so targets only translate the envelope.
//!
//! Helpers every real-time target shares: [`decode`] reads a message's update (refusing other
//! payloads), and [`realtime_cadence`] tells the engine how often an account wants updates and
//! snapshots (Loxysoft's periodic update interval, NICE's keep-alive).

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use wfm_model::AgentState;

use crate::accounts::AccountConfig;
use crate::targets::{DeliveryError, OutboundMessage};

/// MIME type of an [`AgentStatesUpdate`] payload.
pub const CONTENT_TYPE: &str = "application/vnd.wfm-bridge.agent-states+json";

/// One real-time message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatesUpdate {
    /// Tenant id.
    pub tenant: String,
    /// A full snapshot: `agents` lists every logged-in agent, and an agent absent from it is
    /// logged out. Otherwise only the agents whose state changed since the previous message.
    pub snapshot: bool,
    /// When the update was built.
    pub at: Timestamp,
    /// The agents, in id order.
    pub agents: Vec<AgentStateEntry>,
}

/// One agent's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStateEntry {
    /// Agent id (the ACD user id; Calabrio's UserCode).
    pub agent: String,
    /// Canonical state.
    pub state: AgentState,
    /// Reason of a `not_ready` state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The target's code for the state, mapped by the flow (`READY`, `LUNCH`, `LOGGED-OFF`…).
    pub code: String,
    /// When the agent entered the state.
    pub since: Timestamp,
    /// Queue ids the agent is skilled for (targets that report services use them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<String>,
}

impl AgentStatesUpdate {
    /// Reads a payload; the error says what is wrong with it.
    pub fn from_payload(payload: &[u8]) -> Result<AgentStatesUpdate, String> {
        serde_json::from_slice(payload).map_err(|e| format!("not an agent-states payload: {e}"))
    }

    /// The payload bytes.
    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("updates serialize")
    }
}

/// Whether a message's content type is [`CONTENT_TYPE`] (parameters such as `charset` ignored).
pub fn is_agent_states(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    media_type.eq_ignore_ascii_case(CONTENT_TYPE)
}

/// Reads the [`AgentStatesUpdate`] of a message delivered to an account of type `account_type`.
///
/// Real-time targets take nothing else. A message of another content type, or a payload that is
/// not an update, is [`DeliveryError::Rejected`]: sending it again cannot help, and the reason says
/// which kind of account takes such a payload so the operator can point the flow elsewhere.
pub fn decode(
    message: &OutboundMessage,
    account_type: &str,
) -> Result<AgentStatesUpdate, DeliveryError> {
    if !is_agent_states(&message.content_type) {
        return Err(DeliveryError::Rejected {
            reason: format!(
                "account type {account_type} takes real-time agent states ({CONTENT_TYPE}, from an \
                 agent_states flow) only, not {:?}: files and statistics go to an account of type \
                 files, sftp or http",
                message.content_type
            ),
        });
    }
    AgentStatesUpdate::from_payload(&message.payload).map_err(|reason| DeliveryError::Rejected {
        reason: format!("account type {account_type}: {reason}"),
    })
}

/// How often a real-time account wants to hear from its flow: what the engine should honour on top
/// of the flow's own `update_every` and `snapshot_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RealtimeCadence {
    /// The account's periodic update interval (`loxysoft.interval`): send the changed agents this
    /// often. `None`: no preference, the flow's `update_every` decides.
    pub update_every: Option<Duration>,
    /// The longest the account may go without a full snapshot (`nice.keep_alive`): the receiver
    /// treats silence beyond it as a lost connection, so send a snapshot at least this often even
    /// when nothing changed. `None`: the flow's `snapshot_every` decides.
    pub snapshot_every: Option<Duration>,
}

/// The cadence an account prefers, from its type and properties; the default (no preference) for
/// types without one. The engine takes the shorter of the flow's `snapshot_every` and
/// [`RealtimeCadence::snapshot_every`], and uses [`RealtimeCadence::update_every`] as the update
/// clock of a flow to this account.
pub fn realtime_cadence(account: &AccountConfig) -> RealtimeCadence {
    match account.account_type.as_str() {
        "loxysoft" => crate::targets::loxysoft::cadence(account),
        "nice" => crate::targets::nice::cadence(account),
        _ => RealtimeCadence::default(),
    }
}
