//! The `serenova` directory source against the sandbox's CxEngage emulator over loopback.

use std::collections::BTreeMap;

use serde_json::json;
use wfm_connectors::accounts::{AccountConfig, PropertyValue, Secret, account_type};
use wfm_connectors::sources::DirectorySource;
use wfm_sandbox::serenova::{SerenovaData, SerenovaSandbox, SerenovaTenantData};

fn data() -> SerenovaData {
    SerenovaData {
        tenants: vec![
            SerenovaTenantData {
                id: "t-master".into(),
                key: "key-m".into(),
                secret: "secret-m".into(),
                users: vec![
                    json!({"id": "u1", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "status": "accepted"}),
                    json!({"id": "u2", "firstName": "Bob", "lastName": "Smith", "status": "disabled"}),
                    json!({"id": "u3", "firstName": "Carla", "lastName": "Diaz", "status": "accepted"}),
                ],
                groups: vec![
                    json!({"id": "g1", "name": "Tier 1", "active": true, "members": ["u1", "u3"]}),
                ],
                skills: vec![
                    json!({"id": "s1", "name": "English", "active": true, "members": ["u1"]}),
                ],
                queues: vec![
                    json!({"id": "q1", "name": "Support", "active": true}),
                    json!({"id": "q2", "name": "Old", "active": false}),
                ],
            },
            SerenovaTenantData {
                id: "t-nordic".into(),
                key: "key-n".into(),
                secret: "secret-n".into(),
                users: vec![
                    // u1 again: the same person in the sub-tenant.
                    json!({"id": "u1", "firstName": "Ada", "lastName": "Lovelace", "status": "accepted"}),
                    json!({"id": "u4", "firstName": "Dan", "lastName": "Berg", "status": "accepted"}),
                ],
                groups: vec![
                    json!({"id": "g2", "name": "Nordic", "active": false, "members": ["u1", "u4"]}),
                ],
                skills: vec![
                    json!({"id": "s2", "name": "Swedish", "active": true, "members": ["u1", "u4"]}),
                ],
                queues: vec![json!({"id": "q3", "name": "Nordic Support", "active": true})],
            },
        ],
    }
}

fn account(base: &str, nordic_secret: &str, page_size: i64) -> AccountConfig {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
    };
    let mut properties = BTreeMap::new();
    properties.insert("base_url".into(), PropertyValue::Text(base.into()));
    properties.insert("master".into(), PropertyValue::Text("acme".into()));
    properties.insert(
        "tenants".into(),
        PropertyValue::Map(map(&[("acme", "t-master"), ("acme-nordic", "t-nordic")])),
    );
    properties.insert(
        "api_keys".into(),
        PropertyValue::Map(map(&[("acme", "key-m"), ("acme-nordic", "key-n")])),
    );
    properties.insert(
        "api_secrets".into(),
        PropertyValue::SecretMap(BTreeMap::from([
            ("acme".to_string(), Secret::new("secret-m")),
            ("acme-nordic".to_string(), Secret::new(nordic_secret)),
        ])),
    );
    properties.insert("page_size".into(), PropertyValue::Integer(page_size));
    AccountConfig {
        name: "serenova-prod".into(),
        account_type: "serenova".into(),
        tenant: Some("acme".into()),
        properties,
    }
}

fn source(account: &AccountConfig) -> Box<dyn DirectorySource> {
    let build = account_type("serenova").unwrap().build_directory.unwrap();
    build(account).unwrap()
}

