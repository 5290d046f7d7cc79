//! The delivery targets against real things: the `http` target over loopback HTTP to the sandbox
//! sink, the `files` target on a real filesystem. Targets are built the way the engine builds them,
//! from an [`AccountConfig`] through their account type.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use wfm_connectors::accounts::{AccountConfig, PropertyValue, Secret, account_type, account_types};
use wfm_connectors::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};
use wfm_sandbox::http_sink::{Behaviour, HttpSink, SinkConfig};

fn message(name: &str, payload: &str) -> OutboundMessage {
    OutboundMessage {
        id: 42,
        flow: "stats-daily".to_string(),
        key: "tenant-a".to_string(),
        idempotency_key: format!("stats-daily:42:{name}"),
        name: name.to_string(),
        content_type: "application/json".to_string(),
        payload: payload.as_bytes().to_vec(),
        attempt: 1,
    }
}

fn account(kind: &str, properties: &[(&str, PropertyValue)]) -> AccountConfig {
    AccountConfig {
        name: format!("test-{kind}"),
        account_type: kind.to_string(),
        tenant: Some("tenant-a".to_string()),
        properties: properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn text(s: &str) -> PropertyValue {
    PropertyValue::Text(s.to_string())
}

/// An `http` target POSTing to `url`, with an optional token and a timeout.
fn http_target(url: &str, token: Option<&str>, timeout: Duration) -> Box<dyn Target> {
    let mut props = vec![
        ("url", text(url)),
        ("timeout", PropertyValue::Duration(timeout)),
    ];
    if let Some(token) = token {
        props.push(("token", PropertyValue::Secret(Secret::new(token))));
    }
    let account = account("http", &props);
    account_type("http").unwrap().build.expect("a target type")(&account)
        .expect("valid http account")
}

/// A `files` target writing into `dir`.
fn files_target(dir: &Path, create_dir: bool) -> Box<dyn Target> {
    let account = account(
        "files",
        &[
            ("path", text(dir.to_str().unwrap())),
            ("create_dir", PropertyValue::Bool(create_dir)),
        ],
    );
    account_type("files").unwrap().build.expect("a target type")(&account)
        .expect("valid files account")
}

async fn sink(behaviour: Behaviour) -> HttpSink {
    HttpSink::start_with(
        "127.0.0.1:0",
        SinkConfig {
            behaviour,
            record_file: None,
        },
    )
    .await
    .unwrap()
}

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn account_types_list_file_and_realtime_targets() {
    let names: Vec<_> = account_types().iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "files",
            "http",
            "sftp",
            "calabrio",
            "calabrio_wfm",
            "http_post",
            "loxysoft",
            "aspect_tcp",
            "nice",
            "scim",
            "serenova"
        ]
    );

    let http = account_type("http").unwrap();
    let url = http.property("url").unwrap();
    assert!(url.required && !url.secret);
    let token = http.property("token").unwrap();
    assert!(token.secret && !token.required);
    assert_eq!(http.property("timeout").unwrap().default, Some("30s"));

    let files = account_type("files").unwrap();
    assert!(files.property("path").unwrap().required);
    assert_eq!(files.property("create_dir").unwrap().default, Some("true"));
}

#[test]
fn http_account_with_an_unusable_url_is_refused() {
    let account = account("http", &[("url", text("ftp://wfm.example.com/in"))]);
    let err = account_type("http").unwrap().build.expect("a target type")(&account)
        .err()
        .expect("ftp is refused");
    assert_eq!(err.account, "test-http");
    assert!(err.message.contains("http:// or https://"), "{err}");
}

// ---- http target -------------------------------------------------------------------------------

