//! Escalation pings end to end: a real server takes the client's message, a real outbox worker
//! delivers over real HTTP to fake receivers on 127.0.0.1 (a webhook endpoint, the Telegram Bot
//! API), driven with the test's own clock so re-pings 15 minutes apart take no time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::TestServer;
use common::wait::{PATIENCE, next_json, until};
use common::webhook::Webhook;
use frontdoor::config::{Secret, WebSettings};
use frontdoor::dialogue::Input;
use frontdoor::dialogue::service::Inbound;
use frontdoor::escalation::deliver::verify;
use frontdoor::escalation::worker::{TickReport, Worker};
use frontdoor::store::{IdentityClaim, Store};
use serde_json::{Value, json};

const IDENTITY_SECRET: &str = "test-identity-secret";
const WEBHOOK_SECRET: &str = "test-webhook-secret";

struct Setup {
    server: TestServer,
    receiver: Webhook,
    receiver_url: String,
    _content: tempfile::TempDir,
}

/// Priya's order in most of these tests: her webhook first (it is the receiver they read),
/// then Telegram. Stated, because by default a chat route comes first.
const WEBHOOK_FIRST: &str = "route_order = [\"webhook\", \"telegram\"]";

/// The shipped content with ACME's managers pointed at the fake receiver: Priya (primary) by
/// webhook then Telegram, Tom (backup) by webhook.
async fn setup(store: Arc<dyn Store>) -> Setup {
    setup_with(store, None).await
}

/// As [`setup`], with Priya's webhook at `priya_base` (`/hooks/priya` under it) when given.
async fn setup_with(store: Arc<dyn Store>, priya_base: Option<&str>) -> Setup {
    setup_routes(store, priya_base, Some(WEBHOOK_FIRST)).await
}

/// As [`setup_with`], with Priya's `route_order` line (`None`: she states no preference).
async fn setup_routes(
    store: Arc<dyn Store>,
    priya_base: Option<&str>,
    route_order: Option<&str>,
) -> Setup {
    let (receiver, receiver_url) = Webhook::start().await;
    let priya_base = priya_base.unwrap_or(&receiver_url);
    let content = common::content_copy();
    let acme = "knowledge-base/clients/acme.toml";
    let order = route_order.map(|o| format!("{o}\n")).unwrap_or_default();
    common::set_acme_primary_routes(
        content.path(),
        &format!("telegram_chat = 100200300\n{order}webhook = \"{priya_base}/hooks/priya\""),
    );
    common::edit_content(
        content.path(),
        acme,
        "email = \"tom.becker@northwind.example\"\nwebhook = \"http://127.0.0.1:9009/hooks/acme\"",
        &format!(
            "email = \"tom.becker@northwind.example\"\nwebhook = \"{receiver_url}/hooks/tom\""
        ),
    );
    let server = TestServer::start_with(
        store,
        content.path(),
        WebSettings::default(),
        Some(Secret::new(IDENTITY_SECRET.to_string())),
    )
    .await;
    Setup {
        server,
        receiver,
        receiver_url,
        _content: content,
    }
}

fn worker(s: &Setup, store: Arc<dyn Store>) -> Worker {
    common::outbox::worker(
        store,
        s.server.state.chat.knowledge.clone(),
        &s.receiver_url,
        WEBHOOK_SECRET,
        Some("123:telegram-test-token"),
        s.server.state.chat.outbox_wake.clone(),
    )
}

fn token(sub: &str, client: Option<&str>) -> String {
    common::identity::user_token(IDENTITY_SECRET, sub, Some("Ann Lee"), client)
}

fn manager_token(email: &str) -> String {
    common::identity::manager_token(IDENTITY_SECRET, email)
}

