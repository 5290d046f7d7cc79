//! The Calabrio historical statistics emulator over real loopback HTTP and a real drop directory:
//! files accepted and kept, every rule's refusal with its line, re-sends, a DST fall-back day.

use std::time::Duration;

use serde_json::Value;
use wfm_sandbox::calabrio::historical::{
    CalabrioHistorical, FileStatus, HistoricalConfig, TenantConfig, Via,
};
use wfm_sandbox::calabrio::statistics_file::{
    AGENT_FIELDS, AGENT_QUEUE_FIELDS, FileKind, QUEUE_FIELDS,
};

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider of its own (see wfm_connectors::http).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A whole file: type line, empty line, header, rows.
fn file(kind: FileKind, rows: &[String]) -> String {
    let mut text = format!("{}\n\n{}\n", kind.type_line(), kind.header().join(";"));
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text
}

/// A queue row with named measures; the rest zero.
fn queue_row(label: &str, queue: &str, measures: &[(&str, u64)]) -> String {
    let values: Vec<String> = QUEUE_FIELDS
        .iter()
        .map(|f| {
            measures
                .iter()
                .find(|(n, _)| n == f)
                .map_or(0, |(_, v)| *v)
                .to_string()
        })
        .collect();
    format!("{label};{queue};Queue {queue};{}", values.join(";"))
}

fn agent_row(label: &str, agent: &str, measures: &[(&str, u64)]) -> String {
    let values: Vec<String> = AGENT_FIELDS
        .iter()
        .map(|f| {
            measures
                .iter()
                .find(|(n, _)| n == f)
                .map_or(0, |(_, v)| *v)
                .to_string()
        })
        .collect();
    format!("{label};{agent};Agent {agent};{}", values.join(";"))
}

fn agent_queue_row(label: &str, agent: &str, queue: &str, measures: &[(&str, u64)]) -> String {
    let values: Vec<String> = AGENT_QUEUE_FIELDS
        .iter()
        .map(|f| {
            measures
                .iter()
                .find(|(n, _)| n == f)
                .map_or(0, |(_, v)| *v)
                .to_string()
        })
        .collect();
    format!(
        "{label};{agent};Agent {agent};{queue};Queue {queue};{}",
        values.join(";")
    )
}

