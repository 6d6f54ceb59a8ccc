//! The outbox worker: delivers pings and climbs the re-ping ladder.
//!
//! `tick(now)` does one round and is what tests drive with their own clock; `run` calls it in
//! a loop, woken by new escalations or by its poll interval (for pings committed by other
//! replicas and for retries coming due).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::EscalationError;
use super::deliver::{Attempt, Deliverer};
use super::relay::Courier;
use super::request_hooks::HookCourier;
use crate::config::EscalationSettings;
use crate::dialogue::service::{SharedKnowledge, current};
use crate::domain::time::{from_millis, millis};
use crate::knowledge::Knowledge;
use crate::outlet::RelayRoute;
use crate::policy::ladder::{self, PingHeader, next_ping_at};
use crate::policy::ping::{self, PingContext};
use crate::policy::request_hook;
use crate::policy::routes::StoredRoute;
use crate::store::{EscalationRow, OutboxFinish, OutboxRow, Store};

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
    /// Escalations moved up the ladder (a reminder or the backup queued).
    pub advanced: usize,
}

impl TickReport {
    pub fn idle(&self) -> bool {
        *self == TickReport::default()
    }
}

#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    knowledge: SharedKnowledge,
    deliverer: Deliverer,
    /// Relays (a manager's answer to the client) through the same outlets as the pings.
    courier: Courier,
    /// The case systems' webhooks; `None`: none configured in this process (their rows wait).
    hooks: Option<HookCourier>,
    settings: EscalationSettings,
    /// Who holds a claim: unique per process, so a lapsed claim is never finished by the wrong one.
    id: String,
    wake: Arc<tokio::sync::Notify>,
}

