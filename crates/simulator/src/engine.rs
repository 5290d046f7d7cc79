//! The discrete-event simulation: contacts wait in FIFO queues, skilled agents answer them, and every
//! agent's state timeline is recorded as it happens, so contacts and states agree by construction.
//!
//! Time is kept in whole UTC seconds (`i64` since the epoch): canonical durations (`talk_s`, …) are
//! whole seconds, so every `answered_at + talk_s + hold_s` lands exactly on the agent's next state
//! event. Events at the same second run in the order they were scheduled; arrivals of that second
//! run after them.
//!
//! Rules:
//! - A contact is offered to the longest-idle `ready` agent skilled for its queue; if none, it waits
//!   (FIFO per queue). An agent who frees up takes the longest-waiting contact across its skills.
//! - A waiting contact abandons when its patience runs out, or overflows once to a sibling queue
//!   after `overflow_after_s` (a new segment, `seq + 1`, offered at that instant).
//! - An answered contact makes the agent `busy` from `answered_at` for talk + hold, then `acw` for
//!   the ACW seconds (no `acw` event when 0), then the agent takes the next contact, goes
//!   `not_ready`/`logged_out` if a break or the end of the shift is due, or becomes `ready`.
//! - A transferred contact re-enters another queue when the talk ends (`seq + 1`).
//! - State events are recorded only on change; two changes of one agent in the same second collapse
//!   into one event (or none, when the second change undoes the first), so each agent's events are
//!   strictly increasing in time and never repeat a state.
//!
//! Output is buffered per local day: a day's states are complete once the clock passes its end, its
//! segments once every contact offered that day has an outcome. Only a few days are ever held (the
//! longest wait is bounded by [`MAX_QUEUE_WAIT_S`]), so memory does not grow with the number of days.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use wfm_model::{AgentState, Channel, Direction, IntervalGrid, IntervalLength};

use crate::config::{ChannelProfile, MAX_QUEUE_WAIT_S, SimulationConfig};
use crate::demand::{Arrival, ArrivalKind};
use crate::directory::Directory;
use crate::roster::{PlanItem, PlanKind, Reason, Shift};

/// "No such instant" in a [`SegmentRec`].
pub(crate) const NONE: i64 = i64::MIN;
/// "No agent" in a [`SegmentRec`].
pub(crate) const NO_AGENT: u32 = u32::MAX;
/// "No queue" (a direct contact) in a [`SegmentRec`].
pub(crate) const DIRECT: u16 = u16::MAX;
/// No transfer beyond this segment number: a contact is not passed around forever.
const MAX_SEQ: u8 = 5;

/// A finished segment, compact (the strings are made when it is emitted).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentRec {
    pub offered: i64,
    pub answered: i64,
    pub abandoned: i64,
    pub contact_date: Date,
    pub contact_no: u32,
    pub agent: u32,
    pub talk: u32,
    pub hold: u32,
    pub acw: u32,
    pub queue: u16,
    pub seq: u8,
    pub channel: Channel,
    pub direction: Direction,
    pub overflowed: bool,
    pub transferred: bool,
}

/// A recorded state change. `live` is false when a later change in the same second undid it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateRec {
    pub at: i64,
    pub agent: u32,
    pub state: AgentState,
    pub reason: Option<Reason>,
    pub live: bool,
}

