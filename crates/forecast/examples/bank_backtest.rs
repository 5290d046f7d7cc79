//! The backtest table on the bank series (`../shared/data/bank_calls_5min.csv`): MAPE, WAPE and RMSE
//! per method at 15, 30 and 60 minutes, forecasting each of the last 20 weekdays one week ahead —
//! and the same on the 20 weekdays before them (a window the method parameters were not looked at
//! on), to show the gain is not an accident of one window. Prints Markdown.
//!
//! `cargo run --release -p wfm-forecast --example bank_backtest [-- PATH]`

use std::path::PathBuf;

use jiff::tz::TimeZone;
use wfm_forecast::input::{CountColumns, partial_slots, read_counts};
use wfm_forecast::{BacktestConfig, Calendar, IntervalSeries, Method, Params, backtest};
use wfm_model::{IntervalGrid, IntervalLength};

fn main() {
    let path = std::env::args().nth(1).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/bank_calls_5min.csv")
        },
        PathBuf::from,
    );
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    let table = read_counts(&bytes, &CountColumns::default(), &TimeZone::UTC).expect("parses");
    let params = Params::default();
    println!("| interval | test window | method | MAPE % | WAPE % | RMSE |");
    println!("|---|---|---|---|---|---|");
    for minutes in [15, 30, 60] {
        let grid = IntervalGrid::new(
            TimeZone::UTC,
            IntervalLength::from_minutes(minutes).expect("valid"),
        );
        let partial = partial_slots(&table, &grid);
        let series = IntervalSeries::build(grid, Calendar::new(), table.observations.clone())
            .expect("valid")
            .without_slots(&partial);
        let last = backtest(
            &series,
            &Method::ALL,
            &params,
            &BacktestConfig::default(),
            None,
        )
        .expect("enough history");
        let earlier = backtest(
            &series,
            &Method::ALL,
            &params,
            &BacktestConfig::default(),
            Some(last.test_days[0]),
        )
        .expect("enough history");
        for report in [&last, &earlier] {
            let window = format!(
                "{} – {}",
                report.test_days[0],
                report.test_days[report.test_days.len() - 1]
            );
            for s in &report.scores {
                println!(
                    "| {minutes} min | {window} | {}{} | {:.2} | {:.2} | {:.1} |",
                    s.method,
                    if s.chosen { " (chosen)" } else { "" },
                    s.mape,
                    s.wape,
                    s.rmse
                );
            }
        }
    }
}
