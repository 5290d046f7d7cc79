//! Time-zone-aware interval arithmetic.
//!
//! Intervals are cut in the tenant's time zone, aligned to local midnight, `L` = 15, 30 or 60
//! minutes (DESIGN §5). A day is the span from the first instant of a local date to the first instant
//! of the next one: 24 hours, or 23 and 25 hours on DST days. A spring-forward day has fewer interval
//! labels; at a fall-back the repeated local hour occurs twice, and both occurrences carry the same
//! label, so statistics merge them into one row per label.
//!
//! [`IntervalGrid::day`] lists the exact UTC pieces of one local day with their labels;
//! [`IntervalGrid::label_of`] tells which label an instant falls in. Both agree by construction
//! (property-tested below).

use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The length of a statistics interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum IntervalLength {
    /// 15 minutes (the default).
    #[default]
    Fifteen,
    /// 30 minutes.
    Thirty,
    /// 60 minutes.
    Sixty,
}

impl IntervalLength {
    /// Parses 15, 30 or 60.
    pub fn from_minutes(minutes: u32) -> Option<IntervalLength> {
        match minutes {
            15 => Some(IntervalLength::Fifteen),
            30 => Some(IntervalLength::Thirty),
            60 => Some(IntervalLength::Sixty),
            _ => None,
        }
    }

    /// Length in minutes.
    pub fn minutes(self) -> u32 {
        match self {
            IntervalLength::Fifteen => 15,
            IntervalLength::Thirty => 30,
            IntervalLength::Sixty => 60,
        }
    }

    /// Length in seconds.
    pub fn seconds(self) -> i64 {
        i64::from(self.minutes()) * 60
    }

    /// Number of interval labels in a 24-hour day.
    pub fn per_day(self) -> u32 {
        1440 / self.minutes()
    }
}

impl fmt::Display for IntervalLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.minutes())
    }
}

impl Serialize for IntervalLength {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.minutes())
    }
}

impl<'de> Deserialize<'de> for IntervalLength {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let minutes = u32::deserialize(d)?;
        IntervalLength::from_minutes(minutes).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "interval_minutes is {minutes}; it must be 15, 30 or 60"
            ))
        })
    }
}

/// The label of an interval: a local date and the local start time, as statistics files print them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IntervalLabel {
    /// Local date.
    pub date: Date,
    /// Local start time, on the interval grid (minutes a multiple of the length).
    pub start: Time,
}

impl fmt::Display for IntervalLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}",
            self.date,
            self.start.hour(),
            self.start.minute()
        )
    }
}

/// One contiguous UTC span `[start, end)` of a local day that carries a single interval label.
///
/// On an ordinary day each label has one piece of exactly the interval length. A fall-back day gives
/// the repeated labels two pieces; an offset change that is not a whole number of intervals
/// (Lord Howe's 30 minutes) gives shorter pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalPiece {
    /// First instant of the piece.
    pub start: Timestamp,
    /// First instant after the piece.
    pub end: Timestamp,
    /// Index into [`DayIntervals::labels`].
    pub label: usize,
}

/// The intervals of one local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayIntervals {
    /// The local date.
    pub date: Date,
    /// First instant of the local date.
    pub start: Timestamp,
    /// First instant of the next local date.
    pub end: Timestamp,
    /// Interval start times that occur on this date, ascending and unique.
    pub labels: Vec<Time>,
    /// UTC pieces covering `[start, end)` without gaps or overlaps, ascending.
    pub pieces: Vec<IntervalPiece>,
}

impl DayIntervals {
    /// Length of the day: 24 hours, or 23/25 on DST days.
    pub fn length(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }

    /// The label of a piece.
    pub fn label(&self, piece: &IntervalPiece) -> IntervalLabel {
        IntervalLabel {
            date: self.date,
            start: self.labels[piece.label],
        }
    }
}

/// The interval grid of one tenant: a time zone and an interval length.
#[derive(Debug, Clone)]
pub struct IntervalGrid {
    zone: TimeZone,
    length: IntervalLength,
}

impl IntervalGrid {
    /// A grid of `length` intervals cut in `zone`.
    pub fn new(zone: TimeZone, length: IntervalLength) -> IntervalGrid {
        IntervalGrid { zone, length }
    }

    /// The time zone.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The interval length.
    pub fn length(&self) -> IntervalLength {
        self.length
    }

    /// First instant of a local date (midnight, or the end of a DST gap that swallows midnight).
    pub fn day_start(&self, date: Date) -> Timestamp {
        // `to_ambiguous_timestamp(..).compatible()` takes the later instant of a gap and the earlier
        // of a fold: exactly the first instant whose local date is `date`.
        self.zone
            .to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
            .compatible()
            .expect("local midnight of a date within jiff's range has an instant")
    }

