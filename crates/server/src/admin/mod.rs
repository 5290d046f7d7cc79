//! The admin API (`/api/v1/…`) and the web console (`/console/`).
//!
//! One module per resource, each with its handlers and its routes: [`tenants`], [`accounts`]
//! (with the account types), [`flows`], [`runs`], [`outbox`] (dead letters), [`states`] (the live
//! agent board), [`statistics`] (interval statistics of a queue), [`directory`] (the directory
//! change log), [`forecasts`] (forecast vs actual of a queue); [`openapi`] serves the OpenAPI 3
//! document, [`console`] the embedded web console. New resources are a new module whose
//! `routes()` is merged in [`router`].
//!
//! Every request but the OpenAPI document and the console's static files needs
//! `Authorization: Bearer <token>` of an `[[admin_tokens]]` entry ([`auth`]): no token or an
//! unknown one is 401, a viewer's change is 403, and a token sees only its tenants (other tenants'
//! accounts, flows, runs and messages are left out of lists and are 404 by name). Every error is
//! `{"error": "..."}` and names the field or the thing it is about.

// Helpers of handlers return the finished error response: it is built once per refused request,
// so its size on the stack does not matter, and one error shape for every helper keeps handlers
// plain.
#![allow(clippy::result_large_err)]

pub mod accounts;
pub mod auth;
pub mod console;
pub mod directory;
pub mod flows;
pub mod forecasts;
pub mod openapi;
pub mod outbox;
pub mod runs;
pub mod states;
pub mod statistics;
pub mod tenants;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wfm_engine::Engine;
use wfm_engine::admin::AdminError;

/// What the admin handlers share: the running engine (its configuration, store, catalog).
#[derive(Clone)]
pub struct AdminState {
    /// The engine.
    pub engine: Arc<Engine>,
}

/// The admin API's routes, under `/api/v1`, and the console's, under `/console`.
pub fn router(engine: Arc<Engine>) -> Router {
    let state = AdminState { engine };
    Router::new()
        .merge(tenants::routes())
        .merge(accounts::routes())
        .merge(flows::routes())
        .merge(runs::routes())
        .merge(outbox::routes())
        .merge(states::routes())
        .merge(statistics::routes())
        .merge(directory::routes())
        .merge(forecasts::routes())
        .merge(openapi::routes())
        .with_state(state)
        .merge(console::routes())
}

/// What a handler answers: the response, or the refusal that stopped it early, so that handlers
/// can use `?` on each check.
pub type Answer = Result<Response, Response>;

/// Today's date where the tenant is (UTC for a tenant without a valid zone): the default day of
/// the statistics and forecast reads.
pub fn tenant_today(state: &AdminState, tenant: &str) -> jiff::civil::Date {
    let zone = state
        .engine
        .config
        .tenant(tenant)
        .and_then(|t| t.tenant.zone().ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::Timestamp::now().to_zoned(zone).date()
}

/// A JSON error response: `{"error": message}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The response of a refused admin change.
pub fn admin_error(e: AdminError) -> Response {
    match e {
        AdminError::Invalid(field) => error(StatusCode::UNPROCESSABLE_ENTITY, field.to_string()),
        AdminError::NotFound(m) => error(StatusCode::NOT_FOUND, m),
        AdminError::ReadOnly(m) | AdminError::Conflict(m) => error(StatusCode::CONFLICT, m),
        AdminError::Store(e) => store_error(e),
    }
}

/// The store failed: 503, with what was being done (store errors never hold secrets).
pub fn store_error(e: wfm_store::StoreError) -> Response {
    tracing::warn!(error = %e, "admin API: the store failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the store failed: {e}"),
    )
}

/// A JSON request body, parsed by hand so that every problem is a JSON error naming it.
pub fn json_body(body: &[u8]) -> Result<Value, Response> {
    if body.is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "body: a JSON object is required",
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("body: not JSON: {e}")))?;
    if !value.is_object() {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "body: must be a JSON object",
        ));
    }
    Ok(value)
}

/// Query parameters, parsed by hand: unknown ones are refused, naming them.
pub fn query(raw: Option<&str>, known: &[&str]) -> Result<HashMap<String, String>, Response> {
    let mut out = HashMap::new();
    let Some(raw) = raw else { return Ok(out) };
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k);
        if !known.contains(&k.as_str()) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "{k}: unknown query parameter; known here: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        out.insert(k, percent_decode(v));
    }
    Ok(out)
}

/// A whole-number query parameter within `min..=max`.
pub fn number_param(
    params: &HashMap<String, String>,
    name: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Response> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(error(
                StatusCode::BAD_REQUEST,
                format!("{name}: {text:?} is not a whole number from {min} to {max}"),
            )),
        },
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded_and_unknown_ones_refused() {
        let params = query(
            Some("flow=a%20b&limit=5&status=dead+x"),
            &["flow", "limit", "status"],
        )
        .unwrap();
        assert_eq!(params["flow"], "a b");
        assert_eq!(params["status"], "dead x");
        assert_eq!(number_param(&params, "limit", 1, 10).unwrap(), Some(5));
        assert!(number_param(&params, "limit", 6, 10).is_err());
        assert!(query(Some("colour=red"), &["flow"]).is_err());
        // A lone or broken escape stays as it is.
        assert_eq!(query(Some("flow=100%"), &["flow"]).unwrap()["flow"], "100%");
        assert_eq!(query(Some("flow=%zz"), &["flow"]).unwrap()["flow"], "%zz");
        assert!(query(None, &[]).unwrap().is_empty());
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(json_body(b"").is_err());
        assert!(json_body(b"[1]").is_err());
        assert!(json_body(b"{nope").is_err());
        assert_eq!(json_body(br#"{"a": 1}"#).unwrap()["a"], 1);
    }
}
