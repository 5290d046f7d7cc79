//! The tables the engine keeps in the store — the change feed of the records, cursors, the outbox
//! and runs — tested with the same bodies on SQLite (a file in a temporary directory) and
//! PostgreSQL (a fresh database from wfm-testkit; skipped when there is none).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wfm_model::{Record, RecordKind};
use wfm_store::{
    ChangeCursor, NaturalKey, NewMessage, OutboxDepth, OutboxFilter, OutboxStatus, RunEnd,
    RunStatus, Store, StoreError,
};

/// One backend to run a test body against.
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

    fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
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
/// Several worker threads, so that concurrent callers really run at the same time.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::Fixture::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(fixture) = super::Fixture::postgres().await else { return };
                    super::$name(fixture).await
                }
            )*
        }
    };
}

on_both_backends!(
    changes_list_inserts_and_real_changes_once,
    pages_of_changes_cover_everything_once,
    rows_stored_before_the_feed_come_first,
    a_cursor_of_another_kind_or_tenant_is_refused,
    a_long_transaction_is_never_skipped,
    a_transaction_that_writes_late_is_not_skipped,
    cursors_are_set_with_the_transaction,
    enqueue_skips_existing_idempotency_keys,
    enqueue_in_a_rolled_back_transaction_leaves_nothing,
    claim_takes_due_messages_oldest_first,
    claim_keeps_the_order_of_each_key,
    an_expired_claim_is_due_again_with_its_attempt_counted,
    concurrent_claimers_take_each_message_once,
    concurrent_claimers_keep_the_order_of_each_key,
    failed_attempts_are_retried_later,
    dead_letters_can_be_retried,
    supersede_touches_only_older_pending_messages,
    outbox_lists_newest_first_without_payloads,
    outbox_depth_counts_per_flow_and_state,
    a_run_holds_its_flow_while_its_lease_lasts,
    an_expired_run_is_abandoned_by_the_next_start,
    runs_end_and_are_listed_newest_first,
    concurrent_starts_of_one_flow_give_one_run,
);

// ---- records ----------------------------------------------------------------------------------

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
        &format!(r#"{{"tenant":"{id}","name":"Tenant {id}","time_zone":"Europe/Stockholm"}}"#),
    )
}

