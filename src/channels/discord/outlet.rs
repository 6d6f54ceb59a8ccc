//! Discord's outlet: what the bot says outside a turn, through the REST API.

use std::time::Duration;

use super::{CHUNK, MAX_CUSTOM_ID};
use crate::dialogue::Button;
use crate::knowledge::render::split_message;
use crate::outlet::{
    Channel, DeliveryError, Outgoing, Outlet, Recipient, classify_network, classify_status,
    retry_after_header,
};

/// Discord's outlet: relayed replies to a client's channel or DM and pings to a manager's DM
/// or channel, through the REST API (one call per message, no retries here — the outbox
/// retries). Answers to a user's own message go out through the gateway handler above.
#[derive(Clone)]
pub struct DiscordOutlet {
    http: reqwest::Client,
    /// Wrapped so that no `Debug` or log line prints it.
    token: Option<crate::config::Secret>,
    api: String,
}

impl DiscordOutlet {
    /// `api`: `https://discord.com` or a proxy / fake base (`FRONTDOOR_DISCORD_API_URL`).
    pub fn new(http: reqwest::Client, token: Option<crate::config::Secret>, api: &str) -> Self {
        Self {
            http,
            token,
            api: format!("{}/api/v10", api.trim_end_matches('/')),
        }
    }

    fn auth(&self) -> Result<String, DeliveryError> {
        self.token
            .as_ref()
            .map(|t| format!("Bot {}", t.expose()))
            .ok_or_else(|| DeliveryError::hard("DISCORD_BOT_TOKEN is not set"))
    }

    async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, DeliveryError> {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .header(reqwest::header::AUTHORIZATION, self.auth()?)
            .json(body)
            .send()
            .await
            .map_err(|e| classify_network(&e))?;
        let status = r.status();
        let header_after = retry_after_header(&r);
        let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
        // Discord's 429 body carries `retry_after` in (fractional) seconds.
        let after = body["retry_after"]
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .or(header_after);
        classify_status(status, after, body["message"].as_str().unwrap_or_default())?;
        Ok(body)
    }

    /// The channel to post in: a conversation's channel (its session key starts with it), a
    /// manager's channel, or the DM channel with a manager (Discord opens it on first use and
    /// returns the same one after).
    async fn channel_of(&self, to: &Recipient) -> Result<String, DeliveryError> {
        let address = match to {
            Recipient::Conversation { session_key, .. } => {
                return session_key
                    .split(':')
                    .next()
                    .filter(|c| !c.is_empty() && c.chars().all(|d| d.is_ascii_digit()))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        DeliveryError::hard(format!("not a Discord session: {session_key}"))
                    });
            }
            Recipient::Address { address } => address,
        };
        if let Some(channel) = address.strip_prefix("channel:") {
            return Ok(channel.to_string());
        }
        let user = address.strip_prefix("user:").unwrap_or(address);
        let dm = self
            .post(
                "/users/@me/channels",
                &serde_json::json!({"recipient_id": user}),
            )
            .await?;
        dm["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| DeliveryError::transient("Discord returned no DM channel id", None))
    }
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

fn ping_body(ping: &serde_json::Value) -> serde_json::Value {
    let mut content = String::new();
    for (i, line) in crate::policy::ping::text_lines(ping).iter().enumerate() {
        if i == 0 {
            content.push_str(&format!("**{}**", escape_discord(line)));
        } else {
            content.push_str(&escape_discord(line));
        }
        content.push('\n');
    }
    let mut body = serde_json::json!({
        "content": content.chars().take(2000).collect::<String>(),
        "allowed_mentions": {"parse": []},
    });
    let buttons = crate::policy::ping::buttons(ping);
    if !buttons.is_empty() {
        // Discord's button styles: 1 primary (blue), 3 success (green).
        body["components"] = serde_json::json!([{"type": 1, "components": buttons
            .iter()
            .map(|(label, data)| serde_json::json!({
                "type": 2,
                "style": if data.starts_with("esc:ack:") { 1 } else { 3 },
                "label": label,
                "custom_id": data,
            }))
            .collect::<Vec<_>>()}]);
    }
    body
}

fn reply_components(buttons: &[Button]) -> serde_json::Value {
    serde_json::Value::Array(
        buttons
            .chunks(5)
            .take(5)
            .map(|row| {
                serde_json::json!({"type": 1, "components": row.iter().map(|b| {
                    let mut id = b.payload.clone();
                    id.truncate(MAX_CUSTOM_ID);
                    serde_json::json!({"type": 2, "style": 2, "custom_id": id,
                        "label": b.label.chars().take(80).collect::<String>()})
                }).collect::<Vec<_>>()})
            })
            .collect(),
    )
}

#[async_trait::async_trait]
impl Outlet for DiscordOutlet {
    fn channel(&self) -> Channel {
        "discord"
    }

    async fn deliver(&self, to: &Recipient, what: Outgoing<'_>) -> Result<(), DeliveryError> {
        let channel = self.channel_of(to).await?;
        let path = format!("/channels/{channel}/messages");
        match what {
            Outgoing::Ping { message, .. } => {
                self.post(&path, &ping_body(message)).await.map(|_| ())
            }
            Outgoing::Replies(relay) => {
                for (n, reply) in relay.replies.iter().enumerate() {
                    let chunks = split_message(&reply.text, CHUNK);
                    let last = chunks.len().saturating_sub(1);
                    for (i, chunk) in chunks.into_iter().enumerate() {
                        let mut body = serde_json::json!({
                            "content": chunk,
                            "allowed_mentions": {"parse": []},
                        });
                        if i == last && !reply.buttons.is_empty() {
                            body["components"] = reply_components(&reply.buttons);
                        }
                        self.post(&path, &body)
                            .await
                            .map_err(|e| e.after_delivering(n))?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_text_is_escaped() {
        assert_eq!(
            escape_discord("*hi* @everyone"),
            "\\*hi\\* @\u{200b}everyone"
        );
    }
}
