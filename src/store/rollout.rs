//! The phased roll-out's run-time side: the mode the back office set per client × channel
//! (over the client file's `[rollout]`), and the audit trail every change leaves.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Millis, StoreResult};

/// A mode set at run time for one client's channel.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RolloutRow {
    pub client_code: String,
    pub channel: String,
    pub mode: String,
    pub updated_at: Millis,
    pub updated_by: String,
}

/// One entry of the append-only audit trail (the database refuses to change or delete one).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub at: Millis,
    /// Who: a back-office user name, `operator` for the operator token, `token:<name>`.
    pub actor: String,
    /// What: `rollout.set`.
    pub action: String,
    /// On what: `client:ACME`.
    pub subject: String,
    /// JSON: for a mode change `{"channel": "web", "from": "live", "to": "shadow"}`.
    pub detail: String,
}

/// Called by the dialogue service (the modes, cached) and the back office (change, audit).
#[async_trait]
pub trait Rollouts: Send + Sync {
    /// Every mode set at run time.
    async fn rollout_modes(&self) -> StoreResult<Vec<RolloutRow>>;

    /// Set modes for one client's channels — `(channel, mode before, mode after)`, the mode
    /// before as the caller resolved it (run-time, else the client file's) — in one
    /// transaction, with one audit event per channel whose mode changes. Returns those events.
    async fn set_rollout(
        &self,
        client_code: &str,
        changes: &[(String, String, String)],
        actor: &str,
        now: Millis,
    ) -> StoreResult<Vec<AuditRow>>;

    /// Audit events about `subject`, newest first.
    async fn audit_events(&self, subject: &str, limit: i64) -> StoreResult<Vec<AuditRow>>;
}
