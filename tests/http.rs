//! The web chat API over real HTTP: a real server on 127.0.0.1:0, on SQLite and PostgreSQL.

mod common;

use common::TestServer;
use serde_json::{Value, json};

async fn post(client: &reqwest::Client, url: &str, body: Value) -> (u16, Value) {
    let r = client
        .post(format!("{url}/api/v1/chat"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn user() -> Value {
    json!({"id": "ann.lee@acme.example", "name": "Ann Lee", "client": "ACME"})
}

#[tokio::test]
async fn chat_is_logged_and_read_back_on_every_backend() {
    for (name, store, _dir) in common::backends("http_chat").await {
        let server = TestServer::start(store.clone()).await;
        let http = reqwest::Client::new();
        let (status, body) = post(
            &http,
            &server.url,
            json!({"session": "s-1", "text": "how do I reset my password", "user": user()}),
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["intent"], "it-password-reset", "{name}: {body}");
        assert_eq!(body["outcome"], "answered");
        let conv = body["conversation"].as_str().unwrap().to_string();
        assert!(
            body["replies"][0]["text"]
                .as_str()
                .unwrap()
                .contains("password")
        );
        assert!(
            body["replies"][0]["html"]
                .as_str()
                .unwrap()
                .contains("<strong>")
        );
        assert_eq!(body["replies"][1]["buttons"][0]["payload"], "yes");

        // A button press, without the user (the session remembers who it was).
        let (status, body) = post(
            &http,
            &server.url,
            json!({"session": "s-1", "payload": "yes"}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["outcome"], "survey", "{name}: {body}");
        assert_eq!(body["conversation"], conv.as_str());

        // The transcript over HTTP and straight from the store.
        let t: Value = http
            .get(format!("{}/api/v1/conversations/{conv}", server.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let msgs = t["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 6, "{name}: 2 in + 4 out: {t}");
        assert_eq!(msgs[0]["direction"], "in");
        assert_eq!(msgs[0]["intent"], "it-password-reset");
        assert!(msgs[0]["latency_us"].as_i64().unwrap() > 0);
        assert_eq!(t["client"], "ACME");
        let rows = server.store.transcript(&conv).await.unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(
            rows[3].payload.as_deref(),
            Some("yes"),
            "{name}: button payload logged"
        );
        assert_eq!(rows[0].client_code.as_deref(), Some("ACME"));
        assert_eq!(
            server
                .store
                .ledger("ACME", 0, i64::MAX)
                .await
                .unwrap()
                .len(),
            1,
            "{name}: one self-service answer billed"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn redelivered_message_is_processed_once() {
    for (name, store, _dir) in common::backends("http_idempotent").await {
        let server = TestServer::start(store.clone()).await;
        let http = reqwest::Client::new();
        let req = json!({"session": "s-2", "text": "when is payday", "user": user(), "message_id": "web-42"});
        let (s1, first) = post(&http, &server.url, req.clone()).await;
        let (s2, second) = post(&http, &server.url, req).await;
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(first["duplicate"], false);
        assert_eq!(second["duplicate"], true, "{name}");
        assert_eq!(first["replies"][0]["text"], second["replies"][0]["text"]);
        let conv = first["conversation"].as_str().unwrap();
        assert_eq!(
            server
                .store
                .transcript(conv)
                .await
                .unwrap()
                .iter()
                .filter(|m| m.direction == "in")
                .count(),
            1,
            "{name}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn concurrent_messages_in_one_session_are_all_kept() {
    for (name, store, _dir) in common::backends("http_concurrent").await {
        let server = TestServer::start(store.clone()).await;
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        // Ten at once: the per-session burst allows ten, so every one must be accepted and kept.
        for i in 0..10 {
            let http = http.clone();
            let url = server.url.clone();
            tasks.push(tokio::spawn(async move {
                post(&http, &url, json!({"session": "s-c", "text": format!("question {i} about expenses"), "user": user()})).await
            }));
        }
        let mut conv = None;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 200, "{name}: {body}");
            conv = body["conversation"].as_str().map(str::to_string);
        }
        let rows = server.store.transcript(&conv.unwrap()).await.unwrap();
        assert_eq!(
            rows.iter().filter(|m| m.direction == "in").count(),
            10, // within the per-session burst of 10
            "{name}: every accepted message stored"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let (_, store, _dir) = common::backends("http_errors").await.remove(0);
    let server = TestServer::start(store).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/chat", server.url);
    // A Telegram conversation is not the web chat's to show, even to whoever has its id.
    server
        .store
        .open_conversation(
            "telegram",
            "chat-42",
            None,
            "tg-conv-1",
            &frontdoor::dialogue::State::default().to_json(),
            0,
        )
        .await
        .unwrap();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            http.get(format!("{}/api/v1/conversations/tg-conv-1", server.url)),
            404,
            "no conversation",
        ),
        (
            http.post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "invalid JSON",
        ),
        (http.post(&url).body("{}"), 415, "Content-Type"),
        (http.post(&url).json(&json!({"text": "hi"})), 422, "session"),
        (
            http.post(&url).json(&json!({"session": "s"})),
            422,
            "text or payload",
        ),
        (
            http.post(&url).json(&json!({"session": "s", "text": "  "})),
            422,
            "empty",
        ),
        (
            http.post(&url)
                .json(&json!({"session": "s", "text": "a", "payload": "b"})),
            422,
            "not both",
        ),
        (
            http.post(&url)
                .json(&json!({"session": "bad session!", "text": "hi"})),
            422,
            "session",
        ),
        (
            http.post(&url).json(
                &json!({"session": "s", "text": "hi", "user": {"id": "u", "client": "NOPE"}}),
            ),
            422,
            "unknown client",
        ),
        (
            http.post(&url)
                .json(&json!({"session": "s", "text": "x".repeat(4001)})),
            413,
            "4000",
        ),
        (
            http.post(&url)
                .json(&json!({"session": "s", "text": "x".repeat(17_000)})),
            413,
            "larger than",
        ),
        (
            http.post(&url)
                .json(&json!({"session": "s", "text": "hi", "extra": 1})),
            422,
            "unknown field",
        ),
        (
            http.get(format!("{}/api/v1/conversations/nope", server.url)),
            404,
            "no conversation",
        ),
        (
            http.get(format!("{}/nowhere", server.url)),
            404,
            "no such route",
        ),
    ];
    for (req, status, needle) in cases {
        let r = req.send().await.unwrap();
        let got = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(
            got, status,
            "expected {status} with {needle:?}, got {got}: {body}"
        );
        let msg = body["error"].as_str().unwrap_or_default();
        assert!(
            msg.contains(needle),
            "error {msg:?} should mention {needle:?}"
        );
    }
    assert_eq!(
        server.store.message_count().await.unwrap(),
        0,
        "nothing stored from bad requests"
    );
    let ready: Value = http
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true);
    server.stop().await;
}

#[tokio::test]
async fn restart_on_the_same_sqlite_file_keeps_every_accepted_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdoor.db");
    let http = reqwest::Client::new();
    let mut accepted = Vec::new();
    {
        let store = std::sync::Arc::new(frontdoor::store::SqliteStore::open(&path).await.unwrap());
        let server = TestServer::start(store).await;
        for (i, text) in [
            "hello",
            "how do I book annual leave",
            "i need a new vendor set up",
            "Acme Widgets Ltd",
        ]
        .iter()
        .enumerate()
        {
            let (status, body) = post(&http, &server.url, json!({"session": "s-r", "text": text, "user": user(), "message_id": format!("m{i}")})).await;
            assert_eq!(status, 200, "{body}");
            accepted.push(body["conversation"].as_str().unwrap().to_string());
        }
        server.stop().await;
    }
    let store = std::sync::Arc::new(frontdoor::store::SqliteStore::open(&path).await.unwrap());
    let server = TestServer::start(store).await;
    let rows = server.store.transcript(&accepted[0]).await.unwrap();
    let inbound: Vec<&str> = rows
        .iter()
        .filter(|m| m.direction == "in")
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        inbound,
        [
            "hello",
            "how do I book annual leave",
            "i need a new vendor set up",
            "Acme Widgets Ltd"
        ]
    );
    // The slot-filling conversation continues where it stopped: the VAT number is asked next.
    let (status, body) = post(
        &http,
        &server.url,
        json!({"session": "s-r", "text": "GB123456789"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "prompt", "{body}");
    assert!(
        body["replies"][0]["text"]
            .as_str()
            .unwrap()
            .contains("bank details"),
        "{body}"
    );
    server.stop().await;
}

/// The whole SPA flow over `POST /api/v1/chat`: a vendor set-up with one value given up front, an
/// invalid answer re-prompted, a confirmation, then the request, its inputs, the client-side input
/// KPI row and the recharge ledger row are all in the store.
#[tokio::test]
async fn vendor_setup_over_http_opens_a_request_with_inputs_kpis_and_ledger() {
    for (name, store, _dir) in common::backends("http_vendor_setup").await {
        let server = TestServer::start(store.clone()).await;
        let http = reqwest::Client::new();
        let transcript: [(&str, Value, &str, &str); 7] = [
            (
                "I need a new vendor set up: Brightwell Office Supplies Ltd",
                user(),
                "prompt",
                "VAT",
            ),
            ("GB12345", Value::Null, "prompt", "expected format"),
            ("GB123456789", Value::Null, "prompt", "bank details"),
            ("Vendor will email", Value::Null, "prompt", "email"),
            (
                "accounts@brightwell.example",
                Value::Null,
                "prompt",
                "category",
            ),
            ("services", Value::Null, "prompt", "Please check"),
            ("submit", Value::Null, "request_opened", "REQ-"),
        ];
        let mut last = Value::Null;
        for (i, (text, who, outcome, needle)) in transcript.iter().enumerate() {
            let mut body =
                json!({"session": "s-vendor", "text": text, "message_id": format!("v{i}")});
            if !who.is_null() {
                body["user"] = who.clone();
            }
            let (status, reply) = post(&http, &server.url, body).await;
            assert_eq!(status, 200, "[{name}] turn {i}: {reply}");
            assert_eq!(
                reply["outcome"], *outcome,
                "[{name}] turn {i} `{text}`: {reply}"
            );
            let all: String = reply["replies"]
                .as_array()
                .expect("replies")
                .iter()
                .filter_map(|r| r["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                all.to_lowercase().contains(&needle.to_lowercase()),
                "[{name}] turn {i} `{text}`: expected `{needle}` in\n{all}"
            );
            last = reply;
        }
        let conversation = last["conversation"].as_str().expect("conversation id");
        let text = last["replies"][0]["text"].as_str().unwrap_or_default();
        let reference = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .find(|w| w.starts_with("REQ-"))
            .unwrap_or_else(|| panic!("[{name}] no reference in {text}"))
            .to_string();
        assert!(
            text.contains("Accounts Payable will complete this within 2 business days"),
            "[{name}] the SSO's commitment is stated: {text}"
        );

        let request = store
            .request_by_reference(&reference)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("[{name}] request {reference} stored"));
        assert_eq!(request.service_id, "vendor-setup", "[{name}]");
        assert_eq!(request.client_code.as_deref(), Some("ACME"), "[{name}]");
        assert_eq!(request.status, "open", "[{name}]");
        assert_eq!(request.conversation_id, conversation, "[{name}]");
        assert!(
            request.due_at > request.opened_at,
            "[{name}] due after opened"
        );
        let inputs: Value = serde_json::from_str(&request.inputs).expect("inputs are JSON");
        assert_eq!(
            inputs["vendor_name"], "Brightwell Office Supplies Ltd",
            "[{name}] {inputs}"
        );
        assert_eq!(inputs["vat_number"], "GB123456789", "[{name}] {inputs}");
        assert_eq!(
            inputs["contact_email"], "accounts@brightwell.example",
            "[{name}] {inputs}"
        );
        assert_eq!(inputs["category"], "Services", "[{name}] {inputs}");

        let kpis = store.input_collections(conversation).await.unwrap();
        assert_eq!(kpis.len(), 1, "[{name}] {kpis:?}");
        let kpi = &kpis[0];
        assert_eq!(kpi.service_id, "vendor-setup");
        assert_eq!(kpi.client_code.as_deref(), Some("ACME"));
        assert_eq!(kpi.outcome, "submitted", "[{name}] {kpi:?}");
        assert!(
            !kpi.complete_first_attempt,
            "[{name}] the VAT number was re-prompted"
        );
        assert_eq!(kpi.reprompts, 1, "[{name}] {kpi:?}");
        assert_eq!(kpi.request_reference.as_deref(), Some(reference.as_str()));
        assert!(
            kpi.ended_at >= kpi.started_at,
            "[{name}] time to supply is recorded"
        );

        let ledger = store.ledger("ACME", 0, i64::MAX).await.unwrap();
        let rows: Vec<_> = ledger
            .iter()
            .filter(|r| r.reference.as_deref() == Some(reference.as_str()))
            .collect();
        assert_eq!(
            rows.len(),
            1,
            "[{name}] one ledger row for the request: {ledger:?}"
        );
        assert_eq!(rows[0].interaction_type, "guided_request", "[{name}]");
        assert_eq!(rows[0].quantity, 1);
        assert_eq!(rows[0].conversation_id.as_deref(), Some(conversation));
        server.stop().await;
    }
}

#[tokio::test]
async fn metrics_report_messages_latencies_and_the_outbox() {
    for (name, store, _dir) in common::backends("http_metrics").await {
        let server = TestServer::start(store.clone()).await;
        let http = reqwest::Client::new();
        for (i, text) in [
            "how do I reset my password",
            "I want to talk to a real person please",
        ]
        .iter()
        .enumerate()
        {
            let (status, _) = post(
                &http,
                &server.url,
                json!({"session": "m1", "text": text, "user": user(), "message_id": format!("mm{i}")}),
            )
            .await;
            assert_eq!(status, 200);
        }
        // Not without a token, not even from loopback.
        let r = http
            .get(format!("{}/metrics", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "[{name}] metrics without a token");
        let r = http
            .get(format!("{}/metrics", server.url))
            .bearer_auth(common::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "[{name}] metrics with the admin token");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        let text = r.text().await.unwrap();
        for line in [
            "frontdoor_messages_total{direction=\"in\",outcome=\"answered\"} 1",
            "frontdoor_messages_total{direction=\"in\",outcome=\"escalated\"} 1",
            "frontdoor_response_seconds_bucket{le=\"+Inf\"} 2",
            "frontdoor_response_seconds_count 2",
            "frontdoor_outbox{status=\"pending\"} 1",
            "frontdoor_escalations{status=\"open\"} 1",
        ] {
            assert!(text.contains(line), "[{name}] missing `{line}` in\n{text}");
        }
        server.stop().await;
    }
}
