//! Interval volumes of one queue on a tenant's interval grid: the input of every forecasting method.
//!
//! A series is built from [`Observation`]s (an instant, a contact count, optionally handle time) at any
//! resolution finer than or equal to the interval: each observation is summed into the interval its
//! instant falls in, cut in the tenant's time zone by [`IntervalGrid`]. A day is stored as one value
//! per *slot* — the position of an interval label within a 24-hour day (`minutes since local
//! midnight / L`) — so the same slot of different days lines up whatever DST does:
//!
//! * a spring-forward day simply has no values for the labels its clock skips;
//! * at a fall-back the repeated hour's labels cover two intervals; their sums are divided by the
//!   number of pieces, so every stored value is a rate *per interval* and the profile learned from
//!   ordinary days stays comparable (forecasts then give each of the two real intervals that rate).
//!
//! The series also knows which days the queue was closed: the [`Calendar`]'s closed dates, and days
//! missing from the data on a weekday the queue is normally open (the bank series leaves out its
//! holidays this way). Closed days are never used as history; the first open day after a closure
//! ("post-closure" day: the backlog of the holiday arrives) is kept out of the ordinary history and
//! modelled separately by the profile method.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use wfm_model::IntervalGrid;
use wfm_model::time::next_day;

use crate::error::SeriesError;

/// One sample of a queue's volume: the contacts (and optionally their handle time) of the period that
/// starts at `start`. Samples may be of any resolution up to the interval length (5-minute counts,
/// one row per contact, or one row per interval).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Start of the sampled period; the sample counts in the interval containing this instant.
    pub start: Timestamp,
    /// Contacts offered (≥ 0; fractional values are allowed, e.g. for already-smoothed inputs).
    pub count: f64,
    /// Handle time of the sample, when known.
    pub handle: Option<HandleTime>,
}

/// The handle time carried by an [`Observation`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandleTime {
    /// Contacts the handle time belongs to (the answered ones; offered contacts may abandon).
    pub handled: f64,
    /// Total handle time of those contacts in seconds: talk + hold + after-contact work.
    pub handle_s: f64,
    /// The after-contact-work part of `handle_s` in seconds (Calabrio's "after task time").
    pub acw_s: f64,
}

impl Observation {
    /// A count without handle time.
    pub fn count(start: Timestamp, count: f64) -> Observation {
        Observation {
            start,
            count,
            handle: None,
        }
    }

    /// A count with the handle time of its handled contacts.
    pub fn with_handle(mut self, handled: f64, handle_s: f64, acw_s: f64) -> Observation {
        self.handle = Some(HandleTime {
            handled,
            handle_s,
            acw_s,
        });
        self
    }
}

/// Days the contact center is closed (holidays), in the tenant's local dates. The time zone is the
/// grid's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    closed: BTreeSet<Date>,
}

impl Calendar {
    /// A calendar without closed days.
    pub fn new() -> Calendar {
        Calendar::default()
    }

    /// A calendar with these closed dates.
    pub fn with_closed(dates: impl IntoIterator<Item = Date>) -> Calendar {
        Calendar {
            closed: dates.into_iter().collect(),
        }
    }

    /// Marks a date as closed.
    pub fn close(&mut self, date: Date) {
        self.closed.insert(date);
    }

    /// Whether the calendar says the center is closed on `date`.
    pub fn is_closed(&self, date: Date) -> bool {
        self.closed.contains(&date)
    }

    /// The closed dates, ascending.
    pub fn closed(&self) -> impl Iterator<Item = Date> + '_ {
        self.closed.iter().copied()
    }
}

