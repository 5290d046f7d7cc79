//! The web console end to end in headless Chromium: the real `wfm-bridge serve`, `chromedriver`
//! driven over the W3C WebDriver protocol (JSON over HTTP with the workspace's reqwest), and the
//! sandbox HTTP sink as the WFM system. Logs in with an admin token, creates an account from the
//! generated property sheet, presses Test Connection and reads the verdict, runs a flow and sees its
//! run, sees the live agent board, the statistics and forecast-vs-actual charts, and the
//! directory change log after a sync.
//!
//! Without `chromium` and `chromedriver` (Debian packages of those names) the test prints
//! "skipping: …" and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use wfm_sandbox::http_sink::{Behaviour, HttpSink, SinkConfig};

const ADMIN: &str = "console-admin-token";
const WFM_SECRET: &str = "console-wfm-secret";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path).chain([
        PathBuf::from("/usr/bin"),
        PathBuf::from("/usr/lib/chromium"),
    ]) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills a child process when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebDriver session.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let value: Value = response.json().await.unwrap();
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {value}"
        );
        value["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        match v[ELEMENT].as_str() {
            Some(id) => id.to_string(),
            None => panic!("no element {css}: {v}"),
        }
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Waits until `condition` (a JavaScript expression) is true.
    async fn wait(&self, what: &str, condition: &str) {
        let script = format!("return Boolean({condition});");
        for _ in 0..200 {
            if self.script(&script).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let page = self.script("return document.body.innerText;").await;
        panic!("{what}: {condition} did not become true within 20s; the page says:\n{page}");
    }
}

