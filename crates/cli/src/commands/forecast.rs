//! `wfm-bridge forecast predict|backtest|plot`: forecasts of interval volumes from a count table,
//! their backtest, and a chart of actual against forecast.
//!
//! The series comes from a [`SeriesInput`]: today a CSV file of counts (a timestamp column and a count
//! column, any resolution finer than the interval); the store's interval statistics per queue plug in
//! as another variant when forecasts run as a flow. Everything else — summing into intervals on the
//! tenant grid, choosing the method, forecasting — is `wfm_forecast`'s.
//!
//! Intervals the table's samples only partly cover (the bank series' lone 21:00 five-minute sample in
//! a 30-minute interval) are left out unless `--keep-partial`; a note says which.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use wfm_forecast::input::{CountColumns, partial_slots, read_counts};
use wfm_forecast::plot::{PlotPoint, svg};
use wfm_forecast::{
    BacktestConfig, Calendar, ForecastConfig, InputError, IntervalSeries, Method, MethodChoice,
    Params, backtest, forecast,
};
use wfm_model::{IntervalGrid, IntervalLength};

use crate::commands::Context;

/// Arguments of `forecast`.
#[derive(Debug, Args)]
pub struct ForecastArgs {
    #[command(subcommand)]
    pub command: ForecastCommand,
}

/// The `forecast` subcommands.
#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Forecast contacts per interval for the days from --from, as CSV `start,calls`.
    Predict(PredictArgs),
    /// Compare the methods on the last days of the series: MAPE, WAPE, RMSE, and the one chosen.
    Backtest(BacktestArgs),
    /// Draw actual against forecast for a period as an SVG chart.
    Plot(PlotArgs),
}

/// Where the series comes from and how it is cut (shared by every subcommand).
#[derive(Debug, Args)]
pub struct InputArgs {
    /// CSV file of counts: a timestamp column (RFC 3339, or local `YYYY-MM-DD HH:MM[:SS]`) and a
    /// count column, at any resolution finer than the interval.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "tenant",
        conflicts_with = "tenant"
    )]
    pub input: Option<PathBuf>,

    /// Read the series from the store instead: the contacts offered to --queue of this tenant (in
    /// the tenant's time zone).
    #[arg(long, requires = "queue")]
    pub tenant: Option<String>,

    /// Queue id(s) of --tenant, comma-separated (several are summed, as a skill of the flow).
    #[arg(long, value_delimiter = ',', value_name = "QUEUE,…")]
    pub queue: Vec<String>,

    /// Days of store history before the forecast's first day (before today for backtest).
    #[arg(long, default_value_t = wfm_engine::forecasts::DEFAULT_HISTORY_DAYS, value_name = "DAYS")]
    pub history_days: u32,

    /// Interval length in minutes: 15, 30 or 60.
    #[arg(long, default_value = "30", value_parser = parse_interval)]
    pub interval: IntervalLength,

    /// Name of the timestamp column.
    #[arg(long, default_value = "DateTime", value_name = "COLUMN")]
    pub time_column: String,

    /// Name of the count column.
    #[arg(long, default_value = "Calls", value_name = "COLUMN")]
    pub value_column: String,

    /// IANA time zone the intervals are cut in (and of timestamps without an offset).
    #[arg(long, default_value = "UTC", value_name = "ZONE", value_parser = parse_zone)]
    pub time_zone: TimeZone,

    /// Dates the center is closed (holidays), comma-separated: left out of the history and of the
    /// forecast. Days missing from the data on a weekday it normally opens count as closed too.
    #[arg(long, value_delimiter = ',', value_name = "DATE,…")]
    pub closed: Vec<Date>,

    /// Keep intervals the table's samples cover less than half of (by default they are left out).
    #[arg(long)]
    pub keep_partial: bool,
}

/// Arguments of `forecast predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// First day to forecast (YYYY-MM-DD); only rows before it are used.
    #[arg(long)]
    pub from: Date,

    /// Number of days to forecast.
    #[arg(long, default_value_t = 7)]
    pub days: u32,

    /// auto (chosen by backtest), baseline, profile or last_week.
    #[arg(long, default_value = "auto", value_parser = parse_method)]
    pub method: MethodChoice,
}

