//! Count tables in CSV text: a timestamp column and a count column, at any resolution (the bank's
//! 5-minute counts, an ACD's 15-minute export), turned into [`Observation`]s. Pure: the caller reads
//! the file and hands in its bytes.
//!
//! * Timestamps are RFC 3339 with an offset (`2003-03-03T07:00:00Z`, `…+02:00`) or naive local times
//!   (`2003-03-03 07:00`, `2003-03-03T07:00:00`) in the given zone; a naive time in a DST fold takes
//!   the earlier instant, in a gap the later (as `import --map` does).
//! * Counts are non-negative numbers.
//! * The separator is `,`, or `;` when the header has a `;` and no `,`.
//!
//! [`partial_slots`] finds intervals of the day that the table's samples only partly cover — the bank
//! series has one 5-minute sample at 21:00, a 30-minute interval of which it covers a sixth — so the
//! caller can leave them out instead of forecasting a sixth of an interval as if it were whole.

use std::collections::HashMap;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use wfm_model::IntervalGrid;

use crate::error::InputError;
use crate::series::Observation;

/// Which columns hold the timestamp and the count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountColumns {
    /// Timestamp column (`DateTime` by default).
    pub time: String,
    /// Count column (`Calls` by default).
    pub value: String,
}

impl Default for CountColumns {
    fn default() -> CountColumns {
        CountColumns {
            time: "DateTime".to_string(),
            value: "Calls".to_string(),
        }
    }
}

/// A count table read from CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CountTable {
    /// One observation per row, in file order.
    pub observations: Vec<Observation>,
    /// The sampling step: the most common gap between consecutive distinct timestamps (`None` with
    /// fewer than two timestamps).
    pub resolution: Option<SignedDuration>,
}

/// Reads a count table. Errors name the line (the header is line 1), the column and the value.
pub fn read_counts(
    text: &[u8],
    columns: &CountColumns,
    zone: &TimeZone,
) -> Result<CountTable, InputError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let first_line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.contains(&b';') && !first_line.contains(&b',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text);
    let headers = reader
        .headers()
        .map_err(|e| InputError::Row {
            line: 1,
            message: e.to_string(),
        })?
        .clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].trim().is_empty()) {
        return Err(InputError::Empty);
    }
    let available = headers
        .iter()
        .map(|h| h.trim())
        .collect::<Vec<_>>()
        .join(", ");
    let find = |name: &str, flag: &'static str, what: &'static str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .or_else(|| {
                headers
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| InputError::MissingColumn {
                column: name.to_string(),
                available: available.clone(),
                flag,
                what,
            })
    };
    let time_col = find(&columns.time, "--time-column", "timestamp")?;
    let value_col = find(&columns.value, "--value-column", "count")?;
    let time_name = headers[time_col].trim().to_string();
    let value_name = headers[value_col].trim().to_string();

    let mut observations = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(InputError::Row {
                    line: e.position().map_or(line, |p| p.line()),
                    message: e.to_string(),
                });
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let cell = |col: usize, name: &str| {
            record.get(col).ok_or_else(|| InputError::Row {
                line,
                message: format!(
                    "has {} fields; the {name} column is field {}",
                    record.len(),
                    col + 1
                ),
            })
        };
        let raw_time = cell(time_col, &time_name)?.trim();
        let start = parse_time(raw_time, zone).map_err(|message| InputError::Row {
            line,
            message: format!("{time_name} is {raw_time:?}: {message}"),
        })?;
        let raw_value = cell(value_col, &value_name)?.trim();
        let count: f64 = raw_value.parse().map_err(|_| InputError::Row {
            line,
            message: format!("{value_name} is {raw_value:?}, not a number"),
        })?;
        if !count.is_finite() || count < 0.0 {
            return Err(InputError::Row {
                line,
                message: format!("{value_name} is {raw_value}; counts must be ≥ 0"),
            });
        }
        observations.push(Observation::count(start, count));
    }
    if observations.is_empty() {
        return Err(InputError::NoRows);
    }
    let resolution = most_common_gap(&observations);
    Ok(CountTable {
        observations,
        resolution,
    })
}

/// Parses an RFC 3339 timestamp or a naive local date-time in `zone`.
pub fn parse_time(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    let local: DateTime = text.parse().map_err(|_| {
        "not a timestamp; write RFC 3339 (2003-03-03T07:00:00Z, 2003-03-03T07:00:00+02:00) or a local YYYY-MM-DD HH:MM[:SS]".to_string()
    })?;
    zone.to_ambiguous_timestamp(local)
        .compatible()
        .map_err(|e| format!("cannot be placed in the time zone: {e}"))
}

