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
    /// The CxEngage (Serenova) API's users, groups, skills and queues, per tenant with Basic
    /// credentials (the counterpart of `serenova` accounts). Its data is set over
    /// PUT /_sandbox/directory; PATCH /_sandbox/tenants/{tenant}/{users|groups|skills|queues}/{id}
    /// renames or disables one thing.
    Serenova {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9095")]
        listen: std::net::SocketAddr,

        /// Start with the tenants, credentials and entities of this JSON file
        /// ({"tenants": [{"id", "key", "secret", "users", "groups", "skills", "queues"}]}).
        #[arg(long, value_name = "FILE")]
        data: Option<PathBuf>,
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
        Emulator::Serenova { listen, data } => {
            let data = match data {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    serde_json::from_str(&text).with_context(|| {
                        format!(
                            "{}: not Serenova sandbox data ({{\"tenants\": [{{\"id\", \"key\", \"secret\", \"users\", …}}]}})",
                            path.display()
                        )
                    })?
                }
                None => wfm_sandbox::serenova::SerenovaData::default(),
            };
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            ctx.out.say(format!(
                "CxEngage (Serenova) emulator on http://{listen}/ (data: PUT http://{listen}/_sandbox/directory); Ctrl-C stops it"
            ));
            tokio::select! {
                served = wfm_sandbox::serenova::serve(listener, data) => served?,
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(())
        }
    }
}