/// Arguments of `forecast backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Lead time: each test day is forecast from data this old (`7d`, or a number of days).
    #[arg(long, default_value = "7d", value_parser = parse_horizon)]
    pub horizon: u32,

    /// Number of test days (the last days with data).
    #[arg(long, default_value_t = 20)]
    pub test_days: usize,

    /// Print a JSON list of `{method, mape, wape, rmse, chosen}` (percentages as numbers).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `forecast plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// First day of the period (YYYY-MM-DD); the forecast uses only rows before it.
    #[arg(long)]
    pub from: Date,

    /// Number of days shown.
    #[arg(long, default_value_t = 7)]
    pub days: u32,

    /// auto (chosen by backtest), baseline, profile or last_week.
    #[arg(long, default_value = "auto", value_parser = parse_method)]
    pub method: MethodChoice,

    /// SVG file to write.
    #[arg(long, value_name = "FILE.svg")]
    pub out: PathBuf,
}

fn parse_interval(s: &str) -> Result<IntervalLength, String> {
    s.parse::<u32>()
        .ok()
        .and_then(IntervalLength::from_minutes)
        .ok_or_else(|| format!("{s:?} is not 15, 30 or 60"))
}

fn parse_zone(s: &str) -> Result<TimeZone, String> {
    TimeZone::get(s).map_err(|_| format!("{s:?} is not an IANA time zone (e.g. Europe/Stockholm)"))
}

fn parse_method(s: &str) -> Result<MethodChoice, String> {
    if s == "auto" {
        return Ok(MethodChoice::Auto);
    }
    Method::parse(s)
        .map(MethodChoice::Fixed)
        .ok_or_else(|| format!("{s:?} is not auto, baseline, profile or last_week"))
}

fn parse_horizon(s: &str) -> Result<u32, String> {
    let digits = s.strip_suffix('d').unwrap_or(s);
    match digits.parse::<u32>() {
        Ok(days) if days >= 1 => Ok(days),
        _ => Err(format!(
            "{s:?} is not a horizon in days; write e.g. 7d or 14"
        )),
    }
}

/// The source of a command's series: a CSV count table, or the contacts offered to queues of a
/// tenant in the store (what the `forecast` flow forecasts from).
pub enum SeriesInput<'a> {
    /// A CSV file of counts.
    Csv(&'a InputArgs, &'a std::path::Path),
    /// The store: the history before `until` (exclusive), `history_days` long, plus `extra_days`
    /// from `until` on (the actuals a plot compares with).
    Store {
        /// The arguments (tenant, queues, history).
        args: &'a InputArgs,
        /// First day not part of the history.
        until: Date,
        /// Days after `until` read too.
        extra_days: u32,
    },
}

/// A loaded series and what people should know about how it was read.
pub struct LoadedSeries {
    /// The series.
    pub series: IntervalSeries,
    /// Notes for people (intervals left out…).
    pub notes: Vec<String>,
    /// Name of the input, for messages.
    pub name: String,
}

impl<'a> SeriesInput<'a> {
    /// The input the arguments name; `until` and `extra_days` cut the store's window.
    pub fn of(args: &'a InputArgs, until: Date, extra_days: u32) -> SeriesInput<'a> {
        match &args.input {
            Some(path) => SeriesInput::Csv(args, path),
            None => SeriesInput::Store {
                args,
                until,
                extra_days,
            },
        }
    }

    /// Reads and cuts the series.
    pub async fn load(&self, ctx: &Context) -> Result<LoadedSeries> {
        match self {
            SeriesInput::Csv(args, path) => load_csv(args, path),
            SeriesInput::Store {
                args,
                until,
                extra_days,
            } => load_store(args, *until, *extra_days, ctx).await,
        }
    }
}

async fn load_store(
    args: &InputArgs,
    until: Date,
    extra_days: u32,
    ctx: &Context,
) -> Result<LoadedSeries> {
    let tenant_id = args.tenant.as_deref().expect("clap: --input or --tenant");
    let store = ctx.open_store(None).await?;
    // The same reading as the admin API's queue forecast (`wfm_engine::forecasts`).
    let spec = wfm_engine::forecasts::QueueSeriesSpec {
        tenant: tenant_id,
        queues: &args.queue,
        interval: Some(args.interval),
        history_days: args.history_days,
        until,
        extra_days,
        closed: &args.closed,
    };
    let loaded = wfm_engine::forecasts::queue_series(&*store, &spec)
        .await
        .map_err(|e| match e {
            wfm_engine::forecasts::QueueForecastError::Range("history_days") => {
                anyhow::anyhow!("--history-days reaches before the calendar")
            }
            other => anyhow::anyhow!(other),
        })?;
    Ok(LoadedSeries {
        series: loaded.series,
        notes: Vec::new(),
        name: loaded.name,
    })
}

fn load_csv(args: &InputArgs, path: &std::path::Path) -> Result<LoadedSeries> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
    let columns = CountColumns {
        time: args.time_column.clone(),
        value: args.value_column.clone(),
    };
    let table = read_counts(&bytes, &columns, &args.time_zone).map_err(|e| match e {
        InputError::Row { line, message } => anyhow::anyhow!("{name}:{line}: {message}"),
        other => anyhow::anyhow!("{name}: {other}"),
    })?;
    let grid = IntervalGrid::new(args.time_zone.clone(), args.interval);
    let partial = if args.keep_partial {
        Vec::new()
    } else {
        partial_slots(&table, &grid)
    };
    let calendar = Calendar::with_closed(args.closed.iter().copied());
    let series = IntervalSeries::build(grid, calendar, table.observations)
        .with_context(|| format!("{name}: cannot build the series"))?;
    let mut notes = Vec::new();
    if !partial.is_empty() {
        let times: Vec<String> = partial
            .iter()
            .map(|&s| series.slot_time(s).strftime("%H:%M").to_string())
            .collect();
        notes.push(format!(
            "left out the {} interval{} {}: the file's rows cover less than half of {} (pass --keep-partial to keep {})",
            args.interval,
            if times.len() == 1 { "" } else { "s" },
            times.join(", "),
            if times.len() == 1 { "it" } else { "them" },
            if times.len() == 1 { "it" } else { "them" },
        ));
    }
    let series = series.without_slots(&partial);
    if series.days().is_empty() {
        bail!("{name}: no rows to forecast from");
    }
    Ok(LoadedSeries {
        series,
        notes,
        name,
    })
}

