//! Escalation to account managers: pings that always arrive, the re-ping ladder, and the
//! managers' actions (acknowledge, reply, resolve) relayed into the client's conversation.
//!
//! - The dialogue's turn writes the escalation and its first ping (the primary manager's first
//!   route) to the outbox in one transaction. Where pings go, who is on duty at each rung and
//!   what a ping says are rules both layers follow: they live below both, in
//!   [`crate::policy`].
//! - The [`worker::Worker`] claims due outbox rows (SKIP LOCKED on PostgreSQL), composes each
//!   ping from the store at delivery time, and delivers it ([`deliver`]): retried with
//!   exponential backoff and jitter on transient errors, honouring `retry_after`; a permanent
//!   failure marks the row failed and queues the manager's next route. Unacknowledged
//!   escalations climb the ladder: primary → primary reminder → backup → backup reminder.
//! - [`actions::act`] checks who may act and turns an action into a dialogue event, so the
//!   reply or the survey reaches the client through the normal turn machinery.
//! - The same worker delivers the SSO's case-system webhooks (`request.created`,
//!   `request.updated`: [`request_hooks`]), written to the outbox with each request's change.

pub mod actions;
pub mod deliver;
pub mod inbox;
pub mod relay;
pub mod request_hooks;
pub mod worker;

use chrono::Duration;

use crate::config::EscalationSettings;

#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Chat(#[from] crate::dialogue::service::ServiceError),
    #[error("escalation {0} not found")]
    NotFound(i64),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

/// Exponential backoff with ±25% jitter, so deliveries that failed together don't retry
/// together: `backoff_base_ms` doubled per attempt, capped at `backoff_max_secs`.
pub fn backoff(settings: &EscalationSettings, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let base = settings.backoff_base_ms.max(1) as f64 * 2f64.powi(exp as i32);
    let capped = base.min(settings.backoff_max_secs as f64 * 1000.0);
    let jitter = rand::random_range(0.75..1.25);
    Duration::milliseconds((capped * jitter) as i64)
}
