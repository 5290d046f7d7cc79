//! The delivery worker: sends what flows put in the outbox.
//!
//! It claims due messages (the store keeps order per (flow, key) and leases each claim), sends them
//! through their flow's target with bounded concurrency, and records the outcome: sent; retry later
//! with exponential backoff and jitter, or after the target's `Retry-After`; throttled (429: retried
//! without counting against the message); dead after `max_attempts` or when the target refuses the
//! message itself. A dead message never blocks the others: the worker keeps going.
//!
//! Nothing here is lost on a crash: a message claimed by a process that dies becomes due again when
//! its lease ends and is sent again with the same idempotency key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use wfm_connectors::targets::{DeliveryError, OutboundMessage, Target};
use wfm_store::{OutboxMessage, Store, StoreError};

use crate::clock::now_ms;
use crate::config::DeliverySettings;
use crate::metrics::Metrics;

/// Where each flow's messages go.
pub type Routes = BTreeMap<String, Arc<dyn Target>>;

/// The delivery worker.
pub struct DeliveryWorker {
    store: Arc<dyn Store>,
    routes: Arc<Routes>,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

/// What happened to one message on one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered.
    Sent,
    /// Will be tried again at this epoch millisecond.
    Retry(i64),
    /// Moved to dead letters.
    Dead,
}

