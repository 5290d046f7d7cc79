//! Records to column values and back, shared by both backends.
//!
//! A record becomes one row of its table (see [`crate::schema`]) as a list of [`Value`]s in column
//! order; each backend binds those its own way (one row per statement on SQLite, one array per
//! column on PostgreSQL). Reading goes through [`Columns`], which each backend implements for its
//! row type. Encodings: timestamps are UTC milliseconds, enums their canonical names, `metadata`
//! and `admin_reasons` JSON text (`metadata` NULL when empty). An agent's skills are not in its
//! row: the backends read and write them in `agent_skills`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use wfm_model::{
    Agent, AgentState, AgentStateEvent, Channel, Direction, IntervalLength, Queue, Record,
    RecordKind, Segment, Tenant, Timestamp,
};

use crate::NaturalKey;
use crate::schema::Table;

/// One column value of a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Bool(bool),
}

fn text(s: &str) -> Value<'_> {
    Value::Text(Some(Cow::Borrowed(s)))
}

fn opt_text(s: Option<&String>) -> Value<'_> {
    Value::Text(s.map(|s| Cow::Borrowed(s.as_str())))
}

fn int(i: impl Into<i64>) -> Value<'static> {
    Value::Int(Some(i.into()))
}

fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

fn opt_millis(at: Option<Timestamp>) -> Value<'static> {
    Value::Int(at.map(millis))
}

/// Appends the row of `record` (its table's columns in order, without `changed_at`) to `out`.
pub(crate) fn row_values<'a>(record: &'a Record, out: &mut Vec<Value<'a>>) {
    match record {
        Record::Tenant(t) => out.extend([
            text(&t.tenant),
            text(&t.name),
            text(&t.time_zone),
            int(t.interval_minutes.minutes()),
            Value::Text(Some(Cow::Owned(json_list(&t.admin_reasons)))),
        ]),
        Record::Queue(q) => out.extend([
            text(&q.tenant),
            text(&q.queue),
            text(&q.name),
            int(q.sl_seconds),
            int(q.short_abandon_seconds),
        ]),
        Record::Agent(a) => out.extend([
            text(&a.tenant),
            text(&a.agent),
            text(&a.first_name),
            text(&a.last_name),
            opt_text(a.email.as_ref()),
            opt_text(a.team.as_ref()),
            Value::Bool(a.active),
        ]),
        Record::Segment(s) => out.extend([
            text(&s.tenant),
            text(&s.contact_id),
            int(s.seq),
            text(s.channel.as_str()),
            text(s.direction.as_str()),
            opt_text(s.queue.as_ref()),
            int(millis(s.offered_at)),
            opt_millis(s.answered_at),
            opt_millis(s.abandoned_at),
            Value::Bool(s.overflowed),
            opt_text(s.agent.as_ref()),
            int(s.talk_s),
            int(s.hold_s),
            int(s.acw_s),
            Value::Bool(s.transferred),
            Value::Text(json_map(&s.metadata).map(Cow::Owned)),
        ]),
        Record::State(e) => out.extend([
            text(&e.tenant),
            text(&e.agent),
            int(millis(e.at)),
            text(e.state.as_str()),
            opt_text(e.reason.as_ref()),
            opt_text(e.source_code.as_ref()),
        ]),
    }
}

fn json_list(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
}

/// `None` for an empty map: absent metadata and `{}` read back the same, as the model treats them.
fn json_map(map: &BTreeMap<String, String>) -> Option<String> {
    if map.is_empty() {
        None
    } else {
        serde_json::to_string(map).ok()
    }
}

/// The values of a natural key, in key-column order, for binding an `after` key.
pub(crate) fn key_values(key: &NaturalKey) -> Vec<Value<'_>> {
    match key {
        NaturalKey::Tenant(t) => vec![text(t)],
        NaturalKey::Queue(t, id) | NaturalKey::Agent(t, id) => vec![text(t), text(id)],
        NaturalKey::Segment(t, contact, seq) => vec![text(t), text(contact), int(*seq)],
        NaturalKey::State(t, agent, at) => vec![text(t), text(agent), int(*at)],
    }
}

/// The parameters a change-feed query binds for `after`'s key: its columns after `tenant`
/// (owned, to move to another thread), or `None` for a cursor without a key. A key of another
/// kind, or of another tenant, is refused: it is not a position in this feed.
pub(crate) fn change_key_params(
    kind: RecordKind,
    tenant: &str,
    after: &crate::ChangeCursor,
) -> Result<Option<Vec<Value<'static>>>, crate::StoreError> {
    let Some(key) = &after.key else {
        return Ok(None);
    };
    let mut values = key_values(key).into_iter();
    let same_tenant = matches!(values.next(), Some(Value::Text(Some(t))) if t == tenant);
    if !key_matches(kind, key) || !same_tenant {
        return Err(crate::StoreError::KeyMismatch {
            kind,
            key: key.clone(),
        });
    }
    Ok(Some(
        values
            .map(|v| match v {
                Value::Text(t) => Value::Text(t.map(|t| Cow::Owned(t.into_owned()))),
                Value::Int(i) => Value::Int(i),
                Value::Bool(b) => Value::Bool(b),
            })
            .collect(),
    ))
}

