//! The real-time targets against real things over loopback: `calabrio` against the Calabrio RTA
//! emulator (JSON and SOAP), `http_post`, `loxysoft` and `nice` against the HTTP sink, and
//! `aspect_tcp` against the TCP sink. Targets are built the way the engine builds them, from an
//! [`AccountConfig`] through their account type.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use wfm_connectors::accounts::{AccountConfig, PropertyValue, Secret, account_type, account_types};
use wfm_connectors::targets::calabrio::rta::{CONNECTED, INVALID_KEY, RtaTarget};
use wfm_connectors::targets::realtime::{
    AgentStateEntry, AgentStatesUpdate, CONTENT_TYPE, RealtimeCadence, realtime_cadence,
};
use wfm_connectors::targets::{DeliveryError, OutboundMessage, Target};
use wfm_model::AgentState;
use wfm_sandbox::calabrio::rta::{
    CalabrioRta, DEFAULT_KEY, RtaConfig, RtaEndpoint, RtaTenantConfig, SNAPSHOT_LOGGED_OUT,
};
use wfm_sandbox::http_sink::{Behaviour, HttpSink, SinkConfig};
use wfm_sandbox::tcp_sink::{SinkEncoding, TcpSink, TcpSinkConfig};

const KEY: &str = "k-123";
const WAIT: Duration = Duration::from_secs(5);

// ---- helpers -----------------------------------------------------------------------------------

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn entry(agent: &str, state: AgentState, code: &str) -> AgentStateEntry {
    AgentStateEntry {
        agent: agent.to_string(),
        state,
        reason: None,
        code: code.to_string(),
        since: at("2024-03-01T07:58:00Z"),
        queues: Vec::new(),
    }
}

fn with_reason(mut e: AgentStateEntry, reason: &str) -> AgentStateEntry {
    e.reason = Some(reason.to_string());
    e
}

fn with_queues(mut e: AgentStateEntry, queues: &[&str]) -> AgentStateEntry {
    e.queues = queues.iter().map(|q| q.to_string()).collect();
    e
}

fn update(snapshot: bool, agents: Vec<AgentStateEntry>) -> AgentStatesUpdate {
    AgentStatesUpdate {
        tenant: "nordic".to_string(),
        snapshot,
        at: at("2024-03-01T08:00:10Z"),
        agents,
    }
}

fn message(update: &AgentStatesUpdate) -> OutboundMessage {
    let what = if update.snapshot { "snapshot" } else { "delta" };
    OutboundMessage {
        id: 7,
        flow: "nordic-rta".to_string(),
        key: "nordic".to_string(),
        idempotency_key: format!("nordic-rta:{what}:7"),
        name: format!("nordic-rta-{what}-7.json"),
        content_type: CONTENT_TYPE.to_string(),
        payload: update.to_payload(),
        attempt: 1,
    }
}

fn text(s: &str) -> PropertyValue {
    PropertyValue::Text(s.to_string())
}

fn secret(s: &str) -> PropertyValue {
    PropertyValue::Secret(Secret::new(s))
}

