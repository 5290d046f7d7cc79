//! A queue (service, skill group): where contacts wait for agents.

use serde::{Deserialize, Serialize};

use crate::RecordError;
use crate::validate::{self};

/// A queue of one tenant (DESIGN §4: `{tenant, queue, name, sl_seconds, short_abandon_seconds}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queue {
    /// Tenant id.
    pub tenant: String,
    /// Queue id, unique within the tenant.
    pub queue: String,
    /// Display name.
    pub name: String,
    /// Service-level threshold: answered within this many seconds counts as in service level.
    #[serde(default = "default_sl", deserialize_with = "sl_if_null")]
    pub sl_seconds: u32,
    /// Abandons faster than this many seconds are short abandons.
    #[serde(default = "default_short", deserialize_with = "short_if_null")]
    pub short_abandon_seconds: u32,
}

/// Default service-level threshold in seconds.
pub const DEFAULT_SL_SECONDS: u32 = 20;
/// Default short-abandon threshold in seconds.
pub const DEFAULT_SHORT_ABANDON_SECONDS: u32 = 5;

fn default_sl() -> u32 {
    DEFAULT_SL_SECONDS
}
fn default_short() -> u32 {
    DEFAULT_SHORT_ABANDON_SECONDS
}
fn sl_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?.unwrap_or(DEFAULT_SL_SECONDS))
}
fn short_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(Option::<u32>::deserialize(d)?.unwrap_or(DEFAULT_SHORT_ABANDON_SECONDS))
}

/// A day: no service-level target is longer.
const MAX_THRESHOLD_S: u32 = 86_400;

impl Queue {
    /// Checks ids, the name and the thresholds.
    pub fn validate(&self) -> Result<(), RecordError> {
        validate::id("tenant", &self.tenant)?;
        validate::id("queue", &self.queue)?;
        validate::required_text("name", &self.name)?;
        for (field, value) in [
            ("sl_seconds", self.sl_seconds),
            ("short_abandon_seconds", self.short_abandon_seconds),
        ] {
            if value > MAX_THRESHOLD_S {
                return Err(RecordError::field(
                    field,
                    format!("{field} is {value}; at most {MAX_THRESHOLD_S} (a day) is accepted"),
                ));
            }
        }
        if self.short_abandon_seconds > self.sl_seconds {
            return Err(RecordError::field(
                "short_abandon_seconds",
                format!(
                    "short_abandon_seconds ({}) is greater than sl_seconds ({})",
                    self.short_abandon_seconds, self.sl_seconds
                ),
            ));
        }
        Ok(())
    }

    /// Name shown in reports: the name, or the id when the name is blank.
    pub fn display_name(&self) -> &str {
        let name = self.name.trim();
        if name.is_empty() { &self.queue } else { name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_default() {
        let q: Queue =
            serde_json::from_str(r#"{"tenant":"t","queue":"q","name":"Sales"}"#).unwrap();
        assert_eq!((q.sl_seconds, q.short_abandon_seconds), (20, 5));
        q.validate().unwrap();
    }

    #[test]
    fn short_abandon_above_sl_is_rejected() {
        let q: Queue = serde_json::from_str(
            r#"{"tenant":"t","queue":"q","name":"Sales","sl_seconds":10,"short_abandon_seconds":30}"#,
        )
        .unwrap();
        assert!(q.validate().is_err());
    }
}
