//! Agent state events: the timeline of what each agent is doing.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::RecordError;
use crate::validate;

/// The canonical agent state. A state holds from its event until the agent's next event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Not logged in (also the state before an agent's first event).
    LoggedOut,
    /// Idle, waiting for work.
    Ready,
    /// On a contact.
    Busy,
    /// After-contact work.
    Acw,
    /// Logged in but not taking contacts, with an optional reason.
    NotReady,
}

impl AgentState {
    /// Every state, in canonical order.
    pub const ALL: [AgentState; 5] = [
        AgentState::LoggedOut,
        AgentState::Ready,
        AgentState::Busy,
        AgentState::Acw,
        AgentState::NotReady,
    ];

    /// The canonical name (`logged_out`, `ready`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Ready => "ready",
            AgentState::Busy => "busy",
            AgentState::Acw => "acw",
            AgentState::NotReady => "not_ready",
        }
    }

    /// Parses a canonical name.
    pub fn parse(name: &str) -> Option<AgentState> {
        AgentState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Logged in: any state but `logged_out`.
    pub fn is_logged_in(self) -> bool {
        self != AgentState::LoggedOut
    }
}

/// One change of an agent's state (DESIGN §4: `{tenant, agent, at, state, reason?, source_code?}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStateEvent {
    /// Tenant id.
    pub tenant: String,
    /// Agent id.
    pub agent: String,
    /// When the agent entered the state.
    pub at: Timestamp,
    /// The state entered.
    pub state: AgentState,
    /// Reason of a `not_ready` state (Lunch, Break, Meeting…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The ACD's own code for the state, kept for mappings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_code: Option<String>,
}

impl AgentStateEvent {
    /// Checks ids, texts and that the time is plausible.
    pub fn validate(&self) -> Result<(), RecordError> {
        validate::id("tenant", &self.tenant)?;
        validate::id("agent", &self.agent)?;
        let year = self.at.to_zoned(jiff::tz::TimeZone::UTC).year();
        if !(1970..=2199).contains(&year) {
            return Err(RecordError::field(
                "at",
                format!("at {} is not a plausible time (year {year})", self.at),
            ));
        }
        if let Some(reason) = &self.reason {
            validate::required_text("reason", reason)?;
        }
        if let Some(code) = &self.source_code {
            validate::text("source_code", code)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let e: AgentStateEvent = serde_json::from_str(
            r#"{"tenant":"t","agent":"a","at":"2024-03-01T08:00:00Z","state":"not_ready","reason":"Lunch"}"#,
        )
        .unwrap();
        e.validate().unwrap();
        assert_eq!(e.state, AgentState::NotReady);
    }

    #[test]
    fn wrong_state_lists_the_choices() {
        let err = serde_json::from_str::<AgentStateEvent>(
            r#"{"tenant":"t","agent":"a","at":"2024-03-01T08:00:00Z","state":"away"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("expected one of `logged_out`, `ready`"),
            "{err}"
        );
    }

    #[test]
    fn names_round_trip() {
        for s in AgentState::ALL {
            assert_eq!(AgentState::parse(s.as_str()), Some(s));
        }
    }
}
