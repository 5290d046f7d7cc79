//! `wfm-bridge.toml`: the store, the server, tenants, integration accounts and flows.
//!
//! The file is read into a TOML table, environment overrides are applied, then every section is
//! checked key by key: an unknown key or a bad value is an error that names the key
//! (`wfm-bridge.toml: flows.nordic-rta.every: "10x" is not a duration …`). Account properties are
//! checked against their account type's schema; flow options against their flow kind's.
//!
//! Secrets are written `env:NAME` or `file:PATH` and resolved here; a literal secret is accepted with
//! a warning. Resolved secrets only live in [`Secret`], which never prints them.
//!
//! Every key can be overridden by an environment variable: `WFM_BRIDGE__STORE__URL`,
//! `WFM_BRIDGE__SERVER__LISTEN`, and for named entries `WFM_BRIDGE__ACCOUNTS__<NAME>__<KEY>`,
//! `WFM_BRIDGE__FLOWS__<NAME>__<KEY>`, `WFM_BRIDGE__TENANTS__<ID>__<KEY>` (names upper-cased, other
//! characters than letters and digits as `_`). Values are read as TOML when they parse (numbers,
//! booleans) and as text otherwise.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};
use wfm_connectors::accounts::{
    AccountConfig, PropertyKind, PropertySpec, PropertyValue, Secret, account_type, account_types,
};
use wfm_model::schedule::parse_duration;
use wfm_model::{CronSchedule, IntervalLength, Schedule, Tenant};

use crate::flows::{FlowDirection, FlowKind, FlowSettings, OnInvalid};
use wfm_connectors::targets::realtime::{RealtimeCadence, realtime_cadence};

/// What a real-time account asks of its flows: its periodic interval (Loxysoft) becomes the update
/// clock unless the flow sets `update_every`, and its keep-alive (NICE) caps `snapshot_every`, since
/// the receiver takes a longer silence for a lost connection.
fn apply_cadence(
    options: &mut BTreeMap<String, PropertyValue>,
    cadence: RealtimeCadence,
    update_every_set: bool,
) {
    if let Some(update) = cadence.update_every
        && !update_every_set
    {
        options.insert("update_every".to_string(), PropertyValue::Duration(update));
    }
    if let Some(keep_alive) = cadence.snapshot_every {
        let current = match options.get("snapshot_every") {
            Some(PropertyValue::Duration(d)) => *d,
            _ => crate::flows::agent_states::DEFAULT_SNAPSHOT_EVERY,
        };
        if keep_alive < current {
            options.insert(
                "snapshot_every".to_string(),
                PropertyValue::Duration(keep_alive),
            );
        }
    }
}
use crate::secrets::{KEY_ENV, SecretKey};

/// The default address of the HTTP server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// A configuration mistake, naming the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {message}")]
pub struct ConfigError {
    /// The configuration file.
    pub file: String,
    /// Dotted path of the key (`flows.nordic-rta.every`), or `toml` for syntax errors.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Delivery worker settings (`[delivery]`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// Attempts before a message moves to dead letters.
    pub max_attempts: u32,
    /// First retry delay; doubled on each attempt.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a claimed message is reserved for one send; also the send timeout.
    pub lease: Duration,
    /// Messages sent at the same time (different ordering keys).
    pub concurrency: usize,
    /// How often the worker looks for due messages when idle.
    pub poll: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            max_attempts: 10,
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            concurrency: 4,
            poll: Duration::from_millis(250),
        }
    }
}

/// A tenant from `[[tenants]]`.
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// The tenant as a canonical record (kept in the store).
    pub tenant: Tenant,
    /// Bearer token of the tenant's ingest API.
    pub ingest_token: Option<Secret>,
    /// Bearer token of the tenant's SCIM API, when it is not the ingest token.
    pub scim_token: Option<Secret>,
}

/// What an admin token may do (`[[admin_tokens]] role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Read and change everything in its tenants.
    Admin,
    /// Read only: every change is refused (403).
    Viewer,
}

/// A bearer token of the admin API and console (`[[admin_tokens]]`).
#[derive(Debug, Clone)]
pub struct AdminToken {
    /// A label for logs and messages (`name`, else `admin_tokens[<index>]`).
    pub name: String,
    /// The token itself.
    pub token: Secret,
    /// What it may do.
    pub role: AdminRole,
    /// The tenants it sees; `None` for every tenant (`tenants = ["*"]`).
    pub tenants: Option<Vec<String>>,
}

