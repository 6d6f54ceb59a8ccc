//! Telegram adapter (teloxide): long polling, commands, inline keyboards, callback queries.
//!
//! Thin by design: it turns updates into dialogue inputs and replies into Telegram messages;
//! every decision is the dialogue's. Reliability comes from the order of things: an update is
//! committed (with its `update_id` as the message id, so a redelivery is answered from the log),
//! then answered, and only then is the saved offset moved past it. A crash at any point re-reads
//! the update and never processes it twice.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use teloxide::prelude::*;
use teloxide::types::{
    AllowedUpdate, BotCommand, CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup,
    ParseMode, UpdateKind,
};
use teloxide::{ApiError, RequestError};

use crate::dialogue::service::{ChatService, Inbound, Outbound, current};
use crate::dialogue::{Button, Input, Reply};
use crate::escalation::actions;
use crate::knowledge::render::{split_message, to_telegram_html};
use crate::outlet::{
    Channel, DeliveryError, Outgoing, Outlet, Outlets, Recipient, classify_network,
    classify_status, retry_after_header,
};
use crate::store::{EscalationAction, IdentityClaim};

/// Where the update offset is saved.
const CURSOR: &str = "telegram.update_id";
/// Telegram's message limit is 4,096 characters; leave room for the HTML tags we add.
const CHUNK: usize = 3500;
/// `callback_data` is limited to 64 bytes.
const MAX_CALLBACK: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("telegram: {0}")]
    Api(#[from] RequestError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Chat(#[from] crate::dialogue::service::ServiceError),
    #[error(transparent)]
    Escalation(#[from] crate::escalation::EscalationError),
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("not a Telegram update: {0}")]
    BadUpdate(String),
    #[error(transparent)]
    Failed(TelegramError),
}

#[derive(Clone)]
pub struct TelegramAdapter {
    bot: Bot,
    chat: ChatService,
    /// The bot's @username (for mentions in groups); filled in at start.
    username: String,
    /// Where a manager's answer goes once committed (the client's channel, whichever it is).
    outlets: Outlets,
}

/// The commands shown in Telegram's menu; each is a phrase the dialogue already understands.
fn commands() -> Vec<BotCommand> {
    vec![
        BotCommand::new("start", "Start, or link your account with a code"),
        BotCommand::new("help", "What I can help with"),
        BotCommand::new("status", "Your open requests"),
        BotCommand::new("human", "Talk to your account manager"),
        BotCommand::new("feedback", "Give feedback"),
        BotCommand::new("unsubscribe", "Stop announcements"),
        BotCommand::new("subscribe", "Get announcements again"),
    ]
}

/// A command's text for the dialogue (`/status@frontdoor_bot` works in groups too).
fn command_text(cmd: &str) -> Option<&'static str> {
    match cmd {
        "help" => Some("help"),
        "status" => Some("what is the status of my requests"),
        "human" => Some("I want to talk to a human"),
        "feedback" => Some("I want to give feedback"),
        _ => None,
    }
}

/// The answer to /unsubscribe and /subscribe.
fn subscription_said(subscribed: bool) -> &'static str {
    if subscribed {
        "You will get the SSO's announcements here again. Send /unsubscribe to stop them."
    } else {
        "You will get no more announcements here. Send /subscribe to get them again; you can still ask me anything."
    }
}