/// The output of one local day.
#[derive(Debug)]
pub(crate) struct DayBuf {
    pub date: Date,
    pub start: i64,
    pub end: i64,
    pub segments: Vec<SegmentRec>,
    pub states: Vec<StateRec>,
    /// Segments offered this day without an outcome yet.
    unresolved: u32,
    /// The clock has passed the end of the day: no more states will be recorded in it.
    clock_done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    /// The agent finished a contact (talk, hold and ACW).
    Free(u32),
    /// The agent's break, lunch, meeting or training ended.
    Resume(u32),
    /// The agent's next planned step may be due.
    Plan(u32),
    /// A waiting contact's patience or overflow timer (slot, generation).
    Timeout(u32, u32),
    /// A transferred contact enters its next queue (slot, generation).
    Transfer(u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Event {
    at: i64,
    seq: u64,
    kind: EventKind,
}

impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse for earliest first, then first scheduled first.
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    LoggedOut,
    Ready,
    /// Picked for a contact, on it, or in its ACW.
    Working,
    NotReady,
}

type Label = (AgentState, Option<Reason>);

#[derive(Debug)]
struct AgentRt {
    skills: Vec<u16>,
    status: Status,
    /// Bumped whenever the agent stops being ready: idle-list entries with an older value are stale.
    ready_gen: u32,
    plan: VecDeque<PlanItem>,
    /// Last recorded state, its instant and where it is stored (for same-second collapsing).
    last: Label,
    last_at: i64,
    last_loc: Option<(usize, usize)>,
    /// The state before `last`.
    prev: Label,
}

#[derive(Debug, Clone, Copy)]
struct Contact {
    /// Bumped whenever the contact leaves a queue or its slot is reused.
    stamp: u32,
    live: bool,
    waiting: bool,
    overflowed_before: bool,
    seq: u8,
    queue: u16,
    direction: Direction,
    date: Date,
    no: u32,
    offered: i64,
    /// When the customer abandons if still waiting.
    deadline: i64,
    /// When the contact overflows if still waiting (`i64::MAX`: never).
    overflow_at: i64,
    /// Global enqueue order: FIFO across queues for an agent with several skills.
    order: u64,
}

/// Draws handle times and patience of one channel.
#[derive(Debug)]
struct Sampler {
    talk: LogNormal<f64>,
    talk_cap: f64,
    hold: Option<LogNormal<f64>>,
    hold_share: f64,
    hold_cap: f64,
    acw: Option<LogNormal<f64>>,
    no_acw_share: f64,
    acw_cap: f64,
    patience: Option<Exp<f64>>,
    ring_max: u32,
    overflow_after: Option<i64>,
}

impl Sampler {
    fn new(p: &ChannelProfile) -> Sampler {
        let lognormal = |mean: f64, cv: f64| {
            (mean > 0.0).then(|| LogNormal::from_mean_cv(mean, cv).expect("validated mean and cv"))
        };
        // Caps keep the rare extreme draw plausible (and within the model's 30-day limit).
        let cap = |mean: f64| (mean * 20.0).clamp(60.0, 86_400.0);
        Sampler {
            talk: lognormal(p.talk_mean_s, p.talk_cv).expect("validated talk mean ≥ 1"),
            talk_cap: cap(p.talk_mean_s),
            hold: lognormal(p.hold_mean_s, 0.8),
            hold_share: p.hold_share,
            hold_cap: cap(p.hold_mean_s),
            acw: lognormal(p.acw_mean_s, 0.5),
            no_acw_share: p.no_acw_share,
            acw_cap: cap(p.acw_mean_s),
            patience: p
                .patience_mean_s
                .map(|m| Exp::new(1.0 / m).expect("validated patience mean ≥ 1")),
            ring_max: p.ring_max_s,
            overflow_after: p.overflow_after_s.map(i64::from),
        }
    }

    /// Talk, hold and ACW seconds of an answered contact.
    fn handle(&self, rng: &mut ChaCha8Rng) -> (u32, u32, u32) {
        let talk = self.talk.sample(rng).round().clamp(1.0, self.talk_cap) as u32;
        let hold = match &self.hold {
            Some(d) if rng.random::<f64>() < self.hold_share => {
                d.sample(rng).round().clamp(1.0, self.hold_cap) as u32
            }
            _ => 0,
        };
        let acw = match &self.acw {
            Some(d) if rng.random::<f64>() >= self.no_acw_share => {
                d.sample(rng).round().clamp(1.0, self.acw_cap) as u32
            }
            _ => 0,
        };
        (talk, hold, acw)
    }

    /// Seconds the customer is willing to wait.
    fn patience(&self, rng: &mut ChaCha8Rng) -> i64 {
        match &self.patience {
            Some(d) => (d.sample(rng).round() as i64).clamp(0, MAX_QUEUE_WAIT_S),
            None => MAX_QUEUE_WAIT_S,
        }
    }

