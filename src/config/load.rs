//! Loading: defaults → optional `frontdoor.toml` → environment (`FRONTDOOR_*`) → flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::channels::FileChannels;
use super::requests::{FileRequests, check_url};
use super::secret::mask_url_password;
use super::{
    ChannelsConfig, Config, ConfigError, DEFAULT_LISTEN, DatabaseUrl, DialogueSettings,
    EngineSettings, EscalationSettings, Flags, LogFormat, RequestsConfig, Secret, WebSettings,
};

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
    public_url: Option<String>,
    #[serde(default)]
    requests: FileRequests,
}

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
        let channels = ChannelsConfig::load(&get, file.channels)?;
        let public_url = match get("FRONTDOOR_PUBLIC_URL") {
            Some(url) => Some(("FRONTDOOR_PUBLIC_URL", url)),
            None => file.public_url.map(|u| ("public_url", u)),
        };
        let public_url = public_url
            .map(|(name, url)| {
                check_url(&url).map_err(|message| ConfigError::Invalid {
                    name: name.into(),
                    message,
                })?;
                Ok::<_, ConfigError>(url.trim_end_matches('/').to_string())
            })
            .transpose()?;
        let requests = RequestsConfig::load(&get, file.requests, config_file.as_deref())?;
        Ok(Config {
            web,
            escalation,
            channels,
            webhook_secret: get("FRONTDOOR_WEBHOOK_SECRET").map(Secret::new),
            public_url,
            requests,
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
            .map(|s| line_of_offset(&text, s.start))
            .unwrap_or(1);
        ConfigError::File {
            file: format!("{}:{line}", path.display()),
            message: e.message().to_string(),
        }
    })
}

/// The 1-based line of a byte offset (toml reports spans).
fn line_of_offset(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
