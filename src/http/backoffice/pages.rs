//! The server-rendered dashboard under `/admin`: overview, per-client page, escalations queue,
//! knowledge gaps, users (the requests queue is in `queue`, the report page and its review in
//! `review_pages`). Templates are minijinja files compiled into
//! the binary (autoescaped as HTML); charts are SVG strings from `backoffice::charts`, the only
//! values marked safe.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use minijinja::{Environment, Value, context};
use serde::Deserialize;

use super::super::{ApiError, ApiPath, ApiQuery, AppState};
use super::api::check_client;
use super::auth::{PageUser, require, safe_next};
use crate::backoffice::access::{Permission, Principal};
use crate::backoffice::charts::{bars_svg, distribution_svg};
use crate::backoffice::dashboard::{self, ClientSummary, this_month};
use crate::backoffice::demand::{SpikeSettings, demand};
use crate::backoffice::report::{
    SERVICE_HEADERS, client_rows, heatmap_svg, monthly, num, pct, period, service_rows, sso_rows,
};
use crate::backoffice::statement::money;
use crate::backoffice::statement::month_range;
use crate::dialogue::service::{current, millis};
use crate::store::Millis;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("overview.html", include_str!("templates/overview.html")),
            ("client.html", include_str!("templates/client.html")),
            (
                "escalations.html",
                include_str!("templates/escalations.html"),
            ),
            ("gaps.html", include_str!("templates/gaps.html")),
            ("users.html", include_str!("templates/users.html")),
            (
                "announcements.html",
                include_str!("templates/announcements.html"),
            ),
            ("requests.html", include_str!("templates/requests.html")),
            ("request.html", include_str!("templates/request.html")),
            ("reviews.html", include_str!("templates/reviews.html")),
            (
                "review_panel.html",
                include_str!("templates/review_panel.html"),
            ),
        ] {
            // The templates are part of the binary; a syntax error is caught by the page tests.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "bad dashboard template");
            }
        }
        env
    })
}

pub(super) fn render(name: &str, ctx: Value) -> Result<Html<String>, ApiError> {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| ApiError::Internal(format!("template {name}: {e:#}")))
}

pub fn render_login(next: &str, error: bool) -> String {
    render("login.html", context! { next, error })
        .map(|h| h.0)
        .unwrap_or_else(|e| e.to_string())
}

/// The sign-in page; `next` is where to go after it (our own pages only).
#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    error: Option<String>,
}

pub async fn login_page(axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Html<String> {
    Html(render_login(
        safe_next(q.next.as_deref()),
        q.error.is_some(),
    ))
}

/// What every page's header needs.
pub(super) fn frame(who: &Principal, page: &str) -> Value {
    context! {
        who => context! { username => who.username.clone(), role => who.role.as_str() },
        page,
        may_requests => who.may(Permission::ReadRequests),
        may_escalations => who.may(Permission::ReadEscalations),
        may_gaps => who.may(Permission::ReadGaps),
        may_users => who.may(Permission::ManageUsers),
        may_reviews => who.may(Permission::ReadReports),
        may_announce => who.may(Permission::ManageAnnouncements),
    }
}

fn when(ms: Option<Millis>) -> String {
    ms.and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "–".into())
}

fn svg(s: String) -> Value {
    Value::from_safe_string(s)
}

fn now() -> Millis {
    millis(Utc::now())
}

#[derive(Debug, Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

/// The client page shows a month (with its statement) or, given `from` and `to`, any run of
/// local days (KPIs only: statements are monthly). Strings, not dates, because an HTML form
/// sends empty fields as `from=`.
#[derive(Debug, Deserialize)]
pub struct ClientQuery {
    month: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn date_field(name: &str, v: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                ApiError::BadRequest(format!("{name} must be a date like 2026-11-02, not {s:?}"))
            }),
    }
}

fn summary_row(c: &ClientSummary, today: chrono::NaiveDate) -> Value {
    let k = &c.report.kpis;
    let days = (c.renewal_notice_date - today).num_days();
    context! {
        code => c.code.clone(),
        name => c.name.clone(),
        managers => c.managers.join(", "),
        volume => k.volume,
        self_service => pct(k.self_service_rate),
        fcr => pct(k.first_contact_resolution),
        fallback => pct(k.fallback_rate),
        csat => num(k.csat_avg, ""),
        request_sla => pct(k.request_sla_met),
        inputs_complete => pct(k.input_complete_first_time),
        recharge => format!("{} {}", money(c.report.statement.total_minor), c.report.statement.currency),
        renewal_notice_date => c.renewal_notice_date.to_string(),
        renewal_soon => (0..=120).contains(&days),
        renewal_days => days,
    }
}

