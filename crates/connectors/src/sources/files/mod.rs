//! Canonical files and foreign CSV exports as a source of records.
//!
//! A [`FileSource`] reads one file (or standard input) of one [`RecordKind`] as JSON Lines or CSV
//! (DESIGN §4), or a foreign CSV export through a [`Mapping`], and yields one [`ReadItem`] per data
//! line: a parsed record, a rejected line with its reason, or a line the mapping's filter skips. Only
//! problems that make the rest of the file unreadable (I/O, a header that does not fit, a line over
//! [`MAX_RECORD_BYTES`]) end the iteration with a [`FileError`].
//!
//! Records are parsed and validated here; whether a rejected line stops the import is the caller's
//! decision. Memory does not grow with the file: lines are streamed.

mod csv_rows;
mod jsonl;
mod mapping;
mod metered;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use wfm_model::{Record, RecordError, RecordKind};

pub use mapping::{Mapping, MappingError};

/// Longest line (JSON Lines) or stretch without a line break (CSV) accepted: no canonical record
/// comes close, and a file without line breaks is not a record file.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// A failure that ends a file: the line it happened on and the I/O error.
type Fatal = (u64, std::io::Error);

/// The syntax of a record file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line of field names.
    Csv,
}

impl FileFormat {
    /// The format a file name's extension says: `.jsonl`, `.ndjson`, `.json` or `.csv`.
    pub fn from_path(path: &Path) -> Option<FileFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" | "json" => Some(FileFormat::Jsonl),
            "csv" => Some(FileFormat::Csv),
            _ => None,
        }
    }
}

impl FromStr for FileFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jsonl" | "ndjson" | "json" => Ok(FileFormat::Jsonl),
            "csv" => Ok(FileFormat::Csv),
            other => Err(format!("unknown format {other:?}; expected jsonl or csv")),
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Jsonl => "jsonl",
            FileFormat::Csv => "csv",
        })
    }
}

/// What one data line of a file turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadItem {
    /// A valid canonical record.
    Record {
        /// 1-based line number where the record starts.
        line: u64,
        /// The record.
        record: Record,
    },
    /// A line that is not a valid record.
    Rejected {
        /// 1-based line number.
        line: u64,
        /// Why, naming the field and rule.
        error: RecordError,
        /// The line as read (lossily decoded), for a rejects file.
        raw: String,
    },
    /// A line the mapping's filter leaves out (not an error).
    Skipped {
        /// 1-based line number.
        line: u64,
    },
}

