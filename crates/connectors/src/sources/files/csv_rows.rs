//! Canonical CSV: a header of canonical field names, one record per row (DESIGN §4).
//!
//! Cells are text; each is read by its field's type: an empty cell is null (the default), lists are
//! `;`-separated, booleans accept `true/false`, `1/0` and `yes/no`, and `metadata` is either a JSON
//! object in one cell or `metadata.<key>` columns.

use std::io;

use csv::ByteRecord;
use serde_json::{Map, Value};
use wfm_model::{FieldType, Record, RecordError, RecordKind};

use super::Fatal;
use super::FileError;
use super::metered::Metered;

/// What a header column holds.
enum Column {
    Field(&'static str, FieldType),
    Metadata(String),
    Unknown(String),
}

/// One parsed row.
pub struct CsvRow {
    pub line: u64,
    pub parsed: Result<Record, RecordError>,
}

/// Rows of a canonical CSV file.
pub struct CsvRows {
    reader: csv::Reader<Metered>,
    columns: Vec<Column>,
    kind: RecordKind,
    record: ByteRecord,
}

impl CsvRows {
    /// Reads and checks the header.
    pub fn new(
        name: &str,
        input: Metered,
        kind: RecordKind,
        strict: bool,
    ) -> Result<CsvRows, FileError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(input);
        let names = read_header(name, &mut reader)?;
        let header_error = |message: String| FileError::Header {
            source_name: name.to_string(),
            message,
        };
        let mut columns = Vec::with_capacity(names.len());
        for (i, column) in names.iter().enumerate() {
            if names[..i].contains(column) {
                return Err(header_error(format!("column {column:?} appears twice")));
            }
            columns.push(match (kind.field_type(column), column.strip_prefix("metadata.")) {
                (Some(ty), _) => Column::Field(field_name(kind, column), ty),
                (None, Some(key)) if kind == RecordKind::Interactions && !key.is_empty() => {
                    Column::Metadata(key.to_string())
                }
                (None, _) if strict => {
                    return Err(header_error(format!(
                        "column {column:?} is not a field of {kind} records (strict mode); fields are: {}",
                        field_list(kind)
                    )));
                }
                (None, _) => Column::Unknown(column.clone()),
            });
        }
        let missing: Vec<&str> = kind
            .required_fields()
            .iter()
            .copied()
            .filter(|f| !names.iter().any(|n| n == f))
            .collect();
        if !missing.is_empty() {
            return Err(header_error(format!(
                "the header has no column {}; {kind} CSV files need the columns {} (the header line is: {})",
                missing.join(", "),
                kind.required_fields().join(", "),
                names.join(",")
            )));
        }
        Ok(CsvRows {
            reader,
            columns,
            kind,
            record: ByteRecord::new(),
        })
    }

    /// The next row; the error carries the line it happened on.
    pub fn next_row(&mut self, on_unknown: &mut dyn FnMut(&str)) -> Result<Option<CsvRow>, Fatal> {
        let Some(line) = read_row(&mut self.reader, &mut self.record)? else {
            return Ok(None);
        };
        let parsed = self.parse(on_unknown);
        Ok(Some(CsvRow { line, parsed }))
    }

    /// The last row read, as CSV text (for a rejects file).
    pub fn last_raw(&self) -> String {
        row_text(&self.record, b',')
    }

    fn parse(&self, on_unknown: &mut dyn FnMut(&str)) -> Result<Record, RecordError> {
        if self.record.len() != self.columns.len() {
            return Err(RecordError::record(format!(
                "the row has {} cells but the header has {} columns",
                self.record.len(),
                self.columns.len()
            )));
        }
        let mut object = Map::new();
        let mut metadata = Map::new();
        for (cell, column) in self.record.iter().zip(&self.columns) {
            let text = std::str::from_utf8(cell).map_err(|_| {
                RecordError::record(format!(
                    "cell of column {} is not valid UTF-8",
                    column_name(column)
                ))
            })?;
            match column {
                Column::Field("metadata", _) => {
                    if !text.trim().is_empty() {
                        let parsed: Map<String, Value> =
                            serde_json::from_str(text).map_err(|e| {
                                RecordError::field(
                                    "metadata",
                                    format!(
                                        "metadata: {text:?} is not a JSON object of strings ({e})"
                                    ),
                                )
                            })?;
                        metadata.extend(parsed);
                    }
                }
                Column::Field(field, ty) => {
                    object.insert(field.to_string(), cell_value(field, *ty, text)?);
                }
                Column::Metadata(key) => {
                    if !text.is_empty() {
                        metadata.insert(key.clone(), Value::String(text.to_string()));
                    }
                }
                Column::Unknown(name) => {
                    if !text.is_empty() {
                        on_unknown(name);
                    }
                }
            }
        }
        if !metadata.is_empty() {
            object.insert("metadata".to_string(), Value::Object(metadata));
        }
        self.kind.from_value(Value::Object(object), on_unknown)
    }
}