pub async fn overview(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ReadReports)?;
    let now = now();
    let month = q.month.unwrap_or_else(|| this_month(now));
    let k = current(&app.chat.knowledge);
    let clients = dashboard::overview(app.chat.store.as_ref(), &k, &who, &month, now).await?;
    let today = Utc::now().date_naive();
    let mut daily: BTreeMap<String, i64> = BTreeMap::new();
    let (mut volume, mut conversations, mut contained, mut escalations) = (0, 0, 0.0, 0.0);
    let mut recharge: BTreeMap<String, i64> = BTreeMap::new();
    for c in &clients {
        let kp = &c.report.kpis;
        for (day, n) in &kp.daily_volume {
            *daily.entry(day.clone()).or_default() += n;
        }
        volume += kp.volume;
        conversations += kp.conversations;
        // Conversation-weighted: the SSO's containment over all its conversations.
        contained += kp.self_service_rate.unwrap_or(0.0) * kp.conversations as f64;
        escalations += kp.escalation_rate.unwrap_or(0.0) * kp.conversations as f64;
        *recharge
            .entry(c.report.statement.currency.clone())
            .or_default() += c.report.statement.total_minor;
    }
    let series: Vec<(String, i64)> = daily.into_iter().collect();
    let totals = context! {
        volume,
        conversations,
        self_service => pct((conversations > 0).then(|| contained / conversations as f64)),
        escalations => format!("{}", escalations.round() as i64),
        recharge => recharge.iter().map(|(cur, m)| format!("{} {cur}", money(*m))).collect::<Vec<_>>().join(" + "),
    };
    let rows: Vec<Value> = clients.iter().map(|c| summary_row(c, today)).collect();
    Ok(render(
        "overview.html",
        context! {
            ..frame(&who, "overview"),
            ..context! {
                month,
                totals,
                clients => rows,
                daily_svg => svg(bars_svg("Contacts per day", &series, &[])),
            }
        },
    )?
    .into_response())
}

