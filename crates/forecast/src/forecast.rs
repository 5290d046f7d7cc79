//! Forecasts of the days ahead: the chosen method applied day by day, written on the tenant's grid as
//! UTC intervals with their local labels.
//!
//! A forecast made on `from` uses only data before `from`. With [`MethodChoice::Auto`] the method is
//! chosen by a backtest on the data before `from` ([`crate::backtest`]); with too little history for
//! a backtest the profile method is used (with one week of data it equals the last-week forecast).
//! Closed days (the calendar's) and days whose weekday has no history (weekends of a weekday-only
//! queue) get no points; neither do slots never observed on the days the method looked at (outside
//! opening hours).

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;
use wfm_model::IntervalLabel;

use crate::backtest::{BacktestConfig, BacktestReport, backtest};
use crate::erlang::{Load, Staffing, Targets, erlang_c_staffing};
use crate::error::StaffingError;
use crate::methods::{Method, Params, aht_day, predict_day};
use crate::series::IntervalSeries;

/// Which method a forecast uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodChoice {
    /// The best of [`Method::ALL`] by backtest on the data before the forecast's first day.
    #[default]
    Auto,
    /// This method.
    Fixed(Method),
}

/// Everything a forecast needs besides the series.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ForecastConfig {
    /// The method, or how to choose it.
    pub method: MethodChoice,
    /// Parameters of the methods.
    pub params: Params,
    /// The backtest that chooses the method with [`MethodChoice::Auto`].
    pub backtest: BacktestConfig,
}

/// One forecast interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForecastPoint {
    /// Local date and start time of the interval (serialized as `YYYY-MM-DD HH:MM`).
    #[serde(serialize_with = "label_text")]
    pub label: IntervalLabel,
    /// First instant of the interval.
    pub start: Timestamp,
    /// First instant after it.
    pub end: Timestamp,
    /// Forecast contacts (offered).
    pub contacts: f64,
    /// Forecast average handle time in seconds (talk + hold + after-contact work), when the series
    /// has handle time.
    pub aht_s: Option<f64>,
    /// The after-contact-work part of `aht_s`.
    pub acw_s: Option<f64>,
}

/// A forecast of one queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// The method used.
    pub method: Method,
    /// The backtest that chose it (automatic choice with enough history).
    pub backtest: Option<BacktestReport>,
    /// The intervals, in time order. A fall-back day's repeated hour has two points per label.
    pub points: Vec<ForecastPoint>,
}

fn label_text<S: serde::Serializer>(label: &IntervalLabel, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(label)
}

/// Forecasts `days` days starting on `from` from the data before `from`.
pub fn forecast(
    series: &IntervalSeries,
    from: Date,
    days: u32,
    config: &ForecastConfig,
) -> Forecast {
    let (method, report) = match config.method {
        MethodChoice::Fixed(m) => (m, None),
        MethodChoice::Auto => {
            match backtest(
                series,
                &Method::ALL,
                &config.params,
                &config.backtest,
                Some(from),
            ) {
                Some(report) => (report.chosen, Some(report)),
                None => (Method::Profile, None),
            }
        }
    };
    let cutoff = from.yesterday().unwrap_or(from);
    let grid = series.grid();
    let length_s = grid.length().seconds() as f64;
    let mut points = Vec::with_capacity(days as usize * series.slots());
    for offset in 0..days {
        let Ok(date) = from.checked_add(i64::from(offset).days()) else {
            break;
        };
        if series.calendar().is_closed(date) || series.is_closed(date) {
            continue;
        }
        let Some(prediction) = predict_day(series, method, &config.params, date, cutoff) else {
            continue;
        };
        let aht = aht_day(series, &config.params, date, cutoff);
        let intervals = grid.day(date);
        for piece in &intervals.pieces {
            let label = intervals.label(piece);
            let slot = series.slot_of(label.start);
            if !prediction.open[slot] {
                continue;
            }
            // A piece shorter than the interval (a half-hour DST shift on an hourly grid) gets its
            // share of the interval's rate.
            let share = piece.end.duration_since(piece.start).as_secs_f64() / length_s;
            points.push(ForecastPoint {
                label,
                start: piece.start,
                end: piece.end,
                contacts: prediction.counts[slot] * share,
                aht_s: aht.as_ref().and_then(|a| a.aht_s[slot]),
                acw_s: aht.as_ref().and_then(|a| a.acw_s[slot]),
            });
        }
    }
    Forecast {
        method,
        backtest: report,
        points,
    }
}

/// Erlang C staffing of every point of a forecast (same order), each with its own interval length and
/// forecast AHT, or `default_aht_s` where the series had no handle time.
pub fn staff(
    forecast: &Forecast,
    targets: &Targets,
    default_aht_s: f64,
) -> Result<Vec<Staffing>, StaffingError> {
    forecast
        .points
        .iter()
        .map(|p| {
            let interval_s = p.end.duration_since(p.start).as_secs_f64();
            let load = Load::new(p.contacts, interval_s, p.aht_s.unwrap_or(default_aht_s))?;
            erlang_c_staffing(&load, targets)
        })
        .collect()
}
