//! The knowledge a running server answers with, and how it is replaced: reloaded on request
//! (`POST /api/v1/admin/reload`, SIGHUP) or when the content folder changes.
//!
//! A broken file keeps the previous good knowledge (the error is returned and logged);
//! conversations in flight keep the knowledge they started their turn with, because a reload
//! swaps the `Arc` in the holder and never changes a `Knowledge` in place.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;

use crate::engine::EngineConfig;
use crate::knowledge::{ContentError, ContentErrors, EngineBuild, Knowledge};
use crate::shutdown::Shutdown;
use crate::store::{ClientRecord, ManagerRecord, Store, StoreError};

/// What a successful reload loaded.
#[derive(Debug, serde::Serialize)]
pub struct Reloaded {
    pub articles: usize,
    pub intents: usize,
    pub services: usize,
    pub clients: usize,
    /// How the engine was made: built afresh, or the previous one patched or kept.
    pub engine: EngineBuild,
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("content errors:\n{0}")]
    Content(#[from] ContentErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The live knowledge and what it takes to load it again.
#[derive(Clone)]
pub struct LiveKnowledge {
    /// Where the knowledge was loaded from, and with which engine configuration.
    pub content_dir: PathBuf,
    pub engine: EngineConfig,
    /// The clients of the content are written here on each reload.
    pub store: Arc<dyn Store>,
    /// The holder the chat service reads (`dialogue::service::SharedKnowledge`).
    pub shared: Arc<RwLock<Arc<Knowledge>>>,
}

impl LiveKnowledge {
    /// Reload the content; on success the new knowledge is live and its clients are seeded.
    /// The engine is updated from the live one's: when only a few intents changed (one
    /// article saved) they are patched in rather than every intent trained again.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let dir = self.content_dir.clone();
        let engine = self.engine.clone();
        let live = self.current();
        let loaded = tokio::task::spawn_blocking(move || live.reload(&dir, engine))
            .await
            .map_err(|e| {
                ReloadError::Content(ContentErrors(vec![ContentError {
                    file: self.content_dir.clone(),
                    line: 1,
                    message: format!("reload task failed: {e}"),
                }]))
            })?;
        let k = match loaded {
            Ok(k) => k,
            Err(errors) => {
                tracing::error!(%errors, "content reload failed; keeping the previous knowledge");
                return Err(errors.into());
            }
        };
        seed_clients(self.store.as_ref(), &k).await?;
        let report = Reloaded {
            articles: k.articles.len(),
            intents: k.intents.len(),
            services: k.services.len(),
            clients: k.clients.len(),
            engine: k.engine_build,
        };
        // A poisoned lock only means a reader panicked; the value is still a whole `Arc`.
        match self.shared.write() {
            Ok(mut g) => *g = Arc::new(k),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(k),
        }
        tracing::info!(?report, "knowledge reloaded");
        Ok(report)
    }

    /// The knowledge being answered with now.
    pub fn current(&self) -> Arc<Knowledge> {
        match self.shared.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Watch the content folder and reload on change, until `shutdown`.
    pub async fn watch(self, every: Duration, mut shutdown: Shutdown) {
        let dir = self.content_dir.clone();
        let mut last = content_fingerprint(&dir);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.recv() => return,
            }
            let d = dir.clone();
            let now = tokio::task::spawn_blocking(move || content_fingerprint(&d))
                .await
                .unwrap_or(last);
            if now != last {
                last = now;
                // Errors are logged inside; the previous knowledge stays.
                let _ = self.reload().await;
            }
        }
    }
}

/// Write the clients of the content (and their account managers) to the store.
pub async fn seed_clients(store: &dyn Store, k: &Knowledge) -> Result<(), StoreError> {
    let now = Utc::now().timestamp_millis();
    for c in k.clients.values() {
        let spa = serde_json::json!({
            "start": c.spa.start,
            "end": c.spa.end,
            "renewal_notice_days": c.spa.renewal_notice_days,
            "coverage": c.spa.coverage,
            "services": c.spa.services,
            "rates": c.rates,
        });
        let managers: Vec<ManagerRecord> = c
            .managers
            .iter()
            .map(|m| ManagerRecord {
                name: m.name.clone(),
                email: m.email.clone(),
                role: m.role.clone(),
                routes: serde_json::json!({
                    "telegram_chat": m.telegram_chat,
                    "discord_user": m.discord_user,
                    "discord_channel": m.discord_channel,
                    "webhook": m.webhook,
                })
                .to_string(),
            })
            .collect();
        store
            .upsert_client(
                &ClientRecord {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    timezone: c.timezone.name().to_string(),
                    spa: spa.to_string(),
                },
                &managers,
                now,
            )
            .await?;
    }
    Ok(())
}

/// A fingerprint of the content files (path, size, modification time): cheap to compute, and
/// it changes when an editor saves or git checks out a file.
pub fn content_fingerprint(dir: &Path) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut stack = vec![dir.join("intents"), dir.join("knowledge-base")];
    let mut entries = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(m) = e.metadata() {
                entries.push((p, m.len(), m.modified().ok()));
            }
        }
    }
    entries.sort();
    entries.hash(&mut hasher);
    hasher.finish()
}
