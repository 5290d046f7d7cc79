//! Measures how fast a store writes contact segments: fresh inserts, then an identical re-import.
//!
//! ```text
//! cargo run --release -p wfm-store --example write_throughput -- [URL] [ROWS] [BATCH]
//! ```
//!
//! URL defaults to a new SQLite file in a temporary directory, ROWS to 1,000,000 and BATCH (records
//! per `write` call, all in one transaction) to 10,000. The records are made and batched before the
//! clock starts; the time includes the commit.

use std::time::Instant;

use wfm_model::{Channel, Direction, Record, Segment, Timestamp};

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

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir()?;
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let rows: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let batch: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;

    let store = wfm_store::open(&url).await?;
    println!("{}: {rows} segments in writes of {batch}", store.describe());
    let segments = segments(rows);

    for pass in ["insert", "identical re-import"] {
        // `write` takes its records by value: copy them before the clock starts.
        let batches: Vec<Vec<Record>> = segments.chunks(batch).map(<[_]>::to_vec).collect();
        let started = Instant::now();
        let mut tx = store.begin().await?;
        let mut counts = wfm_store::WriteCounts::default();
        for chunk in batches {
            counts += tx.write(chunk).await?;
        }
        tx.commit().await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{pass:>20}: {:>10.0} rows/s ({seconds:.2} s; written {}, unchanged {})",
            rows as f64 / seconds,
            counts.written,
            counts.unchanged
        );
    }
    Ok(())
}

/// Plausible segments: a day of answered calls over 20 queues and 200 agents, with metadata on
/// one in ten.
fn segments(rows: usize) -> Vec<Record> {
    let day = Timestamp::from_second(1_709_280_000).expect("a valid time");
    (0..rows)
        .map(|i| {
            let offered = day
                .checked_add(jiff::SignedDuration::from_millis(i as i64 * 37))
                .expect("in range");
            let mut metadata = std::collections::BTreeMap::new();
            if i % 10 == 0 {
                metadata.insert("lang".to_string(), "sv".to_string());
            }
            Record::Segment(Segment {
                tenant: "bench".to_string(),
                contact_id: format!("contact-{i:09}"),
                seq: 1 + (i % 3) as u32,
                channel: Channel::Voice,
                direction: Direction::Inbound,
                queue: Some(format!("q{}", i % 20)),
                offered_at: offered,
                answered_at: offered
                    .checked_add(jiff::SignedDuration::from_secs(12))
                    .ok(),
                abandoned_at: None,
                overflowed: false,
                agent: Some(format!("agent-{}", i % 200)),
                talk_s: 180,
                hold_s: 10,
                acw_s: 30,
                transferred: i % 50 == 0,
                metadata,
            })
        })
        .collect()
}
