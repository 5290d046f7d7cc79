//! A file drop as a source: a directory that an ACD or an export job writes canonical files into.
//!
//! Layout of the directory (the `path` of a `files` account):
//!
//! - `<stream>…​.jsonl|.ndjson|.json|.csv` waiting files, picked up per stream (`interactions-0301.csv`
//!   belongs to the `interactions` stream) in the order they were last modified, then by name, once
//!   they have not changed for `settle` (a writer that does not write atomically is still busy);
//! - `processed/` where imported files are moved;
//! - `rejected/` where a file that cannot be imported at all is moved, with `<file>.error.txt`
//!   saying why, and where the records rejected one by one go (`<file>.rejects.jsonl`).
//!
//! The cursor of a stream is the last imported file (name, size, modification time). It is saved
//! with the file's records, so if the process dies between that commit and the move to
//! `processed/`, the next read recognises the file and only moves it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use wfm_model::RecordKind;

use crate::accounts::{AccountConfig, AccountError};
use crate::sources::files::{FileFormat, FileSource, ReadOptions};
use crate::sources::{Source, SourceChunk, SourceError, StreamSpec};
use crate::targets::CheckVerdict;

/// Default time a file must stay unchanged before it is read.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(5);

/// Reads canonical files dropped into a directory.
#[derive(Debug, Clone)]
pub struct FileDrop {
    account: String,
    dir: PathBuf,
    settle: Duration,
}

/// The cursor of a stream: the last file imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    file: String,
    size: u64,
    modified_ns: u128,
}

/// A waiting file.
#[derive(Debug, Clone)]
struct Waiting {
    marker: Marker,
    path: PathBuf,
    format: FileFormat,
}

impl FileDrop {
    /// A drop in `dir`, reading files once they are `settle` old.
    pub fn new(account: impl Into<String>, dir: impl Into<PathBuf>, settle: Duration) -> FileDrop {
        FileDrop {
            account: account.into(),
            dir: dir.into(),
            settle,
        }
    }

    /// From a `files` account's properties.
    pub fn from_account(account: &AccountConfig) -> Result<FileDrop, AccountError> {
        let dir = account.text("path").ok_or_else(|| AccountError {
            account: account.name.clone(),
            message: "path is required".to_string(),
        })?;
        Ok(FileDrop::new(
            account.name.clone(),
            dir,
            account.duration("settle").unwrap_or(DEFAULT_SETTLE),
        ))
    }

    fn error(&self, message: String) -> SourceError {
        SourceError {
            source_name: format!("account {}", self.account),
            message,
        }
    }

    /// The settled files of one stream, oldest first.
    async fn waiting(&self, stream: &str) -> Result<Vec<Waiting>, SourceError> {
        let mut entries = tokio::fs::read_dir(&self.dir)
            .await
            .map_err(|e| self.error(format!("cannot list {}: {e}", self.dir.display())))?;
        let now = SystemTime::now();
        let mut files = Vec::new();
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| self.error(format!("cannot list {}: {e}", self.dir.display())))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.starts_with(stream) {
                continue;
            }
            let Some(format) = FileFormat::from_path(Path::new(&name)) else {
                continue;
            };
            let Ok(meta) = entry.metadata().await else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(now);
            if now.duration_since(modified).unwrap_or_default() < self.settle {
                continue;
            }
            let modified_ns = modified
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            files.push(Waiting {
                marker: Marker {
                    file: name,
                    size: meta.len(),
                    modified_ns,
                },
                path: entry.path(),
                format,
            });
        }
        files.sort_by(|a, b| {
            (a.marker.modified_ns, &a.marker.file).cmp(&(b.marker.modified_ns, &b.marker.file))
        });
        Ok(files)
    }

    async fn move_into(&self, file: &str, subdir: &str) -> Result<PathBuf, SourceError> {
        let target_dir = self.dir.join(subdir);
        tokio::fs::create_dir_all(&target_dir)
            .await
            .map_err(|e| self.error(format!("cannot create {}: {e}", target_dir.display())))?;
        let to = target_dir.join(file);
        tokio::fs::rename(self.dir.join(file), &to)
            .await
            .map_err(|e| self.error(format!("cannot move {file} to {}: {e}", to.display())))?;
        Ok(to)
    }

    fn kind(stream: &str) -> Option<RecordKind> {
        stream.parse().ok()
    }
}

#[async_trait]
impl Source for FileDrop {
    fn streams(&self) -> Vec<StreamSpec> {
        RecordKind::ALL
            .iter()
            .map(|kind| StreamSpec {
                name: kind.as_str(),
                kind: *kind,
                cursor: "the last file imported (name, size, modification time)",
            })
            .collect()
    }

    async fn next(
        &self,
        stream: &str,
        cursor: Option<&str>,
    ) -> Result<Option<SourceChunk>, SourceError> {
        let kind = FileDrop::kind(stream)
            .ok_or_else(|| self.error(format!("has no stream {stream:?}")))?;
        let done: Option<Marker> = cursor.and_then(|c| serde_json::from_str(c).ok());
        for file in self.waiting(stream).await? {
            if done.as_ref() == Some(&file.marker) {
                // Imported, but the process stopped before moving it.
                self.move_into(&file.marker.file, "processed").await?;
                continue;
            }
            let input = std::fs::File::open(&file.path)
                .map_err(|e| self.error(format!("cannot open {}: {e}", file.path.display())))?;
            let records = FileSource::new(
                file.marker.file.clone(),
                Box::new(input),
                file.format,
                kind,
                ReadOptions::default(),
            );
            return Ok(Some(SourceChunk {
                label: file.marker.file.clone(),
                records,
                cursor: serde_json::to_string(&file.marker).expect("markers serialize"),
            }));
        }
        Ok(None)
    }

