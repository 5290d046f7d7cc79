//! The Calabrio/Teleopti forecast import file (reference/calabrio.md §4 and §6): a writer for our
//! forecasts and staffing, and a validator with Teleopti's rules and exact error texts, for the
//! sandbox's emulated import. Pure: text in, text out.
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
//! (Calabrio stores them as manual agents; we write the Erlang C agents before shrinkage). Numbers
//! are en-US decimals with a point, no sign, no grouping, no exponent.
//!
//! Around the DST changes the writer follows what the importer expects: an interval that starts
//! before a spring-forward gap ends at the first time after it (`1:30` → `3:00`), and the repeated
//! hour of a fall-back is written once per label — Teleopti itself adds the second occurrence of
//! every row whose start is ambiguous.
//!
//! # What the validator checks (Teleopti's order; texts exact)
//!
//! Parsing, row by row (`n` counts data rows from 1; the header is not counted):
//!
//! | check | error |
//! |---|---|
//! | no line at all | `Line 1, Error:Imported forecast file is empty.` |
//! | 6 or 7 columns (separator `;` if the first line has one, else `,`) | `Line n, Error:There are more or less columns than expected when using ',' as column separator.` |
//! | skill name non-empty | `Line n, Error:Skill name should not be empty` |
//! | skill name ≤ 50 UTF-16 units | `Line n, Error:Skill name is longer than 50 characters.` |
//! | start/end `yyyyMMdd H:mm` or `yyyy-MM-dd H:mm` | `Line n, Error:Date time format of <v> is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm` |
//! | start/end not in a DST gap | `Line n, Error:<MM/dd/yyyy HH:mm:ss> is invalid time.` (.NET's invariant rendering of the local time) |
//! | tasks, task time, after-task time, agents | `Line n, Error:<v> should be a double value.` |
//!
//! Then over the rows (after Teleopti's duplication of ambiguous fall-back rows, which shifts the
//! numbers of later rows by one per duplicate — reproduced):
//!
//! | check | error |
//! |---|---|
//! | one skill name (case-sensitive) | `Line n, Error:There exists multiple skill names in the file.` |
//! | each row's UTC length = the skill's resolution | `Line n, Error:Interval does not match the target skill: <target skill name>.` |
//! | all rows of one length | `Line n, Error:Intervals do not have the same length.` |
//!
//! Teleopti stops at its first error. [`validate`] reports the first error of **every** bad row in
//! the parsing phase (the first entry is Teleopti's message), and only the first of the whole-file
//! checks, which run when parsing found nothing. The name in the file is not compared with the target
//! skill (the import names its skill by id); rows off the skill's interval grid are not an error —
//! the import skips them ([`ForecastFileRow::on_grid`]).
//!
//! Sources: Teleopti's `ForecastsFileContentProvider`, `ForecastsRowExtractor`,
//! `ForecastsFileDateTimeUnifiedValidator`, `ForecastsFileDoubleValueValidator`,
//! `ForecastsFileSkillNameValidator`, `ForecastsAnalyzeQuery` (reference/calabrio.md §4). One
//! version of the number validator also accepts a decimal comma; the reference documents the point
//! only, and so does this validator.

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use thiserror::Error;
use wfm_forecast::{Forecast, Staffing};
use wfm_model::IntervalLength;

/// The optional header line Teleopti skips (its `;` form is skipped too).
pub const HEADER: &str = "skillname,startdatetime,enddatetime,tasks,tasktime,aftertasktime,agents";

/// The longest skill name, in UTF-16 code units (.NET string length).
pub const MAX_SKILL_NAME: usize = 50;

/// The date-time formats Teleopti accepts, as its error message lists them.
pub const DATE_TIME_FORMATS: &str = "yyyyMMdd H:mm,yyyy-MM-dd H:mm";

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

/// The skill a file is imported into (the import names it by id; these are the properties the checks
/// use).
#[derive(Debug, Clone)]
pub struct TargetSkill {
    /// The skill's name, as error messages show it.
    pub name: String,
    /// The skill's interval length in minutes (its default resolution).
    pub resolution_minutes: u32,
    /// The skill's time zone: the file's times are local to it.
    pub zone: TimeZone,
}