/// A problem that makes the rest of a file unreadable.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading failed.
    #[error("{source_name}: cannot read: {error}")]
    Io {
        /// File name or `stdin`.
        source_name: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A line is longer than [`MAX_RECORD_BYTES`].
    #[error(
        "{source_name}:{line}: no line break within {limit} bytes; this is not a {format} record file (binary data, or a single huge line)"
    )]
    LineTooLong {
        /// File name or `stdin`.
        source_name: String,
        /// Line where the long stretch starts.
        line: u64,
        /// The limit.
        limit: usize,
        /// The expected format.
        format: FileFormat,
    },
    /// The CSV header does not fit the kind or the mapping.
    #[error("{source_name}:1: {message}")]
    Header {
        /// File name or `stdin`.
        source_name: String,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Options of a [`FileSource`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Unknown fields are errors instead of being ignored and counted.
    pub strict: bool,
    /// Foreign CSV mapping (`--map`); implies CSV.
    pub mapping: Option<Mapping>,
}

/// A stream of records from one file of one kind.
pub struct FileSource {
    name: String,
    kind: RecordKind,
    rows: Rows,
    bytes: Arc<AtomicU64>,
    unknown_fields: BTreeMap<String, u64>,
    strict: bool,
}

enum Rows {
    Jsonl(jsonl::JsonlLines),
    Csv(csv_rows::CsvRows),
    Mapped(mapping::MappedRows),
    Failed(Option<FileError>),
}

impl FileSource {
    /// Reads `kind` records from `input`, named `name` in messages (a path, or `stdin`).
    pub fn new(
        name: impl Into<String>,
        input: Box<dyn Read + Send>,
        format: FileFormat,
        kind: RecordKind,
        options: ReadOptions,
    ) -> FileSource {
        let name = name.into();
        let bytes = Arc::new(AtomicU64::new(0));
        let input = metered::Metered::new(input, bytes.clone());
        let rows = match (options.mapping, format) {
            (Some(mapping), _) => match mapping::MappedRows::new(&name, input, kind, mapping) {
                Ok(rows) => Rows::Mapped(rows),
                Err(e) => Rows::Failed(Some(e)),
            },
            (None, FileFormat::Jsonl) => Rows::Jsonl(jsonl::JsonlLines::new(input)),
            (None, FileFormat::Csv) => {
                match csv_rows::CsvRows::new(&name, input, kind, options.strict) {
                    Ok(rows) => Rows::Csv(rows),
                    Err(e) => Rows::Failed(Some(e)),
                }
            }
        };
        FileSource {
            name,
            kind,
            rows,
            bytes,
            unknown_fields: BTreeMap::new(),
            strict: options.strict,
        }
    }

    /// The name used in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind of record read.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// A counter of the bytes read so far, for progress bars (readable from another thread).
    pub fn bytes_read(&self) -> Arc<AtomicU64> {
        self.bytes.clone()
    }

    /// Fields the records had that the kind does not, with the number of records that had each.
    pub fn unknown_fields(&self) -> &BTreeMap<String, u64> {
        &self.unknown_fields
    }

    /// Ends the iteration with a fatal error: nothing after it can be trusted.
    fn stop(&mut self, error: std::io::Error, line: u64, format: FileFormat) -> FileError {
        self.rows = Rows::Failed(None);
        if metered::is_line_too_long(&error) {
            FileError::LineTooLong {
                source_name: self.name.clone(),
                line,
                limit: MAX_RECORD_BYTES,
                format,
            }
        } else {
            FileError::Io {
                source_name: self.name.clone(),
                error,
            }
        }
    }
}

impl Iterator for FileSource {
    type Item = Result<ReadItem, FileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let kind = self.kind;
        let strict = self.strict;
        let mut unknown: Vec<String> = Vec::new();
        let mut note = |field: &str| unknown.push(field.to_string());
        let item = match &mut self.rows {
            Rows::Failed(error) => return error.take().map(Err),
            Rows::Jsonl(lines) => match lines.next_line() {
                Ok(None) => return None,
                Ok(Some((line, text))) => {
                    let parsed = match std::str::from_utf8(&text) {
                        Ok(json) => kind.parse_json(json, &mut note),
                        Err(e) => Err(RecordError::record(format!(
                            "not valid UTF-8 (byte {} of the line)",
                            e.valid_up_to() + 1
                        ))),
                    };
                    finish(line, parsed, || String::from_utf8_lossy(&text).into_owned())
                }
                Err((line, e)) => return Some(Err(self.stop(e, line, FileFormat::Jsonl))),
            },
            Rows::Csv(rows) => match rows.next_row(&mut note) {
                Ok(None) => return None,
                Ok(Some(row)) => finish(row.line, row.parsed, || rows.last_raw()),
                Err((line, e)) => return Some(Err(self.stop(e, line, FileFormat::Csv))),
            },
            Rows::Mapped(rows) => match rows.next_row() {
                Ok(None) => return None,
                Ok(Some(mapping::MappedRow::Skipped(line))) => ReadItem::Skipped { line },
                Ok(Some(mapping::MappedRow::Row { line, parsed })) => {
                    finish(line, parsed, || rows.last_raw())
                }
                Err((line, e)) => return Some(Err(self.stop(e, line, FileFormat::Csv))),
            },
        };
        let item = match item {
            ReadItem::Record { line, record } if strict && !unknown.is_empty() => {
                ReadItem::Rejected {
                    line,
                    error: RecordError::field(
                        unknown[0].clone(),
                        format!(
                            "{} is not a field of {} records (strict mode rejects unknown fields)",
                            unknown[0], kind
                        ),
                    ),
                    raw: record.to_json(),
                }
            }
            item => {
                for field in unknown {
                    *self.unknown_fields.entry(field).or_default() += 1;
                }
                item
            }
        };
        Some(Ok(item))
    }
}

/// Validates a parsed record and turns the outcome into an item.
fn finish(
    line: u64,
    parsed: Result<Record, RecordError>,
    raw: impl FnOnce() -> String,
) -> ReadItem {
    match parsed.and_then(|record| record.validate().map(|()| record)) {
        Ok(record) => ReadItem::Record { line, record },
        Err(error) => ReadItem::Rejected {
            line,
            error,
            raw: raw(),
        },
    }
}

#[cfg(test)]
mod tests;
