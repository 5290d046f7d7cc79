//! Directory sync (tenant setup): change detection between a source's directory snapshots, the
//! policy that turns changes into target actions, ACD filters, and the store's own directory as a
//! source.
//!
//! The pure parts — [`diff`], [`policy`], [`filters`], [`merge_tenants`] — take data and return
//! data, so every rule is unit-tested; `flows::directory` does the I/O (read the source and the last
//! snapshot, write the new snapshot, the persons, the audit log and the outbox message in one
//! transaction).

pub mod diff;
pub mod filters;
pub mod policy;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use wfm_connectors::sources::{DirectorySource, SourceError};
use wfm_connectors::targets::CheckVerdict;
use wfm_model::{
    DirectoryGroup, DirectoryQueue, DirectorySnapshot, DirectoryUser, Record, RecordKind,
};
use wfm_store::{NaturalKey, Store};

pub use diff::{ChangeKind, DirectoryChange, diff};
pub use filters::UserFilters;
pub use policy::{Plan, PlanContext, PlannedChange, Policy, PolicyAction, person_id, plan};

/// The name of the store's own directory as a source (`source = "store"`, the default).
pub const STORE_SOURCE: &str = "store";

/// The store's canonical agents and queues of a tenant as a directory: what `wfm-bridge import
/// agents|queues` and the push API write. Each agent is a user (its `team` its one group), each
/// distinct team a group (id = name), each queue a queue. The store keeps no disabled teams or
/// queues, so those are always active; agents carry their own `active`.
pub struct StoreDirectory {
    store: Arc<dyn Store>,
}

impl StoreDirectory {
    /// The directory of `store`.
    pub fn new(store: Arc<dyn Store>) -> StoreDirectory {
        StoreDirectory { store }
    }
}

/// Rows read per page from the store.
const PAGE: usize = 1000;

#[async_trait]
impl DirectorySource for StoreDirectory {
    async fn snapshot(&self, tenant: &str) -> Result<DirectorySnapshot, SourceError> {
        let fail = |e: wfm_store::StoreError| SourceError {
            source_name: STORE_SOURCE.to_string(),
            message: e.to_string(),
        };
        let mut snapshot = DirectorySnapshot::default();
        let mut teams = BTreeSet::new();
        for kind in [RecordKind::Agents, RecordKind::Queues] {
            let mut after: Option<NaturalKey> = None;
            loop {
                let page = self
                    .store
                    .read_page(kind, Some(tenant), after.as_ref(), PAGE)
                    .await
                    .map_err(fail)?;
                let Some(last) = page.last() else { break };
                after = Some(NaturalKey::of(last));
                let full = page.len() == PAGE;
                for record in page {
                    match record {
                        Record::Agent(a) => {
                            if let Some(team) = &a.team {
                                teams.insert(team.clone());
                            }
                            snapshot.users.push(DirectoryUser {
                                id: a.agent,
                                first_name: a.first_name,
                                last_name: a.last_name,
                                email: a.email,
                                active: a.active,
                                groups: a.team.into_iter().collect(),
                                skills: a.skills,
                                attributes: BTreeMap::new(),
                            });
                        }
                        Record::Queue(q) => snapshot.queues.push(DirectoryQueue {
                            id: q.queue,
                            name: q.name,
                            active: true,
                        }),
                        _ => {}
                    }
                }
                if !full {
                    break;
                }
            }
        }
        snapshot.groups = teams
            .into_iter()
            .map(|name| DirectoryGroup {
                id: name.clone(),
                name,
                active: true,
            })
            .collect();
        snapshot.normalize();
        Ok(snapshot)
    }

    async fn check(&self) -> CheckVerdict {
        match self.store.tenants().await {
            Ok(_) => CheckVerdict::ok(format!("connected to {}", self.store.describe())),
            Err(e) => CheckVerdict::failed(e.to_string()),
        }
    }
}

/// One directory from the master tenant and sub-tenants of one source account (CxEngage lists
/// them in one account, seed 000): a user listed in several of them is one user — enabled if it is
/// enabled in any, with the union of their groups and skills, and the tenants it appears in as the
/// `tenants` attribute (comma-separated, in the order given) — so it becomes one person. Groups and
/// queues are merged by id, the first listing winning.
pub fn merge_tenants(parts: Vec<(String, DirectorySnapshot)>) -> DirectorySnapshot {
    let mut users: BTreeMap<String, DirectoryUser> = BTreeMap::new();
    let mut groups: BTreeMap<String, DirectoryGroup> = BTreeMap::new();
    let mut queues: BTreeMap<String, DirectoryQueue> = BTreeMap::new();
    for (tenant, part) in parts {
        for user in part.users {
            match users.get_mut(&user.id) {
                None => {
                    let mut user = user;
                    user.attributes
                        .insert("tenants".to_string(), tenant.clone());
                    users.insert(user.id.clone(), user);
                }
                Some(seen) => {
                    seen.active |= user.active;
                    seen.groups.extend(user.groups);
                    seen.skills.extend(user.skills);
                    let tenants = seen.attributes.entry("tenants".to_string()).or_default();
                    if !tenants.split(',').any(|t| t == tenant) {
                        tenants.push(',');
                        tenants.push_str(&tenant);
                    }
                }
            }
        }
        for group in part.groups {
            groups.entry(group.id.clone()).or_insert(group);
        }
        for queue in part.queues {
            queues.entry(queue.id.clone()).or_insert(queue);
        }
    }
    let mut snapshot = DirectorySnapshot {
        users: users.into_values().collect(),
        groups: groups.into_values().collect(),
        queues: queues.into_values().collect(),
    };
    snapshot.normalize();
    snapshot
}
