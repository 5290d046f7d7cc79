//! Foreign CSV exports through a mapping file (`--map FILE`).
//!
//! A mapping is a small TOML file that says, for each canonical field, where its value comes from in
//! the foreign CSV: a column, the first present of several columns, a constant, a template over
//! columns, or (for timestamps) a date column plus time-of-day columns read as naive local times in a
//! time zone. Conditions (`when`) make a field depend on another column (an answer time only for
//! answered calls); a row filter leaves out rows that are not records. Example and reference:
//! `examples/maps/anonymous-bank.toml` and the README.
//!
//! The mapped row becomes a JSON object of canonical fields and is then read exactly like a
//! canonical record, so validation and messages are the same for every kind of input.

use std::collections::BTreeMap;
use std::path::Path;

use csv::ByteRecord;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{Map, Value};
use wfm_model::{FieldType, Record, RecordError, RecordKind};

use super::Fatal;
use super::FileError;
use super::csv_rows::{cell_value, read_header, read_row, row_text};
use super::metered::Metered;

/// A mapping file could not be read or does not fit the CSV it is applied to.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct MappingError {
    /// The mapping file.
    pub file: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A parsed mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    file: String,
    spec: MappingSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingSpec {
    /// The kind this mapping produces; checked against the import's kind when given.
    kind: Option<RecordKind>,
    #[serde(default)]
    csv: CsvOptions,
    #[serde(default)]
    time: TimeOptions,
    filter: Option<Filter>,
    fields: BTreeMap<String, FieldSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvOptions {
    /// Field delimiter, one ASCII character.
    #[serde(default = "comma")]
    delimiter: char,
    /// Cell values that mean "no value" in every column.
    #[serde(default = "empty_only")]
    absent: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: ',',
            absent: empty_only(),
        }
    }
}

