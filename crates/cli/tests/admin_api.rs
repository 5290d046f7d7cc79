//! The admin API end to end: the real `wfm-bridge serve` with admin tokens, a SQLite store and the
//! sandbox HTTP sink as the WFM system, over loopback. Tokens and roles, tenant scope, accounts
//! with encrypted secrets and their connection tests, single-instance types, flows created while
//! the engine runs (and delivering without a restart), run now, runs, dead letters, agent states,
//! the OpenAPI document, persistence across a restart, and key rotation.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use wfm_sandbox::http_sink::{Behaviour, HttpSink, SinkConfig};

const ADMIN: &str = "admin-token-1";
const VIEWER: &str = "viewer-token-2";
const BALTIC: &str = "baltic-admin-3";
const WFM_SECRET: &str = "wfm-token-very-secret";

struct Server {
    dir: tempfile::TempDir,
    key: String,
    child: Option<Child>,
    base: String,
}

impl Server {
    fn new(lake: &str) -> Server {
        Server::with_extra(lake, "")
    }

    /// A server whose configuration ends with `extra` (more accounts and flows).
    fn with_extra(lake: &str, extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = format!(
            r#"
[store]
url = "sqlite://store.db"
[delivery]
max_attempts = 2
backoff_initial = "1s"
poll = "100ms"
[[tenants]]
id = "nordic"
time_zone = "Europe/Stockholm"
ingest_token = "env:NORDIC_INGEST"
[[tenants]]
id = "baltic"
[[accounts]]
name = "lake"
type = "http"
tenant = "nordic"
url = "{lake}"
[[flows]]
name = "nordic-lake"
kind = "agent_states"
tenant = "nordic"
target = "lake"
[[admin_tokens]]
name = "ops"
token = "env:ADMIN_TOKEN"
role = "admin"
tenants = ["*"]
[[admin_tokens]]
name = "auditor"
token = "env:VIEWER_TOKEN"
role = "viewer"
tenants = ["*"]
[[admin_tokens]]
name = "baltic-ops"
token = "env:BALTIC_TOKEN"
role = "admin"
tenants = ["baltic"]
"#
        );
        config.push_str(extra);
        std::fs::write(dir.path().join("wfm-bridge.toml"), config).unwrap();
        Server {
            dir,
            key: wfm_engine::secrets::SecretKey::generate().to_base64(),
            child: None,
            base: String::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wfm-bridge"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("ADMIN_TOKEN", ADMIN)
            .env("VIEWER_TOKEN", VIEWER)
            .env("BALTIC_TOKEN", BALTIC)
            .env("NORDIC_INGEST", "nordic-ingest")
            .env("WFM_BRIDGE_SECRET_KEY", &self.key)
            .env_remove("WFM_BRIDGE_STORE")
            .env_remove("RUST_LOG");
        cmd
    }

    async fn start(&mut self) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("serve.log"))
            .unwrap();
        let child = self
            .cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.base = format!("http://127.0.0.1:{port}");
        let client = client();
        for _ in 0..400 {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("serve did not become ready:\n{}", self.log());
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("serve.log")).unwrap_or_default()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let client = client();
        let mut request = client.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"))
        };
        (status, value)
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn client() -> reqwest::Client {
    wfm_connectors::http::client().unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().or(x["id"].as_str()).unwrap().to_string())
        .collect()
}

async fn eventually<F, Fut>(what: &str, server: &Server, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{what} did not happen within 30s; serve.log:\n{}",
        server.log()
    );
}

