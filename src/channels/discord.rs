//! Discord adapter (serenity): DMs, mentions in guild channels, buttons as message components,
//! slash commands `/ask`, `/status`, `/human`, `/feedback`.
//!
//! Thin like the Telegram one: messages and button presses become dialogue inputs (the Discord
//! message or interaction id is the message id, so a redelivered event is answered from the
//! log), replies become Discord messages split at 2,000 characters.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use serenity::all::{
    ButtonStyle, ChannelId, Command, CommandInteraction, CommandOptionType, ComponentInteraction,
    Context, CreateActionRow, CreateButton, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateMessage, EventHandler, GatewayIntents, HttpBuilder,
    Interaction, Message, Ready, User, UserId,
};

use crate::config::ShardRange;
use crate::dialogue::service::{ChatService, Inbound, Outbound};
use crate::dialogue::{Button, Input, Reply};
use crate::escalation::actions::{self, ChatCommand};
use crate::knowledge::render::split_message;
use crate::outlet::{
    Channel, DeliveryError, Outgoing, Outlet, Outlets, Recipient, classify_network,
    classify_status, retry_after_header,
};
use crate::store::{EscalationAction, IdentityClaim};

/// Discord's message limit.
const CHUNK: usize = 2000;
/// `custom_id` is limited to 100 characters.
const MAX_CUSTOM_ID: usize = 100;

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

struct Handler {
    chat: ChatService,
    settings: DiscordSettings,
    me: OnceLock<UserId>,
}

fn slash_commands() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("ask")
            .description("Ask Shared Services a question")
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "question", "Your question")
                    .required(true),
            ),
        CreateCommand::new("status").description("Your open requests"),
        CreateCommand::new("human").description("Talk to your account manager"),
        CreateCommand::new("feedback").description("Give feedback"),
        CreateCommand::new("link")
            .description("Link your Discord account to your organisation with a code")
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "code", "The link code")
                    .required(true),
            ),
    ]
}

/// Account managers' commands; anyone else who tries them is told they cannot. Registered one
/// by one after the clients' set, so that a failure here never costs the clients theirs.
fn manager_commands() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("ack")
            .description("Account managers: acknowledge an escalation")
            .add_option(escalation_option()),
        CreateCommand::new("reply")
            .description("Account managers: answer the client of an escalation")
            .add_option(escalation_option())
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "text", "Your answer")
                    .required(true),
            ),
        CreateCommand::new("resolve")
            .description("Account managers: resolve an escalation")
            .add_option(escalation_option()),
    ]
}

fn escalation_option() -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::Integer, "id", "The escalation's number")
        .required(true)
}

/// A manager slash command's action, escalation id and text, from its options.
fn manager_slash(c: &CommandInteraction) -> Option<ChatCommand> {
    let action = match c.data.name.as_str() {
        "ack" => EscalationAction::Acknowledge,
        "reply" => EscalationAction::Reply,
        "resolve" => EscalationAction::Resolve,
        _ => return None,
    };
    let option = |name: &str| c.data.options.iter().find(|o| o.name == name);
    let id = option("id").and_then(|o| {
        o.value
            .as_i64()
            .or_else(|| o.value.as_str().and_then(|s| s.trim().parse().ok()))
    });
    Some(match id {
        Some(escalation_id) => ChatCommand::Act {
            action,
            escalation_id,
            text: option("text").and_then(|o| o.value.as_str().map(str::to_string)),
        },
        None => ChatCommand::Usage,
    })
}

fn components(buttons: &[Button]) -> Vec<CreateActionRow> {
    // Up to five buttons per row, five rows.
    buttons
        .chunks(5)
        .take(5)
        .map(|row| {
            CreateActionRow::Buttons(
                row.iter()
                    .map(|b| {
                        let mut id = b.payload.clone();
                        id.truncate(MAX_CUSTOM_ID);
                        CreateButton::new(id)
                            .label(b.label.chars().take(80).collect::<String>())
                            .style(ButtonStyle::Secondary)
                    })
                    .collect(),
            )
        })
        .collect()
}