    fn ring(&self, rng: &mut ChaCha8Rng) -> i64 {
        if self.ring_max == 0 {
            0
        } else {
            i64::from(rng.random_range(0..=self.ring_max))
        }
    }
}

fn sampler_index(channel: Channel) -> usize {
    match channel {
        Channel::Chat => 1,
        Channel::Email => 2,
        _ => 0,
    }
}

#[derive(Debug)]
struct QueueRt {
    channel: Channel,
    overflow_to: Option<u16>,
    transfer_to: Vec<u16>,
}

/// The running simulation state.
#[derive(Debug)]
pub(crate) struct Engine {
    queues: Vec<QueueRt>,
    samplers: [Sampler; 3],
    transfer_share: f64,
    agents: Vec<AgentRt>,
    heap: BinaryHeap<Event>,
    next_seq: u64,
    contacts: Vec<Contact>,
    free_slots: Vec<u32>,
    /// Waiting contacts per queue, (slot, generation), oldest first; stale entries skipped lazily.
    waiting: Vec<VecDeque<(u32, u32)>>,
    /// Ready agents per queue, (agent, ready generation), longest idle first.
    idle: Vec<VecDeque<(u32, u32)>>,
    /// Ready agents of any skill, for direct contacts.
    idle_any: VecDeque<(u32, u32)>,
    next_order: u64,
    days: VecDeque<DayBuf>,
    /// Absolute index of `days[0]` (0 = the first simulated date).
    base: usize,
    grid: IntervalGrid,
    rng: ChaCha8Rng,
    logged_in: u32,
}

impl Engine {
    pub fn new(
        config: &SimulationConfig,
        dir: &Directory,
        zone: TimeZone,
        rng: ChaCha8Rng,
    ) -> Engine {
        let grid = IntervalGrid::new(zone, IntervalLength::Fifteen);
        let mut engine = Engine {
            queues: dir
                .queues
                .iter()
                .map(|q| QueueRt {
                    channel: q.channel,
                    overflow_to: q.overflow_to,
                    transfer_to: q.transfer_to.clone(),
                })
                .collect(),
            samplers: [
                Sampler::new(&config.voice),
                Sampler::new(&config.chat),
                Sampler::new(&config.email),
            ],
            transfer_share: config.transfer_share,
            agents: dir
                .agents
                .iter()
                .map(|a| AgentRt {
                    skills: a.skills.clone(),
                    status: Status::LoggedOut,
                    ready_gen: 0,
                    plan: VecDeque::new(),
                    last: (AgentState::LoggedOut, None),
                    last_at: i64::MIN,
                    last_loc: None,
                    prev: (AgentState::LoggedOut, None),
                })
                .collect(),
            heap: BinaryHeap::new(),
            next_seq: 0,
            contacts: Vec::new(),
            free_slots: Vec::new(),
            waiting: vec![VecDeque::new(); dir.queues.len()],
            idle: vec![VecDeque::new(); dir.queues.len()],
            idle_any: VecDeque::new(),
            next_order: 0,
            days: VecDeque::new(),
            base: 0,
            grid,
            rng,
            logged_in: 0,
        };
        engine.push_day(config.from);
        engine
    }

    // ----- days and output buffers -----

    fn push_day(&mut self, date: Date) {
        let (start, end) = self.grid.window(date, date);
        self.days.push_back(DayBuf {
            date,
            start: start.as_second(),
            end: end.as_second(),
            segments: Vec::new(),
            states: Vec::new(),
            unresolved: 0,
            clock_done: false,
        });
    }

    /// Absolute index of the day buffer an instant falls in, creating later days as needed.
    fn day_of(&mut self, at: i64) -> usize {
        loop {
            let back = self.days.back().expect("at least one day buffer");
            if at < back.end {
                break;
            }
            let next = wfm_model::time::next_day(back.date);
            self.push_day(next);
        }
        for i in (0..self.days.len()).rev() {
            if at >= self.days[i].start {
                return self.base + i;
            }
        }
        // Earlier than every held day: cannot happen (the oldest held day is never complete
        // while something in it is still open); file it in the oldest day rather than panic.
        self.base
    }

    fn day_mut(&mut self, index: usize) -> &mut DayBuf {
        &mut self.days[index - self.base]
    }

    /// Marks every day ending at or before `until` as complete in time.
    pub fn close_clock(&mut self, until: i64) {
        for day in self.days.iter_mut() {
            if day.end <= until {
                day.clock_done = true;
            }
        }
    }

    /// The oldest held day if it is complete (or `all`: whatever is held), removed from the engine.
    pub fn pop_day(&mut self, all: bool) -> Option<DayBuf> {
        let front = self.days.front()?;
        if !(all || (front.clock_done && front.unresolved == 0)) {
            return None;
        }
        if self.days.len() == 1 && !all {
            // Keep a buffer to file future records in (after the final flush nothing is filed).
            let next = wfm_model::time::next_day(front.date);
            self.push_day(next);
        }
        self.base += 1;
        self.days.pop_front()
    }

