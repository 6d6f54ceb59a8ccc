//! What the SSO's case system is told when a request is created or changes: one outbox row per
//! configured receiver and event, written in the same transaction as the change, so a crash
//! between the change and the delivery loses nothing, and keyed by the request's version so
//! nothing is told twice.
//!
//! The body is rendered here, when the row is written — the default body, or the receiver's
//! template ([`BodyTemplate`]) with the placeholders of [`PLACEHOLDERS`] — so every retry sends
//! the same bytes. The outbox worker (`escalation::request_hooks`) signs and delivers them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::body_template::BodyTemplate;
use super::calendar::format_local;
use crate::config::{ConfigError, RequestWebhook};
use crate::domain::time::from_millis;
use crate::knowledge::Knowledge;
use crate::store::{NewPing, NewRequestEvent, RequestRow};

/// The outbox kind of a case-system notification (the outbox worker delivers it).
pub const KIND: &str = "request_hook";

/// The placeholders a template may use (the README lists what each holds).
pub const PLACEHOLDERS: &[&str] = &[
    "event",
    "idempotency_key",
    "reference",
    "client",
    "client_name",
    "service",
    "service_name",
    "team",
    "status",
    "priority",
    "opened_at",
    "due_at",
    "due_local",
    "updated_at",
    "closed_at",
    "client_due_at",
    "assignee",
    "external_id",
    "actor",
    "source",
    "note",
    "change",
    "inputs",
    "inputs_text",
    "link",
];

/// One receiver of request events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestHook {
    /// Names the receiver in the rows' keys and routes (the delivery finds its headers by it).
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The events it wants; empty: all.
    pub events: Vec<HookEvent>,
    /// The body template; `None`: the default body.
    pub template: Option<BodyTemplate>,
    /// The service's public base URL, for the back office link (`None`: the link is a path).
    pub public_url: Option<String>,
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

    pub fn parse(s: &str) -> Option<HookEvent> {
        [HookEvent::Created, HookEvent::Updated]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

/// Where a row goes, as stored in its `route`: the receiver's name, its URL and the event (the
/// body may not say which: a case system's template need not carry it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRoute {
    pub hook: String,
    pub url: String,
    pub event: String,
}

impl RequestHook {
    /// The receiver `w` as configured, its template compiled and tried on a sample request:
    /// an unknown placeholder, or a body that is not JSON, is an error naming its key.
    pub fn from_config(
        w: &RequestWebhook,
        public_url: Option<&str>,
    ) -> Result<RequestHook, ConfigError> {
        let bad = |message: String| ConfigError::Invalid {
            name: format!(
                "{}.template ({})",
                w.key,
                w.template_source.as_deref().unwrap_or("")
            ),
            message,
        };
        let template = w
            .template
            .as_deref()
            .map(|text| BodyTemplate::compile(text, PLACEHOLDERS))
            .transpose()
            .map_err(bad)?;
        let hook = RequestHook {
            name: w.name.clone(),
            url: w.url.clone(),
            events: w
                .events
                .iter()
                .filter_map(|e| HookEvent::parse(e))
                .collect(),
            template,
            public_url: public_url.map(str::to_string),
        };
        let (row, happened) = sample();
        for event in [HookEvent::Created, HookEvent::Updated] {
            let body = hook.body(event, "sample-key", &row, &happened, None);
            if let Err(e) = serde_json::from_str::<Value>(&body) {
                return Err(bad(format!(
                    "does not render to JSON with a sample request ({e}); it rendered:\n{body}"
                )));
            }
        }
        Ok(hook)
    }

    pub fn wants(&self, event: HookEvent) -> bool {
        self.events.is_empty() || self.events.contains(&event)
    }

    /// The body this receiver gets for `event` of `r`.
    pub fn body(
        &self,
        event: HookEvent,
        key: &str,
        r: &RequestRow,
        happened: &[NewRequestEvent],
        k: Option<&Knowledge>,
    ) -> String {
        let values = values(event, key, r, happened, k, self.public_url.as_deref());
        match &self.template {
            Some(t) => t.render(&values),
            None => default_body(&values, happened).to_string(),
        }
    }
}

