//! Measures generation speed: `cargo run --release -p wfm-simulator --example simulate_throughput -- [agents]
//! [queues] [days] [seed]` (default 2,000 agents, 8 queues, 8 days ≈ 1 M segments).
//!
//! Records are built (strings and all) and counted but not serialized, so the figure is the
//! simulator's own cost; a second pass also serializes to JSON Lines into memory for comparison.

use std::time::Instant;

use wfm_simulator::{SimulationConfig, simulate};

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("numeric arguments: agents queues days seed")
        })
        .collect();
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let mut config = SimulationConfig::new(
        "bench",
        arg(0, 2000) as u32,
        arg(1, 8) as u32,
        jiff::civil::date(2024, 3, 4),
        arg(2, 8) as u32,
        arg(3, 1),
    );
    config.tenant_name = Some("Benchmark Center".into());

    let started = Instant::now();
    let mut records = 0u64;
    let summary = simulate(&config, |_record| {
        records += 1;
        Ok::<(), std::convert::Infallible>(())
    })
    .expect("simulation");
    let secs = started.elapsed().as_secs_f64();
    println!("{summary}");
    println!(
        "generate: {records} records in {secs:.2} s: {:.0} segments/s, {:.0} records/s",
        summary.segments as f64 / secs,
        records as f64 / secs
    );

    let started = Instant::now();
    let mut bytes = 0usize;
    simulate(&config, |record| {
        bytes += record.to_json().len() + 1;
        Ok::<(), std::convert::Infallible>(())
    })
    .expect("simulation");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generate + JSON: {:.1} MB in {secs:.2} s: {:.0} segments/s",
        bytes as f64 / 1e6,
        summary.segments as f64 / secs
    );
}
