//! `wfm-bridge secrets`: the key that encrypts the secrets of accounts created through the admin
//! API. `generate-key` prints a new key; `rotate-key --new-key-file FILE` re-encrypts every stored
//! secret from the configured key (`WFM_BRIDGE_SECRET_KEY` or `[secrets] key_file`) to the new one.
//!
//! Rotation: generate a key into a new file, run `rotate-key` with the old key still configured,
//! then point `[secrets] key_file` (or the variable) at the new key and restart `serve`. A rotation
//! that stops half way can be run again: accounts already under the new key are left alone.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use wfm_engine::secrets::SecretKey;

use crate::commands::Context;

/// Arguments of `secrets`.
#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub action: SecretsAction,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Print a new random key (base64 of 32 bytes) for WFM_BRIDGE_SECRET_KEY or a key file.
    GenerateKey,
    /// Re-encrypt every stored account secret with a new key.
    RotateKey {
        /// File holding the new key (base64 of 32 bytes, as generate-key prints it).
        #[arg(long, value_name = "FILE")]
        new_key_file: PathBuf,
    },
}

/// Runs `secrets`.
pub async fn run(args: SecretsArgs, ctx: &Context) -> Result<()> {
    match args.action {
        SecretsAction::GenerateKey => {
            println!("{}", SecretKey::generate().to_base64());
            Ok(())
        }
        SecretsAction::RotateKey { new_key_file } => {
            let config = ctx.load_config()?;
            let Some(old) = config.secret_key.clone() else {
                bail!(
                    "no current key: set WFM_BRIDGE_SECRET_KEY or [secrets] key_file to the key the secrets are encrypted with now"
                );
            };
            let text = std::fs::read_to_string(&new_key_file)
                .with_context(|| format!("cannot read {}", new_key_file.display()))?;
            let new = SecretKey::from_base64(&text)
                .with_context(|| format!("{}", new_key_file.display()))?;
            if new == old {
                bail!(
                    "the new key is the key in use; generate another with `wfm-bridge secrets generate-key`"
                );
            }
            let store = ctx.open_store(Some(&config)).await?;
            let rewritten = wfm_engine::admin::rotate_key(&*store, &old, &new)
                .await
                .map_err(anyhow::Error::msg)?;
            eprintln!(
                "re-encrypted the secrets of {rewritten} account(s); now configure the new key ({}) and restart serve",
                new_key_file.display()
            );
            Ok(())
        }
    }
}