async fn chat(s: &Setup, session: &str, text: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/chat", s.server.url))
        .json(&json!({"session": session, "text": text, "token": token("ann.lee@acme.example", Some("ACME"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Ask for a human; returns (conversation id, escalation id).
async fn escalate(s: &Setup, session: &str) -> (String, i64) {
    chat(s, session, "hello").await;
    let body = chat(s, session, "I want to talk to a real person please").await;
    assert_eq!(body["outcome"], "escalated", "{body}");
    let conversation = body["conversation"].as_str().unwrap().to_string();
    let escalations = s
        .server
        .store
        .escalations_of_conversation(&conversation)
        .await
        .unwrap();
    assert_eq!(escalations.len(), 1);
    (conversation, escalations[0].id)
}

/// As [`escalate`], on the test's clock: the conversation is taken at `now` (as the transcripts'
/// `@now` does), so the escalation, its first ping and its re-ping ladder are timed from `now`
/// and the worker can be driven from there, whatever the time of day the test runs at.
async fn escalate_at(s: &Setup, session: &str, now: DateTime<Utc>) -> i64 {
    for text in ["hello", "I want to talk to a real person please"] {
        let out = s
            .server
            .state
            .chat
            .handle(Inbound {
                channel: "web".into(),
                session_key: session.into(),
                identity: Some(IdentityClaim {
                    channel: "web".into(),
                    external_id: "ann.lee@acme.example".into(),
                    display_name: Some("Ann Lee".into()),
                    client_code: Some("ACME".into()),
                }),
                input: Input::Text(text.into()),
                channel_message_id: None,
                now,
            })
            .await
            .unwrap();
        if text.contains("real person") {
            assert_eq!(out.outcome, "escalated", "{out:?}");
        }
    }
    let conversation = s
        .server
        .store
        .conversation_by_session("web", session)
        .await
        .unwrap()
        .unwrap();
    let escalations = s
        .server
        .store
        .escalations_of_conversation(&conversation.id)
        .await
        .unwrap();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0].created_at, now.timestamp_millis());
    escalations[0].id
}

/// Tuesday 24 November 2026, 10:00 UTC (10:00 in London): inside ACME's coverage hours.
fn tuesday_morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}

async fn act(s: &Setup, id: i64, action: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/escalations/{id}/{action}", s.server.url))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn at(ms: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap()
}

#[tokio::test]
async fn an_escalation_sends_exactly_one_signed_ping_with_what_the_manager_needs() {
    for (name, store, _dir) in common::backends("esc_one_ping").await {
        let s = setup(store.clone()).await;
        let (conversation, id) = escalate(&s, "one-ping").await;
        let w = worker(&s, store.clone());
        let now = Utc::now();
        let report = w.tick(now).await.unwrap();
        assert_eq!(report.delivered, 1, "[{name}] {report:?}");
        // Nothing more to do: the ping is not sent twice.
        assert!(w.tick(now).await.unwrap().idle(), "[{name}]");
        let hits = s.receiver.hits("/hooks/");
        assert_eq!(hits.len(), 1, "[{name}] exactly one ping");
        let hit = &hits[0];
        assert_eq!(
            hit.path, "/hooks/priya",
            "[{name}] the primary manager first"
        );
        let signature = hit.headers["x-frontdoor-signature"].to_str().unwrap();
        assert!(
            verify(WEBHOOK_SECRET.as_bytes(), signature, &hit.body),
            "[{name}] the ping is signed with the shared secret"
        );
        assert!(!verify(b"wrong", signature, &hit.body));
        let ping = hit.json();
        assert_eq!(
            hit.headers["idempotency-key"].to_str().unwrap(),
            format!("escalation-{id}-ping-0-0")
        );
        assert_eq!(ping["escalation_id"], id);
        assert_eq!(ping["client"]["code"], "ACME");
        assert_eq!(ping["user"]["name"], "Ann Lee");
        assert_eq!(ping["channel"], "web");
        assert_eq!(ping["conversation"], conversation);
        assert_eq!(ping["priority"], "normal");
        assert_eq!(ping["manager"]["name"], "Priya Shah");
        assert!(ping["respond_by"].is_string(), "[{name}] {ping}");
        let transcript = ping["transcript"].as_array().unwrap();
        assert!(
            transcript
                .iter()
                .any(|t| t["text"].as_str().unwrap().contains("real person")),
            "[{name}] the last turns travel with the ping: {ping}"
        );
        assert!(
            ping["actions"]["reply"]
                .as_str()
                .unwrap()
                .contains(&format!("/api/v1/escalations/{id}/reply"))
        );
        let outbox = store.outbox_of_escalation(id).await.unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].status, "delivered");
        assert_eq!(outbox[0].attempts, 1);
        s.server.stop().await;
    }
}

#[tokio::test]
async fn a_failing_receiver_gets_the_ping_once_after_backoff() {
    let (name, store, _dir) = common::backends("esc_backoff").await.remove(0);
    let s = setup(store.clone()).await;
    // The test's clock, not the wall clock: the reminder an hour later is due in coverage time,
    // so with the wall clock this test's last tick depended on the hour it ran at.
    let start = tuesday_morning();
    let id = escalate_at(&s, "backoff", start).await;
    for _ in 0..3 {
        s.receiver
            .answer_next(500, json!({"error": "receiver is down"}));
    }
    let w = worker(&s, store.clone());
    let mut now = start;
    for round in 1..=3 {
        let report = w.tick(now).await.unwrap();
        assert_eq!(report.retried, 1, "[{name}] round {round}: {report:?}");
        // Backoff: asking again at the same instant sends nothing.
        assert!(w.tick(now).await.unwrap().idle(), "[{name}] round {round}");
        let row = &store.outbox_of_escalation(id).await.unwrap()[0];
        assert_eq!(row.status, "pending");
        assert!(
            row.next_attempt_at > now.timestamp_millis(),
            "retry is in the future"
        );
        assert!(row.last_error.as_deref().unwrap().contains("500"));
        now = at(row.next_attempt_at);
    }
    assert_eq!(w.tick(now).await.unwrap().delivered, 1);
    let hits = s.receiver.hits("/hooks/priya");
    assert_eq!(hits.len(), 4, "three failures, then the delivery");
    let keys: Vec<_> = hits
        .iter()
        .map(|h| h.header("idempotency-key").to_string())
        .collect();
    assert!(
        keys.iter().all(|k| k == &keys[0]),
        "one key across retries: {keys:?}"
    );
    let row = &store.outbox_of_escalation(id).await.unwrap()[0];
    assert_eq!((row.status.as_str(), row.attempts), ("delivered", 4));
    // An hour later, still Tuesday morning: the delivered ping is not sent again; the one thing
    // due is the reminder (15 minutes of coverage time after the escalation), a new ping with
    // its own key.
    let later = w.tick(start + chrono::Duration::hours(1)).await.unwrap();
    assert_eq!(
        later,
        TickReport {
            delivered: 1,
            advanced: 1,
            ..TickReport::default()
        },
        "[{name}]"
    );
    let priya = s.receiver.hits("/hooks/priya");
    assert_eq!(
        priya.len(),
        5,
        "[{name}] the four attempts, then the reminder"
    );
    assert_eq!(priya[4].json()["reminder"], true);
    assert_ne!(priya[4].header("idempotency-key"), keys[0]);
    s.server.stop().await;
}

#[tokio::test]
async fn a_429_is_retried_after_the_receivers_retry_after() {
    let (_, store, _dir) = common::backends("esc_429").await.remove(0);
    let s = setup(store.clone()).await;
    let (_, id) = escalate(&s, "r429").await;
    s.receiver.answer_next(429, json!({"retry_after": 42}));
    let w = worker(&s, store.clone());
    let now = Utc::now();
    assert_eq!(w.tick(now).await.unwrap().retried, 1);
    let row = &store.outbox_of_escalation(id).await.unwrap()[0];
    let wait = row.next_attempt_at - now.timestamp_millis();
    assert!(
        (41_000..=43_000).contains(&wait),
        "the receiver's retry_after (42 s) is honoured, not our backoff: {wait} ms"
    );
    s.server.stop().await;
}

/// The product rule: a manager who states no `route_order` is pinged in a chat first (a person
/// reads it now), and the webhook only if the chat fails for good.
#[tokio::test]
async fn without_a_preference_the_first_ping_goes_to_a_chat() {
    let (_, store, _dir) = common::backends("esc_chat_first").await.remove(0);
    let s = setup_routes(store.clone(), None, None).await;
    let (_, id) = escalate(&s, "chat-first").await;
    let w = worker(&s, store.clone());
    let report = w.tick(Utc::now()).await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    let telegram = s.receiver.hits("/bot123:telegram-test-token/sendMessage");
    assert_eq!(telegram.len(), 1, "Priya's first route is Telegram");
    let msg = telegram[0].json();
    assert_eq!(msg["chat_id"], 100200300);
    assert!(
        msg["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Escalation #{id}")),
        "{msg}"
    );
    assert!(
        s.receiver.hits("/hooks/").is_empty(),
        "the webhook waits while the chat works"
    );
    let rows = store.outbox_of_escalation(id).await.unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(summary, [("telegram", "delivered")]);
    s.server.stop().await;
}