/// The outbox rows telling every receiver that wants `event` about request `r` (its version
/// `r.updated_at` keys them: a replayed write adds nothing).
pub fn rows(
    hooks: &[RequestHook],
    k: &Knowledge,
    event: HookEvent,
    r: &RequestRow,
    happened: &[NewRequestEvent],
) -> Vec<(String, NewPing)> {
    hooks
        .iter()
        .filter(|hook| hook.wants(event))
        .map(|hook| {
            let key = format!(
                "request-{}-hook-{}-{}-{}",
                r.reference,
                hook.name,
                event.as_str(),
                r.updated_at
            );
            let route = HookRoute {
                hook: hook.name.clone(),
                url: hook.url.clone(),
                event: event.as_str().to_string(),
            };
            let payload = hook.body(event, &key, r, happened, Some(k));
            (
                key,
                NewPing {
                    kind: KIND.to_string(),
                    route: serde_json::to_string(&route).unwrap_or_default(),
                    payload,
                },
            )
        })
        .collect()
}

/// The default body: the event, the request as the API shows it, and what happened.
fn default_body(v: &BTreeMap<&str, Value>, happened: &[NewRequestEvent]) -> Value {
    let get = |name: &str| v.get(name).cloned().unwrap_or(Value::Null);
    let mut request = serde_json::Map::new();
    for name in [
        "reference",
        "client",
        "client_name",
        "service",
        "service_name",
        "team",
        "status",
        "priority",
        "inputs",
        "assignee",
        "external_id",
        "opened_at",
        "due_at",
        "due_local",
        "updated_at",
        "closed_at",
        "client_due_at",
        "link",
    ] {
        request.insert(name.to_string(), get(name));
    }
    json!({
        "event": get("event"),
        "idempotency_key": get("idempotency_key"),
        "request": request,
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

/// Every placeholder's value for `event` of `r`. Without knowledge (checking a template at
/// start) the names are `null`.
fn values(
    event: HookEvent,
    key: &str,
    r: &RequestRow,
    happened: &[NewRequestEvent],
    k: Option<&Knowledge>,
    public_url: Option<&str>,
) -> BTreeMap<&'static str, Value> {
    let inputs: Value = serde_json::from_str(&r.inputs).unwrap_or_else(|_| json!({}));
    let service = k.and_then(|k| k.services.get(&r.service_id));
    let client = k.and_then(|k| r.client_code.as_deref().and_then(|c| k.clients.get(c)));
    let tz = k.map(|k| k.coverage_for(r.client_code.as_deref(), service).timezone);
    let time = |ms: i64| json!(from_millis(ms).to_rfc3339());
    // In the form's order when the service is known, then any others.
    let inputs_text = inputs
        .as_object()
        .map(|o| {
            let mut names: Vec<&String> = Vec::new();
            for spec in service.map(|s| s.inputs.as_slice()).unwrap_or_default() {
                names.extend(o.keys().find(|n| **n == spec.name));
            }
            let rest: Vec<&String> = o.keys().filter(|n| !names.contains(n)).collect();
            names.extend(rest);
            names
                .into_iter()
                .map(|name| {
                    let value = &o[name.as_str()];
                    let value = value
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or(value.to_string());
                    format!("{}: {value}", label_of(name))
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let (actor, source) = match happened.last() {
        Some(e) => (e.actor.clone(), e.source.clone()),
        None => ("client".to_string(), "chat".to_string()),
    };
    let note = happened
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "status" | "note" | "client_reply"))
        .find_map(|e| e.note.clone());
    let link = format!(
        "{}/admin/requests/{}",
        public_url.unwrap_or_default(),
        r.reference
    );
    let mut v: BTreeMap<&'static str, Value> = BTreeMap::new();
    v.insert("event", json!(event.as_str()));
    v.insert("idempotency_key", json!(key));
    v.insert("reference", json!(r.reference));
    v.insert("client", json!(r.client_code));
    v.insert("client_name", json!(client.map(|c| c.name.clone())));
    v.insert("service", json!(r.service_id));
    v.insert("service_name", json!(service.map(|s| s.name.clone())));
    v.insert("team", json!(service.map(|s| s.team.clone())));
    v.insert("status", json!(r.status));
    v.insert("priority", json!(r.priority));
    v.insert("opened_at", time(r.opened_at));
    v.insert("due_at", time(r.due_at));
    v.insert(
        "due_local",
        json!(tz.map(|tz| format_local(tz, from_millis(r.due_at)))),
    );
    v.insert("updated_at", time(r.updated_at));
    v.insert("closed_at", r.closed_at.map(time).unwrap_or(Value::Null));
    v.insert(
        "client_due_at",
        r.client_due_at.map(time).unwrap_or(Value::Null),
    );
    v.insert("assignee", json!(r.assignee));
    v.insert("external_id", json!(r.external_id));
    v.insert("actor", json!(actor));
    v.insert("source", json!(source));
    v.insert("note", json!(note));
    v.insert("change", json!(change_text(event, happened)));
    v.insert("inputs", inputs);
    v.insert("inputs_text", json!(inputs_text));
    v.insert("link", json!(link));
    debug_assert!(PLACEHOLDERS.iter().all(|p| v.contains_key(p)));
    v
}

/// What happened, as lines a person reads in the case system.
fn change_text(event: HookEvent, happened: &[NewRequestEvent]) -> String {
    if event == HookEvent::Created || happened.is_empty() {
        return "Opened by the client in chat".into();
    }
    let mut lines = Vec::new();
    for e in happened {
        let by = format!(" (by {}, {})", e.actor, e.source);
        match e.kind.as_str() {
            "status" | "client_reply" => {
                if let (Some(from), Some(to)) = (&e.from_status, &e.to_status) {
                    lines.push(format!("Status: {from} → {to}{by}"));
                } else {
                    lines.push(format!("The client answered{by}"));
                }
                lines.extend(e.note.clone());
            }
            "note" => {
                lines.push(format!("Note{by}"));
                lines.extend(e.note.clone());
            }
            "assigned" => lines.push(match e.note.as_deref() {
                Some("unassigned") | None => format!("Unassigned{by}"),
                Some(who) => format!("Assigned to {who}{by}"),
            }),
            "linked" => lines.push(format!(
                "Linked to {} in the case system{by}",
                e.note.as_deref().unwrap_or("nothing")
            )),
            other => lines.push(format!("{other}{by}")),
        }
    }
    lines.join("\n")
}

/// `vendor_name` → `Vendor name`.
fn label_of(name: &str) -> String {
    let s = name.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// A request whose every text field is awkward (quotes, newlines, a backslash, non-ASCII), for
/// trying a template at start.
fn sample() -> (RequestRow, Vec<NewRequestEvent>) {
    let awkward = "\"Quoted\" \\ back\nnew line — ünïcødé 🚀";
    let row = RequestRow {
        reference: "REQ-1001".into(),
        client_code: Some("ACME".into()),
        service_id: "vendor-setup".into(),
        status: "in_progress".into(),
        priority: "normal".into(),
        inputs: json!({"vendor_name": awkward, "amount": 12.5}).to_string(),
        opened_at: 1_767_225_600_000,
        due_at: 1_767_312_000_000,
        updated_at: 1_767_229_200_000,
        assignee: Some(awkward.into()),
        external_id: Some("SD-42".into()),
        ..RequestRow::default()
    };
    let happened = vec![NewRequestEvent {
        kind: "status".into(),
        from_status: Some("open".into()),
        to_status: Some("in_progress".into()),
        actor: awkward.into(),
        source: "backoffice".into(),
        note: Some(awkward.into()),
        idempotency_key: None,
    }];
    (row, happened)
}

#[cfg(test)]
mod tests;
