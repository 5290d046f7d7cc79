//! Who works when: rotating days off, shift start times that follow demand, and each shift's plan
//! (login, two 15-minute breaks, a 30-minute lunch, an occasional meeting or training, logout).
//!
//! Shifts are planned in the tenant's local time and turned into UTC instants with jiff, so a shift
//! on a DST day starts at the right local time and lasts 8 real hours.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::config::SimulationConfig;
use crate::demand;
use crate::directory::Directory;

/// Days off of the ten rotation patterns (Monday = 1 … Sunday = 7). Agent `i` uses pattern
/// `(i + week) % 10`, so days off rotate week by week; six of ten have the weekend off, so about
/// 90 % of agents work on a weekday, 30 % on Saturday and 20 % on Sunday.
const DAYS_OFF: [[i8; 2]; 10] = [
    [6, 7],
    [6, 7],
    [6, 7],
    [6, 7],
    [6, 7],
    [6, 7],
    [7, 1],
    [5, 6],
    [2, 3],
    [4, 7],
];

/// Minutes of a shift from login to logout.
pub(crate) const SHIFT_MINUTES: u32 = 480;
/// Slots of 15 minutes in a shift.
const SHIFT_SLOTS: usize = (SHIFT_MINUTES / 15) as usize;

/// Why an agent is `not_ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Reason {
    Break,
    Lunch,
    Meeting,
    Training,
}

impl Reason {
    /// The reason text of the state event.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Break => "Break",
            Reason::Lunch => "Lunch",
            Reason::Meeting => "Meeting",
            Reason::Training => "Training",
        }
    }
}

/// One step of a shift plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanKind {
    /// Log in and become ready.
    Login,
    /// Go `not_ready` with this reason for this many seconds (after finishing the current contact).
    Activity(Reason, u32),
    /// Log out (after finishing the current contact or activity).
    Logout,
}

/// A planned step at a UTC instant (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlanItem {
    pub at: i64,
    pub kind: PlanKind,
}

/// One agent's shift on one day.
#[derive(Debug, Clone)]
pub(crate) struct Shift {
    /// Agent index.
    pub agent: u32,
    /// Planned steps in time order, login first, logout last.
    pub items: Vec<PlanItem>,
}

impl Shift {
    /// The planned spans `[from, to)` available for contacts: from login to logout without the
    /// breaks, lunch, meetings and trainings.
    pub fn productive_spans(&self) -> Vec<(i64, i64)> {
        let mut spans = Vec::with_capacity(self.items.len());
        let mut from = None;
        for item in &self.items {
            match item.kind {
                PlanKind::Login => from = Some(item.at),
                PlanKind::Activity(_, secs) => {
                    if let Some(f) = from {
                        spans.push((f, item.at));
                    }
                    from = Some(item.at + i64::from(secs));
                }
                PlanKind::Logout => {
                    if let Some(f) = from.take() {
                        spans.push((f, item.at));
                    }
                }
            }
        }
        spans
    }
}

/// Whether an agent with this rotation works on a date.
pub(crate) fn works_on(rotation: u8, date: Date) -> bool {
    // Weeks counted from Monday 1970-01-05, so the rotation does not depend on the `from` date.
    let days = date
        .duration_since(jiff::civil::date(1970, 1, 5))
        .as_hours()
        .div_euclid(24);
    let week = days.div_euclid(7);
    let pattern = DAYS_OFF[(i64::from(rotation) + week).rem_euclid(10) as usize];
    !pattern.contains(&date.weekday().to_monday_one_offset())
}

