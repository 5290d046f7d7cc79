//! The accumulation: segments and state timelines stream in, one output cell per (interval label,
//! queue), (label, agent) and (label, agent, queue) is kept, and [`StatsBuilder::finish`] turns the
//! cells into sorted rows.
//!
//! Memory is bounded by the number of cells, that is by the output, never by the input: a segment
//! updates its cells and is forgotten; a timeline is sliced at interval bounds as it is read and
//! only its per-label sums are kept. Durations stay in milliseconds until `finish`, where every
//! output duration is rounded half-up once (DESIGN §5); waits are rounded per contact, before they
//! are summed or compared, as the design says.

use jiff::Timestamp;
use wfm_model::{AgentState, AgentStateEvent, Direction, Segment};

use crate::context::{StatsContext, StatsError};
use crate::hash::FxMap;
use crate::rows::{AgentQueueRow, AgentRow, InputCounts, IntervalStats, QueueRow};

/// Accumulated contact measures of one (label, queue) cell.
#[derive(Debug, Clone, Default)]
struct QueueCell {
    offd_direct: u64,
    overflow_in: u64,
    aband: u64,
    overflow_out: u64,
    answ: u64,
    queued_answ_s: u64,
    queued_aband_s: u64,
    talking_s: u64,
    wrap_up_s: u64,
    longest_answ_s: u64,
    longest_aband_s: u64,
    ans_sl: u64,
    aband_short: u64,
    aband_within_sl: u64,
    /// Σ ready milliseconds of the queue's skilled agents (filled in `finish`).
    ready_ms: i64,
}

/// Milliseconds per agent state slot, in this order.
const READY: usize = 0;
const BUSY: usize = 1;
const ACW: usize = 2;
const NOT_READY: usize = 3;
/// `not_ready` with an admin reason (also counted in `NOT_READY`).
const ADMIN: usize = 4;

/// One agent's time in one label, from one run of consecutive pieces of its timeline. An agent
/// can have more than one per label (the fall-back hour's second occurrence, or a timeline added
/// twice); `finish` adds them up.
#[derive(Debug, Clone, Copy)]
struct TimeCell {
    agent: u32,
    /// Milliseconds per slot; a label's pieces last at most 2 L, so `u32` is ample.
    ms: [u32; 5],
}

/// Direct (queue-less) contacts of one (label, agent) cell.
#[derive(Debug, Clone, Copy, Default)]
struct DirectCell {
    out: u64,
    out_s: u64,
    inbound: u64,
    inbound_s: u64,
}

/// Accumulated measures of one (label, agent, queue) cell.
#[derive(Debug, Clone, Copy, Default)]
struct AgentQueueCell {
    talking_s: u64,
    wrap_up_s: u64,
    answ: u64,
    transfer_out: u64,
}

/// Streams segments and timelines of one run into output cells; [`StatsBuilder::finish`] gives
/// the rows.
///
/// ```
/// use jiff::civil::date;
/// use wfm_model::{Segment, Tenant};
/// use wfm_stats::{StatsBuilder, StatsContext};
///
/// let tenant: Tenant = serde_json::from_str(
///     r#"{"tenant":"t","name":"T","time_zone":"Europe/Stockholm"}"#).unwrap();
/// let ctx = StatsContext::new(&tenant, &[], &[], date(2024, 3, 4), date(2024, 3, 4), None).unwrap();
/// let mut builder = StatsBuilder::new(ctx);
/// let segment: Segment = serde_json::from_str(r#"{"tenant":"t","contact_id":"c1","seq":1,
///     "channel":"voice","direction":"inbound","queue":"q1","offered_at":"2024-03-04T09:05:00+01:00",
///     "answered_at":"2024-03-04T09:05:12.500+01:00","agent":"a1","talk_s":100,"acw_s":20}"#).unwrap();
/// builder.add_segment(&segment);
/// let stats = builder.finish();
/// let row = &stats.queue_rows[0];
/// assert_eq!((row.date.to_string(), row.time.hour(), row.time.minute()), ("2024-03-04".into(), 9, 0));
/// assert_eq!(row.queued_and_answ_call_dur, 13); // 12.5 s rounds half-up
/// assert_eq!(stats.agent_queue_rows[0].talking_call_dur, 100);
/// ```
#[derive(Debug, Clone)]
pub struct StatsBuilder {
    ctx: StatsContext,
    /// Everything is kept per label: inputs mostly come in time order, so the cells being updated
    /// are those of a few labels, small and hot in cache, where one map over the whole window
    /// would cost a cache miss per lookup once it outgrows the cache.
    labels: Vec<LabelCells>,
    counts: InputCounts,
}

