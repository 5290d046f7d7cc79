//! Forecasts of a tenant's queues from the store, on request: the one path that both
//! `wfm-bridge forecast predict --tenant T --queue Q` and the admin API's
//! `GET /api/v1/tenants/{tenant}/queues/{queue}/forecast` take, so that the two give the same
//! numbers for the same range.
//!
//! The series is the contacts offered to the queues (summed) in the tenant's time zone, read by
//! [`offered_history`](crate::flows::forecast::offered_history) as the `forecast` flow reads it;
//! the forecasting itself is `wfm_forecast`'s.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use wfm_forecast::{Calendar, Forecast, ForecastConfig, IntervalSeries, forecast};
use wfm_model::{IntervalGrid, IntervalLength};
use wfm_store::{Store, StoreError};

use crate::flows::forecast::offered_history;

/// Days of history a forecast learns from unless told otherwise (ten weeks: enough for the
/// backtest that chooses the method).
pub const DEFAULT_HISTORY_DAYS: u32 = 70;

/// Why a queue's forecast could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QueueForecastError {
    /// The tenant is not in the store.
    #[error("tenant {0:?} is not in the store (import its tenants file first)")]
    UnknownTenant(String),
    /// The tenant's record cannot give an interval grid.
    #[error("tenant {tenant}: {message}")]
    Tenant {
        /// The tenant.
        tenant: String,
        /// What is wrong.
        message: String,
    },
    /// The requested window reaches outside the calendar.
    #[error("{0}: the period reaches outside the calendar")]
    Range(&'static str),
    /// No contacts were offered in the history window.
    #[error("{name}: no contacts offered from {start} to {until} in the store")]
    NoHistory {
        /// The series' name (tenant and queues).
        name: String,
        /// First day of the history.
        start: Date,
        /// First day after it.
        until: Date,
    },
    /// The series could not be built.
    #[error("{name}: cannot build the series: {message}")]
    Series {
        /// The series' name.
        name: String,
        /// Why.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to forecast: queues of a tenant, and the history the forecast learns from.
#[derive(Debug, Clone)]
pub struct QueueSeriesSpec<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// Its queue ids (several are summed).
    pub queues: &'a [String],
    /// Interval length of the series (`None`: the tenant's).
    pub interval: Option<IntervalLength>,
    /// Days of history before `until`.
    pub history_days: u32,
    /// First day not part of the history.
    pub until: Date,
    /// Days from `until` on read too (the actuals a chart compares with).
    pub extra_days: u32,
    /// Dates the center is closed.
    pub closed: &'a [Date],
}

/// A queue series read from the store.
#[derive(Debug)]
pub struct QueueSeries {
    /// The series.
    pub series: IntervalSeries,
    /// Its name, for messages: `tenant T, queue Q`.
    pub name: String,
}

/// Reads the contacts offered to the queues of a tenant from the store into a series on the
/// tenant's grid (in its time zone, at `spec.interval`).
pub async fn queue_series(
    store: &dyn Store,
    spec: &QueueSeriesSpec<'_>,
) -> Result<QueueSeries, QueueForecastError> {
    let tenant = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == spec.tenant)
        .ok_or_else(|| QueueForecastError::UnknownTenant(spec.tenant.to_string()))?;
    let grid = tenant.grid().map_err(|e| QueueForecastError::Tenant {
        tenant: spec.tenant.to_string(),
        message: e.to_string(),
    })?;
    let grid = IntervalGrid::new(grid.zone().clone(), spec.interval.unwrap_or(grid.length()));
    let first = spec
        .until
        .checked_sub(jiff::Span::new().days(i64::from(spec.history_days)))
        .map_err(|_| QueueForecastError::Range("history_days"))?;
    let start = grid.day_start(first);
    let end = grid.day_start(
        spec.until
            .checked_add(jiff::Span::new().days(i64::from(spec.extra_days)))
            .map_err(|_| QueueForecastError::Range("days"))?,
    );
    let group: BTreeMap<String, String> = spec
        .queues
        .iter()
        .map(|q| (q.clone(), "series".to_string()))
        .collect();
    let (mut observations, _) = offered_history(store, spec.tenant, &group, start, end).await?;
    let name = format!("tenant {}, queue {}", spec.tenant, spec.queues.join("+"));
    let observations = observations.remove("series").unwrap_or_default();
    if observations.is_empty() {
        return Err(QueueForecastError::NoHistory {
            name,
            start: first,
            until: spec.until,
        });
    }
    let calendar = Calendar::with_closed(spec.closed.iter().copied());
    let series = IntervalSeries::build(grid, calendar, observations).map_err(|e| {
        QueueForecastError::Series {
            name: name.clone(),
            message: e.to_string(),
        }
    })?;
    Ok(QueueSeries { series, name })
}

/// One interval of a queue's forecast with what actually came, where it is known.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueueForecastInterval {
    /// First instant of the interval (RFC 3339, UTC).
    pub start: Timestamp,
    /// Forecast contacts offered.
    pub forecast_contacts: f64,
    /// Forecast average handle time in seconds, when the history has handle time.
    pub forecast_aht_s: Option<f64>,
    /// Contacts actually offered, for intervals that have ended (`None` for the future).
    pub actual_contacts: Option<f64>,
}

/// A queue's forecast for `days` days from `from`, with the actual offered contacts of the
/// intervals that have ended by `now`.
#[derive(Debug)]
pub struct QueueForecast {
    /// The forecast (method, backtest, points).
    pub forecast: Forecast,
    /// The points with their actuals, in time order.
    pub intervals: Vec<QueueForecastInterval>,
    /// Interval length in minutes.
    pub interval_minutes: u32,
}

/// Forecasts the queues from their history before `spec.until` (the forecast's first day) for
/// `days` days, as `forecast predict --tenant --queue` does, and adds the actual contacts of the
/// intervals that ended before `now`.
pub async fn queue_forecast(
    store: &dyn Store,
    spec: &QueueSeriesSpec<'_>,
    days: u32,
    config: &ForecastConfig,
    now: Timestamp,
) -> Result<QueueForecast, QueueForecastError> {
    let history = QueueSeriesSpec {
        extra_days: 0,
        ..spec.clone()
    };
    let loaded = queue_series(store, &history).await?;
    let f = forecast(&loaded.series, spec.until, days, config);
    // The actuals of the same window, counted into the forecast's intervals.
    let mut actual = vec![0.0f64; f.points.len()];
    if let (Some(first), Some(last)) = (f.points.first(), f.points.last()) {
        let group: BTreeMap<String, String> = spec
            .queues
            .iter()
            .map(|q| (q.clone(), "series".to_string()))
            .collect();
        let end = last.end.min(now);
        if first.start < end {
            let (observations, _) =
                offered_history(store, spec.tenant, &group, first.start, end).await?;
            for o in observations.get("series").into_iter().flatten() {
                let i = f.points.partition_point(|p| p.end <= o.start);
                if let Some(p) = f.points.get(i)
                    && p.start <= o.start
                {
                    actual[i] += o.count;
                }
            }
        }
    }
    let intervals = f
        .points
        .iter()
        .zip(actual)
        .map(|(p, a)| QueueForecastInterval {
            start: p.start,
            forecast_contacts: p.contacts,
            forecast_aht_s: p.aht_s,
            actual_contacts: (p.end <= now).then_some(a),
        })
        .collect();
    Ok(QueueForecast {
        forecast: f,
        intervals,
        interval_minutes: loaded.series.grid().length().minutes(),
    })
}