fn most_common_gap(observations: &[Observation]) -> Option<SignedDuration> {
    let mut times: Vec<Timestamp> = observations.iter().map(|o| o.start).collect();
    times.sort();
    times.dedup();
    let mut gaps: HashMap<i64, usize> = HashMap::new();
    for pair in times.windows(2) {
        let gap = pair[1].duration_since(pair[0]).as_secs();
        *gaps.entry(gap).or_default() += 1;
    }
    gaps.into_iter()
        .max_by_key(|&(gap, n)| (n, -gap))
        .map(|(gap, _)| SignedDuration::from_secs(gap))
}

/// Slots (positions in the day, see [`crate::series`]) that the table's samples cover less than half
/// of on average: samples in the slot ÷ (days with a sample in it × samples an interval holds at the
/// table's resolution). Empty when the resolution is not finer than the interval.
pub fn partial_slots(table: &CountTable, grid: &IntervalGrid) -> Vec<usize> {
    let Some(resolution) = table.resolution else {
        return Vec::new();
    };
    let step = resolution.as_secs();
    let length = grid.length().seconds();
    if step <= 0 || step >= length {
        return Vec::new();
    }
    let expected = (length / step) as f64;
    let minutes = grid.length().minutes() as usize;
    let slots = grid.length().per_day() as usize;
    let mut samples = vec![0usize; slots];
    let mut days: Vec<std::collections::HashSet<Date>> = vec![Default::default(); slots];
    for obs in &table.observations {
        let label = grid.label_of(obs.start);
        let slot = (label.start.hour() as usize * 60 + label.start.minute() as usize) / minutes;
        samples[slot] += 1;
        days[slot].insert(label.date);
    }
    (0..slots)
        .filter(|&s| {
            !days[s].is_empty() && (samples[s] as f64) < 0.5 * expected * days[s].len() as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_model::IntervalLength;

    fn utc() -> TimeZone {
        TimeZone::UTC
    }

    #[test]
    fn reads_rfc3339_and_naive_local_times() {
        let text = b"rownames,DateTime,Calls\n1,2003-03-03T07:00:00Z,111\n2,2003-03-03 07:05,113\n";
        let t = read_counts(text, &CountColumns::default(), &utc()).unwrap();
        assert_eq!(t.observations.len(), 2);
        assert_eq!(t.observations[1].start.to_string(), "2003-03-03T07:05:00Z");
        assert_eq!(t.resolution, Some(SignedDuration::from_mins(5)));
        let ny = TimeZone::get("America/New_York").unwrap();
        let t = read_counts(text, &CountColumns::default(), &ny).unwrap();
        assert_eq!(t.observations[1].start.to_string(), "2003-03-03T12:05:00Z");
    }

    #[test]
    fn errors_name_the_line_and_the_columns() {
        let text = b"rownames,DateTime,Calls\n1,2003-03-03T07:00:00Z,111\n2,yesterday,3\n";
        let err = read_counts(text, &CountColumns::default(), &utc()).unwrap_err();
        assert_eq!(err.line(), Some(3));
        assert!(
            err.to_string()
                .starts_with("line 3: DateTime is \"yesterday\": not a timestamp")
        );
        let text = b"rownames,DateTime,Calls\n1,2003-03-03T07:00:00Z,x\n";
        let err = read_counts(text, &CountColumns::default(), &utc()).unwrap_err();
        assert_eq!(err.to_string(), "line 2: Calls is \"x\", not a number");
        let cols = CountColumns {
            time: "DateTime".into(),
            value: "Volume".into(),
        };
        let err = read_counts(text, &cols, &utc()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "has no column \"Volume\" (its columns are: rownames, DateTime, Calls); pass --value-column to name the count column"
        );
        let err = read_counts(b"a,b\n", &CountColumns::default(), &utc()).unwrap_err();
        assert!(matches!(err, InputError::MissingColumn { .. }));
        let text = b"DateTime,Calls\n2003-03-03T07:00:00Z,-4\n";
        let err = read_counts(text, &CountColumns::default(), &utc()).unwrap_err();
        assert_eq!(err.to_string(), "line 2: Calls is -4; counts must be ≥ 0");
    }

    #[test]
    fn semicolon_tables_and_case_insensitive_columns() {
        let text = b"datetime;calls\n2024-01-01T00:00:00Z;4\n";
        let t = read_counts(text, &CountColumns::default(), &utc()).unwrap();
        assert_eq!(t.observations[0].count, 4.0);
    }

    #[test]
    fn the_edge_interval_covered_by_one_sample_is_partial() {
        let mut text = String::from("DateTime,Calls\n");
        for day in 3..=4 {
            for m in (0..60).step_by(5) {
                text.push_str(&format!("2003-03-0{day}T20:{m:02}:00Z,10\n"));
            }
            text.push_str(&format!("2003-03-0{day}T21:00:00Z,10\n"));
        }
        let t = read_counts(text.as_bytes(), &CountColumns::default(), &utc()).unwrap();
        let grid = IntervalGrid::new(utc(), IntervalLength::Thirty);
        assert_eq!(partial_slots(&t, &grid), vec![42]);
    }
}