#[tokio::test]
async fn http_delivery_carries_body_and_headers() {
    let sink = sink(Behaviour::default()).await;
    let target = http_target(&format!("{}/wfm/in", sink.url()), None, TIMEOUT);

    let mut msg = message("agents.json", r#"{"agents":[{"id":"a1"}]}"#);
    msg.attempt = 3;
    target.deliver(&msg).await.expect("delivered");

    let received = sink.handle().delivered();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/wfm/in");
    assert_eq!(r.body, r#"{"agents":[{"id":"a1"}]}"#);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.idempotency_key(), Some("stats-daily:42:agents.json"));
    assert_eq!(r.header("x-wfm-bridge-flow"), Some("stats-daily"));
    assert_eq!(r.header("x-wfm-bridge-message"), Some("agents.json"));
    assert_eq!(r.header("x-wfm-bridge-attempt"), Some("3"));
    assert!(
        r.header("user-agent").unwrap().starts_with("wfm-bridge/"),
        "{:?}",
        r.header("user-agent")
    );
    assert_eq!(r.header("authorization"), None);
}

#[tokio::test]
async fn http_redelivery_carries_the_same_idempotency_key() {
    let sink = sink(Behaviour::default()).await;
    let target = http_target(&sink.url(), None, TIMEOUT);
    let mut msg = message("a.csv", "x;y\n");
    msg.content_type = "text/csv".to_string();
    target.deliver(&msg).await.unwrap();
    msg.attempt = 2;
    target.deliver(&msg).await.unwrap();

    let received = sink.handle().delivered();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].idempotency_key(), received[1].idempotency_key());
    assert_eq!(received[1].header("content-type"), Some("text/csv"));
    assert_eq!(received[1].header("x-wfm-bridge-attempt"), Some("2"));
}

#[tokio::test]
async fn http_bearer_token_is_sent_and_checked() {
    let sink = sink(Behaviour {
        token: Some("s3cret-token".into()),
        forbidden_tokens: vec!["read-only".into()],
        ..Behaviour::default()
    })
    .await;
    let msg = message("a.json", "{}");

    let good = http_target(&sink.url(), Some("s3cret-token"), TIMEOUT);
    good.deliver(&msg)
        .await
        .expect("the right token is accepted");
    let delivered = sink.handle().delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].header("authorization"), Some("Bearer ***"));

    let wrong = http_target(&sink.url(), Some("wrong-token"), TIMEOUT);
    let err = wrong.deliver(&msg).await.unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Retry {
            reason: "credentials are invalid (HTTP 401)".into(),
            retry_after: None
        }
    );
    assert!(!err.to_string().contains("wrong-token"));

    let none = http_target(&sink.url(), None, TIMEOUT);
    assert!(matches!(
        none.deliver(&msg).await,
        Err(DeliveryError::Retry { reason, .. }) if reason.contains("HTTP 401")
    ));

    let forbidden = http_target(&sink.url(), Some("read-only"), TIMEOUT);
    assert_eq!(
        forbidden.deliver(&msg).await,
        Err(DeliveryError::Retry {
            reason: "access forbidden (HTTP 403)".into(),
            retry_after: None
        })
    );
    assert_eq!(sink.handle().delivered().len(), 1);
}

#[tokio::test]
async fn http_server_errors_are_retried_then_delivered() {
    let sink = sink(Behaviour {
        fail_next: 1,
        fail_status: 500,
        ..Behaviour::default()
    })
    .await;
    let target = http_target(&sink.url(), None, TIMEOUT);
    let msg = message("a.json", "{}");

    match target.deliver(&msg).await {
        Err(DeliveryError::Retry {
            reason,
            retry_after: None,
        }) => assert!(reason.contains("HTTP 500"), "{reason}"),
        other => panic!("{other:?}"),
    }
    target
        .deliver(&msg)
        .await
        .expect("the second attempt goes through");
    let statuses: Vec<u16> = sink.handle().received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 200]);

    // A 503 with Retry-After passes the wait on.
    sink.handle().update(|b| {
        b.fail_next = 1;
        b.fail_status = 503;
        b.fail_retry_after = Some(20);
    });
    assert_eq!(
        target.deliver(&msg).await,
        Err(DeliveryError::Retry {
            reason: "temporary failure (HTTP 503 Service Unavailable)".into(),
            retry_after: Some(Duration::from_secs(20)),
        })
    );
}

#[tokio::test]
async fn http_too_many_requests_is_throttled_with_retry_after() {
    let sink = sink(Behaviour {
        throttle_next: 2,
        throttle_retry_after: 7,
        ..Behaviour::default()
    })
    .await;
    let target = http_target(&sink.url(), None, TIMEOUT);
    let msg = message("a.json", "{}");
    for _ in 0..2 {
        assert_eq!(
            target.deliver(&msg).await,
            Err(DeliveryError::Throttled {
                reason: "rate limited (HTTP 429 Too Many Requests)".into(),
                retry_after: Some(Duration::from_secs(7)),
            })
        );
    }
    target.deliver(&msg).await.expect("throttling is over");
}

