//! The axum HTTP server: ingest API, admin API, web console, metrics and health. Filled by the engine,
//! real-time and admin issues.
