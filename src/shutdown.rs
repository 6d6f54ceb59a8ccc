//! One shutdown handle for the whole server, the mini-redis way: `serve` creates one
//! [`Trigger`] and gives each background task (HTTP server, outbox worker, content watcher,
//! Telegram polling, Discord gateway, renewal alerts, review reminders) its own clone of [`Shutdown`]. When the
//! trigger fires, or is dropped because `serve` is leaving, every clone sees it.
//!
//! A `watch` channel rather than a `broadcast`: a task that subscribes (or looks) after the
//! trigger fired still sees it, so no task can miss the signal by starting late.

use tokio::sync::watch;

/// The sending side: fire it once on SIGINT/SIGTERM. Dropping it counts as shutdown too, so no
/// task outlives the server waiting for a signal that can no longer come.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// A task's view of the shutdown.
#[derive(Clone, Debug)]
pub struct Shutdown {
    /// Set once `recv` has returned, so a second `recv` returns at once.
    is_shutdown: bool,
    notify: watch::Receiver<bool>,
}

/// A new trigger and the first handle; clone the handle for each task.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (
        Trigger(tx),
        Shutdown {
            is_shutdown: false,
            notify: rx,
        },
    )
}

impl Trigger {
    /// Tell every handle to shut down.
    pub fn fire(&self) {
        // Err only when no handle is left: nobody to tell.
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Has the shutdown been signalled?
    pub fn is_shutdown(&self) -> bool {
        self.is_shutdown || *self.notify.borrow()
    }

    /// Wait for the shutdown (returns at once if it already happened).
    pub async fn recv(&mut self) {
        if self.is_shutdown {
            return;
        }
        // Err: the trigger was dropped, which means shutdown as well.
        let _ = self.notify.wait_for(|stop| *stop).await;
        self.is_shutdown = true;
    }

    /// This handle as a future that completes at shutdown, for the tasks whose `run` takes
    /// one (they stay testable with any future).
    pub async fn signalled(mut self) {
        self.recv().await
    }
}

/// SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_trigger_even_when_it_subscribes_late() {
        let (trigger, mut first) = channel();
        assert!(!first.is_shutdown());
        trigger.fire();
        let mut late = first.clone();
        first.recv().await;
        late.recv().await;
        assert!(first.is_shutdown() && late.is_shutdown());
    }

    #[tokio::test]
    async fn a_dropped_trigger_is_a_shutdown() {
        let (trigger, shutdown) = channel();
        drop(trigger);
        tokio::time::timeout(std::time::Duration::from_secs(5), shutdown.signalled())
            .await
            .expect("returns once the trigger is gone");
    }
}
