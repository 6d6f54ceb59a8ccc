//! The outbox: what leaves outside a turn (pings, a manager's answer relayed to the client,
//! renewal alerts) is queued here in the same transaction as its cause, then claimed, sent and
//! finished by the delivery workers, so nothing is sent twice or lost in a crash.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Millis, StoreResult};

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: i64,
    pub idempotency_key: String,
    pub kind: String,
    pub escalation_id: Option<i64>,
    pub route: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

/// How one delivery attempt of a claimed outbox row ended.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboxFinish {
    Delivered,
    /// Try again at this time (transient error, or the receiver's `retry_after`).
    Retry {
        at: Millis,
        error: String,
    },
    /// Part of a batch went out: store the payload that remembers how far, and try the rest
    /// again at this time.
    Progress {
        at: Millis,
        error: String,
        payload: String,
    },
    /// Given up on this row; optionally the next route's ping takes its place.
    Failed {
        error: String,
        failover: Option<(String, NewPing)>,
    },
}

/// A ping to put in the outbox with an escalation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewPing {
    pub kind: String,
    pub route: String,
    pub payload: String,
}

/// Called by the escalation worker and relay (delivery), the renewal alerts and the demo data.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Lock up to `limit` due pending outbox rows to `worker` until `lease_until` and count the
    /// attempt. On PostgreSQL rows locked by another worker's transaction are skipped
    /// (`FOR UPDATE SKIP LOCKED`), so two replicas never send the same ping.
    async fn claim_outbox(
        &self,
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> StoreResult<Vec<OutboxRow>>;

    /// Claim the pending row with this key (due or not) for an attempt right now, unless
    /// another worker holds an unexpired claim on it: how a manager's answer leaves at once
    /// after the action commits, with the outbox's retries behind it.
    async fn claim_outbox_key(
        &self,
        key: &str,
        worker: &str,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Option<OutboxRow>>;

    /// Record how a claimed attempt ended; `false` when the claim had lapsed to another worker.
    async fn finish_outbox(
        &self,
        id: i64,
        worker: &str,
        finish: &OutboxFinish,
        now: Millis,
    ) -> StoreResult<bool>;

    /// Queue an outbox message that belongs to no escalation (a renewal alert); `false` when a
    /// row with this idempotency key exists already (it is then left as it is).
    async fn enqueue_outbox(&self, key: &str, ping: &NewPing, now: Millis) -> StoreResult<bool>;

    async fn outbox_of_escalation(&self, escalation_id: i64) -> StoreResult<Vec<OutboxRow>>;

    /// Outbox rows in a status, newest first (failed pings are surfaced from here).
    async fn outbox_by_status(&self, status: &str, limit: i64) -> StoreResult<Vec<OutboxRow>>;

    /// Outbox rows whose idempotency key starts with `prefix`, oldest first.
    async fn outbox_by_key_prefix(&self, prefix: &str) -> StoreResult<Vec<OutboxRow>>;

    /// For demo data: every pending outbox row is marked failed with `note` (never sent) and
    /// open escalations stop their re-ping ladder, so a server started on the database sends
    /// nothing. Returns (outbox rows, escalations) changed.
    async fn quiesce_outbox(&self, note: &str) -> StoreResult<(u64, u64)>;
}