/// Runs `forecast`.
pub async fn run(args: ForecastArgs, ctx: &Context) -> Result<()> {
    match args.command {
        ForecastCommand::Predict(args) => predict(args, ctx).await,
        ForecastCommand::Backtest(args) => run_backtest(args, ctx).await,
        ForecastCommand::Plot(args) => plot(args, ctx).await,
    }
}

/// Notes go to standard error, so that standard output stays machine-readable; like progress they
/// show on a terminal unless `--quiet`.
fn note(ctx: &Context, text: &str) {
    if ctx.out.shows_progress() {
        eprintln!("{text}");
    }
}

/// RFC 3339 in the zone's offset (`Z` when it is zero).
fn rfc3339(at: Timestamp, zone: &TimeZone) -> String {
    let offset = zone.to_offset(at);
    if offset.seconds() == 0 {
        at.to_string()
    } else {
        at.display_with_offset(offset).to_string()
    }
}

async fn predict(args: PredictArgs, ctx: &Context) -> Result<()> {
    let loaded = SeriesInput::of(&args.input, args.from, 0).load(ctx).await?;
    for n in &loaded.notes {
        note(ctx, n);
    }
    let config = ForecastConfig {
        method: args.method,
        ..ForecastConfig::default()
    };
    let f = forecast(&loaded.series, args.from, args.days, &config);
    if f.points.is_empty() {
        bail!(
            "{}: nothing to forecast from {} for {} days: no history before {} on those weekdays",
            loaded.name,
            args.from,
            args.days,
            args.from
        );
    }
    let zone = loaded.series.grid().zone();
    let mut out = String::with_capacity(40 * (f.points.len() + 1));
    out.push_str("start,calls");
    for p in &f.points {
        out.push('\n');
        out.push_str(&rfc3339(p.start, zone));
        out.push(',');
        out.push_str(&format!("{:.2}", p.contacts));
    }
    crate::output::data(out);
    note(ctx, &describe_choice(&f.method, f.backtest.as_ref()));
    Ok(())
}

fn describe_choice(method: &Method, report: Option<&wfm_forecast::BacktestReport>) -> String {
    let params = Params::default();
    match report {
        Some(r) => {
            let scores: Vec<String> = r
                .scores
                .iter()
                .map(|s| format!("{} {:.2} %", s.method, s.wape))
                .collect();
            format!(
                "method: {method} ({}), chosen by backtest over {} days, WAPE: {}",
                method.describe(&params),
                r.test_days.len(),
                scores.join(", ")
            )
        }
        None => format!("method: {method} ({})", method.describe(&params)),
    }
}

