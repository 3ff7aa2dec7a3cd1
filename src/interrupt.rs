//! Interruption: the first Ctrl-C or SIGTERM stops new work, lets calls in flight finish within a
//! grace period, and the run is written as INTERRUPTED (exit 130); a second signal exits at once.
//! Files are always written atomically, so exiting at any point corrupts none already written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::warn;

use crate::error::EXIT_INTERRUPTED;

/// How long calls in flight may take to finish after the first signal.
pub const GRACE_PERIOD: Duration = Duration::from_secs(5);

/// A cancellation flag shared by everything a scan runs.
#[derive(Debug, Clone, Default)]
pub struct Cancellation {
    cancelled: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl Cancellation {
    /// A flag not yet raised.
    pub fn new() -> Cancellation {
        Cancellation::default()
    }

    /// Raises the flag.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether the flag is raised.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves once the flag is raised and then `grace` has passed.
    pub async fn cancelled_for(&self, grace: Duration) {
        while !self.is_cancelled() {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                break;
            }
            notified.await;
        }
        tokio::time::sleep(grace).await;
    }
}

/// Waits for Ctrl-C or SIGTERM: the first raises `cancellation`, the second exits the process.
pub async fn listen(cancellation: Cancellation) {
    wait_for_signal().await;
    warn!(
        "interrupted: starting no new work, waiting up to {} s for calls in flight, then writing the reports (a second signal exits at once)",
        GRACE_PERIOD.as_secs()
    );
    cancellation.cancel();
    wait_for_signal().await;
    warn!("interrupted again: exiting now");
    std::process::exit(i32::from(EXIT_INTERRUPTED));
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
