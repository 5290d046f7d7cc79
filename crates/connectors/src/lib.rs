//! One module per external system.
//!
//! `sources` turn what a system hands us (canonical files, foreign CSV exports, later ACD APIs and
//! pushes) into canonical records; `targets` deliver to WFM and HR systems. A new system is a new
//! module here plus its account type; nothing else should need to change (DESIGN §2). `accounts`
//! lists the account types and their property schemas; `http` is the one HTTP client and the
//! rules HTTP targets share.

pub mod accounts;
pub mod http;
pub mod sources;
pub mod targets;