/// A multipart body with one `file` part per (name, text), and its content type.
fn multipart(files: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, text) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{text}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// POSTs `text` as a raw body named `name`; the status and the JSON answer.
async fn post_raw(url: &str, name: &str, text: &str) -> (u16, Value) {
    let response = client()
        .post(url)
        .header("content-type", "text/csv")
        .header("x-wfm-bridge-message", name)
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

fn errors(answer: &Value) -> Vec<String> {
    answer["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"))
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

const DAY: &str = "20240301_20240301";

async fn nordic() -> CalabrioHistorical {
    let mut tenant = TenantConfig::new("nordic", "Europe/Stockholm", 15);
    tenant.queues = Some(vec!["q1".into(), "q2".into()]);
    tenant.agents = Some(vec!["a1".into(), "a2".into()]);
    CalabrioHistorical::start_with(
        "127.0.0.1:0",
        HistoricalConfig {
            tenants: vec![tenant],
            ..HistoricalConfig::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_valid_file_set_is_accepted_and_totalled() {
    let server = nordic().await;
    let queue = file(
        FileKind::Queue,
        &[
            queue_row(
                "15;2024-03-01;08:00",
                "q1",
                &[
                    ("offd_direct_call_cnt", 10),
                    ("overflow_in_call_cnt", 2),
                    ("aband_call_cnt", 2),
                    ("answ_call_cnt", 9),
                    ("queued_and_answ_call_dur", 200),
                    ("queued_and_aband_call_dur", 40),
                    ("talking_call_dur", 1800),
                    ("queued_answ_longest_que_dur", 60),
                    ("queued_aband_longest_que_dur", 30),
                    ("ans_servicelevel_cnt", 7),
                    ("aband_short_call_cnt", 1),
                    ("aband_within_sl_cnt", 1),
                ],
            ),
            queue_row(
                "15;2024-03-01;08:15",
                "q1",
                &[
                    ("offd_direct_call_cnt", 5),
                    ("answ_call_cnt", 5),
                    ("queued_answ_longest_que_dur", 90),
                    ("queued_and_answ_call_dur", 100),
                ],
            ),
            queue_row(
                "15;2024-03-01;08:00",
                "q2",
                &[("offd_direct_call_cnt", 1), ("answ_call_cnt", 1)],
            ),
        ],
    );
    let agent = file(
        FileKind::Agent,
        &[agent_row(
            "15;2024-03-01;08:00",
            "a1",
            &[
                ("avail_dur", 800),
                ("tot_work_dur", 900),
                ("pause_dur", 100),
                ("wait_dur", 300),
                ("admin_dur", 50),
                ("direct_out_call_cnt", 1),
                ("direct_out_call_dur", 1500),
            ],
        )],
    );
    let agent_queue = file(
        FileKind::AgentQueue,
        &[agent_queue_row(
            "15;2024-03-01;08:00",
            "a1",
            "q1",
            &[("talking_call_dur", 1800), ("answ_call_cnt", 9)],
        )],
    );
    let names = [
        format!("Queue_Statistics_{DAY}.csv"),
        format!("Agent_Statistics_{DAY}.csv"),
        format!("AgentQueue_Statistics_{DAY}.csv"),
    ];
    let (content_type, body) = multipart(&[
        (&names[0], &queue),
        (&names[1], &agent),
        (&names[2], &agent_queue),
    ]);
    let response = client()
        .post(server.upload_url("nordic"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["errors"], serde_json::json!([]));
    assert_eq!(answer["files"][0]["rows"], 3);
    assert_eq!(answer["files"][1]["status"], "accepted");

    let handle = server.handle();
    assert_eq!(handle.queue_rows("nordic").len(), 3);
    assert_eq!(handle.agent_rows("nordic").len(), 1);
    assert_eq!(handle.agent_rows("nordic")[0].measures.admin_dur, 50);
    assert_eq!(
        handle.agent_queue_rows("nordic")[0].measures.answ_call_cnt,
        9
    );
    let totals = handle.queue_totals("nordic");
    assert_eq!(totals.len(), 2);
    let q1 = &totals[0];
    assert_eq!((q1.queue.as_str(), q1.rows), ("q1", 2));
    assert_eq!(q1.date.to_string(), "2024-03-01");
    assert_eq!(q1.totals.offd_direct_call_cnt, 15);
    assert_eq!(q1.totals.answ_call_cnt, 14);
    assert_eq!(q1.totals.queued_and_answ_call_dur, 300);
    assert_eq!(q1.totals.queued_answ_longest_que_dur, 90, "the maximum");
    let received = handle.received();
    assert_eq!(received.len(), 3);
    assert!(
        received
            .iter()
            .all(|f| f.status == FileStatus::Accepted && f.via == Via::Http)
    );

    // The same over the control endpoint.
    let snapshot: Value = client()
        .get(format!("{}/_sandbox/calabrio/historical", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snapshot["files"].as_array().unwrap().len(), 3);
    assert_eq!(snapshot["files"][0]["name"], names[0].as_str());
    let tenant = &snapshot["tenants"][0];
    assert_eq!(tenant["id"], "nordic");
    assert_eq!(tenant["queue_rows"], 3);
    assert_eq!(tenant["queue_totals"][0]["queue"], "q1");
    assert_eq!(tenant["queue_totals"][0]["answ_call_cnt"], 14);
    assert_eq!(tenant["queue_totals"][0]["date"], "2024-03-01");
}

#[tokio::test]
async fn each_rule_is_refused_with_its_line() {
    let server = nordic().await;
    let url = server.upload_url("nordic");
    let queue_name = format!("Queue_Statistics_{DAY}.csv");
    let agent_name = format!("Agent_Statistics_{DAY}.csv");
    let ok = |time: &str| queue_row(&format!("15;2024-03-01;{time}"), "q1", &[]);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            &queue_name,
            file(
                FileKind::Queue,
                &[ok("08:00"), queue_row("30;2024-03-01;08:15", "q1", &[])],
            ),
            "line 5: interval \"30\" does not match the tenant's interval length of 15 minutes",
        ),
        (
            &queue_name,
            file(
                FileKind::Queue,
                &[queue_row("15;2024-03-01;08:10", "q1", &[])],
            ),
            "line 4: time 08:10 is not on the 15-minute grid",
        ),
        (
            &queue_name,
            file(FileKind::Queue, &[ok("08:00"), ok("08:00")]),
            "line 5: duplicate of line 4 (the same key: q1, 2024-03-01, 08:00)",
        ),
        (
            &queue_name,
            file(
                FileKind::Queue,
                &[queue_row("15;2024-03-01;08:00", "q9", &[])],
            ),
            "line 4: queue \"q9\" is not a known queue",
        ),
        (
            &queue_name,
            file(FileKind::Queue, &[ok("08:00").replacen(";0;", ";-3;", 1)]),
            "line 4: offd_direct_call_cnt is \"-3\"; measures are whole numbers ≥ 0",
        ),
        (
            &queue_name,
            file(
                FileKind::Queue,
                &[queue_row(
                    "15;2024-03-01;08:00",
                    "q1",
                    &[("answ_call_cnt", 1)],
                )],
            ),
            "line 4: answ_call_cnt 1 > offd_direct_call_cnt 0 + overflow_in_call_cnt 0",
        ),
        (
            &queue_name,
            file(
                FileKind::Queue,
                &[queue_row(
                    "15;2024-03-01;08:00",
                    "q1",
                    &[
                        ("offd_direct_call_cnt", 1),
                        ("answ_call_cnt", 1),
                        ("ans_servicelevel_cnt", 2),
                    ],
                )],
            ),
            "line 4: ans_servicelevel_cnt 2 > answ_call_cnt 1",
        ),
        (
            &queue_name,
            file(
                FileKind::Queue,
                &[queue_row(
                    "15;2024-03-01;08:00",
                    "q1",
                    &[
                        ("offd_direct_call_cnt", 1),
                        ("aband_call_cnt", 1),
                        ("aband_short_call_cnt", 1),
                        ("aband_within_sl_cnt", 1),
                    ],
                )],
            ),
            "line 4: aband_short_call_cnt 1 + aband_within_sl_cnt 1 > aband_call_cnt 1",
        ),
        (
            &queue_name,
            file(
                FileKind::Queue,
                &[queue_row(
                    "15;2024-03-01;08:00",
                    "q1",
                    &[
                        ("offd_direct_call_cnt", 1),
                        ("answ_call_cnt", 1),
                        ("queued_and_answ_call_dur", 10),
                        ("queued_answ_longest_que_dur", 11),
                    ],
                )],
            ),
            "line 4: queued_answ_longest_que_dur 11 > queued_and_answ_call_dur 10",
        ),
        (
            &agent_name,
            file(
                FileKind::Agent,
                &[agent_row(
                    "15;2024-03-01;08:00",
                    "a1",
                    &[("tot_work_dur", 901), ("avail_dur", 0)],
                )],
            ),
            "line 4: tot_work_dur 901 is longer than the interval (900 seconds)",
        ),
        (
            &agent_name,
            file(
                FileKind::Agent,
                &[agent_row(
                    "15;2024-03-01;08:00",
                    "a1",
                    &[("tot_work_dur", 100), ("pause_dur", 200)],
                )],
            ),
            "line 4: pause_dur 200 > tot_work_dur 100",
        ),
        (
            &agent_name,
            file(
                FileKind::Agent,
                &[
                    agent_row("15;2024-03-01;08:00", "a1", &[]),
                    agent_row("15;2024-03-01;08:00", "a1", &[]),
                ],
            ),
            "line 5: duplicate of line 4 (the same key: a1, 2024-03-01, 08:00)",
        ),
        (
            &agent_name,
            file(
                FileKind::Agent,
                &[agent_row("15;2024-03-01;08:00", "zz", &[])],
            ),
            "line 4: agent \"zz\" is not a known agent login",
        ),
        (
            "Queue_Statistics_20240331_20240331.csv",
            file(
                FileKind::Queue,
                &[queue_row("15;2024-03-31;02:30", "q1", &[])],
            ),
            "line 4: 2024-03-31 02:30 does not exist in Europe/Stockholm (the clocks skip it)",
        ),
    ];
    for (name, text, expected) in &cases {
        let (status, answer) = post_raw(&url, name, text).await;
        assert_eq!(status, 422, "{expected}: {answer}");
        let errors = errors(&answer);
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "expected {expected:?} in {errors:#?}"
        );
        assert_eq!(answer["files"][0]["status"], "refused");
    }
    // Nothing refused was kept.
    let handle = server.handle();
    assert!(handle.queue_rows("nordic").is_empty());
    assert!(handle.agent_rows("nordic").is_empty());
    let received = handle.received();
    assert_eq!(received.len(), cases.len());
    assert!(received.iter().all(|f| f.status == FileStatus::Refused));
}

#[tokio::test]
async fn resending_a_day_is_harmless_and_the_latest_file_wins() {
    let server = nordic().await;
    let url = server.upload_url("nordic");
    let name = format!("Queue_Statistics_{DAY}.csv");
    let first = file(
        FileKind::Queue,
        &[
            queue_row(
                "15;2024-03-01;08:00",
                "q1",
                &[("offd_direct_call_cnt", 4), ("answ_call_cnt", 4)],
            ),
            queue_row("15;2024-03-01;08:15", "q2", &[("offd_direct_call_cnt", 1)]),
        ],
    );
    for _ in 0..2 {
        let (status, answer) = post_raw(&url, &name, &first).await;
        assert_eq!(status, 200, "{answer}");
    }
    let handle = server.handle();
    assert_eq!(handle.queue_rows("nordic").len(), 2);
    assert_eq!(handle.queue_totals("nordic")[0].totals.answ_call_cnt, 4);

    // A corrected file for the same day replaces it, rows it no longer has included.
    let corrected = file(
        FileKind::Queue,
        &[queue_row(
            "15;2024-03-01;08:00",
            "q1",
            &[("offd_direct_call_cnt", 6), ("answ_call_cnt", 5)],
        )],
    );
    let (status, _) = post_raw(&url, &name, &corrected).await;
    assert_eq!(status, 200);
    let rows = handle.queue_rows("nordic");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].measures.answ_call_cnt, 5);

    // Another day's file leaves this one alone; a refused file changes nothing.
    let next = file(
        FileKind::Queue,
        &[queue_row("15;2024-03-02;08:00", "q1", &[])],
    );
    let (status, _) = post_raw(&url, "Queue_Statistics_20240302_20240302.csv", &next).await;
    assert_eq!(status, 200);
    let (status, _) = post_raw(&url, &name, "Teleopti.Queue.Data\n\nbroken\n").await;
    assert_eq!(status, 422);
    assert_eq!(handle.queue_rows("nordic").len(), 2);
    assert_eq!(handle.queue_totals("nordic").len(), 2);
}

#[tokio::test]
async fn a_fall_back_day_is_accepted_with_its_merged_hour() {
    let server = nordic().await;
    let url = server.upload_url("nordic");
    // Europe/Stockholm, 2024-10-27: 03:00 CEST becomes 02:00 CET, so the labels 02:00–02:45
    // cover 30 real minutes each, merged into one row per label (DESIGN §5).
    let day = "20241027_20241027";
    let mut agent_rows = Vec::new();
    let mut queue_rows = Vec::new();
    for hour in 0..24 {
        for quarter in 0..4 {
            let label = format!("15;2024-10-27;{hour:02}:{:02}", quarter * 15);
            let seconds = if hour == 2 { 1800 } else { 900 };
            agent_rows.push(agent_row(
                &label,
                "a1",
                &[
                    ("avail_dur", seconds),
                    ("tot_work_dur", seconds),
                    ("wait_dur", seconds),
                ],
            ));
            queue_rows.push(queue_row(
                &label,
                "q1",
                &[("wait_dur", seconds), ("avg_avail_member_cnt", 1)],
            ));
        }
    }
    let (status, answer) = post_raw(
        &url,
        &format!("Agent_Statistics_{day}.csv"),
        &file(FileKind::Agent, &agent_rows),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post_raw(
        &url,
        &format!("Queue_Statistics_{day}.csv"),
        &file(FileKind::Queue, &queue_rows),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let handle = server.handle();
    assert_eq!(handle.agent_rows("nordic").len(), 96);
    let totals = handle.queue_totals("nordic");
    assert_eq!(totals[0].totals.wait_dur, 25 * 3600, "a 25-hour day");

    // The same hour-long state on the next (ordinary) day is refused at 02:00.
    let refused = file(
        FileKind::Agent,
        &[agent_row(
            "15;2024-10-28;02:00",
            "a1",
            &[("avail_dur", 1800), ("tot_work_dur", 1800)],
        )],
    );
    let (status, answer) = post_raw(&url, "Agent_Statistics_20241028_20241028.csv", &refused).await;
    assert_eq!(status, 422);
    assert_eq!(
        errors(&answer)[0],
        "line 4: avail_dur 1800 is longer than the interval (900 seconds)"
    );
}

#[tokio::test]
async fn requests_without_a_name_token_or_tenant_are_turned_away() {
    let config = HistoricalConfig {
        tenants: vec![
            TenantConfig::new("a", "UTC", 15),
            TenantConfig::new("b", "UTC", 30),
        ],
        token: Some("t0k".into()),
        ..HistoricalConfig::default()
    };
    let server = CalabrioHistorical::start_with("127.0.0.1:0", config)
        .await
        .unwrap();
    let http = client();
    let text = file(FileKind::Queue, &[]);

    let no_token = http
        .post(server.upload_url("a"))
        .header(
            "x-wfm-bridge-message",
            format!("Queue_Statistics_{DAY}.csv"),
        )
        .body(text.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let probe = http
        .head(server.upload_url("a"))
        .bearer_auth("t0k")
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);

    let no_name = http
        .post(server.upload_url("a"))
        .bearer_auth("t0k")
        .body(text.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(no_name.status(), 400);
    assert!(
        no_name
            .text()
            .await
            .unwrap()
            .contains("X-Wfm-Bridge-Message")
    );

    let several = http
        .post(format!("{}/historical", server.url()))
        .bearer_auth("t0k")
        .header(
            "x-wfm-bridge-message",
            format!("Queue_Statistics_{DAY}.csv"),
        )
        .body(text.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(several.status(), 400);
    let unknown = http
        .post(server.upload_url("zz"))
        .bearer_auth("t0k")
        .header(
            "x-wfm-bridge-message",
            format!("Queue_Statistics_{DAY}.csv"),
        )
        .body(text.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let good = http
        .post(server.upload_url("a"))
        .bearer_auth("t0k")
        .header(
            "x-wfm-bridge-message",
            format!("Queue_Statistics_{DAY}.csv"),
        )
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    assert!(server.handle().received()[0].status == FileStatus::Accepted);
}

#[tokio::test]
async fn dropped_files_are_taken_from_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut tenant = TenantConfig::new("drop", "UTC", 15);
    tenant.drop_dir = Some(dir.path().to_path_buf());
    let server = CalabrioHistorical::start_with(
        "127.0.0.1:0",
        HistoricalConfig {
            tenants: vec![tenant],
            poll_interval_ms: 20,
            ..HistoricalConfig::default()
        },
    )
    .await
    .unwrap();
    let good = file(
        FileKind::Queue,
        &[queue_row(
            "15;2024-03-01;08:00",
            "q1",
            &[("offd_direct_call_cnt", 3), ("answ_call_cnt", 3)],
        )],
    );
    let name = format!("Queue_Statistics_{DAY}.csv");
    // An upload in progress (hidden) is left alone.
    std::fs::write(dir.path().join(format!(".{name}.k1.part")), "half").unwrap();
    std::fs::write(dir.path().join(&name), &good).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not statistics").unwrap();

    let received = server
        .handle()
        .wait_for_received(2, Duration::from_secs(10))
        .await
        .expect("both files taken");
    let by_name = |n: &str| received.iter().find(|f| f.name == n).unwrap().clone();
    assert_eq!(by_name(&name).status, FileStatus::Accepted);
    assert_eq!(by_name(&name).via, Via::Directory);
    assert_eq!(by_name("notes.txt").status, FileStatus::Refused);
    assert_eq!(server.handle().queue_rows("drop").len(), 1);

    // Moved out of the way, with the reasons next to a refused one.
    let wait_gone = async {
        while dir.path().join(&name).exists() || dir.path().join("notes.txt").exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait_gone)
        .await
        .unwrap();
    assert!(dir.path().join("processed").join(&name).exists());
    assert!(dir.path().join("rejected").join("notes.txt").exists());
    let reasons =
        std::fs::read_to_string(dir.path().join("rejected").join("notes.txt.errors.txt")).unwrap();
    assert!(
        reasons.contains("is not Queue_Statistics_<from>_<to>.csv"),
        "{reasons}"
    );
    assert!(dir.path().join(format!(".{name}.k1.part")).exists());
    server.stop().await;
}

#[tokio::test]
async fn an_upload_from_curl_is_read_too() {
    // curl's multipart writer is independent of ours: skip where it is not installed.
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipping: curl is not installed");
        return;
    }
    let server = nordic().await;
    let dir = tempfile::tempdir().unwrap();
    let name = format!("Queue_Statistics_{DAY}.csv");
    let path = dir.path().join(&name);
    std::fs::write(
        &path,
        file(
            FileKind::Queue,
            &[queue_row(
                "15;2024-03-01;09:00",
                "q2",
                &[("offd_direct_call_cnt", 2)],
            )],
        ),
    )
    .unwrap();
    let url = server.upload_url("nordic");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-F"])
            .arg(format!("file=@{};type=text/csv", path.display()))
            .arg(url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "200");
    let rows = server.handle().queue_rows("nordic");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].queue, "q2");
    assert_eq!(server.handle().received()[0].name, name);
}
