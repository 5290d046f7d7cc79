//! `wfm-bridge sync <flow>`: one directory sync, or with `--dry-run` the changes it would make, or
//! with `--log` the flow's audit log.

use anyhow::{Result, bail};
use clap::Args;
use jiff::Timestamp;
use serde_json::json;
use wfm_engine::Engine;
use wfm_engine::delivery::Attempt;
use wfm_engine::flows::{FlowKind, directory};
use wfm_engine::runner::RunReport;
use wfm_store::{DirectoryLogEntry, DirectoryLogFilter};

use crate::commands::Context;
use crate::output::data;

/// Arguments of `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The directory flow.
    pub flow: String,

    /// Print the changes it would make and what the policy does about each; change nothing.
    #[arg(long, conflicts_with = "log")]
    pub dry_run: bool,

    /// Print the flow's audit log (newest first) instead of syncing.
    #[arg(long)]
    pub log: bool,

    /// How many audit-log entries to print with --log.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,

    /// One JSON object per change (or log entry).
    #[arg(long)]
    pub json: bool,
}

/// Runs `sync`.
pub async fn run(args: SyncArgs, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let Some(flow) = config.flow(&args.flow).cloned() else {
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
    };
    if flow.kind != FlowKind::Directory {
        bail!(
            "flow {} is a {} flow; sync runs directory flows (use `wfm-bridge run {} --once`)",
            flow.name,
            flow.kind,
            flow.name
        );
    }
    let store = ctx.open_store(Some(&config)).await?;
    if args.log {
        let entries = store
            .directory_log(&DirectoryLogFilter {
                flow: Some(flow.name.clone()),
                limit: args.limit,
                ..DirectoryLogFilter::default()
            })
            .await?;
        for entry in &entries {
            if args.json {
                data(serde_json::to_string(entry)?);
            } else {
                data(log_line(entry));
            }
        }
        if entries.is_empty() && !args.json {
            ctx.out
                .say(format!("flow {} has logged no changes yet", flow.name));
        }
        return Ok(());
    }
    let engine = Engine::start(config, store.clone()).await?;
    if args.dry_run {
        let Some(source) = engine.directory_of(&flow) else {
            bail!(
                "flow {}: its source account is not a directory source",
                flow.name
            );
        };
        let report = directory::sync(&*store, &flow, &*source, false).await?;
        for c in &report.plan.changes {
            let (before, after) = c.change.before_after();
            if args.json {
                data(serde_json::to_string(&json!({
                    "change": c.change.kind().as_str(),
                    "subject": c.change.subject(),
                    "before": before,
                    "after": after,
                    "action": c.outcome(),
                    "person_id": c.person_id,
                }))?);
            } else {
                data(format!(
                    "{:<22} {:<28} {} -> {}",
                    c.change.kind().as_str(),
                    c.change.subject(),
                    describe(&before, &after),
                    c.outcome()
                ));
            }
        }
        if !args.json {
            let actions = report.plan.actions().len();
            ctx.out.say(format!(
                "dry run of flow {} ({} -> {}): {} user(s) read, {} left out by filters, {} change(s), {} action(s) for {}{}; nothing was changed",
                flow.name,
                report.source,
                report.target,
                report.users,
                report.left_out,
                report.plan.changes.len(),
                actions,
                report.target,
                if report.first { " (first sync: everything is new)" } else { "" },
            ));
        }
        return Ok(());
    }
    let last = store
        .directory_log(&DirectoryLogFilter {
            flow: Some(flow.name.clone()),
            limit: 1,
            ..DirectoryLogFilter::default()
        })
        .await?
        .first()
        .map_or(0, |e| e.id);
    let report = engine.run_flow_once(&flow.name).await?;
    let outcomes = engine.worker().drain_once().await?;
    let (sent, retry, dead) = outcomes
        .iter()
        .fold((0, 0, 0), |(s, r, d), (_, a)| match a {
            Attempt::Sent => (s + 1, r, d),
            Attempt::Retry(_) => (s, r + 1, d),
            Attempt::Dead => (s, r, d + 1),
        });
    match report {
        RunReport::Busy => bail!(
            "flow {} is already running elsewhere (another process holds its lease)",
            flow.name
        ),
        RunReport::Ended {
            id,
            error: Some(error),
            ..
        } => bail!("run {id} of flow {} failed: {error}", flow.name),
        RunReport::Ended { id, counts, .. } => {
            let mut entries = store
                .directory_log(&DirectoryLogFilter {
                    flow: Some(flow.name.clone()),
                    limit: usize::MAX >> 1,
                    ..DirectoryLogFilter::default()
                })
                .await?;
            entries.retain(|e| e.id > last);
            entries.reverse();
            for entry in &entries {
                if args.json {
                    data(serde_json::to_string(entry)?);
                } else {
                    data(log_line(entry));
                }
            }
            ctx.out.say(format!(
                "run {id} of flow {}: read {} user(s), {} change(s), queued {} message(s); delivered {sent}, {retry} to retry later, {dead} moved to dead letters",
                flow.name,
                counts.read,
                entries.len(),
                counts.sent
            ));
            Ok(())
        }
    }
}

fn describe(before: &Option<serde_json::Value>, after: &Option<serde_json::Value>) -> String {
    match (before, after) {
        (None, Some(after)) => format!("new {after}"),
        (Some(before), Some(after)) => format!("{before} => {after}"),
        (Some(before), None) => format!("was {before}"),
        (None, None) => String::new(),
    }
}

fn log_line(e: &DirectoryLogEntry) -> String {
    let at = Timestamp::from_millisecond(e.at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{:>6}  {at}  {:<22} {:<28} {} -> {}",
        e.id,
        e.change,
        e.subject,
        match (&e.before, &e.after) {
            (None, Some(a)) => format!("new {a}"),
            (Some(b), Some(a)) => format!("{b} => {a}"),
            (Some(b), None) => format!("was {b}"),
            (None, None) => String::new(),
        },
        e.action
    )
}
