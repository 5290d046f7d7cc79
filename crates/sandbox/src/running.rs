//! An emulator's HTTP server running on a task of the current runtime: what every emulator's
//! `start` wraps, so that each says only what it serves.

use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A router served on a task; stopped by [`RunningRouter::stop`] or, at once, on drop.
#[derive(Debug)]
pub(crate) struct RunningRouter {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
    /// Work that lives as long as the server (a drop-directory watcher).
    companion: Option<JoinHandle<()>>,
}

impl RunningRouter {
    /// Binds `addr` (`"127.0.0.1:0"` for a free port) and serves `router` there.
    pub(crate) async fn start(addr: impl ToSocketAddrs, router: Router) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(RunningRouter {
            addr,
            shutdown: Some(shutdown),
            task,
            companion: None,
        })
    }

    /// Ends `companion` together with the server.
    pub(crate) fn with_companion(mut self, companion: Option<JoinHandle<()>>) -> Self {
        self.companion = companion;
        self
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub(crate) async fn stop(mut self) {
        if let Some(companion) = self.companion.take() {
            companion.abort();
        }
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningRouter {
    fn drop(&mut self) {
        // Not stopped explicitly: end at once so a test leaves no server behind.
        if let Some(companion) = &self.companion {
            companion.abort();
        }
        self.task.abort();
    }
}
