//! The per-session locks of the dialogue service.

use std::sync::Arc;

/// One async lock per live session, so turns of one conversation run one after the other in
/// this process (a user double-clicking, a channel redelivering). Across replicas the state's
/// version check catches the rest. Entries are dropped when their last holder leaves, so the
/// map only holds sessions with a turn in flight.
#[derive(Clone, Default)]
pub(super) struct SessionLocks(
    Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
);

pub(super) struct SessionGuard {
    key: String,
    locks: SessionLocks,
    lock: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl SessionLocks {
    /// Sessions with a turn in flight or waiting.
    pub(super) fn in_flight(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub(super) async fn lock(&self, key: String) -> SessionGuard {
        let mutex = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.clone()).or_default().clone()
        };
        let guard = mutex.lock_owned().await;
        SessionGuard {
            key,
            locks: self.clone(),
            lock: Some(guard),
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.lock.take();
        let mut map = self.locks.0.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map's own reference left: nobody holds or waits for this session.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}
