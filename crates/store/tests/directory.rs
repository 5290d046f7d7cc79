//! Directory sync's tables (migration 5) — snapshots per flow, the person registry and the audit
//! log — tested with the same bodies on SQLite and PostgreSQL (skipped when there is none).

use std::collections::BTreeMap;
use std::sync::Arc;

use wfm_model::{DirectoryGroup, DirectoryQueue, DirectorySnapshot, DirectoryUser};
use wfm_store::{DirectoryLogFilter, NewDirectoryLogEntry, PersonLink, Store};

struct Fixture {
    url: String,
    _keep: Backend,
}

enum Backend {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] wfm_testkit::TestDatabase),
}

impl Fixture {
    fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Fixture {
            url,
            _keep: Backend::Sqlite(dir),
        }
    }

    async fn postgres() -> Option<Fixture> {
        let db = wfm_testkit::postgres().await?;
        Some(Fixture {
            url: db.url().to_string(),
            _keep: Backend::Postgres(db),
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
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(fixture) = super::Fixture::postgres().await else { return };
                    super::$name(fixture).await
                }
            )*
        }
    };
}

on_both_backends!(
    snapshots_are_kept_per_flow_and_replaced,
    a_rolled_back_snapshot_leaves_the_previous_one,
    persons_keep_their_first_id_and_are_per_target,
    the_log_lists_newest_first_and_filters,
);

fn snapshot(name: &str) -> DirectorySnapshot {
    DirectorySnapshot {
        users: vec![DirectoryUser {
            id: "u-1".into(),
            first_name: name.into(),
            last_name: "Lovelace".into(),
            email: Some("ada@example.com".into()),
            active: true,
            groups: vec!["g-1".into()],
            skills: vec!["q-1".into()],
            attributes: BTreeMap::from([("sub_tenant".to_string(), "north".to_string())]),
        }],
        groups: vec![DirectoryGroup {
            id: "g-1".into(),
            name: "Sales".into(),
            active: true,
        }],
        queues: vec![DirectoryQueue {
            id: "q-1".into(),
            name: "Sales queue".into(),
            active: false,
        }],
    }
}

async fn snapshots_are_kept_per_flow_and_replaced(f: Fixture) {
    let store = f.open().await;
    assert_eq!(
        store
            .directory_snapshot("dir", "acme", "store")
            .await
            .unwrap(),
        None
    );
    let mut tx = store.begin().await.unwrap();
    tx.save_directory_snapshot("dir", "acme", "store", &snapshot("Ada"), 1_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.save_directory_snapshot("dir", "acme", "store", &snapshot("Augusta"), 2_000)
        .await
        .unwrap();
    tx.save_directory_snapshot("other", "acme", "store", &snapshot("Ada"), 2_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .directory_snapshot("dir", "acme", "store")
            .await
            .unwrap(),
        Some(snapshot("Augusta"))
    );
    assert_eq!(
        store
            .directory_snapshot("other", "acme", "store")
            .await
            .unwrap(),
        Some(snapshot("Ada"))
    );
    assert_eq!(
        store.directory_snapshot("dir", "acme", "cx").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .directory_snapshot("dir", "beta", "store")
            .await
            .unwrap(),
        None
    );
}

async fn a_rolled_back_snapshot_leaves_the_previous_one(f: Fixture) {
    let store = f.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.save_directory_snapshot("dir", "acme", "store", &snapshot("Ada"), 1_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.save_directory_snapshot("dir", "acme", "store", &snapshot("Augusta"), 2_000)
        .await
        .unwrap();
    tx.add_persons(vec![person("store", "u-1", "p-1")])
        .await
        .unwrap();
    tx.log_directory_changes(vec![entry("dir", "acme", "user_renamed")])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        store
            .directory_snapshot("dir", "acme", "store")
            .await
            .unwrap(),
        Some(snapshot("Ada"))
    );
    assert!(store.persons("acme", "calabrio").await.unwrap().is_empty());
    let log = store
        .directory_log(&DirectoryLogFilter {
            limit: 10,
            ..DirectoryLogFilter::default()
        })
        .await
        .unwrap();
    assert!(log.is_empty());
}

fn person(source: &str, external_id: &str, person_id: &str) -> PersonLink {
    PersonLink {
        tenant: "acme".into(),
        target: "calabrio".into(),
        source: source.into(),
        external_id: external_id.into(),
        person_id: person_id.into(),
        created_at: 5,
    }
}

async fn persons_keep_their_first_id_and_are_per_target(f: Fixture) {
    let store = f.open().await;
    let mut tx = store.begin().await.unwrap();
    let added = tx
        .add_persons(vec![
            person("cx", "u-1", "p-1"),
            person("scim", "u-1", "p-2"),
            PersonLink {
                target: "other".into(),
                ..person("cx", "u-1", "p-3")
            },
        ])
        .await
        .unwrap();
    assert_eq!(added, 3);
    // The same user of the same source again: the first person stays.
    let again = tx
        .add_persons(vec![person("cx", "u-1", "p-9")])
        .await
        .unwrap();
    assert_eq!(again, 0);
    tx.commit().await.unwrap();
    let persons = store.persons("acme", "calabrio").await.unwrap();
    assert_eq!(
        persons,
        vec![person("cx", "u-1", "p-1"), person("scim", "u-1", "p-2")]
    );
    assert_eq!(store.persons("acme", "other").await.unwrap().len(), 1);
    assert!(store.persons("beta", "calabrio").await.unwrap().is_empty());
}

fn entry(flow: &str, tenant: &str, change: &str) -> NewDirectoryLogEntry {
    NewDirectoryLogEntry {
        tenant: tenant.into(),
        flow: flow.into(),
        source: "store".into(),
        at: 42,
        change: change.into(),
        subject: "user u-1".into(),
        before: Some(r#"{"first_name":"Ada"}"#.into()),
        after: None,
        action: "ignore".into(),
        person_id: Some("p-1".into()),
    }
}

async fn the_log_lists_newest_first_and_filters(f: Fixture) {
    let store = f.open().await;
    let mut tx = store.begin().await.unwrap();
    let n = tx
        .log_directory_changes(vec![
            entry("dir", "acme", "user_added"),
            entry("dir", "acme", "user_renamed"),
            entry("dir-b", "beta", "queue_added"),
        ])
        .await
        .unwrap();
    assert_eq!(n, 3);
    tx.commit().await.unwrap();
    let all = store
        .directory_log(&DirectoryLogFilter {
            limit: 10,
            ..DirectoryLogFilter::default()
        })
        .await
        .unwrap();
    let changes: Vec<&str> = all.iter().map(|e| e.change.as_str()).collect();
    assert_eq!(changes, ["queue_added", "user_renamed", "user_added"]);
    assert_eq!(all[2].before.as_deref(), Some(r#"{"first_name":"Ada"}"#));
    assert_eq!(all[2].after, None);
    assert_eq!(all[2].person_id.as_deref(), Some("p-1"));
    let acme = store
        .directory_log(&DirectoryLogFilter {
            tenant: Some("acme".into()),
            limit: 10,
            ..DirectoryLogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(acme.len(), 2);
    let page = store
        .directory_log(&DirectoryLogFilter {
            flow: Some("dir".into()),
            before_id: Some(acme[0].id),
            limit: 10,
            ..DirectoryLogFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].change, "user_added");
    let none = store
        .directory_log(&DirectoryLogFilter {
            limit: 0,
            ..DirectoryLogFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}