/// Whether `key` is a key of `kind`.
pub(crate) fn key_matches(kind: RecordKind, key: &NaturalKey) -> bool {
    matches!(
        (kind, key),
        (RecordKind::Tenants, NaturalKey::Tenant(..))
            | (RecordKind::Queues, NaturalKey::Queue(..))
            | (RecordKind::Agents, NaturalKey::Agent(..))
            | (RecordKind::Interactions, NaturalKey::Segment(..))
            | (RecordKind::States, NaturalKey::State(..))
    )
}

/// Typed access to the columns of a fetched row; each backend implements it for its row type.
/// Errors are messages about the column.
pub(crate) trait Columns {
    fn text(&self, i: usize) -> Result<Option<String>, String>;
    fn int(&self, i: usize) -> Result<Option<i64>, String>;
    fn boolean(&self, i: usize) -> Result<Option<bool>, String>;
    /// A BLOB (SQLite) or BYTEA (PostgreSQL) column: outbox payloads.
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>, String>;
}

/// Why a stored row could not be decoded: its key in words and the problem.
#[derive(Debug)]
pub(crate) struct Undecodable {
    pub key: String,
    pub problem: String,
}

/// Reads a record of `table` from a row holding [`Table::column_list`]. Agents come back without
/// skills; the caller adds them.
pub(crate) fn decode(table: &Table, row: &impl Columns) -> Result<Record, Undecodable> {
    let column = |i: usize| table.columns().nth(i).map_or("?", |(name, _)| *name);
    let fail = |problem: String| Undecodable {
        key: describe_key(table, row),
        problem,
    };
    let req_text = |i: usize| -> Result<String, Undecodable> {
        row.text(i)
            .map_err(&fail)?
            .ok_or_else(|| fail(format!("{} is NULL", column(i))))
    };
    let opt_text = |i: usize| row.text(i).map_err(&fail);
    let req_int = |i: usize| -> Result<i64, Undecodable> {
        row.int(i)
            .map_err(&fail)?
            .ok_or_else(|| fail(format!("{} is NULL", column(i))))
    };
    let u32_at = |i: usize| -> Result<u32, Undecodable> {
        let v = req_int(i)?;
        u32::try_from(v).map_err(|_| fail(format!("{} is {v}, out of range", column(i))))
    };
    let bool_at = |i: usize| -> Result<bool, Undecodable> {
        row.boolean(i)
            .map_err(&fail)?
            .ok_or_else(|| fail(format!("{} is NULL", column(i))))
    };
    let time = |i: usize, ms: i64| {
        Timestamp::from_millisecond(ms)
            .map_err(|e| fail(format!("{} {ms} is not a time: {e}", column(i))))
    };
    let req_time = |i: usize| time(i, req_int(i)?);
    let opt_time = |i: usize| -> Result<Option<Timestamp>, Undecodable> {
        match row.int(i).map_err(&fail)? {
            Some(ms) => time(i, ms).map(Some),
            None => Ok(None),
        }
    };

    Ok(match table.name {
        "tenants" => {
            let minutes = u32_at(3)?;
            let reasons = req_text(4)?;
            Record::Tenant(Tenant {
                tenant: req_text(0)?,
                name: req_text(1)?,
                time_zone: req_text(2)?,
                interval_minutes: IntervalLength::from_minutes(minutes)
                    .ok_or_else(|| fail(format!("interval_minutes is {minutes}")))?,
                admin_reasons: serde_json::from_str(&reasons)
                    .map_err(|e| fail(format!("admin_reasons is not a JSON list: {e}")))?,
            })
        }
        "queues" => Record::Queue(Queue {
            tenant: req_text(0)?,
            queue: req_text(1)?,
            name: req_text(2)?,
            sl_seconds: u32_at(3)?,
            short_abandon_seconds: u32_at(4)?,
        }),
        "agents" => Record::Agent(Agent {
            tenant: req_text(0)?,
            agent: req_text(1)?,
            first_name: req_text(2)?,
            last_name: req_text(3)?,
            email: opt_text(4)?,
            team: opt_text(5)?,
            skills: Vec::new(),
            active: bool_at(6)?,
        }),
        "segments" => {
            let channel = req_text(3)?;
            let direction = req_text(4)?;
            let metadata = match opt_text(15)? {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|e| fail(format!("metadata is not a JSON object of strings: {e}")))?,
                None => BTreeMap::new(),
            };
            Record::Segment(Segment {
                tenant: req_text(0)?,
                contact_id: req_text(1)?,
                seq: u32_at(2)?,
                channel: Channel::parse(&channel)
                    .ok_or_else(|| fail(format!("unknown channel {channel:?}")))?,
                direction: Direction::parse(&direction)
                    .ok_or_else(|| fail(format!("unknown direction {direction:?}")))?,
                queue: opt_text(5)?,
                offered_at: req_time(6)?,
                answered_at: opt_time(7)?,
                abandoned_at: opt_time(8)?,
                overflowed: bool_at(9)?,
                agent: opt_text(10)?,
                talk_s: u32_at(11)?,
                hold_s: u32_at(12)?,
                acw_s: u32_at(13)?,
                transferred: bool_at(14)?,
                metadata,
            })
        }
        "states" => {
            let state = req_text(3)?;
            Record::State(AgentStateEvent {
                tenant: req_text(0)?,
                agent: req_text(1)?,
                at: req_time(2)?,
                state: AgentState::parse(&state)
                    .ok_or_else(|| fail(format!("unknown state {state:?}")))?,
                reason: opt_text(4)?,
                source_code: opt_text(5)?,
            })
        }
        other => {
            return Err(fail(format!("{other} rows are not records")));
        }
    })
}

