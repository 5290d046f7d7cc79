//! Delivering Teleopti statistics files to the Calabrio historical emulator the three ways a
//! customer can set it up: the `http` target in `multipart` mode (and raw, `json` mode), the
//! `sftp` target onto a real OpenSSH server, and the `files` target, the last two into a directory
//! the emulator watches. Also the `http` target's multipart body as the sandbox sink records it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use wfm_connectors::accounts::{AccountConfig, PropertyValue, Secret, account_type};
use wfm_connectors::targets::{DeliveryError, OutboundMessage, Target};
use wfm_sandbox::calabrio::historical::{
    CalabrioHistorical, FileStatus, HistoricalConfig, TenantConfig, Via,
};
use wfm_sandbox::calabrio::statistics_file::FileKind;
use wfm_sandbox::http_sink::HttpSink;

const NAME: &str = "Queue_Statistics_20240301_20240301.csv";

/// A small valid queue file: two intervals of queue q1.
fn queue_file() -> String {
    let header = FileKind::Queue.header().join(";");
    format!(
        "Teleopti.Queue.Data\n\n{header}\n\
         15;2024-03-01;08:00;q1;Support;4;0;1;0;3;30;20;600;90;15;20;1;3;900;0;1\n\
         15;2024-03-01;08:15;q1;Support;2;0;0;0;2;10;0;300;60;8;0;0;2;450;0;0\n"
    )
}

fn message(name: &str, payload: &str) -> OutboundMessage {
    OutboundMessage {
        id: 9,
        flow: "stats-daily".to_string(),
        key: "nordic".to_string(),
        idempotency_key: format!("stats-daily:9:{name}"),
        name: name.to_string(),
        content_type: "text/csv; charset=utf-8".to_string(),
        payload: payload.as_bytes().to_vec(),
        attempt: 1,
    }
}

fn text(s: &str) -> PropertyValue {
    PropertyValue::Text(s.to_string())
}

fn build(kind: &str, properties: &[(&str, PropertyValue)]) -> Box<dyn Target> {
    let account = AccountConfig {
        name: format!("calabrio-{kind}"),
        account_type: kind.to_string(),
        tenant: Some("nordic".to_string()),
        properties: properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    };
    (account_type(kind).unwrap().build.expect("a target type"))(&account).expect("valid account")
}

fn http_target(url: &str, mode: &str, token: Option<&str>) -> Box<dyn Target> {
    let mut properties = vec![
        ("url", text(url)),
        ("mode", text(mode)),
        ("timeout", PropertyValue::Duration(Duration::from_secs(10))),
    ];
    if let Some(token) = token {
        properties.push(("token", PropertyValue::Secret(Secret::new(token))));
    }
    build("http", &properties)
}

async fn calabrio(drop_dir: Option<&Path>, token: Option<&str>) -> CalabrioHistorical {
    let mut tenant = TenantConfig::new("nordic", "Europe/Stockholm", 15);
    tenant.drop_dir = drop_dir.map(Path::to_path_buf);
    CalabrioHistorical::start_with(
        "127.0.0.1:0",
        HistoricalConfig {
            tenants: vec![tenant],
            token: token.map(str::to_string),
            poll_interval_ms: 20,
            ..HistoricalConfig::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn http_multipart_sends_one_file_part_named_after_the_message() {
    let sink = HttpSink::start("127.0.0.1:0").await.unwrap();
    let target = http_target(&format!("{}/import", sink.url()), "multipart", Some("t0k"));
    target.deliver(&message(NAME, &queue_file())).await.unwrap();

    let received = sink.handle().delivered();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary="),
        "{:?}",
        r.header("content-type")
    );
    assert_eq!(r.parts.len(), 1);
    let part = r.part("file").expect("a part named file");
    assert_eq!(part.filename.as_deref(), Some(NAME));
    assert_eq!(
        part.content_type.as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(part.body, queue_file());
    // The same headers as a plain POST.
    assert_eq!(
        r.idempotency_key(),
        Some(format!("stats-daily:9:{NAME}").as_str())
    );
    assert_eq!(r.header("x-wfm-bridge-message"), Some(NAME));
    assert_eq!(r.header("authorization"), Some("Bearer ***"));
}

#[tokio::test]
async fn http_multipart_into_calabrio_is_accepted_and_kept() {
    let server = calabrio(None, Some("t0k")).await;
    let target = http_target(&server.upload_url("nordic"), "multipart", Some("t0k"));
    assert!(target.check().await.ok);
    target.deliver(&message(NAME, &queue_file())).await.unwrap();
    // A repeat (the same idempotency key after a crash) is harmless.
    target.deliver(&message(NAME, &queue_file())).await.unwrap();

    let handle = server.handle();
    let files = handle.received();
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.status == FileStatus::Accepted));
    let totals = handle.queue_totals("nordic");
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].totals.offd_direct_call_cnt, 6);
    assert_eq!(totals[0].totals.answ_call_cnt, 5);
    assert_eq!(totals[0].totals.queued_answ_longest_que_dur, 15);
}

