//! Configuration: defaults → optional `frontdoor.toml` → environment (`FRONTDOOR_*`) → command-line flags.
//!
//! Secrets (bot tokens, the database password, signing secrets) come only from the environment
//! and are wrapped in [`Secret`], whose `Debug` and `Serialize` never show the value, so the
//! configuration can be logged and printed (`frontdoor config`) safely.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
}

/// A secret value. Shown as `********` by `Debug`, `Display` and `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself: call only where it is used, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

/// A database URL whose password is masked when shown.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
    /// The URL with any password replaced by `********`.
    pub fn masked(&self) -> String {
        mask_url_password(&self.0)
    }
}

fn mask_url_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let masked_userinfo = match userinfo.find(':') {
        Some(colon) => format!("{}:********", &userinfo[..colon]),
        None => userinfo.to_string(),
    };
    format!(
        "{}://{}{}",
        &url[..scheme_end],
        masked_userinfo,
        &rest[at..]
    )
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.masked())
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Engine thresholds; `None` keeps the engine's defaults (chosen on validation data).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    pub oos_threshold: Option<f32>,
    pub clarify_margin: Option<f32>,
    /// "Did you mean" below the answer threshold down to this confidence (0 = never).
    pub suggest_threshold: Option<f32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DialogueSettings {
    /// At most one pulse survey per person per this many days.
    pub survey_period_days: u32,
    /// An unanswered survey expires after this many hours.
    pub survey_expiry_hours: u32,
    /// A half-finished conversation (a form, a question) resets after this many minutes idle.
    pub idle_timeout_minutes: u32,
}

impl Default for DialogueSettings {
    fn default() -> Self {
        Self {
            survey_period_days: 7,
            survey_expiry_hours: 24,
            idle_timeout_minutes: 30,
        }
    }
}

/// Escalation pings: delivery retries and the re-ping ladder (primary → reminder → backup).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationSettings {
    /// An unacknowledged escalation re-pings after this many minutes of coverage time.
    pub reping_minutes: u32,
    /// The same for urgent escalations, counted in wall-clock time (the fast lane).
    pub urgent_reping_minutes: u32,
    /// Delivery attempts of one ping before it is marked failed and the next route is tried.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt (with ±25% jitter) up to `backoff_max_secs`.
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    /// How often the worker looks for due pings when nothing wakes it (other replicas' pings).
    pub poll_interval_ms: u64,
    /// How long a claimed ping stays locked to one worker (a crashed worker's claim then lapses).
    pub lease_secs: u64,
    /// Timeout of one delivery attempt.
    pub timeout_secs: u64,
}

impl Default for EscalationSettings {
    fn default() -> Self {
        Self {
            reping_minutes: 15,
            urgent_reping_minutes: 5,
            max_attempts: 8,
            backoff_base_ms: 2_000,
            backoff_max_secs: 600,
            poll_interval_ms: 1_000,
            lease_secs: 60,
            timeout_secs: 10,
        }
    }
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
}

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

/// `[channels.*]` in `frontdoor.toml` (the same sections `frontdoor config` prints).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileChannels {
    #[serde(default)]
    telegram: FileTelegram,
    #[serde(default)]
    discord: FileDiscord,
}

/// `[channels.telegram]` in `frontdoor.toml`: the channel's settings that are not secrets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTelegram {
    api_url: Option<String>,
    webhook_url: Option<String>,
}

/// `[channels.discord]` in `frontdoor.toml`: the channel's settings that are not secrets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDiscord {
    api_url: Option<String>,
    /// Guild id → client code, as a table (`"123456789012345678" = "ACME"`).
    guild_clients: Option<BTreeMap<String, String>>,
    shards: Option<String>,
}

