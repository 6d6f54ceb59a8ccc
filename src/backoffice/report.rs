//! The monthly report an account manager reviews with the client: the KPIs of both sides of
//! the SPA and the recharge statement, as JSON or as a printable HTML page (inline SVG, no CDN).
//! A report read on its own ([`monthly_reviewed`]) also reads out the previous month's review:
//! what each side said, and the actions agreed with where they stand now.

use chrono::NaiveDate;
use serde::Serialize;

use super::charts::esc;
use super::kpi::{Kpis, SlaTerms, compute};
use super::period::{MAX_PERIOD_DAYS, local_midnight};
use super::review::{Review, ReviewError, previous_month, review};
use super::statement::{Statement, StatementError, month_range, statement};
use crate::knowledge::Knowledge;
use crate::store::{Insight, Store};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MonthlyReport {
    pub client: String,
    pub client_name: String,
    pub month: String,
    pub kpis: Kpis,
    pub statement: Statement,
    /// "Review of <previous month>": its comments, actions agreed (status as of now) and marks.
    /// Absent where the report is one of many (the overview).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_of_previous_month: Option<Review>,
}

/// The report with the previous month's review read out: what the report pages, the API and
/// `frontdoor report` show.
pub async fn monthly_reviewed(
    store: &dyn Store,
    k: &Knowledge,
    client: &str,
    month: &str,
    now: i64,
) -> Result<MonthlyReport, StatementError> {
    let mut report = monthly(store, k, client, month, now).await?;
    let previous =
        previous_month(month).ok_or_else(|| StatementError::BadMonth(month.to_string()))?;
    report.review_of_previous_month = Some(
        review(store, k, client, &previous, now)
            .await
            .map_err(|e| match e {
                ReviewError::Store(s) => StatementError::Store(s),
                other => StatementError::BadPeriod(other.to_string()),
            })?,
    );
    Ok(report)
}

pub async fn monthly(
    store: &dyn Insight,
    k: &Knowledge,
    client: &str,
    month: &str,
    now: i64,
) -> Result<MonthlyReport, StatementError> {
    let statement = statement(store, k, client, month).await?;
    let c = k
        .clients
        .get(client)
        .ok_or_else(|| StatementError::UnknownClient(client.to_string()))?;
    let (from, to) = month_range(c, month)?;
    let facts = store.period_facts(client, from, to).await?;
    let kpis = compute(&facts, &SlaTerms::for_client(k, client), now);
    Ok(MonthlyReport {
        client: client.to_string(),
        client_name: c.name.clone(),
        month: month.to_string(),
        kpis,
        statement,
        review_of_previous_month: None,
    })
}

/// The KPIs of one client over any run of local days: a quarter, a week, the days since a
/// process change. Same formulas as the monthly report; no statement (those are monthly).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodReport {
    pub client: String,
    pub client_name: String,
    /// First and last local day (inclusive), in the client's time zone.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub kpis: Kpis,
}

/// KPIs of `client` over local days `[from, to]`.
pub async fn period(
    store: &dyn Insight,
    k: &Knowledge,
    client: &str,
    from: NaiveDate,
    to: NaiveDate,
    now: i64,
) -> Result<PeriodReport, StatementError> {
    let c = k
        .clients
        .get(client)
        .ok_or_else(|| StatementError::UnknownClient(client.to_string()))?;
    if to < from {
        return Err(StatementError::BadPeriod(format!(
            "it ends ({to}) before it starts ({from})"
        )));
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_PERIOD_DAYS {
        return Err(StatementError::BadPeriod(format!(
            "{days} days is longer than {MAX_PERIOD_DAYS}"
        )));
    }
    let start = local_midnight(c.timezone, from);
    let next = to
        .succ_opt()
        .ok_or_else(|| StatementError::BadPeriod(format!("{to} is too far out")))?;
    let end = local_midnight(c.timezone, next);
    let facts = store.period_facts(client, start, end).await?;
    Ok(PeriodReport {
        client: client.to_string(),
        client_name: c.name.clone(),
        from,
        to,
        kpis: compute(&facts, &SlaTerms::for_client(k, client), now),
    })
}

pub(crate) fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "–".into())
}

