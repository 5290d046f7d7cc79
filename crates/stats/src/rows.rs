//! The output of a statistics run: queue, agent and agent-queue rows (DESIGN §5), with the exact
//! field names of the design and the Teleopti `queue_logg` / `agent_logg` columns.
//!
//! Rows are self-contained (ids and names are shared `Arc<str>`, cheap to clone, so rows can be
//! rendered, sent between threads or stored without the context that made them). Each row kind
//! lists its measure names ([`QueueRow::FIELDS`]…) and values ([`QueueRow::measures`]…) in the
//! design's order, which renderers and tests use instead of naming every field again.

use std::sync::Arc;

use jiff::civil::{Date, Time};
use serde::{Serialize, Serializer};

/// The local start time `HH:MM` of a label, as rows print it.
pub fn format_hhmm(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

fn hhmm<S: Serializer>(time: &Time, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_hhmm(*time))
}

/// One queue in one interval: the 16 `queue_logg` measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRow {
    /// Interval length in minutes (15, 30 or 60).
    pub interval_minutes: u32,
    /// Local date of the interval.
    pub date: Date,
    /// Local start time of the interval (serialized `HH:MM`).
    #[serde(serialize_with = "hhmm")]
    pub time: Time,
    /// Queue id.
    pub queue: Arc<str>,
    /// Queue name, or the id for a queue without a record.
    pub queue_name: Arc<str>,
    /// Segments with seq = 1.
    pub offd_direct_call_cnt: u64,
    /// Segments with seq > 1.
    pub overflow_in_call_cnt: u64,
    /// Abandoned segments.
    pub aband_call_cnt: u64,
    /// Overflowed segments.
    pub overflow_out_call_cnt: u64,
    /// Answered segments.
    pub answ_call_cnt: u64,
    /// Σ wait of answered segments, seconds.
    pub queued_and_answ_call_dur: u64,
    /// Σ wait of abandoned segments, seconds.
    pub queued_and_aband_call_dur: u64,
    /// Σ (talk_s + hold_s) of answered segments.
    pub talking_call_dur: u64,
    /// Σ acw_s of answered segments.
    pub wrap_up_dur: u64,
    /// Longest wait of an answered segment (0 if none).
    pub queued_answ_longest_que_dur: u64,
    /// Longest wait of an abandoned segment (0 if none).
    pub queued_aband_longest_que_dur: u64,
    /// round(wait_dur / interval length in seconds), half-up.
    pub avg_avail_member_cnt: u64,
    /// Answered with wait ≤ sl_seconds.
    pub ans_servicelevel_cnt: u64,
    /// Seconds skilled agents spent `ready` in the interval.
    pub wait_dur: u64,
    /// Abandoned with wait < short_abandon_seconds.
    pub aband_short_call_cnt: u64,
    /// Abandoned with short_abandon_seconds ≤ wait ≤ sl_seconds.
    pub aband_within_sl_cnt: u64,
}

impl QueueRow {
    /// The measure names, in the order of DESIGN §5 and the Teleopti queue file.
    pub const FIELDS: [&'static str; 16] = [
        "offd_direct_call_cnt",
        "overflow_in_call_cnt",
        "aband_call_cnt",
        "overflow_out_call_cnt",
        "answ_call_cnt",
        "queued_and_answ_call_dur",
        "queued_and_aband_call_dur",
        "talking_call_dur",
        "wrap_up_dur",
        "queued_answ_longest_que_dur",
        "queued_aband_longest_que_dur",
        "avg_avail_member_cnt",
        "ans_servicelevel_cnt",
        "wait_dur",
        "aband_short_call_cnt",
        "aband_within_sl_cnt",
    ];

    /// The measures, in the order of [`QueueRow::FIELDS`].
    pub fn measures(&self) -> [u64; 16] {
        [
            self.offd_direct_call_cnt,
            self.overflow_in_call_cnt,
            self.aband_call_cnt,
            self.overflow_out_call_cnt,
            self.answ_call_cnt,
            self.queued_and_answ_call_dur,
            self.queued_and_aband_call_dur,
            self.talking_call_dur,
            self.wrap_up_dur,
            self.queued_answ_longest_que_dur,
            self.queued_aband_longest_que_dur,
            self.avg_avail_member_cnt,
            self.ans_servicelevel_cnt,
            self.wait_dur,
            self.aband_short_call_cnt,
            self.aband_within_sl_cnt,
        ]
    }
}

