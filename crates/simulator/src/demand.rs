//! Demand: the intraday arrival profile of each channel (closed at night, morning ramp, lunch dip,
//! afternoon peak), the weekly pattern, the daily volume of each queue, and the Poisson arrivals
//! of one local day.
//!
//! Volumes are derived from the planned staffing (the agents on shift, split over their skills,
//! loaded the way a planner would: small groups lighter than large ones), so any number of agents
//! gives a realistic load; the weekly tilt (Monday busiest), daily noise and a drifting intraday
//! deviation make some days and intervals better served than others. Profiles are evaluated on the tenant's local clock via the model's
//! [`IntervalGrid`], so a 23- or 25-hour DST day keeps its opening hours in local time.

use jiff::civil::Date;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Poisson};
use wfm_model::{Channel, IntervalGrid};

use crate::config::SimulationConfig;
use crate::directory::Directory;
use crate::roster::Shift;

/// Voice and chat on a weekday: (local hour, relative arrival rate), linear in between.
const WEEKDAY: &[(f64, f64)] = &[
    (7.0, 0.30),
    (8.0, 0.62),
    (9.0, 0.92),
    (10.0, 1.00),
    (11.0, 0.96),
    (11.75, 0.82),
    (12.5, 0.72),
    (13.25, 0.84),
    (14.0, 0.95),
    (15.0, 0.92),
    (16.0, 0.80),
    (17.0, 0.62),
    (18.0, 0.46),
    (19.0, 0.36),
    (20.0, 0.26),
    (21.0, 0.18),
];

/// Voice and chat on Saturday and Sunday.
const WEEKEND: &[(f64, f64)] = &[
    (9.0, 0.55),
    (10.0, 0.85),
    (11.0, 1.00),
    (12.5, 0.85),
    (14.0, 0.90),
    (16.0, 0.70),
    (18.0, 0.40),
];

/// E-mail arrives around the clock: a trickle at night, office hours by day.
const EMAIL: &[(f64, f64)] = &[
    (0.0, 0.10),
    (6.0, 0.10),
    (8.0, 0.70),
    (10.0, 1.00),
    (12.0, 0.80),
    (14.0, 0.95),
    (17.0, 0.60),
    (20.0, 0.35),
    (24.0, 0.12),
];

/// Volume by weekday relative to capacity (Monday = index 1): Monday is the busiest.
const WEEKLY_TILT: [f64; 8] = [1.0, 1.08, 1.03, 1.0, 0.98, 0.93, 0.95, 0.9];

/// What arrives: a contact for a queue, or a direct contact for any idle agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ArrivalKind {
    /// Queued contact for the queue with this index.
    Queue(u16),
    /// Direct inbound call to an agent.
    DirectIn,
    /// Direct outbound call by an agent.
    DirectOut,
}

/// One arrival: UTC second and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Arrival {
    pub at: i64,
    pub kind: ArrivalKind,
}

fn interpolate(points: &[(f64, f64)], hour: f64) -> f64 {
    let (first, last) = (points[0], points[points.len() - 1]);
    if hour <= first.0 {
        return first.1;
    }
    if hour >= last.0 {
        return last.1;
    }
    for pair in points.windows(2) {
        let ((h0, w0), (h1, w1)) = (pair[0], pair[1]);
        if hour <= h1 {
            return w0 + (w1 - w0) * (hour - h0) / (h1 - h0);
        }
    }
    last.1
}

/// Relative arrival rate of a channel at a local minute of the day (0..1440) on a weekday
/// (Monday = 1). Voice and chat are 0 outside the opening hours.
pub(crate) fn arrival_weight(
    config: &SimulationConfig,
    channel: Channel,
    weekday: i8,
    minute: f64,
) -> f64 {
    let hour = minute / 60.0;
    if channel == Channel::Email {
        let weekend = if weekday >= 6 { 0.5 } else { 1.0 };
        return interpolate(EMAIL, hour) * weekend;
    }
    if !config.hours_on(weekday).contains_minute(minute as u32) {
        return 0.0;
    }
    let profile = if weekday >= 6 { WEEKEND } else { WEEKDAY };
    interpolate(profile, hour)
}

/// The workload to staff for in each local 15-minute slot of a day (96 slots), in arbitrary units:
/// each queue's share of the agents' capacity spread like its arrivals. E-mail is staffed like
/// voice, since e-mails arriving at night are answered in the morning.
pub(crate) fn staffing_curve(config: &SimulationConfig, dir: &Directory, weekday: i8) -> Vec<f64> {
    let mut share = vec![0.0; dir.queues.len()];
    for a in dir.agents.iter().filter(|a| a.record.active) {
        for &s in &a.skills {
            share[usize::from(s)] += 1.0 / a.skills.len() as f64;
        }
    }
    let mut curve = vec![0.0; 96];
    for (q, spec) in dir.queues.iter().enumerate() {
        let channel = match spec.channel {
            Channel::Email => Channel::Voice,
            c => c,
        };
        let weights: Vec<f64> = (0..96)
            .map(|slot| arrival_weight(config, channel, weekday, slot as f64 * 15.0 + 7.5))
            .collect();
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            for (c, w) in curve.iter_mut().zip(weights) {
                *c += share[q] * w / total;
            }
        }
    }
    curve
}

