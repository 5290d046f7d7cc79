//! Importing one file of canonical records into the store, all or nothing.
//!
//! The file is parsed and validated on a blocking thread while the previous batch is written, so
//! parsing and SQLite share the two cores. Everything is written inside one store transaction: the
//! first invalid record (by default) or any failure rolls it back and the store is unchanged. With
//! `skip_invalid`, invalid records are handed to a rejects sink with their reason and the rest is
//! committed.
//!
//! Checks that need more than one record live here: a natural key repeated within the file, and a
//! tenant that is neither in the store nor earlier in a tenants file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use wfm_connectors::sources::files::{FileError, FileSource, ReadItem};
use wfm_model::{Record, RecordError, RecordKind};
use wfm_store::{Store, StoreError, StoreTx, WriteCounts};
use xxhash_rust::xxh3::Xxh3;

/// Records per store write: large enough to amortise the transaction round trip, small enough to
/// keep memory flat.
pub const BATCH_SIZE: usize = 5_000;

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Import the valid records and reject the others instead of importing nothing.
    pub skip_invalid: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// The kind of record imported.
    pub kind: RecordKind,
    /// The file, or `stdin`.
    pub source: String,
    /// Data lines read (records, rejects and skipped lines).
    pub lines: u64,
    /// Records inserted or changed.
    pub written: u64,
    /// Records already stored as given.
    pub unchanged: u64,
    /// Records rejected (only with `skip_invalid`).
    pub rejected: u64,
    /// Lines a mapping's filter left out.
    pub skipped: u64,
    /// Unknown fields ignored, with the number of records that had each.
    pub unknown_fields: BTreeMap<String, u64>,
    /// Wall-clock time of the import.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl ImportSummary {
    /// Records accepted (written or unchanged).
    pub fn imported(&self) -> u64 {
        self.written + self.unchanged
    }
}

/// Where rejected records go when `skip_invalid` is set.
pub type RejectSink = Box<dyn FnMut(&Rejection) -> std::io::Result<()> + Send>;

