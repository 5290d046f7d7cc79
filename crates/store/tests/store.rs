//! The store's behaviour, the same test bodies run against SQLite (a file in a temporary
//! directory) and PostgreSQL (a fresh database from wfm-testkit; skipped when there is none).

use std::sync::Arc;
use std::time::Duration;

use wfm_model::{Record, RecordKind};
use wfm_store::{NaturalKey, Store, StoreError, TableCounts, WriteCounts};

/// Migrations this version of the store applies.
const MIGRATIONS: i64 = 8;

/// One backend to run a test body against, with a way to look under the store's API.
struct Fixture {
    url: String,
    backend: Backend,
}

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(wfm_testkit::TestDatabase),
}

impl Fixture {
    fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Fixture {
            url,
            backend: Backend::Sqlite(dir),
        }
    }

    async fn postgres() -> Option<Fixture> {
        let db = wfm_testkit::postgres().await?;
        Some(Fixture {
            url: db.url().to_string(),
            backend: Backend::Postgres(db),
        })
    }

    async fn open(&self) -> Arc<dyn Store> {
        match wfm_store::open(&self.url).await {
            Ok(store) => store,
            Err(e) => panic!("opening {}: {e}", self.url),
        }
    }

    /// Runs a query returning one BIGINT, straight on the database.
    async fn scalar(&self, sql: &str) -> i64 {
        match &self.backend {
            Backend::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
                conn.query_row(sql, [], |r| r.get(0)).unwrap()
            }
            Backend::Postgres(db) => {
                let client = db.connect().await.unwrap();
                client.query_one(sql, &[]).await.unwrap().get(0)
            }
        }
    }

    /// Runs statements straight on the database.
    async fn exec(&self, sql: &str) {
        match &self.backend {
            Backend::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Backend::Postgres(db) => {
                db.connect()
                    .await
                    .unwrap()
                    .batch_execute(sql)
                    .await
                    .unwrap();
            }
        }
    }
}

/// Generates, for each test body, one test per backend: `sqlite::name` and `postgres::name`.
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
    migrations_run_once_and_reopening_is_idempotent,
    concurrent_opens_migrate_once,
    a_newer_schema_is_refused,
    every_kind_round_trips,
    identical_rewrite_is_unchanged_and_keeps_changed_at,
    rollback_explicit_or_by_drop_leaves_nothing,
    failed_write_cannot_be_committed,
    agents_maintain_teams_and_skills,
    counts_are_per_tenant,
    pages_of_one_cover_everything_in_key_order,
    tenants_are_kept_apart,
    uncommitted_writes_are_invisible_to_readers,
    one_write_may_repeat_a_key,
    after_key_of_another_kind_is_refused,
    large_batches_are_written_whole,
    segments_are_read_by_offered_time_in_pages,
    the_change_head_skips_history,
    latest_states_are_each_agents_last_event,
    agent_timelines_start_with_the_state_before_the_window,
);

fn parse(kind: RecordKind, json: &str) -> Record {
    let record = kind
        .parse_json(json, &mut |field| panic!("unknown field {field}"))
        .unwrap_or_else(|e| panic!("{json}: {e}"));
    record.validate().unwrap_or_else(|e| panic!("{json}: {e}"));
    record
}

fn tenant(id: &str) -> Record {
    parse(
        RecordKind::Tenants,
        &format!(
            r#"{{"tenant":"{id}","name":"Tenant {id}","time_zone":"Europe/Stockholm","interval_minutes":30,"admin_reasons":["Meeting","Training"]}}"#
        ),
    )
}

fn queue(tenant: &str, id: &str, name: &str) -> Record {
    parse(
        RecordKind::Queues,
        &format!(
            r#"{{"tenant":"{tenant}","queue":"{id}","name":"{name}","sl_seconds":30,"short_abandon_seconds":3}}"#
        ),
    )
}

fn agent(tenant: &str, id: &str, team: Option<&str>, skills: &[&str]) -> Record {
    let mut json = serde_json::json!({
        "tenant": tenant, "agent": id, "first_name": "Ada", "last_name": "Lind",
        "email": format!("{id}@example.com"), "skills": skills, "active": true,
    });
    if let Some(team) = team {
        json["team"] = team.into();
    }
    parse(RecordKind::Agents, &json.to_string())
}

