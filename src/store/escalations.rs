//! Escalations: a conversation handed to its account manager, the re-ping ladder that follows it
//! up, and the back office's queue of them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::outbox::NewPing;
use super::{Millis, StoreResult};

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationRow {
    pub id: i64,
    pub conversation_id: String,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub request_reference: Option<String>,
    pub reason: String,
    pub priority: String,
    pub status: String,
    pub level: i64,
    pub manager_id: Option<i64>,
    pub created_at: Millis,
    pub due_at: Millis,
    pub next_ping_at: Option<Millis>,
    pub acknowledged_at: Option<Millis>,
    pub acknowledged_by: Option<String>,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub off_hours: bool,
    /// The bot's draft (shadow mode) as JSON: see `dialogue::Draft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
    /// What the manager did with the draft: approved, edited or replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_verdict: Option<String>,
}

pub use crate::domain::EscalationAction;

/// Called by the escalation worker and actions, and by the back office's queue.
#[async_trait]
pub trait Escalations: Send + Sync {
    async fn escalation(&self, id: i64) -> StoreResult<Option<EscalationRow>>;

    /// Escalations, newest first, optionally in one status (the back office's queue).
    async fn escalations(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<EscalationRow>>;

    async fn escalations_of_conversation(
        &self,
        conversation_id: &str,
    ) -> StoreResult<Vec<EscalationRow>>;

    /// Open (unacknowledged) escalations whose next ping is due.
    async fn due_escalations(&self, now: Millis, limit: i64) -> StoreResult<Vec<EscalationRow>>;

    /// Move an open escalation from `from_level` to `to_level` and queue its pings, atomically
    /// and only if nobody (another replica, an acknowledgement) moved it first.
    #[allow(clippy::too_many_arguments)]
    async fn advance_escalation(
        &self,
        id: i64,
        from_level: i64,
        to_level: i64,
        manager_email: Option<&str>,
        next_ping_at: Option<Millis>,
        pings: &[(String, NewPing)],
        now: Millis,
    ) -> StoreResult<bool>;

    /// The account manager's stored id for (client, email).
    async fn manager_id(&self, client_code: &str, email: &str) -> StoreResult<Option<i64>>;
}
