//! The `forecast` flow end to end: a simulated center's three weeks imported into a real SQLite
//! store, `wfm-bridge run … --once` (the real binary) forecasting the next 14 days per Calabrio
//! skill with staffing, and the files delivered over loopback to the sandbox's Calabrio forecast
//! import (`http` target, multipart), which checks them with Teleopti's rules; and an external
//! forecast CSV sent through a `files` target.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use wfm_sandbox::calabrio::forecast_import::{FileStatus, ForecastImportConfig, SkillConfig};
use wfm_sandbox::calabrio::{CalabrioConfig, CalabrioSandbox};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_wfm-bridge"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("WFM_BRIDGE_STORE")
            .env_remove("WFM_BRIDGE_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
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

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "wfm-bridge {args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }
}

fn zone() -> TimeZone {
    TimeZone::get("Europe/Stockholm").unwrap()
}

fn today() -> Date {
    jiff::Zoned::now().with_time_zone(zone()).date()
}

/// Three simulated weeks up to yesterday imported into `store.db`, and a configuration with `extra`
/// appended.
fn setup(extra: &str) -> Setup {
    let setup = Setup {
        dir: tempfile::tempdir().unwrap(),
    };
    let from = today().checked_sub(21.days()).unwrap();
    std::fs::write(
        setup.path("wfm-bridge.toml"),
        format!(
            "[store]\nurl = \"sqlite://store.db\"\n[[tenants]]\nid = \"sim\"\ntime_zone = \"Europe/Stockholm\"\n{extra}"
        ),
    )
    .unwrap();
    setup.ok(&[
        "simulate",
        "--tenant",
        "sim",
        "--agents",
        "12",
        "--queues",
        "2",
        "--days",
        "21",
        "--from",
        &from.to_string(),
        "--out",
        "sim",
    ]);
    for kind in ["tenants", "queues", "agents", "interactions"] {
        setup.ok(&["import", kind, &format!("sim/{kind}.jsonl")]);
    }
    setup
}

/// Rows of a Calabrio forecast file: (skill, start, end, tasks, tasktime, aftertasktime, agents).
fn rows(text: &str) -> Vec<Vec<String>> {
    assert!(text.ends_with("\r\n"));
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(
        lines.next(),
        Some("skillname,startdatetime,enddatetime,tasks,tasktime,aftertasktime,agents")
    );
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

// Multi-threaded: the test blocks on the binary while the sandbox serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_forecasts_reach_the_calabrio_import_one_file_per_skill() {
    let sandbox = CalabrioSandbox::start_with(
        "127.0.0.1:0",
        CalabrioConfig {
            forecast: ForecastImportConfig {
                skills: vec![
                    SkillConfig::new("Billing", 30, "Europe/Stockholm"),
                    SkillConfig::new("Sales", 30, "Europe/Stockholm"),
                ],
                ..ForecastImportConfig::default()
            },
            ..CalabrioConfig::default()
        },
    )
    .await
    .unwrap();
    let config = format!(
        r#"
[[accounts]]
name = "calabrio-forecast"
type = "http"
url = "{}forecast/import"
mode = "multipart"

[[flows]]
name = "forecast"
kind = "forecast"
tenant = "sim"
target = "calabrio-forecast"
interval = 30
shrinkage = 30
closed = "{}"
[flows.skills]
q01 = "Billing"
q02 = "Sales"
"#,
        sandbox.url(),
        today().checked_add(3.days()).unwrap()
    );
    let setup = setup(&config);
    let shown = setup.ok(&["config"]);
    assert!(shown.contains("forecast"), "{shown}");

    let out = setup.ok(&["run", "forecast", "--once"]);
    assert!(out.contains("queued 2 message(s); delivered 2"), "{out}");

    let received = sandbox.handles().forecast.received();
    assert_eq!(received.len(), 2, "{received:?}");
    let from = today().tomorrow().unwrap();
    let to = from.checked_add(13.days()).unwrap();
    for file in &received {
        assert_eq!(file.status, FileStatus::Accepted, "{file:?}");
        assert_eq!(file.skipped_off_grid, 0);
        assert!(
            file.name.ends_with(&format!(
                "_{}_{}.csv",
                from.strftime("%Y%m%d"),
                to.strftime("%Y%m%d")
            )),
            "{}",
            file.name
        );
    }
    // Both skills hold intervals on the 14 days from tomorrow (the simulated center opens every
    // day) but the holiday, with forecast tasks and agents after 30 % shrinkage.
    let holiday = today().checked_add(3.days()).unwrap();
    for skill in ["Billing", "Sales"] {
        let held = sandbox.handles().forecast.intervals(skill);
        let dates: std::collections::BTreeSet<Date> =
            held.iter().map(|i| i.local_start.date()).collect();
        assert_eq!(dates.len(), 13, "{skill}: {dates:?}");
        assert!(!dates.contains(&holiday), "{skill}: {dates:?}");
        assert_eq!(dates.first(), Some(&from));
        assert_eq!(dates.last(), Some(&to));
        let tasks: f64 = held.iter().map(|i| i.tasks).sum();
        // The simulator offers a few hundred contacts a day per queue.
        assert!(tasks > 13.0 * 50.0, "{skill}: {tasks} tasks");
        assert!(held.iter().all(|i| i.agents.is_some()));
        // Intervals with work get agents; the busiest interval needs several.
        let peak = held.iter().filter_map(|i| i.agents).fold(0.0, f64::max);
        assert!(peak >= 2.0, "{skill}: peak {peak}");
        // Handle time comes from the store's segments: average seconds per task.
        assert!(
            held.iter()
                .all(|i| i.task_time_s > 0.0 && i.after_task_time_s >= 0.0)
        );
        assert!(
            held.iter()
                .all(|i| { i.end.duration_since(i.start).as_secs() == 1800 })
        );
    }

    // `forecast predict` from the store forecasts the same: the flow's Billing file is queue q01's.
    let predicted = setup.ok(&[
        "forecast",
        "predict",
        "--tenant",
        "sim",
        "--queue",
        "q01",
        "--interval",
        "30",
        "--from",
        &from.to_string(),
        "--days",
        "14",
        "--closed",
        &holiday.to_string(),
    ]);
    let lines: Vec<&str> = predicted.lines().collect();
    assert_eq!(lines[0], "start,calls");
    let billing = sandbox.handles().forecast.intervals("Billing");
    assert_eq!(lines.len() - 1, billing.len(), "{predicted}");
    for (line, held) in lines[1..].iter().zip(&billing) {
        let (start, calls) = line.split_once(',').unwrap();
        assert_eq!(start.parse::<jiff::Timestamp>().unwrap(), held.start);
        let calls: f64 = calls.parse().unwrap();
        assert!((calls - held.tasks).abs() < 0.01, "{line} vs {held:?}");
    }
    // And a picture of last week from the store, actual against forecast.
    let week_ago = today().checked_sub(7.days()).unwrap();
    let said = setup.ok(&[
        "forecast",
        "plot",
        "--tenant",
        "sim",
        "--queue",
        "q01,q02",
        "--interval",
        "30",
        "--from",
        &week_ago.to_string(),
        "--days",
        "7",
        "--out",
        "store.svg",
    ]);
    assert!(said.contains("MAPE"), "{said}");
    assert!(
        std::fs::read_to_string(setup.path("store.svg"))
            .unwrap()
            .contains("<svg")
    );
    let err = setup.fails(&[
        "forecast",
        "predict",
        "--tenant",
        "nobody",
        "--queue",
        "q01",
        "--from",
        &from.to_string(),
    ]);
    assert!(err.contains("\"nobody\" is not in the store"), "{err}");

    // The same day again: nothing to do.
    let out = setup.ok(&["run", "forecast", "--once"]);
    assert!(out.contains("queued 0 message(s)"), "{out}");
    assert_eq!(sandbox.handles().forecast.received().len(), 2);
}

