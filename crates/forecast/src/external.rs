//! Forecasts made elsewhere, for customers who forecast in another tool: a CSV of one row per queue
//! and interval, checked and turned into a [`Forecast`] per queue on the tenant's grid. Pure: the
//! caller reads the file and hands in its bytes.
//!
//! The file has a header naming its columns (any order, names ignoring case):
//!
//! | column | meaning |
//! |---|---|
//! | `queue` | queue id |
//! | `start` | interval start: RFC 3339 with offset, or local `YYYY-MM-DD HH:MM` in the tenant's zone |
//! | `calls` | forecast contacts offered (≥ 0) |
//! | `aht` | optional: average handle time in seconds (talk + hold + after-contact work) |
//! | `acw` | optional: its after-contact-work part in seconds (≤ aht) |
//!
//! Each start must sit on the grid (a multiple of the interval length from local midnight), and a
//! (queue, start) pair may appear once. The separator is `,`, or `;` when the header has a `;` and no
//! `,`. Errors name the line (the header is line 1), the column and the value, and say how to fix it;
//! every bad row is reported, up to 100.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use wfm_model::IntervalGrid;

use crate::forecast::{Forecast, ForecastPoint};
use crate::input::parse_time;
use crate::methods::Method;

/// Most errors reported for one file.
const MAX_ERRORS: usize = 100;

/// One error of an external forecast file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalError {
    /// Line in the file (the header is line 1).
    pub line: u64,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for ExternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads an external forecast: per queue, a forecast with the file's points in time order
