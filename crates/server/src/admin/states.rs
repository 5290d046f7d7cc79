//! `GET /api/v1/tenants/{tenant}/agent-states`: every agent's current state (the live board),
//! from the store's latest state event per agent, which the ingest API commits before it answers.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::Caller;
use super::{AdminState, Answer, store_error};

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new().route("/api/v1/tenants/{tenant}/agent-states", get(board))
}

async fn board(
    State(state): State<AdminState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Answer {
    caller.tenant(&state, &tenant)?;
    let events = state
        .engine
        .store
        .latest_states(&tenant)
        .await
        .map_err(store_error)?;
    let board = events
        .into_iter()
        .map(|e| {
            json!({
                "agent": e.agent,
                "state": e.state,
                "reason": e.reason,
                "since": e.at.to_string(),
            })
        })
        .collect();
    Ok(Json(Value::Array(board)).into_response())
}
