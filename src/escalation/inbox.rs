//! `frontdoor inbox`: a receiver for account managers' webhook pings.
//!
//! It serves two people. Someone trying Frontdoor on one machine sees an escalation arrive (the
//! sample clients' managers point their webhooks at [`DEFAULT_ADDR`]) instead of a ping that
//! retries against nothing. An integrator writing their own receiver gets a reference for what
//! one must do:
//! - check `X-Frontdoor-Signature` when it has the secret, and refuse a signature older than
//!   [`MAX_SKEW_SECS`] (the timestamp is signed so that a captured request cannot be replayed
//!   later);
//! - answer a retried ping (same `Idempotency-Key`) with 200 without acting on it twice: the
//!   sender retries until it hears a 2xx, so a receiver that crashed after acting but before
//!   answering sees the ping again;
//! - answer 2xx quickly and do the work afterwards (here: hand the ping to a channel).

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::deliver::{parse_signature, signature_matches};
use crate::config::Secret;
use crate::policy::ping::text_lines;

/// Where the sample content's managers' webhooks point (`http://127.0.0.1:9009/hooks/<client>`).
pub const DEFAULT_ADDR: &str = "127.0.0.1:9009";
/// Oldest signature accepted, and how far in the future one may be (clock skew).
pub const MAX_SKEW_SECS: i64 = 300;
/// Idempotency keys remembered (oldest forgotten first): retries come within hours, and a
/// bounded set keeps a long-running inbox from growing without end.
const REMEMBERED_KEYS: usize = 10_000;
/// A ping carries the last turns of the conversation, each capped; 1 MiB is far above any.
const MAX_BODY: usize = 1 << 20;

/// One new ping, as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// `{hook}` of `/hooks/{hook}`: whose webhook it is.
    pub hook: String,
    /// `event` of the body, e.g. `escalation.ping` or `spa.renewal_notice`.
    pub event: String,
    pub idempotency_key: Option<String>,
    /// A valid signature came with it (always, when the inbox has the secret).
    pub signed: bool,
    pub body: Value,
}

impl Received {
    /// The ping as its manager reads it in Telegram or Discord, with the HTTP actions an
    /// escalation offers, under a header line saying where it came in.
    pub fn render(&self) -> String {
        let mut out = format!(
            "── /hooks/{} · {} · {} · key {}\n",
            self.hook,
            self.event,
            if self.signed {
                "signature ok"
            } else {
                "not signed or not checked"
            },
            self.idempotency_key.as_deref().unwrap_or("-"),
        );
        for line in text_lines(&self.body) {
            // the chat commands' hint; the HTTP actions follow instead
            if line.starts_with("Reply to this message") {
                continue;
            }
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(actions) = self.body["actions"].as_object() {
            for name in ["acknowledge", "reply", "resolve"] {
                if let Some(a) = actions.get(name).and_then(Value::as_str) {
                    out.push_str(&format!("  {name}: {a}\n"));
                }
            }
        }
        out
    }
}

#[derive(Default)]
struct Seen {
    keys: HashSet<String>,
    order: VecDeque<String>,
}

impl Seen {
    /// Remember `key`; false when it was already there.
    fn insert(&mut self, key: &str) -> bool {
        if self.keys.contains(key) {
            return false;
        }
        if self.order.len() == REMEMBERED_KEYS
            && let Some(old) = self.order.pop_front()
        {
            self.keys.remove(&old);
        }
        self.keys.insert(key.to_string());
        self.order.push_back(key.to_string());
        true
    }

