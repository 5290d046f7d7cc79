//! A plain reference implementation of DESIGN §5 for the tests: no interning, no lookup tables, no
//! streaming, written to be obviously right rather than fast.
//!
//! Contact measures use `IntervalGrid::label_of` on each `offered_at` and jiff's own rounding of the
//! wait; agent measures intersect every state span with every UTC piece of every day of the window
//! (from `IntervalGrid::day`), in milliseconds, and round each output sum once at the end. The fast
//! path in `builder.rs` must give the same rows.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time};
use jiff::{RoundMode, SignedDurationRound, Unit};
use wfm_model::{
    Agent, AgentState, AgentStateEvent, IntervalGrid, IntervalLength, Queue, Segment, Tenant,
};

use crate::rows::{AgentQueueRow, AgentRow, QueueRow};

/// (date, time, agent id, queue id) of an agent-queue row.
type PairKey = (Date, Time, String, String);
/// (agent name, queue name, measures) of an agent-queue row.
type PairRow = (String, String, Vec<u64>);

/// The rows as plain tuples, keyed for comparison: (date, time, ids) → (names, measures).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plain {
    pub(crate) queues: BTreeMap<(Date, Time, String), (String, Vec<u64>)>,
    pub(crate) agents: BTreeMap<(Date, Time, String), (String, Vec<u64>)>,
    pub(crate) agent_queues: BTreeMap<PairKey, PairRow>,
}

impl Plain {
    /// The fast path's rows in the same shape.
    pub(crate) fn of(
        queue_rows: &[QueueRow],
        agent_rows: &[AgentRow],
        agent_queue_rows: &[AgentQueueRow],
    ) -> Plain {
        let mut p = Plain::default();
        for r in queue_rows {
            p.queues.insert(
                (r.date, r.time, r.queue.to_string()),
                (r.queue_name.to_string(), r.measures().to_vec()),
            );
        }
        for r in agent_rows {
            p.agents.insert(
                (r.date, r.time, r.agent_id.to_string()),
                (r.agent_name.to_string(), r.measures().to_vec()),
            );
        }
        for r in agent_queue_rows {
            p.agent_queues.insert(
                (r.date, r.time, r.agent_id.to_string(), r.queue.to_string()),
                (
                    r.agent_name.to_string(),
                    r.queue_name.to_string(),
                    r.measures().to_vec(),
                ),
            );
        }
        p
    }
}

fn round_half_up_ms(ms: i64) -> u64 {
    // Plainly: whole seconds, plus one when the remainder is at least half a second.
    let whole = ms / 1000;
    let rest = ms % 1000;
    (if rest >= 500 { whole + 1 } else { whole }) as u64
}

