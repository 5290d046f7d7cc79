//! A deterministic contact-center simulator: from a size, a date range and a seed it produces the
//! five canonical record kinds of DESIGN §4 (tenant, queues, agents, contact segments, agent state
//! events) for demos, tests and benchmarks.
//!
//! The center is realistic enough for interval statistics to look like a real one: Poisson arrivals
//! with an intraday and weekly profile in the tenant's local time, log-normal handle times, impatient
//! callers, transfers, overflows and direct calls, and agents on rotating 8-hour shifts with breaks
//! and lunch. A discrete-event simulation (the `engine` module) drives both contacts and
//! agent states, so every answered segment lies in a `busy` period of its agent.
//!
//! The crate is pure (no I/O, no threads). Records go to a sink callback, day by day; memory does not
//! grow with the number of days. Time is kept in whole seconds.
//!
//! ```
//! use wfm_simulator::{SimulationConfig, simulate};
//!
//! let config = SimulationConfig::new("demo", 20, 3, jiff::civil::date(2024, 1, 1), 1, 42);
//! let mut lines = Vec::new();
//! let summary = simulate(&config, |record| {
//!     lines.push(record.to_json());
//!     Ok::<(), std::convert::Infallible>(())
//! })
//! .unwrap();
//! assert_eq!(summary.agents, 20);
//! assert!(summary.segments > 100);
//! ```

mod config;
mod demand;
mod directory;
mod engine;
mod names;
mod roster;
mod summary;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use wfm_model::{
    Agent, AgentState, AgentStateEvent, IntervalGrid, IntervalLength, Queue, Record, Segment,
    Tenant,
};

pub use config::{
    ADMIN_REASONS, ChannelProfile, ConfigError, MAX_AGENTS, MAX_QUEUE_WAIT_S, MAX_QUEUES,
    OpeningHours, SimulationConfig,
};
pub use names::queue_channel;
pub use summary::SimulationSummary;

use directory::Directory;
use engine::{DayBuf, Engine, NONE};

/// Seconds after the end of the last day during which waiting callers may still abandon.
const DRAIN_GRACE_S: i64 = 4 * 3600;

/// Independent random streams: changing how one part draws never shifts the others.
#[repr(u64)]
enum Stream {
    Directory = 1,
    Shifts = 2,
    Demand = 3,
    Contacts = 4,
}

fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// Why [`simulate`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError<E> {
    /// The configuration cannot be simulated.
    #[error("invalid simulation setting: {0}")]
    Config(#[from] ConfigError),
    /// The sink refused a record.
    #[error("writing simulated records failed: {0}")]
    Sink(E),
}

/// Simulates `config` and passes every record to `sink`: the tenant, the queues, the agents, then
/// day by day that day's segments (by offered_at, contact_id, seq) and state events (by at, agent).
///
/// The same configuration gives the same records in the same order. Returns what was produced.
pub fn simulate<E>(
    config: &SimulationConfig,
    mut sink: impl FnMut(Record) -> Result<(), E>,
) -> Result<SimulationSummary, SimulationError<E>> {
    let mut simulation = Simulation::new(config)?;
    simulation
        .emit_directory(&mut sink)
        .map_err(SimulationError::Sink)?;
    while simulation
        .step_day(&mut sink)
        .map_err(SimulationError::Sink)?
    {}
    Ok(simulation.summary().clone())
}

/// A simulation that is advanced one day at a time, for callers that show progress.
///
/// ```
/// # use wfm_simulator::{Simulation, SimulationConfig};
/// let config = SimulationConfig::new("demo", 10, 2, jiff::civil::date(2024, 3, 4), 2, 1);
/// let mut sim = Simulation::new(&config).unwrap();
/// let mut sink = |_r| Ok::<(), ()>(());
/// sim.emit_directory(&mut sink).unwrap();
/// while sim.step_day(&mut sink).unwrap() {
///     eprintln!("{} of {} days", sim.days_simulated(), sim.days_total());
/// }
/// assert!(sim.is_finished());
/// ```
#[derive(Debug)]
pub struct Simulation {
    config: SimulationConfig,
    zone: TimeZone,
    grid15: IntervalGrid,
    dir: Directory,
    engine: Engine,
    shift_rng: ChaCha8Rng,
    demand_rng: ChaCha8Rng,
    day: u32,
    directory_emitted: bool,
    finished: bool,
    summary: SimulationSummary,
    /// Per agent: the last emitted state and its instant, to add up time per state.
    timeline: Vec<(AgentState, i64)>,
}

