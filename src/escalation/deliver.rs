//! One delivery attempt of a ping over one route, and how its failure is classified: retry
//! later (network, timeouts, 5xx, 429 with the receiver's `retry_after`) or give up on this
//! route (any other 4xx, a route that is not configured).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::ping::{Route, text_lines};
use crate::config::Secret;

/// How an attempt went.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    Delivered,
    /// Worth trying again; `after` is the receiver's own wait when it gave one (429).
    Transient {
        error: String,
        after: Option<Duration>,
    },
    /// This route will not work; fall over to the next.
    Permanent(String),
}

/// Where the chat platforms' APIs are and the credentials to call them. Secrets stay wrapped
/// so a `Debug` of this never prints them.
#[derive(Clone, Debug)]
pub struct Deliverer {
    http: reqwest::Client,
    webhook_secret: Option<Secret>,
    telegram_token: Option<Secret>,
    telegram_api: String,
    discord_token: Option<Secret>,
    discord_api: String,
}

#[derive(Clone, Debug, Default)]
pub struct DelivererConfig {
    pub webhook_secret: Option<Secret>,
    pub telegram_token: Option<Secret>,
    pub telegram_api: String,
    pub discord_token: Option<Secret>,
    pub discord_api: String,
    pub timeout: Duration,
}

/// The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The
/// timestamp is signed too so a captured request cannot be replayed later unnoticed.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

/// The parts of a signature header: its timestamp (unix seconds) and its `v1` hex digest;
/// `None` when either is missing or the timestamp is not a number.
pub fn parse_signature(header: &str) -> Option<(i64, &str)> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    Some((t?, v1?))
}

/// Whether `v1` is the digest of `body` signed at `t` (compared in constant time).
pub fn signature_matches(secret: &[u8], t: i64, v1: &str, body: &[u8]) -> bool {
    let expected = sign(secret, t, body);
    let a = expected.rsplit("v1=").next().unwrap_or_default().as_bytes();
    crate::channels::identity::constant_time_eq(a, v1.as_bytes())
}

/// Check a signature header against the body, whatever its age (what a receiver does; the
/// tests use it as the fake receiver; `frontdoor inbox` also checks the age).
pub fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    parse_signature(header).is_some_and(|(t, v1)| signature_matches(secret, t, v1, body))
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Discord Markdown: backslash the characters that would format, and break mentions.
fn escape_discord(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '-' | '[' | ']'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out.replace('@', "@\u{200b}")
}

/// Seconds in a `Retry-After` header (the delta form; dates are rare and treated as absent).
fn retry_after_header(r: &reqwest::Response) -> Option<Duration> {
    r.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Classify an HTTP status the way every route does.
fn classify(status: reqwest::StatusCode, after: Option<Duration>, detail: String) -> Attempt {
    if status.is_success() {
        Attempt::Delivered
    } else if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        Attempt::Transient {
            error: format!("{status}: {detail}"),
            after,
        }
    } else {
        Attempt::Permanent(format!("{status}: {detail}"))
    }
}

fn network(e: reqwest::Error) -> Attempt {
    // Connection refused, DNS, timeouts: the receiver may be back in a minute.
    Attempt::Transient {
        error: format!("network: {e}"),
        after: None,
    }
}

fn short(body: &str) -> String {
    body.chars().take(200).collect()
}

