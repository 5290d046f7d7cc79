//! The directory of a tenant as one source sees it: users, groups and queues (with skills), the
//! input of directory sync (Calabrio ONE's "core configuration data", seed 000).
//!
//! A source (canonical files and the push API, the SCIM server, CxEngage/Serenova) produces a full
//! [`DirectorySnapshot`] on every sync; the engine compares it with the previous snapshot of the same
//! (tenant, source account) to find what changed. Nothing is ever deleted from a snapshot's point of
//! view: a user, group or queue that disappears from the source is reported by the source as
//! disabled (`active: false`) when it can tell, and otherwise simply stops changing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::RecordError;
use crate::validate;

/// Everything one source account knows about one tenant's people and queues, at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySnapshot {
    /// Users (agents), in id order.
    #[serde(default)]
    pub users: Vec<DirectoryUser>,
    /// Groups (teams), in id order.
    #[serde(default)]
    pub groups: Vec<DirectoryGroup>,
    /// Queues, in id order; a queue is also the skill of the same id.
    #[serde(default)]
    pub queues: Vec<DirectoryQueue>,
}

/// A user of the source: an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryUser {
    /// The source's id of the user (the ACD user id, the SCIM id): Calabrio's external user id.
    pub id: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E-mail address, when the source has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the user is enabled in the source.
    pub active: bool,
    /// Ids of the groups the user belongs to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Ids of the queues the user is skilled for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    /// Other attributes filters may look at (`userName`, `department`, the ACD sub-tenant…).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// A group of users of the source: a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryGroup {
    /// The source's id of the group.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether the group is enabled in the source.
    pub active: bool,
}

/// A queue of the source, which is also a skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQueue {
    /// The source's id of the queue (the canonical queue id).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether the queue is enabled in the source.
    pub active: bool,
}

impl DirectorySnapshot {
    /// Puts users, groups, queues and each user's groups and skills in id order, so that two
    /// snapshots of the same directory compare equal whatever order the source listed them in.
    pub fn normalize(&mut self) {
        self.users.sort_by(|a, b| a.id.cmp(&b.id));
        self.groups.sort_by(|a, b| a.id.cmp(&b.id));
        self.queues.sort_by(|a, b| a.id.cmp(&b.id));
        for user in &mut self.users {
            user.groups.sort();
            user.groups.dedup();
            user.skills.sort();
            user.skills.dedup();
        }
    }

    /// Checks ids (non-empty, unique within their list) and names. The error names the list, the
    /// position and the field (`users[3].id: "u-7" appears twice`).
    pub fn validate(&self) -> Result<(), RecordError> {
        fn unique<'a>(list: &str, ids: impl Iterator<Item = &'a str>) -> Result<(), RecordError> {
            let mut seen = std::collections::BTreeSet::new();
            for (i, id) in ids.enumerate() {
                validate::id(&format!("{list}[{i}].id"), id)?;
                if !seen.insert(id) {
                    return Err(RecordError::field(
                        format!("{list}[{i}].id"),
                        format!(
                            "{list}[{i}].id: {id:?} appears twice; ids are unique within {list}"
                        ),
                    ));
                }
            }
            Ok(())
        }
        unique("users", self.users.iter().map(|u| u.id.as_str()))?;
        unique("groups", self.groups.iter().map(|g| g.id.as_str()))?;
        unique("queues", self.queues.iter().map(|q| q.id.as_str()))?;
        for (i, user) in self.users.iter().enumerate() {
            validate::text(&format!("users[{i}].first_name"), &user.first_name)?;
            validate::text(&format!("users[{i}].last_name"), &user.last_name)?;
        }
        for (i, group) in self.groups.iter().enumerate() {
            validate::text(&format!("groups[{i}].name"), &group.name)?;
        }
        for (i, queue) in self.queues.iter().enumerate() {
            validate::text(&format!("queues[{i}].name"), &queue.name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> DirectoryUser {
        DirectoryUser {
            id: id.into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: None,
            active: true,
            groups: vec!["g2".into(), "g1".into(), "g1".into()],
            skills: vec![],
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn normalize_orders_and_dedups() {
        let mut snapshot = DirectorySnapshot {
            users: vec![user("b"), user("a")],
            ..DirectorySnapshot::default()
        };
        snapshot.normalize();
        assert_eq!(snapshot.users[0].id, "a");
        assert_eq!(snapshot.users[0].groups, ["g1", "g2"]);
    }

    #[test]
    fn duplicate_ids_are_named() {
        let snapshot = DirectorySnapshot {
            users: vec![user("a"), user("a")],
            ..DirectorySnapshot::default()
        };
        let err = snapshot.validate().unwrap_err().to_string();
        assert!(err.contains("users[1].id"), "{err}");
        assert!(err.contains("appears twice"), "{err}");
    }
}
