//! Change detection: what differs between the directory a flow saw last and the one it sees now.
//!
//! Pure: two [`DirectorySnapshot`]s in, a list of [`DirectoryChange`]s out. Groups come first, then
//! queues, then users, each in id order, so that acting on the changes in order creates a team or a
//! service queue before the person who needs it. Something missing from the new snapshot is no
//! change at all: sources report what they disable (`active: false`), and nothing is ever deleted.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use wfm_model::{DirectoryGroup, DirectoryQueue, DirectorySnapshot, DirectoryUser};

/// The kinds of change, one per row of Calabrio ONE's Serenova change tables (seed 000) plus the
/// ones the seed is silent about (enabled again, skills changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A user appeared.
    UserAdded,
    /// A user's first or last name changed.
    UserRenamed,
    /// A user was disabled.
    UserDisabled,
    /// A disabled user was enabled.
    UserEnabled,
    /// A user's skills (queues) changed.
    UserSkillsChanged,
    /// A user was added to or removed from groups.
    UserGroupsChanged,
    /// A group appeared.
    GroupAdded,
    /// A group's name changed.
    GroupRenamed,
    /// A group was disabled.
    GroupDisabled,
    /// A disabled group was enabled.
    GroupEnabled,
    /// A queue appeared.
    QueueAdded,
    /// A queue's name changed.
    QueueRenamed,
    /// A queue was disabled.
    QueueDisabled,
    /// A disabled queue was enabled.
    QueueEnabled,
}

impl ChangeKind {
    /// Every kind, in the order policies are listed.
    pub const ALL: [ChangeKind; 14] = [
        ChangeKind::UserAdded,
        ChangeKind::UserRenamed,
        ChangeKind::UserDisabled,
        ChangeKind::UserEnabled,
        ChangeKind::UserSkillsChanged,
        ChangeKind::UserGroupsChanged,
        ChangeKind::GroupAdded,
        ChangeKind::GroupRenamed,
        ChangeKind::GroupDisabled,
        ChangeKind::GroupEnabled,
        ChangeKind::QueueAdded,
        ChangeKind::QueueRenamed,
        ChangeKind::QueueDisabled,
        ChangeKind::QueueEnabled,
    ];

