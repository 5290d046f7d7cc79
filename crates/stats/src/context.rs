//! What a statistics run is computed against: the tenant's interval grid over the window, cut once
//! into UTC pieces with an O(1) lookup table, and the directory (queues, agents, skills) interned to
//! small integers.
//!
//! Everything here is prepared before the first segment arrives so that the hot loops in
//! [`crate::StatsBuilder`] do no time-zone arithmetic and no allocation: an instant becomes an
//! interval label by one division and a short forward scan, an id becomes an index by one map lookup.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::civil::{Date, Time};
use wfm_model::{Agent, IntervalGrid, IntervalLength, Queue, RecordError, Tenant};

use crate::hash::FxMap;

/// Service-level threshold of a queue without a record (DESIGN §4 default).
pub const DEFAULT_SL_SECONDS: u32 = 20;
/// Short-abandon threshold of a queue without a record (DESIGN §4 default).
pub const DEFAULT_SHORT_ABANDON_SECONDS: u32 = 5;

/// The longest window accepted, in local days (ten years and a bit).
///
/// A longer window is almost certainly a typing error (2204 for 2024); it would also make the
/// per-window tables (labels, pieces, lookup buckets) needlessly large.
pub const MAX_WINDOW_DAYS: i64 = 3_700;

/// Why a statistics run cannot start or cannot take an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    /// The tenant record cannot give an interval grid (its time zone is unknown).
    #[error("tenant {tenant}: {source}")]
    Tenant {
        /// Tenant id.
        tenant: String,
        /// What is wrong with it.
        source: RecordError,
    },
    /// `to` is before `from`.
    #[error("the statistics window ends ({to}) before it starts ({from}); give from <= to")]
    EmptyWindow {
        /// First local date asked for.
        from: Date,
        /// Last local date asked for.
        to: Date,
    },
    /// The window is longer than [`MAX_WINDOW_DAYS`].
    #[error(
        "the statistics window {from}..{to} is {days} days long; at most {MAX_WINDOW_DAYS} days are computed at once, split the run"
    )]
    WindowTooLong {
        /// First local date asked for.
        from: Date,
        /// Last local date asked for.
        to: Date,
        /// Days in the window.
        days: i64,
    },
    /// A state timeline went back in time.
    #[error(
        "agent {agent}: state event at {at} comes after one at {previous}; a timeline must be in time order"
    )]
    UnorderedTimeline {
        /// Agent id.
        agent: String,
        /// The offending event's instant.
        at: jiff::Timestamp,
        /// The instant of the event before it.
        previous: jiff::Timestamp,
    },
    /// A timeline passed for one agent holds another agent's event.
    #[error(
        "the timeline of agent {expected} holds an event of agent {found}; pass one agent's events per call"
    )]
    TimelineAgentMismatch {
        /// The agent the timeline was given for.
        expected: String,
        /// The agent of the stray event.
        found: String,
    },
}

/// One contiguous UTC span `[start, end)` (milliseconds since the epoch) carrying one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Index into [`StatsContext::labels`].
    pub(crate) label: u32,
}

/// A queue as statistics need it.
#[derive(Debug, Clone)]
pub(crate) struct QueueInfo {
    pub(crate) id: Arc<str>,
    pub(crate) name: Arc<str>,
    pub(crate) sl_seconds: i64,
    pub(crate) short_abandon_seconds: i64,
}

/// An agent as statistics need it.
#[derive(Debug, Clone)]
pub(crate) struct AgentInfo {
    pub(crate) id: Arc<str>,
    pub(crate) name: Arc<str>,
    /// Indices of the queues whose `wait_dur` this agent's ready time counts towards.
    pub(crate) skills: Vec<u32>,
}

/// Width of a lookup bucket: every UTC offset in use today is a multiple of 15 minutes, so bucket
/// starts rarely fall inside a piece that ends within the same bucket.
const BUCKET_MS: i64 = 15 * 60 * 1000;

/// The tenant, the window and the directory of one statistics run.
///
/// Built once per run by [`StatsContext::new`], then handed to [`crate::StatsBuilder::new`].
#[derive(Debug, Clone)]
pub struct StatsContext {
    pub(crate) tenant: String,
    pub(crate) length: IntervalLength,
    pub(crate) from: Date,
    pub(crate) to: Date,
    /// First instant of the window, ms.
    pub(crate) window_start: i64,
    /// First instant after the window, ms.
    pub(crate) window_end: i64,
    /// Every label of the window, ascending by (date, time): a label's index orders rows.
    pub(crate) labels: Vec<(Date, Time)>,
    /// UTC pieces tiling the window, ascending.
    pub(crate) pieces: Vec<Piece>,
    /// For each [`BUCKET_MS`] bucket from the window start: the piece holding the bucket's start.
    buckets: Vec<u32>,
    pub(crate) admin_reasons: HashSet<String>,
    pub(crate) queues: Vec<QueueInfo>,
    pub(crate) queue_index: FxMap<Box<str>, u32>,
    pub(crate) agents: Vec<AgentInfo>,
    pub(crate) agent_index: FxMap<Box<str>, u32>,
}

