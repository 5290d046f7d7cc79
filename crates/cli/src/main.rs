//! The `wfm-bridge` binary: parses the command line and hands each command to its module.

mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// wfm-bridge keeps a contact center's workforce data flowing into WFM and HR systems.
#[derive(Debug, Parser)]
#[command(name = "wfm-bridge", version, propagate_version = true)]
struct Cli {
    /// Store URL: sqlite://PATH (embedded, the default), sqlite::memory:, or postgres://USER@HOST/DB.
    /// Default: [store] url of the configuration, else sqlite://wfm-bridge.db.
    #[arg(long, global = true, env = "WFM_BRIDGE_STORE", value_name = "URL")]
    store: Option<String>,

    /// Configuration file (default: wfm-bridge.toml, when present).
    #[arg(long, global = true, env = "WFM_BRIDGE_CONFIG", value_name = "FILE")]
    config: Option<std::path::PathBuf>,

    /// Print only errors.
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a file of canonical records (JSON Lines or CSV) into the store, all or nothing.
    Import(commands::import::ImportArgs),
    /// Write canonical records from the store as JSON Lines.
    Export(commands::export::ExportArgs),
    /// Write the five canonical files of a simulated contact center.
    Simulate(commands::simulate::SimulateArgs),
    /// Simulate a small contact center, import it and show what is in the store.
    Demo(commands::demo::DemoArgs),
    /// Interval statistics of a tenant for local dates (Teleopti files, CSV or JSON).
    Stats(commands::stats::StatsArgs),
    /// Run the scheduler, the delivery worker and the HTTP server until stopped (SIGTERM, Ctrl-C).
    Serve(commands::serve::ServeArgs),
    /// Run one flow: once and exit with --once, else on its schedule until stopped.
    Run(commands::flows::RunArgs),
    /// List the runs of flows, newest first.
    Runs(commands::flows::RunsArgs),
    /// List outbox messages, or retry a dead one.
    Outbox(commands::outbox::OutboxArgs),
    /// Test an account's connection.
    Check(commands::check::CheckArgs),
    /// Check the configuration file and print what it configures.
    Config(commands::check::ConfigArgs),
    /// Run an emulator of a target system.
    Sandbox(commands::sandbox::SandboxArgs),
    /// Forecast contacts per interval from a count table or the store; backtest the methods; plot.
    Forecast(commands::forecast::ForecastArgs),
    /// Agents one interval needs (Erlang C, Erlang A with --patience) for a service-level/ASA target.
    Staffing(commands::staffing::StaffingArgs),
    /// The key of account secrets stored by the admin API: generate one, rotate to a new one.
    Secrets(commands::secrets::SecretsArgs),
    /// Sync a directory flow once (agents, teams, queues to the target); --dry-run shows the changes.
    Sync(commands::sync::SyncArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = commands::Context {
        store: cli.store,
        config: cli.config,
        out: output::Output::new(cli.quiet),
    };
    ctx.init_logging(matches!(cli.command, Command::Serve(_) | Command::Run(_)));
    let result = runtime.block_on(async {
        match cli.command {
            Command::Import(args) => commands::import::run(args, &ctx).await,
            Command::Export(args) => commands::export::run(args, &ctx).await,
            Command::Simulate(args) => commands::simulate::run(args, &ctx.out),
            Command::Demo(args) => commands::demo::run(args, &ctx).await,
            Command::Stats(args) => commands::stats::run(args, &ctx).await,
            Command::Serve(args) => commands::serve::run(args, &ctx).await,
            Command::Run(args) => commands::flows::run(args, &ctx).await,
            Command::Runs(args) => commands::flows::runs(args, &ctx).await,
            Command::Outbox(args) => commands::outbox::run(args, &ctx).await,
            Command::Check(args) => commands::check::check(args, &ctx).await,
            Command::Config(args) => commands::check::config(args, &ctx),
            Command::Sandbox(args) => commands::sandbox::run(args, &ctx).await,
            Command::Forecast(args) => commands::forecast::run(args, &ctx).await,
            Command::Staffing(args) => commands::staffing::run(args, &ctx.out),
            Command::Secrets(args) => commands::secrets::run(args, &ctx).await,
            Command::Sync(args) => commands::sync::run(args, &ctx).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `wfm-bridge export … | head` closes the pipe early: that is the reader's choice, not an error.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", report(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause added only when the message does not already say it.
fn report(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
