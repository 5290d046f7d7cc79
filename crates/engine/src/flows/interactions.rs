//! Flow kind `interactions`: contact segments inserted or changed since the last run, delivered as
//! JSON Lines files of at most `batch_size` segments, in change order.

use wfm_connectors::accounts::{PropertyKind, PropertySpec};
use wfm_model::RecordKind;
use wfm_store::{ChangeCursor, NewMessage, Store};
use xxhash_rust::xxh3::xxh3_64;

use super::{FlowError, FlowSettings, RunCounts};
use crate::clock::now_ms;

/// Options of `interactions` flows.
pub const OPTIONS: &[PropertySpec] = &[PropertySpec {
    name: "batch_size",
    kind: PropertyKind::Integer,
    required: false,
    secret: false,
    default: Some("5000"),
    help: "segments per delivered file",
}];

/// Largest accepted batch: one message must fit comfortably in memory and in a request.
const MAX_BATCH: i64 = 100_000;

/// The store cursor a flow keeps its position in.
pub fn cursor_name(flow: &str) -> String {
    format!("flow:{flow}")
}

pub async fn execute(
    store: &dyn Store,
    flow: &FlowSettings,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<RunCounts, FlowError> {
    let batch = flow
        .integer("batch_size")
        .unwrap_or(5000)
        .clamp(1, MAX_BATCH) as usize;
    let name = cursor_name(&flow.name);
    let mut counts = RunCounts::default();
    while !*stop.borrow() {
        let cursor: ChangeCursor = match store.cursor(&name).await? {
            Some(text) => serde_json::from_str(&text).map_err(|e| FlowError::Cursor {
                flow: flow.name.clone(),
                error: e.to_string(),
            })?,
            None => ChangeCursor { seq: 0, key: None },
        };
        let changes = store
            .changes(RecordKind::Interactions, &flow.tenant, &cursor, batch)
            .await?;
        let Some(last) = changes.last() else { break };
        let next = last.cursor.clone();
        let mut payload = Vec::with_capacity(changes.len() * 300);
        for change in &changes {
            payload.extend_from_slice(change.record.to_json().as_bytes());
            payload.push(b'\n');
        }
        // The same range of changes always makes the same message: a step retried after a failed
        // commit cannot enqueue a second copy.
        let from = serde_json::to_string(&cursor).expect("cursors serialize");
        let to = serde_json::to_string(&next).expect("cursors serialize");
        let range = xxh3_64(format!("{from}..{to}").as_bytes());
        let message = NewMessage {
            flow: flow.name.clone(),
            key: flow.tenant.clone(),
            idempotency_key: format!("{}:{}:{range:016x}", flow.name, next.seq),
            name: format!("{}-{:020}-{range:016x}.jsonl", flow.name, next.seq),
            content_type: "application/x-ndjson".to_string(),
            payload,
        };
        let mut tx = store.begin().await?;
        let added = tx.enqueue(vec![message], now_ms()).await?;
        tx.set_cursor(&name, &to).await?;
        tx.commit().await?;
        counts.read += changes.len() as u64;
        counts.sent += added;
        if changes.len() < batch {
            break;
        }
    }
    Ok(counts)
}