pub(crate) fn num(v: Option<f64>, unit: &str) -> String {
    v.map(|x| format!("{x:.1}{unit}"))
        .unwrap_or_else(|| "–".into())
}

/// The SSO's side of the SPA as (label, value) rows: what the monthly report's table and the
/// back office's client page both show, from this one list so the two never disagree.
pub(crate) fn sso_rows(k: &Kpis) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("Contacts (messages)", k.volume.to_string()),
        ("Conversations", k.conversations.to_string()),
        ("Self-service (containment)", pct(k.self_service_rate)),
        ("First-contact resolution", pct(k.first_contact_resolution)),
        ("Escalation rate", pct(k.escalation_rate)),
        ("Fallback rate", pct(k.fallback_rate)),
        (
            "Bot response p50 / p95",
            format!(
                "{} / {}",
                num(k.response_ms_p50, " ms"),
                num(k.response_ms_p95, " ms")
            ),
        ),
        (
            "Escalation acknowledged in (avg)",
            num(k.acknowledge_minutes_avg, " min"),
        ),
        (
            "First human response in (avg)",
            num(k.first_response_minutes_avg, " min"),
        ),
        ("Resolved in (avg)", num(k.resolution_minutes_avg, " min")),
        (
            "Escalations answered on time (business hours / calendar)",
            format!(
                "{} / {}",
                pct(k.escalation_sla_met),
                pct(k.escalation_sla_met_calendar)
            ),
        ),
        (
            "Requests opened / completed / cancelled",
            format!(
                "{} / {} / {}",
                k.requests.requests, k.requests.completed, k.requests.cancelled
            ),
        ),
        (
            "Requests completed on time (business hours / calendar)",
            format!(
                "{} / {}",
                pct(k.request_sla_met),
                pct(k.request_sla_met_calendar)
            ),
        ),
        (
            "Request time with the SSO / waiting for the client (mean, business hours)",
            format!(
                "{} / {}",
                num(k.requests.sso_hours_avg, " h"),
                num(k.requests.client_wait_hours_avg, " h")
            ),
        ),
        ("Requests reopened", pct(k.requests.reopen_rate)),
        (
            "Survey after completion (1–5)",
            num(k.requests.csat_avg, ""),
        ),
        ("CSAT (1–5)", num(k.csat_avg, "")),
        ("Survey response rate", pct(k.survey_response_rate)),
    ];
    // A phased roll-out's months: what the managers did with the bot's drafts (shown only
    // when the bot was not live for the whole month).
    if k.drafts.written > 0 || k.shadowed_conversations > 0 || k.rollout_off_conversations > 0 {
        rows.push((
            "Conversations shadowed / turned away (roll-out; not self-service)",
            format!(
                "{} / {}",
                k.shadowed_conversations, k.rollout_off_conversations
            ),
        ));
        rows.push((
            "Bot drafts approved unchanged / edited / replaced / pending",
            format!(
                "{} / {} / {} / {} ({} approved unchanged)",
                k.drafts.approved,
                k.drafts.edited,
                k.drafts.replaced,
                k.drafts.pending,
                pct(k.drafts.approved_rate)
            ),
        ));
    }
    rows
}

/// The client's side of the SPA (the inputs it owes), as [`sso_rows`].
pub(crate) fn client_rows(k: &Kpis) -> Vec<(&'static str, String)> {
    vec![
        (
            "Inputs complete at first submission",
            pct(k.input_complete_first_time),
        ),
        ("Re-prompts per request (avg)", num(k.reprompts_avg, "")),
        (
            "Time to supply inputs (avg)",
            num(k.supply_minutes_avg, " min"),
        ),
        (
            "Requests abandoned with inputs missing",
            k.abandoned_missing_inputs.to_string(),
        ),
        (
            "The SSO's questions answered on time",
            pct(k.requests.client_answered_on_time),
        ),
    ]
}

/// One row per service: (service id, opened, completed, on time business / calendar, mean
/// hours with the SSO / waiting for the client, client answered on time, reopened, survey).
pub(crate) fn service_rows(k: &Kpis) -> Vec<(String, [String; 8])> {
    k.by_service
        .iter()
        .map(|(id, s)| {
            (
                id.clone(),
                [
                    s.requests.to_string(),
                    s.completed.to_string(),
                    format!("{} / {}", pct(s.sla_met), pct(s.sla_met_calendar)),
                    num(s.sso_hours_avg, " h"),
                    num(s.client_wait_hours_avg, " h"),
                    pct(s.client_answered_on_time),
                    pct(s.reopen_rate),
                    num(s.csat_avg, ""),
                ],
            )
        })
        .collect()
}

