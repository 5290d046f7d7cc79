//! Prints what a simulated center looks like hour by hour and queue by queue, to judge realism:
//! `cargo run --release -p wfm-simulator --example realism -- [agents] [queues] [days] [seed]`.

use std::collections::BTreeMap;

use wfm_model::{AgentState, Record};
use wfm_simulator::{SimulationConfig, simulate};

#[derive(Default)]
struct Row {
    offered: u64,
    answered: u64,
    abandoned: u64,
    in_sl: u64,
    overflowed: u64,
    /// seconds of ready, busy+acw
    ready: i64,
    work: i64,
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("numeric arguments: agents queues days seed")
        })
        .collect();
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let config = SimulationConfig::new(
        "demo",
        arg(0, 50) as u32,
        arg(1, 4) as u32,
        jiff::civil::date(2024, 3, 4),
        arg(2, 7) as u32,
        arg(3, 1),
    );
    let zone = config.zone().unwrap();
    let mut sl = BTreeMap::new();
    let mut by_hour: BTreeMap<(String, i8), Row> = BTreeMap::new();
    let mut by_queue: BTreeMap<String, Row> = BTreeMap::new();
    let mut last: BTreeMap<String, (AgentState, i64)> = BTreeMap::new();
    let summary = simulate(&config, |r| {
        match r {
            Record::Queue(q) => {
                sl.insert(q.queue.clone(), q.sl_seconds);
            }
            Record::Segment(s) => {
                let Some(q) = &s.queue else { return Ok(()) };
                let local = s.offered_at.to_zoned(zone.clone());
                let key = (
                    format!("{:?}", local.date().weekday())[..3].to_string(),
                    local.hour(),
                );
                for row in [
                    by_hour.entry(key).or_default(),
                    by_queue.entry(q.clone()).or_default(),
                ] {
                    row.offered += 1;
                    if let Some(a) = s.answered_at {
                        row.answered += 1;
                        if a.duration_since(s.offered_at).as_secs() <= i64::from(sl[q]) {
                            row.in_sl += 1;
                        }
                    }
                    if s.abandoned_at.is_some() {
                        row.abandoned += 1;
                    }
                    if s.overflowed {
                        row.overflowed += 1;
                    }
                }
            }
            Record::State(e) => {
                let at = e.at.as_second();
                if let Some((state, since)) = last.insert(e.agent.clone(), (e.state, at)) {
                    // Attribute the whole span to the hour it started in (rough).
                    let local = jiff::Timestamp::from_second(since)
                        .unwrap()
                        .to_zoned(zone.clone());
                    let key = (
                        format!("{:?}", local.date().weekday())[..3].to_string(),
                        local.hour(),
                    );
                    let row = by_hour.entry(key).or_default();
                    match state {
                        AgentState::Ready => row.ready += at - since,
                        AgentState::Busy | AgentState::Acw => row.work += at - since,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        Ok::<(), ()>(())
    })
    .unwrap();
    println!("{summary}\n");
    println!("day hour offered  aband%  SL%   overfl  occ%");
    for ((day, hour), r) in &by_hour {
        if r.offered == 0 && r.work == 0 {
            continue;
        }
        let served = (r.answered + r.abandoned).max(1) as f64;
        println!(
            "{day} {hour:>4} {:>7} {:>6.1} {:>5.1} {:>6} {:>5.1}",
            r.offered,
            100.0 * r.abandoned as f64 / r.offered.max(1) as f64,
            100.0 * r.in_sl as f64 / served,
            r.overflowed,
            100.0 * r.work as f64 / (r.work + r.ready).max(1) as f64
        );
    }
    println!("\nqueue offered aband% SL% overflowed");
    for (q, r) in &by_queue {
        let served = (r.answered + r.abandoned).max(1) as f64;
        println!(
            "{q} {:>7} {:>6.1} {:>5.1} {:>6}",
            r.offered,
            100.0 * r.abandoned as f64 / r.offered.max(1) as f64,
            100.0 * r.in_sl as f64 / served,
            r.overflowed
        );
    }
}
