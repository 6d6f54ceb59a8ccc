//! Wiring the pieces together: knowledge, store, seed data, the chat service.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use crate::config::{Config, EngineSettings};
use crate::dialogue::service::{ChatService, share};
use crate::engine::EngineConfig;
use crate::http::AppState;
use crate::knowledge::{ContentErrors, Knowledge};
use crate::store::{self, ClientRecord, ManagerRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("content errors:\n{0}")]
    Content(#[from] ContentErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The engine configuration: its tuned defaults with the configured overrides.
pub fn engine_config(settings: &EngineSettings) -> EngineConfig {
    let mut c = EngineConfig::default();
    if let Some(t) = settings.oos_threshold {
        c.oos_threshold = t;
    }
    if let Some(m) = settings.clarify_margin {
        c.clarify_margin = m;
    }
    c
}

pub fn load_knowledge(
    content: &Path,
    settings: &EngineSettings,
) -> Result<Knowledge, ContentErrors> {
    Knowledge::load(content, engine_config(settings))
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

/// Everything `serve` needs: knowledge loaded, store connected and migrated, clients seeded.
pub async fn build(config: &Config) -> Result<AppState, AppError> {
    let knowledge = load_knowledge(&config.content_dir, &config.engine)?;
    let store: Arc<dyn Store> = store::connect(&config.database_url).await?;
    seed_clients(store.as_ref(), &knowledge).await?;
    Ok(AppState {
        chat: ChatService::new(store, share(knowledge), config.dialogue.clone()),
    })
}