/// Rows claimed per round; delivered concurrently.
const BATCH: i64 = 16;

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        knowledge: SharedKnowledge,
        deliverer: Deliverer,
        settings: EscalationSettings,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        let n: u32 = rand::random();
        let courier = Courier::new(store.clone(), deliverer.outlets().clone(), settings.clone());
        Self {
            store,
            knowledge,
            deliverer,
            courier,
            hooks: None,
            settings,
            id: format!("worker-{}-{n:08x}", std::process::id()),
            wake,
        }
    }

    /// Deliver the case systems' webhooks (`request_hook` rows) with `hooks`.
    pub fn with_request_hooks(mut self, hooks: HookCourier) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// Deliver until `shutdown` resolves. A delivery in flight finishes first; anything not yet
    /// delivered stays in the outbox for the next start (or another replica).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let poll = StdDuration::from_millis(self.settings.poll_interval_ms.max(10));
        loop {
            match self.tick(Utc::now()).await {
                // Work was done: there may be more due right away.
                Ok(report) if !report.idle() => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox round failed; retrying"),
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }

    /// One round: move due escalations up the ladder, then deliver every due ping.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, EscalationError> {
        let k = current(&self.knowledge);
        let mut report = TickReport::default();
        for e in self.store.due_escalations(millis(now), BATCH).await? {
            if self.advance(&k, &e, now).await? {
                report.advanced += 1;
            }
        }
        let lease = now + Duration::seconds(self.settings.lease_secs as i64);
        let rows = self
            .store
            .claim_outbox(&self.id, millis(now), millis(lease), BATCH)
            .await?;
        let finishes =
            futures::future::join_all(rows.iter().map(|row| self.attempt(&k, row, now))).await;
        for (row, finish) in rows.iter().zip(finishes) {
            match &finish {
                OutboxFinish::Delivered => report.delivered += 1,
                OutboxFinish::Failed { .. } => report.failed += 1,
                OutboxFinish::Retry { .. } | OutboxFinish::Progress { .. } => report.retried += 1,
            }
            if row.kind == request_hook::KIND {
                log_hook(row, &finish);
            } else {
                log_ping(row, &finish);
            }
            if !self
                .store
                .finish_outbox(row.id, &self.id, &finish, millis(now))
                .await?
            {
                tracing::warn!(key = %row.idempotency_key, "claim lapsed before the attempt finished; another worker owns it now");
            }
        }
        Ok(report)
    }

    /// Queue the next rung for an unacknowledged escalation; `false` if another replica (or an
    /// acknowledgement) got there first.
    async fn advance(
        &self,
        k: &Knowledge,
        e: &EscalationRow,
        now: DateTime<Utc>,
    ) -> Result<bool, EscalationError> {
        let client = e.client_code.as_deref().and_then(|c| k.clients.get(c));
        let next_level = e.level + 1;
        let Some((manager, reminder)) =
            client.and_then(|c| ladder::manager_at_level(c, next_level))
        else {
            tracing::error!(
                escalation = e.id,
                client = ?e.client_code,
                "escalation still unacknowledged and nobody is left to ping"
            );
            return Ok(self
                .store
                .advance_escalation(e.id, e.level, e.level, None, None, &[], millis(now))
                .await?);
        };
        // Urgent: every route of the manager at once; otherwise the first, falling over.
        let pings: Vec<_> =
            ladder::pings_for_level(manager, next_level, reminder, e.priority == "urgent")
                .into_iter()
                .enumerate()
                .map(|(n, p)| (ladder::key(e.id, next_level, n), p))
                .collect();
        let next = next_ping_at(
            k,
            e.client_code.as_deref(),
            e.priority == "urgent",
            now,
            &self.settings,
        );
        let moved = self
            .store
            .advance_escalation(
                e.id,
                e.level,
                next_level,
                Some(&manager.email),
                Some(millis(next)),
                &pings,
                millis(now),
            )
            .await?;
        if moved {
            tracing::warn!(
                escalation = e.id,
                level = next_level,
                manager = %manager.email,
                reminder,
                "escalation not acknowledged; pinging again"
            );
            self.wake.notify_one();
        }
        Ok(moved)
    }

    /// One delivery attempt of a claimed row, and what to record about it.
    async fn attempt(&self, k: &Knowledge, row: &OutboxRow, now: DateTime<Utc>) -> OutboxFinish {
        if row.kind == request_hook::KIND {
            return match &self.hooks {
                Some(hooks) => hooks.attempt(row, now).await,
                // Another replica (or this one restarted with `[requests]`) delivers it.
                None => OutboxFinish::Retry {
                    at: millis(now + self.backoff(row.attempts)),
                    error: "request webhooks are not configured in this process".into(),
                },
            };
        }
        if let Some(relay) = RelayRoute::parse(&row.route) {
            return self.courier.attempt(row, &relay, now).await;
        }
        let stored: StoredRoute = match serde_json::from_str(&row.route) {
            Ok(r) => r,
            Err(e) => {
                return OutboxFinish::Failed {
                    error: format!("unreadable route {}: {e}", row.route),
                    failover: None,
                };
            }
        };
        let header: PingHeader = serde_json::from_str(&row.payload).unwrap_or_default();
        let message = match self.compose(k, row, &stored, &header).await {
            Ok(m) => m,
            Err(e) => {
                // The store is unreachable: not the receiver's fault, try again soon.
                return OutboxFinish::Retry {
                    at: millis(now + self.backoff(row.attempts)),
                    error: format!("composing the ping: {e}"),
                };
            }
        };
        let error = match self
            .deliverer
            .deliver(&stored.route, &row.idempotency_key, &message)
            .await
        {
            Attempt::Delivered => return OutboxFinish::Delivered,
            Attempt::Transient { error, after } => {
                if row.attempts < i64::from(self.settings.max_attempts) {
                    let wait = after
                        .and_then(|d| Duration::from_std(d).ok())
                        .unwrap_or_else(|| self.backoff(row.attempts));
                    return OutboxFinish::Retry {
                        at: millis(now + wait),
                        error,
                    };
                }
                format!("gave up after {} attempts: {error}", row.attempts)
            }
            Attempt::Permanent(error) => error,
        };
        // On all routes at once (urgent): the other routes are already on their way.
        let failover = if header.all_routes {
            None
        } else {
            self.next_route(k, row, &stored, &header)
        };
        OutboxFinish::Failed { error, failover }
    }

    /// The manager's next route after `stored`, as a ping with its own idempotency key.
    fn next_route(
        &self,
        k: &Knowledge,
        row: &OutboxRow,
        stored: &StoredRoute,
        header: &PingHeader,
    ) -> Option<(String, crate::store::NewPing)> {
        let manager = k
            .clients
            .values()
            .flat_map(|c| c.managers.iter())
            .find(|m| m.email == stored.manager)?;
        let n = stored.index + 1;
        if let Some(alert) = &header.alert {
            // An alert's keys are `<base>-route-<n>`.
            let (base, _) = row.idempotency_key.rsplit_once("-route-")?;
            let ping = ladder::alert_for(manager, n, alert)?;
            return Some((ladder::alert_key(base, n), ping));
        }
        let escalation_id = row.escalation_id?;
        let ping = ladder::ping_for(manager, header.level, header.reminder, n)?;
        Some((ladder::key(escalation_id, header.level, n), ping))
    }

    fn backoff(&self, attempts: i64) -> Duration {
        super::backoff(&self.settings, attempts)
    }

    async fn compose(
        &self,
        k: &Knowledge,
        row: &OutboxRow,
        stored: &StoredRoute,
        header: &PingHeader,
    ) -> Result<serde_json::Value, EscalationError> {
        if let Some(alert) = &header.alert {
            let mut message = alert.clone();
            message["idempotency_key"] = row.idempotency_key.clone().into();
            return Ok(message);
        }
        let escalation_id = row
            .escalation_id
            .ok_or_else(|| EscalationError::Invalid("outbox row without an escalation".into()))?;
        let e = self
            .store
            .escalation(escalation_id)
            .await?
            .ok_or(EscalationError::NotFound(escalation_id))?;
        let conversation = self.store.conversation(&e.conversation_id).await?;
        let user_name = match e.person_id {
            Some(id) => self.store.person(id).await?.and_then(|p| p.display_name),
            None => None,
        };
        let request = match &e.request_reference {
            Some(r) => self.store.request_by_reference(r).await?,
            None => None,
        };
        // The turns up to and including the one that escalated, newest eight.
        let rows = self.store.transcript(&e.conversation_id).await?;
        let mut transcript: Vec<(String, String)> = rows
            .iter()
            .filter(|m| m.created_at <= e.created_at && !m.text.is_empty())
            .map(|m| {
                let from = if m.direction == "in" { "user" } else { "bot" };
                (from.to_string(), m.text.clone())
            })
            .collect();
        let skip = transcript.len().saturating_sub(8);
        transcript.drain(..skip);
        Ok(ping::compose(
            k,
            &PingContext {
                escalation: &e,
                header,
                manager: &stored.manager,
                idempotency_key: &row.idempotency_key,
                user_name,
                channel: conversation.map(|c| c.channel).unwrap_or_default(),
                request,
                transcript,
            },
        ))
    }
}

