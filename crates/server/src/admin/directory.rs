//! `GET /api/v1/tenants/{tenant}/directory/log?flow=&limit=&before_id=`: the directory change
//! log of a tenant (what the `directory` flows found and what their policy did), newest first.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use wfm_store::DirectoryLogFilter;

use super::auth::Caller;
use super::{AdminState, Answer, error, number_param, query, store_error};

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new().route("/api/v1/tenants/{tenant}/directory/log", get(log))
}

async fn log(
    State(state): State<AdminState>,
    caller: Caller,
    Path(tenant): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    caller.tenant(&state, &tenant)?;
    let params = query(raw.as_deref(), &["flow", "limit", "before_id"])?;
    let limit = number_param(&params, "limit", 1, 1000)?.unwrap_or(100) as usize;
    let before_id = number_param(&params, "before_id", 1, i64::MAX)?;
    let flow = params.get("flow").cloned();
    if let Some(flow) = &flow {
        // A flow of another tenant is as unknown as one that never existed; a flow no longer
        // configured may still have entries, so only a flow configured elsewhere is refused.
        let elsewhere = state
            .engine
            .catalog_flows()
            .into_iter()
            .any(|f| &f.flow.name == flow && f.flow.tenant != tenant);
        if elsewhere {
            return Err(error(
                StatusCode::NOT_FOUND,
                format!("flow: there is no flow {flow:?} of tenant {tenant:?}"),
            ));
        }
    }
    let filter = DirectoryLogFilter {
        tenant: Some(tenant),
        flow,
        before_id,
        limit,
    };
    let entries = state
        .engine
        .store
        .directory_log(&filter)
        .await
        .map_err(store_error)?;
    Ok(Json(json!(entries)).into_response())
}
