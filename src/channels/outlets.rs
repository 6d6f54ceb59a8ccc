//! The outlets pings go through, built from the channels' credentials: webhooks (the outlet
//! lives with the deliverer) and the Telegram and Discord adapters' own outlets.
//!
//! [`Deliverer::new`] is written here rather than beside the deliverer because it names the
//! chat adapters: the escalation layer delivers through the channel port ([`crate::outlet`])
//! and must not import the adapters, which sit above it and call its actions.

use std::sync::Arc;

use super::discord::DiscordOutlet;
use super::telegram::TelegramOutlet;
use crate::escalation::deliver::{Deliverer, DelivererConfig, WebhookOutlet, http_client};
use crate::outlet::Outlets;

/// Every outlet for these credentials: webhook, Telegram, Discord. **A new channel registers
/// its outlet here** (one line); the app, the outbox worker and the tests all take this list.
pub fn all(c: DelivererConfig) -> Outlets {
    let http = http_client(c.timeout);
    let outlets = Outlets::default();
    outlets.register(Arc::new(WebhookOutlet::new(http.clone(), c.webhook_secret)));
    outlets.register(Arc::new(TelegramOutlet::new(
        http.clone(),
        c.telegram_token,
        &c.telegram_api,
    )));
    outlets.register(Arc::new(DiscordOutlet::new(
        http,
        c.discord_token,
        &c.discord_api,
    )));
    outlets
}

impl Deliverer {
    /// A deliverer over [`all`] the outlets for these credentials.
    pub fn new(c: DelivererConfig) -> Self {
        Self::from_outlets(all(c))
    }
}
