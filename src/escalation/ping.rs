//! What a ping is: where it goes (a manager's contact routes, in failover order) and what it
//! says (composed at delivery time from the store, so it carries the escalation's id, the full
//! request with its inputs, and the transcript exactly as committed).

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::dialogue::calendar::format_local;
use crate::knowledge::{Client, Knowledge, Manager};
use crate::store::{EscalationRow, NewPing, RequestRow};

/// One way to reach a manager.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Route {
    /// A JSON POST, HMAC-signed: for a Slack/Teams bridge or a ticketing tool.
    Webhook {
        url: String,
    },
    Telegram {
        chat_id: i64,
    },
    DiscordUser {
        user_id: String,
    },
    DiscordChannel {
        channel_id: String,
    },
    Email {
        to: String,
    },
}

impl Route {
    /// The channel whose outlet carries this route, and the manager's address on it.
    pub fn address(&self) -> (crate::outlet::Channel, String) {
        match self {
            Route::Webhook { url } => ("webhook", url.clone()),
            Route::Telegram { chat_id } => ("telegram", chat_id.to_string()),
            Route::DiscordUser { user_id } => ("discord", format!("user:{user_id}")),
            Route::DiscordChannel { channel_id } => ("discord", format!("channel:{channel_id}")),
            Route::Email { to } => ("email", to.clone()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Route::Webhook { .. } => "webhook",
            Route::Telegram { .. } => "telegram",
            Route::DiscordUser { .. } | Route::DiscordChannel { .. } => "discord",
            Route::Email { .. } => "email",
        }
    }
}

/// A route as stored in an outbox row: the route, whose it is, and its place in the manager's
/// failover order (so a permanent failure knows which route comes next).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRoute {
    #[serde(flatten)]
    pub route: Route,
    #[serde(default)]
    pub manager: String,
    #[serde(default)]
    pub index: usize,
}

/// The outbox row's own payload: which rung of the ladder this ping is. The message itself is
/// composed when it is delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingHeader {
    #[serde(default)]
    pub level: i64,
    /// A repeat to the same manager because nobody acknowledged.
    #[serde(default)]
    pub reminder: bool,
    /// A message that is not about an escalation (a SPA renewal alert): composed when it was
    /// queued and delivered as it is, with its own `event` name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Value>,
    /// Sent on all of the manager's routes at once (an urgent escalation): a failed route
    /// has no next route to fall over to, the others are already on their way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_routes: bool,
}

/// The manager's routes in the order they are tried: the manager's own `route_order` first
/// (channel names, e.g. `["discord", "telegram", "webhook"]`), then the rest in the default
/// order. Email only when there is nothing else: this build sends no email, so it is the route
/// that surfaces "unreachable" loudly.
pub fn routes_of(manager: &Manager) -> Vec<Route> {
    let mut routes = default_routes_of(manager);
    if !manager.route_order.is_empty() {
        let rank = |r: &Route| {
            manager
                .route_order
                .iter()
                .position(|name| name == r.kind())
                .unwrap_or(usize::MAX)
        };
        // Stable: routes of one channel (a Discord DM and a Discord channel) keep their order.
        routes.sort_by_key(rank);
    }
    routes
}

/// The order used when a manager states none: webhook, Telegram, Discord (DM, then channel).
fn default_routes_of(manager: &Manager) -> Vec<Route> {
    let mut routes = Vec::new();
    if let Some(url) = &manager.webhook {
        routes.push(Route::Webhook { url: url.clone() });
    }
    if let Some(chat_id) = manager.telegram_chat {
        routes.push(Route::Telegram { chat_id });
    }
    if let Some(user_id) = &manager.discord_user {
        routes.push(Route::DiscordUser {
            user_id: user_id.clone(),
        });
    }
    if let Some(channel_id) = &manager.discord_channel {
        routes.push(Route::DiscordChannel {
            channel_id: channel_id.clone(),
        });
    }
    if routes.is_empty() {
        routes.push(Route::Email {
            to: manager.email.clone(),
        });
    }
    routes
}

/// The idempotency key of the `n`th route's ping at a ladder level. Stable across retries and
/// restarts: receivers that de-duplicate on it see each ping once.
pub fn key(escalation_id: i64, level: i64, n: usize) -> String {
    format!("escalation-{escalation_id}-ping-{level}-{n}")
}

