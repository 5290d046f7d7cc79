//! Real-time benchmark (README "Performance"): pushes agent states over HTTP into a running
//! `wfm-bridge serve` and measures what a user of the real-time path cares about.
//!
//! 1. Sustained ingest: batches of 500 canonical events for 20,000 agents, from several concurrent
//!    connections, for a fixed time; prints events/s acknowledged (every 2xx is durable).
//! 2. Latency: single-event pushes at a steady pace; for each, the time from the ingest's 2xx to the
//!    moment the target (the sandbox HTTP sink, in this process) receives a message carrying that
//!    agent's new state, with `update_every = 1s`; prints p50 and p99.
//!
//! usage: cargo run --release -p wfm-server --example realtime_load -- BINARY [SECONDS] [CONNECTIONS] [STORE]
//! (BINARY is the release `wfm-bridge`; bench/realtime.sh builds and passes it. STORE is a store
//! URL, by default a new SQLite file; give a PostgreSQL one an empty database.)

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use wfm_sandbox::http_sink::HttpSink;

const AGENTS: usize = 20_000;
const BATCH: usize = 500;
const STATES: [&str; 4] = ["ready", "busy", "acw", "not_ready"];

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let binary = args
        .next()
        .expect("usage: realtime_load BINARY [SECONDS] [CONNECTIONS] [STORE]");
    let seconds: u64 = args.next().map_or(20, |s| s.parse().expect("seconds"));
    // Concurrent pushers (ACD adapters); each waits for its 2xx before sending the next batch.
    let connections: usize = args.next().map_or(8, |s| s.parse().expect("connections"));
    let store = args.next();

    let sink = HttpSink::start("127.0.0.1:0").await.expect("sink");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        r#"
[store]
url = "{store}"
[server]
listen = "127.0.0.1:{port}"
[delivery]
poll = "20ms"
concurrency = 4
[[tenants]]
id = "load"
ingest_token = "env:LOAD_TOKEN"
[[accounts]]
name = "sink"
type = "http"
url = "{sink}"
[[flows]]
name = "rta"
kind = "agent_states"
tenant = "load"
target = "sink"
update_every = "1s"
snapshot_every = "15m"
"#,
        store =
            store.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("load.db").display())),
        sink = sink.url(),
    );
    let config_path = dir.path().join("wfm-bridge.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut serve: Child = Command::new(&binary)
        .args(["--config", config_path.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "warn")
        .env("LOAD_TOKEN", "load-token")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start wfm-bridge serve");
    let client = wfm_connectors::http::client().expect("client");
    let base = format!("http://127.0.0.1:{port}");
    let url = format!("{base}/api/v1/tenants/load/states");
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 1. Sustained ingest.
    let start_ms = jiff::Timestamp::now().as_millisecond();
    let sent = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..connections {
        let (client, url, sent) = (client.clone(), url.clone(), sent.clone());
        workers.push(tokio::spawn(async move {
            let mut round = 0u64;
            while Instant::now() < deadline {
                // The body is written directly, as an ACD adapter would stream it: the load
                // generator shares the two cores with the server, so it must cost little.
                let at =
                    jiff::Timestamp::from_millisecond(start_ms + round as i64 * 10 + worker as i64)
                        .unwrap()
                        .to_string();
                let mut body = String::with_capacity(BATCH * 64);
                body.push('[');
                for i in 0..BATCH {
                    let n = (round as usize * BATCH * connections + worker * BATCH + i) % AGENTS;
                    if i > 0 {
                        body.push(',');
                    }
                    // Distinct instants per agent: ten milliseconds apart per round.
                    let _ = write!(
                        body,
                        r#"{{"agent":"a{n:05}","at":"{at}","state":"{}"}}"#,
                        STATES[(round as usize + i) % 4]
                    );
                }
                body.push(']');
                let r = client
                    .post(&url)
                    .bearer_auth("load-token")
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("push");
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
                sent.fetch_add(BATCH as u64, Ordering::Relaxed);
                round += 1;
            }
        }));
    }
    let began = Instant::now();
    let cpu_before = (cpu_seconds(serve.id()), cpu_seconds(std::process::id()));
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = began.elapsed().as_secs_f64();
    let events = sent.load(Ordering::Relaxed);
    println!(
        "ingest: {events} events in {elapsed:.1} s = {:.0} events/s acknowledged (batches of {BATCH}, {connections} connections, {AGENTS} agents)",
        events as f64 / elapsed
    );
    if let ((Some(s0), Some(l0)), Some(s1), Some(l1)) = (
        cpu_before,
        cpu_seconds(serve.id()),
        cpu_seconds(std::process::id()),
    ) {
        println!(
            "cpu during ingest: server {:.2} cores, load generator {:.2} cores",
            (s1 - s0) / elapsed,
            (l1 - l0) / elapsed
        );
    }

    // 2. Latency from 2xx to the target, one agent at a time.
    tokio::time::sleep(Duration::from_secs(3)).await;
    sink.handle().clear();
    let mut acked: HashMap<String, jiff::Timestamp> = HashMap::new();
    let probes = 200;
    for i in 0..probes {
        let agent = format!("probe{i:03}");
        let at = jiff::Timestamp::now();
        let body = json!([{"agent": agent, "at": at.to_string(), "state": "ready"}]);
        let r = client
            .post(&url)
            .bearer_auth("load-token")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        acked.insert(agent, jiff::Timestamp::now());
        tokio::time::sleep(Duration::from_millis(97)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut latencies: Vec<f64> = Vec::new();
    let mut seen: HashMap<String, jiff::Timestamp> = HashMap::new();
    for request in sink.handle().delivered() {
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        for agent in body["agents"].as_array().into_iter().flatten() {
            let id = agent["agent"].as_str().unwrap_or_default();
            if acked.contains_key(id) {
                seen.entry(id.to_string()).or_insert(request.at);
            }
        }
    }
    for (agent, ack) in &acked {
        if let Some(arrived) = seen.get(agent) {
            latencies.push(arrived.duration_since(*ack).as_secs_f64());
        }
    }
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(latencies.len() - 1)]
    };
    println!(
        "latency 2xx → target (update_every 1s): p50 {:.3} s, p99 {:.3} s, max {:.3} s over {} of {probes} probes",
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or_default(),
        latencies.len()
    );
    let _ = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status();
    let _ = serve.wait();
}

/// CPU time (user + system) a process has used, from /proc (Linux; None elsewhere).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux the project runs on.
    Some(ticks / 100.0)
}
