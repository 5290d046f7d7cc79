//! Account types and integration accounts: list, get, create, edit, delete, test connection.
//!
//! - `GET /api/v1/account-types`: every type with its property schema.
//! - `GET /api/v1/accounts`, `POST /api/v1/accounts` (admin).
//! - `GET|PUT|DELETE /api/v1/accounts/{name}` (changes: admin; file accounts: 409).
//! - `POST /api/v1/accounts/{name}/test`: the type's connection check, `{ok, message}`.
//!
//! Secrets are write-only: responses show `"********"`; a PUT that sends `"********"` back or
//! leaves a secret out keeps the stored one.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use wfm_connectors::accounts::account_types;
use wfm_engine::catalog::{CatalogAccount, account_json, account_type_json};

use super::auth::Caller;
use super::{AdminState, Answer, admin_error, error, json_body};

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/account-types", get(types))
        .route("/api/v1/accounts", get(list).post(create))
        .route(
            "/api/v1/accounts/{name}",
            get(show).put(update).delete(remove),
        )
        .route("/api/v1/accounts/{name}/test", post(test))
}

async fn types(_caller: Caller) -> Json<Value> {
    Json(Value::Array(
        account_types().iter().map(account_type_json).collect(),
    ))
}

async fn list(State(state): State<AdminState>, caller: Caller) -> Json<Value> {
    Json(Value::Array(
        state
            .engine
            .catalog_accounts()
            .iter()
            .filter(|a| caller.sees_owner(a.account.tenant.as_deref()))
            .map(account_json)
            .collect(),
    ))
}

/// The account of a name the caller sees, else 404.
pub fn visible(
    state: &AdminState,
    caller: &Caller,
    name: &str,
) -> Result<CatalogAccount, Response> {
    state
        .engine
        .catalog_accounts()
        .into_iter()
        .find(|a| a.account.name == name && caller.sees_owner(a.account.tenant.as_deref()))
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                format!("there is no account {name:?}"),
            )
        })
}

/// Refuses a document whose tenant the caller does not see.
fn check_tenant(caller: &Caller, doc: &Value) -> Result<(), Response> {
    let tenant = doc.get("tenant").and_then(Value::as_str);
    if caller.sees_owner(tenant) {
        return Ok(());
    }
    Err(error(
        StatusCode::FORBIDDEN,
        match tenant {
            Some(t) => format!("tenant: this token may not manage tenant {t:?}"),
            None => "tenant: this token is limited to some tenants; set one of them".to_string(),
        },
    ))
}

async fn show(State(state): State<AdminState>, caller: Caller, Path(name): Path<String>) -> Answer {
    let account = visible(&state, &caller, &name)?;
    Ok(Json(account_json(&account)).into_response())
}

async fn create(State(state): State<AdminState>, caller: Caller, body: Bytes) -> Answer {
    caller.may_change()?;
    let doc = json_body(&body)?;
    check_tenant(&caller, &doc)?;
    let account = state
        .engine
        .create_account(&doc)
        .await
        .map_err(admin_error)?;
    Ok((StatusCode::CREATED, Json(account_json(&account))).into_response())
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
    let account = state
        .engine
        .update_account(&name, &doc)
        .await
        .map_err(admin_error)?;
    Ok(Json(account_json(&account)).into_response())
}

async fn remove(
    State(state): State<AdminState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    caller.may_change()?;
    visible(&state, &caller, &name)?;
    state
        .engine
        .delete_account(&name)
        .await
        .map_err(admin_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn test(State(state): State<AdminState>, caller: Caller, Path(name): Path<String>) -> Answer {
    visible(&state, &caller, &name)?;
    let verdict = state
        .engine
        .test_account(&name)
        .await
        .map_err(admin_error)?;
    Ok(Json(verdict).into_response())
}