impl Simulation {
    /// Validates the configuration and builds the directory.
    pub fn new(config: &SimulationConfig) -> Result<Simulation, ConfigError> {
        config.validate()?;
        let zone = config.zone()?;
        let dir = Directory::build(config, &mut rng(config.seed, Stream::Directory));
        let engine = Engine::new(
            config,
            &dir,
            zone.clone(),
            rng(config.seed, Stream::Contacts),
        );
        let agents = dir.agents.len();
        Ok(Simulation {
            config: config.clone(),
            grid15: IntervalGrid::new(zone.clone(), IntervalLength::Fifteen),
            zone,
            dir,
            engine,
            shift_rng: rng(config.seed, Stream::Shifts),
            demand_rng: rng(config.seed, Stream::Demand),
            day: 0,
            directory_emitted: false,
            finished: false,
            summary: SimulationSummary::default(),
            timeline: vec![(AgentState::LoggedOut, 0); agents],
        })
    }

    /// The simulated tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.dir.tenant
    }

    /// The simulated queues, in id order.
    pub fn queues(&self) -> impl ExactSizeIterator<Item = &Queue> {
        self.dir.queues.iter().map(|q| &q.record)
    }

    /// The simulated agents, in id order.
    pub fn agents(&self) -> impl ExactSizeIterator<Item = &Agent> {
        self.dir.agents.iter().map(|a| &a.record)
    }

    /// Emits the tenant, the queues and the agents (once; later calls do nothing).
    pub fn emit_directory<E>(
        &mut self,
        sink: &mut dyn FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.directory_emitted {
            return Ok(());
        }
        self.directory_emitted = true;
        sink(Record::Tenant(self.dir.tenant.clone()))?;
        self.summary.tenants += 1;
        for q in &self.dir.queues {
            sink(Record::Queue(q.record.clone()))?;
            self.summary.queues += 1;
        }
        for a in &self.dir.agents {
            sink(Record::Agent(a.record.clone()))?;
            self.summary.agents += 1;
        }
        Ok(())
    }

    /// Simulates the next day and emits every day whose records are complete (a day's segments wait
    /// until each contact offered that day has an outcome, so output may lag a day behind; after the
    /// last day everything is emitted). Emits the directory first if not done yet. Returns false,
    /// doing nothing, once every day has been simulated.
    pub fn step_day<E>(
        &mut self,
        sink: &mut dyn FnMut(Record) -> Result<(), E>,
    ) -> Result<bool, E> {
        if self.finished {
            return Ok(false);
        }
        self.emit_directory(sink)?;
        let date = self.date(self.day);
        let shifts = roster::plan_day(
            &self.config,
            &self.dir,
            &self.zone,
            date,
            &mut self.shift_rng,
        );
        let arrivals = demand::arrivals(
            &self.config,
            &self.dir,
            &self.grid15,
            date,
            &shifts,
            &mut self.demand_rng,
        );
        self.engine.add_shifts(shifts);
        let end = self
            .grid15
            .day_start(wfm_model::time::next_day(date))
            .as_second();
        self.engine.run_until(&arrivals, date, end);
        self.engine.close_clock(end);
        self.day += 1;
        self.summary.days = self.day;

        let last = self.day >= self.config.days;
        if last {
            self.engine.drain(end, DRAIN_GRACE_S);
            self.engine.flush_waiting();
            self.finished = true;
        }
        while let Some(day) = self.engine.pop_day(last) {
            self.emit_day(day, sink)?;
        }
        Ok(true)
    }

    /// Days simulated so far.
    pub fn days_simulated(&self) -> u32 {
        self.day
    }

    /// Days to simulate in all.
    pub fn days_total(&self) -> u32 {
        self.config.days
    }

    /// Whether every day has been simulated and emitted.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// What has been emitted so far.
    pub fn summary(&self) -> &SimulationSummary {
        &self.summary
    }

    fn date(&self, index: u32) -> Date {
        self.config
            .from
            .checked_add(jiff::Span::new().days(i64::from(index)))
            .expect("validated date range")
    }

    fn emit_day<E>(
        &mut self,
        mut day: DayBuf,
        sink: &mut dyn FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        day.segments
            .sort_unstable_by_key(|s| (s.offered, s.contact_date, s.contact_no, s.seq));
        for s in &day.segments {
            let segment = self.segment_record(s);
            let summary = &mut self.summary;
            summary.segments += 1;
            if s.queue == engine::DIRECT {
                match s.direction {
                    wfm_model::Direction::Inbound => summary.direct_inbound += 1,
                    wfm_model::Direction::Outbound => summary.direct_outbound += 1,
                }
            } else {
                summary.offered += 1;
                if s.answered != NONE {
                    summary.answered += 1;
                    let sl = self.dir.queues[usize::from(s.queue)].record.sl_seconds;
                    if s.answered - s.offered <= i64::from(sl) {
                        summary.answered_within_sl += 1;
                    }
                } else if s.abandoned != NONE {
                    summary.abandoned += 1;
                } else if s.overflowed {
                    summary.overflowed += 1;
                } else {
                    summary.waiting += 1;
                }
            }
            if s.transferred {
                summary.transferred += 1;
            }
            sink(Record::Segment(segment))?;
        }

        day.states.retain(|s| s.live);
        day.states.sort_unstable_by_key(|s| (s.at, s.agent));
        for s in &day.states {
            let (last, since) = self.timeline[s.agent as usize];
            let secs = (s.at - since).max(0) as u64;
            match last {
                AgentState::Ready => self.summary.ready_s += secs,
                AgentState::Busy => self.summary.busy_s += secs,
                AgentState::Acw => self.summary.acw_s += secs,
                AgentState::NotReady => self.summary.not_ready_s += secs,
                AgentState::LoggedOut => {}
            }
            self.timeline[s.agent as usize] = (s.state, s.at);
            self.summary.states += 1;
            sink(Record::State(AgentStateEvent {
                tenant: self.config.tenant.clone(),
                agent: self.dir.agents[s.agent as usize].record.agent.clone(),
                at: timestamp(s.at),
                state: s.state,
                reason: s.reason.map(|r| r.as_str().to_string()),
                source_code: None,
            }))?;
        }
        Ok(())
    }

    fn segment_record(&self, s: &engine::SegmentRec) -> Segment {
        let instant = |t: i64| (t != NONE).then(|| timestamp(t));
        Segment {
            tenant: self.config.tenant.clone(),
            contact_id: names::contact_id(s.contact_date, s.contact_no),
            seq: u32::from(s.seq),
            channel: s.channel,
            direction: s.direction,
            queue: (s.queue != engine::DIRECT)
                .then(|| self.dir.queues[usize::from(s.queue)].record.queue.clone()),
            offered_at: timestamp(s.offered),
            answered_at: instant(s.answered),
            abandoned_at: instant(s.abandoned),
            overflowed: s.overflowed,
            agent: (s.agent != engine::NO_AGENT)
                .then(|| self.dir.agents[s.agent as usize].record.agent.clone()),
            talk_s: s.talk,
            hold_s: s.hold,
            acw_s: s.acw,
            transferred: s.transferred,
            metadata: BTreeMap::new(),
        }
    }
}

fn timestamp(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("simulated instants lie within the validated years")
}

#[cfg(test)]
mod tests;