/// Plans the shifts of one local date: who works, when each starts, and the breaks.
///
/// Start times are placed greedily on the 15-minute grid where the most demand is still uncovered
/// (the staffing curve of [`demand::staffing_curve`]), the way a WFM scheduler would, so coverage
/// follows the intraday profile without matching it exactly.
pub(crate) fn plan_day(
    config: &SimulationConfig,
    dir: &Directory,
    zone: &TimeZone,
    date: Date,
    rng: &mut ChaCha8Rng,
) -> Vec<Shift> {
    let mut working: Vec<u32> = dir
        .agents
        .iter()
        .enumerate()
        .filter(|(_, a)| a.record.active && works_on(a.rotation, date))
        .map(|(i, _)| i as u32)
        .collect();
    if working.is_empty() {
        return Vec::new();
    }
    working.shuffle(rng);

    let weekday = date.weekday().to_monday_one_offset();
    let hours = config.hours_on(weekday);
    let curve = demand::staffing_curve(config, dir, weekday);
    let total: f64 = curve.iter().sum();
    // Scale the curve to the agent-slots available: each agent covers about SHIFT_SLOTS - 3.
    let scale = if total > 0.0 {
        (working.len() * (SHIFT_SLOTS - 3)) as f64 / total
    } else {
        0.0
    };
    let mut deficit: Vec<f64> = curve.iter().map(|w| w * scale).collect();

    // Start a quarter before opening at the earliest, end by midnight at the latest.
    let first = (usize::from(hours.open_hour) * 4).saturating_sub(1);
    let last = (usize::from(hours.close_hour) * 4)
        .saturating_sub(SHIFT_SLOTS)
        .max(first)
        .min(96 - SHIFT_SLOTS);
    let first = first.min(last);

    // Where an agent is expected to be on contacts during a shift: 1 per slot, less around the
    // usual break and lunch times.
    let mut template = [1.0f64; SHIFT_SLOTS];
    template[8] = 0.0; // first break, ~2 h in
    for (slot, away) in [(14, 0.2), (15, 0.6), (16, 0.8), (17, 0.4)] {
        template[slot] -= away; // lunch, 3½–4½ h in
    }
    template[25] = 0.0; // second break, ~6¼ h in

    let fit = |deficit: &[f64], start: usize| -> f64 {
        deficit[start..start + SHIFT_SLOTS]
            .iter()
            .zip(&template)
            .map(|(d, t)| d * t)
            .sum()
    };
    let place = |deficit: &mut [f64], start: usize, sign: f64| {
        for (d, t) in deficit[start..start + SHIFT_SLOTS]
            .iter_mut()
            .zip(&template)
        {
            *d -= sign * t;
        }
    };
    // Greedy first placement, then two passes of moving each shift to its best start given all
    // the others (a local search on the squared shortfall, like a simple WFM scheduler).
    let mut starts = vec![first; working.len()];
    for start in starts.iter_mut() {
        let mut best = (f64::NEG_INFINITY, first);
        for candidate in first..=last {
            // A little noise spreads equally good starts instead of piling on the first one.
            let score = fit(&deficit, candidate) + rng.random::<f64>() * 0.3;
            if score > best.0 {
                best = (score, candidate);
            }
        }
        *start = best.1;
        place(&mut deficit, best.1, 1.0);
    }
    for _ in 0..2 {
        for start in starts.iter_mut() {
            place(&mut deficit, *start, -1.0);
            let mut best = (f64::NEG_INFINITY, first);
            for candidate in first..=last {
                let score = fit(&deficit, candidate);
                if score > best.0 {
                    best = (score, candidate);
                }
            }
            *start = best.1;
            place(&mut deficit, best.1, 1.0);
        }
    }

    let mut shifts = Vec::with_capacity(working.len());
    for (agent, start) in working.into_iter().zip(starts) {
        shifts.push(shift(config, zone, date, agent, start as u32 * 15, rng));
    }
    shifts
}