/// The values of one local day, one entry per slot.
#[derive(Debug, Clone, PartialEq)]
pub struct DayValues {
    /// The local date.
    pub date: Date,
    /// Contacts per slot (per interval: fall-back labels are divided by their number of pieces).
    pub counts: Vec<f64>,
    /// Whether a sample fell in the slot. A slot never observed on the days a method looks at is
    /// treated as outside opening hours and not forecast.
    pub observed: Vec<bool>,
    /// Handled contacts per slot (for AHT).
    pub handled: Vec<f64>,
    /// Handle seconds per slot.
    pub handle_s: Vec<f64>,
    /// After-contact-work seconds per slot.
    pub acw_s: Vec<f64>,
    /// Σ counts.
    pub total: f64,
}

impl DayValues {
    fn new(date: Date, slots: usize) -> DayValues {
        DayValues {
            date,
            counts: vec![0.0; slots],
            observed: vec![false; slots],
            handled: vec![0.0; slots],
            handle_s: vec![0.0; slots],
            acw_s: vec![0.0; slots],
            total: 0.0,
        }
    }
}

/// The interval volumes of one queue, with its calendar. Built once, read by every method.
#[derive(Debug, Clone)]
pub struct IntervalSeries {
    grid: IntervalGrid,
    slots: usize,
    days: Vec<DayValues>,
    by_date: BTreeMap<Date, usize>,
    calendar: Calendar,
    has_handle: bool,
    /// Weekdays the queue normally opens (data on at least half of their dates in the span).
    open_weekdays: [bool; 7],
    /// Per weekday (Monday = 0), indices into `days` of *clean* days: not closed, not post-closure.
    clean: [Vec<usize>; 7],
    /// Per weekday, indices of every day with data that is not closed.
    present: [Vec<usize>; 7],
}

impl IntervalSeries {
    /// Builds a series: every observation is summed into its interval on `grid`; observations on a
    /// date the calendar closes are left out.
    pub fn build(
        grid: IntervalGrid,
        calendar: Calendar,
        observations: impl IntoIterator<Item = Observation>,
    ) -> Result<IntervalSeries, SeriesError> {
        let slots = grid.length().per_day() as usize;
        let minutes = grid.length().minutes() as usize;
        let mut days: BTreeMap<Date, DayValues> = BTreeMap::new();
        let mut has_handle = false;
        // Observations usually arrive in time order: remember the last day to skip map look-ups.
        let mut last: Option<(Date, Timestamp, Timestamp)> = None;
        let mut current: Option<DayValues> = None;
        for (index, obs) in observations.into_iter().enumerate() {
            if !obs.count.is_finite() || obs.count < 0.0 {
                return Err(SeriesError::BadCount {
                    index,
                    value: obs.count,
                });
            }
            if let Some(h) = obs.handle {
                for (name, value) in [
                    ("handled", h.handled),
                    ("handle_s", h.handle_s),
                    ("acw_s", h.acw_s),
                ] {
                    if !value.is_finite() || value < 0.0 {
                        return Err(SeriesError::BadHandle { index, name, value });
                    }
                }
            }
            let label = grid.label_of(obs.start);
            let slot = (label.start.hour() as usize * 60 + label.start.minute() as usize) / minutes;
            let same_day = matches!(last, Some((d, from, to)) if d == label.date && obs.start >= from && obs.start < to);
            if !same_day {
                if let Some(day) = current.take() {
                    merge_day(&mut days, day);
                }
                let (from, to) = (
                    grid.day_start(label.date),
                    grid.day_start(next_day(label.date)),
                );
                last = Some((label.date, from, to));
                current = Some(
                    days.remove(&label.date)
                        .unwrap_or_else(|| DayValues::new(label.date, slots)),
                );
            }
            let day = current.as_mut().expect("set just above");
            day.counts[slot] += obs.count;
            day.observed[slot] = true;
            if let Some(h) = obs.handle {
                has_handle = true;
                day.handled[slot] += h.handled;
                day.handle_s[slot] += h.handle_s;
                day.acw_s[slot] += h.acw_s;
            }
        }
        if let Some(day) = current.take() {
            merge_day(&mut days, day);
        }
        days.retain(|date, _| !calendar.is_closed(*date));

        let mut list: Vec<DayValues> = days.into_values().collect();
        for day in &mut list {
            normalise_fall_back(&grid, day);
            day.total = day.counts.iter().sum();
        }
        Ok(IntervalSeries::index(
            grid, slots, list, calendar, has_handle,
        ))
    }