impl Handler {
    fn claim(&self, user: &User, guild: Option<u64>) -> IdentityClaim {
        IdentityClaim {
            channel: "discord".into(),
            external_id: user.id.get().to_string(),
            display_name: Some(
                user.global_name
                    .clone()
                    .unwrap_or_else(|| user.name.clone()),
            ),
            client_code: guild.and_then(|g| self.settings.guild_clients.get(&g).cloned()),
        }
    }

    fn session_key(channel: ChannelId, user: &User, dm: bool) -> String {
        if dm {
            channel.get().to_string()
        } else {
            format!("{}:{}", channel.get(), user.id.get())
        }
    }

    async fn turn(&self, inbound: Inbound) -> Option<Outbound> {
        match self.chat.handle(inbound).await {
            Ok(out) => Some(out),
            Err(e) => {
                tracing::error!(error = %e, "discord turn failed");
                None
            }
        }
    }

    /// The one manager action ([`actions::act_from_chat`]) as this Discord user; what to tell
    /// them, as a one-reply outbound.
    async fn manager_action(&self, user: &User, command: ChatCommand) -> Outbound {
        let said = match actions::act_from_chat(
            &self.chat,
            &self.settings.outlets,
            "discord",
            &user.id.get().to_string(),
            command,
            Utc::now(),
        )
        .await
        {
            Ok(said) => said,
            Err(e) => {
                tracing::error!(error = %e, "discord manager action failed");
                "That did not work this time; please try again in a minute.".into()
            }
        };
        Outbound {
            conversation_id: String::new(),
            replies: vec![Reply::text(said)],
            intent: None,
            confidence: 0.0,
            outcome: "manager_action".into(),
            duplicate: false,
        }
    }

    async fn send(&self, ctx: &Context, channel: ChannelId, out: &Outbound) {
        for reply in &out.replies {
            if let Err(e) = send_reply(ctx, channel, reply).await {
                tracing::warn!(error = %e, "discord send failed");
            }
        }
    }
}

async fn send_reply(ctx: &Context, channel: ChannelId, reply: &Reply) -> Result<(), DiscordError> {
    let chunks = split_message(&reply.text, CHUNK);
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut msg = CreateMessage::new().content(chunk);
        if i == last && !reply.buttons.is_empty() {
            msg = msg.components(components(&reply.buttons));
        }
        send_with_retry(ctx, channel, msg).await?;
    }
    Ok(())
}

/// Is this a 429 or a 5xx from Discord (worth waiting and trying again)?
fn transient(e: &serenity::Error) -> bool {
    match e {
        serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(r)) => {
            r.status_code.as_u16() == 429 || r.status_code.is_server_error()
        }
        serenity::Error::Http(serenity::all::HttpError::Request(_)) => true,
        _ => false,
    }
}