fn answered(tenant: &str, contact: &str, seq: u32) -> Record {
    parse(
        RecordKind::Interactions,
        &format!(
            r#"{{"tenant":"{tenant}","contact_id":"{contact}","seq":{seq},"channel":"voice","direction":"inbound","queue":"q1","offered_at":"2024-03-01T10:00:00.123+01:00","answered_at":"2024-03-01T09:00:12.5Z","agent":"a1","talk_s":120,"hold_s":5,"acw_s":30,"transferred":true,"metadata":{{"lang":"sv","vip":"yes"}}}}"#
        ),
    )
}

fn state(tenant: &str, agent: &str, at: &str, state: &str) -> Record {
    parse(
        RecordKind::States,
        &format!(r#"{{"tenant":"{tenant}","agent":"{agent}","at":"{at}","state":"{state}"}}"#),
    )
}

/// One of each kind, with optional fields both set and absent.
fn sample(tenant_id: &str) -> Vec<Record> {
    vec![
        tenant(tenant_id),
        parse(
            RecordKind::Tenants,
            &format!(r#"{{"tenant":"{tenant_id}-bare","name":"Bare"}}"#),
        ),
        queue(tenant_id, "q1", "Sales"),
        parse(
            RecordKind::Queues,
            &format!(r#"{{"tenant":"{tenant_id}","queue":"q2","name":"Support"}}"#),
        ),
        // Skills in an order that is not sorted: it must survive.
        agent(tenant_id, "a1", Some("Team One"), &["q2", "q1"]),
        parse(
            RecordKind::Agents,
            &format!(
                r#"{{"tenant":"{tenant_id}","agent":"a2","first_name":"","last_name":"Berg","active":false}}"#
            ),
        ),
        answered(tenant_id, "c1", 1),
        parse(
            RecordKind::Interactions,
            &format!(
                r#"{{"tenant":"{tenant_id}","contact_id":"c1","seq":2,"channel":"chat","direction":"inbound","queue":"q2","offered_at":"2024-03-01T09:01:00Z","abandoned_at":"2024-03-01T09:01:07.999Z"}}"#
            ),
        ),
        parse(
            RecordKind::Interactions,
            &format!(
                r#"{{"tenant":"{tenant_id}","contact_id":"c2","seq":1,"channel":"email","direction":"outbound","queue":null,"offered_at":"2024-03-01T09:02:00Z","answered_at":"2024-03-01T09:02:00Z","agent":"a2","talk_s":60}}"#
            ),
        ),
        parse(
            RecordKind::Interactions,
            &format!(
                r#"{{"tenant":"{tenant_id}","contact_id":"c3","seq":1,"channel":"sms","direction":"inbound","queue":"q1","offered_at":"2024-03-01T09:03:00Z","overflowed":true,"metadata":{{}}}}"#
            ),
        ),
        parse(
            RecordKind::States,
            &format!(
                r#"{{"tenant":"{tenant_id}","agent":"a1","at":"2024-03-01T08:00:00.001Z","state":"not_ready","reason":"Lunch","source_code":"NR-7"}}"#
            ),
        ),
        state(tenant_id, "a1", "2024-03-01T08:30:00Z", "ready"),
    ]
}

async fn write(store: &dyn Store, records: Vec<Record>) -> WriteCounts {
    let mut tx = store.begin().await.unwrap();
    let counts = tx.write(records).await.unwrap();
    tx.commit().await.unwrap();
    counts
}

async fn read_all(store: &dyn Store, kind: RecordKind, tenant: Option<&str>) -> Vec<Record> {
    store.read_page(kind, tenant, None, 10_000).await.unwrap()
}

/// `records` of `kind`, in natural-key order: what reading them back must give.
fn expected(records: &[Record], kind: RecordKind, tenant: Option<&str>) -> Vec<Record> {
    let mut out: Vec<Record> = records
        .iter()
        .filter(|r| r.kind() == kind && tenant.is_none_or(|t| r.tenant() == t))
        .cloned()
        .collect();
    out.sort_by_key(NaturalKey::of);
    out
}

async fn migrations_run_once_and_reopening_is_idempotent(f: Fixture) {
    let store = f.open().await;
    assert_eq!(store.counts(None).await.unwrap(), TableCounts::default());
    write(&*store, vec![tenant("t1")]).await;
    let applied = f.scalar("SELECT count(*) FROM schema_migrations").await;
    assert_eq!(applied, MIGRATIONS, "every migration recorded once");
    let applied_at = f
        .scalar("SELECT max(applied_at) FROM schema_migrations")
        .await;
    drop(store);

    for _ in 0..2 {
        let store = f.open().await;
        assert_eq!(store.counts(None).await.unwrap().tenants, 1);
        drop(store);
    }
    assert_eq!(
        f.scalar("SELECT count(*) FROM schema_migrations").await,
        MIGRATIONS
    );
    assert_eq!(
        f.scalar("SELECT max(applied_at) FROM schema_migrations")
            .await,
        applied_at
    );
    // The tables of later issues exist.
    for table in ["cursors", "runs", "outbox"] {
        assert_eq!(f.scalar(&format!("SELECT count(*) FROM {table}")).await, 0);
    }
}

async fn concurrent_opens_migrate_once(f: Fixture) {
    let url = f.url.clone();
    let mut opens = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let url = url.clone();
        opens.spawn(async move { wfm_store::open(&url).await.map(|_| ()) });
    }
    while let Some(opened) = opens.join_next().await {
        opened.unwrap().unwrap();
    }
    assert_eq!(
        f.scalar("SELECT count(*) FROM schema_migrations").await,
        MIGRATIONS
    );
}

async fn a_newer_schema_is_refused(f: Fixture) {
    drop(f.open().await);
    f.exec("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
        .await;
    let e = wfm_store::open(&f.url).await.err().expect("refused");
    assert!(
        matches!(e, StoreError::SchemaTooNew { found: 99, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("has schema version 99"), "{e}");
}

async fn every_kind_round_trips(f: Fixture) {
    let store = f.open().await;
    let records = sample("t1");
    let counts = write(&*store, records.clone()).await;
    assert_eq!(
        counts,
        WriteCounts {
            written: records.len() as u64,
            unchanged: 0
        }
    );
    for kind in RecordKind::ALL {
        let read = read_all(&*store, kind, None).await;
        assert_eq!(read, expected(&records, kind, None), "{kind}");
    }
    let tenants = store.tenants().await.unwrap();
    assert_eq!(
        tenants
            .iter()
            .map(|t| t.tenant.as_str())
            .collect::<Vec<_>>(),
        ["t1", "t1-bare"]
    );
    // Milliseconds survive.
    let Record::Segment(s) = &read_all(&*store, RecordKind::Interactions, Some("t1")).await[0]
    else {
        panic!("not a segment")
    };
    assert_eq!(s.offered_at.as_millisecond() % 1000, 123);
    assert_eq!(s.answered_at.unwrap().as_millisecond() % 1000, 500);
}

async fn identical_rewrite_is_unchanged_and_keeps_changed_at(f: Fixture) {
    let store = f.open().await;
    let records = sample("t1");
    write(&*store, records.clone()).await;
    let segment_stamp =
        "SELECT changed_at FROM segments WHERE tenant = 't1' AND contact_id = 'c1' AND seq = 1";
    let state_stamp = "SELECT max(changed_at) FROM states WHERE tenant = 't1'";
    let (seg_before, state_before) = (f.scalar(segment_stamp).await, f.scalar(state_stamp).await);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let counts = write(&*store, records.clone()).await;
    assert_eq!(
        counts,
        WriteCounts {
            written: 0,
            unchanged: records.len() as u64
        }
    );
    assert_eq!(f.scalar(segment_stamp).await, seg_before);
    assert_eq!(f.scalar(state_stamp).await, state_before);

    let mut changed = answered("t1", "c1", 1);
    if let Record::Segment(s) = &mut changed {
        s.talk_s += 1;
        s.metadata.insert("vip".into(), "no".into());
    }
    let mut changed_state = state("t1", "a1", "2024-03-01T08:30:00Z", "busy");
    if let Record::State(e) = &mut changed_state {
        e.source_code = Some("B".into());
    }
    let counts = write(
        &*store,
        vec![
            changed.clone(),
            changed_state.clone(),
            queue("t1", "q1", "Sales"),
        ],
    )
    .await;
    assert_eq!(
        counts,
        WriteCounts {
            written: 2,
            unchanged: 1
        }
    );
    assert!(f.scalar(segment_stamp).await > seg_before);
    assert!(f.scalar(state_stamp).await > state_before);
    let segments = read_all(&*store, RecordKind::Interactions, Some("t1")).await;
    assert_eq!(segments[0], changed);
    let states = read_all(&*store, RecordKind::States, Some("t1")).await;
    assert_eq!(states[1], changed_state);
}

async fn rollback_explicit_or_by_drop_leaves_nothing(f: Fixture) {
    let store = f.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.write(sample("t1")).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.counts(None).await.unwrap(), TableCounts::default());

    let mut tx = store.begin().await.unwrap();
    tx.write(sample("t1")).await.unwrap();
    drop(tx);
    assert_eq!(store.counts(None).await.unwrap(), TableCounts::default());

    // The store is still writable once the dropped transaction has rolled back.
    write(&*store, vec![tenant("t2")]).await;
    let counts = store.counts(None).await.unwrap();
    assert_eq!(
        counts,
        TableCounts {
            tenants: 1,
            ..TableCounts::default()
        }
    );
}

async fn failed_write_cannot_be_committed(f: Fixture) {
    let store = f.open().await;
    let mut tx = store.begin().await.unwrap();
    tx.write(vec![tenant("t1")]).await.unwrap();
    // Sabotage under the store: a table the next write needs disappears. (Only possible in a
    // test; a real failure would be a full disk or a lost connection.)
    match &f.backend {
        Backend::Sqlite(dir) => {
            // The transaction holds the write lock; another connection cannot sabotage, so
            // make the write fail by dropping the table before the transaction begins instead.
            drop(tx);
            let conn = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn.execute_batch("DROP TABLE queues").unwrap();
            tx = store.begin().await.unwrap();
            tx.write(vec![tenant("t1")]).await.unwrap();
        }
        Backend::Postgres(db) => {
            let client = db.connect().await.unwrap();
            client.batch_execute("DROP TABLE queues").await.unwrap();
        }
    }
    let e = tx
        .write(vec![queue("t1", "q1", "Sales")])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("writing queues"), "{e}");
    let e = tx.write(vec![tenant("t2")]).await.unwrap_err();
    assert!(matches!(e, StoreError::Aborted { .. }), "{e}");
    let e = tx.commit().await.unwrap_err();
    assert!(matches!(e, StoreError::Aborted { .. }), "{e}");
    assert!(e.to_string().contains("nothing written"), "{e}");
    assert!(e.to_string().contains(&store.describe()), "{e}");
    assert_eq!(store.tenants().await.unwrap(), Vec::new());
}

async fn agents_maintain_teams_and_skills(f: Fixture) {
    let store = f.open().await;
    let a1 = agent("t1", "a1", Some("T1"), &["q1", "q2"]);
    let a2 = agent("t1", "a2", Some("T1"), &["q2"]);
    write(&*store, vec![a1.clone(), a2.clone()]).await;
    let counts = store.counts(Some("t1")).await.unwrap();
    assert_eq!(
        (
            counts.agents,
            counts.teams,
            counts.skills,
            counts.agent_skills
        ),
        (2, 1, 2, 3)
    );

    // Unchanged agent, unchanged skills.
    let counts = write(&*store, vec![a1.clone()]).await;
    assert_eq!(
        counts,
        WriteCounts {
            written: 0,
            unchanged: 1
        }
    );

    // A skill removed: only the links change, and that counts as a write.
    let a1_fewer = agent("t1", "a1", Some("T1"), &["q2"]);
    let counts = write(&*store, vec![a1_fewer.clone()]).await;
    assert_eq!(
        counts,
        WriteCounts {
            written: 1,
            unchanged: 0
        }
    );
    let counts = store.counts(Some("t1")).await.unwrap();
    assert_eq!((counts.skills, counts.agent_skills), (2, 2));

    // Skills reordered, added, and a new team; the old team stays.
    let a1_more = agent("t1", "a1", Some("T2"), &["q3", "q2"]);
    let a2_none = agent("t1", "a2", None, &[]);
    let counts = write(&*store, vec![a1_more.clone(), a2_none.clone()]).await;
    assert_eq!(
        counts,
        WriteCounts {
            written: 2,
            unchanged: 0
        }
    );
    let counts = store.counts(Some("t1")).await.unwrap();
    assert_eq!(
        (counts.teams, counts.skills, counts.agent_skills),
        (2, 3, 2)
    );
    assert_eq!(
        read_all(&*store, RecordKind::Agents, Some("t1")).await,
        vec![a1_more, a2_none]
    );
    assert_eq!(
        f.scalar("SELECT count(*) FROM agent_skills WHERE tenant = 't1' AND agent = 'a2'")
            .await,
        0
    );
}

async fn counts_are_per_tenant(f: Fixture) {
    let store = f.open().await;
    write(&*store, sample("t1")).await;
    write(
        &*store,
        vec![
            tenant("t2"),
            queue("t2", "q1", "Sales"),
            agent("t2", "a1", None, &["q1"]),
            answered("t2", "c1", 1),
        ],
    )
    .await;
    let t1 = TableCounts {
        tenants: 1,
        queues: 2,
        teams: 1,
        agents: 2,
        skills: 2,
        agent_skills: 2,
        segments: 4,
        states: 2,
    };
    assert_eq!(store.counts(Some("t1")).await.unwrap(), t1);
    let t2 = TableCounts {
        tenants: 1,
        queues: 1,
        teams: 0,
        agents: 1,
        skills: 1,
        agent_skills: 1,
        segments: 1,
        states: 0,
    };
    assert_eq!(store.counts(Some("t2")).await.unwrap(), t2);
    // "t1-bare" is a tenant of its own.
    let all = store.counts(None).await.unwrap();
    assert_eq!(all.tenants, 3);
    assert_eq!(all.segments, 5);
    assert_eq!(
        store.counts(Some("nobody")).await.unwrap(),
        TableCounts::default()
    );
}

async fn pages_of_one_cover_everything_in_key_order(f: Fixture) {
    let store = f.open().await;
    // Ids that a locale-aware collation would order differently from bytes.
    let contacts = ["a", "B", "_c", "a-b", "ab", "Å", "c10", "c9"];
    let mut records = Vec::new();
    for t in ["t2", "t1", "T3"] {
        for (i, contact) in contacts.iter().enumerate() {
            records.push(answered(t, contact, 1));
            if i % 3 == 0 {
                records.push(answered(t, contact, 2));
                records.push(answered(t, contact, 10));
            }
        }
    }
    write(&*store, records.clone()).await;

    for tenant in [None, Some("t1"), Some("T3")] {
        let mut pages = Vec::new();
        let mut after: Option<NaturalKey> = None;
        loop {
            let page = store
                .read_page(RecordKind::Interactions, tenant, after.as_ref(), 1)
                .await
                .unwrap();
            match page.as_slice() {
                [] => break,
                [one] => after = Some(NaturalKey::of(one)),
                more => panic!("a page of 1 held {}", more.len()),
            }
            pages.extend(page);
        }
        assert_eq!(
            pages,
            expected(&records, RecordKind::Interactions, tenant),
            "{tenant:?}"
        );
    }

    // Bigger pages split at the same places.
    let first = store
        .read_page(RecordKind::Interactions, None, None, 7)
        .await
        .unwrap();
    let rest = store
        .read_page(
            RecordKind::Interactions,
            None,
            Some(&NaturalKey::of(&first[6])),
            1000,
        )
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), records.len());
    assert_eq!(
        store
            .read_page(RecordKind::Interactions, None, None, 0)
            .await
            .unwrap(),
        Vec::new()
    );
}

async fn tenants_are_kept_apart(f: Fixture) {
    let store = f.open().await;
    let records = vec![
        tenant("t1"),
        tenant("t2"),
        queue("t1", "q1", "Sales"),
        queue("t2", "q1", "Försäljning"),
        agent("t1", "a1", Some("T"), &["q1"]),
        agent("t2", "a1", Some("T"), &[]),
        answered("t1", "c1", 1),
        answered("t2", "c1", 1),
        state("t1", "a1", "2024-03-01T08:00:00Z", "ready"),
        state("t2", "a1", "2024-03-01T08:00:00Z", "busy"),
    ];
    let counts = write(&*store, records.clone()).await;
    assert_eq!(counts.written, records.len() as u64);
    for t in ["t1", "t2"] {
        for kind in RecordKind::ALL {
            let read = read_all(&*store, kind, Some(t)).await;
            assert!(read.iter().all(|r| r.tenant() == t), "{kind} of {t}");
            assert_eq!(read, expected(&records, kind, Some(t)), "{kind} of {t}");
        }
    }
    // Both queues q1 exist, each with its own name.
    let queues = read_all(&*store, RecordKind::Queues, None).await;
    assert_eq!(queues.len(), 2);
    let teams = store.counts(None).await.unwrap().teams;
    assert_eq!(teams, 2);
}

async fn uncommitted_writes_are_invisible_to_readers(f: Fixture) {
    let store = f.open().await;
    write(&*store, vec![tenant("t1")]).await;
    let mut tx = store.begin().await.unwrap();
    tx.write(vec![tenant("t2"), queue("t2", "q1", "Sales")])
        .await
        .unwrap();
    // Readers do not wait for the writer, and do not see its work.
    assert_eq!(store.tenants().await.unwrap().len(), 1);
    assert_eq!(store.counts(None).await.unwrap().queues, 0);
    tx.commit().await.unwrap();
    assert_eq!(store.tenants().await.unwrap().len(), 2);
}

async fn one_write_may_repeat_a_key(f: Fixture) {
    let store = f.open().await;
    let first = answered("t1", "c1", 1);
    let mut second = first.clone();
    if let Record::Segment(s) = &mut second {
        s.acw_s = 99;
    }
    let counts = write(
        &*store,
        vec![
            first.clone(),
            answered("t1", "c2", 1),
            second.clone(),
            first.clone(),
        ],
    )
    .await;
    assert_eq!(
        counts,
        WriteCounts {
            written: 4,
            unchanged: 0
        }
    );
    let read = read_all(&*store, RecordKind::Interactions, None).await;
    assert_eq!(read, vec![first, answered("t1", "c2", 1)]);
}

async fn after_key_of_another_kind_is_refused(f: Fixture) {
    let store = f.open().await;
    let key = NaturalKey::Tenant("t1".into());
    let e = store
        .read_page(RecordKind::Queues, None, Some(&key), 10)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::KeyMismatch { .. }), "{e}");
}

