//! A tenant: one contact center with its time zone and interval length.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::RecordError;
use crate::time::{IntervalGrid, IntervalLength};
use crate::validate::{self, null_as_default};

/// One contact center (DESIGN §4: `{tenant, name, time_zone, interval_minutes, admin_reasons}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The tenant id, unique across the store.
    pub tenant: String,
    /// Display name.
    pub name: String,
    /// IANA time zone that intervals and local dates are cut in.
    #[serde(default = "utc", deserialize_with = "utc_if_null")]
    pub time_zone: String,
    /// Statistics interval length: 15, 30 or 60 minutes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub interval_minutes: IntervalLength,
    /// `not_ready` reasons counted as admin time.
    #[serde(default, deserialize_with = "null_as_default")]
    pub admin_reasons: Vec<String>,
}

fn utc() -> String {
    "UTC".to_string()
}

fn utc_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(utc))
}

impl Tenant {
    /// Checks ids, names and that the time zone exists in the IANA database.
    pub fn validate(&self) -> Result<(), RecordError> {
        validate::id("tenant", &self.tenant)?;
        validate::required_text("name", &self.name)?;
        self.zone()?;
        for reason in &self.admin_reasons {
            validate::required_text("admin_reasons", reason)?;
        }
        Ok(())
    }

    /// The tenant's time zone.
    pub fn zone(&self) -> Result<TimeZone, RecordError> {
        zone("time_zone", &self.time_zone)
    }

    /// The interval grid statistics are cut on for this tenant.
    pub fn grid(&self) -> Result<IntervalGrid, RecordError> {
        Ok(IntervalGrid::new(self.zone()?, self.interval_minutes))
    }
}

/// Looks up an IANA time zone by name, with an error that says how to fix it.
pub(crate) fn zone(field: &str, name: &str) -> Result<TimeZone, RecordError> {
    TimeZone::get(name).map_err(|_| {
        RecordError::field(
            field,
            format!(
                "{field} {name:?} is not an IANA time zone (examples: \"Europe/Stockholm\", \"America/New_York\", \"UTC\")"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_absent_and_null() {
        let t: Tenant = serde_json::from_str(r#"{"tenant":"t","name":"T"}"#).unwrap();
        assert_eq!(t.time_zone, "UTC");
        assert_eq!(t.interval_minutes, IntervalLength::Fifteen);
        let t: Tenant = serde_json::from_str(
            r#"{"tenant":"t","name":"T","time_zone":null,"interval_minutes":null,"admin_reasons":null}"#,
        )
        .unwrap();
        assert_eq!(t.time_zone, "UTC");
        assert!(t.admin_reasons.is_empty());
    }

    #[test]
    fn unknown_zone_is_rejected() {
        let t: Tenant =
            serde_json::from_str(r#"{"tenant":"t","name":"T","time_zone":"Mars/Olympus"}"#)
                .unwrap();
        let e = t.validate().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("time_zone"));
        assert!(e.message.contains("not an IANA time zone"), "{e}");
    }

    #[test]
    fn interval_must_be_15_30_or_60() {
        let e =
            serde_json::from_str::<Tenant>(r#"{"tenant":"t","name":"T","interval_minutes":20}"#)
                .unwrap_err();
        assert!(e.to_string().contains("15, 30 or 60"), "{e}");
    }
}
