//! Delivering the case system's webhooks (`request.created`, `request.updated`): the outbox rows
//! `policy::request_hook` wrote with each change, POSTed as they were rendered then — the same
//! bytes on every attempt — with the HMAC signature of the managers' pings
//! (`X-Frontdoor-Signature`, over the attempt's timestamp and the body), the event
//! (`X-Frontdoor-Event`) and the row's key (`Idempotency-Key`), so a receiver can drop a
//! delivery it already has.
//!
//! A receiver has one route: nothing falls over to another. A network error (the receiver down,
//! connection refused included), a timeout, 408, 429 or a 5xx is retried with the outbox's
//! backoff (the receiver's `Retry-After` when it gives one) until `webhook_max_attempts`; any
//! other answer (400: the template does not suit it; 401/403: its token) will not change by
//! sending the same bytes again, so the row fails at once. A failed row is logged as an error,
//! counted in `/metrics` (`frontdoor_request_hooks{status="failed"}`) and stays in the outbox
//! with its error.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::deliver::sign;
use crate::config::{EscalationSettings, RequestsConfig, Secret};
use crate::outlet::{classify_status, retry_after_header};
use crate::policy::request_hook::HookRoute;
use crate::store::{OutboxFinish, OutboxRow};

/// Sends request hooks. The headers that carry a case system's credentials are held here (from
/// the configuration), never in the outbox.
#[derive(Clone)]
pub struct HookCourier {
    http: reqwest::Client,
    secret: Option<Secret>,
    /// Receiver name → its extra headers (values possibly secret: never logged).
    headers: BTreeMap<String, Vec<(HeaderName, Secret)>>,
    max_attempts: u32,
    settings: EscalationSettings,
}

impl std::fmt::Debug for HookCourier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookCourier")
            .field("signed", &self.secret.is_some())
            .field("receivers", &self.headers.keys().collect::<Vec<_>>())
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl HookCourier {
    /// The courier of `[requests]`, retrying with `settings`' backoff.
    pub fn new(
        http: reqwest::Client,
        requests: &RequestsConfig,
        settings: EscalationSettings,
    ) -> Self {
        let headers = requests
            .webhooks
            .iter()
            .map(|w| {
                let plain = w
                    .headers
                    .iter()
                    .map(|(h, v)| (h.clone(), Secret::new(v.clone())));
                let secret = w
                    .headers_from_env
                    .iter()
                    .map(|h| (h.header.clone(), h.value.clone()));
                let list = plain
                    .chain(secret)
                    // Checked when the configuration was loaded.
                    .filter_map(|(h, v)| Some((HeaderName::from_bytes(h.as_bytes()).ok()?, v)))
                    .collect();
                (w.name.clone(), list)
            })
            .collect();
        Self {
            http,
            secret: requests.webhook_secret.clone(),
            headers,
            max_attempts: requests.webhook_max_attempts.max(1),
            settings,
        }
    }

    /// One attempt of a claimed `request_hook` row, and what to record about it.
    pub async fn attempt(&self, row: &OutboxRow, now: DateTime<Utc>) -> OutboxFinish {
        let route: HookRoute = match serde_json::from_str(&row.route) {
            Ok(r) => r,
            Err(e) => {
                return OutboxFinish::Failed {
                    error: format!("unreadable request hook route {}: {e}", row.route),
                    failover: None,
                };
            }
        };
        let (error, after, transient) = match self.post(&route, row).await {
            Ok(()) => return OutboxFinish::Delivered,
            Err(e) => e,
        };
        if !transient {
            return OutboxFinish::Failed {
                error,
                failover: None,
            };
        }
        if row.attempts >= i64::from(self.max_attempts) {
            return OutboxFinish::Failed {
                error: format!("gave up after {} attempts: {error}", row.attempts),
                failover: None,
            };
        }
        let wait = after
            .and_then(|d| Duration::from_std(d).ok())
            .unwrap_or_else(|| super::backoff(&self.settings, row.attempts));
        OutboxFinish::Retry {
            at: (now + wait).timestamp_millis(),
            error,
        }
    }

    /// POST the row's body; on failure (error, the receiver's wait, worth retrying).
    async fn post(
        &self,
        route: &HookRoute,
        row: &OutboxRow,
    ) -> Result<(), (String, Option<StdDuration>, bool)> {
        let body = row.payload.clone().into_bytes();
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers.get(&route.hook).into_iter().flatten() {
            if let Ok(mut v) = HeaderValue::from_str(value.expose()) {
                v.set_sensitive(true);
                headers.insert(name.clone(), v);
            }
        }
        let mut ours = vec![
            ("content-type", "application/json".to_string()),
            ("idempotency-key", row.idempotency_key.clone()),
            ("x-frontdoor-event", route.event.clone()),
        ];
        if let Some(secret) = &self.secret {
            ours.push((
                "x-frontdoor-signature",
                sign(secret.expose().as_bytes(), Utc::now().timestamp(), &body),
            ));
        }
        for (name, value) in ours {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        let r = self
            .http
            .post(&route.url)
            .headers(headers)
            .body(body)
            .send()
            .await
            // Refused, reset, timed out: the receiver is down or slow; it will be back.
            .map_err(|e| (format!("network: {e}"), None, true))?;
        let status = r.status();
        let after = retry_after_header(&r);
        let text: String = r
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        classify_status(status, after, &text).map_err(|e| {
            let transient = !e.is_hard();
            (e.to_string(), after, transient)
        })
    }
}