async fn large_batches_are_written_whole(f: Fixture) {
    let store = f.open().await;
    let records: Vec<Record> = (0..25_000)
        .map(|i| answered("t1", &format!("c{i:06}"), 1))
        .collect();
    let counts = write(&*store, records.clone()).await;
    assert_eq!(counts.written, 25_000);
    let counts = write(&*store, records).await;
    assert_eq!(counts.unchanged, 25_000);
    assert_eq!(store.counts(Some("t1")).await.unwrap().segments, 25_000);
}

#[tokio::test]
async fn memory_store_is_shared_by_its_connections_and_private() {
    let a = wfm_store::open("sqlite::memory:").await.unwrap();
    let b = wfm_store::open("sqlite::memory:").await.unwrap();
    assert_eq!(a.describe(), "SQLite in memory");
    let mut tx = a.begin().await.unwrap();
    tx.write(sample("t1")).await.unwrap();
    // Another connection of the same store reads while the transaction is open.
    assert_eq!(a.counts(None).await.unwrap().tenants, 0);
    tx.commit().await.unwrap();
    assert_eq!(a.counts(None).await.unwrap().tenants, 2);
    assert_eq!(b.counts(None).await.unwrap().tenants, 0);
    // Several readers at once, each on its own connection.
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = a.clone();
        readers.spawn(async move {
            store
                .read_page(RecordKind::Interactions, None, None, 100)
                .await
        });
    }
    while let Some(page) = readers.join_next().await {
        assert_eq!(page.unwrap().unwrap().len(), 4);
    }
}

