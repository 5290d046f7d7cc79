//! The error a single canonical record can have: which field, which rule.

use std::fmt;

/// Why one record is not a valid canonical record.
///
/// The message names the field and the rule broken (`answered_at is before offered_at`); the importer
/// prefixes it with the file and line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The field at fault, when one field is (`None` for a malformed line).
    pub field: Option<String>,
    /// What is wrong, in words a person can act on. Starts with the field name when there is one.
    pub message: String,
}

impl RecordError {
    /// An error about one field; `message` should start with the field name.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        RecordError {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// An error about the record as a whole (malformed syntax, not an object…).
    pub fn record(message: impl Into<String>) -> Self {
        RecordError {
            field: None,
            message: message.into(),
        }
    }

    /// Builds the error from a serde failure, keeping the path to the field that failed.
    pub fn from_serde(path: &str, error: &str) -> Self {
        let error = strip_position(error);
        if let Some(name) = error
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            return RecordError::field(name, format!("{name} is required but missing"));
        }
        if path.is_empty() || path == "." {
            RecordError::record(error.to_string())
        } else {
            RecordError::field(path, format!("{path}: {error}"))
        }
    }
}

/// serde_json appends "at line 1 column 17"; the importer reports the file line itself.
fn strip_position(error: &str) -> &str {
    match error.rfind(" at line ") {
        Some(at) => &error[..at],
        None => error,
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecordError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_field_names_the_field() {
        let e = RecordError::from_serde(".", "missing field `offered_at` at line 1 column 40");
        assert_eq!(e.field.as_deref(), Some("offered_at"));
        assert_eq!(e.message, "offered_at is required but missing");
    }

    #[test]
    fn type_error_keeps_the_path() {
        let e = RecordError::from_serde(
            "talk_s",
            "invalid type: string \"x\", expected u32 at line 1 column 9",
        );
        assert_eq!(
            e.to_string(),
            "talk_s: invalid type: string \"x\", expected u32"
        );
    }
}
