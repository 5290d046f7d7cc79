//! The HTTP server of wfm-bridge: the ingest API, health, readiness and Prometheus metrics; the admin
//! API and console join later.
//!
//! - `POST /api/v1/tenants/{tenant}/states`: pushed agent states (see [`ingest`]).
//! - `POST /api/v1/tenants/{tenant}/agents|queues|teams`: the pushed directory (see [`push`]).
//! - `/scim/v2/…`: the SCIM 2.0 server (see [`scim`]).
//! - `GET /healthz`: the process is up (200).
//! - `GET /readyz`: the store answers within two seconds (200), else 503 with the reason.
//! - `GET /metrics`: the engine's metrics in the Prometheus text format.
//! - `/api/v1/…` (admin API) and `/console/` (web console): see [`admin`].

// The hand-written OpenAPI document (admin/openapi.rs) is one deep json! literal.
#![recursion_limit = "512"]

pub mod admin;
pub mod ingest;
pub mod push;
pub mod scim;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use ingest::TenantTokens;
use tokio::net::TcpListener;
use wfm_engine::ingest::StateIngest;
use wfm_engine::metrics::Metrics;
use wfm_store::Store;

/// How long `/readyz` waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The engine's metrics.
    pub metrics: Arc<Metrics>,
    /// The writer of pushed agent states.
    pub ingest: Option<StateIngest>,
    /// Ingest tokens of the configured tenants.
    pub tokens: Arc<TenantTokens>,
    /// The running engine, for the admin API and console (absent: they are not served).
    pub engine: Option<Arc<wfm_engine::Engine>>,
}

/// The routes of the server.
pub fn router(state: AppState) -> Router {
    let admin = match &state.engine {
        Some(engine) => admin::router(engine.clone()),
        None => Router::new(),
    };
    Router::new()
        .route(
            "/api/v1/tenants/{tenant}/states",
            post(ingest::post_states).layer(DefaultBodyLimit::max(ingest::MAX_BODY)),
        )
        .route(
            "/api/v1/tenants/{tenant}/agents",
            post(push::post_agents).layer(DefaultBodyLimit::max(ingest::MAX_BODY)),
        )
        .route(
            "/api/v1/tenants/{tenant}/queues",
            post(push::post_queues).layer(DefaultBodyLimit::max(ingest::MAX_BODY)),
        )
        .route(
            "/api/v1/tenants/{tenant}/teams",
            post(push::post_teams).layer(DefaultBodyLimit::max(ingest::MAX_BODY)),
        )
        .nest("/scim/v2", scim::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(admin)
        .fallback(not_found)
}

/// Anything else: a JSON 404, like every other error of the API.
async fn not_found(uri: axum::http::Uri) -> impl IntoResponse {
    admin::error(
        StatusCode::NOT_FOUND,
        format!("there is nothing at {}", uri.path()),
    )
}

/// Serves until `shutdown` completes, then finishes the requests in progress.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    match tokio::time::timeout(READY_TIMEOUT, state.store.tenants()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n".to_string()),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {} fails: {e}\n", state.store.describe()),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: {} did not answer within {READY_TIMEOUT:?}\n",
                state.store.describe()
            ),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.outbox_depth().await {
        Ok(depth) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            state.metrics.render(&depth, wfm_engine::now_ms()),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot read the outbox depth: {e}\n"),
        ),
    }
}