/// Reads the next row into `record` and returns the line it starts on, or `None` at the end.
pub fn read_row<R: io::Read>(
    reader: &mut csv::Reader<R>,
    record: &mut ByteRecord,
) -> Result<Option<u64>, Fatal> {
    match reader.read_byte_record(record) {
        Ok(false) => Ok(None),
        Ok(true) => Ok(Some(record.position().map_or(0, |p| p.line()))),
        Err(e) => {
            let line = e.position().map_or(0, |p| p.line());
            Err((line, csv_io_error(e)))
        }
    }
}

/// A row as CSV text, quoted as needed.
pub fn row_text(record: &ByteRecord, delimiter: u8) -> String {
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = out.write_byte_record(record);
    let bytes = out.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes).trim_end().to_string()
}

/// Reads the header line: UTF-8, BOM stripped, names trimmed.
pub fn read_header<R: io::Read>(
    name: &str,
    reader: &mut csv::Reader<R>,
) -> Result<Vec<String>, FileError> {
    let header = match reader.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(match csv_io_error(e) {
                io if super::metered::is_line_too_long(&io) => FileError::LineTooLong {
                    source_name: name.to_string(),
                    line: 1,
                    limit: super::MAX_RECORD_BYTES,
                    format: super::FileFormat::Csv,
                },
                io => FileError::Io {
                    source_name: name.to_string(),
                    error: io,
                },
            });
        }
    };
    let mut names = Vec::with_capacity(header.len());
    for (i, cell) in header.iter().enumerate() {
        let text = std::str::from_utf8(cell).map_err(|_| FileError::Header {
            source_name: name.to_string(),
            message: "the header line is not valid UTF-8; is this a CSV file?".to_string(),
        })?;
        let text = if i == 0 {
            text.trim_start_matches('\u{feff}')
        } else {
            text
        };
        names.push(text.trim().to_string());
    }
    if names.iter().all(String::is_empty) {
        return Err(FileError::Header {
            source_name: name.to_string(),
            message: "the file has no header line (is it empty?)".to_string(),
        });
    }
    Ok(names)
}

/// Reads one cell of a canonical field as JSON, by the field's type.
pub fn cell_value(field: &str, ty: FieldType, text: &str) -> Result<Value, RecordError> {
    let trimmed = text.trim();
    Ok(match ty {
        FieldType::Text => Value::String(text.to_string()),
        FieldType::OptionalText | FieldType::Timestamp if trimmed.is_empty() => Value::Null,
        FieldType::OptionalText | FieldType::Timestamp => Value::String(trimmed.to_string()),
        FieldType::Integer | FieldType::Bool if trimmed.is_empty() => Value::Null,
        FieldType::Integer => match trimmed.parse::<u64>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                return Err(RecordError::field(
                    field,
                    format!("{field}: {text:?} is not a whole number ≥ 0"),
                ));
            }
        },
        FieldType::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Value::Bool(true),
            "false" | "0" | "no" => Value::Bool(false),
            _ => {
                return Err(RecordError::field(
                    field,
                    format!("{field}: {text:?} is not a boolean (true or false)"),
                ));
            }
        },
        FieldType::List => Value::Array(
            trimmed
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        FieldType::Map => {
            if trimmed.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(trimmed).map_err(|e| {
                    RecordError::field(field, format!("{field}: not a JSON object ({e})"))
                })?
            }
        }
    })
}

/// The canonical `&'static str` of a field name known to the kind.
fn field_name(kind: RecordKind, name: &str) -> &'static str {
    kind.fields()
        .iter()
        .find(|(f, _)| *f == name)
        .map(|(f, _)| *f)
        .expect("checked by field_type")
}

fn field_list(kind: RecordKind) -> String {
    kind.fields()
        .iter()
        .map(|(f, _)| *f)
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_name(column: &Column) -> String {
    match column {
        Column::Field(f, _) => f.to_string(),
        Column::Metadata(k) => format!("metadata.{k}"),
        Column::Unknown(n) => n.clone(),
    }
}

/// A csv error as the I/O error beneath it, keeping [`super::metered`]'s line-length marker.
pub fn csv_io_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("{other:?}")),
    }
}