/// The cells of one interval label.
#[derive(Debug, Clone, Default)]
struct LabelCells {
    queues: FxMap<u32, QueueCell>,
    /// Keyed by `agent << 32 | queue`.
    agent_queues: FxMap<u64, AgentQueueCell>,
    direct: FxMap<u32, DirectCell>,
    /// Appended as timelines are read: no lookup at all on the state path.
    time: Vec<TimeCell>,
}

/// Milliseconds to whole seconds, half-up (a negative sum cannot occur; it would count as 0).
#[inline]
fn seconds(ms: i64) -> u64 {
    ((ms.max(0) + 500) / 1000) as u64
}

/// The wait of a contact in whole seconds, rounded half-up from milliseconds (DESIGN §5).
#[inline]
fn wait_seconds(offered_ms: i64, end: Timestamp) -> u64 {
    seconds(end.as_millisecond() - offered_ms)
}

/// The time-sliced part of one timeline being read: the label whose sums are being added up.
struct Open {
    label: u32,
    ms: [i64; 5],
}

impl StatsBuilder {
    /// A builder for the run `ctx` describes.
    pub fn new(ctx: StatsContext) -> StatsBuilder {
        StatsBuilder {
            labels: vec![LabelCells::default(); ctx.labels.len()],
            ctx,
            counts: InputCounts::default(),
        }
    }

    /// The run this builder computes.
    pub fn context(&self) -> &StatsContext {
        &self.ctx
    }

    /// What has been read so far.
    pub fn counts(&self) -> &InputCounts {
        &self.counts
    }

    /// Counts one contact segment.
    ///
    /// Ignored (and counted in [`InputCounts`]): segments of another tenant, segments offered
    /// outside the window, and waiting segments (no outcome). A queued segment feeds its queue's
    /// row and, when answered, the answering agent's agent-queue row; a direct segment (no queue)
    /// feeds only its agent's `direct_*` measures.
    pub fn add_segment(&mut self, segment: &Segment) {
        if segment.tenant != self.ctx.tenant {
            self.counts.segments_other_tenant += 1;
            return;
        }
        let offered = segment.offered_at.as_millisecond();
        if offered < self.ctx.window_start || offered >= self.ctx.window_end {
            self.counts.segments_outside_window += 1;
            return;
        }
        if segment.answered_at.is_none() && segment.abandoned_at.is_none() && !segment.overflowed {
            self.counts.segments_waiting += 1;
            return;
        }
        self.counts.segments += 1;
        let label = self.ctx.label_at(offered);
        let talk = u64::from(segment.talk_s) + u64::from(segment.hold_s);

        let Some(queue_id) = &segment.queue else {
            // A valid direct contact always names its agent; one that does not has nobody to count for.
            if let Some(agent_id) = &segment.agent {
                let agent = self.ctx.agent(agent_id);
                let c = self.labels[label as usize].direct.entry(agent).or_default();
                match segment.direction {
                    Direction::Outbound => {
                        c.out += 1;
                        c.out_s += talk;
                    }
                    Direction::Inbound => {
                        c.inbound += 1;
                        c.inbound_s += talk;
                    }
                }
            }
            return;
        };

        let queue = self.ctx.queue(queue_id);
        let info = &self.ctx.queues[queue as usize];
        let (sl, short) = (info.sl_seconds as u64, info.short_abandon_seconds as u64);
        let cells = &mut self.labels[label as usize];
        let c = cells.queues.entry(queue).or_default();
        if segment.seq > 1 {
            c.overflow_in += 1;
        } else {
            c.offd_direct += 1;
        }
        if let Some(answered) = segment.answered_at {
            let wait = wait_seconds(offered, answered);
            c.answ += 1;
            c.queued_answ_s += wait;
            c.longest_answ_s = c.longest_answ_s.max(wait);
            c.talking_s += talk;
            c.wrap_up_s += u64::from(segment.acw_s);
            if wait <= sl {
                c.ans_sl += 1;
            }
            if let Some(agent_id) = &segment.agent {
                let agent = self.ctx.agent(agent_id);
                let aq = self.labels[label as usize]
                    .agent_queues
                    .entry((u64::from(agent) << 32) | u64::from(queue))
                    .or_default();
                aq.answ += 1;
                aq.talking_s += talk;
                aq.wrap_up_s += u64::from(segment.acw_s);
                aq.transfer_out += u64::from(segment.transferred);
            }
        } else if let Some(abandoned) = segment.abandoned_at {
            let wait = wait_seconds(offered, abandoned);
            c.aband += 1;
            c.queued_aband_s += wait;
            c.longest_aband_s = c.longest_aband_s.max(wait);
            if wait < short {
                c.aband_short += 1;
            } else if wait <= sl {
                c.aband_within_sl += 1;
            }
        } else {
            c.overflow_out += 1;
        }
    }