    fn index(
        grid: IntervalGrid,
        slots: usize,
        days: Vec<DayValues>,
        calendar: Calendar,
        has_handle: bool,
    ) -> IntervalSeries {
        let by_date = days
            .iter()
            .enumerate()
            .map(|(i, d)| (d.date, i))
            .collect::<BTreeMap<_, _>>();
        let mut series = IntervalSeries {
            grid,
            slots,
            days,
            by_date,
            calendar,
            has_handle,
            open_weekdays: [false; 7],
            clean: Default::default(),
            present: Default::default(),
        };
        series.open_weekdays = series.infer_open_weekdays();
        for (i, day) in series.days.iter().enumerate() {
            let wd = weekday_index(day.date);
            series.present[wd].push(i);
            if !series.is_post_closure(day.date) {
                series.clean[wd].push(i);
            }
        }
        series
    }

    /// Weekdays with data on at least half of their dates between the first and last day.
    fn infer_open_weekdays(&self) -> [bool; 7] {
        let (Some(first), Some(last)) = (self.days.first(), self.days.last()) else {
            return [false; 7];
        };
        let mut seen = [0usize; 7];
        let mut with_data = [0usize; 7];
        let mut date = first.date;
        while date <= last.date {
            let wd = weekday_index(date);
            if !self.calendar.is_closed(date) {
                seen[wd] += 1;
                if self.by_date.contains_key(&date) {
                    with_data[wd] += 1;
                }
            }
            date = next_day(date);
        }
        std::array::from_fn(|wd| with_data[wd] > 0 && with_data[wd] * 2 >= seen[wd])
    }

    /// The grid the series is cut on.
    pub fn grid(&self) -> &IntervalGrid {
        &self.grid
    }

    /// The calendar.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// Slots per day (`1440 / L`).
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Whether any observation carried handle time.
    pub fn has_handle_time(&self) -> bool {
        self.has_handle
    }

    /// Days with data, ascending (closed calendar days left out).
    pub fn days(&self) -> &[DayValues] {
        &self.days
    }

    /// The values of one date, if it has data.
    pub fn day(&self, date: Date) -> Option<&DayValues> {
        self.by_date.get(&date).map(|&i| &self.days[i])
    }

    /// First and last date with data.
    pub fn span(&self) -> Option<(Date, Date)> {
        Some((self.days.first()?.date, self.days.last()?.date))
    }

    /// Whether the queue normally opens on this weekday (data on at least half of its dates).
    pub fn opens_on(&self, weekday: Weekday) -> bool {
        self.open_weekdays[weekday.to_monday_zero_offset() as usize]
    }

    /// Whether the queue is closed on `date`: the calendar says so, or — inside the span of the data —
    /// the date has no data although its weekday normally opens.
    pub fn is_closed(&self, date: Date) -> bool {
        if self.calendar.is_closed(date) {
            return true;
        }
        let Some((first, last)) = self.span() else {
            return false;
        };
        date >= first
            && date <= last
            && self.open_weekdays[weekday_index(date)]
            && !self.by_date.contains_key(&date)
    }

    /// Whether `date` is the first open day after a closure: the previous day on a weekday the queue
    /// normally opens was closed (a holiday). Such days carry the backlog of the closure.
    pub fn is_post_closure(&self, date: Date) -> bool {
        let Some((first, _)) = self.span() else {
            return false;
        };
        let mut previous = date;
        for _ in 0..7 {
            previous = match previous.yesterday() {
                Ok(d) => d,
                Err(_) => return false,
            };
            if previous < first && !self.calendar.is_closed(previous) {
                return false;
            }
            if self.open_weekdays[weekday_index(previous)] {
                return self.is_closed(previous);
            }
        }
        false
    }