/// Serenity's own rate limiter honours Discord's `retry_after` (production). Behind a proxy
/// (`FRONTDOOR_DISCORD_API_URL`) rate limiting is the proxy's job, and serenity does not pass a
/// 429's `retry_after` on to us: a 429 or 5xx that still arrives is retried after 1 s, 2 s, 4 s.
async fn send_with_retry(
    ctx: &Context,
    channel: ChannelId,
    msg: CreateMessage,
) -> Result<(), DiscordError> {
    let mut wait = Duration::from_secs(1);
    for _ in 0..3 {
        match channel.send_message(&ctx.http, msg.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if transient(&e) => {
                tracing::warn!(error = %e, ?wait, "discord send failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e.into()),
        }
    }
    channel.send_message(&ctx.http, msg).await?;
    Ok(())
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.me.set(ready.user.id);
        if let Err(e) = Command::set_global_commands(&ctx.http, slash_commands()).await {
            tracing::warn!(error = %e, "could not register Discord slash commands");
        }
        for command in manager_commands() {
            if let Err(e) = Command::create_global_command(&ctx.http, command).await {
                tracing::warn!(error = %e, "could not register a Discord manager command");
            }
        }
        tracing::info!(bot = %ready.user.name, "discord bot connected");
    }

    async fn message(&self, ctx: Context, msg: Message) {
        if msg.author.bot {
            return;
        }
        let dm = msg.guild_id.is_none();
        let me = self.me.get().copied();
        let mentioned = me.is_some_and(|id| msg.mentions.iter().any(|u| u.id == id));
        if !dm && !mentioned {
            return; // guild chatter not addressed to the bot
        }
        let mut text = msg.content.clone();
        if let Some(id) = me {
            for form in [format!("<@{id}>"), format!("<@!{id}>")] {
                text = text.replace(&form, "");
            }
        }
        let text = text.trim().to_string();
        if text.is_empty() {
            return;
        }
        // A manager answering a ping: a reply to the ping message, or /reply /ack /resolve
        // typed as a message.
        let replied_ping = msg
            .referenced_message
            .as_ref()
            .filter(|r| me.is_some_and(|id| r.author.id == id))
            .and_then(|r| actions::ping_id(&r.content));
        let command = match replied_ping {
            Some(escalation_id) if !text.starts_with('/') => Some(ChatCommand::Act {
                action: EscalationAction::Reply,
                escalation_id,
                text: Some(text.clone()),
            }),
            _ => actions::parse_command(&text),
        };
        if let Some(command) = command {
            let said = self.manager_action(&msg.author, command).await;
            self.send(&ctx, msg.channel_id, &said).await;
            return;
        }
        let inbound = Inbound {
            channel: "discord".into(),
            session_key: Handler::session_key(msg.channel_id, &msg.author, dm),
            identity: Some(self.claim(&msg.author, msg.guild_id.map(|g| g.get()))),
            input: Input::Text(text),
            channel_message_id: Some(msg.id.get().to_string()),
            now: Utc::now(),
        };
        if let Some(out) = self.turn(inbound).await {
            self.send(&ctx, msg.channel_id, &out).await;
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Component(c) => self.on_button(&ctx, c).await,
            Interaction::Command(c) => self.on_command(&ctx, c).await,
            _ => {}
        }
    }
}

impl Handler {
    /// `/link CODE`: a one-time code from `frontdoor link-code` puts the user in a client.
    async fn on_link(&self, ctx: &Context, c: &CommandInteraction, code: &str) {
        let now = Utc::now().timestamp_millis();
        let linked = match self.chat.store.redeem_link_code(code, now).await {
            Ok(linked) => linked,
            Err(e) => {
                tracing::error!(error = %e, "link code lookup failed");
                None
            }
        };
        let text = match &linked {
            Some(client) => format!("Your Discord account is now linked to {client}."),
            None => "That link code is unknown, used or expired. Ask your account manager for a new one.".into(),
        };
        if let Err(e) = c
            .create_response(
                &ctx.http,
                CreateInteractionResponse::Message(
                    serenity::all::CreateInteractionResponseMessage::new()
                        .content(text)
                        .ephemeral(true),
                ),
            )
            .await
        {
            tracing::warn!(error = %e, "discord link response failed");
        }
        if let Some(client) = linked {
            // Greet them as a member of their client: this turn records the link on the person.
            let mut claim = self.claim(&c.user, None);
            claim.client_code = Some(client);
            let inbound = Inbound {
                channel: "discord".into(),
                session_key: Handler::session_key(c.channel_id, &c.user, c.guild_id.is_none()),
                identity: Some(claim),
                input: Input::Text("hello".into()),
                channel_message_id: Some(c.id.get().to_string()),
                now: Utc::now(),
            };
            if let Some(out) = self.turn(inbound).await {
                self.send(ctx, c.channel_id, &out).await;
            }
        }
    }

    async fn on_button(&self, ctx: &Context, c: ComponentInteraction) {
        // Acknowledge at once so Discord doesn't show "interaction failed".
        if let Err(e) = c
            .create_response(&ctx.http, CreateInteractionResponse::Acknowledge)
            .await
        {
            tracing::warn!(error = %e, "discord interaction acknowledge failed");
        }
        // A ping's Acknowledge / Resolve: a manager action, never a client's button. Only a
        // manager of the escalation's client may press it; anyone else is refused.
        if let Some(command) = actions::parse_button(&c.data.custom_id) {
            let said = self.manager_action(&c.user, command).await;
            self.send(ctx, c.channel_id, &said).await;
            return;
        }
        let dm = c.guild_id.is_none();
        let inbound = Inbound {
            channel: "discord".into(),
            session_key: Handler::session_key(c.channel_id, &c.user, dm),
            identity: Some(self.claim(&c.user, c.guild_id.map(|g| g.get()))),
            input: Input::Button(c.data.custom_id.clone()),
            channel_message_id: Some(c.id.get().to_string()),
            now: Utc::now(),
        };
        if let Some(out) = self.turn(inbound).await {
            self.send(ctx, c.channel_id, &out).await;
        }
    }

    async fn on_command(&self, ctx: &Context, c: CommandInteraction) {
        if let Some(command) = manager_slash(&c) {
            let said = self.manager_action(&c.user, command).await;
            let text = said
                .replies
                .first()
                .map(|r| r.text.clone())
                .unwrap_or_default();
            if let Err(e) = c
                .create_response(
                    &ctx.http,
                    CreateInteractionResponse::Message(
                        serenity::all::CreateInteractionResponseMessage::new()
                            .content(text)
                            .ephemeral(true),
                    ),
                )
                .await
            {
                tracing::warn!(error = %e, "discord command response failed");
            }
            return;
        }
        let text = match c.data.name.as_str() {
            "ask" => c
                .data
                .options
                .first()
                .and_then(|o| o.value.as_str())
                .unwrap_or_default()
                .to_string(),
            "status" => "what is the status of my requests".into(),
            "human" => "I want to talk to a human".into(),
            "feedback" => "I want to give feedback".into(),
            "link" => {
                let code = c
                    .data
                    .options
                    .first()
                    .and_then(|o| o.value.as_str())
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return self.on_link(ctx, &c, &code).await;
            }
            _ => String::new(),
        };
        if let Err(e) = c
            .create_response(
                &ctx.http,
                CreateInteractionResponse::Message(
                    serenity::all::CreateInteractionResponseMessage::new()
                        .content(format!("> {}", text.chars().take(200).collect::<String>())),
                ),
            )
            .await
        {
            tracing::warn!(error = %e, "discord command response failed");
        }
        if text.is_empty() {
            return;
        }
        let dm = c.guild_id.is_none();
        let inbound = Inbound {
            channel: "discord".into(),
            session_key: Handler::session_key(c.channel_id, &c.user, dm),
            identity: Some(self.claim(&c.user, c.guild_id.map(|g| g.get()))),
            input: Input::Text(text),
            channel_message_id: Some(c.id.get().to_string()),
            now: Utc::now(),
        };
        if let Some(out) = self.turn(inbound).await {
            self.send(ctx, c.channel_id, &out).await;
        }
    }
}

/// Connect to the gateway and serve until `shutdown`.
pub async fn run(
    token: &str,
    chat: ChatService,
    settings: DiscordSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DiscordError> {
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
    let mut client = serenity::all::ClientBuilder::new_with_http(http.build(), intents)
        .event_handler(handler)
        .await?;
    let manager = Arc::clone(&client.shard_manager);
    tokio::spawn(async move {
        shutdown.await;
        manager.shutdown_all().await;
    });
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
            client.start_shard_range(r.first..r.last, r.total).await?
        }
        None => client.start().await?,
    }
    Ok(())
}

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
    let id = ping["escalation_id"].as_i64().unwrap_or_default();
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
        "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Acknowledge", "custom_id": format!("esc:ack:{id}")},
            {"type": 2, "style": 3, "label": "Resolve", "custom_id": format!("esc:resolve:{id}")},
        ]}],
    });
    if !crate::policy::ping::is_escalation(ping)
        && let Some(o) = body.as_object_mut()
    {
        o.remove("components");
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
