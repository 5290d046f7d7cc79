//! End-to-end tests of the `wfm-bridge` binary: simulate, import, export, demo and bad input, each run
//! as a real process against a real SQLite store in a temporary directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use std::io::Write;

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        Run {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store(&self) -> String {
        format!("sqlite://{}", self.path("store.db").display())
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfm-bridge"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("WFM_BRIDGE_STORE", self.store());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "wfm-bridge {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure with exit code 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "wfm-bridge {args:?} should fail; stdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn simulate(&self, out: &str, seed: &str) {
        self.ok(&[
            "simulate",
            "--tenant",
            "sim",
            "--agents",
            "30",
            "--queues",
            "3",
            "--from",
            "2024-10-21",
            "--days",
            "8",
            "--seed",
            seed,
            "--out",
            out,
        ]);
    }

    fn import_all(&self, dir: &str) {
        for kind in ["tenants", "queues", "agents", "interactions", "states"] {
            self.ok(&["import", kind, &format!("{dir}/{kind}.jsonl"), "--strict"]);
        }
    }

    fn export(&self, kind: &str) -> String {
        self.ok(&["export", kind])
    }
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn simulate_is_deterministic_for_a_seed() {
    let run = Run::new();
    run.simulate("a", "7");
    run.simulate("b", "7");
    run.simulate("c", "8");
    for kind in ["tenants", "queues", "agents", "interactions", "states"] {
        let file = format!("{kind}.jsonl");
        let a = std::fs::read(run.path("a").join(&file)).unwrap();
        let b = std::fs::read(run.path("b").join(&file)).unwrap();
        assert!(!a.is_empty(), "{file} is empty");
        assert_eq!(a, b, "{file} differs between two runs with the same seed");
    }
    let a = std::fs::read(run.path("a/interactions.jsonl")).unwrap();
    let c = std::fs::read(run.path("c/interactions.jsonl")).unwrap();
    assert_ne!(a, c, "different seeds should give different contacts");
}

#[test]
fn simulated_center_round_trips_through_the_store() {
    let run = Run::new();
    // 2024-10-27 is the fall-back day in Europe/Stockholm.
    run.simulate("sim", "1");
    run.import_all("sim");
    for kind in ["tenants", "queues", "agents", "interactions", "states"] {
        let file = std::fs::read_to_string(run.path("sim").join(format!("{kind}.jsonl"))).unwrap();
        let exported = run.export(kind);
        assert_eq!(
            lines(&exported),
            lines(&file),
            "{kind} changed on the way through the store"
        );
    }
    // Importing the same files again changes nothing.
    let summary = run.ok(&["import", "interactions", "sim/interactions.jsonl", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["written"], 0);
    assert!(summary["unchanged"].as_u64().unwrap() > 1000);
    assert_eq!(summary["rejected"], 0);
}

#[test]
fn imports_canonical_csv_and_standard_input() {
    let run = Run::new();
    let mut child = run
        .cmd(&["import", "tenants", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"tenant":"t","name":"T","time_zone":"America/New_York"}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 tenants from stdin"));

    std::fs::write(
        run.path("agents.csv"),
        "tenant,agent,first_name,last_name,email,team,skills,active\n\
         t,a1,Ada,Lind,ada@example.com,Team 1,q1;q2,true\n\
         t,a2,Bo,Ek,,,q1,false\n",
    )
    .unwrap();
    run.ok(&["import", "agents", "agents.csv"]);
    let exported = run.export("agents");
    assert!(exported.contains(r#""skills":["q1","q2"]"#), "{exported}");
    assert!(
        exported.contains(
            r#""agent":"a2","first_name":"Bo","last_name":"Ek","skills":["q1"],"active":false"#
        ),
        "{exported}"
    );
}

#[test]
fn invalid_input_names_file_line_and_field_and_changes_nothing() {
    let run = Run::new();
    run.simulate("sim", "3");
    run.import_all("sim");
    let before = run.export("interactions");

    // Break one record deep in the file.
    let text = std::fs::read_to_string(run.path("sim/interactions.jsonl")).unwrap();
    let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
    let target = rows.len() - 3;
    let mut record: serde_json::Value = serde_json::from_str(&rows[target]).unwrap();
    record["seq"] = serde_json::json!(0);
    record["contact_id"] = serde_json::json!("new-contact");
    rows[target] = record.to_string();
    rows.push(serde_json::json!({"tenant":"sim","contact_id":"fresh","seq":1,"channel":"voice","direction":"inbound","queue":"q1","offered_at":"2024-10-22T08:00:00Z"}).to_string());
    std::fs::write(run.path("bad.jsonl"), rows.join("\n")).unwrap();

    let err = run.fails(&["import", "interactions", "bad.jsonl"]);
    assert!(
        err.contains(&format!(
            "bad.jsonl:{}: seq is 0; segments count from 1",
            target + 1
        )),
        "{err}"
    );
    assert!(err.contains("--skip-invalid"), "{err}");
    assert_eq!(
        run.export("interactions"),
        before,
        "a failed import changed the store"
    );

    // --skip-invalid imports the rest and writes the rejected line with its reason.
    let out = run.ok(&[
        "import",
        "interactions",
        "bad.jsonl",
        "--skip-invalid",
        "--rejects",
        "rejects.jsonl",
    ]);
    assert!(out.contains("1 written"), "{out}");
    assert!(out.contains("1 rejected"), "{out}");
    let rejects = std::fs::read_to_string(run.path("rejects.jsonl")).unwrap();
    let reject: serde_json::Value = serde_json::from_str(rejects.lines().next().unwrap()).unwrap();
    assert_eq!(reject["line"], target as u64 + 1);
    assert_eq!(reject["field"], "seq");
    assert!(reject["raw"].as_str().unwrap().contains("new-contact"));
}

#[test]
fn bad_invocations_get_clear_errors() {
    let run = Run::new();
    std::fs::write(run.path("calls.txt"), "x").unwrap();
    std::fs::write(run.path("empty.jsonl"), "").unwrap();
    std::fs::write(run.path("garbage.csv"), [0u8, 159, 146, 150, 255, 10, 1, 2]).unwrap();
    // A 2 GB file (sparse: zeros without a line break) fails at its first megabyte.
    std::fs::File::create(run.path("huge.jsonl"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["import", "states", "huge.jsonl"],
            "huge.jsonl:1: no line break within 1048576 bytes",
        ),
        (
            &["import", "tenants", "calls.txt"],
            "cannot tell the format of calls.txt",
        ),
        (
            &["import", "tenants", "missing.jsonl"],
            "cannot open missing.jsonl",
        ),
        (
            &["import", "tenants", "empty.jsonl"],
            "empty.jsonl is empty",
        ),
        (
            &["import", "tenants", "garbage.csv"],
            "garbage.csv:1: the header line is not valid UTF-8",
        ),
        (
            &["--store", "mysql://x", "import", "tenants", "empty.jsonl"],
            "mysql://x",
        ),
        (
            &["export", "agents", "--tenant", "nobody"],
            "tenant \"nobody\" is not in the store",
        ),
    ];
    for (args, expected) in cases {
        let err = run.fails(args);
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in {err}"
        );
        assert!(err.starts_with("error: "), "{err}");
    }
    // Usage errors come from the argument parser with exit code 2.
    let out = run.run(&["import", "calls", "x.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("possible values: tenants, queues, agents, interactions, states")
    );
    let out = run.run(&["import", "tenants", "x.jsonl", "--rejects", "r.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn demo_simulates_imports_and_reports() {
    let run = Run::new();
    let demo = || {
        let out = run
            .cmd(&["demo", "--agents", "20", "--days", "2"])
            .env_remove("WFM_BRIDGE_STORE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = demo();
    for expected in [
        "1. Simulating",
        "2. Importing",
        "3. What the store holds now",
        "agent state events",
        "4. Running the Calabrio flows",
        "directory: 1 change set(s) sent; Calabrio now has",
        // Two complete days, three files each, all accepted by the emulator's checks.
        "interval_stats: 6 file(s) sent; the sandbox accepted 6 of 6",
        "forecast: 4 file(s) sent, one per skill; the sandbox holds forecasts for 4 skill(s)",
        "Calabrio now shows 4 agent(s) logged in: a0001 READY, a0002 BUSY, a0003 LUNCH, a0004 ACW",
    ] {
        assert!(out.contains(expected), "{expected:?} not in {out}");
    }
    assert!(run.path("wfm-bridge-demo/demo.db").exists());
    // Running the demo again is harmless: everything is already there.
    let again = demo();
    assert!(again.contains("0 written"), "{again}");
    assert!(
        again.contains("nothing new to send (earlier demo runs sent those days)"),
        "{again}"
    );
    assert!(
        again.contains("directory: no changes since the last sync"),
        "{again}"
    );
}

/// The real call log of `../shared/data` (outside the repository).
fn bank_calls() -> Option<PathBuf> {
    let path = std::env::var_os("WFM_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("anonymous_bank_2010-08_calls.csv");
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipping: {} not found (set WFM_SHARED_DATA)",
            path.display()
        );
        None
    }
}

#[test]
fn anonymous_bank_calls_import_through_the_shipped_map() {
    let Some(calls) = bank_calls() else { return };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/anonymous-bank");
    let run = Run::new();
    run.ok(&[
        "import",
        "tenants",
        examples.join("tenants.jsonl").to_str().unwrap(),
    ]);
    run.ok(&[
        "import",
        "queues",
        examples.join("queues.jsonl").to_str().unwrap(),
    ]);
    let out = run.ok(&[
        "import",
        "interactions",
        calls.to_str().unwrap(),
        "--map",
        examples.join("map.toml").to_str().unwrap(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();

    // Count by hand from the CSV: every call that reached a queue or an agent is a segment.
    let text = std::fs::read_to_string(&calls).unwrap();
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (q_start, ser_start, outcome, kind) = (
        col("q_start"),
        col("ser_start"),
        col("outcome"),
        col("type"),
    );
    let mut expected: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let (mut segments, mut left_out) = (0, 0);
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        let reached = cells[q_start] != "0:00:00"
            || cells[ser_start] != "0:00:00"
            || cells[outcome] == "AGENT";
        if !reached {
            left_out += 1;
            continue;
        }
        segments += 1;
        let result = match cells[outcome] {
            "AGENT" => "answered",
            "HANG" => "abandoned",
            _ => "none",
        };
        *expected
            .entry((cells[kind].to_string(), result))
            .or_default() += 1;
    }
    assert_eq!(summary["written"], segments);
    assert_eq!(summary["skipped"], left_out);
    assert_eq!(summary["rejected"], 0);
    assert_eq!(segments + left_out, 42_078);

    let mut got: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for line in run.export("interactions").lines() {
        let s: serde_json::Value = serde_json::from_str(line).unwrap();
        let result = if s.get("answered_at").is_some() {
            "answered"
        } else if s.get("abandoned_at").is_some() {
            "abandoned"
        } else {
            "none"
        };
        *got.entry((s["queue"].as_str().unwrap().to_string(), result))
            .or_default() += 1;
        if s["contact_id"] == "2010-08-02-AA0208-7582" {
            // Queued 23:59:29 local on Aug 2, answered 00:00:56 on Aug 3 (IDT = UTC+3).
            assert_eq!(s["offered_at"], "2010-08-02T20:59:29Z");
            assert_eq!(s["answered_at"], "2010-08-02T21:00:56Z");
            assert_eq!(s["agent"], "GELBER");
        }
    }
    assert_eq!(got, expected);
}

#[test]
fn anonymous_bank_statistics_match_totals_counted_from_the_csv() {
    let Some(calls) = bank_calls() else { return };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/anonymous-bank");
    let run = Run::new();
    run.ok(&[
        "import",
        "tenants",
        examples.join("tenants.jsonl").to_str().unwrap(),
    ]);
    run.ok(&[
        "import",
        "queues",
        examples.join("queues.jsonl").to_str().unwrap(),
    ]);
    run.ok(&[
        "import",
        "interactions",
        calls.to_str().unwrap(),
        "--map",
        examples.join("map.toml").to_str().unwrap(),
    ]);
    let json = run.ok(&[
        "stats",
        "--tenant",
        "bank",
        "--from",
        "2010-08-01",
        "--to",
        "2010-08-31",
        "--interval",
        "60",
        "--format",
        "json",
    ]);
    let stats: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut got: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for row in stats["queue_rows"].as_array().unwrap() {
        assert_eq!(row["interval_minutes"], 60);
        let t = got
            .entry(row["queue"].as_str().unwrap().to_string())
            .or_default();
        t[0] += row["offd_direct_call_cnt"].as_u64().unwrap();
        t[1] += row["answ_call_cnt"].as_u64().unwrap();
        t[2] += row["aband_call_cnt"].as_u64().unwrap();
    }

    // By hand: a call counts in August when it reached a queue or an agent, has an outcome
    // (PHANTOM calls have none and are not counted), and entered the queue (else: started service,
    // else: left the voice menu) on an August local date; a time more than 12 hours before the
    // voice-menu entry is on the next day.
    let text = std::fs::read_to_string(&calls).unwrap();
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let secs = |t: &str| -> i64 {
        let p: Vec<i64> = t.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600 + p[1] * 60 + p[2]
    };
    let mut expected: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    for row in rows {
        let c: Vec<&str> = row.split(',').collect();
        let present = |name: &str| c[col(name)] != "0:00:00";
        let outcome = c[col("outcome")];
        if !(present("q_start") || present("ser_start") || outcome == "AGENT") {
            continue;
        }
        let slot = match outcome {
            "AGENT" => 1,
            "HANG" => 2,
            _ => continue,
        };
        let offered = ["q_start", "ser_start", "vru_exit"]
            .into_iter()
            .find(|n| present(n))
            .unwrap();
        let next_day = secs(c[col(offered)]) < secs(c[col("vru_entry")]) - 12 * 3600;
        let date = c[col("date")];
        let in_august = !(next_day && date == "2010-08-31");
        if !in_august {
            continue;
        }
        let t = expected.entry(c[col("type")].to_string()).or_default();
        t[0] += 1;
        t[slot] += 1;
    }
    assert_eq!(got, expected, "per queue: [offered, answered, abandoned]");
    let offered: u64 = expected.values().map(|t| t[0]).sum();
    assert!(offered > 38_000, "{offered}");
}

/// `demo --serve` keeps every flow running into the sandbox and serves the console and the APIs
/// with the tokens it prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serves_the_console_and_apis_after_the_tour() {
    let run = Run::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(run.path("demo.out")).unwrap();
    let mut demo = run
        .cmd(&[
            "demo",
            "--agents",
            "10",
            "--days",
            "2",
            "--serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env_remove("WFM_BRIDGE_STORE")
        .stdout(Stdio::from(log))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = wfm_connectors::http::client().unwrap();
    let get = |path: &str, token: Option<&str>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.ok()?;
            let status = response.status().as_u16();
            Some((status, response.text().await.ok()?))
        }
    };
    let mut console = None;
    for _ in 0..600 {
        if let Some((200, body)) = get("/console/", None).await {
            console = Some(body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let printed = std::fs::read_to_string(run.path("demo.out")).unwrap_or_default();
    let flows = get("/api/v1/flows", Some("demo-admin")).await;
    let anonymous = get("/api/v1/flows", None).await;
    let _ = demo.kill();
    let _ = demo.wait();

    let console = console.unwrap_or_else(|| panic!("the console never answered\n{printed}"));
    assert!(console.contains("<html"), "{console}");
    assert!(
        printed.contains(&format!(
            "Console: http://127.0.0.1:{port}/console/  (admin token: demo-admin)"
        )),
        "{printed}"
    );
    let (status, flows) = flows.expect("the API answers");
    assert_eq!(status, 200, "{flows}");
    for flow in ["directory", "statistics", "forecasts", "rta"] {
        assert!(
            flows.contains(&format!("\"{flow}\"")),
            "{flow} not in {flows}"
        );
    }
    assert_eq!(anonymous.map(|(status, _)| status), Some(401));
}
