//! A fake case system: the receiving end of the request webhooks, on 127.0.0.1. It checks each
//! delivery's signature the way the README tells a receiver to (HMAC-SHA256 over
//! `"<t>.<body>"`, written here from the recipe rather than with Frontdoor's own code), answers
//! 401 to a bad one, and records what it accepted. It can be down (nothing listening: start it
//! later on a port taken with [`reserve_port`]), unavailable (503 with a `Retry-After`), or
//! refuse for good (any status).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One delivery the case system accepted.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
    pub fn event(&self) -> &str {
        self.header("x-frontdoor-event")
    }
    pub fn key(&self) -> &str {
        self.header("idempotency-key")
    }
}

/// A status to answer with, and the `Retry-After` seconds to send with it.
type Refusal = (u16, Option<u64>);

#[derive(Clone)]
pub struct CaseSystem {
    secret: String,
    accepted: Arc<Mutex<Vec<Delivery>>>,
    /// `Some((status, retry_after))`: answer that to everything (nothing is accepted).
    refusing: Arc<Mutex<Option<Refusal>>>,
    /// Every request that reached it, refused ones included.
    pub attempts: Arc<AtomicUsize>,
    /// Requests refused for a missing or wrong signature.
    pub bad_signatures: Arc<AtomicUsize>,
}

/// A free port on 127.0.0.1 with nothing listening on it (yet): connecting is refused.
pub fn reserve_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("address").port()
}

impl CaseSystem {
    pub fn new(secret: &str) -> CaseSystem {
        CaseSystem {
            secret: secret.to_string(),
            accepted: Arc::default(),
            refusing: Arc::default(),
            attempts: Arc::default(),
            bad_signatures: Arc::default(),
        }
    }

    /// Serve on 127.0.0.1:`port` (0: any); the base URL.
    pub async fn serve(&self, port: u16) -> String {
        let addr = format!("127.0.0.1:{port}");
        // The port was free a moment ago; a few tries ride out a slow release.
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(&addr).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen on {addr}: {e}"),
            }
        };
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    /// Answer `status` (with `Retry-After: retry_after` seconds) to everything from now on.
    pub fn refuse(&self, status: u16, retry_after: Option<u64>) {
        *self.refusing.lock().unwrap() = Some((status, retry_after));
    }

    pub fn accept(&self) {
        *self.refusing.lock().unwrap() = None;
    }

    pub fn accepted(&self) -> Vec<Delivery> {
        self.accepted.lock().unwrap().clone()
    }

    /// The accepted deliveries whose path starts with `prefix`.
    pub fn accepted_at(&self, prefix: &str) -> Vec<Delivery> {
        self.accepted()
            .into_iter()
            .filter(|d| d.path.starts_with(prefix))
            .collect()
    }

    /// Whether `header` is a valid signature of `body`, by the README's recipe.
    pub fn signed(&self, header: &str, body: &[u8]) -> bool {
        let mut t = None;
        let mut v1 = None;
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => v1 = Some(v.to_string()),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else {
            return false;
        };
        // A receiver refuses old signatures (replays); the test's clock is the sender's.
        if (chrono::Utc::now().timestamp() - t).abs() > 300 {
            return false;
        }
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        hex == v1
    }
}

async fn receive(
    State(c): State<CaseSystem>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    c.attempts.fetch_add(1, Ordering::SeqCst);
    let signature = headers
        .get("x-frontdoor-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !c.signed(signature, &body) {
        c.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let refusing = *c.refusing.lock().unwrap();
    if let Some((status, retry_after)) = refusing {
        let mut r = (
            StatusCode::from_u16(status).unwrap(),
            format!("{{\"error\": \"refused with {status}\"}}"),
        )
            .into_response();
        if let Some(s) = retry_after {
            r.headers_mut()
                .insert("retry-after", s.to_string().parse().unwrap());
        }
        return r;
    }
    c.accepted.lock().unwrap().push(Delivery {
        path: uri.path().to_string(),
        headers,
        body,
    });
    (StatusCode::CREATED, "{\"issueKey\": \"SD-1\"}").into_response()
}
