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
/// The content's answer threshold: below it the bot offers "did you mean" instead of an
/// answer. Chosen on the development set (`frontdoor eval --devset tests/fixtures/devset.toml`,
/// figures in the README): 0.2 (the engine's default) answered 78.6% right and 6.7% of
/// out-of-domain questions wrongly; 0.3 answers 75.5% right, offers the right article among
/// the suggestions for another 10%, and answers 4.4% of out-of-domain questions; 0.4 costs
/// four more points of direct answers for 1.4 fewer wrong out-of-domain answers.
pub const DEFAULT_ANSWER_THRESHOLD: f32 = 0.3;
/// The "did you mean" band starts at this confidence; later suggestions need
/// `DEFAULT_SUGGEST_RATIO` of the first one's. On the development set 0.02 / 0.1 put the right
/// article among the suggestions for 0.4 points more questions than 0.05 / 0.25.
pub const DEFAULT_SUGGEST_THRESHOLD: f32 = 0.02;
pub const DEFAULT_SUGGEST_RATIO: f32 = 0.1;

pub fn engine_config(settings: &EngineSettings) -> EngineConfig {
    let mut c = EngineConfig {
        oos_threshold: DEFAULT_ANSWER_THRESHOLD,
        suggest_threshold: settings
            .suggest_threshold
            .unwrap_or(DEFAULT_SUGGEST_THRESHOLD),
        suggest_ratio: DEFAULT_SUGGEST_RATIO,
        ..EngineConfig::default()
    };
    if let Some(t) = settings.oos_threshold {
        c.oos_threshold = t;
    }
    if let Some(m) = settings.clarify_margin {
        c.clarify_margin = m;
    }
    // the band lies under the answer threshold, whatever the two settings say
    c.suggest_threshold = c.suggest_threshold.min(c.oos_threshold);
    c
}

/// The engine's own defaults with only the settings given explicitly: for measuring the
/// engine on a dataset (`frontdoor eval --train`), whose confidences are not our content's.
pub fn dataset_engine_config(settings: &EngineSettings) -> EngineConfig {
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
    let state = AppState {
        chat: ChatService::new(store, share(knowledge), config.dialogue.clone())
            .with_escalation(config.escalation.clone()),
        content_dir: config.content_dir.clone(),
        engine: config.engine.clone(),
        admin_token: config.admin_token.clone(),
        web: Arc::new(crate::http::WebState::new(
            config.web.clone(),
            config.identity_secret.clone(),
        )),
        telegram: None,
        telegram_webhook_secret: None,
    };
    register_outlets(config, &state);
    Ok(state)
}

/// Register the outlets of the configured channels in the app's registry (the web's own is
/// there from the start): webhooks always, Telegram and Discord with their tokens. A new
/// channel registers its outlet here.
pub fn register_outlets(config: &Config, state: &AppState) {
    use crate::escalation::deliver::{Deliverer, DelivererConfig};
    let built = Deliverer::new(DelivererConfig {
        webhook_secret: config.webhook_secret.clone(),
        telegram_token: config.channels.telegram.bot_token.clone(),
        telegram_api: config.channels.telegram.api_url.clone(),
        discord_token: config.channels.discord.bot_token.clone(),
        discord_api: config.channels.discord.api_url.clone(),
        timeout: std::time::Duration::from_secs(config.escalation.timeout_secs.max(1)),
    });
    state.web.outlets.extend_missing(built.outlets());
    tracing::debug!(outlets = ?state.web.outlets, "channel outlets registered");
}

/// The outbox worker for this configuration, sharing the chat service's store, knowledge and
/// wake-up signal, and delivering through the app's outlets.
pub fn outbox_worker(config: &Config, state: &AppState) -> crate::escalation::worker::Worker {
    use crate::escalation::deliver::Deliverer;
    if config.webhook_secret.is_none() {
        tracing::warn!("FRONTDOOR_WEBHOOK_SECRET is not set: webhook pings go out unsigned");
    }
    if state.web.outlets.get("webhook").is_none() {
        register_outlets(config, state);
    }
    crate::escalation::worker::Worker::new(
        state.chat.store.clone(),
        state.chat.knowledge.clone(),
        Deliverer::from_outlets(state.web.outlets.clone()),
        config.escalation.clone(),
        state.chat.outbox_wake.clone(),
    )
}

/// What a successful reload loaded.
#[derive(Debug, serde::Serialize)]
pub struct Reloaded {
    pub articles: usize,
    pub intents: usize,
    pub services: usize,
    pub clients: usize,
}

/// Reload the content. A broken file keeps the previous good knowledge (the error is returned
/// and logged); conversations in flight keep the knowledge they started their turn with.
pub async fn reload(state: &AppState) -> Result<Reloaded, AppError> {
    let dir = state.content_dir.clone();
    let settings = state.engine.clone();
    let loaded = tokio::task::spawn_blocking(move || load_knowledge(&dir, &settings))
        .await
        .map_err(|e| {
            AppError::Content(ContentErrors(vec![crate::knowledge::ContentError {
                file: state.content_dir.clone(),
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
    seed_clients(state.chat.store.as_ref(), &k).await?;
    let report = Reloaded {
        articles: k.articles.len(),
        intents: k.intents.len(),
        services: k.services.len(),
        clients: k.clients.len(),
    };
    match state.chat.knowledge.write() {
        Ok(mut g) => *g = Arc::new(k),
        Err(poisoned) => *poisoned.into_inner() = Arc::new(k),
    }
    tracing::info!(?report, "knowledge reloaded");
    Ok(report)
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

/// Watch the content folder and reload on change, until `shutdown` fires.
pub async fn watch_content(
    state: AppState,
    every: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let dir = state.content_dir.clone();
    let mut last = content_fingerprint(&dir);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let d = dir.clone();
        let now = tokio::task::spawn_blocking(move || content_fingerprint(&d))
            .await
            .unwrap_or(last);
        if now != last {
            last = now;
            // Errors are logged inside; the previous knowledge stays.
            let _ = reload(&state).await;
        }
    }
}