fn write_config(dir: &Path, lake: &str) {
    std::fs::write(
        dir.join("wfm-bridge.toml"),
        format!(
            r#"
[store]
url = "sqlite://store.db"
[delivery]
poll = "100ms"
[[tenants]]
id = "nordic"
name = "Nordic"
ingest_token = "env:NORDIC_INGEST"
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
enabled = false
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
[[admin_tokens]]
name = "ops"
token = "env:ADMIN_TOKEN"
role = "admin"
tenants = ["*"]
"#
        ),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_manages_accounts_flows_and_shows_the_agent_board() {
    let (Some(chromium), Some(chromedriver)) = (
        find_binary(&["chromium", "chromium-browser", "google-chrome"]),
        find_binary(&["chromedriver"]),
    ) else {
        eprintln!(
            "skipping: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        );
        return;
    };
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
    let lake = HttpSink::start("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &format!("{}/lake", lake.url()));
    // Two simulated weeks and the day charted: the statistics chart of the day, and the forecast
    // of the week from it learned from the weeks before.
    let bin = env!("CARGO_BIN_EXE_wfm-bridge");
    let ok = |args: &[&str]| {
        let out = Command::new(bin)
            .args(args)
            .current_dir(dir.path())
            .env_remove("WFM_BRIDGE_STORE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&[
        "simulate",
        "--tenant",
        "nordic",
        "--agents",
        "6",
        "--queues",
        "2",
        "--days",
        "16",
        "--from",
        "2024-02-18",
        "--out",
        "sim",
    ]);
    for kind in ["tenants", "queues", "agents", "interactions"] {
        ok(&["import", kind, &format!("sim/{kind}.jsonl")]);
    }
    let key = wfm_engine::secrets::SecretKey::generate().to_base64();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let _serve = Guard(
        Command::new(env!("CARGO_BIN_EXE_wfm-bridge"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .env("ADMIN_TOKEN", ADMIN)
            .env("NORDIC_INGEST", "nordic-ingest")
            .env("WFM_BRIDGE_SECRET_KEY", key)
            .env_remove("WFM_BRIDGE_STORE")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = wfm_connectors::http::client().unwrap();
    let mut ready = false;
    for _ in 0..400 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ready,
        "serve did not become ready: {}",
        std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
    );
    // Two agents for the board.
    let pushed = http
        .post(format!("{base}/api/v1/tenants/nordic/states"))
        .bearer_auth("nordic-ingest")
        .json(&json!([
            {"agent": "anna", "at": "2024-03-01T08:00:00Z", "state": "ready"},
            {"agent": "bo", "at": "2024-03-01T08:00:01Z", "state": "not_ready", "reason": "Lunch"}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);

    let driver_port = free_port();
    let _driver = Guard(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let driver = format!("http://127.0.0.1:{driver_port}");
    let mut up = false;
    for _ in 0..200 {
        if let Ok(r) = http.get(format!("{driver}/status")).send().await
            && r.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "chromedriver did not start");
    let profile = tempfile::tempdir().unwrap();
    let session: Value = http
        .post(format!("{driver}/session"))
        .json(&json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let Some(session_id) = session["value"]["sessionId"].as_str() else {
        panic!("chromedriver did not start a session: {session}");
    };
    let browser = Browser {
        http: http.clone(),
        base: format!("{driver}/session/{session_id}"),
    };

    // Log in.
    browser.goto(&format!("{base}/console/")).await;
    browser.type_into("#token", ADMIN).await;
    browser.click("#login").await;
    browser
        .wait("login", "!document.getElementById('nav').hidden")
        .await;
    assert_eq!(browser.text("#who").await, "ops (admin)");
    browser
        .wait(
            "the accounts list",
            "document.querySelector('#accounts tr[data-name=\"lake\"]')",
        )
        .await;

    // Create an account from the property sheet of its type.
    browser.click("#new-account").await;
    browser
        .script("const s = document.getElementById('account-type'); s.value = 'http_post'; s.dispatchEvent(new Event('change')); return true;")
        .await;
    browser
        .wait(
            "the http_post sheet",
            "document.querySelector('#account-properties input[name=\"url\"]')",
        )
        .await;
    assert_eq!(
        browser
            .script(
                "return document.querySelector('#account-properties input[name=\"token\"]').type;"
            )
            .await,
        json!("password"),
        "secrets are password fields"
    );
    browser.type_into("#account-name", "wfm").await;
    browser
        .type_into(
            "#account-properties input[name=\"url\"]",
            &format!("{}/rta", wfm.url()),
        )
        .await;
    browser
        .type_into("#account-properties input[name=\"token\"]", WFM_SECRET)
        .await;
    browser.click("#save-account").await;
    browser
        .wait(
            "the saved account",
            "document.querySelector('#accounts tr[data-name=\"wfm\"]')",
        )
        .await;
    assert!(browser.text("#notice").await.contains("Saved account wfm"));

    // Test Connection and its verdict.
    browser.click("#test-account").await;
    browser
        .wait(
            "the verdict",
            "document.getElementById('verdict').className !== ''",
        )
        .await;
    let verdict = browser.text("#verdict").await;
    assert!(verdict.starts_with('✔'), "verdict: {verdict}");
    let page = browser
        .script("return document.documentElement.outerHTML;")
        .await;
    assert!(
        !page.as_str().unwrap().contains(WFM_SECRET),
        "the page shows the secret"
    );

    // The API has it, with the secret write-only.
    let accounts: Value = http
        .get(format!("{base}/api/v1/accounts/wfm"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["properties"]["token"], "********");

    // Flows: run now, and see the run.
    browser.click("nav .tab[data-page=\"flows\"]").await;
    browser
        .wait(
            "the flows list",
            "document.querySelector('#flows tr[data-name=\"nordic-lake\"] .run-now')",
        )
        .await;
    browser
        .click("#flows tr[data-name=\"nordic-lake\"] .run-now")
        .await;
    browser
        .wait(
            "the run",
            "document.querySelector('#runs tbody tr[data-flow=\"nordic-lake\"]')",
        )
        .await;
    let run = browser
        .text("#runs tbody tr[data-flow=\"nordic-lake\"]")
        .await;
    assert!(run.contains("succeeded"), "run row: {run}");

    // The live agent board.
    browser.click("nav .tab[data-page=\"agents\"]").await;
    browser
        .wait(
            "the board",
            "document.querySelectorAll('#board tr.agent').length === 2",
        )
        .await;
    let bo = browser.text("#board tr[data-agent=\"bo\"]").await;
    assert!(bo.contains("not ready") && bo.contains("Lunch"), "bo: {bo}");
    // It polls: a new state shows up without a reload.
    http.post(format!("{base}/api/v1/tenants/nordic/states"))
        .bearer_auth("nordic-ingest")
        .json(&json!([{"agent": "bo", "at": "2024-03-01T08:05:00Z", "state": "busy"}]))
        .send()
        .await
        .unwrap();
    browser
        .wait(
            "the board update",
            "document.querySelector('#board tr[data-agent=\"bo\"] .state').textContent === 'busy'",
        )
        .await;

    // The statistics chart of a queue's day, and the place kept for forecasts.
    browser.click("nav .tab[data-page=\"stats\"]").await;
    browser
        .wait(
            "the queue list",
            "document.querySelectorAll('#queue option').length === 2",
        )
        .await;
    browser
        .script("document.getElementById('stats-date').value = '2024-03-04'; return true;")
        .await;
    browser.click("#stats-form button").await;
    browser
        .wait(
            "the chart",
            "document.querySelectorAll('#stats-svg rect.bar').length > 0",
        )
        .await;
    let offered = browser
        .script("return Array.from(document.querySelectorAll('#stats-svg rect.bar title')).map(t => t.textContent).filter(t => t.includes('offered') && !t.endsWith(': 0')).length;")
        .await;
    assert!(
        offered.as_i64().unwrap() > 0,
        "no interval with offered contacts drawn"
    );
    // Forecast vs actual of the week from the date: both series drawn.
    browser
        .wait(
            "the forecast chart",
            "document.querySelector('#forecast-svg path.series-forecast') !== null && document.querySelector('#forecast-svg path.series-actual') !== null",
        )
        .await;
    let points = browser
        .script("return ['forecast', 'actual'].map(s => document.querySelector('#forecast-svg path.series-' + s).getAttribute('d').split(' L ').length);")
        .await;
    let points: Vec<i64> = points
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(
        points[0] > 10 && points[1] > 10,
        "points per series: {points:?}"
    );

    // A directory sync (run now through the API), then its change log in the console.
    let run = http
        .post(format!("{base}/api/v1/flows/nordic-directory/run"))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200, "{}", run.text().await.unwrap());
    browser.click("nav .tab[data-page=\"directory\"]").await;
    browser
        .wait(
            "the directory change log",
            "document.querySelectorAll('#directory-log tr.directory-entry').length >= 6",
        )
        .await;
    let entry = browser.text("#directory-log tr.directory-entry").await;
    assert!(
        entry.contains("user_added") && entry.contains("nordic-directory"),
        "entry: {entry}"
    );

    let _ = http.delete(browser.base.clone()).send().await;
}