/// Retry a call while Telegram says "retry after N seconds" (flood control).
async fn with_retry<T, F, Fut>(mut call: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    for _ in 0..5 {
        match call().await {
            Err(RequestError::RetryAfter(s)) => {
                let wait = Duration::from_secs(u64::from(s.seconds()).max(1));
                tracing::warn!(?wait, "telegram rate limit; waiting as asked");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
    call().await
}

impl TelegramAdapter {
    /// `api_url` overrides the Bot API base (tests, a local Bot API server).
    pub fn new(token: &str, api_url: &str, chat: ChatService) -> Result<Self, String> {
        let url = reqwest::Url::parse(api_url).map_err(|e| format!("bad Telegram API URL: {e}"))?;
        Ok(Self {
            bot: Bot::new(token).set_api_url(url),
            chat,
            username: String::new(),
            outlets: Outlets::default(),
        })
    }

    /// Deliver managers' answers through the app's registry at once. Without it they wait
    /// for the outbox worker.
    pub fn with_outlets(mut self, outlets: Outlets) -> Self {
        self.outlets = outlets;
        self
    }

    /// Learn the bot's username and register its commands (both modes, at start).
    pub async fn prepare(&mut self) -> Result<(), TelegramError> {
        let me = with_retry(|| self.bot.get_me().into_future()).await?;
        self.username = me.username().to_string();
        if let Err(e) = with_retry(|| self.bot.set_my_commands(commands()).into_future()).await {
            tracing::warn!(error = %e, "could not register the bot's commands");
        }
        Ok(())
    }

    /// Tell Telegram to push updates to `url` with `secret` (once per deployment, not from
    /// every replica).
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("bad webhook URL: {e}"))?;
        with_retry(|| {
            self.bot
                .set_webhook(url.clone())
                .secret_token(secret.to_string())
                .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
                .into_future()
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    /// Webhook mode: one update as Telegram posted it. An error makes the endpoint answer 500,
    /// so Telegram delivers the update again (and the log answers it if it was stored).
    pub async fn handle_json(&self, body: &[u8]) -> Result<(), WebhookError> {
        let update: Update =
            serde_json::from_slice(body).map_err(|e| WebhookError::BadUpdate(e.to_string()))?;
        self.handle(update).await.map_err(WebhookError::Failed)
    }

    /// Long polling until `shutdown`. Only one replica should poll (Telegram's rule).
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<(), TelegramError> {
        tokio::pin!(shutdown);
        // Telegram or the network may be down when we start: keep trying (up to a minute
        // apart) rather than leave the channel dead until someone restarts the server.
        let mut wait = Duration::from_secs(2);
        loop {
            match self.prepare().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_secs = wait.as_secs(), "telegram: getMe failed; retrying");
                    tokio::select! {
                        _ = &mut shutdown => return Ok(()),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(60));
                }
            }
        }
        tracing::info!(bot = %self.username, "telegram bot polling");
        let store = self.chat.store.clone();
        loop {
            // The offset lives in the store: while the store is unavailable, poll nothing
            // (an update fetched now could not be recorded) and try again shortly.
            let offset = match store.cursor(CURSOR).await {
                Ok(c) => c.map(|c| c + 1).unwrap_or(0),
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: cannot read the update offset; retrying");
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                    continue;
                }
            };
            let poll = self
                .bot
                .get_updates()
                .offset(i32::try_from(offset).unwrap_or(i32::MAX))
                .timeout(25)
                .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
                .into_future();
            let updates = tokio::select! {
                _ = &mut shutdown => break,
                r = poll => r,
            };
            let updates = match updates {
                Ok(u) => u,
                Err(RequestError::RetryAfter(s)) => {
                    tokio::time::sleep(Duration::from_secs(u64::from(s.seconds()).max(1))).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "getUpdates failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            for update in updates {
                let id = i64::from(update.id.0);
                if let Err(e) = self.handle(update).await {
                    // Not stored or not answered: leave the offset so it comes again.
                    tracing::error!(update = id, error = %e, "telegram update not handled; will retry");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
                if let Err(e) = store.set_cursor(CURSOR, id).await {
                    // Handled but not recorded: it comes again and is answered from the log
                    // (update ids are idempotency keys), so nothing is lost or doubled.
                    tracing::warn!(update = id, error = %e, "telegram: cannot save the update offset; will retry");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
        Ok(())
    }

    async fn handle(&self, update: Update) -> Result<(), TelegramError> {
        let update_id = update.id.0;
        match update.kind {
            UpdateKind::Message(msg) => self.on_message(update_id, msg).await,
            UpdateKind::CallbackQuery(q) => self.on_callback(update_id, q).await,
            _ => Ok(()),
        }
    }

    fn claim(user: &teloxide::types::User, client: Option<String>) -> IdentityClaim {
        IdentityClaim {
            channel: "telegram".into(),
            external_id: user.id.0.to_string(),
            display_name: Some(user.full_name()),
            client_code: client,
        }
    }

    /// A private chat is one conversation; in a group each member has their own.
    fn session_key(chat: ChatId, user: &teloxide::types::User, private: bool) -> String {
        if private {
            chat.0.to_string()
        } else {
            format!("{}:{}", chat.0, user.id.0)
        }
    }

    async fn on_message(&self, update_id: u32, msg: Message) -> Result<(), TelegramError> {
        let (Some(user), Some(text)) = (msg.from.clone(), msg.text()) else {
            return Ok(());
        };
        let private = msg.chat.is_private();
        let mention = format!("@{}", self.username);
        let addressed = private
            || text.contains(&mention)
            || msg
                .reply_to_message()
                .and_then(|r| r.from.as_ref())
                .is_some_and(|f| f.is_bot && f.username.as_deref() == Some(self.username.as_str()));
        let text = text.replace(&mention, "").trim().to_string();
        let is_command = text.starts_with('/');
        if !addressed && !is_command {
            return Ok(()); // group chatter not meant for the bot
        }
        // A manager answering a ping (a reply to it, or /reply /ack /resolve).
        if let Some(done) = self.manager_command(&msg, &user, &text).await? {
            return self.say(msg.chat.id, &done).await;
        }
        let mut client = None;
        let input = if let Some(cmd) = text.strip_prefix('/') {
            let (name, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
            let name = name.split('@').next().unwrap_or(name);
            match (name, arg.trim()) {
                ("start", "") => "hello".to_string(),
                ("start", code) => {
                    let now = Utc::now().timestamp_millis();
                    let by = format!("telegram:{}", user.id.0);
                    match self.chat.store.redeem_link_code(code, &by, now).await? {
                        Some(c) => {
                            let name = current(&self.chat.knowledge)
                                .clients
                                .get(&c)
                                .map(|k| k.name.clone())
                                .unwrap_or(c.clone());
                            self.say(
                                msg.chat.id,
                                &format!("Your Telegram account is now linked to {name}."),
                            )
                            .await?;
                            client = Some(c);
                            "hello".to_string()
                        }
                        None => {
                            return self
                                .say(msg.chat.id, "That link code is unknown, used or expired. Ask your account manager for a new one; meanwhile you can ask me general questions.")
                                .await;
                        }
                    }
                }
                (want @ ("unsubscribe" | "subscribe"), _) => {
                    let subscribed = want == "subscribe";
                    self.chat
                        .store
                        .set_announcement_subscription(
                            "telegram",
                            &user.id.0.to_string(),
                            subscribed,
                            Utc::now().timestamp_millis(),
                        )
                        .await?;
                    return self.say(msg.chat.id, subscription_said(subscribed)).await;
                }
                (other, _) => match command_text(other) {
                    Some(t) => t.to_string(),
                    None => {
                        return self
                            .say(msg.chat.id, "I don't know that command. Try /help.")
                            .await;
                    }
                },
            }
        } else {
            text
        };
        if input.is_empty() {
            return Ok(());
        }
        let out = self
            .chat
            .handle(Inbound {
                channel: "telegram".into(),
                session_key: Self::session_key(msg.chat.id, &user, private),
                identity: Some(Self::claim(&user, client)),
                input: Input::Text(input),
                channel_message_id: Some(update_id.to_string()),
                now: Utc::now(),
            })
            .await?;
        self.send(msg.chat.id, &out).await
    }

    async fn on_callback(&self, update_id: u32, q: CallbackQuery) -> Result<(), TelegramError> {
        // Answer first, so the button stops spinning whatever happens next.
        if let Err(e) =
            with_retry(|| self.bot.answer_callback_query(q.id.clone()).into_future()).await
        {
            tracing::warn!(error = %e, "answerCallbackQuery failed");
        }
        let (Some(data), Some(message)) = (q.data.clone(), q.message.as_ref()) else {
            return Ok(());
        };
        let chat = message.chat().id;
        let private = message.chat().is_private();
        if let Some(command) = actions::parse_button(&data) {
            let said = self.manager_action(&q.from, command).await?;
            return self.say(chat, &said).await;
        }
        let out = self
            .chat
            .handle(Inbound {
                channel: "telegram".into(),
                session_key: Self::session_key(chat, &q.from, private),
                identity: Some(Self::claim(&q.from, None)),
                input: Input::Button(data),
                channel_message_id: Some(update_id.to_string()),
                now: Utc::now(),
            })
            .await?;
        self.send(chat, &out).await
    }

    /// `/reply ID text`, `/ack ID`, `/resolve ID`, or a reply to a ping message, from a manager
    /// (or someone trying to be one: they are told they cannot).
    async fn manager_command(
        &self,
        msg: &Message,
        user: &teloxide::types::User,
        text: &str,
    ) -> Result<Option<String>, TelegramError> {
        let command = match msg.reply_to_message().and_then(|r| r.text()) {
            Some(ping) if !text.starts_with('/') => {
                actions::ping_id(ping).map(|escalation_id| actions::ChatCommand::Act {
                    action: EscalationAction::Reply,
                    escalation_id,
                    text: Some(text.to_string()),
                })
            }
            _ => actions::parse_command(text),
        };
        match command {
            Some(c) => self.manager_action(user, c).await.map(Some),
            None => Ok(None),
        }
    }

    /// The one manager action ([`actions::act_from_chat`]), as this Telegram user.
    async fn manager_action(
        &self,
        user: &teloxide::types::User,
        command: actions::ChatCommand,
    ) -> Result<String, TelegramError> {
        Ok(actions::act_from_chat(
            &self.chat,
            &self.outlets,
            "telegram",
            &user.id.0.to_string(),
            command,
            Utc::now(),
        )
        .await?)
    }

    /// Send a turn's replies: Markdown as Telegram HTML, long texts split, buttons inline.
    pub async fn send(&self, chat: ChatId, out: &Outbound) -> Result<(), TelegramError> {
        for reply in &out.replies {
            self.send_reply(chat, reply).await?;
        }
        Ok(())
    }

    async fn send_reply(&self, chat: ChatId, reply: &Reply) -> Result<(), TelegramError> {
        let chunks = split_message(&reply.text, CHUNK);
        let last = chunks.len().saturating_sub(1);
        for (i, chunk) in chunks.iter().enumerate() {
            let html = to_telegram_html(chunk);
            let keyboard =
                (i == last && !reply.buttons.is_empty()).then(|| keyboard(&reply.buttons));
            let sent = with_retry(|| {
                let mut req = self
                    .bot
                    .send_message(chat, html.clone())
                    .parse_mode(ParseMode::Html);
                if let Some(k) = &keyboard {
                    req = req.reply_markup(k.clone());
                }
                req.into_future()
            })
            .await;
            match sent {
                Ok(_) => {}
                // The chat is gone (the user blocked the bot): nothing left to deliver to.
                Err(RequestError::Api(ApiError::BotBlocked | ApiError::ChatNotFound)) => {
                    tracing::warn!(chat = chat.0, "telegram chat unreachable; reply dropped");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn say(&self, chat: ChatId, text: &str) -> Result<(), TelegramError> {
        if text.is_empty() {
            return Ok(());
        }
        self.send_reply(chat, &Reply::text(text)).await
    }
}

/// Telegram's outlet: relayed replies to a client's chat and pings to a manager's, through
/// the Bot API's `sendMessage` (plain HTTPS: one call per message, no retries here — the
/// outbox retries). Answers to a user's own message go out through the adapter above.
#[derive(Clone)]
pub struct TelegramOutlet {
    http: reqwest::Client,
    /// Wrapped so that no `Debug` or log line prints it.
    token: Option<crate::config::Secret>,
    api: String,
}

impl TelegramOutlet {
    pub fn new(http: reqwest::Client, token: Option<crate::config::Secret>, api: &str) -> Self {
        Self {
            http,
            token,
            api: api.trim_end_matches('/').to_string(),
        }
    }

    async fn send_message(&self, body: &serde_json::Value) -> Result<(), DeliveryError> {
        let Some(token) = &self.token else {
            return Err(DeliveryError::hard("TELEGRAM_BOT_TOKEN is not set"));
        };
        let url = format!("{}/bot{}/sendMessage", self.api, token.expose());
        let r = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            // reqwest's error carries the URL, and the URL the token: drop it.
            .map_err(|e| classify_network(&e.without_url()))?;
        let status = r.status();
        let header_after = retry_after_header(&r);
        let reply: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
        if reply["ok"].as_bool() == Some(true) {
            return Ok(());
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
        // `{"ok": false}` with a 200: the API is unwell, not our request.
        let code = if code.is_success() {
            reqwest::StatusCode::BAD_GATEWAY
        } else {
            code
        };
        let detail = reply["description"].as_str().unwrap_or("no description");
        if after.is_some() {
            return Err(DeliveryError::transient(format!("{code}: {detail}"), after));
        }
        classify_status(code, None, detail)
    }

    fn chat_of(to: &Recipient) -> Result<i64, DeliveryError> {
        let id = match to {
            Recipient::Conversation { session_key, .. } => client_chat(session_key),
            Recipient::Address { address } => address.parse().ok(),
        };
        id.ok_or_else(|| DeliveryError::hard(format!("not a Telegram chat: {to:?}")))
    }

    fn ping_body(chat_id: i64, ping: &serde_json::Value) -> serde_json::Value {
        let mut text = String::new();
        for (i, line) in crate::policy::ping::text_lines(ping).iter().enumerate() {
            if i == 0 {
                text.push_str(&format!("<b>{}</b>", escape_html(line)));
            } else {
                text.push_str(&escape_html(line));
            }
            text.push('\n');
        }
        let mut body = serde_json::json!({
            "chat_id": chat_id,
            "text": text.chars().take(4000).collect::<String>(),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": true},
        });
        let buttons = crate::policy::ping::buttons(ping);
        // Alerts have nothing to acknowledge: no keyboard.
        if !buttons.is_empty() {
            body["reply_markup"] = serde_json::json!({"inline_keyboard": [buttons
                .iter()
                .map(|(label, data)| serde_json::json!({"text": label, "callback_data": data}))
                .collect::<Vec<_>>()]});
        }
        body
    }
}

#[async_trait::async_trait]
impl Outlet for TelegramOutlet {
    fn channel(&self) -> Channel {
        "telegram"
    }

    async fn deliver(&self, to: &Recipient, what: Outgoing<'_>) -> Result<(), DeliveryError> {
        let chat_id = Self::chat_of(to)?;
        match what {
            Outgoing::Ping { message, .. } => {
                self.send_message(&Self::ping_body(chat_id, message)).await
            }
            Outgoing::Replies(relay) => {
                for (n, reply) in relay.replies.iter().enumerate() {
                    let chunks = split_message(&reply.text, CHUNK);
                    let last = chunks.len().saturating_sub(1);
                    for (i, chunk) in chunks.iter().enumerate() {
                        let mut body = serde_json::json!({
                            "chat_id": chat_id,
                            "text": to_telegram_html(chunk),
                            "parse_mode": "HTML",
                        });
                        if i == last && !reply.buttons.is_empty() {
                            body["reply_markup"] =
                                serde_json::to_value(keyboard(&reply.buttons)).unwrap_or_default();
                        }
                        self.send_message(&body)
                            .await
                            .map_err(|e| e.after_delivering(n))?;
                    }
                }
                Ok(())
            }
        }
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn keyboard(buttons: &[Button]) -> InlineKeyboardMarkup {
    // Two per row reads well on a phone; the survey's five fit one row.
    let per_row = if buttons.len() == 5 { 5 } else { 2 };
    InlineKeyboardMarkup::new(buttons.chunks(per_row).map(|row| {
        row.iter()
            .map(|b| {
                let mut data = b.payload.clone();
                data.truncate(MAX_CALLBACK);
                InlineKeyboardButton::callback(b.label.clone(), data)
            })
            .collect::<Vec<_>>()
    }))
}

/// The client's chat id from a Telegram session key ("chat" or "chat:user").
fn client_chat(session_key: &str) -> Option<i64> {
    session_key.split(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_ids_and_session_keys_parse() {
        assert_eq!(
            actions::ping_id("Escalation #7 from Globex (GLOBEX)"),
            Some(7)
        );
        assert_eq!(client_chat("-100200:55"), Some(-100200));
        assert_eq!(client_chat("123"), Some(123));
    }

    #[test]
    fn ping_text_is_escaped() {
        assert_eq!(escape_html("<b>&"), "&lt;b&gt;&amp;");
    }

    #[test]
    fn long_payloads_fit_callback_data() {
        let k = keyboard(&[Button::new("x", "a".repeat(100))]);
        let json = serde_json::to_value(&k).unwrap();
        assert_eq!(
            json["inline_keyboard"][0][0]["callback_data"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
    }
}