fn comma() -> char {
    ','
}
fn empty_only() -> Vec<String> {
    vec![String::new()]
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeOptions {
    /// IANA zone of naive local times.
    zone: Option<String>,
    /// strftime format of date columns (default `%Y-%m-%d`).
    date_format: Option<String>,
    /// strftime format of time-of-day columns (default `%H:%M:%S`).
    time_format: Option<String>,
    /// strftime format of columns holding a date and a time (default: RFC 3339 only).
    datetime_format: Option<String>,
    /// Time-of-day values that mean "no time" (e.g. `0:00:00`).
    #[serde(default)]
    absent: Vec<String>,
    /// Column whose time of day the date column belongs to; a time more than 12 hours earlier than
    /// it is on the next day (a record that crosses midnight).
    day_rollover: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    /// Keep the row if any of these hold.
    #[serde(default)]
    any: Vec<Condition>,
    /// Keep the row only if all of these hold.
    #[serde(default)]
    all: Vec<Condition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Condition {
    column: String,
    equals: Option<String>,
    #[serde(rename = "in")]
    one_of: Option<Vec<String>>,
    not_equals: Option<String>,
    present: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum FieldSpec {
    /// `field = "column"`
    Column(String),
    /// `field = { … }`
    Full(Box<FullSpec>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullSpec {
    value: Option<toml::Value>,
    column: Option<String>,
    columns: Option<Vec<String>>,
    template: Option<String>,
    date: Option<String>,
    time: Option<OneOrMany>,
    when: Option<Condition>,
    #[serde(default)]
    absent: Vec<String>,
    values: Option<BTreeMap<String, String>>,
    not_before: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

impl Mapping {
    /// Reads a mapping file.
    pub fn load(path: &Path) -> Result<Mapping, MappingError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| MappingError {
            file: file.clone(),
            message: format!("cannot read the mapping file: {e}"),
        })?;
        Mapping::parse(file, &text)
    }

    /// Parses mapping TOML; `file` names it in messages.
    pub fn parse(file: impl Into<String>, text: &str) -> Result<Mapping, MappingError> {
        let file = file.into();
        let spec: MappingSpec = toml::from_str(text).map_err(|e| MappingError {
            file: file.clone(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        if !spec.csv.delimiter.is_ascii() {
            return Err(MappingError {
                file,
                message: format!(
                    "[csv] delimiter {:?} is not a single ASCII character",
                    spec.csv.delimiter
                ),
            });
        }
        Ok(Mapping { file, spec })
    }

    /// The mapping file's name.
    pub fn file(&self) -> &str {
        &self.file
    }
}

/// How one canonical field gets its value from a row.
#[derive(Debug)]
struct CompiledField {
    name: &'static str,
    ty: FieldType,
    source: Source,
    when: Option<CompiledCondition>,
    absent: Vec<String>,
    values: Option<BTreeMap<String, String>>,
    not_before: Option<&'static str>,
    /// Where the field was defined, for messages: `[fields].answered_at`.
    origin: String,
}

#[derive(Debug)]
enum Source {
    Constant(Value),
    /// First present of these columns.
    Columns(Vec<(usize, String)>),
    Template(Vec<TemplatePart>),
    /// A date column plus the first present time-of-day column.
    DateTime {
        date: (usize, String),
        times: Vec<(usize, String)>,
    },
}

#[derive(Debug)]
enum TemplatePart {
    Text(String),
    Column(usize),
}

#[derive(Debug)]
struct CompiledCondition {
    column: usize,
    test: Test,
}

#[derive(Debug)]
enum Test {
    Equals(String),
    OneOf(Vec<String>),
    NotEquals(String),
    Present(bool),
}

/// A mapping bound to the columns of one CSV file.
#[derive(Debug)]
struct Compiled {
    kind: RecordKind,
    fields: Vec<CompiledField>,
    filter_any: Vec<CompiledCondition>,
    filter_all: Vec<CompiledCondition>,
    absent: Vec<String>,
    zone: TimeZone,
    date_format: String,
    time_format: String,
    datetime_format: Option<String>,
    time_absent: Vec<String>,
    rollover: Option<usize>,
    /// Columns in the header.
    width: usize,
    delimiter: u8,
}

/// One mapped row.
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per row and matched at once, never stored"
)]
pub enum MappedRow {
    /// A parsed row.
    Row {
        line: u64,
        parsed: Result<Record, RecordError>,
    },
    /// A row the filter leaves out.
    Skipped(u64),
}

/// Rows of a foreign CSV file read through a mapping.
pub struct MappedRows {
    reader: csv::Reader<Metered>,
    compiled: Compiled,
    record: ByteRecord,
}

impl MappedRows {
    /// Reads the header and binds the mapping to its columns.
    pub fn new(
        name: &str,
        input: Metered,
        kind: RecordKind,
        mapping: Mapping,
    ) -> Result<MappedRows, FileError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .delimiter(mapping.spec.csv.delimiter as u8)
            .buffer_capacity(256 * 1024)
            .from_reader(input);
        let header = read_header(name, &mut reader)?;
        let compiled = compile(&mapping, kind, name, &header).map_err(|e| FileError::Header {
            source_name: name.to_string(),
            message: e.to_string(),
        })?;
        Ok(MappedRows {
            reader,
            compiled,
            record: ByteRecord::new(),
        })
    }

    /// The next row; the error carries the line it happened on.
    pub fn next_row(&mut self) -> Result<Option<MappedRow>, Fatal> {
        let Some(line) = read_row(&mut self.reader, &mut self.record)? else {
            return Ok(None);
        };
        let row = match Row::decode(&self.record, self.compiled.width) {
            Ok(row) => row,
            Err(error) => {
                return Ok(Some(MappedRow::Row {
                    line,
                    parsed: Err(error),
                }));
            }
        };
        if !self.compiled.keeps(&row) {
            return Ok(Some(MappedRow::Skipped(line)));
        }
        let parsed = self.compiled.map(&row);
        Ok(Some(MappedRow::Row { line, parsed }))
    }

    /// The last row read, as CSV text (for a rejects file).
    pub fn last_raw(&self) -> String {
        row_text(&self.record, self.compiled.delimiter)
    }
}

/// A decoded row: its cells as text.
struct Row<'a> {
    cells: Vec<&'a str>,
}

impl<'a> Row<'a> {
    fn decode(record: &'a ByteRecord, width: usize) -> Result<Row<'a>, RecordError> {
        if record.len() != width {
            return Err(RecordError::record(format!(
                "the row has {} cells but the header has {} columns",
                record.len(),
                width
            )));
        }
        let cells = record
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                std::str::from_utf8(cell)
                    .map_err(|_| RecordError::record(format!("cell {} is not valid UTF-8", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Row { cells })
    }
}

fn compile(
    mapping: &Mapping,
    kind: RecordKind,
    csv_name: &str,
    header: &[String],
) -> Result<Compiled, MappingError> {
    let spec = &mapping.spec;
    let fail = |message: String| MappingError {
        file: mapping.file.clone(),
        message,
    };
    if let Some(expected) = spec.kind
        && expected != kind
    {
        return Err(fail(format!(
            "this mapping produces {expected} records, not {kind}; import it as {expected}"
        )));
    }
    let column = |name: &str, origin: &str| -> Result<usize, MappingError> {
        header.iter().position(|h| h == name).ok_or_else(|| {
            fail(format!(
                "{origin} names column {name:?}, which {csv_name} does not have (its columns are: {})",
                header.join(", ")
            ))
        })
    };
    let condition = |c: &Condition, origin: &str| -> Result<CompiledCondition, MappingError> {
        let tests = [
            c.equals.clone().map(Test::Equals),
            c.one_of.clone().map(Test::OneOf),
            c.not_equals.clone().map(Test::NotEquals),
            c.present.map(Test::Present),
        ];
        let mut tests = tests.into_iter().flatten();
        let test = tests.next().ok_or_else(|| {
            fail(format!(
                "{origin}: a condition needs one of equals, in, not_equals or present"
            ))
        })?;
        if tests.next().is_some() {
            return Err(fail(format!(
                "{origin}: a condition has exactly one of equals, in, not_equals or present"
            )));
        }
        Ok(CompiledCondition {
            column: column(&c.column, origin)?,
            test,
        })
    };

    let zone = match &spec.time.zone {
        Some(name) => TimeZone::get(name).map_err(|_| {
            fail(format!(
                "[time] zone {name:?} is not an IANA time zone (e.g. \"Asia/Jerusalem\")"
            ))
        })?,
        None => TimeZone::UTC,
    };
    for (what, format) in [
        ("date_format", &spec.time.date_format),
        ("time_format", &spec.time.time_format),
        ("datetime_format", &spec.time.datetime_format),
    ] {
        if let Some(format) = format
            && !format.contains('%')
        {
            return Err(fail(format!(
                "[time] {what} {format:?} has no % directives; use strftime, e.g. \"%Y-%m-%d %H:%M:%S\""
            )));
        }
    }

    let mut fields = Vec::new();
    for (name, field_spec) in &spec.fields {
        let origin = format!("[fields].{name}");
        let Some((canonical, ty)) = kind.fields().iter().find(|(f, _)| f == name).copied() else {
            return Err(fail(format!(
                "{origin}: {kind} records have no field {name:?}; fields are: {}",
                kind.fields()
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let full = match field_spec {
            FieldSpec::Column(c) => FullSpec {
                value: None,
                column: Some(c.clone()),
                columns: None,
                template: None,
                date: None,
                time: None,
                when: None,
                absent: Vec::new(),
                values: None,
                not_before: None,
            },
            FieldSpec::Full(full) => (**full).clone(),
        };
        let given = [
            full.value.is_some(),
            full.column.is_some(),
            full.columns.is_some(),
            full.template.is_some(),
            full.date.is_some() || full.time.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(fail(format!(
                "{origin}: give exactly one of value, column, columns, template, or date + time"
            )));
        }
        let source = if let Some(value) = &full.value {
            Source::Constant(toml_to_json(value))
        } else if let Some(c) = &full.column {
            Source::Columns(vec![(column(c, &origin)?, c.clone())])
        } else if let Some(cs) = &full.columns {
            if cs.is_empty() {
                return Err(fail(format!("{origin}: columns is empty")));
            }
            Source::Columns(
                cs.iter()
                    .map(|c| Ok((column(c, &origin)?, c.clone())))
                    .collect::<Result<_, MappingError>>()?,
            )
        } else if let Some(template) = &full.template {
            Source::Template(parse_template(
                template,
                &|c| column(c, &origin),
                &fail,
                &origin,
            )?)
        } else {
            if ty != FieldType::Timestamp {
                return Err(fail(format!(
                    "{origin}: date + time is only for timestamp fields; {name} is not one"
                )));
            }
            let (Some(date), Some(time)) = (&full.date, &full.time) else {
                return Err(fail(format!(
                    "{origin}: give both date (a column) and time (a column or a list of columns)"
                )));
            };
            let times = time.to_vec();
            if times.is_empty() {
                return Err(fail(format!("{origin}: time is an empty list")));
            }
            Source::DateTime {
                date: (column(date, &origin)?, date.clone()),
                times: times
                    .iter()
                    .map(|c| Ok((column(c, &origin)?, c.clone())))
                    .collect::<Result<_, MappingError>>()?,
            }
        };
        let not_before = match &full.not_before {
            None => None,
            Some(other) => {
                let other_field = kind
                    .fields()
                    .iter()
                    .find(|(f, t)| f == other && *t == FieldType::Timestamp)
                    .map(|(f, _)| *f)
                    .ok_or_else(|| {
                        fail(format!(
                            "{origin}: not_before names {other:?}, which is not a timestamp field of {kind}"
                        ))
                    })?;
                if ty != FieldType::Timestamp {
                    return Err(fail(format!(
                        "{origin}: not_before only applies to timestamp fields"
                    )));
                }
                Some(other_field)
            }
        };
        fields.push(CompiledField {
            name: canonical,
            ty,
            source,
            when: full
                .when
                .as_ref()
                .map(|c| condition(c, &format!("{origin}.when")))
                .transpose()?,
            absent: full.absent.clone(),
            values: full.values.clone(),
            not_before,
            origin,
        });
    }
    // A `not_before` field is computed after the field it refers to.
    fields.sort_by_key(|f| f.not_before.is_some());
    for required in kind.required_fields() {
        if !fields.iter().any(|f| f.name == *required) {
            return Err(fail(format!(
                "[fields] gives no source for {required}, which {kind} records need"
            )));
        }
    }

    let filter = spec.filter.as_ref();
    let conditions = |list: Option<&Vec<Condition>>, origin: &str| {
        list.into_iter()
            .flatten()
            .map(|c| condition(c, origin))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut absent = spec.csv.absent.clone();
    absent.sort();
    absent.dedup();
    Ok(Compiled {
        kind,
        fields,
        filter_any: conditions(filter.map(|f| &f.any), "[filter].any")?,
        filter_all: conditions(filter.map(|f| &f.all), "[filter].all")?,
        absent,
        zone,
        date_format: spec.time.date_format.clone().unwrap_or("%Y-%m-%d".into()),
        time_format: spec.time.time_format.clone().unwrap_or("%H:%M:%S".into()),
        datetime_format: spec.time.datetime_format.clone(),
        time_absent: spec.time.absent.clone(),
        rollover: spec
            .time
            .day_rollover
            .as_deref()
            .map(|c| column(c, "[time] day_rollover"))
            .transpose()?,
        width: header.len(),
        delimiter: spec.csv.delimiter as u8,
    })
}

fn parse_template(
    template: &str,
    column: &dyn Fn(&str) -> Result<usize, MappingError>,
    fail: &dyn Fn(String) -> MappingError,
    origin: &str,
) -> Result<Vec<TemplatePart>, MappingError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(TemplatePart::Text(rest[..open].to_string()));
        }
        let close = rest[open..].find('}').ok_or_else(|| {
            fail(format!(
                "{origin}: template {template:?} has a {{ without a }}"
            ))
        })?;
        parts.push(TemplatePart::Column(column(&rest[open + 1..open + close])?));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_string()));
    }
    Ok(parts)
}

fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

impl Compiled {
    fn is_absent(&self, text: &str, extra: &[String]) -> bool {
        let t = text.trim();
        self.absent.iter().any(|a| a == t) || extra.iter().any(|a| a == t)
    }

    fn holds(&self, condition: &CompiledCondition, row: &Row<'_>) -> bool {
        let cell = row.cells[condition.column].trim();
        match &condition.test {
            Test::Equals(v) => cell == v,
            Test::OneOf(vs) => vs.iter().any(|v| v == cell),
            Test::NotEquals(v) => cell != v,
            Test::Present(want) => {
                let present =
                    !self.is_absent(cell, &[]) && !self.time_absent.iter().any(|a| a == cell);
                present == *want
            }
        }
    }

    /// Whether the filter keeps a row.
    fn keeps(&self, row: &Row<'_>) -> bool {
        (self.filter_any.is_empty() || self.filter_any.iter().any(|c| self.holds(c, row)))
            && self.filter_all.iter().all(|c| self.holds(c, row))
    }

    /// Builds the canonical object of a row and reads it as a record.
    fn map(&self, row: &Row<'_>) -> Result<Record, RecordError> {
        let mut object = Map::new();
        let mut instants: Vec<(&'static str, Timestamp)> = Vec::new();
        for field in &self.fields {
            if let Some(when) = &field.when
                && !self.holds(when, row)
            {
                continue;
            }
            let value = match (&field.source, field.ty) {
                (_, FieldType::Timestamp) => {
                    let Some(mut at) = self.timestamp(field, row)? else {
                        continue;
                    };
                    if let Some(other) = field.not_before
                        && let Some((_, floor)) = instants.iter().find(|(f, _)| *f == other)
                    {
                        at = at.max(*floor);
                    }
                    instants.push((field.name, at));
                    Value::String(at.to_string())
                }
                // Constants are already typed JSON (`seq = { value = 1 }`).
                (Source::Constant(value), _) => value.clone(),
                _ => match self.text(field, row)? {
                    None => continue,
                    Some(text) => cell_value(field.name, field.ty, &text)?,
                },
            };
            object.insert(field.name.to_string(), value);
        }
        self.kind.from_value(Value::Object(object), &mut |_| {})
    }

    /// The text of a non-timestamp field, after absent values and the `values` table.
    fn text(&self, field: &CompiledField, row: &Row<'_>) -> Result<Option<String>, RecordError> {
        let text = match &field.source {
            Source::Constant(Value::String(s)) => s.clone(),
            Source::Constant(other) => other.to_string(),
            Source::Columns(columns) => {
                match columns
                    .iter()
                    .map(|(i, _)| row.cells[*i])
                    .find(|cell| !self.is_absent(cell, &field.absent))
                {
                    Some(cell) => cell.trim().to_string(),
                    None => return Ok(None),
                }
            }
            Source::Template(parts) => parts
                .iter()
                .map(|part| match part {
                    TemplatePart::Text(t) => t.as_str(),
                    TemplatePart::Column(i) => row.cells[*i].trim(),
                })
                .collect(),
            Source::DateTime { .. } => {
                return Err(RecordError::field(
                    field.name,
                    format!("{}: date + time only makes timestamps", field.origin),
                ));
            }
        };
        Ok(Some(match &field.values {
            Some(table) => table.get(&text).cloned().unwrap_or(text),
            None => text,
        }))
    }

    /// The instant of a timestamp field, or `None` when every source column is absent.
    fn timestamp(
        &self,
        field: &CompiledField,
        row: &Row<'_>,
    ) -> Result<Option<Timestamp>, RecordError> {
        match &field.source {
            Source::DateTime { date, times } => {
                let Some((time_column, time_text)) = times
                    .iter()
                    .map(|(i, name)| (name, row.cells[*i].trim()))
                    .find(|(_, cell)| !self.is_time_absent(cell, &field.absent))
                else {
                    return Ok(None);
                };
                let date_text = row.cells[date.0].trim();
                let day = self.parse_date(field, &date.1, date_text)?;
                let time = self.parse_time(field, time_column, time_text)?;
                let day = match self.rollover {
                    Some(anchor) => {
                        let anchor_text = row.cells[anchor].trim();
                        let anchor = self.parse_time(field, "day_rollover", anchor_text)?;
                        if anchor.duration_until(time) < -SignedDuration::from_hours(12) {
                            day.tomorrow().map_err(|e| {
                                RecordError::field(field.name, format!("{}: {e}", field.name))
                            })?
                        } else {
                            day
                        }
                    }
                    None => day,
                };
                self.local_instant(field, DateTime::from_parts(day, time))
                    .map(Some)
            }
            Source::Constant(Value::String(text)) => {
                self.parse_instant(field, "value", text).map(Some)
            }
            Source::Columns(columns) => {
                match columns
                    .iter()
                    .map(|(i, name)| (name, row.cells[*i].trim()))
                    .find(|(_, cell)| !self.is_time_absent(cell, &field.absent))
                {
                    Some((name, text)) => self.parse_instant(field, name, text).map(Some),
                    None => Ok(None),
                }
            }
            Source::Template(_) => {
                let text = self.text(field, row)?.unwrap_or_default();
                self.parse_instant(field, "template", &text).map(Some)
            }
            Source::Constant(_) => Err(RecordError::field(
                field.name,
                format!("{}: a constant timestamp must be a string", field.origin),
            )),
        }
    }

    fn is_time_absent(&self, text: &str, extra: &[String]) -> bool {
        self.is_absent(text, extra) || self.time_absent.iter().any(|a| a == text)
    }

    fn parse_date(
        &self,
        field: &CompiledField,
        column: &str,
        text: &str,
    ) -> Result<Date, RecordError> {
        jiff::fmt::strtime::parse(&self.date_format, text)
            .and_then(|t| t.to_date())
            .map_err(|_| {
                RecordError::field(
                    field.name,
                    format!(
                        "{}: column {column} = {text:?} is not a date in format {}",
                        field.name, self.date_format
                    ),
                )
            })
    }

    fn parse_time(
        &self,
        field: &CompiledField,
        column: &str,
        text: &str,
    ) -> Result<Time, RecordError> {
        jiff::fmt::strtime::parse(&self.time_format, text)
            .and_then(|t| t.to_time())
            .map_err(|_| {
                RecordError::field(
                    field.name,
                    format!(
                        "{}: column {column} = {text:?} is not a time of day in format {}",
                        field.name, self.time_format
                    ),
                )
            })
    }

    /// A cell holding a whole timestamp: RFC 3339 with an offset, or `datetime_format` local time.
    fn parse_instant(
        &self,
        field: &CompiledField,
        column: &str,
        text: &str,
    ) -> Result<Timestamp, RecordError> {
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(at);
        }
        let Some(format) = &self.datetime_format else {
            return Err(RecordError::field(
                field.name,
                format!(
                    "{}: column {column} = {text:?} is not an RFC 3339 timestamp with an offset; for local times set [time] datetime_format and zone",
                    field.name
                ),
            ));
        };
        let local = jiff::fmt::strtime::parse(format, text)
            .and_then(|t| t.to_datetime())
            .map_err(|_| {
                RecordError::field(
                    field.name,
                    format!(
                        "{}: column {column} = {text:?} is not a date and time in format {format}",
                        field.name
                    ),
                )
            })?;
        self.local_instant(field, local)
    }

    /// A naive local time in the mapping's zone; in a DST fold the earlier instant, in a gap the later.
    fn local_instant(
        &self,
        field: &CompiledField,
        local: DateTime,
    ) -> Result<Timestamp, RecordError> {
        self.zone
            .to_ambiguous_timestamp(local)
            .compatible()
            .map_err(|e| RecordError::field(field.name, format!("{}: {local}: {e}", field.name)))
    }
}
