//! When flows run: every fixed duration, or on a cron expression in the tenant's time zone.
//!
//! Cron expressions have six fields (`sec min hour day-of-month month day-of-week`) or five (no
//! seconds, meaning second 0), with `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`,
//! and names (`MON`, `JAN`). Day-of-month and day-of-week combine as in Vixie cron: when both are
//! restricted, a day matching either is a match. Times are local: at a DST gap a time that does not
//! exist runs at the end of the gap; at a fall-back a repeated time runs once, at its first occurrence.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    text: String,
    seconds: u64,       // bits 0..60
    minutes: u64,       // bits 0..60
    hours: u32,         // bits 0..24
    days: u32,          // bits 1..=31
    months: u16,        // bits 1..=12
    weekdays: u8,       // bits 0..7, 0 = Sunday
    days_any: bool,     // day-of-month was `*`
    weekdays_any: bool, // day-of-week was `*`
}

/// Why a cron expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cron expression {text:?}: {message}")]
pub struct CronError {
    text: String,
    message: String,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl FromStr for CronSchedule {
    type Err = CronError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = |message: String| CronError {
            text: text.to_string(),
            message,
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let fields: Vec<&str> = match fields.len() {
            6 => fields,
            5 => std::iter::once("0").chain(fields).collect(),
            n => {
                return Err(error(format!(
                    "has {n} fields; write 6 (sec min hour day month weekday, e.g. \"0 30 2 * * *\") or 5 (without seconds)"
                )));
            }
        };
        let field = |i: usize, name: &str, min: u32, max: u32, names: &[&str]| {
            parse_field(fields[i], min, max, names)
                .map_err(|m| error(format!("{name} field {:?}: {m}", fields[i])))
        };
        let seconds = field(0, "seconds", 0, 59, &[])?;
        let minutes = field(1, "minutes", 0, 59, &[])?;
        let hours = field(2, "hours", 0, 23, &[])?;
        let days = field(3, "day-of-month", 1, 31, &[])?;
        let months = field(4, "month", 1, 12, &MONTHS)?;
        // 7 is Sunday too.
        let mut weekdays = field(5, "day-of-week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(CronSchedule {
            text: text.to_string(),
            seconds,
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: (weekdays & 0x7f) as u8,
            days_any: is_any(fields[3]),
            weekdays_any: is_any(fields[5]),
        })
    }
}

fn is_any(field: &str) -> bool {
    field == "*" || field == "?"
}

