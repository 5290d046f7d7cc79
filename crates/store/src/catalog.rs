//! The admin catalog: integration accounts and flows created through the admin API
//! (`api_accounts`, `api_flows`, migration 5), and the SQL both backends share for them.
//!
//! The store keeps each entry's body as opaque JSON text: checking it against its account type or
//! flow kind, and encrypting an account's secrets, is the engine's job (DESIGN §2: the store knows
//! no connector schemas).

use crate::codec::Columns;
use crate::error::StoreError;

/// Which catalog table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogTable {
    /// Integration accounts (`api_accounts`).
    Accounts,
    /// Flows (`api_flows`).
    Flows,
}

impl CatalogTable {
    /// The table's name.
    pub fn table(self) -> &'static str {
        match self {
            CatalogTable::Accounts => "api_accounts",
            CatalogTable::Flows => "api_flows",
        }
    }

    /// What one entry is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            CatalogTable::Accounts => "account",
            CatalogTable::Flows => "flow",
        }
    }
}

/// One account or flow created through the admin API, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Unique name within its table.
    pub name: String,
    /// The tenant it belongs to (accounts may have none).
    pub tenant: Option<String>,
    /// Account type (`http_post`) or flow kind (`agent_states`).
    pub kind: String,
    /// JSON document: properties (secrets encrypted) or flow settings.
    pub body: String,
    /// Epoch milliseconds when created.
    pub created_at: i64,
    /// Epoch milliseconds when last changed.
    pub updated_at: i64,
}

/// The body may hold ciphertexts of secrets: `Debug` leaves it out.
impl std::fmt::Debug for CatalogEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogEntry")
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("kind", &self.kind)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Every entry, by name. Parameters: none.
pub(crate) fn list_sql(table: CatalogTable) -> String {
    format!(
        "SELECT name, tenant, kind, body, created_at, updated_at FROM {} ORDER BY name",
        table.table()
    )
}

/// Insert or replace by name; `created_at` of an existing entry is kept. Parameters: name,
/// tenant, kind, body, created_at, updated_at.
pub(crate) fn put_sql(table: CatalogTable) -> String {
    format!(
        "INSERT INTO {} (name, tenant, kind, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET \
         tenant = excluded.tenant, kind = excluded.kind, body = excluded.body, \
         updated_at = excluded.updated_at",
        table.table()
    )
}

/// Removes one entry. Parameters: name.
pub(crate) fn delete_sql(table: CatalogTable) -> String {
    format!("DELETE FROM {} WHERE name = $1", table.table())
}

/// Discards a dead letter (and only a dead one). Parameters: id.
pub(crate) const DISCARD_DEAD: &str = "DELETE FROM outbox WHERE id = $1 AND status = 'dead'";

/// Decodes a row of [`list_sql`].
pub(crate) fn decode_entry(
    row: &impl Columns,
    table: CatalogTable,
    store: &str,
) -> Result<CatalogEntry, StoreError> {
    let fail = |problem: String| StoreError::Corrupt {
        store: store.to_string(),
        table: table.table(),
        key: row.text(0).ok().flatten().unwrap_or_default(),
        problem,
    };
    let text = |i: usize| -> Result<String, StoreError> {
        row.text(i)
            .map_err(&fail)?
            .ok_or_else(|| fail(format!("column {i} is null")))
    };
    let int = |i: usize| -> Result<i64, StoreError> {
        row.int(i)
            .map_err(&fail)?
            .ok_or_else(|| fail(format!("column {i} is null")))
    };
    Ok(CatalogEntry {
        name: text(0)?,
        tenant: row.text(1).map_err(&fail)?,
        kind: text(2)?,
        body: text(3)?,
        created_at: int(4)?,
        updated_at: int(5)?,
    })
}
