//! Interval statistics of a window, computed from the store.
//!
//! Reads what `wfm_stats` needs, page by page: the tenant's queues and agents, the segments offered
//! in the window, and each agent's state timeline with the state it was in when the window starts.
//! Memory follows the output (the statistics builder keeps one cell per row), not the input.

use jiff::civil::Date;
use wfm_model::{Agent, IntervalLength, Queue, Record, RecordKind, Tenant};
use wfm_stats::{IntervalStats, StatsBuilder, StatsContext, StatsError};
use wfm_store::{NaturalKey, OfferedPosition, Store, StoreError};

/// Segments read per page.
const PAGE: usize = 20_000;

/// How far before the window to look for agents without a record whose state carries into it.
/// Agents with a record are always read; this only matters for ids seen in states alone.
pub const AGENT_LOOK_BEHIND_MS: i64 = 7 * 86_400_000;

/// Why statistics could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum StatisticsError {
    /// No such tenant in the store.
    #[error("tenant {0:?} is not in the store (import its tenants file or configure it)")]
    UnknownTenant(String),
    /// The window or the tenant cannot be computed.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The statistics of `tenant` for the local dates `from..=to`, with the tenant's interval length or
/// `interval`.
pub async fn compute(
    store: &dyn Store,
    tenant: &str,
    from: Date,
    to: Date,
    interval: Option<IntervalLength>,
) -> Result<IntervalStats, StatisticsError> {
    let tenant: Tenant = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == tenant)
        .ok_or_else(|| StatisticsError::UnknownTenant(tenant.to_string()))?;
    let queues: Vec<Queue> = read_all(store, RecordKind::Queues, &tenant.tenant)
        .await?
        .into_iter()
        .filter_map(|r| match r {
            Record::Queue(q) => Some(q),
            _ => None,
        })
        .collect();
    let agents: Vec<Agent> = read_all(store, RecordKind::Agents, &tenant.tenant)
        .await?
        .into_iter()
        .filter_map(|r| match r {
            Record::Agent(a) => Some(a),
            _ => None,
        })
        .collect();
    let ctx = StatsContext::new(&tenant, &queues, &agents, from, to, interval)?;
    let (start, end) = ctx.window();
    let (start, end) = (start.as_millisecond(), end.as_millisecond());
    let mut builder = StatsBuilder::new(ctx);

    let mut after: Option<OfferedPosition> = None;
    loop {
        let page = store
            .segments_offered(&tenant.tenant, start, end, after.as_ref(), PAGE)
            .await?;
        for segment in &page {
            builder.add_segment(segment);
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(OfferedPosition::of(last)),
            _ => break,
        }
    }

    let mut ids: Vec<String> = agents.iter().map(|a| a.agent.clone()).collect();
    ids.extend(
        store
            .agents_with_states(&tenant.tenant, start - AGENT_LOOK_BEHIND_MS, end)
            .await?,
    );
    ids.sort();
    ids.dedup();
    for agent in ids {
        let timeline = store
            .agent_timeline(&tenant.tenant, &agent, start, end)
            .await?;
        let initial = timeline
            .before
            .as_ref()
            .map(|e| (e.state, e.reason.as_deref()));
        builder.add_timeline(&agent, initial, &timeline.within)?;
    }
    Ok(builder.finish())
}

/// Every record of one kind of a tenant.
async fn read_all(
    store: &dyn Store,
    kind: RecordKind,
    tenant: &str,
) -> Result<Vec<Record>, StoreError> {
    let mut out = Vec::new();
    let mut after: Option<NaturalKey> = None;
    loop {
        let page = store
            .read_page(kind, Some(tenant), after.as_ref(), 5_000)
            .await?;
        let full = page.len() == 5_000;
        after = page.last().map(NaturalKey::of);
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}