    /// Indices (into [`IntervalSeries::days`]) of the last `n` clean days (not closed, not
    /// post-closure) on `weekday` at or before `cutoff`, oldest first.
    pub(crate) fn last_clean(&self, weekday: usize, cutoff: Date, n: usize) -> &[usize] {
        last_upto(&self.clean[weekday], &self.days, cutoff, n)
    }

    /// Indices of the last `n` days with data on `weekday` at or before `cutoff`, oldest first.
    pub(crate) fn last_present(&self, weekday: usize, cutoff: Date, n: usize) -> &[usize] {
        last_upto(&self.present[weekday], &self.days, cutoff, n)
    }

    /// Indices of every clean day at or before `cutoff` on `weekday`.
    pub(crate) fn clean_upto(&self, weekday: usize, cutoff: Date) -> &[usize] {
        last_upto(&self.clean[weekday], &self.days, cutoff, usize::MAX)
    }

    /// A copy of the series restricted to dates before `until` (for honest backtests of a forecast
    /// made on `until`).
    pub fn before(&self, until: Date) -> IntervalSeries {
        let days = self
            .days
            .iter()
            .filter(|d| d.date < until)
            .cloned()
            .collect();
        IntervalSeries::index(
            self.grid.clone(),
            self.slots,
            days,
            self.calendar.clone(),
            self.has_handle,
        )
    }

    /// The same series without the slots `drop` (e.g. partial intervals at the edge of the data's
    /// hours): their values are cleared on every day.
    pub fn without_slots(&self, drop: &[usize]) -> IntervalSeries {
        let mut days = self.days.clone();
        for day in &mut days {
            for &slot in drop {
                if slot < self.slots {
                    day.counts[slot] = 0.0;
                    day.observed[slot] = false;
                    day.handled[slot] = 0.0;
                    day.handle_s[slot] = 0.0;
                    day.acw_s[slot] = 0.0;
                }
            }
            day.total = day.counts.iter().sum();
        }
        days.retain(|d| d.observed.iter().any(|&o| o));
        IntervalSeries::index(
            self.grid.clone(),
            self.slots,
            days,
            self.calendar.clone(),
            self.has_handle,
        )
    }

    /// The local start time of a slot.
    pub fn slot_time(&self, slot: usize) -> Time {
        let minutes = slot as i32 * self.grid.length().minutes() as i32;
        Time::constant((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
    }

    /// The slot of a local start time (floored to the grid).
    pub fn slot_of(&self, time: Time) -> usize {
        (time.hour() as usize * 60 + time.minute() as usize) / self.grid.length().minutes() as usize
    }
}

/// Monday = 0 … Sunday = 6.
pub(crate) fn weekday_index(date: Date) -> usize {
    date.weekday().to_monday_zero_offset() as usize
}

fn last_upto<'a>(indices: &'a [usize], days: &[DayValues], cutoff: Date, n: usize) -> &'a [usize] {
    let end = indices.partition_point(|&i| days[i].date <= cutoff);
    &indices[end.saturating_sub(n)..end]
}

fn merge_day(days: &mut BTreeMap<Date, DayValues>, day: DayValues) {
    days.insert(day.date, day);
}

