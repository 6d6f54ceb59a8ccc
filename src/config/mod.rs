//! Configuration: defaults → optional `frontdoor.toml` → environment (`FRONTDOOR_*`) → command-line flags.
//!
//! Secrets (bot tokens, the database password, signing secrets) come only from the environment
//! and are wrapped in [`Secret`], whose `Debug` and `Serialize` never show the value, so the
//! configuration can be logged and printed (`frontdoor config`) safely.

mod channels;
mod engine;
mod load;
mod requests;
mod secret;
mod settings;

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Serialize;

pub use channels::{ChannelsConfig, DiscordConfig, ShardRange, TelegramConfig};
pub use engine::{
    DEFAULT_ANSWER_THRESHOLD, DEFAULT_SUGGEST_RATIO, DEFAULT_SUGGEST_THRESHOLD,
    dataset_engine_config, engine_config, engine_overrides,
};
pub use requests::{EnvHeader, REQUEST_EVENTS, RequestWebhook, RequestsConfig};
pub use secret::{DatabaseUrl, Secret};
pub use settings::{DialogueSettings, EngineSettings, EscalationSettings, LogFormat, WebSettings};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
}

/// The effective configuration.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub content_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub log_format: LogFormat,
    pub engine: EngineSettings,
    pub dialogue: DialogueSettings,
    /// Where this configuration's file came from, if any.
    pub config_file: Option<PathBuf>,
    /// One section per channel (Telegram, Discord): tokens, API bases, webhook mode, guilds,
    /// shards. Set from the same environment variables as ever; non-secret values may also come
    /// from `[channels.telegram]` / `[channels.discord]` in `frontdoor.toml`.
    pub channels: ChannelsConfig,
    /// HMAC secret for signed web chat identity tokens.
    pub identity_secret: Option<Secret>,
    /// Bearer token for admin endpoints (reload). Unset: admin endpoints answer loopback only.
    pub admin_token: Option<Secret>,
    /// Seconds between checks of the content folder for changes (0 = no watching).
    pub reload_interval_secs: u64,
    pub web: WebSettings,
    pub escalation: EscalationSettings,
    /// HMAC secret that signs webhook pings (`X-Frontdoor-Signature`).
    pub webhook_secret: Option<Secret>,
    /// Where this service is reached from outside (`https://frontdoor.sso.example`): links to
    /// the back office in what leaves it. `public_url` or `FRONTDOOR_PUBLIC_URL`.
    pub public_url: Option<String>,
    /// The case systems told of every request created or changed (`[[requests.webhook]]`).
    pub requests: RequestsConfig,
}

/// Values given on the command line (highest precedence).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub content_dir: Option<PathBuf>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// The effective configuration as TOML, secrets masked (`frontdoor config`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

#[cfg(test)]
mod tests;
