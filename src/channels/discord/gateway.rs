//! What comes in over the gateway: messages (DMs, mentions), buttons, slash commands; each
//! becomes a dialogue turn (or a manager's action) and its replies go back to the channel.

use std::time::Duration;

use chrono::Utc;
use serenity::all::{
    ButtonStyle, ChannelId, Command, CommandInteraction, CommandOptionType, ComponentInteraction,
    Context, CreateActionRow, CreateButton, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateMessage, EventHandler, Interaction, Message, Ready, User,
};

use super::manager::{manager_commands, manager_slash};
use super::{CHUNK, DiscordError, Handler, MAX_CUSTOM_ID};
use crate::dialogue::service::{Inbound, Outbound};
use crate::dialogue::{Button, Input, Reply};
use crate::escalation::actions::{self, ChatCommand};
use crate::knowledge::render::split_message;
use crate::store::{EscalationAction, IdentityClaim};

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

    /// Record an unsubscribe or subscribe; what to tell the user.
    async fn subscription(&self, user: &User, subscribed: bool) -> String {
        let done = self
            .chat
            .store
            .set_announcement_subscription(
                "discord",
                &user.id.get().to_string(),
                subscribed,
                Utc::now().timestamp_millis(),
            )
            .await;
        match (done, subscribed) {
            (Err(e), _) => {
                tracing::error!(error = %e, "announcement subscription not saved");
                "Sorry, I could not save that just now; please try again in a minute.".into()
            }
            (Ok(_), true) => "You will get the SSO's announcements here again. Send \"unsubscribe\" to stop them.".into(),
            (Ok(_), false) => "You will get no more announcements here. Send \"subscribe\" to get them again; you can still ask me anything.".into(),
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

/// Answer a slash command with a message only its user sees; a failure is logged (`what`: the
/// kind of command), since the interaction cannot be answered twice.
async fn answer_privately(ctx: &Context, c: &CommandInteraction, text: String, what: &str) {
    let message = serenity::all::CreateInteractionResponseMessage::new()
        .content(text)
        .ephemeral(true);
    if let Err(e) = c
        .create_response(&ctx.http, CreateInteractionResponse::Message(message))
        .await
    {
        tracing::warn!(error = %e, "discord {what} response failed");
    }
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
        // "unsubscribe" / "subscribe" (a word, as Discord has no per-bot command prefix):
        // announcements stop or start again for this account.
        let word = text.trim_start_matches('/').to_lowercase();
        if matches!(word.as_str(), "unsubscribe" | "subscribe") {
            let said = self.subscription(&msg.author, word == "subscribe").await;
            if let Err(e) = send_reply(&ctx, msg.channel_id, &Reply::text(said)).await {
                tracing::warn!(error = %e, "discord send failed");
            }
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
        let by = format!("discord:{}", c.user.id.get());
        let linked = match self.chat.store.redeem_link_code(code, &by, now).await {
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
        answer_privately(ctx, c, text, "link").await;
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
            answer_privately(ctx, &c, text, "command").await;
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
