//! Flows: one kind of data for one tenant, from the store to one target account, on a schedule.
//!
//! A flow never sends. Each step reads what changed since its cursor, turns it into outbound messages
//! and writes them to the outbox in the same store transaction that advances the cursor, so a crash
//! either loses the whole step (and it is read again) or keeps all of it (DESIGN §3). The delivery
//! worker sends the messages later.

pub mod agent_states;
pub mod directory;
pub mod forecast;
mod ingest;
mod interactions;
mod interval_stats;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use wfm_connectors::accounts::{PropertySpec, PropertyValue};
use wfm_connectors::sources::{DirectorySource, Source};
use wfm_model::Schedule;
use wfm_store::{Store, StoreError};

/// The kinds of flow this version runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// Contact segments inserted or changed since the last run, as JSON Lines.
    Interactions,
    /// Interval statistics of each complete day (and of days late data changed), as files.
    IntervalStats,
    /// Every agent's current state to a real-time target: snapshots and deltas.
    AgentStates,
    /// Daily forecasts and staffing of the next days per Calabrio skill, as forecast files.
    Forecast,
    /// Directory sync: changes of a source's agents, teams and queues to a target's persons,
    /// teams and service queues.
    Directory,
}

/// Kinds named in the design that later versions add; configuring one says so plainly.
const PLANNED: [&str; 3] = ["schedules", "timecards", "leave"];

impl FlowKind {
    /// Every kind this version runs.
    pub const ALL: [FlowKind; 5] = [
        FlowKind::Interactions,
        FlowKind::IntervalStats,
        FlowKind::AgentStates,
        FlowKind::Forecast,
        FlowKind::Directory,
    ];

    /// The name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Interactions => "interactions",
            FlowKind::IntervalStats => "interval_stats",
            FlowKind::AgentStates => "agent_states",
            FlowKind::Forecast => "forecast",
            FlowKind::Directory => "directory",
        }
    }

    /// The options a flow of this kind accepts besides the common keys.
    pub fn options(self) -> &'static [PropertySpec] {
        match self {
            FlowKind::Interactions => interactions::OPTIONS,
            FlowKind::IntervalStats => interval_stats::OPTIONS,
            FlowKind::AgentStates => agent_states::OPTIONS,
            FlowKind::Forecast => forecast::OPTIONS,
            FlowKind::Directory => directory::OPTIONS,
        }
    }

    /// Checks what the option schema cannot (allowed values), naming the option.
    pub fn check_options(self, flow: &FlowSettings) -> Result<(), String> {
        match self {
            FlowKind::Interactions => Ok(()),
            FlowKind::IntervalStats => interval_stats::check_options(flow),
            FlowKind::AgentStates => agent_states::check_options(flow),
            FlowKind::Forecast => forecast::check_options(flow),
            FlowKind::Directory => directory::check_options(flow),
        }
    }

    /// Whether flows of this kind can read from a source account into the store.
    pub fn can_ingest(self) -> bool {
        !self.streams().is_empty()
    }

    /// The source streams an ingesting flow of this kind reads, in import order.
    pub fn streams(self) -> &'static [wfm_model::RecordKind] {
        match self {
            FlowKind::Interactions => &[wfm_model::RecordKind::Interactions],
            FlowKind::IntervalStats
            | FlowKind::AgentStates
            | FlowKind::Forecast
            | FlowKind::Directory => &[],
        }
    }

    /// The schedule used when a flow sets none, if the kind has one.
    pub fn default_schedule(self) -> Option<Schedule> {
        match self {
            FlowKind::Interactions => Some(Schedule::Every(Duration::from_secs(60))),
            // Often enough to send a day soon after its capture delay and to pick up late data.
            FlowKind::IntervalStats => Some(Schedule::Every(Duration::from_secs(15 * 60))),
            // Runs on its own clocks (update_every, snapshot_every).
            FlowKind::AgentStates => Some(Schedule::Continuous),
            // Hourly, and a run computes only once a forecast day has begun (see forecast.rs).
            FlowKind::Forecast => Some(Schedule::Every(Duration::from_secs(60 * 60))),
            // Playvox syncs users daily to hourly: hourly.
            FlowKind::Directory => Some(Schedule::Every(Duration::from_secs(60 * 60))),
        }
    }
}

impl fmt::Display for FlowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlowKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(kind) = FlowKind::ALL.into_iter().find(|k| k.as_str() == s) {
            return Ok(kind);
        }
        let available: Vec<&str> = FlowKind::ALL.iter().map(|k| k.as_str()).collect();
        if PLANNED.contains(&s) {
            Err(format!(
                "flows of kind {s:?} are not available in this version yet; available: {}",
                available.join(", ")
            ))
        } else {
            Err(format!(
                "{s:?} is not a flow kind; available: {}",
                available.join(", ")
            ))
        }
    }
}