/// How much of the intraday shape of voice and chat demand follows the planned staffing rather
/// than the nominal profile (0–1).
///
/// A center's schedule is built from its forecast, so demand and staffing have nearly the same
/// shape; 8-hour shifts alone cannot follow the nominal profile closely (everyone is on shift in the
/// early afternoon), and a simulator that ignored that would be overstaffed at noon and drowning in
/// the evening every single day. The remaining mismatch, plus the drift and Poisson noise, gives the
/// mix of good and bad intervals a real center has.
const STAFFING_FIT: f64 = 0.6;

/// Group size (agents on a queue at once) that is planned at exactly the target occupancy.
const REFERENCE_GROUP: f64 = 6.0;
/// Highest planned occupancy of a large group (unless the target is higher).
const LARGE_GROUP_OCCUPANCY: f64 = 0.92;

/// Spread (log scale) of the drifting deviation of demand from its expected value.
const DRIFT_SD: f64 = 0.1;
/// Correlation of that deviation from one 15-minute piece to the next.
const DRIFT_RHO: f64 = 0.9;

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rand_distr::StandardNormal.sample(rng)
}

/// The workload (in agents busy) a planner puts on `n` agents of one queue.
///
/// Square-root staffing: `n` agents keep a steady service level carrying about `n - β√n`, so small
/// groups run at a lower occupancy than large ones. β is chosen so that a group of
/// [`REFERENCE_GROUP`] agents is planned at the target occupancy; large groups are capped.
fn planned_load(config: &SimulationConfig, n: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let beta = (1.0 - config.target_occupancy) * REFERENCE_GROUP.sqrt();
    let cap = config.target_occupancy.max(LARGE_GROUP_OCCUPANCY);
    n * (1.0 - beta / n.sqrt()).clamp(0.0, cap)
}

/// The arrivals of one local day, sorted by time.
///
/// The day is cut into the exact UTC pieces of its local 15-minute intervals (a DST day has 23 or
/// 25 hours of them). For each queue, the planned agents on contacts in each piece (an agent counts
/// 1/skills in each skill) give the workload a planner would put on them ([`planned_load`]); their
/// sum over the day divided by the mean handle time, tilted by weekday, is the day's volume. The
/// volume is spread over the pieces partly like the staffing, partly like the nominal profile, with
/// a drifting deviation; counts are Poisson and seconds uniform within a piece. E-mail keeps its own
/// around-the-clock shape.
pub(crate) fn arrivals(
    config: &SimulationConfig,
    dir: &Directory,
    grid15: &IntervalGrid,
    date: Date,
    shifts: &[Shift],
    rng: &mut ChaCha8Rng,
) -> Vec<Arrival> {
    let weekday = date.weekday().to_monday_one_offset();
    let day = grid15.day(date);
    // (start second, length, label minute) of each piece.
    let pieces: Vec<(i64, i64, f64)> = day
        .pieces
        .iter()
        .map(|p| {
            let label = day.labels[p.label];
            let minute = f64::from(label.hour()) * 60.0 + f64::from(label.minute());
            (
                p.start.as_second(),
                p.end.as_second() - p.start.as_second(),
                minute,
            )
        })
        .collect();

    // Planned agents on contacts per piece and queue.
    let mut coverage = vec![vec![0.0; pieces.len()]; dir.queues.len()];
    for shift in shifts {
        let skills = &dir.agents[shift.agent as usize].skills;
        let share = 1.0 / skills.len() as f64;
        for (from, to) in shift.productive_spans() {
            let first = pieces.partition_point(|p| p.0 + p.1 <= from);
            for (i, &(start, len, _)) in pieces.iter().enumerate().skip(first) {
                if start >= to {
                    break;
                }
                let overlap = (to.min(start + len) - from.max(start)).max(0) as f64 / len as f64;
                for &q in skills {
                    coverage[usize::from(q)][i] += overlap * share;
                }
            }
        }
    }

    // Transfers and direct contacts are extra work on the same agents.
    let extra = 1.0 + config.transfer_share + config.direct_share;
    let day_noise = LogNormal::from_mean_cv(1.0, 0.05).expect("valid log-normal");
    let mut out = Vec::new();
    let mut volumes = Vec::with_capacity(dir.queues.len());
    let mut direct_load = vec![0.0; pieces.len()];
    for (q, spec) in dir.queues.iter().enumerate() {
        let channel = spec.channel;
        let nominal: Vec<f64> = pieces
            .iter()
            .map(|&(_, len, minute)| {
                arrival_weight(config, channel, weekday, minute + 7.5) * len as f64 / 900.0
            })
            .collect();
        // Agent-seconds of planned load; staffing outside the opening hours draws no voice or chat.
        let load: Vec<f64> = coverage[q]
            .iter()
            .zip(&pieces)
            .zip(&nominal)
            .map(|((&n, &(_, len, _)), &w)| {
                if w > 0.0 || channel == Channel::Email {
                    planned_load(config, n) * len as f64
                } else {
                    0.0
                }
            })
            .collect();
        let load_total: f64 = load.iter().sum();
        let volume = load_total / config.profile(channel).mean_handle_s() / extra
            * WEEKLY_TILT[weekday as usize]
            * day_noise.sample(rng);
        volumes.push(volume);
        if channel == Channel::Voice {
            for (d, l) in direct_load.iter_mut().zip(&load) {
                *d += l;
            }
        }
        let fit = if channel == Channel::Email {
            0.0 // e-mail waits for the morning: its arrivals keep their own shape
        } else {
            STAFFING_FIT
        };
        let shape = blend(&nominal, &load, fit);
        poisson_arrivals(
            &pieces,
            &shape,
            volume,
            ArrivalKind::Queue(q as u16),
            rng,
            &mut out,
        );
    }

    // Direct calls: a share of the queued volume, made and taken while voice agents are on shift.
    let direct = volumes.iter().sum::<f64>() * config.direct_share;
    let voice_nominal: Vec<f64> = pieces
        .iter()
        .map(|&(_, len, minute)| {
            arrival_weight(config, Channel::Voice, weekday, minute + 7.5) * len as f64 / 900.0
        })
        .collect();
    let shape = blend(&voice_nominal, &direct_load, STAFFING_FIT);
    for (share, kind) in [
        (config.direct_outbound_share, ArrivalKind::DirectOut),
        (1.0 - config.direct_outbound_share, ArrivalKind::DirectIn),
    ] {
        poisson_arrivals(&pieces, &shape, direct * share, kind, rng, &mut out);
    }
    out.sort_unstable();
    out
}

