//! Accepting pushed agent states: durable before they are acknowledged, cheap per event.
//!
//! The ingest API hands each validated batch to [`StateIngest`]. A single writer task takes every
//! batch waiting at that moment and writes them in one store transaction (group commit), then
//! answers each caller: a 2xx means the events are committed. Many small concurrent pushes thus
//! cost one commit, which is what lets SQLite take a hundred thousand events a second. Committed
//! events go to the state tracker before the callers are answered (while the next group commits),
//! so real-time flows see them at their next tick.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use wfm_model::{AgentStateEvent, Record};
use wfm_store::{Store, StoreError, WriteCounts};

use crate::tracker::StateTracker;

/// Events written per transaction at most: beyond this, waiting batches go into the next one.
const MAX_EVENTS_PER_COMMIT: usize = 50_000;

/// Batches waiting for the writer before callers are held back.
const QUEUE: usize = 256;

/// Committed groups waiting for the tracker before the writer is held back.
const APPLY_QUEUE: usize = 16;

/// What happened to one pushed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IngestReceipt {
    /// Events in the batch, now durable.
    pub accepted: u64,
    /// Events that were new or changed a stored event.
    pub written: u64,
    /// Events already stored exactly as sent (duplicates).
    pub unchanged: u64,
}

/// Why a batch was not accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The store failed; nothing of the batch was kept.
    #[error("the store failed, nothing was accepted: {0}")]
    Store(String),
    /// The writer stopped (the server is shutting down).
    #[error("the server is stopping; nothing was accepted, send the batch again")]
    Stopped,
}

struct Submission {
    /// The events, for the tracker once they are committed.
    events: Vec<AgentStateEvent>,
    /// The same events as records, for the store (made by the caller, off the writer's path).
    records: Vec<Record>,
    reply: oneshot::Sender<Result<IngestReceipt, IngestError>>,
}

/// A committed group on its way to the tracker, and the answers its callers wait for.
struct Committed {
    batch: Vec<Submission>,
    receipts: Vec<IngestReceipt>,
}

impl Committed {
    /// Tells each caller its batch is committed.
    fn answer(self) {
        for (submission, receipt) in self.batch.into_iter().zip(self.receipts) {
            let _ = submission.reply.send(Ok(receipt));
        }
    }
}

/// The group-committing writer of pushed agent states.
#[derive(Clone)]
pub struct StateIngest {
    queue: mpsc::Sender<Submission>,
}

impl StateIngest {
    /// Starts the writer task and the task that applies committed events to the tracker.
    pub fn start(store: Arc<dyn Store>, tracker: StateTracker) -> StateIngest {
        let (queue, received) = mpsc::channel(QUEUE);
        let (committed, to_apply) = mpsc::channel(APPLY_QUEUE);
        tokio::spawn(write_loop(store, received, committed));
        tokio::spawn(apply_loop(tracker, to_apply));
        StateIngest { queue }
    }

    /// Makes `events` durable and applies them to the tracker; returns once they are committed.
    pub async fn submit(&self, events: Vec<AgentStateEvent>) -> Result<IngestReceipt, IngestError> {
        let records = events.iter().cloned().map(Record::State).collect();
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Submission {
                events,
                records,
                reply,
            })
            .await
            .map_err(|_| IngestError::Stopped)?;
        answer.await.map_err(|_| IngestError::Stopped)?
    }
}

/// Commits what is waiting, group after group. Applying a group to the tracker and answering its
/// callers is the next stage's work, done while the following group commits: the store's single
/// writer is what limits the ingest rate, so it does nothing else.
async fn write_loop(
    store: Arc<dyn Store>,
    mut received: mpsc::Receiver<Submission>,
    committed: mpsc::Sender<Committed>,
) {
    while let Some(first) = received.recv().await {
        let mut batch = vec![first];
        let mut events = batch[0].events.len();
        while events < MAX_EVENTS_PER_COMMIT {
            match received.try_recv() {
                Ok(next) => {
                    events += next.events.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        match commit(&*store, &mut batch).await {
            Ok(receipts) => {
                if let Err(mpsc::error::SendError(done)) =
                    committed.send(Committed { batch, receipts }).await
                {
                    // The tracker stage is gone (shutting down): the events are durable, say so.
                    done.answer();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot store pushed agent states");
                for submission in batch {
                    let _ = submission
                        .reply
                        .send(Err(IngestError::Store(e.to_string())));
                }
            }
        }
    }
}

/// Applies committed groups to the tracker in commit order, then answers their callers, so that a
/// 2xx means the events are durable and on the board.
async fn apply_loop(tracker: StateTracker, mut to_apply: mpsc::Receiver<Committed>) {
    while let Some(done) = to_apply.recv().await {
        for submission in &done.batch {
            tracker.apply(&submission.events);
        }
        done.answer();
    }
}

/// Writes every submission in one transaction, counting per submission.
async fn commit(
    store: &dyn Store,
    batch: &mut [Submission],
) -> Result<Vec<IngestReceipt>, StoreError> {
    let mut tx = store.begin().await?;
    let mut receipts = Vec::with_capacity(batch.len());
    for submission in batch {
        let records = std::mem::take(&mut submission.records);
        let counts: WriteCounts = tx.write(records).await?;
        receipts.push(IngestReceipt {
            accepted: submission.events.len() as u64,
            written: counts.written,
            unchanged: counts.unchanged,
        });
    }
    tx.commit().await?;
    Ok(receipts)
}
