//! SPA renewal alerts: agreements whose renewal-notice date is near, and one alert per SPA and
//! renewal to the client's primary account manager.
//!
//! - `notice_date = spa.end − renewal_notice_days` (the last day to give notice;
//!   [`crate::knowledge::Spa::renewal_notice_date`]).
//! - `days_left = notice_date − today`, `today` being the date in the client's time zone.
//! - A SPA is listed when `days_left ≤ horizon` (120 days by default) and the agreement has
//!   not ended (`today ≤ spa.end`): a notice date already passed stays listed, as overdue
//!   (`days_left < 0`), until the agreement ends.
//!
//! Delivery goes through the escalation outbox and its worker (retries with backoff, failover
//! to the manager's next route, a signed webhook, Telegram or Discord text). The alert's row has
//! no escalation; its payload carries the message composed when it was queued. Its idempotency
//! key `spa-renewal-{client}-{spa end}-route-{n}` is the same every day, so queueing it again is
//! a no-op: each manager hears about a renewal once (a new end date is a new renewal).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use crate::knowledge::{Client, Knowledge};
use crate::policy::ladder::{alert_for, alert_key, manager_at_level};
use crate::store::{Outbox, Store, StoreError};

/// Renewal-notice dates within this many days are listed and alerted.
pub const HORIZON_DAYS: i64 = 120;

#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ManagerRef {
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Renewal {
    pub client: String,
    pub client_name: String,
    pub spa_start: NaiveDate,
    pub spa_end: NaiveDate,
    pub renewal_notice_days: u32,
    /// The last day to give renewal notice.
    pub notice_date: NaiveDate,
    /// Days from today (client's time zone) to the notice date; negative once it has passed.
    pub days_left: i64,
    pub overdue: bool,
    /// Who is alerted: the client's primary account manager.
    pub manager: Option<ManagerRef>,
    /// The alert's idempotency key prefix (`…-route-N` per route tried).
    pub alert_key: String,
}

fn renewal(c: &Client, now: DateTime<Utc>) -> Renewal {
    let today = now.with_timezone(&c.timezone).date_naive();
    let notice_date = c.spa.renewal_notice_date();
    let days_left = (notice_date - today).num_days();
    Renewal {
        client: c.code.clone(),
        client_name: c.name.clone(),
        spa_start: c.spa.start,
        spa_end: c.spa.end,
        renewal_notice_days: c.spa.renewal_notice_days,
        notice_date,
        days_left,
        overdue: days_left < 0,
        manager: manager_at_level(c, 0).map(|(m, _)| ManagerRef {
            name: m.name.clone(),
            email: m.email.clone(),
        }),
        alert_key: format!("spa-renewal-{}-{}", c.code, c.spa.end),
    }
}

/// SPAs whose renewal-notice date falls within `horizon_days` (or has passed while the SPA is
/// still running), soonest notice date first (pure).
pub fn upcoming(k: &Knowledge, now: DateTime<Utc>, horizon_days: i64) -> Vec<Renewal> {
    let mut out: Vec<Renewal> = k
        .clients
        .values()
        .filter(|c| now.with_timezone(&c.timezone).date_naive() <= c.spa.end)
        .map(|c| renewal(c, now))
        .filter(|r| r.days_left <= horizon_days)
        .collect();
    out.sort_by(|a, b| {
        a.notice_date
            .cmp(&b.notice_date)
            .then(a.client.cmp(&b.client))
    });
    out
}

/// The alert as delivered (webhook JSON; chat routes send `text`).
pub fn alert_message(r: &Renewal) -> serde_json::Value {
    let when = if r.overdue {
        format!(
            "passed {} day{} ago",
            -r.days_left,
            if r.days_left == -1 { "" } else { "s" }
        )
    } else if r.days_left == 0 {
        "is today".to_string()
    } else {
        format!(
            "is in {} day{}",
            r.days_left,
            if r.days_left == 1 { "" } else { "s" }
        )
    };
    let text = format!(
        "SPA renewal: {name} ({code})\nThe renewal-notice date {notice} {when}.\nThe agreement runs {start} to {end} with {days} days' notice.\nPlan the renewal review with the client.",
        name = r.client_name,
        code = r.client,
        notice = r.notice_date,
        start = r.spa_start,
        end = r.spa_end,
        days = r.renewal_notice_days,
    );
    json!({
        "event": "spa.renewal_notice",
        "client": {"code": r.client, "name": r.client_name},
        "spa": {"start": r.spa_start, "end": r.spa_end, "renewal_notice_days": r.renewal_notice_days},
        "notice_date": r.notice_date,
        "days_left": r.days_left,
        "overdue": r.overdue,
        "manager": r.manager,
        "text": text,
    })
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NotifyReport {
    /// Alerts queued by this call.
    pub queued: Vec<String>,
    /// Alerts queued before (not queued again).
    pub already: Vec<String>,
    /// Clients with a renewal due but no manager to alert.
    pub no_manager: Vec<String>,
}

/// Queue an alert for every upcoming renewal not alerted before (idempotent; the outbox worker
/// delivers). Safe to call daily from every replica.
pub async fn notify(
    store: &dyn Outbox,
    k: &Knowledge,
    now: DateTime<Utc>,
    horizon_days: i64,
) -> Result<NotifyReport, RenewalError> {
    let mut report = NotifyReport::default();
    for r in upcoming(k, now, horizon_days) {
        let client = k.clients.get(&r.client);
        let Some((manager, _)) = client.and_then(|c| manager_at_level(c, 0)) else {
            tracing::warn!(client = %r.client, "SPA renewal due but the client has no account manager");
            report.no_manager.push(r.client.clone());
            continue;
        };
        let Some(ping) = alert_for(manager, 0, &alert_message(&r)) else {
            report.no_manager.push(r.client.clone());
            continue;
        };
        if store
            .enqueue_outbox(&alert_key(&r.alert_key, 0), &ping, now.timestamp_millis())
            .await?
        {
            tracing::info!(client = %r.client, notice_date = %r.notice_date, manager = %manager.email, "SPA renewal alert queued");
            report.queued.push(r.client.clone());
        } else {
            report.already.push(r.client.clone());
        }
    }
    Ok(report)
}

/// For the server: check once a day (at start, then every 24 h; an hour after a failure) until
/// `shutdown`, waking the outbox worker when something was queued. Every replica may run it:
/// the idempotency key keeps the alert single.
pub async fn run_daily(
    store: std::sync::Arc<dyn Store>,
    knowledge: crate::dialogue::service::SharedKnowledge,
    wake: std::sync::Arc<tokio::sync::Notify>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let k = crate::dialogue::service::current(&knowledge);
        let wait = match notify(store.as_ref(), &k, Utc::now(), HORIZON_DAYS).await {
            Ok(r) => {
                if !r.queued.is_empty() {
                    wake.notify_one();
                }
                24 * 3600
            }
            Err(e) => {
                tracing::error!(error = %e, "SPA renewal check failed; next try in an hour");
                3600
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(std::time::Duration::from_secs(wait)) => {}
        }
    }
}
