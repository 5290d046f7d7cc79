//! `wfm-bridge run <flow>` and `wfm-bridge runs`.

use anyhow::{Result, bail};
use clap::Args;
use jiff::Timestamp;
use tokio::sync::watch;
use wfm_engine::delivery::Attempt;
use wfm_engine::runner::RunReport;
use wfm_engine::{Config, Engine};
use wfm_store::Run;

use crate::commands::Context;
use crate::output::{count, data};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The flow to run.
    pub flow: String,

    /// Run it once, deliver what is due, and exit (for cron and serverless deployments).
    #[arg(long)]
    pub once: bool,
}

/// Runs `run`.
pub async fn run(args: RunArgs, ctx: &Context) -> Result<()> {
    let mut config = ctx.load_config()?;
    if config.flow(&args.flow).is_none() {
        bail!(
            "flow {:?} is not in {}; configured flows: {}",
            args.flow,
            config.file,
            config
                .flows
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let store = ctx.open_store(Some(&config)).await?;
    if !args.once {
        // The flow alone on its schedule, with the worker delivering its messages.
        config.flows.retain(|f| f.name == args.flow);
        for flow in &mut config.flows {
            flow.enabled = true;
        }
        return run_until_stopped(config, store).await;
    }
    let engine = Engine::start(config, store).await?;
    let report = engine.run_flow_once(&args.flow).await?;
    let outcomes = engine.worker().drain_once().await?;
    let (sent, retry, dead) = outcomes
        .iter()
        .fold((0, 0, 0), |(s, r, d), (_, a)| match a {
            Attempt::Sent => (s + 1, r, d),
            Attempt::Retry(_) => (s, r + 1, d),
            Attempt::Dead => (s, r, d + 1),
        });
    let delivered = format!(
        "delivered {sent} message(s), {retry} to retry later, {dead} moved to dead letters"
    );
    match report {
        RunReport::Busy => bail!(
            "flow {} is already running elsewhere (another process holds its lease); {delivered}",
            args.flow
        ),
        RunReport::Ended {
            id,
            error: Some(error),
            ..
        } => {
            bail!(
                "run {id} of flow {} failed: {error}; {delivered}",
                args.flow
            )
        }
        RunReport::Ended {
            id,
            counts,
            error: None,
        } => {
            ctx.out.say(format!(
                "run {id} of flow {}: read {} records, queued {} message(s); {delivered}",
                args.flow,
                count(counts.read),
                count(counts.sent)
            ));
            Ok(())
        }
    }
}

async fn run_until_stopped(
    config: Config,
    store: std::sync::Arc<dyn wfm_store::Store>,
) -> Result<()> {
    let engine = Engine::start(config, store).await?;
    let (stop_tx, stop) = watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    });
    engine.run(stop).await?;
    Ok(())
}

/// Arguments of `runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this flow's runs.
    #[arg(long)]
    pub flow: Option<String>,

    /// How many, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,

    /// One JSON object per run.
    #[arg(long)]
    pub json: bool,
}

/// Runs `runs`.
pub async fn runs(args: RunsArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open_store(None).await?;
    let runs = store.runs(args.flow.as_deref(), args.limit).await?;
    if args.json {
        for run in &runs {
            data(serde_json::to_string(run)?);
        }
        return Ok(());
    }
    if runs.is_empty() {
        ctx.out.say("no runs yet");
        return Ok(());
    }
    ctx.out.say(format!(
        "{:>6}  {:<24} {:<10} {:<20} {:>9} {:>9} {:>9} {:>9}  error",
        "run", "flow", "status", "started (UTC)", "seconds", "read", "queued", "rejected"
    ));
    for run in runs {
        ctx.out.say(run_line(&run));
    }
    Ok(())
}

fn run_line(run: &Run) -> String {
    let started = Timestamp::from_millisecond(run.started_at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let seconds = run
        .ended_at
        .map(|end| format!("{:.1}", (end - run.started_at) as f64 / 1000.0))
        .unwrap_or_else(|| "-".to_string());
    format!(
        "{:>6}  {:<24} {:<10} {:<20} {:>9} {:>9} {:>9} {:>9}  {}",
        run.id,
        run.flow,
        run.status.as_str(),
        started,
        seconds,
        count(run.read),
        count(run.sent),
        count(run.rejected),
        run.error.as_deref().unwrap_or("")
    )
}
