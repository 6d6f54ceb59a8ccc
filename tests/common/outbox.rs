//! The escalation outbox worker as `frontdoor serve` sets it up, pointed at a fake receiver:
//! webhooks are signed with `webhook_secret`; the Telegram Bot API and Discord REST base URLs
//! are the receiver too.

use std::sync::Arc;
use std::time::Duration;

use frontdoor::config::{EscalationSettings, Secret};
use frontdoor::dialogue::service::SharedKnowledge;
use frontdoor::escalation::deliver::{Deliverer, DelivererConfig};
use frontdoor::escalation::worker::Worker;
use frontdoor::store::Store;

/// A worker delivering to `receiver_url`; `telegram_token` enables the Telegram route.
pub fn worker(
    store: Arc<dyn Store>,
    knowledge: SharedKnowledge,
    receiver_url: &str,
    webhook_secret: &str,
    telegram_token: Option<&str>,
    wake: Arc<tokio::sync::Notify>,
) -> Worker {
    Worker::new(
        store,
        knowledge,
        Deliverer::new(DelivererConfig {
            webhook_secret: Some(Secret::new(webhook_secret.to_string())),
            telegram_token: telegram_token.map(|t| Secret::new(t.to_string())),
            telegram_api: receiver_url.to_string(),
            discord_token: None,
            discord_api: receiver_url.to_string(),
            // A receiver on 127.0.0.1 answers in milliseconds; 5 s only turns a hang into an
            // error the worker retries.
            timeout: Duration::from_secs(5),
        }),
        EscalationSettings::default(),
        wake,
    )
}

/// The worker of a test server: its store, knowledge and wake-up signal.
pub fn worker_of(
    server: &super::TestServer,
    receiver_url: &str,
    webhook_secret: &str,
    telegram_token: Option<&str>,
) -> Worker {
    worker(
        server.store.clone(),
        server.state.chat.knowledge.clone(),
        receiver_url,
        webhook_secret,
        telegram_token,
        server.state.chat.outbox_wake.clone(),
    )
}