    /// The UTC span `[start, end)` of the local dates `from..=to`.
    pub fn window(&self, from: Date, to: Date) -> (Timestamp, Timestamp) {
        (self.day_start(from), self.day_start(next_day(to)))
    }

    /// The local date and interval label an instant falls in.
    pub fn label_of(&self, at: Timestamp) -> IntervalLabel {
        let local = self.zone.to_datetime(at);
        IntervalLabel {
            date: local.date(),
            start: self.floor(local.time()),
        }
    }

    /// The interval start at or before a local time of day.
    pub fn floor(&self, time: Time) -> Time {
        let minutes = i32::from(time.hour()) * 60 + i32::from(time.minute());
        let floored = minutes - minutes % self.length.minutes() as i32;
        Time::constant((floored / 60) as i8, (floored % 60) as i8, 0, 0)
    }

    /// Every interval of one local date, as labels and exact UTC pieces.
    pub fn day(&self, date: Date) -> DayIntervals {
        let start = self.day_start(date);
        let end = self.day_start(next_day(date));

        // Boundaries: every instant the local clock shows a grid time, both instants of a repeated
        // grid time, and every offset change inside the day.
        let mut bounds = vec![start, end];
        let step = self.length.minutes() as i32;
        for minute in (0..1440).step_by(step as usize) {
            let local = DateTime::from_parts(
                date,
                Time::constant((minute / 60) as i8, (minute % 60) as i8, 0, 0),
            );
            match self.zone.to_ambiguous_timestamp(local).offset() {
                AmbiguousOffset::Unambiguous { offset } => bounds.push(instant(local, offset)),
                AmbiguousOffset::Fold { before, after } => {
                    bounds.push(instant(local, before));
                    bounds.push(instant(local, after));
                }
                // A grid time in a gap never shows on the clock; the transition is added below.
                AmbiguousOffset::Gap { .. } => {}
            }
        }
        for transition in self.zone.following(start) {
            let at = transition.timestamp();
            if at >= end {
                break;
            }
            bounds.push(at);
        }
        bounds.retain(|b| *b >= start && *b <= end);
        bounds.sort();
        bounds.dedup();

        let mut labels: Vec<Time> = Vec::with_capacity(self.length.per_day() as usize + 4);
        let mut pieces = Vec::with_capacity(bounds.len());
        let mut raw_labels = Vec::with_capacity(bounds.len());
        for pair in bounds.windows(2) {
            let label = self.floor(self.zone.to_datetime(pair[0]).time());
            raw_labels.push(label);
            labels.push(label);
        }
        labels.sort();
        labels.dedup();
        for (pair, label) in bounds.windows(2).zip(raw_labels) {
            pieces.push(IntervalPiece {
                start: pair[0],
                end: pair[1],
                label: labels.binary_search(&label).expect("label was collected"),
            });
        }
        DayIntervals {
            date,
            start,
            end,
            labels,
            pieces,
        }
    }
}

fn instant(local: DateTime, offset: jiff::tz::Offset) -> Timestamp {
    offset
        .to_timestamp(local)
        .expect("grid times of dates within jiff's range have instants")
}