    async fn committed(&self, _stream: &str, cursor: &str) -> Result<(), SourceError> {
        let marker: Marker = serde_json::from_str(cursor)
            .map_err(|e| self.error(format!("unreadable cursor {cursor:?}: {e}")))?;
        self.move_into(&marker.file, "processed").await.map(|_| ())
    }

    async fn set_aside(
        &self,
        _stream: &str,
        chunk_label: &str,
        reason: &str,
    ) -> Result<(), SourceError> {
        let to = self.move_into(chunk_label, "rejected").await?;
        let note = to.with_file_name(format!("{chunk_label}.error.txt"));
        tokio::fs::write(&note, format!("{reason}\n"))
            .await
            .map_err(|e| self.error(format!("cannot write {}: {e}", note.display())))
    }

    fn rejects(
        &self,
        _stream: &str,
        chunk_label: &str,
    ) -> Result<Box<dyn std::io::Write + Send>, SourceError> {
        let dir = self.dir.join("rejected");
        std::fs::create_dir_all(&dir)
            .map_err(|e| self.error(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(format!("{chunk_label}.rejects.jsonl"));
        let file = std::fs::File::create(&path)
            .map_err(|e| self.error(format!("cannot create {}: {e}", path.display())))?;
        Ok(Box::new(std::io::BufWriter::new(file)))
    }

    async fn check(&self) -> CheckVerdict {
        match tokio::fs::read_dir(&self.dir).await {
            Err(e) => CheckVerdict::failed(format!("cannot read {}: {e}", self.dir.display())),
            Ok(_) => {
                let mut waiting = 0;
                for spec in self.streams() {
                    waiting += self.waiting(spec.name).await.map_or(0, |w| w.len());
                }
                CheckVerdict::ok(format!(
                    "reads files from {} ({waiting} waiting)",
                    self.dir.display()
                ))
            }
        }
    }
}

/// Builds the source of a `files` account.
pub fn build(account: &AccountConfig) -> Result<Box<dyn Source>, AccountError> {
    Ok(Box::new(FileDrop::from_account(account)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::files::ReadItem;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[tokio::test]
    async fn files_are_read_per_stream_in_order_and_moved_once_committed() {
        let dir = tempfile::tempdir().unwrap();
        let drop = FileDrop::new("acd", dir.path(), Duration::ZERO);
        write(
            dir.path(),
            "agents-1.jsonl",
            r#"{"tenant":"t","agent":"a","first_name":"A","last_name":"B"}"#,
        );
        write(
            dir.path(),
            "states.csv",
            "tenant,agent,at,state\nt,a,2024-03-01T08:00:00Z,ready\n",
        );
        write(dir.path(), ".states-2.csv", "hidden");
        write(dir.path(), "notes.txt", "ignored");

        let chunk = drop.next("states", None).await.unwrap().unwrap();
        assert_eq!(chunk.label, "states.csv");
        let items: Vec<_> = chunk.records.collect();
        assert!(matches!(items[0], Ok(ReadItem::Record { .. })), "{items:?}");
        drop.committed("states", &chunk.cursor).await.unwrap();
        assert!(dir.path().join("processed/states.csv").exists());
        assert!(
            drop.next("states", Some(&chunk.cursor))
                .await
                .unwrap()
                .is_none()
        );

        // A crash between commit and move: the file is recognised by the cursor and only moved.
        let chunk = drop.next("agents", None).await.unwrap().unwrap();
        let cursor = chunk.cursor.clone();
        drop_chunk(chunk);
        assert!(drop.next("agents", Some(&cursor)).await.unwrap().is_none());
        assert!(dir.path().join("processed/agents-1.jsonl").exists());
    }

    fn drop_chunk(_chunk: SourceChunk) {}

    #[tokio::test]
    async fn unsettled_files_wait_and_bad_files_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "interactions.jsonl", "{}");
        let busy = FileDrop::new("acd", dir.path(), Duration::from_secs(3600));
        assert!(busy.next("interactions", None).await.unwrap().is_none());

        let drop = FileDrop::new("acd", dir.path(), Duration::ZERO);
        let chunk = drop.next("interactions", None).await.unwrap().unwrap();
        drop.set_aside(
            "interactions",
            &chunk.label,
            "interactions.jsonl:1: tenant is required",
        )
        .await
        .unwrap();
        let note =
            std::fs::read_to_string(dir.path().join("rejected/interactions.jsonl.error.txt"))
                .unwrap();
        assert!(note.contains("tenant is required"));
        assert!(drop.next("interactions", None).await.unwrap().is_none());
        assert!(drop.check().await.ok);
        let missing = FileDrop::new("acd", dir.path().join("nope"), Duration::ZERO);
        assert!(missing.check().await.message.starts_with("cannot read"));
    }
}
