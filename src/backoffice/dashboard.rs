//! What the dashboard and the admin API show: the clients a caller may see with their month's
//! KPIs and recharge total, scoped lists of escalations and knowledge gaps.

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::access::Principal;
use super::gaps::{GapError, GapQuery, GapReport, GapSettings, knowledge_gaps};
use super::report::{MonthlyReport, monthly};
use super::statement::StatementError;
use crate::knowledge::Knowledge;
use crate::store::{EscalationRow, Escalations, GapRow, Insight, Millis};

/// The current month (`YYYY-MM`, UTC): the default period of every page.
pub fn this_month(now: Millis) -> String {
    chrono::DateTime::<Utc>::from_timestamp_millis(now)
        .unwrap_or_default()
        .format("%Y-%m")
        .to_string()
}

/// One client's line on the overview: its SPA and the month's report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ClientSummary {
    pub code: String,
    pub name: String,
    /// Account managers' names, primary first.
    pub managers: Vec<String>,
    pub spa_start: NaiveDate,
    pub spa_end: NaiveDate,
    /// The last day to give renewal notice (SPA end − notice days).
    pub renewal_notice_date: NaiveDate,
    pub report: MonthlyReport,
}

/// The month's summary of every client the caller may see, in code order.
pub async fn overview(
    store: &dyn Insight,
    k: &Knowledge,
    who: &Principal,
    month: &str,
    now: Millis,
) -> Result<Vec<ClientSummary>, StatementError> {
    let mut out = Vec::new();
    for (code, client) in &k.clients {
        if !who.sees_client(code) {
            continue;
        }
        let report = monthly(store, k, code, month, now).await?;
        out.push(ClientSummary {
            code: code.clone(),
            name: client.name.clone(),
            managers: client.managers.iter().map(|m| m.name.clone()).collect(),
            spa_start: client.spa.start,
            spa_end: client.spa.end,
            renewal_notice_date: client.spa.renewal_notice_date(),
            report,
        });
    }
    Ok(out)
}

/// Escalations the caller may see (unassigned ones only for roles that see every client).
pub async fn escalations(
    store: &dyn Escalations,
    who: &Principal,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<EscalationRow>, StatementError> {
    // Filtered after the query: scoped callers may see fewer rows than `limit`, never others'.
    let rows = store.escalations(status, limit).await?;
    Ok(rows
        .into_iter()
        .filter(|e| match &e.client_code {
            Some(c) => who.sees_client(c),
            None => who.sees_client(""),
        })
        .collect())
}

/// Knowledge gaps of `[from, to)` grouped by similarity, limited to the caller's clients: one
/// report over everything for roles that see every client, otherwise one per client in scope
/// merged by volume (a group never mixes in another client's queries).
pub async fn gap_report(
    store: &dyn Insight,
    k: &Knowledge,
    who: &Principal,
    from: Millis,
    to: Millis,
) -> Result<GapReport, GapError> {
    let settings = GapSettings::default();
    if who.sees_client("") {
        let q = GapQuery {
            client: None,
            from,
            to,
        };
        return knowledge_gaps(store, k, &q, &settings).await;
    }
    let mut merged = GapReport {
        client: None,
        from,
        to,
        total: 0,
        groups: Vec::new(),
    };
    for code in who.visible(k.clients.keys().map(String::as_str)) {
        let q = GapQuery {
            client: Some(code),
            from,
            to,
        };
        let r = knowledge_gaps(store, k, &q, &settings).await?;
        merged.total += r.total;
        merged.groups.extend(r.groups);
    }
    merged
        .groups
        .sort_by(|a, b| b.volume.cmp(&a.volume).then(b.last_seen.cmp(&a.last_seen)));
    for (i, g) in merged.groups.iter_mut().enumerate() {
        g.rank = i + 1;
    }
    Ok(merged)
}

/// Knowledge-gap events since `since` that the caller may see.
pub async fn gaps(
    store: &dyn Insight,
    who: &Principal,
    since: Millis,
) -> Result<Vec<GapRow>, StatementError> {
    let rows = store.gaps(since).await?;
    Ok(rows
        .into_iter()
        .filter(|g| match &g.client_code {
            Some(c) => who.sees_client(c),
            None => who.sees_client(""),
        })
        .collect())
}