    /// The name used in configuration (`[flows.policy]`) and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::UserAdded => "user_added",
            ChangeKind::UserRenamed => "user_renamed",
            ChangeKind::UserDisabled => "user_disabled",
            ChangeKind::UserEnabled => "user_enabled",
            ChangeKind::UserSkillsChanged => "user_skills_changed",
            ChangeKind::UserGroupsChanged => "user_groups_changed",
            ChangeKind::GroupAdded => "group_added",
            ChangeKind::GroupRenamed => "group_renamed",
            ChangeKind::GroupDisabled => "group_disabled",
            ChangeKind::GroupEnabled => "group_enabled",
            ChangeKind::QueueAdded => "queue_added",
            ChangeKind::QueueRenamed => "queue_renamed",
            ChangeKind::QueueDisabled => "queue_disabled",
            ChangeKind::QueueEnabled => "queue_enabled",
        }
    }

    /// The kind of a configuration name.
    pub fn parse(name: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One difference between two snapshots, with what it was and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryChange {
    /// A new user.
    UserAdded(DirectoryUser),
    /// A user's name changed; `user` is the user now.
    UserRenamed {
        /// The user now.
        user: DirectoryUser,
        /// First and last name before.
        before: (String, String),
    },
    /// A user was disabled.
    UserDisabled(DirectoryUser),
    /// A user was enabled again.
    UserEnabled(DirectoryUser),
    /// A user's skills changed.
    UserSkillsChanged {
        /// The user now.
        user: DirectoryUser,
        /// The skills before.
        before: Vec<String>,
    },
    /// A user's groups changed.
    UserGroupsChanged {
        /// The user now.
        user: DirectoryUser,
        /// The groups before.
        before: Vec<String>,
    },
    /// A new group.
    GroupAdded(DirectoryGroup),
    /// A group's name changed.
    GroupRenamed {
        /// The group now.
        group: DirectoryGroup,
        /// Its name before.
        before: String,
    },
    /// A group was disabled.
    GroupDisabled(DirectoryGroup),
    /// A group was enabled again.
    GroupEnabled(DirectoryGroup),
    /// A new queue.
    QueueAdded(DirectoryQueue),
    /// A queue's name changed.
    QueueRenamed {
        /// The queue now.
        queue: DirectoryQueue,
        /// Its name before.
        before: String,
    },
    /// A queue was disabled.
    QueueDisabled(DirectoryQueue),
    /// A queue was enabled again.
    QueueEnabled(DirectoryQueue),
}

impl DirectoryChange {
    /// Its kind.
    pub fn kind(&self) -> ChangeKind {
        match self {
            DirectoryChange::UserAdded(_) => ChangeKind::UserAdded,
            DirectoryChange::UserRenamed { .. } => ChangeKind::UserRenamed,
            DirectoryChange::UserDisabled(_) => ChangeKind::UserDisabled,
            DirectoryChange::UserEnabled(_) => ChangeKind::UserEnabled,
            DirectoryChange::UserSkillsChanged { .. } => ChangeKind::UserSkillsChanged,
            DirectoryChange::UserGroupsChanged { .. } => ChangeKind::UserGroupsChanged,
            DirectoryChange::GroupAdded(_) => ChangeKind::GroupAdded,
            DirectoryChange::GroupRenamed { .. } => ChangeKind::GroupRenamed,
            DirectoryChange::GroupDisabled(_) => ChangeKind::GroupDisabled,
            DirectoryChange::GroupEnabled(_) => ChangeKind::GroupEnabled,
            DirectoryChange::QueueAdded(_) => ChangeKind::QueueAdded,
            DirectoryChange::QueueRenamed { .. } => ChangeKind::QueueRenamed,
            DirectoryChange::QueueDisabled(_) => ChangeKind::QueueDisabled,
            DirectoryChange::QueueEnabled(_) => ChangeKind::QueueEnabled,
        }
    }

    /// What changed, in words: `user u-7`, `group g-1`, `queue q-sales`.
    pub fn subject(&self) -> String {
        match self {
            DirectoryChange::UserAdded(u)
            | DirectoryChange::UserDisabled(u)
            | DirectoryChange::UserEnabled(u)
            | DirectoryChange::UserRenamed { user: u, .. }
            | DirectoryChange::UserSkillsChanged { user: u, .. }
            | DirectoryChange::UserGroupsChanged { user: u, .. } => format!("user {}", u.id),
            DirectoryChange::GroupAdded(g)
            | DirectoryChange::GroupDisabled(g)
            | DirectoryChange::GroupEnabled(g)
            | DirectoryChange::GroupRenamed { group: g, .. } => format!("group {}", g.id),
            DirectoryChange::QueueAdded(q)
            | DirectoryChange::QueueDisabled(q)
            | DirectoryChange::QueueEnabled(q)
            | DirectoryChange::QueueRenamed { queue: q, .. } => format!("queue {}", q.id),
        }
    }

    /// The value before and after, as JSON for the audit log (only the fields that changed, or the
    /// whole item when it is new).
    pub fn before_after(&self) -> (Option<Value>, Option<Value>) {
        fn whole<T: Serialize>(item: &T) -> Option<Value> {
            Some(serde_json::to_value(item).expect("directory items serialize"))
        }
        match self {
            DirectoryChange::UserAdded(u) => (None, whole(u)),
            DirectoryChange::GroupAdded(g) => (None, whole(g)),
            DirectoryChange::QueueAdded(q) => (None, whole(q)),
            DirectoryChange::UserRenamed { user, before } => (
                Some(json!({"first_name": before.0, "last_name": before.1})),
                Some(json!({"first_name": user.first_name, "last_name": user.last_name})),
            ),
            DirectoryChange::UserDisabled(_)
            | DirectoryChange::GroupDisabled(_)
            | DirectoryChange::QueueDisabled(_) => (
                Some(json!({"active": true})),
                Some(json!({"active": false})),
            ),
            DirectoryChange::UserEnabled(_)
            | DirectoryChange::GroupEnabled(_)
            | DirectoryChange::QueueEnabled(_) => (
                Some(json!({"active": false})),
                Some(json!({"active": true})),
            ),
            DirectoryChange::UserSkillsChanged { user, before } => (
                Some(json!({"skills": before})),
                Some(json!({"skills": user.skills})),
            ),
            DirectoryChange::UserGroupsChanged { user, before } => (
                Some(json!({"groups": before})),
                Some(json!({"groups": user.groups})),
            ),
            DirectoryChange::GroupRenamed { group, before } => (
                Some(json!({"name": before})),
                Some(json!({"name": group.name})),
            ),
            DirectoryChange::QueueRenamed { queue, before } => (
                Some(json!({"name": before})),
                Some(json!({"name": queue.name})),
            ),
        }
    }
}

/// The changes from `before` to `after`: groups, then queues, then users, each in id order. Both
/// snapshots should be normalized ([`DirectorySnapshot::normalize`]) so that list order is no change.
pub fn diff(before: &DirectorySnapshot, after: &DirectorySnapshot) -> Vec<DirectoryChange> {
    let mut changes = Vec::new();

    let groups: BTreeMap<&str, &DirectoryGroup> =
        before.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    for group in &after.groups {
        match groups.get(group.id.as_str()) {
            None => changes.push(DirectoryChange::GroupAdded(group.clone())),
            Some(old) => {
                if old.name != group.name {
                    changes.push(DirectoryChange::GroupRenamed {
                        group: group.clone(),
                        before: old.name.clone(),
                    });
                }
                match (old.active, group.active) {
                    (true, false) => changes.push(DirectoryChange::GroupDisabled(group.clone())),
                    (false, true) => changes.push(DirectoryChange::GroupEnabled(group.clone())),
                    _ => {}
                }
            }
        }
    }

    let queues: BTreeMap<&str, &DirectoryQueue> =
        before.queues.iter().map(|q| (q.id.as_str(), q)).collect();
    for queue in &after.queues {
        match queues.get(queue.id.as_str()) {
            None => changes.push(DirectoryChange::QueueAdded(queue.clone())),
            Some(old) => {
                if old.name != queue.name {
                    changes.push(DirectoryChange::QueueRenamed {
                        queue: queue.clone(),
                        before: old.name.clone(),
                    });
                }
                match (old.active, queue.active) {
                    (true, false) => changes.push(DirectoryChange::QueueDisabled(queue.clone())),
                    (false, true) => changes.push(DirectoryChange::QueueEnabled(queue.clone())),
                    _ => {}
                }
            }
        }
    }

    let users: BTreeMap<&str, &DirectoryUser> =
        before.users.iter().map(|u| (u.id.as_str(), u)).collect();
    for user in &after.users {
        let Some(old) = users.get(user.id.as_str()) else {
            changes.push(DirectoryChange::UserAdded(user.clone()));
            continue;
        };
        if old.first_name != user.first_name || old.last_name != user.last_name {
            changes.push(DirectoryChange::UserRenamed {
                user: user.clone(),
                before: (old.first_name.clone(), old.last_name.clone()),
            });
        }
        match (old.active, user.active) {
            (true, false) => changes.push(DirectoryChange::UserDisabled(user.clone())),
            (false, true) => changes.push(DirectoryChange::UserEnabled(user.clone())),
            _ => {}
        }
        if old.skills != user.skills {
            changes.push(DirectoryChange::UserSkillsChanged {
                user: user.clone(),
                before: old.skills.clone(),
            });
        }
        if old.groups != user.groups {
            changes.push(DirectoryChange::UserGroupsChanged {
                user: user.clone(),
                before: old.groups.clone(),
            });
        }
    }
    changes
}
