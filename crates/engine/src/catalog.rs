//! Integration accounts and flows as the admin API sees them: the ones of `wfm-bridge.toml`
//! (read-only there) together with the ones created through the API (kept in the store's catalog).
//!
//! This module owns the JSON shape of an account and of a flow, checks a JSON document against the
//! account type's property schema or the flow kind's option schema (every error names the field:
//! `properties.url`, `every`, `options.state_codes`), and encrypts an account's secret properties
//! before they reach the store ([`crate::secrets`]). The running engine ([`crate::Engine`]) holds
//! the checked result and routes flows with it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};
use wfm_connectors::accounts::{
    AccountConfig, PropertyKind, PropertySpec, PropertyValue, Secret, account_type, account_types,
};
use wfm_model::schedule::parse_duration;
use wfm_model::{CronSchedule, Schedule};
use wfm_store::CatalogEntry;

use crate::flows::{FlowDirection, FlowKind, FlowSettings, OnInvalid};
use crate::secrets::{SecretError, SecretKey};

/// What a secret looks like in every response.
pub const REDACTED: &str = "********";

/// Where an account or flow is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `wfm-bridge.toml`: read-only through the API.
    Config,
    /// Created through the admin API; kept in the store.
    Api,
}

impl Origin {
    /// The name shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Api => "api",
        }
    }
}

/// An account with where it comes from.
#[derive(Debug, Clone)]
pub struct CatalogAccount {
    /// The checked account.
    pub account: AccountConfig,
    /// Where it is defined.
    pub origin: Origin,
    /// Epoch milliseconds when created through the API.
    pub created_at: Option<i64>,
    /// Epoch milliseconds when last changed through the API.
    pub updated_at: Option<i64>,
}

/// A flow with where it comes from.
#[derive(Debug, Clone)]
pub struct CatalogFlow {
    /// The checked flow.
    pub flow: FlowSettings,
    /// Where it is defined.
    pub origin: Origin,
    /// Epoch milliseconds when created through the API.
    pub created_at: Option<i64>,
    /// Epoch milliseconds when last changed through the API.
    pub updated_at: Option<i64>,
}

/// A document that does not check: the field (dotted path) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// `name`, `type`, `properties.url`, `options.state_codes`, …
    pub field: String,
    /// What is wrong and how to fix it. Never holds a secret's value.
    pub message: String,
}

impl FieldError {
    /// An error of one field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Names of accounts and flows: what fits in a URL path segment, a file name and a log line.
pub fn check_name(field: &str, name: &str) -> Result<(), FieldError> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if fine {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "{name:?} is not a usable name; use 1 to 64 letters, digits, '-', '_' or '.' (not first)"
            ),
        ))
    }
}

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>, FieldError> {
    value
        .as_object()
        .ok_or_else(|| FieldError::new(field, "must be a JSON object"))
}

fn text_field(doc: &Map<String, Value>, field: &str) -> Result<Option<String>, FieldError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FieldError::new(field, "must be text")),
    }
}

fn unknown_keys(doc: &Map<String, Value>, prefix: &str, known: &[&str]) -> Result<(), FieldError> {
    if let Some(key) = doc.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(FieldError::new(
            format!("{prefix}{key}"),
            format!("unknown field; known fields here: {}", known.join(", ")),
        ));
    }
    Ok(())
}

/// A duration from text, refusing numbers so large that they cannot mean anything.
fn duration(field: &str, text: &str) -> Result<Duration, FieldError> {
    let longest_number = text
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if longest_number > 9 {
        return Err(FieldError::new(
            field,
            format!("{text:?} is too long a duration"),
        ));
    }
    parse_duration(text).map_err(|e| FieldError::new(field, e))
}

