//! Ingesting flows: records from a source account into the store.
//!
//! Each chunk the source hands out (a dropped file) is imported in one store transaction together
//! with the stream's cursor, so a chunk is imported exactly once whatever stops the process. Invalid
//! input never wedges the stream under `on_invalid = "skip"`: invalid records are written to the
//! source's rejects and a chunk that cannot be read at all is set aside with the reason.

use wfm_connectors::sources::Source;
use wfm_store::Store;

use super::{FlowError, FlowSettings, OnInvalid, RunCounts};
use crate::import::{ImportError, ImportOptions, import_into, jsonl_rejects};

/// The store cursor of one stream of an ingesting flow.
pub fn cursor_name(flow: &str, stream: &str) -> String {
    format!("flow:{flow}:{stream}")
}

pub async fn execute(
    store: &dyn Store,
    flow: &FlowSettings,
    source: &dyn Source,
    on_invalid: OnInvalid,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<RunCounts, FlowError> {
    let skip_invalid = on_invalid == OnInvalid::Skip;
    let mut counts = RunCounts::default();
    for kind in flow.kind.streams() {
        let stream = kind.as_str();
        let name = cursor_name(&flow.name, stream);
        while !*stop.borrow() {
            let cursor = store.cursor(&name).await?;
            let Some(chunk) = source.next(stream, cursor.as_deref()).await? else {
                break;
            };
            let rejects = if skip_invalid {
                Some(jsonl_rejects(source.rejects(stream, &chunk.label)?))
            } else {
                None
            };
            let mut tx = store.begin().await?;
            let imported = import_into(
                store,
                &mut *tx,
                chunk.records,
                ImportOptions { skip_invalid },
                rejects,
            )
            .await;
            match imported {
                Ok(summary) => {
                    tx.set_cursor(&name, &chunk.cursor).await?;
                    tx.commit().await?;
                    counts.read += summary.lines;
                    counts.rejected += summary.rejected;
                    tracing::info!(
                        flow = %flow.name,
                        chunk = %chunk.label,
                        written = summary.written,
                        unchanged = summary.unchanged,
                        rejected = summary.rejected,
                        "imported"
                    );
                    if let Err(e) = source.committed(stream, &chunk.cursor).await {
                        // The cursor already marks it done; the next read tidies up.
                        tracing::warn!(flow = %flow.name, chunk = %chunk.label, error = %e, "imported, but not moved away");
                    }
                }
                Err(ImportError::Store(e)) => {
                    tx.rollback().await?;
                    return Err(e.into());
                }
                Err(e) if skip_invalid => {
                    tx.rollback().await?;
                    let reason = e.to_string();
                    tracing::warn!(flow = %flow.name, chunk = %chunk.label, %reason, "set aside: it cannot be imported");
                    source.set_aside(stream, &chunk.label, &reason).await?;
                    counts.rejected += 1;
                }
                Err(e) => {
                    tx.rollback().await?;
                    return Err(FlowError::Import(e));
                }
            }
        }
    }
    Ok(counts)
}
