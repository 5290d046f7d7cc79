//! `wfm-bridge demo`: the one command a newcomer runs. Simulates a small contact center, imports it
//! into a store and shows what the store now holds.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use wfm_model::RecordKind;

use crate::commands::Context;
use crate::commands::import::{ImportArgs, describe, import_file};
use crate::commands::simulate::{SimulateArgs, write_files};
use crate::output::count;

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the simulated files and (unless --store is given) the demo store.
    #[arg(long, value_name = "DIR", default_value = "wfm-bridge-demo")]
    pub dir: PathBuf,

    /// Number of agents of the simulated center.
    #[arg(long, default_value_t = 60)]
    pub agents: u32,

    /// Number of days simulated.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
}

const TENANT: &str = "demo";

/// Runs `demo`.
pub async fn run(args: DemoArgs, ctx: &Context) -> Result<()> {
    let out = &ctx.out;
    // The demo keeps to its own directory unless a store is named explicitly.
    let store_url = ctx
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.dir.join("demo.db").display()));
    out.say(format!(
        "1. Simulating a contact center of {} agents for {} days into {}/",
        args.agents,
        args.days,
        args.dir.display()
    ));
    let simulate = SimulateArgs {
        tenant: TENANT.to_string(),
        agents: args.agents,
        queues: 4,
        from: jiff::civil::date(2024, 3, 4),
        days: args.days,
        seed: 1,
        time_zone: "Europe/Stockholm".to_string(),
        interval: 15,
        out: args.dir.clone(),
    };
    let summary = write_files(&simulate, out)?;
    out.say(format!("   {summary}"));

    let store = wfm_store::open(&store_url).await?;
    out.say(format!(
        "2. Importing the five canonical files into {}",
        store.describe()
    ));
    for kind in RecordKind::ALL {
        let import = ImportArgs {
            kind,
            file: args.dir.join(kind.file_name()).display().to_string(),
            format: None,
            map: None,
            skip_invalid: false,
            rejects: None,
            strict: true,
            json: false,
        };
        let summary = import_file(&*store, &import, out).await?;
        out.say(format!("   {}", describe(&summary)));
    }

    out.say("3. What the store holds now:");
    for tenant in store.tenants().await? {
        out.say(format!(
            "   tenant {} ({}), time zone {}, {}-minute intervals",
            tenant.tenant, tenant.name, tenant.time_zone, tenant.interval_minutes
        ));
    }
    let counts = store.counts(Some(TENANT)).await?;
    for (what, n) in [
        ("queues", counts.queues),
        ("teams", counts.teams),
        ("agents", counts.agents),
        ("skills", counts.skills),
        ("agent skills", counts.agent_skills),
        ("contact segments", counts.segments),
        ("agent state events", counts.states),
    ] {
        out.say(format!("   {:>12}  {what}", count(n)));
    }
    out.say(format!(
        "\nNext: wfm-bridge --store {store_url} export agents --tenant {TENANT}"
    ));
    Ok(())
}