impl StatsContext {
    /// Prepares a run for `tenant` over the local dates `from..=to` (both included).
    ///
    /// `interval` overrides the tenant's interval length. Queue and agent records of other tenants
    /// are ignored; when an id appears twice, the later record wins. A queue without a record (met in
    /// a segment or an agent's skills) is named by its id with the default thresholds (20 s / 5 s);
    /// an agent without a record is named by its id and has no skills.
    pub fn new<'a>(
        tenant: &Tenant,
        queues: impl IntoIterator<Item = &'a Queue>,
        agents: impl IntoIterator<Item = &'a Agent>,
        from: Date,
        to: Date,
        interval: Option<IntervalLength>,
    ) -> Result<StatsContext, StatsError> {
        if to < from {
            return Err(StatsError::EmptyWindow { from, to });
        }
        let days = i64::from(
            to.since(from)
                .expect("the span between two valid dates exists")
                .get_days(),
        ) + 1;
        if days > MAX_WINDOW_DAYS {
            return Err(StatsError::WindowTooLong { from, to, days });
        }
        let zone = tenant.zone().map_err(|source| StatsError::Tenant {
            tenant: tenant.tenant.clone(),
            source,
        })?;
        let length = interval.unwrap_or(tenant.interval_minutes);
        let grid = IntervalGrid::new(zone, length);

        let (start, end) = grid.window(from, to);
        let mut labels = Vec::with_capacity(days as usize * length.per_day() as usize);
        let mut pieces = Vec::with_capacity(labels.capacity() + 8);
        let mut date = from;
        loop {
            let day = grid.day(date);
            let base = labels.len() as u32;
            labels.extend(day.labels.iter().map(|t| (date, *t)));
            pieces.extend(day.pieces.iter().map(|p| Piece {
                start: p.start.as_millisecond(),
                end: p.end.as_millisecond(),
                label: base + p.label as u32,
            }));
            if date == to {
                break;
            }
            date = wfm_model::time::next_day(date);
        }
        let window_start = start.as_millisecond();
        let window_end = end.as_millisecond();
        debug_assert_eq!(pieces.first().map(|p| p.start), Some(window_start));
        debug_assert_eq!(pieces.last().map(|p| p.end), Some(window_end));

        let bucket_count = ((window_end - window_start) + BUCKET_MS - 1) / BUCKET_MS;
        let mut buckets = Vec::with_capacity(bucket_count as usize);
        let mut piece = 0usize;
        for b in 0..bucket_count {
            let at = window_start + b * BUCKET_MS;
            while pieces[piece].end <= at {
                piece += 1;
            }
            buckets.push(piece as u32);
        }

        let mut ctx = StatsContext {
            tenant: tenant.tenant.clone(),
            length,
            from,
            to,
            window_start,
            window_end,
            labels,
            pieces,
            buckets,
            admin_reasons: tenant.admin_reasons.iter().cloned().collect(),
            queues: Vec::new(),
            queue_index: FxMap::default(),
            agents: Vec::new(),
            agent_index: FxMap::default(),
        };
        for q in queues {
            if q.tenant != ctx.tenant {
                continue;
            }
            let i = ctx.queue(&q.queue) as usize;
            ctx.queues[i].name = Arc::from(q.display_name());
            ctx.queues[i].sl_seconds = i64::from(q.sl_seconds);
            ctx.queues[i].short_abandon_seconds = i64::from(q.short_abandon_seconds);
        }
        for a in agents {
            if a.tenant != ctx.tenant {
                continue;
            }
            let i = ctx.agent(&a.agent) as usize;
            let mut skills: Vec<u32> = a.skills.iter().map(|q| ctx.queue(q)).collect();
            // A skill listed twice must not count the agent's ready time twice.
            skills.sort_unstable();
            skills.dedup();
            ctx.agents[i].name = Arc::from(a.display_name());
            ctx.agents[i].skills = skills;
        }
        Ok(ctx)
    }

    /// The tenant id.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The interval length the run cuts.
    pub fn interval(&self) -> IntervalLength {
        self.length
    }

    /// First local date of the window.
    pub fn from(&self) -> Date {
        self.from
    }

    /// Last local date of the window (included).
    pub fn to(&self) -> Date {
        self.to
    }

    /// The window as UTC instants `[start, end)`.
    pub fn window(&self) -> (jiff::Timestamp, jiff::Timestamp) {
        let at =
            |ms| jiff::Timestamp::from_millisecond(ms).expect("window bounds came from timestamps");
        (at(self.window_start), at(self.window_end))
    }

    /// Number of interval labels (potential rows per queue or agent) in the window.
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// The index of a queue id, interning an unknown one with its id as name and default thresholds.
    pub(crate) fn queue(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.queue_index.get(id) {
            return i;
        }
        let i = self.queues.len() as u32;
        let id: Arc<str> = Arc::from(id);
        self.queues.push(QueueInfo {
            id: id.clone(),
            name: id.clone(),
            sl_seconds: i64::from(DEFAULT_SL_SECONDS),
            short_abandon_seconds: i64::from(DEFAULT_SHORT_ABANDON_SECONDS),
        });
        self.queue_index.insert(Box::from(&*id), i);
        i
    }

    /// The index of an agent id, interning an unknown one with its id as name and no skills.
    pub(crate) fn agent(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.agent_index.get(id) {
            return i;
        }
        let i = self.agents.len() as u32;
        let id: Arc<str> = Arc::from(id);
        self.agents.push(AgentInfo {
            id: id.clone(),
            name: id.clone(),
            skills: Vec::new(),
        });
        self.agent_index.insert(Box::from(&*id), i);
        i
    }

    /// The piece holding instant `at` (ms), which must lie in the window.
    #[inline]
    pub(crate) fn piece_at(&self, at: i64) -> usize {
        debug_assert!(at >= self.window_start && at < self.window_end);
        let mut i = self.buckets[((at - self.window_start) / BUCKET_MS) as usize] as usize;
        // A bucket may span a piece boundary (every bucket of a 15-minute grid does not, but a
        // half-hour offset change or an old local-mean-time offset does): scan forward.
        while self.pieces[i].end <= at {
            i += 1;
        }
        i
    }

    /// The label index of instant `at` (ms), which must lie in the window.
    #[inline]
    pub(crate) fn label_at(&self, at: i64) -> u32 {
        self.pieces[self.piece_at(at)].label
    }
}
