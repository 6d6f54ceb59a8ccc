//! A fake Telegram Bot API on 127.0.0.1 for the real teloxide client (long polling) and for
//! the outbox's Telegram outlet: it hands out the updates a test pushes, records every call,
//! and answers `sendMessage` to a chat as scripted — accepted, 429 with `retry_after`,
//! `{"ok": false}` with a 200 (teloxide sleeps 10 s on a real 5xx, so errors are simulated
//! this way), or held without an answer (to kill the server while a send is in flight).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const BOT_ID: i64 = 999;

/// How the fake answers one `sendMessage`.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// 429 with `parameters.retry_after` = this many seconds.
    RetryAfter(u64),
    /// 200 with `{"ok": false, "error_code": 500}`: a Bot API error without teloxide's 10 s sleep.
    NotOk,
    /// Never answered (until the caller goes away).
    Hold,
}

#[derive(Clone, Default)]
pub struct FakeTelegram {
    updates: Arc<Mutex<VecDeque<Value>>>,
    /// (method, body) of every call but getUpdates, lower-cased method names.
    calls: Arc<Mutex<Vec<(String, Value)>>>,
    /// (chat id, text) of every `sendMessage` the fake accepted.
    accepted: Arc<Mutex<Vec<(i64, String)>>>,
    /// Scripted answers per chat id, consumed in order; accepted once the script runs out.
    script: Arc<Mutex<HashMap<i64, VecDeque<Answer>>>>,
    /// Woken on every call (tests wait on it instead of sleeping).
    pub changed: Arc<Notify>,
}

impl FakeTelegram {
    pub fn push(&self, update: Value) {
        self.updates.lock().unwrap().push_back(update);
    }

    /// Answer the next `sendMessage` calls to `chat` like this, in order.
    pub fn script(&self, chat: i64, answers: impl IntoIterator<Item = Answer>) {
        self.script
            .lock()
            .unwrap()
            .entry(chat)
            .or_default()
            .extend(answers);
    }

    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _)| m.eq_ignore_ascii_case(method))
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Texts the fake accepted for `chat`, in order.
    pub fn accepted_to(&self, chat: i64) -> Vec<String> {
        self.accepted
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| *c == chat)
            .map(|(_, t)| t.clone())
            .collect()
    }

    /// `sendMessage` attempts to `chat` (accepted or not).
    pub fn attempts_to(&self, chat: i64) -> usize {
        self.calls("sendMessage")
            .iter()
            .filter(|b| b["chat_id"].as_i64() == Some(chat))
            .count()
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
                // Also re-check now and then: some conditions change outside the fake.
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

    /// Serve on 127.0.0.1:0; the base URL to give `TelegramAdapter::new` / the outlet.
    pub async fn start() -> (FakeTelegram, String) {
        let fake = FakeTelegram::default();
        let app = axum::Router::new()
            .route("/{token}/{method}", axum::routing::post(bot_api))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (fake, url)
    }
}

pub fn user(id: i64, first: &str, last: &str) -> Value {
    json!({"id": id, "is_bot": false, "first_name": first, "last_name": last})
}

pub fn private_chat(id: i64, first: &str) -> Value {
    json!({"id": id, "type": "private", "first_name": first})
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Frontdoor", "username": "frontdoor_bot"})
}

/// A text message from `user_id` in their private chat with the bot.
pub fn text_update(update_id: i64, user_id: i64, first: &str, text: &str) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "chat": private_chat(user_id, first),
        "from": user(user_id, first, "Test"), "text": text}})
}

/// A button press on a message the bot sent to `user_id`.
pub fn button_update(update_id: i64, user_id: i64, first: &str, data: &str) -> Value {
    json!({"update_id": update_id, "callback_query": {
        "id": format!("cb-{update_id}"), "from": user(user_id, first, "Test"), "chat_instance": "ci",
        "data": data,
        "message": {"message_id": 9000 + update_id, "date": 1_700_000_000,
                    "chat": private_chat(user_id, first), "from": bot_user(), "text": "a ping"}}})
}

/// A reply, by `user_id`, to a message of the bot that says `replied_text`.
pub fn reply_update(
    update_id: i64,
    user_id: i64,
    first: &str,
    replied_text: &str,
    text: &str,
) -> Value {
    json!({"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_700_000_000, "chat": private_chat(user_id, first),
        "from": user(user_id, first, "Test"), "text": text,
        "reply_to_message": {"message_id": 8000 + update_id, "date": 1_700_000_000,
            "chat": private_chat(user_id, first), "from": bot_user(), "text": replied_text}}})
}

async fn bot_api(
    State(fake): State<FakeTelegram>,
    Path((_token, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = |result: Value| axum::Json(json!({"ok": true, "result": result})).into_response();
    let method = method.to_ascii_lowercase();
    match method.as_str() {
        "getme" => ok(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Frontdoor", "username": "frontdoor_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false})),
        "getupdates" => {
            let batch: Vec<Value> = fake.updates.lock().unwrap().drain(..).collect();
            if batch.is_empty() {
                // A short long-poll: the real API would hold the request up to `timeout`.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            ok(Value::Array(batch))
        }
        m => {
            fake.calls
                .lock()
                .unwrap()
                .push((m.to_string(), body.clone()));
            fake.changed.notify_waiters();
            if m != "sendmessage" {
                return ok(json!(true));
            }
            let chat = body["chat_id"].as_i64().unwrap_or_default();
            let scripted = fake
                .script
                .lock()
                .unwrap()
                .get_mut(&chat)
                .and_then(VecDeque::pop_front);
            match scripted {
                Some(Answer::RetryAfter(s)) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"ok": false, "error_code": 429,
                        "description": format!("Too Many Requests: retry after {s}"),
                        "parameters": {"retry_after": s}})),
                )
                    .into_response(),
                Some(Answer::NotOk) => axum::Json(json!({"ok": false, "error_code": 500,
                    "description": "Internal Server Error"}))
                .into_response(),
                Some(Answer::Hold) => {
                    std::future::pending::<()>().await;
                    StatusCode::GATEWAY_TIMEOUT.into_response()
                }
                None => {
                    let text = body["text"].as_str().unwrap_or_default().to_string();
                    fake.accepted.lock().unwrap().push((chat, text));
                    fake.changed.notify_waiters();
                    ok(json!({"message_id": 1, "date": 1_700_000_000,
                        "chat": private_chat(chat, "someone"), "from": bot_user(),
                        "text": body["text"]}))
                }
            }
        }
    }
}
