//! The Calabrio forecast file written by the connector and read back by the sandbox's emulated
//! import (an independent implementation of Teleopti's rules): forecasts of synthetic weeks across
//! both DST changes are accepted, with every UTC interval once.

use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::TimeZone;
use wfm_connectors::targets::calabrio::forecast::{
    DefaultHandleTime, file_name, rows_from_forecast, write_file,
};
use wfm_forecast::input::{CountColumns, read_counts};
use wfm_forecast::{
    Calendar, ForecastConfig, IntervalSeries, ServiceLevelTarget, Targets, forecast, staff,
};
use wfm_model::{IntervalGrid, IntervalLength};
use wfm_sandbox::calabrio::forecast_import::{TargetSkill, validate};

fn skill(minutes: u32) -> TargetSkill {
    TargetSkill {
        name: "Support".to_string(),
        resolution_minutes: minutes,
        zone: TimeZone::get("Europe/Stockholm").unwrap(),
    }
}

/// A forecast of a synthetic week through the writer and back through the validator, on the days
/// of both DST changes.
#[test]
fn forecasts_round_trip_through_the_validator_across_dst() {
    let zone = TimeZone::get("Europe/Stockholm").unwrap();
    for (history_from, from) in [
        (date(2025, 2, 2), date(2025, 3, 30)),
        (date(2025, 9, 1), date(2025, 10, 26)),
    ] {
        let mut csv = String::from("DateTime,Calls\n");
        let mut d = history_from;
        while d < from {
            for h in 0..24 {
                csv.push_str(&format!("{d} {h:02}:00,{}\n", 10 + h));
                csv.push_str(&format!("{d} {h:02}:30,{}\n", 12 + h));
            }
            d = d.tomorrow().unwrap();
        }
        let table = read_counts(csv.as_bytes(), &CountColumns::default(), &zone).unwrap();
        let grid = IntervalGrid::new(zone.clone(), IntervalLength::Thirty);
        let series = IntervalSeries::build(grid, Calendar::new(), table.observations).unwrap();
        let f = forecast(&series, from, 2, &ForecastConfig::default());
        let targets = Targets {
            service_level: Some(ServiceLevelTarget {
                fraction: 0.8,
                within_s: 20.0,
            }),
            ..Targets::default()
        };
        let staffing = staff(&f, &targets, 240.0).unwrap();
        let rows = rows_from_forecast(
            &f,
            &zone,
            IntervalLength::Thirty,
            Some(&staffing),
            DefaultHandleTime {
                aht_s: 240.0,
                acw_s: 40.0,
            },
        );
        let text = write_file("Support", &rows).unwrap();
        let parsed = validate(&text, &skill(30)).unwrap_or_else(|e| panic!("{from}: {e:?}"));
        // Two days: 46 + 48 or 50 + 48 UTC half hours, each once.
        let expected = if from.month() == 3 { 46 + 48 } else { 50 + 48 };
        assert_eq!(parsed.len(), expected, "{from}");
        let mut starts: Vec<Timestamp> = parsed.iter().map(|r| r.utc_from).collect();
        starts.sort();
        starts.dedup();
        assert_eq!(starts.len(), expected);
        assert!(parsed.iter().all(|r| r.agents.is_some_and(|a| a >= 1.0)));
        assert!(text.contains("Support,20250330 1:30,20250330 3:00,") || from.month() == 10);
        assert_eq!(
            file_name("Support", from, from),
            format!(
                "Forecast_Support_{}_{}.csv",
                from.strftime("%Y%m%d"),
                from.strftime("%Y%m%d")
            )
        );
    }
}