    fn forget(&mut self, key: &str) {
        if self.keys.remove(key) {
            self.order.retain(|o| o != key);
        }
    }
}

#[derive(Clone)]
struct Inbox {
    secret: Option<Secret>,
    seen: Arc<Mutex<Seen>>,
    out: mpsc::UnboundedSender<Received>,
}

impl Inbox {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        // the set stays consistent whatever panicked while holding it
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why a ping was refused; the answer is `{"error": "…"}` with the status.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("missing X-Frontdoor-Signature (this inbox has FRONTDOOR_WEBHOOK_SECRET)")]
    Unsigned,
    #[error("malformed X-Frontdoor-Signature: expected t=<unix seconds>,v1=<hex>")]
    Malformed,
    #[error(
        "signature timestamp is {0} s from now (more than {MAX_SKEW_SECS}): a replay or a wrong clock"
    )]
    Stale(i64),
    #[error("signature does not match the body (a different FRONTDOOR_WEBHOOK_SECRET?)")]
    Mismatch,
    #[error("body is not a JSON object: {0}")]
    NotJson(String),
    #[error("body has no \"event\" string")]
    NoEvent,
    #[error("the inbox is shutting down")]
    Closing,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match self {
            Refused::Unsigned | Refused::Malformed | Refused::Stale(_) | Refused::Mismatch => {
                StatusCode::UNAUTHORIZED
            }
            Refused::NotJson(_) | Refused::NoEvent => StatusCode::BAD_REQUEST,
            // retried by the sender, so nothing is lost
            Refused::Closing => StatusCode::SERVICE_UNAVAILABLE,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

/// The inbox's routes: `POST /hooks/{hook}`. New pings go to `out`.
pub fn router(secret: Option<Secret>, out: mpsc::UnboundedSender<Received>) -> Router {
    let inbox = Inbox {
        secret,
        seen: Arc::default(),
        out,
    };
    Router::new()
        .route("/hooks/{hook}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(inbox)
}

/// Serve the inbox on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    secret: Option<Secret>,
    out: mpsc::UnboundedSender<Received>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(secret, out))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn receive(
    State(inbox): State<Inbox>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = match &inbox.secret {
        Some(secret) => {
            let sig = header("x-frontdoor-signature").ok_or(Refused::Unsigned)?;
            check_signature(secret, sig, &body, chrono::Utc::now().timestamp())?;
            true
        }
        None => false,
    };
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| Refused::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(Refused::NotJson("not an object".into()));
    }
    let event = value["event"].as_str().ok_or(Refused::NoEvent)?.to_string();
    let key = header("idempotency-key")
        .map(str::to_string)
        .or_else(|| value["idempotency_key"].as_str().map(str::to_string));
    // Only a ping that passed the checks is remembered, so a forged one cannot make the real
    // one look like a duplicate.
    if let Some(k) = &key
        && !inbox.seen().insert(k)
    {
        return Ok(Json(json!({"ok": true, "duplicate": true})));
    }
    let received = Received {
        hook,
        event,
        idempotency_key: key.clone(),
        signed,
        body: value,
    };
    if inbox.out.send(received).is_err() {
        // Nobody reads any more: forget the key so the sender's retry is taken.
        if let Some(k) = &key {
            inbox.seen().forget(k);
        }
        return Err(Refused::Closing);
    }
    Ok(Json(json!({"ok": true, "duplicate": false})))
}

/// A signature header checked against the body and the clock (`now`, unix seconds).
fn check_signature(secret: &Secret, header: &str, body: &[u8], now: i64) -> Result<(), Refused> {
    let (t, v1) = parse_signature(header).ok_or(Refused::Malformed)?;
    let skew = now.saturating_sub(t);
    if skew.abs() > MAX_SKEW_SECS {
        return Err(Refused::Stale(skew));
    }
    if signature_matches(secret.expose().as_bytes(), t, v1, body) {
        Ok(())
    } else {
        Err(Refused::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::super::deliver::sign;
    use super::*;

    #[test]
    fn signatures_are_checked_for_body_key_and_age() {
        let secret = Secret::new("s3cret".to_string());
        let body = br#"{"event":"escalation.ping"}"#;
        let now = 1_800_000_000;
        let good = sign(b"s3cret", now - 10, body);
        assert!(check_signature(&secret, &good, body, now).is_ok());
        assert!(matches!(
            check_signature(&secret, &good, br#"{"event":"x"}"#, now),
            Err(Refused::Mismatch)
        ));
        let other_key = sign(b"other", now, body);
        assert!(matches!(
            check_signature(&secret, &other_key, body, now),
            Err(Refused::Mismatch)
        ));
        let old = sign(b"s3cret", now - MAX_SKEW_SECS - 1, body);
        assert!(matches!(
            check_signature(&secret, &old, body, now),
            Err(Refused::Stale(301))
        ));
        let ahead = sign(b"s3cret", now + MAX_SKEW_SECS + 5, body);
        assert!(matches!(
            check_signature(&secret, &ahead, body, now),
            Err(Refused::Stale(-305))
        ));
        for bad in ["", "v1=00", "t=abc,v1=00", &format!("t={now}")] {
            assert!(
                matches!(
                    check_signature(&secret, bad, body, now),
                    Err(Refused::Malformed)
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn seen_keys_are_bounded_and_forget_the_oldest() {
        let mut seen = Seen::default();
        assert!(seen.insert("k0"));
        assert!(!seen.insert("k0"));
        for i in 1..=REMEMBERED_KEYS {
            assert!(seen.insert(&format!("k{i}")));
        }
        assert_eq!(seen.keys.len(), REMEMBERED_KEYS);
        // k0 was the oldest and has been forgotten; k1 is still remembered
        assert!(seen.insert("k0"));
        assert!(!seen.insert(&format!("k{REMEMBERED_KEYS}")));
        // a forgotten key (its ping could not be handed on) is taken again
        seen.forget("k0");
        assert_eq!(seen.keys.len(), seen.order.len());
        assert!(seen.insert("k0"));
    }
}