#[tokio::test]
async fn bad_urls_are_refused_with_the_accepted_forms() {
    for url in [
        "mysql://localhost/wfm",
        "sqlite:wfm.db",
        "wfm.db",
        "sqlite://",
    ] {
        let e = wfm_store::open(url).await.err().expect("refused");
        let message = e.to_string();
        assert!(matches!(e, StoreError::Url { .. }), "{url}: {message}");
        assert!(
            message.contains("sqlite://relative/path.db") && message.contains("postgres://"),
            "{url}: {message}"
        );
    }
}

#[tokio::test]
async fn unreachable_postgres_is_named_without_its_password() {
    let e = wfm_store::open("postgres://wfm:s3cret-pw@127.0.0.1:1/nowhere")
        .await
        .err()
        .expect("nothing listens on port 1");
    let message = e.to_string();
    assert!(
        message.starts_with("cannot open PostgreSQL store at 127.0.0.1:1/nowhere: "),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert!(!format!("{e:?}").contains("s3cret"), "{e:?}");

    let e = wfm_store::open("postgres://wfm:s3cret-pw@127.0.0.1:notaport/db")
        .await
        .err()
        .expect("bad port");
    assert!(!e.to_string().contains("s3cret"), "{e}");
    assert!(e.to_string().contains("wfm:***@127.0.0.1"), "{e}");
}

#[tokio::test]
async fn unopenable_sqlite_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let path = file.join("wfm.db");
    let e = wfm_store::open(&format!("sqlite://{}", path.display()))
        .await
        .err()
        .expect("a file is not a directory");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot open SQLite store at {}", path.display())),
        "{e}"
    );

    // A file that is not a database.
    let e = wfm_store::open(&format!("sqlite://{}", file.display()))
        .await
        .err()
        .expect("not a database");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot open SQLite store at {}", file.display())),
        "{e}"
    );
}

