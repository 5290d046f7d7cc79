//! The directory push API: `POST /api/v1/tenants/{tenant}/agents`, `/queues` and `/teams`.
//!
//! Bodies are JSON arrays or JSON Lines, like `POST …/states` ([`crate::ingest`]), with the same
//! bearer token (the tenant's `ingest_token`) and the same rules: `tenant` may be left out of a
//! record (the URL names it) and must match when given; one bad record rejects the whole batch with
//! a 422 listing `{index, field, reason}` for each problem (up to 100), and nothing is written. A
//! 200 means every record is committed to the store (one transaction), where directory sync and
//! statistics read them.
//!
//! - `agents`: canonical agents (DESIGN §4) `{agent, first_name, last_name, email?, team?, skills,
//!   active}`. An agent is replaced as a whole (its skills too); an agent that leaves is pushed
//!   with `active: false`, never deleted.
//! - `queues`: canonical queues `{queue, name, sl_seconds?, short_abandon_seconds?}`.
//! - `teams`: the canonical model has no team record — a team is the `team` of its agents (and the
//!   store's `teams` table is derived from them). A team push is therefore a membership push:
//!   `{team, agents: [agent ids]}` sets `team` on each listed agent, which must already exist
//!   (pushed before as an agent). Agents not listed keep their team.

// Helpers return the finished error response as their `Err`: built once per failed request.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wfm_model::{Agent, Record, RecordKind};
use wfm_store::{NaturalKey, WriteCounts};

use crate::AppState;
use crate::ingest::{authorize, batch_items};

/// Problems listed in a 422 at most.
const MAX_PROBLEMS: usize = 100;

/// Agents read per page when a team push looks up its members.
const PAGE: usize = 1_000;

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn rejected(problems: Vec<Value>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "error": format!("{} problem(s) in the batch; nothing was accepted", problems.len()),
            "problems": problems,
        })),
    )
        .into_response()
}

/// Puts the URL's tenant into an item, or says why its own tenant is wrong.
fn with_tenant(tenant: &str, index: usize, item: &mut Value) -> Result<(), Value> {
    let Some(object) = item.as_object_mut() else {
        return Err(json!({"index": index, "field": null, "reason": "not a JSON object"}));
    };
    match object.get("tenant") {
        None | Some(Value::Null) => {
            object.insert("tenant".to_string(), Value::String(tenant.to_string()));
            Ok(())
        }
        Some(Value::String(t)) if t == tenant => Ok(()),
        Some(other) => Err(json!({"index": index, "field": "tenant",
            "reason": format!("tenant is {other} but the URL names tenant {tenant:?}")})),
    }
}

/// Parses and checks a batch of agents or queues; every problem is `{index, field, reason}`. A
/// record whose id appears twice in the batch is a problem too (which one should win?).
pub fn parse_records(
    kind: RecordKind,
    tenant: &str,
    body: &[u8],
) -> Result<Vec<Record>, Vec<Value>> {
    let items = batch_items(body)?;
    let id_field = match kind {
        RecordKind::Agents => "agent",
        _ => "queue",
    };
    let mut records = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    let mut seen: BTreeMap<NaturalKey, usize> = BTreeMap::new();
    for (index, mut item) in items.into_iter().enumerate() {
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        if let Err(problem) = with_tenant(tenant, index, &mut item) {
            problems.push(problem);
            continue;
        }
        let parsed = kind
            .from_value(item, &mut |_| {})
            .and_then(|r| r.validate().map(|()| r));
        match parsed {
            Ok(record) => {
                if let Some(first) = seen.insert(NaturalKey::of(&record), index) {
                    problems.push(json!({"index": index, "field": id_field,
                        "reason": format!("{} also appears at index {first}; send each {id_field} once per batch", record.describe_key())}));
                } else {
                    records.push(record);
                }
            }
            Err(e) => problems.push(json!({"index": index, "field": e.field, "reason": e.message})),
        }
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems)
    }
}

/// Writes records in one transaction.
async fn commit(state: &AppState, records: Vec<Record>) -> Result<WriteCounts, Response> {
    let unavailable = |e: wfm_store::StoreError| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the store refused the batch, nothing was accepted: {e}"),
        )
    };
    let mut tx = state.store.begin().await.map_err(unavailable)?;
    let counts = tx.write(records).await.map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)?;
    Ok(counts)
}

