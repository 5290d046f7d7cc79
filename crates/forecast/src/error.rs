//! The errors of this crate: what was wrong with an input series, a staffing question or a count
//! table, each saying where and what to do.

use thiserror::Error;

/// An observation that cannot be part of a series.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SeriesError {
    /// A count that is negative, infinite or not a number.
    #[error("observation {index}: the count is {value}; counts must be finite and ≥ 0")]
    BadCount {
        /// Position of the observation in the input (from 0).
        index: usize,
        /// The value given.
        value: f64,
    },
    /// A handle-time figure that is negative, infinite or not a number.
    #[error("observation {index}: {name} is {value}; it must be finite and ≥ 0")]
    BadHandle {
        /// Position of the observation in the input (from 0).
        index: usize,
        /// Which figure.
        name: &'static str,
        /// The value given.
        value: f64,
    },
}

/// A staffing question that has no meaningful answer.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StaffingError {
    /// An input outside its range.
    #[error("{name} is {value}; {rule}")]
    OutOfRange {
        /// The input's name.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        rule: &'static str,
    },
    /// No number of agents up to the search limit meets the targets.
    #[error(
        "no staffing up to {limit} agents meets the targets (offered load {erlangs:.1} Erlangs); check the inputs"
    )]
    Unreachable {
        /// The largest number of agents tried.
        limit: u32,
        /// Offered load in Erlangs.
        erlangs: f64,
    },
}

/// A row of a count table that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    /// The table has no header line.
    #[error("the file is empty: expected a header line naming the columns")]
    Empty,
    /// A named column is not in the header.
    #[error(
        "has no column {column:?} (its columns are: {available}); pass {flag} to name the {what} column"
    )]
    MissingColumn {
        /// The column looked for.
        column: String,
        /// The header's columns, comma-separated.
        available: String,
        /// The command-line flag that names this column.
        flag: &'static str,
        /// What the column holds.
        what: &'static str,
    },
    /// A row that cannot be read.
    #[error("line {line}: {message}")]
    Row {
        /// Line number in the file (from 1; the header is line 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The table has a header but no rows.
    #[error("the file has a header but no rows")]
    NoRows,
}

impl InputError {
    /// The line of the file this error is about, when it is about one.
    pub fn line(&self) -> Option<u64> {
        match self {
            InputError::Row { line, .. } => Some(*line),
            _ => None,
        }
    }
}
