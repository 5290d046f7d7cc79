//! The admin catalog (accounts and flows created through the admin API) and dead-letter discards,
//! tested with the same bodies on SQLite (a file in a temporary directory) and PostgreSQL (a fresh
//! database from wfm-testkit; skipped when there is none).

use std::sync::Arc;

use wfm_store::{CatalogEntry, CatalogTable, NewMessage, OutboxFilter, OutboxStatus, Store};

struct Fixture {
    url: String,
    _dir: Option<tempfile::TempDir>,
    _db: Option<wfm_testkit::TestDatabase>,
}

impl Fixture {
    fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        Fixture {
            url: format!("sqlite://{}", dir.path().join("store.db").display()),
            _dir: Some(dir),
            _db: None,
        }
    }

    async fn postgres() -> Option<Fixture> {
        let db = wfm_testkit::postgres().await?;
        Some(Fixture {
            url: db.url().to_string(),
            _dir: None,
            _db: Some(db),
        })
    }

    async fn open(&self) -> Arc<dyn Store> {
        match wfm_store::open(&self.url).await {
            Ok(store) => store,
            Err(e) => panic!("opening {}: {e}", self.url),
        }
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Fixture::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(fixture) = super::Fixture::postgres().await else { return };
                    super::$name(fixture).await
                }
            )*
        }
    };
}

on_both_backends!(
    entries_are_created_replaced_listed_and_deleted,
    accounts_and_flows_are_separate_tables,
    entries_survive_reopening,
    only_dead_letters_are_discarded,
);

fn entry(name: &str, tenant: Option<&str>, kind: &str, body: &str, at: i64) -> CatalogEntry {
    CatalogEntry {
        name: name.to_string(),
        tenant: tenant.map(str::to_string),
        kind: kind.to_string(),
        body: body.to_string(),
        created_at: at,
        updated_at: at,
    }
}

async fn entries_are_created_replaced_listed_and_deleted(f: Fixture) {
    let store = f.open().await;
    let accounts = CatalogTable::Accounts;
    assert!(store.catalog(accounts).await.unwrap().is_empty());
    store
        .put_catalog(
            accounts,
            &entry(
                "wfm-b",
                Some("t1"),
                "http_post",
                r#"{"url":"http://b"}"#,
                10,
            ),
        )
        .await
        .unwrap();
    store
        .put_catalog(
            accounts,
            &entry("wfm-a", None, "files", r#"{"dir":"/tmp/x"}"#, 11),
        )
        .await
        .unwrap();
    let listed = store.catalog(accounts).await.unwrap();
    assert_eq!(
        listed,
        vec![
            entry("wfm-a", None, "files", r#"{"dir":"/tmp/x"}"#, 11),
            entry(
                "wfm-b",
                Some("t1"),
                "http_post",
                r#"{"url":"http://b"}"#,
                10
            ),
        ]
    );

    // Replacing keeps created_at and takes everything else.
    store
        .put_catalog(
            accounts,
            &entry("wfm-b", Some("t2"), "loxysoft", r#"{"url":"http://c"}"#, 20),
        )
        .await
        .unwrap();
    let b = store
        .catalog(accounts)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "wfm-b")
        .unwrap();
    assert_eq!(
        (b.tenant.as_deref(), b.kind.as_str(), b.body.as_str()),
        (Some("t2"), "loxysoft", r#"{"url":"http://c"}"#)
    );
    assert_eq!((b.created_at, b.updated_at), (10, 20));

    assert!(store.delete_catalog(accounts, "wfm-b").await.unwrap());
    assert!(!store.delete_catalog(accounts, "wfm-b").await.unwrap());
    let names: Vec<String> = store
        .catalog(accounts)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["wfm-a"]);
}

async fn accounts_and_flows_are_separate_tables(f: Fixture) {
    let store = f.open().await;
    store
        .put_catalog(
            CatalogTable::Flows,
            &entry("same", Some("t1"), "interactions", "{}", 1),
        )
        .await
        .unwrap();
    store
        .put_catalog(
            CatalogTable::Accounts,
            &entry("same", Some("t1"), "files", "{}", 2),
        )
        .await
        .unwrap();
    assert_eq!(store.catalog(CatalogTable::Flows).await.unwrap().len(), 1);
    assert!(
        store
            .delete_catalog(CatalogTable::Flows, "same")
            .await
            .unwrap()
    );
    assert!(store.catalog(CatalogTable::Flows).await.unwrap().is_empty());
    assert_eq!(
        store.catalog(CatalogTable::Accounts).await.unwrap()[0].kind,
        "files"
    );
}

async fn entries_survive_reopening(f: Fixture) {
    {
        let store = f.open().await;
        store
            .put_catalog(
                CatalogTable::Flows,
                &entry("rta", Some("t1"), "agent_states", r#"{"target":"x"}"#, 5),
            )
            .await
            .unwrap();
    }
    let store = f.open().await;
    assert_eq!(
        store.catalog(CatalogTable::Flows).await.unwrap(),
        vec![entry(
            "rta",
            Some("t1"),
            "agent_states",
            r#"{"target":"x"}"#,
            5
        )]
    );
}

async fn only_dead_letters_are_discarded(f: Fixture) {
    let store = f.open().await;
    let message = |key: &str| NewMessage {
        flow: "f".to_string(),
        key: key.to_string(),
        idempotency_key: format!("f:{key}"),
        name: format!("{key}.json"),
        content_type: "application/json".to_string(),
        payload: b"{}".to_vec(),
    };
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(vec![message("a"), message("b")], 1_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let claimed = store.claim_due(1_000, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let (dead, pending) = (claimed[0].id, claimed[1].id);
    store.mark_dead(dead, "refused").await.unwrap();

    assert!(!store.discard_dead(pending).await.unwrap(), "pending");
    assert!(!store.discard_dead(987_654).await.unwrap(), "no such id");
    assert!(store.discard_dead(dead).await.unwrap());
    assert!(!store.discard_dead(dead).await.unwrap(), "already gone");
    let left = store
        .outbox(&OutboxFilter {
            limit: 10,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        left.iter().map(|m| (m.id, m.status)).collect::<Vec<_>>(),
        vec![(pending, OutboxStatus::Pending)]
    );
}