impl AdminToken {
    /// Whether the token sees `tenant`.
    pub fn sees(&self, tenant: &str) -> bool {
        self.tenants
            .as_ref()
            .is_none_or(|list| list.iter().any(|t| t == tenant))
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: String,
    /// `[store] url`, when set.
    pub store_url: Option<String>,
    /// `[server] listen`.
    pub listen: SocketAddr,
    /// `[delivery]`.
    pub delivery: DeliverySettings,
    /// `[[tenants]]`.
    pub tenants: Vec<TenantSettings>,
    /// `[[accounts]]`, checked against their types.
    pub accounts: Vec<AccountConfig>,
    /// `[[flows]]`.
    pub flows: Vec<FlowSettings>,
    /// Things that work but should be changed (literal secrets).
    pub warnings: Vec<String>,
    /// `[[admin_tokens]]`: who may use the admin API and console.
    pub admin_tokens: Vec<AdminToken>,
    /// The key encrypting secrets of accounts created through the admin API
    /// (`WFM_BRIDGE_SECRET_KEY`, else `[secrets] key_file`).
    pub secret_key: Option<SecretKey>,
}

impl Config {
    /// Reads and checks a configuration file, with overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            key: "file".to_string(),
            message: format!(
                "cannot read the configuration: {e}; create it from examples/wfm-bridge.toml or pass --config FILE"
            ),
        })?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        Config::parse(&file, &text, &env, path.parent())
    }

    /// Checks configuration text; `env` supplies overrides and `env:` secrets, `dir` anchors relative
    /// `file:` secrets.
    pub fn parse(
        file: &str,
        text: &str,
        env: &[(String, String)],
        dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let mut table: Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            file: file.to_string(),
            key: "toml".to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let ctx = Context {
            file: file.to_string(),
            env: env.iter().cloned().collect(),
            dir: dir.map(Path::to_path_buf),
            warnings: RefCell::new(Vec::new()),
        };
        apply_overrides(&mut table, env, &ctx)?;
        let mut root = Section::new(&ctx, String::new(), &table);

        let store_url = match root.table("store")? {
            Some(mut store) => {
                let url = store
                    .text("url")?
                    .map(|url| relative_sqlite(url, ctx.dir.as_deref()));
                store.finish()?;
                url
            }
            None => None,
        };
        let listen = match root.table("server")? {
            Some(mut server) => {
                let listen = server.text("listen")?;
                let listen = match listen {
                    Some(text) => text.parse().map_err(|_| {
                        server.error(
                            "listen",
                            format!("{text:?} is not an address; write host:port, e.g. \"127.0.0.1:8080\""),
                        )
                    })?,
                    None => DEFAULT_LISTEN.parse().expect("valid default"),
                };
                server.finish()?;
                listen
            }
            None => DEFAULT_LISTEN.parse().expect("valid default"),
        };
        let delivery = match root.table("delivery")? {
            Some(mut d) => {
                let defaults = DeliverySettings::default();
                let settings = DeliverySettings {
                    max_attempts: d
                        .positive("max_attempts")?
                        .unwrap_or(defaults.max_attempts as i64)
                        as u32,
                    backoff_initial: d
                        .duration("backoff_initial")?
                        .unwrap_or(defaults.backoff_initial),
                    backoff_max: d.duration("backoff_max")?.unwrap_or(defaults.backoff_max),
                    lease: d.duration("lease")?.unwrap_or(defaults.lease),
                    concurrency: d
                        .positive("concurrency")?
                        .unwrap_or(defaults.concurrency as i64)
                        as usize,
                    poll: d.duration("poll")?.unwrap_or(defaults.poll),
                };
                if settings.backoff_max < settings.backoff_initial {
                    return Err(
                        d.error("backoff_max", "is shorter than backoff_initial".to_string())
                    );
                }
                if settings.lease < Duration::from_secs(1) {
                    return Err(d.error(
                        "lease",
                        "must be at least 1s: it is also the send timeout".to_string(),
                    ));
                }
                d.finish()?;
                settings
            }
            None => DeliverySettings::default(),
        };

        let mut tenants = Vec::new();
        for mut t in root.array("tenants", "id")? {
            let id = t.required_text("id")?;
            let name = t.text("name")?.unwrap_or_else(|| id.clone());
            let time_zone = t.text("time_zone")?.unwrap_or_else(|| "UTC".to_string());
            let interval_minutes = match t.integer("interval_minutes")? {
                None => IntervalLength::default(),
                Some(m) => IntervalLength::from_minutes(u32::try_from(m).unwrap_or(0)).ok_or_else(
                    || {
                        t.error(
                            "interval_minutes",
                            format!("is {m}; it must be 15, 30 or 60"),
                        )
                    },
                )?,
            };
            let admin_reasons = t.text_list("admin_reasons")?.unwrap_or_default();
            let ingest_token = t.secret("ingest_token")?;
            let scim_token = t.secret("scim_token")?;
            let tenant = Tenant {
                tenant: id.clone(),
                name,
                time_zone,
                interval_minutes,
                admin_reasons,
            };
            tenant
                .validate()
                .map_err(|e| t.error(e.field.as_deref().unwrap_or("id"), e.message))?;
            if tenants
                .iter()
                .any(|x: &TenantSettings| x.tenant.tenant == id)
            {
                return Err(t.error("id", format!("tenant {id:?} is configured twice")));
            }
            t.finish()?;
            tenants.push(TenantSettings {
                tenant,
                ingest_token,
                scim_token,
            });
        }

        let secret_key = match root.table("secrets")? {
            Some(mut secrets) => {
                let key_file = secrets.text("key_file")?;
                let key = match (ctx.env.get(KEY_ENV), key_file) {
                    (Some(text), _) => Some(
                        SecretKey::from_base64(text)
                            .map_err(|e| secrets.error("key_file", format!("{KEY_ENV}: {e}")))?,
                    ),
                    (None, Some(path)) => {
                        let path = match &ctx.dir {
                            Some(dir) if Path::new(&path).is_relative() => dir.join(&path),
                            _ => PathBuf::from(&path),
                        };
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            secrets.error(
                                "key_file",
                                format!("cannot read {}: {e}; create it with `wfm-bridge secrets generate-key > {}`", path.display(), path.display()),
                            )
                        })?;
                        Some(SecretKey::from_base64(&text).map_err(|e| {
                            secrets.error("key_file", format!("{}: {e}", path.display()))
                        })?)
                    }
                    (None, None) => None,
                };
                secrets.finish()?;
                key
            }
            None => match ctx.env.get(KEY_ENV) {
                Some(text) => Some(SecretKey::from_base64(text).map_err(|e| ConfigError {
                    file: ctx.file.clone(),
                    key: KEY_ENV.to_string(),
                    message: e.to_string(),
                })?),
                None => None,
            },
        };

        let mut admin_tokens: Vec<AdminToken> = Vec::new();
        for (index, mut t) in root.array("admin_tokens", "name")?.into_iter().enumerate() {
            let name = t
                .text("name")?
                .unwrap_or_else(|| format!("admin_tokens[{index}]"));
            let token = t.secret("token")?.ok_or_else(|| {
                t.error(
                    "token",
                    "is required: write token = \"env:NAME\" (the variable holds the token)"
                        .to_string(),
                )
            })?;
            let role = match t.text("role")?.as_deref() {
                Some("admin") => AdminRole::Admin,
                Some("viewer") => AdminRole::Viewer,
                Some(other) => {
                    return Err(t.error(
                        "role",
                        format!("{other:?} is not a role; write \"admin\" (may change things) or \"viewer\" (read only)"),
                    ));
                }
                None => {
                    return Err(t.error("role", "is required: \"admin\" or \"viewer\"".to_string()));
                }
            };
            let list = t.text_list("tenants")?.ok_or_else(|| {
                t.error(
                    "tenants",
                    "is required: [\"*\"] for every tenant, or a list of tenant ids".to_string(),
                )
            })?;
            let scope = if list.iter().any(|x| x == "*") {
                if list.len() > 1 {
                    return Err(t.error(
                        "tenants",
                        "\"*\" already means every tenant; list nothing else with it".to_string(),
                    ));
                }
                None
            } else {
                if list.is_empty() {
                    return Err(t.error(
                        "tenants",
                        "is empty; list tenant ids, or [\"*\"] for every tenant".to_string(),
                    ));
                }
                for tenant in &list {
                    if !tenants.iter().any(|x| &x.tenant.tenant == tenant) {
                        return Err(
                            t.error("tenants", format!("{tenant:?} is not a configured tenant"))
                        );
                    }
                }
                Some(list)
            };
            if admin_tokens.iter().any(|x| x.token == token) {
                return Err(t.error(
                    "token",
                    "the same token is configured twice; give each admin token its own value"
                        .to_string(),
                ));
            }
            t.finish()?;
            admin_tokens.push(AdminToken {
                name,
                token,
                role,
                tenants: scope,
            });
        }

        let mut accounts: Vec<AccountConfig> = Vec::new();
        for mut a in root.array("accounts", "name")? {
            let name = a.required_text("name")?;
            let type_name = a.required_text("type")?;
            let Some(ty) = account_type(&type_name) else {
                let known: Vec<&str> = account_types().iter().map(|t| t.name).collect();
                return Err(a.error(
                    "type",
                    format!(
                        "{type_name:?} is not an account type; known types: {}",
                        known.join(", ")
                    ),
                ));
            };
            let tenant = a.text("tenant")?;
            if let Some(tenant) = &tenant
                && !tenants.iter().any(|t| &t.tenant.tenant == tenant)
            {
                return Err(a.error("tenant", format!("{tenant:?} is not a configured tenant")));
            }
            let mut properties = BTreeMap::new();
            for spec in ty.properties {
                if let Some(value) = a.property(spec)? {
                    properties.insert(spec.name.to_string(), value);
                }
            }
            if accounts.iter().any(|x| x.name == name) {
                return Err(a.error("name", format!("account {name:?} is configured twice")));
            }
            if ty.single_per_tenant
                && accounts
                    .iter()
                    .any(|x| x.account_type == type_name && x.tenant == tenant)
            {
                return Err(a.error(
                    "type",
                    format!("only one {type_name} account is allowed per tenant"),
                ));
            }
            a.finish()?;
            let account = AccountConfig {
                name,
                account_type: type_name,
                tenant,
                properties,
            };
            // Values that are well-typed but unusable (a URL of another scheme…).
            let checked = match (ty.build, ty.build_source, ty.build_directory) {
                (Some(build), _, _) => build(&account).map(drop),
                (None, Some(build), _) => build(&account).map(drop),
                (None, None, Some(build)) => build(&account).map(drop),
                (None, None, None) => Ok(()),
            };
            checked.map_err(|e| ConfigError {
                file: ctx.file.clone(),
                key: format!("accounts.{}", account.name),
                message: e.message,
            })?;
            accounts.push(account);
        }

        let mut flows: Vec<FlowSettings> = Vec::new();
        for mut f in root.array("flows", "name")? {
            let name = f.required_text("name")?;
            let kind_name = f.required_text("kind")?;
            let kind: FlowKind = kind_name.parse().map_err(|e: String| f.error("kind", e))?;
            let tenant = f.required_text("tenant")?;
            if !tenants.iter().any(|t| t.tenant.tenant == tenant) {
                return Err(f.error("tenant", format!("{tenant:?} is not a configured tenant")));
            }
            let source = f.text("source")?.filter(|s| s != "store");
            let target = f.text("target")?.filter(|t| t != "store");
            let on_invalid = f.text("on_invalid")?;
            let direction = match (source, target) {
                (source, target) if kind == FlowKind::Directory => {
                    sync_direction(&f, source, target, on_invalid.is_some(), &accounts)?
                }
                (Some(source), None) => {
                    let Some(account) = accounts.iter().find(|a| a.name == source) else {
                        return Err(f.error(
                            "source",
                            format!(
                                "{source:?} is not a configured account (accounts: {})",
                                names(&accounts)
                            ),
                        ));
                    };
                    if account_type(&account.account_type)
                        .and_then(|t| t.build_source)
                        .is_none()
                    {
                        return Err(f.error(
                            "source",
                            format!(
                                "{source:?} is a {} account, which cannot be read from",
                                account.account_type
                            ),
                        ));
                    }
                    let on_invalid = match on_invalid.as_deref() {
                        None | Some("skip") => OnInvalid::Skip,
                        Some("stop") => OnInvalid::Stop,
                        Some(other) => {
                            return Err(f.error(
                                "on_invalid",
                                format!("{other:?}: write \"skip\" (import the valid records, set the rest aside) or \"stop\" (fail the run, keep the file)"),
                            ));
                        }
                    };
                    if !kind.can_ingest() {
                        return Err(f.error(
                            "source",
                            format!("flows of kind {kind} cannot read from an account"),
                        ));
                    }
                    FlowDirection::Ingest { source, on_invalid }
                }
                (None, Some(target)) => {
                    let Some(account) = accounts.iter().find(|a| a.name == target) else {
                        return Err(f.error(
                            "target",
                            format!(
                                "{target:?} is not a configured account (accounts: {})",
                                names(&accounts)
                            ),
                        ));
                    };
                    if account_type(&account.account_type)
                        .and_then(|t| t.build)
                        .is_none()
                    {
                        return Err(f.error(
                            "target",
                            format!(
                                "{target:?} is a {} account, which cannot be delivered to",
                                account.account_type
                            ),
                        ));
                    }
                    if on_invalid.is_some() {
                        return Err(f.error(
                            "on_invalid",
                            "only applies to flows that read from a source account".to_string(),
                        ));
                    }
                    FlowDirection::Deliver { target }
                }
                (Some(_), Some(_)) => {
                    return Err(f.error(
                        "target",
                        "a flow reads from a source account into the store, or from the store to a target account; set one of source and target".to_string(),
                    ));
                }
                (None, None) => {
                    return Err(f.error(
                        "target",
                        "is required: the account this flow delivers to (or set source to read from an account into the store)".to_string(),
                    ));
                }
            };
            let every = f.duration("every")?;
            let cron = f.text("cron")?;
            let continuous = f.bool("continuous")?.unwrap_or(false);
            let schedule = match (every, cron, continuous) {
                (Some(d), None, false) if d >= Duration::from_secs(1) => Schedule::Every(d),
                (Some(_), None, false) => {
                    return Err(f.error("every", "must be at least 1s".to_string()));
                }
                (None, Some(c), false) => Schedule::Cron(
                    c.parse::<CronSchedule>().map_err(|e| f.error("cron", e.to_string()))?,
                ),
                (None, None, true) => Schedule::Continuous,
                (None, None, false) => kind.default_schedule().ok_or_else(|| {
                    f.error(
                        "every",
                        "no schedule; set every = \"15m\", cron = \"0 30 2 * * *\" or continuous = true"
                            .to_string(),
                    )
                })?,
                _ => {
                    return Err(f.error(
                        "every",
                        "set only one of every, cron and continuous".to_string(),
                    ));
                }
            };
            let enabled = f.bool("enabled")?.unwrap_or(true);
            let mut options = BTreeMap::new();
            let update_every_set = f.table.contains_key("update_every");
            let specs = match direction {
                FlowDirection::Deliver { .. } | FlowDirection::Sync { .. } => kind.options(),
                FlowDirection::Ingest { .. } => &[],
            };
            for spec in specs {
                if let Some(value) = f.property(spec)? {
                    options.insert(spec.name.to_string(), value);
                }
            }
            if kind == FlowKind::AgentStates
                && let FlowDirection::Deliver { target } = &direction
                && let Some(account) = accounts.iter().find(|a| &a.name == target)
            {
                apply_cadence(&mut options, realtime_cadence(account), update_every_set);
            }
            if flows.iter().any(|x| x.name == name) {
                return Err(f.error("name", format!("flow {name:?} is configured twice")));
            }
            f.finish()?;
            let flow = FlowSettings {
                name,
                kind,
                tenant,
                direction,
                schedule,
                enabled,
                options,
            };
            kind.check_options(&flow).map_err(|message| ConfigError {
                file: ctx.file.clone(),
                key: format!("flows.{}", flow.name),
                message,
            })?;
            flows.push(flow);
        }
        root.finish()?;
        Ok(Config {
            file: file.to_string(),
            store_url,
            listen,
            delivery,
            tenants,
            accounts,
            flows,
            warnings: ctx.warnings.take(),
            admin_tokens,
            secret_key,
        })
    }

    /// The account of a name.
    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The flow of a name.
    pub fn flow(&self, name: &str) -> Option<&FlowSettings> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// The tenant of an id.
    pub fn tenant(&self, id: &str) -> Option<&TenantSettings> {
        self.tenants.iter().find(|t| t.tenant.tenant == id)
    }
}