fn map(pairs: &[(&str, &str)]) -> PropertyValue {
    PropertyValue::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn account(kind: &str, properties: &[(&str, PropertyValue)]) -> AccountConfig {
    AccountConfig {
        name: format!("test-{kind}"),
        account_type: kind.to_string(),
        tenant: Some("nordic".to_string()),
        properties: properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn build(kind: &str, properties: &[(&str, PropertyValue)]) -> Box<dyn Target> {
    account_type(kind).unwrap().build.expect("a target type")(&account(kind, properties))
        .expect("valid account")
}

fn build_error(kind: &str, properties: &[(&str, PropertyValue)]) -> String {
    match account_type(kind).unwrap().build.expect("a target type")(&account(kind, properties)) {
        Ok(_) => panic!("{kind} account should be refused"),
        Err(e) => e.to_string(),
    }
}

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

// ---- account types -----------------------------------------------------------------------------

/// No secret reaches a target's `Debug`: not the token, not credentials in the URL's path or query.
#[test]
fn the_json_targets_debug_without_secrets() {
    use wfm_connectors::targets::{
        http_post::HttpPostTarget, loxysoft::LoxysoftTarget, nice::NiceTarget,
    };
    let properties = [
        (
            "url",
            text("https://wfm.example/feed/hidden-path?key=hidden-query"),
        ),
        ("token", secret("hidden-token")),
    ];
    let shown = [
        format!(
            "{:?}",
            HttpPostTarget::from_account(&account("http_post", &properties)).unwrap()
        ),
        format!(
            "{:?}",
            LoxysoftTarget::from_account(&account("loxysoft", &properties)).unwrap()
        ),
        format!(
            "{:?}",
            NiceTarget::from_account(&account("nice", &properties)).unwrap()
        ),
    ];
    for debug in shown {
        assert!(debug.contains("https://wfm.example"), "{debug}");
        for hidden in ["hidden-path", "hidden-query", "hidden-token"] {
            assert!(!debug.contains(hidden), "{hidden} in {debug}");
        }
    }
}

#[test]
fn the_real_time_account_types_are_listed_with_their_properties() {
    let names: Vec<_> = account_types().iter().map(|t| t.name).collect();
    for name in ["calabrio", "http_post", "loxysoft", "aspect_tcp", "nice"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let calabrio = account_type("calabrio").unwrap();
    let key = calabrio.property("auth_key").unwrap();
    assert!(key.secret && key.required);
    assert!(calabrio.property("source_id").unwrap().required);
    assert_eq!(calabrio.property("mode").unwrap().default, Some("json"));
    assert_eq!(
        calabrio.property("platform_type_id").unwrap().default,
        Some("00000000-0000-0000-0000-000000000000")
    );
    assert_eq!(calabrio.property("max_batch").unwrap().default, Some("0"));
    let loxysoft = account_type("loxysoft").unwrap();
    assert_eq!(loxysoft.property("interval").unwrap().default, Some("10s"));
    assert!(loxysoft.property("token").unwrap().secret);
    let aspect = account_type("aspect_tcp").unwrap();
    assert_eq!(
        aspect.property("field_sizes").unwrap().default,
        Some("agent=16,state=8,reason=4,timestamp=14")
    );
    assert_eq!(
        aspect.property("reconnect_max").unwrap().default,
        Some("30s")
    );
    assert_eq!(
        account_type("nice")
            .unwrap()
            .property("keep_alive")
            .unwrap()
            .default,
        Some("60s")
    );
}

#[test]
fn cadence_comes_from_loxysoft_interval_and_nice_keep_alive() {
    let loxysoft = account("loxysoft", &[("url", text("https://l.example.com/rt"))]);
    assert_eq!(
        realtime_cadence(&loxysoft),
        RealtimeCadence {
            update_every: Some(Duration::from_secs(10)),
            snapshot_every: None
        }
    );
    let loxysoft = account(
        "loxysoft",
        &[("interval", PropertyValue::Duration(Duration::from_secs(3)))],
    );
    assert_eq!(
        realtime_cadence(&loxysoft).update_every,
        Some(Duration::from_secs(3))
    );
    let nice = account(
        "nice",
        &[(
            "keep_alive",
            PropertyValue::Duration(Duration::from_secs(45)),
        )],
    );
    assert_eq!(
        realtime_cadence(&nice),
        RealtimeCadence {
            update_every: None,
            snapshot_every: Some(Duration::from_secs(45))
        }
    );
    assert_eq!(
        realtime_cadence(&account("nice", &[])).snapshot_every,
        Some(Duration::from_secs(60))
    );
    assert_eq!(
        realtime_cadence(&account("calabrio", &[])),
        RealtimeCadence::default()
    );
}

#[tokio::test]
async fn every_real_time_target_rejects_other_payloads_naming_its_type() {
    let sink = HttpSink::start("127.0.0.1:0").await.unwrap();
    let tcp = TcpSink::start("127.0.0.1:0").await.unwrap();
    let targets: Vec<(&str, Box<dyn Target>)> = vec![
        (
            "calabrio",
            build(
                "calabrio",
                &[
                    ("url", text(&sink.url())),
                    ("auth_key", secret(KEY)),
                    ("source_id", text("7")),
                ],
            ),
        ),
        (
            "http_post",
            build("http_post", &[("url", text(&sink.url()))]),
        ),
        (
            "loxysoft",
            build(
                "loxysoft",
                &[("url", text(&sink.url())), ("token", secret("t"))],
            ),
        ),
        ("nice", build("nice", &[("url", text(&sink.url()))])),
        (
            "aspect_tcp",
            build(
                "aspect_tcp",
                &[
                    ("host", text("127.0.0.1")),
                    ("port", PropertyValue::Integer(tcp.port().into())),
                ],
            ),
        ),
    ];
    let mut csv = message(&update(false, vec![]));
    csv.content_type = "text/csv".to_string();
    csv.payload = b"a;b\n".to_vec();
    for (name, target) in &targets {
        match target.deliver(&csv).await {
            Err(DeliveryError::Rejected { reason }) => {
                assert!(reason.contains(&format!("account type {name}")), "{reason}");
                assert!(reason.contains(CONTENT_TYPE), "{reason}");
                assert!(reason.contains("\"text/csv\""), "{reason}");
                assert!(reason.contains("files, sftp or http"), "{reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // The right content type with parameters, but not an update.
    let mut broken = message(&update(false, vec![]));
    broken.content_type = format!("{CONTENT_TYPE}; charset=utf-8");
    broken.payload = b"{\"tenant\": 1}".to_vec();
    for (name, target) in &targets {
        match target.deliver(&broken).await {
            Err(DeliveryError::Rejected { reason }) => {
                assert!(
                    reason.contains("not an agent-states payload"),
                    "{name}: {reason}"
                )
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(sink.handle().received().is_empty());
    assert!(tcp.handle().connections().is_empty());
}

// ---- calabrio ----------------------------------------------------------------------------------

/// Tenant `nordic` with source 7 and persons p1..p4 with user codes 1001..1004, and p9 with
/// `BP-1001` for prefixed codes.
fn nordic() -> RtaTenantConfig {
    RtaTenantConfig::new("nordic", KEY, &["7"])
        .person("p1", "7", "1001")
        .person("p2", "7", "1002")
        .person("p3", "7", "1003")
        .person("p4", "7", "1004")
        .person("p9", "7", "BP-1001")
}

async fn rta_with(config: RtaConfig) -> CalabrioRta {
    CalabrioRta::start_with("127.0.0.1:0", config)
        .await
        .unwrap()
}

async fn rta() -> CalabrioRta {
    rta_with(RtaConfig {
        tenants: vec![nordic()],
        ..RtaConfig::default()
    })
    .await
}

fn calabrio(rta: &CalabrioRta, extra: &[(&str, PropertyValue)]) -> Box<dyn Target> {
    let mut props = vec![
        ("url", text(&rta.url())),
        ("auth_key", secret(KEY)),
        ("source_id", text("7")),
    ];
    props.extend(extra.iter().cloned());
    build("calabrio", &props)
}

fn code(rta: &CalabrioRta, person: &str) -> Option<String> {
    rta.handle().state_code("nordic", person)
}

#[tokio::test]
async fn calabrio_snapshot_logs_out_the_absent_agents() {
    let rta = rta().await;
    let target = calabrio(&rta, &[]);
    let before = update(
        false,
        vec![
            entry("1001", AgentState::Ready, "READY"),
            entry("1002", AgentState::Busy, "BUSY"),
            entry("1003", AgentState::Acw, "ACW"),
        ],
    );
    target.deliver(&message(&before)).await.unwrap();
    assert_eq!(code(&rta, "p2").as_deref(), Some("BUSY"));

    let snapshot = update(
        true,
        vec![
            entry("1001", AgentState::NotReady, "LUNCH"),
            // A logged-out entry in a snapshot is left out: absence logs the agent out.
            entry("1003", AgentState::LoggedOut, "LOGGED-OFF"),
        ],
    );
    target.deliver(&message(&snapshot)).await.unwrap();
    assert_eq!(code(&rta, "p1").as_deref(), Some("LUNCH"));
    assert_eq!(code(&rta, "p2").as_deref(), Some(SNAPSHOT_LOGGED_OUT));
    assert_eq!(code(&rta, "p3").as_deref(), Some(SNAPSHOT_LOGGED_OUT));
    assert!(rta.handle().state("nordic", "p2").unwrap().logged_out);
    // Never sent: no state.
    assert_eq!(code(&rta, "p4"), None);

    let requests = rta.handle().requests();
    assert_eq!(requests.len(), 2);
    let snap = &requests[1];
    assert_eq!(snap.endpoint, RtaEndpoint::Batch);
    assert!(snap.is_snapshot && snap.status == 200);
    assert_eq!(snap.source_id.as_deref(), Some("7"));
    let sent: Value = serde_json::from_str(&snap.body).unwrap();
    assert_eq!(
        sent,
        json!({"AuthenticationKey": "***", "SourceId": "7", "IsSnapshot": true,
               "States": [{"UserCode": "1001", "StateCode": "LUNCH"}]})
    );
}

#[tokio::test]
async fn calabrio_deltas_update_only_the_named_agents() {
    let rta = rta().await;
    let target = calabrio(&rta, &[]);
    target
        .deliver(&message(&update(
            true,
            vec![
                entry("1001", AgentState::Ready, "READY"),
                entry("1002", AgentState::Ready, "READY"),
                entry("1003", AgentState::Ready, "READY"),
            ],
        )))
        .await
        .unwrap();
    target
        .deliver(&message(&update(
            false,
            vec![
                with_reason(entry("1002", AgentState::NotReady, "BREAK"), "Break"),
                entry("1003", AgentState::LoggedOut, "LOGGED-OFF"),
            ],
        )))
        .await
        .unwrap();
    assert_eq!(code(&rta, "p1").as_deref(), Some("READY"));
    assert_eq!(code(&rta, "p2").as_deref(), Some("BREAK"));
    let p3 = rta.handle().state("nordic", "p3").unwrap();
    assert_eq!(p3.state_code, "LOGGED-OFF");
    assert!(p3.logged_out);
    let delta = rta.handle().requests().pop().unwrap();
    assert!(!delta.is_snapshot);
    assert_eq!(delta.states.len(), 2);

    // A delta without agents sends nothing.
    target
        .deliver(&message(&update(false, vec![])))
        .await
        .unwrap();
    assert_eq!(rta.handle().requests().len(), 2);
}

#[tokio::test]
async fn calabrio_bad_keys_are_retried_with_the_verdict_and_checked() {
    let rta = rta().await;
    let good = calabrio(&rta, &[]);
    let verdict = good.check().await;
    assert!(verdict.ok, "{verdict:?}");
    assert_eq!(verdict.message, CONNECTED);
    // The check posted an empty, non-snapshot batch.
    let probe = rta.handle().requests().pop().unwrap();
    assert!(!probe.is_snapshot && probe.states.is_empty() && probe.status == 200);

    let bad = calabrio(&rta, &[("auth_key", secret("wrong-key"))]);
    let verdict = bad.check().await;
    assert!(!verdict.ok);
    assert_eq!(verdict.message, INVALID_KEY);
    assert_eq!(
        verdict.message,
        "credentials are invalid: the RTA authentication key is not accepted"
    );
    let err = bad
        .deliver(&message(&update(
            false,
            vec![entry("1001", AgentState::Ready, "READY")],
        )))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Retry {
            reason: INVALID_KEY.to_string(),
            retry_after: None
        }
    );
    assert!(!err.to_string().contains("wrong-key"));
    assert_eq!(code(&rta, "p1"), None);

    let unreachable = build(
        "calabrio",
        &[
            ("url", text(&format!("http://127.0.0.1:{}/", closed_port()))),
            ("auth_key", secret(KEY)),
            ("source_id", text("7")),
        ],
    );
    let verdict = unreachable.check().await;
    assert!(
        !verdict.ok && verdict.message.contains("connection refused"),
        "{verdict:?}"
    );

    let nowhere = build(
        "calabrio",
        &[
            ("url", text(&format!("{}nothing/here/", rta.url()))),
            ("auth_key", secret(KEY)),
            ("source_id", text("7")),
        ],
    );
    let verdict = nowhere.check().await;
    assert!(
        !verdict.ok && verdict.message.starts_with("no RTA at"),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn calabrio_default_key_with_several_tenants_is_a_credentials_problem() {
    let rta = rta_with(RtaConfig {
        tenants: vec![nordic(), RtaTenantConfig::new("baltic", "k-456", &["7"])],
        ..RtaConfig::default()
    })
    .await;
    let target = calabrio(&rta, &[("auth_key", secret(DEFAULT_KEY))]);
    let verdict = target.check().await;
    assert!(!verdict.ok);
    assert!(
        verdict.message.starts_with("credentials are invalid:")
            && verdict.message.contains("several tenants"),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn calabrio_prefixes_user_codes() {
    let rta = rta().await;
    let target = calabrio(&rta, &[("user_code_prefix", text("BP-"))]);
    target
        .deliver(&message(&update(
            false,
            vec![entry("1001", AgentState::Busy, "BUSY")],
        )))
        .await
        .unwrap();
    assert_eq!(code(&rta, "p9").as_deref(), Some("BUSY"));
    assert_eq!(code(&rta, "p1"), None);
    let sent = rta.handle().requests().pop().unwrap();
    assert_eq!(sent.states[0].user_code.as_deref(), Some("BP-1001"));
}

#[tokio::test]
async fn calabrio_soap_mode_end_to_end() {
    let rta = rta().await;
    let platform = "6f2c1a9e-0b1d-4c3e-9a8f-1234567890ab";
    let target = calabrio(
        &rta,
        &[("mode", text("soap")), ("platform_type_id", text(platform))],
    );
    let verdict = target.check().await;
    assert_eq!((verdict.ok, verdict.message.as_str()), (true, CONNECTED));
    // The probe item matched nobody and changed nothing.
    assert!(rta.handle().states("nordic").is_empty());

    target
        .deliver(&message(&update(
            false,
            vec![
                entry("1001", AgentState::Ready, "READY"),
                entry("1002", AgentState::Busy, "BUSY"),
                entry("1003", AgentState::LoggedOut, "LOGGED_OUT"),
            ],
        )))
        .await
        .unwrap();
    assert_eq!(code(&rta, "p1"), Some(format!("READY ({platform})")));
    // IsLoggedOn false: Calabrio records LOGGED-OFF.
    assert_eq!(code(&rta, "p3"), Some(format!("LOGGED-OFF ({platform})")));
    let request = rta.handle().requests().pop().unwrap();
    assert_eq!(request.endpoint, RtaEndpoint::Soap);
    assert_eq!(request.soap_result, Some(1));
    assert!(!request.body.contains(KEY));
    // The items carry their members in the contract's order, so nothing was skipped.
    assert!(
        !rta.handle()
            .log()
            .iter()
            .any(|l| l.message.contains("out of order")),
        "{:?}",
        rta.handle().log()
    );
    let order = [
        "BatchId",
        "IsLoggedOn",
        "IsSnapshot",
        "SecondsInState",
        "StateCode",
        "StateDescription",
        "Timestamp",
        "UserCode",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|m| request.body.find(&format!("<a:{m}>")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{}",
        request.body
    );

    // A snapshot closes with an empty user code: the absent agent is logged out.
    target
        .deliver(&message(&update(
            true,
            vec![entry("1001", AgentState::Acw, "ACW")],
        )))
        .await
        .unwrap();
    assert_eq!(code(&rta, "p1"), Some(format!("ACW ({platform})")));
    assert_eq!(code(&rta, "p2").as_deref(), Some(SNAPSHOT_LOGGED_OUT));
    let snap = rta.handle().requests().pop().unwrap();
    assert!(snap.is_snapshot && snap.close_snapshot);
    assert_eq!(snap.states.len(), 1);

    let bad = calabrio(
        &rta,
        &[("mode", text("soap")), ("auth_key", secret("nope"))],
    );
    let verdict = bad.check().await;
    assert_eq!((verdict.ok, verdict.message.as_str()), (false, INVALID_KEY));
    let err = bad
        .deliver(&message(&update(
            false,
            vec![entry("1001", AgentState::Ready, "READY")],
        )))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Retry { ref reason, .. } if reason == INVALID_KEY));
}

#[tokio::test]
async fn calabrio_soap_source_errors_of_older_releases() {
    let rta = rta_with(RtaConfig {
        tenants: vec![nordic()],
        soap_sync_validation: true,
        ..RtaConfig::default()
    })
    .await;
    let wrong_source = calabrio(&rta, &[("mode", text("soap")), ("source_id", text("99"))]);
    let one = message(&update(
        false,
        vec![entry("1001", AgentState::Ready, "READY")],
    ));
    match wrong_source.deliver(&one).await {
        Err(DeliveryError::Retry { reason, .. }) => {
            assert!(
                reason.contains("-300") && reason.contains("source_id"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    let target = calabrio(&rta, &[("mode", text("soap"))]);
    let unknown = message(&update(
        false,
        vec![entry("nobody", AgentState::Ready, "READY")],
    ));
    match target.deliver(&unknown).await {
        Err(DeliveryError::Rejected { reason }) => assert!(reason.contains("-100"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn calabrio_max_batch_splits_deltas_but_not_json_snapshots() {
    let rta = rta().await;
    let target = calabrio(&rta, &[("max_batch", PropertyValue::Integer(2))]);
    let five: Vec<AgentStateEntry> = ["1001", "1002", "1003", "1004", "BP-1001"]
        .iter()
        .map(|a| entry(a, AgentState::Ready, "READY"))
        .collect();
    target
        .deliver(&message(&update(false, five.clone())))
        .await
        .unwrap();
    let requests = rta.handle().requests();
    let sizes: Vec<usize> = requests.iter().map(|r| r.states.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert!(
        ["p1", "p2", "p3", "p4", "p9"]
            .iter()
            .all(|p| code(&rta, p).as_deref() == Some("READY"))
    );

    match target
        .deliver(&message(&update(true, five[..3].to_vec())))
        .await
    {
        Err(DeliveryError::Rejected { reason }) => {
            assert!(
                reason.contains("holds 3 agents but max_batch is 2")
                    && reason.contains("cannot span requests"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rta.handle().requests().len(), 3);
    // Two fit.
    target
        .deliver(&message(&update(true, five[..2].to_vec())))
        .await
        .unwrap();
    assert_eq!(code(&rta, "p3").as_deref(), Some(SNAPSHOT_LOGGED_OUT));

    // SOAP snapshots span requests: three agents and the closing item in requests of two.
    let soap = calabrio(
        &rta,
        &[
            ("mode", text("soap")),
            ("max_batch", PropertyValue::Integer(2)),
        ],
    );
    rta.handle().clear();
    soap.deliver(&message(&update(
        false,
        vec![entry("1004", AgentState::Busy, "BUSY")],
    )))
    .await
    .unwrap();
    soap.deliver(&message(&update(true, five[..3].to_vec())))
        .await
        .unwrap();
    let requests = rta.handle().requests();
    let snapshot_parts: Vec<(usize, bool)> = requests[1..]
        .iter()
        .map(|r| (r.states.len(), r.close_snapshot))
        .collect();
    assert_eq!(snapshot_parts, [(2, false), (1, true)]);
    assert_eq!(code(&rta, "p3").as_deref(), Some("READY"));
    assert_eq!(code(&rta, "p4").as_deref(), Some(SNAPSHOT_LOGGED_OUT));
}

#[tokio::test]
async fn calabrio_older_releases_refusing_big_batches_say_to_set_max_batch() {
    let rta = rta_with(RtaConfig {
        tenants: vec![nordic()],
        max_batch_states: Some(50),
        ..RtaConfig::default()
    })
    .await;
    let target = calabrio(&rta, &[]);
    let many: Vec<AgentStateEntry> = (0..51)
        .map(|i| entry(&format!("u{i}"), AgentState::Ready, "READY"))
        .collect();
    match target.deliver(&message(&update(false, many))).await {
        Err(DeliveryError::Retry { reason, .. }) => {
            assert!(reason.contains("set max_batch = 50"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn calabrio_server_errors_are_retried_and_long_codes_refused_before_sending() {
    let rta = rta().await;
    let target = calabrio(&rta, &[]);
    rta.handle().pause_worker();
    let one = message(&update(
        false,
        vec![entry("1001", AgentState::Ready, "READY")],
    ));
    for _ in 0..100 {
        target.deliver(&one).await.unwrap();
    }
    match target.deliver(&one).await {
        Err(DeliveryError::Retry { reason, .. }) => {
            assert!(reason.contains("HTTP 500"), "{reason}");
            assert!(
                reason.contains("State queue is flooded with 100 batches"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    rta.handle().resume_worker();
    assert_eq!(code(&rta, "p1").as_deref(), Some("READY"));

    let requests = rta.handle().requests().len();
    let long = message(&update(
        false,
        vec![entry("1001", AgentState::Ready, &"X".repeat(301))],
    ));
    match target.deliver(&long).await {
        Err(DeliveryError::Rejected { reason }) => {
            assert!(
                reason.contains("agent 1001") && reason.contains("301"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rta.handle().requests().len(), requests);
}

#[test]
fn calabrio_accounts_are_checked() {
    let base = [
        ("url", text("https://x.teleopticloud.com/")),
        ("auth_key", secret("s3cret-key")),
        ("source_id", text("7")),
    ];
    let with = |extra: (&str, PropertyValue)| {
        let mut props = base.to_vec();
        props.push(extra);
        build_error("calabrio", &props)
    };
    assert!(with(("mode", text("xml"))).contains("\"soap\""));
    assert!(with(("platform_type_id", text("not-a-guid"))).contains("not a GUID"));
    assert!(with(("max_batch", PropertyValue::Integer(-1))).contains("negative"));
    assert!(with(("source_id", text(&"x".repeat(51)))).contains("longer than 50"));
    let err = build_error("calabrio", &base[..2]);
    assert!(err.contains("source_id is required"), "{err}");
    assert!(!err.contains("s3cret"));
    let target = RtaTarget::from_account(&account("calabrio", &base)).unwrap();
    let debug = format!("{target:?}");
    assert!(
        !debug.contains("s3cret") && debug.contains("<secret>"),
        "{debug}"
    );
}

// ---- http_post ---------------------------------------------------------------------------------

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

#[tokio::test]
async fn http_post_body_has_agents_with_reason_codes_and_services() {
    let sink = sink(Behaviour {
        token: Some("t0k".into()),
        ..Behaviour::default()
    })
    .await;
    let target = build(
        "http_post",
        &[
            ("url", text(&format!("{}/wfm/rt", sink.url()))),
            ("token", secret("t0k")),
            (
                "reason_codes",
                map(&[("not_ready:Lunch", "12"), ("not_ready", "9")]),
            ),
        ],
    );
    let snapshot = update(
        true,
        vec![
            with_queues(
                with_reason(entry("1001", AgentState::NotReady, "LUNCH"), "Lunch"),
                &["q1", "q2"],
            ),
            with_queues(entry("1002", AgentState::Ready, "READY"), &["q1"]),
            with_queues(
                with_reason(entry("1003", AgentState::NotReady, "NR"), "Meeting"),
                &[],
            ),
        ],
    );
    let msg = message(&snapshot);
    target.deliver(&msg).await.unwrap();
    let received = sink.handle().delivered();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.path, "/wfm/rt");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer ***"));
    assert_eq!(r.idempotency_key(), Some(msg.idempotency_key.as_str()));
    assert_eq!(r.header("x-wfm-bridge-flow"), Some("nordic-rta"));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({
            "version": 1,
            "tenant": "nordic",
            "snapshot": true,
            "at": "2024-03-01T08:00:10Z",
            "agents": [
                {"id": "1001", "state": "not_ready", "code": "LUNCH", "reason": "Lunch",
                 "reason_code": 12, "since": "2024-03-01T07:58:00Z", "services": ["q1", "q2"]},
                {"id": "1002", "state": "ready", "code": "READY", "reason": null,
                 "reason_code": 0, "since": "2024-03-01T07:58:00Z", "services": ["q1"]},
                {"id": "1003", "state": "not_ready", "code": "NR", "reason": "Meeting",
                 "reason_code": 9, "since": "2024-03-01T07:58:00Z", "services": []}
            ],
            "services": [
                {"id": "q1", "agents": ["1001", "1002"], "logged_in": 2,
                 "ready": 1, "busy": 0, "acw": 0, "not_ready": 1},
                {"id": "q2", "agents": ["1001"], "logged_in": 1,
                 "ready": 0, "busy": 0, "acw": 0, "not_ready": 1}
            ]
        })
    );
}

#[tokio::test]
async fn http_post_check_sends_empty_lists_and_errors_are_retried() {
    let sink = sink(Behaviour {
        token: Some("t0k".into()),
        poison: Some("POISON".into()),
        ..Behaviour::default()
    })
    .await;
    let target = build(
        "http_post",
        &[("url", text(&sink.url())), ("token", secret("t0k"))],
    );
    let verdict = target.check().await;
    assert!(verdict.ok, "{verdict:?}");
    assert!(verdict.message.starts_with("connected:"), "{verdict:?}");
    let probe: Value = serde_json::from_str(&sink.handle().delivered()[0].body).unwrap();
    assert_eq!(probe["agents"], json!([]));
    assert_eq!(probe["services"], json!([]));
    assert_eq!(probe["snapshot"], json!(false));

    let wrong = build(
        "http_post",
        &[("url", text(&sink.url())), ("token", secret("nope"))],
    );
    let verdict = wrong.check().await;
    assert!(!verdict.ok);
    assert_eq!(verdict.message, "credentials are invalid (HTTP 401)");

    // A refused update (422) is not dead-lettered: retried, and superseded by the next one.
    let poisoned = message(&update(
        false,
        vec![entry("1001", AgentState::Ready, "POISON")],
    ));
    match target.deliver(&poisoned).await {
        Err(DeliveryError::Retry { reason, .. }) => assert!(reason.contains("422"), "{reason}"),
        other => panic!("{other:?}"),
    }
    sink.handle().update(|b| b.fail_next = 1);
    let ok = message(&update(
        false,
        vec![entry("1001", AgentState::Ready, "READY")],
    ));
    assert!(matches!(
        target.deliver(&ok).await,
        Err(DeliveryError::Retry { .. })
    ));
    target.deliver(&ok).await.unwrap();
}

#[test]
fn http_post_reason_codes_must_be_numbers() {
    let err = build_error(
        "http_post",
        &[
            ("url", text("https://wfm.example.com/rt")),
            ("reason_codes", map(&[("not_ready:Lunch", "lunch")])),
        ],
    );
    assert!(err.contains("reason_codes.not_ready:Lunch"), "{err}");
}

// ---- loxysoft ----------------------------------------------------------------------------------

#[tokio::test]
async fn loxysoft_maps_queues_to_skill_codes() {
    let sink = sink(Behaviour {
        token: Some("lx".into()),
        ..Behaviour::default()
    })
    .await;
    let target = build(
        "loxysoft",
        &[
            ("url", text(&format!("{}/loxysoft", sink.url()))),
            ("token", secret("lx")),
            ("interval", PropertyValue::Duration(Duration::from_secs(15))),
            (
                "skills",
                map(&[("q1", "SUP"), ("q2", "SALES"), ("q3", "SUP")]),
            ),
        ],
    );
    let verdict = target.check().await;
    assert!(verdict.ok, "{verdict:?}");
    sink.handle().clear();

    let delta = update(
        false,
        vec![
            with_queues(
                with_reason(entry("1001", AgentState::NotReady, "LUNCH"), "Lunch"),
                &["q3", "q1", "q9"],
            ),
            with_queues(entry("1002", AgentState::Busy, "BUSY"), &["q2"]),
            with_queues(entry("1003", AgentState::LoggedOut, "LOGGED_OUT"), &["q1"]),
        ],
    );
    target.deliver(&message(&delta)).await.unwrap();
    let r = &sink.handle().delivered()[0];
    assert_eq!(r.header("authorization"), Some("Bearer ***"));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(body["snapshot"], false);
    assert_eq!(body["interval_seconds"], 15);
    assert_eq!(
        body["agents"][0],
        json!({"id": "1001", "state": "not_ready", "code": "LUNCH", "reason": "Lunch",
               "since": "2024-03-01T07:58:00Z", "seconds_in_state": 130,
               "skills": ["SUP", "q9"]})
    );
    assert_eq!(body["agents"][1]["skills"], json!(["SALES"]));
    assert_eq!(body["agents"][2]["state"], "logged_out");
    let skills: Vec<(&str, u64)> = body["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["logged_in"].as_u64().unwrap()))
        .collect();
    assert_eq!(skills, [("SALES", 1), ("SUP", 1), ("q9", 1)]);

    let err = build_error("loxysoft", &[("url", text(&sink.url()))]);
    assert!(err.contains("token is required"), "{err}");
}

// ---- nice --------------------------------------------------------------------------------------

#[tokio::test]
async fn nice_body_carries_prefixed_ids_and_extensions() {
    let sink = sink(Behaviour::default()).await;
    let target = build(
        "nice",
        &[
            ("url", text(&format!("{}/nice", sink.url()))),
            ("agent_id_prefix", text("BP")),
            ("extension_prefix", text("EXT")),
            (
                "keep_alive",
                PropertyValue::Duration(Duration::from_secs(30)),
            ),
        ],
    );
    let verdict = target.check().await;
    assert!(verdict.ok, "{verdict:?}");
    let keep_alive: Value = serde_json::from_str(&sink.handle().delivered()[0].body).unwrap();
    assert_eq!(keep_alive["type"], "keep_alive");
    assert_eq!(keep_alive["agents"], json!([]));
    assert_eq!(keep_alive["keep_alive_seconds"], 30);
    sink.handle().clear();

    let snapshot = update(
        true,
        vec![
            with_reason(entry("1001", AgentState::NotReady, "LUNCH"), "Lunch"),
            entry("1002", AgentState::Ready, "READY"),
        ],
    );
    // An extension travels as an optional member of an agent in the payload.
    let mut payload: Value = serde_json::from_slice(&snapshot.to_payload()).unwrap();
    payload["agents"][0]["extension"] = json!("2001");
    let mut msg = message(&snapshot);
    msg.payload = serde_json::to_vec(&payload).unwrap();
    target.deliver(&msg).await.unwrap();
    let body: Value = serde_json::from_str(&sink.handle().delivered()[0].body).unwrap();
    assert_eq!(
        body,
        json!({
            "version": 1, "type": "snapshot", "tenant": "nordic", "at": "2024-03-01T08:00:10Z",
            "keep_alive_seconds": 30,
            "agents": [
                {"agent_id": "BP1001", "extension": "EXT2001", "state": "not_ready",
                 "code": "LUNCH", "reason": "Lunch", "since": "2024-03-01T07:58:00Z"},
                {"agent_id": "BP1002", "state": "ready", "code": "READY", "reason": null,
                 "since": "2024-03-01T07:58:00Z"}
            ]
        })
    );
    target
        .deliver(&message(&update(
            false,
            vec![entry("1002", AgentState::Busy, "BUSY")],
        )))
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&sink.handle().delivered()[1].body).unwrap();
    assert_eq!(body["type"], "update");
}

// ---- aspect_tcp --------------------------------------------------------------------------------

fn aspect(port: u16, extra: &[(&str, PropertyValue)]) -> Box<dyn Target> {
    let mut props = vec![
        ("host", text("127.0.0.1")),
        ("port", PropertyValue::Integer(port.into())),
        ("reason_codes", map(&[("not_ready:Lunch", "12")])),
    ];
    props.extend(extra.iter().cloned());
    build("aspect_tcp", &props)
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[tokio::test]
async fn aspect_records_are_fixed_width_utf8_with_snapshot_markers() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let target = aspect(sink.port(), &[]);
    let verdict = target.check().await;
    assert!(verdict.ok, "{verdict:?}");
    assert!(
        verdict.message.starts_with("connected to 127.0.0.1:"),
        "{verdict:?}"
    );

    let snapshot = update(
        true,
        vec![
            with_reason(entry("1001", AgentState::NotReady, "LUNCH"), "Lunch"),
            entry("1002", AgentState::Ready, "READY"),
            entry("1003", AgentState::LoggedOut, "LOGOUT"),
        ],
    );
    target.deliver(&message(&snapshot)).await.unwrap();
    let delta = update(false, vec![entry("1003", AgentState::LoggedOut, "LOGOUT")]);
    target.deliver(&message(&delta)).await.unwrap();
    sink.handle().wait_for_records(5, WAIT).await.unwrap();
    let expected = concat!(
        "SNAP                                      \r\n",
        "1001            LUNCH   001220240301075800\r\n",
        "1002            READY   000020240301075800\r\n",
        "END                                       \r\n",
        "1003            LOGOUT  000020240301075800\r\n",
    );
    assert_eq!(String::from_utf8(sink.handle().raw()).unwrap(), expected);
    // The check's connection carried nothing; the updates went over one kept connection.
    let connections = sink.handle().connections();
    assert_eq!(connections.len(), 2);
    assert!(connections[0].bytes.is_empty());
    assert!(sink.handle().records().iter().all(|r| r.connection == 2));
}

#[tokio::test]
async fn aspect_records_in_utf16le_and_truncation_on_character_boundaries() {
    let sink = TcpSink::start_with(
        "127.0.0.1:0",
        TcpSinkConfig {
            encoding: SinkEncoding::Utf16Le,
        },
    )
    .await
    .unwrap();
    let target = aspect(
        sink.port(),
        &[
            ("encoding", text("utf-16le")),
            ("field_sizes", text("agent=6,state=4,reason=2,seconds=5")),
        ],
    );
    let delta = update(
        false,
        vec![
            with_reason(entry("Åsa-Öberg", AgentState::NotReady, "LUNCH"), "Lunch"),
            entry("abc😀😀", AgentState::Ready, "R"),
        ],
    );
    target.deliver(&message(&delta)).await.unwrap();
    let records = sink.handle().wait_for_records(2, WAIT).await.unwrap();
    // Agent cut to 6 code units, state to 4; reason 12 in 2 digits; 130 seconds in 5.
    assert_eq!(records[0].text, "Åsa-ÖbLUNC1200130");
    // "😀" is a surrogate pair: the second does not fit in 6 units and is not split.
    assert_eq!(records[1].text, "abc😀 R   0000130");
    let mut expected = utf16("Åsa-ÖbLUNC1200130\r\n");
    expected.extend(utf16("abc😀 R   0000130\r\n"));
    assert_eq!(sink.handle().raw(), expected);
    // Every record has the same length in bytes: 17 units + CRLF.
    assert!(records.iter().all(|r| r.bytes.len() == 34));
}

#[tokio::test]
async fn aspect_utf8_truncation_never_splits_a_character() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let target = aspect(sink.port(), &[("field_sizes", text("agent=7,state=3"))]);
    target
        .deliver(&message(&update(
            false,
            vec![entry("ééééé", AgentState::Ready, "READY\r\n")],
        )))
        .await
        .unwrap();
    let records = sink.handle().wait_for_records(1, WAIT).await.unwrap();
    // Three "é" are 6 bytes; a fourth would need 8: a space pads the 7th byte.
    assert_eq!(records[0].bytes, "ééé REA".as_bytes());
    assert_eq!(records[0].bytes.len(), 10);
}

#[tokio::test]
async fn aspect_reconnects_after_the_server_drops_the_connection() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let target = aspect(sink.port(), &[("field_sizes", text("agent=4,state=6"))]);
    let first = update(false, vec![entry("1001", AgentState::Ready, "READY")]);
    target.deliver(&message(&first)).await.unwrap();
    sink.handle().wait_for_records(1, WAIT).await.unwrap();
    assert_eq!(sink.handle().drop_connections().await, 1);

    let second = update(false, vec![entry("1002", AgentState::Busy, "BUSY")]);
    target.deliver(&message(&second)).await.unwrap();
    let records = sink.handle().wait_for_records(2, WAIT).await.unwrap();
    assert_eq!(records[1].text, "1002BUSY  ");
    assert_eq!(records[1].connection, 2);
    assert_eq!(sink.handle().connections().len(), 2);
}

#[tokio::test]
async fn aspect_backs_off_while_the_server_is_down_then_reconnects() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let addr = sink.addr();
    let target = aspect(
        addr.port(),
        &[
            ("field_sizes", text("agent=4,state=6")),
            (
                "reconnect_max",
                PropertyValue::Duration(Duration::from_secs(2)),
            ),
        ],
    );
    let one = message(&update(
        false,
        vec![entry("1001", AgentState::Ready, "READY")],
    ));
    target.deliver(&one).await.unwrap();
    sink.handle().wait_for_records(1, WAIT).await.unwrap();
    sink.stop().await;

    // The kept connection is gone and the port refuses: retry, with the backoff as Retry-After.
    let wait = match target.deliver(&one).await {
        Err(DeliveryError::Retry {
            reason,
            retry_after: Some(wait),
        }) => {
            assert_eq!(
                reason,
                format!("cannot reach 127.0.0.1:{}: connection refused", addr.port())
            );
            wait
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(wait, Duration::from_millis(500));
    // Within the backoff no attempt is made.
    match target.deliver(&one).await {
        Err(DeliveryError::Retry {
            reason,
            retry_after: Some(left),
        }) => {
            assert!(reason.contains("next attempt in"), "{reason}");
            assert!(left <= wait);
        }
        other => panic!("{other:?}"),
    }
    let verdict = target.check().await;
    assert!(
        !verdict.ok && verdict.message.contains("connection refused"),
        "{verdict:?}"
    );

    let sink = TcpSink::start(addr).await.unwrap();
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    target.deliver(&one).await.unwrap();
    let records = sink.handle().wait_for_records(1, WAIT).await.unwrap();
    assert_eq!(records[0].text, "1001READY ");
}

#[test]
fn aspect_accounts_are_checked() {
    let base = [
        ("host", text("rta.example.com")),
        ("port", PropertyValue::Integer(7000)),
    ];
    let with = |extra: (&str, PropertyValue)| {
        let mut props = base.to_vec();
        props.push(extra);
        build_error("aspect_tcp", &props)
    };
    assert!(with(("field_sizes", text("agent=16,colour=2"))).contains("unknown field"));
    assert!(with(("encoding", text("latin1"))).contains("utf-16le"));
    assert!(with(("port", PropertyValue::Integer(70000))).contains("not a TCP port"));
    let err = with(("reason_codes", map(&[("not_ready:Lunch", "12345")])));
    assert!(
        err.contains("does not fit the reason field of 4 digits"),
        "{err}"
    );
    assert!(build_error("aspect_tcp", &base[..1]).contains("port is required"));
}