#[tokio::test]
async fn sqlite_store_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/nested/wfm.db");
    let store = wfm_store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(store.describe(), format!("SQLite {}", path.display()));
    assert!(path.is_file());
}

fn segment_at(tenant: &str, contact: &str, seq: u32, offered: &str) -> Record {
    let json = format!(
        r#"{{"tenant":"{tenant}","contact_id":"{contact}","seq":{seq},"channel":"voice","direction":"inbound","queue":"q","offered_at":"{offered}"}}"#
    );
    Record::Segment(serde_json::from_str(&json).unwrap())
}

fn state_at(tenant: &str, agent: &str, at: &str, state: &str) -> Record {
    let json =
        format!(r#"{{"tenant":"{tenant}","agent":"{agent}","at":"{at}","state":"{state}"}}"#);
    Record::State(serde_json::from_str(&json).unwrap())
}

fn ms(at: &str) -> i64 {
    at.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

async fn segments_are_read_by_offered_time_in_pages(f: Fixture) {
    let store = f.open().await;
    write(&*store, vec![tenant("t1"), tenant("t2")]).await;
    write(
        &*store,
        vec![
            segment_at("t1", "before", 1, "2024-03-01T07:59:59.999Z"),
            segment_at("t1", "b", 1, "2024-03-01T08:00:00Z"),
            segment_at("t1", "a", 2, "2024-03-01T08:00:00Z"),
            segment_at("t1", "a", 1, "2024-03-01T08:00:00Z"),
            segment_at("t1", "c", 1, "2024-03-01T09:30:00Z"),
            segment_at("t1", "end", 1, "2024-03-01T10:00:00Z"),
            segment_at("t2", "other", 1, "2024-03-01T09:00:00Z"),
        ],
    )
    .await;
    let (from, to) = (ms("2024-03-01T08:00:00Z"), ms("2024-03-01T10:00:00Z"));
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .segments_offered("t1", from, to, after.as_ref(), 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(wfm_store::OfferedPosition::of(last));
        seen.extend(page.iter().map(|s| format!("{}/{}", s.contact_id, s.seq)));
    }
    assert_eq!(seen, ["a/1", "a/2", "b/1", "c/1"]);
}

async fn agent_timelines_start_with_the_state_before_the_window(f: Fixture) {
    let store = f.open().await;
    write(&*store, vec![tenant("t1"), tenant("t2")]).await;
    write(
        &*store,
        vec![
            state_at("t1", "a1", "2024-02-27T08:00:00Z", "ready"),
            state_at("t1", "a1", "2024-02-29T08:00:00Z", "not_ready"),
            state_at("t1", "a1", "2024-03-01T08:00:00Z", "busy"),
            state_at("t1", "a1", "2024-03-01T08:05:00Z", "acw"),
            state_at("t1", "a1", "2024-03-02T00:00:00Z", "logged_out"),
            state_at("t1", "a2", "2024-02-28T08:00:00Z", "ready"),
            state_at("t2", "a3", "2024-03-01T09:00:00Z", "ready"),
        ],
    )
    .await;
    let (from, to) = (ms("2024-03-01T00:00:00Z"), ms("2024-03-02T00:00:00Z"));
    assert_eq!(
        store.agents_with_states("t1", from, to).await.unwrap(),
        ["a1"]
    );
    let a1 = store.agent_timeline("t1", "a1", from, to).await.unwrap();
    assert_eq!(a1.before.unwrap().state, wfm_model::AgentState::NotReady);
    let within: Vec<_> = a1.within.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(within, ["busy", "acw"]);
    let a2 = store.agent_timeline("t1", "a2", from, to).await.unwrap();
    assert_eq!(a2.before.unwrap().state, wfm_model::AgentState::Ready);
    assert!(a2.within.is_empty());
    let none = store
        .agent_timeline("t1", "nobody", from, to)
        .await
        .unwrap();
    assert_eq!(none, wfm_store::AgentTimeline::default());
}

async fn the_change_head_skips_history(f: Fixture) {
    let store = f.open().await;
    write(&*store, vec![tenant("t1")]).await;
    write(
        &*store,
        vec![segment_at("t1", "old", 1, "2024-03-01T08:00:00Z")],
    )
    .await;
    let head = store
        .change_head(RecordKind::Interactions, "t1")
        .await
        .unwrap();
    assert!(
        store
            .changes(RecordKind::Interactions, "t1", &head, 10)
            .await
            .unwrap()
            .is_empty()
    );
    write(
        &*store,
        vec![segment_at("t1", "new", 1, "2024-03-01T09:00:00Z")],
    )
    .await;
    let changes = store
        .changes(RecordKind::Interactions, "t1", &head, 10)
        .await
        .unwrap();
    let ids: Vec<_> = changes
        .iter()
        .map(|c| match &c.record {
            Record::Segment(s) => s.contact_id.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(ids, ["new"]);
}

async fn latest_states_are_each_agents_last_event(f: Fixture) {
    let store = f.open().await;
    write(&*store, vec![tenant("t1"), tenant("t2")]).await;
    write(
        &*store,
        vec![
            state_at("t1", "a1", "2024-03-01T08:00:00Z", "ready"),
            state_at("t1", "a1", "2024-03-01T09:00:00Z", "busy"),
            state_at("t1", "a2", "2024-03-01T07:00:00Z", "not_ready"),
            state_at("t2", "a1", "2024-03-01T10:00:00Z", "acw"),
        ],
    )
    .await;
    let latest: Vec<(String, &str)> = store
        .latest_states("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.agent, e.state.as_str()))
        .collect();
    assert_eq!(
        latest,
        [("a1".to_string(), "busy"), ("a2".to_string(), "not_ready")]
    );
    assert_eq!(store.pending_messages("nothing").await.unwrap(), 0);
}
