//! Forecasts of contacts and handle time per queue and interval, backtests, and Erlang C / Erlang A
//! staffing. Pure functions, no I/O. Filled by the forecasts issue.
