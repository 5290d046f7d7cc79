//! The forecasting methods: how one day's interval volumes are predicted from the days before a cutoff.
//!
//! Every method is "weekly": it looks only at the same weekday in earlier weeks, so a forecast for a
//! day `h` days ahead uses only data at least `h` days old, whatever `h` is (a week-ahead backtest is
//! honest by construction).
//!
//! * [`Method::LastWeek`] — the same slot on the last day with data on the same weekday (seasonal
//!   naive; the reference point every WFM tool beats).
//! * [`Method::Baseline`] — the mean of the same slot on the last `N` days with data on the same
//!   weekday (N = 4 by default). Engineering §2.4's baseline.
//! * [`Method::Profile`] — a weekday × slot multiplicative model: an **intraday profile** (each slot's
//!   share of the day, the ratio of sums over the last `shape_days` clean same weekdays: twice the data
//!   of the baseline for the shape, which is where most of its noise is), times a **robust level**
//!   (the day total: trimmed mean of the last `level_days` clean same-weekday totals, dropping the
//!   highest and the lowest, so one odd day moves it little), times a **post-closure uplift** on the
//!   first open day after a holiday (the median ratio actual ÷ expected of earlier post-closure days,
//!   shrunk toward 1 when there are few). "Clean" days are neither closed nor post-closure, so a
//!   holiday's backlog neither inflates the ordinary level nor goes unforecast.
//!
//! Handle time is forecast as a weighted slot profile of AHT: per slot, Σ handle ÷ Σ handled over the
//! shape days, shrunk toward the whole day's AHT by a pseudo-count of contacts, so a slot with few
//! contacts borrows from the day ([`aht_day`]).

use std::fmt;

use jiff::civil::Date;
use serde::Serialize;

use crate::series::{IntervalSeries, weekday_index};

/// A forecasting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Same slot on the last same weekday.
    LastWeek,
    /// Mean of the same slot on the last N same weekdays.
    Baseline,
    /// Weekday × slot profile × robust level × post-closure uplift.
    Profile,
}

impl Method {
    /// Every method, in the order reports list them.
    pub const ALL: [Method; 3] = [Method::LastWeek, Method::Baseline, Method::Profile];

    /// The name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::LastWeek => "last_week",
            Method::Baseline => "baseline",
            Method::Profile => "profile",
        }
    }

    /// Parses a name of [`Method::as_str`].
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// A one-line description for people.
    pub fn describe(self, params: &Params) -> String {
        match self {
            Method::LastWeek => "same slot, last same weekday".to_string(),
            Method::Baseline => format!(
                "mean of the same slot on the last {} same weekdays",
                params.baseline_weeks
            ),
            Method::Profile => format!(
                "weekday profile ({} weeks) x robust level ({} weeks) x post-holiday uplift",
                params.shape_days, params.level_days
            ),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parameters of the methods. The defaults were chosen on the bank series' earlier weeks (a
/// validation window before the 20 test days), not on the test days themselves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    /// Same weekdays averaged by the baseline (4).
    pub baseline_weeks: usize,
    /// Clean same weekdays the profile's intraday shape is learned from (8).
    pub shape_days: usize,
    /// Clean same weekdays whose totals make the profile's level (5; with 5 or more the highest and
    /// the lowest are dropped).
    pub level_days: usize,
    /// Whether the profile method lifts the first day after a closure.
    pub post_closure: bool,
    /// Contacts of pseudo-count that pull a slot's AHT toward the day's (10).
    pub aht_prior_contacts: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            baseline_weeks: 4,
            shape_days: 8,
            level_days: 5,
            post_closure: true,
            aht_prior_contacts: 10.0,
        }
    }
}

/// The prediction of one day: contacts per slot, and which slots are open (were observed on the days
/// the method used). Closed slots hold 0.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPrediction {
    /// Contacts per slot.
    pub counts: Vec<f64>,
    /// Slots the method forecasts (seen in its history).
    pub open: Vec<bool>,
}

/// Expected post-closure day totals never rest on fewer contacts than this: tiny queues would give
/// wild ratios.
const MIN_EXPECTED_FOR_UPLIFT: f64 = 20.0;

/// Predicts `target` with `method` from the days at or before `cutoff`. `None` when the method has no
/// history for the target's weekday.
pub fn predict_day(
    series: &IntervalSeries,
    method: Method,
    params: &Params,
    target: Date,
    cutoff: Date,
) -> Option<DayPrediction> {
    let wd = weekday_index(target);
    match method {
        Method::LastWeek => mean_of(series, series.last_present(wd, cutoff, 1)),
        Method::Baseline => mean_of(
            series,
            series.last_present(wd, cutoff, params.baseline_weeks.max(1)),
        ),
        Method::Profile => profile(series, params, target, cutoff),
    }
}

