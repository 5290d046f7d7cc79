//! Flow kind `agent_states`: every agent's current state to a real-time target.
//!
//! Two clocks: every `snapshot_every` a full snapshot of the logged-in agents (a target logs out
//! whoever is absent), and every `update_every` the agents whose state changed since the last
//! message. Real-time data is perishable: when the previous message has not been delivered by the
//! next tick (the target is down or slow), the flow sends a fresh snapshot instead of a delta and
//! marks every older pending message superseded, so a target that comes back gets the present, not
//! a replay of stale states.
//!
//! Codes: `[flows.state_codes]` maps a canonical state (`ready`) or a state with its reason
//! (`"not_ready:Lunch"`) to the target's code; without an entry the code is the canonical state, and
//! `not_ready:<reason>` for a reason.
//!
//! Only one process sends a flow: the long-lived loop holds the flow's run lease for as long as it
//! runs; another `serve` waits on standby and takes over when the lease expires.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use wfm_connectors::accounts::{PropertyKind, PropertySpec, PropertyValue};
use wfm_connectors::targets::realtime::{AgentStateEntry, AgentStatesUpdate, CONTENT_TYPE};
use wfm_model::{AgentState, Record, RecordKind};
use wfm_store::{NaturalKey, NewMessage, RunEnd, RunStatus, Store, StoreError};

use super::{FlowError, FlowSettings, RunCounts};
use crate::clock::now_ms;
use crate::metrics::Metrics;
use crate::tracker::{AgentNow, StateTracker};

/// Options of `agent_states` flows.
pub const OPTIONS: &[PropertySpec] = &[
    PropertySpec {
        name: "update_every",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: Some("10s"),
        help: "how often the agents that changed are sent",
    },
    PropertySpec {
        name: "snapshot_every",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: Some("15m"),
        help: "how often a full snapshot of the logged-in agents is sent",
    },
    PropertySpec {
        name: "state_codes",
        kind: PropertyKind::Map,
        required: false,
        secret: false,
        default: None,
        help: "target codes by canonical state or \"not_ready:<reason>\" (ready = \"READY\")",
    },
];

/// `snapshot_every` when neither the flow nor its account says otherwise.
pub const DEFAULT_SNAPSHOT_EVERY: Duration = Duration::from_secs(15 * 60);

/// How long the sending process holds the flow; renewed on every tick.
const LEASE: Duration = Duration::from_secs(30);

/// Checks option values the schema cannot.
pub fn check_options(flow: &FlowSettings) -> Result<(), String> {
    let (update, snapshot) = clocks(flow);
    if update < Duration::from_millis(100) {
        return Err("update_every must be at least 100ms".to_string());
    }
    if snapshot < update {
        return Err(format!(
            "snapshot_every ({}) is shorter than update_every ({}); a target with a keep-alive \
             (nice) sets snapshot_every to it, so update at least that often",
            humantime(snapshot),
            humantime(update)
        ));
    }
    for key in codes(flow).keys() {
        let state = key.split_once(':').map_or(key.as_str(), |(s, _)| s);
        if AgentState::parse(state).is_none() || (key.contains(':') && state != "not_ready") {
            return Err(format!(
                "state_codes key {key:?} is not a canonical state (logged_out, ready, busy, acw, not_ready) or \"not_ready:<reason>\""
            ));
        }
    }
    Ok(())
}

fn clocks(flow: &FlowSettings) -> (Duration, Duration) {
    let duration = |name: &str, default: u64| match flow.options.get(name) {
        Some(PropertyValue::Duration(d)) => *d,
        _ => Duration::from_secs(default),
    };
    (
        duration("update_every", 10),
        duration("snapshot_every", DEFAULT_SNAPSHOT_EVERY.as_secs()),
    )
}

