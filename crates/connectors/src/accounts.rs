//! Integration account types: what properties an account of each type has, and how to build it.
//!
//! An account is a typed connection to an external system (DESIGN §3). Its type declares a property
//! schema (name, type, required, secret, default, help text) that configuration is checked against
//! and that the admin API and console show; [`AccountType::build`] turns checked properties into a
//! [`Target`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::sources::{DirectorySource, Source};
use crate::targets::Target;

/// The type of a property value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyKind {
    /// Free text.
    Text,
    /// An absolute `http://` or `https://` URL.
    Url,
    /// A filesystem path.
    Path,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Bool,
    /// A duration such as `10s`, `15m`, `1h`.
    Duration,
    /// A table of text keys to text values (`[accounts.reason_codes]`, `[flows.state_codes]`).
    Map,
}

/// One property of an account type.
#[derive(Debug, Clone, Serialize)]
pub struct PropertySpec {
    /// Key in configuration (`url`, `auth_key`, …).
    pub name: &'static str,
    /// Value type.
    pub kind: PropertyKind,
    /// Whether an account must set it.
    pub required: bool,
    /// A secret: resolved from `env:`/`file:`, write-only in APIs, never logged.
    pub secret: bool,
    /// Default used when unset.
    pub default: Option<&'static str>,
    /// One sentence for people configuring the account.
    pub help: &'static str,
}

/// A checked property value.
#[derive(Clone, PartialEq)]
pub enum PropertyValue {
    /// Text, URL or path.
    Text(String),
    /// A secret value; its `Debug` never shows it.
    Secret(Secret),
    /// A whole number.
    Integer(i64),
    /// A boolean.
    Bool(bool),
    /// A duration.
    Duration(Duration),
    /// A table of text to text.
    Map(BTreeMap<String, String>),
    /// A table of text to secrets (a secret property of kind [`PropertyKind::Map`]: each value
    /// `env:NAME` or `file:PATH`); its `Debug` shows the keys only.
    SecretMap(BTreeMap<String, Secret>),
}

impl fmt::Debug for PropertyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyValue::Text(s) => write!(f, "{s:?}"),
            PropertyValue::Secret(_) => f.write_str("<secret>"),
            PropertyValue::Integer(i) => write!(f, "{i}"),
            PropertyValue::Bool(b) => write!(f, "{b}"),
            PropertyValue::Duration(d) => write!(f, "{d:?}"),
            PropertyValue::Map(m) => write!(f, "{m:?}"),
            PropertyValue::SecretMap(m) => write!(f, "{m:?}"),
        }
    }
}

/// A secret string. `Debug` and `Display` print `<secret>`; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a resolved secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// A configured account with checked properties, ready to build.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Unique account name (`calabrio-prod`).
    pub name: String,
    /// Account type name (`files`, `http`, …).
    pub account_type: String,
    /// Tenant the account belongs to, if any.
    pub tenant: Option<String>,
    /// Checked property values, defaults applied.
    pub properties: BTreeMap<String, PropertyValue>,
}

impl AccountConfig {
    /// A text, URL or path property.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.properties.get(name) {
            Some(PropertyValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    /// A secret property.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        match self.properties.get(name) {
            Some(PropertyValue::Secret(s)) => Some(s),
            _ => None,
        }
    }

    /// An integer property.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.properties.get(name) {
            Some(PropertyValue::Integer(i)) => Some(*i),
            _ => None,
        }
    }

    /// A boolean property.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.properties.get(name) {
            Some(PropertyValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A duration property.
    pub fn duration(&self, name: &str) -> Option<Duration> {
        match self.properties.get(name) {
            Some(PropertyValue::Duration(d)) => Some(*d),
            _ => None,
        }
    }

    /// A secret table property (empty when unset).
    pub fn secret_map(&self, name: &str) -> BTreeMap<String, Secret> {
        match self.properties.get(name) {
            Some(PropertyValue::SecretMap(m)) => m.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// A table property (empty when unset).
    pub fn map(&self, name: &str) -> BTreeMap<String, String> {
        match self.properties.get(name) {
            Some(PropertyValue::Map(m)) => m.clone(),
            _ => BTreeMap::new(),
        }
    }
}

/// Why an account cannot be built from its properties.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account {account}: {message}")]
pub struct AccountError {
    /// Account name.
    pub account: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// An account type: its name, its property schema and how to build a target from it.
#[derive(Debug, Clone, Copy)]
pub struct AccountType {
    /// Type name used in configuration (`type = "files"`).
    pub name: &'static str,
    /// One line saying what the type connects to.
    pub description: &'static str,
    /// The properties an account of this type has.
    pub properties: &'static [PropertySpec],
    /// At most one account of this type per tenant.
    pub single_per_tenant: bool,
    /// Builds the target from checked properties, for types that can be written to.
    pub build: Option<BuildTarget>,
    /// Builds the source from checked properties, for types that can also be read from.
    pub build_source: Option<BuildSource>,
    /// Builds the directory source (users, groups, queues) from checked properties, for types
    /// that directory sync can read (an ACD such as CxEngage).
    pub build_directory: Option<BuildDirectorySource>,
}

/// Builds a target from an account's checked properties.
pub type BuildTarget = fn(&AccountConfig) -> Result<Box<dyn Target>, AccountError>;

/// Builds a source from an account's checked properties.
pub type BuildSource = fn(&AccountConfig) -> Result<Box<dyn Source>, AccountError>;

/// Builds a directory source from an account's checked properties.
pub type BuildDirectorySource =
    fn(&AccountConfig) -> Result<Box<dyn DirectorySource>, AccountError>;

impl AccountType {
    /// The spec of one property.
    pub fn property(&self, name: &str) -> Option<&'static PropertySpec> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// Every account type wfm-bridge knows, in the order they are listed to people.
pub fn account_types() -> &'static [AccountType] {
    &[
        crate::targets::files::ACCOUNT_TYPE,
        crate::targets::http::ACCOUNT_TYPE,
        crate::targets::sftp::ACCOUNT_TYPE,
        crate::targets::calabrio::ACCOUNT_TYPE,
        crate::targets::calabrio::wfm_api::ACCOUNT_TYPE,
        crate::targets::http_post::ACCOUNT_TYPE,
        crate::targets::loxysoft::ACCOUNT_TYPE,
        crate::targets::aspect_tcp::ACCOUNT_TYPE,
        crate::targets::nice::ACCOUNT_TYPE,
        crate::sources::scim::ACCOUNT_TYPE,
        crate::sources::serenova::ACCOUNT_TYPE,
    ]
}

/// The account type of a name.
pub fn account_type(name: &str) -> Option<&'static AccountType> {
    account_types().iter().find(|t| t.name == name)
}