/// Parses one field into a bit set of allowed values.
fn parse_field(field: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            // Month names count from 1, weekday names from 0.
            return Ok(i as u32 + if names.len() == 12 { 1 } else { 0 });
        }
        let v: u32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
        if v < min || v > max {
            return Err(format!("{v} is outside {min}-{max}"));
        }
        Ok(v)
    };
    let mut bits = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("step {step:?} is not a number"))?;
                if step == 0 {
                    return Err("a step of 0 never advances".to_string());
                }
                (range, step)
            }
            None => (part, 1),
        };
        let (from, to) = if is_any(range) {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a > b {
                return Err(format!("range {a}-{b} runs backwards"));
            }
            (a, b)
        } else {
            let v = value(range)?;
            // `5/15` means from 5 to the end in steps of 15.
            (v, if step > 1 { max } else { v })
        };
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl CronSchedule {
    fn day_matches(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    /// The first local time at or after `from` on `date` that matches, if any.
    fn first_time_on(&self, from: Time) -> Option<Time> {
        for h in from.hour()..24 {
            if self.hours & (1 << h) == 0 {
                continue;
            }
            let m0 = if h == from.hour() { from.minute() } else { 0 };
            for m in m0..60 {
                if self.minutes & (1 << m) == 0 {
                    continue;
                }
                let s0 = if h == from.hour() && m == from.minute() {
                    from.second()
                } else {
                    0
                };
                for s in s0..60 {
                    if self.seconds & (1 << s) != 0 {
                        return Some(Time::constant(h, m, s, 0));
                    }
                }
            }
        }
        None
    }

    /// The first instant strictly after `after` at which the schedule fires, in `zone`. `None` when
    /// it never fires within eight years (e.g. `0 0 0 31 2 *`).
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = zone.to_datetime(after + 1.second());
        let start = start.with().subsec_nanosecond(0).build().ok()?;
        let mut date = start.date();
        let mut from = start.time();
        for _ in 0..(366 * 8) {
            if self.day_matches(date) {
                let mut search = from;
                while let Some(time) = self.first_time_on(search) {
                    let local = DateTime::from_parts(date, time);
                    let instants = zone.to_ambiguous_timestamp(local);
                    // Gap: shifted by the gap's length. Fold: the first occurrence only.
                    let at = instants.compatible().ok()?;
                    if at > after {
                        return Some(at);
                    }
                    // The local time repeats or was skipped behind us: look further on this day.
                    let next = time.checked_add(1.second()).ok()?;
                    if next <= time {
                        break;
                    }
                    search = next;
                }
            }
            date = date.tomorrow().ok()?;
            from = Time::midnight();
        }
        None
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// When a flow runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every fixed duration, the first run at start.
    Every(Duration),
    /// On a cron expression in the tenant's time zone.
    Cron(CronSchedule),
    /// Again as soon as the previous run ends (with a short pause when it found nothing to do).
    Continuous,
}

/// Parses a duration such as `500ms`, `10s`, `15m`, `1h`, `1h30m` or `2d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let help = || {
        format!(
            "{text:?} is not a duration; write a number and a unit, e.g. 10s, 15m, 1h30m (units: ms, s, m, h, d)"
        )
    };
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(help());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(help());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| help())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            "d" => Duration::from_secs(n * 86_400),
            _ => return Err(help()),
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cron(s: &str) -> CronSchedule {
        s.parse().unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn daily_at_local_time() {
        let zone = TimeZone::get("Europe/Stockholm").unwrap();
        let c = cron("0 30 2 * * *");
        let next = c.next_after(ts("2024-06-10T12:00:00Z"), &zone).unwrap();
        assert_eq!(next.to_string(), "2024-06-11T00:30:00Z");
        // Exactly at a firing instant: the next one is the following day.
        let again = c.next_after(next, &zone).unwrap();
        assert_eq!(again.to_string(), "2024-06-12T00:30:00Z");
    }

    #[test]
    fn dst_gap_shifts_and_fold_runs_once() {
        let zone = TimeZone::get("Europe/Stockholm").unwrap();
        let c = cron("0 30 2 * * *");
        // 2024-03-31: 02:00 → 03:00, 02:30 does not exist: run at 03:30 local = 01:30Z.
        let next = c.next_after(ts("2024-03-30T12:00:00Z"), &zone).unwrap();
        assert_eq!(next.to_string(), "2024-03-31T01:30:00Z");
        // 2024-10-27: 02:30 happens twice; run at the first (00:30Z) and not at 01:30Z.
        let first = c.next_after(ts("2024-10-26T12:00:00Z"), &zone).unwrap();
        assert_eq!(first.to_string(), "2024-10-27T00:30:00Z");
        let second = c.next_after(first, &zone).unwrap();
        assert_eq!(second.to_string(), "2024-10-28T01:30:00Z");
    }

    #[test]
    fn fields_and_names() {
        let utc = TimeZone::UTC;
        let c = cron("*/15 * * * *");
        assert_eq!(
            c.next_after(ts("2024-01-01T00:07:00Z"), &utc)
                .unwrap()
                .to_string(),
            "2024-01-01T00:15:00Z"
        );
        let c = cron("0 0 9 * * MON-FRI");
        // 2024-01-06 is a Saturday.
        assert_eq!(
            c.next_after(ts("2024-01-06T10:00:00Z"), &utc)
                .unwrap()
                .to_string(),
            "2024-01-08T09:00:00Z"
        );
        let c = cron("0 0 0 1 JAN,JUL *");
        assert_eq!(
            c.next_after(ts("2024-02-01T00:00:00Z"), &utc)
                .unwrap()
                .to_string(),
            "2024-07-01T00:00:00Z"
        );
        // Day-of-month or day-of-week when both are set (Vixie cron).
        let c = cron("0 0 0 13 * FRI");
        assert_eq!(
            c.next_after(ts("2024-09-01T00:00:00Z"), &utc)
                .unwrap()
                .to_string(),
            "2024-09-06T00:00:00Z"
        );
        assert_eq!(
            cron("0 0 0 31 2 *").next_after(ts("2024-01-01T00:00:00Z"), &utc),
            None
        );
    }

    #[test]
    fn bad_expressions_say_why() {
        let e = |s: &str| s.parse::<CronSchedule>().unwrap_err().to_string();
        assert!(e("0 30 2 * *  * *").contains("has 7 fields"));
        assert!(e("0 61 2 * * *").contains("minutes field \"61\": 61 is outside 0-59"));
        assert!(e("0 0 2 * * FUNDAY").contains("\"FUNDAY\" is not a number"));
        assert!(e("*/0 * * * * *").contains("step of 0"));
        assert!(e("0 0 5-2 * * *").contains("runs backwards"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("10").unwrap_err().contains("not a duration"));
        assert!(parse_duration("ten s").is_err());
        assert!(parse_duration("").is_err());
    }

    proptest! {
        #[test]
        fn next_is_after_and_matches(
            after in 1_500_000_000i64..2_100_000_000,
            hour in 0u8..24,
            minute in 0u8..60,
            zone in proptest::sample::select(&["UTC", "Europe/Stockholm", "America/New_York", "Australia/Lord_Howe"][..]),
        ) {
            let zone = TimeZone::get(zone).unwrap();
            let c = cron(&format!("0 {minute} {hour} * * *"));
            let after = Timestamp::from_second(after).unwrap();
            let next = c.next_after(after, &zone).unwrap();
            prop_assert!(next > after);
            // At most a day and a bit later (a skipped time moves to the end of the gap).
            prop_assert!(next.duration_since(after).as_secs() <= 26 * 3600);
            let local = zone.to_datetime(next);
            let exact = local.hour() == hour as i8 && local.minute() == minute as i8;
            // Or a time a DST gap skipped on that day.
            let wanted = DateTime::from_parts(local.date(), Time::constant(hour as i8, minute as i8, 0, 0));
            let in_gap = matches!(
                zone.to_ambiguous_timestamp(wanted).offset(),
                jiff::tz::AmbiguousOffset::Gap { .. }
            );
            prop_assert!(exact || in_gap, "{next} is {local} local");
        }
    }
}
