//! Flows and delivery end to end: the real `wfm-bridge` binary (`run --once`, `serve`, `outbox`,
//! `runs`, `check`) against a real SQLite store and the sandbox HTTP sink over loopback, including
//! the failures users of integration engines complain about: a target that fails for a while, a
//! poison message, throttling, and `kill -9` in the middle of sending.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use wfm_sandbox::http_sink::{Behaviour, HttpSink, ReceivedRequest, SinkConfig};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// A simulated center imported into a fresh store, and a configuration with `flows` appended.
    fn new(sink: &str, delivery: &str, flows: &str) -> Setup {
        Setup::dated(sink, delivery, flows, "2024-03-04")
    }

    /// The same, with the two simulated days starting on `from`.
    fn dated(sink: &str, delivery: &str, flows: &str, from: &str) -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().unwrap(),
        };
        let config = format!(
            r#"
[store]
url = "sqlite://store.db"
[server]
listen = "127.0.0.1:0"
[delivery]
{delivery}
[[tenants]]
id = "sim"
name = "Simulated"
time_zone = "Europe/Stockholm"
ingest_token = "env:SIM_TOKEN"
[[tenants]]
id = "other"
ingest_token = "env:OTHER_TOKEN"
[[accounts]]
name = "drop"
type = "files"
path = "out"
[[accounts]]
name = "sink"
type = "http"
url = "{sink}"
token = "env:SINK_TOKEN"
{flows}
"#
        );
        std::fs::write(setup.path("wfm-bridge.toml"), config).unwrap();
        // Imports find the store through wfm-bridge.toml.
        setup.ok(&[
            "simulate", "--tenant", "sim", "--agents", "12", "--queues", "2", "--days", "2",
            "--from", from, "--out", "sim",
        ]);
        for kind in ["tenants", "queues", "agents", "interactions", "states"] {
            setup.ok(&["import", kind, &format!("sim/{kind}.jsonl")]);
        }
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfm-bridge"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("SINK_TOKEN", "sink-secret")
            .env("SIM_TOKEN", "sim-token")
            .env("OTHER_TOKEN", "other-token")
            .env_remove("WFM_BRIDGE_STORE")
            .env_remove("RUST_LOG");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "wfm-bridge {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn interactions(&self) -> BTreeSet<String> {
        self.ok(&["export", "interactions"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Starts `serve`, logging to `serve.log` (a pipe nobody reads could fill and block it).
    fn serve(&self, listen: &str) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("serve.log"))
            .unwrap();
        self.cmd(&["serve", "--listen", listen])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("serve.log")).unwrap_or_default()
    }

    fn outbox(&self, filter: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["outbox", "--json", "--limit", "100000"];
        args.extend_from_slice(filter);
        self.ok(&args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn flow(name: &str, target: &str, batch: u32) -> String {
    format!(
        "[[flows]]\nname = \"{name}\"\nkind = \"interactions\"\ntenant = \"sim\"\ntarget = \"{target}\"\nevery = \"1s\"\nbatch_size = {batch}\n"
    )
}

/// The lines of every delivered body, and each idempotency key with how often it arrived.
fn delivered(received: &[ReceivedRequest]) -> (BTreeSet<String>, BTreeMap<String, usize>) {
    let mut lines = BTreeSet::new();
    let mut keys: BTreeMap<String, usize> = BTreeMap::new();
    for r in received.iter().filter(|r| r.delivered()) {
        lines.extend(r.body.lines().map(str::to_string));
        *keys
            .entry(r.idempotency_key().unwrap().to_string())
            .or_default() += 1;
    }
    (lines, keys)
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sink(behaviour: Behaviour) -> HttpSink {
    HttpSink::start_with(
        "127.0.0.1:0",
        SinkConfig {
            behaviour: Behaviour {
                token: Some("sink-secret".to_string()),
                ..behaviour
            },
            record_file: None,
        },
    )
    .await
    .unwrap()
}

fn read_dir_lines(dir: &Path) -> (usize, BTreeSet<String>) {
    let mut files = 0;
    let mut lines = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(!name.starts_with('.'), "a temporary file was left: {name}");
        files += 1;
        lines.extend(
            std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
    }
    (files, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_delivers_what_changed_and_only_that() {
    let sink = sink(Behaviour::default()).await;
    let setup = Setup::new(
        &sink.url(),
        "",
        &(flow("to-files", "drop", 500) + &flow("to-sink", "sink", 700)),
    );
    let all = setup.interactions();
    assert!(
        all.len() > 1000,
        "the simulation is too small: {}",
        all.len()
    );

    let out = setup.ok(&["run", "to-files", "--once"]);
    assert!(
        out.contains(&format!("read {} records", crate_count(all.len()))),
        "{out}"
    );
    let (files, lines) = read_dir_lines(&setup.path("out"));
    assert_eq!(files, all.len().div_ceil(500));
    assert_eq!(lines, all);

    // Nothing changed: nothing read, nothing sent.
    let out = setup.ok(&["run", "to-files", "--once"]);
    assert!(out.contains("read 0 records, queued 0 message(s)"), "{out}");

    // One changed segment is read and delivered alone.
    let first = all.iter().next().unwrap().clone();
    let mut changed: serde_json::Value = serde_json::from_str(&first).unwrap();
    changed["metadata"] = serde_json::json!({"note": "changed"});
    std::fs::write(setup.path("changed.jsonl"), changed.to_string()).unwrap();
    setup.ok(&["import", "interactions", "changed.jsonl"]);
    let out = setup.ok(&["run", "to-files", "--once"]);
    assert!(out.contains("read 1 records, queued 1 message(s)"), "{out}");
    assert_eq!(read_dir_lines(&setup.path("out")).0, files + 1);

    // The other flow has its own cursor and sends everything over HTTP with a bearer token.
    setup.ok(&["run", "to-sink", "--once"]);
    let (lines, keys) = delivered(&sink.handle().received());
    assert_eq!(lines.len(), all.len());
    assert!(keys.values().all(|n| *n == 1));
    assert_eq!(keys.len(), all.len().div_ceil(700));
    let received = sink.handle().received();
    assert_eq!(received[0].header("x-wfm-bridge-flow"), Some("to-sink"));

    let runs = setup.ok(&["runs", "--json"]);
    assert_eq!(runs.lines().count(), 4);
    assert!(
        runs.lines().all(|l| l.contains("\"status\":\"succeeded\"")),
        "{runs}"
    );
    let sent = setup.outbox(&[]);
    assert!(sent.iter().all(|m| m["status"] == "sent"));
    assert_eq!(
        setup.ok(&["check", "sink"]).trim(),
        "account sink: reachable (HTTP 200)"
    );
}

fn crate_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_target_gets_everything_once_it_recovers() {
    // The target fails 6 times, then throttles twice, then works.
    let sink = sink(Behaviour {
        fail_next: 6,
        fail_status: 500,
        ..Behaviour::default()
    })
    .await;
    let setup = Setup::new(
        &sink.url(),
        "backoff_initial = \"100ms\"\nbackoff_max = \"400ms\"\npoll = \"50ms\"",
        &flow("to-sink", "sink", 400),
    );
    let all = setup.interactions();
    let expected_messages = all.len().div_ceil(400);
    let mut serve = setup.serve("127.0.0.1:0");
    wait_until("the failures", Duration::from_secs(30), || {
        sink.handle()
            .received()
            .iter()
            .filter(|r| r.status == 500)
            .count()
            == 6
    })
    .await;
    sink.handle().update(|b| b.throttle_next = 2);
    wait_until("every message", Duration::from_secs(60), || {
        delivered(&sink.handle().received()).1.len() == expected_messages
    })
    .await;
    stop(&mut serve);
    let (lines, keys) = delivered(&sink.handle().received());
    assert_eq!(lines, all);
    assert!(
        keys.values().all(|n| *n == 1),
        "a message was delivered twice: {keys:?}"
    );
    let messages = setup.outbox(&[]);
    assert_eq!(messages.len(), expected_messages);
    assert!(
        messages.iter().all(|m| m["status"] == "sent"),
        "{messages:?}"
    );
    // The throttled attempts were not counted against the messages.
    let attempts: u64 = messages
        .iter()
        .map(|m| m["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(attempts, expected_messages as u64 + 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_goes_to_dead_letters_and_the_flow_goes_on() {
    let sink = sink(Behaviour {
        poison: Some("POISON".to_string()),
        ..Behaviour::default()
    })
    .await;
    let setup = Setup::new(&sink.url(), "", &flow("to-sink", "sink", 300));
    // Poison one segment: its batch is refused (422), the others go through.
    let first = setup.interactions().into_iter().next().unwrap();
    let mut poisoned: serde_json::Value = serde_json::from_str(&first).unwrap();
    poisoned["metadata"] = serde_json::json!({"note": "POISON"});
    std::fs::write(setup.path("poison.jsonl"), poisoned.to_string()).unwrap();
    setup.ok(&["import", "interactions", "poison.jsonl"]);
    let out = setup.ok(&["run", "to-sink", "--once"]);
    assert!(out.contains("1 moved to dead letters"), "{out}");

    let dead = setup.outbox(&["--dead"]);
    assert_eq!(dead.len(), 1);
    let reason = dead[0]["last_error"].as_str().unwrap();
    assert!(
        reason.contains("HTTP 422") && reason.contains("poison"),
        "{reason}"
    );
    let table = setup.ok(&["outbox", "--dead"]);
    assert!(table.contains("HTTP 422"), "{table}");

    // The flow goes on: a later change is delivered.
    let mut later: serde_json::Value = serde_json::from_str(&first).unwrap();
    later["contact_id"] = serde_json::json!("later-contact");
    std::fs::write(setup.path("later.jsonl"), later.to_string()).unwrap();
    setup.ok(&["import", "interactions", "later.jsonl"]);
    let out = setup.ok(&["run", "to-sink", "--once"]);
    assert!(out.contains("delivered 1 message(s)"), "{out}");

    // Fixed at the target: an operator retries the dead letter and it goes through.
    sink.handle().update(|b| b.poison = None);
    let id = dead[0]["id"].as_i64().unwrap().to_string();
    setup.ok(&["outbox", "retry", &id]);
    let out = setup.ok(&["run", "to-sink", "--once"]);
    assert!(out.contains("delivered 1 message(s)"), "{out}");
    assert!(setup.outbox(&["--dead"]).is_empty());
    let err = setup.run(&["outbox", "retry", &id]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("is not a dead letter"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_sending_loses_nothing_and_duplicates_share_keys() {
    // A slow target, so that the kill lands while sends are in flight.
    let sink = sink(Behaviour {
        latency_ms: 150,
        ..Behaviour::default()
    })
    .await;
    let setup = Setup::new(
        &sink.url(),
        "lease = \"2s\"\nconcurrency = 2\npoll = \"50ms\"",
        &flow("to-sink", "sink", 25),
    );
    let all = setup.interactions();
    let expected_messages = all.len().div_ceil(25);
    assert!(expected_messages > 30);

    let mut serve = setup.serve("127.0.0.1:0");
    wait_until("a few deliveries", Duration::from_secs(30), || {
        sink.handle().received().len() >= 8
    })
    .await;
    serve.kill().unwrap(); // SIGKILL
    serve.wait().unwrap();
    let at_kill = delivered(&sink.handle().received()).1.len();
    assert!(
        at_kill < expected_messages,
        "everything was sent before the kill"
    );

    let mut serve = setup.serve("127.0.0.1:0");
    wait_until(
        "every message after the restart",
        Duration::from_secs(90),
        || delivered(&sink.handle().received()).1.len() == expected_messages,
    )
    .await;
    stop(&mut serve);

    let (lines, keys) = delivered(&sink.handle().received());
    assert_eq!(lines, all, "segments were lost or changed");
    // Every message that arrived twice carried the same idempotency key and the same body.
    let received = sink.handle().received();
    for (key, n) in keys.iter().filter(|(_, n)| **n > 1) {
        let bodies: BTreeSet<&str> = received
            .iter()
            .filter(|r| r.idempotency_key() == Some(key))
            .map(|r| r.body.as_str())
            .collect();
        assert_eq!(
            bodies.len(),
            1,
            "{key} arrived {n} times with different bodies"
        );
    }
    let messages = setup.outbox(&[]);
    assert_eq!(messages.len(), expected_messages);
    assert!(messages.iter().all(|m| m["status"] == "sent"));
    // The run interrupted by the kill was ended as abandoned by the next one, or finished before.
    let runs = setup.ok(&["runs", "--json"]);
    assert!(!runs.contains("\"status\":\"running\""), "{runs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exposes_health_and_metrics_and_stops_on_sigterm() {
    let sink = sink(Behaviour::default()).await;
    let setup = Setup::new(
        &sink.url(),
        "poll = \"50ms\"",
        &flow("to-sink", "sink", 1000),
    );
    let port = free_port();
    let mut serve = setup.serve(&format!("127.0.0.1:{port}"));
    let client = reqwest_client();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            ready = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "/readyz did not answer 200");
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok\n"
    );
    wait_until("the first delivery", Duration::from_secs(30), || {
        !sink.handle().delivered().is_empty()
    })
    .await;
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("wfm_bridge_messages_sent_total{flow=\"to-sink\"}") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for expected in [
        "wfm_bridge_messages_sent_total{flow=\"to-sink\"}",
        "wfm_bridge_runs_total{flow=\"to-sink\",status=\"succeeded\"}",
        "wfm_bridge_delivery_latency_seconds_count{flow=\"to-sink\"}",
        "wfm_bridge_outbox_messages{flow=\"to-sink\",status=\"sent\"}",
    ] {
        assert!(metrics.contains(expected), "{expected} not in\n{metrics}");
    }
    stop(&mut serve);
    let log = setup.log();
    assert!(log.contains("stopped"), "{log}");
    assert!(
        !log.contains("sink-secret"),
        "the token leaked into the log"
    );
}

/// Sends SIGTERM and waits for a clean exit.
fn stop(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "serve exited with {status}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn reqwest_client() -> reqwest::Client {
    wfm_connectors::http::client().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_drop_is_ingested_once_and_bad_files_never_block_it() {
    let sink = sink(Behaviour::default()).await;
    let ingest = "[[accounts]]\nname = \"acd\"\ntype = \"files\"\npath = \"drop\"\nsettle = \"0s\"\n\
                  [[flows]]\nname = \"from-acd\"\nkind = \"interactions\"\ntenant = \"sim\"\nsource = \"acd\"\nevery = \"1s\"\n";
    let setup = Setup::new(&sink.url(), "", ingest);
    let before = setup.interactions().len();
    std::fs::create_dir_all(setup.path("drop")).unwrap();
    let segment = |id: &str| {
        serde_json::json!({"tenant":"sim","contact_id":id,"seq":1,"channel":"voice","direction":"inbound","queue":"q1","offered_at":"2024-10-22T08:00:00Z","abandoned_at":"2024-10-22T08:01:00Z"}).to_string()
    };
    std::fs::write(
        setup.path("drop/interactions-1.jsonl"),
        format!("{}\n{}\n", segment("d1"), segment("d2")),
    )
    .unwrap();
    // One invalid record: the valid one is imported, the other written to rejected/.
    std::fs::write(
        setup.path("drop/interactions-2.jsonl"),
        format!(
            "{}\n{}\n",
            segment("d3"),
            segment("d4").replace("\"seq\":1", "\"seq\":0")
        ),
    )
    .unwrap();
    // Not a record file at all: set aside with the reason.
    std::fs::write(
        setup.path("drop/interactions-3.csv"),
        "what,is,this\n1,2,3\n",
    )
    .unwrap();

    let out = setup.ok(&["run", "from-acd", "--once"]);
    assert!(out.contains("read 4 records"), "{out}");
    assert_eq!(setup.interactions().len(), before + 3);
    for processed in ["interactions-1.jsonl", "interactions-2.jsonl"] {
        assert!(
            setup.path("drop/processed").join(processed).exists(),
            "{processed} not moved"
        );
    }
    let rejects =
        std::fs::read_to_string(setup.path("drop/rejected/interactions-2.jsonl.rejects.jsonl"))
            .unwrap();
    assert!(rejects.contains("seq is 0"), "{rejects}");
    let note =
        std::fs::read_to_string(setup.path("drop/rejected/interactions-3.csv.error.txt")).unwrap();
    assert!(note.contains("has no column"), "{note}");
    let runs = setup.ok(&["runs", "--flow", "from-acd", "--json"]);
    assert!(runs.contains("\"rejected\":2"), "{runs}");

    // A file dropped again under a processed name is a new file; the same content changes nothing.
    std::fs::write(
        setup.path("drop/interactions-1.jsonl"),
        format!("{}\n", segment("d1")),
    )
    .unwrap();
    setup.ok(&["run", "from-acd", "--once"]);
    assert_eq!(setup.interactions().len(), before + 3);
    assert_eq!(
        setup.ok(&["check", "acd"]).trim(),
        "account acd: reads files from drop (0 waiting)"
    );
}

#[test]
fn kill_9_during_an_import_leaves_the_store_unchanged() {
    let setup = Setup::new("http://127.0.0.1:9/", "", "");
    let before = setup.interactions();
    setup.ok(&[
        "simulate", "--tenant", "sim", "--agents", "400", "--queues", "4", "--days", "6", "--seed",
        "9", "--out", "big",
    ]);
    let mut child = setup
        .cmd(&["import", "interactions", "big/interactions.jsonl"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it is writing (the write-ahead log grows), well before it can commit.
    let wal = setup.path("store.db-wal");
    let start = Instant::now();
    let base = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    while std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) < base + (1 << 20) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the import never started writing"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        setup.interactions(),
        before,
        "a killed import left records behind"
    );
    // The store is intact and the import can simply be run again.
    let out = setup.ok(&["import", "interactions", "big/interactions.jsonl", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(summary["written"].as_u64().unwrap() > 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_statistics_are_sent_daily_and_again_after_late_data() {
    let sink = sink(Behaviour::default()).await;
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Stockholm").unwrap())
        .date();
    let first = today.checked_sub(jiff::Span::new().days(3)).unwrap();
    let flow = format!(
        "[[accounts]]\nname = \"calabrio-drop\"\ntype = \"files\"\npath = \"calabrio\"\n\
         [[flows]]\nname = \"history\"\nkind = \"interval_stats\"\ntenant = \"sim\"\ntarget = \"calabrio-drop\"\n\
         start = \"{first}\"\ncapture_delay = \"0s\"\nlook_back = 5\n"
    );
    let setup = Setup::dated(&sink.url(), "", &flow, &first.to_string());

    // Every complete day since `start` is sent: three days, three files each.
    let out = setup.ok(&["run", "history", "--once"]);
    assert!(out.contains("queued 9 message(s); delivered 9"), "{out}");
    let compact = |d: jiff::civil::Date| d.strftime("%Y%m%d").to_string();
    let day1 = format!("Queue_Statistics_{0}_{0}.csv", compact(first));
    let sent = std::fs::read_to_string(setup.path("calabrio").join(&day1)).unwrap();
    // Exactly what `wfm-bridge stats` computes for that day.
    setup.ok(&[
        "stats",
        "--tenant",
        "sim",
        "--from",
        &first.to_string(),
        "--out",
        "by-hand",
    ]);
    assert_eq!(
        sent,
        std::fs::read_to_string(setup.path("by-hand").join(&day1)).unwrap()
    );
    assert!(
        sent.starts_with("Teleopti.Queue.Data\n\ninterval;date;time;queue;queue_name;"),
        "{sent}"
    );

    // Nothing new: nothing sent.
    let out = setup.ok(&["run", "history", "--once"]);
    assert!(out.contains("queued 0 message(s)"), "{out}");

    // A late contact on the first day: that day is computed again and what changed is sent again
    // (only the queue file: an abandoned contact changes no agent row); the other days are not.
    let late = serde_json::json!({"tenant":"sim","contact_id":"late-1","seq":1,"channel":"voice","direction":"inbound","queue":"q1",
        "offered_at": format!("{first}T10:00:00+01:00"), "abandoned_at": format!("{first}T10:02:00+01:00")});
    std::fs::write(setup.path("late.jsonl"), late.to_string()).unwrap();
    setup.ok(&["import", "interactions", "late.jsonl"]);
    let out = setup.ok(&["run", "history", "--once"]);
    assert!(out.contains("queued 1 message(s); delivered 1"), "{out}");
    let resent = std::fs::read_to_string(setup.path("calabrio").join(&day1)).unwrap();
    assert_ne!(resent, sent, "the late contact did not change the day");
    let abandoned = |text: &str| -> u64 {
        text.lines()
            .skip(3)
            .map(|l| l.split(';').nth(7).unwrap().parse::<u64>().unwrap())
            .sum()
    };
    assert_eq!(abandoned(&resent), abandoned(&sent) + 1);
}

/// Starts `serve` on a free port and waits until it is ready; returns the process and its base URL.
async fn serve_ready(setup: &Setup) -> (Child, String) {
    let port = free_port();
    let mut serve = setup.serve(&format!("127.0.0.1:{port}"));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest_client();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return (serve, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = serve.kill();
    let _ = serve.wait();
    panic!("serve did not become ready:\n{}", setup.log());
}

fn state(agent: &str, at: &str, state: &str, reason: Option<&str>) -> serde_json::Value {
    let mut e = serde_json::json!({"agent": agent, "at": at, "state": state});
    if let Some(r) = reason {
        e["reason"] = serde_json::json!(r);
    }
    e
}

/// The agent-states payloads the sink delivered, in order.
fn updates(sink: &HttpSink) -> Vec<serde_json::Value> {
    sink.handle()
        .delivered()
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_states_reach_the_target_as_snapshots_and_deltas() {
    let sink = sink(Behaviour::default()).await;
    let flow = "[[flows]]\nname = \"rta\"\nkind = \"agent_states\"\ntenant = \"sim\"\ntarget = \"sink\"\n\
                update_every = \"200ms\"\nsnapshot_every = \"1h\"\n\
                [flows.state_codes]\nready = \"READY\"\n\"not_ready:Lunch\" = \"LUNCH\"\nlogged_out = \"LOGGED-OFF\"\n";
    let setup = Setup::new(&sink.url(), "poll = \"20ms\"", flow);
    let (mut serve, base) = serve_ready(&setup).await;
    let client = reqwest_client();
    let url = format!("{base}/api/v1/tenants/sim/states");

    // The first message is a snapshot of whoever the store says is logged in.
    wait_until("the first snapshot", Duration::from_secs(20), || {
        !updates(&sink).is_empty()
    })
    .await;
    let first = &updates(&sink)[0];
    assert_eq!(first["snapshot"], true);

    // A push is acknowledged once durable, and reaches the target as a delta with mapped codes.
    let batch = serde_json::json!([
        state("p1", "2030-01-01T08:00:00Z", "ready", None),
        state("p2", "2030-01-01T08:00:00Z", "not_ready", Some("Lunch")),
        state("p2", "2030-01-01T07:00:00Z", "busy", None),
    ]);
    let r = client
        .post(&url)
        .bearer_auth("sim-token")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let receipt: serde_json::Value = r.json().await.unwrap();
    assert_eq!(receipt["accepted"], 3);
    wait_until("the delta", Duration::from_secs(10), || {
        updates(&sink)
            .iter()
            .any(|u| u["snapshot"] == false && u["agents"].as_array().unwrap().len() == 2)
    })
    .await;
    let delta = updates(&sink)
        .into_iter()
        .find(|u| u["snapshot"] == false)
        .unwrap();
    let codes: Vec<(&str, &str)> = delta["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["agent"].as_str().unwrap(), a["code"].as_str().unwrap()))
        .collect();
    // p2's busy event is older than its not_ready one: the newest wins.
    assert_eq!(codes, [("p1", "READY"), ("p2", "LUNCH")]);

    // The same batch again changes nothing and sends nothing.
    let before = updates(&sink).len();
    let r = client
        .post(&url)
        .bearer_auth("sim-token")
        .json(&batch)
        .send()
        .await
        .unwrap();
    let receipt: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (receipt["written"].as_u64(), receipt["unchanged"].as_u64()),
        (Some(0), Some(3))
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(updates(&sink).len(), before);

    // Authentication and validation.
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(client.post(&url).json(&batch).send().await.unwrap()),
        401
    );
    assert_eq!(
        status(
            client
                .post(&url)
                .bearer_auth("nope")
                .json(&batch)
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            client
                .post(&url)
                .bearer_auth("other-token")
                .json(&batch)
                .send()
                .await
                .unwrap()
        ),
        403
    );
    let bad = serde_json::json!([
        state("p3", "2030-01-01T08:00:00Z", "ready", None),
        state("p4", "2030-13-01T08:00:00Z", "ready", None)
    ]);
    let r = client
        .post(&url)
        .bearer_auth("sim-token")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["problems"][0]["index"], 1);
    assert_eq!(body["problems"][0]["field"], "at");
    // Nothing of a rejected batch was kept.
    let exported = setup.ok(&["export", "states", "--tenant", "sim"]);
    assert!(!exported.contains("\"p3\""));

    // An outage: deltas pile up undelivered; when the target is back it gets a fresh snapshot
    // holding the latest state, and the stale deltas are superseded, never replayed.
    sink.handle().update(|b| b.fail_next = 1_000_000);
    for (i, s) in ["busy", "acw", "ready", "busy"].iter().enumerate() {
        let at = format!("2030-01-01T09:0{i}:00Z");
        let r = client
            .post(&url)
            .bearer_auth("sim-token")
            .json(&serde_json::json!([state("p1", &at, s, None)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let delivered_before = sink.handle().delivered().len();
    sink.handle().update(|b| b.fail_next = 0);
    wait_until("recovery", Duration::from_secs(30), || {
        sink.handle().delivered().len() > delivered_before
    })
    .await;
    let after = &updates(&sink)[delivered_before];
    assert_eq!(
        after["snapshot"], true,
        "after an outage the first message is a snapshot: {after}"
    );
    let p1 = after["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "p1")
        .unwrap();
    assert_eq!(p1["state"], "busy");
    tokio::time::sleep(Duration::from_millis(600)).await;
    for later in &updates(&sink)[delivered_before + 1..] {
        assert!(
            later["snapshot"] == true
                || later["agents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a["agent"] != "p1"),
            "a stale delta was replayed: {later}"
        );
    }
    let superseded = setup
        .outbox(&[])
        .iter()
        .filter(|m| m["status"] == "superseded")
        .count();
    assert!(superseded > 0, "nothing was superseded");
    stop(&mut serve);
}

/// Starts `wfm-bridge sandbox calabrio` with `config` (TOML) on a free port; returns the process
/// and its base URL once it answers.
async fn calabrio_sandbox(setup: &Setup, config: &str) -> (Child, String) {
    std::fs::write(setup.path("calabrio-sandbox.toml"), config).unwrap();
    let port = free_port();
    let mut child = setup
        .cmd(&[
            "sandbox",
            "calabrio",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--config",
            "calabrio-sandbox.toml",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest_client();
    for _ in 0..200 {
        if let Ok(r) = client
            .get(format!("{base}/_sandbox/calabrio/rta"))
            .send()
            .await
            && r.status() == 200
        {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the Calabrio sandbox did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_reach_calabrio_rta_and_statistics_its_intake() {
    let sink = sink(Behaviour::default()).await;
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Stockholm").unwrap())
        .date();
    let first = today.checked_sub(jiff::Span::new().days(2)).unwrap();
    // The sandbox's port is only known once it runs: the accounts' URLs are filled in then.
    let flows = format!(
        "[[accounts]]\nname = \"calabrio\"\ntype = \"calabrio\"\nurl = \"CALABRIO_URL/\"\n\
         auth_key = \"env:RTA_KEY\"\nsource_id = \"7\"\n\
         [[accounts]]\nname = \"calabrio-stats\"\ntype = \"http\"\nurl = \"CALABRIO_URL/historical/sim\"\nmode = \"multipart\"\n\
         [[flows]]\nname = \"rta\"\nkind = \"agent_states\"\ntenant = \"sim\"\ntarget = \"calabrio\"\n\
         update_every = \"200ms\"\n\
         [flows.state_codes]\nready = \"READY\"\nbusy = \"BUSY\"\nacw = \"ACW\"\nnot_ready = \"NOTREADY\"\n\"not_ready:Lunch\" = \"LUNCH\"\nlogged_out = \"LOGGED-OFF\"\n\
         [[flows]]\nname = \"history\"\nkind = \"interval_stats\"\ntenant = \"sim\"\ntarget = \"calabrio-stats\"\n\
         start = \"{first}\"\ncapture_delay = \"0s\"\n"
    );
    let setup = Setup::dated(&sink.url(), "poll = \"20ms\"", &flows, &first.to_string());
    let (mut calabrio, base) = calabrio_sandbox(
        &setup,
        "[historical]\n[[historical.tenants]]\nid = \"sim\"\ntime_zone = \"Europe/Stockholm\"\ninterval_minutes = 15\n\
         [rta]\n[[rta.tenants]]\nname = \"sim\"\nauth_key = \"rta-key-sim\"\nsources = [\"7\"]\nauto_persons = true\n",
    )
    .await;
    let config = std::fs::read_to_string(setup.path("wfm-bridge.toml")).unwrap();
    std::fs::write(
        setup.path("wfm-bridge.toml"),
        config.replace("CALABRIO_URL", &base),
    )
    .unwrap();

    // A wrong key is "credentials are invalid", and the check says so.
    let out = setup
        .cmd(&["check", "calabrio"])
        .env("RTA_KEY", "wrong")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("credentials are invalid"), "{text}");
    let client = reqwest_client();
    client
        .delete(format!("{base}/_sandbox/calabrio/rta"))
        .send()
        .await
        .unwrap();

    let (mut serve, server) = {
        let port = free_port();
        let log = std::fs::File::create(setup.path("serve.log")).unwrap();
        let child = setup
            .cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("RTA_KEY", "rta-key-sim")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        (child, format!("http://127.0.0.1:{port}"))
    };
    let view = || async {
        client
            .get(format!("{base}/_sandbox/calabrio/rta"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    let agent_code = |view: &serde_json::Value, agent: &str| -> Option<String> {
        view["tenants"][0]["agents"]
            .as_array()?
            .iter()
            .find(|a| a["person"] == agent)
            .map(|a| a["state_code"].as_str().unwrap().to_string())
    };

    // States pushed to wfm-bridge become the agents' states in Calabrio.
    let url = format!("{server}/api/v1/tenants/sim/states");
    let mut pushed = false;
    for _ in 0..200 {
        if let Ok(r) = client
            .post(&url)
            .bearer_auth("sim-token")
            .json(&serde_json::json!([
                state("cal-1", "2030-01-01T08:00:00Z", "ready", None),
                state("cal-2", "2030-01-01T08:00:00Z", "not_ready", Some("Lunch")),
            ]))
            .send()
            .await
            && r.status() == 200
        {
            pushed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pushed, "serve did not accept states:\n{}", setup.log());
    let mut last = serde_json::Value::Null;
    for _ in 0..200 {
        last = view().await;
        if agent_code(&last, "cal-1").as_deref() == Some("READY")
            && agent_code(&last, "cal-2").as_deref() == Some("LUNCH")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        agent_code(&last, "cal-1").as_deref(),
        Some("READY"),
        "{last:#}"
    );
    assert_eq!(agent_code(&last, "cal-2").as_deref(), Some("LUNCH"));
    // The first message was a snapshot, and Calabrio had nothing to complain about.
    let requests = last["requests"].as_array().unwrap();
    assert_eq!(requests[0]["is_snapshot"], true, "{:#}", requests[0]);
    assert!(
        requests.iter().all(|r| r["status"] == 200),
        "{:#}",
        last["requests"]
    );

    // The interval statistics of the two complete days went to the intake and were accepted.
    let mut files = Vec::new();
    for _ in 0..400 {
        let snapshot: serde_json::Value = client
            .get(format!("{base}/_sandbox/calabrio/historical"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        files = snapshot["files"].as_array().unwrap().clone();
        if files.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 6, "{files:#?}\n{}", setup.log());
    for file in &files {
        assert_eq!(file["status"], "accepted", "{file:#}");
        assert_eq!(file["tenant"], "sim");
    }

    stop(&mut serve);
    let _ = calabrio.kill();
    let _ = calabrio.wait();
}
