//! `GET /api/v1/runs?flow=&limit=`: runs of flows, newest first, only of flows the token sees.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use super::auth::Caller;
use super::{AdminState, Answer, error, number_param, query, store_error};

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new().route("/api/v1/runs", get(list))
}

/// Flow name → tenant, for every flow the engine knows.
pub fn flow_tenants(state: &AdminState) -> HashMap<String, String> {
    state
        .engine
        .catalog_flows()
        .into_iter()
        .map(|f| (f.flow.name, f.flow.tenant))
        .collect()
}

/// Whether the caller sees what `flow` produced: flows of its tenants, and (for tokens of every
/// tenant) also flows no longer configured.
pub fn sees_flow(caller: &Caller, tenants: &HashMap<String, String>, flow: &str) -> bool {
    match tenants.get(flow) {
        Some(tenant) => caller.sees(tenant),
        None => caller.token.tenants.is_none(),
    }
}

async fn list(State(state): State<AdminState>, caller: Caller, RawQuery(raw): RawQuery) -> Answer {
    let params = query(raw.as_deref(), &["flow", "limit"])?;
    let limit = number_param(&params, "limit", 1, 1000)?.unwrap_or(50) as usize;
    let tenants = flow_tenants(&state);
    let flow = params.get("flow");
    if let Some(flow) = flow
        && !sees_flow(&caller, &tenants, flow)
    {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("flow: there is no flow {flow:?}"),
        ));
    }
    // Filtering after the read can return fewer than `limit`; read more to make up for it.
    let read = if flow.is_some() || caller.token.tenants.is_none() {
        limit
    } else {
        limit * 4
    };
    let runs = state
        .engine
        .store
        .runs(flow.map(String::as_str), read)
        .await
        .map_err(store_error)?;
    let seen: Vec<_> = runs
        .into_iter()
        .filter(|r| sees_flow(&caller, &tenants, &r.flow))
        .take(limit)
        .collect();
    Ok(Json(json!(seen)).into_response())
}
