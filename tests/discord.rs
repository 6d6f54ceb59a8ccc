//! The Discord adapter end to end: the real serenity client against a fake Discord on
//! 127.0.0.1 — REST (`/api/v10/...`) and a gateway WebSocket that says Hello, answers Identify
//! with READY and then dispatches the events the test feeds it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::IntoResponse;
use common::TestServer;
use common::wait::PATIENCE;
use frontdoor::channels::discord::{DiscordSettings, run};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

const BOT_ID: &str = "999000000000000001";
const ANN_ID: &str = "555000000000000001";
const DM_CHANNEL: &str = "200000000000000001";

#[derive(Clone)]
struct FakeDiscord {
    base: Arc<Mutex<String>>,
    /// (method, path, body) of every REST call.
    calls: Arc<Mutex<Vec<(String, String, Value)>>>,
    events: broadcast::Sender<Value>,
    identified: Arc<Mutex<bool>>,
    /// `[shard, total]` of every Identify, in order.
    shards: Arc<Mutex<Vec<(u64, u64)>>>,
    /// Message posts to refuse with 429 (retry_after 1 s) before accepting again.
    flood: Arc<Mutex<u32>>,
}

impl FakeDiscord {
    fn posts_to(&self, suffix: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p.ends_with(suffix))
            .map(|(_, _, b)| b.clone())
            .collect()
    }
    fn sent(&self) -> Vec<Value> {
        self.posts_to(&format!("/channels/{DM_CHANNEL}/messages"))
    }
}

fn user(id: &str, name: &str, bot: bool) -> Value {
    json!({"id": id, "username": name, "discriminator": "0", "global_name": name, "avatar": null, "bot": bot})
}

