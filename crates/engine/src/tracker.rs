//! The state tracker: every agent's current state, per tenant, for real-time flows.
//!
//! ACDs report two things about an agent: presence (logged out, ready, not ready with a reason) and
//! contact activity (idle, on a contact, wrapping up). The tracker keeps both and flattens them into
//! the canonical state targets receive: the activity while there is one, else the presence.
//!
//! Events arrive out of order and twice (retried pushes, overlapping imports): an agent's board
//! follows the newest event by `at`; an older event is kept by the store for statistics but does not
//! change the current state, and an exact repeat changes nothing. Every change bumps the tenant's
//! version, so a flow asks "what changed since version v" for its deltas.
//!
//! The board starts from the store (each agent's latest event) and then follows the states change
//! feed, so events written by another process (an import) reach it too; the ingest API also applies
//! accepted events directly, which is what keeps the delay from push to target low.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use wfm_model::Record;
use wfm_model::{AgentState, AgentStateEvent, RecordKind};
use wfm_store::{ChangeCursor, Store, StoreError};

/// What an agent is doing on a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// No contact.
    Idle,
    /// On a contact.
    Busy,
    /// After-contact work.
    Acw,
}

/// Whether and how an agent is available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Not logged in.
    LoggedOut,
    /// Available for contacts.
    Ready,
    /// Logged in but unavailable, with the ACD's reason.
    NotReady(Option<String>),
}

/// One agent's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentNow {
    /// Presence dimension.
    pub presence: Presence,
    /// Activity dimension.
    pub activity: Activity,
    /// When the flattened state last changed.
    pub since: Timestamp,
    /// Instant of the newest event applied.
    pub at: Timestamp,
    /// Tenant version at which the flattened state last changed.
    pub version: u64,
}

impl AgentNow {
    /// The canonical state: the activity while on a contact, else the presence.
    pub fn state(&self) -> AgentState {
        match (self.activity, &self.presence) {
            (Activity::Busy, _) => AgentState::Busy,
            (Activity::Acw, _) => AgentState::Acw,
            (Activity::Idle, Presence::LoggedOut) => AgentState::LoggedOut,
            (Activity::Idle, Presence::Ready) => AgentState::Ready,
            (Activity::Idle, Presence::NotReady(_)) => AgentState::NotReady,
        }
    }

    /// The reason of a `not_ready` state.
    pub fn reason(&self) -> Option<&str> {
        match (&self.presence, self.activity) {
            (Presence::NotReady(reason), Activity::Idle) => reason.as_deref(),
            _ => None,
        }
    }

    /// Whether the agent is logged in.
    pub fn logged_in(&self) -> bool {
        self.state() != AgentState::LoggedOut
    }
}

/// One tenant's agents.
#[derive(Debug, Default)]
struct Board {
    agents: HashMap<String, AgentNow>,
    version: u64,
    /// Where the board follows the store's change feed from.
    feed: Option<ChangeCursor>,
}

impl Board {
    /// Applies one event; returns whether the flattened state changed.
    fn apply(&mut self, event: &AgentStateEvent) -> bool {
        let previous = self.agents.get(&event.agent);
        if let Some(now) = previous
            && event.at < now.at
        {
            return false;
        }
        let (presence, activity) = match event.state {
            AgentState::LoggedOut => (Presence::LoggedOut, Activity::Idle),
            AgentState::Ready => (Presence::Ready, Activity::Idle),
            AgentState::NotReady => (Presence::NotReady(event.reason.clone()), Activity::Idle),
            // A contact keeps the presence the agent had (an outbound call while not ready).
            AgentState::Busy | AgentState::Acw => {
                let presence = match previous.map(|p| &p.presence) {
                    Some(Presence::LoggedOut) | None => Presence::Ready,
                    Some(p) => p.clone(),
                };
                let activity = if event.state == AgentState::Busy {
                    Activity::Busy
                } else {
                    Activity::Acw
                };
                (presence, activity)
            }
        };
        let mut next = AgentNow {
            presence,
            activity,
            since: event.at,
            at: event.at,
            version: 0,
        };
        let changed = match previous {
            Some(now) if now.state() == next.state() && now.reason() == next.reason() => {
                // Same flattened state: keep when it began.
                next.since = now.since;
                next.version = now.version;
                false
            }
            _ => {
                self.version += 1;
                next.version = self.version;
                true
            }
        };
        // The id is copied once per agent, not once per event.
        match self.agents.get_mut(&event.agent) {
            Some(now) => *now = next,
            None => {
                self.agents.insert(event.agent.clone(), next);
            }
        }
        changed
    }
}

/// The current state of every agent of every tenant that a real-time flow follows.
#[derive(Debug, Default, Clone)]
pub struct StateTracker {
    boards: Arc<Mutex<HashMap<String, Board>>>,
}

/// Changes read from the store per page when following the feed.
const FEED_PAGE: usize = 10_000;

impl StateTracker {
    fn boards(&self) -> MutexGuard<'_, HashMap<String, Board>> {
        // A panic elsewhere while holding the lock leaves consistent maps: keep going.
        self.boards.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies events (any order, any tenants); returns how many changed an agent's state.
    pub fn apply(&self, events: &[AgentStateEvent]) -> usize {
        let mut order: Vec<&AgentStateEvent> = events.iter().collect();
        order.sort_by_key(|e| e.at);
        let mut boards = self.boards();
        order
            .into_iter()
            .filter(|e| {
                boards
                    .get_mut(&e.tenant)
                    .is_some_and(|board| board.apply(e))
            })
            .count()
    }

    /// Whether the tenant's board has been loaded.
    pub fn follows(&self, tenant: &str) -> bool {
        self.boards().contains_key(tenant)
    }

