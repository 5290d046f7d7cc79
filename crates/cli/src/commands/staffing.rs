//! `wfm-bridge staffing`: the agents one interval needs, by Erlang C (and Erlang A with `--patience`),
//! for a service-level and/or ASA target, an occupancy cap and shrinkage.

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use wfm_forecast::{
    ErlangAMetrics, Load, ServiceLevelTarget, Targets, erlang_a_metrics, erlang_a_staffing,
    erlang_c_staffing, scheduled_agents,
};

use crate::output::Output;

/// Arguments of `staffing`.
#[derive(Debug, Args)]
pub struct StaffingArgs {
    /// Contacts offered in the interval.
    #[arg(long)]
    pub calls: f64,

    /// Interval length in minutes.
    #[arg(long, default_value_t = 30.0, value_name = "MINUTES")]
    pub interval_minutes: f64,

    /// Average handle time in seconds (talk + hold + after-contact work).
    #[arg(long, value_name = "SECONDS")]
    pub aht: f64,

    /// Service-level target FRACTION/SECONDS (0.8/20 or 80/20), or `none`.
    #[arg(long, default_value = "0.8/20", value_parser = parse_sl, value_name = "FRACTION/SECONDS")]
    pub sl: SlArg,

    /// Average speed of answer not to exceed, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub asa: Option<f64>,

    /// Occupancy not to exceed (e.g. 0.85).
    #[arg(long, value_name = "FRACTION")]
    pub max_occupancy: Option<f64>,

    /// Share of paid time not on the phones (breaks, meetings, absence), e.g. 0.3: scheduled agents
    /// = ⌈agents / (1 − shrinkage)⌉.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    pub shrinkage: f64,

    /// Mean patience of callers in seconds: adds Erlang A figures (abandonment).
    #[arg(long, value_name = "SECONDS")]
    pub patience: Option<f64>,

    /// Print JSON: `{agents, p_wait, service_level, asa_s, occupancy, scheduled_agents, …}`.
    #[arg(long)]
    pub json: bool,
}

/// `--sl`: a service-level target, or none (`none`). A newtype because clap reads a bare
/// `Option<T>` field as "flag may be absent", not as a value that may be empty.
#[derive(Debug, Clone, Copy)]
pub struct SlArg(pub Option<ServiceLevelTarget>);

fn parse_sl(s: &str) -> Result<SlArg, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(SlArg(None));
    }
    ServiceLevelTarget::parse(s).map(|t| SlArg(Some(t)))
}

/// `staffing --json`.
#[derive(Debug, Serialize)]
struct Report {
    calls: f64,
    interval_minutes: f64,
    aht_s: f64,
    erlangs: f64,
    targets: Targets,
    agents: u32,
    p_wait: f64,
    service_level: f64,
    sl_threshold_s: f64,
    asa_s: f64,
    occupancy: f64,
    shrinkage: f64,
    scheduled_agents: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    erlang_a: Option<ErlangAReport>,
}

/// The Erlang A part of the report.
#[derive(Debug, Serialize)]
struct ErlangAReport {
    patience_s: f64,
    /// Fewest agents meeting the targets with abandonment (SL over offered contacts, mean wait of all
    /// arrivals as ASA).
    agents: u32,
    scheduled_agents: u32,
    p_wait: f64,
    p_abandon: f64,
    service_level: f64,
    service_level_answered: f64,
    asa_s: f64,
    occupancy: f64,
    /// The same figures with the Erlang C staffing.
    at_erlang_c_agents: ErlangAMetrics,
}