fn file_contains(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_manages_accounts_and_flows_of_a_running_engine() {
    // The WFM system: accepts only its token. The lake refuses everything: dead letters.
    let wfm = HttpSink::start_with(
        "127.0.0.1:0",
        SinkConfig {
            behaviour: Behaviour {
                token: Some(WFM_SECRET.to_string()),
                ..Behaviour::default()
            },
            ..SinkConfig::default()
        },
    )
    .await
    .unwrap();
    let lake = HttpSink::start_with(
        "127.0.0.1:0",
        SinkConfig {
            behaviour: Behaviour {
                fail_next: 1_000_000,
                fail_status: 400,
                ..Behaviour::default()
            },
            ..SinkConfig::default()
        },
    )
    .await
    .unwrap();
    let mut server = Server::new(&format!("{}/lake", lake.url()));
    server.start().await;

    // ---- tokens and roles ----
    let (status, body) = server.call("GET", "/api/v1/accounts", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("missing bearer token")
    );
    let (status, _) = server.get("/api/v1/accounts", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, me) = server.get("/api/v1/me", VIEWER).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("viewer"))
    );
    let wfm_account = json!({
        "name": "wfm", "type": "http_post", "tenant": "nordic",
        "properties": {"url": format!("{}/rta", wfm.url()), "token": WFM_SECRET}
    });
    let (status, body) = server
        .post("/api/v1/accounts", VIEWER, wfm_account.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"].as_str().unwrap().contains("viewer"));

    // ---- accounts: create, secrets write-only, test connection ----
    let (status, created) = server
        .post("/api/v1/accounts", ADMIN, wfm_account.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["properties"]["token"], "********");
    assert_eq!(created["origin"], "api");
    let (status, _) = server
        .post("/api/v1/accounts", ADMIN, wfm_account.clone())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the name is taken");
    let (status, listed) = server.get("/api/v1/accounts", VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&listed), ["lake", "wfm"]);
    let lake_entry = &listed.as_array().unwrap()[0];
    assert_eq!(
        (
            lake_entry["origin"].as_str(),
            lake_entry["read_only"].as_bool()
        ),
        (Some("config"), Some(true))
    );
    assert!(!listed.to_string().contains(WFM_SECRET));

    let (status, verdict) = server
        .post("/api/v1/accounts/wfm/test", VIEWER, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{verdict}");
    assert_eq!(verdict["ok"], true, "{verdict}");
    // A wrong token fails the test with the target's words, and shows no secret.
    let mut wrong = wfm_account.clone();
    wrong["name"] = json!("wfm-wrong");
    wrong["properties"]["token"] = json!("not-the-token");
    assert_eq!(
        server.post("/api/v1/accounts", ADMIN, wrong).await.0,
        StatusCode::CREATED
    );
    let (_, verdict) = server
        .post("/api/v1/accounts/wfm-wrong/test", ADMIN, json!({}))
        .await;
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert!(!verdict.to_string().contains("not-the-token"));
    // Editing keeps the secret when it is sent back as ********.
    let mut edit = created.clone();
    edit.as_object_mut()
        .unwrap()
        .retain(|k, _| ["name", "type", "tenant", "properties"].contains(&k.as_str()));
    edit["properties"]["timeout"] = json!("5s");
    let (status, edited) = server
        .call("PUT", "/api/v1/accounts/wfm", Some(ADMIN), Some(edit))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["properties"]["timeout"], "5s");
    assert_eq!(
        server
            .post("/api/v1/accounts/wfm/test", ADMIN, json!({}))
            .await
            .1["ok"],
        true
    );

    // Field errors name the field; file accounts are read-only.
    let (status, body) = server
        .post(
            "/api/v1/accounts",
            ADMIN,
            json!({"name": "x", "type": "http_post", "properties": {"url": "ftp://x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("properties.url:"),
        "{body}"
    );
    let (status, body) = server
        .call(
            "PUT",
            "/api/v1/accounts/lake",
            Some(ADMIN),
            Some(json!({"type": "http", "properties": {"url": "http://x.y"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"].as_str().unwrap().contains("wfm-bridge.toml"),
        "{body}"
    );

    // Single-instance types: one Aspect WFM account per tenant, several of other types.
    let aspect = |name: &str, tenant: &str| {
        json!({"name": name, "type": "aspect_tcp", "tenant": tenant,
               "properties": {"host": "127.0.0.1", "port": 9}})
    };
    assert_eq!(
        server
            .post("/api/v1/accounts", ADMIN, aspect("aspect-1", "nordic"))
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, body) = server
        .post("/api/v1/accounts", ADMIN, aspect("aspect-2", "nordic"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("only one aspect_tcp account is allowed per tenant"),
        "{body}"
    );
    assert_eq!(
        server
            .post("/api/v1/accounts", ADMIN, aspect("aspect-2", "baltic"))
            .await
            .0,
        StatusCode::CREATED
    );

    // The secret is not in the store's files.
    for file in ["store.db", "store.db-wal"] {
        assert!(
            !file_contains(&server.path(file), WFM_SECRET),
            "{file} holds the secret in clear"
        );
    }
    assert!(
        !server.log().contains(WFM_SECRET),
        "the log holds the secret"
    );

    // ---- flows: created while running, delivering without a restart ----
    let (status, flow) = server
        .post("/api/v1/flows", ADMIN, json!({"name": "nordic-wfm", "kind": "agent_states", "tenant": "nordic", "target": "wfm"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{flow}");
    assert_eq!(flow["last_run"], Value::Null);
    let (status, body) = server
        .call("DELETE", "/api/v1/accounts/wfm", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "in use: {body}");
    let states = json!([
        {"agent": "a1", "at": "2024-03-01T08:00:00Z", "state": "ready"},
        {"agent": "a2", "at": "2024-03-01T08:00:01Z", "state": "not_ready", "reason": "Lunch"}
    ]);
    let pushed = client()
        .post(format!("{}/api/v1/tenants/nordic/states", server.base))
        .bearer_auth("nordic-ingest")
        .json(&states)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
    eventually("delivery to the API-created account", &server, || async {
        !wfm.handle().delivered().is_empty()
    })
    .await;

    let (status, board) = server
        .get("/api/v1/tenants/nordic/agent-states", VIEWER)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(board.as_array().unwrap().len(), 2, "{board}");
    assert_eq!(board[1]["state"], "not_ready");
    assert_eq!(board[1]["reason"], "Lunch");

    // A continuous flow holds its run while it is enabled: run now says so.
    let (status, busy) = server
        .post("/api/v1/flows/nordic-wfm/run", ADMIN, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{busy}");
    assert!(
        busy["error"].as_str().unwrap().contains("in progress"),
        "{busy}"
    );
    let (status, disabled) = server
        .post("/api/v1/flows/nordic-wfm/disable", ADMIN, json!({}))
        .await;
    assert_eq!(
        (status, disabled["enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    // Disabled, the schedule reloads and its run ends; then it runs once on request.
    let mut run = Value::Null;
    for _ in 0..300 {
        let (status, body) = server
            .post("/api/v1/flows/nordic-wfm/run", ADMIN, json!({}))
            .await;
        if status == StatusCode::OK {
            run = body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        run["run"].is_i64(),
        "run now never succeeded; serve.log:\n{}",
        server.log()
    );
    let (status, runs) = server.get("/api/v1/runs?flow=nordic-wfm", VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == run["run"]),
        "{runs}"
    );
    let (_, flows) = server.get("/api/v1/flows", VIEWER).await;
    assert_eq!(names(&flows), ["nordic-lake", "nordic-wfm"]);
    assert_eq!(
        server
            .post("/api/v1/flows/nordic-lake/disable", ADMIN, json!({}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        server
            .post("/api/v1/flows/nordic-wfm/run", VIEWER, json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // ---- dead letters: the lake refuses everything ----
    eventually("a dead letter of the lake flow", &server, || async {
        let (_, dead) = server
            .get("/api/v1/outbox?status=dead&flow=nordic-lake", ADMIN)
            .await;
        !dead.as_array().unwrap().is_empty()
    })
    .await;
    let (_, dead) = server
        .get("/api/v1/outbox?status=dead&flow=nordic-lake", ADMIN)
        .await;
    let dead_id = dead[0]["id"].as_i64().unwrap();
    assert_eq!(
        server
            .post(
                &format!("/api/v1/outbox/{dead_id}/retry"),
                VIEWER,
                json!({})
            )
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, retried) = server
        .post(&format!("/api/v1/outbox/{dead_id}/retry"), ADMIN, json!({}))
        .await;
    assert_eq!(
        (status, retried["status"].as_str()),
        (StatusCode::OK, Some("pending")),
        "{retried}"
    );
    eventually("the retried letter dying again", &server, || async {
        let (_, dead) = server
            .get("/api/v1/outbox?status=dead&flow=nordic-lake", ADMIN)
            .await;
        dead.as_array().unwrap().iter().any(|m| m["id"] == dead_id)
    })
    .await;
    let (status, discarded) = server
        .post(
            &format!("/api/v1/outbox/{dead_id}/discard"),
            ADMIN,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, discarded["status"].as_str()),
        (StatusCode::OK, Some("discarded"))
    );
    assert_eq!(
        server
            .post(
                &format!("/api/v1/outbox/{dead_id}/discard"),
                ADMIN,
                json!({})
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // ---- tenant scope: the baltic token sees nothing of nordic ----
    let (_, tenants) = server.get("/api/v1/tenants", BALTIC).await;
    assert_eq!(names(&tenants), ["baltic"]);
    let (_, accounts) = server.get("/api/v1/accounts", BALTIC).await;
    assert_eq!(names(&accounts), ["aspect-2"]);
    let (_, flows) = server.get("/api/v1/flows", BALTIC).await;
    assert_eq!(flows, json!([]));
    let (_, runs) = server.get("/api/v1/runs", BALTIC).await;
    assert_eq!(runs, json!([]));
    let (_, outbox) = server.get("/api/v1/outbox", BALTIC).await;
    assert_eq!(outbox, json!([]));
    for path in [
        "/api/v1/accounts/wfm",
        "/api/v1/flows/nordic-wfm",
        "/api/v1/tenants/nordic/agent-states",
        "/api/v1/tenants/nordic/queues",
    ] {
        assert_eq!(
            server.get(path, BALTIC).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        server
            .post("/api/v1/accounts/wfm/test", BALTIC, json!({}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = server
        .post(
            "/api/v1/flows",
            BALTIC,
            json!({"name": "leak", "kind": "agent_states", "tenant": "baltic", "target": "wfm"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.starts_with("target: \"wfm\" is not an account"),
        "{body}"
    );
    assert!(
        !message.contains("lake") && !message.contains("aspect-1"),
        "names another tenant's accounts: {body}"
    );
    let (status, _) = server.post("/api/v1/accounts", BALTIC, json!({"name": "n2", "type": "http_post", "tenant": "nordic", "properties": {"url": "http://x.y"}})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // ---- the OpenAPI document: every documented path is routed ----
    let (status, doc) = server.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{name}", "nordic-wfm")
            .replace("{tenant}", "nordic")
            .replace("{queue}", "q1")
            .replace("{id}", "1");
        for method in item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| *m != "parameters")
        {
            let (status, body) = server
                .call(&method.to_uppercase(), &concrete, Some(VIEWER), None)
                .await;
            assert!(
                !(status == StatusCode::NOT_FOUND
                    && body["error"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("there is nothing at")),
                "{method} {path} is documented but not routed"
            );
            assert!(
                status.as_u16() < 500,
                "{method} {concrete}: {status} {body}"
            );
        }
    }

    // ---- a restart keeps API accounts and flows; the secret still opens ----
    server.stop();
    server.start().await;
    let (_, accounts) = server.get("/api/v1/accounts", ADMIN).await;
    assert_eq!(
        names(&accounts),
        ["aspect-1", "aspect-2", "lake", "wfm", "wfm-wrong"]
    );
    assert_eq!(
        server
            .post("/api/v1/accounts/wfm/test", ADMIN, json!({}))
            .await
            .1["ok"],
        true
    );
    let (_, flow) = server.get("/api/v1/flows/nordic-wfm", ADMIN).await;
    assert_eq!(flow["enabled"], false);

    // ---- key rotation: re-encrypt, then only the new key opens the secrets ----
    server.stop();
    let new_key = wfm_engine::secrets::SecretKey::generate().to_base64();
    std::fs::write(server.path("new.key"), &new_key).unwrap();
    let out = server
        .cmd(&["secrets", "rotate-key", "--new-key-file", "new.key"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("re-encrypted the secrets of 2 account(s)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The old key no longer opens them: serve refuses to start, naming the account.
    let old = server
        .cmd(&["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!old.status.success());
    let stderr = String::from_utf8_lossy(&old.stderr);
    assert!(
        stderr.contains("does not decrypt with the configured key"),
        "{stderr}"
    );
    assert!(!stderr.contains(WFM_SECRET));
    server.key = new_key;
    server.start().await;
    assert_eq!(
        server
            .post("/api/v1/accounts/wfm/test", ADMIN, json!({}))
            .await
            .1["ok"],
        true
    );
}

/// The statistics endpoint gives a queue's rows exactly as `wfm-bridge stats` computes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_statistics_are_the_rows_of_the_stats_command() {
    let lake = HttpSink::start("127.0.0.1:0").await.unwrap();
    let mut server = Server::new(&format!("{}/lake", lake.url()));
    fn ok(server: &Server, args: &[&str]) -> Vec<u8> {
        let out = server.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
    ok(
        &server,
        &[
            "simulate",
            "--tenant",
            "nordic",
            "--agents",
            "8",
            "--queues",
            "2",
            "--days",
            "1",
            "--from",
            "2024-03-04",
            "--out",
            "sim",
        ],
    );
    for kind in ["tenants", "queues", "agents", "interactions", "states"] {
        ok(&server, &["import", kind, &format!("sim/{kind}.jsonl")]);
    }
    server.start().await;
    // After the start: serve writes the configured tenant (its zone and interval) to the store.
    let stdout = ok(
        &server,
        &[
            "stats",
            "--tenant",
            "nordic",
            "--from",
            "2024-03-04",
            "--format",
            "json",
        ],
    );
    let expected: Value = serde_json::from_slice(&stdout).unwrap();

    let (status, queues) = server.get("/api/v1/tenants/nordic/queues", VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    let queues: Vec<String> = queues
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(queues.len(), 2, "{queues:?}");
    let mut compared = 0;
    for queue in &queues {
        let (status, stats) = server
            .get(
                &format!(
                    "/api/v1/tenants/nordic/queues/{queue}/statistics?from=2024-03-04&to=2024-03-04"
                ),
                VIEWER,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        let want: Vec<&Value> = expected["queue_rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["queue"] == json!(queue))
            .collect();
        let got: Vec<&Value> = stats["rows"].as_array().unwrap().iter().collect();
        assert!(!got.is_empty());
        assert_eq!(got, want, "queue {queue}");
        compared += got.len();
    }
    assert!(compared > 0);
    let (status, body) = server
        .get(
            "/api/v1/tenants/nordic/queues/q/statistics?from=2024-03-04&to=2024-05-04",
            VIEWER,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().starts_with("to:"), "{body}");
    let (status, body) = server
        .get(
            "/api/v1/tenants/nordic/queues/q/statistics?from=2024-13-01",
            VIEWER,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().starts_with("from:"),
        "{body}"
    );
}

fn run_ok(server: &Server, args: &[&str]) -> Vec<u8> {
    let out = server.cmd(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The forecast endpoint gives the numbers of `wfm-bridge forecast predict --tenant --queue` for
/// the same range, with the actual offered contacts of past intervals; tenant scope, viewer
/// reading and bad parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_forecasts_are_those_of_forecast_predict() {
    let lake = HttpSink::start("127.0.0.1:0").await.unwrap();
    let mut server = Server::new(&format!("{}/lake", lake.url()));
    // Three weeks of history before 2024-03-04 and the three days forecast.
    run_ok(
        &server,
        &[
            "simulate",
            "--tenant",
            "nordic",
            "--agents",
            "8",
            "--queues",
            "2",
            "--days",
            "24",
            "--from",
            "2024-02-12",
            "--out",
            "sim",
        ],
    );
    for kind in ["tenants", "queues", "agents", "interactions", "states"] {
        run_ok(&server, &["import", kind, &format!("sim/{kind}.jsonl")]);
    }
    server.start().await;
    let (status, queues) = server.get("/api/v1/tenants/nordic/queues", VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    let queue = queues[0]["queue"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tenants/nordic/queues/{queue}/forecast");

    // A viewer reads it.
    let (status, body) = server
        .get(&format!("{path}?from=2024-03-04&days=3"), VIEWER)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["queue"], json!(queue));
    assert_eq!(body["days"], 3);
    let minutes = body["interval_minutes"].as_u64().unwrap();
    let intervals = body["intervals"].as_array().unwrap();
    assert!(!intervals.is_empty());

    // The CLI's forecast of the same range, at the same interval length.
    let stdout = run_ok(
        &server,
        &[
            "forecast",
            "predict",
            "--tenant",
            "nordic",
            "--queue",
            &queue,
            "--from",
            "2024-03-04",
            "--days",
            "3",
            "--interval",
            &minutes.to_string(),
        ],
    );
    let csv = String::from_utf8(stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("start,calls"));
    let expected: Vec<(jiff::Timestamp, String)> = lines
        .map(|l| {
            let (start, calls) = l.split_once(',').unwrap();
            (start.parse().unwrap(), calls.to_string())
        })
        .collect();
    let got: Vec<(jiff::Timestamp, String)> = intervals
        .iter()
        .map(|i| {
            (
                i["start"].as_str().unwrap().parse().unwrap(),
                format!("{:.2}", i["forecast_contacts"].as_f64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // The days are past: every interval has its actual offered contacts, and they add up to the
    // queue's offered contacts of the statistics endpoint on those days (direct and overflow in:
    // each offer of a contact to the queue).
    assert!(intervals.iter().all(|i| i["actual_contacts"].is_number()));
    let actual: f64 = intervals
        .iter()
        .map(|i| i["actual_contacts"].as_f64().unwrap())
        .sum();
    assert!(actual > 0.0);
    let (status, stats) = server
        .get(
            &format!(
                "/api/v1/tenants/nordic/queues/{queue}/statistics?from=2024-03-04&to=2024-03-06"
            ),
            VIEWER,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let offered: f64 = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["offd_direct_call_cnt"].as_f64().unwrap()
                + r["overflow_in_call_cnt"].as_f64().unwrap()
        })
        .sum();
    assert_eq!(actual, offered);

    // Another tenant's token sees no such tenant.
    let (status, body) = server
        .get(&format!("{path}?from=2024-03-04&days=3"), BALTIC)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Bad parameters are 400 naming the parameter.
    for (query, name) in [
        ("from=2024-03-04&days=32", "days:"),
        ("from=2024-03-04&days=0", "days:"),
        ("from=4 March", "from:"),
        ("method=magic", "method:"),
        ("colour=red", "colour:"),
    ] {
        let (status, body) = server.get(&format!("{path}?{query}"), VIEWER).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(name),
            "{query}: {body}"
        );
    }
    // No history: 422 saying so.
    let (status, body) = server
        .get(
            "/api/v1/tenants/nordic/queues/no-such-queue/forecast?from=2024-03-04",
            VIEWER,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no contacts offered")
    );
}

/// The directory change log lists what a directory flow found, newest first, by tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_change_log_lists_a_syncs_changes() {
    let lake = HttpSink::start("127.0.0.1:0").await.unwrap();
    let mut server = Server::with_extra(
        &format!("{}/lake", lake.url()),
        r#"
[[accounts]]
name = "directory-out"
type = "files"
tenant = "nordic"
path = "directory-out"
create_dir = true
[[flows]]
name = "nordic-directory"
kind = "directory"
tenant = "nordic"
target = "directory-out"
"#,
    );
    run_ok(
        &server,
        &[
            "simulate",
            "--tenant",
            "nordic",
            "--agents",
            "5",
            "--queues",
            "2",
            "--days",
            "1",
            "--from",
            "2024-03-04",
            "--out",
            "sim",
        ],
    );
    for kind in ["tenants", "queues", "agents"] {
        run_ok(&server, &["import", kind, &format!("sim/{kind}.jsonl")]);
    }
    server.start().await;
    let log = "/api/v1/tenants/nordic/directory/log";
    let (status, body) = server
        .post("/api/v1/flows/nordic-directory/run", ADMIN, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["error"], Value::Null, "{body}");

    let (status, entries) = server.get(log, VIEWER).await;
    assert_eq!(status, StatusCode::OK, "{entries}");
    let entries = entries.as_array().unwrap().clone();
    let added = entries
        .iter()
        .filter(|e| e["change"] == "user_added")
        .count();
    assert_eq!(added, 5, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["tenant"] == "nordic" && e["flow"] == "nordic-directory")
    );
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    // Limit and paging.
    let (status, page) = server.get(&format!("{log}?limit=2"), VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 2);
    let (_, rest) = server
        .get(&format!("{log}?before_id={}&limit=1000", ids[1]), VIEWER)
        .await;
    assert_eq!(rest.as_array().unwrap().len(), ids.len() - 2);
    let (_, by_flow) = server
        .get(&format!("{log}?flow=nordic-directory"), VIEWER)
        .await;
    assert_eq!(by_flow.as_array().unwrap().len(), ids.len());

    // Another tenant's token: 404; its own tenant has no entries; a flow of another tenant: 404.
    let (status, _) = server.get(log, BALTIC).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, own) = server
        .get("/api/v1/tenants/baltic/directory/log", BALTIC)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own, json!([]));
    let (status, body) = server
        .get(
            "/api/v1/tenants/baltic/directory/log?flow=nordic-directory",
            BALTIC,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Bad parameters: 400 naming them.
    for (query, name) in [
        ("limit=0", "limit:"),
        ("before_id=x", "before_id:"),
        ("since=1", "since:"),
    ] {
        let (status, body) = server.get(&format!("{log}?{query}"), VIEWER).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(name),
            "{query}: {body}"
        );
    }
    // No token: 401.
    let (status, _) = server.call("GET", log, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