/// A duration as text that [`parse_duration`] reads back.
pub fn duration_text(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// What to do with a secret property whose value is stored sealed.
enum Secrets<'a> {
    /// Values are plaintext (a request body); `keep` holds the account's current secrets, used
    /// when the request leaves a secret out or sends [`REDACTED`] back.
    Plain { keep: Option<&'a AccountConfig> },
    /// Values are sealed (a stored body): open them with the key.
    Sealed {
        key: Option<&'a SecretKey>,
        account: &'a str,
    },
}

/// Checks properties (JSON) against an account type's or flow kind's specs; defaults applied.
fn properties(
    specs: &[PropertySpec],
    doc: &Map<String, Value>,
    prefix: &str,
    secrets: &Secrets<'_>,
) -> Result<BTreeMap<String, PropertyValue>, FieldError> {
    let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
    unknown_keys(doc, prefix, &known)?;
    let mut out = BTreeMap::new();
    for spec in specs {
        let field = format!("{prefix}{}", spec.name);
        let value = match doc.get(spec.name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        };
        let checked = if spec.secret {
            secret(&field, spec, value, secrets)?
        } else {
            match value {
                None => None,
                Some(v) => Some(plain(&field, spec, v)?),
            }
        };
        let checked = match (checked, spec.default) {
            (Some(v), _) => Some(v),
            (None, Some(default)) => Some(default_value(spec, default)),
            (None, None) if spec.required => {
                return Err(FieldError::new(
                    field,
                    format!("is required ({})", spec.help),
                ));
            }
            (None, None) => None,
        };
        if let Some(v) = checked {
            out.insert(spec.name.to_string(), v);
        }
    }
    Ok(out)
}

fn secret(
    field: &str,
    spec: &PropertySpec,
    value: Option<&Value>,
    secrets: &Secrets<'_>,
) -> Result<Option<PropertyValue>, FieldError> {
    if spec.kind == PropertyKind::Map {
        return secret_map(field, spec, value, secrets);
    }
    let text = match value {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(FieldError::new(field, "must be text (the secret)")),
    };
    let kept = || match secrets {
        Secrets::Plain { keep } => keep.and_then(|a| a.secret(spec.name)).cloned(),
        Secrets::Sealed { .. } => None,
    };
    Ok(one_secret(field, spec, text, kept, secrets)?.map(PropertyValue::Secret))
}

/// One secret value: plaintext from a request (`REDACTED` or absent keeps `kept`), or sealed from
/// the store.
fn one_secret(
    field: &str,
    spec: &PropertySpec,
    text: Option<&str>,
    kept: impl Fn() -> Option<Secret>,
    secrets: &Secrets<'_>,
) -> Result<Option<Secret>, FieldError> {
    match secrets {
        Secrets::Plain { .. } => match text {
            None | Some(REDACTED) => Ok(kept()),
            Some("") => Err(FieldError::new(
                field,
                "is empty; leave it out to keep the stored secret",
            )),
            Some(s) if s.starts_with("env:") || s.starts_with("file:") => Err(FieldError::new(
                field,
                "env: and file: references work only in wfm-bridge.toml; send the secret itself (it is stored encrypted)",
            )),
            Some(s) => Ok(Some(Secret::new(s))),
        },
        Secrets::Sealed { key, account } => match text {
            None => Ok(None),
            Some(sealed) => {
                let Some(key) = key else {
                    return Err(FieldError::new(
                        field,
                        "is stored encrypted but no secrets key is configured (set WFM_BRIDGE_SECRET_KEY or [secrets] key_file)",
                    ));
                };
                let place = format!("account:{account}:{}", spec.name);
                key.open(sealed, &place)
                    .map(|s| Some(Secret::new(s)))
                    .map_err(|e: SecretError| FieldError::new(field, e.to_string()))
            }
        },
    }
}

/// A secret map (`api_secrets = {master = "…"}`): each value a secret; a value left out or sent
/// back as `REDACTED` keeps the stored one, and leaving the whole map out keeps it all.
fn secret_map(
    field: &str,
    spec: &PropertySpec,
    value: Option<&Value>,
    secrets: &Secrets<'_>,
) -> Result<Option<PropertyValue>, FieldError> {
    let stored = |key: &str| match secrets {
        Secrets::Plain { keep } => keep.and_then(|a| match a.properties.get(spec.name) {
            Some(PropertyValue::SecretMap(m)) => m.get(key).cloned(),
            _ => None,
        }),
        Secrets::Sealed { .. } => None,
    };
    let Some(value) = value else {
        return Ok(match secrets {
            Secrets::Plain { keep } => keep
                .and_then(|a| a.properties.get(spec.name))
                .filter(|v| matches!(v, PropertyValue::SecretMap(_)))
                .cloned(),
            Secrets::Sealed { .. } => None,
        });
    };
    let object = value.as_object().ok_or_else(|| {
        FieldError::new(
            field,
            "must be an object of secrets ({\"name\": \"secret\"})",
        )
    })?;
    let mut out = BTreeMap::new();
    for (k, v) in object {
        let entry = format!("{field}.{k}");
        let text = match v {
            Value::String(s) => Some(s.as_str()),
            Value::Null => None,
            _ => return Err(FieldError::new(entry, "must be text (the secret)")),
        };
        if let Some(secret) = one_secret(&entry, spec, text, || stored(k), secrets)? {
            out.insert(k.clone(), secret);
        }
    }
    Ok(Some(PropertyValue::SecretMap(out)))
}

fn plain(field: &str, spec: &PropertySpec, value: &Value) -> Result<PropertyValue, FieldError> {
    let text = || {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| FieldError::new(field, "must be text"))
    };
    Ok(match spec.kind {
        PropertyKind::Text => PropertyValue::Text(text()?),
        PropertyKind::Url => {
            let url = text()?;
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 9 {
                return Err(FieldError::new(
                    field,
                    format!("{url:?} is not an http:// or https:// URL"),
                ));
            }
            PropertyValue::Text(url)
        }
        PropertyKind::Path => {
            let path = text()?;
            if !path.starts_with('/') {
                return Err(FieldError::new(
                    field,
                    format!("{path:?} is not an absolute path; write the full path on the server"),
                ));
            }
            PropertyValue::Text(path)
        }
        PropertyKind::Integer => match value {
            Value::Number(n) => PropertyValue::Integer(
                n.as_i64()
                    .ok_or_else(|| FieldError::new(field, "must be a whole number"))?,
            ),
            Value::String(s) => PropertyValue::Integer(
                s.trim()
                    .parse()
                    .map_err(|_| FieldError::new(field, format!("{s:?} is not a whole number")))?,
            ),
            _ => return Err(FieldError::new(field, "must be a whole number")),
        },
        PropertyKind::Bool => match value {
            Value::Bool(b) => PropertyValue::Bool(*b),
            _ => return Err(FieldError::new(field, "must be true or false")),
        },
        PropertyKind::Duration => PropertyValue::Duration(duration(field, &text()?)?),
        PropertyKind::Map => {
            let map = value.as_object().ok_or_else(|| {
                FieldError::new(field, "must be an object of text values ({\"a\": \"b\"})")
            })?;
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                    _ => {
                        return Err(FieldError::new(
                            format!("{field}.{k}"),
                            "must be text or a whole number",
                        ));
                    }
                };
                out.insert(k.clone(), v);
            }
            PropertyValue::Map(out)
        }
    })
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

