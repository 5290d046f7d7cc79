//! The HTTP sink over real loopback HTTP: its control endpoints, its record file, and the
//! behaviours it can be told to have.

use std::time::Duration;

use serde_json::{Value, json};
use wfm_sandbox::http_sink::{Behaviour, HttpSink, ReceivedRequest, SinkConfig};

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider of its own (see wfm_connectors::http).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test]
async fn records_posts_with_headers_and_body() {
    let sink = HttpSink::start("127.0.0.1:0").await.unwrap();
    let response = client()
        .post(format!("{}/any/path?x=1", sink.url()))
        .header("content-type", "text/csv")
        .header("idempotency-key", "k-1")
        .header("x-wfm-bridge-flow", "f")
        .header("authorization", "Bearer abc")
        .header("accept-language", "sv")
        .body("a;b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer, json!({"seq": 1}));

    let received = sink.handle().received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(
        (r.seq, r.method.as_str(), r.path.as_str()),
        (1, "POST", "/any/path")
    );
    assert_eq!(r.body, "a;b\n");
    assert_eq!(r.idempotency_key(), Some("k-1"));
    assert_eq!(r.header("x-wfm-bridge-flow"), Some("f"));
    assert_eq!(r.header("authorization"), Some("Bearer ***"));
    assert_eq!(r.header("accept-language"), None);
    assert!(r.delivered());
}

#[tokio::test]
async fn behaviour_and_records_over_http() {
    let sink = HttpSink::start("127.0.0.1:0").await.unwrap();
    let http = client();
    let base = sink.url();

    let set = http
        .put(format!("{base}/_sandbox/behaviour"))
        .json(&json!({"fail_next": 1, "fail_status": 500, "token": "t0k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let shown: Value = set.json().await.unwrap();
    assert_eq!(shown["fail_next"], 1);
    assert!(
        shown.get("token").is_none(),
        "the token is never shown: {shown}"
    );
    assert_eq!(sink.handle().behaviour().token.as_deref(), Some("t0k"));

    // Unknown fields and impossible statuses are refused.
    let bad = http
        .put(format!("{base}/_sandbox/behaviour"))
        .json(&json!({"fail_nxt": 1}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error());
    let bad = http
        .put(format!("{base}/_sandbox/behaviour"))
        .json(&json!({"fail_status": 42}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let post = |token: &'static str| {
        http.post(format!("{base}/in"))
            .bearer_auth(token)
            .body("{}")
            .send()
    };
    assert_eq!(post("wrong").await.unwrap().status(), 401);
    assert_eq!(post("t0k").await.unwrap().status(), 500);
    assert_eq!(post("t0k").await.unwrap().status(), 200);

    let listed: Vec<ReceivedRequest> = http
        .get(format!("{base}/_sandbox/received"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<u16> = listed.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 500, 200]);

    let cleared = http
        .delete(format!("{base}/_sandbox/received"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(sink.handle().received().is_empty());
}

#[tokio::test]
async fn throttles_and_poison_with_the_right_answers() {
    let sink = HttpSink::start_with(
        "127.0.0.1:0",
        SinkConfig {
            behaviour: Behaviour {
                throttle_next: 1,
                throttle_retry_after: 9,
                poison: Some("BAD".into()),
                ..Behaviour::default()
            },
            record_file: None,
        },
    )
    .await
    .unwrap();
    let http = client();
    let url = format!("{}/x", sink.url());

    let throttled = http.post(&url).body("ok").send().await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "9");

    let poisoned = http.post(&url).body("a BAD one").send().await.unwrap();
    assert_eq!(poisoned.status(), 422);
    // Poison is refused every time, not only once.
    let again = http.post(&url).body("BAD").send().await.unwrap();
    assert_eq!(again.status(), 422);

    assert_eq!(
        http.post(&url).body("fine").send().await.unwrap().status(),
        200
    );
    assert_eq!(sink.handle().delivered().len(), 1);

    sink.handle().update(|b| {
        b.fail_next = 1;
        b.fail_retry_after = Some(4);
    });
    let failed = http.post(&url).body("fine").send().await.unwrap();
    assert_eq!(failed.status(), 503);
    assert_eq!(failed.headers()["retry-after"], "4");
}

#[tokio::test]
async fn head_and_get_answer_for_checks() {
    let sink = HttpSink::start("127.0.0.1:0").await.unwrap();
    let http = client();
    let url = format!("{}/health/x", sink.url());
    assert_eq!(http.head(&url).send().await.unwrap().status(), 200);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    sink.handle().update(|b| {
        b.head_not_allowed = true;
        b.token = Some("t".into());
    });
    assert_eq!(http.head(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        http.head(&url)
            .bearer_auth("t")
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        http.get(&url)
            .bearer_auth("t")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Checks are recorded but are not deliveries.
    assert_eq!(sink.handle().received().len(), 5);
    assert!(sink.handle().delivered().is_empty());
}

#[tokio::test]
async fn record_file_holds_one_json_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("received.jsonl");
    let sink = HttpSink::start_with(
        "127.0.0.1:0",
        SinkConfig {
            behaviour: Behaviour::default(),
            record_file: Some(path.clone()),
        },
    )
    .await
    .unwrap();
    let http = client();
    for i in 0..3 {
        let response = http
            .post(format!("{}/in", sink.url()))
            .header("idempotency-key", format!("k{i}"))
            .body(format!("body {i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // Written before the answer: readable now, by anyone.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), i + 1);
    }
    sink.stop().await;

    let lines: Vec<ReceivedRequest> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys: Vec<_> = lines.iter().map(|r| r.idempotency_key().unwrap()).collect();
    assert_eq!(keys, ["k0", "k1", "k2"]);
    assert_eq!(lines[2].body, "body 2");
    assert_eq!(lines[2].seq, 3);
}

#[tokio::test]
async fn latency_delays_answers_and_waiting_sees_deliveries() {
    let sink = HttpSink::start_with(
        "127.0.0.1:0",
        SinkConfig {
            behaviour: Behaviour {
                latency_ms: 1_000,
                ..Behaviour::default()
            },
            record_file: None,
        },
    )
    .await
    .unwrap();
    let handle = sink.handle().clone();
    let url = format!("{}/in", sink.url());
    let sent = tokio::spawn(async move { client().post(url).body("x").send().await });

    // Nothing has arrived before the latency is over, and waiting sees it when it has.
    assert!(handle.delivered().is_empty());
    let delivered = handle
        .wait_for_delivered(1, Duration::from_secs(10))
        .await
        .expect("delivered within the wait");
    assert_eq!(delivered.len(), 1);
    assert_eq!(sent.await.unwrap().unwrap().status(), 200);

    // A timeout client gives up on a slow sink.
    let err = client()
        .post(format!("{}/in", sink.url()))
        .timeout(Duration::from_millis(50))
        .body("x")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert!(
        handle
            .wait_for_delivered(5, Duration::from_millis(10))
            .await
            .is_none()
    );
}
