//! The `sftp` target against a real OpenSSH server: `wfm_testkit::sshd` starts the system's sshd on
//! 127.0.0.1 on a free port with fresh host and client keys. Without OpenSSH installed every test
//! prints "skipping: …" and passes (`.ci/run` installs it, so CI runs them).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use wfm_connectors::accounts::{AccountConfig, PropertyValue, Secret, account_type};
use wfm_connectors::targets::sftp::{HostKeyPin, SftpTarget};
use wfm_connectors::targets::{DeliveryError, OutboundMessage, Target};
use wfm_testkit::TestSshd;

fn message(name: &str, payload: &[u8]) -> OutboundMessage {
    OutboundMessage {
        id: 7,
        flow: "stats-daily".to_string(),
        key: "tenant-a".to_string(),
        idempotency_key: format!("stats-daily:7:{name}"),
        name: name.to_string(),
        content_type: "text/csv".to_string(),
        payload: payload.to_vec(),
        attempt: 1,
    }
}

fn text(s: &str) -> PropertyValue {
    PropertyValue::Text(s.to_string())
}

fn secret(s: &str) -> PropertyValue {
    PropertyValue::Secret(Secret::new(s))
}

/// How a test logs in.
enum Login<'a> {
    Key(&'a str),
    Password(&'a str),
}

/// An `sftp` account for `server`, writing to `dir`, with extra properties.
fn account(
    server: &TestSshd,
    dir: &Path,
    login: Login<'_>,
    extra: &[(&str, PropertyValue)],
) -> AccountConfig {
    let mut properties: BTreeMap<String, PropertyValue> = [
        ("host", text(server.host())),
        ("port", PropertyValue::Integer(i64::from(server.port()))),
        ("username", text(server.user())),
        ("path", text(dir.to_str().unwrap())),
        ("timeout", PropertyValue::Duration(Duration::from_secs(10))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    match login {
        Login::Key(key) => properties.insert("private_key".into(), secret(key)),
        Login::Password(pw) => properties.insert("password".into(), secret(pw)),
    };
    for (k, v) in extra {
        properties.insert(k.to_string(), v.clone());
    }
    AccountConfig {
        name: "drop".to_string(),
        account_type: "sftp".to_string(),
        tenant: Some("tenant-a".to_string()),
        properties,
    }
}

/// Built the way the engine builds targets: through the account type.
fn target(account: &AccountConfig) -> Box<dyn Target> {
    (account_type("sftp").unwrap().build.expect("a target type"))(account)
        .expect("valid sftp account")
}

/// The server's `in` directory, created.
fn inbox(server: &TestSshd) -> std::path::PathBuf {
    let dir = server.files_dir().join("in");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn retry_reason(result: Result<(), DeliveryError>) -> String {
    match result {
        Err(DeliveryError::Retry { reason, .. }) => reason,
        other => panic!("expected a retry, got {other:?}"),
    }
}

fn host_fingerprint(server: &TestSshd) -> String {
    HostKeyPin::parse(server.host_key())
        .unwrap()
        .fingerprint()
        .to_string()
}

/// Another valid host key line, not the server's.
const OTHER_HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb54S3abxuO9aC3gEeYv+Q3fwk3cniXzQFol0IjqvUw other";

#[tokio::test]
async fn upload_is_atomic_and_exact() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let target = target(&account(
        &server,
        &dir,
        Login::Key(server.client_key()),
        &[],
    ));

    let payload = b"Teleopti.Queue.Data\n\ninterval;date;time\n15;2024-03-01;08:00\n";
    target
        .deliver(&message("Queue_Statistics_20240301_20240301.csv", payload))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(listing(&dir), ["Queue_Statistics_20240301_20240301.csv"]);
    assert_eq!(
        fs::read(dir.join("Queue_Statistics_20240301_20240301.csv")).unwrap(),
        payload
    );

    // Larger than many SFTP writes, and not a multiple of their size: every byte in its place.
    let big: Vec<u8> = (0..(1024 * 1024 + 12_345))
        .map(|i| (i % 251) as u8)
        .collect();
    target.deliver(&message("big.bin", &big)).await.unwrap();
    assert_eq!(fs::read(dir.join("big.bin")).unwrap(), big);
    // An empty payload is an empty file.
    target.deliver(&message("empty.csv", b"")).await.unwrap();
    assert_eq!(fs::read(dir.join("empty.csv")).unwrap(), b"");
    assert_eq!(
        listing(&dir),
        [
            "Queue_Statistics_20240301_20240301.csv",
            "big.bin",
            "empty.csv"
        ]
    );

    // The deliveries shared one connection: one login.
    let logins = server.log().matches("Accepted publickey").count();
    assert_eq!(logins, 1, "{}", server.log());
}

#[tokio::test]
async fn overwriting_is_idempotent_with_and_without_posix_rename() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let account = account(&server, &dir, Login::Key(server.client_key()), &[]);
    for posix_rename in [true, false] {
        let target = SftpTarget::from_account(&account)
            .unwrap()
            .with_posix_rename(posix_rename);
        let name = format!("agents-{posix_rename}.csv");
        target.deliver(&message(&name, b"first\n")).await.unwrap();
        // The same message again (a repeat after a crash), then a new version.
        target.deliver(&message(&name, b"first\n")).await.unwrap();
        assert_eq!(fs::read(dir.join(&name)).unwrap(), b"first\n");
        target.deliver(&message(&name, b"second\n")).await.unwrap();
        assert_eq!(fs::read(dir.join(&name)).unwrap(), b"second\n");
        target.disconnect().await;
    }
    assert_eq!(listing(&dir), ["agents-false.csv", "agents-true.csv"]);
}

#[tokio::test]
async fn a_dropped_connection_is_replaced() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let target = SftpTarget::from_account(&account(
        &server,
        &dir,
        Login::Key(server.client_key()),
        &[],
    ))
    .unwrap();
    target.deliver(&message("a.csv", b"a")).await.unwrap();
    target.disconnect().await;
    target.deliver(&message("b.csv", b"b")).await.unwrap();
    assert_eq!(listing(&dir), ["a.csv", "b.csv"]);
    assert_eq!(server.log().matches("Accepted publickey").count(), 2);
}

#[tokio::test]
async fn a_kept_connection_the_server_ended_is_replaced_within_the_delivery() {
    let Some(mut server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let target = target(&account(
        &server,
        &dir,
        Login::Key(server.client_key()),
        &[],
    ));
    target.deliver(&message("a.csv", b"a")).await.unwrap();
    // The server restarts: the kept connection is dead, and the next delivery must not fail
    // for it.
    server.restart(false);
    target
        .deliver(&message("b.csv", b"b"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(listing(&dir), ["a.csv", "b.csv"]);
    assert_eq!(server.log().matches("Accepted publickey").count(), 2);
}

#[tokio::test]
async fn without_host_key_the_first_key_seen_is_kept() {
    let Some(mut server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let account = account(&server, &dir, Login::Key(server.client_key()), &[]);
    let target = target(&account);
    let first = host_fingerprint(&server);
    target.deliver(&message("a.csv", b"a")).await.unwrap();

    // The server comes back with another key: refused, as a change, until someone decides.
    server.restart(true);
    let second = host_fingerprint(&server);
    assert_ne!(first, second);
    let reason = retry_reason(target.deliver(&message("b.csv", b"b")).await);
    assert!(
        reason.starts_with(&format!(
            "host key of 127.0.0.1 does not match host_key; expected {first}, got {second}"
        )) && reason.contains("host_key is not set"),
        "{reason}"
    );
    assert_eq!(listing(&dir), ["a.csv"]);
    // A new target (a restarted wfm-bridge) knows no key yet and accepts it, with the warning.
    let verdict = self::target(&account).check().await;
    assert!(
        verdict.ok && verdict.message.contains(&second),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn check_says_where_files_go_and_warns_without_host_key() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let fingerprint = host_fingerprint(&server);

    let unpinned = target(&account(
        &server,
        &dir,
        Login::Key(server.client_key()),
        &[],
    ));
    let verdict = unpinned.check().await;
    assert!(verdict.ok, "{verdict:?}\n{}", server.log());
    let expected = format!(
        "connected; writes files to {} (host key {fingerprint})",
        dir.display()
    );
    assert!(
        verdict.message.starts_with(&expected),
        "{}",
        verdict.message
    );
    assert!(
        verdict.message.contains("host_key is not set")
            && verdict.message.contains("without verification"),
        "{}",
        verdict.message
    );

    // Pinned by the key line, or by the fingerprint: no warning.
    for pin in [server.host_key().to_string(), fingerprint.clone()] {
        let pinned = target(&account(
            &server,
            &dir,
            Login::Key(server.client_key()),
            &[("host_key", text(&pin))],
        ));
        let verdict = pinned.check().await;
        assert!(verdict.ok, "{verdict:?}");
        assert_eq!(verdict.message, expected);
    }
    // Checking changes nothing on the server.
    assert!(listing(&dir).is_empty());
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_invalid_credentials() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let target = target(&account(
        &server,
        &dir,
        Login::Key(server.unauthorized_key()),
        &[],
    ));
    let verdict = target.check().await;
    assert!(!verdict.ok);
    assert_eq!(
        verdict.message,
        "credentials are invalid (SSH authentication failed)"
    );
    let reason = retry_reason(target.deliver(&message("a.csv", b"x")).await);
    assert_eq!(
        reason,
        "credentials are invalid (SSH authentication failed)"
    );
    assert!(listing(&dir).is_empty());
}

#[tokio::test]
async fn password_login() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);

    // A wrong password is refused whether or not the server takes passwords at all.
    let wrong = target(&account(
        &server,
        &dir,
        Login::Password("not-the-password"),
        &[],
    ));
    let verdict = wrong.check().await;
    assert_eq!(
        verdict.message,
        "credentials are invalid (SSH authentication failed)"
    );
    let reason = retry_reason(wrong.deliver(&message("a.csv", b"x")).await);
    assert_eq!(
        reason,
        "credentials are invalid (SSH authentication failed)"
    );
    assert!(!reason.contains("not-the-password"));

    let Some(password) = server.password() else {
        println!("skipping the successful password login: password logins need root here");
        return;
    };
    let right = target(&account(&server, &dir, Login::Password(password), &[]));
    let verdict = right.check().await;
    assert!(verdict.ok, "{verdict:?}\n{}", server.log());
    right
        .deliver(&message("a.csv", b"by password"))
        .await
        .unwrap();
    assert_eq!(fs::read(dir.join("a.csv")).unwrap(), b"by password");
}

#[tokio::test]
async fn a_host_key_that_does_not_match_is_refused() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let got = host_fingerprint(&server);
    let other = HostKeyPin::parse(OTHER_HOST_KEY)
        .unwrap()
        .fingerprint()
        .to_string();
    assert_ne!(got, other);
    let target = target(&account(
        &server,
        &dir,
        Login::Key(server.client_key()),
        &[("host_key", text(OTHER_HOST_KEY))],
    ));
    let expected =
        format!("host key of 127.0.0.1 does not match host_key; expected {other}, got {got}");
    let verdict = target.check().await;
    assert!(!verdict.ok);
    assert_eq!(verdict.message, expected);
    assert_eq!(
        retry_reason(target.deliver(&message("a.csv", b"x")).await),
        expected
    );
    // Refused before logging in: the client key was never offered.
    assert!(!server.log().contains("Accepted publickey"));
    assert!(listing(&dir).is_empty());
}

#[tokio::test]
async fn a_missing_remote_directory_is_named() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let missing = server.files_dir().join("no-such-dir");
    let target = target(&account(
        &server,
        &missing,
        Login::Key(server.client_key()),
        &[],
    ));
    let verdict = target.check().await;
    assert!(!verdict.ok);
    assert_eq!(
        verdict.message,
        format!("remote directory {} does not exist", missing.display())
    );
    let reason = retry_reason(target.deliver(&message("a.csv", b"x")).await);
    assert!(
        reason.contains(&format!("{}/.a.csv.", missing.display()))
            && reason.contains("no such file or directory")
            && reason.contains(&format!(
                "does remote directory {} exist?",
                missing.display()
            )),
        "{reason}"
    );

    // A file where the directory should be.
    let file = server.files_dir().join("plain-file");
    fs::write(&file, "x").unwrap();
    let target = target_for(&server, &file);
    let verdict = target.check().await;
    assert_eq!(
        verdict.message,
        format!("remote path {} is not a directory", file.display())
    );
}

fn target_for(server: &TestSshd, dir: &Path) -> Box<dyn Target> {
    target(&account(server, dir, Login::Key(server.client_key()), &[]))
}

#[tokio::test]
async fn an_unreachable_port_is_named() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let account = account(
        &server,
        server.files_dir(),
        Login::Key(server.client_key()),
        &[("port", PropertyValue::Integer(i64::from(port)))],
    );
    let target = target(&account);
    let expected = format!("cannot reach 127.0.0.1:{port}: connection refused");
    let verdict = target.check().await;
    assert!(!verdict.ok);
    assert_eq!(verdict.message, expected);
    assert_eq!(
        retry_reason(target.deliver(&message("a.csv", b"x")).await),
        expected
    );
}

#[tokio::test]
async fn a_name_that_could_escape_is_rejected_before_connecting() {
    let Some(server) = wfm_testkit::sshd() else {
        return;
    };
    let dir = inbox(&server);
    let target = target_for(&server, &dir);
    for name in ["../escape.csv", "a/b.csv", ""] {
        match target.deliver(&message(name, b"x")).await {
            Err(DeliveryError::Rejected { reason }) => {
                assert!(reason.contains("invalid file name"), "{reason}")
            }
            other => panic!("{name:?}: {other:?}"),
        }
    }
    assert!(listing(&dir).is_empty());
    assert!(listing(server.files_dir()).iter().all(|n| n == "in"));
    assert!(!server.log().contains("Accepted publickey"));
}

#[test]
fn secrets_stay_out_of_debug() {
    // No server needed: the account is only built.
    let account = AccountConfig {
        name: "drop".to_string(),
        account_type: "sftp".to_string(),
        tenant: None,
        properties: [
            ("host".to_string(), text("sftp.example.com")),
            ("username".to_string(), text("wfm")),
            ("path".to_string(), text("/in")),
            ("password".to_string(), secret("hunter2")),
        ]
        .into(),
    };
    let target = target(&account);
    let _ = format!("{:p}", &target);
    let debug = format!("{:?}", SftpTarget::from_account(&account).unwrap());
    assert!(!debug.contains("hunter2"), "{debug}");
}