fn mean_of(series: &IntervalSeries, days: &[usize]) -> Option<DayPrediction> {
    if days.is_empty() {
        return None;
    }
    let slots = series.slots();
    let mut counts = vec![0.0; slots];
    let mut open = vec![false; slots];
    for &i in days {
        let day = &series.days()[i];
        for s in 0..slots {
            counts[s] += day.counts[s];
            open[s] |= day.observed[s];
        }
    }
    let n = days.len() as f64;
    for c in &mut counts {
        *c /= n;
    }
    Some(DayPrediction { counts, open })
}

fn profile(
    series: &IntervalSeries,
    params: &Params,
    target: Date,
    cutoff: Date,
) -> Option<DayPrediction> {
    let wd = weekday_index(target);
    let mut shape_days = series.last_clean(wd, cutoff, params.shape_days.max(1));
    if shape_days.is_empty() {
        // Only post-closure days on this weekday so far: better than nothing.
        shape_days = series.last_present(wd, cutoff, params.shape_days.max(1));
    }
    if shape_days.is_empty() {
        return None;
    }
    let slots = series.slots();
    let mut sums = vec![0.0; slots];
    let mut open = vec![false; slots];
    let mut total = 0.0;
    for &i in shape_days {
        let day = &series.days()[i];
        for s in 0..slots {
            sums[s] += day.counts[s];
            open[s] |= day.observed[s];
        }
        total += day.total;
    }
    let level_from = shape_days.len().saturating_sub(params.level_days.max(1));
    let mut level = robust_level(series, &shape_days[level_from..]);
    if params.post_closure && series.is_post_closure(target) {
        level *= post_closure_uplift(series, params, cutoff);
    }
    let counts = if total > 0.0 {
        sums.iter().map(|s| level * s / total).collect()
    } else {
        vec![0.0; slots]
    };
    Some(DayPrediction { counts, open })
}

/// Trimmed mean of the days' totals: with five or more, the highest and the lowest are dropped.
fn robust_level(series: &IntervalSeries, days: &[usize]) -> f64 {
    let mut totals: Vec<f64> = days.iter().map(|&i| series.days()[i].total).collect();
    if totals.is_empty() {
        return 0.0;
    }
    totals.sort_by(f64::total_cmp);
    let kept = if totals.len() >= 5 {
        &totals[1..totals.len() - 1]
    } else {
        &totals[..]
    };
    kept.iter().sum::<f64>() / kept.len() as f64
}

/// The factor by which a post-closure day exceeds an ordinary one, learned from the post-closure days
/// at or before `cutoff`: the median of actual ÷ expected (expected = the robust level of the clean
/// same weekdays before it), shrunk toward 1 by `n / (n + 1)` and kept within [0.5, 3].
fn post_closure_uplift(series: &IntervalSeries, params: &Params, cutoff: Date) -> f64 {
    let mut ratios = Vec::new();
    for day in series.days() {
        if day.date > cutoff {
            break;
        }
        if !series.is_post_closure(day.date) {
            continue;
        }
        let before = day.date.yesterday().unwrap_or(day.date);
        let clean = series.clean_upto(weekday_index(day.date), before);
        let from = clean.len().saturating_sub(params.level_days.max(1));
        let expected = robust_level(series, &clean[from..]);
        if expected >= MIN_EXPECTED_FOR_UPLIFT {
            ratios.push(day.total / expected);
        }
    }
    if ratios.is_empty() {
        return 1.0;
    }
    ratios.sort_by(f64::total_cmp);
    let m = ratios.len();
    let median = if m % 2 == 1 {
        ratios[m / 2]
    } else {
        (ratios[m / 2 - 1] + ratios[m / 2]) / 2.0
    };
    let weight = m as f64 / (m as f64 + 1.0);
    (1.0 + (median - 1.0) * weight).clamp(0.5, 3.0)
}

/// Average handle time and after-contact work per slot, in seconds, for a day predicted from the days
/// at or before `cutoff`. `None` per slot when no handle time is known at all.
#[derive(Debug, Clone, PartialEq)]
pub struct AhtPrediction {
    /// Average handle time (talk + hold + after-contact work) per slot.
    pub aht_s: Vec<Option<f64>>,
    /// Average after-contact work per slot (part of `aht_s`).
    pub acw_s: Vec<Option<f64>>,
}