fn humantime(d: Duration) -> String {
    if d.subsec_millis() != 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

fn codes(flow: &FlowSettings) -> BTreeMap<String, String> {
    match flow.options.get("state_codes") {
        Some(PropertyValue::Map(m)) => m.clone(),
        _ => BTreeMap::new(),
    }
}

/// The target's code for a state: `"not_ready:<reason>"`, then the state, then the canonical name.
pub fn code_for(
    codes: &BTreeMap<String, String>,
    state: AgentState,
    reason: Option<&str>,
) -> String {
    if state == AgentState::NotReady
        && let Some(reason) = reason
    {
        let key = format!("not_ready:{reason}");
        return codes.get(&key).cloned().unwrap_or(key);
    }
    codes
        .get(state.as_str())
        .cloned()
        .unwrap_or_else(|| state.as_str().to_string())
}

/// A real-time flow between ticks.
pub struct RealtimeFlow {
    flow: FlowSettings,
    codes: BTreeMap<String, String>,
    store: Arc<dyn Store>,
    tracker: StateTracker,
    /// Queue ids per agent, read at each snapshot.
    skills: HashMap<String, Vec<String>>,
    last_snapshot: Option<i64>,
    sent_version: u64,
}

/// What one tick queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tick {
    /// Agents in the message (0: nothing sent).
    pub agents: usize,
    /// Whether it was a snapshot.
    pub snapshot: bool,
}

impl RealtimeFlow {
    /// A flow fed by `tracker`.
    pub fn new(flow: FlowSettings, store: Arc<dyn Store>, tracker: StateTracker) -> RealtimeFlow {
        RealtimeFlow {
            codes: codes(&flow),
            flow,
            store,
            tracker,
            skills: HashMap::new(),
            last_snapshot: None,
            sent_version: 0,
        }
    }

    /// One tick at `now` (ms): a snapshot when one is due (or forced, or the previous message is
    /// still undelivered), else the agents that changed.
    pub async fn tick(&mut self, now: i64, force_snapshot: bool) -> Result<Tick, FlowError> {
        let tenant = self.flow.tenant.clone();
        self.tracker.refresh(&*self.store, &tenant).await?;
        let (_, snapshot_every) = clocks(&self.flow);
        let behind = self.store.pending_messages(&self.flow.name).await? > 0;
        let due = self
            .last_snapshot
            .is_none_or(|at| now - at >= snapshot_every.as_millis() as i64);
        if force_snapshot || due || behind {
            self.skills = read_skills(&*self.store, &tenant).await?;
            let (agents, version) = self.tracker.logged_in(&tenant);
            let count = agents.len();
            let update = self.update(true, now, agents);
            let mut tx = self.store.begin().await?;
            // Anything still waiting is older than this snapshot, which replaces it.
            tx.supersede(&self.flow.name, None, i64::MAX).await?;
            tx.enqueue(vec![self.message(&update, now, "snapshot")], now)
                .await?;
            tx.commit().await?;
            self.last_snapshot = Some(now);
            self.sent_version = version;
            return Ok(Tick {
                agents: count,
                snapshot: true,
            });
        }
        let (changed, version) = self.tracker.changed_since(&tenant, self.sent_version);
        if changed.is_empty() {
            return Ok(Tick::default());
        }
        let count = changed.len();
        let update = self.update(false, now, changed);
        let mut tx = self.store.begin().await?;
        tx.enqueue(vec![self.message(&update, now, "delta")], now)
            .await?;
        tx.commit().await?;
        self.sent_version = version;
        Ok(Tick {
            agents: count,
            snapshot: false,
        })
    }

    /// Builds an update from the board.
    pub fn update(
        &self,
        snapshot: bool,
        now: i64,
        agents: Vec<(String, AgentNow)>,
    ) -> AgentStatesUpdate {
        AgentStatesUpdate {
            tenant: self.flow.tenant.clone(),
            snapshot,
            at: Timestamp::from_millisecond(now).expect("now is a valid instant"),
            agents: agents
                .into_iter()
                .map(|(agent, now)| {
                    let state = now.state();
                    let reason = now.reason().map(str::to_string);
                    AgentStateEntry {
                        code: code_for(&self.codes, state, reason.as_deref()),
                        queues: self.skills.get(&agent).cloned().unwrap_or_default(),
                        agent,
                        state,
                        reason,
                        since: now.since,
                    }
                })
                .collect(),
        }
    }

    fn message(&self, update: &AgentStatesUpdate, now: i64, what: &str) -> NewMessage {
        NewMessage {
            flow: self.flow.name.clone(),
            key: self.flow.tenant.clone(),
            idempotency_key: format!("{}:{what}:{now}:{}", self.flow.name, self.sent_version),
            name: format!("{}-{what}-{now}.json", self.flow.name),
            content_type: CONTENT_TYPE.to_string(),
            payload: update.to_payload(),
        }
    }
}