/// A relative SQLite path in the configuration is relative to the configuration file, like every
/// other path in it.
fn relative_sqlite(url: String, dir: Option<&Path>) -> String {
    match (url.strip_prefix("sqlite://"), dir) {
        (Some(path), Some(dir))
            if !path.is_empty()
                && !path.starts_with('/')
                && !path.starts_with(':')
                && dir != Path::new("") =>
        {
            format!("sqlite://{}", dir.join(path).display())
        }
        _ => url,
    }
}

/// Only the store URL of a configuration file (`[store] url`, or its `WFM_BRIDGE__STORE__URL`
/// override): commands that just read or write the store should not need the rest to be in place.
pub fn store_url(path: &Path) -> Result<Option<String>, ConfigError> {
    if let Ok(url) = std::env::var("WFM_BRIDGE__STORE__URL") {
        return Ok(Some(url));
    }
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        key: "file".to_string(),
        message: format!("cannot read the configuration: {e}"),
    })?;
    let table: Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
        file: file.clone(),
        key: "toml".to_string(),
        message: e.to_string().trim_end().replace('\n', " "),
    })?;
    match table.get("store").and_then(|s| s.get("url")) {
        None => Ok(None),
        Some(Value::String(url)) => Ok(Some(relative_sqlite(url.clone(), path.parent()))),
        Some(_) => Err(ConfigError {
            file,
            key: "store.url".to_string(),
            message: "must be text".to_string(),
        }),
    }
}