/// The ping for route `n` of `manager` at `level`, or `None` past the last route.
pub fn ping_for(manager: &Manager, level: i64, reminder: bool, n: usize) -> Option<NewPing> {
    let route = routes_of(manager).into_iter().nth(n)?;
    let stored = StoredRoute {
        manager: manager.email.clone(),
        index: n,
        route,
    };
    Some(NewPing {
        kind: stored.route.kind().to_string(),
        route: serde_json::to_string(&stored).unwrap_or_default(),
        payload: serde_json::to_string(&PingHeader {
            level,
            reminder,
            alert: None,
            all_routes: false,
        })
        .unwrap_or_default(),
    })
}

/// The pings of an urgent escalation: one per route of `manager`, all at once (route `n`'s ping
/// is the `n`th, so its key is [`key`]`(id, level, n)`).
pub fn pings_on_all_routes(manager: &Manager, level: i64, reminder: bool) -> Vec<NewPing> {
    routes_of(manager)
        .into_iter()
        .enumerate()
        .map(|(n, route)| {
            let stored = StoredRoute {
                manager: manager.email.clone(),
                index: n,
                route,
            };
            NewPing {
                kind: stored.route.kind().to_string(),
                route: serde_json::to_string(&stored).unwrap_or_default(),
                payload: serde_json::to_string(&PingHeader {
                    level,
                    reminder,
                    alert: None,
                    all_routes: true,
                })
                .unwrap_or_default(),
            }
        })
        .collect()
}

/// The pings that open a ladder level: the first route's, or every route's when urgent.
pub fn pings_for_level(
    manager: &Manager,
    level: i64,
    reminder: bool,
    urgent: bool,
) -> Vec<NewPing> {
    if urgent {
        pings_on_all_routes(manager, level, reminder)
    } else {
        ping_for(manager, level, reminder, 0).into_iter().collect()
    }
}

/// An alert (not an escalation) for route `n` of `manager`, or `None` past the last route.
pub fn alert_for(manager: &Manager, n: usize, alert: &Value) -> Option<NewPing> {
    let route = routes_of(manager).into_iter().nth(n)?;
    let stored = StoredRoute {
        manager: manager.email.clone(),
        index: n,
        route,
    };
    Some(NewPing {
        kind: stored.route.kind().to_string(),
        route: serde_json::to_string(&stored).unwrap_or_default(),
        payload: serde_json::to_string(&PingHeader {
            level: 0,
            reminder: false,
            alert: Some(alert.clone()),
            all_routes: false,
        })
        .unwrap_or_default(),
    })
}

/// The idempotency key of route `n` of an alert whose keys start with `base`.
pub fn alert_key(base: &str, n: usize) -> String {
    format!("{base}-route-{n}")
}

/// Whether a composed message is an escalation ping (it carries Acknowledge/Resolve buttons).
pub fn is_escalation(ping: &Value) -> bool {
    ping["event"]
        .as_str()
        .is_none_or(|e| e == "escalation.ping")
}

/// Who is on duty at a ladder level: 0 the primary, 1 the primary again (reminder), 2 the
/// backup, 3 the backup again; `None` past the top.
pub fn manager_at_level(client: &Client, level: i64) -> Option<(&Manager, bool)> {
    let primary = client
        .managers
        .iter()
        .find(|m| m.role == "primary")
        .or(client.managers.first())?;
    let backup = client.managers.iter().find(|m| m.role == "backup");
    match level {
        0 => Some((primary, false)),
        1 => Some((primary, true)),
        2 => backup.map(|b| (b, false)),
        3 => backup.map(|b| (b, true)),
        _ => None,
    }
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
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
        "actions": {
            "acknowledge": format!("POST /api/v1/escalations/{id}/ack"),
            "reply": format!("POST /api/v1/escalations/{id}/reply"),
            "resolve": format!("POST /api/v1/escalations/{id}/resolve"),
            "chat": format!("/reply {id} <text> · /ack {id} · /resolve {id}"),
        },
    })
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
    lines.push(format!(
        "Reply to this message or: /reply {id} <text> · /ack {id} · /resolve {id}"
    ));
    lines
}
