//! `GET /api/v1/me` (who the token is) and `GET /api/v1/tenants` (the tenants it sees).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::AdminState;
use super::auth::Caller;

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/tenants", get(list))
}

async fn me(caller: Caller) -> Json<Value> {
    Json(json!({
        "name": caller.token.name,
        "role": caller.token.role,
        "tenants": caller.token.tenants.clone().unwrap_or_else(|| vec!["*".to_string()]),
    }))
}

async fn list(State(state): State<AdminState>, caller: Caller) -> Json<Value> {
    let tenants: Vec<Value> = state
        .engine
        .config
        .tenants
        .iter()
        .filter(|t| caller.sees(&t.tenant.tenant))
        .map(|t| {
            json!({
                "id": t.tenant.tenant,
                "name": t.tenant.name,
                "time_zone": t.tenant.time_zone,
                "interval_minutes": t.tenant.interval_minutes.minutes(),
            })
        })
        .collect();
    Json(Value::Array(tenants))
}