/// One agent in one interval: the `agent_logg` per-agent measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    /// Interval length in minutes.
    pub interval_minutes: u32,
    /// Local date of the interval.
    pub date: Date,
    /// Local start time of the interval (serialized `HH:MM`).
    #[serde(serialize_with = "hhmm")]
    pub time: Time,
    /// Agent id.
    pub agent_id: Arc<str>,
    /// "first_name last_name" trimmed, or the id for an agent without a record.
    pub agent_name: Arc<str>,
    /// Seconds in `ready`, `busy` or `acw`.
    pub avail_dur: u64,
    /// Seconds in any state but `logged_out`.
    pub tot_work_dur: u64,
    /// Seconds in `not_ready`.
    pub pause_dur: u64,
    /// Seconds in `ready`.
    pub wait_dur: u64,
    /// Seconds in `not_ready` with one of the tenant's admin reasons.
    pub admin_dur: u64,
    /// Direct (queue-less) outbound segments.
    pub direct_out_call_cnt: u64,
    /// Σ (talk_s + hold_s) of those.
    pub direct_out_call_dur: u64,
    /// Direct inbound segments.
    pub direct_in_call_cnt: u64,
    /// Σ (talk_s + hold_s) of those.
    pub direct_in_call_dur: u64,
}

impl AgentRow {
    /// The measure names, in the order of DESIGN §6 and the Teleopti agent file.
    pub const FIELDS: [&'static str; 9] = [
        "avail_dur",
        "tot_work_dur",
        "pause_dur",
        "wait_dur",
        "admin_dur",
        "direct_out_call_cnt",
        "direct_out_call_dur",
        "direct_in_call_cnt",
        "direct_in_call_dur",
    ];

    /// The measures, in the order of [`AgentRow::FIELDS`].
    pub fn measures(&self) -> [u64; 9] {
        [
            self.avail_dur,
            self.tot_work_dur,
            self.pause_dur,
            self.wait_dur,
            self.admin_dur,
            self.direct_out_call_cnt,
            self.direct_out_call_dur,
            self.direct_in_call_cnt,
            self.direct_in_call_dur,
        ]
    }
}

/// One agent on one queue in one interval: what the agent answered there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentQueueRow {
    /// Interval length in minutes.
    pub interval_minutes: u32,
    /// Local date of the interval.
    pub date: Date,
    /// Local start time of the interval (serialized `HH:MM`).
    #[serde(serialize_with = "hhmm")]
    pub time: Time,
    /// Agent id.
    pub agent_id: Arc<str>,
    /// Agent name (as in [`AgentRow::agent_name`]).
    pub agent_name: Arc<str>,
    /// Queue id.
    pub queue: Arc<str>,
    /// Queue name (as in [`QueueRow::queue_name`]).
    pub queue_name: Arc<str>,
    /// Σ (talk_s + hold_s) of the queue's segments answered by the agent and offered in the interval.
    pub talking_call_dur: u64,
    /// Σ acw_s of those.
    pub wrap_up_dur: u64,
    /// How many.
    pub answ_call_cnt: u64,
    /// How many of them the agent transferred out.
    pub transfer_out_call_cnt: u64,
}

impl AgentQueueRow {
    /// The measure names, in the order of DESIGN §6 and the Teleopti agent-queue file.
    pub const FIELDS: [&'static str; 4] = [
        "talking_call_dur",
        "wrap_up_dur",
        "answ_call_cnt",
        "transfer_out_call_cnt",
    ];

    /// The measures, in the order of [`AgentQueueRow::FIELDS`].
    pub fn measures(&self) -> [u64; 4] {
        [
            self.talking_call_dur,
            self.wrap_up_dur,
            self.answ_call_cnt,
            self.transfer_out_call_cnt,
        ]
    }
}

/// What the inputs held, for the run's summary ("read", "ignored and why").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InputCounts {
    /// Segments counted in the statistics.
    pub segments: u64,
    /// Segments of another tenant, ignored.
    pub segments_other_tenant: u64,
    /// Segments offered outside the window, ignored.
    pub segments_outside_window: u64,
    /// Segments still waiting (no outcome), ignored (DESIGN §4).
    pub segments_waiting: u64,
    /// Timelines added (one per [`crate::StatsBuilder::add_timeline`] call).
    pub timelines: u64,
    /// State events read (including those before the window, which set the state at its start).
    pub state_events: u64,
    /// State events of another tenant, ignored.
    pub state_events_other_tenant: u64,
}

/// The result of a statistics run: the three row kinds, each sorted by (date, time, ids).
///
/// Rows whose measures are all zero are left out (DESIGN §5 allows it): an interval without
/// contacts and without a logged-in agent has no row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntervalStats {
    /// Tenant id.
    pub tenant: String,
    /// Interval length in minutes.
    pub interval_minutes: u32,
    /// First local date of the window.
    pub from: Date,
    /// Last local date of the window (included).
    pub to: Date,
    /// Queue rows, by (date, time, queue id).
    pub queue_rows: Vec<QueueRow>,
    /// Agent rows, by (date, time, agent id).
    pub agent_rows: Vec<AgentRow>,
    /// Agent-queue rows, by (date, time, agent id, queue id).
    pub agent_queue_rows: Vec<AgentQueueRow>,
    /// What the inputs held.
    pub inputs: InputCounts,
}

impl IntervalStats {
    /// Rows of all three kinds.
    pub fn row_count(&self) -> usize {
        self.queue_rows.len() + self.agent_rows.len() + self.agent_queue_rows.len()
    }
}
