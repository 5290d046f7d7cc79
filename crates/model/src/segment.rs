//! A contact segment: one pass of a contact through one queue, or one direct contact of an agent.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::RecordError;
use crate::validate::{self, null_as_default};

/// The medium of a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Telephone call.
    Voice,
    /// Web chat.
    Chat,
    /// E-mail.
    Email,
    /// Asynchronous messaging (WhatsApp, Messenger…).
    Messaging,
    /// Text message.
    Sms,
    /// Back-office task.
    Task,
    /// Anything else.
    Other,
}

impl Channel {
    /// The canonical name (`voice`, `chat`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Messaging => "messaging",
            Channel::Sms => "sms",
            Channel::Task => "task",
            Channel::Other => "other",
        }
    }

    /// Parses a canonical name.
    pub fn parse(name: &str) -> Option<Channel> {
        Some(match name {
            "voice" => Channel::Voice,
            "chat" => Channel::Chat,
            "email" => Channel::Email,
            "messaging" => Channel::Messaging,
            "sms" => Channel::Sms,
            "task" => Channel::Task,
            "other" => Channel::Other,
            _ => return None,
        })
    }
}

/// Who started the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The customer contacted the center.
    Inbound,
    /// The center contacted the customer.
    Outbound,
}

impl Direction {
    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// Parses a canonical name.
    pub fn parse(name: &str) -> Option<Direction> {
        match name {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// How a segment ended. Exactly one applies to a finished segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Connected to an agent.
    Answered,
    /// The customer left while waiting.
    Abandoned,
    /// Left the queue unanswered for another queue or target.
    Overflowed,
    /// Still waiting; ignored by statistics.
    Waiting,
}

/// One pass of a contact through one queue (DESIGN §4 "Contact segment").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Tenant id.
    pub tenant: String,
    /// Contact id, shared by every segment of one contact.
    pub contact_id: String,
    /// Order of this segment within the contact, from 1; above 1 arrived by transfer or overflow.
    pub seq: u32,
    /// Medium.
    pub channel: Channel,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Queue id; `None` for a direct contact that was not queued.
    #[serde(default)]
    pub queue: Option<String>,
    /// Entered the queue (direct contact: offered to the agent).
    pub offered_at: Timestamp,
    /// Connected to an agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<Timestamp>,
    /// The customer left while waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned_at: Option<Timestamp>,
    /// Left the queue unanswered for another queue or target.
    #[serde(default, deserialize_with = "null_as_default")]
    pub overflowed: bool,
    /// Agent id; required when answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Seconds talking, hold excluded.
    #[serde(default, deserialize_with = "null_as_default")]
    pub talk_s: u32,
    /// Seconds on hold.
    #[serde(default, deserialize_with = "null_as_default")]
    pub hold_s: u32,
    /// Seconds of after-contact work.
    #[serde(default, deserialize_with = "null_as_default")]
    pub acw_s: u32,
    /// Transferred out by the agent after answering.
    #[serde(default, deserialize_with = "null_as_default")]
    pub transferred: bool,
    /// ACD metadata, mapped to labels by flows.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub metadata: BTreeMap<String, String>,
}

/// Longest wait, talk, hold or wrap-up accepted (e-mail and tasks can take weeks, not months).
pub const MAX_DURATION_S: u32 = 30 * 86_400;

/// Timestamps outside these years are typing errors, not contacts.
const EARLIEST_YEAR: i16 = 1970;
const LATEST_YEAR: i16 = 2199;

impl Segment {
    /// How the segment ended, from the three outcome fields. Assumes [`Segment::validate`] passed.
    pub fn outcome(&self) -> Outcome {
        if self.answered_at.is_some() {
            Outcome::Answered
        } else if self.abandoned_at.is_some() {
            Outcome::Abandoned
        } else if self.overflowed {
            Outcome::Overflowed
        } else {
            Outcome::Waiting
        }
    }

    /// Seconds between entering the queue and leaving it answered or abandoned, unrounded.
    pub fn wait(&self) -> Option<SignedDuration> {
        self.answered_at
            .or(self.abandoned_at)
            .map(|end| end.duration_since(self.offered_at))
    }

