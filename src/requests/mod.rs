//! Service requests after they are opened: the one entry every surface (the back office, the
//! case system's REST API) uses to move a request, and the client told of it.
//!
//! [`change`] reads the request, checks who may act, applies the change with the lifecycle's
//! rules ([`crate::policy::lifecycle`]), and writes it:
//!
//! - a move the client should hear of (picked up, information needed, done, cancelled,
//!   reopened) is committed *inside a dialogue turn* on the request's conversation, with the
//!   message to the client queued in the outbox in the same transaction — the way a manager's
//!   answer is — and then delivered at once through the channel port (retried by the outbox
//!   worker when that fails). A completion asks for the pulse survey in that turn, and —
//!   when the rate card prices the service's completion (`completed_request`) — writes the
//!   recharge ledger's row in it. Only the *first* completion is charged: a request reopened
//!   and done again is the same piece of work (and a reopen is usually the SSO's own rework),
//!   so `first_done_at` being already set means no second row.
//! - anything else (an assignment, a note, the case system's id) is written on its own.
//!
//! Either way the case system's webhook rows are written in the same transaction, and a change
//! that lost a race to another surface is refused whole ([`RequestError::Conflict`]).

use chrono::{DateTime, Utc};

use crate::dialogue::service::{ChatService, Inbound, current};
use crate::dialogue::{Input, RequestNotice};
use crate::domain::RequestStatus;
use crate::domain::time::from_millis;
use crate::escalation::relay::Courier;
use crate::knowledge::Knowledge;
use crate::outlet::{Outlets, request_relay_prefix};
use crate::policy::calendar::format_local;
use crate::policy::lifecycle::{self, Change, Terms, TransitionError};
use crate::policy::request_hook::{self, HookEvent};
use crate::store::{Record, RequestEventRow, RequestRow, RequestUpdate, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request {0} not found")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The move is not allowed from the request's status (the message lists what is).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Another change won the race; read the request again.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Chat(crate::dialogue::service::ServiceError),
}

impl From<StoreError> for RequestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Stale(m) => RequestError::Conflict(m),
            e => RequestError::Store(e),
        }
    }
}

impl From<crate::dialogue::service::ServiceError> for RequestError {
    fn from(e: crate::dialogue::service::ServiceError) -> Self {
        match e {
            crate::dialogue::service::ServiceError::Store(e) => e.into(),
            crate::dialogue::service::ServiceError::Busy => {
                RequestError::Conflict("the client's conversation is busy; try again".into())
            }
            e => RequestError::Chat(e),
        }
    }
}

/// Whose requests the caller may see and move: `None` every client's (the operator, an admin),
/// `Some(list)` those clients' only (an account manager).
pub type Scope = Option<Vec<String>>;

pub fn in_scope(scope: &Scope, row: &RequestRow) -> bool {
    match scope {
        None => true,
        Some(list) => row
            .client_code
            .as_deref()
            .is_some_and(|c| list.iter().any(|x| x == c)),
    }
}

/// A request as a surface shows it: the row, its timeline, and whether this call's message to
/// the client got out during the call.
#[derive(Clone, Debug)]
pub struct Changed {
    pub request: RequestRow,
    pub events: Vec<RequestEventRow>,
    /// The client's message was delivered during the call (else the outbox worker retries it).
    pub relayed: bool,
    /// The idempotency key had been used: nothing new was done.
    pub duplicate: bool,
}

/// A request by reference, if the caller may see it.
pub async fn read(
    chat: &ChatService,
    reference: &str,
    scope: &Scope,
) -> Result<(RequestRow, Vec<RequestEventRow>), RequestError> {
    let row = chat
        .store
        .request_by_reference(reference)
        .await?
        .filter(|r| in_scope(scope, r))
        // Someone else's request is "not found", not "forbidden": its existence is not theirs.
        .ok_or_else(|| RequestError::NotFound(reference.to_string()))?;
    let events = chat.store.request_events(row.id).await?;
    Ok((row, events))
}

