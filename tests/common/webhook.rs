//! The fake receiving end of outbound pings: an account manager's webhook (and, on the same
//! listener, the Telegram Bot API's `sendMessage`), on 127.0.0.1:0. It records every request,
//! answers from a script when given one, and can refuse everything until told to accept.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// One request the receiver took.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Clone, Default)]
pub struct Webhook {
    /// Every request answered, scripted failures included, in arrival order (not those refused
    /// while `refusing`: a receiver that is down sees nothing).
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Scripted answers, in order; 200 `{"ok":true,...}` once the script runs out.
    script: Arc<Mutex<VecDeque<(u16, Value)>>>,
    /// While set, every request is answered 503 (a receiver that is down).
    refusing: Arc<AtomicBool>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Webhook {
    /// A receiver on 127.0.0.1:0 that takes everything; its base URL.
    pub async fn start() -> (Webhook, String) {
        let w = Webhook::default();
        let url =
            super::serve_fake(axum::Router::new().fallback(receive).with_state(w.clone())).await;
        (w, url)
    }

    /// A receiver that answers 503 to everything until [`Webhook::accept`].
    pub async fn start_refusing() -> (Webhook, String) {
        let (w, url) = Self::start().await;
        w.refusing.store(true, Ordering::SeqCst);
        (w, url)
    }

    pub fn accept(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }

    /// Answer the next request with `status` and `body` (queued after earlier ones).
    pub fn answer_next(&self, status: u16, body: Value) {
        self.script.lock().unwrap().push_back((status, body));
    }

    /// The requests taken whose path starts with `path_prefix`.
    pub fn hits(&self, path_prefix: &str) -> Vec<Hit> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    pub fn count(&self) -> usize {
        self.hits.lock().unwrap().len()
    }

    pub fn clear(&self) {
        self.hits.lock().unwrap().clear();
    }

    /// How many times each `Idempotency-Key` arrived.
    pub fn keys(&self) -> BTreeMap<String, usize> {
        let mut keys = BTreeMap::new();
        for h in self.hits.lock().unwrap().iter() {
            *keys
                .entry(h.header("idempotency-key").to_string())
                .or_default() += 1;
        }
        keys
    }

    /// Wait until at least `n` requests have been taken (at most `within`); all of them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before looking, so a request arriving in between still wakes us.
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let hits = self.hits("/");
            if hits.len() >= n {
                return hits;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "timed out after {within:?} waiting for {n} requests at the webhook; {} arrived",
                hits.len()
            );
            let _ = tokio::time::timeout(left, arrived).await;
        }
    }
}

async fn receive(
    State(w): State<Webhook>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    if w.refusing.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "receiver is down"})),
        );
    }
    let (status, answer) = w
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or((200, json!({"ok": true, "result": {"message_id": 1}})));
    w.hits.lock().unwrap().push(Hit {
        path: uri.path().to_string(),
        headers,
        body,
    });
    w.arrived.notify_waiters();
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer))
}
