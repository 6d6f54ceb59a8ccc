//! `[requests]` and `[[requests.webhook]]`: the SSO's case systems told of every request created
//! or changed. What can be checked without knowing what a request is, is checked here (the URL,
//! the events, the template file, the headers and the environment variables they name); the
//! template's placeholders and the JSON it renders to are checked by
//! `policy::request_hook::RequestHook::from_config`, which `frontdoor serve`, `check` and
//! `config` call.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

use super::{ConfigError, Secret};

/// The events a receiver may ask for.
pub const REQUEST_EVENTS: [&str; 2] = ["request.created", "request.updated"];

/// Telling the case systems.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RequestsConfig {
    /// Delivery attempts of one webhook before it is marked `failed` (a case system that is down
    /// for hours should still get every event: with the escalation backoff, capped at
    /// `[escalation] backoff_max_secs`, 30 attempts span about 3.5 hours).
    pub webhook_max_attempts: u32,
    /// HMAC secret that signs request webhooks (`FRONTDOOR_REQUEST_WEBHOOK_SECRET`, environment
    /// only). Separate from the managers' ping secret: the case system is another party.
    pub webhook_secret: Option<Secret>,
    #[serde(rename = "webhook")]
    pub webhooks: Vec<RequestWebhook>,
}

impl Default for RequestsConfig {
    fn default() -> Self {
        Self {
            webhook_max_attempts: 30,
            webhook_secret: None,
            webhooks: Vec::new(),
        }
    }
}

/// One receiver.
#[derive(Clone, Serialize, PartialEq)]
pub struct RequestWebhook {
    /// Names the receiver in idempotency keys and logs: `[A-Za-z0-9_-]+`, unique; default its
    /// place in the list (`0`, `1`, …).
    pub name: String,
    pub url: String,
    /// Of [`REQUEST_EVENTS`]; default both.
    pub events: Vec<String>,
    /// Where the body template came from: the file (as resolved), or `inline`.
    pub template_source: Option<String>,
    /// The template's text (not printed: it can be long).
    #[serde(skip)]
    pub template: Option<String>,
    /// Headers sent as written (not secrets).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Headers whose values come from the environment (a case system's token).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers_from_env: Vec<EnvHeader>,
    /// The key it is configured under, for messages: `requests.webhook[0]` (in `file`).
    #[serde(skip)]
    pub key: String,
}

/// The template's text is left out (it is long, and `template_source` says where it is).
impl std::fmt::Debug for RequestWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestWebhook")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("template_source", &self.template_source)
            .field("headers", &self.headers)
            .field("headers_from_env", &self.headers_from_env)
            .finish()
    }
}

/// A header whose value is an environment variable's: shown as the variable's name, never the
/// value.
#[derive(Clone, PartialEq)]
pub struct EnvHeader {
    pub header: String,
    pub env: String,
    pub value: Secret,
}

impl std::fmt::Debug for EnvHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ${} (********)", self.header, self.env)
    }
}

impl Serialize for EnvHeader {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}: ${} (********)", self.header, self.env))
    }
}

/// `[requests]` in `frontdoor.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRequests {
    webhook_max_attempts: Option<u32>,
    #[serde(default)]
    webhook: Vec<FileWebhook>,
}

/// `[[requests.webhook]]` in `frontdoor.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebhook {
    name: Option<String>,
    url: String,
    events: Option<Vec<String>>,
    /// A file, relative to the configuration file's folder.
    template: Option<PathBuf>,
    /// The template itself (a TOML multi-line string).
    template_inline: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Header name → environment variable holding its value.
    #[serde(default)]
    headers_from_env: BTreeMap<String, String>,
}

