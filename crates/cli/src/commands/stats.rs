//! `wfm-bridge stats`: interval statistics of a tenant for local dates, as the Teleopti three-file
//! format, plain CSV or JSON.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use jiff::civil::Date;
use wfm_connectors::targets::calabrio::historical::{StatsFormat, render};
use wfm_model::IntervalLength;

use crate::commands::Context;
use crate::output::count;

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Tenant id.
    #[arg(long)]
    pub tenant: String,

    /// First local date (YYYY-MM-DD).
    #[arg(long)]
    pub from: Date,

    /// Last local date, included (default: --from).
    #[arg(long)]
    pub to: Option<Date>,

    /// Interval length in minutes: 15, 30 or 60 (default: the tenant's).
    #[arg(long, value_parser = parse_interval)]
    pub interval: Option<IntervalLength>,

    /// teleopti (Queue_/Agent_/AgentQueue_Statistics files), csv (three files) or json (one file).
    #[arg(long, default_value = "teleopti", value_parser = parse_format)]
    pub format: StatsFormat,

    /// Directory to write the files to (created when missing); standard output for json when absent.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_interval(s: &str) -> Result<IntervalLength, String> {
    s.parse::<u32>()
        .ok()
        .and_then(IntervalLength::from_minutes)
        .ok_or_else(|| format!("{s:?} is not 15, 30 or 60"))
}

fn parse_format(s: &str) -> Result<StatsFormat, String> {
    StatsFormat::parse(s).ok_or_else(|| format!("{s:?} is not teleopti, csv or json"))
}

/// Runs `stats`.
pub async fn run(args: StatsArgs, ctx: &Context) -> Result<()> {
    let to = args.to.unwrap_or(args.from);
    let store = ctx.open_store(None).await?;
    let stats =
        wfm_engine::statistics::compute(&*store, &args.tenant, args.from, to, args.interval)
            .await?;
    let files = render(&stats, args.format)?;
    let Some(dir) = &args.out else {
        if args.format != StatsFormat::Json {
            bail!("--out DIR is required for --format teleopti and csv (they are three files)");
        }
        for file in &files {
            crate::output::data(String::from_utf8_lossy(&file.bytes));
        }
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for file in &files {
        let path = dir.join(&file.name);
        std::fs::write(&path, &file.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    ctx.out.say(format!(
        "{} {} to {}, {}-minute intervals: {} queue rows, {} agent rows, {} agent-queue rows from {} segments; wrote {}",
        stats.tenant,
        stats.from,
        stats.to,
        stats.interval_minutes,
        count(stats.queue_rows.len() as u64),
        count(stats.agent_rows.len() as u64),
        count(stats.agent_queue_rows.len() as u64),
        count(stats.inputs.segments),
        files.iter().map(|f| dir.join(&f.name).display().to_string()).collect::<Vec<_>>().join(", ")
    ));
    Ok(())
}
