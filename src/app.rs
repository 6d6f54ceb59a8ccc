//! Wiring the pieces together: knowledge, store, seed data, the chat service, the channels'
//! outlets, the outbox worker. The root of the crate: it builds the state the HTTP layer
//! serves (`http::AppState`), so nothing below it needs to know about it.

use std::path::Path;
use std::sync::Arc;

use crate::config::{Config, ConfigError, EngineSettings};
use crate::dialogue::service::{ChatService, share};
use crate::http::AppState;
use crate::knowledge::{ContentErrors, Knowledge};
use crate::store::{self, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("content errors:\n{0}")]
    Content(#[from] ContentErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

// Their homes are `config` and `knowledge::live`; known here too by the callers (tests,
// benches) that wire a server themselves.
pub use crate::config::{
    DEFAULT_ANSWER_THRESHOLD, DEFAULT_SUGGEST_RATIO, DEFAULT_SUGGEST_THRESHOLD,
    dataset_engine_config, engine_config,
};
pub use crate::knowledge::live::seed_clients;

pub fn load_knowledge(
    content: &Path,
    settings: &EngineSettings,
) -> Result<Knowledge, ContentErrors> {
    Knowledge::load(content, engine_config(settings))
}

/// Everything `serve` needs: knowledge loaded, store connected and migrated, clients seeded.
pub async fn build(config: &Config) -> Result<AppState, AppError> {
    let hooks = request_hooks(config)?;
    let knowledge = load_knowledge(&config.content_dir, &config.engine)?;
    let store: Arc<dyn Store> = store::connect(&config.database_url).await?;
    seed_clients(store.as_ref(), &knowledge).await?;
    let state = AppState {
        chat: ChatService::new(store, share(knowledge), config.dialogue.clone())
            .with_escalation(config.escalation.clone())
            .with_request_hooks(hooks),
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

/// The case systems' webhooks of `[[requests.webhook]]`, their templates compiled and tried on a
/// sample request (an error names the receiver's key): `serve` refuses to start with a bad one,
/// and `check` and `config` report it.
pub fn request_hooks(
    config: &Config,
) -> Result<Vec<crate::policy::request_hook::RequestHook>, ConfigError> {
    config
        .requests
        .webhooks
        .iter()
        .map(|w| {
            crate::policy::request_hook::RequestHook::from_config(w, config.public_url.as_deref())
        })
        .collect()
}

/// Register the outlets of the configured channels in the app's registry (the web's own is
/// there from the start): webhooks always, Telegram and Discord with their tokens. A new
/// channel registers its outlet here.
pub fn register_outlets(config: &Config, state: &AppState) {
    let telegram = &config.channels.telegram;
    let discord = &config.channels.discord;
    // One client for all of them: one connection pool, one timeout per delivery attempt.
    let built = crate::channels::outlets::all(crate::escalation::deliver::DelivererConfig {
        webhook_secret: config.webhook_secret.clone(),
        telegram_token: telegram.bot_token.clone(),
        telegram_api: telegram.api_url.clone(),
        discord_token: discord.bot_token.clone(),
        discord_api: discord.api_url.clone(),
        timeout: std::time::Duration::from_secs(config.escalation.timeout_secs.max(1)),
    });
    state.web.outlets.extend_missing(&built);
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
    if !config.requests.webhooks.is_empty() && config.requests.webhook_secret.is_none() {
        tracing::warn!(
            "FRONTDOOR_REQUEST_WEBHOOK_SECRET is not set: request webhooks go out unsigned"
        );
    }
    let hooks = crate::escalation::request_hooks::HookCourier::new(
        crate::escalation::deliver::http_client(std::time::Duration::from_secs(
            config.escalation.timeout_secs.max(1),
        )),
        &config.requests,
        config.escalation.clone(),
    );
    crate::escalation::worker::Worker::new(
        state.chat.store.clone(),
        state.chat.knowledge.clone(),
        Deliverer::from_outlets(state.web.outlets.clone()),
        config.escalation.clone(),
        state.chat.outbox_wake.clone(),
    )
    .with_request_hooks(hooks)
}
