//! What a ping says: composed at delivery time from the store, so it carries the escalation's
//! id, the full request with its inputs, and the transcript exactly as committed; as JSON for a
//! webhook, and as plain lines for a chat message.

use serde_json::{Value, json};

use super::calendar::format_local;
use super::ladder::PingHeader;
use crate::domain::time::from_millis;
use crate::knowledge::Knowledge;
use crate::store::{EscalationRow, RequestRow};

/// Whether a composed message is an escalation ping (it carries Acknowledge/Resolve buttons).
pub fn is_escalation(ping: &Value) -> bool {
    ping["event"]
        .as_str()
        .is_none_or(|e| e == "escalation.ping")
}

/// Everything the message is built from.
pub struct PingContext<'a> {
    pub escalation: &'a EscalationRow,
    pub header: &'a PingHeader,
    pub manager: &'a str,
    pub idempotency_key: &'a str,
    pub user_name: Option<String>,
    pub channel: String,
    pub request: Option<RequestRow>,
    /// (from, text) of the last turns, oldest first.
    pub transcript: Vec<(String, String)>,
}

/// The ping as JSON: what a webhook receives, and what the chat renderings are made from.
pub fn compose(k: &Knowledge, cx: &PingContext<'_>) -> Value {
    let e = cx.escalation;
    let client = e.client_code.as_deref().and_then(|c| k.clients.get(c));
    let tz = client
        .map(|c| c.timezone)
        .unwrap_or(k.organisation.timezone);
    let manager = client
        .and_then(|c| c.managers.iter().find(|m| m.email == cx.manager))
        .map(|m| json!({"name": m.name, "email": m.email, "role": m.role}));
    let request = cx.request.as_ref().map(|r| {
        let service = k.services.get(&r.service_id);
        json!({
            "reference": r.reference,
            "service": r.service_id,
            "service_name": service.map(|s| s.name.clone()),
            "status": r.status,
            "priority": r.priority,
            "inputs": serde_json::from_str::<Value>(&r.inputs).unwrap_or(Value::Null),
            "commitment": service.map(|s| json!({
                "team": s.team,
                "turnaround": s.turnaround.label(),
                "due_at": from_millis(r.due_at).to_rfc3339(),
                "due_local": format_local(tz, from_millis(r.due_at)),
            })),
        })
    });
    let id = e.id;
    json!({
        "event": "escalation.ping",
        "idempotency_key": cx.idempotency_key,
        "escalation_id": id,
        "level": cx.header.level,
        "reminder": cx.header.reminder,
        "priority": e.priority,
        "urgent": e.priority == "urgent",
        "reason": e.reason,
        "client": {
            "code": e.client_code,
            "name": client.map(|c| c.name.clone()),
        },
        "user": {"name": cx.user_name},
        "channel": cx.channel,
        "conversation": e.conversation_id,
        "request_reference": e.request_reference,
        "request": request,
        "created_at": from_millis(e.created_at).to_rfc3339(),
        "respond_by": from_millis(e.due_at).to_rfc3339(),
        "respond_by_local": format_local(tz, from_millis(e.due_at)),
        "off_hours": e.off_hours,
        "manager": manager,
        "transcript": cx.transcript.iter().map(|(from, text)| json!({"from": from, "text": text})).collect::<Vec<_>>(),
        "draft": draft_json(e),
        "actions": {
            "approve": e.draft.as_ref().map(|_| format!("POST /api/v1/escalations/{id}/approve")),
            "acknowledge": format!("POST /api/v1/escalations/{id}/ack"),
            "reply": format!("POST /api/v1/escalations/{id}/reply"),
            "resolve": format!("POST /api/v1/escalations/{id}/resolve"),
            "chat": format!("/reply {id} <text> · /ack {id} · /resolve {id}"),
        },
    })
}

