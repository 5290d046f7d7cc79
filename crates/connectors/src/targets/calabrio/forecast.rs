//! The Calabrio/Teleopti forecast import file (reference/calabrio.md §4): the writer of our forecasts
//! and staffing, one file per skill. Pure: forecast in, text out.
//!
//! # The file
//!
//! One file per skill, UTF-8 without byte-order mark, **CRLF** after every line (Teleopti splits on
//! the Windows newline; an LF-only file is one long line and fails the column check). The header
//!
//! ```text
//! skillname,startdatetime,enddatetime,tasks,tasktime,aftertasktime,agents
//! ```
//!
//! then one row per interval: skill name, start and end as **local** times of the skill `yyyyMMdd
//! H:mm` (`20250301 8:00`), tasks (forecast contacts), task time and after-task time as **average
//! seconds per task** (AHT without and with only after-contact work), and optionally agents
//! (Calabrio stores them as manual agents; the forecast flow writes the agents to schedule, after
//! shrinkage). Numbers are en-US decimals with a point, no sign, no grouping, no exponent.
//!
//! Around the DST changes the writer follows what the importer expects: an interval that starts
//! before a spring-forward gap ends at the first time after it (`1:30` → `3:00`), and the repeated
//! hour of a fall-back is written once per label — Teleopti itself adds the second occurrence of
//! every row whose start is ambiguous.
//!
//! # Checking
//!
//! The rules and exact error texts of Calabrio's import (reference/calabrio.md §4 and §6) are
//! enforced by the sandbox's emulated forecast import (`wfm_sandbox::calabrio::forecast_import`),
//! written independently of this writer so that the two check each other.

use jiff::SignedDuration;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use thiserror::Error;
use wfm_forecast::{Forecast, Staffing};
use wfm_model::IntervalLength;

/// The optional header line Teleopti skips (its `;` form is skipped too).
pub const HEADER: &str = "skillname,startdatetime,enddatetime,tasks,tasktime,aftertasktime,agents";

/// The longest skill name, in UTF-16 code units (.NET string length).
pub const MAX_SKILL_NAME: usize = 50;

/// One interval of a skill's forecast, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastRow {
    /// Local start of the interval.
    pub start: DateTime,
    /// Local end of the interval.
    pub end: DateTime,
    /// Forecast tasks (contacts).
    pub tasks: f64,
    /// Average task time in seconds (talk + hold).
    pub task_time_s: f64,
    /// Average after-task time in seconds (after-contact work).
    pub after_task_time_s: f64,
    /// Agents needed, when staffing is sent along.
    pub agents: Option<f64>,
}

/// Why a forecast file cannot be written.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum WriteError {
    /// The skill name breaks a rule of the file.
    #[error("skill name {name:?}: {rule}")]
    SkillName {
        /// The name.
        name: String,
        /// The rule broken.
        rule: &'static str,
    },
    /// A number that the file cannot carry.
    #[error("row {row} ({start}): {field} is {value}; it must be a finite number ≥ 0")]
    Number {
        /// Row number from 1.
        row: usize,
        /// The row's local start.
        start: DateTime,
        /// The field.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// A row that ends before it starts.
    #[error("row {row}: ends at {end}, not after its start {start}")]
    Order {
        /// Row number from 1.
        row: usize,
        /// Local start.
        start: DateTime,
        /// Local end.
        end: DateTime,
    },
}

/// Writes the forecast file of one skill: the header, then one CRLF-terminated row per interval.
pub fn write_file(skill: &str, rows: &[ForecastRow]) -> Result<String, WriteError> {
    check_skill_name(skill)?;
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(HEADER);
    out.push_str("\r\n");
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        if row.end <= row.start {
            return Err(WriteError::Order {
                row: n,
                start: row.start,
                end: row.end,
            });
        }
        out.push_str(skill);
        out.push(',');
        out.push_str(&format_date_time(row.start));
        out.push(',');
        out.push_str(&format_date_time(row.end));
        let mut numbers = vec![
            ("tasks", row.tasks),
            ("tasktime", row.task_time_s),
            ("aftertasktime", row.after_task_time_s),
        ];
        if let Some(agents) = row.agents {
            numbers.push(("agents", agents));
        }
        for (field, value) in numbers {
            if !value.is_finite() || value < 0.0 {
                return Err(WriteError::Number {
                    row: n,
                    start: row.start,
                    field,
                    value,
                });
            }
            out.push(',');
            out.push_str(&format_number(value));
        }
        out.push_str("\r\n");
    }
    Ok(out)
}

fn check_skill_name(name: &str) -> Result<(), WriteError> {
    let rule = if name.is_empty() {
        Some("it must not be empty")
    } else if name.encode_utf16().count() > MAX_SKILL_NAME {
        Some("it is longer than 50 characters, the most Calabrio accepts")
    } else if name.contains([',', ';']) {
        Some(
            "it contains a comma or semicolon, which would split the row (Calabrio's file has no quoting)",
        )
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character (a line break would split the row)")
    } else {
        None
    };
    match rule {
        Some(rule) => Err(WriteError::SkillName {
            name: name.to_string(),
            rule,
        }),
        None => Ok(()),
    }
}

