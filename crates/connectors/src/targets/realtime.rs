//! The payload of real-time agent-state messages, which every real-time target renders into its own
//! protocol (Calabrio RTA, WFM HTTP POST, Loxysoft, Aspect TCP, NICE).
//!
//! An `agent_states` flow builds one [`AgentStatesUpdate`] per tick: a full snapshot of the
//! logged-in agents every `snapshot_every`, and the agents that changed every `update_every`. The
//! flow has already mapped each canonical state (and reason) to the target's code
//! (`[flows.state_codes]`), so targets only translate the envelope.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use wfm_model::AgentState;

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