/// A shadow-mode escalation's draft as the manager reads it: what the bot understood, how sure
/// it was, and what it would have said.
fn draft_json(e: &EscalationRow) -> Value {
    // Read as JSON (the dialogue's `Draft`): the policy layer does not import the dialogue.
    let Some(draft) = e
        .draft
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
    else {
        return Value::Null;
    };
    let replies = draft["replies"].as_array().cloned().unwrap_or_default();
    json!({
        "question": draft["question"],
        "intent": draft["intent"],
        "confidence": draft["confidence"],
        "outcome": draft["outcome"],
        "text": replies.iter().filter_map(|r| r["text"].as_str()).collect::<Vec<_>>().join("\n\n"),
        "buttons": replies.iter()
            .flat_map(|r| r["buttons"].as_array().cloned().unwrap_or_default())
            .filter_map(|b| b["label"].as_str().map(str::to_string))
            .collect::<Vec<_>>(),
    })
}

/// A ping's buttons as (label, data): Approve first when it carries a draft; none for an alert.
pub fn buttons(ping: &Value) -> Vec<(&'static str, String)> {
    if !is_escalation(ping) {
        return Vec::new();
    }
    let id = ping["escalation_id"].as_i64().unwrap_or_default();
    let mut out = Vec::new();
    if ping["draft"].is_object() {
        out.push(("Approve draft", format!("esc:approve:{id}")));
    }
    out.push(("Acknowledge", format!("esc:ack:{id}")));
    out.push(("Resolve", format!("esc:resolve:{id}")));
    out
}

/// The ping as lines of plain text for a chat message (each channel escapes them its own way).
pub fn text_lines(ping: &Value) -> Vec<String> {
    let s = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
    if !is_escalation(ping) {
        // Alerts carry their own text.
        return s(&ping["text"]).lines().map(str::to_string).collect();
    }
    let id = ping["escalation_id"].as_i64().unwrap_or_default();
    let mut lines = Vec::new();
    let client = s(&ping["client"]["name"]);
    let code = s(&ping["client"]["code"]);
    let head = if ping["urgent"].as_bool().unwrap_or(false) {
        "🚨 URGENT escalation"
    } else {
        "Escalation"
    };
    let again = if ping["reminder"].as_bool().unwrap_or(false) {
        " (reminder: not yet acknowledged)"
    } else {
        ""
    };
    lines.push(format!("{head} #{id} from {client} ({code}){again}"));
    lines.push(format!(
        "{} via {} — {}",
        ping["user"]["name"].as_str().unwrap_or("An anonymous user"),
        s(&ping["channel"]),
        s(&ping["reason"])
    ));
    if let Some(r) = ping["request"].as_object() {
        let due = r
            .get("commitment")
            .and_then(|c| c.get("due_local"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        lines.push(format!(
            "Request {} {} — due {due}",
            r.get("reference")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            r.get("service_name")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ));
        if let Some(inputs) = r.get("inputs").and_then(Value::as_object) {
            for (name, value) in inputs {
                let value = value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or(value.to_string());
                lines.push(format!("  • {name}: {value}"));
            }
        }
    }
    lines.push(format!("Respond by {}", s(&ping["respond_by_local"])));
    if let Some(turns) = ping["transcript"].as_array() {
        lines.push("Last messages:".into());
        for t in turns {
            let text: String = s(&t["text"]).chars().take(300).collect();
            lines.push(format!("  {}: {}", s(&t["from"]), text.replace('\n', " ")));
        }
    }
    if let Some(d) = ping["draft"].as_object() {
        let confidence = d.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
        lines.push(format!(
            "Bot's draft (shadow mode; {}, {:.0}% sure) — the client has not seen it:",
            d.get("intent")
                .and_then(Value::as_str)
                .unwrap_or("no intent"),
            confidence * 100.0
        ));
        let text = d.get("text").and_then(Value::as_str).unwrap_or_default();
        for line in text.chars().take(1500).collect::<String>().lines() {
            lines.push(format!("  | {line}"));
        }
        lines.push(format!(
            "Approve: /approve {id} · edit: /approve {id} <your text> · or answer yourself: /reply {id} <text>"
        ));
        return lines;
    }
    lines.push(format!(
        "Reply to this message or: /reply {id} <text> · /ack {id} · /resolve {id}"
    ));
    lines
}