/// The next calendar date.
pub fn next_day(date: Date) -> Date {
    date.tomorrow()
        .expect("dates before 9999-12-31 have a next day")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn grid(zone: &str, minutes: u32) -> IntervalGrid {
        IntervalGrid::new(
            TimeZone::get(zone).unwrap(),
            IntervalLength::from_minutes(minutes).unwrap(),
        )
    }

    fn hours(day: &DayIntervals) -> i64 {
        day.length().as_secs() / 3600
    }

    #[test]
    fn ordinary_day_has_96_quarter_hours() {
        let day = grid("Europe/Stockholm", 15).day(date(2024, 6, 12));
        assert_eq!(hours(&day), 24);
        assert_eq!(day.labels.len(), 96);
        assert_eq!(day.pieces.len(), 96);
        assert!(
            day.pieces
                .iter()
                .all(|p| p.end.duration_since(p.start).as_secs() == 900)
        );
        assert_eq!(day.start.to_string(), "2024-06-11T22:00:00Z");
    }

    #[test]
    fn spring_forward_day_has_23_hours_and_no_two_oclock() {
        let day = grid("Europe/Stockholm", 30).day(date(2024, 3, 31));
        assert_eq!(hours(&day), 23);
        assert_eq!(day.labels.len(), 46);
        assert!(!day.labels.contains(&Time::constant(2, 0, 0, 0)));
        assert!(!day.labels.contains(&Time::constant(2, 30, 0, 0)));
        assert!(day.labels.contains(&Time::constant(3, 0, 0, 0)));
    }

    #[test]
    fn fall_back_day_has_25_hours_and_merges_the_repeated_hour() {
        let day = grid("Europe/Stockholm", 15).day(date(2024, 10, 27));
        assert_eq!(hours(&day), 25);
        assert_eq!(day.labels.len(), 96);
        assert_eq!(day.pieces.len(), 100);
        let two = day
            .labels
            .binary_search(&Time::constant(2, 15, 0, 0))
            .unwrap();
        let pieces: Vec<_> = day.pieces.iter().filter(|p| p.label == two).collect();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].start.to_string(), "2024-10-27T00:15:00Z");
        assert_eq!(pieces[1].start.to_string(), "2024-10-27T01:15:00Z");
    }

    #[test]
    fn midnight_in_a_gap_starts_the_day_at_the_transition() {
        // Chile moved clocks from 00:00 to 01:00 on 2023-09-03: the day starts at 01:00.
        let g = grid("America/Santiago", 60);
        let day = g.day(date(2023, 9, 3));
        assert_eq!(hours(&day), 23);
        assert_eq!(day.labels.first(), Some(&Time::constant(1, 0, 0, 0)));
        assert_eq!(g.label_of(day.start).date, date(2023, 9, 3));
    }

    #[test]
    fn half_hour_dst_gives_half_pieces() {
        // Lord Howe Island shifts by 30 minutes: hourly labels still cover the day.
        let day = grid("Australia/Lord_Howe", 60).day(date(2024, 4, 7));
        assert_eq!(day.length().as_secs(), 24 * 3600 + 1800);
        assert_eq!(day.labels.len(), 24);
    }

    #[test]
    fn label_of_uses_local_time() {
        let g = grid("America/New_York", 30);
        let at: Timestamp = "2024-01-15T14:44:59Z".parse().unwrap();
        assert_eq!(g.label_of(at).to_string(), "2024-01-15 09:30");
    }

    #[test]
    fn window_covers_whole_local_days() {
        let g = grid("Asia/Jerusalem", 60);
        let (start, end) = g.window(date(2010, 8, 1), date(2010, 8, 31));
        assert_eq!(start.to_string(), "2010-07-31T21:00:00Z");
        assert_eq!(end.to_string(), "2010-08-31T21:00:00Z");
    }

    const ZONES: &[&str] = &[
        "UTC",
        "Europe/Stockholm",
        "America/New_York",
        "America/Santiago",
        "America/Sao_Paulo",
        "Asia/Jerusalem",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/St_Johns",
    ];

    proptest! {
        #[test]
        fn pieces_tile_the_day_and_agree_with_label_of(
            zone in proptest::sample::select(ZONES),
            minutes in proptest::sample::select(&[15u32, 30, 60][..]),
            days in 0i32..(365 * 40),
        ) {
            let g = grid(zone, minutes);
            let d = date(1995, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap();
            let day = g.day(d);

            // Contiguous, non-empty pieces from the day's start to its end.
            prop_assert_eq!(day.pieces.first().unwrap().start, day.start);
            prop_assert_eq!(day.pieces.last().unwrap().end, day.end);
            for pair in day.pieces.windows(2) {
                prop_assert_eq!(pair[0].end, pair[1].start);
            }
            let len = g.length().seconds();
            let mut per_label = vec![0i64; day.labels.len()];
            for p in &day.pieces {
                let secs = p.end.duration_since(p.start).as_secs();
                prop_assert!(secs > 0 && secs <= len);
                per_label[p.label] += secs;
                // Both ends of the piece fall in its label.
                let last = p.end - SignedDuration::from_millis(1);
                prop_assert_eq!(g.label_of(p.start), day.label(p));
                prop_assert_eq!(g.label_of(last), day.label(p));
            }
            // A label holds one interval, or two at a fall-back; when offsets change on grid times,
            // a 23-hour day has 23 hours of labels and a 25-hour day 24.
            let whole = per_label.iter().all(|&s| s == len || s == 2 * len);
            for &secs in &per_label {
                prop_assert!(secs <= 2 * len);
            }
            let secs = day.length().as_secs();
            prop_assert!((22 * 3600..=26 * 3600).contains(&secs));
            if whole {
                prop_assert_eq!(day.labels.len() as i64, secs.min(24 * 3600) / len);
            }
            // Consecutive days meet.
            prop_assert_eq!(day.end, g.day(next_day(d)).start);
        }

        #[test]
        fn floor_is_on_the_grid(h in 0i8..24, m in 0i8..60, minutes in proptest::sample::select(&[15u32, 30, 60][..])) {
            let g = grid("UTC", minutes);
            let f = g.floor(Time::constant(h, m, 0, 0));
            prop_assert_eq!(f.hour(), h);
            prop_assert_eq!(f.minute() as u32 % minutes, 0);
            prop_assert!(f.minute() <= m && m - f.minute() < minutes as i8);
        }
    }
}
