//! One delivery attempt of a ping over one route, through the channel port
//! ([`crate::outlet`]): the webhook outlet lives here (HMAC-signed JSON POSTs); Telegram and
//! Discord outlets live with their adapters under `src/channels/`. How a failure is classified:
//! retry later (timeouts, 5xx, 429 with the receiver's `retry_after`) or give up on this route
//! at once (connection refused, any other 4xx, a route no outlet serves).

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::config::Secret;
use crate::outlet::{
    Channel, DeliveryError, Outgoing, Outlet, Outlets, Recipient, classify_network,
    classify_status, retry_after_header,
};
use crate::policy::routes::Route;

/// How an attempt went.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    Delivered,
    /// Worth trying again; `after` is the receiver's own wait when it gave one (429).
    Transient {
        error: String,
        after: Option<Duration>,
    },
    /// This route will not work; fall over to the next.
    Permanent(String),
}

impl From<Result<(), DeliveryError>> for Attempt {
    fn from(r: Result<(), DeliveryError>) -> Self {
        match r {
            Ok(()) => Attempt::Delivered,
            Err(DeliveryError::Transient {
                error, retry_after, ..
            }) => Attempt::Transient {
                error,
                after: retry_after,
            },
            Err(DeliveryError::Hard { error, .. }) => Attempt::Permanent(error),
        }
    }
}

/// The outlets pings go through. Built from the chat platforms' credentials (secrets stay
/// wrapped, so a `Debug` of this never prints them; `Deliverer::new` is in
/// `channels/outlets.rs`, next to the adapters it names) or handed the app's registry.
#[derive(Clone, Debug)]
pub struct Deliverer {
    outlets: Outlets,
}

#[derive(Clone, Debug, Default)]
pub struct DelivererConfig {
    pub webhook_secret: Option<Secret>,
    pub telegram_token: Option<Secret>,
    pub telegram_api: String,
    pub discord_token: Option<Secret>,
    pub discord_api: String,
    pub timeout: Duration,
}

/// The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The
/// timestamp is signed too so a captured request cannot be replayed later unnoticed.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={timestamp},v1={hex}")
}

/// The parts of a signature header: its timestamp (unix seconds) and its `v1` hex digest;
/// `None` when either is missing or the timestamp is not a number.
pub fn parse_signature(header: &str) -> Option<(i64, &str)> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v),
            _ => {}
        }
    }
    Some((t?, v1?))
}

/// Whether `v1` is the digest of `body` signed at `t` (compared in constant time).
pub fn signature_matches(secret: &[u8], t: i64, v1: &str, body: &[u8]) -> bool {
    let expected = sign(secret, t, body);
    let a = expected.rsplit("v1=").next().unwrap_or_default().as_bytes();
    constant_time_eq(a, v1.as_bytes())
}

/// Check a signature header against the body, whatever its age (what a receiver does; the
/// tests use it as the fake receiver; `frontdoor inbox` also checks the age).
pub fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    parse_signature(header).is_some_and(|(t, v1)| signature_matches(secret, t, v1, body))
}

/// Compare in time that does not depend on where the bytes differ. A copy of the channels'
/// own: the escalation layer does not import the channel adapters.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn short(body: &str) -> String {
    body.chars().take(200).collect()
}

/// The HTTP client every outlet built from settings shares: bounded waits, our user agent.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("frontdoor/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Webhook pings: a JSON POST with the idempotency key and, when a secret is set, an HMAC
/// signature over the timestamp and the body.
#[derive(Clone)]
pub struct WebhookOutlet {
    http: reqwest::Client,
    secret: Option<Secret>,
}

impl WebhookOutlet {
    pub fn new(http: reqwest::Client, secret: Option<Secret>) -> Self {
        Self { http, secret }
    }
}

#[async_trait::async_trait]
impl Outlet for WebhookOutlet {
    fn channel(&self) -> Channel {
        "webhook"
    }

    async fn deliver(&self, to: &Recipient, what: Outgoing<'_>) -> Result<(), DeliveryError> {
        let (Recipient::Address { address: url }, Outgoing::Ping { key, message }) = (to, what)
        else {
            return Err(DeliveryError::hard(
                "a webhook carries pings to a manager's URL, not a client's conversation",
            ));
        };
        let body = message.to_string().into_bytes();
        let mut req = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", key)
            .header(
                "X-Frontdoor-Event",
                message["event"].as_str().unwrap_or("escalation.ping"),
            );
        if let Some(secret) = &self.secret {
            let sig = sign(
                secret.expose().as_bytes(),
                chrono::Utc::now().timestamp(),
                &body,
            );
            req = req.header("X-Frontdoor-Signature", sig);
        }
        let r = req
            .body(body)
            .send()
            .await
            .map_err(|e| classify_network(&e))?;
        let status = r.status();
        let header_after = retry_after_header(&r);
        let text = r.text().await.unwrap_or_default();
        // `Retry-After`, or a JSON body's `retry_after` (seconds) as bridges often send.
        let after = header_after.or_else(|| {
            serde_json::from_str::<Value>(&text)
                .ok()?
                .get("retry_after")?
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
        });
        classify_status(status, after, &short(&text))
    }
}

impl Deliverer {
    /// Deliver through the app's registry (the same outlets the manager actions use).
    pub fn from_outlets(outlets: Outlets) -> Self {
        Self { outlets }
    }

    pub fn outlets(&self) -> &Outlets {
        &self.outlets
    }

    pub async fn deliver(&self, route: &Route, key: &str, ping: &Value) -> Attempt {
        let (channel, address) = route.address();
        let to = Recipient::Address { address };
        let what = Outgoing::Ping { key, message: ping };
        match self.outlets.get(channel) {
            Some(outlet) => outlet.deliver(&to, what).await.into(),
            None => Attempt::Permanent(match route {
                Route::Email { to } => format!(
                    "cannot email {to}: this build has no SMTP transport; give the manager a webhook, Telegram or Discord route"
                ),
                _ => format!("no {channel} outlet is configured"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let h = sign(b"s3cret", 1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify(b"s3cret", &h, b"{\"a\":1}"));
        assert!(!verify(b"s3cret", &h, b"{\"a\":2}"));
        assert!(!verify(b"other", &h, b"{\"a\":1}"));
        assert!(!verify(b"s3cret", "v1=00", b"{\"a\":1}"));
    }

    #[test]
    fn outlet_failures_map_to_attempts() {
        assert_eq!(Attempt::from(Ok(())), Attempt::Delivered);
        assert!(matches!(
            Attempt::from(Err(DeliveryError::transient("503", Some(Duration::from_secs(3))))),
            Attempt::Transient { after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        assert!(matches!(
            Attempt::from(Err(DeliveryError::hard("410"))),
            Attempt::Permanent(_)
        ));
    }
}
