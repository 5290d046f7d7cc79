//! [`StoreError`]: every way a store operation fails, each saying what failed and on which store.
//!
//! The store is named by its description (`SQLite wfm-bridge.db`, `PostgreSQL 127.0.0.1:5432/test`),
//! never by its URL, so that a password cannot leak into a message. Errors of rusqlite and
//! tokio-postgres are kept as sources; their text is also part of the message, because
//! tokio-postgres' own `Display` says only "db error" and the useful part is in its source chain.

use std::fmt::Write as _;

use wfm_model::RecordKind;

use crate::NaturalKey;

/// The URL forms [`crate::open`] accepts, for error messages.
pub(crate) const ACCEPTED_URLS: &str = "sqlite://relative/path.db, sqlite:///absolute/path.db, \
     sqlite::memory:, postgres://user[:password]@host[:port]/database \
     (or postgresql://…)";

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL is not one of the accepted forms. `url` has its password redacted.
    #[error("invalid store URL {url:?}: {reason}; accepted forms: {ACCEPTED_URLS}")]
    Url {
        /// The URL as given, password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A SQLite operation failed.
    #[error("{context}: {source}")]
    Sqlite {
        /// What was being done, on which store (`writing interactions to SQLite x.db`).
        context: String,
        /// The rusqlite error.
        #[source]
        source: rusqlite::Error,
    },

    /// A PostgreSQL operation failed.
    #[error("{context}: {}", postgres_message(.source))]
    Postgres {
        /// What was being done, on which store.
        context: String,
        /// The tokio-postgres error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The PostgreSQL connection pool gave no connection, for a reason other than a database error
    /// (it timed out or was closed).
    #[error("{context}: {message}")]
    Pool {
        /// What was being done, on which store.
        context: String,
        /// The pool's reason.
        message: String,
    },

    /// A file-system operation around the store failed (creating its directory).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The store asks for something this build cannot do (TLS to PostgreSQL).
    #[error("{context}: {what}")]
    Unsupported {
        /// What was being done, on which store.
        context: String,
        /// What is not supported, and what to do instead.
        what: String,
    },

    /// The store's schema is newer than this program: it was migrated by a later wfm-bridge.
    #[error(
        "{store} has schema version {found}, newer than version {known} that this wfm-bridge \
         knows; use a wfm-bridge at least as new as the one that last opened it"
    )]
    SchemaTooNew {
        /// The store's description.
        store: String,
        /// Highest migration recorded in the store.
        found: i64,
        /// Highest migration this program has.
        known: i64,
    },

    /// A stored row cannot be read back as a record (written by something else, or damaged).
    #[error("{store}: cannot read {table} row {key}: {problem}")]
    Corrupt {
        /// The store's description.
        store: String,
        /// The table.
        table: &'static str,
        /// The row's natural key, in words.
        key: String,
        /// What is wrong with it.
        problem: String,
    },

    /// [`crate::Store::read_page`] was given an `after` key of another kind, or
    /// [`crate::Store::changes`] a cursor whose key is of another kind or another tenant.
    #[error("reading {kind}: the `after` key {key:?} is not a key of {kind}")]
    KeyMismatch {
        /// The kind being read.
        kind: RecordKind,
        /// The key given.
        key: NaturalKey,
    },

    /// A write in this transaction failed earlier, so the transaction can only be rolled back.
    #[error(
        "cannot commit on {store}: an earlier write in this transaction failed ({first_error}); \
         nothing written in the transaction was kept"
    )]
    Aborted {
        /// The store's description.
        store: String,
        /// The message of the write that failed.
        first_error: String,
    },

    /// The transaction was already finished, or lost its connection in a cancelled call.
    #[error("{context}: the transaction is no longer usable (an earlier call was cancelled)")]
    TxLost {
        /// What was being done, on which store.
        context: String,
    },

    /// A blocking worker thread running a SQLite call panicked or was cancelled.
    #[error("{context}: the database worker thread failed: {message}")]
    Worker {
        /// What was being done, on which store.
        context: String,
        /// The join error.
        message: String,
    },

    /// A run's lease cannot be renewed (or the run ended) because the run is not running: its
    /// lease ran out and it was ended as abandoned, or there is no such run. The process must
    /// stop its work: another run may hold the flow now.
    #[error(
        "{store}: run {id} is {status}, not running: its lease ran out before it was renewed, \
         or it has ended; stop this run's work (another run may hold the flow), and renew leases \
         more often than they last"
    )]
    RunNotRunning {
        /// The store's description.
        store: String,
        /// The run.
        id: i64,
        /// Its state (`abandoned`, `succeeded`, …), or `missing`.
        status: String,
    },
}

/// The message of a tokio-postgres error with its causes (`db error: ERROR: relation … does not
/// exist`), on one line.
pub(crate) fn postgres_message(error: &tokio_postgres::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        // DbError prints DETAIL and HINT on lines of their own.
        let _ = write!(message, ": {}", text.replace('\n', "; "));
        source = cause.source();
    }
    message
}

/// Wraps a rusqlite error with its context.
pub(crate) fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite {
        context: context.into(),
        source,
    }
}

/// Wraps a tokio-postgres error with its context.
pub(crate) fn postgres(
    context: impl Into<String>,
) -> impl FnOnce(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Postgres {
        context: context.into(),
        source,
    }
}
