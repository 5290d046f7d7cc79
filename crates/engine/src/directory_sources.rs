//! Directory sources that need the store, and the one way to open any account's directory source.
//!
//! Directory sync (`flows::directory`) reads a [`DirectorySnapshot`] from its source account
//! through [`open`]: an account type with a `build_directory` (an ACD such as `serenova`) builds its
//! own source; a `scim` account reads the users and groups the SCIM server keeps in the store
//! ([`ScimDirectory`]).
//!
//! SCIM mapping (one tenant's SCIM resources → one snapshot):
//! - a user's `id` is the SCIM `id` (server-assigned, stable; `externalId` is optional and owned by
//!   the identity provider, so it cannot be the key) — Calabrio's external user id;
//! - `first_name`/`last_name` from `name.givenName`/`name.familyName` (when both are missing:
//!   `displayName` split at its last space, else `userName`); `email` the primary e-mail, else the
//!   first; `active` the SCIM `active` (default true);
//! - a user DELETEd through SCIM stays in the snapshot with `active: false`: the person downstream
//!   is deactivated, never deleted;
//! - `groups` are the ids of the groups the user is a member of; a user in no group is placed in
//!   the account's `default_team`: the SCIM group of that displayName when there is one, otherwise
//!   a group whose id and name are the default team's name (added to the snapshot's groups);
//! - `attributes` (for ACD filters): `userName`, `externalId`, `displayName`, `title`,
//!   `userType`, `department` and `division` (enterprise extension), `team` (the first group's
//!   name), `groups` (names joined by `;`);
//! - groups → snapshot groups (a deleted group is inactive); SCIM has no queues or skills.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use wfm_connectors::accounts::{AccountConfig, AccountError, account_type};
use wfm_connectors::sources::{DirectorySource, SourceError};
use wfm_connectors::targets::CheckVerdict;
use wfm_model::{DirectoryGroup, DirectorySnapshot, DirectoryUser};
use wfm_store::{ScimResource, ScimType, Store};

/// The enterprise User extension's URN.
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Whether an account of this type can be read by directory sync.
pub fn readable(account_type_name: &str) -> bool {
    account_type_name == wfm_connectors::sources::scim::ACCOUNT_TYPE.name
        || account_type(account_type_name).is_some_and(|t| t.build_directory.is_some())
}

/// The directory source of an account.
pub fn open(
    account: &AccountConfig,
    store: Arc<dyn Store>,
) -> Result<Box<dyn DirectorySource>, AccountError> {
    if account.account_type == wfm_connectors::sources::scim::ACCOUNT_TYPE.name {
        return Ok(Box::new(ScimDirectory::new(account, store)?));
    }
    match account_type(&account.account_type).and_then(|t| t.build_directory) {
        Some(build) => build(account),
        None => Err(AccountError {
            account: account.name.clone(),
            message: format!(
                "a {} account has no directory to read; directory sources are scim and serenova accounts",
                account.account_type
            ),
        }),
    }
}

/// The users and groups provisioned through the SCIM server, as a directory source.
pub struct ScimDirectory {
    account: String,
    default_team: String,
    store: Arc<dyn Store>,
}

impl ScimDirectory {
    /// From a `scim` account.
    pub fn new(
        account: &AccountConfig,
        store: Arc<dyn Store>,
    ) -> Result<ScimDirectory, AccountError> {
        let default_team = account
            .text("default_team")
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| AccountError {
                account: account.name.clone(),
                message: "default_team is required: the team of users who belong to no SCIM group"
                    .to_string(),
            })?;
        Ok(ScimDirectory {
            account: account.name.clone(),
            default_team: default_team.to_string(),
            store,
        })
    }

    fn error(&self, message: String) -> SourceError {
        SourceError {
            source_name: self.account.clone(),
            message,
        }
    }
}

fn document(resource: &ScimResource) -> Map<String, Value> {
    match serde_json::from_str(&resource.document) {
        Ok(Value::Object(doc)) => doc,
        _ => Map::new(),
    }
}