/// A property value as JSON; secrets as `secret(value)` says.
fn value_json(value: &PropertyValue, secret: &dyn Fn(&Secret) -> Value) -> Value {
    match value {
        PropertyValue::Text(s) => Value::String(s.clone()),
        PropertyValue::Secret(s) => secret(s),
        PropertyValue::Integer(i) => json!(i),
        PropertyValue::Bool(b) => json!(b),
        PropertyValue::Duration(d) => Value::String(duration_text(*d)),
        PropertyValue::Map(m) => json!(m),
        PropertyValue::SecretMap(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), secret(v))).collect())
        }
    }
}

fn properties_json(
    props: &BTreeMap<String, PropertyValue>,
    secret: &dyn Fn(&str, &Secret) -> Value,
) -> Map<String, Value> {
    props
        .iter()
        .map(|(k, v)| (k.clone(), value_json(v, &|s| secret(k, s))))
        .collect()
}

/// An account as the API shows it: secrets as [`REDACTED`].
pub fn account_json(entry: &CatalogAccount) -> Value {
    let a = &entry.account;
    json!({
        "name": a.name,
        "type": a.account_type,
        "tenant": a.tenant,
        "origin": entry.origin.as_str(),
        "read_only": entry.origin == Origin::Config,
        "properties": properties_json(&a.properties, &|_, _| Value::String(REDACTED.to_string())),
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    })
}

