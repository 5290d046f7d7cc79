//! Emulators of Calabrio WFM (ex-Teleopti), described in reference/calabrio.md.
//!
//! - [`historical`]: the historical statistics intake (the three Teleopti files over HTTP or a
//!   drop directory), checking them with [`statistics_file`].
//! - [`rta`]: the real-time adherence state API (`Rta/State/Batch`, `Rta/State/Change`, the SOAP
//!   `TeleoptiRtaService.svc`), enforcing calabrio.md §6 "RTA".
//! - [`forecast_import`]: the forecast import (`POST /forecast/import`), enforcing calabrio.md §6
//!   "Forecast file".
//!
//! [`router`] and [`CalabrioSandbox`] serve both on one address, the way one Calabrio web root
//! does, so `wfm-bridge sandbox calabrio` can stand in for the whole system: the `calabrio`
//! account's `url` and the `http` account uploading statistics point at the same server.
//! [`wfm_api`] adds Wfm.Api's command API and the agent import (directory sync).

pub mod forecast_import;
pub mod historical;
pub mod rta;
pub mod statistics_file;
pub mod wfm_api;

use std::fmt;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, ToSocketAddrs};

use crate::running::RunningRouter;
use forecast_import::{ForecastImportConfig, ForecastImportHandle};
use historical::{HistoricalConfig, HistoricalHandle};
use rta::{RtaConfig, RtaHandle};
use wfm_api::{WfmApiConfig, WfmApiHandle};

/// How to start the whole Calabrio emulator: each part's configuration (both have defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalabrioConfig {
    /// The historical statistics intake.
    #[serde(default)]
    pub historical: HistoricalConfig,
    /// The RTA state API.
    #[serde(default)]
    pub rta: RtaConfig,
    /// The forecast import.
    #[serde(default)]
    pub forecast: ForecastImportConfig,
    /// Wfm.Api and the agent import (directory sync's target).
    #[serde(default)]
    pub wfm_api: WfmApiConfig,
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The historical part's configuration is wrong.
    #[error("historical: {0}")]
    Historical(#[from] historical::ConfigError),
    /// The RTA part's configuration is wrong.
    #[error("rta: {0}")]
    Rta(#[from] rta::RtaConfigError),
    /// The forecast import's configuration is wrong.
    #[error("forecast: {0}")]
    Forecast(#[from] forecast_import::ConfigError),
}

/// The handles of both parts.
#[derive(Debug, Clone)]
pub struct CalabrioHandles {
    /// The historical intake.
    pub historical: HistoricalHandle,
    /// The RTA.
    pub rta: RtaHandle,
    /// The forecast import.
    pub forecast: ForecastImportHandle,
    /// Wfm.Api and the agent import.
    pub wfm_api: WfmApiHandle,
}

/// One router serving both parts (their paths do not overlap), and their handles. Drop
/// directories are watched only once [`HistoricalHandle::spawn_watcher`] is called ([`serve`]
/// and [`CalabrioSandbox::start_with`] do).
pub fn router(config: &CalabrioConfig) -> Result<(Router, CalabrioHandles), ConfigError> {
    let (historical_router, historical) = historical::router(&config.historical)?;
    let (rta_router, rta) = rta::router(&config.rta)?;
    let (forecast_router, forecast) = forecast_import::router(&config.forecast)?;
    let (wfm_api_router, wfm_api) = wfm_api::router(&config.wfm_api);
    // The RTA router has the fallback (its paths match ignoring case); the others have only
    // routes, so they merge.
    Ok((
        rta_router
            .merge(historical_router)
            .merge(forecast_router)
            .merge(wfm_api_router),
        CalabrioHandles {
            historical,
            rta,
            forecast,
            wfm_api,
        },
    ))
}

/// Serves both parts on `listener`, watching drop directories, until the process ends or
/// accepting fails. A bad configuration is an `InvalidInput` error saying what is wrong.
pub async fn serve(listener: TcpListener, config: CalabrioConfig) -> io::Result<()> {
    let (router, handles) =
        router(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let watcher = handles.historical.spawn_watcher();
    let result = axum::serve(listener, router).await;
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    result
}

/// The whole emulator on a task of the current runtime; stopped by [`CalabrioSandbox::stop`] or
/// on drop.
pub struct CalabrioSandbox {
    server: RunningRouter,
    handles: CalabrioHandles,
}

impl fmt::Debug for CalabrioSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalabrioSandbox")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl CalabrioSandbox {
    /// Starts both parts with their default configurations on `addr` (`"127.0.0.1:0"` for a
    /// free port).
    pub async fn start(addr: impl ToSocketAddrs) -> io::Result<CalabrioSandbox> {
        CalabrioSandbox::start_with(addr, CalabrioConfig::default()).await
    }

    /// Starts both parts with a configuration on `addr`.
    pub async fn start_with(
        addr: impl ToSocketAddrs,
        config: CalabrioConfig,
    ) -> io::Result<CalabrioSandbox> {
        let (router, handles) =
            router(&config).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let server = RunningRouter::start(addr, router)
            .await?
            .with_companion(handles.historical.spawn_watcher());
        Ok(CalabrioSandbox { server, handles })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The web root, `http://<addr>/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr())
    }

    /// Both parts' handles.
    pub fn handles(&self) -> &CalabrioHandles {
        &self.handles
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}
