//! Waiting for what an emulator received: every emulator bumps a `watch` counter when it records
//! something, and tests wait on it for a condition, with a timeout.

use std::time::Duration;

use tokio::sync::watch;

/// Whether `done()` came to hold within `timeout`; it is checked at once and again after every
/// change announced on `changes`.
pub(crate) async fn until(
    changes: &watch::Sender<u64>,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> bool {
    let mut changes = changes.subscribe();
    let wait = changes.wait_for(|_| done());
    matches!(tokio::time::timeout(timeout, wait).await, Ok(Ok(_)))
}