/// On a day longer than 24 hours, divides the values of labels that occur twice by their number of
/// pieces, so that every value is per interval.
fn normalise_fall_back(grid: &IntervalGrid, day: &mut DayValues) {
    let length = grid
        .day_start(next_day(day.date))
        .duration_since(grid.day_start(day.date));
    if length.as_secs() <= 24 * 3600 {
        return;
    }
    let intervals = grid.day(day.date);
    let mut pieces = vec![0u32; intervals.labels.len()];
    for piece in &intervals.pieces {
        pieces[piece.label] += 1;
    }
    let minutes = grid.length().minutes() as usize;
    for (label, &n) in intervals.labels.iter().zip(&pieces) {
        if n > 1 {
            let slot = (label.hour() as usize * 60 + label.minute() as usize) / minutes;
            let n = f64::from(n);
            day.counts[slot] /= n;
            day.handled[slot] /= n;
            day.handle_s[slot] /= n;
            day.acw_s[slot] /= n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use jiff::tz::TimeZone;
    use wfm_model::IntervalLength;

    fn grid(zone: &str, minutes: u32) -> IntervalGrid {
        IntervalGrid::new(
            TimeZone::get(zone).unwrap(),
            IntervalLength::from_minutes(minutes).unwrap(),
        )
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn sums_finer_samples_into_intervals_in_local_time() {
        let g = grid("Europe/Stockholm", 30);
        let obs = [
            Observation::count(at("2024-06-03T06:00:00Z"), 3.0), // 08:00 local
            Observation::count(at("2024-06-03T06:05:00Z"), 4.0),
            Observation::count(at("2024-06-03T06:29:59Z"), 1.0),
            Observation::count(at("2024-06-03T06:30:00Z"), 2.0), // 08:30
        ];
        let s = IntervalSeries::build(g, Calendar::new(), obs).unwrap();
        let day = s.day(date(2024, 6, 3)).unwrap();
        assert_eq!(day.counts[16], 8.0);
        assert_eq!(day.counts[17], 2.0);
        assert_eq!(day.total, 10.0);
        assert!(day.observed[16] && !day.observed[15]);
    }

    #[test]
    fn fall_back_hour_is_a_rate_per_interval() {
        let g = grid("Europe/Stockholm", 60);
        // 2024-10-27: 02:00 local happens twice (00:00Z and 01:00Z).
        let obs = [
            Observation::count(at("2024-10-27T00:10:00Z"), 10.0),
            Observation::count(at("2024-10-27T01:10:00Z"), 20.0),
        ];
        let s = IntervalSeries::build(g, Calendar::new(), obs).unwrap();
        assert_eq!(s.day(date(2024, 10, 27)).unwrap().counts[2], 15.0);
    }

    #[test]
    fn missing_weekdays_are_closed_and_the_next_day_is_post_closure() {
        let g = grid("UTC", 60);
        let mut obs = Vec::new();
        // Three weeks of weekdays, without Monday 2024-06-10.
        let mut d = date(2024, 6, 3);
        while d <= date(2024, 6, 21) {
            if d.weekday().to_monday_zero_offset() < 5 && d != date(2024, 6, 10) {
                let t = g.day_start(d) + jiff::SignedDuration::from_hours(9);
                obs.push(Observation::count(t, 5.0));
            }
            d = next_day(d);
        }
        let s = IntervalSeries::build(g, Calendar::with_closed([date(2024, 6, 19)]), obs).unwrap();
        assert!(s.opens_on(Weekday::Monday) && !s.opens_on(Weekday::Saturday));
        assert!(s.is_closed(date(2024, 6, 10)));
        assert!(!s.is_closed(date(2024, 6, 8)), "a weekend is not a closure");
        assert!(s.is_post_closure(date(2024, 6, 11)));
        assert!(!s.is_post_closure(date(2024, 6, 12)));
        // Calendar closure: the day is dropped, the next is post-closure.
        assert!(s.day(date(2024, 6, 19)).is_none());
        assert!(s.is_post_closure(date(2024, 6, 20)));
        // Monday after a normal weekend is not post-closure.
        assert!(!s.is_post_closure(date(2024, 6, 17)));
        // Beyond the data, only the calendar knows closures.
        assert!(!s.is_closed(date(2024, 6, 24)));
    }

    #[test]
    fn bad_counts_are_refused() {
        let g = grid("UTC", 15);
        let err = IntervalSeries::build(
            g,
            Calendar::new(),
            [Observation::count(at("2024-01-01T00:00:00Z"), -1.0)],
        )
        .unwrap_err();
        assert!(err.to_string().contains("-1"), "{err}");
    }
}