/// Move or annotate request `reference` (see the module's comment).
pub async fn change(
    chat: &ChatService,
    outlets: &Outlets,
    reference: &str,
    change: Change,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Changed, RequestError> {
    apply_change(chat, Some(outlets), reference, change, scope, now).await
}

/// [`change`], leaving the client's message to the outbox rather than delivering it during the
/// call: for writers with no channel running, such as the demo data (which plays a request's
/// life at simulated times and sends nothing).
pub async fn record(
    chat: &ChatService,
    reference: &str,
    change: Change,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Changed, RequestError> {
    apply_change(chat, None, reference, change, scope, now).await
}

async fn apply_change(
    chat: &ChatService,
    outlets: Option<&Outlets>,
    reference: &str,
    change: Change,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Changed, RequestError> {
    if let Some(key) = &change.idempotency_key
        && let Some(seen) = chat.store.request_event_by_key(key).await?
    {
        let (row, events) = read(chat, reference, scope).await?;
        if seen.request_id != row.id {
            return Err(RequestError::Invalid(format!(
                "idempotency key {key:?} was used for another request"
            )));
        }
        return Ok(Changed {
            request: row,
            events,
            relayed: false,
            duplicate: true,
        });
    }
    let (row, _) = read(chat, reference, scope).await?;
    let k = current(&chat.knowledge);
    let (after, events) = lifecycle::apply(&row, &change, &Terms::for_request(&k, &row), now)?;
    let outbox = request_hook::rows(&chat.request_hooks, &k, HookEvent::Updated, &after, &events);
    let told = !outbox.is_empty();
    let update = RequestUpdate {
        before: row.clone(),
        after: after.clone(),
        events,
        outbox,
    };
    let mut relayed = false;
    match change.to {
        Some(to) if to != RequestStatus::Open => {
            let conversation = chat
                .store
                .conversation(&row.conversation_id)
                .await?
                .ok_or_else(|| {
                    RequestError::Invalid(format!("{reference}'s conversation is gone"))
                })?;
            let service = k.services.get(&row.service_id);
            let tz = k.coverage_for(row.client_code.as_deref(), service).timezone;
            let notice = RequestNotice {
                reference: row.reference.clone(),
                service: service
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| row.service_id.clone()),
                team: service
                    .map(|s| s.team.clone())
                    .unwrap_or_else(|| k.organisation.short_name.clone()),
                status: to,
                resumed: row.status == RequestStatus::WaitingForClient.as_str(),
                note: change.note.clone(),
                due: Some(format_local(tz, from_millis(after.due_at))),
            };
            let mut attached = vec![Record::RequestUpdate(Box::new(update))];
            if let Some(charge) = completion_charge(&k, &row, to) {
                attached.push(charge);
            }
            chat.handle_with(
                Inbound {
                    channel: conversation.channel.clone(),
                    session_key: conversation.session_key.clone(),
                    identity: None,
                    input: Input::Request(notice),
                    // The turn's own key: one turn per version of the request.
                    channel_message_id: Some(format!(
                        "request:{}:{}",
                        row.reference, after.updated_at
                    )),
                    now,
                },
                attached,
            )
            .await?;
            if let Some(outlets) = outlets {
                relayed = deliver_now(chat, outlets, &row).await;
            }
        }
        _ => chat.store.update_request(&update).await?,
    }
    if told {
        // The case system's webhook leaves now rather than at the worker's next poll.
        chat.outbox_wake.notify_one();
    }
    let (request, events) = read(chat, reference, scope).await?;
    Ok(Changed {
        request,
        events,
        relayed,
        duplicate: false,
    })
}

/// The recharge of a request's first completion, when the rate card prices it (see the
/// module's comment): recorded with the turn, so under the turn's client (the request's).
fn completion_charge(k: &Knowledge, row: &RequestRow, to: RequestStatus) -> Option<Record> {
    if to != RequestStatus::Done || row.first_done_at.is_some() {
        return None;
    }
    let interaction_type =
        k.completed_request_charge(row.client_code.as_deref(), &row.service_id)?;
    Some(Record::Ledger {
        interaction_type,
        reference: Some(row.reference.clone()),
    })
}

/// Deliver what the change queued for the client now; what fails stays with the outbox worker.
async fn deliver_now(chat: &ChatService, outlets: &Outlets, row: &RequestRow) -> bool {
    let courier = Courier::new(chat.store.clone(), outlets.clone(), chat.escalation.clone());
    let prefix = request_relay_prefix(&row.reference, &row.conversation_id);
    let due = Utc::now().timestamp_millis();
    let pending = match chat.store.outbox_by_key_prefix(&prefix).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(reference = %row.reference, error = %e, "request notice left to the outbox worker");
            return false;
        }
    };
    let pending: Vec<_> = pending
        .into_iter()
        .filter(|r| r.status == "pending" && r.next_attempt_at <= due)
        .collect();
    let mut relayed = !pending.is_empty();
    for r in pending {
        match courier.deliver_now(&r.idempotency_key, Utc::now()).await {
            Ok(true) => {}
            Ok(false) => relayed = false,
            Err(e) => {
                tracing::warn!(key = %r.idempotency_key, error = %e, "request notice left to the outbox worker");
                relayed = false;
            }
        }
    }
    relayed
}
