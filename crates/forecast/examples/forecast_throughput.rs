//! Throughput of forecasting and staffing: QUEUES queues (default 1,000) open around the clock, seven
//! days a week, with 8 weeks of 15-minute history each (synthetic: weekday and intraday patterns,
//! Poisson noise, handle time) — so 1,000 × 14 days × 96 intervals are forecast — then per
//! queue: the series built from its observations, the method chosen by backtest (3 methods, 20 test
//! days, 7-day horizon), a 14-day forecast with AHT, and Erlang C staffing of every forecast interval
//! (80 % in 20 s, occupancy ≤ 0.85, shrinkage 0.3). Queues are spread over all cores with
//! `std::thread::scope`. Then single-interval timings of Erlang C and Erlang A, measured in loops.
//!
//! `cargo run --release -p wfm-forecast --example forecast_throughput [-- QUEUES [THREADS]]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, ToSpan};
use wfm_forecast::{
    Calendar, ForecastConfig, IntervalSeries, Load, Observation, ServiceLevelTarget, Targets,
    erlang_a_metrics, erlang_c_metrics, erlang_c_staffing, forecast,
};
use wfm_model::{IntervalGrid, IntervalLength};

const HISTORY_DAYS: i64 = 56;
const FORECAST_DAYS: u32 = 14;

/// splitmix64: a small deterministic generator, enough for synthetic counts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Poisson by inversion for small means, normal approximation for large ones.
    fn poisson(&mut self, mean: f64) -> f64 {
        if mean < 30.0 {
            let limit = (-mean).exp();
            let (mut k, mut p) = (0.0, self.next());
            while p > limit {
                k += 1.0;
                p *= self.next();
            }
            k
        } else {
            let (u1, u2) = (self.next().max(1e-12), self.next());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (mean + z * mean.sqrt()).round().max(0.0)
        }
    }
}

fn observations(queue: usize, grid: &IntervalGrid, start: Date) -> Vec<Observation> {
    let mut rng = Rng(queue as u64 * 7919 + 1);
    let size = 5.0 + 200.0 * rng.next(); // peak contacts per interval
    let mut out = Vec::with_capacity(HISTORY_DAYS as usize * 96);
    for day in 0..HISTORY_DAYS {
        let d = start.checked_add(day.days()).expect("in range");
        let wd = d.weekday().to_monday_zero_offset();
        let weekday_factor = [1.25, 1.05, 1.0, 0.98, 0.92, 0.5, 0.35][wd as usize];
        let day_start = grid.day_start(d);
        for slot in 0..96 {
            let hour = f64::from(slot) / 4.0;
            // Open around the clock: a quiet night, a morning and an afternoon peak.
            let shape = 0.03
                + (-(hour - 10.5).powi(2) / 6.0).exp()
                + 0.8 * (-(hour - 15.0).powi(2) / 8.0).exp();
            let count = rng.poisson(size * weekday_factor * shape);
            let aht = 240.0 + 60.0 * rng.next();
            let at = day_start + SignedDuration::from_mins(i64::from(slot) * 15);
            out.push(Observation::count(at, count).with_handle(count, count * aht, count * 30.0));
        }
    }
    out
}

struct Totals {
    build: Duration,
    forecast: Duration,
    staffing: Duration,
    points: usize,
    agents: u64,
}