/// Runs `staffing`.
pub fn run(args: StaffingArgs, out: &Output) -> Result<()> {
    let interval_s = args.interval_minutes * 60.0;
    let load = Load::new(args.calls, interval_s, args.aht)?;
    let targets = Targets {
        service_level: args.sl.0,
        asa_s: args.asa,
        max_occupancy: args.max_occupancy,
        shrinkage: args.shrinkage,
    };
    let c = erlang_c_staffing(&load, &targets)?;
    let threshold = targets.threshold_s();
    let erlang_a = match args.patience {
        None => None,
        Some(patience) => {
            let (agents, m) = erlang_a_staffing(&load, &targets, patience)?;
            let at_c = erlang_a_metrics(&load, c.agents, patience, threshold)?;
            Some(ErlangAReport {
                patience_s: patience,
                agents,
                scheduled_agents: scheduled_agents(agents, targets.shrinkage),
                p_wait: m.p_wait,
                p_abandon: m.p_abandon,
                service_level: m.service_level,
                service_level_answered: m.service_level_answered,
                asa_s: m.asa_s,
                occupancy: m.occupancy,
                at_erlang_c_agents: at_c,
            })
        }
    };
    let report = Report {
        calls: args.calls,
        interval_minutes: args.interval_minutes,
        aht_s: args.aht,
        erlangs: load.erlangs(),
        targets,
        agents: c.agents,
        p_wait: c.metrics.p_wait,
        service_level: c.metrics.service_level,
        sl_threshold_s: threshold,
        asa_s: c.metrics.asa_s,
        occupancy: c.metrics.occupancy,
        shrinkage: targets.shrinkage,
        scheduled_agents: c.scheduled,
        erlang_a,
    };
    if args.json {
        crate::output::data(serde_json::to_string(&report)?);
        return Ok(());
    }
    print_report(&report, out);
    Ok(())
}

fn print_report(r: &Report, out: &Output) {
    let mut wanted = Vec::new();
    if let Some(sl) = r.targets.service_level {
        wanted.push(format!(
            "{} % answered within {} s",
            trim(sl.fraction * 100.0),
            trim(sl.within_s)
        ));
    }
    if let Some(asa) = r.targets.asa_s {
        wanted.push(format!("ASA ≤ {} s", trim(asa)));
    }
    if let Some(occ) = r.targets.max_occupancy {
        wanted.push(format!("occupancy ≤ {}", trim(occ)));
    }
    out.say(format!(
        "{} calls in {} min, AHT {} s: {:.2} Erlangs",
        trim(r.calls),
        trim(r.interval_minutes),
        trim(r.aht_s),
        r.erlangs
    ));
    out.say(format!(
        "target: {}",
        if wanted.is_empty() {
            "a stable queue".to_string()
        } else {
            wanted.join(", ")
        }
    ));
    out.say("Erlang C:");
    out.say(format!("  agents            {}", r.agents));
    out.say(format!("  P(wait)           {:.4}", r.p_wait));
    out.say(format!(
        "  service level     {:.4} (within {} s)",
        r.service_level,
        trim(r.sl_threshold_s)
    ));
    out.say(format!("  ASA               {:.2} s", r.asa_s));
    out.say(format!("  occupancy         {:.3}", r.occupancy));
    if r.shrinkage > 0.0 {
        out.say(format!(
            "  scheduled agents  {} (shrinkage {} %)",
            r.scheduled_agents,
            trim(r.shrinkage * 100.0)
        ));
    }
    if let Some(a) = &r.erlang_a {
        out.say(format!(
            "Erlang A (mean patience {} s):",
            trim(a.patience_s)
        ));
        let scheduled = if r.shrinkage > 0.0 {
            format!(" (scheduled {})", a.scheduled_agents)
        } else {
            String::new()
        };
        out.say(format!("  agents            {}{scheduled}", a.agents));
        out.say(format!("  P(wait)           {:.4}", a.p_wait));
        out.say(format!("  P(abandon)        {:.4}", a.p_abandon));
        out.say(format!(
            "  service level     {:.4} of offered, {:.4} of answered (within {} s)",
            a.service_level,
            a.service_level_answered,
            trim(r.sl_threshold_s)
        ));
        out.say(format!(
            "  mean wait         {:.2} s (all arrivals)",
            a.asa_s
        ));
        out.say(format!("  occupancy         {:.3}", a.occupancy));
        let c = &a.at_erlang_c_agents;
        out.say(format!(
            "  with Erlang C's {} agents: P(wait) {:.4}, P(abandon) {:.4}, service level {:.4}",
            c.agents, c.p_wait, c.p_abandon, c.service_level
        ));
    }
}

/// A number without needless decimals: 100, 0.85, 7.5.
fn trim(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