impl Deliverer {
    pub fn new(c: DelivererConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(c.timeout)
            .connect_timeout(c.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("frontdoor/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            http,
            webhook_secret: c.webhook_secret,
            telegram_token: c.telegram_token,
            telegram_api: c.telegram_api.trim_end_matches('/').to_string(),
            discord_token: c.discord_token,
            discord_api: format!("{}/api/v10", c.discord_api.trim_end_matches('/')),
        }
    }

    pub async fn deliver(&self, route: &Route, key: &str, ping: &Value) -> Attempt {
        match route {
            Route::Webhook { url } => self.webhook(url, key, ping).await,
            Route::Telegram { chat_id } => self.telegram(*chat_id, ping).await,
            Route::DiscordUser { user_id } => match self.discord_dm_channel(user_id).await {
                Ok(channel) => self.discord(&channel, ping).await,
                Err(a) => a,
            },
            Route::DiscordChannel { channel_id } => self.discord(channel_id, ping).await,
            Route::Email { to } => Attempt::Permanent(format!(
                "cannot email {to}: this build has no SMTP transport; give the manager a webhook, Telegram or Discord route"
            )),
        }
    }

    async fn webhook(&self, url: &str, key: &str, ping: &Value) -> Attempt {
        let body = ping.to_string().into_bytes();
        let mut req = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .header(
                "X-Frontdoor-Event",
                ping["event"].as_str().unwrap_or("escalation.ping"),
            );
        if let Some(secret) = &self.webhook_secret {
            let sig = sign(
                secret.expose().as_bytes(),
                chrono::Utc::now().timestamp(),
                &body,
            );
            req = req.header("X-Frontdoor-Signature", sig);
        }
        match req.body(body).send().await {
            Ok(r) => {
                let status = r.status();
                let header_after = retry_after_header(&r);
                let text = r.text().await.unwrap_or_default();
                // `Retry-After`, or a JSON body's `retry_after` (seconds) as bridges often send.
                let after = header_after.or_else(|| {
                    serde_json::from_str::<Value>(&text)
                        .ok()?
                        .get("retry_after")?
                        .as_f64()
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64)
                });
                classify(status, after, short(&text))
            }
            Err(e) => network(e),
        }
    }