/// The plan of one shift starting at a local minute of the day.
fn shift(
    config: &SimulationConfig,
    zone: &TimeZone,
    date: Date,
    agent: u32,
    start_minute: u32,
    rng: &mut ChaCha8Rng,
) -> Shift {
    let local = date.to_datetime(Time::constant(
        (start_minute / 60) as i8,
        (start_minute % 60) as i8,
        0,
        0,
    ));
    // A start in a DST gap moves to the end of the gap; in a fold it takes the earlier instant.
    let start = zone
        .to_ambiguous_timestamp(local)
        .compatible()
        .map(|t| t.as_second())
        .unwrap_or_else(|_| jiff::Timestamp::UNIX_EPOCH.as_second());
    let at = |minutes: u32| start + i64::from(minutes) * 60;
    let activity = |reason, minutes: u32| PlanKind::Activity(reason, minutes * 60);

    // Breaks after about 2 h and 6¼ h, lunch after about 4 h, placed so they never overlap.
    let break1 = 120 - 15 + 5 * rng.random_range(0..=6u32);
    let training = rng.random::<f64>() < config.training_share;
    let lunch = 210 + 15 * rng.random_range(0..=4u32);
    let meeting = rng.random::<f64>() < config.meeting_share;
    let meeting_at = 300 + 15 * rng.random_range(0..=1u32);
    let break2 = 375 + 5 * rng.random_range(0..=3u32);

    let mut items = Vec::with_capacity(7);
    items.push(PlanItem {
        at: at(0),
        kind: PlanKind::Login,
    });
    items.push(PlanItem {
        at: at(break1),
        kind: activity(Reason::Break, 15),
    });
    if training {
        items.push(PlanItem {
            at: at(150),
            kind: activity(Reason::Training, 60),
        });
    }
    items.push(PlanItem {
        at: at(lunch.max(if training { 210 } else { 0 })),
        kind: activity(Reason::Lunch, 30),
    });
    if meeting {
        items.push(PlanItem {
            at: at(meeting_at),
            kind: activity(Reason::Meeting, 30),
        });
    }
    items.push(PlanItem {
        at: at(break2),
        kind: activity(Reason::Break, 15),
    });
    items.push(PlanItem {
        at: at(SHIFT_MINUTES),
        kind: PlanKind::Logout,
    });
    Shift { agent, items }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rand::SeedableRng;

    #[test]
    fn five_days_a_week_rotating() {
        for rotation in 0..10u8 {
            let monday = date(2024, 1, 1);
            for week in 0..10 {
                let worked = (0..7)
                    .filter(|d| {
                        let day = monday
                            .checked_add(jiff::Span::new().days(week * 7 + d))
                            .unwrap();
                        works_on(rotation, day)
                    })
                    .count();
                assert_eq!(worked, 5);
            }
        }
        // Weekdays are staffed more than weekends.
        let count = |d: Date| (0..10u8).filter(|&r| works_on(r, d)).count();
        assert_eq!(count(date(2024, 1, 3)), 9);
        assert_eq!(count(date(2024, 1, 6)), 3);
        assert_eq!(count(date(2024, 1, 7)), 2);
    }

    #[test]
    fn shifts_follow_opening_hours_and_never_overlap_breaks() {
        let config = SimulationConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let dir = Directory::build(&config, &mut rng);
        let zone = config.zone().unwrap();
        let day = date(2024, 1, 3);
        let shifts = plan_day(&config, &dir, &zone, day, &mut rng);
        assert!(shifts.len() > 30);
        let starts: Vec<i64> = shifts.iter().map(|s| s.items[0].at).collect();
        let open = zone.to_timestamp(day.at(6, 45, 0, 0)).unwrap().as_second();
        let late = zone.to_timestamp(day.at(13, 0, 0, 0)).unwrap().as_second();
        assert!(starts.iter().all(|&s| s >= open && s <= late));
        // Starts are spread over the day, not piled on one time.
        let distinct: std::collections::BTreeSet<_> = starts.iter().collect();
        assert!(distinct.len() >= 5, "{distinct:?}");
        for s in &shifts {
            assert_eq!(s.items.first().unwrap().kind, PlanKind::Login);
            assert_eq!(s.items.last().unwrap().kind, PlanKind::Logout);
            for pair in s.items.windows(2) {
                let end = match pair[0].kind {
                    PlanKind::Activity(_, secs) => pair[0].at + i64::from(secs),
                    _ => pair[0].at,
                };
                assert!(end <= pair[1].at, "{:?}", s.items);
            }
        }
    }
}