async fn push(
    state: AppState,
    kind: RecordKind,
    tenant: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&state.tokens, &tenant, &headers) {
        return denied.into_response();
    }
    let records = match parse_records(kind, &tenant, &body) {
        Ok(records) => records,
        Err(problems) => return rejected(problems),
    };
    let accepted = records.len();
    match commit(&state, records).await {
        Ok(counts) => (
            StatusCode::OK,
            Json(json!({"accepted": accepted, "written": counts.written, "unchanged": counts.unchanged})),
        )
            .into_response(),
        Err(response) => response,
    }
}

/// `POST /api/v1/tenants/{tenant}/agents`
pub async fn post_agents(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    push(state, RecordKind::Agents, tenant, headers, body).await
}

/// `POST /api/v1/tenants/{tenant}/queues`
pub async fn post_queues(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    push(state, RecordKind::Queues, tenant, headers, body).await
}

/// Every agent of a tenant, by id.
async fn agents_of(state: &AppState, tenant: &str) -> Result<BTreeMap<String, Agent>, Response> {
    let mut agents = BTreeMap::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .read_page(RecordKind::Agents, Some(tenant), after.as_ref(), PAGE)
            .await
            .map_err(|e| error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        let full = page.len() == PAGE;
        after = page.last().map(NaturalKey::of);
        for record in page {
            if let Record::Agent(agent) = record {
                agents.insert(agent.agent.clone(), agent);
            }
        }
        if !full {
            return Ok(agents);
        }
    }
}

/// `POST /api/v1/tenants/{tenant}/teams`: `{team, agents: [ids]}` per item.
pub async fn post_teams(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&state.tokens, &tenant, &headers) {
        return denied.into_response();
    }
    let items = match batch_items(&body) {
        Ok(items) => items,
        Err(problems) => return rejected(problems),
    };
    let mut agents = match agents_of(&state, &tenant).await {
        Ok(agents) => agents,
        Err(response) => return response,
    };
    let mut problems = Vec::new();
    // agent id → (index of the team item that placed it, team)
    let mut placed: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut teams = 0;
    for (index, mut item) in items.into_iter().enumerate() {
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        if let Err(problem) = with_tenant(&tenant, index, &mut item) {
            problems.push(problem);
            continue;
        }
        let object = item
            .as_object()
            .expect("with_tenant checked it is an object");
        if let Some(unknown) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "tenant" | "team" | "agents"))
        {
            problems.push(json!({"index": index, "field": unknown,
                "reason": format!("unknown field {unknown:?}; a team is {{team, agents: [agent ids]}}")}));
            continue;
        }
        let team = match object.get("team") {
            Some(Value::String(team)) => team.clone(),
            _ => {
                problems.push(
                    json!({"index": index, "field": "team", "reason": "team is required (text)"}),
                );
                continue;
            }
        };
        let members: Vec<String> = match object.get("agents") {
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => {
                problems.push(json!({"index": index, "field": "agents",
                    "reason": "agents is required: a list of agent ids"}));
                continue;
            }
        };
        teams += 1;
        for member in members {
            let Some(agent) = agents.get_mut(&member) else {
                problems.push(json!({"index": index, "field": "agents",
                    "reason": format!("agent {member:?} does not exist in tenant {tenant:?}; push it to /agents first")}));
                continue;
            };
            if let Some((first, other)) = placed.get(&member) {
                problems.push(json!({"index": index, "field": "agents",
                    "reason": format!("agent {member:?} is also placed in team {other:?} at index {first}; an agent has one team")}));
                continue;
            }
            agent.team = Some(team.clone());
            if let Err(e) = agent.validate() {
                problems.push(json!({"index": index, "field": "team", "reason": e.message}));
                break;
            }
            placed.insert(member, (index, team.clone()));
        }
    }
    if !problems.is_empty() {
        return rejected(problems);
    }
    let records: Vec<Record> = placed
        .keys()
        .filter_map(|id| agents.remove(id))
        .map(Record::Agent)
        .collect();
    match commit(&state, records).await {
        Ok(counts) => (
            StatusCode::OK,
            Json(json!({"accepted": teams, "agents": placed.len(),
                "written": counts.written, "unchanged": counts.unchanged})),
        )
            .into_response(),
        Err(response) => response,
    }
}
