//! Flow kind `directory`: directory sync (tenant setup). Each run reads the whole directory of the
//! tenant from the flow's source (the store's agents and queues by default, or a directory-source
//! account such as CxEngage or the SCIM server), keeps the users its filters select, compares it
//! with the snapshot it saved last, applies its policy, and in ONE store transaction saves the new
//! snapshot, the persons it creates, an audit-log entry per change and one outbox message (a
//! [`DirectoryChangeSet`]) for the target. A crash loses the whole run or keeps all of it.
//!
//! [`sync`] with `apply = false` is the dry run of `wfm-bridge sync <flow> --dry-run`: it computes
//! the same plan and writes nothing.

use std::collections::BTreeMap;

use wfm_connectors::accounts::{PropertyKind, PropertySpec, PropertyValue};
use wfm_connectors::sources::{DirectorySource, SourceError};
use wfm_model::directory_actions::DirectoryChangeSet;
use wfm_store::{NewDirectoryLogEntry, NewMessage, PersonLink, Store};
use xxhash_rust::xxh3::xxh3_64;

use super::{FlowError, FlowSettings, RunCounts};
use crate::clock::now_ms;
use crate::directory::{
    Plan, PlanContext, Policy, STORE_SOURCE, UserFilters, diff, plan as make_plan,
};

/// Options of `directory` flows.
pub const OPTIONS: &[PropertySpec] = &[
    PropertySpec {
        name: "policy",
        kind: PropertyKind::Map,
        required: false,
        secret: false,
        default: None,
        help: "what to do per kind of change, overriding Calabrio ONE's defaults (group_disabled = \"ignore\")",
    },
    PropertySpec {
        name: "filters",
        kind: PropertyKind::Map,
        required: false,
        secret: false,
        default: None,
        help: "regular expressions selecting the users synced: team, queue, user_id, first_name, last_name, email, \"attribute.<name>\"",
    },
    PropertySpec {
        name: "default_team",
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default: None,
        help: "the team new persons join (else the target account's default team)",
    },
    PropertySpec {
        name: "origin",
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default: None,
        help: "the source recorded on new persons (default \"ACD - <source account>\")",
    },
];

fn map(flow: &FlowSettings, name: &str) -> BTreeMap<String, String> {
    match flow.options.get(name) {
        Some(PropertyValue::Map(m)) => m.clone(),
        _ => BTreeMap::new(),
    }
}

fn text<'a>(flow: &'a FlowSettings, name: &str) -> Option<&'a str> {
    match flow.options.get(name) {
        Some(PropertyValue::Text(t)) => Some(t),
        _ => None,
    }
}

/// The flow's policy: Calabrio ONE's with `[flows.policy]` applied.
pub fn policy(flow: &FlowSettings) -> Result<Policy, String> {
    Policy::calabrio_one().with_overrides(&map(flow, "policy"))
}

/// The flow's filters (`[flows.filters]`).
pub fn filters(flow: &FlowSettings) -> Result<UserFilters, String> {
    UserFilters::parse(&map(flow, "filters"))
}

/// Checks the policy and the filters, naming the row or key at fault.
pub fn check_options(flow: &FlowSettings) -> Result<(), String> {
    policy(flow)?;
    filters(flow)?;
    Ok(())
}

/// What one sync found and did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The source account (`store` for the store's directory).
    pub source: String,
    /// The target account.
    pub target: String,
    /// Users in the source's directory.
    pub users: usize,
    /// Users the filters left out.
    pub left_out: usize,
    /// Whether this was the first sync of the flow (everything is new).
    pub first: bool,
    /// The changes and what the policy made of them.
    pub plan: Plan,
    /// Messages written to the outbox (0 on a dry run or when nothing is to be done).
    pub enqueued: u64,
}

