//! The `serenova` account type: users, groups, skills and queues of a CxEngage (Serenova, now
//! Lifesize) contact center, read for directory sync (`reference/acd-sources.md` §1, seed 000).
//!
//! One account lists a master tenant and any number of sub-tenants, each with its tenant id, API
//! key and API secret (Calabrio ONE's "Serenova Tenants" table). Every tenant is read with HTTP
//! Basic authentication `key:secret`:
//!
//! - `GET {base}/v1/tenants/{id}/users`, `…/groups`, `…/skills`, `…/queues`;
//! - `GET …/groups/{group}/users` and `…/skills/{skill}/users` for memberships.
//!
//! Lists are read in pages (`limit`, `offset`) while the envelope's `total` says there is more;
//! items are taken from `result` (CxEngage's entity envelope) or `results` (its reporting one).
//!
//! A user who appears in several tenants of the account is ONE directory user (CxEngage user ids
//! are platform-wide): names from the master tenant when the user is there, otherwise from the
//! first tenant listing them; active when enabled in any tenant; groups and skills of every tenant;
//! `attributes.tenants` lists the tenant names. Two separate accounts stay separate (seed 000).
//! A user whose `status` is `disabled` (or `active: false`) is inactive; groups, skills and queues
//! with `active: false` (or `status: "disabled"`) too. Skills go in a user's `skills` (CxEngage
//! skill ids); queues are the snapshot's queues.
//!
//! Attributes for ACD filters: `email`, `tenants`, `team` (the first group's name), `groups` and
//! `skills` (names joined by `;`), `status`, and the user's `role` / `workStationId` /
//! `externalId` when present.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::Value;
use wfm_model::{DirectoryGroup, DirectoryQueue, DirectorySnapshot, DirectoryUser};

use crate::accounts::{
    AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec, Secret,
};
use crate::http;
use crate::sources::{DirectorySource, SourceError};
use crate::targets::CheckVerdict;

/// The default API base (US); the EU one is `https://eu-west-1-prod-api.cxengage.net`.
pub const DEFAULT_BASE_URL: &str = "https://api.cxengage.net";

/// The `serenova` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "serenova",
    description: "CxEngage (Serenova) ACD: users, groups, skills and queues of a master tenant and its sub-tenants",
    properties: &[
        PropertySpec {
            name: "base_url",
            kind: PropertyKind::Url,
            required: false,
            secret: false,
            default: Some(DEFAULT_BASE_URL),
            help: "CxEngage API base URL (EU: https://eu-west-1-prod-api.cxengage.net)",
        },
        PropertySpec {
            name: "master",
            kind: PropertyKind::Text,
            required: true,
            secret: false,
            default: None,
            help: "Name of the master tenant among `tenants`",
        },
        PropertySpec {
            name: "tenants",
            kind: PropertyKind::Map,
            required: true,
            secret: false,
            default: None,
            help: "Tenant name → CxEngage tenant id, for the master tenant and each sub-tenant",
        },
        PropertySpec {
            name: "api_keys",
            kind: PropertyKind::Map,
            required: true,
            secret: false,
            default: None,
            help: "Tenant name → API key (Configuration > API Key Management)",
        },
        PropertySpec {
            name: "api_secrets",
            kind: PropertyKind::Map,
            required: true,
            secret: true,
            default: None,
            help: "Tenant name → API key secret, each env:NAME or file:PATH",
        },
        PropertySpec {
            name: "page_size",
            kind: PropertyKind::Integer,
            required: false,
            secret: false,
            default: Some("100"),
            help: "Items asked for per page",
        },
        PropertySpec {
            name: "timeout",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("30s"),
            help: "Time allowed for one request",
        },
    ],
    single_per_tenant: false,
    build: None,
    build_source: None,
    build_directory: Some(|account| Ok(Box::new(SerenovaSource::from_account(account)?))),
};