/// Checks an account document of the API (`{name, type, tenant, properties}`). `keep` is the
/// account being edited: its secrets stay when the document leaves them out.
pub fn account_from_json(
    doc: &Value,
    tenants: &[String],
    keep: Option<&AccountConfig>,
) -> Result<AccountConfig, FieldError> {
    let doc = object(doc, "body")?;
    unknown_keys(doc, "", &["name", "type", "tenant", "properties"])?;
    let name = text_field(doc, "name")?.ok_or_else(|| FieldError::new("name", "is required"))?;
    check_name("name", &name)?;
    let type_name =
        text_field(doc, "type")?.ok_or_else(|| FieldError::new("type", "is required"))?;
    let Some(ty) = account_type(&type_name) else {
        let known: Vec<&str> = account_types().iter().map(|t| t.name).collect();
        return Err(FieldError::new(
            "type",
            format!(
                "{type_name:?} is not an account type; known types: {}",
                known.join(", ")
            ),
        ));
    };
    let tenant = text_field(doc, "tenant")?;
    if let Some(t) = &tenant
        && !tenants.contains(t)
    {
        return Err(FieldError::new(
            "tenant",
            format!("{t:?} is not a configured tenant"),
        ));
    }
    let empty = Value::Object(Map::new());
    let props = object(doc.get("properties").unwrap_or(&empty), "properties")?;
    let keep = keep.filter(|k| k.account_type == type_name);
    let properties = properties(
        ty.properties,
        props,
        "properties.",
        &Secrets::Plain { keep },
    )?;
    let account = AccountConfig {
        name,
        account_type: type_name,
        tenant,
        properties,
    };
    check_builds(&account)?;
    Ok(account)
}

/// Values that are well-typed but unusable (a URL of another scheme…), found by building.
fn check_builds(account: &AccountConfig) -> Result<(), FieldError> {
    let Some(ty) = account_type(&account.account_type) else {
        return Err(FieldError::new("type", "is not an account type"));
    };
    let built = match (ty.build, ty.build_source, ty.build_directory) {
        (Some(build), _, _) => build(account).map(drop),
        (None, Some(build), _) => build(account).map(drop),
        (None, None, Some(build)) => build(account).map(drop),
        (None, None, None) => Ok(()),
    };
    built.map_err(|e| FieldError::new("properties", e.message))
}

/// The stored body of an API account: its properties, secrets sealed with `key`. Fails when the
/// account has a secret and there is no key.
pub fn account_body(
    account: &AccountConfig,
    key: Option<&SecretKey>,
) -> Result<String, FieldError> {
    let missing = account
        .properties
        .iter()
        .find(|(_, v)| matches!(v, PropertyValue::Secret(_) | PropertyValue::SecretMap(_)))
        .map(|(name, _)| name.clone());
    if let (None, Some(name)) = (key, missing) {
        return Err(FieldError::new(
            format!("properties.{name}"),
            "is a secret, and secrets are stored encrypted: configure a key first (WFM_BRIDGE_SECRET_KEY or [secrets] key_file; `wfm-bridge secrets generate-key` makes one)",
        ));
    }
    let body = properties_json(&account.properties, &|name, s| match key {
        Some(key) => {
            Value::String(key.seal(s.expose(), &format!("account:{}:{name}", account.name)))
        }
        None => Value::Null,
    });
    Ok(Value::Object(body).to_string())
}

/// An API account back from the store, its secrets opened with `key`.
pub fn account_from_entry(
    entry: &CatalogEntry,
    key: Option<&SecretKey>,
) -> Result<CatalogAccount, FieldError> {
    let Some(ty) = account_type(&entry.kind) else {
        return Err(FieldError::new(
            "type",
            format!("{:?} is not an account type of this version", entry.kind),
        ));
    };
    let body: Value = serde_json::from_str(&entry.body)
        .map_err(|e| FieldError::new("properties", format!("stored JSON is unreadable: {e}")))?;
    let props = object(&body, "properties")?;
    let properties = properties(
        ty.properties,
        props,
        "properties.",
        &Secrets::Sealed {
            key,
            account: &entry.name,
        },
    )?;
    Ok(CatalogAccount {
        account: AccountConfig {
            name: entry.name.clone(),
            account_type: entry.kind.clone(),
            tenant: entry.tenant.clone(),
            properties,
        },
        origin: Origin::Api,
        created_at: Some(entry.created_at),
        updated_at: Some(entry.updated_at),
    })
}