/// One row of a validated file.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastFileRow {
    /// The data row it came from (from 1, header not counted).
    pub row: usize,
    /// Skill name in the file.
    pub skill: String,
    /// Local start.
    pub local_from: DateTime,
    /// Local end.
    pub local_to: DateTime,
    /// Start in UTC.
    pub utc_from: Timestamp,
    /// End in UTC.
    pub utc_to: Timestamp,
    /// Tasks.
    pub tasks: f64,
    /// Average task time in seconds.
    pub task_time_s: f64,
    /// Average after-task time in seconds.
    pub after_task_time_s: f64,
    /// Agents (manual agents), when the row has the seventh column.
    pub agents: Option<f64>,
    /// Whether this is the copy Teleopti adds for the first occurrence of an ambiguous (fall-back)
    /// start time.
    pub fall_back_copy: bool,
}

impl ForecastFileRow {
    /// Whether the row starts on the skill's interval grid (local minutes since midnight a multiple of
    /// the resolution). The import skips rows that are not, silently.
    pub fn on_grid(&self, resolution_minutes: u32) -> bool {
        let minutes = u32::from(self.local_from.hour() as u8) * 60
            + u32::from(self.local_from.minute() as u8);
        resolution_minutes > 0
            && minutes.is_multiple_of(resolution_minutes)
            && self.local_from.second() == 0
    }
}