/// Web chat limits and the origins allowed to embed the widget.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Origins allowed to call the chat API and open the socket (e.g. "https://intranet.example").
    /// Empty: any origin.
    pub allowed_origins: Vec<String>,
    pub per_ip_burst: u32,
    pub per_ip_per_minute: u32,
    pub per_session_burst: u32,
    pub per_session_per_minute: u32,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            per_ip_burst: 60,
            per_ip_per_minute: 600,
            per_session_burst: 10,
            per_session_per_minute: 60,
        }
    }
}

/// What `frontdoor.toml` may contain. Secrets are deliberately absent: they come from the environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    content_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    #[serde(default)]
    engine: EngineSettings,
    dialogue: Option<DialogueSettings>,
    reload_interval_secs: Option<u64>,
    web: Option<WebSettings>,
    escalation: Option<EscalationSettings>,
    #[serde(default)]
    channels: FileChannels,
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
    /// Load from the process environment.
    pub fn load(flags: &Flags) -> Result<Config, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_from(flags, &env)
    }

    /// Load with an explicit environment (tests pass a map).
    pub fn load_from(flags: &Flags, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();

        let explicit_file = flags
            .config_file
            .clone()
            .or_else(|| get("FRONTDOOR_CONFIG").map(PathBuf::from));
        let (file, config_file) = match explicit_file {
            Some(path) => (read_file_config(&path)?, Some(path)),
            None => {
                let default = PathBuf::from("frontdoor.toml");
                if default.exists() {
                    (read_file_config(&default)?, Some(default))
                } else {
                    (FileConfig::default(), None)
                }
            }
        };

        let listen_raw = flags
            .listen
            .clone()
            .or_else(|| get("FRONTDOOR_LISTEN"))
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_raw.parse().map_err(|e| ConfigError::Invalid {
            name: "listen".into(),
            message: format!("{listen_raw:?} is not an address like 127.0.0.1:8080 ({e})"),
        })?;

        let data_dir = flags
            .data_dir
            .clone()
            .or_else(|| get("FRONTDOOR_DATA_DIR").map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let content_dir = flags
            .content_dir
            .clone()
            .or_else(|| get("FRONTDOOR_CONTENT_DIR").map(PathBuf::from))
            .or(file.content_dir)
            .unwrap_or_else(|| PathBuf::from("."));

        let database_url = match get("FRONTDOOR_DATABASE_URL") {
            Some(url) => {
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://"))
                {
                    return Err(ConfigError::Invalid {
                        name: "FRONTDOOR_DATABASE_URL".into(),
                        message: format!(
                            "{} must start with sqlite:, postgres:// or postgresql://",
                            mask_url_password(&url)
                        ),
                    });
                }
                DatabaseUrl::new(url)
            }
            None => DatabaseUrl::new(format!(
                "sqlite://{}",
                data_dir.join("frontdoor.db").display()
            )),
        };

        let log_format = match get("FRONTDOOR_LOG_FORMAT") {
            Some(v) => match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::Invalid {
                        name: "FRONTDOOR_LOG_FORMAT".into(),
                        message: format!("{other:?} is not one of: text, json"),
                    });
                }
            },
            None => file.log_format.unwrap_or(LogFormat::Text),
        };

        let mut engine = file.engine;
        if let Some(v) = get("FRONTDOOR_OOS_THRESHOLD") {
            engine.oos_threshold = Some(parse_unit("FRONTDOOR_OOS_THRESHOLD", &v)?);
        }
        if let Some(v) = get("FRONTDOOR_CLARIFY_MARGIN") {
            engine.clarify_margin = Some(parse_unit("FRONTDOOR_CLARIFY_MARGIN", &v)?);
        }
        if let Some(v) = get("FRONTDOOR_SUGGEST_THRESHOLD") {
            engine.suggest_threshold = Some(parse_unit("FRONTDOOR_SUGGEST_THRESHOLD", &v)?);
        }
        let mut dialogue = file.dialogue.unwrap_or_default();
        if let Some(v) = get("FRONTDOOR_SURVEY_PERIOD_DAYS") {
            dialogue.survey_period_days = v.parse().map_err(|_| ConfigError::Invalid {
                name: "FRONTDOOR_SURVEY_PERIOD_DAYS".into(),
                message: format!("{v:?} is not a whole number of days"),
            })?;
        }

        let reload_interval_secs = match get("FRONTDOOR_RELOAD_INTERVAL_SECS") {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: "FRONTDOOR_RELOAD_INTERVAL_SECS".into(),
                message: format!("{v:?} is not a whole number of seconds"),
            })?,
            None => file.reload_interval_secs.unwrap_or(2),
        };

        let mut web = file.web.unwrap_or_default();
        if let Some(v) = get("FRONTDOOR_ALLOWED_ORIGINS") {
            web.allowed_origins = v
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }

        let escalation = file.escalation.unwrap_or_default();
        let file_telegram = file.channels.telegram;
        let file_discord = file.channels.discord;
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
        Ok(Config {
            web,
            escalation,
            channels: ChannelsConfig { telegram, discord },
            webhook_secret: get("FRONTDOOR_WEBHOOK_SECRET").map(Secret::new),
            listen,
            data_dir,
            content_dir,
            database_url,
            log_format,
            engine,
            dialogue,
            config_file,
            identity_secret: get("FRONTDOOR_IDENTITY_SECRET").map(Secret::new),
            admin_token: get("FRONTDOOR_ADMIN_TOKEN").map(Secret::new),
            reload_interval_secs,
        })
    }

    /// The effective configuration as TOML, secrets masked (`frontdoor config`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
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
fn parse_guild_clients(
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

fn parse_unit(name: &str, v: &str) -> Result<f32, ConfigError> {
    match v.parse::<f32>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(ConfigError::Invalid {
            name: name.into(),
            message: format!("{v:?} is not a number between 0 and 1"),
        }),
    }
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| crate::knowledge::line_of_offset(&text, s.start))
            .unwrap_or(1);
        ConfigError::File {
            file: format!("{}:{line}", path.display()),
            message: e.message().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_env_then_flags() {
        let c = Config::load_from(&Flags::default(), &env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert!(c.database_url.expose().ends_with("data/frontdoor.db"));

        let e = env(&[
            ("FRONTDOOR_LISTEN", "127.0.0.1:9000"),
            ("FRONTDOOR_DATA_DIR", "/tmp/x"),
        ]);
        let c = Config::load_from(&Flags::default(), &e).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.database_url.expose(), "sqlite:///tmp/x/frontdoor.db");

        let flags = Flags {
            listen: Some("127.0.0.1:9100".into()),
            ..Flags::default()
        };
        let c = Config::load_from(&flags, &e).unwrap();
        assert_eq!(c.listen.port(), 9100, "flags beat the environment");
    }

    #[test]
    fn file_sits_between_defaults_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frontdoor.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:7000\"\ncontent_dir = \"/srv/content\"\n[engine]\noos_threshold = 0.4\n",
        )
        .unwrap();
        let flags = Flags {
            config_file: Some(path.clone()),
            ..Flags::default()
        };
        let c = Config::load_from(&flags, &env(&[])).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.content_dir, PathBuf::from("/srv/content"));
        assert_eq!(c.engine.oos_threshold, Some(0.4));
        let c = Config::load_from(&flags, &env(&[("FRONTDOOR_LISTEN", "127.0.0.1:7001")])).unwrap();
        assert_eq!(c.listen.port(), 7001);
    }

    #[test]
    fn bad_file_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frontdoor.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:7000\"\n\nbogus_key = 3\n").unwrap();
        let flags = Flags {
            config_file: Some(path),
            ..Flags::default()
        };
        let err = Config::load_from(&flags, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("frontdoor.toml:3"), "{err}");
        assert!(err.contains("bogus_key"), "{err}");
    }

    #[test]
    fn channel_sections_come_from_the_file_and_the_old_variables_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frontdoor.toml");
        std::fs::write(
            &path,
            "[channels.telegram]\napi_url = \"http://127.0.0.1:8081/\"\n\n[channels.discord]\napi_url = \"http://proxy.internal\"\nshards = \"0-1/4\"\n\n[channels.discord.guild_clients]\n\"123456789012345678\" = \"ACME\"\n",
        )
        .unwrap();
        let flags = Flags {
            config_file: Some(path.clone()),
            ..Flags::default()
        };
        let c = Config::load_from(&flags, &env(&[])).unwrap();
        assert_eq!(c.channels.telegram.api_url, "http://127.0.0.1:8081");
        assert_eq!(c.channels.discord.api_url, "http://proxy.internal");
        assert_eq!(
            c.channels.discord.guild_clients.get(&123456789012345678),
            Some(&"ACME".to_string())
        );
        assert_eq!(c.channels.discord.shards.map(|s| s.total), Some(4));
        let c = Config::load_from(
            &flags,
            &env(&[
                ("FRONTDOOR_TELEGRAM_API_URL", "http://local-bot-api"),
                ("FRONTDOOR_DISCORD_SHARDS", "2/4"),
                ("TELEGRAM_BOT_TOKEN", "1:t"),
            ]),
        )
        .unwrap();
        assert_eq!(c.channels.telegram.api_url, "http://local-bot-api");
        assert_eq!(c.channels.discord.shards.map(|s| s.first), Some(2));
        assert!(c.channels.telegram.bot_token.is_some());
        // Tokens stay out of the file.
        std::fs::write(&path, "[channels.telegram]\nbot_token = \"1:t\"\n").unwrap();
        assert!(Config::load_from(&flags, &env(&[])).is_err());
    }

    #[test]
    fn discord_shard_ranges() {
        let shards = |v: &str| {
            Config::load_from(&Flags::default(), &env(&[("FRONTDOOR_DISCORD_SHARDS", v)]))
                .map(|c| c.channels.discord.shards)
        };
        let range = |first, last, total| Some(ShardRange { first, last, total });
        assert_eq!(shards("0-1/4").unwrap(), range(0, 1, 4));
        assert_eq!(shards(" 3/4 ").unwrap(), range(3, 3, 4));
        assert_eq!(
            Config::load_from(&Flags::default(), &env(&[]))
                .unwrap()
                .channels
                .discord
                .shards,
            None
        );
        for bad in ["4/4", "2-1/4", "0-1", "a-b/c", "0/0", "-1/4"] {
            let err = shards(bad).unwrap_err().to_string();
            assert!(err.starts_with("FRONTDOOR_DISCORD_SHARDS"), "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_never_shown() {
        let e = env(&[
            (
                "FRONTDOOR_DATABASE_URL",
                "postgres://fd:hunter2@db.internal:5432/fd",
            ),
            ("TELEGRAM_BOT_TOKEN", "123456:ABC-very-secret"),
            ("DISCORD_BOT_TOKEN", "discord-secret-token"),
            ("FRONTDOOR_ADMIN_TOKEN", "admin-secret-token"),
        ]);
        let c = Config::load_from(&Flags::default(), &e).unwrap();
        let shown = format!("{c:?}\n{}", c.to_masked_toml());
        for secret in [
            "hunter2",
            "ABC-very-secret",
            "discord-secret-token",
            "admin-secret-token",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked in:\n{shown}");
        }
        assert!(
            shown.contains("postgres://fd:********@db.internal:5432/fd"),
            "{shown}"
        );
        assert!(c.database_url.is_postgres());
    }

    #[test]
    fn invalid_values_are_named() {
        let err = Config::load_from(
            &Flags::default(),
            &env(&[("FRONTDOOR_LISTEN", "localhost")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("listen:"), "{err}");
        let err = Config::load_from(
            &Flags::default(),
            &env(&[("FRONTDOOR_DATABASE_URL", "mysql://x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("FRONTDOOR_DATABASE_URL"), "{err}");
    }
}