/// Re-seals every secret of a stored account body: opened with `old`, sealed with `new`. For key
/// rotation.
pub fn reseal(
    entry: &CatalogEntry,
    old: &SecretKey,
    new: &SecretKey,
) -> Result<String, FieldError> {
    let account = account_from_entry(entry, Some(old))?;
    account_body(&account.account, Some(new))
}

/// A flow as the API shows it (the same shape it is created with, plus origin and times).
pub fn flow_json(entry: &CatalogFlow) -> Value {
    let mut doc = flow_document(&entry.flow);
    doc.insert("origin".into(), json!(entry.origin.as_str()));
    doc.insert("read_only".into(), json!(entry.origin == Origin::Config));
    doc.insert("created_at".into(), json!(entry.created_at));
    doc.insert("updated_at".into(), json!(entry.updated_at));
    Value::Object(doc)
}

/// A flow's settings as the JSON document it is created with (also its stored body).
pub fn flow_document(flow: &FlowSettings) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("name".into(), json!(flow.name));
    doc.insert("kind".into(), json!(flow.kind.as_str()));
    doc.insert("tenant".into(), json!(flow.tenant));
    match &flow.direction {
        FlowDirection::Deliver { target } => {
            doc.insert("source".into(), Value::Null);
            doc.insert("target".into(), json!(target));
            doc.insert("on_invalid".into(), Value::Null);
        }
        FlowDirection::Ingest { source, on_invalid } => {
            doc.insert("source".into(), json!(source));
            doc.insert("target".into(), Value::Null);
            let on_invalid = match on_invalid {
                OnInvalid::Skip => "skip",
                OnInvalid::Stop => "stop",
            };
            doc.insert("on_invalid".into(), json!(on_invalid));
        }
        FlowDirection::Sync { source, target } => {
            doc.insert(
                "source".into(),
                json!(source.as_deref().unwrap_or(crate::directory::STORE_SOURCE)),
            );
            doc.insert("target".into(), json!(target));
            doc.insert("on_invalid".into(), Value::Null);
        }
    }
    let (every, cron, continuous) = match &flow.schedule {
        Schedule::Every(d) => (json!(duration_text(*d)), Value::Null, false),
        Schedule::Cron(c) => (Value::Null, json!(c.to_string()), false),
        Schedule::Continuous => (Value::Null, Value::Null, true),
    };
    doc.insert("every".into(), every);
    doc.insert("cron".into(), cron);
    doc.insert("continuous".into(), json!(continuous));
    doc.insert("enabled".into(), json!(flow.enabled));
    // Flow options hold no secrets today; were one added, it would not be shown.
    doc.insert(
        "options".into(),
        Value::Object(properties_json(&flow.options, &|_, _| {
            Value::String(REDACTED.to_string())
        })),
    );
    doc
}

