//! The `directory` flow against real stores (SQLite in a temporary directory, PostgreSQL when one
//! is available): the store's agents and queues as the source, a dry run that writes nothing, and a
//! sync whose snapshot, persons, audit log and outbox message commit together.

use std::collections::BTreeMap;
use std::sync::Arc;

use wfm_connectors::accounts::PropertyValue;
use wfm_engine::directory::StoreDirectory;
use wfm_engine::flows::directory::sync;
use wfm_engine::flows::{FlowDirection, FlowKind, FlowSettings};
use wfm_model::directory_actions::{DirectoryAction, DirectoryChangeSet};
use wfm_model::{Agent, Queue, Record, Schedule, Tenant};
use wfm_store::{DirectoryLogFilter, OutboxFilter, Store};

fn agent(id: &str, first: &str, team: &str, skills: &[&str], active: bool) -> Record {
    Record::Agent(Agent {
        tenant: "t1".into(),
        agent: id.into(),
        first_name: first.into(),
        last_name: "Lind".into(),
        email: None,
        team: Some(team.into()),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        active,
    })
}

fn queue(id: &str, name: &str) -> Record {
    Record::Queue(Queue {
        tenant: "t1".into(),
        queue: id.into(),
        name: name.into(),
        sl_seconds: 20,
        short_abandon_seconds: 5,
    })
}

fn flow(filters: &[(&str, &str)]) -> FlowSettings {
    let mut options = BTreeMap::new();
    options.insert(
        "filters".to_string(),
        PropertyValue::Map(
            filters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    );
    FlowSettings {
        name: "t1-directory".into(),
        kind: FlowKind::Directory,
        tenant: "t1".into(),
        direction: FlowDirection::Sync {
            source: None,
            target: "calabrio".into(),
        },
        schedule: Schedule::Every(std::time::Duration::from_secs(3600)),
        enabled: true,
        options,
    }
}

async fn write(store: &dyn Store, records: Vec<Record>) {
    let mut tx = store.begin().await.unwrap();
    tx.write(records).await.unwrap();
    tx.commit().await.unwrap();
}

async fn body(store: Arc<dyn Store>) {
    write(
        &*store,
        vec![Record::Tenant(Tenant {
            tenant: "t1".into(),
            name: "Nordic".into(),
            time_zone: "Europe/Stockholm".into(),
            interval_minutes: Default::default(),
            admin_reasons: vec![],
        })],
    )
    .await;
    write(
        &*store,
        vec![
            queue("q1", "Sales"),
            queue("q2", "Support"),
            agent("a1", "Ada", "Sales team", &["q1"], true),
            agent("a2", "Bo", "Support team", &["q2"], true),
        ],
    )
    .await;
    let source = StoreDirectory::new(store.clone());
    // Only the sales team is synced.
    let flow = flow(&[("team", "^Sales")]);

    let dry = sync(&*store, &flow, &source, false).await.unwrap();
    assert!(dry.first);
    assert_eq!((dry.users, dry.left_out), (2, 1));
    assert_eq!(dry.plan.new_persons.len(), 1);
    assert!(store.persons("t1", "calabrio").await.unwrap().is_empty());
    assert!(
        store
            .directory_snapshot("t1-directory", "t1", "store")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .outbox(&OutboxFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .is_empty()
    );

    let first = sync(&*store, &flow, &source, true).await.unwrap();
    assert_eq!(first.enqueued, 1);
    let persons = store.persons("t1", "calabrio").await.unwrap();
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0].external_id, "a1");
    let outbox = store
        .outbox(&OutboxFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1);
    let claimed = store.claim_due(i64::MAX / 2, 1000, 10).await.unwrap();
    let set: DirectoryChangeSet = serde_json::from_slice(&claimed[0].payload).unwrap();
    assert_eq!(set.source, "store");
    let created: Vec<&str> = set
        .actions
        .iter()
        .filter_map(|a| match a {
            DirectoryAction::CreatePerson {
                external_id,
                origin,
                ..
            } => {
                assert_eq!(origin, "ACD - store");
                Some(external_id.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(created, ["a1"]);
    let log = store
        .directory_log(&DirectoryLogFilter {
            flow: Some("t1-directory".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    // 2 teams, 2 queues, 1 user (Bo is filtered out).
    assert_eq!(log.len(), 5);

    // A filtered-out user changing produces nothing; a synced one being disabled deactivates.
    write(
        &*store,
        vec![
            agent("a1", "Ada", "Sales team", &["q1"], false),
            agent("a2", "Bosse", "Support team", &["q2"], true),
        ],
    )
    .await;
    let second = sync(&*store, &flow, &source, true).await.unwrap();
    let kinds: Vec<&str> = second
        .plan
        .changes
        .iter()
        .map(|c| c.change.kind().as_str())
        .collect();
    assert_eq!(kinds, ["user_disabled"]);
    assert_eq!(
        second.plan.changes[0].person_id.as_deref(),
        Some(persons[0].person_id.as_str())
    );
    // Nothing new: no change, no message, the log unchanged.
    let third = sync(&*store, &flow, &source, true).await.unwrap();
    assert!(third.plan.changes.is_empty());
    assert_eq!(third.enqueued, 0);
}

#[tokio::test]
async fn sqlite_directory_flow() {
    let dir = tempfile::tempdir().unwrap();
    let store = wfm_store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .unwrap();
    body(store).await;
}

#[tokio::test]
async fn postgres_directory_flow() {
    let Some(db) = wfm_testkit::postgres().await else {
        return;
    };
    let store = wfm_store::open(db.url()).await.unwrap();
    body(store).await;
}