/// One row of `backtest --json`.
#[derive(serde::Serialize)]
struct ScoreRow {
    method: Method,
    mape: f64,
    wape: f64,
    rmse: f64,
    chosen: bool,
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

async fn run_backtest(args: BacktestArgs, ctx: &Context) -> Result<()> {
    let today = jiff::Zoned::now().date();
    let loaded = SeriesInput::of(&args.input, today, 0).load(ctx).await?;
    for n in &loaded.notes {
        note(ctx, n);
    }
    let config = BacktestConfig {
        horizon_days: args.horizon,
        test_days: args.test_days,
    };
    let Some(report) = backtest(
        &loaded.series,
        &Method::ALL,
        &Params::default(),
        &config,
        None,
    ) else {
        bail!(
            "{}: too little history for a backtest: no day has data of the same weekday at least {} days before it",
            loaded.name,
            args.horizon
        );
    };
    if args.json {
        let rows: Vec<ScoreRow> = report
            .scores
            .iter()
            .map(|s| ScoreRow {
                method: s.method,
                mape: round(s.mape, 2),
                wape: round(s.wape, 2),
                rmse: round(s.rmse, 2),
                chosen: s.chosen,
            })
            .collect();
        crate::output::data(serde_json::to_string(&rows)?);
        return Ok(());
    }
    let first = report.test_days[0];
    let last = report.test_days[report.test_days.len() - 1];
    let intervals = report.scores.first().map_or(0, |s| s.intervals);
    ctx.out.say(format!(
        "{}: {}-minute intervals, each of the last {} days with data ({first} to {last}, {intervals} intervals) forecast {} days ahead",
        loaded.name,
        args.input.interval,
        report.test_days.len(),
        args.horizon
    ));
    ctx.out.say(format!(
        "{:<10} {:>7} {:>7} {:>9}",
        "method", "MAPE %", "WAPE %", "RMSE"
    ));
    for s in &report.scores {
        ctx.out.say(format!(
            "{:<10} {:>7.2} {:>7.2} {:>9.1}{}",
            s.method.as_str(),
            s.mape,
            s.wape,
            s.rmse,
            if s.chosen { "   chosen" } else { "" }
        ));
    }
    ctx.out.say(
        "MAPE over intervals with actual > 0; the method with the lowest WAPE is chosen. Methods: \
         last_week = same slot last week; baseline = mean of the last 4 same weekdays; profile = \
         weekday profile x robust level x post-holiday uplift.",
    );
    Ok(())
}

async fn plot(args: PlotArgs, ctx: &Context) -> Result<()> {
    let loaded = SeriesInput::of(&args.input, args.from, args.days)
        .load(ctx)
        .await?;
    for n in &loaded.notes {
        note(ctx, n);
    }
    let config = ForecastConfig {
        method: args.method,
        ..ForecastConfig::default()
    };
    let f = forecast(&loaded.series, args.from, args.days, &config);
    let series = &loaded.series;
    let mut points = Vec::new();
    let (mut abs_err, mut actual_sum, mut ape, mut ape_n) = (0.0, 0.0, 0.0, 0usize);
    let mut date = args.from;
    for _ in 0..args.days {
        let forecast_of_day: Vec<_> = f.points.iter().filter(|p| p.label.date == date).collect();
        let actual = series.day(date);
        for slot in 0..series.slots() {
            let time = series.slot_time(slot);
            // A fall-back label's two pieces hold the same rate: one point per label suffices here.
            let fc = forecast_of_day
                .iter()
                .find(|p| p.label.start == time)
                .map(|p| p.contacts);
            let ac = actual.filter(|d| d.observed[slot]).map(|d| d.counts[slot]);
            if fc.is_none() && ac.is_none() {
                continue;
            }
            if let (Some(a), Some(fv)) = (ac, fc) {
                abs_err += (a - fv).abs();
                actual_sum += a;
                if a > 0.0 {
                    ape += (a - fv).abs() / a;
                    ape_n += 1;
                }
            }
            points.push(PlotPoint {
                date,
                time,
                actual: ac,
                forecast: fc,
            });
        }
        date = match date.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    if points.is_empty() {
        bail!(
            "{}: nothing to plot from {} for {} days: no data and no forecast",
            loaded.name,
            args.from,
            args.days
        );
    }
    let accuracy = if ape_n > 0 && actual_sum > 0.0 {
        format!(
            "MAPE {:.2} %, WAPE {:.2} % over {ape_n} intervals with actuals",
            100.0 * ape / ape_n as f64,
            100.0 * abs_err / actual_sum
        )
    } else {
        "no actuals in the period".to_string()
    };
    let title = format!(
        "{}: actual vs forecast, {}-minute intervals, {} + {} days",
        args.input
            .input
            .as_deref()
            .map_or_else(|| loaded.name.clone(), file_name),
        args.input.interval,
        args.from,
        args.days
    );
    let subtitle = format!(
        "method {} (forecast from data before {}); {accuracy}",
        f.method, args.from
    );
    let chart = svg(&title, &subtitle, &points);
    std::fs::write(&args.out, chart)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    ctx.out.say(format!(
        "wrote {}: {} intervals, method {}; {accuracy}",
        args.out.display(),
        points.len(),
        f.method
    ));
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().to_string(),
    )
}