/// Validates a forecast file as Calabrio's import does (see the module comment): the rows, or the
/// error messages `Line n, Error:…`.
pub fn validate(text: &str, skill: &TargetSkill) -> Result<Vec<ForecastFileRow>, Vec<String>> {
    let text = text.trim_start_matches('\u{FEFF}');
    let mut lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let Some(first) = lines.first() else {
        return Err(vec![line_error(1, "Imported forecast file is empty.")]);
    };
    let separator = if first.contains(';') { ';' } else { ',' };
    if *first == HEADER || *first == HEADER.replace(',', ";") {
        lines.remove(0);
    }
    let mut rows = Vec::with_capacity(lines.len());
    let mut errors = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match extract(line, separator, &skill.zone, i + 1) {
            Ok(extracted) => rows.extend(extracted),
            Err(message) => errors.push(line_error(i + 1, &message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match analyze(&rows, &skill.name, Some(skill.resolution_minutes)) {
        Some(error) => Err(vec![error]),
        None => Ok(rows),
    }
}

/// [`validate`] on bytes: invalid UTF-8 becomes U+FFFD, as .NET's decoder does.
pub fn validate_bytes(
    bytes: &[u8],
    skill: &TargetSkill,
) -> Result<Vec<ForecastFileRow>, Vec<String>> {
    validate(&String::from_utf8_lossy(bytes), skill)
}

fn line_error(n: usize, message: &str) -> String {
    format!("Line {n}, Error:{message}")
}

/// One line → one row, or two for an ambiguous (fall-back) start: Teleopti's extractor plus its
/// content provider's duplication.
fn extract(
    line: &str,
    separator: char,
    zone: &TimeZone,
    row: usize,
) -> Result<Vec<ForecastFileRow>, String> {
    let fields: Vec<&str> = line.split(separator).collect();
    if fields.len() != 6 && fields.len() != 7 {
        return Err(format!(
            "There are more or less columns than expected when using '{separator}' as column separator."
        ));
    }
    let skill = fields[0];
    if skill.is_empty() {
        return Err("Skill name should not be empty".to_string());
    }
    if skill.encode_utf16().count() > MAX_SKILL_NAME {
        return Err(format!(
            "Skill name is longer than {MAX_SKILL_NAME} characters."
        ));
    }
    let local_from = parse_date_time(fields[1])?;
    let from = to_utc(local_from, zone)?;
    let local_to = parse_date_time(fields[2])?;
    let to = to_utc(local_to, zone)?;
    let tasks = parse_number(fields[3])?;
    let task_time_s = parse_number(fields[4])?;
    let after_task_time_s = parse_number(fields[5])?;
    let agents = fields.get(6).map(|v| parse_number(v)).transpose()?;

    let mut row = ForecastFileRow {
        row,
        skill: skill.to_string(),
        local_from,
        local_to,
        utc_from: from.instant,
        utc_to: to.instant,
        tasks,
        task_time_s,
        after_task_time_s,
        agents,
        fall_back_copy: false,
    };
    if let Some(delta) = from.fold_delta {
        // Teleopti converts an ambiguous time as standard time (the later instant) and adds a copy of
        // the row shifted back by the daylight delta (the earlier occurrence), before the row.
        let copy = ForecastFileRow {
            utc_from: row.utc_from - delta,
            utc_to: row.utc_to - delta,
            fall_back_copy: true,
            ..row.clone()
        };
        return Ok(vec![copy, row]);
    }
    if let Some(delta) = to.fold_delta {
        // Only the end is ambiguous: it is the earlier occurrence.
        row.utc_to -= delta;
    }
    Ok(vec![row])
}

/// A local time converted as .NET does: the later instant of a fold (standard time), with the fold's
/// daylight delta; an error for a time in a gap.
struct Converted {
    instant: Timestamp,
    fold_delta: Option<SignedDuration>,
}

fn to_utc(local: DateTime, zone: &TimeZone) -> Result<Converted, String> {
    match zone.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => Ok(Converted {
            instant: offset
                .to_timestamp(local)
                .map_err(|e| format!("{local} cannot be converted: {e}"))?,
            fold_delta: None,
        }),
        AmbiguousOffset::Fold { before, after } => Ok(Converted {
            instant: after
                .to_timestamp(local)
                .map_err(|e| format!("{local} cannot be converted: {e}"))?,
            fold_delta: Some(SignedDuration::from_secs(i64::from(
                before.seconds() - after.seconds(),
            ))),
        }),
        AmbiguousOffset::Gap { .. } => Err(format!(
            "{:02}/{:02}/{:04} {:02}:{:02}:{:02} is invalid time.",
            local.month(),
            local.day(),
            local.year(),
            local.hour(),
            local.minute(),
            local.second()
        )),
    }
}

/// `yyyyMMdd H:mm` or `yyyy-MM-dd H:mm`, exactly (no surrounding spaces).
fn parse_date_time(value: &str) -> Result<DateTime, String> {
    parse_date_time_exact(value).ok_or_else(|| {
        format!("Date time format of {value} is wrong. Supported formats are: {DATE_TIME_FORMATS}")
    })
}

fn parse_date_time_exact(value: &str) -> Option<DateTime> {
    let (date, time) = value.split_once(' ')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (y, m, d) = if date.len() == 8 && digits(date) {
        (&date[0..4], &date[4..6], &date[6..8])
    } else if date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-' {
        (&date[0..4], &date[5..7], &date[8..10])
    } else {
        return None;
    };
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    let (h, min) = time.split_once(':')?;
    if !(digits(h) && h.len() <= 2 && digits(min) && min.len() == 2) {
        return None;
    }
    let date = Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()?;
    let time = jiff::civil::Time::new(h.parse().ok()?, min.parse().ok()?, 0, 0).ok()?;
    Some(date.to_datetime(time))
}

/// .NET `double.TryParse(v, NumberStyles.AllowDecimalPoint, en-US)`: digits with at most one decimal
/// point and at least one digit; no sign, spaces, grouping or exponent.
fn parse_number(value: &str) -> Result<f64, String> {
    let bytes = value.as_bytes();
    let points = bytes.iter().filter(|&&b| b == b'.').count();
    let digit_count = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let ok = points <= 1 && digit_count > 0 && digit_count + points == bytes.len();
    if !ok {
        return Err(format!("{value} should be a double value."));
    }
    // "5." and ".5" are valid .NET decimals; Rust's parser takes both as well.
    value
        .parse::<f64>()
        .map_err(|_| format!("{value} should be a double value."))
}

/// The whole-file checks of Teleopti's analysis, over the rows after duplication; the first error.
/// `resolution_minutes` is the target skill's; `None` checks only the uniformity of the lengths
/// (which, after the resolution check, can only fail when the resolution is not checked).
fn analyze(
    rows: &[ForecastFileRow],
    target_skill: &str,
    resolution_minutes: Option<u32>,
) -> Option<String> {
    let mut previous_skill: Option<&str> = None;
    let mut previous_length: Option<SignedDuration> = None;
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        if previous_skill.is_some_and(|p| p != row.skill) {
            return Some(line_error(
                n,
                "There exists multiple skill names in the file.",
            ));
        }
        let length = row.utc_to.duration_since(row.utc_from);
        if let Some(minutes) = resolution_minutes
            && length != SignedDuration::from_mins(i64::from(minutes))
        {
            return Some(line_error(
                n,
                &format!("Interval does not match the target skill: {target_skill}."),
            ));
        }
        if previous_length.is_some_and(|p| p != length) {
            return Some(line_error(n, "Intervals do not have the same length."));
        }
        previous_skill = Some(&row.skill);
        previous_length = Some(length);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use jiff::tz::TimeZone;
    use wfm_forecast::input::{CountColumns, read_counts};
    use wfm_forecast::{
        Calendar, ForecastConfig, IntervalSeries, ServiceLevelTarget, Targets, forecast, staff,
    };
    use wfm_model::IntervalGrid;

    fn skill(minutes: u32) -> TargetSkill {
        TargetSkill {
            name: "Support".to_string(),
            resolution_minutes: minutes,
            zone: TimeZone::get("Europe/Stockholm").unwrap(),
        }
    }

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

    fn errors(text: &str, minutes: u32) -> Vec<String> {
        validate(text, &skill(minutes)).unwrap_err()
    }

    const GOOD: &str = "Support,20250301 8:00,20250301 8:15,12.5,180,30,4.2\r\n";

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
        let parsed = validate(&text, &skill(15)).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].utc_from.to_string(), "2025-03-01T07:00:00Z");
        assert_eq!(parsed[0].agents, Some(4.2));
        assert_eq!(parsed[1].agents, None);
        assert!(parsed.iter().all(|r| r.on_grid(15)));
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

    #[test]
    fn header_is_optional_and_bom_and_empty_lines_are_ignored() {
        let parsed = validate(&format!("\u{FEFF}{GOOD}\r\n{GOOD}"), &skill(15)).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].row, 2);
        let semi = "skillname;startdatetime;enddatetime;tasks;tasktime;aftertasktime;agents\r\n\
                    Support;2025-03-01 08:00;2025-03-01 08:15;12.5;180;30\r\n";
        let parsed = validate(semi, &skill(15)).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].tasks, 12.5);
    }

    #[test]
    fn each_rule_has_its_exact_text() {
        assert_eq!(
            errors("", 15),
            ["Line 1, Error:Imported forecast file is empty."]
        );
        assert_eq!(
            errors("\r\n\r\n", 15),
            ["Line 1, Error:Imported forecast file is empty."]
        );
        // LF-only: one line, too many columns.
        assert_eq!(
            errors(&GOOD.replace("\r\n", "\n").repeat(2), 15),
            [
                "Line 1, Error:There are more or less columns than expected when using ',' as column separator."
            ]
        );
        assert_eq!(
            errors("Support;20250301 8:00;20250301 8:15;1;2\r\n", 15),
            [
                "Line 1, Error:There are more or less columns than expected when using ';' as column separator."
            ]
        );
        assert_eq!(
            errors(&format!("{GOOD},20250301 8:15,20250301 8:30,1,2,3\r\n"), 15),
            ["Line 2, Error:Skill name should not be empty"]
        );
        assert_eq!(
            errors(
                &format!("{},20250301 8:00,20250301 8:15,1,2,3\r\n", "å".repeat(51)),
                15
            ),
            ["Line 1, Error:Skill name is longer than 50 characters."]
        );
        assert_eq!(
            errors("Support,2025-03-01T08:00,20250301 8:15,1,2,3\r\n", 15),
            [
                "Line 1, Error:Date time format of 2025-03-01T08:00 is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm"
            ]
        );
        assert_eq!(
            errors("Support,20250301 8:00,20250301 24:00,1,2,3\r\n", 15),
            [
                "Line 1, Error:Date time format of 20250301 24:00 is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm"
            ]
        );
        // 2025-03-30 02:30 does not exist in Stockholm.
        assert_eq!(
            errors("Support,20250330 2:30,20250330 3:00,1,2,3\r\n", 30),
            ["Line 1, Error:03/30/2025 02:30:00 is invalid time."]
        );
        for bad in ["-1", "+1", "1,5", "1e3", " 1", "", "1.2.3", "NaN", "."] {
            let line = format!("Support;20250301 8:00;20250301 8:15;{bad};180;30\r\n");
            assert_eq!(
                errors(&line, 15),
                [format!("Line 1, Error:{bad} should be a double value.")],
                "{bad:?}"
            );
        }
        assert_eq!(
            errors("Support,20250301 8:00,20250301 8:15,1,2,3,many\r\n", 15),
            ["Line 1, Error:many should be a double value."]
        );
        assert_eq!(
            errors(
                &format!("{GOOD}Sales,20250301 8:15,20250301 8:30,1,2,3\r\n"),
                15
            ),
            ["Line 2, Error:There exists multiple skill names in the file."]
        );
        assert_eq!(
            errors(
                &format!("{GOOD}support,20250301 8:15,20250301 8:30,1,2,3\r\n"),
                15
            ),
            ["Line 2, Error:There exists multiple skill names in the file."],
            "skill names compare case-sensitively"
        );
        assert_eq!(
            errors(GOOD, 30),
            ["Line 1, Error:Interval does not match the target skill: Support."]
        );
    }

    #[test]
    fn uniform_length_check_has_its_exact_text() {
        // Behind the resolution check this rule cannot fire; it can when no resolution is checked.
        let text = format!("{GOOD}Support,20250301 8:15,20250301 8:45,1,2,3\r\n");
        let parsed: Vec<ForecastFileRow> = text
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .enumerate()
            .flat_map(|(i, l)| extract(l, ',', &skill(15).zone, i + 1).unwrap())
            .collect();
        assert_eq!(
            analyze(&parsed, "Support", None).as_deref(),
            Some("Line 2, Error:Intervals do not have the same length.")
        );
    }

    #[test]
    fn parse_errors_of_every_bad_row_are_listed_first_is_teleoptis() {
        let text = format!(
            "{GOOD}Support,x,20250301 8:30,1,2,3\r\nSupport,20250301 8:30,20250301 8:45,-2,2,3\r\n"
        );
        assert_eq!(
            errors(&text, 15),
            [
                "Line 2, Error:Date time format of x is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm",
                "Line 3, Error:-2 should be a double value."
            ]
        );
    }

    #[test]
    fn off_grid_rows_are_kept_for_the_import_to_skip() {
        let parsed = validate("Support,20250301 8:05,20250301 8:20,1,2,3\r\n", &skill(15)).unwrap();
        assert!(!parsed[0].on_grid(15));
    }

    #[test]
    fn fall_back_rows_are_duplicated_as_teleopti_does() {
        // Stockholm 2025-10-26: 02:00–03:00 local happens twice (00:00Z–01:00Z, then 01:00Z–02:00Z).
        let text = "Support,20251026 1:30,20251026 2:00,1,2,3\r\n\
                    Support,20251026 2:00,20251026 2:30,1,2,3\r\n\
                    Support,20251026 2:30,20251026 3:00,1,2,3\r\n\
                    Support,20251026 3:00,20251026 3:30,1,2,3\r\n";
        let rows = validate(text, &skill(30)).unwrap();
        let spans: Vec<(String, String, usize, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.utc_from.to_string(),
                    r.utc_to.to_string(),
                    r.row,
                    r.fall_back_copy,
                )
            })
            .collect();
        assert_eq!(
            spans,
            [
                (
                    "2025-10-25T23:30:00Z".into(),
                    "2025-10-26T00:00:00Z".into(),
                    1,
                    false
                ),
                (
                    "2025-10-26T00:00:00Z".into(),
                    "2025-10-26T00:30:00Z".into(),
                    2,
                    true
                ),
                (
                    "2025-10-26T01:00:00Z".into(),
                    "2025-10-26T01:30:00Z".into(),
                    2,
                    false
                ),
                (
                    "2025-10-26T00:30:00Z".into(),
                    "2025-10-26T01:00:00Z".into(),
                    3,
                    true
                ),
                (
                    "2025-10-26T01:30:00Z".into(),
                    "2025-10-26T02:00:00Z".into(),
                    3,
                    false
                ),
                (
                    "2025-10-26T02:00:00Z".into(),
                    "2025-10-26T02:30:00Z".into(),
                    4,
                    false
                ),
            ]
        );
        // The duplicates shift the numbers of the whole-file checks, as in Teleopti.
        let text = format!("{text}Sales,20251026 3:30,20251026 4:00,1,2,3\r\n");
        assert_eq!(
            errors(&text, 30),
            ["Line 7, Error:There exists multiple skill names in the file."]
        );
    }

    /// A forecast of a synthetic week through the writer and back through the validator, on the days
    /// of both DST changes.
    #[test]
    fn forecasts_round_trip_through_the_validator_across_dst() {
        let zone = TimeZone::get("Europe/Stockholm").unwrap();
        for (history_from, from) in [
            (date(2025, 2, 2), date(2025, 3, 30)),
            (date(2025, 9, 1), date(2025, 10, 26)),
        ] {
            let mut csv = String::from("DateTime,Calls\n");
            let mut d = history_from;
            while d < from {
                for h in 0..24 {
                    csv.push_str(&format!("{d} {h:02}:00,{}\n", 10 + h));
                    csv.push_str(&format!("{d} {h:02}:30,{}\n", 12 + h));
                }
                d = d.tomorrow().unwrap();
            }
            let table = read_counts(csv.as_bytes(), &CountColumns::default(), &zone).unwrap();
            let grid = IntervalGrid::new(zone.clone(), IntervalLength::Thirty);
            let series = IntervalSeries::build(grid, Calendar::new(), table.observations).unwrap();
            let f = forecast(&series, from, 2, &ForecastConfig::default());
            let targets = Targets {
                service_level: Some(ServiceLevelTarget {
                    fraction: 0.8,
                    within_s: 20.0,
                }),
                ..Targets::default()
            };
            let staffing = staff(&f, &targets, 240.0).unwrap();
            let rows = rows_from_forecast(
                &f,
                &zone,
                IntervalLength::Thirty,
                Some(&staffing),
                DefaultHandleTime {
                    aht_s: 240.0,
                    acw_s: 40.0,
                },
            );
            let text = write_file("Support", &rows).unwrap();
            let parsed = validate(&text, &skill(30)).unwrap_or_else(|e| panic!("{from}: {e:?}"));
            // Two days: 46 + 48 or 50 + 48 UTC half hours, each once.
            let expected = if from.month() == 3 { 46 + 48 } else { 50 + 48 };
            assert_eq!(parsed.len(), expected, "{from}");
            let mut starts: Vec<Timestamp> = parsed.iter().map(|r| r.utc_from).collect();
            starts.sort();
            starts.dedup();
            assert_eq!(starts.len(), expected);
            assert!(parsed.iter().all(|r| r.agents.is_some_and(|a| a >= 1.0)));
            assert!(text.contains("Support,20250330 1:30,20250330 3:00,") || from.month() == 10);
            assert_eq!(
                file_name("Support", from, from),
                format!(
                    "Forecast_Support_{}_{}.csv",
                    from.strftime("%Y%m%d"),
                    from.strftime("%Y%m%d")
                )
            );
        }
    }
}