/// ([`Forecast::method`] is reported as [`Method::Profile`] but means nothing here; no backtest).
pub fn read_external(
    text: &[u8],
    grid: &IntervalGrid,
) -> Result<BTreeMap<String, Forecast>, Vec<ExternalError>> {
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
    let one = |line: u64, message: String| vec![ExternalError { line, message }];
    let headers = reader.headers().map_err(|e| one(1, e.to_string()))?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let available = headers.iter().map(str::trim).collect::<Vec<_>>().join(", ");
    let required = |name: &str| {
        find(name).ok_or_else(|| {
            one(
                1,
                format!(
                    "no {name} column (the header has: {available}); the columns are queue, start, calls and optionally aht, acw"
                ),
            )
        })
    };
    let queue_col = required("queue")?;
    let start_col = required("start")?;
    let calls_col = required("calls")?;
    let aht_col = find("aht");
    let acw_col = find("acw");
    if acw_col.is_some() && aht_col.is_none() {
        return Err(one(
            1,
            "an acw column needs an aht column (acw is the after-contact part of aht)".to_string(),
        ));
    }

    let zone: &TimeZone = grid.zone();
    let length = jiff::SignedDuration::from_secs(grid.length().seconds());
    let mut errors = Vec::new();
    let mut seen: HashSet<(String, Timestamp)> = HashSet::new();
    let mut points: BTreeMap<String, Vec<ForecastPoint>> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        if errors.len() >= MAX_ERRORS {
            break;
        }
        let fallback_line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                errors.push(ExternalError {
                    line: e.position().map_or(fallback_line, |p| p.line()),
                    message: e.to_string(),
                });
                break;
            }
        }
        let line = record.position().map_or(fallback_line, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let mut fail = |message: String| errors.push(ExternalError { line, message });
        let cell = |col: usize| record.get(col).map(str::trim).unwrap_or("");
        let queue = cell(queue_col);
        if queue.is_empty() {
            fail("queue is empty; every row names its queue id".to_string());
            continue;
        }
        let start = match parse_time(cell(start_col), zone) {
            Ok(t) => t,
            Err(why) => {
                fail(format!("start is {:?}: {why}", cell(start_col)));
                continue;
            }
        };
        let label = grid.label_of(start);
        let local = zone.to_datetime(start);
        if local.time() != label.start || local.second() != 0 {
            fail(format!(
                "start {} is not on the {}-minute grid of {}; write the interval's first minute (e.g. {})",
                cell(start_col),
                grid.length(),
                zone.iana_name().unwrap_or("the tenant's zone"),
                label.start.strftime("%H:%M"),
            ));
            continue;
        }
        let number = |col: usize, name: &str| -> Result<f64, String> {
            let raw = cell(col);
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(format!(
                    "{name} is {raw:?}; write a number ≥ 0 with a decimal point"
                )),
            }
        };
        let calls = match number(calls_col, "calls") {
            Ok(v) => v,
            Err(m) => {
                fail(m);
                continue;
            }
        };
        let optional = |col: Option<usize>, name: &str| -> Result<Option<f64>, String> {
            match col {
                Some(c) if !cell(c).is_empty() => number(c, name).map(Some),
                _ => Ok(None),
            }
        };
        let (aht, acw) = match (optional(aht_col, "aht"), optional(acw_col, "acw")) {
            (Ok(a), Ok(c)) => (a, c),
            (Err(m), _) | (_, Err(m)) => {
                fail(m);
                continue;
            }
        };
        if let (Some(a), Some(c)) = (aht, acw)
            && c > a
        {
            fail(format!(
                "acw {c} is more than aht {a}; acw is the after-contact part of aht"
            ));
            continue;
        }
        if acw.is_some() && aht.is_none() {
            fail("acw without aht; give the row's aht too".to_string());
            continue;
        }
        if !seen.insert((queue.to_string(), start)) {
            fail(format!(
                "queue {queue} has the interval {} twice; keep one row per queue and interval",
                cell(start_col)
            ));
            continue;
        }
        points
            .entry(queue.to_string())
            .or_default()
            .push(ForecastPoint {
                label,
                start,
                end: start.checked_add(length).unwrap_or(start),
                contacts: calls,
                aht_s: aht,
                acw_s: acw,
            });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if points.is_empty() {
        return Err(one(
            2,
            "no rows: the file has a header and nothing else".to_string(),
        ));
    }
    Ok(points
        .into_iter()
        .map(|(queue, mut points)| {
            points.sort_by_key(|p| p.start);
            (
                queue,
                Forecast {
                    method: Method::Profile,
                    backtest: None,
                    points,
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_model::IntervalLength;

    fn grid() -> IntervalGrid {
        IntervalGrid::new(
            TimeZone::get("Europe/Stockholm").unwrap(),
            IntervalLength::Thirty,
        )
    }

    #[test]
    fn reads_queues_in_time_order_with_optional_handle_time() {
        let text = "Queue;Start;Calls;AHT;ACW\n\
                    support;2025-03-03 08:30;12.5;200;30\n\
                    support;2025-03-03T07:00:00Z;10;;\n\
                    sales;2025-03-03 08:00;3;180;20\n";
        let f = read_external(text.as_bytes(), &grid()).unwrap();
        assert_eq!(f.len(), 2);
        let support = &f["support"].points;
        assert_eq!(support[0].start.to_string(), "2025-03-03T07:00:00Z");
        assert_eq!(support[0].aht_s, None);
        assert_eq!(support[1].contacts, 12.5);
        assert_eq!(support[1].aht_s, Some(200.0));
        assert_eq!(support[1].acw_s, Some(30.0));
        assert_eq!(
            support[1].end.duration_since(support[1].start).as_secs(),
            1800
        );
    }

    #[test]
    fn every_bad_row_is_named_with_its_line() {
        let text = "queue,start,calls,aht,acw\n\
                    support,2025-03-03 08:30,12,200,30\n\
                    support,2025-03-03 08:10,12,200,30\n\
                    ,2025-03-03 09:00,1,1,1\n\
                    support,yesterday,1,1,1\n\
                    support,2025-03-03 09:00,-1,1,1\n\
                    support,2025-03-03 09:30,1,10,20\n\
                    support,2025-03-03 08:30,5,200,30\n";
        let errors = read_external(text.as_bytes(), &grid()).unwrap_err();
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8], "{errors:?}");
        assert!(errors[0].message.contains("not on the 30-minute grid"));
        assert!(errors[0].message.contains("08:00"), "{}", errors[0]);
        assert!(errors[1].message.contains("queue is empty"));
        assert!(errors[3].message.contains("calls is \"-1\""));
        assert!(errors[4].message.contains("acw 20 is more than aht 10"));
        assert!(errors[5].message.contains("twice"));

        let missing =
            read_external(b"queue,when,calls\nq,2025-03-03 08:00,1\n", &grid()).unwrap_err();
        assert_eq!(missing[0].line, 1);
        assert!(
            missing[0].message.contains("no start column"),
            "{missing:?}"
        );
        assert!(read_external(b"queue,start,calls\n", &grid()).is_err());
    }
}