    /// Adds one agent's state timeline.
    ///
    /// `initial` is the agent's last state (and `not_ready` reason) before the window start, which
    /// holds at the window start; `None` means logged out (no event before the window). `events`
    /// are the agent's events in time order; events before the window start may be included (the
    /// last of them sets the state at the start), events at or after the window end are not read,
    /// and events of another tenant are skipped. The last state holds until the window ends.
    ///
    /// Calling this twice for one agent adds both timelines up, so pass each agent's timeline
    /// once. On an error the builder keeps what was read before it; abandon the run.
    pub fn add_timeline<'e>(
        &mut self,
        agent_id: &str,
        initial: Option<(AgentState, Option<&str>)>,
        events: impl IntoIterator<Item = &'e AgentStateEvent>,
    ) -> Result<(), StatsError> {
        self.counts.timelines += 1;
        let agent = self.ctx.agent(agent_id);
        let window_end = self.ctx.window_end;
        let mut state = match initial {
            Some((s, reason)) => (s, self.is_admin(s, reason)),
            None => (AgentState::LoggedOut, false),
        };
        let mut since = self.ctx.window_start;
        let mut previous: Option<Timestamp> = None;
        let mut open: Option<Open> = None;
        let mut cursor = 0usize;
        for event in events {
            if event.tenant != self.ctx.tenant {
                self.counts.state_events_other_tenant += 1;
                continue;
            }
            if event.agent != agent_id {
                return Err(StatsError::TimelineAgentMismatch {
                    expected: agent_id.to_string(),
                    found: event.agent.clone(),
                });
            }
            if let Some(previous) = previous
                && event.at < previous
            {
                return Err(StatsError::UnorderedTimeline {
                    agent: agent_id.to_string(),
                    at: event.at,
                    previous,
                });
            }
            previous = Some(event.at);
            self.counts.state_events += 1;
            let at = event.at.as_millisecond();
            if at >= window_end {
                break;
            }
            // An event at or before `since` (before the window, or at the same instant as the one
            // before) only changes the state; nothing has been spent in the old one.
            if at > since {
                self.slice(agent, &mut open, &mut cursor, state, since, at);
                since = at;
            }
            state = (
                event.state,
                self.is_admin(event.state, event.reason.as_deref()),
            );
        }
        if since < window_end {
            self.slice(agent, &mut open, &mut cursor, state, since, window_end);
        }
        if let Some(open) = open {
            self.close(agent, open);
        }
        Ok(())
    }

    fn is_admin(&self, state: AgentState, reason: Option<&str>) -> bool {
        state == AgentState::NotReady && reason.is_some_and(|r| self.ctx.admin_reasons.contains(r))
    }

    /// Spreads `[start, end)` (inside the window) of one state over the pieces it covers.
    fn slice(
        &mut self,
        agent: u32,
        open: &mut Option<Open>,
        cursor: &mut usize,
        (state, admin): (AgentState, bool),
        mut start: i64,
        end: i64,
    ) {
        let slot = match state {
            AgentState::LoggedOut => return,
            AgentState::Ready => READY,
            AgentState::Busy => BUSY,
            AgentState::Acw => ACW,
            AgentState::NotReady => NOT_READY,
        };
        // Spans of one timeline come in time order: the piece of the last span is usually the
        // piece of this one, otherwise the lookup table finds it.
        let mut p = *cursor;
        let hit = self.ctx.pieces[p].start <= start && start < self.ctx.pieces[p].end;
        if !hit {
            p = self.ctx.piece_at(start);
        }
        loop {
            let piece = self.ctx.pieces[p];
            let stop = end.min(piece.end);
            let ms = stop - start;
            let current = match open {
                Some(o) if o.label == piece.label => o,
                _ => {
                    if let Some(done) = open.take() {
                        self.close(agent, done);
                    }
                    open.insert(Open {
                        label: piece.label,
                        ms: [0; 5],
                    })
                }
            };
            current.ms[slot] += ms;
            if admin {
                current.ms[ADMIN] += ms;
            }
            if stop >= end {
                break;
            }
            start = stop;
            p += 1;
        }
        *cursor = p;
    }

    /// Keeps the sums of one label of a timeline.
    fn close(&mut self, agent: u32, open: Open) {
        if open.ms == [0; 5] {
            return;
        }
        // A run of pieces of one label lasts hours at most (2 L at a fall-back), far below the
        // 49 days of milliseconds a u32 holds.
        let ms = open
            .ms
            .map(|v| u32::try_from(v).expect("a label's pieces last far less than 49 days"));
        self.labels[open.label as usize]
            .time
            .push(TimeCell { agent, ms });
    }

    /// Turns the cells into rows: rounds durations once, derives the queue `wait_dur` from the
    /// skilled agents' ready time, leaves out all-zero rows and sorts by (date, time, ids).
    ///
    /// One pass over the labels in order produces all three row kinds already sorted, and frees
    /// each label's cells as it goes.
    pub fn finish(self) -> IntervalStats {
        let StatsBuilder {
            ctx,
            labels,
            counts,
        } = self;
        let queue_rank = ranks(ctx.queues.iter().map(|q| &*q.id));
        let agent_rank = ranks(ctx.agents.iter().map(|a| &*a.id));
        let minutes = ctx.length.minutes();
        let length_s = ctx.length.seconds() as u64;

        let (mut queues, mut agents, mut agent_queues) = (0, 0, 0);
        for cells in &labels {
            queues += cells.queues.len();
            agents += cells.time.len() + cells.direct.len();
            agent_queues += cells.agent_queues.len();
        }
        let mut queue_rows = Vec::with_capacity(queues);
        let mut agent_rows = Vec::with_capacity(agents);
        let mut agent_queue_rows = Vec::with_capacity(agent_queues);

        // Scratch lists, reused label after label.
        let mut by_agent: Vec<(u32, u32, u32)> = Vec::new();
        let mut by_queue: Vec<(u32, u32)> = Vec::new();
        let mut by_pair: Vec<(u64, u64)> = Vec::new();

        for (label, mut cells) in labels.into_iter().enumerate() {
            let (date, time) = ctx.labels[label];

            // Agents: their timeline sums (possibly several per agent) and direct contacts, by rank.
            // Entries are (rank, source, index): source 0 = a timeline sum, 1 = the direct cell.
            by_agent.clear();
            by_agent.extend(
                cells
                    .time
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (agent_rank[t.agent as usize], 0, i as u32)),
            );
            let direct: Vec<(u32, DirectCell)> = cells.direct.drain().collect();
            by_agent.extend(
                direct
                    .iter()
                    .enumerate()
                    .map(|(i, (a, _))| (agent_rank[*a as usize], 1, i as u32)),
            );
            by_agent.sort_unstable();
            let mut i = 0;
            while i < by_agent.len() {
                let rank = by_agent[i].0;
                let mut ms = [0i64; 5];
                let mut d = DirectCell::default();
                let mut agent = 0u32;
                while i < by_agent.len() && by_agent[i].0 == rank {
                    let (_, source, index) = by_agent[i];
                    if source == 0 {
                        let t = &cells.time[index as usize];
                        agent = t.agent;
                        for (sum, add) in ms.iter_mut().zip(t.ms) {
                            *sum += i64::from(add);
                        }
                    } else {
                        let (a, cell) = direct[index as usize];
                        agent = a;
                        d = cell;
                    }
                    i += 1;
                }
                // A queue's wait_dur sums the unrounded ready time of every agent skilled for it.
                if ms[READY] > 0 {
                    for &queue in &ctx.agents[agent as usize].skills {
                        cells.queues.entry(queue).or_default().ready_ms += ms[READY];
                    }
                }
                let available = ms[READY] + ms[BUSY] + ms[ACW];
                let info = &ctx.agents[agent as usize];
                let row = AgentRow {
                    interval_minutes: minutes,
                    date,
                    time,
                    agent_id: info.id.clone(),
                    agent_name: info.name.clone(),
                    avail_dur: seconds(available),
                    tot_work_dur: seconds(available + ms[NOT_READY]),
                    pause_dur: seconds(ms[NOT_READY]),
                    wait_dur: seconds(ms[READY]),
                    admin_dur: seconds(ms[ADMIN]),
                    direct_out_call_cnt: d.out,
                    direct_out_call_dur: d.out_s,
                    direct_in_call_cnt: d.inbound,
                    direct_in_call_dur: d.inbound_s,
                };
                if row.measures().iter().any(|&m| m != 0) {
                    agent_rows.push(row);
                }
            }
            drop(direct);

            // Queues, by id.
            by_queue.clear();
            by_queue.extend(cells.queues.keys().map(|&q| (queue_rank[q as usize], q)));
            by_queue.sort_unstable();
            for &(_, queue) in &by_queue {
                let c = &cells.queues[&queue];
                let wait_dur = seconds(c.ready_ms);
                let info = &ctx.queues[queue as usize];
                let row = QueueRow {
                    interval_minutes: minutes,
                    date,
                    time,
                    queue: info.id.clone(),
                    queue_name: info.name.clone(),
                    offd_direct_call_cnt: c.offd_direct,
                    overflow_in_call_cnt: c.overflow_in,
                    aband_call_cnt: c.aband,
                    overflow_out_call_cnt: c.overflow_out,
                    answ_call_cnt: c.answ,
                    queued_and_answ_call_dur: c.queued_answ_s,
                    queued_and_aband_call_dur: c.queued_aband_s,
                    talking_call_dur: c.talking_s,
                    wrap_up_dur: c.wrap_up_s,
                    queued_answ_longest_que_dur: c.longest_answ_s,
                    queued_aband_longest_que_dur: c.longest_aband_s,
                    // round(wait_dur / L), half-up, in integers.
                    avg_avail_member_cnt: (2 * wait_dur + length_s) / (2 * length_s),
                    ans_servicelevel_cnt: c.ans_sl,
                    wait_dur,
                    aband_short_call_cnt: c.aband_short,
                    aband_within_sl_cnt: c.aband_within_sl,
                };
                if row.measures().iter().any(|&m| m != 0) {
                    queue_rows.push(row);
                }
            }

            // Agent-queue pairs, by (agent id, queue id).
            by_pair.clear();
            by_pair.extend(cells.agent_queues.keys().map(|&key| {
                let (agent, queue) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
                let rank = (u64::from(agent_rank[agent]) << 32) | u64::from(queue_rank[queue]);
                (rank, key)
            }));
            by_pair.sort_unstable();
            for &(_, key) in &by_pair {
                let c = &cells.agent_queues[&key];
                let agent = &ctx.agents[(key >> 32) as usize];
                let queue = &ctx.queues[(key & 0xffff_ffff) as usize];
                // Every cell counts at least one answered segment, so none is all zero.
                agent_queue_rows.push(AgentQueueRow {
                    interval_minutes: minutes,
                    date,
                    time,
                    agent_id: agent.id.clone(),
                    agent_name: agent.name.clone(),
                    queue: queue.id.clone(),
                    queue_name: queue.name.clone(),
                    talking_call_dur: c.talking_s,
                    wrap_up_dur: c.wrap_up_s,
                    answ_call_cnt: c.answ,
                    transfer_out_call_cnt: c.transfer_out,
                });
            }
        }

        IntervalStats {
            tenant: ctx.tenant.clone(),
            interval_minutes: minutes,
            from: ctx.from,
            to: ctx.to,
            queue_rows,
            agent_rows,
            agent_queue_rows,
            inputs: counts,
        }
    }
}

/// The rank of each id in byte order: rows sort by id, not by the order ids were first seen.
fn ranks<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Vec<u32> {
    let mut by_id: Vec<(&str, u32)> = ids.enumerate().map(|(i, id)| (id, i as u32)).collect();
    by_id.sort_unstable();
    let mut rank = vec![0u32; by_id.len()];
    for (r, (_, i)) in by_id.into_iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    rank
}