#[tokio::test]
async fn http_poison_message_is_rejected_and_others_pass() {
    let sink = sink(Behaviour {
        poison: Some("POISON".into()),
        ..Behaviour::default()
    })
    .await;
    let target = http_target(&sink.url(), None, TIMEOUT);

    match target
        .deliver(&message("bad.json", r#"{"agent":"POISON"}"#))
        .await
    {
        Err(DeliveryError::Rejected { reason }) => {
            assert!(
                reason.starts_with("rejected by the target (HTTP 422"),
                "{reason}"
            );
            assert!(reason.contains("poison message"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    target
        .deliver(&message("good.json", r#"{"agent":"a1"}"#))
        .await
        .expect("a clean message passes");
    let delivered = sink.handle().delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].header("x-wfm-bridge-message"),
        Some("good.json")
    );
}

#[tokio::test]
async fn http_slow_answer_times_out_as_retry() {
    let sink = sink(Behaviour {
        latency_ms: 2_000,
        ..Behaviour::default()
    })
    .await;
    let target = http_target(&sink.url(), None, Duration::from_millis(200));
    match target.deliver(&message("a.json", "{}")).await {
        Err(DeliveryError::Retry { reason, .. }) => assert_eq!(
            reason,
            format!("no answer from {} in time (timed out)", sink.url())
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn http_unreachable_target_is_retried_naming_the_origin_only() {
    let port = closed_port();
    let target = http_target(
        &format!("http://127.0.0.1:{port}/in?api_key=k3y"),
        Some("s3cret"),
        TIMEOUT,
    );
    let err = target.deliver(&message("a.json", "{}")).await.unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Retry {
            reason: format!("cannot reach http://127.0.0.1:{port}: connection refused"),
            retry_after: None,
        }
    );
    assert!(!format!("{err:?}").contains("k3y"));
}

#[tokio::test]
async fn http_check_verdicts() {
    let sink = sink(Behaviour {
        token: Some("s3cret".into()),
        forbidden_tokens: vec!["read-only".into()],
        ..Behaviour::default()
    })
    .await;

    let ok = http_target(&sink.url(), Some("s3cret"), TIMEOUT);
    assert_eq!(ok.check().await, CheckVerdict::ok("reachable (HTTP 200)"));

    let bad = http_target(&sink.url(), Some("nope"), TIMEOUT);
    let verdict = bad.check().await;
    assert!(!verdict.ok);
    assert!(
        verdict.message.contains("credentials are invalid"),
        "{verdict:?}"
    );

    let forbidden = http_target(&sink.url(), Some("read-only"), TIMEOUT);
    let verdict = forbidden.check().await;
    assert!(!verdict.ok);
    assert!(verdict.message.contains("access forbidden"), "{verdict:?}");

    let port = closed_port();
    let down = http_target(&format!("http://127.0.0.1:{port}/x"), None, TIMEOUT);
    assert_eq!(
        down.check().await,
        CheckVerdict::failed(format!(
            "cannot reach http://127.0.0.1:{port}: connection refused"
        ))
    );

    // A check changes nothing on the target: nothing counts as delivered.
    assert!(sink.handle().delivered().is_empty());
    let methods: Vec<String> = sink
        .handle()
        .received()
        .into_iter()
        .map(|r| r.method)
        .collect();
    assert!(methods.iter().all(|m| m == "HEAD"), "{methods:?}");
}

#[tokio::test]
async fn http_check_falls_back_to_get_when_head_is_not_allowed() {
    let sink = sink(Behaviour {
        head_not_allowed: true,
        ..Behaviour::default()
    })
    .await;
    let target = http_target(&sink.url(), None, TIMEOUT);
    assert_eq!(
        target.check().await,
        CheckVerdict::ok("reachable (HTTP 200)")
    );
    let methods: Vec<String> = sink
        .handle()
        .received()
        .into_iter()
        .map(|r| r.method)
        .collect();
    assert_eq!(methods, ["HEAD", "GET"]);
}

// ---- files target ------------------------------------------------------------------------------

/// Names in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn files_write_atomically_without_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let target = files_target(dir.path(), true);
    let msg = message(
        "Queue_Statistics_20240301_20240301.csv",
        "15;2024-03-01;08:00;\n",
    );
    target.deliver(&msg).await.expect("written");

    assert_eq!(
        listing(dir.path()),
        ["Queue_Statistics_20240301_20240301.csv"]
    );
    let written = std::fs::read(dir.path().join(&msg.name)).unwrap();
    assert_eq!(written, msg.payload);
}

#[tokio::test]
async fn files_redelivery_overwrites_with_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let target = files_target(dir.path(), true);
    let msg = message("agents.json", r#"{"agents":[]}"#);
    target.deliver(&msg).await.unwrap();
    let first = std::fs::read(dir.path().join("agents.json")).unwrap();

    // A leftover of a crashed attempt is replaced, not kept.
    let leftover = dir
        .path()
        .join(format!(".agents.json.{}.tmp", "stats-daily_42_agents_json"));
    std::fs::write(&leftover, b"half").unwrap();
    target.deliver(&msg).await.unwrap();

    assert_eq!(
        std::fs::read(dir.path().join("agents.json")).unwrap(),
        first
    );
    assert_eq!(listing(dir.path()), ["agents.json"]);

    // A newer message under the same name replaces the content.
    let newer = message("agents.json", r#"{"agents":["a1"]}"#);
    target.deliver(&newer).await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("agents.json")).unwrap(),
        newer.payload
    );
}

#[tokio::test]
async fn files_bad_names_are_rejected_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("drop");
    let target = files_target(&inner, true);
    for name in [
        "",
        "../escape.csv",
        "/etc/passwd",
        "a/b.csv",
        "a\\b.csv",
        "..",
        "bad\nname",
    ] {
        match target.deliver(&message(name, "x")).await {
            Err(DeliveryError::Rejected { reason }) => {
                assert!(reason.contains("invalid file name"), "{reason}")
            }
            other => panic!("{name:?}: {other:?}"),
        }
    }
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn files_directory_is_created_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");

    let strict = files_target(&nested, false);
    match strict.deliver(&message("x.csv", "x")).await {
        Err(DeliveryError::Retry { reason, .. }) => {
            assert!(reason.contains(nested.to_str().unwrap()), "{reason}");
            assert!(reason.contains("does not exist"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    let creating = files_target(&nested, true);
    creating.deliver(&message("x.csv", "x")).await.unwrap();
    assert_eq!(listing(&nested), ["x.csv"]);
}

#[tokio::test]
async fn files_check_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let shown = dir.path().display().to_string();

    assert_eq!(
        files_target(dir.path(), false).check().await,
        CheckVerdict::ok(format!("writes files to {shown}"))
    );
    // The probe leaves nothing behind.
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    // Missing, but creatable: fine, and the check itself creates nothing.
    let missing = dir.path().join("new").join("drop");
    let verdict = files_target(&missing, true).check().await;
    assert!(verdict.ok, "{verdict:?}");
    assert!(!missing.exists());

    // Missing with create_dir = false: an operator has to create it.
    let verdict = files_target(&missing, false).check().await;
    assert_eq!(
        verdict,
        CheckVerdict::failed(format!(
            "cannot write to {}: no such directory (create_dir is false)",
            missing.display()
        ))
    );

    // A file where the directory should be.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let verdict = files_target(&file, true).check().await;
    assert!(!verdict.ok);
    assert!(verdict.message.ends_with("not a directory"), "{verdict:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn files_read_only_directory_fails_check_and_delivery() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();

    // Root (and anyone with CAP_DAC_OVERRIDE) writes anyway: permission checks cannot be tested.
    let privileged = std::fs::write(locked.join("probe"), b"x").is_ok();
    if privileged {
        let _ = std::fs::remove_file(locked.join("probe"));
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!("skipping the permission checks: running with privileges that ignore them");
        return;
    }

    let target = files_target(&locked, false);
    assert_eq!(
        target.check().await,
        CheckVerdict::failed(format!(
            "cannot write to {}: permission denied",
            locked.display()
        ))
    );
    match target.deliver(&message("x.csv", "x")).await {
        Err(DeliveryError::Retry { reason, .. }) => {
            assert!(reason.contains("permission denied"), "{reason}");
            assert!(reason.contains(locked.to_str().unwrap()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn files_concurrent_deliveries_each_land_whole() {
    let dir = tempfile::tempdir().unwrap();
    let target: std::sync::Arc<dyn Target> = files_target(dir.path(), true).into();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let payload = format!("file {i}\n").repeat(1000);
            target
                .deliver(&message(&format!("f{i}.csv"), &payload))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let names = listing(dir.path());
    assert_eq!(names.len(), 20, "{names:?}");
    for i in 0..20 {
        let text = std::fs::read_to_string(dir.path().join(format!("f{i}.csv"))).unwrap();
        assert_eq!(text, format!("file {i}\n").repeat(1000));
    }
}
