//! What a turn writes about service requests beyond the step's effects: the client's answer to
//! the SSO's question as a change of their request (it needs the request as stored, so the
//! service reads it before the commit), and a new request as the case system first sees it.

use chrono::{DateTime, Utc};

use super::Event;
use crate::domain::time::millis;
use crate::domain::{RequestSource, RequestStatus};
use crate::knowledge::Knowledge;
use crate::policy::lifecycle::{self, Change, Terms};
use crate::policy::request_hook::{self, HookEvent, RequestHook};
use crate::store::{Record, RequestRow, RequestUpdate, Store, StoreError};

/// The client's answer to the SSO's question, as a change of their request: attached to it
/// as a `client_reply` event, and — when the request is still waiting for them — moving it
/// back to `in_progress`, which stops their clock and restarts the SSO's. Nothing when the
/// request is gone (the answer stays in the conversation's log).
pub(super) async fn client_answer(
    store: &dyn Store,
    hooks: &[RequestHook],
    k: &Knowledge,
    reference: &str,
    question: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Option<Record>, StoreError> {
    let Some(row) = store.request_by_reference(reference).await? else {
        return Ok(None);
    };
    let waiting = row.status == RequestStatus::WaitingForClient.as_str();
    let change = Change {
        to: waiting.then_some(RequestStatus::InProgress),
        note: Some(format!("Asked: {question}\nAnswer: {text}")),
        client_reply: true,
        actor: "client".into(),
        source: Some(RequestSource::Chat),
        ..Change::default()
    };
    let Ok((after, events)) = lifecycle::apply(&row, &change, &Terms::for_request(k, &row), now)
    else {
        return Ok(None);
    };
    let outbox = request_hook::rows(hooks, k, HookEvent::Updated, &after, &events);
    Ok(Some(Record::RequestUpdate(Box::new(RequestUpdate {
        before: row,
        after,
        events,
        outbox,
    }))))
}

/// A request about to be opened, as the case system will first see it.
pub(super) fn new_request_row(
    reference: &str,
    service: &str,
    priority: &str,
    inputs: &str,
    event: &Event,
    due_at: DateTime<Utc>,
    off_hours: bool,
) -> RequestRow {
    let now = millis(event.now);
    RequestRow {
        id: 0,
        reference: reference.to_string(),
        conversation_id: String::new(),
        person_id: None,
        client_code: event.user.client.clone(),
        service_id: service.to_string(),
        status: RequestStatus::Open.as_str().to_string(),
        priority: priority.to_string(),
        inputs: inputs.to_string(),
        opened_at: now,
        due_at: millis(due_at),
        closed_at: None,
        off_hours,
        updated_at: now,
        ..RequestRow::default()
    }
}