/// Statistics for `tenant` over `from..=to` with the full timelines (every event of every agent,
/// any tenant, in any order).
#[allow(clippy::too_many_arguments)]
pub(crate) fn compute(
    tenant: &Tenant,
    queues: &[Queue],
    agents: &[Agent],
    from: Date,
    to: Date,
    length: IntervalLength,
    segments: &[Segment],
    events: &[AgentStateEvent],
) -> Plain {
    let grid = IntervalGrid::new(tenant.zone().unwrap(), length);
    let (start, end) = grid.window(from, to);
    let l_s = length.seconds() as u64;

    let queue_of = |id: &str| {
        queues
            .iter()
            .rev()
            .find(|q| q.tenant == tenant.tenant && q.queue == id)
    };
    let agent_of = |id: &str| {
        agents
            .iter()
            .rev()
            .find(|a| a.tenant == tenant.tenant && a.agent == id)
    };
    let queue_name = |id: &str| {
        queue_of(id)
            .map(|q| q.display_name().to_string())
            .unwrap_or(id.to_string())
    };
    let agent_name = |id: &str| {
        agent_of(id)
            .map(|a| a.display_name())
            .unwrap_or(id.to_string())
    };

    // --- contacts ---
    // queue measures, by name: offd, ovin, aband, ovout, answ, qa, qab, talk, wrap, la, lab, sl, short, within
    let mut q: BTreeMap<(Date, Time, String), BTreeMap<&str, u64>> = BTreeMap::new();
    let mut direct: BTreeMap<(Date, Time, String), [u64; 4]> = BTreeMap::new();
    let mut aq: BTreeMap<(Date, Time, String, String), [u64; 4]> = BTreeMap::new();
    for s in segments {
        if s.tenant != tenant.tenant || s.offered_at < start || s.offered_at >= end {
            continue;
        }
        let waiting = s.answered_at.is_none() && s.abandoned_at.is_none() && !s.overflowed;
        if waiting {
            continue;
        }
        let label = grid.label_of(s.offered_at);
        let talk = u64::from(s.talk_s + s.hold_s);
        let Some(queue) = &s.queue else {
            let d = direct
                .entry((label.date, label.start, s.agent.clone().unwrap()))
                .or_default();
            if s.direction == wfm_model::Direction::Outbound {
                d[0] += 1;
                d[1] += talk;
            } else {
                d[2] += 1;
                d[3] += talk;
            }
            continue;
        };
        let (sl, short) = queue_of(queue)
            .map(|q| (u64::from(q.sl_seconds), u64::from(q.short_abandon_seconds)))
            .unwrap_or((20, 5));
        let wait = s.wait().map(|w| {
            w.round(
                SignedDurationRound::new()
                    .smallest(Unit::Second)
                    .mode(RoundMode::HalfExpand),
            )
            .unwrap()
            .as_secs() as u64
        });
        let m = q
            .entry((label.date, label.start, queue.clone()))
            .or_default();
        *m.entry(if s.seq == 1 { "offd" } else { "ovin" })
            .or_default() += 1;
        if s.answered_at.is_some() {
            let wait = wait.unwrap();
            *m.entry("answ").or_default() += 1;
            *m.entry("qa").or_default() += wait;
            let la = m.entry("la").or_default();
            *la = (*la).max(wait);
            *m.entry("talk").or_default() += talk;
            *m.entry("wrap").or_default() += u64::from(s.acw_s);
            if wait <= sl {
                *m.entry("sl").or_default() += 1;
            }
            let a = aq
                .entry((
                    label.date,
                    label.start,
                    s.agent.clone().unwrap(),
                    queue.clone(),
                ))
                .or_default();
            a[0] += talk;
            a[1] += u64::from(s.acw_s);
            a[2] += 1;
            a[3] += u64::from(s.transferred);
        } else if s.abandoned_at.is_some() {
            let wait = wait.unwrap();
            *m.entry("aband").or_default() += 1;
            *m.entry("qab").or_default() += wait;
            let lab = m.entry("lab").or_default();
            *lab = (*lab).max(wait);
            if wait < short {
                *m.entry("short").or_default() += 1;
            }
            if short <= wait && wait <= sl {
                *m.entry("within").or_default() += 1;
            }
        } else {
            *m.entry("ovout").or_default() += 1;
        }
    }

    // --- state timelines, piece by piece ---
    let mut pieces = Vec::new();
    let mut date = from;
    loop {
        let day = grid.day(date);
        for p in &day.pieces {
            pieces.push((
                p.start.as_millisecond(),
                p.end.as_millisecond(),
                date,
                day.labels[p.label],
            ));
        }
        if date == to {
            break;
        }
        date = date.tomorrow().unwrap();
    }
    let mut by_agent: BTreeMap<&str, Vec<&AgentStateEvent>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.tenant == tenant.tenant) {
        by_agent.entry(&e.agent).or_default().push(e);
    }
    // ms per (date, time, agent): ready, busy, acw, not_ready, admin
    let mut ms: BTreeMap<(Date, Time, String), [i64; 5]> = BTreeMap::new();
    for (agent, mut evs) in by_agent {
        evs.sort_by_key(|e| e.at);
        for (i, e) in evs.iter().enumerate() {
            let span_start = e.at.as_millisecond();
            let span_end = evs
                .get(i + 1)
                .map(|n| n.at.as_millisecond())
                .unwrap_or(i64::MAX);
            let slot = match e.state {
                AgentState::LoggedOut => continue,
                AgentState::Ready => 0,
                AgentState::Busy => 1,
                AgentState::Acw => 2,
                AgentState::NotReady => 3,
            };
            let admin = e.state == AgentState::NotReady
                && e.reason
                    .as_ref()
                    .is_some_and(|r| tenant.admin_reasons.contains(r));
            for &(ps, pe, date, time) in &pieces {
                let overlap = span_end.min(pe) - span_start.max(ps);
                if overlap > 0 {
                    let cell = ms.entry((date, time, agent.to_string())).or_default();
                    cell[slot] += overlap;
                    if admin {
                        cell[4] += overlap;
                    }
                }
            }
        }
    }
    // queue ready ms, over skilled agents
    let mut queue_ready: BTreeMap<(Date, Time, String), i64> = BTreeMap::new();
    for ((date, time, agent), cell) in &ms {
        let skills: BTreeSet<&String> = agent_of(agent)
            .map(|a| a.skills.iter().collect())
            .unwrap_or_default();
        for skill in skills {
            *queue_ready
                .entry((*date, *time, skill.clone()))
                .or_default() += cell[0];
        }
    }

    // --- rows ---
    let mut out = Plain::default();
    let keys: BTreeSet<(Date, Time, String)> = q
        .keys()
        .cloned()
        .chain(queue_ready.keys().cloned())
        .collect();
    for key in keys {
        let empty = BTreeMap::new();
        let m = q.get(&key).unwrap_or(&empty);
        let g = |k: &str| m.get(k).copied().unwrap_or(0);
        let wait_dur = round_half_up_ms(queue_ready.get(&key).copied().unwrap_or(0));
        let avg = (wait_dur as f64 / l_s as f64 + 0.5).floor() as u64;
        let measures = vec![
            g("offd"),
            g("ovin"),
            g("aband"),
            g("ovout"),
            g("answ"),
            g("qa"),
            g("qab"),
            g("talk"),
            g("wrap"),
            g("la"),
            g("lab"),
            avg,
            g("sl"),
            wait_dur,
            g("short"),
            g("within"),
        ];
        if measures.iter().any(|&v| v != 0) {
            let name = queue_name(&key.2);
            out.queues.insert(key, (name, measures));
        }
    }
    let keys: BTreeSet<(Date, Time, String)> =
        ms.keys().cloned().chain(direct.keys().cloned()).collect();
    for key in keys {
        let c = ms.get(&key).copied().unwrap_or_default();
        let d = direct.get(&key).copied().unwrap_or_default();
        let measures = vec![
            round_half_up_ms(c[0] + c[1] + c[2]),
            round_half_up_ms(c[0] + c[1] + c[2] + c[3]),
            round_half_up_ms(c[3]),
            round_half_up_ms(c[0]),
            round_half_up_ms(c[4]),
            d[0],
            d[1],
            d[2],
            d[3],
        ];
        if measures.iter().any(|&v| v != 0) {
            let name = agent_name(&key.2);
            out.agents.insert(key, (name, measures));
        }
    }
    for (key, a) in aq {
        let names = (agent_name(&key.2), queue_name(&key.3));
        out.agent_queues.insert(key, (names.0, names.1, a.to_vec()));
    }
    out
}