/// How a ping's attempt went, in the log.
fn log_ping(row: &OutboxRow, finish: &OutboxFinish) {
    match finish {
        OutboxFinish::Delivered => {
            tracing::info!(key = %row.idempotency_key, route = %row.kind, attempts = row.attempts, "ping delivered");
        }
        OutboxFinish::Retry { at, error } | OutboxFinish::Progress { at, error, .. } => {
            tracing::warn!(key = %row.idempotency_key, route = %row.kind, attempts = row.attempts, retry_at = %from_millis(*at), %error, "ping not delivered; will retry");
        }
        OutboxFinish::Failed { error, failover } => {
            // Surfaced loudly: an escalation nobody sees is worse than none.
            tracing::error!(
                key = %row.idempotency_key,
                route = %row.kind,
                attempts = row.attempts,
                %error,
                next_route = failover.as_ref().map(|(_, p)| p.kind.as_str()).unwrap_or("none left"),
                "ping failed permanently"
            );
        }
    }
}

/// How a case-system webhook's attempt went, in the log (the URL may carry a token in its
/// query: the key names the request, the receiver and the event instead).
fn log_hook(row: &OutboxRow, finish: &OutboxFinish) {
    match finish {
        OutboxFinish::Delivered => {
            tracing::info!(key = %row.idempotency_key, attempts = row.attempts, "request webhook delivered");
        }
        OutboxFinish::Retry { at, error } | OutboxFinish::Progress { at, error, .. } => {
            tracing::warn!(key = %row.idempotency_key, attempts = row.attempts, retry_at = %from_millis(*at), %error, "request webhook not delivered; will retry");
        }
        OutboxFinish::Failed { error, .. } => {
            // Surfaced loudly: the case system is missing a request (or a change) until someone
            // looks; `/metrics` counts these rows too.
            tracing::error!(key = %row.idempotency_key, attempts = row.attempts, %error, "request webhook failed permanently; the case system was not told");
        }
    }
}