/// The headers of [`service_rows`].
pub(crate) const SERVICE_HEADERS: [&str; 9] = [
    "Service",
    "Opened",
    "Completed",
    "On time (business / calendar)",
    "With the SSO (mean)",
    "Waiting for the client (mean)",
    "Client answered on time",
    "Reopened",
    "Survey (1–5)",
];

/// Contacts by weekday × hour as an inline SVG grid (darker = busier).
pub fn heatmap_svg(h: &[[i64; 24]]) -> String {
    let max = h.iter().flatten().copied().max().unwrap_or(0).max(1);
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut cells = String::new();
    for (d, row) in h.iter().enumerate() {
        cells.push_str(&format!(
            "<text x=0 y={} font-size=10>{}</text>",
            d * 16 + 12,
            days.get(d).unwrap_or(&"")
        ));
        for (hour, n) in row.iter().enumerate() {
            let alpha = *n as f64 / max as f64;
            cells.push_str(&format!(
                "<rect x={} y={} width=14 height=14 fill=\"rgba(31,95,191,{alpha:.2})\" stroke=\"#dde1e7\"><title>{} {hour:02}:00 — {n}</title></rect>",
                30 + hour * 16,
                d * 16,
                days.get(d).unwrap_or(&"")
            ));
        }
    }
    for hour in (0..24).step_by(3) {
        cells.push_str(&format!(
            "<text x={} y=126 font-size=9>{hour:02}</text>",
            30 + hour * 16
        ));
    }
    format!(
        "<svg role=img aria-label=\"Contacts by weekday and hour\" width=420 height=130 xmlns=\"http://www.w3.org/2000/svg\">{cells}</svg>"
    )
}

