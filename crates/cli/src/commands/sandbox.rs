//! `wfm-bridge sandbox …`: emulators of target systems, for trying flows without a real WFM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use wfm_sandbox::calabrio::{CalabrioConfig, CalabrioSandbox};
use wfm_sandbox::http_sink::{Behaviour, SinkConfig, serve};
use wfm_sandbox::tcp_sink::{SinkEncoding, TcpSink, TcpSinkConfig};

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
    /// Calabrio WFM on one address: the RTA state API (JSON Rta/State/Batch and the SOAP
    /// service), the historical statistics intake (/historical), the forecast import
    /// (/forecast/import) and Wfm.Api with the agent import (/api/…), checking what
    /// reference/calabrio.md §6 lists. What each holds: GET /_sandbox/calabrio/rta,
    /// /_sandbox/calabrio/historical, /_sandbox/calabrio/forecast, /_sandbox/calabrio/wfm.
    Calabrio {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9191")]
        listen: std::net::SocketAddr,

        /// The parts' configuration as TOML (tables `[historical]`, `[rta]`, `[forecast]`; see the
        /// README), or JSON for a FILE.json. Without it: tenant `default` in UTC with 15-minute
        /// intervals, RTA key `sandbox-rta-key`, source `1`, persons created for any user code.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// A TCP server that prints every CRLF-terminated record it receives (a target for
    /// `aspect_tcp` accounts).
    TcpSink {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9292")]
        listen: std::net::SocketAddr,

        /// How records are encoded.
        #[arg(long, value_enum, default_value_t = Encoding::Utf8)]
        encoding: Encoding,
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

/// Encodings of `sandbox tcp-sink`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Encoding {
    /// UTF-8.
    Utf8,
    /// UTF-16 little-endian.
    Utf16le,
}

/// Reads a Calabrio emulator configuration (TOML, or JSON for `.json`); errors name the file and
/// the key.
fn calabrio_config(path: &Path) -> Result<CalabrioConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let what = || format!("{}: not a Calabrio sandbox configuration", path.display());
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        serde_json::from_str(&text).with_context(what)
    } else {
        toml::from_str(&text).with_context(what)
    }
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
        Emulator::Calabrio { listen, config } => {
            let config = match config {
                Some(path) => calabrio_config(&path)?,
                None => CalabrioConfig::default(),
            };
            let sandbox = CalabrioSandbox::start_with(listen, config)
                .await
                .with_context(|| format!("cannot start the Calabrio sandbox on {listen}"))?;
            let addr = sandbox.addr();
            ctx.out.say(format!(
                "Calabrio sandbox on http://{addr}/: RTA at /Rta/State/Batch and /Rta/TeleoptiRtaService.svc, \
                 statistics at /historical/{{tenant}}, forecasts at /forecast/import, Wfm.Api at /api/; what it \
                 holds: GET http://{addr}/_sandbox/calabrio/{{rta,historical,forecast,wfm}}; Ctrl-C stops it"
            ));
            let _ = tokio::signal::ctrl_c().await;
            sandbox.stop().await;
            Ok(())
        }
        Emulator::TcpSink { listen, encoding } => {
            let encoding = match encoding {
                Encoding::Utf8 => SinkEncoding::Utf8,
                Encoding::Utf16le => SinkEncoding::Utf16Le,
            };
            let sink = TcpSink::start_with(listen, TcpSinkConfig { encoding })
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            ctx.out.say(format!(
                "TCP sink on {}; each record is printed as it arrives; Ctrl-C stops it",
                sink.addr()
            ));
            let printer = async {
                let mut printed = 0;
                loop {
                    if let Some(records) = sink
                        .handle()
                        .wait_for_records(printed + 1, Duration::from_secs(3600))
                        .await
                    {
                        for record in records.iter().filter(|r| r.complete).skip(printed) {
                            println!("{} #{} {}", record.at, record.connection, record.text);
                        }
                        printed = records.iter().filter(|r| r.complete).count();
                    }
                }
            };
            tokio::select! {
                () = printer => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            sink.stop().await;
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
