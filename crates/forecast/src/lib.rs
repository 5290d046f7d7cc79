//! Forecasts of contacts and handle time per queue and interval, backtests, and Erlang C / Erlang A
//! staffing (DESIGN §2: pure — no I/O, no async; the hot loops of forecasting live here).
//!
//! The pieces, in the order data flows through them:
//!
//! * [`series`] — a queue's interval volumes on the tenant's time-zone-aware grid, built from
//!   observations of any finer resolution, with the calendar of closed days;
//! * [`methods`] — the forecasting methods (last week, the mean-of-4-weeks baseline, and the
//!   weekday-profile model that beats it) and the AHT profile;
//! * [`backtest`] — rolling-origin evaluation (MAPE, WAPE, RMSE) that chooses a method per queue;
//! * [`forecast`] — the forecast of the days ahead, as intervals with UTC bounds and local labels;
//! * [`erlang`] — Erlang C and Erlang A: service level, ASA, occupancy, P(abandon), and the agents a
//!   target needs, with shrinkage;
//! * [`external`] — forecasts made elsewhere (a CSV per queue and interval), checked line by line;
//! * [`input`] — a count table in CSV text (as the CLI reads it) turned into observations;
//! * [`plot`] — an SVG of actual against forecast.

pub mod backtest;
pub mod erlang;
mod error;
pub mod external;
pub mod forecast;
pub mod input;
pub mod methods;
pub mod plot;
pub mod series;

pub use backtest::{BacktestConfig, BacktestReport, Score, backtest};
pub use erlang::{
    ErlangAMetrics, Load, QueueMetrics, ServiceLevelTarget, Staffing, Targets, erlang_a_metrics,
    erlang_a_staffing, erlang_c_metrics, erlang_c_staffing, scheduled_agents,
};
pub use error::{InputError, SeriesError, StaffingError};
pub use forecast::{Forecast, ForecastConfig, ForecastPoint, MethodChoice, forecast, staff};
pub use methods::{Method, Params};
pub use series::{Calendar, HandleTime, IntervalSeries, Observation};