impl MonthlyReport {
    /// The report as CSV: `section,metric,value` rows (rates as fractions, empty when there was
    /// nothing to measure), then the statement's lines.
    pub fn to_csv(&self) -> String {
        let k = &self.kpis;
        let f = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
        let mut rows: Vec<(&str, String, String)> = vec![
            ("sso", "volume".into(), k.volume.to_string()),
            ("sso", "conversations".into(), k.conversations.to_string()),
            ("sso", "self_service_rate".into(), f(k.self_service_rate)),
            ("sso", "escalation_rate".into(), f(k.escalation_rate)),
            (
                "sso",
                "first_contact_resolution".into(),
                f(k.first_contact_resolution),
            ),
            ("sso", "fallback_rate".into(), f(k.fallback_rate)),
            ("sso", "response_ms_p50".into(), f(k.response_ms_p50)),
            ("sso", "response_ms_p95".into(), f(k.response_ms_p95)),
            (
                "sso",
                "acknowledge_minutes_avg".into(),
                f(k.acknowledge_minutes_avg),
            ),
            (
                "sso",
                "first_response_minutes_avg".into(),
                f(k.first_response_minutes_avg),
            ),
            (
                "sso",
                "resolution_minutes_avg".into(),
                f(k.resolution_minutes_avg),
            ),
            ("sso", "escalation_sla_met".into(), f(k.escalation_sla_met)),
            ("sso", "request_sla_met".into(), f(k.request_sla_met)),
            (
                "sso",
                "escalation_sla_met_calendar".into(),
                f(k.escalation_sla_met_calendar),
            ),
            (
                "sso",
                "request_sla_met_calendar".into(),
                f(k.request_sla_met_calendar),
            ),
            (
                "sso",
                "requests_completed".into(),
                k.requests.completed.to_string(),
            ),
            (
                "sso",
                "request_sso_hours_avg".into(),
                f(k.requests.sso_hours_avg),
            ),
            (
                "sso",
                "request_client_wait_hours_avg".into(),
                f(k.requests.client_wait_hours_avg),
            ),
            (
                "sso",
                "request_reopen_rate".into(),
                f(k.requests.reopen_rate),
            ),
            ("sso", "request_csat_avg".into(), f(k.requests.csat_avg)),
            ("sso", "csat_avg".into(), f(k.csat_avg)),
            (
                "sso",
                "survey_response_rate".into(),
                f(k.survey_response_rate),
            ),
            (
                "client",
                "input_complete_first_time".into(),
                f(k.input_complete_first_time),
            ),
            ("client", "reprompts_avg".into(), f(k.reprompts_avg)),
            (
                "client",
                "supply_minutes_avg".into(),
                f(k.supply_minutes_avg),
            ),
            (
                "client",
                "abandoned_missing_inputs".into(),
                k.abandoned_missing_inputs.to_string(),
            ),
            (
                "client",
                "client_answered_on_time".into(),
                f(k.requests.client_answered_on_time),
            ),
            ("demand", "off_hours_share".into(), f(k.off_hours_share)),
            (
                "demand",
                "first_coverage_hour".into(),
                k.first_coverage_hour.to_string(),
            ),
            (
                "demand",
                "last_coverage_hour".into(),
                k.last_coverage_hour.to_string(),
            ),
        ];
        for (i, n) in k.csat_distribution.iter().enumerate() {
            rows.push(("sso", format!("csat_score_{}", i + 1), n.to_string()));
        }
        for (service, s) in &k.by_service {
            for (metric, value) in [
                ("requests", s.requests.to_string()),
                ("completed", s.completed.to_string()),
                ("sla_met", f(s.sla_met)),
                ("sla_met_calendar", f(s.sla_met_calendar)),
                ("sso_hours_avg", f(s.sso_hours_avg)),
                ("client_wait_hours_avg", f(s.client_wait_hours_avg)),
                ("client_answered_on_time", f(s.client_answered_on_time)),
                ("reopen_rate", f(s.reopen_rate)),
                ("csat_avg", f(s.csat_avg)),
            ] {
                rows.push(("service", format!("{service} {metric}"), value));
            }
        }
        for l in &self.statement.lines {
            rows.push((
                "recharge",
                format!("{} count", l.interaction_type),
                l.count.to_string(),
            ));
            rows.push((
                "recharge",
                format!("{} amount", l.interaction_type),
                super::statement::money(l.amount_minor),
            ));
        }
        rows.push((
            "recharge",
            format!("total {}", self.statement.currency),
            super::statement::money(self.statement.total_minor),
        ));
        if let Some(r) = &self.review_of_previous_month {
            rows.extend(review_csv_rows(r));
        }
        let mut out = String::from("client,month,section,metric,value\n");
        for (section, metric, value) in rows {
            out.push_str(&format!(
                "{},{},{section},{},{}\n",
                super::statement::csv_field(&self.client),
                super::statement::csv_field(&self.month),
                super::statement::csv_field(&metric),
                super::statement::csv_field(&value)
            ));
        }
        out
    }

