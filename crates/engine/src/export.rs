//! Exporting canonical records from the store as JSON Lines.

use std::io::Write;

use wfm_model::RecordKind;
use wfm_store::{NaturalKey, Store, StoreError};

/// Records read from the store per page.
const PAGE: usize = 5_000;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The tenant asked for does not exist.
    #[error("tenant {0:?} is not in the store (see `wfm-bridge export tenants`)")]
    UnknownTenant(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes every `kind` record of `tenant` (or of all tenants) to `out`, one JSON object per line, in
/// natural-key order, and returns how many were written.
pub async fn export(
    store: &dyn Store,
    kind: RecordKind,
    tenant: Option<&str>,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    if let Some(tenant) = tenant
        && !store.tenants().await?.iter().any(|t| t.tenant == tenant)
    {
        return Err(ExportError::UnknownTenant(tenant.to_string()));
    }
    let mut after: Option<NaturalKey> = None;
    let mut count = 0;
    loop {
        let page = store.read_page(kind, tenant, after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(NaturalKey::of(last));
        for record in &page {
            out.write_all(record.to_json().as_bytes())?;
            out.write_all(b"\n")?;
        }
        count += page.len() as u64;
        if page.len() < PAGE {
            break;
        }
    }
    out.flush()?;
    Ok(count)
}