#[tokio::test]
async fn a_permanent_failure_falls_over_to_the_next_route() {
    let (_, store, _dir) = common::backends("esc_failover").await.remove(0);
    let s = setup(store.clone()).await;
    let (_, id) = escalate(&s, "failover").await;
    s.receiver
        .answer_next(410, json!({"error": "hook removed"}));
    let w = worker(&s, store.clone());
    let now = Utc::now();
    let first = w.tick(now).await.unwrap();
    assert_eq!(first.failed, 1, "{first:?}");
    // The failover ping is due at once.
    assert_eq!(w.tick(now).await.unwrap().delivered, 1);
    let telegram = s.receiver.hits("/bot123:telegram-test-token/sendMessage");
    assert_eq!(telegram.len(), 1, "Priya's next route is Telegram");
    let msg = telegram[0].json();
    assert_eq!(msg["chat_id"], 100200300);
    assert_eq!(msg["parse_mode"], "HTML");
    assert!(
        msg["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Escalation #{id}")),
        "{msg}"
    );
    assert_eq!(
        msg["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        format!("esc:ack:{id}")
    );
    let rows = store.outbox_of_escalation(id).await.unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.kind.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(summary, [("webhook", "failed"), ("telegram", "delivered")]);
    assert!(rows[0].last_error.as_deref().unwrap().contains("410"));
    // The failure is surfaced.
    let failed = store.outbox_by_status("failed", 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    s.server.stop().await;
}

#[tokio::test]
async fn a_ping_committed_before_a_crash_is_sent_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdoor.db");
    let (id, receiver, receiver_url, content) = {
        let store: Arc<dyn Store> =
            Arc::new(frontdoor::store::SqliteStore::open(&path).await.unwrap());
        let s = setup(store.clone()).await;
        let (_, id) = escalate(&s, "crash").await;
        // A worker claimed the ping and died before delivering it.
        let claimed = store
            .claim_outbox(
                "worker-that-crashed",
                Utc::now().timestamp_millis(),
                Utc::now().timestamp_millis() + 60_000,
                10,
            )
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        let Setup {
            server,
            receiver,
            receiver_url,
            _content,
        } = s;
        server.stop().await;
        (id, receiver, receiver_url, _content)
    };
    assert!(
        receiver.hits("/").is_empty(),
        "nothing was delivered before the crash"
    );
    // The process starts again on the same database.
    let store: Arc<dyn Store> = Arc::new(frontdoor::store::SqliteStore::open(&path).await.unwrap());
    let server = TestServer::start_with(
        store.clone(),
        content.path(),
        WebSettings::default(),
        Some(Secret::new(IDENTITY_SECRET.to_string())),
    )
    .await;
    let s = Setup {
        server,
        receiver,
        receiver_url,
        _content: content,
    };
    let w = worker(&s, store.clone());
    let now = Utc::now();
    assert!(
        w.tick(now).await.unwrap().idle(),
        "the dead worker's claim holds until its lease ends"
    );
    let report = w.tick(now + chrono::Duration::minutes(2)).await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(s.receiver.hits("/hooks/priya").len(), 1);
    let row = &store.outbox_of_escalation(id).await.unwrap()[0];
    assert_eq!((row.status.as_str(), row.attempts), ("delivered", 2));
    s.server.stop().await;
}

