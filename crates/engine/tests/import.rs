//! Imports and exports against real stores: SQLite in a temporary directory, and PostgreSQL when one
//! is available (see `wfm-testkit`).

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use wfm_connectors::sources::files::{FileFormat, FileSource, ReadOptions};
use wfm_engine::export::export;
use wfm_engine::import::{ImportError, ImportOptions, Rejection, import};
use wfm_model::RecordKind;
use wfm_store::{Store, TableCounts};

const TENANTS: &str = r#"{"tenant":"t1","name":"Nordic","time_zone":"Europe/Stockholm","interval_minutes":30,"admin_reasons":["Meeting"]}
{"tenant":"t2","name":"Other"}
"#;

const QUEUES: &str = r#"{"tenant":"t1","queue":"q1","name":"Sales"}
{"tenant":"t1","queue":"q2","name":"Support","sl_seconds":30,"short_abandon_seconds":3}
{"tenant":"t2","queue":"q1","name":"Other sales"}
"#;

const AGENTS: &str = r#"{"tenant":"t1","agent":"a1","first_name":"Ada","last_name":"Lind","email":"ada@example.com","team":"Team 1","skills":["q1","q2"],"active":true}
{"tenant":"t1","agent":"a2","first_name":"Bo","last_name":"Ek","team":"Team 1","skills":["q1"],"active":false}
"#;

fn segment(contact: &str, seq: u32, offered: &str) -> String {
    format!(
        r#"{{"tenant":"t1","contact_id":"{contact}","seq":{seq},"channel":"voice","direction":"inbound","queue":"q1","offered_at":"{offered}","answered_at":"{offered}","agent":"a1","talk_s":60,"metadata":{{"campaign":"spring"}}}}"#
    )
}

fn states() -> String {
    [
        r#"{"tenant":"t1","agent":"a1","at":"2024-03-01T08:00:00+01:00","state":"ready"}"#,
        r#"{"tenant":"t1","agent":"a1","at":"2024-03-01T08:00:10.250+01:00","state":"busy","source_code":"TALKING"}"#,
        r#"{"tenant":"t1","agent":"a1","at":"2024-03-01T08:05:00+01:00","state":"not_ready","reason":"Lunch"}"#,
    ]
    .join("\n")
}

fn source(kind: RecordKind, text: &str) -> FileSource {
    FileSource::new(
        format!("{kind}.jsonl"),
        Box::new(Cursor::new(text.as_bytes().to_vec())),
        FileFormat::Jsonl,
        kind,
        ReadOptions::default(),
    )
}

async fn load(
    store: &dyn Store,
    kind: RecordKind,
    text: &str,
) -> Result<wfm_engine::import::ImportSummary, ImportError> {
    import(store, source(kind, text), ImportOptions::default(), None).await
}

async fn load_all(store: &dyn Store) {
    load(store, RecordKind::Tenants, TENANTS).await.unwrap();
    load(store, RecordKind::Queues, QUEUES).await.unwrap();
    load(store, RecordKind::Agents, AGENTS).await.unwrap();
    let segments: Vec<String> = (0..12_000)
        .map(|i| segment(&format!("c{i:05}"), 1, "2024-03-01T09:00:00Z"))
        .collect();
    load(store, RecordKind::Interactions, &segments.join("\n"))
        .await
        .unwrap();
    load(store, RecordKind::States, &states()).await.unwrap();
}

async fn exported(store: &dyn Store, kind: RecordKind, tenant: Option<&str>) -> String {
    let mut out = Vec::new();
    export(store, kind, tenant, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// Runs a test body against SQLite and, when available, PostgreSQL.
macro_rules! on_every_store {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let store = wfm_store::open(&url).await.unwrap();
                ($body)(store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = wfm_testkit::postgres().await else {
                    return;
                };
                let store = wfm_store::open(db.url()).await.unwrap();
                ($body)(store).await;
            }
        }
    };
}

on_every_store!(
    imports_every_kind_and_reimport_changes_nothing,
    |store: Arc<dyn Store>| async move {
        load_all(&*store).await;
        let counts = store.counts(None).await.unwrap();
        assert_eq!(
            counts,
            TableCounts {
                tenants: 2,
                queues: 3,
                teams: 1,
                agents: 2,
                skills: 2,
                agent_skills: 3,
                segments: 12_000,
                states: 3,
            }
        );
        let again = load(&*store, RecordKind::States, &states()).await.unwrap();
        assert_eq!((again.written, again.unchanged), (0, 3));
        let agents = AGENTS.replace("Bo", "Bob");
        let changed = load(&*store, RecordKind::Agents, &agents).await.unwrap();
        assert_eq!((changed.written, changed.unchanged), (1, 1));
    }
);

