//! A fake Discord on 127.0.0.1 for the real serenity client and for the outbox's Discord
//! outlet: REST under `/api/v10/...` (message posts recorded, answered as scripted: accepted,
//! 429 with `retry_after`, 500, or held without an answer; DM channels opened per user) and a
//! gateway WebSocket that says Hello, answers Identify with READY, then dispatches the events
//! the test feeds it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

pub const BOT_ID: &str = "999000000000000001";

/// How the fake answers one message post.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 429 with `retry_after` in seconds.
    RetryAfter(f64),
    /// 500.
    ServerError,
    /// Never answered (until the caller goes away).
    Hold,
}

#[derive(Clone)]
pub struct FakeDiscord {
    base: Arc<Mutex<String>>,
    /// (method, path, body) of every REST call.
    calls: Arc<Mutex<Vec<(String, String, Value)>>>,
    /// (channel id, content) of every message post the fake accepted.
    accepted: Arc<Mutex<Vec<(String, Value)>>>,
    script: Arc<Mutex<HashMap<String, VecDeque<Answer>>>>,
    events: broadcast::Sender<Value>,
    identified: Arc<Mutex<bool>>,
    pub changed: Arc<Notify>,
}

/// The DM channel the fake opens with a user: `7` followed by the user id's last 17 digits
/// (a stable snowflake-looking id the test can compute).
pub fn dm_channel_of(user_id: &str) -> String {
    format!("7{}", &user_id[user_id.len().saturating_sub(17)..])
}

impl FakeDiscord {
    /// Answer the next message posts to `channel` like this, in order.
    pub fn script(&self, channel: &str, answers: impl IntoIterator<Item = Answer>) {
        self.script
            .lock()
            .unwrap()
            .entry(channel.to_string())
            .or_default()
            .extend(answers);
    }

    /// Message bodies the fake accepted for `channel`, in order.
    pub fn accepted_to(&self, channel: &str) -> Vec<Value> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, b)| b.clone())
            .collect()
    }

    pub fn accepted_texts_to(&self, channel: &str) -> Vec<String> {
        self.accepted_to(channel)
            .iter()
            .map(|b| b["content"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn posts_to(&self, suffix: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p.ends_with(suffix))
            .map(|(_, _, b)| b.clone())
            .collect()
    }

    /// Message post attempts to `channel` (accepted or not).
    pub fn attempts_to(&self, channel: &str) -> usize {
        self.posts_to(&format!("/channels/{channel}/messages"))
            .len()
    }

    pub fn identified(&self) -> bool {
        *self.identified.lock().unwrap()
    }

    /// Send a gateway event (`MESSAGE_CREATE`, `INTERACTION_CREATE`) to the connected client.
    pub fn dispatch(&self, t: &str, d: Value) {
        self.events
            .send(json!({"op": 0, "t": t, "d": d}))
            .expect("the gateway session is listening");
    }

    /// Wait until `f` holds (checked after every call the fake gets), at most `secs`.
    pub async fn until<T>(
        &self,
        what: &str,
        secs: u64,
        mut f: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if let Some(v) = f(self) {
                    return v;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), changed).await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(secs), wait).await {
            Ok(v) => v,
            Err(_) => panic!(
                "timed out after {secs} s waiting for {what}; calls: {:#?}",
                self.calls.lock().unwrap()
            ),
        }
    }

    /// Serve on 127.0.0.1:0; the base URL (`FRONTDOOR_DISCORD_API_URL`, the serenity proxy).
    pub async fn start() -> (FakeDiscord, String) {
        let (events, _) = broadcast::channel(64);
        let fake = FakeDiscord {
            base: Arc::default(),
            calls: Arc::default(),
            accepted: Arc::default(),
            script: Arc::default(),
            events,
            identified: Arc::default(),
            changed: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/gateway", axum::routing::get(gateway))
            .route("/api/v10/{*path}", axum::routing::any(rest))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        *fake.base.lock().unwrap() = url.clone();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (fake, url)
    }
}

pub fn user(id: &str, name: &str, bot: bool) -> Value {
    json!({"id": id, "username": name, "discriminator": "0", "global_name": name, "avatar": null, "bot": bot})
}

