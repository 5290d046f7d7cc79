//! End-to-end tests of `wfm-bridge forecast predict|backtest|plot` and `wfm-bridge staffing`, each run
//! as a real process: count tables written to a temporary directory, and the real bank series of
//! `../shared/data` (outside the repository; skipped with a note when absent).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn wfm(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfm-bridge"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Runs and expects success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = wfm(dir, args);
    assert!(
        out.status.success(),
        "wfm-bridge {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs and expects failure with exit code 1 or 2 (clap's usage errors); returns stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = wfm(dir, args);
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "wfm-bridge {args:?} should fail; stdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout after an error");
    String::from_utf8(out.stderr).unwrap()
}

/// The 5-minute bank series of `../shared/data`.
fn bank_5min() -> Option<PathBuf> {
    let path = std::env::var_os("WFM_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("bank_calls_5min.csv");
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

/// A synthetic weekday-only 15-minute count table from 2024-09-02 (a Monday) for `weeks` weeks,
/// 08:00–12:00 UTC; the count of a 15-minute sample is `10 + weekday + hour` so each 30-minute
/// interval holds `2 × (10 + weekday + hour)`. Rows from `spike_from` on are multiplied by 100.
fn synthetic(weeks: i64, spike_from: Option<&str>) -> String {
    let mut csv = String::from("id,DateTime,Calls\n");
    let start: jiff::civil::Date = "2024-09-02".parse().unwrap();
    let spike: Option<jiff::civil::Date> = spike_from.map(|d| d.parse().unwrap());
    let mut id = 0;
    for day in 0..weeks * 7 {
        let date = start.checked_add(jiff::Span::new().days(day)).unwrap();
        let weekday = date.weekday().to_monday_zero_offset();
        if weekday >= 5 {
            continue;
        }
        for hour in 8..12 {
            for minute in [0, 15, 30, 45] {
                id += 1;
                let mut count = 10 + i64::from(weekday) + hour;
                if spike.is_some_and(|s| date >= s) {
                    count *= 100;
                }
                writeln!(csv, "{id},{date}T{hour:02}:{minute:02}:00Z,{count}").unwrap();
            }
        }
    }
    csv
}

#[test]
fn predict_prints_start_calls_from_rows_before_the_date_only() {
    let dir = tempfile::tempdir().unwrap();
    // Five regular weeks, then from the forecast's first day on counts a hundred times higher: none
    // of them may reach the forecast.
    std::fs::write(
        dir.path().join("counts.csv"),
        synthetic(7, Some("2024-10-07")),
    )
    .unwrap();
    let out = ok(
        dir.path(),
        &[
            "forecast",
            "predict",
            "--input",
            "counts.csv",
            "--interval",
            "30",
            "--from",
            "2024-10-07",
            "--days",
            "7",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "start,calls");
    // Five weekdays × 8 half-hours; the weekend has no history and is left out.
    assert_eq!(lines.len(), 1 + 5 * 8, "{out}");
    assert_eq!(lines[1].split(',').next().unwrap(), "2024-10-07T08:00:00Z");
    assert_eq!(lines[8].split(',').next().unwrap(), "2024-10-07T11:30:00Z");
    assert_eq!(lines[9].split(',').next().unwrap(), "2024-10-08T08:00:00Z");
    assert_eq!(lines[40].split(',').next().unwrap(), "2024-10-11T11:30:00Z");
    // The history is perfectly regular: every method forecasts it exactly (two 15-minute samples
    // summed into each 30-minute interval).
    for line in &lines[1..] {
        let (start, calls) = line.split_once(',').unwrap();
        let at: jiff::Timestamp = start.parse().unwrap();
        let civil = at.to_zoned(jiff::tz::TimeZone::UTC).datetime();
        let expected = 2.0
            * (10.0
                + f64::from(civil.date().weekday().to_monday_zero_offset())
                + f64::from(civil.hour()));
        let calls: f64 = calls.parse().unwrap();
        assert!(
            (calls - expected).abs() < 0.01,
            "{line}: expected {expected}"
        );
    }

    // A time zone moves the grid and prints local offsets; custom column names are honoured.
    let renamed = synthetic(5, None).replace("DateTime,Calls", "ts,offered");
    std::fs::write(dir.path().join("renamed.csv"), renamed).unwrap();
    let out = ok(
        dir.path(),
        &[
            "forecast",
            "predict",
            "--input",
            "renamed.csv",
            "--time-column",
            "ts",
            "--value-column",
            "offered",
            "--time-zone",
            "Europe/Stockholm",
            "--from",
            "2024-10-07",
            "--days",
            "1",
        ],
    );
    let first = out.lines().nth(1).unwrap();
    assert!(first.starts_with("2024-10-07T10:00:00+02:00,"), "{out}");

    // A holiday given with --closed gets no forecast.
    let out = ok(
        dir.path(),
        &[
            "forecast",
            "predict",
            "--input",
            "counts.csv",
            "--from",
            "2024-10-07",
            "--days",
            "2",
            "--closed",
            "2024-10-08",
        ],
    );
    assert_eq!(out.lines().count(), 1 + 8, "{out}");
    assert!(!out.contains("2024-10-08"), "{out}");
}

#[test]
fn bad_count_tables_name_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("bad.csv"),
        "DateTime,Calls\n2024-09-02T08:00:00Z,3\n2024-09-02T08:05:00Z,three\n",
    )
    .unwrap();
    let err = fails(
        d,
        &[
            "forecast",
            "predict",
            "--input",
            "bad.csv",
            "--from",
            "2024-09-09",
        ],
    );
    assert!(err.contains("bad.csv:3"), "{err}");
    assert!(err.contains("three"), "{err}");

    let err = fails(
        d,
        &[
            "forecast",
            "predict",
            "--input",
            "bad.csv",
            "--value-column",
            "Offered",
            "--from",
            "2024-09-09",
        ],
    );
    assert!(err.contains("Offered"), "{err}");
    assert!(err.contains("--value-column"), "{err}");

    std::fs::write(
        d.join("neg.csv"),
        "DateTime,Calls\n2024-09-02T08:00:00Z,-4\n",
    )
    .unwrap();
    let err = fails(d, &["forecast", "backtest", "--input", "neg.csv"]);
    assert!(err.contains("neg.csv:2"), "{err}");

    let err = fails(
        d,
        &[
            "forecast",
            "predict",
            "--input",
            "missing.csv",
            "--from",
            "2024-09-09",
        ],
    );
    assert!(err.contains("missing.csv"), "{err}");

    let err = fails(
        d,
        &[
            "forecast",
            "predict",
            "--input",
            "bad.csv",
            "--interval",
            "20",
            "--from",
            "2024-09-09",
        ],
    );
    assert!(err.contains("15, 30 or 60"), "{err}");

    // Too little history for a backtest is said plainly.
    std::fs::write(d.join("short.csv"), synthetic(1, None)).unwrap();
    let err = fails(d, &["forecast", "backtest", "--input", "short.csv"]);
    assert!(err.contains("too little history"), "{err}");
}

#[test]
fn bank_backtest_profile_beats_the_baseline() {
    let Some(bank) = bank_5min() else { return };
    let dir = tempfile::tempdir().unwrap();
    let bank = bank.to_str().unwrap();
    let json = ok(
        dir.path(),
        &[
            "forecast",
            "backtest",
            "--input",
            bank,
            "--interval",
            "30",
            "--horizon",
            "7d",
            "--test-days",
            "20",
            "--json",
        ],
    );
    let rows: Vec<Value> = serde_json::from_str(&json).unwrap();
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["method"] == name)
            .unwrap_or_else(|| panic!("no {name} in {json}"))
    };
    let baseline = find("baseline");
    let profile = find("profile");
    for row in &rows {
        for key in ["mape", "wape", "rmse"] {
            assert!(row[key].as_f64().unwrap() > 0.0, "{row}");
        }
    }
    // The reference figure for the baseline, and the shipped model below it.
    assert_eq!(baseline["mape"].as_f64().unwrap(), 7.25, "{json}");
    assert!(profile["mape"].as_f64().unwrap() < 7.25, "{json}");
    assert_eq!(profile["chosen"], true, "{json}");
    assert_eq!(rows.iter().filter(|r| r["chosen"] == true).count(), 1);

    // The table says the same.
    let table = ok(
        dir.path(),
        &[
            "forecast",
            "backtest",
            "--input",
            bank,
            "--interval",
            "30",
            "--horizon",
            "7d",
            "--test-days",
            "20",
        ],
    );
    assert!(table.contains("baseline"), "{table}");
    let chosen = table.lines().find(|l| l.ends_with("chosen")).unwrap();
    assert!(chosen.starts_with("profile"), "{table}");

    // Predict one week ahead from the last Monday and compare with what happened.
    let out = ok(
        dir.path(),
        &[
            "forecast",
            "predict",
            "--input",
            bank,
            "--interval",
            "30",
            "--from",
            "2003-10-20",
            "--days",
            "7",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "start,calls");
    // Weekdays only (the series has no weekends), 07:00–21:00 in half hours (the lone 21:00 sample
    // covers a sixth of its interval and is left out).
    assert_eq!(lines.len(), 1 + 5 * 28, "{}", &out[..400.min(out.len())]);
    assert!(
        lines[1].starts_with("2003-10-20T07:00:00Z,"),
        "{}",
        lines[1]
    );

    // And the picture of it.
    let svg = dir.path().join("week.svg");
    let said = ok(
        dir.path(),
        &[
            "forecast",
            "plot",
            "--input",
            bank,
            "--from",
            "2003-10-20",
            "--days",
            "5",
            "--out",
            svg.to_str().unwrap(),
        ],
    );
    assert!(said.contains("MAPE"), "{said}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") || text.starts_with("<?xml"),
        "{}",
        &text[..100]
    );
    assert!(
        text.contains("<polyline") || text.contains("<path"),
        "a drawn series"
    );
}