#[tokio::test]
async fn unacknowledged_escalations_remind_then_reach_the_backup() {
    for (name, store, _dir) in common::backends("esc_ladder").await {
        let s = setup(store.clone()).await;
        let (_, id) = escalate(&s, "ladder").await;
        let w = worker(&s, store.clone());
        let created = store.escalation(id).await.unwrap().unwrap();
        assert_eq!(w.tick(at(created.created_at)).await.unwrap().delivered, 1);
        let first_due = created.next_ping_at.expect("a re-ping is scheduled");
        // ACME's coverage is Mon-Fri 07:00-19:00 London: 15 minutes of it, not of the clock.
        assert!(first_due >= created.created_at + 15 * 60_000, "[{name}]");
        assert!(
            w.tick(at(first_due - 1)).await.unwrap().idle(),
            "[{name}] not before it is due"
        );

        let r = w.tick(at(first_due)).await.unwrap();
        assert_eq!(
            (r.advanced, r.delivered),
            (1, 1),
            "[{name}] reminder: {r:?}"
        );
        let reminder = s.receiver.hits("/hooks/priya");
        assert_eq!(reminder.len(), 2, "[{name}]");
        assert_eq!(reminder[1].json()["reminder"], true);

        let e = store.escalation(id).await.unwrap().unwrap();
        assert_eq!(e.level, 1);
        let r = w.tick(at(e.next_ping_at.unwrap())).await.unwrap();
        assert_eq!((r.advanced, r.delivered), (1, 1), "[{name}] backup: {r:?}");
        let backup = s.receiver.hits("/hooks/tom");
        assert_eq!(backup.len(), 1, "[{name}] the backup manager is pinged");
        let ping = backup[0].json();
        assert_eq!(ping["manager"]["name"], "Tom Becker");
        assert_eq!(ping["level"], 2);
        assert_eq!(
            backup[0].headers["idempotency-key"].to_str().unwrap(),
            format!("escalation-{id}-ping-2-0")
        );

        // Tom acknowledges: the ladder stops and the time is recorded.
        let (status, body) = act(
            &s,
            id,
            "ack",
            &manager_token("tom.becker@northwind.example"),
            None,
        )
        .await;
        assert_eq!(status, 200, "[{name}] {body}");
        assert_eq!(body["status"], "acknowledged");
        let e = store.escalation(id).await.unwrap().unwrap();
        assert!(
            e.acknowledged_at.is_some() && e.next_ping_at.is_none(),
            "[{name}] {e:?}"
        );
        assert_eq!(e.acknowledged_by.as_deref(), Some("Tom Becker"));
        assert!(
            w.tick(at(created.created_at) + chrono::Duration::days(7))
                .await
                .unwrap()
                .idle(),
            "[{name}] no more pings after the acknowledgement"
        );
        s.server.stop().await;
    }
}

