//! One module per subcommand.

pub mod check;
pub mod demo;
pub mod export;
pub mod flows;
pub mod forecast;
pub mod import;
pub mod outbox;
pub mod sandbox;
pub mod secrets;
pub mod serve;
pub mod simulate;
pub mod staffing;
pub mod stats;
pub mod sync;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use wfm_engine::Config;
use wfm_model::RecordKind;
use wfm_store::Store;

use crate::output::Output;

/// The store used when no flag, environment variable or configuration names one.
pub const DEFAULT_STORE: &str = "sqlite://wfm-bridge.db";

/// The configuration read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG: &str = "wfm-bridge.toml";

/// What every command gets from the global flags.
pub struct Context {
    /// `--store` / `WFM_BRIDGE_STORE`.
    pub store: Option<String>,
    /// `--config` / `WFM_BRIDGE_CONFIG`.
    pub config: Option<PathBuf>,
    /// Where output goes.
    pub out: Output,
}

impl Context {
    /// Logs to standard error, filtered by `RUST_LOG` (default: info for long-running commands,
    /// warnings otherwise).
    pub fn init_logging(&self, long_running: bool) {
        let default = if long_running { "info" } else { "warn" };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }

    /// The configuration file to read: `--config`, else `wfm-bridge.toml` when it exists.
    fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let default = Path::new(DEFAULT_CONFIG);
            default.exists().then(|| default.to_path_buf())
        })
    }

    /// Reads and checks the configuration; commands that run flows need one.
    pub fn load_config(&self) -> Result<Config> {
        let path = self.config_path().with_context(|| {
            format!(
                "no configuration: {DEFAULT_CONFIG} is not in this directory; pass --config FILE (an annotated example is examples/wfm-bridge.toml)"
            )
        })?;
        let config = Config::load(&path)?;
        for warning in &config.warnings {
            eprintln!("warning: {warning}");
        }
        Ok(config)
    }

    /// The store URL: `--store`, else the configuration's `[store] url`, else the default.
    ///
    /// Only the `[store]` table is read here, so that `import` and `export` work even while other
    /// parts of the configuration (a secret's environment variable, say) are not in place.
    pub fn store_url(&self, config: Option<&Config>) -> Result<String> {
        if let Some(url) = &self.store {
            return Ok(url.clone());
        }
        if let Some(config) = config {
            return Ok(config
                .store_url
                .clone()
                .unwrap_or_else(|| DEFAULT_STORE.to_string()));
        }
        if let Some(path) = self.config_path()
            && let Some(url) = wfm_engine::config::store_url(&path)?
        {
            return Ok(url);
        }
        Ok(DEFAULT_STORE.to_string())
    }

    /// Opens the store (running migrations).
    pub async fn open_store(&self, config: Option<&Config>) -> Result<Arc<dyn Store>> {
        Ok(wfm_store::open(&self.store_url(config)?).await?)
    }
}

/// Parses a record kind, listing the choices in help and errors.
pub fn kind_parser() -> impl TypedValueParser<Value = RecordKind> {
    PossibleValuesParser::new(RecordKind::ALL.map(RecordKind::as_str))
        .map(|s| s.parse::<RecordKind>().expect("only listed values pass"))
}