/// The direction of a directory flow: a target account that can be delivered to, and a source
/// that is the store (unset or `"store"`) or an account whose type reads as a directory.
fn sync_direction(
    f: &Section<'_>,
    source: Option<String>,
    target: Option<String>,
    on_invalid: bool,
    accounts: &[AccountConfig],
) -> Result<FlowDirection, ConfigError> {
    if on_invalid {
        return Err(f.error(
            "on_invalid",
            "only applies to flows that read records into the store".to_string(),
        ));
    }
    let Some(target) = target else {
        return Err(f.error(
            "target",
            "is required: the account directory changes go to (a calabrio_wfm, files or http account)"
                .to_string(),
        ));
    };
    let Some(account) = accounts.iter().find(|a| a.name == target) else {
        return Err(f.error(
            "target",
            format!(
                "{target:?} is not a configured account (accounts: {})",
                names(accounts)
            ),
        ));
    };
    if account_type(&account.account_type)
        .and_then(|t| t.build)
        .is_none()
    {
        return Err(f.error(
            "target",
            format!(
                "{target:?} is a {} account, which cannot be delivered to",
                account.account_type
            ),
        ));
    }
    if let Some(source) = &source {
        let Some(account) = accounts.iter().find(|a| &a.name == source) else {
            return Err(f.error(
                "source",
                format!(
                    "{source:?} is not a configured account; write \"store\" (the default) to sync the store's agents and queues (accounts: {})",
                    names(accounts)
                ),
            ));
        };
        if !crate::directory_sources::readable(&account.account_type) {
            let readable: Vec<&str> = account_types()
                .iter()
                .filter(|t| crate::directory_sources::readable(t.name))
                .map(|t| t.name)
                .collect();
            return Err(f.error(
                "source",
                format!(
                    "{source:?} is a {} account, which has no directory to read; use \"store\" or an account of type {}",
                    account.account_type,
                    if readable.is_empty() { "none yet".to_string() } else { readable.join(", ") }
                ),
            ));
        }
    }
    Ok(FlowDirection::Sync { source, target })
}