#[test]
fn staffing_matches_the_erlang_c_reference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let json = ok(
        d,
        &[
            "staffing",
            "--calls",
            "100",
            "--interval-minutes",
            "30",
            "--aht",
            "180",
            "--sl",
            "0.8/20",
            "--json",
        ],
    );
    let r: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["agents"], 14, "{json}");
    let near = |key: &str, want: f64, tol: f64| {
        let got = r[key].as_f64().unwrap();
        assert!((got - want).abs() < tol, "{key} = {got}, want {want}");
    };
    near("p_wait", 0.1741, 5e-5);
    near("service_level", 0.8884, 5e-5);
    near("asa_s", 7.84, 5e-3);
    near("occupancy", 0.714, 5e-4);

    // Human output says the same.
    let text = ok(
        d,
        &[
            "staffing",
            "--calls",
            "100",
            "--interval-minutes",
            "30",
            "--aht",
            "180",
        ],
    );
    assert!(text.contains("agents            14"), "{text}");
    assert!(text.contains("P(wait)           0.1741"), "{text}");
    assert!(text.contains("ASA               7.84 s"), "{text}");

    // An ASA target alone, an occupancy cap and shrinkage.
    let r: Value = serde_json::from_str(&ok(
        d,
        &[
            "staffing",
            "--calls",
            "100",
            "--aht",
            "180",
            "--sl",
            "none",
            "--asa",
            "5",
            "--max-occupancy",
            "0.65",
            "--shrinkage",
            "0.3",
            "--json",
        ],
    ))
    .unwrap();
    // ASA ≤ 5 s needs 15 agents (14 give 7.84 s), the cap 0.65 needs ⌈10/0.65⌉ = 16.
    assert_eq!(r["agents"], 16, "{r}");
    assert!(r["occupancy"].as_f64().unwrap() <= 0.65);
    assert_eq!(r["scheduled_agents"], 23, "{r}"); // ⌈16 / 0.7⌉

    // Erlang A with very patient callers reproduces Erlang C; with impatient ones it needs fewer.
    let r: Value = serde_json::from_str(&ok(
        d,
        &[
            "staffing",
            "--calls",
            "100",
            "--aht",
            "180",
            "--patience",
            "1e9",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(r["erlang_a"]["agents"], 14, "{r}");
    let pa = r["erlang_a"]["p_wait"].as_f64().unwrap();
    assert!((pa - 0.1741).abs() < 1e-3, "{r}");
    let r: Value = serde_json::from_str(&ok(
        d,
        &[
            "staffing",
            "--calls",
            "100",
            "--aht",
            "180",
            "--patience",
            "60",
            "--json",
        ],
    ))
    .unwrap();
    let a = r["erlang_a"]["agents"].as_u64().unwrap();
    assert!(a < 14 && a > 0, "{r}");
    assert!(r["erlang_a"]["p_abandon"].as_f64().unwrap() > 0.0, "{r}");

    // Thousands of agents stay finite.
    let r: Value = serde_json::from_str(&ok(
        d,
        &[
            "staffing",
            "--calls",
            "90000",
            "--interval-minutes",
            "30",
            "--aht",
            "180",
            "--json",
        ],
    ))
    .unwrap();
    let agents = r["agents"].as_u64().unwrap();
    assert!((9000..9200).contains(&agents), "{r}");
    assert!(r["p_wait"].as_f64().unwrap().is_finite());

    // Bad input.
    let err = fails(d, &["staffing", "--calls=-1", "--aht", "180"]);
    assert!(err.contains("contacts is -1"), "{err}");
    let err = fails(
        d,
        &[
            "staffing", "--calls", "100", "--aht", "180", "--sl", "100/20",
        ],
    );
    assert!(err.contains("below 1"), "{err}");
    let err = fails(
        d,
        &[
            "staffing",
            "--calls",
            "100",
            "--aht",
            "180",
            "--shrinkage",
            "1",
        ],
    );
    assert!(err.contains("shrinkage"), "{err}");
}
