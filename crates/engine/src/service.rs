//! The running engine: configuration, store, targets, scheduler and delivery worker together.
//!
//! `serve` and `run --once` both start from [`Engine::start`]: it checks that every account builds,
//! puts the configured tenants into the store, and routes each flow to its target.
//!
//! Accounts and flows created through the admin API (kept in the store's catalog, see
//! [`crate::admin`]) are loaded at start next to the file's; a change made through the API while
//! the engine runs restarts the scheduler and the delivery worker with the new set (runs and sends
//! in progress finish first), so it takes effect without a restart of the process.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use tokio::sync::{Notify, watch};
use wfm_connectors::accounts::{AccountError, account_type};
use wfm_connectors::sources::{DirectorySource, Source};
use wfm_connectors::targets::{CheckVerdict, Target};
use wfm_model::Record;
use wfm_store::{Store, StoreError};

use crate::admin::ApiCatalog;
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
    /// Accounts and flows created through the admin API, with their built targets and sources.
    pub(crate) api: std::sync::RwLock<ApiCatalog>,
    /// Signalled when the API catalog changed: [`Engine::run`] restarts its scheduler and worker.
    pub(crate) reload: Arc<Notify>,
    /// Serialises changes to the API catalog.
    pub(crate) changes: tokio::sync::Mutex<()>,
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
        let api = ApiCatalog::load(&config, &*store).await?;
        Ok(Engine {
            config: Arc::new(config),
            store,
            metrics: Arc::new(Metrics::default()),
            tracker: StateTracker::default(),
            targets,
            sources,
            directories,
            wake: Arc::new(Notify::new()),
            api: std::sync::RwLock::new(api),
            reload: Arc::new(Notify::new()),
            changes: tokio::sync::Mutex::new(()),
        })
    }

    /// The delivery worker, routing each flow's messages to its target.
    pub fn worker(&self) -> DeliveryWorker {
        let routes: Routes = self
            .all_flows()
            .iter()
            .filter_map(|f| Some((f.name.clone(), self.target_of(f.target()?)?)))
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
    ///
    /// When the admin API changes accounts or flows, the scheduler and worker stop as they would
    /// at the end (runs and sends in progress finish) and start again with the new set.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<(), StoreError> {
        loop {
            let flows: Vec<ScheduledFlow> = self
                .all_flows()
                .into_iter()
                .map(|f| ScheduledFlow {
                    zone: self.zone(&f.tenant),
                    source: self.source_of(&f),
                    directory: self.directory_of(&f),
                    flow: f,
                })
                .collect();
            let (inner_tx, inner) = watch::channel(false);
            let scheduler = scheduler::run(
                self.store.clone(),
                flows,
                self.tracker.clone(),
                self.metrics.clone(),
                self.wake.clone(),
                inner.clone(),
            );
            let worker = self.worker();
            let work = async { tokio::join!(scheduler, worker.run(inner)).1 };
            tokio::pin!(work);
            let reloading = tokio::select! {
                delivered = &mut work => return delivered,
                _ = stop.wait_for(|s| *s) => false,
                _ = self.reload.notified() => true,
            };
            let _ = inner_tx.send(true);
            work.await?;
            if !reloading || *stop.borrow() {
                return Ok(());
            }
            tracing::info!("accounts or flows changed through the admin API: schedule reloaded");
        }
    }

    /// Runs one flow once and then delivers what is due, for `run <flow> --once`.
    pub async fn run_flow_once(&self, name: &str) -> Result<RunReport, EngineError> {
        let flows = self.all_flows();
        let flow = flows.iter().find(|f| f.name == name).ok_or_else(|| {
            EngineError::Unknown(format!(
                "flow {name:?} is not in {} nor created through the admin API; flows: {}",
                self.config.file,
                flows
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let (_keep, stop) = watch::channel(false);
        let source = self.source_of(flow);
        let directory = self.directory_of(flow);
        let report = run_once(
            &self.store,
            flow,
            source.as_deref(),
            directory.as_deref(),
            &self.metrics,
            &stop,
        )
        .await?;
        self.wake.notify_one();
        Ok(report)
    }

    /// Tests an account's connection: as the target it is, and as the source a flow reads it as.
    pub async fn check(&self, account: &str) -> Result<CheckVerdict, EngineError> {
        // A directory source (CxEngage, SCIM) that a directory flow reads, or that is nothing else.
        if let Some(directory) = self.directories.get(account) {
            let read_by_a_directory_flow = self.all_flows().iter().any(|f| {
                matches!(&f.direction, crate::flows::FlowDirection::Sync { source: Some(s), .. } if s == account)
            });
            if read_by_a_directory_flow || self.target_of(account).is_none() {
                return Ok(directory.check().await);
            }
        }
        let read_by_a_flow = self.all_flows().iter().any(|f| f.source() == Some(account));
        let source = self.source_account(account);
        match (self.target_of(account), source) {
            (_, Some(source)) if read_by_a_flow => Ok(source.check().await),
            (Some(target), _) => Ok(target.check().await),
            (None, Some(source)) => Ok(source.check().await),
            (None, None) => Err(EngineError::Unknown(format!(
                "account {account:?} is not in {} nor created through the admin API; accounts: {}",
                self.config.file,
                self.all_accounts()
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
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

    fn source_of(&self, flow: &FlowSettings) -> Option<Arc<dyn Source>> {
        self.source_account(flow.source()?)
    }

    /// The source built from an account of the file or of the API.
    fn source_account(&self, account: &str) -> Option<Arc<dyn Source>> {
        self.sources.get(account).cloned().or_else(|| {
            self.api
                .read()
                .expect("not poisoned")
                .sources
                .get(account)
                .cloned()
        })
    }

    /// The target built from an account of the file or of the API.
    fn target_of(&self, account: &str) -> Option<Arc<dyn Target>> {
        self.targets.get(account).cloned().or_else(|| {
            self.api
                .read()
                .expect("not poisoned")
                .targets
                .get(account)
                .cloned()
        })
    }

    /// Every flow: the file's, then the API's.
    pub fn all_flows(&self) -> Vec<FlowSettings> {
        let api = self.api.read().expect("not poisoned");
        self.config
            .flows
            .iter()
            .cloned()
            .chain(api.flows.iter().map(|f| f.flow.clone()))
            .collect()
    }

    /// Every account: the file's, then the API's.
    pub fn all_accounts(&self) -> Vec<wfm_connectors::accounts::AccountConfig> {
        let api = self.api.read().expect("not poisoned");
        self.config
            .accounts
            .iter()
            .cloned()
            .chain(api.accounts.iter().map(|a| a.account.clone()))
            .collect()
    }

    fn zone(&self, tenant: &str) -> TimeZone {
        self.config
            .tenant(tenant)
            .and_then(|t| t.tenant.zone().ok())
            .unwrap_or(TimeZone::UTC)
    }
}