#[tokio::test]
async fn a_managers_reply_reaches_the_open_widget_and_resolving_asks_for_the_survey() {
    for (name, store, _dir) in common::backends("esc_reply").await {
        let s = setup(store.clone()).await;
        let session = "reply-session";
        let (conversation, id) = escalate(&s, session).await;
        let ws_url = format!(
            "{}/api/v1/ws?session={session}",
            s.server.url.replace("http://", "ws://")
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
        // The socket joins the conversation's pushes when it opens; wait until it has.
        until("the socket to join the hub", PATIENCE, || {
            (s.server.state.web.hub.open_sockets() > 0).then_some(())
        })
        .await;
        let priya = manager_token("priya.shah@northwind.example");
        let (status, body) = act(
            &s,
            id,
            "reply",
            &priya,
            Some(json!({"text": "I've asked payroll to re-run your payslip; you'll have it by 3pm."})),
        )
        .await;
        assert_eq!(status, 200, "[{name}] {body}");
        assert_eq!(body["delivered_live"], 1, "[{name}] {body}");
        let frame = next_json(&mut ws).await;
        assert_eq!(frame["push"], true);
        assert_eq!(frame["outcome"], "manager_reply");
        let text = frame["replies"][0]["text"].as_str().unwrap();
        assert!(
            text.contains("Priya Shah") && text.contains("re-run your payslip"),
            "[{name}] {text}"
        );
        let log = store.transcript(&conversation).await.unwrap();
        assert!(
            log.iter()
                .any(|m| m.direction == "out" && m.text.contains("re-run your payslip")),
            "[{name}] the relayed answer is in the conversation's log"
        );
        let e = store.escalation(id).await.unwrap().unwrap();
        assert!(
            e.first_response_at.is_some(),
            "[{name}] first response time recorded"
        );

        let (status, body) = act(&s, id, "resolve", &priya, None).await;
        assert_eq!(status, 200, "[{name}] {body}");
        assert_eq!(body["status"], "resolved");
        let frame = next_json(&mut ws).await;
        assert_eq!(frame["outcome"], "manager_resolved");
        let survey = frame["replies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| !r["buttons"].as_array().unwrap().is_empty())
            .unwrap_or_else(|| panic!("[{name}] a survey question: {frame}"));
        let labels: Vec<_> = survey["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["1", "2", "3", "4", "5"]);
        let e = store.escalation(id).await.unwrap().unwrap();
        assert!(e.resolved_at.is_some(), "[{name}] resolution time recorded");
        // The client answers the survey in the same conversation.
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/chat", s.server.url))
            .json(&json!({"session": session, "payload": "survey:4"}))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["outcome"], "survey", "[{name}] {body}");
        // A resolved escalation takes no more actions.
        let (status, _) = act(&s, id, "resolve", &priya, None).await;
        assert_eq!(status, 409, "[{name}]");
        s.server.stop().await;
    }
}

/// A manager's call whose answer was lost (a replica killed after committing it, a cut
/// connection) is sent again with its `Idempotency-Key`: it gets the first call's answer from
/// the log, not a 409 because the escalation is resolved by now, and nothing is relayed twice.
#[tokio::test]
async fn a_retried_resolve_is_answered_from_the_log() {
    for (name, store, _dir) in common::backends("esc_retried_resolve").await {
        let s = setup(store.clone()).await;
        let (conversation, id) = escalate(&s, "retried-resolve").await;
        let resolve = |key: &'static str| {
            let url = format!("{}/api/v1/escalations/{id}/resolve", s.server.url);
            async move {
                let r = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(manager_token("priya.shah@northwind.example"))
                    .header("Idempotency-Key", key)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (status, first) = resolve("resolve-once").await;
        assert_eq!(
            (status, &first["status"], &first["duplicate"]),
            (200, &json!("resolved"), &json!(false)),
            "[{name}] {first}"
        );
        let (status, again) = resolve("resolve-once").await;
        assert_eq!(
            (status, &again["status"], &again["duplicate"]),
            (200, &json!("resolved"), &json!(true)),
            "[{name}] the retry is answered from the log: {again}"
        );
        assert_eq!(again["replies"], first["replies"], "[{name}]");
        let relays = store
            .outbox_by_key_prefix(&format!("escalation-{id}-relay-{conversation}-"))
            .await
            .unwrap();
        assert_eq!(relays.len(), 1, "[{name}] relayed once: {relays:?}");
        // Another call (another key) is a new action on a resolved escalation.
        let (status, other) = resolve("resolve-twice").await;
        assert_eq!(status, 409, "[{name}] {other}");
        s.server.stop().await;
    }
}

#[tokio::test]
async fn only_the_clients_own_managers_may_act() {
    let (_, store, _dir) = common::backends("esc_authz").await.remove(0);
    let s = setup(store.clone()).await;
    let (_, id) = escalate(&s, "authz").await;
    // Oliver Grant manages GLOBEX, not ACME.
    let oliver = manager_token("oliver.grant@northwind.example");
    for action in ["ack", "resolve"] {
        let (status, body) = act(&s, id, action, &oliver, None).await;
        assert_eq!(status, 403, "{action}: {body}");
    }
    let (status, _) = act(&s, id, "reply", &oliver, Some(json!({"text": "hi"}))).await;
    assert_eq!(status, 403);
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/escalations/{id}", s.server.url))
        .bearer_auth(&oliver)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A chat user's token is not a manager's.
    let user = token("ann.lee@acme.example", Some("ACME"));
    let (status, body) = act(&s, id, "ack", &user, None).await;
    assert_eq!(status, 401, "{body}");
    // Forged and missing tokens.
    let (status, _) = act(&s, id, "ack", "nonsense", None).await;
    assert_eq!(status, 401);
    let (status, body) = act(
        &s,
        999_999,
        "ack",
        &manager_token("priya.shah@northwind.example"),
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = act(
        &s,
        id,
        "reply",
        &manager_token("priya.shah@northwind.example"),
        Some(json!({"text": "   "})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    // Priya may, and sees the pings' delivery state.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/escalations/{id}", s.server.url))
        .bearer_auth(manager_token("priya.shah@northwind.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["escalation"]["client_code"], "ACME");
    assert_eq!(body["pings"][0]["status"], "pending");
    s.server.stop().await;
}

#[tokio::test]
async fn two_workers_never_send_the_same_ping() {
    for (name, store, _dir) in common::backends("esc_two_workers").await {
        let s = setup(store.clone()).await;
        for i in 0..12 {
            escalate(&s, &format!("many-{i}")).await;
        }
        let (a, b) = (worker(&s, store.clone()), worker(&s, store.clone()));
        let now = Utc::now();
        let (ra, rb) = tokio::join!(a.tick(now), b.tick(now));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let again = a.tick(now).await.unwrap();
        assert_eq!(
            ra.delivered + rb.delivered + again.delivered,
            12,
            "[{name}] {ra:?} {rb:?} {again:?}"
        );
        let hits = s.receiver.hits("/hooks/priya");
        let mut keys: Vec<_> = hits
            .iter()
            .map(|h| h.headers["idempotency-key"].to_str().unwrap().to_string())
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(
            (hits.len(), keys.len()),
            (12, 12),
            "[{name}] each ping once"
        );
        s.server.stop().await;
    }
}

/// `frontdoor inbox` as the manager's webhook: the real worker's signed ping arrives once and
/// reads as the manager's message; a retry of it is acknowledged and not shown again; forged,
/// stale, unsigned and malformed requests are refused with a reason.
#[tokio::test]
async fn the_inbox_shows_a_signed_ping_once_and_refuses_forgeries() {
    use frontdoor::escalation::deliver::sign as sign_body;
    use frontdoor::escalation::inbox;

    let (name, store, _dir) = common::backends("esc_inbox").await.remove(0);
    let (tx, mut inbox_rx) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let inbox_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(inbox::run(
        listener,
        Some(Secret::new(WEBHOOK_SECRET.to_string())),
        tx,
        std::future::pending(),
    ));
    let s = setup_with(store.clone(), Some(&inbox_url)).await;
    let (_, id) = escalate(&s, "inbox").await;
    let w = worker(&s, store.clone());
    let report = w.tick(Utc::now()).await.unwrap();
    assert_eq!(report.delivered, 1, "[{name}] {report:?}");
    let ping = inbox_rx.try_recv().expect("the inbox got the ping");
    assert_eq!(ping.hook, "priya");
    assert_eq!(ping.event, "escalation.ping");
    assert!(ping.signed);
    let key = format!("escalation-{id}-ping-0-0");
    assert_eq!(ping.idempotency_key.as_deref(), Some(key.as_str()));
    let shown = ping.render();
    for expected in [
        format!("Escalation #{id} from Acme Manufacturing (ACME)"),
        "Ann Lee via web".to_string(),
        "I want to talk to a real person please".to_string(),
        format!("acknowledge: POST /api/v1/escalations/{id}/ack"),
        "signature ok".to_string(),
    ] {
        assert!(shown.contains(&expected), "{expected:?} not in:\n{shown}");
    }
    assert!(
        !shown.contains(&format!("/ack {id}")),
        "no chat commands in a webhook inbox:\n{shown}"
    );
    let row = &store.outbox_of_escalation(id).await.unwrap()[0];
    assert_eq!((row.status.as_str(), row.attempts), ("delivered", 1));

    let http = reqwest::Client::new();
    let body = serde_json::to_vec(&ping.body).unwrap();
    let post = |body: Vec<u8>, signature: Option<String>, key: Option<&str>| {
        let mut req = http
            .post(format!("{inbox_url}/hooks/priya"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(sig) = signature {
            req = req.header("x-frontdoor-signature", sig);
        }
        if let Some(k) = key {
            req = req.header("idempotency-key", k.to_string());
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let now = Utc::now().timestamp();
    let signed = |b: &[u8], t: i64| Some(sign_body(WEBHOOK_SECRET.as_bytes(), t, b));

    // The sender retrying (it never heard the 200): acknowledged, not shown twice.
    let (status, answer) = post(body.clone(), signed(&body, now), Some(&key)).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(true)),
        "{answer}"
    );

    // Refusals, each with its reason; none of them reaches the manager.
    let mut tampered = ping.body.clone();
    tampered["client"]["name"] = json!("Evil Corp");
    let tampered = serde_json::to_vec(&tampered).unwrap();
    let not_json = b"event=escalation.ping".to_vec();
    // (case, body, signature header, expected status, a word of the reason)
    type Case<'a> = (&'a str, Vec<u8>, Option<String>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "tampered body",
            tampered,
            signed(&body, now),
            401,
            "does not match",
        ),
        (
            "no signature",
            body.clone(),
            None,
            401,
            "missing X-Frontdoor-Signature",
        ),
        (
            "other secret",
            body.clone(),
            Some(sign_body(b"guess", now, &body)),
            401,
            "does not match",
        ),
        (
            "replayed an hour later",
            body.clone(),
            signed(&body, now - 3600),
            401,
            "replay",
        ),
        (
            "malformed signature",
            body.clone(),
            Some("sha256=abc".into()),
            401,
            "malformed",
        ),
        (
            "not JSON",
            not_json.clone(),
            signed(&not_json, now),
            400,
            "not a JSON object",
        ),
        (
            "no event",
            b"{}".to_vec(),
            signed(b"{}", now),
            400,
            "no \"event\"",
        ),
    ];
    for (case, body, signature, want, reason) in cases {
        let (status, answer) = post(body, signature, Some("another-key")).await;
        assert_eq!(status, want, "{case}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{case}: {error:?} lacks {reason:?}");
    }
    // The forgeries did not burn "another-key": a genuine ping with it is taken.
    let genuine = serde_json::to_vec(&json!({"event": "test.ping", "text": "hello"})).unwrap();
    let (status, answer) = post(genuine.clone(), signed(&genuine, now), Some("another-key")).await;
    assert_eq!(
        (status, &answer["duplicate"]),
        (200, &json!(false)),
        "{answer}"
    );
    let next = inbox_rx.try_recv().expect("the genuine ping");
    assert_eq!(next.event, "test.ping");
    assert!(next.render().contains("hello"));
    assert!(
        inbox_rx.try_recv().is_err(),
        "nothing else reached the manager"
    );
    s.server.stop().await;
}

/// The `frontdoor inbox` command: listens where `--addr` says (port 0 picks one and the log
/// names it) and prints each new ping; without the secret it still takes pings, unchecked.
#[tokio::test]
async fn the_inbox_command_prints_each_new_ping() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = common::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_frontdoor"))
            .args(["inbox", "--addr", "127.0.0.1:0"])
            .env_remove("FRONTDOOR_WEBHOOK_SECRET")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start frontdoor inbox"),
    );
    let url = common::wait::url_from_log(child.stderr.take().unwrap(), "inbox listening: ", |_| {});
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (line_tx, line_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let alert =
        json!({"event": "spa.renewal_notice", "text": "The SPA of ACME ends on 2027-12-31"});
    let marker = json!({"event": "test.ping", "text": "the last one"});
    // The alert twice with one key (a retry), then a marker: the inbox prints in arrival
    // order, so once the marker is out, a second copy of the alert would be too.
    for (body, key) in [
        (&alert, "renewal-ACME"),
        (&alert, "renewal-ACME"),
        (&marker, "m"),
    ] {
        let r = reqwest::Client::new()
            .post(format!("{url}/hooks/acme"))
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let mut printed = Vec::new();
    while let Ok(line) = line_rx.recv_timeout(Duration::from_secs(30)) {
        let last = line.contains("the last one");
        printed.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let printed = printed.join("\n");
    assert!(
        printed.contains(
            "── /hooks/acme · spa.renewal_notice · not signed or not checked · key renewal-ACME"
        ),
        "{printed}"
    );
    assert_eq!(
        printed
            .matches("The SPA of ACME ends on 2027-12-31")
            .count(),
        1,
        "shown once, though sent twice: {printed}"
    );
}
