//! Web chat transport and guards: WebSocket with pushes, identity tokens, origins, rate limits,
//! the embedded widget, and HTML injection kept inert.

mod common;

use common::TestServer;
use common::identity::claims;
use common::wait::{Ws, next_json};
use frontdoor::channels::identity::{Claims, sign};
use frontdoor::config::{Secret, WebSettings};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn server_with(web: WebSettings, secret: Option<&str>) -> TestServer {
    let (_, store, dir) = common::backends("web").await.remove(0);
    std::mem::forget(dir); // keep the SQLite folder for the server's lifetime
    TestServer::start_with(store, &common::repo_root(), web, secret.map(Secret::new)).await
}

/// Send a frame; the answer frame (within 10 s).
async fn ws_send(ws: &mut Ws, v: Value) -> Value {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
    next_json(ws).await
}

#[tokio::test]
async fn websocket_speaks_the_chat_json_and_receives_pushes() {
    let server = server_with(WebSettings::default(), None).await;
    let url = server.url.replace("http://", "ws://") + "/api/v1/ws?session=ws-1";
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let r = ws_send(&mut ws, json!({"session": "ws-1", "text": "how do I reset my password", "user": {"id": "u-ws", "client": "ACME"}})).await;
    assert_eq!(r["intent"], "it-password-reset", "{r}");
    assert_eq!(r["outcome"], "answered");
    let conv = r["conversation"].as_str().unwrap().to_string();
    let r = ws_send(&mut ws, json!({"session": "ws-1", "payload": "yes"})).await;
    assert_eq!(r["outcome"], "survey", "{r}");
    // Errors come back as frames, and the socket stays usable.
    let r = ws_send(&mut ws, json!({"session": "ws-1"})).await;
    assert_eq!(r["status"], 422, "{r}");
    let r = ws_send(&mut ws, json!({"session": "other", "text": "hi"})).await;
    assert_eq!(r["status"], 422, "{r}");
    // A later message (e.g. a manager's answer) reaches the open socket without polling.
    let pushed = json!({"conversation": conv, "replies": [{"text": "Hi Ann, Priya here.", "html": "<p>Hi Ann, Priya here.</p>", "buttons": []}], "outcome": "relay", "push": true});
    // The hub is reached through the server state; a second socket on the same session also gets it.
    let (mut ws2, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // Any answer on the second socket proves the server has registered it.
    let r = ws_send(&mut ws2, json!({"session": "ws-1"})).await;
    assert_eq!(r["status"], 422, "{r}");
    assert_eq!(
        server.push(&conv, &pushed.to_string()),
        2,
        "both sockets registered"
    );
    for sock in [&mut ws, &mut ws2] {
        let v = next_json(sock).await;
        assert_eq!(v["outcome"], "relay", "{v}");
        assert_eq!(v["replies"][0]["text"], "Hi Ann, Priya here.", "{v}");
    }
    server.stop().await;
}

#[tokio::test]
async fn identity_tokens_decide_who_is_talking() {
    let secret = "test-identity-secret";
    let server = server_with(WebSettings::default(), Some(secret)).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/chat", server.url);
    let good =
        common::identity::user_token(secret, "ann@acme.example", Some("Ann Lee"), Some("ACME"));
    let r = http
        .post(&url)
        .json(&json!({"session": "t1", "text": "hello", "token": good}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["replies"][0]["text"].as_str().unwrap().contains("Ann"),
        "{body}"
    );
    let conv = server
        .store
        .conversation(body["conversation"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.client_code.as_deref(), Some("ACME"));

    let forged =
        common::identity::user_token("wrong-secret", "ann@acme.example", None, Some("GLOBEX"));
    let expired = sign(
        &Claims {
            exp: 1,
            ..claims("ann@acme.example", None, Some("ACME"), None)
        },
        secret.as_bytes(),
    );
    for (token, needle) in [
        (forged.as_str(), "signature"),
        (expired.as_str(), "expired"),
        ("nonsense", "malformed"),
    ] {
        let r = http
            .post(&url)
            .json(&json!({"session": "t2", "text": "hello", "token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(needle), "{body}");
    }
    // With a secret configured, an unsigned claim to a client is refused.
    let r = http
        .post(&url)
        .json(&json!({"session": "t3", "text": "hello", "user": {"id": "x", "client": "ACME"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn origins_outside_the_allow_list_are_refused() {
    let web = WebSettings {
        allowed_origins: vec!["https://intranet.northwind.example".into()],
        ..WebSettings::default()
    };
    let server = server_with(web, None).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/chat", server.url);
    let ok = http
        .post(&url)
        .header("Origin", "https://intranet.northwind.example")
        .json(&json!({"session": "o1", "text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://intranet.northwind.example"
    );
    let bad = http
        .post(&url)
        .header("Origin", "https://evil.example")
        .json(&json!({"session": "o2", "text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let ws_url = server.url.replace("http://", "ws://") + "/api/v1/ws?session=o3";
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        ws_url.as_str(),
    )
    .unwrap();
    req.headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_err(),
        "socket from a foreign origin refused"
    );
    server.stop().await;
}

#[tokio::test]
async fn floods_get_429_and_nothing_is_stored() {
    let web = WebSettings {
        per_session_burst: 3,
        per_session_per_minute: 6,
        ..WebSettings::default()
    };
    let server = server_with(web, None).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/chat", server.url);
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = http
            .post(&url)
            .json(&json!({"session": "flood", "text": format!("hello {i}")}))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let body: Value = r.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains("wait"), "{body}");
            statuses.push(429);
        } else {
            statuses.push(r.status().as_u16());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
    let conv = server
        .store
        .conversation_by_session("web", "flood")
        .await
        .unwrap()
        .unwrap();
    let inbound = server
        .store
        .transcript(&conv.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "in")
        .count();
    assert_eq!(inbound, 3, "refused messages are not stored");
    // Another session is not affected.
    let r = http
        .post(&url)
        .json(&json!({"session": "calm", "text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn widget_is_served_and_injected_html_stays_inert() {
    let server = server_with(WebSettings::default(), None).await;
    let http = reqwest::Client::new();
    for (path, ctype) in [
        ("/", "text/html"),
        ("/widget.js", "text/javascript"),
        ("/widget.css", "text/css"),
    ] {
        let r = http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype),
            "{path}"
        );
    }
    // Sent as typed: a client library would normalise `..` away and ask for `/etc/passwd`.
    // (`tests/hostile.rs` tries many more spellings of traversal.)
    let addr = server.url.trim_start_matches("http://").to_string();
    let (status, answer) =
        tokio::task::spawn_blocking(move || common::raw_get(&addr, "/../../etc/passwd"))
            .await
            .unwrap();
    assert!((400..500).contains(&status), "{status}: {answer}");
    assert!(!answer.contains("root:x:0"), "{answer}");
    let payload = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let r: Value = http
        .post(format!("{}/api/v1/chat", server.url))
        .json(&json!({"session": "x1", "text": payload}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for reply in r["replies"].as_array().unwrap() {
        let html = reply["html"].as_str().unwrap();
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
    }
    // Stored as sent (the log keeps what the user typed) and shown inert in the transcript.
    let conv = r["conversation"].as_str().unwrap();
    let t: Value = http
        .get(format!("{}/api/v1/conversations/{conv}", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["messages"][0]["text"], payload);
    server.stop().await;
}