    fn unresolved_add(&mut self, offered: i64) {
        let d = self.day_of(offered);
        self.day_mut(d).unresolved += 1;
    }

    /// Files a finished segment in the day it was offered; `queued` segments were counted open.
    fn finish_segment(&mut self, rec: SegmentRec, queued: bool) {
        let d = self.day_of(rec.offered);
        let day = self.day_mut(d);
        if queued {
            day.unresolved -= 1;
        }
        day.segments.push(rec);
    }

    /// Records a state change of an agent (see the module comment for the collapsing rules).
    fn record(&mut self, agent: u32, at: i64, state: AgentState, reason: Option<Reason>) {
        let new = (state, reason);
        let a = &self.agents[agent as usize];
        if a.last == new {
            return;
        }
        if a.last_at == at
            && let Some((day, idx)) = a.last_loc
        {
            let undo = a.prev == new;
            let base = self.base;
            let rec = &mut self.days[day - base].states[idx];
            let a = &mut self.agents[agent as usize];
            if undo {
                rec.live = false;
                a.last = a.prev;
                // Any instant before `at` will do: only equality with later instants matters.
                a.last_at = at - 1;
                a.last_loc = None;
            } else {
                rec.state = state;
                rec.reason = reason;
                a.last = new;
            }
            return;
        }
        let day = self.day_of(at);
        let states = &mut self.days[day - self.base].states;
        states.push(StateRec {
            at,
            agent,
            state,
            reason,
            live: true,
        });
        let idx = states.len() - 1;
        let a = &mut self.agents[agent as usize];
        a.prev = a.last;
        a.last = new;
        a.last_at = at;
        a.last_loc = Some((day, idx));
    }

    // ----- events -----

    fn schedule(&mut self, at: i64, kind: EventKind) {
        self.next_seq += 1;
        self.heap.push(Event {
            at,
            seq: self.next_seq,
            kind,
        });
    }

    /// Adds one day's shifts to the agents' plans.
    pub fn add_shifts(&mut self, shifts: Vec<Shift>) {
        for shift in shifts {
            let Some(first) = shift.items.first().copied() else {
                continue;
            };
            let plan = &mut self.agents[shift.agent as usize].plan;
            let was_empty = plan.is_empty();
            plan.extend(shift.items);
            // A non-empty plan already has an event pending for its first step.
            if was_empty {
                self.schedule(first.at, EventKind::Plan(shift.agent));
            }
        }
    }

    /// Runs every event and arrival before `end`. `arrivals` are one day's, sorted; the n-th
    /// (from 1) gets contact number n of `date`.
    pub fn run_until(&mut self, arrivals: &[Arrival], date: Date, end: i64) {
        let mut next = 0;
        loop {
            let event = self.heap.peek().map(|e| e.at).filter(|&at| at < end);
            let arrival = arrivals.get(next).map(|a| a.at).filter(|&at| at < end);
            match (event, arrival) {
                (Some(e), Some(a)) if e <= a => self.process_event(),
                (Some(_), None) => self.process_event(),
                (_, Some(_)) => {
                    self.arrive(arrivals[next], date, next as u32 + 1);
                    next += 1;
                }
                (None, None) => break,
            }
        }
    }

    /// After the last day: lets agents finish their contacts and shifts, and lets callers still
    /// waiting on voice and chat abandon (up to `grace` seconds after `end`). E-mails still waiting
    /// after that stay without an outcome.
    pub fn drain(&mut self, end: i64, grace: i64) {
        while let Some(event) = self.heap.peek() {
            if self.logged_in == 0 && event.at >= end + grace {
                break;
            }
            self.process_event();
        }
    }

    /// Files every contact still waiting as a segment without an outcome.
    pub fn flush_waiting(&mut self) {
        for slot in 0..self.contacts.len() {
            let c = self.contacts[slot];
            if c.live && c.waiting {
                let rec = self.segment(&c, NONE, NONE, false);
                self.finish_segment(rec, true);
                self.contacts[slot].waiting = false;
            }
        }
        // Nothing can happen any more: every held day is complete.
        for day in self.days.iter_mut() {
            day.clock_done = true;
        }
    }

