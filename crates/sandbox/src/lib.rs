//! Emulators of target systems (Calabrio RTA, Wfm.Api, historical file drops…) used by tests and by
//! `wfm-bridge demo`.
//!
//! Each emulator is a real server on a real socket (DESIGN §7: tests talk to real things over
//! loopback), records what it received, and can be told to misbehave the way real systems do:
//! reject credentials, fail, throttle, refuse a message, answer slowly.
//!
//! - [`http_sink`]: accepts POSTs on any path, the counterpart of the generic `http` target.
//! - [`calabrio::historical`]: Calabrio's historical statistics intake, which checks the three
//!   Teleopti files the way calabrio.md §6 says and keeps what it accepts.
//! - [`calabrio::rta`]: Calabrio's real-time adherence state API (JSON and SOAP), enforcing the
//!   rules of calabrio.md §6 "RTA"; [`calabrio::CalabrioSandbox`] serves it beside the historical
//!   intake on one address.
//! - [`tcp_sink`]: accepts TCP connections and records the fixed-width records it receives, the
//!   counterpart of the `aspect_tcp` target; drops connections on command.
//! - [`serenova`]: the CxEngage (Serenova) API's users, groups, skills and queues, per tenant with
//!   Basic credentials, for the `serenova` directory source.
//! - [`multipart`]: reading uploads (`multipart/form-data`) as the emulators receive them.

pub mod calabrio;
pub mod http_sink;
mod intake;
pub mod multipart;
mod running;
pub mod serenova;
pub mod tcp_sink;
mod wait;
