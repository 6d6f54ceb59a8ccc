//! The review reminder: a report still not reviewed by both sides `review_reminder_days` after
//! its month ended (`knowledge-base/sso.toml`, 5 by default) reminds the client's primary
//! account manager — once.
//!
//! Delivery is the SPA renewal alerts' (`renewals.rs`): an outbox row with no escalation,
//! delivered by the escalation outbox worker over the manager's first route (retries, failover
//! to the next route, signed webhooks). Its idempotency key `report-review-{client}-{month}
//! -route-{n}` depends on nothing but the report, so a second check — the next hour, another
//! replica, after a restart — finds the row and queues nothing.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::ReviewError;
use super::awaiting::{AwaitingReview, awaiting};
use crate::knowledge::Knowledge;
use crate::policy::ladder::{alert_for, alert_key, manager_at_level};
use crate::store::Store;

/// The idempotency key's prefix for one report's reminder.
pub fn reminder_key(client: &str, month: &str) -> String {
    format!("report-review-{client}-{month}")
}

/// The reports due a reminder at `now`: awaiting review `days` or more days after month end.
pub async fn due(
    store: &dyn Store,
    k: &Knowledge,
    now: DateTime<Utc>,
) -> Result<Vec<AwaitingReview>, ReviewError> {
    let days = i64::from(k.organisation.review_reminder_days);
    Ok(awaiting(store, k, now)
        .await?
        .into_iter()
        .filter(|a| a.days_since_month_end >= days)
        .collect())
}

/// The reminder as delivered (webhook JSON; chat routes send `text`).
pub fn reminder_message(a: &AwaitingReview) -> serde_json::Value {
    let sides: Vec<&str> = a
        .missing
        .iter()
        .map(|s| match s {
            super::Side::Sso => "the SSO",
            super::Side::Client => "the client",
        })
        .collect();
    let text = format!(
        "Monthly report review: {name} ({code}) {month}\nNot yet marked reviewed by {sides}, {days} days after the month ended.\nReview it with the client: /admin/clients/{code}/report?month={month}",
        name = a.client_name,
        code = a.client,
        month = a.month,
        sides = sides.join(" and "),
        days = a.days_since_month_end,
    );
    json!({
        "event": "report.review_reminder",
        "client": {"code": a.client, "name": a.client_name},
        "month": a.month,
        "missing": a.missing,
        "days_since_month_end": a.days_since_month_end,
        "manager": a.manager,
        "text": text,
    })
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RemindReport {
    /// `CLIENT MONTH` of the reminders queued by this call.
    pub queued: Vec<String>,
    /// Reminded before (not queued again).
    pub already: Vec<String>,
    /// Due a reminder but the client has no manager with a route.
    pub no_manager: Vec<String>,
}

/// Queue a reminder for every report due one and not reminded before (idempotent; the outbox
/// worker delivers). Safe to run from every replica, as often as liked.
pub async fn remind(
    store: &dyn Store,
    k: &Knowledge,
    now: DateTime<Utc>,
) -> Result<RemindReport, ReviewError> {
    let mut report = RemindReport::default();
    for a in due(store, k, now).await? {
        let label = format!("{} {}", a.client, a.month);
        let manager = k
            .clients
            .get(&a.client)
            .and_then(|c| manager_at_level(c, 0));
        let Some(ping) = manager.and_then(|(m, _)| alert_for(m, 0, &reminder_message(&a))) else {
            tracing::warn!(client = %a.client, month = %a.month, "report review overdue but the client has no account manager to remind");
            report.no_manager.push(label);
            continue;
        };
        let key = alert_key(&reminder_key(&a.client, &a.month), 0);
        if store
            .enqueue_outbox(&key, &ping, now.timestamp_millis())
            .await?
        {
            tracing::info!(client = %a.client, month = %a.month, days = a.days_since_month_end, "report review reminder queued");
            report.queued.push(label);
        } else {
            report.already.push(label);
        }
    }
    Ok(report)
}

/// For the server: check at start and then hourly (a reminder is at most an hour late) until
/// `shutdown`, waking the outbox worker when something was queued.
pub async fn run_hourly(
    store: std::sync::Arc<dyn Store>,
    knowledge: crate::dialogue::service::SharedKnowledge,
    wake: std::sync::Arc<tokio::sync::Notify>,
    mut shutdown: crate::shutdown::Shutdown,
) {
    loop {
        let k = crate::dialogue::service::current(&knowledge);
        match remind(store.as_ref(), &k, Utc::now()).await {
            Ok(r) if !r.queued.is_empty() => wake.notify_one(),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "report review reminder check failed; next try in an hour")
            }
        }
        tokio::select! {
            _ = shutdown.recv() => break,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
    }
}
