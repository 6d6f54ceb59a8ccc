//! Every channel at once, in one process: a real server, the real teloxide and serenity
//! clients against the fake Bot API and the fake Discord, a fake webhook receiver, and the
//! outbox worker delivering through the app's channel port — for tests where a client on one
//! channel and a manager on another meet.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use frontdoor::channels::discord::DiscordSettings;
use frontdoor::channels::identity::{Claims, sign};
use frontdoor::channels::telegram::TelegramAdapter;
use frontdoor::config::{EscalationSettings, Secret, WebSettings};
use frontdoor::escalation::deliver::{Deliverer, DelivererConfig};
use frontdoor::escalation::worker::Worker;
use frontdoor::store::{OutboxRow, Store};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use super::TestServer;
use super::fake_discord::{self, FakeDiscord};
use super::fake_telegram::{self, FakeTelegram};

pub const IDENTITY_SECRET: &str = "channel-test-identity-secret";
pub const TELEGRAM_TOKEN: &str = "123456:fake-telegram-token";
pub const DISCORD_TOKEN: &str = "fake-discord-token";
/// Priya Shah, ACME's primary manager, on Telegram (her private chat id) and Discord.
pub const PRIYA_TELEGRAM: i64 = 100_200_300;
pub const PRIYA_DISCORD: &str = "412345678901234567";
pub const PRIYA_EMAIL: &str = "priya.shah@northwind.example";
/// Oliver Grant manages GLOBEX, not ACME; he has a Discord account too.
pub const OLIVER_DISCORD: &str = "433345678901234567";
/// The Discord guild whose members belong to ACME.
pub const ACME_GUILD: &str = "800000000000000001";
pub const ACME_GUILD_CHANNEL: &str = "810000000000000001";

/// What the fake webhook receiver got: (path, body).
#[derive(Clone, Default)]
pub struct Hooks {
    pub hits: Arc<Mutex<Vec<(String, Value)>>>,
    pub changed: Arc<Notify>,
}

impl Hooks {
    pub fn bodies(&self, path: &str) -> Vec<Value> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Wait up to `secs` for `found` to see what it looks for.
    pub async fn until<T>(&self, what: &str, secs: u64, found: impl Fn(&Hooks) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(v) = found(self) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(100),
                self.changed.notified(),
            )
            .await;
        }
    }
}

async fn hook(
    State(h): State<Hooks>,
    uri: axum::http::Uri,
    _headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    h.hits.lock().unwrap().push((uri.path().to_string(), v));
    h.changed.notify_waiters();
    axum::http::StatusCode::OK
}

/// Outbox timing for tests: quick retries, short leases, never give up.
pub fn quick_escalation() -> EscalationSettings {
    EscalationSettings {
        max_attempts: 1000,
        backoff_base_ms: 100,
        backoff_max_secs: 1,
        poll_interval_ms: 100,
        lease_secs: 2,
        timeout_secs: 5,
        ..EscalationSettings::default()
    }
}

pub struct Channels {
    pub server: TestServer,
    pub store: Arc<dyn Store>,
    pub telegram: FakeTelegram,
    pub discord: FakeDiscord,
    pub hooks: Hooks,
    pub hooks_url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _content: tempfile::TempDir,
}

pub struct Options {
    /// Priya's routes (TOML lines) in place of the shipped ones; `{hooks}` is replaced by the
    /// fake webhook receiver's base URL. By default all three, webhook first (stated: without a
    /// `route_order` a chat comes first), so the webhook receiver sees every first ping.
    pub priya_routes: String,
    /// Run the outbox worker (the tests of immediate delivery leave it out).
    pub worker: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            priya_routes: format!(
                "telegram_chat = {PRIYA_TELEGRAM}\ndiscord_user = \"{PRIYA_DISCORD}\"\nwebhook = \"{{hooks}}/hooks/priya\"\nroute_order = [\"webhook\", \"telegram\", \"discord\"]"
            ),
            worker: true,
        }
    }
}

