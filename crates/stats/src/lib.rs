//! Interval statistics (DESIGN §5): queue, agent and agent-queue rows computed from contact
//! segments and agent state timelines, for one tenant and a window of local dates. Pure: no I/O, no
//! async, no threads.
//!
//! # Use
//!
//! ```text
//! let ctx = StatsContext::new(&tenant, &queues, &agents, from, to, None)?;   // prepare the run
//! let mut builder = StatsBuilder::new(ctx);
//! for segment in segments { builder.add_segment(&segment); }                 // stream, any order
//! for (agent, initial, events) in timelines {                                // one call per agent
//!     builder.add_timeline(agent, initial, &events)?;
//! }
//! let stats: IntervalStats = builder.finish();                               // sorted rows
//! ```
//!
//! * [`StatsContext::new`]`(tenant, queues, agents, from, to, interval)` cuts the tenant's interval
//!   grid (its time zone, its interval length or the `interval` override) over local midnight of
//!   `from` to local midnight after `to`, and interns the directory.
//! * [`StatsBuilder::add_segment`] counts one segment; [`StatsBuilder::add_timeline`] slices one
//!   agent's state timeline at interval bounds.
//! * [`StatsBuilder::finish`] returns [`IntervalStats`]: `queue_rows`, `agent_rows`,
//!   `agent_queue_rows`, each sorted by (date, time, ids), each row carrying `interval_minutes`,
//!   the local `date`, the local start `time` (`HH:MM` when serialized), ids, names and the integer
//!   measures under the field names of DESIGN §5.
//!
//! # Definitions, to the letter of DESIGN §5, and the choices where it leaves room
//!
//! * Intervals are cut in the tenant's zone by [`wfm_model::IntervalGrid`]. A 23-hour day has fewer
//!   rows; at a fall-back the two occurrences of the repeated hour are merged into the rows of their
//!   local label: counts and durations add up, longest waits take the maximum. **An agent duration
//!   of a merged label can therefore reach 2 L** (every other agent duration is ≤ L), and its
//!   `avg_avail_member_cnt` is still `round(wait_dur / L)` as the design writes it.
//! * Every contact measure counts in the label of `offered_at`. A wait is `answered_at` (or
//!   `abandoned_at`) − `offered_at`, in milliseconds, rounded half-up to whole seconds before it is
//!   summed, maximised or compared with `sl_seconds` / `short_abandon_seconds`.
//! * Timestamps are read to the millisecond (finer digits are dropped, as the store does).
//! * Agent durations are milliseconds summed per output cell and rounded half-up once: `avail_dur`
//!   is the rounded sum of ready + busy + acw milliseconds, not a sum of rounded parts; a queue's
//!   `wait_dur` is the rounded sum of its skilled agents' ready milliseconds.
//! * Skills come from the agent records; an agent without a record has none, so its ready time
//!   counts for no queue. Inactive agents keep their skills: the timeline says what they did.
//! * A direct segment (no queue) counts only in its agent's `direct_*` measures, by `direction`,
//!   with `talk_s + hold_s` as duration. A queued segment answered without an agent (invalid input)
//!   counts in its queue's row only.
//! * Waiting segments (no outcome), segments of other tenants and segments offered outside the
//!   window are ignored and counted in [`InputCounts`].
//! * Rows whose measures are all zero are left out (after rounding: an agent logged in for 0.4 s
//!   in an interval has no row).
//! * A queue's row exists when it had segments or skilled agents ready in the interval, whether or
//!   not it has a record (then its name is its id and its thresholds 20 s / 5 s).
//!
//! # Speed and memory
//!
//! Memory is bounded by the output cells, not by the input: segments and events are read one at a
//! time and forgotten. The window's UTC pieces are computed once; an instant finds its piece by one
//! division into a 15-minute lookup table and a short forward scan, so no time-zone conversion
//! happens per segment or event. Ids are interned once per distinct id. Cells are kept per label
//! (small FxHash maps for contact cells, append-only vectors for timeline sums): inputs mostly come
//! in time order, so the cells being updated stay few and hot in cache. [`StatsBuilder::finish`]
//! walks the labels in order, emitting all three row kinds already sorted and freeing each label's
//! cells as it goes.

mod builder;
mod context;
mod hash;
mod rows;

pub use builder::StatsBuilder;
pub use context::{
    DEFAULT_SHORT_ABANDON_SECONDS, DEFAULT_SL_SECONDS, MAX_WINDOW_DAYS, StatsContext, StatsError,
};
pub use rows::{AgentQueueRow, AgentRow, InputCounts, IntervalStats, QueueRow, format_hhmm};

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
