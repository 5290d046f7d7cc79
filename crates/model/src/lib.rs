//! The canonical contact-center model of wfm-bridge (DESIGN §4).
//!
//! Every source is translated into these types and every target is fed from them: tenants, queues,
//! agents (with team and skills), contact segments and agent state events. Each type deserializes from
//! the canonical JSON Lines / CSV field names and validates itself, returning a [`RecordError`] that
//! names the field and the rule broken; callers add the file and line.
//!
//! [`time`] holds the time-zone-aware interval grid (15/30/60 minutes, 23- and 25-hour DST days) that
//! statistics and forecasts are cut on. The crate is pure: no I/O, no async.

mod agent;
pub mod directory;
pub mod directory_actions;
mod error;
mod queue;
mod record;
pub mod schedule;
mod segment;
mod state;
mod tenant;
pub mod time;
mod validate;

pub use agent::Agent;
pub use directory::{DirectoryGroup, DirectoryQueue, DirectorySnapshot, DirectoryUser};
pub use error::RecordError;
pub use queue::Queue;
pub use record::{FieldType, Record, RecordKind};
pub use schedule::{CronSchedule, Schedule};
pub use segment::{Channel, Direction, Outcome, Segment};
pub use state::{AgentState, AgentStateEvent};
pub use tenant::Tenant;
pub use time::{IntervalGrid, IntervalLabel, IntervalLength};

/// Re-exported so that callers name the same instant type the model uses.
pub use jiff::Timestamp;
