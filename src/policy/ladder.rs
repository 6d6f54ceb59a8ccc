//! The re-ping ladder: who is on duty at each rung, the outbox rows that open a rung (the first
//! route's ping, or every route's when urgent), and when the next rung is due.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::calendar::add_coverage_minutes;
use super::routes::{StoredRoute, routes_of};
use crate::config::EscalationSettings;
use crate::knowledge::{Client, Knowledge, Manager};
use crate::store::NewPing;

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

/// When an unacknowledged escalation raised at `now` pings again: urgent ones after a few
/// wall-clock minutes (the fast lane); the rest after minutes of the client's coverage time,
/// so nobody is chased at night for something that can wait until the morning.
pub fn next_ping_at(
    k: &Knowledge,
    client: Option<&str>,
    urgent: bool,
    now: DateTime<Utc>,
    settings: &EscalationSettings,
) -> DateTime<Utc> {
    if urgent {
        now + Duration::minutes(i64::from(settings.urgent_reping_minutes))
    } else {
        add_coverage_minutes(k.coverage_for(client, None), now, settings.reping_minutes)
    }
}