/// Checks a flow document of the API against the accounts it names (`accounts`: every account,
/// from the file and the API) and the configured `tenants`.
pub fn flow_from_json(
    doc: &Value,
    tenants: &[String],
    accounts: &[AccountConfig],
) -> Result<FlowSettings, FieldError> {
    let doc = object(doc, "body")?;
    unknown_keys(
        doc,
        "",
        &[
            "name",
            "kind",
            "tenant",
            "source",
            "target",
            "every",
            "cron",
            "continuous",
            "enabled",
            "on_invalid",
            "options",
            // Shown in responses; accepted back so that a GET body can be PUT again.
            "origin",
            "read_only",
            "created_at",
            "updated_at",
        ],
    )?;
    let name = text_field(doc, "name")?.ok_or_else(|| FieldError::new("name", "is required"))?;
    check_name("name", &name)?;
    let kind_name =
        text_field(doc, "kind")?.ok_or_else(|| FieldError::new("kind", "is required"))?;
    let kind: FlowKind = kind_name
        .parse()
        .map_err(|e: String| FieldError::new("kind", e))?;
    if kind == FlowKind::Directory {
        // A directory flow reads a source and writes a target at once, with a policy and filters:
        // configured in wfm-bridge.toml in this version (the API lists it and runs it).
        return Err(FieldError::new(
            "kind",
            "directory flows are configured in wfm-bridge.toml in this version; the API lists and runs them",
        ));
    }
    let tenant =
        text_field(doc, "tenant")?.ok_or_else(|| FieldError::new("tenant", "is required"))?;
    if !tenants.contains(&tenant) {
        return Err(FieldError::new(
            "tenant",
            format!("{tenant:?} is not a configured tenant"),
        ));
    }
    let names = || {
        let list: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        }
    };
    let source = text_field(doc, "source")?.filter(|s| s != "store");
    let target = text_field(doc, "target")?.filter(|s| s != "store");
    let on_invalid = text_field(doc, "on_invalid")?;
    let direction = match (source, target) {
        (Some(source), None) => {
            let Some(account) = accounts.iter().find(|a| a.name == source) else {
                return Err(FieldError::new(
                    "source",
                    format!("{source:?} is not an account (accounts: {})", names()),
                ));
            };
            if account_type(&account.account_type)
                .and_then(|t| t.build_source)
                .is_none()
            {
                return Err(FieldError::new(
                    "source",
                    format!(
                        "{source:?} is a {} account, which cannot be read from",
                        account.account_type
                    ),
                ));
            }
            if !kind.can_ingest() {
                return Err(FieldError::new(
                    "source",
                    format!("flows of kind {kind} cannot read from an account"),
                ));
            }
            let on_invalid = match on_invalid.as_deref() {
                None | Some("skip") => OnInvalid::Skip,
                Some("stop") => OnInvalid::Stop,
                Some(other) => {
                    return Err(FieldError::new(
                        "on_invalid",
                        format!("{other:?}: write \"skip\" or \"stop\""),
                    ));
                }
            };
            FlowDirection::Ingest { source, on_invalid }
        }
        (None, Some(target)) => {
            let Some(account) = accounts.iter().find(|a| a.name == target) else {
                return Err(FieldError::new(
                    "target",
                    format!("{target:?} is not an account (accounts: {})", names()),
                ));
            };
            if account_type(&account.account_type)
                .and_then(|t| t.build)
                .is_none()
            {
                return Err(FieldError::new(
                    "target",
                    format!(
                        "{target:?} is a {} account, which cannot be delivered to",
                        account.account_type
                    ),
                ));
            }
            if on_invalid.is_some() {
                return Err(FieldError::new(
                    "on_invalid",
                    "only applies to flows that read from a source account",
                ));
            }
            FlowDirection::Deliver { target }
        }
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "target",
                "set one of source (read an account into the store) and target (deliver from the store)",
            ));
        }
        (None, None) => {
            return Err(FieldError::new(
                "target",
                "is required: the account this flow delivers to (or set source to read from an account)",
            ));
        }
    };
    let every = match text_field(doc, "every")? {
        Some(text) => Some(duration("every", &text)?),
        None => None,
    };
    let cron = text_field(doc, "cron")?;
    let continuous = match doc.get("continuous") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(FieldError::new("continuous", "must be true or false")),
    };
    let schedule = match (every, cron, continuous) {
        (Some(d), None, false) if d >= Duration::from_secs(1) => Schedule::Every(d),
        (Some(_), None, false) => return Err(FieldError::new("every", "must be at least 1s")),
        (None, Some(c), false) => Schedule::Cron(
            c.parse::<CronSchedule>()
                .map_err(|e| FieldError::new("cron", e.to_string()))?,
        ),
        (None, None, true) => Schedule::Continuous,
        (None, None, false) => kind.default_schedule().ok_or_else(|| {
            FieldError::new(
                "every",
                "no schedule; set every (\"15m\"), cron (\"0 30 2 * * *\") or continuous (true)",
            )
        })?,
        _ => {
            return Err(FieldError::new(
                "every",
                "set only one of every, cron and continuous",
            ));
        }
    };
    let enabled = match doc.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(FieldError::new("enabled", "must be true or false")),
    };
    let empty = Value::Object(Map::new());
    let options_doc = object(doc.get("options").unwrap_or(&empty), "options")?;
    let specs = match direction {
        FlowDirection::Deliver { .. } | FlowDirection::Sync { .. } => kind.options(),
        FlowDirection::Ingest { .. } => &[],
    };
    let options = properties(
        specs,
        options_doc,
        "options.",
        &Secrets::Plain { keep: None },
    )?;
    let flow = FlowSettings {
        name,
        kind,
        tenant,
        direction,
        schedule,
        enabled,
        options,
    };
    kind.check_options(&flow)
        .map_err(|message| FieldError::new("options", message))?;
    Ok(flow)
}

