//! Measures how fast a delivery worker can take messages from the outbox: `claim_due` in batches,
//! then `mark_sent` for each message, over an outbox that already holds many sent messages.
//!
//! ```text
//! cargo run --release -p wfm-store --example outbox_throughput -- [URL] [MESSAGES] [SENT] [BATCH] [WORKERS]
//! ```
//!
//! URL defaults to a new SQLite file in a temporary directory; MESSAGES (pending, over 1,000 keys)
//! to 100,000; SENT (the history of sent messages already in the outbox) to 1,000,000; BATCH (the
//! claim's limit) to 100; WORKERS (claiming at the same time) to 1. The history is enqueued
//! through the store and marked sent straight in the database before the clock starts.

use std::sync::Arc;
use std::time::Instant;

use wfm_store::{NewMessage, SqliteLocation, Store, StoreUrl};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

const NOW: i64 = 1_700_000_000_000;

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir()?;
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let messages: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let history: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let batch: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let workers: usize = args.next().map_or(Ok(1), |a| a.parse())?;

    let store = wfm_store::open(&url).await?;
    println!(
        "{}: {messages} messages over {history} sent ones, claims of {batch}, {workers} worker(s)",
        store.describe()
    );
    enqueue(&*store, "history", history).await?;
    mark_all_sent(&url).await?;
    enqueue(&*store, "bench", messages).await?;

    let store: Arc<dyn Store> = store;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let store = store.clone();
        tasks.spawn(async move {
            let (mut sent, mut claiming, mut marking) = (0u64, 0.0, 0.0);
            loop {
                let clock = Instant::now();
                let claimed = store.claim_due(NOW, 3_600_000, batch).await?;
                claiming += clock.elapsed().as_secs_f64();
                if claimed.is_empty() {
                    return Ok::<_, wfm_store::StoreError>((sent, claiming, marking));
                }
                let clock = Instant::now();
                for m in claimed {
                    store.mark_sent(m.id, NOW).await?;
                    sent += 1;
                }
                marking += clock.elapsed().as_secs_f64();
            }
        });
    }
    let (mut sent, mut claiming, mut marking) = (0, 0.0, 0.0);
    while let Some(done) = tasks.join_next().await {
        let (n, c, m) = done??;
        sent += n;
        claiming += c;
        marking += m;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "claim_due + mark_sent: {:>10.0} messages/s ({sent} in {seconds:.2} s; workers spent \
         {claiming:.2} s claiming, {marking:.2} s marking sent)",
        sent as f64 / seconds
    );
    Ok(())
}

/// Enqueues `n` messages of `flow` over 1,000 keys, in transactions of 10,000.
async fn enqueue(store: &dyn Store, flow: &str, n: usize) -> Result<(), wfm_store::StoreError> {
    let payload = br#"{"agent":"agent-0001","state":"ready","at":"2024-03-01T09:00:00Z"}"#;
    for start in (0..n).step_by(10_000) {
        let messages = (start..n.min(start + 10_000))
            .map(|i| NewMessage {
                flow: flow.to_string(),
                key: format!("key-{}", i % 1_000),
                idempotency_key: format!("{flow}-{i}"),
                name: String::new(),
                content_type: "application/json".to_string(),
                payload: payload.to_vec(),
            })
            .collect();
        let mut tx = store.begin().await?;
        tx.enqueue(messages, NOW).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Marks every message sent, straight in the database (a million `mark_sent` calls would take
/// longer than the measurement).
async fn mark_all_sent(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    const SQL: &str = "UPDATE outbox SET status = 'sent', sent_at = created_at";
    match StoreUrl::parse(url)? {
        StoreUrl::Sqlite(SqliteLocation::File(path)) => {
            rusqlite::Connection::open(path)?.execute(SQL, [])?;
        }
        StoreUrl::Sqlite(SqliteLocation::Memory) => {
            return Err(
                "a sqlite::memory: store cannot be reached from outside; use a file".into(),
            );
        }
        StoreUrl::Postgres(config) => {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.execute(SQL, &[]).await?;
            client.execute("ANALYZE outbox", &[]).await?;
        }
    }
    Ok(())
}