#[tokio::test]
async fn http_raw_body_into_calabrio_is_named_by_its_header() {
    let server = calabrio(None, None).await;
    let target = http_target(&server.upload_url("nordic"), "json", None);
    target.deliver(&message(NAME, &queue_file())).await.unwrap();
    assert_eq!(server.handle().queue_rows("nordic").len(), 2);
}

#[tokio::test]
async fn a_refused_file_is_rejected_with_its_line() {
    let server = calabrio(None, None).await;
    let target = http_target(&server.upload_url("nordic"), "multipart", None);
    let bad = queue_file().replace("15;2024-03-01;08:15", "30;2024-03-01;08:15");
    match target.deliver(&message(NAME, &bad)).await {
        Err(DeliveryError::Rejected { reason }) => {
            assert!(reason.contains("HTTP 422"), "{reason}");
            assert!(
                reason.contains(
                    "line 5: interval \\\"30\\\" does not match the tenant's interval length"
                ),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(server.handle().queue_rows("nordic").is_empty());
}

#[tokio::test]
async fn wrong_credentials_are_retried_not_rejected() {
    let server = calabrio(None, Some("right")).await;
    let target = http_target(&server.upload_url("nordic"), "multipart", Some("wrong"));
    assert_eq!(
        target.check().await.message,
        "credentials are invalid (HTTP 401)"
    );
    match target.deliver(&message(NAME, &queue_file())).await {
        Err(DeliveryError::Retry { reason, .. }) => {
            assert_eq!(reason, "credentials are invalid (HTTP 401)")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn files_dropped_by_the_files_target_are_taken_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = calabrio(Some(dir.path()), None).await;
    let target = build(
        "files",
        &[
            ("path", text(dir.path().to_str().unwrap())),
            ("create_dir", PropertyValue::Bool(false)),
        ],
    );
    target.deliver(&message(NAME, &queue_file())).await.unwrap();
    let files = server
        .handle()
        .wait_for_received(1, Duration::from_secs(10))
        .await
        .expect("the dropped file is read");
    assert_eq!(files[0].status, FileStatus::Accepted, "{:?}", files[0]);
    assert_eq!(files[0].via, Via::Directory);
    assert_eq!(server.handle().queue_rows("nordic").len(), 2);
}

#[tokio::test]
async fn files_uploaded_by_the_sftp_target_are_taken_in() {
    let Some(sshd) = wfm_testkit::sshd() else {
        return;
    };
    let inbox = sshd.files_dir().join("calabrio");
    std::fs::create_dir(&inbox).unwrap();
    let server = calabrio(Some(&inbox), None).await;
    let target = build(
        "sftp",
        &[
            ("host", text(sshd.host())),
            ("port", PropertyValue::Integer(i64::from(sshd.port()))),
            ("username", text(sshd.user())),
            (
                "private_key",
                PropertyValue::Secret(Secret::new(sshd.client_key())),
            ),
            ("host_key", text(sshd.host_key())),
            ("path", text(inbox.to_str().unwrap())),
        ],
    );
    let verdict = target.check().await;
    assert!(verdict.ok, "{verdict:?}");
    target
        .deliver(&message(NAME, &queue_file()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    let files = server
        .handle()
        .wait_for_received(1, Duration::from_secs(10))
        .await
        .expect("the uploaded file is read");
    // Only the final name was ever seen: never the `.part` upload.
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, NAME);
    assert_eq!(files[0].status, FileStatus::Accepted, "{:?}", files[0]);
    assert_eq!(server.handle().queue_rows("nordic").len(), 2);
}