fn message(id: &str, content: &str, guild: Option<&str>, mentions: Vec<Value>) -> Value {
    let mut m = json!({
        "id": id, "channel_id": DM_CHANNEL, "author": user(ANN_ID, "Ann Lee", false),
        "content": content, "timestamp": "2026-11-23T10:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": mentions, "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0});
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
    }
    m
}

fn button(id: &str, custom_id: &str) -> Value {
    json!({
        "id": id, "application_id": BOT_ID, "type": 3,
        "data": {"custom_id": custom_id, "component_type": 2},
        "channel_id": DM_CHANNEL, "user": user(ANN_ID, "Ann Lee", false), "token": format!("tok-{id}"),
        "version": 1, "message": message("100000000000000009", "Did this answer your question?", None, vec![]),
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
        return axum::http::StatusCode::NO_CONTENT.into_response();
    }
    if path.ends_with("/messages") {
        let mut flood = fake.flood.lock().unwrap();
        if *flood > 0 {
            *flood -= 1;
            return (
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"message": "You are being rate limited.", "retry_after": 1.0, "global": false, "code": 0})),
            )
                .into_response();
        }
        drop(flood);
        let mut m = message(
            "300000000000000001",
            body["content"].as_str().unwrap_or_default(),
            None,
            vec![],
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
    // The shard this session identified as: Discord sends each event down one shard only.
    let mut shard = 0;
    loop {
        tokio::select! {
            incoming = socket.recv() => {
                let Some(Ok(WsMessage::Text(t))) = incoming else { return };
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                match v["op"].as_i64() {
                    Some(2) => {
                        let pair = &v["d"]["shard"];
                        shard = pair[0].as_u64().unwrap_or(0);
                        fake.shards.lock().unwrap().push((shard, pair[1].as_u64().unwrap_or(1)));
                        let base = fake.base.lock().unwrap().replace("http://", "ws://");
                        let ready = json!({"op": 0, "s": seq, "t": "READY", "d": {
                            "v": 10, "user": user(BOT_ID, "frontdoor", true), "guilds": [],
                            "session_id": "fake-session", "resume_gateway_url": format!("{base}/gateway"),
                            "application": {"id": BOT_ID, "flags": 0}}});
                        seq += 1;
                        let _ = socket.send(WsMessage::Text(ready.to_string().into())).await;
                        *fake.identified.lock().unwrap() = true;
                    }
                    Some(1) => {
                        let _ = socket.send(WsMessage::Text(json!({"op": 11}).to_string().into())).await;
                    }
                    _ => {}
                }
            }
            event = events.recv() => {
                let Ok(mut e) = event else { return };
                // Events sent with `to_shard` carry their shard; others go to every session.
                if let Some(to) = e.as_object_mut().and_then(|o| o.remove("to_shard"))
                    && to.as_u64() != Some(shard)
                {
                    continue;
                }
                e["s"] = json!(seq);
                seq += 1;
                if socket.send(WsMessage::Text(e.to_string().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn start_fake() -> (FakeDiscord, String) {
    let (events, _) = broadcast::channel(64);
    let fake = FakeDiscord {
        base: Arc::default(),
        calls: Arc::default(),
        events,
        identified: Arc::default(),
        shards: Arc::default(),
        flood: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/gateway", axum::routing::get(gateway))
        .route("/api/v10/{*path}", axum::routing::any(rest))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    *fake.base.lock().unwrap() = url.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, url)
}

fn dispatch(fake: &FakeDiscord, t: &str, d: Value) {
    fake.events
        .send(json!({"op": 0, "t": t, "d": d}))
        .expect("the gateway session is listening");
}

/// An event down one shard's session only, as Discord routes them: a guild's events to shard
/// `(guild_id >> 22) % total`, direct messages to shard 0.
fn dispatch_to_shard(fake: &FakeDiscord, shard: u64, t: &str, d: Value) {
    fake.events
        .send(json!({"op": 0, "t": t, "d": d, "to_shard": shard}))
        .expect("the gateway sessions are listening");
}

/// Wait for what the bot does asynchronously (at most [`PATIENCE`]).
async fn until<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    common::wait::until(what, PATIENCE, f).await
}

/// Wait for the two posts after the first `before` (the password-reset article, then its
/// Yes/No buttons) and check the first is the article.
async fn answered_with_reset(fake: &FakeDiscord, before: usize, what: &str) {
    let sent = until(what, || {
        let s = fake.sent();
        (s.len() >= before + 2).then_some(s)
    })
    .await;
    assert!(
        sent[before]["content"]
            .as_str()
            .unwrap()
            .contains("Reset a forgotten"),
        "{what}: {:#?}",
        &sent[before..]
    );
}

#[tokio::test]
async fn discord_conversation_through_the_real_client() {
    let (_, store, _dir) = common::backends("discord").await.remove(0);
    let server = TestServer::start(store.clone()).await;
    let (fake, url) = start_fake().await;
    let (stop_tx, stop_rx) = mpsc::channel::<()>(1);
    let chat = server.state.chat.clone();
    let running = tokio::spawn(async move {
        let mut stop_rx = stop_rx;
        run(
            "fake-discord-token",
            chat,
            DiscordSettings {
                proxy: Some(url),
                ..DiscordSettings::default()
            },
            async move {
                stop_rx.recv().await;
            },
        )
        .await
    });
    until("the bot to identify", || {
        fake.identified.lock().unwrap().then_some(())
    })
    .await;
    // Slash commands are registered once READY arrives.
    let commands = until("slash commands", || {
        let calls = fake.calls.lock().unwrap();
        calls
            .iter()
            .find(|(m, p, _)| m == "PUT" && p.ends_with("/commands"))
            .map(|(_, _, b)| b.clone())
    })
    .await;
    let names: Vec<_> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["ask", "status", "human", "feedback", "link"]);

    // A DM question gets the article, then Yes/No buttons.
    dispatch(
        &fake,
        "MESSAGE_CREATE",
        message(
            "100000000000000001",
            "how do I reset my password",
            None,
            vec![],
        ),
    );
    let sent = until("the answer", || {
        let s = fake.sent();
        (s.len() >= 2).then_some(s)
    })
    .await;
    assert!(
        sent[0]["content"]
            .as_str()
            .unwrap()
            .contains("Reset a forgotten or expired password"),
        "{sent:#?}"
    );
    assert_eq!(sent[1]["content"], "Did this answer your question?");
    assert_eq!(
        sent[1]["components"][0]["components"][0]["custom_id"],
        "yes"
    );

    // Pressing Yes: the interaction is acknowledged; the survey follows with five buttons.
    dispatch(
        &fake,
        "INTERACTION_CREATE",
        button("400000000000000001", "yes"),
    );
    let sent = until("the survey", || {
        let s = fake.sent();
        (s.len() >= 4).then_some(s)
    })
    .await;
    let callbacks = fake.posts_to("/callback");
    assert_eq!(callbacks.len(), 1);
    assert_eq!(
        callbacks[0]["type"], 6,
        "deferred update: no 'interaction failed'"
    );
    let survey = &sent[3]["components"][0]["components"];
    assert_eq!(survey.as_array().unwrap().len(), 5, "{sent:#?}");

    // The survey answer; then the same message delivered twice is processed once.
    dispatch(
        &fake,
        "INTERACTION_CREATE",
        button("400000000000000002", "survey:5"),
    );
    until("the thanks", || (fake.sent().len() >= 5).then_some(())).await;
    dispatch(
        &fake,
        "MESSAGE_CREATE",
        message("100000000000000002", "thanks", None, vec![]),
    );
    dispatch(
        &fake,
        "MESSAGE_CREATE",
        message("100000000000000002", "thanks", None, vec![]),
    );
    until("both deliveries handled", || {
        (fake.sent().len() >= 7).then_some(())
    })
    .await;
    let conversation = store
        .conversation_by_session("discord", DM_CHANNEL)
        .await
        .unwrap()
        .expect("the DM conversation");
    let inbound = store
        .transcript(&conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.channel_message_id.as_deref() == Some("100000000000000002"))
        .count();
    assert_eq!(inbound, 1, "a redelivered message is processed once");

    // In a guild the bot answers only when mentioned.
    let before = fake.sent().len();
    dispatch(
        &fake,
        "MESSAGE_CREATE",
        message(
            "100000000000000003",
            "lunch anyone?",
            Some("700000000000000001"),
            vec![],
        ),
    );
    dispatch(
        &fake,
        "MESSAGE_CREATE",
        message(
            "100000000000000004",
            &format!("<@{BOT_ID}> how do I reset my password"),
            Some("700000000000000001"),
            vec![user(BOT_ID, "frontdoor", true)],
        ),
    );
    answered_with_reset(&fake, before, "only the mention was answered").await;
    let guild_conversation = store
        .conversation_by_session("discord", &format!("{DM_CHANNEL}:{ANN_ID}"))
        .await
        .unwrap()
        .expect("a per-member conversation in the guild channel");
    let texts: Vec<String> = store
        .transcript(&guild_conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "in")
        .map(|m| m.text)
        .collect();
    assert_eq!(
        texts,
        ["how do I reset my password"],
        "the unaddressed message was ignored"
    );

    // Rate limited once: the message still arrives, after the wait.
    *fake.flood.lock().unwrap() = 1;
    let before = fake.sent().len();
    let asked = Instant::now();
    dispatch(
        &fake,
        "MESSAGE_CREATE",
        message("100000000000000005", "help", None, vec![]),
    );
    until("the reply after a 429", || {
        (fake.sent().len() >= before + 2).then_some(())
    })
    .await;
    // A lower bound only, so a slow machine cannot fail it: the fake asked for 1 s
    // (`retry_after`), and answering sooner would mean the bot ignored it. (100 ms of slack
    // for timer granularity.)
    assert!(
        asked.elapsed() >= Duration::from_millis(900),
        "waited before retrying"
    );

    // One dialogue, every channel: the web chat gives the same replies to the same question.
    let web: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/chat", server.url))
        .json(&json!({"session": "web-same", "text": "how do I reset my password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let web: Vec<&str> = web["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    let discord: Vec<String> = store
        .transcript(&guild_conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "out")
        .map(|m| m.text)
        .collect();
    assert_eq!(discord, web, "same replies on Discord and the web");

    // The bot stops when asked, cleanly, within 10 s (it closes one gateway connection).
    stop_tx.send(()).await.expect("the bot is still running");
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the bot stops within 10 s")
        .expect("the bot task")
        .expect("the bot stops without an error");
    server.stop().await;
}

/// A bot too big for one process is split by shard ranges: replica A runs shards 0–1 of 4,
/// replica B shards 2–3. Each shard identifies once, with the right `[shard, total]`, and an
/// event reaches the bot through the shard Discord routes it to.
#[tokio::test]
async fn shard_ranges_split_the_bot_across_replicas() {
    let (_, store, _dir) = common::backends("discord_shards").await.remove(0);
    let (fake, url) = start_fake().await;
    let mut stops = Vec::new();
    let mut running = Vec::new();
    let mut servers = Vec::new();
    for range in ["0-1/4", "2-3/4"] {
        let server = TestServer::start(store.clone()).await;
        let (stop_tx, mut stop_rx) = mpsc::channel::<()>(1);
        let settings = DiscordSettings {
            proxy: Some(url.clone()),
            shards: Some(range.parse().unwrap()),
            ..DiscordSettings::default()
        };
        let chat = server.state.chat.clone();
        running.push(tokio::spawn(async move {
            run("fake-discord-token", chat, settings, async move {
                stop_rx.recv().await;
            })
            .await
        }));
        stops.push(stop_tx);
        servers.push(server);
    }
    // serenity waits 5 s between two Identifys of one process, as Discord requires.
    let mut shards = until("four shards to identify", || {
        let s = fake.shards.lock().unwrap().clone();
        (s.len() >= 4).then_some(s)
    })
    .await;
    shards.sort();
    assert_eq!(shards, [(0, 4), (1, 4), (2, 4), (3, 4)], "each shard once");

    // A guild on shard 3 (replica B), one on shard 1 (replica A), and a DM (shard 0, A).
    let guild_on = |shard: u64| ((shard << 22) | 0x1234).to_string();
    let asks = [
        (3, Some(guild_on(3)), "100000000000000031"),
        (1, Some(guild_on(1)), "100000000000000032"),
        (0, None, "100000000000000033"),
    ];
    for (n, (shard, guild, id)) in asks.iter().enumerate() {
        let before = fake.sent().len();
        let (text, mentions) = match guild {
            Some(_) => (
                format!("<@{BOT_ID}> how do I reset my password"),
                vec![user(BOT_ID, "frontdoor", true)],
            ),
            None => ("how do I reset my password".to_string(), vec![]),
        };
        dispatch_to_shard(
            &fake,
            *shard,
            "MESSAGE_CREATE",
            message(id, &text, guild.as_deref(), mentions),
        );
        answered_with_reset(&fake, before, &format!("ask {n} on shard {shard}")).await;
    }
    // Each message reached one session only: with overlapping ranges a shard would run
    // twice and its event would be answered twice. Rather than sleep and hope a duplicate
    // shows up in time, send a last question down every shard and wait for all four answers:
    // each session takes its events in order, so by then any session that also got one of
    // the questions above has answered it too.
    let before = fake.sent().len();
    for shard in 0..4 {
        dispatch_to_shard(
            &fake,
            shard,
            "MESSAGE_CREATE",
            message(
                &format!("10000000000000004{shard}"),
                "how do I reset my password",
                None,
                vec![],
            ),
        );
    }
    until("the last question answered on all four shards", || {
        (fake.sent().len() >= before + 2 * 4).then_some(())
    })
    .await;
    assert_eq!(
        fake.sent().len(),
        2 * (asks.len() + 4),
        "{:#?}",
        fake.sent()
    );
    for stop in stops {
        let _ = stop.send(()).await;
    }
    for r in running {
        r.await.unwrap().unwrap();
    }
    for server in servers {
        server.stop().await;
    }
}