/// One CxEngage tenant of the account.
#[derive(Debug, Clone)]
pub struct SerenovaTenant {
    /// The name given in the account (shown in messages and `attributes.tenants`).
    pub name: String,
    /// The CxEngage tenant id.
    pub id: String,
    /// API key.
    pub key: String,
    /// API key secret.
    pub secret: Secret,
}

/// Reads a CxEngage master tenant and its sub-tenants.
#[derive(Debug)]
pub struct SerenovaSource {
    account: String,
    base: String,
    /// The master first.
    tenants: Vec<SerenovaTenant>,
    page_size: usize,
    timeout: Duration,
    client: reqwest::Client,
}

impl SerenovaSource {
    /// From an account's checked properties: every tenant needs an API key and a secret.
    pub fn from_account(account: &AccountConfig) -> Result<SerenovaSource, AccountError> {
        let fail = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        let master = account.text("master").unwrap_or_default().to_string();
        let ids = account.map("tenants");
        let keys = account.map("api_keys");
        let secrets = account.secret_map("api_secrets");
        if !ids.contains_key(&master) {
            return Err(fail(format!(
                "master {master:?} is not one of the tenants ({}); name the master tenant's entry in `tenants`",
                ids.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        for (what, names) in [
            ("api_keys", keys.keys().collect::<Vec<_>>()),
            ("api_secrets", secrets.keys().collect::<Vec<_>>()),
        ] {
            if let Some(unknown) = names.into_iter().find(|n| !ids.contains_key(*n)) {
                return Err(fail(format!(
                    "{what}.{unknown}: {unknown:?} is not one of the tenants; add it to `tenants` or remove it"
                )));
            }
        }
        let mut tenants = Vec::new();
        for (name, id) in &ids {
            let key = keys.get(name).ok_or_else(|| {
                fail(format!(
                    "api_keys.{name} is missing: every tenant needs its API key"
                ))
            })?;
            let secret = secrets.get(name).ok_or_else(|| {
                fail(format!(
                    "api_secrets.{name} is missing: every tenant needs its API key secret"
                ))
            })?;
            if id.trim().is_empty() {
                return Err(fail(format!("tenants.{name}: the tenant id is empty")));
            }
            let tenant = SerenovaTenant {
                name: name.clone(),
                id: id.clone(),
                key: key.clone(),
                secret: secret.clone(),
            };
            if *name == master {
                tenants.insert(0, tenant);
            } else {
                tenants.push(tenant);
            }
        }
        let base = account
            .text("base_url")
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
            .to_string();
        let page_size = account.integer("page_size").unwrap_or(100);
        if page_size < 1 {
            return Err(fail(format!(
                "page_size is {page_size}; it must be at least 1"
            )));
        }
        let client = http::client().map_err(|e| fail(e.to_string()))?;
        Ok(SerenovaSource {
            account: account.name.clone(),
            base,
            tenants,
            page_size: page_size as usize,
            timeout: account
                .duration("timeout")
                .unwrap_or(Duration::from_secs(30)),
            client,
        })
    }

    fn error(&self, message: String) -> SourceError {
        SourceError {
            source_name: self.account.clone(),
            message,
        }
    }

    /// Every item of a list endpoint of one tenant, page by page.
    async fn list(&self, tenant: &SerenovaTenant, path: &str) -> Result<Vec<Value>, SourceError> {
        let mut items = Vec::new();
        loop {
            let url = format!(
                "{}/v1/tenants/{}/{path}?limit={}&offset={}",
                self.base,
                tenant.id,
                self.page_size,
                items.len()
            );
            let response = self
                .client
                .get(&url)
                .basic_auth(&tenant.key, Some(tenant.secret.expose()))
                .timeout(self.timeout)
                .send()
                .await
                .map_err(|e| {
                    self.error(format!(
                        "tenant {}: {}",
                        tenant.name,
                        http::describe_error(&e)
                    ))
                })?;
            let status = response.status();
            if !status.is_success() {
                let body = response.text().await.unwrap_or_default();
                return Err(self.error(refusal(tenant, path, status, &body)));
            }
            let body: Value = response.json().await.map_err(|e| {
                self.error(format!(
                    "tenant {}: GET {path} answered something that is not JSON: {e}",
                    tenant.name
                ))
            })?;
            // Without a `total` the endpoint does not page: one answer is everything.
            let total = body.get("total").and_then(Value::as_u64);
            let page = match body {
                Value::Array(page) => page,
                Value::Object(mut envelope) => match envelope
                    .remove("result")
                    .or_else(|| envelope.remove("results"))
                {
                    Some(Value::Array(page)) => page,
                    _ => {
                        return Err(self.error(format!(
                            "tenant {}: GET {path} answered JSON without a result list",
                            tenant.name
                        )));
                    }
                },
                _ => {
                    return Err(self.error(format!(
                        "tenant {}: GET {path} answered JSON without a result list",
                        tenant.name
                    )));
                }
            };
            let got = page.len();
            items.extend(page);
            match total {
                Some(total) if got > 0 && (items.len() as u64) < total => continue,
                _ => break,
            }
        }
        Ok(items)
    }
}

/// What a refused request means, for an operator.
fn refusal(tenant: &SerenovaTenant, path: &str, status: StatusCode, body: &str) -> String {
    match status {
        StatusCode::UNAUTHORIZED => format!(
            "credentials are invalid for tenant {} (401): check its API key and secret in api_keys/api_secrets",
            tenant.name
        ),
        StatusCode::FORBIDDEN => format!(
            "access forbidden for tenant {} (403) reading {path}: give the API key a role that may read users, groups, skills and queues (Administrator)",
            tenant.name
        ),
        StatusCode::NOT_FOUND => format!(
            "tenant {} ({}) or {path} was not found (404): check the tenant id and base_url",
            tenant.name, tenant.id
        ),
        _ => {
            let excerpt: String = body.chars().take(http::BODY_EXCERPT_CHARS).collect();
            format!(
                "tenant {}: GET {path} answered {status}: {excerpt}",
                tenant.name
            )
        }
    }
}

fn text(item: &Value, key: &str) -> Option<String> {
    match item.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether an entity is enabled: `active: false` or `status: "disabled"` say it is not.
fn enabled(item: &Value) -> bool {
    let status_disabled = item
        .get("status")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("disabled"));
    let inactive = item.get("active").and_then(Value::as_bool) == Some(false);
    !status_disabled && !inactive
}

/// The user id of an item of `groups/{id}/users` or `skills/{id}/users`.
fn member_id(item: &Value) -> Option<String> {
    text(item, "userId")
        .or_else(|| text(item, "memberId"))
        .or_else(|| text(item, "id"))
}

/// One user as the merge builds it.
struct UserBuild {
    user: DirectoryUser,
    tenants: Vec<String>,
    group_names: Vec<String>,
    skill_names: Vec<String>,
}

#[async_trait]
impl DirectorySource for SerenovaSource {
    async fn snapshot(&self, _tenant: &str) -> Result<DirectorySnapshot, SourceError> {
        let mut users: BTreeMap<String, UserBuild> = BTreeMap::new();
        let mut groups: BTreeMap<String, DirectoryGroup> = BTreeMap::new();
        let mut queues: BTreeMap<String, DirectoryQueue> = BTreeMap::new();
        for tenant in &self.tenants {
            for item in self.list(tenant, "users").await? {
                let Some(id) = text(&item, "id") else {
                    continue;
                };
                let active = enabled(&item);
                let entry = users.entry(id.clone()).or_insert_with(|| {
                    let mut attributes = BTreeMap::new();
                    for (key, field) in [
                        ("email", "email"),
                        ("status", "status"),
                        ("role", "roleName"),
                        ("workStationId", "workStationId"),
                        ("externalId", "externalId"),
                    ] {
                        if let Some(v) = text(&item, field) {
                            attributes.insert(key.to_string(), v);
                        }
                    }
                    UserBuild {
                        user: DirectoryUser {
                            id: id.clone(),
                            first_name: text(&item, "firstName").unwrap_or_default(),
                            last_name: text(&item, "lastName").unwrap_or_default(),
                            email: text(&item, "email"),
                            active: false,
                            groups: Vec::new(),
                            skills: Vec::new(),
                            attributes,
                        },
                        tenants: Vec::new(),
                        group_names: Vec::new(),
                        skill_names: Vec::new(),
                    }
                });
                entry.user.active |= active;
                entry.tenants.push(tenant.name.clone());
            }
            for item in self.list(tenant, "groups").await? {
                let Some(id) = text(&item, "id") else {
                    continue;
                };
                let name = text(&item, "name").unwrap_or_else(|| id.clone());
                for member in self.list(tenant, &format!("groups/{id}/users")).await? {
                    if let Some(user) = member_id(&member).and_then(|m| users.get_mut(&m)) {
                        user.user.groups.push(id.clone());
                        user.group_names.push(name.clone());
                    }
                }
                groups.insert(
                    id.clone(),
                    DirectoryGroup {
                        id,
                        name,
                        active: enabled(&item),
                    },
                );
            }
            for item in self.list(tenant, "skills").await? {
                let Some(id) = text(&item, "id") else {
                    continue;
                };
                let name = text(&item, "name").unwrap_or_else(|| id.clone());
                for member in self.list(tenant, &format!("skills/{id}/users")).await? {
                    if let Some(user) = member_id(&member).and_then(|m| users.get_mut(&m)) {
                        user.user.skills.push(id.clone());
                        user.skill_names.push(name.clone());
                    }
                }
            }
            for item in self.list(tenant, "queues").await? {
                let Some(id) = text(&item, "id") else {
                    continue;
                };
                let name = text(&item, "name").unwrap_or_else(|| id.clone());
                queues.insert(
                    id.clone(),
                    DirectoryQueue {
                        id,
                        name,
                        active: enabled(&item),
                    },
                );
            }
        }
        let mut snapshot = DirectorySnapshot {
            users: users
                .into_values()
                .map(|b| {
                    let mut user = b.user;
                    let join = |v: &[String]| {
                        let mut v = v.to_vec();
                        v.dedup();
                        v.join(";")
                    };
                    user.attributes.insert("tenants".into(), join(&b.tenants));
                    if let Some(team) = b.group_names.first() {
                        user.attributes.insert("team".into(), team.clone());
                    }
                    if !b.group_names.is_empty() {
                        user.attributes
                            .insert("groups".into(), join(&b.group_names));
                    }
                    if !b.skill_names.is_empty() {
                        user.attributes
                            .insert("skills".into(), join(&b.skill_names));
                    }
                    user
                })
                .collect(),
            groups: groups.into_values().collect(),
            queues: queues.into_values().collect(),
        };
        snapshot.normalize();
        snapshot.validate().map_err(|e| {
            self.error(format!(
                "CxEngage answered an unusable directory: {}",
                e.message
            ))
        })?;
        Ok(snapshot)
    }

    async fn check(&self) -> CheckVerdict {
        for tenant in &self.tenants {
            let url = format!(
                "{}/v1/tenants/{}/users?limit=1&offset=0",
                self.base, tenant.id
            );
            let result = self
                .client
                .get(&url)
                .basic_auth(&tenant.key, Some(tenant.secret.expose()))
                .timeout(self.timeout)
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    return CheckVerdict::failed(refusal(tenant, "users", status, &body));
                }
                Err(e) => {
                    return CheckVerdict::failed(format!(
                        "tenant {}: {}",
                        tenant.name,
                        http::describe_error(&e)
                    ));
                }
            }
        }
        CheckVerdict::ok(format!(
            "connected to {} tenant(s): {}",
            self.tenants.len(),
            self.tenants
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}
