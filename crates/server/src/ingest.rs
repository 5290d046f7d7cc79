//! The ingest API: `POST /api/v1/tenants/{tenant}/states`.
//!
//! Body: a JSON array of canonical agent state events, or JSON Lines. Each event is checked as
//! DESIGN §4 says; one bad event rejects the whole batch (422) with the index, field and reason of
//! every problem (up to 100). `tenant` may be left out of the events (the URL names it); when given
//! it must match. A 200 means the events are committed to the store.
//!
//! Authentication: `Authorization: Bearer <the tenant's ingest_token>`. No token or an unknown one:
//! 401; another tenant's token: 403.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};
use wfm_model::{AgentState, AgentStateEvent, Record, RecordKind};

use crate::AppState;

/// Problems listed in a 422 at most.
const MAX_PROBLEMS: usize = 100;

/// Largest body accepted (about 100,000 events).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// Ingest tokens: token → tenant, and which tenants are configured.
#[derive(Clone, Default)]
pub struct TenantTokens {
    by_token: HashMap<String, String>,
    tenants: HashMap<String, bool>,
    /// SCIM: the tenants' own `scim_token`s, token → tenant.
    scim_by_token: HashMap<String, String>,
}

impl TenantTokens {
    /// From each configured tenant and its ingest token, if it has one.
    pub fn new<'a>(tenants: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> TenantTokens {
        let mut tokens = TenantTokens::default();
        for (tenant, token) in tenants {
            tokens.tenants.insert(tenant.to_string(), token.is_some());
            if let Some(token) = token {
                tokens
                    .by_token
                    .insert(token.to_string(), tenant.to_string());
            }
        }
        tokens
    }

    /// Adds the SCIM tokens of the tenants that have one (`scim_token`); the others use their
    /// ingest token for SCIM too.
    pub fn with_scim_tokens<'a>(
        mut self,
        tenants: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> TenantTokens {
        for (tenant, token) in tenants {
            if let Some(token) = token {
                self.scim_by_token
                    .insert(token.to_string(), tenant.to_string());
            }
        }
        self
    }

    /// The tenant a SCIM bearer token stands for: the tenant whose `scim_token` it is, or whose
    /// `ingest_token` it is when that tenant has no `scim_token`. Err(403) for the ingest token of a
    /// tenant that has a separate SCIM token, Err(401) for a token of nobody.
    pub fn scim_tenant(&self, token: &str) -> Result<&str, Refusal> {
        if let Some(tenant) = self.scim_by_token.get(token) {
            return Ok(tenant);
        }
        match self.by_token.get(token) {
            Some(tenant) if self.scim_by_token.values().any(|t| t == tenant) => Err(Refusal::new(
                StatusCode::FORBIDDEN,
                format!(
                    "tenant {tenant:?} has a scim_token: use it for SCIM, not the ingest token"
                ),
            )),
            Some(tenant) => Ok(tenant),
            None => Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "the bearer token is not valid",
            )),
        }
    }
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A refused request: the status and the message of its `{"error": …}` body.
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// Why.
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        problem(self.status, self.message)
    }
}

/// Checks the bearer token against the tenant of the URL: 404 for an unknown tenant, 401 without a
/// valid token, 403 for another tenant's token.
pub fn authorize(tokens: &TenantTokens, tenant: &str, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(has_token) = tokens.tenants.get(tenant) else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            format!("tenant {tenant:?} is not configured"),
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(presented) = presented else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "missing bearer token: send Authorization: Bearer <the tenant's ingest_token>",
        ));
    };
    match tokens.by_token.get(presented) {
        Some(owner) if owner == tenant => Ok(()),
        Some(_) => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("this token belongs to another tenant, not to {tenant:?}"),
        )),
        None if !has_token => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("tenant {tenant:?} has no ingest_token configured"),
        )),
        None => Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is not valid",
        )),
    }
}