#[tokio::test]
async fn master_and_sub_tenant_users_merge_into_one_directory() {
    let sandbox = SerenovaSandbox::start("127.0.0.1:0", data()).await.unwrap();
    // Pages of one item: every list is read over several requests.
    let source = source(&account(&sandbox.url(), "secret-n", 1));
    assert!(source.check().await.ok);
    let snapshot = source.snapshot("acme").await.unwrap();

    let ids: Vec<&str> = snapshot.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        ids,
        ["u1", "u2", "u3", "u4"],
        "u1 of both tenants is one user"
    );
    let ada = &snapshot.users[0];
    assert_eq!(
        (ada.first_name.as_str(), ada.last_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(
        ada.email.as_deref(),
        Some("ada@example.com"),
        "the master's record"
    );
    assert_eq!(ada.groups, ["g1", "g2"]);
    assert_eq!(ada.skills, ["s1", "s2"]);
    assert_eq!(ada.attributes["tenants"], "acme;acme-nordic");
    assert_eq!(ada.attributes["team"], "Tier 1");
    assert_eq!(ada.attributes["groups"], "Tier 1;Nordic");
    assert_eq!(ada.attributes["skills"], "English;Swedish");
    assert!(ada.active);
    assert!(!snapshot.users[1].active, "a disabled user is inactive");
    assert_eq!(snapshot.users[3].attributes["tenants"], "acme-nordic");

    assert_eq!(snapshot.groups.len(), 2);
    assert!(!snapshot.groups[1].active, "a disabled group is inactive");
    let queues: Vec<(&str, bool)> = snapshot
        .queues
        .iter()
        .map(|q| (q.name.as_str(), q.active))
        .collect();
    assert_eq!(
        queues,
        [("Support", true), ("Old", false), ("Nordic Support", true)]
    );
}

#[tokio::test]
async fn changes_between_syncs_are_seen() {
    let sandbox = SerenovaSandbox::start("127.0.0.1:0", data()).await.unwrap();
    let source = source(&account(&sandbox.url(), "secret-n", 100));
    let before = source.snapshot("acme").await.unwrap();
    let client = wfm_connectors::http::client().unwrap();
    for (path, change) in [
        ("t-master/users/u3", json!({"status": "disabled"})),
        ("t-master/users/u1", json!({"lastName": "King"})),
        ("t-master/queues/q1", json!({"name": "Customer Support"})),
    ] {
        let r = client
            .patch(format!("{}/_sandbox/tenants/{path}", sandbox.url()))
            .json(&change)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
    }
    let after = source.snapshot("acme").await.unwrap();
    assert_ne!(before, after);
    assert_eq!(after.users[0].last_name, "King");
    assert!(before.users[2].active && !after.users[2].active);
    assert_eq!(after.queues[0].name, "Customer Support");
}

#[tokio::test]
async fn bad_credentials_name_the_tenant() {
    let sandbox = SerenovaSandbox::start("127.0.0.1:0", data()).await.unwrap();
    let source = source(&account(&sandbox.url(), "wrong", 100));
    let verdict = source.check().await;
    assert!(!verdict.ok);
    assert!(
        verdict
            .message
            .contains("credentials are invalid for tenant acme-nordic"),
        "{}",
        verdict.message
    );
    let err = source.snapshot("acme").await.unwrap_err().to_string();
    assert!(
        err.contains("credentials are invalid for tenant acme-nordic"),
        "{err}"
    );
    assert!(!err.contains("wrong"), "no secret in errors: {err}");

    // The master's key used for the sub-tenant's id: 403.
    let mut swapped = account(&sandbox.url(), "secret-m", 100);
    swapped.properties.insert(
        "api_keys".into(),
        PropertyValue::Map(BTreeMap::from([
            ("acme".to_string(), "key-m".to_string()),
            ("acme-nordic".to_string(), "key-m".to_string()),
        ])),
    );
    let verdict = source_of(&swapped).check().await;
    assert!(
        verdict
            .message
            .contains("access forbidden for tenant acme-nordic"),
        "{}",
        verdict.message
    );

    // Nothing listening: the address is named.
    let closed = account("http://127.0.0.1:9", "secret-n", 100);
    let verdict = source_of(&closed).check().await;
    assert!(!verdict.ok);
    assert!(
        verdict.message.contains("127.0.0.1:9"),
        "{}",
        verdict.message
    );
}

fn source_of(account: &AccountConfig) -> Box<dyn DirectorySource> {
    source(account)
}

#[test]
fn incomplete_accounts_are_refused_with_the_reason() {
    let build = account_type("serenova").unwrap().build_directory.unwrap();
    let mut missing = account("http://127.0.0.1:1", "s", 100);
    missing.properties.insert(
        "api_secrets".into(),
        PropertyValue::SecretMap(BTreeMap::from([("acme".to_string(), Secret::new("s"))])),
    );
    let err = build(&missing).err().unwrap().message;
    assert!(err.contains("api_secrets.acme-nordic is missing"), "{err}");
    let mut bad_master = account("http://127.0.0.1:1", "s", 100);
    bad_master
        .properties
        .insert("master".into(), PropertyValue::Text("nope".into()));
    let err = build(&bad_master).err().unwrap().message;
    assert!(
        err.contains("master \"nope\" is not one of the tenants"),
        "{err}"
    );
    // Debug never shows a secret.
    assert!(!format!("{:?}", account("http://x", "hidden-secret", 1)).contains("hidden-secret"));
}
