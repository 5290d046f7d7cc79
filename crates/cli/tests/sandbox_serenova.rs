//! `wfm-bridge sandbox serenova`: the CxEngage emulator as a process, loaded from a JSON file.

use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serves_the_data_file_with_basic_auth_per_tenant() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("serenova.json");
    std::fs::write(
        &data,
        r#"{"tenants": [{"id": "t1", "key": "k1", "secret": "s1",
            "users": [{"id": "u1", "firstName": "Ada", "lastName": "Lovelace", "status": "accepted"}],
            "groups": [{"id": "g1", "name": "Tier 1", "active": true, "members": ["u1"]}]}]}"#,
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _emulator = Running(
        Command::new(env!("CARGO_BIN_EXE_wfm-bridge"))
            .args([
                "sandbox",
                "serenova",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--data")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/tenants/t1/users");
    // Wait until it listens (no timing assertion: it is given as long as it needs, up to a bound).
    let mut answered = None;
    for _ in 0..200 {
        if let Ok(r) = client.get(&url).basic_auth("k1", Some("s1")).send().await {
            answered = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let response = answered.expect("the emulator answers");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["result"][0]["firstName"], "Ada");
    assert_eq!(body["total"], 1);
    let members: serde_json::Value = client
        .get(format!(
            "http://127.0.0.1:{port}/v1/tenants/t1/groups/g1/users"
        ))
        .basic_auth("k1", Some("s1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(members["result"][0]["userId"], "u1");
    let refused = client
        .get(&url)
        .basic_auth("k1", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}