fn names(accounts: &[AccountConfig]) -> String {
    if accounts.is_empty() {
        return "none".to_string();
    }
    accounts
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What every section needs: the file name, the environment for `env:` secrets, the directory for
/// relative `file:` secrets.
struct Context {
    file: String,
    env: BTreeMap<String, String>,
    dir: Option<PathBuf>,
    /// Shared by every section: they borrow the context immutably.
    warnings: RefCell<Vec<String>>,
}

/// One table being read: remembers which keys were used so that the rest can be reported.
struct Section<'a> {
    ctx: &'a Context,
    path: String,
    table: &'a Table,
    used: BTreeSet<String>,
}

impl<'a> Section<'a> {
    fn new(ctx: &'a Context, path: String, table: &'a Table) -> Section<'a> {
        Section {
            ctx,
            path,
            table,
            used: BTreeSet::new(),
        }
    }

    fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn error(&self, key: &str, message: String) -> ConfigError {
        ConfigError {
            file: self.ctx.file.clone(),
            key: self.key(key),
            message,
        }
    }

    fn get(&mut self, key: &str) -> Option<&'a Value> {
        self.used.insert(key.to_string());
        self.table.get(key)
    }

    fn table(&mut self, key: &str) -> Result<Option<Section<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Section::new(self.ctx, self.key(key), t))),
            Some(_) => Err(self.error(key, format!("must be a table ([{key}])"))),
        }
    }

    /// An array of tables, each named by its `name_key` in error paths (`flows.nordic-rta`).
    fn array(&mut self, key: &str, name_key: &str) -> Result<Vec<Section<'a>>, ConfigError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Table(t) => {
                        let label = match t.get(name_key) {
                            Some(Value::String(name)) => format!("{key}.{name}"),
                            _ => format!("{key}[{i}]"),
                        };
                        Ok(Section::new(self.ctx, label, t))
                    }
                    _ => Err(self.error(key, format!("must be an array of tables ([[{key}]])"))),
                })
                .collect(),
            Some(_) => Err(self.error(key, format!("must be an array of tables ([[{key}]])"))),
        }
    }

    fn text(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.error(key, format!("must be text, not {}", other.type_str()))),
        }
    }

    fn required_text(&mut self, key: &str) -> Result<String, ConfigError> {
        match self.text(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(self.error(key, "is empty".to_string())),
            None => Err(self.error(key, "is required".to_string())),
        }
    }

    fn text_list(&mut self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.error(
                        key,
                        format!("must be a list of text, not of {}", other.type_str()),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.error(
                key,
                format!("must be a list of text, not {}", other.type_str()),
            )),
        }
    }

    /// A table of text (or numbers, read as text) keyed by text: `[flows.state_codes]`.
    fn text_map(&mut self, key: &str) -> Result<Option<BTreeMap<String, String>>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => t
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Integer(i) => Ok((k.clone(), i.to_string())),
                    other => Err(self.error(
                        &format!("{key}.{k}"),
                        format!("must be text or a number, not {}", other.type_str()),
                    )),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Some),
            Some(other) => Err(self.error(
                key,
                format!(
                    "must be a table ([… .{key}] or {key} = {{ a = \"b\" }}), not {}",
                    other.type_str()
                ),
            )),
        }
    }

    fn integer(&mut self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Integer(i)) => Ok(Some(*i)),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.error(key, format!("{s:?} is not a whole number"))),
            Some(other) => Err(self.error(
                key,
                format!("must be a whole number, not {}", other.type_str()),
            )),
        }
    }

    fn positive(&mut self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.integer(key)? {
            Some(n) if n < 1 => Err(self.error(key, format!("is {n}; it must be at least 1"))),
            other => Ok(other),
        }
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
            Some(other) => Err(self.error(
                key,
                format!("must be true or false, not {}", other.type_str()),
            )),
        }
    }

    fn duration(&mut self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.text(key)? {
            None => Ok(None),
            Some(text) => parse_duration(&text)
                .map(Some)
                .map_err(|e| self.error(key, e)),
        }
    }

    /// A secret: `env:NAME`, `file:PATH`, or a literal (accepted with a warning).
    fn secret(&mut self, key: &str) -> Result<Option<Secret>, ConfigError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        self.resolve_secret(key, text).map(Some)
    }

    /// A table of secrets (`api_secrets = { master = "env:A", emea = "file:b" }`), each value
    /// resolved like [`Section::secret`].
    fn secret_map(&mut self, key: &str) -> Result<Option<BTreeMap<String, Secret>>, ConfigError> {
        let Some(map) = self.text_map(key)? else {
            return Ok(None);
        };
        map.into_iter()
            .map(|(k, v)| {
                self.resolve_secret(&format!("{key}.{k}"), v)
                    .map(|s| (k, s))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Some)
    }

    /// Resolves the text of the secret at `key`.
    fn resolve_secret(&self, key: &str, text: String) -> Result<Secret, ConfigError> {
        if let Some(name) = text.strip_prefix("env:") {
            return match self.ctx.env.get(name) {
                Some(value) if !value.is_empty() => Ok(Secret::new(value.clone())),
                Some(_) => Err(self.error(key, format!("environment variable {name} is empty"))),
                None => Err(self.error(key, format!("environment variable {name} is not set"))),
            };
        }
        if let Some(path) = text.strip_prefix("file:") {
            let path = match &self.ctx.dir {
                Some(dir) if Path::new(path).is_relative() => dir.join(path),
                _ => PathBuf::from(path),
            };
            return match std::fs::read_to_string(&path) {
                Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim().to_string())),
                Ok(_) => Err(self.error(key, format!("secret file {} is empty", path.display()))),
                Err(e) => Err(self.error(
                    key,
                    format!("cannot read secret file {}: {e}", path.display()),
                )),
            };
        }
        self.ctx.warnings.borrow_mut().push(format!(
            "{}: {}: holds a literal secret; write env:NAME or file:PATH so it stays out of the file",
            self.ctx.file,
            self.key(key)
        ));
        Ok(Secret::new(text))
    }

    /// A property of an account type or an option of a flow kind, checked against its spec.
    fn property(&mut self, spec: &PropertySpec) -> Result<Option<PropertyValue>, ConfigError> {
        let key = spec.name;
        let value = if spec.secret && spec.kind == PropertyKind::Map {
            self.secret_map(key)?.map(PropertyValue::SecretMap)
        } else if spec.secret {
            self.secret(key)?.map(PropertyValue::Secret)
        } else {
            match spec.kind {
                PropertyKind::Text => self.text(key)?.map(PropertyValue::Text),
                PropertyKind::Url => match self.text(key)? {
                    Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                        Some(PropertyValue::Text(url))
                    }
                    Some(url) => {
                        return Err(
                            self.error(key, format!("{url:?} is not an http:// or https:// URL"))
                        );
                    }
                    None => None,
                },
                PropertyKind::Path => self.text(key)?.map(|p| {
                    let path = match &self.ctx.dir {
                        Some(dir) if Path::new(&p).is_relative() => {
                            dir.join(&p).display().to_string()
                        }
                        _ => p,
                    };
                    PropertyValue::Text(path)
                }),
                PropertyKind::Integer => self.integer(key)?.map(PropertyValue::Integer),
                PropertyKind::Bool => self.bool(key)?.map(PropertyValue::Bool),
                PropertyKind::Duration => self.duration(key)?.map(PropertyValue::Duration),
                PropertyKind::Map => self.text_map(key)?.map(PropertyValue::Map),
            }
        };
        match (value, spec.default) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(default)) => Ok(Some(default_value(spec, default))),
            (None, None) if spec.required => {
                Err(self.error(key, format!("is required ({})", spec.help)))
            }
            (None, None) => Ok(None),
        }
    }

    /// Fails on the first key that was never read, listing the ones that are known.
    fn finish(self) -> Result<(), ConfigError> {
        if let Some(unknown) = self.table.keys().find(|k| !self.used.contains(k.as_str())) {
            let known: Vec<&str> = self.used.iter().map(String::as_str).collect();
            return Err(self.error(
                unknown,
                format!("unknown key; known keys here: {}", known.join(", ")),
            ));
        }
        Ok(())
    }
}