/// `(1 - fit) × nominal + fit × staffed`, each normalized to sum 1 (a missing part is left out).
fn blend(nominal: &[f64], staffed: &[f64], fit: f64) -> Vec<f64> {
    let n_total: f64 = nominal.iter().sum();
    let s_total: f64 = staffed.iter().sum();
    let (wn, ws) = match (n_total > 0.0, s_total > 0.0) {
        (true, true) => ((1.0 - fit) / n_total, fit / s_total),
        (true, false) => (1.0 / n_total, 0.0),
        (false, true) => (0.0, 1.0 / s_total),
        (false, false) => (0.0, 0.0),
    };
    nominal
        .iter()
        .zip(staffed)
        .map(|(n, s)| n * wn + s * ws)
        .collect()
}

/// Poisson arrivals of `volume` spread over the pieces by `shape` (summing to 1), with drift.
fn poisson_arrivals(
    pieces: &[(i64, i64, f64)],
    shape: &[f64],
    volume: f64,
    kind: ArrivalKind,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Arrival>,
) {
    if volume <= 0.0 {
        return;
    }
    // Demand never follows the plan exactly: a slowly drifting deviation (AR(1) on the log scale,
    // ≈ 10 % spread, correlated over about two hours) makes surges and lulls that hurt or help
    // service for a while, as forecast errors do in a real center.
    let mut drift = DRIFT_SD * normal(rng);
    for (&(start, len, _), &w) in pieces.iter().zip(shape) {
        drift = DRIFT_RHO * drift + (1.0 - DRIFT_RHO * DRIFT_RHO).sqrt() * DRIFT_SD * normal(rng);
        let lambda = volume * w * (drift - DRIFT_SD * DRIFT_SD / 2.0).exp();
        if lambda <= 0.0 {
            continue;
        }
        let count = Poisson::new(lambda).map_or(0.0, |p| p.sample(rng)) as u64;
        for _ in 0..count {
            out.push(Arrival {
                at: start + rng.random_range(0..len.max(1)),
                kind,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_shape() {
        let c = SimulationConfig::default();
        let w = |m: f64| arrival_weight(&c, Channel::Voice, 2, m);
        assert_eq!(w(6.0 * 60.0), 0.0);
        assert_eq!(w(21.0 * 60.0 + 1.0), 0.0);
        assert!(w(7.0 * 60.0 + 10.0) < w(10.0 * 60.0));
        assert!(w(12.5 * 60.0) < w(10.0 * 60.0) && w(12.5 * 60.0) < w(14.0 * 60.0));
        assert!(arrival_weight(&c, Channel::Email, 2, 120.0) > 0.0);
        // Weekend: closed at 08:00, open at 10:00.
        assert_eq!(arrival_weight(&c, Channel::Voice, 6, 480.0), 0.0);
        assert!(arrival_weight(&c, Channel::Voice, 7, 600.0) > 0.0);
    }
}