fn run_queue(queue: usize, grid: &IntervalGrid, start: Date, from: Date, totals: &mut Totals) {
    let obs = observations(queue, grid, start);
    let t = Instant::now();
    let series = IntervalSeries::build(grid.clone(), Calendar::new(), obs).expect("valid");
    totals.build += t.elapsed();

    let t = Instant::now();
    let f = forecast(&series, from, FORECAST_DAYS, &ForecastConfig::default());
    totals.forecast += t.elapsed();

    let t = Instant::now();
    let targets = Targets {
        service_level: Some(ServiceLevelTarget {
            fraction: 0.8,
            within_s: 20.0,
        }),
        asa_s: None,
        max_occupancy: Some(0.85),
        shrinkage: 0.3,
    };
    for p in &f.points {
        let load = Load::new(p.contacts, 900.0, p.aht_s.unwrap_or(270.0)).expect("valid");
        let s = erlang_c_staffing(&load, &targets).expect("reachable");
        totals.agents += u64::from(s.scheduled);
    }
    totals.staffing += t.elapsed();
    totals.points += f.points.len();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let queues: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let threads: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let grid = IntervalGrid::new(
        TimeZone::get("Europe/Stockholm").expect("bundled tz"),
        IntervalLength::Fifteen,
    );
    let start = date(2024, 1, 1);
    let from = start.checked_add(HISTORY_DAYS.days()).expect("in range");

    println!(
        "{queues} queues x {FORECAST_DAYS} days x 96 intervals, {HISTORY_DAYS} days of 15-minute history each, {threads} threads"
    );
    let wall = Instant::now();
    let results: Vec<Totals> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let grid = &grid;
                scope.spawn(move || {
                    let mut totals = Totals {
                        build: Duration::ZERO,
                        forecast: Duration::ZERO,
                        staffing: Duration::ZERO,
                        points: 0,
                        agents: 0,
                    };
                    for q in (t..queues).step_by(threads) {
                        run_queue(q, grid, start, from, &mut totals);
                    }
                    totals
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });
    let elapsed = wall.elapsed();
    let sum = |f: fn(&Totals) -> Duration| results.iter().map(f).sum::<Duration>();
    let points: usize = results.iter().map(|t| t.points).sum();
    let agents: u64 = results.iter().map(|t| t.agents).sum();
    println!(
        "wall time {:.2} s (includes generating the synthetic history) for {points} forecast intervals, {agents} scheduled agent-intervals",
        elapsed.as_secs_f64()
    );
    println!(
        "CPU time by stage: build series {:.2} s, backtest + forecast + AHT {:.2} s, Erlang C staffing {:.2} s",
        sum(|t| t.build).as_secs_f64(),
        sum(|t| t.forecast).as_secs_f64(),
        sum(|t| t.staffing).as_secs_f64()
    );

    // One interval, measured in a loop.
    let targets = Targets {
        service_level: Some(ServiceLevelTarget {
            fraction: 0.8,
            within_s: 20.0,
        }),
        ..Targets::default()
    };
    let time_per = |label: &str, iterations: u32, f: &mut dyn FnMut(u32)| {
        let t = Instant::now();
        for i in 0..iterations {
            f(i);
        }
        let per = t.elapsed().as_secs_f64() / f64::from(iterations);
        println!("{label}: {:.3} µs", per * 1e6);
    };
    time_per(
        "Erlang C staffing, 100 calls/30 min, AHT 180 s, 80/20 (-> 14 agents)",
        1_000_000,
        &mut |i| {
            let load = Load::new(100.0 + f64::from(i % 2), 1800.0, 180.0).expect("valid");
            black_box(erlang_c_staffing(black_box(&load), &targets).expect("ok"));
        },
    );
    time_per(
        "Erlang C metrics for one N (14 agents)",
        1_000_000,
        &mut |i| {
            let load = Load::new(100.0 + f64::from(i % 2), 1800.0, 180.0).expect("valid");
            black_box(erlang_c_metrics(black_box(&load), 14, 20.0));
        },
    );
    let big = Load::new(25_000.0, 1800.0, 360.0).expect("valid");
    let mut agents = 0;
    time_per(
        "Erlang C staffing, 5,000 Erlangs, 80/20",
        10_000,
        &mut |_| {
            agents = erlang_c_staffing(black_box(&big), &targets)
                .expect("ok")
                .agents;
        },
    );
    println!("  -> {agents} agents");
    time_per(
        "Erlang A metrics, 100 calls/30 min, 14 agents, patience 180 s",
        10_000,
        &mut |_| {
            black_box(erlang_a_metrics(black_box(&standard()), 14, 180.0, 20.0).expect("ok"));
        },
    );
    time_per(
        "Erlang A metrics, 5,000 Erlangs, 5,056 agents, patience 180 s",
        100,
        &mut |_| {
            black_box(erlang_a_metrics(black_box(&big), 5056, 180.0, 20.0).expect("ok"));
        },
    );
}

fn standard() -> Load {
    Load::new(100.0, 1800.0, 180.0).expect("valid")
}
