//! Prometheus metrics of the engine: runs, deliveries, latency, and the outbox depth.
//!
//! Counters live in memory and are rendered in the Prometheus text format on scrape; the outbox depth
//! is read from the store at scrape time, so it is right even for messages another process queued.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use wfm_store::{OutboxDepth, OutboxStatus, RunStatus};

/// Upper bounds (seconds) of the latency histograms: from a fast local send to an hour-long outage.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0, 3600.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (count, bound) in self.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.total += 1;
    }
}

#[derive(Debug, Default)]
struct Counters {
    runs: BTreeMap<(String, &'static str), u64>,
    sent: BTreeMap<String, u64>,
    failed: BTreeMap<String, u64>,
    throttled: BTreeMap<String, u64>,
    dead: BTreeMap<String, u64>,
    realtime: BTreeMap<(String, &'static str), u64>,
    latency: BTreeMap<String, Histogram>,
    send_time: BTreeMap<String, Histogram>,
}

/// The engine's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Counters)) {
        // A poisoned lock only means another thread panicked mid-update: counts stay usable.
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut counters);
    }

    /// A run ended.
    pub fn run(&self, flow: &str, status: RunStatus) {
        self.with(|c| {
            *c.runs
                .entry((flow.to_string(), status.as_str()))
                .or_default() += 1
        });
    }

    /// A message was delivered: how long the send took, and how long since it was enqueued.
    pub fn sent(&self, flow: &str, send_time: Duration, since_enqueued_ms: i64) {
        self.with(|c| {
            *c.sent.entry(flow.to_string()).or_default() += 1;
            c.send_time
                .entry(flow.to_string())
                .or_default()
                .observe(send_time.as_secs_f64());
            c.latency
                .entry(flow.to_string())
                .or_default()
                .observe(since_enqueued_ms.max(0) as f64 / 1000.0);
        });
    }

    /// An attempt failed and will be retried or given up.
    pub fn failed(&self, flow: &str) {
        self.with(|c| *c.failed.entry(flow.to_string()).or_default() += 1);
    }

    /// The target asked us to slow down.
    pub fn throttled(&self, flow: &str) {
        self.with(|c| *c.throttled.entry(flow.to_string()).or_default() += 1);
    }

    /// A real-time flow queued a snapshot or a delta.
    pub fn realtime(&self, flow: &str, snapshot: bool) {
        let kind = if snapshot { "snapshot" } else { "delta" };
        self.with(|c| *c.realtime.entry((flow.to_string(), kind)).or_default() += 1);
    }

    /// A message moved to dead letters.
    pub fn dead(&self, flow: &str) {
        self.with(|c| *c.dead.entry(flow.to_string()).or_default() += 1);
    }

    /// The Prometheus text exposition of every metric, with the outbox `depth` read at `now` (ms).
    pub fn render(&self, depth: &[OutboxDepth], now: i64) -> String {
        let c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        header(
            &mut out,
            "wfm_bridge_runs_total",
            "counter",
            "Flow runs ended, by flow and status.",
        );
        for ((flow, status), n) in &c.runs {
            let _ = writeln!(
                out,
                "wfm_bridge_runs_total{{flow=\"{}\",status=\"{status}\"}} {n}",
                label(flow)
            );
        }
        for (name, help, map) in [
            (
                "wfm_bridge_messages_sent_total",
                "Messages delivered.",
                &c.sent,
            ),
            (
                "wfm_bridge_messages_failed_total",
                "Delivery attempts that failed (to be retried or given up).",
                &c.failed,
            ),
            (
                "wfm_bridge_messages_throttled_total",
                "Delivery attempts the target throttled (429).",
                &c.throttled,
            ),
            (
                "wfm_bridge_messages_dead_total",
                "Messages moved to dead letters.",
                &c.dead,
            ),
        ] {
            header(&mut out, name, "counter", help);
            for (flow, n) in map {
                let _ = writeln!(out, "{name}{{flow=\"{}\"}} {n}", label(flow));
            }
        }
        for (name, help, map) in [
            (
                "wfm_bridge_delivery_latency_seconds",
                "Time from enqueue to delivery.",
                &c.latency,
            ),
            (
                "wfm_bridge_send_duration_seconds",
                "Time one successful send took.",
                &c.send_time,
            ),
        ] {
            header(&mut out, name, "histogram", help);
            for (flow, h) in map {
                let flow = label(flow);
                for (bound, count) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{flow=\"{flow}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{{flow=\"{flow}\",le=\"+Inf\"}} {}",
                    h.total
                );
                let _ = writeln!(out, "{name}_sum{{flow=\"{flow}\"}} {}", h.sum);
                let _ = writeln!(out, "{name}_count{{flow=\"{flow}\"}} {}", h.total);
            }
        }
        header(
            &mut out,
            "wfm_bridge_outbox_messages",
            "gauge",
            "Outbox messages by flow and status.",
        );
        for d in depth {
            let _ = writeln!(
                out,
                "wfm_bridge_outbox_messages{{flow=\"{}\",status=\"{}\"}} {}",
                label(&d.flow),
                d.status.as_str(),
                d.count
            );
        }
        header(
            &mut out,
            "wfm_bridge_outbox_oldest_pending_seconds",
            "gauge",
            "Age of the oldest message waiting to be delivered, by flow.",
        );
        for d in depth.iter().filter(|d| d.status == OutboxStatus::Pending) {
            if let Some(oldest) = d.oldest_created_at {
                let _ = writeln!(
                    out,
                    "wfm_bridge_outbox_oldest_pending_seconds{{flow=\"{}\"}} {}",
                    label(&d.flow),
                    (now - oldest).max(0) as f64 / 1000.0
                );
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escapes a label value for the text format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_depth() {
        let m = Metrics::default();
        m.run("f\"1", RunStatus::Succeeded);
        m.sent("f\"1", Duration::from_millis(20), 1500);
        m.failed("f\"1");
        let depth = [OutboxDepth {
            flow: "f\"1".to_string(),
            status: OutboxStatus::Pending,
            count: 3,
            oldest_created_at: Some(1_000),
        }];
        let text = m.render(&depth, 4_000);
        assert!(
            text.contains("wfm_bridge_runs_total{flow=\"f\\\"1\",status=\"succeeded\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("wfm_bridge_delivery_latency_seconds_bucket{flow=\"f\\\"1\",le=\"1\"} 0"),
            "{text}"
        );
        assert!(
            text.contains(
                "wfm_bridge_delivery_latency_seconds_bucket{flow=\"f\\\"1\",le=\"2.5\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("wfm_bridge_outbox_messages{flow=\"f\\\"1\",status=\"pending\"} 3"));
        assert!(text.contains("wfm_bridge_outbox_oldest_pending_seconds{flow=\"f\\\"1\"} 3"));
        assert!(text.contains("# TYPE wfm_bridge_messages_failed_total counter"));
    }
}
