//! Where a ping goes: a manager's contact routes, in the order they are tried.

use serde::{Deserialize, Serialize};

use crate::domain::Channel;
use crate::knowledge::Manager;

/// One way to reach a manager.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Route {
    /// A JSON POST, HMAC-signed: for a Slack/Teams bridge or a ticketing tool.
    Webhook {
        url: String,
    },
    Telegram {
        chat_id: i64,
    },
    DiscordUser {
        user_id: String,
    },
    DiscordChannel {
        channel_id: String,
    },
    Email {
        to: String,
    },
}

impl Route {
    /// The channel whose outlet carries this route, and the manager's address on it.
    pub fn address(&self) -> (Channel, String) {
        match self {
            Route::Webhook { url } => ("webhook", url.clone()),
            Route::Telegram { chat_id } => ("telegram", chat_id.to_string()),
            Route::DiscordUser { user_id } => ("discord", format!("user:{user_id}")),
            Route::DiscordChannel { channel_id } => ("discord", format!("channel:{channel_id}")),
            Route::Email { to } => ("email", to.clone()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Route::Webhook { .. } => "webhook",
            Route::Telegram { .. } => "telegram",
            Route::DiscordUser { .. } | Route::DiscordChannel { .. } => "discord",
            Route::Email { .. } => "email",
        }
    }
}

/// A route as stored in an outbox row: the route, whose it is, and its place in the manager's
/// failover order (so a permanent failure knows which route comes next).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRoute {
    #[serde(flatten)]
    pub route: Route,
    #[serde(default)]
    pub manager: String,
    #[serde(default)]
    pub index: usize,
}

/// The manager's routes in the order they are tried: the manager's own `route_order` first
/// (channel names, e.g. `["webhook", "telegram", "discord"]`), then the rest in the default
/// order. Email only when there is nothing else: this build sends no email, so it is the route
/// that surfaces "unreachable" loudly. (An urgent escalation goes on every route at once, so
/// the order only decides its routes' keys.)
pub fn routes_of(manager: &Manager) -> Vec<Route> {
    let mut routes = default_routes_of(manager);
    if !manager.route_order.is_empty() {
        let rank = |r: &Route| {
            manager
                .route_order
                .iter()
                .position(|name| name == r.kind())
                .unwrap_or(usize::MAX)
        };
        // Stable: routes of one channel (a Discord DM and a Discord channel) keep their order.
        routes.sort_by_key(rank);
    }
    routes
}

/// The order used when a manager states none: the chats first — Telegram, Discord (DM, then
/// channel) — then the webhook. A chat reaches the manager in person, where a webhook feeds a
/// bridge or a ticket queue someone may read later; the product rule is that a person is
/// tried first.
fn default_routes_of(manager: &Manager) -> Vec<Route> {
    let mut routes = Vec::new();
    if let Some(chat_id) = manager.telegram_chat {
        routes.push(Route::Telegram { chat_id });
    }
    if let Some(user_id) = &manager.discord_user {
        routes.push(Route::DiscordUser {
            user_id: user_id.clone(),
        });
    }
    if let Some(channel_id) = &manager.discord_channel {
        routes.push(Route::DiscordChannel {
            channel_id: channel_id.clone(),
        });
    }
    if let Some(url) = &manager.webhook {
        routes.push(Route::Webhook { url: url.clone() });
    }
    if routes.is_empty() {
        routes.push(Route::Email {
            to: manager.email.clone(),
        });
    }
    routes
}
