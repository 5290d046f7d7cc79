//! Orchestration: imports into the store, flows, the scheduler and the delivery worker. The engine
//! moves data between stages; it computes nothing itself (that is `stats` and `forecast`).