/// Which way a flow moves data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowDirection {
    /// From the store to a target account, through the outbox.
    Deliver {
        /// Account it delivers to.
        target: String,
    },
    /// From a source account into the store.
    Ingest {
        /// Account it reads from.
        source: String,
        /// What to do with records that are not valid.
        on_invalid: OnInvalid,
    },
    /// From a directory source to a target account (directory sync): the source is read whole on
    /// every run and compared with what the flow saw last.
    Sync {
        /// The directory-source account, or `None` for the store's own agents and queues.
        source: Option<String>,
        /// Account it delivers to.
        target: String,
    },
}

/// What an ingesting flow does with invalid input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInvalid {
    /// Import the valid records; write the rejected ones next to the source (a file drop's
    /// `rejected/`), and set aside a chunk that cannot be read at all. The stream never wedges.
    Skip,
    /// Fail the run and leave the chunk where it is, all or nothing, until someone fixes it.
    Stop,
}

/// One configured flow (`[[flows]]`).
#[derive(Debug, Clone)]
pub struct FlowSettings {
    /// Unique name.
    pub name: String,
    /// What it moves.
    pub kind: FlowKind,
    /// Tenant whose data it moves.
    pub tenant: String,
    /// From where to where.
    pub direction: FlowDirection,
    /// When it runs.
    pub schedule: Schedule,
    /// Disabled flows are checked but never run by the scheduler.
    pub enabled: bool,
    /// Kind-specific options, defaults applied.
    pub options: BTreeMap<String, PropertyValue>,
}

impl FlowSettings {
    /// The account the flow delivers to, if it delivers.
    pub fn target(&self) -> Option<&str> {
        match &self.direction {
            FlowDirection::Deliver { target } | FlowDirection::Sync { target, .. } => Some(target),
            FlowDirection::Ingest { .. } => None,
        }
    }

    /// The account the flow reads from, if it ingests.
    pub fn source(&self) -> Option<&str> {
        match &self.direction {
            FlowDirection::Ingest { source, .. } => Some(source),
            FlowDirection::Deliver { .. } | FlowDirection::Sync { .. } => None,
        }
    }

    fn integer(&self, name: &str) -> Option<i64> {
        match self.options.get(name) {
            Some(PropertyValue::Integer(i)) => Some(*i),
            _ => None,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Records read.
    pub read: u64,
    /// Messages written to the outbox.
    pub sent: u64,
    /// Records rejected.
    pub rejected: u64,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The store failed; nothing past the last committed step is lost.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The source account failed.
    #[error(transparent)]
    Source(#[from] wfm_connectors::sources::SourceError),
    /// A chunk could not be imported and the flow stops on invalid input.
    #[error("{0}")]
    Import(crate::import::ImportError),
    /// Statistics could not be computed.
    #[error(transparent)]
    Statistics(crate::statistics::StatisticsError),
    /// Statistics could not be rendered as files.
    #[error("cannot render the statistics files: {0}")]
    Render(String),
    /// The tenant's settings cannot be used.
    #[error("tenant {tenant}: {message}")]
    Tenant {
        /// Tenant id.
        tenant: String,
        /// What is wrong.
        message: String,
    },
    /// The flow's saved cursor cannot be read.
    #[error(
        "the saved position of flow {flow} (cursor \"flow:{flow}\" in the store) is unreadable: {error}"
    )]
    Cursor {
        /// Flow name.
        flow: String,
        /// The parse error.
        error: String,
    },
}

/// Runs the steps of one flow until it has caught up, or until `stop` turns true between steps.
/// `source` is the flow's source account, for ingesting flows.
/// `directory` is the directory-source account of a directory flow (`None` reads the store's).
pub async fn execute(
    store: &std::sync::Arc<dyn Store>,
    flow: &FlowSettings,
    source: Option<&dyn Source>,
    directory: Option<&dyn DirectorySource>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<RunCounts, FlowError> {
    if let FlowDirection::Sync { source, .. } = &flow.direction {
        return match (source, directory) {
            (_, Some(directory)) => directory::execute(&**store, flow, directory).await,
            (None, None) => {
                let own = crate::directory::StoreDirectory::new(store.clone());
                directory::execute(&**store, flow, &own).await
            }
            (Some(source), None) => Err(FlowError::Source(wfm_connectors::sources::SourceError {
                source_name: format!("account {source}"),
                message: "is not built as a directory source".to_string(),
            })),
        };
    }
    match (&flow.direction, source) {
        (FlowDirection::Ingest { on_invalid, .. }, Some(source)) => {
            ingest::execute(&**store, flow, source, *on_invalid, stop).await
        }
        (FlowDirection::Ingest { source, .. }, None) => {
            Err(FlowError::Source(wfm_connectors::sources::SourceError {
                source_name: format!("account {source}"),
                message: "is not built as a source".to_string(),
            }))
        }
        (FlowDirection::Deliver { .. }, _) => match flow.kind {
            FlowKind::Interactions => interactions::execute(&**store, flow, stop).await,
            FlowKind::IntervalStats => interval_stats::execute(&**store, flow, stop).await,
            FlowKind::AgentStates => agent_states::execute_once(store, flow).await,
            FlowKind::Forecast => forecast::execute(&**store, flow, stop).await,
            FlowKind::Directory => Ok(RunCounts::default()),
        },
        (FlowDirection::Sync { .. }, _) => unreachable!("handled above"),
    }
}
