//! The SCIM server's resources (users and groups) as the store keeps them: rows of
//! `scim_resources` (migration 6), the same on both backends.
//!
//! The store does not interpret SCIM: it keeps each resource's JSON document with the columns the
//! SCIM server and directory sync look things up by (tenant, type, id, lower-cased name, version,
//! deletion). Writes are optimistic: an update names the version it read and fails with
//! [`ScimWrite::VersionMismatch`] when someone changed the resource meanwhile, which is how
//! `If-Match` and concurrent PATCHes stay correct.

use async_trait::async_trait;

use crate::StoreError;

/// The statements both backends run, with PostgreSQL's `$n` parameters (SQLite reads them as `?n`).
pub(crate) mod sql {
    pub const LIST_LIVE: &str = "SELECT tenant, resource_type, id, name_key, version, created_at, \
         modified_at, deleted_at, document FROM scim_resources \
         WHERE tenant = $1 AND resource_type = $2 AND deleted_at IS NULL ORDER BY id";

    pub const LIST_ALL: &str = "SELECT tenant, resource_type, id, name_key, version, created_at, \
         modified_at, deleted_at, document FROM scim_resources \
         WHERE tenant = $1 AND resource_type = $2 ORDER BY id";

    pub const GET: &str = "SELECT tenant, resource_type, id, name_key, version, created_at, \
         modified_at, deleted_at, document FROM scim_resources \
         WHERE tenant = $1 AND resource_type = $2 AND id = $3 AND deleted_at IS NULL";

    /// Whether another live user holds a name. Parameters: tenant, type, name_key, own id.
    pub const NAME_TAKEN: &str = "SELECT count(*) FROM scim_resources WHERE tenant = $1 \
         AND resource_type = $2 AND name_key = $3 AND id <> $4 AND deleted_at IS NULL";

    pub const INSERT: &str = "INSERT INTO scim_resources (tenant, resource_type, id, name_key, \
         version, created_at, modified_at, deleted_at, document) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)";

    /// Parameters: tenant, type, id, name_key, new version, modified_at, document, expected version.
    pub const UPDATE: &str = "UPDATE scim_resources SET name_key = $4, version = $5, \
         modified_at = $6, document = $7 WHERE tenant = $1 AND resource_type = $2 AND id = $3 \
         AND version = $8 AND deleted_at IS NULL";

    /// Parameters: tenant, type, id, at.
    pub const DELETE: &str = "UPDATE scim_resources SET deleted_at = $4, modified_at = $4, \
         version = version + 1 WHERE tenant = $1 AND resource_type = $2 AND id = $3 \
         AND deleted_at IS NULL";
}

/// The two SCIM resource types the server keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// `urn:ietf:params:scim:schemas:core:2.0:User`
    User,
    /// `urn:ietf:params:scim:schemas:core:2.0:Group`
    Group,
}

impl ScimType {
    /// The name stored and used in `meta.resourceType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::User => "User",
            ScimType::Group => "Group",
        }
    }

    /// Whether resources of this type have a unique name (userName is; displayName is not).
    pub fn unique_name(self) -> bool {
        matches!(self, ScimType::User)
    }
}

/// One SCIM resource as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimResource {
    /// Tenant id.
    pub tenant: String,
    /// User or group.
    pub resource_type: ScimType,
    /// The server-assigned id.
    pub id: String,
    /// Lower-cased userName or displayName.
    pub name_key: String,
    /// Grows with every change; the ETag is `W/"<version>"`.
    pub version: i64,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub modified_at: i64,
    /// Epoch milliseconds of the DELETE, if deleted.
    pub deleted_at: Option<i64>,
    /// The resource's attributes as JSON, without `id` and `meta`.
    pub document: String,
}

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimWrite {
    /// Written.
    Written,
    /// Another live user of the tenant has this userName (SCIM 409 `uniqueness`).
    NameTaken,
    /// The resource changed since the version given (SCIM 412), or is gone.
    VersionMismatch,
}

/// Persistence of SCIM users and groups.
#[async_trait]
pub trait ScimStore: Send + Sync {
    /// Resources of a type of a tenant, in id order; deleted ones too when `include_deleted`.
    async fn scim_list(
        &self,
        tenant: &str,
        resource_type: ScimType,
        include_deleted: bool,
    ) -> Result<Vec<ScimResource>, StoreError>;

    /// One live resource.
    async fn scim_get(
        &self,
        tenant: &str,
        resource_type: ScimType,
        id: &str,
    ) -> Result<Option<ScimResource>, StoreError>;

    /// Adds a resource (its `version`, `created_at` and `modified_at` as given).
    async fn scim_insert(&self, resource: &ScimResource) -> Result<ScimWrite, StoreError>;

    /// Replaces a live resource's name, document, version and modification time, if its stored
    /// version is still `expected_version`.
    async fn scim_update(
        &self,
        resource: &ScimResource,
        expected_version: i64,
    ) -> Result<ScimWrite, StoreError>;

    /// Marks a live resource deleted at `at`; false when there is none.
    async fn scim_delete(
        &self,
        tenant: &str,
        resource_type: ScimType,
        id: &str,
        at: i64,
    ) -> Result<bool, StoreError>;
}

/// Reads a stored type name.
pub(crate) fn parse_type(text: &str) -> ScimType {
    if text == "Group" {
        ScimType::Group
    } else {
        ScimType::User
    }
}