/// An API flow back from the store.
pub fn flow_from_entry(
    entry: &CatalogEntry,
    tenants: &[String],
    accounts: &[AccountConfig],
) -> Result<CatalogFlow, FieldError> {
    let body: Value = serde_json::from_str(&entry.body)
        .map_err(|e| FieldError::new("body", format!("stored JSON is unreadable: {e}")))?;
    Ok(CatalogFlow {
        flow: flow_from_json(&body, tenants, accounts)?,
        origin: Origin::Api,
        created_at: Some(entry.created_at),
        updated_at: Some(entry.updated_at),
    })
}

/// An account type with its property schema, as the API shows it.
pub fn account_type_json(ty: &wfm_connectors::accounts::AccountType) -> Value {
    json!({
        "name": ty.name,
        "description": ty.description,
        "single_per_tenant": ty.single_per_tenant,
        "can_deliver": ty.build.is_some(),
        "can_read": ty.build_source.is_some() || ty.build_directory.is_some(),
        "properties": ty.properties.iter().map(|p| json!({
            "name": p.name,
            "kind": p.kind,
            "required": p.required,
            "secret": p.secret,
            "default": p.default,
            "help": p.help,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenants() -> Vec<String> {
        vec!["t1".to_string()]
    }

    #[test]
    fn accounts_check_against_their_type_and_name_the_field() {
        let ok = account_from_json(
            &json!({"name": "wfm", "type": "http_post", "tenant": "t1",
                    "properties": {"url": "http://127.0.0.1:9/x", "token": "s3cret"}}),
            &tenants(),
            None,
        )
        .unwrap();
        assert_eq!(ok.secret("token").unwrap().expose(), "s3cret");
        let err = |doc: Value| account_from_json(&doc, &tenants(), None).unwrap_err();
        assert_eq!(
            err(json!({"name": "wfm", "type": "http_post", "properties": {"url": "ftp://x"}}))
                .field,
            "properties.url"
        );
        assert_eq!(err(json!({"name": "wfm", "type": "nope"})).field, "type");
        assert_eq!(
            err(json!({"name": "a b", "type": "http_post"})).field,
            "name"
        );
        assert_eq!(
            err(json!({"name": "a", "type": "http_post", "tenant": "t9",
                       "properties": {"url": "http://x.y"}}))
            .field,
            "tenant"
        );
        assert_eq!(
            err(json!({"name": "a", "type": "http_post", "properties": {"url": "http://x.y", "colour": 1}}))
                .field,
            "properties.colour"
        );
        assert_eq!(
            err(json!({"name": "a", "type": "http_post"})).field,
            "properties.url"
        );
    }

    #[test]
    fn secret_maps_are_sealed_value_by_value_and_kept_on_edit() {
        let key = SecretKey::generate();
        let doc = |secrets: Value| {
            json!({"name": "acd", "type": "serenova",
                   "properties": {"master": "main", "tenants": {"main": "t-1", "sub": "t-2"},
                                  "api_keys": {"main": "k1", "sub": "k2"},
                                  "api_secrets": secrets}})
        };
        let first = account_from_json(
            &doc(json!({"main": "s3cret-main", "sub": "s3cret-sub"})),
            &tenants(),
            None,
        )
        .unwrap();
        // One value changed, the other sent back redacted: the redacted one is kept.
        let edited = account_from_json(
            &doc(json!({"main": REDACTED, "sub": "n3w-sub"})),
            &tenants(),
            Some(&first),
        )
        .unwrap();
        let Some(PropertyValue::SecretMap(m)) = edited.properties.get("api_secrets") else {
            panic!("no secret map: {edited:?}");
        };
        assert_eq!(m["main"].expose(), "s3cret-main");
        assert_eq!(m["sub"].expose(), "n3w-sub");
        let body = account_body(&edited, Some(&key)).unwrap();
        assert!(!body.contains("s3cret") && !body.contains("n3w"), "{body}");
        let entry = CatalogEntry {
            name: "acd".into(),
            tenant: None,
            kind: "serenova".into(),
            body,
            created_at: 1,
            updated_at: 2,
        };
        let back = account_from_entry(&entry, Some(&key)).unwrap();
        assert_eq!(
            back.account.properties.get("api_secrets"),
            edited.properties.get("api_secrets")
        );
        let shown = account_json(&back).to_string();
        assert!(
            !shown.contains("s3cret") && !shown.contains("n3w"),
            "{shown}"
        );
        assert!(account_body(&edited, None).is_err());
    }

    #[test]
    fn secrets_are_kept_on_edit_sealed_in_bodies_and_never_shown() {
        let key = SecretKey::generate();
        let first = account_from_json(
            &json!({"name": "wfm", "type": "http_post",
                    "properties": {"url": "http://127.0.0.1:9/x", "token": "s3cret"}}),
            &tenants(),
            None,
        )
        .unwrap();
        let edited = account_from_json(
            &json!({"name": "wfm", "type": "http_post",
                    "properties": {"url": "http://127.0.0.1:9/y", "token": REDACTED}}),
            &tenants(),
            Some(&first),
        )
        .unwrap();
        assert_eq!(edited.secret("token").unwrap().expose(), "s3cret");
        let body = account_body(&edited, Some(&key)).unwrap();
        assert!(!body.contains("s3cret"), "{body}");
        let entry = CatalogEntry {
            name: "wfm".into(),
            tenant: None,
            kind: "http_post".into(),
            body: body.clone(),
            created_at: 1,
            updated_at: 2,
        };
        let back = account_from_entry(&entry, Some(&key)).unwrap();
        assert_eq!(back.account.secret("token").unwrap().expose(), "s3cret");
        assert_eq!(back.account.text("url"), Some("http://127.0.0.1:9/y"));
        let shown = account_json(&back).to_string();
        assert!(
            !shown.contains("s3cret") && shown.contains(REDACTED),
            "{shown}"
        );
        // Without a key a secret cannot be stored, nor read back.
        assert_eq!(
            account_body(&edited, None).unwrap_err().field,
            "properties.token"
        );
        assert_eq!(
            account_from_entry(&entry, None).unwrap_err().field,
            "properties.token"
        );
        // Rotation: the new key opens it, the old one does not.
        let new = SecretKey::generate();
        let rotated = CatalogEntry {
            body: reseal(&entry, &key, &new).unwrap(),
            ..entry.clone()
        };
        assert!(account_from_entry(&rotated, Some(&key)).is_err());
        assert_eq!(
            account_from_entry(&rotated, Some(&new))
                .unwrap()
                .account
                .secret("token")
                .unwrap()
                .expose(),
            "s3cret"
        );
    }

    #[test]
    fn flows_check_their_accounts_schedule_and_options() {
        let account = account_from_json(
            &json!({"name": "wfm", "type": "http_post", "properties": {"url": "http://127.0.0.1:9/x"}}),
            &tenants(),
            None,
        )
        .unwrap();
        let accounts = vec![account];
        let flow = flow_from_json(
            &json!({"name": "rta", "kind": "agent_states", "tenant": "t1", "target": "wfm"}),
            &tenants(),
            &accounts,
        )
        .unwrap();
        assert_eq!(flow.schedule, Schedule::Continuous);
        // What is shown can be sent back as is.
        let shown = flow_json(&CatalogFlow {
            flow: flow.clone(),
            origin: Origin::Api,
            created_at: Some(1),
            updated_at: Some(1),
        });
        let again = flow_from_json(&shown, &tenants(), &accounts).unwrap();
        assert_eq!(again.name, flow.name);
        assert_eq!(again.options, flow.options);
        let err = |doc: Value| flow_from_json(&doc, &tenants(), &accounts).unwrap_err();
        assert_eq!(
            err(json!({"name": "f", "kind": "agent_states", "tenant": "t1", "target": "nope"}))
                .field,
            "target"
        );
        assert_eq!(
            err(json!({"name": "f", "kind": "interactions", "tenant": "t1", "target": "wfm", "every": "0s"}))
                .field,
            "every"
        );
        assert_eq!(
            err(json!({"name": "f", "kind": "interactions", "tenant": "t1", "target": "wfm", "every": "99999999999d"}))
                .field,
            "every"
        );
        assert_eq!(
            err(json!({"name": "f", "kind": "weather", "tenant": "t1", "target": "wfm"})).field,
            "kind"
        );
    }
}
