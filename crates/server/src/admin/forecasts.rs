//! `GET /api/v1/tenants/{tenant}/queues/{queue}/forecast?from=YYYY-MM-DD&days=N&method=`: the
//! forecast contacts (and handle time) of a queue per interval, with the contacts actually
//! offered in the intervals that have ended. The numbers are those of
//! `wfm-bridge forecast predict --tenant T --queue Q`: both call
//! [`wfm_engine::forecasts::queue_forecast`] (history: the 70 days before `from`; interval: the
//! tenant's).

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use jiff::civil::Date;
use serde_json::json;
use wfm_engine::forecasts::{
    DEFAULT_HISTORY_DAYS, QueueForecastError, QueueSeriesSpec, queue_forecast,
};
use wfm_forecast::{ForecastConfig, Method, MethodChoice};

use super::auth::Caller;
use super::{AdminState, Answer, error, number_param, query, store_error, tenant_today};

/// Days one request may forecast.
const MAX_DAYS: i64 = 31;

/// The routes of this module.
pub fn routes() -> Router<AdminState> {
    Router::new().route(
        "/api/v1/tenants/{tenant}/queues/{queue}/forecast",
        get(queue),
    )
}

async fn queue(
    State(state): State<AdminState>,
    caller: Caller,
    Path((tenant, queue)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    caller.tenant(&state, &tenant)?;
    let params = query(raw.as_deref(), &["from", "days", "method"])?;
    let from = match params.get("from") {
        None => tenant_today(&state, &tenant),
        Some(text) => text.parse::<Date>().map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("from: {text:?} is not a date; write YYYY-MM-DD"),
            )
        })?,
    };
    let days = number_param(&params, "days", 1, MAX_DAYS)?.unwrap_or(7) as u32;
    let method = match params.get("method").map(String::as_str) {
        None | Some("auto") => MethodChoice::Auto,
        Some(name) => MethodChoice::Fixed(Method::parse(name).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                format!("method: {name:?} is not auto, baseline, profile or last_week"),
            )
        })?),
    };
    let queues = [queue.clone()];
    let spec = QueueSeriesSpec {
        tenant: &tenant,
        queues: &queues,
        interval: None,
        history_days: DEFAULT_HISTORY_DAYS,
        until: from,
        extra_days: 0,
        closed: &[],
    };
    let config = ForecastConfig {
        method,
        ..ForecastConfig::default()
    };
    let forecast = queue_forecast(
        &*state.engine.store,
        &spec,
        days,
        &config,
        jiff::Timestamp::now(),
    )
    .await
    .map_err(|e| match e {
        QueueForecastError::Store(e) => store_error(e),
        QueueForecastError::Range(name) => error(
            StatusCode::BAD_REQUEST,
            format!("{name}: the period reaches outside the calendar"),
        ),
        e => error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
    })?;
    Ok(Json(json!({
        "tenant": tenant,
        "queue": queue,
        "from": from.to_string(),
        "days": days,
        "interval_minutes": forecast.interval_minutes,
        "method": forecast.forecast.method.as_str(),
        "intervals": forecast.intervals,
    }))
    .into_response())
}
