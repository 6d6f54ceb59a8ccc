//! The channels' sections: Telegram and Discord tokens, API bases, webhook mode, guilds, shards.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// The channels' settings, one section each.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChannelsConfig {
    pub telegram: TelegramConfig,
    pub discord: DiscordConfig,
}

#[derive(Clone, Debug, Serialize)]
pub struct TelegramConfig {
    /// `TELEGRAM_BOT_TOKEN` (environment only).
    pub bot_token: Option<Secret>,
    /// Bot API base URL (tests, a local Bot API server); default `https://api.telegram.org`.
    /// `FRONTDOOR_TELEGRAM_API_URL` or `[channels.telegram] api_url`.
    pub api_url: String,
    /// Public URL of `/telegram/webhook`: Telegram pushes updates there instead of long polling
    /// (for several replicas). Needs `webhook_secret`. `FRONTDOOR_TELEGRAM_WEBHOOK_URL` or
    /// `[channels.telegram] webhook_url`.
    pub webhook_url: Option<String>,
    /// Checked against `X-Telegram-Bot-Api-Secret-Token` on every webhook call
    /// (`FRONTDOOR_TELEGRAM_WEBHOOK_SECRET`, environment only).
    pub webhook_secret: Option<Secret>,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            bot_token: None,
            api_url: "https://api.telegram.org".into(),
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DiscordConfig {
    /// `DISCORD_BOT_TOKEN` (environment only).
    pub bot_token: Option<Secret>,
    /// Discord base URL (REST under `/api/v10`); default `https://discord.com`. Another value
    /// (tests, an HTTP proxy) also turns off the bot's own rate limiter, as the proxy's job.
    /// `FRONTDOOR_DISCORD_API_URL` or `[channels.discord] api_url`.
    pub api_url: String,
    /// Discord guild (server) id → client code. `FRONTDOOR_DISCORD_GUILD_CLIENTS` or
    /// a `[channels.discord.guild_clients]` table.
    pub guild_clients: std::collections::BTreeMap<u64, String>,
    /// The gateway shards this replica runs (`FRONTDOOR_DISCORD_SHARDS=0-1/4` or
    /// `[channels.discord] shards`); unset: the one shard of a bot that is not sharded.
    pub shards: Option<ShardRange>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            bot_token: None,
            api_url: "https://discord.com".into(),
            guild_clients: Default::default(),
            shards: None,
        }
    }
}

