//! The five kinds of canonical record, their field schemas and natural keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Agent, AgentStateEvent, Queue, RecordError, Segment, Tenant};

/// Which canonical file a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// `tenants.jsonl`
    Tenants,
    /// `queues.jsonl`
    Queues,
    /// `agents.jsonl`
    Agents,
    /// `interactions.jsonl` (contact segments)
    Interactions,
    /// `states.jsonl` (agent state events)
    States,
}

/// The type of a canonical field, which tells a CSV reader how to read its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text; an empty CSV cell is an empty string for required fields.
    Text,
    /// Optional text; an empty CSV cell is null.
    OptionalText,
    /// Non-negative integer; empty is null (the default).
    Integer,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`); empty is null (the default).
    Bool,
    /// RFC 3339 timestamp with an offset; empty is null.
    Timestamp,
    /// A list, `;`-separated in CSV.
    List,
    /// An object of strings: a JSON object in one `metadata` cell, or `metadata.<key>` columns.
    Map,
}

impl RecordKind {
    /// Every kind, in the order they are imported (tenants first: the others refer to them).
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Tenants,
        RecordKind::Queues,
        RecordKind::Agents,
        RecordKind::Interactions,
        RecordKind::States,
    ];

    /// The canonical name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Tenants => "tenants",
            RecordKind::Queues => "queues",
            RecordKind::Agents => "agents",
            RecordKind::Interactions => "interactions",
            RecordKind::States => "states",
        }
    }

    /// The canonical file name (`interactions.jsonl`).
    pub fn file_name(self) -> String {
        format!("{}.jsonl", self.as_str())
    }

    /// The canonical fields of this kind, with their types, in canonical order.
    pub fn fields(self) -> &'static [(&'static str, FieldType)] {
        use FieldType::*;
        match self {
            RecordKind::Tenants => &[
                ("tenant", Text),
                ("name", Text),
                ("time_zone", OptionalText),
                ("interval_minutes", Integer),
                ("admin_reasons", List),
            ],
            RecordKind::Queues => &[
                ("tenant", Text),
                ("queue", Text),
                ("name", Text),
                ("sl_seconds", Integer),
                ("short_abandon_seconds", Integer),
            ],
            RecordKind::Agents => &[
                ("tenant", Text),
                ("agent", Text),
                ("first_name", Text),
                ("last_name", Text),
                ("email", OptionalText),
                ("team", OptionalText),
                ("skills", List),
                ("active", Bool),
            ],
            RecordKind::Interactions => &[
                ("tenant", Text),
                ("contact_id", Text),
                ("seq", Integer),
                ("channel", Text),
                ("direction", Text),
                ("queue", OptionalText),
                ("offered_at", Timestamp),
                ("answered_at", Timestamp),
                ("abandoned_at", Timestamp),
                ("overflowed", Bool),
                ("agent", OptionalText),
                ("talk_s", Integer),
                ("hold_s", Integer),
                ("acw_s", Integer),
                ("transferred", Bool),
                ("metadata", Map),
            ],
            RecordKind::States => &[
                ("tenant", Text),
                ("agent", Text),
                ("at", Timestamp),
                ("state", Text),
                ("reason", OptionalText),
                ("source_code", OptionalText),
            ],
        }
    }

    /// The type of one field, or `None` when the kind has no such field.
    pub fn field_type(self, name: &str) -> Option<FieldType> {
        self.fields()
            .iter()
            .find(|(field, _)| *field == name)
            .map(|&(_, ty)| ty)
    }

    /// The fields a record of this kind cannot be without (the others have defaults or may be null).
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            RecordKind::Tenants => &["tenant", "name"],
            RecordKind::Queues => &["tenant", "queue", "name"],
            RecordKind::Agents => &["tenant", "agent", "first_name", "last_name"],
            RecordKind::Interactions => &[
                "tenant",
                "contact_id",
                "seq",
                "channel",
                "direction",
                "offered_at",
            ],
            RecordKind::States => &["tenant", "agent", "at", "state"],
        }
    }

    /// The fields that make a record's natural key, which re-imports upsert by.
    pub fn key_fields(self) -> &'static [&'static str] {
        match self {
            RecordKind::Tenants => &["tenant"],
            RecordKind::Queues => &["tenant", "queue"],
            RecordKind::Agents => &["tenant", "agent"],
            RecordKind::Interactions => &["tenant", "contact_id", "seq"],
            RecordKind::States => &["tenant", "agent", "at"],
        }
    }

    /// Parses one record of this kind from a JSON object, keeping the path of a field that fails.
    ///
    /// `on_unknown` is called with the name of each field this kind does not have.
    pub fn parse_json(
        self,
        json: &str,
        on_unknown: &mut dyn FnMut(&str),
    ) -> Result<Record, RecordError> {
        // serde would also read a struct from a JSON array; canonical records are objects only.
        match json.trim_start().chars().next() {
            Some('{') => {}
            Some(c) => {
                return Err(RecordError::record(format!(
                    "not a JSON object: the line starts with {c:?}, a canonical record starts with '{{'"
                )));
            }
            None => return Err(RecordError::record("empty line")),
        }
        let mut de = serde_json::Deserializer::from_str(json);
        let record = match self {
            RecordKind::Tenants => Record::Tenant(deserialize(&mut de, on_unknown)?),
            RecordKind::Queues => Record::Queue(deserialize(&mut de, on_unknown)?),
            RecordKind::Agents => Record::Agent(deserialize(&mut de, on_unknown)?),
            RecordKind::Interactions => Record::Segment(deserialize(&mut de, on_unknown)?),
            RecordKind::States => Record::State(deserialize(&mut de, on_unknown)?),
        };
        de.end()
            .map_err(|_| RecordError::record("more than one JSON value on the line"))?;
        Ok(record)
    }

    /// Converts an already-parsed JSON object (from a CSV row or a mapping) into a record.
    pub fn from_value(
        self,
        value: serde_json::Value,
        on_unknown: &mut dyn FnMut(&str),
    ) -> Result<Record, RecordError> {
        Ok(match self {
            RecordKind::Tenants => Record::Tenant(deserialize(value, on_unknown)?),
            RecordKind::Queues => Record::Queue(deserialize(value, on_unknown)?),
            RecordKind::Agents => Record::Agent(deserialize(value, on_unknown)?),
            RecordKind::Interactions => Record::Segment(deserialize(value, on_unknown)?),
            RecordKind::States => Record::State(deserialize(value, on_unknown)?),
        })
    }
}

fn deserialize<'de, D, T>(de: D, on_unknown: &mut dyn FnMut(&str)) -> Result<T, RecordError>
where
    D: serde::Deserializer<'de>,
    D::Error: fmt::Display,
    T: Deserialize<'de>,
{
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(de, &mut track);
    let mut unknown = |path: serde_ignored::Path<'_>| {
        // Only top-level fields are reported: unknown keys inside `metadata` cannot occur.
        on_unknown(&path.to_string())
    };
    serde_ignored::deserialize(tracked, &mut unknown).map_err(|e| {
        let path = track.path().to_string();
        let message = e.to_string();
        if message.starts_with("expected value") || message.starts_with("key must be a string") {
            RecordError::record(format!("not a JSON object: {message}"))
        } else {
            RecordError::from_serde(&path, &message)
        }
    })
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown kind {s:?}; expected tenants, queues, agents, interactions or states"
                )
            })
    }
}

/// One canonical record of any kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A tenant.
    Tenant(Tenant),
    /// A queue.
    Queue(Queue),
    /// An agent.
    Agent(Agent),
    /// A contact segment.
    Segment(Segment),
    /// An agent state event.
    State(AgentStateEvent),
}

impl Record {
    /// The kind of file this record belongs to.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Tenant(_) => RecordKind::Tenants,
            Record::Queue(_) => RecordKind::Queues,
            Record::Agent(_) => RecordKind::Agents,
            Record::Segment(_) => RecordKind::Interactions,
            Record::State(_) => RecordKind::States,
        }
    }

    /// The tenant the record belongs to.
    pub fn tenant(&self) -> &str {
        match self {
            Record::Tenant(r) => &r.tenant,
            Record::Queue(r) => &r.tenant,
            Record::Agent(r) => &r.tenant,
            Record::Segment(r) => &r.tenant,
            Record::State(r) => &r.tenant,
        }
    }

    /// Validates the record against the rules of its kind.
    pub fn validate(&self) -> Result<(), RecordError> {
        match self {
            Record::Tenant(r) => r.validate(),
            Record::Queue(r) => r.validate(),
            Record::Agent(r) => r.validate(),
            Record::Segment(r) => r.validate(),
            Record::State(r) => r.validate(),
        }
    }

    /// Feeds the natural key (tenant + id, contact_id + seq, agent + at) to `out`, field by field,
    /// each followed by a separator byte, so that keys can be hashed without allocating.
    pub fn write_key(&self, out: &mut dyn FnMut(&[u8])) {
        let mut field = |bytes: &[u8]| {
            out(bytes);
            out(&[0xff]);
        };
        match self {
            Record::Tenant(r) => field(r.tenant.as_bytes()),
            Record::Queue(r) => {
                field(r.tenant.as_bytes());
                field(r.queue.as_bytes());
            }
            Record::Agent(r) => {
                field(r.tenant.as_bytes());
                field(r.agent.as_bytes());
            }
            Record::Segment(r) => {
                field(r.tenant.as_bytes());
                field(r.contact_id.as_bytes());
                field(&r.seq.to_le_bytes());
            }
            Record::State(r) => {
                field(r.tenant.as_bytes());
                field(r.agent.as_bytes());
                field(&r.at.as_nanosecond().to_le_bytes());
            }
        }
    }

    /// The natural key in words, for error messages (`contact_id "c1" seq 2`).
    pub fn describe_key(&self) -> String {
        match self {
            Record::Tenant(r) => format!("tenant {:?}", r.tenant),
            Record::Queue(r) => format!("queue {:?}", r.queue),
            Record::Agent(r) => format!("agent {:?}", r.agent),
            Record::Segment(r) => format!("contact_id {:?} seq {}", r.contact_id, r.seq),
            Record::State(r) => format!("agent {:?} at {}", r.agent, r.at),
        }
    }

    /// The record as one canonical JSON object.
    pub fn to_json(&self) -> String {
        let json = match self {
            Record::Tenant(r) => serde_json::to_string(r),
            Record::Queue(r) => serde_json::to_string(r),
            Record::Agent(r) => serde_json::to_string(r),
            Record::Segment(r) => serde_json::to_string(r),
            Record::State(r) => serde_json::to_string(r),
        };
        json.expect("canonical records always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_reported_not_fatal() {
        let mut unknown = Vec::new();
        let r = RecordKind::Queues
            .parse_json(
                r#"{"tenant":"t","queue":"q","name":"Q","colour":"red"}"#,
                &mut |f| unknown.push(f.to_string()),
            )
            .unwrap();
        assert_eq!(r.kind(), RecordKind::Queues);
        assert_eq!(unknown, vec!["colour"]);
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = RecordKind::Interactions
            .parse_json(
                r#"{"tenant":"t","contact_id":"c","seq":1,"channel":"voice","direction":"inbound","queue":"q","offered_at":"2024-01-01T00:00:00Z","talk_s":"long"}"#,
                &mut |_| {},
            )
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("talk_s"));
        assert!(e.message.starts_with("talk_s: invalid type"), "{e}");
    }

    #[test]
    fn non_objects_are_said_to_be_so() {
        let e = RecordKind::Tenants
            .parse_json("\u{1}\u{2}garbage", &mut |_| {})
            .unwrap_err();
        assert!(e.message.starts_with("not a JSON object"), "{e}");
        let e = RecordKind::Tenants
            .parse_json("[1,2]", &mut |_| {})
            .unwrap_err();
        assert!(e.message.starts_with("not a JSON object"), "{e}");
        let e = RecordKind::Tenants
            .parse_json("{\"tenant\":", &mut |_| {})
            .unwrap_err();
        assert!(e.message.contains("EOF"), "{e}");
    }

    #[test]
    fn kinds_parse() {
        assert_eq!("states".parse::<RecordKind>(), Ok(RecordKind::States));
        assert!(
            "calls"
                .parse::<RecordKind>()
                .unwrap_err()
                .contains("expected tenants")
        );
    }
}