fn text<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Builds the snapshot from a tenant's SCIM resources (deleted ones included).
pub fn scim_snapshot(
    users: &[ScimResource],
    groups: &[ScimResource],
    default_team: &str,
) -> DirectorySnapshot {
    let group_docs: Vec<(&ScimResource, Map<String, Value>)> =
        groups.iter().map(|g| (g, document(g))).collect();
    let mut snapshot_groups: Vec<DirectoryGroup> = group_docs
        .iter()
        .map(|(g, doc)| DirectoryGroup {
            id: g.id.clone(),
            name: text(doc, "displayName").unwrap_or(&g.id).to_string(),
            active: g.deleted_at.is_none(),
        })
        .collect();
    // The default team: a live SCIM group of that name, else a group named after it.
    let default_group = group_docs
        .iter()
        .find(|(g, doc)| g.deleted_at.is_none() && text(doc, "displayName") == Some(default_team))
        .map(|(g, _)| g.id.clone());
    let mut default_used = false;
    let mut snapshot_users = Vec::new();
    for user in users {
        let doc = document(user);
        let name = doc.get("name").and_then(Value::as_object);
        let part = |k: &str| {
            name.and_then(|n| n.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (mut first, mut last) = (
            part("givenName").unwrap_or_default(),
            part("familyName").unwrap_or_default(),
        );
        if first.is_empty() && last.is_empty() {
            let fallback = text(&doc, "displayName")
                .or(text(&doc, "userName"))
                .unwrap_or(&user.id);
            match fallback.rsplit_once(' ') {
                Some((f, l)) => (first, last) = (f.to_string(), l.to_string()),
                None => first = fallback.to_string(),
            }
        }
        let emails = doc.get("emails").and_then(Value::as_array);
        let email = emails
            .and_then(|e| {
                e.iter()
                    .find(|m| m.get("primary").and_then(Value::as_bool) == Some(true))
                    .or_else(|| e.first())
            })
            .and_then(|m| m.get("value"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let member_of: Vec<(String, String)> = if user.deleted_at.is_some() {
            Vec::new()
        } else {
            group_docs
                .iter()
                .filter(|(g, gdoc)| {
                    g.deleted_at.is_none()
                        && gdoc
                            .get("members")
                            .and_then(Value::as_array)
                            .is_some_and(|m| {
                                m.iter().any(|m| {
                                    m.get("value").and_then(Value::as_str) == Some(user.id.as_str())
                                })
                            })
                })
                .map(|(g, gdoc)| {
                    (
                        g.id.clone(),
                        text(gdoc, "displayName").unwrap_or(&g.id).to_string(),
                    )
                })
                .collect()
        };
        let (group_ids, group_names): (Vec<String>, Vec<String>) = if member_of.is_empty() {
            default_used |= default_group.is_none();
            (
                vec![
                    default_group
                        .clone()
                        .unwrap_or_else(|| default_team.to_string()),
                ],
                vec![default_team.to_string()],
            )
        } else {
            member_of.into_iter().unzip()
        };
        let mut attributes = BTreeMap::new();
        for key in ["userName", "externalId", "displayName", "title", "userType"] {
            if let Some(v) = text(&doc, key) {
                attributes.insert(key.to_string(), v.to_string());
            }
        }
        if let Some(Value::Object(ext)) = doc.get(ENTERPRISE) {
            for key in ["department", "division"] {
                if let Some(v) = text(ext, key) {
                    attributes.insert(key.to_string(), v.to_string());
                }
            }
        }
        attributes.insert("team".into(), group_names[0].clone());
        attributes.insert("groups".into(), group_names.join(";"));
        snapshot_users.push(DirectoryUser {
            id: user.id.clone(),
            first_name: first,
            last_name: last,
            email,
            active: user.deleted_at.is_none()
                && doc.get("active").and_then(Value::as_bool) != Some(false),
            groups: group_ids,
            skills: Vec::new(),
            attributes,
        });
    }
    if default_used && !snapshot_groups.iter().any(|g| g.id == default_team) {
        snapshot_groups.push(DirectoryGroup {
            id: default_team.to_string(),
            name: default_team.to_string(),
            active: true,
        });
    }
    let mut snapshot = DirectorySnapshot {
        users: snapshot_users,
        groups: snapshot_groups,
        queues: Vec::new(),
    };
    snapshot.normalize();
    snapshot
}

#[async_trait]
impl DirectorySource for ScimDirectory {
    async fn snapshot(&self, tenant: &str) -> Result<DirectorySnapshot, SourceError> {
        let scim = self.store.scim();
        let users = scim
            .scim_list(tenant, ScimType::User, true)
            .await
            .map_err(|e| self.error(e.to_string()))?;
        let groups = scim
            .scim_list(tenant, ScimType::Group, true)
            .await
            .map_err(|e| self.error(e.to_string()))?;
        let snapshot = scim_snapshot(&users, &groups, &self.default_team);
        snapshot.validate().map_err(|e| {
            self.error(format!(
                "the SCIM directory of tenant {tenant:?} is unusable: {}",
                e.message
            ))
        })?;
        Ok(snapshot)
    }

    async fn check(&self) -> CheckVerdict {
        match self.store.tenants().await {
            Ok(_) => CheckVerdict::ok(format!(
                "reads the SCIM users and groups in {}",
                self.store.describe()
            )),
            Err(e) => CheckVerdict::failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(kind: ScimType, id: &str, doc: Value, deleted: bool) -> ScimResource {
        ScimResource {
            tenant: "t".into(),
            resource_type: kind,
            id: id.into(),
            name_key: id.into(),
            version: 1,
            created_at: 0,
            modified_at: 0,
            deleted_at: deleted.then_some(5),
            document: doc.to_string(),
        }
    }

    #[test]
    fn users_map_with_groups_default_team_and_deletions() {
        let users = [
            resource(
                ScimType::User,
                "u1",
                serde_json::json!({"userName": "ada", "externalId": "e1",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"value": "a@home.org"}, {"value": "a@work.org", "primary": true}],
                ENTERPRISE: {"department": "R&D"}}),
                false,
            ),
            resource(
                ScimType::User,
                "u2",
                serde_json::json!({"userName": "bob", "displayName": "Bob Smith", "active": true}),
                false,
            ),
            resource(
                ScimType::User,
                "u3",
                serde_json::json!({"userName": "gone"}),
                true,
            ),
            resource(
                ScimType::User,
                "u4",
                serde_json::json!({"userName": "off", "active": false}),
                false,
            ),
        ];
        let groups = [
            resource(
                ScimType::Group,
                "g1",
                serde_json::json!({"displayName": "Tier 1", "members": [{"value": "u1"}, {"value": "u3"}]}),
                false,
            ),
            resource(
                ScimType::Group,
                "g2",
                serde_json::json!({"displayName": "Old", "members": [{"value": "u1"}]}),
                true,
            ),
        ];
        let s = scim_snapshot(&users, &groups, "Agents");
        s.validate().unwrap();
        let u1 = &s.users[0];
        assert_eq!(
            (u1.first_name.as_str(), u1.last_name.as_str()),
            ("Ada", "Lovelace")
        );
        assert_eq!(u1.email.as_deref(), Some("a@work.org"));
        assert_eq!(u1.groups, ["g1"], "deleted groups hold no one");
        assert_eq!(u1.attributes["department"], "R&D");
        assert_eq!(u1.attributes["team"], "Tier 1");
        assert_eq!(u1.attributes["externalId"], "e1");
        let u2 = &s.users[1];
        assert_eq!(
            (u2.first_name.as_str(), u2.last_name.as_str()),
            ("Bob", "Smith")
        );
        assert_eq!(u2.groups, ["Agents"], "no group: the default team");
        assert!(
            !s.users[2].active,
            "deleted through SCIM: disabled, still there"
        );
        assert!(!s.users[3].active);
        let groups: Vec<(&str, bool)> =
            s.groups.iter().map(|g| (g.id.as_str(), g.active)).collect();
        assert_eq!(groups, [("Agents", true), ("g1", true), ("g2", false)]);

        // With a SCIM group named like the default team, users without a group join it.
        let mut groups = Vec::new();
        groups.push(resource(
            ScimType::Group,
            "g9",
            serde_json::json!({"displayName": "Agents", "members": []}),
            false,
        ));
        let s = scim_snapshot(&users[1..2], &groups, "Agents");
        assert_eq!(s.users[0].groups, ["g9"]);
        assert_eq!(s.groups.len(), 1);
    }
}