    async fn telegram(&self, chat_id: i64, ping: &Value) -> Attempt {
        let Some(token) = &self.telegram_token else {
            return Attempt::Permanent("TELEGRAM_BOT_TOKEN is not set".into());
        };
        let id = ping["escalation_id"].as_i64().unwrap_or_default();
        let lines = text_lines(ping);
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            if i == 0 {
                text.push_str(&format!("<b>{}</b>", escape_html(line)));
            } else {
                text.push_str(&escape_html(line));
            }
            text.push('\n');
        }
        let mut body = json!({
            "chat_id": chat_id,
            "text": text.chars().take(4000).collect::<String>(),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
            "reply_markup": {"inline_keyboard": [[
                {"text": "Acknowledge", "callback_data": format!("esc:ack:{id}")},
                {"text": "Resolve", "callback_data": format!("esc:resolve:{id}")},
            ]]},
        });
        if !super::ping::is_escalation(ping)
            && let Some(o) = body.as_object_mut()
        {
            // Alerts have nothing to acknowledge.
            o.remove("reply_markup");
        }
        let url = format!("{}/bot{}/sendMessage", self.telegram_api, token.expose());
        match self.http.post(&url).json(&body).send().await {
            Ok(r) => {
                let status = r.status();
                let header_after = retry_after_header(&r);
                let reply: Value = r.json().await.unwrap_or(Value::Null);
                if reply["ok"].as_bool() == Some(true) {
                    return Attempt::Delivered;
                }
                // The Bot API says how long to wait in `parameters.retry_after`.
                let after = reply["parameters"]["retry_after"]
                    .as_f64()
                    .map(Duration::from_secs_f64)
                    .or(header_after);
                let code = reply["error_code"]
                    .as_u64()
                    .and_then(|c| u16::try_from(c).ok())
                    .and_then(|c| reqwest::StatusCode::from_u16(c).ok())
                    .unwrap_or(status);
                let code = if code.is_success() {
                    reqwest::StatusCode::BAD_GATEWAY
                } else {
                    code
                };
                let detail = reply["description"].as_str().unwrap_or("no description");
                if after.is_some() {
                    Attempt::Transient {
                        error: format!("{code}: {detail}"),
                        after,
                    }
                } else {
                    classify(code, None, detail.to_string())
                }
            }
            Err(e) => network(e),
        }
    }

    fn discord_auth(&self) -> Result<String, Attempt> {
        self.discord_token
            .as_ref()
            .map(|t| format!("Bot {}", t.expose()))
            .ok_or_else(|| Attempt::Permanent("DISCORD_BOT_TOKEN is not set".into()))
    }

    async fn discord_response(r: reqwest::Response) -> (Attempt, Value) {
        let status = r.status();
        let header_after = retry_after_header(&r);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        // Discord's 429 body carries `retry_after` in (fractional) seconds.
        let after = body["retry_after"]
            .as_f64()
            .map(Duration::from_secs_f64)
            .or(header_after);
        let detail = body["message"].as_str().unwrap_or_default().to_string();
        (classify(status, after, detail), body)
    }

    /// The DM channel with a user (Discord creates it on first use and returns the same after).
    async fn discord_dm_channel(&self, user_id: &str) -> Result<String, Attempt> {
        let auth = self.discord_auth()?;
        let url = format!("{}/users/@me/channels", self.discord_api);
        let r = self
            .http
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .json(&json!({"recipient_id": user_id}))
            .send()
            .await
            .map_err(network)?;
        match Self::discord_response(r).await {
            (Attempt::Delivered, body) => {
                body["id"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Attempt::Transient {
                        error: "Discord returned no DM channel id".into(),
                        after: None,
                    })
            }
            (failed, _) => Err(failed),
        }
    }

    async fn discord(&self, channel_id: &str, ping: &Value) -> Attempt {
        let auth = match self.discord_auth() {
            Ok(a) => a,
            Err(a) => return a,
        };
        let id = ping["escalation_id"].as_i64().unwrap_or_default();
        let lines = text_lines(ping);
        let mut content = String::new();
        for (i, line) in lines.iter().enumerate() {
            if i == 0 {
                content.push_str(&format!("**{}**", escape_discord(line)));
            } else {
                content.push_str(&escape_discord(line));
            }
            content.push('\n');
        }
        let mut body = json!({
            "content": content.chars().take(2000).collect::<String>(),
            "allowed_mentions": {"parse": []},
            "components": [{"type": 1, "components": [
                {"type": 2, "style": 1, "label": "Acknowledge", "custom_id": format!("esc:ack:{id}")},
                {"type": 2, "style": 3, "label": "Resolve", "custom_id": format!("esc:resolve:{id}")},
            ]}],
        });
        if !super::ping::is_escalation(ping)
            && let Some(o) = body.as_object_mut()
        {
            o.remove("components");
        }
        let url = format!("{}/channels/{channel_id}/messages", self.discord_api);
        match self
            .http
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .json(&body)
            .send()
            .await
        {
            Ok(r) => Self::discord_response(r).await.0,
            Err(e) => network(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let h = sign(b"s3cret", 1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify(b"s3cret", &h, b"{\"a\":1}"));
        assert!(!verify(b"s3cret", &h, b"{\"a\":2}"));
        assert!(!verify(b"other", &h, b"{\"a\":1}"));
        assert!(!verify(b"s3cret", "v1=00", b"{\"a\":1}"));
    }

    #[test]
    fn statuses_are_classified() {
        use reqwest::StatusCode as S;
        assert_eq!(classify(S::OK, None, String::new()), Attempt::Delivered);
        assert!(matches!(
            classify(S::INTERNAL_SERVER_ERROR, None, String::new()),
            Attempt::Transient { .. }
        ));
        assert!(matches!(
            classify(S::TOO_MANY_REQUESTS, Some(Duration::from_secs(3)), String::new()),
            Attempt::Transient { after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        assert!(matches!(
            classify(S::GONE, None, String::new()),
            Attempt::Permanent(_)
        ));
    }

    #[test]
    fn chat_text_is_escaped() {
        assert_eq!(escape_html("<b>&"), "&lt;b&gt;&amp;");
        assert_eq!(
            escape_discord("*hi* @everyone"),
            "\\*hi\\* @\u{200b}everyone"
        );
    }
}
