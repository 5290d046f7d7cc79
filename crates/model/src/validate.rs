//! Checks shared by every record type: identifiers, names, and serde helpers for optional fields.

use serde::{Deserialize, Deserializer};

use crate::RecordError;

/// Longest identifier accepted (tenant, queue, agent, contact ids).
pub const MAX_ID_LEN: usize = 256;
/// Longest free text accepted (names, reasons, e-mail).
pub const MAX_TEXT_LEN: usize = 1024;

/// An identifier: non-empty, no surrounding spaces, no control characters, at most [`MAX_ID_LEN`] bytes.
pub fn id(field: &str, value: &str) -> Result<(), RecordError> {
    if value.is_empty() {
        return Err(RecordError::field(field, format!("{field} is empty")));
    }
    if value.len() > MAX_ID_LEN {
        return Err(RecordError::field(
            field,
            format!(
                "{field} is {} bytes long; identifiers are at most {MAX_ID_LEN}",
                value.len()
            ),
        ));
    }
    if value.trim() != value {
        return Err(RecordError::field(
            field,
            format!("{field} {value:?} has leading or trailing spaces"),
        ));
    }
    no_control_chars(field, value)
}

/// Free text: at most [`MAX_TEXT_LEN`] bytes and no control characters.
pub fn text(field: &str, value: &str) -> Result<(), RecordError> {
    if value.len() > MAX_TEXT_LEN {
        return Err(RecordError::field(
            field,
            format!(
                "{field} is {} bytes long; at most {MAX_TEXT_LEN} are accepted",
                value.len()
            ),
        ));
    }
    no_control_chars(field, value)
}

/// Free text that must not be blank.
pub fn required_text(field: &str, value: &str) -> Result<(), RecordError> {
    if value.trim().is_empty() {
        return Err(RecordError::field(field, format!("{field} is empty")));
    }
    text(field, value)
}

fn no_control_chars(field: &str, value: &str) -> Result<(), RecordError> {
    if value.chars().any(char::is_control) {
        return Err(RecordError::field(
            field,
            format!("{field} {value:?} contains a control character"),
        ));
    }
    Ok(())
}

/// Deserializes `null` as the type's default, so that "absent or null" mean the same (DESIGN §4).
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(id("agent", "a-17").is_ok());
        assert_eq!(id("agent", "").unwrap_err().to_string(), "agent is empty");
        assert!(id("agent", " a").is_err());
        assert!(id("agent", "a\u{0}b").is_err());
        assert!(id("agent", &"x".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