on_every_store!(export_round_trips_what_was_imported, |store: Arc<
    dyn Store,
>| async move {
    load_all(&*store).await;
    let out = exported(&*store, RecordKind::States, Some("t1")).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    // Stored in UTC to the millisecond.
    assert!(
        lines[1].contains(r#""at":"2024-03-01T07:00:10.25Z""#),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(r#""source_code":"TALKING""#));
    assert!(lines[2].contains(r#""reason":"Lunch""#));

    // Re-importing the export changes nothing.
    let all = exported(&*store, RecordKind::Interactions, None).await;
    assert_eq!(all.lines().count(), 12_000);
    let again = load(&*store, RecordKind::Interactions, &all).await.unwrap();
    assert_eq!((again.written, again.unchanged), (0, 12_000));

    // Another tenant's queues stay apart.
    let t2 = exported(&*store, RecordKind::Queues, Some("t2")).await;
    assert_eq!(t2.lines().count(), 1);
    assert!(t2.contains("Other sales"));
    let mut sink = Vec::new();
    let err = export(&*store, RecordKind::Queues, Some("nope"), &mut sink)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("tenant \"nope\" is not in the store")
    );
});

on_every_store!(
    an_invalid_record_late_in_a_file_imports_nothing,
    |store: Arc<dyn Store>| async move {
        load(&*store, RecordKind::Tenants, TENANTS).await.unwrap();
        let before = store.counts(None).await.unwrap();
        // 20,000 valid records span several batches; the last one is invalid.
        let mut lines: Vec<String> = (0..20_000)
            .map(|i| segment(&format!("c{i:05}"), 1, "2024-03-01T09:00:00Z"))
            .collect();
        lines.push(segment("late", 1, "2024-03-01T09:00:00Z").replace(
            r#""answered_at":"2024-03-01T09:00:00Z""#,
            r#""answered_at":"2024-03-01T08:00:00Z""#,
        ));
        let err = load(&*store, RecordKind::Interactions, &lines.join("\n"))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("interactions.jsonl:20001: answered_at is before offered_at"),
            "{err}"
        );
        assert!(err.to_string().contains("nothing was imported"));
        assert_eq!(store.counts(None).await.unwrap(), before);
    }
);

on_every_store!(
    skip_invalid_imports_the_rest_and_reports_rejects,
    |store: Arc<dyn Store>| async move {
        load(&*store, RecordKind::Tenants, TENANTS).await.unwrap();
        let text = [
            segment("c1", 1, "2024-03-01T09:00:00Z"),
            segment("c2", 0, "2024-03-01T09:00:00Z"),
            segment("c1", 1, "2024-03-01T09:00:00Z"),
            segment("c3", 1, "2024-03-01T09:00:00Z").replace("\"t1\"", "\"t9\""),
            "{not json".to_string(),
            segment("c4", 1, "2024-03-01T09:00:00Z"),
        ]
        .join("\n");
        let rejects: Arc<Mutex<Vec<Rejection>>> = Arc::default();
        let sink = rejects.clone();
        let summary = import(
            &*store,
            source(RecordKind::Interactions, &text),
            ImportOptions { skip_invalid: true },
            Some(Box::new(move |r: &Rejection| {
                sink.lock().unwrap().push(r.clone());
                Ok(())
            })),
        )
        .await
        .unwrap();
        assert_eq!(
            (summary.written, summary.rejected, summary.lines),
            (2, 4, 6)
        );
        let rejects = rejects.lock().unwrap();
        let got: Vec<(u64, &str)> = rejects.iter().map(|r| (r.line, r.error.as_str())).collect();
        assert_eq!(got[0], (2, "seq is 0; segments count from 1"));
        assert_eq!(rejects[0].field.as_deref(), Some("seq"));
        assert!(
            got[1]
                .1
                .contains("appears twice in the file (first on line 1)"),
            "{}",
            got[1].1
        );
        assert!(
            got[2].1.contains("tenant \"t9\" is not in the store"),
            "{}",
            got[2].1
        );
        assert_eq!(got[3].0, 5);
        assert!(rejects[3].raw.starts_with("{not json"));
    }
);

on_every_store!(bad_files_leave_the_store_unchanged, |store: Arc<
    dyn Store,
>| async move {
    load(&*store, RecordKind::Tenants, TENANTS).await.unwrap();
    let before = store.counts(None).await.unwrap();
    let cases: Vec<(RecordKind, Vec<u8>, &str)> = vec![
        (RecordKind::Queues, b"".to_vec(), "queues.jsonl is empty"),
        (
            RecordKind::Queues,
            b"\n\n".to_vec(),
            "queues.jsonl is empty",
        ),
        (
            RecordKind::Queues,
            vec![0x89, b'P', b'N', b'G', 0, 0, 0xff, b'\n', 1, 2, 3],
            "queues.jsonl:1: not valid UTF-8",
        ),
        (
            RecordKind::Queues,
            vec![7u8; 3 << 20],
            "no line break within",
        ),
        (
            RecordKind::Queues,
            br#"{"tenant":"t1","queue":"q1"}"#.to_vec(),
            "queues.jsonl:1: name is required but missing",
        ),
        (
            RecordKind::Queues,
            br#"{"tenant":"zz","queue":"q1","name":"Q"}"#.to_vec(),
            "tenant \"zz\" is not in the store",
        ),
        (
            RecordKind::States,
            br#"{"tenant":"t1","agent":"a","at":"2024-13-01T00:00:00Z","state":"ready"}"#.to_vec(),
            "states.jsonl:1: at: ",
        ),
        (
            RecordKind::States,
            br#"{"tenant":"t1","agent":"a","at":"2024-03-01T00:00:00Z","state":"dancing"}"#
                .to_vec(),
            "unknown variant `dancing`",
        ),
        (
            RecordKind::Queues,
            format!(
                "{}\n{}",
                r#"{"tenant":"t1","queue":"q9","name":"A"}"#,
                r#"{"tenant":"t1","queue":"q9","name":"B"}"#
            )
            .into_bytes(),
            "queues.jsonl:2: queue \"q9\" appears twice in the file (first on line 1)",
        ),
    ];
    for (kind, bytes, expected) in cases {
        let source = FileSource::new(
            format!("{kind}.jsonl"),
            Box::new(Cursor::new(bytes)),
            FileFormat::Jsonl,
            kind,
            ReadOptions::default(),
        );
        let err = import(&*store, source, ImportOptions::default(), None)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "expected {expected:?} in {err}"
        );
        assert_eq!(
            store.counts(None).await.unwrap(),
            before,
            "after {expected}"
        );
    }
});
