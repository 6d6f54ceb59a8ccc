//! What the SSO's case system is told when a request is created or changes: one outbox row per
//! configured receiver and event, written in the same transaction as the change, so a crash
//! between the change and the delivery loses nothing, and keyed by the event so nothing is
//! told twice.

use serde_json::{Value, json};

use crate::domain::time::from_millis;
use crate::store::{NewPing, NewRequestEvent, RequestRow};

/// The outbox kind of a case-system notification (the outbox worker delivers it).
pub const KIND: &str = "request_hook";

/// One receiver of request events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestHook {
    /// Where to POST.
    pub url: String,
    /// A JSON body template with `{{placeholders}}` (see the README); `None`: the default body.
    pub template: Option<String>,
}

/// `request.created` or `request.updated`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookEvent {
    Created,
    Updated,
}

impl HookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::Created => "request.created",
            HookEvent::Updated => "request.updated",
        }
    }
}

/// The default body: the event, the request as the API shows it, and what happened.
pub fn default_body(event: HookEvent, r: &RequestRow, happened: &[NewRequestEvent]) -> Value {
    let inputs: Value = serde_json::from_str(&r.inputs).unwrap_or_else(|_| json!({}));
    json!({
        "event": event.as_str(),
        "request": {
            "reference": r.reference,
            "client": r.client_code,
            "service": r.service_id,
            "status": r.status,
            "priority": r.priority,
            "inputs": inputs,
            "assignee": r.assignee,
            "external_id": r.external_id,
            "opened_at": from_millis(r.opened_at).to_rfc3339(),
            "due_at": from_millis(r.due_at).to_rfc3339(),
            "updated_at": from_millis(r.updated_at).to_rfc3339(),
        },
        "changes": happened.iter().map(|e| json!({
            "kind": e.kind,
            "from": e.from_status,
            "to": e.to_status,
            "actor": e.actor,
            "source": e.source,
            "note": e.note,
        })).collect::<Vec<_>>(),
    })
}

/// The outbox rows telling every receiver about `event` of request `r` (its version
/// `r.updated_at` keys them: a replayed write adds nothing).
pub fn rows(
    hooks: &[RequestHook],
    event: HookEvent,
    r: &RequestRow,
    happened: &[NewRequestEvent],
) -> Vec<(String, NewPing)> {
    hooks
        .iter()
        .enumerate()
        .map(|(n, hook)| {
            let body = default_body(event, r, happened);
            (
                format!(
                    "request-{}-hook-{n}-{}-{}",
                    r.reference,
                    event.as_str(),
                    r.updated_at
                ),
                NewPing {
                    kind: KIND.to_string(),
                    route: json!({ "url": hook.url, "template": hook.template }).to_string(),
                    payload: body.to_string(),
                },
            )
        })
        .collect()
}