/// The items of a batch body: a JSON array, or JSON Lines (blank lines skipped). A body that is
/// neither is one problem `{index: null, field: null, reason}`.
pub fn batch_items(body: &[u8]) -> Result<Vec<Value>, Vec<Value>> {
    let text = std::str::from_utf8(body).map_err(|e| {
        vec![
            json!({"index": null, "field": null, "reason": format!("the body is not UTF-8 ({e})")}),
        ]
    })?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text).map_err(|e| {
            vec![json!({"index": null, "field": null, "reason": format!("the body is not a JSON array: {e}")})]
        });
    }
    let mut items = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str(line) {
            Ok(v) => items.push(v),
            Err(e) => {
                return Err(vec![
                    json!({"index": null, "line": i + 1, "field": null, "reason": format!("line {} is not JSON: {e}", i + 1)}),
                ]);
            }
        }
    }
    Ok(items)
}

/// Parses and checks a batch; every problem is `{index, field, reason}`.
///
/// A batch is read straight into events; only a batch with a problem is read again, as JSON
/// values, to name every problem the way the record reader names them.
pub fn parse_batch(tenant: &str, body: &[u8]) -> Result<Vec<AgentStateEvent>, Vec<Value>> {
    match parse_valid_batch(tenant, body) {
        Some(events) => Ok(events),
        None => parse_batch_with_problems(tenant, body),
    }
}

/// One pushed event as sent, its texts borrowed from the body where they have no escapes.
#[derive(serde::Deserialize)]
struct PushedState<'a> {
    #[serde(default, borrow)]
    tenant: Option<Cow<'a, str>>,
    #[serde(borrow)]
    agent: Cow<'a, str>,
    at: Timestamp,
    state: AgentState,
    #[serde(default, borrow)]
    reason: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    source_code: Option<Cow<'a, str>>,
}

/// The events of a batch without a single problem, or None (then
/// [`parse_batch_with_problems`] says what is wrong).
fn parse_valid_batch(tenant: &str, body: &[u8]) -> Option<Vec<AgentStateEvent>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let pushed: Vec<PushedState<'_>> = if first == Some(&b'[') {
        serde_json::from_slice(body).ok()?
    } else {
        body.split(|b| *b == b'\n')
            .filter(|line| !line.trim_ascii().is_empty())
            .map(|line| serde_json::from_slice(line).ok())
            .collect::<Option<_>>()?
    };
    pushed
        .into_iter()
        .map(|p| {
            if p.tenant.as_deref().is_some_and(|t| t != tenant) {
                return None;
            }
            let event = AgentStateEvent {
                tenant: tenant.to_string(),
                agent: p.agent.into_owned(),
                at: p.at,
                state: p.state,
                reason: p.reason.map(Cow::into_owned),
                source_code: p.source_code.map(Cow::into_owned),
            };
            event.validate().ok().map(|()| event)
        })
        .collect()
}

/// Reads a batch as JSON values and lists every problem (up to [`MAX_PROBLEMS`]).
fn parse_batch_with_problems(
    tenant: &str,
    body: &[u8],
) -> Result<Vec<AgentStateEvent>, Vec<Value>> {
    let items = batch_items(body)?;
    let mut events = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (index, mut item) in items.into_iter().enumerate() {
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        let Some(object) = item.as_object_mut() else {
            problems.push(json!({"index": index, "field": null, "reason": "not a JSON object"}));
            continue;
        };
        match object.get("tenant") {
            None | Some(Value::Null) => {
                object.insert("tenant".to_string(), Value::String(tenant.to_string()));
            }
            Some(Value::String(t)) if t == tenant => {}
            Some(other) => {
                problems.push(json!({"index": index, "field": "tenant",
                    "reason": format!("tenant is {other} but the URL names tenant {tenant:?}")}));
                continue;
            }
        }
        let parsed = RecordKind::States
            .from_value(item, &mut |_| {})
            .and_then(|r| r.validate().map(|()| r));
        match parsed {
            Ok(Record::State(event)) => events.push(event),
            Ok(_) => unreachable!("the states kind parses state events"),
            Err(e) => problems.push(json!({"index": index, "field": e.field, "reason": e.message})),
        }
    }
    if problems.is_empty() {
        Ok(events)
    } else {
        Err(problems)
    }
}