    /// Checks every rule of DESIGN §4 and names the first one broken.
    pub fn validate(&self) -> Result<(), RecordError> {
        validate::id("tenant", &self.tenant)?;
        validate::id("contact_id", &self.contact_id)?;
        if self.seq == 0 {
            return Err(RecordError::field("seq", "seq is 0; segments count from 1"));
        }
        if let Some(queue) = &self.queue {
            validate::id("queue", queue)?;
        }
        if let Some(agent) = &self.agent {
            validate::id("agent", agent)?;
        }
        for (field, at) in [
            ("offered_at", Some(self.offered_at)),
            ("answered_at", self.answered_at),
            ("abandoned_at", self.abandoned_at),
        ] {
            if let Some(at) = at {
                plausible_time(field, at)?;
            }
        }

        let outcomes = [
            self.answered_at.map(|_| "answered_at"),
            self.abandoned_at.map(|_| "abandoned_at"),
            self.overflowed.then_some("overflowed"),
        ];
        let set: Vec<&str> = outcomes.into_iter().flatten().collect();
        if set.len() > 1 {
            return Err(RecordError::field(
                set[1],
                format!(
                    "{} and {} are both set; a segment has exactly one outcome (answered, abandoned or overflowed)",
                    set[0], set[1]
                ),
            ));
        }
        for (field, end) in [
            ("answered_at", self.answered_at),
            ("abandoned_at", self.abandoned_at),
        ] {
            let Some(end) = end else { continue };
            if end < self.offered_at {
                return Err(RecordError::field(
                    field,
                    format!("{field} is before offered_at"),
                ));
            }
            let wait = end.duration_since(self.offered_at).as_secs();
            if wait > i64::from(MAX_DURATION_S) {
                return Err(RecordError::field(
                    field,
                    format!(
                        "{field} is {} days after offered_at; waits longer than 30 days are not accepted",
                        wait / 86_400
                    ),
                ));
            }
        }

        let answered = self.answered_at.is_some();
        if self.queue.is_none() {
            if self.agent.is_none() {
                return Err(RecordError::field(
                    "queue",
                    "queue is null and agent is missing; a direct contact (no queue) needs an agent",
                ));
            }
            if !answered {
                return Err(RecordError::field(
                    "answered_at",
                    "answered_at is missing; a direct contact (no queue) must be answered",
                ));
            }
        }
        if answered && self.agent.is_none() {
            return Err(RecordError::field(
                "agent",
                "agent is missing; an answered segment names the agent who answered",
            ));
        }
        for (field, value) in [
            ("talk_s", self.talk_s),
            ("hold_s", self.hold_s),
            ("acw_s", self.acw_s),
        ] {
            if value > MAX_DURATION_S {
                return Err(RecordError::field(
                    field,
                    format!(
                        "{field} is {value}; at most {MAX_DURATION_S} seconds (30 days) are accepted"
                    ),
                ));
            }
            if value > 0 && !answered {
                return Err(RecordError::field(
                    field,
                    format!("{field} is {value} but the segment was not answered"),
                ));
            }
        }
        if self.transferred && !answered {
            return Err(RecordError::field(
                "transferred",
                "transferred is true but the segment was not answered; only an answered contact is transferred out",
            ));
        }
        for (key, value) in &self.metadata {
            validate::required_text("metadata", key)?;
            validate::text(&format!("metadata.{key}"), value)?;
        }
        Ok(())
    }
}

fn plausible_time(field: &str, at: Timestamp) -> Result<(), RecordError> {
    let year = at.to_zoned(jiff::tz::TimeZone::UTC).year();
    if !(EARLIEST_YEAR..=LATEST_YEAR).contains(&year) {
        return Err(RecordError::field(
            field,
            format!("{field} {at} is not a plausible time (year {year})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queued voice segment offered at 09:00 UTC, with `extra` fields added or replaced.
    fn seg(extra: &str) -> Segment {
        let mut base: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"tenant":"t","contact_id":"c1","seq":1,"channel":"voice","direction":"inbound","queue":"q","offered_at":"2024-03-01T10:00:00+01:00"}"#,
        )
        .unwrap();
        let extra: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&format!("{{{}}}", extra.trim_start_matches(','))).unwrap();
        base.extend(extra);
        serde_json::from_value(serde_json::Value::Object(base)).unwrap()
    }

    fn err(extra: &str) -> String {
        seg(extra).validate().unwrap_err().to_string()
    }

    #[test]
    fn answered_segment_is_valid() {
        let s =
            seg(r#","answered_at":"2024-03-01T09:00:12Z","agent":"a1","talk_s":120,"acw_s":30"#);
        s.validate().unwrap();
        assert_eq!(s.outcome(), Outcome::Answered);
        assert_eq!(s.wait().unwrap().as_secs(), 12);
    }

    #[test]
    fn waiting_segment_is_valid() {
        let s = seg("");
        s.validate().unwrap();
        assert_eq!(s.outcome(), Outcome::Waiting);
    }

    #[test]
    fn rules_name_the_field() {
        assert_eq!(
            err(r#","answered_at":"2024-03-01T08:59:59Z","agent":"a""#),
            "answered_at is before offered_at"
        );
        assert!(err(r#","answered_at":"2024-03-01T09:01:00Z","abandoned_at":"2024-03-01T09:01:00Z","agent":"a""#)
            .contains("exactly one outcome"));
        assert!(err(r#","answered_at":"2024-03-01T09:01:00Z""#).starts_with("agent is missing"));
        assert!(
            err(r#","abandoned_at":"2024-03-01T09:01:00Z","talk_s":5"#)
                .starts_with("talk_s is 5 but")
        );
        assert!(err(r#","seq":0"#).starts_with("seq is 0"));
        assert!(err(r#","queue":null,"agent":"a""#).starts_with("answered_at is missing"));
        assert!(err(r#","queue":null"#).contains("needs an agent"));
        assert!(err(r#","offered_at":"1901-01-01T00:00:00Z""#).contains("not a plausible time"));
        assert!(err(r#","transferred":true"#).starts_with("transferred is true"));
    }

    #[test]
    fn unknown_channel_lists_the_choices() {
        let json = r#"{"tenant":"t","contact_id":"c","seq":1,"channel":"fax","direction":"inbound","queue":"q","offered_at":"2024-03-01T10:00:00Z"}"#;
        let e = serde_json::from_str::<Segment>(json)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown variant `fax`, expected one of `voice`"),
            "{e}"
        );
    }

    #[test]
    fn timestamp_needs_an_offset() {
        let json = r#"{"tenant":"t","contact_id":"c","seq":1,"channel":"voice","direction":"inbound","queue":"q","offered_at":"2024-03-01T10:00:00"}"#;
        assert!(serde_json::from_str::<Segment>(json).is_err());
    }
}