/// The key columns of a row in words, best effort (for error messages).
fn describe_key(table: &Table, row: &impl Columns) -> String {
    table
        .key
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let value = match row.text(i) {
                Ok(Some(s)) => format!("{s:?}"),
                _ => match row.int(i) {
                    Ok(Some(v)) => v.to_string(),
                    _ => "?".to_string(),
                },
            };
            format!("{name} {value}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{self, Ty};

    fn samples() -> Vec<Record> {
        [
            (
                RecordKind::Tenants,
                r#"{"tenant":"t","name":"T","admin_reasons":["Meeting"]}"#,
            ),
            (RecordKind::Queues, r#"{"tenant":"t","queue":"q","name":"Q"}"#),
            (
                RecordKind::Agents,
                r#"{"tenant":"t","agent":"a","first_name":"A","last_name":"B","team":"x","skills":["q"]}"#,
            ),
            (
                RecordKind::Interactions,
                r#"{"tenant":"t","contact_id":"c","seq":1,"channel":"voice","direction":"inbound","queue":"q","offered_at":"2024-03-01T09:00:00Z","metadata":{"k":"v"}}"#,
            ),
            (
                RecordKind::States,
                r#"{"tenant":"t","agent":"a","at":"2024-03-01T09:00:00Z","state":"ready"}"#,
            ),
        ]
        .into_iter()
        .map(|(kind, json)| kind.parse_json(json, &mut |_| {}).unwrap())
        .collect()
    }

    /// What the PostgreSQL backend relies on to build one array per column.
    #[test]
    fn values_have_their_columns_types() {
        for record in samples() {
            let table = schema::table_of(record.kind());
            let mut values = Vec::new();
            row_values(&record, &mut values);
            assert_eq!(values.len(), table.width(), "{}", table.name);
            for ((name, ty), value) in table.columns().zip(&values) {
                let fits = matches!(
                    (ty, value),
                    (Ty::Text, Value::Text(_))
                        | (Ty::Int, Value::Int(_))
                        | (Ty::Bool, Value::Bool(_))
                );
                assert!(fits, "{}.{name}: {value:?}", table.name);
            }
        }
    }

    struct Row(Vec<Value<'static>>);

    impl Columns for Row {
        fn text(&self, i: usize) -> Result<Option<String>, String> {
            match &self.0[i] {
                Value::Text(t) => Ok(t.as_ref().map(|t| t.to_string())),
                other => Err(format!("{other:?} is not text")),
            }
        }
        fn int(&self, i: usize) -> Result<Option<i64>, String> {
            match &self.0[i] {
                Value::Int(v) => Ok(*v),
                other => Err(format!("{other:?} is not an integer")),
            }
        }
        fn boolean(&self, i: usize) -> Result<Option<bool>, String> {
            match &self.0[i] {
                Value::Bool(b) => Ok(Some(*b)),
                other => Err(format!("{other:?} is not a boolean")),
            }
        }
        fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>, String> {
            Err(format!("{:?} is not bytes", self.0[i]))
        }
    }

    fn owned(values: Vec<Value<'_>>) -> Row {
        Row(values
            .into_iter()
            .map(|v| match v {
                Value::Text(t) => Value::Text(t.map(|t| Cow::Owned(t.into_owned()))),
                Value::Int(i) => Value::Int(i),
                Value::Bool(b) => Value::Bool(b),
            })
            .collect())
    }

    #[test]
    fn rows_decode_to_the_records_they_came_from() {
        for record in samples() {
            let table = schema::table_of(record.kind());
            let mut values = Vec::new();
            row_values(&record, &mut values);
            let mut decoded = decode(table, &owned(values)).unwrap();
            if let (Record::Agent(read), Record::Agent(written)) = (&mut decoded, &record) {
                // Skills are not in the row; the backends add them.
                read.skills = written.skills.clone();
            }
            assert_eq!(decoded, record);
        }
    }

    #[test]
    fn bad_rows_name_the_row_and_the_problem() {
        let record = &samples()[3];
        let mut values = Vec::new();
        row_values(record, &mut values);
        let mut row = owned(values);
        row.0[3] = Value::Text(Some(Cow::Borrowed("fax")));
        let e = decode(&schema::SEGMENTS, &row).unwrap_err();
        assert_eq!(e.key, r#"tenant "t" contact_id "c" seq 1"#);
        assert_eq!(e.problem, r#"unknown channel "fax""#);
    }
}
