//! Orchestration: moving records between sources, the store and (later) targets.
//!
//! The engine decides what happens in which order and inside which transaction; parsing lives in
//! `connectors`, persistence in `store`, computation in the pure crates (DESIGN §2).

pub mod export;
pub mod import;
