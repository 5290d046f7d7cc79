//! The `wfm-bridge` binary: parses the command line and hands each command to its module.

mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The store used when neither `--store` nor `WFM_BRIDGE_STORE` is given.
pub const DEFAULT_STORE: &str = "sqlite://wfm-bridge.db";

/// wfm-bridge keeps a contact center's workforce data flowing into WFM and HR systems.
#[derive(Debug, Parser)]
#[command(name = "wfm-bridge", version, propagate_version = true)]
struct Cli {
    /// Store URL: sqlite://PATH (embedded, the default), sqlite::memory:, or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "WFM_BRIDGE_STORE", value_name = "URL")]
    store: Option<String>,

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
    let out = output::Output::new(cli.quiet);
    let result = runtime.block_on(async {
        match cli.command {
            Command::Import(args) => commands::import::run(args, cli.store, &out).await,
            Command::Export(args) => commands::export::run(args, cli.store).await,
            Command::Simulate(args) => commands::simulate::run(args, &out),
            Command::Demo(args) => commands::demo::run(args, cli.store, &out).await,
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