impl DeliveryWorker {
    /// A worker sending `store`'s outbox through `routes` (flow name → target).
    pub fn new(
        store: Arc<dyn Store>,
        routes: Routes,
        settings: DeliverySettings,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> DeliveryWorker {
        DeliveryWorker {
            store,
            routes: Arc::new(routes),
            settings,
            metrics,
            wake,
        }
    }

    /// Sends until `stop` turns true, then lets the sends in flight finish and returns. Messages not
    /// yet claimed stay in the outbox.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) -> Result<(), StoreError> {
        let mut in_flight: JoinSet<Result<(), StoreError>> = JoinSet::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let free = self.settings.concurrency - in_flight.len();
            let claimed = if free > 0 {
                self.store
                    .claim_due(now_ms(), self.settings.lease.as_millis() as i64, free)
                    .await?
            } else {
                Vec::new()
            };
            let idle = claimed.is_empty();
            for message in claimed {
                let job = self.job();
                in_flight.spawn(async move { job.deliver(message).await.map(|_| ()) });
            }
            if idle || in_flight.len() >= self.settings.concurrency {
                tokio::select! {
                    Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                        done.expect("delivery tasks do not panic")?;
                    }
                    _ = self.wake.notified(), if in_flight.len() < self.settings.concurrency => {}
                    _ = tokio::time::sleep(self.settings.poll), if idle => {}
                    _ = stop.changed() => {}
                }
            } else {
                // Reap whatever finished without waiting.
                while let Some(done) = in_flight.try_join_next() {
                    done.expect("delivery tasks do not panic")?;
                }
            }
        }
        // Graceful stop: finish the sends in flight, claim nothing new.
        while let Some(done) = in_flight.join_next().await {
            done.expect("delivery tasks do not panic")?;
        }
        Ok(())
    }

    /// Claims and sends what is due now, once, waiting for every send: for `run --once` and tests.
    pub async fn drain_once(&self) -> Result<Vec<(i64, Attempt)>, StoreError> {
        let mut outcomes = Vec::new();
        loop {
            let claimed = self
                .store
                .claim_due(
                    now_ms(),
                    self.settings.lease.as_millis() as i64,
                    self.settings.concurrency,
                )
                .await?;
            if claimed.is_empty() {
                return Ok(outcomes);
            }
            let mut set = JoinSet::new();
            for message in claimed {
                let job = self.job();
                set.spawn(async move {
                    let id = message.id;
                    job.deliver(message).await.map(|a| (id, a))
                });
            }
            let mut retrying = false;
            while let Some(done) = set.join_next().await {
                let (id, attempt) = done.expect("delivery tasks do not panic")?;
                retrying |= matches!(attempt, Attempt::Retry(_));
                outcomes.push((id, attempt));
            }
            if retrying {
                // A failing target: what is left is due later, not now.
                return Ok(outcomes);
            }
        }
    }

    fn job(&self) -> Job {
        Job {
            store: self.store.clone(),
            routes: self.routes.clone(),
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// One send, owned by its task.
struct Job {
    store: Arc<dyn Store>,
    routes: Arc<Routes>,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
}

impl Job {
    async fn deliver(&self, message: OutboxMessage) -> Result<Attempt, StoreError> {
        let Some(target) = self.routes.get(&message.flow) else {
            let reason = format!(
                "flow {} is not configured any more, so its target is unknown; retry it once the flow is back",
                message.flow
            );
            self.store.mark_dead(message.id, &reason).await?;
            self.metrics.dead(&message.flow);
            return Ok(Attempt::Dead);
        };
        let outbound = OutboundMessage {
            id: message.id,
            flow: message.flow.clone(),
            key: message.key.clone(),
            idempotency_key: message.idempotency_key.clone(),
            name: message.name.clone(),
            content_type: message.content_type.clone(),
            payload: message.payload,
            attempt: message.attempts,
        };
        let started = Instant::now();
        let result = match tokio::time::timeout(self.settings.lease, target.deliver(&outbound))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Retry {
                reason: format!(
                    "no answer within {:?} (the delivery lease); the target may still have received it",
                    self.settings.lease
                ),
                retry_after: None,
            }),
        };
        let now = now_ms();
        let flow = &message.flow;
        match result {
            Ok(()) => {
                self.store.mark_sent(message.id, now).await?;
                self.metrics
                    .sent(flow, started.elapsed(), now - message.created_at);
                tracing::debug!(flow, id = message.id, "delivered");
                Ok(Attempt::Sent)
            }
            Err(DeliveryError::Rejected { reason }) => {
                self.store.mark_dead(message.id, &reason).await?;
                self.metrics.dead(flow);
                tracing::warn!(flow, id = message.id, %reason, "moved to dead letters");
                Ok(Attempt::Dead)
            }
            Err(DeliveryError::Throttled {
                reason,
                retry_after,
            }) => {
                let wait = retry_after.unwrap_or_else(|| backoff(&self.settings, message.attempts));
                let next = now + wait.as_millis() as i64;
                self.store
                    .mark_retry(message.id, next, &format!("throttled: {reason}"), false)
                    .await?;
                self.metrics.throttled(flow);
                Ok(Attempt::Retry(next))
            }
            Err(DeliveryError::Retry {
                reason,
                retry_after,
            }) => {
                self.metrics.failed(flow);
                if message.attempts >= self.settings.max_attempts {
                    let reason = format!(
                        "gave up after {} attempts; last error: {reason}",
                        message.attempts
                    );
                    self.store.mark_dead(message.id, &reason).await?;
                    self.metrics.dead(flow);
                    tracing::warn!(flow, id = message.id, %reason, "moved to dead letters");
                    return Ok(Attempt::Dead);
                }
                let wait =
                    backoff(&self.settings, message.attempts).max(retry_after.unwrap_or_default());
                let next = now + wait.as_millis() as i64;
                self.store
                    .mark_retry(message.id, next, &reason, true)
                    .await?;
                tracing::info!(flow, id = message.id, attempt = message.attempts, %reason, retry_in = ?wait, "delivery failed; will retry");
                Ok(Attempt::Retry(next))
            }
        }
    }
}

/// Exponential backoff with jitter: `initial · 2^(attempt-1)`, capped, then a random point in its
/// upper half so that many failed messages do not retry in lockstep.
pub fn backoff(settings: &DeliverySettings, attempt: u32) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = settings
        .backoff_initial
        .saturating_mul(1u32 << exp.min(31))
        .min(settings.backoff_max);
    let half = full / 2;
    half + full.mul_f64(rand::rng().random::<f64>() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jitters_and_caps() {
        let settings = DeliverySettings {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            ..DeliverySettings::default()
        };
        for attempt in 1..40 {
            let full = Duration::from_secs(1 << (attempt - 1).min(20)).min(Duration::from_secs(60));
            let d = backoff(&settings, attempt);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
    }
}