/// Syncs once: reads `source`, plans, and with `apply` commits the snapshot, persons, audit log
/// and outbox message; without it (dry run) writes nothing.
pub async fn sync(
    store: &dyn Store,
    flow: &FlowSettings,
    source: &dyn DirectorySource,
    apply: bool,
) -> Result<SyncReport, FlowError> {
    let (source_name, target) = match &flow.direction {
        super::FlowDirection::Sync { source, target } => (
            source.clone().unwrap_or_else(|| STORE_SOURCE.to_string()),
            target.clone(),
        ),
        _ => {
            return Err(FlowError::Source(SourceError {
                source_name: flow.name.clone(),
                message: "is not a directory flow (it needs a source and a target)".to_string(),
            }));
        }
    };
    let policy = policy(flow).map_err(|message| FlowError::Tenant {
        tenant: flow.tenant.clone(),
        message,
    })?;
    let filters = filters(flow).map_err(|message| FlowError::Tenant {
        tenant: flow.tenant.clone(),
        message,
    })?;

    let mut snapshot = source.snapshot(&flow.tenant).await?;
    snapshot.normalize();
    snapshot.validate().map_err(|e| {
        FlowError::Source(SourceError {
            source_name: source_name.clone(),
            message: format!("its directory of tenant {} is not valid: {e}", flow.tenant),
        })
    })?;
    let users = snapshot.users.len();
    let (snapshot, left_out) = filters.apply(snapshot);

    let previous = store
        .directory_snapshot(&flow.name, &flow.tenant, &source_name)
        .await?;
    let first = previous.is_none();
    let previous = previous.unwrap_or_default();
    let persons: BTreeMap<String, String> = store
        .persons(&flow.tenant, &target)
        .await?
        .into_iter()
        .filter(|p| p.source == source_name)
        .map(|p| (p.external_id, p.person_id))
        .collect();

    let now = now_ms();
    let zone = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == flow.tenant)
        .and_then(|t| t.zone().ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::from_millisecond(now)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_zoned(zone)
        .date()
        .to_string();
    let ctx = PlanContext {
        tenant: &flow.tenant,
        target: &target,
        source: &source_name,
        origin: text(flow, "origin")
            .map(str::to_string)
            .unwrap_or_else(|| format!("ACD - {source_name}")),
        default_team: text(flow, "default_team").map(str::to_string),
        today,
        persons: &persons,
        groups: &snapshot.groups,
        queues: &snapshot.queues,
    };
    let plan = make_plan(&policy, diff(&previous, &snapshot), &ctx);
    let mut report = SyncReport {
        source: source_name.clone(),
        target: target.clone(),
        users,
        left_out,
        first,
        plan,
        enqueued: 0,
    };
    if !apply {
        return Ok(report);
    }
    if report.plan.changes.is_empty() && !first {
        return Ok(report);
    }

    let entries: Vec<NewDirectoryLogEntry> = report
        .plan
        .changes
        .iter()
        .map(|c| {
            let (before, after) = c.change.before_after();
            NewDirectoryLogEntry {
                tenant: flow.tenant.clone(),
                flow: flow.name.clone(),
                source: source_name.clone(),
                at: now,
                change: c.change.kind().as_str().to_string(),
                subject: c.change.subject(),
                before: before.map(|v| v.to_string()),
                after: after.map(|v| v.to_string()),
                action: c.outcome(),
                person_id: c.person_id.clone(),
            }
        })
        .collect();
    let new_persons: Vec<PersonLink> = report
        .plan
        .new_persons
        .iter()
        .map(|(external_id, person_id)| PersonLink {
            tenant: flow.tenant.clone(),
            target: target.clone(),
            source: source_name.clone(),
            external_id: external_id.clone(),
            person_id: person_id.clone(),
            created_at: now,
        })
        .collect();
    let actions = report.plan.actions();
    let message = (!actions.is_empty()).then(|| {
        let payload = serde_json::to_vec_pretty(&DirectoryChangeSet {
            tenant: flow.tenant.clone(),
            flow: flow.name.clone(),
            source: source_name.clone(),
            actions,
        })
        .expect("change sets serialize");
        let hash = xxh3_64(&payload);
        NewMessage {
            flow: flow.name.clone(),
            key: flow.tenant.clone(),
            idempotency_key: format!("{}:{now}:{hash:016x}", flow.name),
            name: format!("{}-{now}-{hash:016x}.json", flow.name),
            content_type: "application/json".to_string(),
            payload,
        }
    });

    let mut tx = store.begin().await?;
    tx.save_directory_snapshot(&flow.name, &flow.tenant, &source_name, &snapshot, now)
        .await?;
    tx.add_persons(new_persons).await?;
    tx.log_directory_changes(entries).await?;
    if let Some(message) = message {
        report.enqueued = tx.enqueue(vec![message], now).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// A scheduled or `run --once` run: [`sync`] with `apply`.
pub async fn execute(
    store: &dyn Store,
    flow: &FlowSettings,
    source: &dyn DirectorySource,
) -> Result<RunCounts, FlowError> {
    let report = sync(store, flow, source, true).await?;
    Ok(RunCounts {
        read: report.users as u64,
        sent: report.enqueued,
        rejected: 0,
    })
}
