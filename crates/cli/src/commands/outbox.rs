//! `wfm-bridge outbox`: what waits to be delivered, what was, and what gave up; `outbox retry ID`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use wfm_store::{OutboxFilter, OutboxMessage, OutboxStatus};

use crate::commands::Context;
use crate::output::data;

/// Arguments of `outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: Option<OutboxAction>,

    /// Only dead letters.
    #[arg(long)]
    pub dead: bool,

    /// Only pending messages.
    #[arg(long, conflicts_with = "dead")]
    pub pending: bool,

    /// Only this flow's messages.
    #[arg(long)]
    pub flow: Option<String>,

    /// How many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,

    /// One JSON object per message.
    #[arg(long)]
    pub json: bool,
}

/// What to do with the outbox.
#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Put a dead message back in line, attempts reset.
    Retry {
        /// Message id (from `wfm-bridge outbox --dead`).
        id: i64,
    },
}

/// Runs `outbox`.
pub async fn run(args: OutboxArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open_store(None).await?;
    if let Some(OutboxAction::Retry { id }) = args.action {
        if !store.retry_dead(id, wfm_engine::now_ms()).await? {
            bail!("message {id} is not a dead letter (see `wfm-bridge outbox --dead`)");
        }
        ctx.out.say(format!(
            "message {id} is pending again; the delivery worker of `serve` (or the next `run --once`) sends it"
        ));
        return Ok(());
    }
    let statuses = if args.dead {
        vec![OutboxStatus::Dead]
    } else if args.pending {
        vec![OutboxStatus::Pending]
    } else {
        Vec::new()
    };
    let messages = store
        .outbox(&OutboxFilter {
            flow: args.flow,
            statuses,
            before_id: None,
            limit: args.limit,
        })
        .await?;
    if args.json {
        for m in &messages {
            data(serde_json::to_string(m)?);
        }
        return Ok(());
    }
    if messages.is_empty() {
        ctx.out.say("no messages");
        return Ok(());
    }
    ctx.out.say(format!(
        "{:>8}  {:<24} {:<10} {:>8} {:<20} {:>10}  name / last error",
        "id", "flow", "status", "attempts", "created (UTC)", "bytes"
    ));
    for m in messages {
        ctx.out.say(message_line(&m));
    }
    Ok(())
}

fn message_line(m: &OutboxMessage) -> String {
    let created = Timestamp::from_millisecond(m.created_at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let detail = match (&m.last_error, m.status) {
        (Some(error), OutboxStatus::Dead | OutboxStatus::Pending) => format!("{}: {error}", m.name),
        _ => m.name.clone(),
    };
    format!(
        "{:>8}  {:<24} {:<10} {:>8} {:<20} {:>10}  {detail}",
        m.id,
        m.flow,
        m.status.as_str(),
        m.attempts,
        created,
        m.size
    )
}