pub async fn client(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<ClientQuery>,
) -> Result<Response, ApiError> {
    check_client(&who, &code)?;
    let now = now();
    let month = q
        .month
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| this_month(now));
    let k = current(&app.chat.knowledge);
    let Some(c) = k.clients.get(&code) else {
        return Err(ApiError::NotFound(format!("unknown client {code}")));
    };
    let store = app.chat.store.as_ref();
    let today = Utc::now().with_timezone(&c.timezone).date_naive();
    let (kpis, statement, from, to) = match (date_field("from", &q.from)?, date_field("to", &q.to)?)
    {
        (Some(from), Some(to)) => {
            let p = period(store, &k, &code, from, to, now).await?;
            (p.kpis, None, from, to)
        }
        (None, None) => {
            let r = monthly(store, &k, &code, &month, now).await?;
            // The month's local days, up to today for the current month.
            let (start, end) = month_range(c, &month)?;
            let day = |t: i64| {
                DateTime::from_timestamp_millis(t)
                    .map(|t| t.with_timezone(&c.timezone).date_naive())
                    .unwrap_or(today)
            };
            let last = day(end - 1).min(today).max(day(start));
            (r.kpis, Some(r.statement), day(start), last)
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give both from and to, or neither".into(),
            ));
        }
    };
    // Demand spikes in the period, against the trailing 4-week same-weekday average.
    let spikes = demand(store, &k, &code, from, to, &SpikeSettings::default())
        .await?
        .spikes;
    let kp = &kpis;
    let sso_cards = sso_rows(kp);
    let client_cards = client_rows(kp);
    let channels: Vec<_> = kp
        .by_channel
        .iter()
        .map(|(name, ch)| {
            (
                name.clone(),
                ch.volume,
                ch.conversations,
                pct(ch.self_service_rate),
            )
        })
        .collect();
    let services: Vec<_> = service_rows(kp)
        .into_iter()
        .map(|(id, cells)| {
            let name = k.services.get(&id).map(|s| s.name.clone()).unwrap_or(id);
            (name, cells)
        })
        .collect();
    let statement = statement.map(|st| {
        let lines: Vec<_> = st
            .lines
            .iter()
            .map(|l| {
                (
                    l.interaction_type.clone(),
                    l.count,
                    l.unit_price_minor
                        .map(money)
                        .unwrap_or_else(|| "no price".into()),
                    money(l.amount_minor),
                )
            })
            .collect();
        context! {
            lines,
            total => format!("{} {}", money(st.total_minor), st.currency),
        }
    });
    let series: Vec<(String, i64)> = kp
        .daily_volume
        .iter()
        .map(|(d, n)| (d.clone(), *n))
        .collect();
    let marked: Vec<String> = spikes.iter().map(|d| d.date.to_string()).collect();
    let spike_rows: Vec<_> = spikes
        .iter()
        .map(|d| {
            (
                format!("{} {}", d.weekday, d.date),
                d.volume,
                format!("{:.1}", d.baseline),
                d.ratio.map(|r| format!("{r:.1}×")).unwrap_or_default(),
            )
        })
        .collect();
    let period_mode = q.from.as_deref().is_some_and(|f| !f.trim().is_empty());
    // The roll-out: each channel's mode, and the period's drafts on it (shadow and pilot).
    let ro = super::rollout::read(&app, &code).await?;
    let rollout_rows: Vec<_> = ro
        .channels
        .iter()
        .map(|ch| {
            let d = kp
                .by_channel
                .get(&ch.channel)
                .map(|k| k.drafts.clone())
                .unwrap_or_default();
            context! {
                channel => ch.channel.clone(),
                mode => ch.mode.as_str(),
                set_in => if ch.set_in == "back_office" {
                    format!("back office ({})", ch.updated_by.clone().unwrap_or_default())
                } else {
                    "client file".to_string()
                },
                written => d.written,
                approved => d.approved,
                edited => d.edited,
                replaced => d.replaced,
                pending => d.pending,
                approved_rate => pct(d.approved_rate),
            }
        })
        .collect();
    let rollout_changes: Vec<_> = ro
        .changes
        .iter()
        .map(|a| {
            let d: serde_json::Value = serde_json::from_str(&a.detail).unwrap_or_default();
            format!(
                "{} — {}: {} {} → {}",
                crate::policy::calendar::format_local(
                    c.timezone,
                    crate::domain::time::from_millis(a.at)
                ),
                a.actor,
                d["channel"].as_str().unwrap_or_default(),
                d["from"].as_str().unwrap_or_default(),
                d["to"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    Ok(render(
        "client.html",
        context! {
            ..frame(&who, "client"),
            ..context! {
                month,
                from => from.to_string(),
                to => to.to_string(),
                period_mode,
                c => context! {
                    code => code.clone(),
                    name => c.name.clone(),
                    managers => c.managers.iter().map(|m| m.name.clone()).collect::<Vec<_>>().join(", "),
                    spa_start => c.spa.start.to_string(),
                    spa_end => c.spa.end.to_string(),
                    renewal_notice_date => c.spa.renewal_notice_date().to_string(),
                },
                sso_cards,
                client_cards,
                channels,
                services,
                service_headers => SERVICE_HEADERS,
                statement,
                spikes => spike_rows,
                off_hours => pct(kp.off_hours_share),
                first_hour => kp.first_coverage_hour,
                last_hour => kp.last_coverage_hour,
                daily_svg => svg(bars_svg("Contacts per day", &series, &marked)),
                heatmap_svg => svg(heatmap_svg(&kp.heatmap)),
                csat_svg => svg(distribution_svg(&kp.csat_distribution)),
                rollout => rollout_rows,
                rollout_changes,
                rollout_modes => ["live", "pilot", "shadow", "off"],
                may_set_rollout => who.may(Permission::ManageRollout),
                shadowed => kp.shadowed_conversations,
                turned_away => kp.rollout_off_conversations,
            }
        },
    )?
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    status: Option<String>,
}

/// A manager's action from the escalations page: the same action, and the same delivery to
/// the client's channel, as from Telegram, Discord or the API.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    action: String,
    #[serde(default)]
    text: Option<String>,
}

pub async fn act_on_escalation(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath(id): ApiPath<i64>,
    axum::Form(form): axum::Form<ActForm>,
) -> Result<Response, ApiError> {
    use crate::backoffice::access::Role;
    use crate::escalation::actions::{Actor, act_and_relay};
    use crate::store::EscalationAction;
    require(&who, Permission::ReadEscalations)?;
    let actor = match who.role {
        Role::Admin | Role::SsoLead => Actor::Admin,
        // Account managers sign in with their email as username.
        Role::AccountManager => Actor::Manager {
            email: who.username.clone(),
        },
        Role::ClientLead => {
            return Err(ApiError::Forbidden(
                "client leads do not act on escalations".into(),
            ));
        }
    };
    let action = match form.action.as_str() {
        "ack" => EscalationAction::Acknowledge,
        "reply" => EscalationAction::Reply,
        "resolve" => EscalationAction::Resolve,
        // The text box edits the draft; left empty, the draft goes as written.
        "approve" => EscalationAction::Approve,
        other => {
            return Err(ApiError::Unprocessable(format!(
                "unknown action {other:?}: ack, reply, resolve or approve"
            )));
        }
    };
    let text = form.text.filter(|t| !t.trim().is_empty());
    act_and_relay(
        &app.chat,
        &app.web.outlets,
        id,
        &actor,
        action,
        text,
        None,
        Utc::now(),
    )
    .await?;
    Ok(axum::response::Redirect::to("/admin/escalations").into_response())
}

/// A shadow-mode escalation's draft as the page shows it: what the bot understood and would
/// have said.
fn draft_view(e: &crate::store::EscalationRow) -> Option<Value> {
    let d: crate::dialogue::Draft = serde_json::from_str(e.draft.as_deref()?).ok()?;
    Some(context! {
        question => d.question,
        intent => d.intent.unwrap_or_else(|| "no intent".into()),
        confidence => format!("{:.0}%", d.confidence * 100.0),
        text => d.replies.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("\n\n"),
    })
}

pub async fn escalations(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ReadEscalations)?;
    let status = q.status.filter(|s| !s.is_empty());
    let rows =
        dashboard::escalations(app.chat.store.as_ref(), &who, status.as_deref(), 200).await?;
    let now = now();
    let rows: Vec<Value> = rows
        .iter()
        .map(|e| {
            context! {
                id => e.id,
                client => e.client_code.clone().unwrap_or_else(|| "–".into()),
                reason => e.reason.clone(),
                reference => e.request_reference.clone(),
                priority => e.priority.clone(),
                status => e.status.clone(),
                overdue => e.first_response_at.is_none() && e.resolved_at.is_none() && e.due_at < now,
                level => e.level,
                created => when(Some(e.created_at)),
                due => when(Some(e.due_at)),
                acknowledged => match (&e.acknowledged_by, e.acknowledged_at) {
                    (Some(by), Some(at)) => format!("{} by {by}", when(Some(at))),
                    (_, at) => when(at),
                },
                resolved => when(e.resolved_at),
                draft => draft_view(e),
                verdict => e.draft_verdict.clone(),
            }
        })
        .collect();
    Ok(render(
        "escalations.html",
        context! {
            ..frame(&who, "escalations"),
            ..context! {
                rows,
                may_act => !matches!(who.role, crate::backoffice::access::Role::ClientLead),
                status => status.unwrap_or_default(),
                statuses => ["", "open", "acknowledged", "resolved"],
            }
        },
    )?
    .into_response())
}

#[derive(Debug, Deserialize)]
pub struct DaysQuery {
    days: Option<i64>,
}

pub async fn gaps(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiQuery(q): ApiQuery<DaysQuery>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ReadGaps)?;
    let days = super::api::bounded("days", q.days, 30, 1, 366)?;
    let k = current(&app.chat.knowledge);
    let report = super::api::recent_gaps(&app, &k, &who, Some(days)).await?;
    let groups: Vec<Value> = report
        .groups
        .iter()
        .take(200)
        .map(|g| {
            context! {
                volume => g.volume,
                examples => g.examples.iter().take(4).cloned().collect::<Vec<_>>(),
                chosen => g.chosen.iter().take(4).map(|c| format!("asked “{}”, chose {}", c.question, c.intent)).collect::<Vec<_>>(),
                kinds => g.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
                intent => g.nearest.as_ref().map(|n| format!("{} ({:.0}%)", n.intent, n.share * 100.0)).unwrap_or_else(|| "–".into()),
                last_seen => when(Some(g.last_seen)),
            }
        })
        .collect();
    Ok(render(
        "gaps.html",
        context! {
            ..frame(&who, "gaps"),
            ..context! { days, groups, grouped => true }
        },
    )?
    .into_response())
}

pub async fn users(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
) -> Result<Response, ApiError> {
    require(&who, Permission::ManageUsers)?;
    let users: Vec<Value> = app
        .chat
        .store
        .users()
        .await?
        .iter()
        .map(|u| {
            let clients: Vec<String> = serde_json::from_str(&u.client_scope).unwrap_or_default();
            context! {
                username => u.username.clone(),
                role => u.role.clone(),
                clients => if clients.is_empty() { "all".to_string() } else { clients.join(", ") },
                disabled => u.disabled,
                created => when(Some(u.created_at)),
            }
        })
        .collect();
    Ok(render(
        "users.html",
        context! { ..frame(&who, "users"), ..context! { users } },
    )?
    .into_response())
}