impl RequestsConfig {
    /// The section from the file (`file_path`: where it is, for messages and relative template
    /// paths) and the environment (`get`).
    pub(super) fn load(
        get: &dyn Fn(&str) -> Option<String>,
        file: FileRequests,
        file_path: Option<&Path>,
    ) -> Result<RequestsConfig, ConfigError> {
        let shown = file_path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "frontdoor.toml".into());
        let base = file_path
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let bad = |key: &str, message: String| ConfigError::File {
            file: shown.clone(),
            message: format!("{key}: {message}"),
        };
        let mut webhooks: Vec<RequestWebhook> = Vec::new();
        for (n, w) in file.webhook.into_iter().enumerate() {
            let key = format!("requests.webhook[{n}]");
            let name = w.name.unwrap_or_else(|| n.to_string());
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(
                    &format!("{key}.name"),
                    format!("{name:?} may only hold letters, digits, '-' and '_'"),
                ));
            }
            if webhooks.iter().any(|o| o.name == name) {
                return Err(bad(
                    &format!("{key}.name"),
                    format!("{name:?} names another receiver too"),
                ));
            }
            check_url(&w.url).map_err(|m| bad(&format!("{key}.url"), m))?;
            let events = w
                .events
                .unwrap_or_else(|| REQUEST_EVENTS.iter().map(|e| e.to_string()).collect());
            if events.is_empty() {
                return Err(bad(
                    &format!("{key}.events"),
                    "is empty: leave it out for both events, or remove the receiver".into(),
                ));
            }
            if let Some(e) = events
                .iter()
                .find(|e| !REQUEST_EVENTS.contains(&e.as_str()))
            {
                return Err(bad(
                    &format!("{key}.events"),
                    format!("{e:?} is not one of: {}", REQUEST_EVENTS.join(", ")),
                ));
            }
            let (template_source, template) = match (w.template, w.template_inline) {
                (Some(_), Some(_)) => {
                    return Err(bad(
                        &key,
                        "give `template` (a file) or `template_inline`, not both".into(),
                    ));
                }
                (Some(path), None) => {
                    let path = if path.is_absolute() {
                        path
                    } else {
                        base.join(path)
                    };
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        bad(
                            &format!("{key}.template"),
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?;
                    (Some(path.display().to_string()), Some(text))
                }
                (None, Some(text)) => (Some("inline".to_string()), Some(text)),
                (None, None) => (None, None),
            };
            for (header, value) in &w.headers {
                check_header(header, value)
                    .map_err(|m| bad(&format!("{key}.headers.{header}"), m))?;
            }
            let mut headers_from_env = Vec::new();
            for (header, env) in w.headers_from_env {
                let at = format!("{key}.headers_from_env.{header}");
                let value = get(&env).ok_or_else(|| {
                    bad(
                        &at,
                        format!("the environment variable {env} is not set (or empty)"),
                    )
                })?;
                // The value is a secret: the message names the variable, not what it holds.
                check_header(&header, &value)
                    .map_err(|_| bad(&at, format!("{env} is not a valid {header} header value")))?;
                headers_from_env.push(EnvHeader {
                    header,
                    env,
                    value: Secret::new(value),
                });
            }
            webhooks.push(RequestWebhook {
                name,
                url: w.url,
                events,
                template_source,
                template,
                headers: w.headers,
                headers_from_env,
                key: format!("{shown}: {key}"),
            });
        }
        let webhook_max_attempts = match get("FRONTDOOR_REQUEST_WEBHOOK_MAX_ATTEMPTS") {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: "FRONTDOOR_REQUEST_WEBHOOK_MAX_ATTEMPTS".into(),
                message: format!("{v:?} is not a whole number"),
            })?,
            None => file.webhook_max_attempts.unwrap_or(30),
        };
        if webhook_max_attempts == 0 {
            return Err(bad(
                "requests.webhook_max_attempts",
                "must be at least 1".into(),
            ));
        }
        Ok(RequestsConfig {
            webhook_max_attempts,
            webhook_secret: get("FRONTDOOR_REQUEST_WEBHOOK_SECRET").map(Secret::new),
            webhooks,
        })
    }
}

/// An absolute http(s) URL with a host.
pub(super) fn check_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    }
    Ok(())
}

fn check_header(name: &str, value: &str) -> Result<(), String> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a header name"))?;
    reqwest::header::HeaderValue::from_str(value)
        .map_err(|_| format!("{value:?} is not a header value"))?;
    Ok(())
}