/// Every agent's skills, for targets that report services.
async fn read_skills(
    store: &dyn Store,
    tenant: &str,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut skills = HashMap::new();
    let mut after: Option<NaturalKey> = None;
    loop {
        let page = store
            .read_page(RecordKind::Agents, Some(tenant), after.as_ref(), 5_000)
            .await?;
        let full = page.len() == 5_000;
        after = page.last().map(NaturalKey::of);
        for record in page {
            if let Record::Agent(a) = record {
                skills.insert(a.agent, a.skills);
            }
        }
        if !full {
            return Ok(skills);
        }
    }
}

/// One snapshot, for `run <flow> --once`.
pub async fn execute_once(
    store: &Arc<dyn Store>,
    flow: &FlowSettings,
) -> Result<RunCounts, FlowError> {
    let mut realtime = RealtimeFlow::new(flow.clone(), store.clone(), StateTracker::default());
    let tick = realtime.tick(now_ms(), true).await?;
    Ok(RunCounts {
        read: tick.agents as u64,
        sent: 1,
        rejected: 0,
    })
}

/// Runs the flow until `stop`: holds its lease (or waits on standby while another process holds
/// it) and ticks every `update_every`.
pub async fn run_forever(
    store: Arc<dyn Store>,
    flow: FlowSettings,
    tracker: StateTracker,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let (update_every, _) = clocks(&flow);
    let mut realtime = RealtimeFlow::new(flow.clone(), store.clone(), tracker);
    let mut run: Option<i64> = None;
    let mut counts = RunCounts::default();
    let mut ticker = tokio::time::interval(update_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
        let now = now_ms();
        let lease_until = now + LEASE.as_millis() as i64;
        match run {
            Some(id) => {
                if let Err(e) = store.renew_run(id, lease_until).await {
                    // Another process took over after our lease expired: step back.
                    tracing::warn!(flow = %flow.name, error = %e, "lost the flow's lease; standing by");
                    run = None;
                    continue;
                }
            }
            None => match store
                .try_start_run(&flow.name, now, LEASE.as_millis() as i64)
                .await
            {
                Ok(Some(id)) => {
                    tracing::info!(flow = %flow.name, run = id, "sending agent states");
                    run = Some(id);
                    // A new sender starts with a snapshot.
                    realtime.last_snapshot = None;
                }
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(flow = %flow.name, error = %e, "cannot take the flow's lease");
                    continue;
                }
            },
        }
        match realtime.tick(now, false).await {
            Ok(tick) if tick.agents > 0 || tick.snapshot => {
                counts.read += tick.agents as u64;
                counts.sent += 1;
                metrics.realtime(&flow.name, tick.snapshot);
                wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(flow = %flow.name, error = %e, "agent states tick failed"),
        }
    }
    if let Some(id) = run {
        let end = RunEnd {
            ended_at: now_ms(),
            status: RunStatus::Succeeded,
            read: counts.read,
            sent: counts.sent,
            rejected: 0,
            error: None,
        };
        if let Err(e) = store.finish_run(id, &end).await {
            tracing::warn!(flow = %flow.name, error = %e, "cannot record the end of the run");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_fall_back_to_canonical_names() {
        let mut codes = BTreeMap::new();
        codes.insert("ready".to_string(), "READY".to_string());
        codes.insert("not_ready:Lunch".to_string(), "LUNCH".to_string());
        codes.insert("logged_out".to_string(), "LOGGED-OFF".to_string());
        assert_eq!(code_for(&codes, AgentState::Ready, None), "READY");
        assert_eq!(
            code_for(&codes, AgentState::NotReady, Some("Lunch")),
            "LUNCH"
        );
        assert_eq!(
            code_for(&codes, AgentState::NotReady, Some("Break")),
            "not_ready:Break"
        );
        assert_eq!(code_for(&codes, AgentState::NotReady, None), "not_ready");
        assert_eq!(code_for(&codes, AgentState::Acw, None), "acw");
        assert_eq!(code_for(&codes, AgentState::LoggedOut, None), "LOGGED-OFF");
    }
}