#[test]
fn external_forecasts_are_checked_and_sent_as_files() {
    let config = r#"
[[accounts]]
name = "drop"
type = "files"
path = "out"

[[flows]]
name = "imported"
kind = "forecast"
tenant = "sim"
target = "drop"
interval = 30
days = 2
import = "external.csv"
default_aht = "240s"
[flows.skills]
q01 = "Support"
q02 = "Support"
"#;
    let setup = setup(config);
    let from = today().tomorrow().unwrap();
    let day2 = from.tomorrow().unwrap();
    let day3 = day2.tomorrow().unwrap();
    // An error first: the run fails, names file and line, and sends nothing.
    std::fs::write(
        setup.path("external.csv"),
        format!(
            "queue,start,calls,aht,acw\nq01,{from} 08:00,10,200,20\nq01,{from} 08:10,5,200,20\n"
        ),
    )
    .unwrap();
    let err = setup.fails(&["run", "imported", "--once"]);
    assert!(err.contains("external.csv:3"), "{err}");
    assert!(err.contains("not on the 30-minute grid"), "{err}");
    assert!(
        !Path::new(&setup.path("out")).exists()
            || std::fs::read_dir(setup.path("out"))
                .unwrap()
                .next()
                .is_none()
    );

    // Two queues of one skill are summed (AHT weighted by calls); rows outside the two days are
    // left out; a row without AHT gets default_aht.
    std::fs::write(
        setup.path("external.csv"),
        format!(
            "queue,start,calls,aht,acw\n\
             q01,{from} 08:00,10,200,20\n\
             q02,{from} 08:00,30,300,60\n\
             q01,{day2} 09:30,4,,\n\
             q01,{day3} 08:00,99,100,10\n"
        ),
    )
    .unwrap();
    let out = setup.ok(&["run", "imported", "--once"]);
    assert!(out.contains("queued 1 message(s); delivered 1"), "{out}");
    let name = format!(
        "Forecast_Support_{}_{}.csv",
        from.strftime("%Y%m%d"),
        day2.strftime("%Y%m%d")
    );
    let text = std::fs::read_to_string(setup.path("out").join(&name)).unwrap();
    let rows = rows(&text);
    assert_eq!(rows.len(), 2, "{text}");
    let compact = |d: Date| d.strftime("%Y%m%d").to_string();
    // 40 calls, AHT (10·200 + 30·300)/40 = 275 s of which ACW (10·20 + 30·60)/40 = 50 s.
    assert_eq!(
        rows[0][..6],
        [
            "Support".to_string(),
            format!("{} 8:00", compact(from)),
            format!("{} 8:30", compact(from)),
            "40".to_string(),
            "225".to_string(),
            "50".to_string()
        ]
    );
    // Erlang C for 40 calls in 30 min at 275 s, 80/20: the staffing command agrees.
    let staffing: serde_json::Value = serde_json::from_str(&setup.ok(&[
        "staffing",
        "--calls",
        "40",
        "--interval-minutes",
        "30",
        "--aht",
        "275",
        "--json",
    ]))
    .unwrap();
    assert_eq!(rows[0][6], staffing["agents"].to_string());
    assert_eq!(
        rows[1][..6],
        [
            "Support".to_string(),
            format!("{} 9:30", compact(day2)),
            format!("{} 10:00", compact(day2)),
            "4".to_string(),
            "240".to_string(),
            "0".to_string()
        ]
    );

    // Run again: nothing new. A new version of the file is sent again the same day.
    let out = setup.ok(&["run", "imported", "--once"]);
    assert!(out.contains("queued 0 message(s)"), "{out}");
    let text2 = std::fs::read_to_string(setup.path("external.csv"))
        .unwrap()
        .replace(
            &format!("q01,{from} 08:00,10,200,20"),
            &format!("q01,{from} 08:00,20,200,20"),
        );
    std::fs::write(setup.path("external.csv"), text2).unwrap();
    let out = setup.ok(&["run", "imported", "--once"]);
    assert!(out.contains("queued 1 message(s); delivered 1"), "{out}");
    let again = self::rows(&std::fs::read_to_string(setup.path("out").join(&name)).unwrap());
    assert_eq!(again[0][3], "50");
}

