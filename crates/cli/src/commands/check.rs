//! `wfm-bridge check <account>` (test connection) and `wfm-bridge config` (check the configuration).

use anyhow::{Result, bail};
use clap::Args;
use wfm_engine::Engine;
use wfm_engine::flows::FlowDirection;
use wfm_model::Schedule;

use crate::commands::Context;

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The account to test.
    pub account: String,
}

/// Runs `check`: exit status 0 when the account works.
pub async fn check(args: CheckArgs, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let store = ctx.open_store(Some(&config)).await?;
    let engine = Engine::start(config, store).await?;
    let verdict = engine.check(&args.account).await?;
    if !verdict.ok {
        bail!("account {}: {}", args.account, verdict.message);
    }
    ctx.out
        .say(format!("account {}: {}", args.account, verdict.message));
    Ok(())
}

/// Arguments of `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {}

/// Runs `config`: checks the file and prints what it sets up.
pub fn config(_args: ConfigArgs, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let out = &ctx.out;
    out.say(format!("{} is valid", config.file));
    out.say(format!("  store   {}", ctx.store_url(Some(&config))?));
    out.say(format!("  server  {}", config.listen));
    for t in &config.tenants {
        out.say(format!(
            "  tenant  {} ({}, {}-minute intervals)",
            t.tenant.tenant, t.tenant.time_zone, t.tenant.interval_minutes
        ));
    }
    for a in &config.accounts {
        out.say(format!("  account {} ({})", a.name, a.account_type));
    }
    for f in &config.flows {
        let schedule = match &f.schedule {
            Schedule::Every(d) => format!("every {}", humane(*d)),
            Schedule::Cron(c) => format!("cron \"{c}\" in the tenant's time zone"),
            Schedule::Continuous => "continuously".to_string(),
        };
        let route = match &f.direction {
            FlowDirection::Deliver { target } => format!("from the store to {target}"),
            FlowDirection::Ingest { source, .. } => format!("from {source} into the store"),
            FlowDirection::Sync { source, target } => match source {
                Some(source) => format!("from {source}'s directory to {target}"),
                None => format!("from the store's directory to {target}"),
            },
        };
        out.say(format!(
            "  flow    {} ({} of {}, {route}, {schedule}{})",
            f.name,
            f.kind,
            f.tenant,
            if f.enabled { "" } else { ", disabled" }
        ));
    }
    for t in &config.admin_tokens {
        let tenants = match &t.tenants {
            None => "every tenant".to_string(),
            Some(list) => list.join(", "),
        };
        out.say(format!(
            "  admin   {} ({}, {tenants}; console at http://{}/console/)",
            t.name,
            match t.role {
                wfm_engine::config::AdminRole::Admin => "admin",
                wfm_engine::config::AdminRole::Viewer => "viewer",
            },
            config.listen
        ));
    }
    if config.secret_key.is_some() {
        out.say(
            "  secrets key configured: accounts created through the admin API may hold secrets",
        );
    }
    Ok(())
}

fn humane(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if d.subsec_millis() != 0 => format!("{}ms", d.as_millis()),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}