    /// Loads a tenant's board from the store (each agent's latest event) if not loaded yet, then
    /// applies what the store's change feed has since.
    pub async fn refresh(&self, store: &dyn Store, tenant: &str) -> Result<(), StoreError> {
        let feed = self.boards().get(tenant).and_then(|b| b.feed.clone());
        let mut cursor = match feed {
            Some(cursor) => cursor,
            None => {
                // The head first: events committed while the board loads come through the feed.
                let head = store.change_head(RecordKind::States, tenant).await?;
                let latest = store.latest_states(tenant).await?;
                let mut boards = self.boards();
                let board = boards.entry(tenant.to_string()).or_default();
                for event in &latest {
                    board.apply(event);
                }
                board.feed = Some(head.clone());
                head
            }
        };
        loop {
            let page = store
                .changes(RecordKind::States, tenant, &cursor, FEED_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            cursor = last.cursor.clone();
            let events: Vec<AgentStateEvent> = page
                .iter()
                .filter_map(|c| match &c.record {
                    Record::State(e) => Some(e.clone()),
                    _ => None,
                })
                .collect();
            let full = page.len() == FEED_PAGE;
            self.apply(&events);
            if let Some(board) = self.boards().get_mut(tenant) {
                board.feed = Some(cursor.clone());
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// The tenant's version: it grows with every change.
    pub fn version(&self, tenant: &str) -> u64 {
        self.boards().get(tenant).map_or(0, |b| b.version)
    }

    /// Every agent whose state changed after `version`, in id order, and the current version.
    pub fn changed_since(&self, tenant: &str, version: u64) -> (Vec<(String, AgentNow)>, u64) {
        let boards = self.boards();
        let Some(board) = boards.get(tenant) else {
            return (Vec::new(), 0);
        };
        let mut changed: Vec<(String, AgentNow)> = board
            .agents
            .iter()
            .filter(|(_, now)| now.version > version)
            .map(|(id, now)| (id.clone(), now.clone()))
            .collect();
        changed.sort_by(|a, b| a.0.cmp(&b.0));
        (changed, board.version)
    }

    /// Every logged-in agent, in id order, and the current version.
    pub fn logged_in(&self, tenant: &str) -> (Vec<(String, AgentNow)>, u64) {
        let boards = self.boards();
        let Some(board) = boards.get(tenant) else {
            return (Vec::new(), 0);
        };
        let mut agents: Vec<(String, AgentNow)> = board
            .agents
            .iter()
            .filter(|(_, now)| now.logged_in())
            .map(|(id, now)| (id.clone(), now.clone()))
            .collect();
        agents.sort_by(|a, b| a.0.cmp(&b.0));
        (agents, board.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(agent: &str, at: &str, state: &str, reason: Option<&str>) -> AgentStateEvent {
        AgentStateEvent {
            tenant: "t".to_string(),
            agent: agent.to_string(),
            at: at.parse().unwrap(),
            state: AgentState::parse(state).unwrap(),
            reason: reason.map(str::to_string),
            source_code: None,
        }
    }

    fn tracker() -> StateTracker {
        let t = StateTracker::default();
        t.boards().insert("t".to_string(), Board::default());
        t
    }

    #[test]
    fn newest_event_wins_whatever_the_arrival_order() {
        let t = tracker();
        t.apply(&[
            event("a", "2024-03-01T08:05:00Z", "busy", None),
            event("a", "2024-03-01T08:00:00Z", "ready", None),
        ]);
        // Arrives late: older than what the board has.
        t.apply(&[event("a", "2024-03-01T07:00:00Z", "logged_out", None)]);
        let (agents, _) = t.logged_in("t");
        assert_eq!(agents.len(), 1);
        assert_eq!(agents[0].1.state(), AgentState::Busy);
        assert_eq!(agents[0].1.since.to_string(), "2024-03-01T08:05:00Z");
    }

    #[test]
    fn duplicates_and_same_state_change_nothing() {
        let t = tracker();
        let e = event("a", "2024-03-01T08:00:00Z", "ready", None);
        assert_eq!(t.apply(std::slice::from_ref(&e)), 1);
        let v = t.version("t");
        assert_eq!(t.apply(&[e]), 0);
        assert_eq!(
            t.apply(&[event("a", "2024-03-01T08:01:00Z", "ready", None)]),
            0
        );
        assert_eq!(t.version("t"), v);
        let (agents, _) = t.logged_in("t");
        assert_eq!(agents[0].1.since.to_string(), "2024-03-01T08:00:00Z");
    }

    #[test]
    fn two_dimensions_flatten_and_deltas_list_changes() {
        let t = tracker();
        t.apply(&[event(
            "a",
            "2024-03-01T08:00:00Z",
            "not_ready",
            Some("Lunch"),
        )]);
        let v = t.version("t");
        t.apply(&[event("a", "2024-03-01T08:10:00Z", "busy", None)]);
        let (changed, now) = t.changed_since("t", v);
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].1.state(), AgentState::Busy);
        // The presence stays not ready under the contact.
        assert_eq!(
            changed[0].1.presence,
            Presence::NotReady(Some("Lunch".to_string()))
        );
        assert!(t.changed_since("t", now).0.is_empty());
        t.apply(&[event("b", "2024-03-01T08:11:00Z", "logged_out", None)]);
        let (changed, _) = t.changed_since("t", now);
        assert_eq!(changed[0].0, "b");
        assert_eq!(t.logged_in("t").0.len(), 1);
        // Unknown tenants are not tracked.
        let mut other = event("x", "2024-03-01T08:00:00Z", "ready", None);
        other.tenant = "u".to_string();
        assert_eq!(t.apply(&[other]), 0);
    }
}