#[test]
fn bad_forecast_flows_are_refused_by_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup { dir };
    let base = "[[tenants]]\nid = \"sim\"\n[[accounts]]\nname = \"drop\"\ntype = \"files\"\npath = \"out\"\n\
                [[flows]]\nname = \"f\"\nkind = \"forecast\"\ntenant = \"sim\"\ntarget = \"drop\"\n";
    for (extra, expected) in [
        ("", "skills"),
        ("[flows.skills]\nq1 = \"A,B\"\n", "no comma"),
        (
            "interval = 20\n[flows.skills]\nq1 = \"A\"\n",
            "15, 30 or 60",
        ),
        (
            "service_level = \"120/20\"\n[flows.skills]\nq1 = \"A\"\n",
            "service_level",
        ),
        (
            "closed = \"2025-13-01\"\n[flows.skills]\nq1 = \"A\"\n",
            "closed",
        ),
        ("method = \"magic\"\n[flows.skills]\nq1 = \"A\"\n", "method"),
        ("shrinkage = 100\n[flows.skills]\nq1 = \"A\"\n", "shrinkage"),
    ] {
        std::fs::write(setup.path("wfm-bridge.toml"), format!("{base}{extra}")).unwrap();
        let err = setup.fails(&["config"]);
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
    std::fs::write(
        setup.path("wfm-bridge.toml"),
        format!("{base}[flows.skills]\nq1 = \"A\"\n"),
    )
    .unwrap();
    assert!(setup.ok(&["config"]).contains("forecast of sim"));
}

/// `wfm-bridge sandbox calabrio` serves the forecast import as a process of its own.
#[tokio::test]
async fn the_sandbox_command_serves_the_forecast_import() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup { dir };
    std::fs::write(
        setup.path("calabrio.json"),
        r#"{"forecast": {"skills": [{"name": "Support", "interval_minutes": 30, "time_zone": "Europe/Stockholm"}]}}"#,
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_wfm-bridge"))
            .args([
                "sandbox",
                "calabrio",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
                "calabrio.json",
            ])
            .current_dir(setup.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/forecast/import");
    let mut up = false;
    for _ in 0..200 {
        if let Ok(r) = client.get(&url).send().await
            && r.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let post = |body: &'static str| {
        client
            .post(&url)
            .header("X-Wfm-Bridge-Message", "Forecast_Support.csv")
            .body(body)
            .send()
    };
    {
        assert!(up, "the sandbox did not start");
        let r = post("Support,20250301 8:00,20250301 8:15,1,2,3\r\n")
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body["errors"][0],
            "Line 1, Error:Interval does not match the target skill: Support."
        );
        let r = post("Support,20250301 8:00,20250301 8:30,1,2,3\r\n")
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// Ends the child process it holds when dropped, also when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
