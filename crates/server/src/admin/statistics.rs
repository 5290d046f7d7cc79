//! Queues and their interval statistics (DESIGN §5), computed from the store on request.
//!
//! - `GET /api/v1/tenants/{tenant}/queues`: the tenant's queues.
//! - `GET /api/v1/tenants/{tenant}/queues/{queue}/statistics?from=YYYY-MM-DD&to=YYYY-MM-DD`: the
//!   queue's rows, one per interval of the local dates `from..=to` (at most 31 days; default: today
//!   in the tenant's time zone).

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::Date;
use serde_json::{Value, json};
use wfm_engine::statistics::{StatisticsError, compute};
use wfm_model::{Record, RecordKind};

use super::auth::Caller;
use super::{AdminState, Answer, error, query, store_error, tenant_today};

/// Days one request may cover.
const MAX_DAYS: i32 = 31;

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/tenants/{tenant}/queues", get(queues))
        .route(
            "/api/v1/tenants/{tenant}/queues/{queue}/statistics",
            get(statistics),
        )
}

async fn queues(
    State(state): State<AdminState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Answer {
    caller.tenant(&state, &tenant)?;
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .engine
            .store
            .read_page(RecordKind::Queues, Some(&tenant), after.as_ref(), 1000)
            .await
            .map_err(store_error)?;
        after = page.last().map(wfm_store::NaturalKey::of);
        let full = page.len() == 1000;
        out.extend(page.into_iter().filter_map(|r| match r {
            Record::Queue(q) => Some(json!({
                "queue": q.queue,
                "name": q.name,
                "sl_seconds": q.sl_seconds,
                "short_abandon_seconds": q.short_abandon_seconds,
            })),
            _ => None,
        }));
        if !full {
            break;
        }
    }
    Ok(Json(Value::Array(out)).into_response())
}

fn date(name: &str, text: &str) -> Result<Date, Response> {
    text.parse::<Date>().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            format!("{name}: {text:?} is not a date; write YYYY-MM-DD"),
        )
    })
}

async fn statistics(
    State(state): State<AdminState>,
    caller: Caller,
    Path((tenant, queue)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    caller.tenant(&state, &tenant)?;
    let params = query(raw.as_deref(), &["from", "to"])?;
    let from = match params.get("from") {
        Some(text) => date("from", text)?,
        None => tenant_today(&state, &tenant),
    };
    let to = match params.get("to") {
        Some(text) => date("to", text)?,
        None => from,
    };
    if to < from {
        return Err(error(StatusCode::BAD_REQUEST, "to: is before from"));
    }
    let days = from
        .until(to)
        .map(|span| span.get_days())
        .unwrap_or(i32::MAX);
    if days >= MAX_DAYS {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("to: the window is longer than {MAX_DAYS} days; ask for less"),
        ));
    }
    let stats = compute(&*state.engine.store, &tenant, from, to, None)
        .await
        .map_err(|e| match e {
            StatisticsError::Store(e) => store_error(e),
            e => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        })?;
    let rows: Vec<Value> = stats
        .queue_rows
        .iter()
        .filter(|r| &*r.queue == queue.as_str())
        .map(|r| json!(r))
        .collect();
    Ok(Json(json!({
        "tenant": tenant,
        "queue": queue,
        "from": from.to_string(),
        "to": to.to_string(),
        "interval_minutes": stats.interval_minutes,
        "rows": rows,
    }))
    .into_response())
}