/// A record that was not imported, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// The file, or `stdin`.
    pub source: String,
    /// 1-based line number.
    pub line: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    /// Why.
    pub error: String,
    /// The line as read.
    pub raw: String,
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A record is invalid and `skip_invalid` is off.
    #[error(
        "{source_name}:{line}: {error}\nnothing was imported; fix the record, or pass --skip-invalid --rejects FILE to import the valid records"
    )]
    Invalid {
        /// File name.
        source_name: String,
        /// Line.
        line: u64,
        /// The rule broken.
        error: RecordError,
    },
    /// The file cannot be read further.
    #[error("{0}\nnothing was imported")]
    File(#[from] FileError),
    /// The file has no records.
    #[error("{source_name} is empty: it has no {kind} records; nothing was imported")]
    Empty {
        /// File name.
        source_name: String,
        /// The kind expected.
        kind: RecordKind,
    },
    /// Writing a rejected record to the rejects sink failed.
    #[error("cannot write the rejects file: {0}; nothing was imported")]
    Rejects(std::io::Error),
    /// The store failed.
    #[error("{0}\nnothing was imported")]
    Store(#[from] StoreError),
}

/// Imports every record of `source` into `store` in one transaction.
///
/// `rejects` receives each rejected record when `skip_invalid` is set.
pub async fn import(
    store: &dyn Store,
    source: FileSource,
    options: ImportOptions,
    rejects: Option<RejectSink>,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let mut tx = store.begin().await?;
    match import_into(store, &mut *tx, source, options, rejects).await {
        Ok(mut summary) => {
            tx.commit().await?;
            summary.elapsed = started.elapsed();
            Ok(summary)
        }
        Err(error) => {
            tx.rollback().await?;
            Err(error)
        }
    }
}

/// Imports every record of `source` inside the open transaction `tx`; the caller commits, together
/// with whatever else belongs to the same step (an ingest flow's cursor), or rolls back on error.
pub async fn import_into(
    store: &dyn Store,
    tx: &mut dyn StoreTx,
    source: FileSource,
    options: ImportOptions,
    rejects: Option<RejectSink>,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let tenants: HashSet<String> = store
        .tenants()
        .await?
        .into_iter()
        .map(|t| t.tenant)
        .collect();
    let (batches, mut received) = mpsc::channel::<Vec<Record>>(2);
    let reader = tokio::task::spawn_blocking(move || {
        let mut reader = ImportReader::new(source, tenants, options, rejects);
        let result = reader.run(&batches);
        (reader.into_summary(), result)
    });

    let mut counts = WriteCounts::default();
    let mut write_error = None;
    while let Some(batch) = received.recv().await {
        match tx.write(batch).await {
            Ok(c) => counts += c,
            Err(e) => {
                write_error = Some(e);
                break;
            }
        }
    }
    // Closing the receiver stops the reader at its next batch if the write failed.
    drop(received);
    let (mut summary, read_result) = reader.await.expect("the import reader does not panic");
    if let Some(error) = write_error {
        return Err(error.into());
    }
    read_result?;
    if summary.lines == 0 {
        return Err(ImportError::Empty {
            source_name: summary.source,
            kind: summary.kind,
        });
    }
    summary.written = counts.written;
    summary.unchanged = counts.unchanged;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The reading side: validation that spans records, rejects, batching.
struct ImportReader {
    source: FileSource,
    tenants: HashSet<String>,
    options: ImportOptions,
    rejects: Option<RejectSink>,
    /// Hash of each natural key seen → the line it was first seen on.
    seen: HashMap<u128, u64>,
    lines: u64,
    rejected: u64,
    skipped: u64,
}

impl ImportReader {
    fn new(
        source: FileSource,
        tenants: HashSet<String>,
        options: ImportOptions,
        rejects: Option<RejectSink>,
    ) -> ImportReader {
        ImportReader {
            source,
            tenants,
            options,
            rejects,
            seen: HashMap::new(),
            lines: 0,
            rejected: 0,
            skipped: 0,
        }
    }

    fn run(&mut self, batches: &mpsc::Sender<Vec<Record>>) -> Result<(), ImportError> {
        let mut batch = Vec::with_capacity(BATCH_SIZE);
        while let Some(item) = self.source.next() {
            self.lines += 1;
            match item? {
                ReadItem::Skipped { .. } => self.skipped += 1,
                ReadItem::Rejected { line, error, raw } => self.reject(line, error, raw)?,
                ReadItem::Record { line, record } => match self.check(line, &record) {
                    Ok(()) => {
                        batch.push(record);
                        if batch.len() == BATCH_SIZE {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(BATCH_SIZE));
                            if batches.blocking_send(full).is_err() {
                                // The writer stopped; it reports its own error.
                                return Ok(());
                            }
                        }
                    }
                    Err(error) => self.reject(line, error, record.to_json())?,
                },
            }
        }
        if !batch.is_empty() {
            let _ = batches.blocking_send(batch);
        }
        Ok(())
    }

    /// Checks that need the rest of the file or the store: known tenant, unique natural key.
    fn check(&mut self, line: u64, record: &Record) -> Result<(), RecordError> {
        if let Record::Tenant(t) = record {
            self.tenants.insert(t.tenant.clone());
        } else if !self.tenants.contains(record.tenant()) {
            return Err(RecordError::field(
                "tenant",
                format!(
                    "tenant {:?} is not in the store; import its tenants file first",
                    record.tenant()
                ),
            ));
        }
        let mut hasher = Xxh3::new();
        record.write_key(&mut |bytes| hasher.update(bytes));
        let key = hasher.digest128();
        if let Some(first) = self.seen.get(&key) {
            return Err(RecordError::record(format!(
                "{} appears twice in the file (first on line {first}); each record's key must be unique within a file",
                record.describe_key()
            )));
        }
        self.seen.insert(key, line);
        Ok(())
    }

    fn reject(&mut self, line: u64, error: RecordError, raw: String) -> Result<(), ImportError> {
        if !self.options.skip_invalid {
            return Err(ImportError::Invalid {
                source_name: self.source.name().to_string(),
                line,
                error,
            });
        }
        self.rejected += 1;
        if let Some(sink) = &mut self.rejects {
            sink(&Rejection {
                source: self.source.name().to_string(),
                line,
                field: error.field.clone(),
                error: error.message,
                raw,
            })
            .map_err(ImportError::Rejects)?;
        }
        Ok(())
    }

    fn into_summary(self) -> ImportSummary {
        ImportSummary {
            kind: self.source.kind(),
            source: self.source.name().to_string(),
            lines: self.lines,
            written: 0,
            unchanged: 0,
            rejected: self.rejected,
            skipped: self.skipped,
            unknown_fields: self.source.unknown_fields().clone(),
            elapsed: Duration::ZERO,
        }
    }
}

/// A rejects sink that writes one JSON object per rejected record.
pub fn jsonl_rejects(mut out: Box<dyn Write + Send>) -> RejectSink {
    Box::new(move |rejection| {
        serde_json::to_writer(&mut out, rejection)?;
        out.write_all(b"\n")?;
        out.flush()
    })
}
