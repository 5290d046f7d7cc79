//! The outbox and its dead letters.
//!
//! - `GET /api/v1/outbox?status=&flow=&before_id=&limit=`: messages newest first, without payloads.
//! - `POST /api/v1/outbox/{id}/retry` (admin): a dead letter back to pending, due now.
//! - `POST /api/v1/outbox/{id}/discard` (admin): a dead letter deleted for good.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use wfm_store::{OutboxFilter, OutboxMessage, OutboxStatus};

use super::auth::Caller;
use super::runs::{flow_tenants, sees_flow};
use super::{AdminState, Answer, error, number_param, query, store_error};

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/outbox", get(list))
        .route("/api/v1/outbox/{id}/retry", post(retry))
        .route("/api/v1/outbox/{id}/discard", post(discard))
}

fn status(text: &str) -> Option<OutboxStatus> {
    [
        OutboxStatus::Pending,
        OutboxStatus::Sent,
        OutboxStatus::Dead,
        OutboxStatus::Superseded,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
}

async fn list(State(state): State<AdminState>, caller: Caller, RawQuery(raw): RawQuery) -> Answer {
    let params = query(raw.as_deref(), &["status", "flow", "before_id", "limit"])?;
    let limit = number_param(&params, "limit", 1, 1000)?.unwrap_or(100) as usize;
    let before_id = number_param(&params, "before_id", 1, i64::MAX)?;
    let statuses = match params.get("status") {
        None => Vec::new(),
        Some(text) => vec![status(text).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                format!("status: {text:?} is not one of pending, sent, dead, superseded"),
            )
        })?],
    };
    let tenants = flow_tenants(&state);
    let flow = params.get("flow").cloned();
    if let Some(flow) = &flow
        && !sees_flow(&caller, &tenants, flow)
    {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("flow: there is no flow {flow:?}"),
        ));
    }
    let everything = flow.is_some() || caller.token.tenants.is_none();
    let filter = OutboxFilter {
        flow,
        statuses,
        before_id,
        limit: if everything { limit } else { limit * 4 },
    };
    let messages = state
        .engine
        .store
        .outbox(&filter)
        .await
        .map_err(store_error)?;
    let seen: Vec<_> = messages
        .into_iter()
        .filter(|m| sees_flow(&caller, &tenants, &m.flow))
        .take(limit)
        .collect();
    Ok(Json(json!(seen)).into_response())
}

/// The message of an id, if the caller sees its flow.
async fn visible(state: &AdminState, caller: &Caller, id: i64) -> Result<OutboxMessage, Response> {
    let found = state
        .engine
        .store
        .outbox(&OutboxFilter {
            before_id: id.checked_add(1),
            limit: 1,
            ..OutboxFilter::default()
        })
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|m| m.id == id);
    let tenants = flow_tenants(state);
    match found {
        Some(m) if sees_flow(caller, &tenants, &m.flow) => Ok(m),
        _ => Err(error(
            StatusCode::NOT_FOUND,
            format!("there is no outbox message {id}"),
        )),
    }
}

fn parse_id(text: &str) -> Result<i64, Response> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                format!("id: {text:?} is not a message id (a whole number from 1)"),
            )
        })
}

async fn change(state: AdminState, caller: Caller, id: String, retry: bool) -> Answer {
    caller.may_change()?;
    let id = parse_id(&id)?;
    let message = visible(&state, &caller, id).await?;
    if message.status != OutboxStatus::Dead {
        return Err(error(
            StatusCode::CONFLICT,
            format!(
                "message {id} is {}, not a dead letter; only dead letters can be retried or discarded",
                message.status.as_str()
            ),
        ));
    }
    let store = &state.engine.store;
    let done = if retry {
        store.retry_dead(id, wfm_engine::now_ms()).await
    } else {
        store.discard_dead(id).await
    };
    if !done.map_err(store_error)? {
        return Err(error(
            StatusCode::CONFLICT,
            format!("message {id} is no longer a dead letter"),
        ));
    }
    tracing::info!(id, flow = %message.flow, action = if retry { "retry" } else { "discard" }, "dead letter handled through the admin API");
    Ok(
        Json(json!({"id": id, "status": if retry { "pending" } else { "discarded" }}))
            .into_response(),
    )
}

async fn retry(State(state): State<AdminState>, caller: Caller, Path(id): Path<String>) -> Answer {
    change(state, caller, id, true).await
}

async fn discard(
    State(state): State<AdminState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Answer {
    change(state, caller, id, false).await
}