/// The weighted slot profile of AHT for `target` (see the module comment).
pub fn aht_day(
    series: &IntervalSeries,
    params: &Params,
    target: Date,
    cutoff: Date,
) -> Option<AhtPrediction> {
    if !series.has_handle_time() {
        return None;
    }
    let wd = weekday_index(target);
    let mut days = series.last_clean(wd, cutoff, params.shape_days.max(1));
    if days.is_empty() {
        days = series.last_present(wd, cutoff, params.shape_days.max(1));
    }
    let slots = series.slots();
    let (mut n, mut h, mut w) = (vec![0.0; slots], vec![0.0; slots], vec![0.0; slots]);
    for &i in days {
        let day = &series.days()[i];
        for s in 0..slots {
            n[s] += day.handled[s];
            h[s] += day.handle_s[s];
            w[s] += day.acw_s[s];
        }
    }
    let (mut dn, mut dh, mut dw) = (n.iter().sum::<f64>(), h.iter().sum(), w.iter().sum());
    if dn <= 0.0 {
        // Nothing handled on this weekday recently: the whole history's AHT.
        (dn, dh, dw) = series.days().iter().take_while(|d| d.date <= cutoff).fold(
            (0.0, 0.0, 0.0),
            |(a, b, c), d| {
                (
                    a + d.handled.iter().sum::<f64>(),
                    b + d.handle_s.iter().sum::<f64>(),
                    c + d.acw_s.iter().sum::<f64>(),
                )
            },
        );
    }
    if dn <= 0.0 {
        return None;
    }
    let (day_aht, day_acw) = (dh / dn, dw / dn);
    let m = params.aht_prior_contacts.max(0.0);
    let per_slot = |sum: &[f64], prior: f64| -> Vec<Option<f64>> {
        (0..slots)
            .map(|s| {
                let denominator = n[s] + m;
                Some(if denominator > 0.0 {
                    (sum[s] + m * prior) / denominator
                } else {
                    prior
                })
            })
            .collect()
    };
    Some(AhtPrediction {
        aht_s: per_slot(&h, day_aht),
        acw_s: per_slot(&w, day_acw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{BacktestConfig, backtest};
    use crate::series::{Calendar, Observation};
    use jiff::ToSpan;
    use jiff::civil::date;
    use jiff::tz::TimeZone;
    use wfm_model::{IntervalGrid, IntervalLength};

    /// Six weeks of a 7-day queue open 08:00–17:00 on the hour, volume depending on weekday and hour.
    fn regular(volume: impl Fn(usize, usize) -> f64) -> IntervalSeries {
        let grid = IntervalGrid::new(TimeZone::UTC, IntervalLength::Sixty);
        let mut obs = Vec::new();
        for day in 0..42 {
            let d = date(2024, 1, 1).checked_add(day.days()).unwrap();
            for h in 8..17 {
                let t = grid.day_start(d) + jiff::SignedDuration::from_hours(h as i64);
                obs.push(
                    Observation::count(t, volume(weekday_index(d), h)).with_handle(
                        volume(weekday_index(d), h),
                        volume(weekday_index(d), h) * (200.0 + h as f64),
                        volume(weekday_index(d), h) * 30.0,
                    ),
                );
            }
        }
        IntervalSeries::build(grid, Calendar::new(), obs).unwrap()
    }

    #[test]
    fn a_repeating_week_is_forecast_exactly_by_every_method() {
        let s = regular(|wd, h| (wd + 1) as f64 * (h as f64 - 7.0));
        let report = backtest(
            &s,
            &Method::ALL,
            &Params::default(),
            &BacktestConfig::default(),
            None,
        )
        .unwrap();
        for score in &report.scores {
            assert!(score.wape < 1e-9 && score.rmse < 1e-9, "{score:?}");
        }
        // Ties go to the simplest method.
        assert_eq!(report.chosen, Method::LastWeek);
        let target = date(2024, 2, 12);
        let p = predict_day(
            &s,
            Method::Profile,
            &Params::default(),
            target,
            date(2024, 2, 11),
        )
        .unwrap();
        assert_eq!(p.counts[9], 2.0);
        assert!(p.open[8] && !p.open[7] && !p.open[17]);
        let aht = aht_day(&s, &Params::default(), target, date(2024, 2, 11)).unwrap();
        // Slot 10:00 handles 210 s per contact, the day 213.3 s on average: 18 contacts in the six shape
        // days against a prior of 10 pull it a little toward the day.
        let slot = aht.aht_s[10].unwrap();
        let expected = (18.0 * 210.0 + 10.0 * (200.0 + 600.0 / 45.0)) / 28.0;
        assert!((slot - expected).abs() < 1e-9, "{slot}");
        assert!((aht.acw_s[10].unwrap() - 30.0).abs() < 1e-9);
    }

    #[test]
    fn one_odd_day_moves_the_profile_less_than_the_baseline() {
        // Every Monday 100 per hour, but one Monday 300.
        let s = regular(|wd, _| if wd == 0 { 100.0 } else { 50.0 });
        let mut obs = Vec::new();
        for day in s.days() {
            for slot in 0..24 {
                if day.observed[slot] {
                    let t = s.grid().day_start(day.date)
                        + jiff::SignedDuration::from_hours(slot as i64);
                    let v = if day.date == date(2024, 1, 29) {
                        300.0
                    } else {
                        day.counts[slot]
                    };
                    obs.push(Observation::count(t, v));
                }
            }
        }
        let s = IntervalSeries::build(s.grid().clone(), Calendar::new(), obs).unwrap();
        let params = Params::default();
        let b = predict_day(
            &s,
            Method::Baseline,
            &params,
            date(2024, 2, 12),
            date(2024, 2, 11),
        )
        .unwrap();
        let p = predict_day(
            &s,
            Method::Profile,
            &params,
            date(2024, 2, 12),
            date(2024, 2, 11),
        )
        .unwrap();
        assert_eq!(b.counts[9], 150.0);
        assert_eq!(p.counts[9], 100.0, "the trimmed level drops the odd Monday");
    }
}
