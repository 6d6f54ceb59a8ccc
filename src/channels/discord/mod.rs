//! Discord adapter (serenity): DMs, mentions in guild channels, buttons as message components,
//! slash commands `/ask`, `/status`, `/human`, `/feedback`.
//!
//! Thin like the Telegram one: messages and button presses become dialogue inputs (the Discord
//! message or interaction id is the message id, so a redelivered event is answered from the
//! log), replies become Discord messages split at 2,000 characters.
//!
//! - `gateway`: what comes in over the gateway (messages, buttons, slash commands) and the
//!   answers to it;
//! - `manager`: account managers' commands and the one action they lead to;
//! - `outlet`: what goes out outside a turn (relayed replies, pings), over the REST API.

mod gateway;
mod manager;
mod outlet;

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serenity::all::{GatewayIntents, HttpBuilder, UserId};

use crate::config::ShardRange;
use crate::dialogue::service::ChatService;
use crate::outlet::Outlets;

pub use outlet::DiscordOutlet;

/// Discord's message limit.
const CHUNK: usize = 2000;
/// `custom_id` is limited to 100 characters.
const MAX_CUSTOM_ID: usize = 100;
/// How long a connected gateway gets to close its shards cleanly at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("discord: {0}")]
    Api(#[from] serenity::Error),
}

/// Settings of the Discord adapter.
#[derive(Clone, Debug, Default)]
pub struct DiscordSettings {
    /// `FRONTDOOR_DISCORD_API_URL`: send REST calls to this base instead of discord.com (tests,
    /// an HTTP proxy); the rate limiter is then left to that proxy.
    pub proxy: Option<String>,
    /// Guild id → client code: members of a client's server belong to that client.
    pub guild_clients: BTreeMap<u64, String>,
    /// The gateway shards this process runs; `None`: one unsharded connection.
    pub shards: Option<ShardRange>,
    /// Where a manager's answer goes once committed (the client's channel, whichever it is).
    /// Empty: it waits for the outbox worker.
    pub outlets: Outlets,
}

/// The gateway's event handler: one per connection, shared by its shards.
struct Handler {
    chat: ChatService,
    settings: DiscordSettings,
    me: OnceLock<UserId>,
}

/// Connect to the gateway and serve until `shutdown`.
///
/// `shutdown` is watched at every step, not handed to serenity alone: serenity's
/// `shutdown_all` does nothing while no shard runs yet, and a shard that cannot connect
/// (Discord unreachable) is re-queued forever, so `start` would never return and `serve`
/// would ignore SIGTERM.
pub async fn run(
    token: &str,
    chat: ChatService,
    settings: DiscordSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DiscordError> {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut http = HttpBuilder::new(token);
    if let Some(proxy) = &settings.proxy {
        // The proxy base replaces https://discord.com; serenity only honours it without its
        // own rate limiter.
        http = http
            .proxy(proxy.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    let intents = GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT;
    let settings_shards = settings.shards;
    let handler = Handler {
        chat,
        settings,
        me: OnceLock::new(),
    };
    // Building the client asks Discord for the gateway's address.
    let builder =
        serenity::all::ClientBuilder::new_with_http(http.build(), intents).event_handler(handler);
    let mut client = tokio::select! {
        client = builder.into_future() => client?,
        _ = &mut shutdown => return Ok(()),
    };
    let manager = Arc::clone(&client.shard_manager);
    let start = async {
        match settings_shards {
            // serenity's `start_shard_range` takes `first..last` but starts `last` too (its
            // range end is inclusive, whatever the `Range` type says).
            Some(r) => {
                tracing::info!(
                    first = r.first,
                    last = r.last,
                    total = r.total,
                    "discord: starting shard range"
                );
                client.start_shard_range(r.first..r.last, r.total).await
            }
            None => client.start().await,
        }
    };
    tokio::select! {
        started = start => started?,
        _ = &mut shutdown => {
            // Close the shards that are connected; a shard still waiting to connect has
            // nothing to close, and its retry loop ends with the runtime.
            if tokio::time::timeout(SHUTDOWN_GRACE, manager.shutdown_all()).await.is_err() {
                tracing::warn!("discord: the shards did not close in time");
            }
        }
    }
    Ok(())
}