    fn process_event(&mut self) {
        let Some(event) = self.heap.pop() else { return };
        let now = event.at;
        match event.kind {
            EventKind::Free(a) | EventKind::Resume(a) => self.agent_available(a, now),
            EventKind::Plan(a) => self.plan_due(a, now),
            EventKind::Timeout(slot, stamp) => self.timeout(slot, stamp, now),
            EventKind::Transfer(slot, stamp) => self.transfer_arrives(slot, stamp, now),
        }
    }

    // ----- contacts -----

    fn alloc(&mut self, contact: Contact) -> u32 {
        match self.free_slots.pop() {
            Some(slot) => {
                let stamp = self.contacts[slot as usize].stamp.wrapping_add(1);
                self.contacts[slot as usize] = Contact { stamp, ..contact };
                slot
            }
            None => {
                self.contacts.push(contact);
                (self.contacts.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, slot: u32) {
        let c = &mut self.contacts[slot as usize];
        c.live = false;
        c.waiting = false;
        c.stamp = c.stamp.wrapping_add(1);
        self.free_slots.push(slot);
    }

    fn segment(&self, c: &Contact, answered: i64, abandoned: i64, overflowed: bool) -> SegmentRec {
        SegmentRec {
            offered: c.offered,
            answered,
            abandoned,
            contact_date: c.date,
            contact_no: c.no,
            agent: NO_AGENT,
            talk: 0,
            hold: 0,
            acw: 0,
            queue: c.queue,
            seq: c.seq,
            channel: self.queues[usize::from(c.queue)].channel,
            direction: c.direction,
            overflowed,
            transferred: false,
        }
    }

    fn arrive(&mut self, arrival: Arrival, date: Date, no: u32) {
        let at = arrival.at;
        match arrival.kind {
            ArrivalKind::Queue(queue) => {
                let sampler =
                    &self.samplers[sampler_index(self.queues[usize::from(queue)].channel)];
                let deadline = at + sampler.patience(&mut self.rng);
                let slot = self.alloc(Contact {
                    stamp: 0,
                    live: true,
                    waiting: false,
                    overflowed_before: false,
                    seq: 1,
                    queue,
                    direction: Direction::Inbound,
                    date,
                    no,
                    offered: at,
                    deadline,
                    overflow_at: i64::MAX,
                    order: 0,
                });
                self.unresolved_add(at);
                self.offer(slot, at);
            }
            ArrivalKind::DirectIn | ArrivalKind::DirectOut => {
                // A direct call only happens when some agent is free to make or take it.
                let Some(agent) = self.pop_idle_any() else {
                    return;
                };
                let (talk, hold, acw) = self.samplers[0].handle(&mut self.rng);
                self.start_work(agent, at, talk, hold, acw);
                let direction = if arrival.kind == ArrivalKind::DirectOut {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                };
                let rec = SegmentRec {
                    offered: at,
                    answered: at,
                    abandoned: NONE,
                    contact_date: date,
                    contact_no: no,
                    agent,
                    talk,
                    hold,
                    acw,
                    queue: DIRECT,
                    seq: 1,
                    channel: Channel::Voice,
                    direction,
                    overflowed: false,
                    transferred: false,
                };
                self.finish_segment(rec, false);
            }
        }
    }

    /// Offers a contact (just arrived, overflowed or transferred) to its queue at `now`.
    fn offer(&mut self, slot: u32, now: i64) {
        let c = self.contacts[slot as usize];
        if let Some(agent) = self.pop_idle(c.queue) {
            self.answer(slot, agent, now);
            return;
        }
        let overflow_at = match (
            self.queues[usize::from(c.queue)].overflow_to,
            self.samplers[sampler_index(self.queues[usize::from(c.queue)].channel)].overflow_after,
        ) {
            (Some(_), Some(after)) if !c.overflowed_before => now + after,
            _ => i64::MAX,
        };
        let order = self.next_order;
        self.next_order += 1;
        let contact = &mut self.contacts[slot as usize];
        contact.waiting = true;
        contact.overflow_at = overflow_at;
        contact.order = order;
        let stamp = contact.stamp;
        self.waiting[usize::from(c.queue)].push_back((slot, stamp));
        self.schedule(c.deadline.min(overflow_at), EventKind::Timeout(slot, stamp));
    }

    /// A waiting contact's timer fired: it abandons, or overflows to the sibling queue.
    fn timeout(&mut self, slot: u32, stamp: u32, now: i64) {
        let c = self.contacts[slot as usize];
        if !c.live || !c.waiting || c.stamp != stamp {
            return;
        }
        if now >= c.deadline || now < c.overflow_at {
            let rec = self.segment(&c, NONE, now, false);
            self.finish_segment(rec, true);
            self.release(slot);
            return;
        }
        let rec = self.segment(&c, NONE, NONE, true);
        self.finish_segment(rec, true);
        let target = self.queues[usize::from(c.queue)]
            .overflow_to
            .expect("overflow timers are only set with a target");
        let contact = &mut self.contacts[slot as usize];
        contact.stamp = contact.stamp.wrapping_add(1);
        contact.waiting = false;
        contact.overflowed_before = true;
        contact.seq = contact.seq.saturating_add(1);
        contact.queue = target;
        contact.offered = now;
        // Same caller, same patience: the deadline is kept.
        self.unresolved_add(now);
        self.offer(slot, now);
    }

    fn transfer_arrives(&mut self, slot: u32, stamp: u32, now: i64) {
        let c = self.contacts[slot as usize];
        if !c.live || c.stamp != stamp {
            return;
        }
        let sampler = &self.samplers[sampler_index(self.queues[usize::from(c.queue)].channel)];
        let patience = sampler.patience(&mut self.rng);
        let contact = &mut self.contacts[slot as usize];
        contact.offered = now;
        contact.deadline = now + patience;
        self.unresolved_add(now);
        self.offer(slot, now);
    }

    /// `agent` (no longer ready) connects with the contact in `slot`, picked at `now`.
    fn answer(&mut self, slot: u32, agent: u32, now: i64) {
        let c = self.contacts[slot as usize];
        let queue = &self.queues[usize::from(c.queue)];
        let sampler = &self.samplers[sampler_index(queue.channel)];
        let answered = now + sampler.ring(&mut self.rng);
        let (talk, hold, acw) = sampler.handle(&mut self.rng);
        let transfer_to = if !queue.transfer_to.is_empty()
            && c.seq < MAX_SEQ
            && self.rng.random::<f64>() < self.transfer_share
        {
            Some(queue.transfer_to[self.rng.random_range(0..queue.transfer_to.len())])
        } else {
            None
        };
        self.start_work(agent, answered, talk, hold, acw);
        let mut rec = self.segment(&c, answered, NONE, false);
        rec.agent = agent;
        rec.talk = talk;
        rec.hold = hold;
        rec.acw = acw;
        rec.transferred = transfer_to.is_some();
        self.finish_segment(rec, true);
        match transfer_to {
            Some(target) => {
                let contact = &mut self.contacts[slot as usize];
                contact.stamp = contact.stamp.wrapping_add(1);
                contact.waiting = false;
                contact.seq += 1;
                contact.queue = target;
                let stamp = contact.stamp;
                let talk_end = answered + i64::from(talk) + i64::from(hold);
                self.schedule(talk_end, EventKind::Transfer(slot, stamp));
            }
            None => self.release(slot),
        }
    }

    // ----- agents -----

    /// Busy from `answered` for talk + hold, then ACW, then free.
    fn start_work(&mut self, agent: u32, answered: i64, talk: u32, hold: u32, acw: u32) {
        self.agents[agent as usize].status = Status::Working;
        self.record(agent, answered, AgentState::Busy, None);
        let talk_end = answered + i64::from(talk) + i64::from(hold);
        if acw > 0 {
            self.record(agent, talk_end, AgentState::Acw, None);
        }
        self.schedule(talk_end + i64::from(acw), EventKind::Free(agent));
    }

    fn take_ready(&mut self, agent: u32, stamp: u32) -> bool {
        let a = &mut self.agents[agent as usize];
        if a.status == Status::Ready && a.ready_gen == stamp {
            a.status = Status::Working;
            a.ready_gen = a.ready_gen.wrapping_add(1);
            true
        } else {
            false
        }
    }

    fn pop_idle(&mut self, queue: u16) -> Option<u32> {
        while let Some((agent, stamp)) = self.idle[usize::from(queue)].pop_front() {
            if self.take_ready(agent, stamp) {
                return Some(agent);
            }
        }
        None
    }

    fn pop_idle_any(&mut self) -> Option<u32> {
        while let Some((agent, stamp)) = self.idle_any.pop_front() {
            if self.take_ready(agent, stamp) {
                return Some(agent);
            }
        }
        None
    }

    /// Pushes the next plan step's event after one was consumed.
    fn schedule_plan(&mut self, agent: u32, now: i64) {
        if let Some(next) = self.agents[agent as usize].plan.front() {
            let at = next.at.max(now);
            self.schedule(at, EventKind::Plan(agent));
        }
    }

    /// A plan step may be due: act now if the agent is idle or logged out; otherwise the step is
    /// taken when the current contact or activity ends.
    fn plan_due(&mut self, agent: u32, now: i64) {
        let a = &mut self.agents[agent as usize];
        let Some(item) = a.plan.front().copied() else {
            return;
        };
        if item.at > now {
            return;
        }
        match a.status {
            Status::LoggedOut => {
                a.plan.pop_front();
                self.schedule_plan(agent, now);
                if item.kind == PlanKind::Login {
                    self.logged_in += 1;
                    self.agents[agent as usize].status = Status::Working;
                    self.agent_available(agent, now);
                }
            }
            Status::Ready => {
                a.status = Status::Working;
                a.ready_gen = a.ready_gen.wrapping_add(1);
                self.agent_available(agent, now);
            }
            Status::Working | Status::NotReady => {}
        }
    }

    /// The agent is logged in and free at `now` (after login, a contact or an activity): take a
    /// due plan step, else the longest-waiting contact across the skills, else become ready.
    fn agent_available(&mut self, agent: u32, now: i64) {
        let a = &mut self.agents[agent as usize];
        if let Some(item) = a.plan.front().copied()
            && item.at <= now
            && item.kind != PlanKind::Login
        {
            a.plan.pop_front();
            self.schedule_plan(agent, now);
            match item.kind {
                PlanKind::Activity(reason, secs) => {
                    self.agents[agent as usize].status = Status::NotReady;
                    self.record(agent, now, AgentState::NotReady, Some(reason));
                    self.schedule(now + i64::from(secs), EventKind::Resume(agent));
                }
                _ => {
                    self.agents[agent as usize].status = Status::LoggedOut;
                    self.record(agent, now, AgentState::LoggedOut, None);
                    self.logged_in -= 1;
                }
            }
            return;
        }

        let mut best: Option<(u64, u16)> = None;
        for k in 0..self.agents[agent as usize].skills.len() {
            let queue = self.agents[agent as usize].skills[k];
            let waiting = &mut self.waiting[usize::from(queue)];
            while let Some(&(slot, stamp)) = waiting.front() {
                let c = &self.contacts[slot as usize];
                if c.live && c.waiting && c.stamp == stamp {
                    if best.is_none_or(|(order, _)| c.order < order) {
                        best = Some((c.order, queue));
                    }
                    break;
                }
                waiting.pop_front();
            }
        }
        // Ready first: the agent is available for the ring time (collapsed away when it is 0).
        self.record(agent, now, AgentState::Ready, None);
        if let Some((_, queue)) = best {
            let (slot, _) = self.waiting[usize::from(queue)]
                .pop_front()
                .expect("front was just seen");
            let c = &mut self.contacts[slot as usize];
            c.waiting = false;
            c.stamp = c.stamp.wrapping_add(1);
            self.agents[agent as usize].status = Status::Working;
            self.answer(slot, agent, now);
            return;
        }

        let a = &mut self.agents[agent as usize];
        a.status = Status::Ready;
        a.ready_gen = a.ready_gen.wrapping_add(1);
        let stamp = a.ready_gen;
        let limit = 2 * self.agents.len() + 16;
        for k in 0..self.agents[agent as usize].skills.len() {
            let queue = usize::from(self.agents[agent as usize].skills[k]);
            self.idle[queue].push_back((agent, stamp));
            if self.idle[queue].len() > limit {
                let agents = &self.agents;
                self.idle[queue].retain(|&(a, g)| {
                    agents[a as usize].status == Status::Ready && agents[a as usize].ready_gen == g
                });
            }
        }
        self.idle_any.push_back((agent, stamp));
        if self.idle_any.len() > limit {
            let agents = &self.agents;
            self.idle_any.retain(|&(a, g)| {
                agents[a as usize].status == Status::Ready && agents[a as usize].ready_gen == g
            });
        }
    }
}
