//! What a simulation produced: record counts per kind, contact outcomes and the time agents spent in
//! each state, with the three figures a person checks first (abandon rate, service level, occupancy).

use std::fmt;

/// Counts and totals of one simulation, accumulated as records are emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulationSummary {
    /// Tenant records emitted (1).
    pub tenants: u64,
    /// Queue records emitted.
    pub queues: u64,
    /// Agent records emitted.
    pub agents: u64,
    /// Contact segments emitted (queued and direct).
    pub segments: u64,
    /// Agent state events emitted.
    pub states: u64,
    /// Local days simulated.
    pub days: u32,
    /// Queued segments (every `seq`, so a transferred or overflowed contact counts in each queue).
    pub offered: u64,
    /// Queued segments answered.
    pub answered: u64,
    /// Queued segments answered within their queue's `sl_seconds`.
    pub answered_within_sl: u64,
    /// Queued segments abandoned.
    pub abandoned: u64,
    /// Queued segments that overflowed to another queue.
    pub overflowed: u64,
    /// Queued segments still waiting when the simulation ended (no outcome).
    pub waiting: u64,
    /// Answered segments transferred out by the agent.
    pub transferred: u64,
    /// Direct (queue-less) inbound contacts.
    pub direct_inbound: u64,
    /// Direct outbound contacts.
    pub direct_outbound: u64,
    /// Agent seconds in `ready`.
    pub ready_s: u64,
    /// Agent seconds in `busy`.
    pub busy_s: u64,
    /// Agent seconds in `acw`.
    pub acw_s: u64,
    /// Agent seconds in `not_ready`.
    pub not_ready_s: u64,
}

impl SimulationSummary {
    /// Abandoned / offered queued segments (0 when nothing was offered).
    pub fn abandon_rate(&self) -> f64 {
        ratio(self.abandoned, self.offered)
    }

    /// Answered within the threshold / (answered + abandoned): overflowed segments are left out,
    /// they are served (or not) in their next queue.
    pub fn service_level(&self) -> f64 {
        ratio(self.answered_within_sl, self.answered + self.abandoned)
    }

    /// (busy + acw) / (ready + busy + acw): the share of available time spent on contacts.
    pub fn occupancy(&self) -> f64 {
        ratio(
            self.busy_s + self.acw_s,
            self.ready_s + self.busy_s + self.acw_s,
        )
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for SimulationSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} days: {} queues, {} agents, {} segments ({} offered, {} answered, {} abandoned, {} overflowed, {} transferred, {} direct), {} state events; abandon rate {:.1} %, service level {:.1} %, occupancy {:.1} %",
            self.days,
            self.queues,
            self.agents,
            self.segments,
            self.offered,
            self.answered,
            self.abandoned,
            self.overflowed,
            self.transferred,
            self.direct_inbound + self.direct_outbound,
            self.states,
            100.0 * self.abandon_rate(),
            100.0 * self.service_level(),
            100.0 * self.occupancy(),
        )
    }
}