/// A message by `author` (id, name) in `channel`.
pub fn message(id: &str, channel: &str, author: (&str, &str), content: &str) -> Value {
    json!({
        "id": id, "channel_id": channel, "author": user(author.0, author.1, false),
        "content": content, "timestamp": "2026-11-23T10:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0})
}

/// A press of the button `custom_id` by `presser` (id, name) on a bot message in `channel`.
pub fn button(id: &str, channel: &str, presser: (&str, &str), custom_id: &str) -> Value {
    let mut bot_message = message(
        "100000000000000009",
        channel,
        (BOT_ID, "frontdoor"),
        "a ping",
    );
    bot_message["author"] = user(BOT_ID, "frontdoor", true);
    json!({
        "id": id, "application_id": BOT_ID, "type": 3,
        "data": {"custom_id": custom_id, "component_type": 2},
        "channel_id": channel, "user": user(presser.0, presser.1, false), "token": format!("tok-{id}"),
        "version": 1, "message": bot_message,
        "locale": "en-GB", "entitlements": [], "attachment_size_limit": 8_388_608})
}

async fn rest(
    State(fake): State<FakeDiscord>,
    method: Method,
    Path(path): Path<String>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = format!("/api/v10/{path}");
    fake.calls
        .lock()
        .unwrap()
        .push((method.to_string(), path.clone(), body.clone()));
    fake.changed.notify_waiters();
    if path == "/api/v10/gateway" || path == "/api/v10/gateway/bot" {
        let url = format!(
            "{}/gateway",
            fake.base.lock().unwrap().replace("http://", "ws://")
        );
        return axum::Json(json!({"url": url, "shards": 1, "session_start_limit":
            {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}}))
        .into_response();
    }
    if path.ends_with("/commands") {
        return axum::Json(json!([])).into_response();
    }
    if path.ends_with("/callback") {
        return StatusCode::NO_CONTENT.into_response();
    }
    if path == "/api/v10/users/@me/channels" {
        let recipient = body["recipient_id"].as_str().unwrap_or_default();
        return axum::Json(json!({"id": dm_channel_of(recipient), "type": 1,
            "recipients": [user(recipient, "someone", false)]}))
        .into_response();
    }
    if let Some(channel) = path
        .strip_prefix("/api/v10/channels/")
        .and_then(|p| p.strip_suffix("/messages"))
    {
        let scripted = fake
            .script
            .lock()
            .unwrap()
            .get_mut(channel)
            .and_then(VecDeque::pop_front);
        match scripted {
            Some(Answer::RetryAfter(s)) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"message": "You are being rate limited.", "retry_after": s, "global": false, "code": 0})),
                )
                    .into_response();
            }
            Some(Answer::ServerError) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    axum::Json(json!({"message": "Internal Server Error", "code": 0})),
                )
                    .into_response();
            }
            Some(Answer::Hold) => {
                std::future::pending::<()>().await;
            }
            None => {}
        }
        fake.accepted
            .lock()
            .unwrap()
            .push((channel.to_string(), body.clone()));
        fake.changed.notify_waiters();
        let mut m = message(
            "300000000000000001",
            channel,
            (BOT_ID, "frontdoor"),
            body["content"].as_str().unwrap_or_default(),
        );
        m["author"] = user(BOT_ID, "frontdoor", true);
        return axum::Json(m).into_response();
    }
    axum::Json(json!({})).into_response()
}

async fn gateway(State(fake): State<FakeDiscord>, ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.on_upgrade(move |socket| session(fake, socket))
}

async fn session(fake: FakeDiscord, mut socket: WebSocket) {
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 41250}});
    if socket
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let mut events = fake.events.subscribe();
    let mut seq = 1;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(WsMessage::Text(t))) = incoming else { return };
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                match v["op"].as_i64() {
                    Some(2) => {
                        let base = fake.base.lock().unwrap().replace("http://", "ws://");
                        let ready = json!({"op": 0, "s": seq, "t": "READY", "d": {
                            "v": 10, "user": user(BOT_ID, "frontdoor", true), "guilds": [],
                            "session_id": "fake-session", "resume_gateway_url": format!("{base}/gateway"),
                            "application": {"id": BOT_ID, "flags": 0}}});
                        seq += 1;
                        let _ = socket.send(WsMessage::Text(ready.to_string().into())).await;
                        *fake.identified.lock().unwrap() = true;
                        fake.changed.notify_waiters();
                    }
                    Some(1) => {
                        let _ = socket.send(WsMessage::Text(json!({"op": 11}).to_string().into())).await;
                    }
                    _ => {}
                }
            }
            event = events.recv() => {
                let Ok(mut e) = event else { return };
                e["s"] = json!(seq);
                seq += 1;
                if socket.send(WsMessage::Text(e.to_string().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
