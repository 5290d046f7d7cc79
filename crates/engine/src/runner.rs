//! One run of one flow: take the flow's lease, execute it, record the run.
//!
//! Only one run of a flow happens at a time, across processes: the store hands out a lease per flow
//! and this module keeps renewing it while the run lasts. A run whose process dies is ended as
//! `abandoned` by the next one; its committed steps stand, the rest is read again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use wfm_connectors::sources::{DirectorySource, Source};
use wfm_store::{RunEnd, RunStatus, Store, StoreError};

use crate::clock::now_ms;
use crate::flows::{self, FlowSettings, RunCounts};
use crate::metrics::Metrics;

/// How long a run holds its flow; renewed every third of it.
const LEASE: Duration = Duration::from_secs(60);

/// What became of a request to run a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunReport {
    /// Another run of the flow holds its lease.
    Busy,
    /// The run ended.
    Ended {
        /// Run id.
        id: i64,
        /// What it did.
        counts: RunCounts,
        /// Why it failed, if it did.
        error: Option<String>,
    },
}

/// Runs `flow` once, unless a run of it is in progress. `source` is the source account of an
/// ingesting flow, `directory` the directory-source account of a directory flow.
pub async fn run_once(
    store: &Arc<dyn Store>,
    flow: &FlowSettings,
    source: Option<&dyn Source>,
    directory: Option<&dyn DirectorySource>,
    metrics: &Metrics,
    stop: &watch::Receiver<bool>,
) -> Result<RunReport, StoreError> {
    let Some(id) = store
        .try_start_run(&flow.name, now_ms(), LEASE.as_millis() as i64)
        .await?
    else {
        return Ok(RunReport::Busy);
    };
    let renewer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = store
                    .renew_run(id, now_ms() + LEASE.as_millis() as i64)
                    .await
                {
                    tracing::warn!(run = id, error = %e, "cannot renew the run's lease");
                }
            }
        })
    };
    let result = flows::execute(store, flow, source, directory, stop).await;
    renewer.abort();
    let (counts, status, error) = match result {
        Ok(counts) => (counts, RunStatus::Succeeded, None),
        Err(e) => (RunCounts::default(), RunStatus::Failed, Some(e.to_string())),
    };
    store
        .finish_run(
            id,
            &RunEnd {
                ended_at: now_ms(),
                status,
                read: counts.read,
                sent: counts.sent,
                rejected: counts.rejected,
                error: error.clone(),
            },
        )
        .await?;
    metrics.run(&flow.name, status);
    match &error {
        Some(e) => tracing::warn!(flow = %flow.name, run = id, error = %e, "run failed"),
        None => {
            tracing::info!(flow = %flow.name, run = id, read = counts.read, messages = counts.sent, "run ended")
        }
    }
    Ok(RunReport::Ended { id, counts, error })
}