/// `yyyyMMdd H:mm`: `20250301 8:00`.
pub fn format_date_time(dt: DateTime) -> String {
    format!(
        "{:04}{:02}{:02} {}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute()
    )
}

/// A decimal with a point and at most 4 decimals, trailing zeros dropped: `12.5`, `180`, `0.3333`.
pub fn format_number(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A file name for one skill's forecast: `Forecast_<skill>_<from>_<to>.csv` (dates `YYYYMMDD`;
/// characters other than letters, digits, `-` and `_` in the skill become `_`).
pub fn file_name(skill: &str, from: Date, to: Date) -> String {
    let safe: String = skill
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "Forecast_{safe}_{}_{}.csv",
        from.strftime("%Y%m%d"),
        to.strftime("%Y%m%d")
    )
}

/// Handle times used where the forecast has none (the queue's history had no handle time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultHandleTime {
    /// Average handle time in seconds (talk + hold + after-contact work).
    pub aht_s: f64,
    /// Its after-contact-work part.
    pub acw_s: f64,
}

/// The rows of a forecast on a grid of `length` in `zone`, with the agents of `staffing` (same order
/// as the forecast's points) when given. One row per interval label: the second piece of a
/// fall-back label is left to Teleopti, which duplicates ambiguous rows itself.
pub fn rows_from_forecast(
    forecast: &Forecast,
    zone: &TimeZone,
    length: IntervalLength,
    staffing: Option<&[Staffing]>,
    defaults: DefaultHandleTime,
) -> Vec<ForecastRow> {
    let mut rows: Vec<ForecastRow> = Vec::with_capacity(forecast.points.len());
    // A fall-back label's two pieces are not adjacent (02:00, 02:30, then 02:00 again).
    let mut seen = std::collections::HashSet::new();
    for (i, p) in forecast.points.iter().enumerate() {
        if !seen.insert(p.label) {
            continue;
        }
        let start = zone.to_datetime(p.start);
        let mut end = start
            .checked_add(SignedDuration::from_secs(length.seconds()))
            .unwrap_or(start);
        if matches!(
            zone.to_ambiguous_timestamp(end).offset(),
            AmbiguousOffset::Gap { .. }
        ) {
            // The clock skips the end: write the time it shows when the interval ends.
            end = zone.to_datetime(p.end);
        }
        let aht = p.aht_s.unwrap_or(defaults.aht_s);
        let acw = p.acw_s.unwrap_or(defaults.acw_s).min(aht);
        rows.push(ForecastRow {
            start,
            end,
            tasks: p.contacts,
            task_time_s: aht - acw,
            after_task_time_s: acw,
            agents: staffing.and_then(|s| s.get(i)).map(|s| f64::from(s.agents)),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn row(start: DateTime, end: DateTime, tasks: f64, agents: Option<f64>) -> ForecastRow {
        ForecastRow {
            start,
            end,
            tasks,
            task_time_s: 180.0,
            after_task_time_s: 30.0,
            agents,
        }
    }

    #[test]
    fn writes_the_exact_file() {
        let rows = [
            row(
                date(2025, 3, 1).at(8, 0, 0, 0),
                date(2025, 3, 1).at(8, 15, 0, 0),
                12.5,
                Some(4.2),
            ),
            row(
                date(2025, 3, 1).at(23, 45, 0, 0),
                date(2025, 3, 2).at(0, 0, 0, 0),
                1.0 / 3.0,
                None,
            ),
        ];
        let text = write_file("Support", &rows).unwrap();
        assert_eq!(
            text,
            "skillname,startdatetime,enddatetime,tasks,tasktime,aftertasktime,agents\r\n\
             Support,20250301 8:00,20250301 8:15,12.5,180,30,4.2\r\n\
             Support,20250301 23:45,20250302 0:00,0.3333,180,30\r\n"
        );
        assert_eq!(
            file_name("Support Nordic", date(2025, 3, 1), date(2025, 3, 14)),
            "Forecast_Support_Nordic_20250301_20250314.csv"
        );
    }

    #[test]
    fn writer_refuses_what_the_file_cannot_carry() {
        let r = row(
            date(2025, 3, 1).at(8, 0, 0, 0),
            date(2025, 3, 1).at(8, 15, 0, 0),
            1.0,
            None,
        );
        assert!(matches!(
            write_file("", std::slice::from_ref(&r)),
            Err(WriteError::SkillName { .. })
        ));
        assert!(write_file("Sales, Nordic", std::slice::from_ref(&r)).is_err());
        assert!(write_file(&"x".repeat(51), std::slice::from_ref(&r)).is_err());
        assert!(write_file(&"x".repeat(50), std::slice::from_ref(&r)).is_ok());
        let negative = ForecastRow {
            tasks: -1.0,
            ..r.clone()
        };
        assert_eq!(
            write_file("Support", &[negative]).unwrap_err().to_string(),
            "row 1 (2025-03-01T08:00:00): tasks is -1; it must be a finite number ≥ 0"
        );
        let backwards = ForecastRow {
            end: r.start,
            ..r.clone()
        };
        assert!(matches!(
            write_file("Support", &[backwards]),
            Err(WriteError::Order { .. })
        ));
        assert_eq!(format_number(180.0), "180");
        assert_eq!(format_number(0.00001), "0");
        assert_eq!(format_number(2.50), "2.5");
    }
}
