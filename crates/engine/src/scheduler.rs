//! The scheduler: runs each enabled flow on its schedule until told to stop.
//!
//! `every` flows run at start and then every period after the previous start (a run that overruns is
//! followed at once by the next); `cron` flows run at the next matching local time of their tenant;
//! `continuous` flows run again as soon as a run ends, pausing briefly when it found nothing.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use wfm_connectors::sources::{DirectorySource, Source};
use wfm_model::Schedule;
use wfm_store::Store;

use crate::clock::now_ms;
use crate::flows::agent_states;
use crate::flows::{FlowKind, FlowSettings};
use crate::metrics::Metrics;
use crate::runner::{RunReport, run_once};
use crate::tracker::StateTracker;

/// Pause of a continuous flow that found nothing to do, and after a store error.
const IDLE: Duration = Duration::from_secs(1);

/// A flow as the scheduler runs it.
pub struct ScheduledFlow {
    /// The flow.
    pub flow: FlowSettings,
    /// Its tenant's time zone, for cron schedules.
    pub zone: TimeZone,
    /// Its source account, when it ingests.
    pub source: Option<Arc<dyn Source>>,
    /// Its directory-source account, when it is a directory flow reading an account.
    pub directory: Option<Arc<dyn DirectorySource>>,
}

/// Runs every enabled flow on its schedule until `stop` turns true; waits for runs in progress.
/// Real-time flows run on their own clocks, fed by `tracker`.
pub async fn run(
    store: Arc<dyn Store>,
    flows: Vec<ScheduledFlow>,
    tracker: StateTracker,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    for scheduled in flows.into_iter().filter(|s| s.flow.enabled) {
        if scheduled.flow.kind == FlowKind::AgentStates {
            tasks.spawn(agent_states::run_forever(
                store.clone(),
                scheduled.flow,
                tracker.clone(),
                metrics.clone(),
                wake.clone(),
                stop.clone(),
            ));
            continue;
        }
        tasks.spawn(schedule_flow(
            store.clone(),
            scheduled,
            metrics.clone(),
            wake.clone(),
            stop.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
}

async fn schedule_flow(
    store: Arc<dyn Store>,
    scheduled: ScheduledFlow,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let ScheduledFlow {
        flow,
        zone,
        source,
        directory,
    } = scheduled;
    let mut last_start: Option<i64> = None;
    let mut idle = false;
    loop {
        let now = now_ms();
        let due = match &flow.schedule {
            Schedule::Every(period) => last_start.map_or(now, |s| s + period.as_millis() as i64),
            Schedule::Cron(cron) => {
                let after = Timestamp::from_millisecond(now).expect("now is a valid instant");
                match cron.next_after(after, &zone) {
                    Some(at) => at.as_millisecond(),
                    None => {
                        tracing::warn!(flow = %flow.name, cron = %cron, "the cron expression never fires again");
                        return;
                    }
                }
            }
            Schedule::Continuous if idle => now + IDLE.as_millis() as i64,
            Schedule::Continuous => now,
        };
        let wait = Duration::from_millis((due - now).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        last_start = Some(now_ms());
        match run_once(
            &store,
            &flow,
            source.as_deref(),
            directory.as_deref(),
            &metrics,
            &stop,
        )
        .await
        {
            Ok(RunReport::Ended { counts, error, .. }) => {
                if counts.sent > 0 {
                    wake.notify_one();
                }
                idle = counts.read == 0 || error.is_some();
            }
            Ok(RunReport::Busy) => idle = true,
            Err(e) => {
                tracing::error!(flow = %flow.name, error = %e, "cannot record the run");
                idle = true;
            }
        }
    }
}
