//! How long a real-time snapshot of 20,000 agents takes to build from the state tracker and
//! serialise (README "Performance"). usage: cargo run --release -p wfm-engine --example snapshot
use std::collections::BTreeMap;
use std::time::Instant;

use wfm_connectors::accounts::PropertyValue;
use wfm_engine::flows::agent_states::RealtimeFlow;
use wfm_engine::flows::{FlowDirection, FlowKind, FlowSettings};
use wfm_engine::tracker::StateTracker;
use wfm_model::{AgentState, AgentStateEvent, Record, Schedule, Tenant};

#[tokio::main]
async fn main() {
    const AGENTS: usize = 20_000;
    let store = wfm_store::open("sqlite::memory:").await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.write(vec![Record::Tenant(Tenant {
        tenant: "t".into(),
        name: "T".into(),
        time_zone: "UTC".into(),
        interval_minutes: Default::default(),
        admin_reasons: vec![],
    })])
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let tracker = StateTracker::default();
    tracker.refresh(&*store, "t").await.unwrap();
    let states = [
        AgentState::Ready,
        AgentState::Busy,
        AgentState::Acw,
        AgentState::NotReady,
    ];
    let events: Vec<AgentStateEvent> = (0..AGENTS)
        .map(|i| AgentStateEvent {
            tenant: "t".into(),
            agent: format!("agent-{i:05}"),
            at: jiff::Timestamp::from_second(1_700_000_000 + i as i64).unwrap(),
            state: states[i % 4],
            reason: (i % 4 == 3).then(|| "Lunch".to_string()),
            source_code: None,
        })
        .collect();
    tracker.apply(&events);
    let mut codes = BTreeMap::new();
    codes.insert("ready".to_string(), "READY".to_string());
    codes.insert("not_ready:Lunch".to_string(), "LUNCH".to_string());
    let mut options = BTreeMap::new();
    options.insert("state_codes".to_string(), PropertyValue::Map(codes));
    let flow = FlowSettings {
        name: "rta".into(),
        kind: FlowKind::AgentStates,
        tenant: "t".into(),
        direction: FlowDirection::Deliver { target: "x".into() },
        schedule: Schedule::Continuous,
        enabled: true,
        options,
    };
    let realtime = RealtimeFlow::new(flow, store, tracker.clone());
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let (agents, _) = tracker.logged_in("t");
        let update = realtime.update(true, 1_800_000_000_000, agents);
        let payload = update.to_payload();
        best = best.min(started.elapsed().as_secs_f64());
        bytes = payload.len();
    }
    println!(
        "snapshot of {AGENTS} agents built and serialised in {:.1} ms (best of 20), {bytes} bytes",
        best * 1000.0
    );
}