fn queue(tenant: &str, id: &str, name: &str) -> Record {
    parse(
        RecordKind::Queues,
        &format!(r#"{{"tenant":"{tenant}","queue":"{id}","name":"{name}"}}"#),
    )
}

fn agent(tenant: &str, id: &str, skills: &[&str]) -> Record {
    let json = serde_json::json!({
        "tenant": tenant, "agent": id, "first_name": "Ada", "last_name": "Lind",
        "team": "T", "skills": skills, "active": true,
    });
    parse(RecordKind::Agents, &json.to_string())
}

fn segment(tenant: &str, contact: &str, talk_s: u32) -> Record {
    parse(
        RecordKind::Interactions,
        &format!(
            r#"{{"tenant":"{tenant}","contact_id":"{contact}","seq":1,"channel":"voice","direction":"inbound","queue":"q1","offered_at":"2024-03-01T09:00:00Z","answered_at":"2024-03-01T09:00:10Z","agent":"a1","talk_s":{talk_s}}}"#
        ),
    )
}

fn state(tenant: &str, agent: &str, at: &str, state: &str) -> Record {
    parse(
        RecordKind::States,
        &format!(r#"{{"tenant":"{tenant}","agent":"{agent}","at":"{at}","state":"{state}"}}"#),
    )
}

fn directory_and_activity(t: &str) -> Vec<Record> {
    vec![
        tenant(t),
        queue(t, "q1", "Sales"),
        queue(t, "q2", "Support"),
        agent(t, "a1", &["q1"]),
        agent(t, "a2", &["q2", "q1"]),
        segment(t, "c1", 60),
        segment(t, "c2", 70),
        state(t, "a1", "2024-03-01T08:00:00Z", "ready"),
        state(t, "a2", "2024-03-01T08:00:00Z", "not_ready"),
    ]
}

async fn write(store: &dyn Store, records: Vec<Record>) {
    let mut tx = store.begin().await.unwrap();
    tx.write(records).await.unwrap();
    tx.commit().await.unwrap();
}

const START: ChangeCursor = ChangeCursor { seq: 0, key: None };

/// Reads a feed from `after` to its end; returns the records and the last cursor (or `after`).
async fn drain(
    store: &dyn Store,
    kind: RecordKind,
    tenant: &str,
    after: &ChangeCursor,
) -> (Vec<Record>, ChangeCursor) {
    let changes = store.changes(kind, tenant, after, 10_000).await.unwrap();
    let cursor = changes.last().map_or(after.clone(), |c| c.cursor.clone());
    (changes.into_iter().map(|c| c.record).collect(), cursor)
}

fn of_kind(records: &[Record], kind: RecordKind, tenant: &str) -> Vec<Record> {
    let mut out: Vec<Record> = records
        .iter()
        .filter(|r| r.kind() == kind && r.tenant() == tenant)
        .cloned()
        .collect();
    out.sort_by_key(NaturalKey::of);
    out
}

// ---- change feed ------------------------------------------------------------------------------

async fn changes_list_inserts_and_real_changes_once(f: Fixture) {
    let store = f.open().await;
    let mut records = directory_and_activity("t1");
    records.extend(directory_and_activity("t2"));
    write(&*store, records.clone()).await;

    let mut cursors = HashMap::new();
    for kind in RecordKind::ALL {
        let changes = store.changes(kind, "t1", &START, 100).await.unwrap();
        // One transaction: one sequence, and the rows in key order; only tenant t1.
        let read: Vec<Record> = changes.iter().map(|c| c.record.clone()).collect();
        assert_eq!(read, of_kind(&records, kind, "t1"), "{kind}");
        assert!(
            changes
                .iter()
                .all(|c| c.cursor.seq == changes[0].cursor.seq)
        );
        assert!(changes[0].cursor.seq > 0, "{kind}");
        assert!(changes.iter().all(|c| c.changed_at > 0), "{kind}");
        for c in &changes {
            assert_eq!(c.cursor.key.as_ref(), Some(&NaturalKey::of(&c.record)));
        }
        cursors.insert(kind, changes.last().unwrap().cursor.clone());
    }

    // Rewriting the same records changes nothing, so nothing new is in the feeds.
    write(&*store, records.clone()).await;
    for kind in RecordKind::ALL {
        let (read, _) = drain(&*store, kind, "t1", &cursors[&kind]).await;
        assert_eq!(read, Vec::new(), "{kind} after an identical rewrite");
    }

    // Real changes come once each, after the cursor, with the new values. An agent whose skills
    // alone changed is a change too.
    let changed = vec![
        queue("t1", "q1", "Sales and more"),
        agent("t1", "a2", &["q1"]),
        segment("t1", "c2", 71),
        state("t1", "a1", "2024-03-01T08:00:00Z", "busy"),
        tenant("t1"),
        queue("t1", "q2", "Support"),
    ];
    write(&*store, changed.clone()).await;
    for kind in RecordKind::ALL {
        let changes = store
            .changes(kind, "t1", &cursors[&kind], 100)
            .await
            .unwrap();
        let read: Vec<Record> = changes.iter().map(|c| c.record.clone()).collect();
        let expected: Vec<Record> = match kind {
            // The tenant and queue q2 were rewritten as they were.
            RecordKind::Tenants => Vec::new(),
            RecordKind::Queues => vec![changed[0].clone()],
            RecordKind::Agents => vec![changed[1].clone()],
            RecordKind::Interactions => vec![changed[2].clone()],
            RecordKind::States => vec![changed[3].clone()],
        };
        assert_eq!(read, expected, "{kind}");
        assert!(changes.iter().all(|c| c.cursor > cursors[&kind]), "{kind}");
        let (again, _) = drain(
            &*store,
            kind,
            "t1",
            &changes
                .last()
                .map_or(cursors[&kind].clone(), |c| c.cursor.clone()),
        )
        .await;
        assert_eq!(again, Vec::new(), "{kind} read twice");
    }
    // The other tenant's feed saw none of it.
    let (t2, _) = drain(&*store, RecordKind::Queues, "t2", &START).await;
    assert_eq!(t2, of_kind(&records, RecordKind::Queues, "t2"));
}

async fn pages_of_changes_cover_everything_once(f: Fixture) {
    let store = f.open().await;
    // Three transactions; the feed reads them in commit order, keys in order within each.
    let batches: Vec<Vec<Record>> = vec![
        ["c5", "c1", "c3"].map(|c| segment("t1", c, 1)).to_vec(),
        ["c2", "c4"].map(|c| segment("t1", c, 1)).to_vec(),
        ["c1", "c0"].map(|c| segment("t1", c, 2)).to_vec(),
    ];
    for batch in &batches {
        write(&*store, batch.clone()).await;
    }
    let mut read = Vec::new();
    let mut cursor = START;
    loop {
        let page = store
            .changes(RecordKind::Interactions, "t1", &cursor, 1)
            .await
            .unwrap();
        match page.as_slice() {
            [] => break,
            [one] => {
                assert!(one.cursor > cursor);
                cursor = one.cursor.clone();
                read.push(one.record.clone());
            }
            more => panic!("a page of 1 held {}", more.len()),
        }
    }
    // c1 moved to the last transaction's place when it changed.
    let contacts: Vec<String> = read
        .iter()
        .map(|r| match r {
            Record::Segment(s) => s.contact_id.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(contacts, ["c3", "c5", "c2", "c4", "c0", "c1"]);
    assert_eq!(
        store
            .changes(RecordKind::Interactions, "t1", &START, 0)
            .await
            .unwrap(),
        Vec::new()
    );
}

async fn rows_stored_before_the_feed_come_first(f: Fixture) {
    let store = f.open().await;
    write(&*store, vec![segment("t1", "b", 1), segment("t1", "a", 1)]).await;
    // What migration 3 leaves on rows stored before it.
    f.exec("UPDATE segments SET change_seq = 0").await;
    write(&*store, vec![segment("t1", "c", 1)]).await;
    let (read, _) = drain(&*store, RecordKind::Interactions, "t1", &START).await;
    assert_eq!(
        read,
        vec![
            segment("t1", "a", 1),
            segment("t1", "b", 1),
            segment("t1", "c", 1)
        ]
    );
}

async fn a_cursor_of_another_kind_or_tenant_is_refused(f: Fixture) {
    let store = f.open().await;
    for key in [
        NaturalKey::Tenant("t1".into()),
        NaturalKey::Queue("t2".into(), "q1".into()),
    ] {
        let cursor = ChangeCursor {
            seq: 1,
            key: Some(key),
        };
        let e = store
            .changes(RecordKind::Queues, "t1", &cursor, 10)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::KeyMismatch { .. }), "{e}");
    }
}

/// The guarantee of the feed: a transaction that runs long (an import of a big file) and commits
/// after a reader took a cursor still has its rows read after that cursor.
async fn a_long_transaction_is_never_skipped(f: Fixture) {
    let store = f.open().await;
    write(&*store, vec![segment("t1", "before", 1)]).await;
    let (read, before) = drain(&*store, RecordKind::Interactions, "t1", &START).await;
    assert_eq!(read.len(), 1);

    // A writes first and stays open.
    let mut a = store.begin().await.unwrap();
    a.write(vec![segment("t1", "a", 1)]).await.unwrap();
    let (read, during) = drain(&*store, RecordKind::Interactions, "t1", &before).await;
    assert_eq!(read, Vec::new(), "nothing of an open transaction");
    assert_eq!(during, before);

    if f.is_postgres() {
        // B runs alongside A, on another connection, and commits first. Its rows are held back
        // while A, which began writing before it, may still commit rows that sort before them:
        // handing out a cursor past B now would skip A's rows.
        let mut b = store.begin().await.unwrap();
        b.write(vec![segment("t1", "b", 1)]).await.unwrap();
        b.commit().await.unwrap();
        let (read, during) = drain(&*store, RecordKind::Interactions, "t1", &before).await;
        assert_eq!(read, Vec::new(), "B waits for the older A");
        assert_eq!(during, before);
        a.commit().await.unwrap();
        let (read, _) = drain(&*store, RecordKind::Interactions, "t1", &during).await;
        assert_eq!(read, vec![segment("t1", "a", 1), segment("t1", "b", 1)]);
    } else {
        // SQLite writers take turns: B waits for A's write lock, and then sorts after A.
        let b = tokio::spawn({
            let store = store.clone();
            async move { write(&*store, vec![segment("t1", "b", 1)]).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!b.is_finished(), "B waits for A");
        let (read, during) = drain(&*store, RecordKind::Interactions, "t1", &before).await;
        assert_eq!(read, Vec::new());
        a.commit().await.unwrap();
        b.await.unwrap();
        // A committed after the cursor `during` was handed out: its row comes after it.
        let (read, _) = drain(&*store, RecordKind::Interactions, "t1", &during).await;
        assert_eq!(read, vec![segment("t1", "a", 1), segment("t1", "b", 1)]);
    }
}

/// A transaction that began before another but writes after it has committed (and after a
/// reader read that one) is read after it, not lost behind the cursor.
async fn a_transaction_that_writes_late_is_not_skipped(f: Fixture) {
    let store = f.open().await;
    if f.is_postgres() {
        // A begins but has not written yet; B writes and commits, and is read at once.
        let mut a = store.begin().await.unwrap();
        write(&*store, vec![segment("t1", "b", 1)]).await;
        let (read, after_b) = drain(&*store, RecordKind::Interactions, "t1", &START).await;
        assert_eq!(read, vec![segment("t1", "b", 1)], "only B");
        a.write(vec![segment("t1", "a", 1)]).await.unwrap();
        let (read, still) = drain(&*store, RecordKind::Interactions, "t1", &after_b).await;
        assert_eq!(read, Vec::new(), "A is not committed");
        a.commit().await.unwrap();
        let (read, _) = drain(&*store, RecordKind::Interactions, "t1", &still).await;
        assert_eq!(
            read,
            vec![segment("t1", "a", 1)],
            "A after the cursor past B"
        );
    } else {
        // A holds the write lock from its beginning; a reader during A sees what committed
        // before, and A's rows after every cursor it got.
        write(&*store, vec![segment("t1", "b", 1)]).await;
        let mut a = store.begin().await.unwrap();
        let (read, after_b) = drain(&*store, RecordKind::Interactions, "t1", &START).await;
        assert_eq!(read, vec![segment("t1", "b", 1)], "only B");
        a.write(vec![segment("t1", "a", 1)]).await.unwrap();
        let (read, still) = drain(&*store, RecordKind::Interactions, "t1", &after_b).await;
        assert_eq!(read, Vec::new(), "A is not committed");
        a.commit().await.unwrap();
        let (read, _) = drain(&*store, RecordKind::Interactions, "t1", &still).await;
        assert_eq!(
            read,
            vec![segment("t1", "a", 1)],
            "A after the cursor past B"
        );
    }
}

// ---- cursors ----------------------------------------------------------------------------------

async fn cursors_are_set_with_the_transaction(f: Fixture) {
    let store = f.open().await;
    assert_eq!(store.cursor("flow-1").await.unwrap(), None);

    let mut tx = store.begin().await.unwrap();
    tx.set_cursor("flow-1", "42").await.unwrap();
    assert_eq!(
        store.cursor("flow-1").await.unwrap(),
        None,
        "not before commit"
    );
    tx.commit().await.unwrap();
    assert_eq!(store.cursor("flow-1").await.unwrap().as_deref(), Some("42"));

    let mut tx = store.begin().await.unwrap();
    tx.set_cursor("flow-1", "43").await.unwrap();
    tx.set_cursor("flow-2", "x").await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.set_cursor("flow-1", "44").await.unwrap();
    drop(tx);
    assert_eq!(store.cursor("flow-1").await.unwrap().as_deref(), Some("42"));
    assert_eq!(store.cursor("flow-2").await.unwrap(), None);

    let mut tx = store.begin().await.unwrap();
    tx.set_cursor("flow-1", r#"{"seq":7,"key":null}"#)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store.cursor("flow-1").await.unwrap().as_deref(),
        Some(r#"{"seq":7,"key":null}"#)
    );
}

// ---- outbox -----------------------------------------------------------------------------------

fn message(flow: &str, key: &str, idempotency_key: &str) -> NewMessage {
    NewMessage {
        flow: flow.to_string(),
        key: key.to_string(),
        idempotency_key: idempotency_key.to_string(),
        name: format!("{idempotency_key}.json"),
        content_type: "application/json".to_string(),
        payload: format!(r#"{{"id":"{idempotency_key}"}}"#).into_bytes(),
    }
}

async fn enqueue(store: &dyn Store, messages: Vec<NewMessage>, now: i64) -> u64 {
    let mut tx = store.begin().await.unwrap();
    let added = tx.enqueue(messages, now).await.unwrap();
    tx.commit().await.unwrap();
    added
}

async fn all_messages(store: &dyn Store) -> Vec<wfm_store::OutboxMessage> {
    let mut list = store
        .outbox(&OutboxFilter {
            limit: 100_000,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    list.reverse();
    list
}

fn ids(messages: &[wfm_store::OutboxMessage]) -> Vec<String> {
    messages.iter().map(|m| m.idempotency_key.clone()).collect()
}

const NOW: i64 = 1_700_000_000_000;
const LEASE: i64 = 60_000;

async fn enqueue_skips_existing_idempotency_keys(f: Fixture) {
    let store = f.open().await;
    let added = enqueue(
        &*store,
        vec![message("f", "k", "m1"), message("f", "k", "m2")],
        NOW,
    )
    .await;
    assert_eq!(added, 2);
    // m2 exists; m3 twice in one call is one message.
    let added = enqueue(
        &*store,
        vec![
            message("f", "k", "m2"),
            message("f", "k", "m3"),
            message("f", "other", "m3"),
        ],
        NOW + 1,
    )
    .await;
    assert_eq!(added, 1);
    let all = all_messages(&*store).await;
    assert_eq!(ids(&all), ["m1", "m2", "m3"]);
    assert_eq!(all[2].key, "k", "the first of a repeated key is kept");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(all[2].created_at, NOW + 1);
    // Even once sent, a key is not enqueued again.
    store.mark_sent(all[0].id, NOW + 2).await.unwrap();
    assert_eq!(
        enqueue(&*store, vec![message("f", "k", "m1")], NOW + 3).await,
        0
    );
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.enqueue(Vec::new(), NOW).await.unwrap(), 0);
    tx.commit().await.unwrap();
}

async fn enqueue_in_a_rolled_back_transaction_leaves_nothing(f: Fixture) {
    let store = f.open().await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.enqueue(vec![message("f", "k", "m1")], NOW)
            .await
            .unwrap(),
        1
    );
    tx.set_cursor("f", "1").await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.enqueue(vec![message("f", "k", "m2")], NOW)
        .await
        .unwrap();
    drop(tx);
    assert_eq!(all_messages(&*store).await, Vec::new());
    assert_eq!(store.claim_due(NOW, LEASE, 10).await.unwrap(), Vec::new());
    assert_eq!(store.outbox_depth().await.unwrap(), Vec::new());
    // The keys are free: the messages were never there.
    assert_eq!(
        enqueue(
            &*store,
            vec![message("f", "k", "m1"), message("f", "k", "m2")],
            NOW
        )
        .await,
        2
    );
}

async fn claim_takes_due_messages_oldest_first(f: Fixture) {
    let store = f.open().await;
    enqueue(
        &*store,
        (0..5)
            .map(|i| message("f", &format!("k{i}"), &format!("m{i}")))
            .collect(),
        NOW,
    )
    .await;
    assert_eq!(
        store.claim_due(NOW - 1, LEASE, 10).await.unwrap(),
        Vec::new()
    );
    assert_eq!(store.claim_due(NOW, LEASE, 0).await.unwrap(), Vec::new());

    let claimed = store.claim_due(NOW, LEASE, 2).await.unwrap();
    assert_eq!(ids(&claimed), ["m0", "m1"]);
    let m = &claimed[0];
    assert_eq!(m.flow, "f");
    assert_eq!(m.key, "k0");
    assert_eq!(m.name, "m0.json");
    assert_eq!(m.content_type, "application/json");
    assert_eq!(m.payload, br#"{"id":"m0"}"#);
    assert_eq!(m.size, m.payload.len() as u64);
    assert_eq!(m.status, OutboxStatus::Pending);
    assert_eq!(m.attempts, 1);
    assert_eq!(m.next_attempt_at, NOW + LEASE);
    assert_eq!(m.created_at, NOW);
    assert_eq!(m.sent_at, None);

    let rest = store.claim_due(NOW + 1, LEASE, 10).await.unwrap();
    assert_eq!(ids(&rest), ["m2", "m3", "m4"]);
    assert_eq!(
        store.claim_due(NOW + 2, LEASE, 10).await.unwrap(),
        Vec::new()
    );

    store.mark_sent(m.id, NOW + 5).await.unwrap();
    let listed = all_messages(&*store).await;
    assert_eq!(listed[0].status, OutboxStatus::Sent);
    assert_eq!(listed[0].sent_at, Some(NOW + 5));
    // A sent message is never claimed again, even when its lease would have ended.
    let again = store.claim_due(NOW + 2 * LEASE, LEASE, 10).await.unwrap();
    assert_eq!(ids(&again), ["m1", "m2", "m3", "m4"]);
}

async fn claim_keeps_the_order_of_each_key(f: Fixture) {
    let store = f.open().await;
    enqueue(
        &*store,
        vec![
            message("f", "k", "k-1"),
            message("f", "k", "k-2"),
            message("f", "j", "j-1"),
            message("f", "k", "k-3"),
            // The same key in another flow is another sequence.
            message("g", "k", "g-1"),
        ],
        NOW,
    )
    .await;
    let first = store.claim_due(NOW, LEASE, 10).await.unwrap();
    assert_eq!(ids(&first), ["k-1", "j-1", "g-1"]);
    // k-2 waits while k-1 is out, even once it is due.
    assert_eq!(
        store.claim_due(NOW + 10, LEASE, 10).await.unwrap(),
        Vec::new()
    );
    // ... and while k-1 waits for a retry.
    store
        .mark_retry(first[0].id, NOW + 1_000, "503", true)
        .await
        .unwrap();
    assert_eq!(
        store.claim_due(NOW + 10, LEASE, 10).await.unwrap(),
        Vec::new()
    );
    let retried = store.claim_due(NOW + 1_000, LEASE, 10).await.unwrap();
    assert_eq!(ids(&retried), ["k-1"]);
    assert_eq!(retried[0].attempts, 2);
    store.mark_sent(first[0].id, NOW + 1_001).await.unwrap();
    let next = store.claim_due(NOW + 1_001, LEASE, 10).await.unwrap();
    assert_eq!(ids(&next), ["k-2"]);
    // A dead message no longer holds its key back.
    store
        .mark_dead(next[0].id, "400 bad request")
        .await
        .unwrap();
    let last = store.claim_due(NOW + 1_002, LEASE, 10).await.unwrap();
    assert_eq!(ids(&last), ["k-3"]);
}

async fn an_expired_claim_is_due_again_with_its_attempt_counted(f: Fixture) {
    let store = f.open().await;
    enqueue(&*store, vec![message("f", "k", "m")], NOW).await;
    let first = store.claim_due(NOW, 1_000, 10).await.unwrap();
    assert_eq!(first[0].attempts, 1);
    // The worker died while sending: nothing before the lease ends, then the message again.
    assert_eq!(
        store.claim_due(NOW + 999, 1_000, 10).await.unwrap(),
        Vec::new()
    );
    let second = store.claim_due(NOW + 1_000, 1_000, 10).await.unwrap();
    assert_eq!(ids(&second), ["m"]);
    assert_eq!(second[0].attempts, 2);
    assert_eq!(second[0].next_attempt_at, NOW + 2_000);
}

/// Several workers claiming at once over 500 messages of distinct keys, with long leases: each
/// message is claimed exactly once.
async fn concurrent_claimers_take_each_message_once(f: Fixture) {
    let store = f.open().await;
    let messages: Vec<NewMessage> = (0..500)
        .map(|i| message("f", &format!("k{i}"), &format!("m{i:03}")))
        .collect();
    assert_eq!(enqueue(&*store, messages, NOW).await, 500);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let store = store.clone();
        workers.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store.claim_due(NOW, 3_600_000, 7).await.unwrap();
                if claimed.is_empty() {
                    break mine;
                }
                mine.extend(claimed.into_iter().map(|m| m.id));
            }
        });
    }
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    let mut busy_workers = 0;
    while let Some(mine) = workers.join_next().await {
        let mine = mine.unwrap();
        busy_workers += usize::from(!mine.is_empty());
        for id in mine {
            *counts.entry(id).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 500, "every message claimed");
    assert!(counts.values().all(|&n| n == 1), "none claimed twice");
    assert!(busy_workers >= 1);
    let all = all_messages(&*store).await;
    assert!(all.iter().all(|m| m.attempts == 1));
}

/// Several workers sending 500 messages of 25 keys at once: each message is claimed once, and
/// the messages of one key are claimed one after the other, in the order they were enqueued.
async fn concurrent_claimers_keep_the_order_of_each_key(f: Fixture) {
    let store = f.open().await;
    let messages: Vec<NewMessage> = (0..500)
        .map(|i| message("f", &format!("k{}", i % 25), &format!("m{i:03}")))
        .collect();
    enqueue(&*store, messages, NOW).await;
    let sent = Arc::new(AtomicUsize::new(0));
    // Numbers the claims across workers; a claim is numbered before its message is marked sent,
    // and the key's next message cannot be claimed before that.
    let clock = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (store, sent, clock) = (store.clone(), sent.clone(), clock.clone());
        workers.spawn(async move {
            let mut log = Vec::new();
            while sent.load(Ordering::SeqCst) < 500 {
                let claimed = store.claim_due(NOW, 3_600_000, 5).await.unwrap();
                if claimed.is_empty() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                for m in claimed {
                    log.push((m.key.clone(), clock.fetch_add(1, Ordering::SeqCst), m.id));
                    store.mark_sent(m.id, NOW).await.unwrap();
                    sent.fetch_add(1, Ordering::SeqCst);
                }
            }
            log
        });
    }
    let mut by_key: BTreeMap<String, Vec<(usize, i64)>> = BTreeMap::new();
    let mut claims = 0;
    while let Some(log) = workers.join_next().await {
        for (key, at, id) in log.unwrap() {
            by_key.entry(key).or_default().push((at, id));
            claims += 1;
        }
    }
    assert_eq!(claims, 500, "each message claimed once");
    for (key, mut claims) in by_key {
        claims.sort_unstable();
        let ids: Vec<i64> = claims.iter().map(|&(_, id)| id).collect();
        assert_eq!(ids.len(), 20, "{key}");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{key} out of order: {ids:?}"
        );
    }
    let all = all_messages(&*store).await;
    assert!(all.iter().all(|m| m.status == OutboxStatus::Sent));
    assert!(all.iter().all(|m| m.attempts == 1), "no lease ran out");
}

async fn failed_attempts_are_retried_later(f: Fixture) {
    let store = f.open().await;
    enqueue(&*store, vec![message("f", "k", "m")], NOW).await;
    let id = store.claim_due(NOW, LEASE, 1).await.unwrap()[0].id;
    store
        .mark_retry(id, NOW + 5_000, "connection refused", true)
        .await
        .unwrap();
    let m = &all_messages(&*store).await[0];
    assert_eq!(
        (m.status, m.attempts, m.next_attempt_at),
        (OutboxStatus::Pending, 1, NOW + 5_000)
    );
    assert_eq!(m.last_error.as_deref(), Some("connection refused"));
    assert_eq!(
        store.claim_due(NOW + 4_999, LEASE, 1).await.unwrap(),
        Vec::new()
    );

    // Throttled: the attempt is given back.
    let claimed = store.claim_due(NOW + 5_000, LEASE, 1).await.unwrap();
    assert_eq!(claimed[0].attempts, 2);
    store
        .mark_retry(id, NOW + 6_000, "429 too many requests", false)
        .await
        .unwrap();
    let m = &all_messages(&*store).await[0];
    assert_eq!((m.attempts, m.next_attempt_at), (1, NOW + 6_000));
    assert_eq!(m.last_error.as_deref(), Some("429 too many requests"));

    // Delivered at last; the last error stays for the record.
    store.claim_due(NOW + 6_000, LEASE, 1).await.unwrap();
    store.mark_sent(id, NOW + 6_001).await.unwrap();
    let m = &all_messages(&*store).await[0];
    assert_eq!(
        (m.status, m.attempts, m.sent_at),
        (OutboxStatus::Sent, 2, Some(NOW + 6_001))
    );
    // A late retry of a sent message changes nothing.
    store
        .mark_retry(id, NOW + 9_000, "late", true)
        .await
        .unwrap();
    assert_eq!(&all_messages(&*store).await[0], m);
}

async fn dead_letters_can_be_retried(f: Fixture) {
    let store = f.open().await;
    enqueue(
        &*store,
        vec![message("f", "k", "m1"), message("f", "k", "m2")],
        NOW,
    )
    .await;
    let m1 = store.claim_due(NOW, LEASE, 10).await.unwrap().remove(0);
    store
        .mark_dead(m1.id, "gave up after 1 attempt")
        .await
        .unwrap();
    let listed = all_messages(&*store).await;
    assert_eq!(listed[0].status, OutboxStatus::Dead);
    assert_eq!(
        listed[0].last_error.as_deref(),
        Some("gave up after 1 attempt")
    );
    // The next of the key goes on; the dead one is not claimed.
    let m2 = store.claim_due(NOW + 1, LEASE, 10).await.unwrap();
    assert_eq!(ids(&m2), ["m2"]);
    assert!(
        !store.retry_dead(m2[0].id, NOW + 2).await.unwrap(),
        "not dead"
    );
    assert!(
        !store.retry_dead(999_999, NOW + 2).await.unwrap(),
        "no such message"
    );
    store.mark_sent(m2[0].id, NOW + 2).await.unwrap();

    assert!(store.retry_dead(m1.id, NOW + 3).await.unwrap());
    let listed = all_messages(&*store).await;
    assert_eq!(
        (
            listed[0].status,
            listed[0].attempts,
            listed[0].next_attempt_at
        ),
        (OutboxStatus::Pending, 0, NOW + 3)
    );
    let again = store.claim_due(NOW + 3, LEASE, 10).await.unwrap();
    assert_eq!(ids(&again), ["m1"]);
    assert_eq!(again[0].attempts, 1);
    assert!(
        !store.retry_dead(m1.id, NOW + 4).await.unwrap(),
        "pending now"
    );
}

async fn supersede_touches_only_older_pending_messages(f: Fixture) {
    let store = f.open().await;
    enqueue(
        &*store,
        vec![
            message("rta", "a1", "a1-1"),
            message("rta", "a1", "a1-2"),
            message("rta", "a2", "a2-1"),
            message("rta", "a1", "a1-3"),
            message("other", "a1", "o-1"),
        ],
        NOW,
    )
    .await;
    // a1-1 was delivered, a2-1 is being sent (claimed, still pending).
    let claimed = store.claim_due(NOW, LEASE, 10).await.unwrap();
    assert_eq!(ids(&claimed), ["a1-1", "a2-1", "o-1"]);
    store.mark_sent(claimed[0].id, NOW).await.unwrap();
    let all = all_messages(&*store).await;
    let id_of = |key: &str| all.iter().find(|m| m.idempotency_key == key).unwrap().id;

    // A snapshot for a1 replaces what of a1 is still pending below a1-3.
    let mut tx = store.begin().await.unwrap();
    let n = tx
        .supersede("rta", Some("a1"), id_of("a1-3"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 1, "a1-2 only: a1-1 is sent, a1-3 is not below");
    let status = |all: &[wfm_store::OutboxMessage], key: &str| {
        all.iter()
            .find(|m| m.idempotency_key == key)
            .unwrap()
            .status
    };
    let all = all_messages(&*store).await;
    assert_eq!(status(&all, "a1-1"), OutboxStatus::Sent);
    assert_eq!(status(&all, "a1-2"), OutboxStatus::Superseded);
    assert_eq!(status(&all, "a1-3"), OutboxStatus::Pending);
    // The superseded message no longer holds a1-3 back.
    let next = store.claim_due(NOW + 1, LEASE, 10).await.unwrap();
    assert_eq!(ids(&next), ["a1-3"]);

    // A snapshot of the whole flow: every key, pending messages below the id, this flow only.
    enqueue(&*store, vec![message("rta", "a3", "a3-1")], NOW + 2).await;
    let mut tx = store.begin().await.unwrap();
    let n = tx.supersede("rta", None, i64::MAX).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(n, 3, "a1-3, a2-1 (both claimed) and a3-1");
    assert_eq!(
        status(&all_messages(&*store).await, "a3-1"),
        OutboxStatus::Pending,
        "rolled back"
    );
    let mut tx = store.begin().await.unwrap();
    let n = tx.supersede("rta", None, id_of("a2-1") + 1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 1, "a2-1 only");
    let all = all_messages(&*store).await;
    assert_eq!(status(&all, "a2-1"), OutboxStatus::Superseded);
    assert_eq!(status(&all, "a1-3"), OutboxStatus::Pending);
    assert_eq!(status(&all, "o-1"), OutboxStatus::Pending);
    // A message superseded while it was being sent was still delivered.
    store.mark_sent(id_of("a2-1"), NOW + 3).await.unwrap();
    assert_eq!(
        status(&all_messages(&*store).await, "a2-1"),
        OutboxStatus::Sent
    );
}

async fn outbox_lists_newest_first_without_payloads(f: Fixture) {
    let store = f.open().await;
    let mut messages = Vec::new();
    for i in 0..6 {
        messages.push(message("f1", &format!("k{i}"), &format!("f1-{i}")));
        messages.push(message("f2", &format!("k{i}"), &format!("f2-{i}")));
    }
    enqueue(&*store, messages, NOW).await;
    let claimed = store.claim_due(NOW, LEASE, 3).await.unwrap();
    store.mark_sent(claimed[0].id, NOW + 1).await.unwrap();
    store.mark_dead(claimed[1].id, "refused").await.unwrap();

    let all = store
        .outbox(&OutboxFilter {
            limit: 100,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 12);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert!(all.iter().all(|m| m.payload.is_empty()));
    assert!(
        all.iter()
            .all(|m| m.size == br#"{"id":"f1-0"}"#.len() as u64)
    );

    let f1 = store
        .outbox(&OutboxFilter {
            flow: Some("f1".into()),
            limit: 4,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&f1), ["f1-5", "f1-4", "f1-3", "f1-2"]);
    let page_two = store
        .outbox(&OutboxFilter {
            flow: Some("f1".into()),
            before_id: Some(f1[3].id),
            limit: 4,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page_two), ["f1-1", "f1-0"]);

    let done = store
        .outbox(&OutboxFilter {
            statuses: vec![OutboxStatus::Sent, OutboxStatus::Dead],
            limit: 10,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&done), ["f2-0", "f1-0"]);
    assert_eq!(done[0].status, OutboxStatus::Dead);
    assert_eq!(done[1].status, OutboxStatus::Sent);
    let none = store
        .outbox(&OutboxFilter {
            flow: Some("f2".into()),
            statuses: vec![OutboxStatus::Superseded],
            limit: 10,
            ..OutboxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(none, Vec::new());
}

async fn outbox_depth_counts_per_flow_and_state(f: Fixture) {
    let store = f.open().await;
    assert_eq!(store.outbox_depth().await.unwrap(), Vec::new());
    enqueue(
        &*store,
        vec![message("a", "k1", "a1"), message("a", "k2", "a2")],
        NOW,
    )
    .await;
    enqueue(
        &*store,
        vec![message("a", "k3", "a3"), message("b", "k1", "b1")],
        NOW + 10,
    )
    .await;
    let claimed = store.claim_due(NOW, LEASE, 1).await.unwrap();
    store.mark_sent(claimed[0].id, NOW + 20).await.unwrap();
    let depth = |flow: &str, status, count, oldest| OutboxDepth {
        flow: flow.to_string(),
        status,
        count,
        oldest_created_at: Some(oldest),
    };
    let mut got = store.outbox_depth().await.unwrap();
    got.sort_by_key(|d| (d.flow.clone(), d.status.as_str()));
    assert_eq!(
        got,
        vec![
            depth("a", OutboxStatus::Pending, 2, NOW),
            depth("a", OutboxStatus::Sent, 1, NOW),
            depth("b", OutboxStatus::Pending, 1, NOW + 10),
        ]
    );
}

// ---- runs -------------------------------------------------------------------------------------

async fn a_run_holds_its_flow_while_its_lease_lasts(f: Fixture) {
    let store = f.open().await;
    let run = store.try_start_run("f", NOW, 1_000).await.unwrap();
    let run = run.expect("the flow is free");
    assert_eq!(
        store.try_start_run("f", NOW + 1, 1_000).await.unwrap(),
        None
    );
    // Another flow is not held.
    assert!(
        store
            .try_start_run("g", NOW + 1, 1_000)
            .await
            .unwrap()
            .is_some()
    );
    // Renewed, the lease holds past its first end.
    store.renew_run(run, NOW + 5_000).await.unwrap();
    assert_eq!(
        store.try_start_run("f", NOW + 4_000, 1_000).await.unwrap(),
        None
    );
    // At its very end the lease still holds; it is expired only once past it.
    assert_eq!(
        store.try_start_run("f", NOW + 5_000, 1_000).await.unwrap(),
        None
    );
    let runs = store.runs(Some("f"), 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            runs[0].id,
            runs[0].status,
            runs[0].started_at,
            runs[0].ended_at
        ),
        (run, RunStatus::Running, NOW, None)
    );
}

async fn an_expired_run_is_abandoned_by_the_next_start(f: Fixture) {
    let store = f.open().await;
    let old = store.try_start_run("f", NOW, 1_000).await.unwrap().unwrap();
    let new = store.try_start_run("f", NOW + 1_001, 1_000).await.unwrap();
    let new = new.expect("the expired lease no longer holds the flow");
    assert!(new > old);
    let runs = store.runs(Some("f"), 10).await.unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [new, old]);
    let abandoned = &runs[1];
    assert_eq!(abandoned.status, RunStatus::Abandoned);
    assert_eq!(
        abandoned.ended_at,
        Some(NOW + 1_000),
        "ended when its lease did"
    );
    assert_eq!(
        abandoned.error.as_deref(),
        Some("the process running it stopped before it finished (lease expired)")
    );
    assert_eq!(runs[0].status, RunStatus::Running);

    // The process that ran the old run comes back: it learns that it lost the flow.
    let e = store.renew_run(old, NOW + 5_000).await.unwrap_err();
    assert!(
        matches!(&e, StoreError::RunNotRunning { id, status, .. } if *id == old && status == "abandoned"),
        "{e}"
    );
    assert!(e.to_string().contains("is abandoned, not running"), "{e}");
    let e = store.renew_run(999_999, NOW).await.unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
}

async fn runs_end_and_are_listed_newest_first(f: Fixture) {
    let store = f.open().await;
    let first = store.try_start_run("f", NOW, LEASE).await.unwrap().unwrap();
    let end = RunEnd {
        ended_at: NOW + 500,
        status: RunStatus::Succeeded,
        read: 120,
        sent: 3,
        rejected: 1,
        error: None,
    };
    store.finish_run(first, &end).await.unwrap();
    // Ended, the run no longer holds the flow.
    let second = store
        .try_start_run("f", NOW + 600, LEASE)
        .await
        .unwrap()
        .unwrap();
    store
        .finish_run(
            second,
            &RunEnd {
                ended_at: NOW + 700,
                status: RunStatus::Failed,
                read: 5,
                sent: 0,
                rejected: 0,
                error: Some("target answered 500".into()),
            },
        )
        .await
        .unwrap();
    let other = store
        .try_start_run("g", NOW + 800, LEASE)
        .await
        .unwrap()
        .unwrap();

    let runs = store.runs(Some("f"), 10).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, second);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(runs[0].error.as_deref(), Some("target answered 500"));
    let r = &runs[1];
    assert_eq!(
        (r.id, r.flow.as_str(), r.started_at, r.ended_at, r.status),
        (first, "f", NOW, Some(NOW + 500), RunStatus::Succeeded)
    );
    assert_eq!(
        (r.read, r.sent, r.rejected, r.error.clone()),
        (120, 3, 1, None)
    );

    let all = store.runs(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        [other, second, first]
    );
    assert_eq!(store.runs(None, 1).await.unwrap()[0].id, other);
    assert_eq!(store.runs(Some("nope"), 10).await.unwrap(), Vec::new());
    assert_eq!(store.runs(None, 0).await.unwrap(), Vec::new());
    let e = store.finish_run(999_999, &end).await.unwrap_err();
    assert!(matches!(e, StoreError::RunNotRunning { .. }), "{e}");
}

async fn concurrent_starts_of_one_flow_give_one_run(f: Fixture) {
    let store = f.open().await;
    for round in 0..5 {
        let now = NOW + round * 10_000;
        let mut starts = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let store = store.clone();
            starts.spawn(async move { store.try_start_run("f", now, 5_000).await.unwrap() });
        }
        let mut started = Vec::new();
        while let Some(start) = starts.join_next().await {
            started.extend(start.unwrap());
        }
        // Each round comes after the previous run's lease ran out.
        assert_eq!(started.len(), 1, "round {round}: {started:?}");
    }
    let runs = store.runs(Some("f"), 10).await.unwrap();
    assert_eq!(runs.len(), 5);
    assert_eq!(runs[0].status, RunStatus::Running);
    assert!(runs[1..].iter().all(|r| r.status == RunStatus::Abandoned));
}

/// PostgreSQL: a transaction running in another database of the same server (another
/// application's, or a parallel test's) cannot write these tables, and must not hold this
/// database's feeds back for as long as it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_feeds_pass_over_transactions_of_other_databases() {
    let Some(ours) = Fixture::postgres().await else {
        return;
    };
    let Some(theirs) = wfm_testkit::postgres().await else {
        return;
    };
    let Backend::Postgres(db) = &ours.backend else {
        unreachable!()
    };
    if db.name() == theirs.name() {
        println!("skipping: the server lets tests use one database only");
        return;
    }
    let store = ours.open().await;
    let other = theirs.connect().await.unwrap();
    // An open transaction with an id, older than anything written below.
    other
        .batch_execute("BEGIN; SELECT pg_current_xact_id()")
        .await
        .unwrap();
    write(&*store, vec![segment("t1", "c1", 1)]).await;
    let (read, _) = drain(&*store, RecordKind::Interactions, "t1", &START).await;
    assert_eq!(read, vec![segment("t1", "c1", 1)]);
    other.batch_execute("ROLLBACK").await.unwrap();
}
