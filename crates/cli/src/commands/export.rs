//! `wfm-bridge export <kind>`: canonical JSON Lines out of the store.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;
use wfm_model::RecordKind;

use crate::commands::Context;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export: tenants, queues, agents, interactions or states.
    #[arg(value_parser = crate::commands::kind_parser())]
    pub kind: RecordKind,

    /// Only this tenant's records (default: every tenant's).
    #[arg(long)]
    pub tenant: Option<String>,

    /// Write to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `export`.
pub async fn run(args: ExportArgs, ctx: &Context) -> Result<()> {
    let store = ctx.open_store(None).await?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    wfm_engine::export::export(&*store, args.kind, args.tenant.as_deref(), &mut out).await?;
    Ok(())
}