fn default_value(spec: &PropertySpec, default: &str) -> PropertyValue {
    match spec.kind {
        PropertyKind::Integer => {
            PropertyValue::Integer(default.parse().expect("valid integer default"))
        }
        PropertyKind::Bool => PropertyValue::Bool(default == "true"),
        PropertyKind::Duration => {
            PropertyValue::Duration(parse_duration(default).expect("valid duration default"))
        }
        PropertyKind::Text | PropertyKind::Url | PropertyKind::Path => {
            PropertyValue::Text(default.to_string())
        }
        PropertyKind::Map => PropertyValue::Map(BTreeMap::new()),
    }
}

/// Upper-case with everything but letters and digits as `_`: `calabrio-prod` → `CALABRIO_PROD`.
fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Applies `WFM_BRIDGE__…` overrides to the raw table.
fn apply_overrides(
    table: &mut Table,
    env: &[(String, String)],
    ctx: &Context,
) -> Result<(), ConfigError> {
    for (var, raw) in env {
        let Some(path) = var.strip_prefix("WFM_BRIDGE__") else {
            continue;
        };
        let parts: Vec<&str> = path.split("__").collect();
        let value = parse_override(raw);
        let fail = |message: String| ConfigError {
            file: ctx.file.clone(),
            key: var.clone(),
            message,
        };
        match parts.as_slice() {
            [section, key] => {
                let section = section.to_ascii_lowercase();
                let entry = table
                    .entry(section.clone())
                    .or_insert_with(|| Value::Table(Table::new()));
                let Value::Table(t) = entry else {
                    return Err(fail(format!("[{section}] is not a table")));
                };
                t.insert(key.to_ascii_lowercase(), value);
            }
            [section, name, key] => {
                let section = section.to_ascii_lowercase();
                let name_key = match section.as_str() {
                    "tenants" => "id",
                    "accounts" | "flows" => "name",
                    _ => {
                        return Err(fail(format!(
                            "{section} has no named entries; use WFM_BRIDGE__{}__KEY",
                            section.to_ascii_uppercase()
                        )));
                    }
                };
                let Some(Value::Array(items)) = table.get_mut(&section) else {
                    return Err(fail(format!("there are no [[{section}]] to override")));
                };
                let item = items.iter_mut().find_map(|item| match item {
                    Value::Table(t)
                        if t.get(name_key)
                            .and_then(Value::as_str)
                            .map(env_name)
                            .as_deref()
                            == Some(*name) =>
                    {
                        Some(t)
                    }
                    _ => None,
                });
                let Some(item) = item else {
                    return Err(fail(format!(
                        "no [[{section}]] entry has {name_key} matching {name}"
                    )));
                };
                item.insert(key.to_ascii_lowercase(), value);
            }
            _ => {
                return Err(fail(
                    "expected WFM_BRIDGE__SECTION__KEY or WFM_BRIDGE__SECTION__NAME__KEY"
                        .to_string(),
                ));
            }
        }
    }
    Ok(())
}

/// An override value: a TOML number, boolean or array when it parses as one, text otherwise.
fn parse_override(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !matches!(v, Value::Table(_) | Value::Datetime(_)))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests;