    pub fn to_html(&self) -> String {
        let k = &self.kpis;
        let rows = sso_rows(k);
        let client_rows = client_rows(k);
        let demand_rows = [
            ("Outside coverage hours", pct(k.off_hours_share)),
            ("First hour of coverage", k.first_coverage_hour.to_string()),
            ("Last hour of coverage", k.last_coverage_hour.to_string()),
        ];
        let table = |rows: &[(&str, String)]| {
            rows.iter()
                .map(|(a, b)| format!("<tr><th>{}</th><td class=n>{}</td></tr>", esc(a), esc(b)))
                .collect::<String>()
        };
        let services: String = service_rows(k)
            .iter()
            .map(|(id, cells)| {
                format!(
                    "<tr><th>{}</th>{}</tr>",
                    esc(id),
                    cells
                        .iter()
                        .map(|c| format!("<td class=n>{}</td>", esc(c)))
                        .collect::<String>()
                )
            })
            .collect();
        let service_head: String = SERVICE_HEADERS
            .iter()
            .map(|h| format!("<th>{}</th>", esc(h)))
            .collect();
        let statement = self.statement.to_html();
        let statement_table = statement
            .split("<table>")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .map(|t| format!("<table>{t}</table>"))
            .unwrap_or_default();
        format!(
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Monthly report {client} {month}</title>\n\
             <style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1c2430;max-width:900px}}\
             table{{border-collapse:collapse;margin-bottom:1.5rem}}td,th{{padding:.35rem .8rem;border-bottom:1px solid #dde1e7;text-align:left}}\
             .n{{text-align:right}}h2{{margin-top:2rem}}@media print{{body{{margin:0}}}}</style></head>\n\
             <body><h1>Monthly report — {name}</h1><p>{client} · {month}</p>\n\
             <h2>What the SSO delivered</h2><table>{sso}</table>\n\
             <h2>What the client provided</h2><table>{cl}</table>\n\
             <h2>Requests by service</h2><table><tr>{service_head}</tr>{services}</table>\n\
             <h2>Demand</h2><table>{demand}</table>{svg}\n\
             <h2>Recharge</h2>{statement_table}\n{review}</body></html>\n",
            client = esc(&self.client),
            name = esc(&self.client_name),
            month = esc(&self.month),
            sso = table(&rows),
            cl = table(&client_rows),
            demand = table(&demand_rows),
            svg = heatmap_svg(&k.heatmap),
            review = self
                .review_of_previous_month
                .as_ref()
                .map(review_html)
                .unwrap_or_default(),
        )
    }
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The previous month's review as `section,metric,value` rows: whether it was reviewed, each
/// side's mark, each comment, each action agreed with its status.
fn review_csv_rows(r: &Review) -> Vec<(&'static str, String, String)> {
    let mut rows = vec![
        ("review", "month reviewed".to_string(), r.month.clone()),
        ("review", "reviewed".to_string(), r.reviewed.to_string()),
    ];
    for m in &r.marks {
        rows.push((
            "review",
            format!("marked {}", m.side.as_str()),
            format!("{} ({}) {}", m.by, m.role, stamp(m.at)),
        ));
    }
    for c in &r.comments {
        rows.push((
            "review",
            format!(
                "comment {} {} {} ({}) {}",
                c.id,
                c.side.as_str(),
                c.author,
                c.role,
                stamp(c.at)
            ),
            c.text.clone(),
        ));
    }
    for (c, a) in r.actions() {
        rows.push((
            "review_action",
            format!(
                "{} owner {} due {} {}",
                c.id,
                a.owner,
                a.due,
                a.status.as_str()
            ),
            c.text.clone(),
        ));
    }
    rows
}

/// "Review of <month>": the comments and the actions agreed, as the report's last section.
fn review_html(r: &Review) -> String {
    let marks = if r.marks.is_empty() {
        "Not marked reviewed by either side.".to_string()
    } else {
        r.marks
            .iter()
            .map(|m| {
                format!(
                    "{} side marked reviewed by {} ({}) on {}",
                    if m.side == super::review::Side::Sso {
                        "SSO"
                    } else {
                        "Client"
                    },
                    esc(&m.by),
                    esc(&m.role),
                    stamp(m.at)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
            + if r.reviewed {
                "."
            } else {
                "; the other side has not marked it."
            }
    };
    let comments: String = r
        .comments
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{} <span class=muted>{} · {}</span></td><td style=\"white-space:pre-wrap\">{}</td></tr>",
                stamp(c.at),
                esc(&c.author),
                esc(&c.role),
                c.side.as_str(),
                esc(&c.text)
            )
        })
        .collect();
    let actions: String = r
        .actions()
        .map(|(c, a)| {
            format!(
                "<tr><td style=\"white-space:pre-wrap\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&c.text),
                esc(&a.owner),
                esc(&a.due),
                a.status.as_str()
            )
        })
        .collect();
    format!(
        "<section id=review-of-previous><h2>Review of {month}</h2><p>{marks}</p>\n\
         <h3>Comments</h3>{comments}\n<h3>Actions agreed</h3>{actions}\n</section>\n",
        month = esc(&r.month),
        comments = if comments.is_empty() {
            "<p>No comments were made.</p>".to_string()
        } else {
            format!("<table><tr><th>When</th><th>Who</th><th>Comment</th></tr>{comments}</table>")
        },
        actions = if actions.is_empty() {
            "<p>No actions were agreed.</p>".to_string()
        } else {
            format!(
                "<table><tr><th>Action</th><th>Owner</th><th>Due</th><th>Status</th></tr>{actions}</table>"
            )
        },
    )
}