impl Channels {
    pub async fn start(store: Arc<dyn Store>, options: Options) -> Channels {
        let hooks = Hooks::default();
        let hooks_url =
            super::serve_fake(axum::Router::new().fallback(hook).with_state(hooks.clone())).await;
        let content = super::content_copy();
        super::set_acme_primary_routes(
            content.path(),
            &options.priya_routes.replace("{hooks}", &hooks_url),
        );
        // ACME's backup and GLOBEX's managers get the fake receiver too (nothing on 9009).
        super::edit_content(
            content.path(),
            "knowledge-base/clients/acme.toml",
            "webhook = \"http://127.0.0.1:9009/hooks/acme\"",
            &format!("webhook = \"{hooks_url}/hooks/tom\""),
        );
        give_oliver_discord(content.path(), &hooks_url);
        let server = TestServer::start_with(
            store.clone(),
            content.path(),
            WebSettings::default(),
            Some(Secret::new(IDENTITY_SECRET.to_string())),
        )
        .await;
        let (telegram, telegram_url) = FakeTelegram::start().await;
        let (discord, discord_url) = FakeDiscord::start().await;
        // The same registration `serve` does: web is there; webhook, Telegram, Discord added.
        let outlets = server.state.web.outlets.clone();
        outlets.extend_missing(
            Deliverer::new(DelivererConfig {
                webhook_secret: None,
                telegram_token: Some(Secret::new(TELEGRAM_TOKEN.to_string())),
                telegram_api: telegram_url.clone(),
                discord_token: Some(Secret::new(DISCORD_TOKEN.to_string())),
                discord_api: discord_url.clone(),
                timeout: Duration::from_secs(5),
            })
            .outlets(),
        );
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        let bot = TelegramAdapter::new(TELEGRAM_TOKEN, &telegram_url, server.state.chat.clone())
            .expect("telegram adapter")
            .with_outlets(outlets.clone());
        let mut rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let _ = bot
                .run(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
        }));

        let mut guilds = BTreeMap::new();
        guilds.insert(ACME_GUILD.parse::<u64>().unwrap(), "ACME".to_string());
        let settings = DiscordSettings {
            proxy: Some(discord_url),
            guild_clients: guilds,
            outlets: outlets.clone(),
            ..DiscordSettings::default()
        };
        let chat = server.state.chat.clone();
        let mut rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let _ = frontdoor::channels::discord::run(DISCORD_TOKEN, chat, settings, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        }));

        if options.worker {
            let worker = Worker::new(
                store.clone(),
                server.state.chat.knowledge.clone(),
                Deliverer::from_outlets(outlets),
                quick_escalation(),
                server.state.chat.outbox_wake.clone(),
            );
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(worker.run(async move {
                let _ = rx.wait_for(|s| *s).await;
            })));
        }
        let c = Channels {
            server,
            store,
            telegram,
            discord,
            hooks,
            hooks_url,
            stop,
            tasks,
            _content: content,
        };
        c.discord
            .until("the Discord bot to identify", 20, |d| {
                d.identified().then_some(())
            })
            .await;
        c
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        self.server.stop().await;
    }

    /// The relay rows of an escalation (the manager's answers queued for the client).
    pub async fn relays(&self, escalation: i64) -> Vec<OutboxRow> {
        self.store
            .outbox_by_key_prefix(&format!("escalation-{escalation}-relay-"))
            .await
            .unwrap()
    }

    /// Wait until every relay row of the escalation is delivered (at least `n` of them).
    pub async fn relays_delivered(&self, escalation: i64, n: usize) {
        let wait = async {
            loop {
                let rows = self.relays(escalation).await;
                if rows.len() >= n && rows.iter().all(|r| r.status == "delivered") {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .is_err()
        {
            panic!(
                "relays of escalation {escalation} not delivered: {:#?}",
                self.relays(escalation).await
            );
        }
    }

    /// The one escalation of a conversation (waits for the turn to commit).
    pub async fn escalation_of(&self, conversation: &str) -> i64 {
        let wait = async {
            loop {
                let e = self
                    .store
                    .escalations_of_conversation(conversation)
                    .await
                    .unwrap();
                if let Some(e) = e.first() {
                    return e.id;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .expect("the escalation to be stored")
    }

    /// The conversation of a channel session (waits for its first turn).
    pub async fn conversation_of(&self, channel: &str, session_key: &str) -> String {
        let wait = async {
            loop {
                if let Some(c) = self.store.turn_context(channel, session_key).await.unwrap() {
                    return c.conversation.id;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .expect("the conversation to be stored")
    }

    pub async fn status(&self, escalation: i64) -> String {
        self.store
            .escalation(escalation)
            .await
            .unwrap()
            .unwrap()
            .status
    }
}

fn give_oliver_discord(content: &Path, hooks_url: &str) {
    super::edit_content(
        content,
        "knowledge-base/clients/globex.toml",
        "email = \"oliver.grant@northwind.example\"\nwebhook = \"http://127.0.0.1:9009/hooks/globex\"",
        &format!(
            "email = \"oliver.grant@northwind.example\"\ndiscord_user = \"{OLIVER_DISCORD}\"\nwebhook = \"{hooks_url}/hooks/oliver\""
        ),
    );
}

/// A signed identity token (a web user of `client`, or a manager with `role = "manager"`).
pub fn token(sub: &str, client: Option<&str>, role: Option<&str>) -> String {
    sign(
        &Claims {
            sub: sub.into(),
            name: Some("Ann Lee".into()),
            client: client.map(str::to_string),
            role: role.map(str::to_string),
            exp: Utc::now().timestamp() + 600,
        },
        IDENTITY_SECRET.as_bytes(),
    )
}

pub fn manager_token(email: &str) -> String {
    token(email, None, Some("manager"))
}

/// A web client's message; the answer's JSON.
pub async fn web_say(c: &Channels, session: &str, text: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/chat", c.server.url))
        .json(&json!({"session": session, "text": text,
            "token": token(&format!("{session}@acme.example"), Some("ACME"), None)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// A manager action over the HTTP API: (status, body).
pub async fn api_act(
    c: &Channels,
    id: i64,
    action: &str,
    bearer: &str,
    text: Option<&str>,
) -> (u16, Value) {
    api_act_at(
        &c.server.url,
        &format!("POST /api/v1/escalations/{id}/{action}"),
        bearer,
        text,
    )
    .await
}

/// Call an action as a ping's `actions` object names it (`POST /api/v1/escalations/12/reply`).
pub async fn api_act_at(
    base: &str,
    action: &str,
    bearer: &str,
    text: Option<&str>,
) -> (u16, Value) {
    let path = action
        .strip_prefix("POST ")
        .unwrap_or_else(|| panic!("not a POST action: {action}"));
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(bearer);
    if let Some(t) = text {
        req = req.json(&json!({ "text": t }));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An open web chat socket of `session`, once the hub has it.
pub async fn web_socket(
    c: &Channels,
    session: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let before = c.server.state.web.hub.open_sockets();
    let url = format!(
        "{}/api/v1/ws?session={session}&token={}",
        c.server.url.replace("http://", "ws://"),
        token(&format!("{session}@acme.example"), Some("ACME"), None)
    );
    let (ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let wait = async {
        while c.server.state.web.hub.open_sockets() <= before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("the socket to join the hub");
    ws
}

/// The next pushed frame on a web chat socket.
pub async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a pushed frame")
            .expect("socket open")
            .expect("frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// A Telegram user linked to ACME (a link code redeemed with `/start`), with their first
/// update id; returns the next free update id.
pub async fn telegram_client_linked(c: &Channels, user_id: i64, first: &str, update: i64) -> i64 {
    let code = format!("link{user_id}");
    let now = Utc::now().timestamp_millis();
    c.store
        .create_link_code(&code, "ACME", now + 3_600_000, now)
        .await
        .unwrap();
    c.telegram.push(fake_telegram::text_update(
        update,
        user_id,
        first,
        &format!("/start {code}"),
    ));
    c.telegram
        .until("the link confirmation", 20, |t| {
            t.accepted_to(user_id)
                .iter()
                .any(|m| m.contains("now linked"))
                .then_some(())
        })
        .await;
    update + 1
}

/// A Discord member of ACME's guild mentioning the bot in a guild channel.
pub fn discord_guild_message(id: &str, user: (&str, &str), text: &str) -> Value {
    let mut m = fake_discord::message(
        id,
        ACME_GUILD_CHANNEL,
        user,
        &format!("<@{}> {text}", fake_discord::BOT_ID),
    );
    m["guild_id"] = json!(ACME_GUILD);
    m["mentions"] = json!([fake_discord::user(fake_discord::BOT_ID, "frontdoor", true)]);
    m
}

/// A call with the operator token (the case system, the operator's scripts): (status, body).
pub async fn operator_call(
    c: &Channels,
    method: &str,
    path: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", c.server.url))
        .bearer_auth(super::ADMIN_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
