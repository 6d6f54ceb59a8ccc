//! Service requests after they are opened: the SSO's queue, the case system's API, and the
//! immutable timeline of each request.
//!
//! A change is a [`RequestUpdate`]: the request as it was read (the guard), the request as it
//! will be, the events that say what happened, and the outbox rows that tell the case system.
//! It is written either inside a dialogue turn (when the client must hear of it: picked up,
//! information needed, done) or on its own ([`Requests::update_request`]: an assignment, a note,
//! the case system's id). Either way one transaction, and refused when the request moved since
//! it was read, so two surfaces acting at once cannot both win.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::outbox::NewPing;
use super::{Millis, StoreResult};

/// A service request as stored (`service_requests`): here, with the role that changes it, rather
/// than with the conversations that open it (which import this module for `RequestUpdate`).
#[derive(
    Clone, Debug, Default, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct RequestRow {
    pub id: i64,
    pub reference: String,
    pub conversation_id: String,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub service_id: String,
    pub status: String,
    pub priority: String,
    pub inputs: String,
    pub opened_at: Millis,
    pub due_at: Millis,
    pub closed_at: Option<Millis>,
    pub off_hours: bool,
    /// Who at the SSO works on it (an email or a name, as the case system knows them).
    pub assignee: Option<String>,
    /// The SSO case system's own id for it.
    pub external_id: Option<String>,
    pub updated_at: Millis,
    /// Since when it has been waiting for the client (set only in `waiting_for_client`).
    pub waiting_since: Option<Millis>,
    /// The client's due time while they are asked for information.
    pub client_due_at: Option<Millis>,
    /// Calendar time spent waiting for the client, over finished waits.
    pub waited_ms: i64,
    /// The same in the client's business hours (what moved `due_at` out).
    pub waited_business_ms: i64,
    /// Finished client waits, and those the client answered after their due time.
    pub client_waits: i64,
    pub client_late: i64,
    /// Times it was reopened after being done.
    pub reopened: i64,
    /// The first completion: the on-time KPIs judge this one (a reopen is counted apart).
    pub first_done_at: Option<Millis>,
}

/// One entry of a request's timeline.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestEventRow {
    pub id: i64,
    pub request_id: i64,
    /// `created`, `status`, `assigned`, `note`, `client_reply`, `linked`.
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    /// Who: the client, a back-office user's email, an API token's name, `frontdoor`.
    pub actor: String,
    /// `chat`, `backoffice`, `api`, `system`.
    pub source: String,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
    pub created_at: Millis,
}

/// An event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRequestEvent {
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub actor: String,
    pub source: String,
    pub note: Option<String>,
    pub idempotency_key: Option<String>,
}

/// A request's change, written atomically.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestUpdate {
    /// The request as read: the write is refused unless its status and `updated_at` still match.
    pub before: RequestRow,
    /// The request after the change (same id and reference).
    pub after: RequestRow,
    pub events: Vec<NewRequestEvent>,
    /// Outbox rows (`request.updated` to the case system), by idempotency key.
    pub outbox: Vec<(String, NewPing)>,
}

/// The queue's filters. `None` is "any".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestFilter {
    /// Any of these statuses (empty: any).
    pub statuses: Vec<String>,
    /// Only these clients (`None`: any; `Some(empty)`: none — a manager with no clients).
    pub clients: Option<Vec<String>>,
    pub service: Option<String>,
    pub assignee: Option<String>,
    /// Changed at or after.
    pub updated_since: Option<Millis>,
    /// Open (not done or cancelled) with the SSO's due time before this.
    pub due_before: Option<Millis>,
    /// Keyset pagination: rows after this `(updated_at, id)`, in that order.
    pub after: Option<(Millis, i64)>,
    pub limit: i64,
}

#[async_trait]
pub trait Requests: Send + Sync {
    /// Requests matching `filter`, by `(updated_at, id)` ascending (a case system polls with
    /// `updated_since` and follows the cursor).
    async fn requests(&self, filter: &RequestFilter) -> StoreResult<Vec<RequestRow>>;

    /// A request's timeline, oldest first.
    async fn request_events(&self, request_id: i64) -> StoreResult<Vec<RequestEventRow>>;

    /// The event recorded under an idempotency key, if any (a retried API call).
    async fn request_event_by_key(&self, key: &str) -> StoreResult<Option<RequestEventRow>>;

    /// Write a change that the client need not hear of. `Err(StoreError::Stale)` when the request
    /// moved since `update.before` was read; nothing is written then.
    async fn update_request(&self, update: &RequestUpdate) -> StoreResult<()>;
}
