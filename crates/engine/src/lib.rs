//! Orchestration: moving records between sources, the store and targets.
//!
//! The engine decides what happens in which order and inside which transaction; parsing lives in
//! `connectors`, persistence in `store`, computation in the pure crates (DESIGN §2).

pub mod admin;
pub mod catalog;
mod clock;
pub mod config;
pub mod delivery;
pub mod directory;
pub mod directory_sources;
pub mod export;
pub mod flows;
pub mod forecasts;
pub mod import;
pub mod ingest;
pub mod metrics;
pub mod runner;
pub mod scheduler;
pub mod secrets;
pub mod service;
pub mod statistics;
pub mod tracker;

pub use clock::now_ms;
pub use config::Config;
pub use service::{Engine, EngineError};
