//! The `scim` account type: the settings of the built-in SCIM 2.0 server for one tenant (Bright
//! Pattern's SCIM integration account: one per contact center, with a default team).
//!
//! The SCIM server itself lives in the HTTP server (`/scim/v2`) and keeps users and groups in the
//! store, so the directory source that reads them is built by the engine, which has the store
//! (`wfm_engine::directory_sources::open`); this type only declares the account's properties.

use crate::accounts::{AccountType, PropertyKind, PropertySpec};

/// The `scim` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "scim",
    description: "Users and groups provisioned by an identity provider through the built-in SCIM 2.0 server (/scim/v2)",
    properties: &[PropertySpec {
        name: "default_team",
        kind: PropertyKind::Text,
        required: true,
        secret: false,
        default: None,
        help: "Team of a user who belongs to no SCIM group (Bright Pattern's \"Default team\")",
    }],
    single_per_tenant: true,
    build: None,
    build_source: None,
    build_directory: None,
};
