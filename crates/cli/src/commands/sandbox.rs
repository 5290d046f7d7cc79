//! `wfm-bridge sandbox …`: emulators of target systems, for trying flows without a real WFM.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use wfm_sandbox::http_sink::{Behaviour, SinkConfig, serve};

use crate::commands::Context;

/// Arguments of `sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub emulator: Emulator,
}

/// Which emulator to run.
#[derive(Debug, Subcommand)]
pub enum Emulator {
    /// An HTTP endpoint that accepts and records every POST (a target for `http` accounts). Its
    /// behaviour (failures, throttling, a poison marker, a token) is set over
    /// PUT /_sandbox/behaviour; GET /_sandbox/received lists what arrived.
    HttpSink {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,

        /// Also append every request as a JSON line to FILE.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,

        /// Require this bearer token.
        #[arg(long, env = "WFM_SANDBOX_TOKEN")]
        token: Option<String>,
    },
    /// Calabrio WFM: the RTA state API, the historical statistics intake, and Wfm.Api with the
    /// agent import (GET /_sandbox/calabrio/wfm shows the persons and skills it received).
    Calabrio {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9091")]
        listen: std::net::SocketAddr,

        /// The Wfm.Api bearer token it accepts.
        #[arg(long, env = "WFM_SANDBOX_WFM_TOKEN", default_value = "sandbox-token")]
        wfm_token: String,
    },
}

/// Runs `sandbox`.
pub async fn run(args: SandboxArgs, ctx: &Context) -> Result<()> {
    match args.emulator {
        Emulator::HttpSink {
            listen,
            record,
            token,
        } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            ctx.out.say(format!(
                "HTTP sink on http://{listen}/ (received: GET http://{listen}/_sandbox/received); Ctrl-C stops it"
            ));
            let config = SinkConfig {
                behaviour: Behaviour {
                    token,
                    ..Behaviour::default()
                },
                record_file: record,
            };
            tokio::select! {
                served = serve(listener, config) => served?,
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(())
        }
        Emulator::Calabrio { listen, wfm_token } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            ctx.out.say(format!(
                "Calabrio sandbox on http://{listen}/ (Wfm.Api persons: GET http://{listen}/_sandbox/calabrio/wfm); Ctrl-C stops it"
            ));
            let mut config = wfm_sandbox::calabrio::CalabrioConfig::default();
            config.wfm_api.tokens = vec![wfm_token];
            tokio::select! {
                served = wfm_sandbox::calabrio::serve(listener, config) => served?,
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(())
        }
    }
}
