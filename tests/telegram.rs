//! The Telegram adapter end to end: the real teloxide client long-polls a fake Bot API server on
//! 127.0.0.1 that the test feeds with updates and that records what the bot sends.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::TestServer;
use common::wait::PATIENCE;
use frontdoor::channels::telegram::TelegramAdapter;
use serde_json::{Value, json};

const TOKEN: &str = "123456:fake-telegram-token";
const ANN: i64 = 555_001;

#[derive(Clone, Default)]
struct FakeBotApi {
    updates: Arc<Mutex<VecDeque<Value>>>,
    /// (method, body, when) of every call but getUpdates.
    calls: Arc<Mutex<Vec<(String, Value, Instant)>>>,
    offsets: Arc<Mutex<Vec<i64>>>,
    /// sendMessage calls to refuse with 429 retry_after=1 before accepting again.
    flood: Arc<Mutex<u32>>,
}

impl FakeBotApi {
    fn push(&self, update: Value) {
        self.updates.lock().unwrap().push_back(update);
    }
    fn calls(&self, method: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, _, _)| m.eq_ignore_ascii_case(method))
            .map(|(_, b, _)| b.clone())
            .collect()
    }
    fn sent_texts(&self) -> Vec<String> {
        self.calls("sendMessage")
            .iter()
            .map(|b| b["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

fn user() -> Value {
    json!({"id": ANN, "is_bot": false, "first_name": "Ann", "last_name": "Lee"})
}

fn bot_user() -> Value {
    json!({"id": 999, "is_bot": true, "first_name": "Frontdoor", "username": "frontdoor_bot"})
}

fn chat() -> Value {
    json!({"id": ANN, "type": "private", "first_name": "Ann"})
}

fn text_update(id: i64, text: &str) -> Value {
    json!({"update_id": id, "message": {
        "message_id": id, "date": 1_700_000_000, "chat": chat(), "from": user(), "text": text}})
}

fn button_update(id: i64, data: &str) -> Value {
    json!({"update_id": id, "callback_query": {
        "id": format!("cb-{id}"), "from": user(), "chat_instance": "ci", "data": data,
        "message": {"message_id": 9000 + id, "date": 1_700_000_000, "chat": chat(), "from": bot_user(),
                    "text": "earlier bot message"}}})
}

async fn bot_api(
    State(fake): State<FakeBotApi>,
    Path((_token, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ok = |result: Value| axum::Json(json!({"ok": true, "result": result})).into_response();
    match method.to_ascii_lowercase().as_str() {
        "getme" => ok(json!({
            "id": 999, "is_bot": true, "first_name": "Frontdoor", "username": "frontdoor_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false})),
        "getupdates" => {
            fake.offsets
                .lock()
                .unwrap()
                .push(body["offset"].as_i64().unwrap_or(0));
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
                .push((m.to_string(), body.clone(), Instant::now()));
            match m {
                "sendmessage" => {
                    let mut flood = fake.flood.lock().unwrap();
                    if *flood > 0 {
                        *flood -= 1;
                        return (
                            StatusCode::TOO_MANY_REQUESTS,
                            axum::Json(json!({"ok": false, "error_code": 429,
                                "description": "Too Many Requests: retry after 1",
                                "parameters": {"retry_after": 1}})),
                        )
                            .into_response();
                    }
                    ok(
                        json!({"message_id": 1, "date": 1_700_000_000, "chat": chat(),
                              "from": bot_user(), "text": body["text"]}),
                    )
                }
                _ => ok(json!(true)),
            }
        }
    }
}

async fn start_fake() -> (FakeBotApi, String) {
    let fake = FakeBotApi::default();
    let app = axum::Router::new()
        .route("/{token}/{method}", axum::routing::post(bot_api))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (fake, url)
}

/// The real bot long-polling the fake Bot API at `url` for `server`'s chat service.
struct Polling {
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<Result<(), frontdoor::channels::telegram::TelegramError>>,
}

impl Polling {
    fn start(url: &str, server: &TestServer) -> Polling {
        let bot = TelegramAdapter::new(TOKEN, url, server.state.chat.clone()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(bot.run(async {
            let _ = stopped.await;
        }));
        Polling { stop, running }
    }

    /// Stop polling; the bot must have run without an error.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.running.await.unwrap().unwrap();
    }
}

/// Wait until the bot has sent at least `n` messages (it works asynchronously).
async fn sent(fake: &FakeBotApi, n: usize) -> Vec<String> {
    common::wait::until(&format!("{n} messages from the bot"), PATIENCE, || {
        let texts = fake.sent_texts();
        (texts.len() >= n).then_some(texts)
    })
    .await
}

#[tokio::test]
async fn telegram_conversation_through_the_real_client() {
    let (_, store, _dir) = common::backends("telegram").await.remove(0);
    let server = TestServer::start(store.clone()).await;
    let (fake, url) = start_fake().await;
    let bot = Polling::start(&url, &server);

    // Linking with a one-time code puts the user in their client.
    let now = chrono::Utc::now().timestamp_millis();
    store
        .create_link_code("acme-code-1", "ACME", now + 3_600_000, now)
        .await
        .unwrap();
    fake.push(text_update(1, "/start acme-code-1"));
    let texts = sent(&fake, 2).await;
    assert!(
        texts[0].contains("linked to Acme Manufacturing"),
        "{texts:#?}"
    );
    assert!(texts[1].contains("Hello Ann"), "{texts:#?}");
    let commands = fake.calls("setMyCommands");
    assert_eq!(commands.len(), 1, "commands registered at start");
    let names: Vec<_> = commands[0]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "start",
            "help",
            "status",
            "human",
            "feedback",
            "unsubscribe",
            "subscribe"
        ]
    );

    // A question gets the article, as Telegram HTML, with Yes/No buttons.
    fake.push(text_update(2, "how do I reset my password"));
    let before = fake.sent_texts().len();
    let texts = sent(&fake, before + 2).await;
    let answer = &texts[before..];
    assert!(
        answer[0].contains("<b>Reset a forgotten or expired password</b>"),
        "{answer:#?}"
    );
    let calls = fake.calls("sendMessage");
    let last = calls.last().unwrap();
    assert_eq!(last["parse_mode"], "HTML");
    assert_eq!(last["text"], "Did this answer your question?");
    assert_eq!(
        last["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "yes"
    );

    // Pressing Yes: the callback is answered (no spinning button), the survey follows.
    fake.push(button_update(3, "yes"));
    let before = fake.sent_texts().len();
    sent(&fake, before + 2).await;
    let answered = fake.calls("answerCallbackQuery");
    assert_eq!(answered[0]["callback_query_id"], "cb-3");
    let survey = fake.calls("sendMessage").last().unwrap().clone();
    let labels: Vec<_> = survey["reply_markup"]["inline_keyboard"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["1", "2", "3", "4", "5"]);

    // The survey answer, then the same update delivered again: processed once.
    fake.push(button_update(4, "survey:5"));
    let before = fake.sent_texts().len();
    let texts = sent(&fake, before + 1).await;
    assert!(texts.last().unwrap().contains("Thank you"), "{texts:#?}");
    let conversation = store
        .conversation_by_session("telegram", &ANN.to_string())
        .await
        .unwrap()
        .expect("the Telegram conversation");
    let inbound_before = store
        .transcript(&conversation.id)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.direction == "in")
        .count();
    let before = fake.sent_texts().len();
    fake.push(button_update(4, "survey:5"));
    // Answered from the log: the replies may go out again, the turn is not taken again.
    sent(&fake, before + 1).await;
    fake.push(button_update(5, "skip"));
    sent(&fake, before + 2).await;
    // Flood control: the next sendMessage is refused once with retry_after = 1.
    *fake.flood.lock().unwrap() = 1;
    fake.push(text_update(6, "/help"));
    let before = fake.sent_texts().len();
    sent(&fake, before + 2).await;
    let rows = store.transcript(&conversation.id).await.unwrap();
    let inbound: Vec<_> = rows.iter().filter(|m| m.direction == "in").collect();
    assert_eq!(
        inbound.len(),
        inbound_before + 2,
        "the redelivered update was not processed again; skip and /help were"
    );
    assert_eq!(
        inbound
            .iter()
            .filter(|m| m.channel_message_id.as_deref() == Some("4"))
            .count(),
        1
    );
    let sends: Vec<_> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _, _)| m == "sendmessage")
        .map(|(_, b, t)| (b["text"].as_str().unwrap_or_default().to_string(), *t))
        .collect();
    let help: Vec<_> = sends
        .iter()
        .filter(|(t, _)| t.contains("Shared Services assistant"))
        .collect();
    assert!(
        help.len() >= 2,
        "the refused message was sent again: {sends:#?}"
    );
    let gap = help[1].1 - help[0].1;
    // A lower bound only, so a slow machine cannot fail it: Telegram asked for 1 s
    // (`retry_after`), and a resend sooner would mean the bot ignored it. (100 ms of slack for
    // timer granularity.)
    assert!(
        gap >= Duration::from_millis(900),
        "retry_after (1 s) honoured: waited {gap:?}"
    );

    // The offset is saved only after each update is handled.
    common::wait::until_async("the offset saved after update 6", PATIENCE, || async {
        (store.cursor("telegram.update_id").await.unwrap() == Some(6)).then_some(())
    })
    .await;
    // The next poll asks for what comes after the last handled update.
    common::wait::until("a poll for the updates after 6", PATIENCE, || {
        fake.offsets.lock().unwrap().contains(&7).then_some(())
    })
    .await;

    bot.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn the_same_question_gets_the_same_answer_on_telegram_and_the_web() {
    let (_, store, _dir) = common::backends("telegram_same").await.remove(0);
    let server = TestServer::start(store.clone()).await;
    let (fake, url) = start_fake().await;
    let bot = Polling::start(&url, &server);
    let question = "how do I book annual leave";
    fake.push(text_update(1, question));
    sent(&fake, 2).await;
    let conversation = store
        .conversation_by_session("telegram", &ANN.to_string())
        .await
        .unwrap()
        .unwrap();
    let telegram: Vec<String> = store
        .transcript(&conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "out")
        .map(|m| m.text)
        .collect();
    let web: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/chat", server.url))
        .json(&json!({"session": "web-same", "text": question}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let web: Vec<String> = web["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(telegram, web, "one dialogue, every channel");
    bot.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_manager_replies_from_telegram_and_the_web_client_gets_it() {
    let (_, store, _dir) = common::backends("telegram_manager").await.remove(0);
    let server = TestServer::start(store.clone()).await;
    let (fake, url) = start_fake().await;
    let bot = Polling::start(&url, &server);
    // A web client of ACME asks for a human.
    let http = reqwest::Client::new();
    let body: Value = http
        .post(format!("{}/api/v1/chat", server.url))
        .json(
            &json!({"session": "web-esc", "text": "I want to talk to a real person please",
                      "user": {"id": "ann@acme.example", "name": "Ann Lee", "client": "ACME"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["outcome"], "escalated", "{body}");
    let conversation = body["conversation"].as_str().unwrap().to_string();
    let id = store
        .escalations_of_conversation(&conversation)
        .await
        .unwrap()[0]
        .id;

    // Priya Shah's Telegram account (telegram_chat = 100200300 in clients/acme.toml) answers.
    let priya =
        json!({"id": 100200300, "is_bot": false, "first_name": "Priya", "last_name": "Shah"});
    let priya_chat = json!({"id": 100200300, "type": "private", "first_name": "Priya"});
    fake.push(json!({"update_id": 1, "message": {"message_id": 1, "date": 1_700_000_000,
        "chat": priya_chat, "from": priya,
        "text": format!("/reply {id} Your expense claim is approved; it will be paid on Friday.")}}));
    let texts = sent(&fake, 1).await;
    assert!(
        texts[0].contains(&format!("escalation #{id} is acknowledged")),
        "{texts:#?}"
    );
    let log = store.transcript(&conversation).await.unwrap();
    assert!(
        log.iter()
            .any(|m| m.direction == "out" && m.text.contains("paid on Friday")),
        "the reply is in the client's conversation"
    );
    // Someone who is not a manager cannot.
    fake.push(text_update(2, &format!("/resolve {id}")));
    let texts = sent(&fake, 2).await;
    assert!(texts[1].contains("Only account managers"), "{texts:#?}");
    assert_eq!(
        store.escalation(id).await.unwrap().unwrap().status,
        "acknowledged"
    );
    bot.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn webhook_mode_takes_updates_only_from_telegram_and_once() {
    let (_, store, _dir) = common::backends("telegram_webhook").await.remove(0);
    let base = TestServer::start(store.clone()).await;
    let (fake, url) = start_fake().await;
    let mut bot = TelegramAdapter::new(TOKEN, &url, base.state.chat.clone()).unwrap();
    bot.prepare().await.unwrap();
    let mut state = base.state.clone();
    state.telegram = Some(bot);
    state.telegram_webhook_secret = Some(frontdoor::config::Secret::new("hook-secret"));
    let server = TestServer::start_state(store.clone(), state).await;
    let http = reqwest::Client::new();
    let post = |secret: &'static str, update: Value| {
        http.post(format!("{}/telegram/webhook", server.url))
            .header("X-Telegram-Bot-Api-Secret-Token", secret)
            .json(&update)
            .send()
    };
    let update = text_update(41, "how do I reset my password");
    let r = post("wrong", update.clone()).await.unwrap();
    assert_eq!(r.status(), 401, "not Telegram");
    assert!(fake.sent_texts().is_empty());
    for _ in 0..2 {
        let r = post("hook-secret", update.clone()).await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let texts = fake.sent_texts();
    assert!(texts[0].contains("Reset a forgotten"), "{texts:#?}");
    let conversation = store
        .conversation_by_session("telegram", &ANN.to_string())
        .await
        .unwrap()
        .unwrap();
    let inbound = store
        .transcript(&conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "in")
        .count();
    assert_eq!(
        inbound, 1,
        "the update Telegram sent twice was processed once"
    );
    server.stop().await;
    base.stop().await;
}

/// Webhook mode is what lets several replicas serve one bot: Telegram posts each update to one
/// URL, the load balancer picks any replica. Here two replicas on one PostgreSQL take one
/// chat's updates alternately, and every update is also redelivered to the *other* replica at
/// the same moment (Telegram retries an update it thinks failed; the retry may land anywhere).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_behind_two_replicas_on_postgres() {
    let Some(pg) = common::postgres_url("webhook_mode_behind_two_replicas_on_postgres") else {
        return;
    };
    let schema = common::unique_schema("telegram_replicas");
    let (fake, url) = start_fake().await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store: Arc<dyn frontdoor::store::Store> =
            Arc::new(common::postgres_store(&pg, &schema).await);
        let base = TestServer::start(store.clone()).await;
        let mut bot = TelegramAdapter::new(TOKEN, &url, base.state.chat.clone()).unwrap();
        bot.prepare().await.unwrap();
        let mut state = base.state.clone();
        state.telegram = Some(bot);
        state.telegram_webhook_secret = Some(frontdoor::config::Secret::new("hook-secret"));
        let server = TestServer::start_state(store, state).await;
        replicas.push((base, server));
    }
    let store = replicas[0].1.store.clone();
    let now = chrono::Utc::now().timestamp_millis();
    store
        .create_link_code("acme-replicas", "ACME", now + 3_600_000, now)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let post = |replica: usize, update: Value| {
        http.post(format!("{}/telegram/webhook", replicas[replica].1.url))
            .header("X-Telegram-Bot-Api-Secret-Token", "hook-secret")
            .json(&update)
            .send()
    };
    let script: Vec<&str> = std::iter::once("/start acme-replicas")
        .chain(common::VENDOR_THEN_HUMAN)
        .collect();
    for (k, text) in script.iter().enumerate() {
        let update = text_update(100 + k as i64, text);
        // Update k goes to replica k % 2 and, at the same time, again to the other one.
        let (a, b) = tokio::join!(post(k % 2, update.clone()), post((k + 1) % 2, update));
        assert_eq!(a.unwrap().status(), 200, "update {k}");
        assert_eq!(b.unwrap().status(), 200, "redelivered update {k}");
    }
    let conversation = store
        .conversation_by_session("telegram", &ANN.to_string())
        .await
        .unwrap()
        .expect("one Telegram conversation");
    let inbound: Vec<_> = store
        .transcript(&conversation.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "in")
        .collect();
    // /start with a code answers "linked" and then greets: that greeting is the logged turn.
    let ids: Vec<_> = inbound
        .iter()
        .map(|m| m.channel_message_id.clone().unwrap_or_default())
        .collect();
    let expected: Vec<_> = (0..script.len()).map(|k| (100 + k).to_string()).collect();
    assert_eq!(ids, expected, "each update processed once, in order");
    // The conversation's state carried across replicas: the form ran to a request, then the
    // escalation to Acme's account manager.
    let texts = fake.sent_texts();
    assert!(
        texts.iter().any(|t| t.contains("REQ-")),
        "a request was opened: {texts:#?}"
    );
    let escalations = store
        .escalations_of_conversation(&conversation.id)
        .await
        .unwrap();
    assert_eq!(escalations.len(), 1, "one escalation: {escalations:?}");
    assert_eq!(escalations[0].client_code.as_deref(), Some("ACME"));
    for (base, server) in replicas {
        server.stop().await;
        base.stop().await;
    }
}

/// `/start CODE` whose first delivery failed half-way (the code used, the "linked" message
/// refused by Telegram, so the update is not acknowledged) still links when Telegram delivers
/// it again; the same code from another account does not.
#[tokio::test]
async fn a_link_that_failed_half_way_links_when_the_update_comes_again() {
    use common::fake_telegram::{Answer, FakeTelegram, text_update};
    const TESS: i64 = 555_201;
    const OTTO: i64 = 555_202;
    let (_, store, _dir) = common::backends("telegram_relink").await.remove(0);
    let server = TestServer::start(store.clone()).await;
    let (fake, url) = FakeTelegram::start().await;
    let bot = Polling::start(&url, &server);
    let now = chrono::Utc::now().timestamp_millis();
    store
        .create_link_code("tess-code", "ACME", now + 3_600_000, now)
        .await
        .unwrap();

    // Telegram refuses the first "linked" message: the update is not acknowledged.
    fake.script(TESS, [Answer::NotOk]);
    let start = text_update(1, TESS, "Tess", "/start tess-code");
    fake.push(start.clone());
    fake.until("the refused answer", 30, |f| {
        (f.attempts_to(TESS) >= 1).then_some(())
    })
    .await;
    // Telegram delivers it again.
    fake.push(start);
    let texts = fake
        .until("Tess's link", 30, |f| {
            let t = f.accepted_to(TESS);
            (t.len() >= 2).then_some(t)
        })
        .await;
    assert!(texts[0].contains("linked to Acme"), "{texts:#?}");
    assert!(
        !texts.iter().any(|t| t.contains("unknown, used or expired")),
        "{texts:#?}"
    );
    let tess = store
        .person_by_identity("telegram", &TESS.to_string())
        .await
        .unwrap()
        .expect("Tess is known");
    assert_eq!(tess.client_code.as_deref(), Some("ACME"));

    // Someone else with Tess's code is refused.
    fake.push(text_update(2, OTTO, "Otto", "/start tess-code"));
    let texts = fake
        .until("Otto's answer", 30, |f| {
            let t = f.accepted_to(OTTO);
            (!t.is_empty()).then_some(t)
        })
        .await;
    assert!(texts[0].contains("unknown, used or expired"), "{texts:#?}");

    bot.stop().await;
}
