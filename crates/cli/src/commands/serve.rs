//! `wfm-bridge serve`: the scheduler, the delivery worker and the HTTP server, until SIGTERM or
//! Ctrl-C. On a stop signal no new run or send starts; runs and sends in progress finish; the rest
//! stays in the outbox for the next start.

use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use tokio::sync::watch;
use wfm_engine::Engine;
use wfm_engine::ingest::StateIngest;

use crate::commands::Context;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP server (default: [server] listen, else 127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<std::net::SocketAddr>,
}

/// Runs `serve`.
pub async fn run(args: ServeArgs, ctx: &Context) -> Result<()> {
    let config = ctx.load_config()?;
    let store = ctx.open_store(Some(&config)).await?;
    let listen = args.listen.unwrap_or(config.listen);
    let engine = Arc::new(Engine::start(config, store.clone()).await?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (set [server] listen or --listen)"))?;
    tracing::info!(
        %listen,
        store = %store.describe(),
        flows = engine.config.flows.len(),
        "wfm-bridge is serving"
    );
    if engine.config.admin_tokens.is_empty() {
        tracing::info!("admin API and console off: no [[admin_tokens]] configured");
    } else {
        tracing::info!(console = %format!("http://{listen}/console/"), "admin API and console on");
    }

    let (stop_tx, stop) = watch::channel(false);
    let signals = tokio::spawn(async move {
        wait_for_stop_signal().await;
        tracing::info!("stopping: finishing runs and sends in progress");
        let _ = stop_tx.send(true);
    });
    let result = serve_engine(engine, listener, stop).await;
    signals.abort();
    result?;
    tracing::info!("stopped");
    Ok(())
}

/// Runs the engine's scheduler and delivery worker and the HTTP server (ingest, SCIM, admin API,
/// console, health, metrics) on `listener` until `stop` turns true; `demo` serves its tour with it.
pub async fn serve_engine(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let tokens = wfm_server::ingest::TenantTokens::new(engine.config.tenants.iter().map(|t| {
        (
            t.tenant.tenant.as_str(),
            t.ingest_token.as_ref().map(|s| s.expose()),
        )
    }))
    .with_scim_tokens(engine.config.tenants.iter().map(|t| {
        (
            t.tenant.tenant.as_str(),
            t.scim_token.as_ref().map(|s| s.expose()),
        )
    }));
    let state = wfm_server::AppState {
        store: engine.store.clone(),
        metrics: engine.metrics.clone(),
        ingest: Some(StateIngest::start(
            engine.store.clone(),
            engine.tracker.clone(),
        )),
        tokens: Arc::new(tokens),
        engine: Some(engine.clone()),
    };
    let mut http_stop = stop.clone();
    let http = tokio::spawn(wfm_server::serve(listener, state, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));
    let result = engine.run(stop).await;
    http.await
        .context("the HTTP server stopped unexpectedly")??;
    result?;
    Ok(())
}

/// SIGTERM (service managers, `kill`) or SIGINT (Ctrl-C).
pub async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM can be handled");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