impl ChannelsConfig {
    /// The channels' sections from the environment (`get`) over the file's `[channels.*]`;
    /// secrets come from the environment only.
    pub(super) fn load(
        get: &dyn Fn(&str) -> Option<String>,
        file: FileChannels,
    ) -> Result<ChannelsConfig, ConfigError> {
        let file_telegram = file.telegram;
        let file_discord = file.discord;
        let telegram_webhook_url =
            get("FRONTDOOR_TELEGRAM_WEBHOOK_URL").or(file_telegram.webhook_url);
        let telegram_webhook_secret = get("FRONTDOOR_TELEGRAM_WEBHOOK_SECRET").map(Secret::new);
        if telegram_webhook_url.is_some() && telegram_webhook_secret.is_none() {
            return Err(ConfigError::Invalid {
                name: "FRONTDOOR_TELEGRAM_WEBHOOK_SECRET".into(),
                message: "is required with FRONTDOOR_TELEGRAM_WEBHOOK_URL (Telegram sends it back on every call, so nobody else can post updates)".into(),
            });
        }
        let telegram = TelegramConfig {
            bot_token: get("TELEGRAM_BOT_TOKEN").map(Secret::new),
            api_url: get("FRONTDOOR_TELEGRAM_API_URL")
                .or(file_telegram.api_url)
                .unwrap_or_else(|| "https://api.telegram.org".into())
                .trim_end_matches('/')
                .to_string(),
            webhook_url: telegram_webhook_url,
            webhook_secret: telegram_webhook_secret,
        };
        let (shards_name, shards) = match get("FRONTDOOR_DISCORD_SHARDS") {
            Some(v) => ("FRONTDOOR_DISCORD_SHARDS", Some(v)),
            None => ("[channels.discord] shards", file_discord.shards),
        };
        // The file's table in the environment variable's form, so both parse (and fail) alike.
        let guild_clients = get("FRONTDOOR_DISCORD_GUILD_CLIENTS").or_else(|| {
            file_discord.guild_clients.map(|t| {
                t.iter()
                    .map(|(g, c)| format!("{g}={c}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
        });
        let discord = DiscordConfig {
            bot_token: get("DISCORD_BOT_TOKEN").map(Secret::new),
            api_url: get("FRONTDOOR_DISCORD_API_URL")
                .or(file_discord.api_url)
                .unwrap_or_else(|| "https://discord.com".into())
                .trim_end_matches('/')
                .to_string(),
            guild_clients: parse_guild_clients(guild_clients.as_deref())?,
            shards: shards
                .map(|v| {
                    v.parse::<ShardRange>()
                        .map_err(|message| ConfigError::Invalid {
                            name: shards_name.into(),
                            message,
                        })
                })
                .transpose()?,
        };
        Ok(ChannelsConfig { telegram, discord })
    }
}

/// `[channels.*]` in `frontdoor.toml` (the same sections `frontdoor config` prints).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileChannels {
    #[serde(default)]
    pub(super) telegram: FileTelegram,
    #[serde(default)]
    pub(super) discord: FileDiscord,
}

/// `[channels.telegram]` in `frontdoor.toml`: the channel's settings that are not secrets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTelegram {
    pub(super) api_url: Option<String>,
    pub(super) webhook_url: Option<String>,
}

/// `[channels.discord]` in `frontdoor.toml`: the channel's settings that are not secrets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDiscord {
    pub(super) api_url: Option<String>,
    /// Guild id → client code, as a table (`"123456789012345678" = "ACME"`).
    pub(super) guild_clients: Option<BTreeMap<String, String>>,
    pub(super) shards: Option<String>,
}

/// A contiguous range of Discord gateway shards out of `total`, both ends included: how a bot
/// too big for one process is split across replicas (each replica runs its own range; Discord
/// sends a guild's events to shard `(guild_id >> 22) % total`, DMs to shard 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl std::str::FromStr for ShardRange {
    type Err = String;

    /// `"FIRST-LAST/TOTAL"` (`"0-1/4"`: shards 0 and 1 of 4) or `"N/TOTAL"` (one shard).
    fn from_str(v: &str) -> Result<Self, String> {
        let bad = || format!("{v:?} is not FIRST-LAST/TOTAL (e.g. 0-1/4) or N/TOTAL");
        let (range, total) = v.trim().split_once('/').ok_or_else(bad)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        let (first, last, total) = (number(first)?, number(last)?, number(total)?);
        if total == 0 || first > last || last >= total {
            return Err(format!(
                "{v:?}: need FIRST <= LAST < TOTAL (shards are numbered from 0)"
            ));
        }
        Ok(ShardRange { first, last, total })
    }
}

/// `"123=ACME,456=GLOBEX"` → {123: ACME, 456: GLOBEX}.
pub(super) fn parse_guild_clients(
    v: Option<&str>,
) -> Result<std::collections::BTreeMap<u64, String>, ConfigError> {
    let mut out = std::collections::BTreeMap::new();
    for pair in v
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.trim().is_empty())
    {
        let (guild, client) = pair.split_once('=').ok_or_else(|| ConfigError::Invalid {
            name: "FRONTDOOR_DISCORD_GUILD_CLIENTS".into(),
            message: format!("{pair:?} is not GUILD_ID=CLIENT"),
        })?;
        let guild = guild
            .trim()
            .parse::<u64>()
            .map_err(|_| ConfigError::Invalid {
                name: "FRONTDOOR_DISCORD_GUILD_CLIENTS".into(),
                message: format!("{guild:?} is not a guild id"),
            })?;
        out.insert(guild, client.trim().to_string());
    }
    Ok(out)
}
