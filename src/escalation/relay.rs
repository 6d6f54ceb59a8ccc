//! A manager's answer on its way to the client: queued in the outbox with the turn that made
//! it (`dialogue::outbox` writes the row), then delivered through the client's channel outlet — at once after the action, and by
//! the outbox worker's retries (backoff, `retry_after`, across restarts) when that fails.
//!
//! Exactly once per recipient: one outbox row per committed turn (its key is the turn's
//! version), claimed by one worker at a time, and a batch that got partly out remembers how
//! far (`sent`) so a retry starts after what the client already has.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::config::EscalationSettings;
use crate::outlet::{DeliveryError, Outgoing, Outlets, Relay, RelayRoute};
use crate::store::{OutboxFinish, OutboxRow, Store, StoreError};

/// Delivers relay rows through the outlets. The worker owns one; a manager action makes one
/// for its immediate attempt.
#[derive(Clone)]
pub struct Courier {
    store: Arc<dyn Store>,
    outlets: Outlets,
    settings: EscalationSettings,
    /// Who holds a claim: unique per courier, so a lapsed claim is never finished by another.
    id: String,
}

impl Courier {
    pub fn new(store: Arc<dyn Store>, outlets: Outlets, settings: EscalationSettings) -> Self {
        let n: u32 = rand::random();
        Self {
            store,
            outlets,
            settings,
            id: format!("courier-{}-{n:08x}", std::process::id()),
        }
    }

    pub fn outlets(&self) -> &Outlets {
        &self.outlets
    }

    /// Try the row with `key` now. `Ok(true)`: delivered. `Ok(false)`: not yet (it failed and
    /// is scheduled for a retry, or another worker holds it, or it was already delivered).
    pub async fn deliver_now(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let lease = now + Duration::seconds(self.settings.lease_secs as i64);
        let Some(row) = self
            .store
            .claim_outbox_key(
                key,
                &self.id,
                now.timestamp_millis(),
                lease.timestamp_millis(),
            )
            .await?
        else {
            return Ok(false);
        };
        let Some(route) = RelayRoute::parse(&row.route) else {
            // Not a relay: leave it to the worker, which knows pings.
            return Ok(false);
        };
        let finish = self.attempt(&row, &route, now).await;
        log_finish(&row, &finish);
        let delivered = finish == OutboxFinish::Delivered;
        self.store
            .finish_outbox(row.id, &self.id, &finish, now.timestamp_millis())
            .await?;
        Ok(delivered)
    }

    /// One attempt of a claimed relay row, and what to record about it.
    pub async fn attempt(
        &self,
        row: &OutboxRow,
        route: &RelayRoute,
        now: DateTime<Utc>,
    ) -> OutboxFinish {
        let relay: Relay = match serde_json::from_str(&row.payload) {
            Ok(r) => r,
            Err(e) => {
                return OutboxFinish::Failed {
                    error: format!("unreadable relay payload: {e}"),
                    failover: None,
                };
            }
        };
        let remaining = relay.remaining();
        if remaining.replies.is_empty() {
            return OutboxFinish::Delivered;
        }
        let result = match self.outlets.get(&route.channel) {
            Some(outlet) => {
                outlet
                    .deliver(&route.recipient(), Outgoing::Replies(&remaining))
                    .await
            }
            // Another replica (or this one after a restart with the token set) may have it.
            None => Err(DeliveryError::transient(
                format!("no {} outlet is running in this process", route.channel),
                None,
            )),
        };
        let e = match result {
            Ok(()) => return OutboxFinish::Delivered,
            Err(e) => e,
        };
        let sent = relay.sent + e.delivered();
        // A client's conversation has one route: a hard failure is retried like a transient
        // one (the Bot API may be back after a restart), until the attempts run out.
        let (error, wait) = match &e {
            DeliveryError::Transient {
                error, retry_after, ..
            } => (
                error.clone(),
                retry_after
                    .and_then(|d| Duration::from_std(d).ok())
                    .unwrap_or_else(|| super::backoff(&self.settings, row.attempts)),
            ),
            DeliveryError::Hard { error, .. } => {
                (error.clone(), super::backoff(&self.settings, row.attempts))
            }
        };
        if row.attempts >= i64::from(self.settings.max_attempts) {
            return OutboxFinish::Failed {
                error: format!(
                    "gave up after {} attempts ({sent} of {} messages delivered): {error}",
                    row.attempts,
                    relay.replies.len()
                ),
                failover: None,
            };
        }
        let at = (now + wait).timestamp_millis();
        if sent > relay.sent {
            let progressed = Relay { sent, ..relay };
            OutboxFinish::Progress {
                at,
                error,
                payload: serde_json::to_string(&progressed).unwrap_or_default(),
            }
        } else {
            OutboxFinish::Retry { at, error }
        }
    }
}

/// Log an attempt's end the way the worker logs pings.
pub fn log_finish(row: &OutboxRow, finish: &OutboxFinish) {
    match finish {
        OutboxFinish::Delivered => {
            tracing::info!(key = %row.idempotency_key, channel = %row.kind, attempts = row.attempts, "relayed to the client");
        }
        OutboxFinish::Retry { error, .. } | OutboxFinish::Progress { error, .. } => {
            tracing::warn!(key = %row.idempotency_key, channel = %row.kind, attempts = row.attempts, %error, "relay not delivered; will retry");
        }
        OutboxFinish::Failed { error, .. } => {
            tracing::error!(key = %row.idempotency_key, channel = %row.kind, attempts = row.attempts, %error, "relay failed permanently");
        }
    }
}
