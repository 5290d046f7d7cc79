//! The running engine: configuration, store, targets, scheduler and delivery worker together.
//!
//! `serve` and `run --once` both start from [`Engine::start`]: it checks that every account builds,
//! puts the configured tenants into the store, and routes each flow to its target.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use tokio::sync::{Notify, watch};
use wfm_connectors::accounts::{AccountError, account_type};
use wfm_connectors::sources::{DirectorySource, Source};
use wfm_connectors::targets::{CheckVerdict, Target};
use wfm_model::Record;
use wfm_store::{Store, StoreError};

use crate::config::Config;
use crate::delivery::{DeliveryWorker, Routes};
use crate::flows::FlowSettings;
use crate::metrics::Metrics;
use crate::runner::{RunReport, run_once};
use crate::scheduler::{self, ScheduledFlow};
use crate::tracker::StateTracker;

/// Why the engine cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An account's properties do not make a working target.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A name given on the command line is not configured.
    #[error("{0}")]
    Unknown(String),
}

/// Configuration, store and targets, ready to run flows and deliver.
pub struct Engine {
    /// The configuration it runs.
    pub config: Arc<Config>,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Metrics shared by the scheduler, the worker and the HTTP server.
    pub metrics: Arc<Metrics>,
    /// Current agent states for real-time flows; the ingest API feeds it.
    pub tracker: StateTracker,
    targets: BTreeMap<String, Arc<dyn Target>>,
    sources: BTreeMap<String, Arc<dyn Source>>,
    directories: BTreeMap<String, Arc<dyn DirectorySource>>,
    wake: Arc<Notify>,
}

impl Engine {
    /// Builds every account's target and writes the configured tenants to the store.
    pub async fn start(config: Config, store: Arc<dyn Store>) -> Result<Engine, EngineError> {
        let mut targets: BTreeMap<String, Arc<dyn Target>> = BTreeMap::new();
        let mut sources: BTreeMap<String, Arc<dyn Source>> = BTreeMap::new();
        let mut directories: BTreeMap<String, Arc<dyn DirectorySource>> = BTreeMap::new();
        for account in &config.accounts {
            let ty = account_type(&account.account_type).ok_or_else(|| {
                EngineError::Unknown(format!("account type {} is unknown", account.account_type))
            })?;
            if let Some(build) = ty.build {
                targets.insert(account.name.clone(), Arc::from(build(account)?));
            }
            if let Some(build_source) = ty.build_source {
                sources.insert(account.name.clone(), Arc::from(build_source(account)?));
            }
            if let Some(build_directory) = ty.build_directory {
                directories.insert(account.name.clone(), Arc::from(build_directory(account)?));
            }
        }
        if !config.tenants.is_empty() {
            let mut tx = store.begin().await?;
            tx.write(
                config
                    .tenants
                    .iter()
                    .map(|t| Record::Tenant(t.tenant.clone()))
                    .collect(),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(Engine {
            config: Arc::new(config),
            store,
            metrics: Arc::new(Metrics::default()),
            tracker: StateTracker::default(),
            targets,
            sources,
            directories,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The delivery worker, routing each flow's messages to its target.
    pub fn worker(&self) -> DeliveryWorker {
        let routes: Routes = self
            .config
            .flows
            .iter()
            .filter_map(|f| Some((f.name.clone(), self.targets.get(f.target()?)?.clone())))
            .collect();
        DeliveryWorker::new(
            self.store.clone(),
            routes,
            self.config.delivery.clone(),
            self.metrics.clone(),
            self.wake.clone(),
        )
    }

    /// Runs the scheduler and the delivery worker until `stop` turns true, then lets runs and sends
    /// in progress finish.
    pub async fn run(&self, stop: watch::Receiver<bool>) -> Result<(), StoreError> {
        let flows: Vec<ScheduledFlow> = self
            .config
            .flows
            .iter()
            .map(|f| ScheduledFlow {
                flow: f.clone(),
                zone: self.zone(&f.tenant),
                source: self.source_of(f),
                directory: self.directory_of(f),
            })
            .collect();
        let scheduler = scheduler::run(
            self.store.clone(),
            flows,
            self.tracker.clone(),
            self.metrics.clone(),
            self.wake.clone(),
            stop.clone(),
        );
        let worker = self.worker();
        let (_, delivered) = tokio::join!(scheduler, worker.run(stop));
        delivered
    }

    /// Runs one flow once and then delivers what is due, for `run <flow> --once`.
    pub async fn run_flow_once(&self, name: &str) -> Result<RunReport, EngineError> {
        let flow = self.config.flow(name).ok_or_else(|| {
            EngineError::Unknown(format!(
                "flow {name:?} is not in {}; configured flows: {}",
                self.config.file,
                self.config
                    .flows
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let (_keep, stop) = watch::channel(false);
        let source = self.source_of(flow);
        let directory = self.directory_of(flow);
        Ok(run_once(
            &self.store,
            flow,
            source.as_deref(),
            directory.as_deref(),
            &self.metrics,
            &stop,
        )
        .await?)
    }

    /// Tests an account's connection: as the target it is, and as the source a flow reads it as.
    pub async fn check(&self, account: &str) -> Result<CheckVerdict, EngineError> {
        // A directory source (CxEngage…) that a directory flow reads, or that is nothing else.
        if let Some(directory) = self.directories.get(account) {
            let read_by_a_directory_flow = self.config.flows.iter().any(|f| {
                matches!(&f.direction, crate::flows::FlowDirection::Sync { source: Some(s), .. } if s == account)
            });
            if read_by_a_directory_flow || !self.targets.contains_key(account) {
                return Ok(directory.check().await);
            }
        }
        let target = self.targets.get(account).ok_or_else(|| {
            EngineError::Unknown(format!(
                "account {account:?} is not in {}; configured accounts: {}",
                self.config.file,
                self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let read_by_a_flow = self
            .config
            .flows
            .iter()
            .any(|f| f.source() == Some(account));
        match self.sources.get(account) {
            Some(source) if read_by_a_flow => Ok(source.check().await),
            _ => Ok(target.check().await),
        }
    }

    fn source_of(&self, flow: &FlowSettings) -> Option<Arc<dyn Source>> {
        self.sources.get(flow.source()?).cloned()
    }

    /// The directory source a directory flow reads: its account's, or the store's own directory
    /// when it names none (`source = "store"`).
    pub fn directory_of(&self, flow: &FlowSettings) -> Option<Arc<dyn DirectorySource>> {
        match &flow.direction {
            crate::flows::FlowDirection::Sync {
                source: Some(source),
                ..
            } => self.directories.get(source).cloned(),
            crate::flows::FlowDirection::Sync { source: None, .. } => Some(Arc::new(
                crate::directory::StoreDirectory::new(self.store.clone()),
            )),
            _ => None,
        }
    }

    fn zone(&self, tenant: &str) -> TimeZone {
        self.config
            .tenant(tenant)
            .and_then(|t| t.tenant.zone().ok())
            .unwrap_or(TimeZone::UTC)
    }
}
