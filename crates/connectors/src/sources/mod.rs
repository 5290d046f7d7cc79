//! Sources: systems wfm-bridge reads canonical records from.
//!
//! A source declares its streams (one per kind of record it can give) and hands them out in chunks
//! after a cursor: the engine imports a chunk and saves the chunk's cursor in the same store
//! transaction, so a chunk is imported exactly once even if the process dies at any point
//! (Airbyte's and Singer's model, with the checkpoint committed together with the records).

pub mod file_drop;
pub mod files;
pub mod scim;
pub mod serenova;

use async_trait::async_trait;
use serde::Serialize;
use wfm_model::{DirectorySnapshot, RecordKind};

use crate::sources::files::FileSource;
use crate::targets::CheckVerdict;

/// One stream a source offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSpec {
    /// Stream name (`interactions`).
    pub name: &'static str,
    /// The kind of record it carries.
    pub kind: RecordKind,
    /// What its cursor marks, for people reading `runs` and the console.
    pub cursor: &'static str,
}

/// A chunk of a stream: records to import, and the cursor that marks them imported.
pub struct SourceChunk {
    /// What the chunk is, for messages (a file name).
    pub label: String,
    /// The records, parsed and validated as they are read.
    pub records: FileSource,
    /// The stream's cursor once this chunk is imported; saved with the records.
    pub cursor: String,
}

/// Why a source cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct SourceError {
    /// The account.
    pub source_name: String,
    /// What failed and how to fix it.
    pub message: String,
}

/// A system that knows a tenant's users, groups and queues (CxEngage/Serenova, the SCIM server's
/// store, canonical files): directory sync reads a full [`DirectorySnapshot`] from it on every run
/// and compares it with the previous one (issue "Tenant setup").
#[async_trait]
pub trait DirectorySource: Send + Sync {
    /// The whole directory of `tenant` as this source sees it now, normalized
    /// ([`DirectorySnapshot::normalize`]).
    async fn snapshot(&self, tenant: &str) -> Result<DirectorySnapshot, SourceError>;

    /// Tests that the source can be read.
    async fn check(&self) -> CheckVerdict;
}

/// A system records come from.
#[async_trait]
pub trait Source: Send + Sync {
    /// The streams this source offers.
    fn streams(&self) -> Vec<StreamSpec>;

    /// The next chunk of `stream` after `cursor` (`None`: from the beginning), or `None` when the
    /// stream has nothing new.
    async fn next(
        &self,
        stream: &str,
        cursor: Option<&str>,
    ) -> Result<Option<SourceChunk>, SourceError>;

    /// Called after a chunk's records and cursor were committed (a file drop moves the file away).
    /// Failing here loses nothing: the cursor already says the chunk is done.
    async fn committed(&self, stream: &str, cursor: &str) -> Result<(), SourceError>;

    /// Called when a chunk cannot be imported at all and is set aside with `reason` (a file drop
    /// moves the file to its `rejected/` directory with a note), so that it does not block the stream.
    async fn set_aside(
        &self,
        stream: &str,
        chunk_label: &str,
        reason: &str,
    ) -> Result<(), SourceError>;

    /// Where the records of a chunk that were rejected one by one are written, as JSON Lines.
    fn rejects(
        &self,
        stream: &str,
        chunk_label: &str,
    ) -> Result<Box<dyn std::io::Write + Send>, SourceError>;

    /// Tests that the source can be read.
    async fn check(&self) -> CheckVerdict;
}
