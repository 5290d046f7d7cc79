//! Flows: list, get, create, edit, enable/disable, delete, run now; each with its last runs.
//!
//! - `GET /api/v1/flows` (each with `last_run`), `POST /api/v1/flows` (admin).
//! - `GET|PUT|DELETE /api/v1/flows/{name}` (changes: admin; file flows: 409).
//! - `POST /api/v1/flows/{name}/enable`, `…/disable` (admin; API flows).
//! - `POST /api/v1/flows/{name}/run` (admin; any flow): runs it once now, returns how it ended.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use wfm_engine::catalog::{CatalogFlow, flow_json};
use wfm_engine::runner::RunReport;

use super::auth::Caller;
use super::{AdminState, Answer, admin_error, error, json_body, store_error};

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/flows", get(list).post(create))
        .route("/api/v1/flows/{name}", get(show).put(update).delete(remove))
        .route("/api/v1/flows/{name}/enable", post(enable))
        .route("/api/v1/flows/{name}/disable", post(disable))
        .route("/api/v1/flows/{name}/run", post(run))
}

/// The flow of a name the caller sees, else 404.
pub fn visible(state: &AdminState, caller: &Caller, name: &str) -> Result<CatalogFlow, Response> {
    state
        .engine
        .catalog_flows()
        .into_iter()
        .find(|f| f.flow.name == name && caller.sees(&f.flow.tenant))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("there is no flow {name:?}")))
}

async fn with_last_run(state: &AdminState, flow: &CatalogFlow) -> Result<Value, Response> {
    let runs = state
        .engine
        .store
        .runs(Some(&flow.flow.name), 1)
        .await
        .map_err(store_error)?;
    let mut doc = flow_json(flow);
    doc["last_run"] = match runs.first() {
        Some(run) => json!(run),
        None => Value::Null,
    };
    Ok(doc)
}

async fn list(State(state): State<AdminState>, caller: Caller) -> Answer {
    let mut out = Vec::new();
    for flow in state
        .engine
        .catalog_flows()
        .iter()
        .filter(|f| caller.sees(&f.flow.tenant))
    {
        out.push(with_last_run(&state, flow).await?);
    }
    Ok(Json(Value::Array(out)).into_response())
}

async fn show(State(state): State<AdminState>, caller: Caller, Path(name): Path<String>) -> Answer {
    let flow = visible(&state, &caller, &name)?;
    Ok(Json(with_last_run(&state, &flow).await?).into_response())
}

fn check_tenant(caller: &Caller, doc: &Value) -> Result<(), Response> {
    match doc.get("tenant").and_then(Value::as_str) {
        Some(t) if !caller.sees(t) => Err(error(
            StatusCode::FORBIDDEN,
            format!("tenant: this token may not manage tenant {t:?}"),
        )),
        _ => Ok(()),
    }
}

/// A saved flow as the response shows it (a new flow has no runs yet).
async fn saved(state: &AdminState, flow: CatalogFlow, status: StatusCode) -> Answer {
    Ok((status, Json(with_last_run(state, &flow).await?)).into_response())
}

async fn create(State(state): State<AdminState>, caller: Caller, body: Bytes) -> Answer {
    caller.may_change()?;
    let doc = json_body(&body)?;
    check_tenant(&caller, &doc)?;
    let flow = state.engine.create_flow(&doc).await.map_err(admin_error)?;
    saved(&state, flow, StatusCode::CREATED).await
}

async fn update(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    caller.may_change()?;
    visible(&state, &caller, &name)?;
    let doc = json_body(&body)?;
    check_tenant(&caller, &doc)?;
    let flow = state
        .engine
        .update_flow(&name, &doc)
        .await
        .map_err(admin_error)?;
    saved(&state, flow, StatusCode::OK).await
}

async fn remove(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    caller.may_change()?;
    visible(&state, &caller, &name)?;
    state.engine.delete_flow(&name).await.map_err(admin_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_enabled(state: AdminState, caller: Caller, name: String, enabled: bool) -> Answer {
    caller.may_change()?;
    visible(&state, &caller, &name)?;
    let flow = state
        .engine
        .set_flow_enabled(&name, enabled)
        .await
        .map_err(admin_error)?;
    saved(&state, flow, StatusCode::OK).await
}

async fn enable(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    set_enabled(state, caller, name, true).await
}

async fn disable(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    set_enabled(state, caller, name, false).await
}

async fn run(State(state): State<AdminState>, caller: Caller, Path(name): Path<String>) -> Answer {
    caller.may_change()?;
    visible(&state, &caller, &name)?;
    Ok(
        match state.engine.run_now(&name).await.map_err(admin_error)? {
            RunReport::Busy => error(
                StatusCode::CONFLICT,
                format!(
                    "a run of flow {name:?} is in progress (a continuous flow runs all the time while it is enabled); try again when it ends"
                ),
            ),
            RunReport::Ended { id, counts, error } => Json(json!({
                "run": id,
                "read": counts.read,
                "sent": counts.sent,
                "rejected": counts.rejected,
                "error": error,
            }))
            .into_response(),
        },
    )
}