/// `POST /api/v1/tenants/{tenant}/states`
pub async fn post_states(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&state.tokens, &tenant, &headers) {
        return denied.into_response();
    }
    let Some(ingest) = &state.ingest else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server does not accept pushes",
        );
    };
    let events = match parse_batch(&tenant, &body) {
        Ok(events) => events,
        Err(problems) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({
                    "error": format!("{} problem(s) in the batch; nothing was accepted", problems.len()),
                    "problems": problems,
                })),
            )
                .into_response();
        }
    };
    match ingest.submit(events).await {
        Ok(receipt) => (StatusCode::OK, Json(receipt)).into_response(),
        Err(e) => problem(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_parse_as_arrays_or_lines_and_problems_carry_the_index() {
        let array = br#"[{"agent":"a","at":"2024-03-01T08:00:00Z","state":"ready"},
                         {"tenant":"t","agent":"b","at":"2024-03-01T08:00:00Z","state":"busy"}]"#;
        assert_eq!(parse_batch("t", array).unwrap().len(), 2);
        let lines = b"{\"agent\":\"a\",\"at\":\"2024-03-01T08:00:00Z\",\"state\":\"ready\"}\n\n{\"agent\":\"b\",\"at\":\"2024-03-01T08:00:00Z\",\"state\":\"acw\"}\n";
        assert_eq!(parse_batch("t", lines).unwrap().len(), 2);
        let bad = br#"[{"agent":"a","at":"2024-03-01T08:00:00Z","state":"ready"},
                       {"agent":"b","at":"2024-03-01T08:00:00Z","state":"sleeping"},
                       {"tenant":"u","agent":"c","at":"2024-03-01T08:00:00Z","state":"ready"},
                       {"agent":"","at":"2024-03-01T08:00:00Z","state":"ready"}]"#;
        let problems = parse_batch("t", bad).unwrap_err();
        assert_eq!(problems.len(), 3);
        assert_eq!(problems[0]["index"], 1);
        assert_eq!(problems[0]["field"], "state");
        assert_eq!(problems[1]["field"], "tenant");
        assert_eq!(problems[2]["index"], 3);
        assert_eq!(problems[2]["reason"], "agent is empty");
    }

    #[test]
    fn the_direct_reading_agrees_with_the_checked_one() {
        let valid: [&[u8]; 4] = [
            br#"[{"agent":"a\u00e9","at":"2024-03-01T08:00:00+01:00","state":"not_ready","reason":"Lunch \"long\"","source_code":"L1"},
                 {"tenant":null,"agent":"b","at":"2024-03-01T08:00:00Z","state":"busy","extra":[1,2]},
                 {"tenant":"t","agent":"c","at":"2024-03-01T08:00:00.123Z","state":"logged_out"}]"#,
            b"  {\"agent\":\"a\",\"at\":\"2024-03-01T08:00:00Z\",\"state\":\"ready\"}\r\n\n",
            b"[]",
            b"",
        ];
        for body in valid {
            let direct = parse_valid_batch("t", body);
            let checked = parse_batch_with_problems("t", body).unwrap();
            assert_eq!(
                direct.as_ref(),
                Some(&checked),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Anything with a problem is left to the checked reading, which names it.
        let invalid: [&[u8]; 6] = [
            br#"[{"agent":"a","at":"2024-03-01T08:00:00Z","state":"sleeping"}]"#,
            br#"[{"tenant":"u","agent":"a","at":"2024-03-01T08:00:00Z","state":"ready"}]"#,
            br#"[{"agent":"","at":"2024-03-01T08:00:00Z","state":"ready"}]"#,
            br#"[{"agent":"a","at":"1900-03-01T08:00:00Z","state":"ready"}]"#,
            br#"[{"agent":"a","at":"2024-03-01T08:00:00Z","state":"ready"}"#,
            b"{\"agent\":\"a\",\"at\":\"2024-03-01T08:00:00Z\",\"state\":\"ready\"}\nnot json",
        ];
        for body in invalid {
            assert_eq!(
                parse_valid_batch("t", body),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
            assert!(parse_batch("t", body).is_err());
        }
    }
}
