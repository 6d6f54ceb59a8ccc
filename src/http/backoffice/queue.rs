//! The service requests in the back office: the queue (`/admin/requests`), a request's page
//! (`/admin/requests/{reference}`: inputs, timeline, due times and SLA state) and its actions
//! as HTML forms. Every action goes through [`crate::requests::change`] — the one entry the
//! case system's API uses too — with the signed-in user as the actor; a cookie-authenticated
//! form post must come from our own pages (checked by the `PageUser` extractor).
//!
//! Who may do what: `access.rs`'s matrix. A request outside the caller's clients is "not
//! found"; a client lead sees their client's requests but may not act on them.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use minijinja::{Value, context};
use serde::Deserialize;

use super::super::{ApiError, ApiPath, ApiQuery, AppState};
use super::auth::{PageUser, require};
use super::pages::{frame, render};
use crate::backoffice::access::{Permission, Principal};
use crate::backoffice::queue::{Due, QueueError, QueueQuery, SHOWN, queue, sla_of};
use crate::dialogue::service::current;
use crate::domain::time::from_millis;
use crate::domain::{RequestEventKind, RequestSource, RequestStatus};
use crate::knowledge::Knowledge;
use crate::policy::calendar::format_local;
use crate::policy::lifecycle::{Change, SlaState};
use crate::requests::{self, RequestError};
use crate::store::{Millis, RequestEventRow, RequestRow};

/// The queue's filters as the form sends them (empty fields are "any").
#[derive(Debug, Default, Deserialize)]
pub struct QueueForm {
    client: Option<String>,
    service: Option<String>,
    /// `active` (the default), `all`, or one status.
    status: Option<String>,
    assignee: Option<String>,
    /// `overdue` or `due_today`.
    due: Option<String>,
}

fn field(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl QueueForm {
    fn query(&self) -> Result<QueueQuery, ApiError> {
        let statuses = match field(&self.status).as_deref() {
            None | Some("active") => Vec::new(),
            Some("all") => RequestStatus::ALL.to_vec(),
            Some(s) => vec![RequestStatus::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "unknown status {s:?}: active, all, or one of {}",
                    RequestStatus::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?],
        };
        let due = match field(&self.due).as_deref() {
            None => None,
            Some("overdue") => Some(Due::Overdue),
            Some("due_today") => Some(Due::DueToday),
            Some(d) => {
                return Err(ApiError::BadRequest(format!(
                    "unknown due filter {d:?}: overdue or due_today"
                )));
            }
        };
        Ok(QueueQuery {
            client: field(&self.client),
            service: field(&self.service),
            statuses,
            assignee: field(&self.assignee),
            due,
        })
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::Invalid(m) => ApiError::BadRequest(m),
            QueueError::Forbidden(m) => ApiError::Forbidden(m),
            QueueError::Store(e) => e.into(),
        }
    }
}

/// A time in the request's client's zone ("Thu 26 Nov 14:00"), or a dash.
fn local(k: &Knowledge, r: &RequestRow, t: Option<Millis>) -> String {
    let tz = k
        .coverage_for(r.client_code.as_deref(), k.services.get(&r.service_id))
        .timezone;
    t.map(|t| format_local(tz, from_millis(t)))
        .unwrap_or_else(|| "–".into())
}

/// The SLA state's words and its colour on the page.
fn sla_words(s: SlaState) -> (&'static str, &'static str) {
    match s {
        SlaState::OnTrack => ("on track", ""),
        SlaState::DueToday => ("due today", ""),
        SlaState::Overdue => ("overdue", "bad"),
        SlaState::WaitingForClient => ("waiting for the client", ""),
        SlaState::Met => ("met", "good"),
        SlaState::Missed => ("missed", "bad"),
        SlaState::Cancelled => ("cancelled", ""),
    }
}

fn client_name(k: &Knowledge, r: &RequestRow) -> String {
    r.client_code
        .as_deref()
        .map(|c| k.clients.get(c).map(|x| x.name.clone()).unwrap_or(c.into()))
        .unwrap_or_else(|| "–".into())
}

pub async fn requests(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiQuery(form): ApiQuery<QueueForm>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ReadRequests)?;
    let q = form.query()?;
    let k = current(&app.chat.knowledge);
    let now = Utc::now();
    let found = queue(
        app.chat.store.as_ref(),
        &k,
        &who,
        &q,
        now.timestamp_millis(),
    )
    .await?;
    let rows: Vec<Value> = found
        .rows
        .iter()
        .map(|row| {
            let r = &row.request;
            let (sla, sla_class) = sla_words(row.sla);
            context! {
                reference => r.reference.clone(),
                client => client_name(&k, r),
                service => row.service_name.clone(),
                status => r.status.clone(),
                priority => r.priority.clone(),
                sla, sla_class,
                due => local(&k, r, Some(r.due_at)),
                client_due => r.client_due_at.map(|t| local(&k, r, Some(t))),
                assignee => r.assignee.clone().unwrap_or_else(|| "–".into()),
                opened => local(&k, r, Some(r.opened_at)),
                updated => local(&k, r, Some(r.updated_at)),
            }
        })
        .collect();
    let clients: Vec<(String, String)> = k
        .clients
        .iter()
        .filter(|(code, _)| who.sees_client(code))
        .map(|(code, c)| (code.clone(), c.name.clone()))
        .collect();
    let services: Vec<(String, String)> = k
        .services
        .iter()
        .map(|(id, s)| (id.clone(), s.name.clone()))
        .collect();
    let mut statuses = vec![
        ("active".to_string(), "active (to do)".to_string()),
        ("all".into(), "all".into()),
    ];
    statuses.extend(
        RequestStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), s.as_str().replace('_', " "))),
    );
    Ok(render(
        "requests.html",
        context! {
            ..frame(&who, "requests"),
            ..context! {
                rows,
                matched => found.matched,
                shown => SHOWN,
                clients,
                services,
                statuses,
                dues => [("", "any"), ("overdue", "overdue"), ("due_today", "due today")],
                f => context! {
                    client => field(&form.client).unwrap_or_default(),
                    service => field(&form.service).unwrap_or_default(),
                    status => field(&form.status).unwrap_or_else(|| "active".into()),
                    assignee => field(&form.assignee).unwrap_or_default(),
                    due => field(&form.due).unwrap_or_default(),
                },
            }
        },
    )?
    .into_response())
}

/// The request's inputs, in the order the service asks them, by their prompt's name.
fn inputs(k: &Knowledge, r: &RequestRow) -> Vec<(String, String)> {
    let mut values: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&r.inputs).unwrap_or_default();
    let text = |v: serde_json::Value| match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let mut out = Vec::new();
    if let Some(service) = k.services.get(&r.service_id) {
        for spec in &service.inputs {
            if let Some(v) = values.remove(&spec.name) {
                out.push((spec.name.replace('_', " "), text(v)));
            }
        }
    }
    out.extend(values.into_iter().map(|(name, v)| (name, text(v))));
    out
}

fn event_row(k: &Knowledge, r: &RequestRow, e: &RequestEventRow) -> Value {
    let what = match (
        RequestEventKind::parse(&e.kind),
        &e.from_status,
        &e.to_status,
    ) {
        (_, Some(from), Some(to)) if e.kind == RequestEventKind::ClientReply.as_str() => {
            format!("client answered: {from} → {to}")
        }
        (_, Some(from), Some(to)) => format!("{from} → {to}"),
        (Some(RequestEventKind::Assigned), _, _) => "assigned".into(),
        (Some(RequestEventKind::ClientReply), _, _) => "client answered".into(),
        (Some(RequestEventKind::Linked), _, _) => "case system id".into(),
        _ => e.kind.replace('_', " "),
    };
    context! {
        when => local(k, r, Some(e.created_at)),
        what,
        actor => e.actor.clone(),
        source => e.source.clone(),
        note => e.note.clone().unwrap_or_default(),
    }
}

fn hours(ms: i64) -> String {
    format!("{:.1} h", ms as f64 / 3_600_000.0)
}

/// The request page, with `error` (an action refused) shown above it under `status`.
async fn page(
    app: &AppState,
    who: &Principal,
    reference: &str,
    error: Option<(StatusCode, String)>,
) -> Result<Response, ApiError> {
    let (r, events) = requests::read(&app.chat, reference, &who.client_scope())
        .await
        .map_err(request_error)?;
    let k = current(&app.chat.knowledge);
    let now = Utc::now();
    let (sla, sla_class) = sla_words(sla_of(&k, &r, now));
    let status = RequestStatus::parse(&r.status);
    let can = |to: RequestStatus| status.is_some_and(|s| s.can_move_to(to));
    let tz = k
        .coverage_for(r.client_code.as_deref(), k.services.get(&r.service_id))
        .timezone;
    let html = render(
        "request.html",
        context! {
            ..frame(who, "requests"),
            ..context! {
                error => error.as_ref().map(|(_, m)| m.clone()),
                may_act => who.may(Permission::ActOnRequests),
                can => context! {
                    start => can(RequestStatus::InProgress),
                    ask => can(RequestStatus::WaitingForClient),
                    complete => can(RequestStatus::Done),
                    cancel => can(RequestStatus::Cancelled),
                    reopen => can(RequestStatus::Reopened),
                },
                r => context! {
                    reference => r.reference.clone(),
                    client => client_name(&k, &r),
                    service => k.services.get(&r.service_id).map(|s| s.name.clone()).unwrap_or_else(|| r.service_id.clone()),
                    status => r.status.clone(),
                    priority => r.priority.clone(),
                    sla, sla_class,
                    timezone => tz.name(),
                    due => local(&k, &r, Some(r.due_at)),
                    client_due => r.client_due_at.map(|t| local(&k, &r, Some(t))),
                    waiting_since => local(&k, &r, r.waiting_since),
                    assignee => r.assignee.clone().unwrap_or_else(|| "–".into()),
                    assignee_value => r.assignee.clone().unwrap_or_default(),
                    external_id => r.external_id.clone().unwrap_or_else(|| "–".into()),
                    opened => local(&k, &r, Some(r.opened_at)),
                    first_done => local(&k, &r, r.first_done_at),
                    closed => local(&k, &r, r.closed_at),
                    waited => format!(
                        "{} in business hours ({} on the calendar) over {} question{}, {} answered late",
                        hours(r.waited_business_ms),
                        hours(r.waited_ms),
                        r.client_waits,
                        if r.client_waits == 1 { "" } else { "s" },
                        r.client_late
                    ),
                    reopened => r.reopened,
                },
                inputs => inputs(&k, &r),
                events => events.iter().map(|e| event_row(&k, &r, e)).collect::<Vec<_>>(),
            }
        },
    )?;
    let code = error.map(|(c, _)| c).unwrap_or(StatusCode::OK);
    Ok((code, html).into_response())
}

pub async fn request(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath(reference): ApiPath<String>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ReadRequests)?;
    page(&app, &who, &reference, None).await
}

/// An action from the request page's forms.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    /// `assign`, `start`, `ask`, `complete`, `cancel`, `reopen` or `note`.
    action: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    assignee: Option<String>,
}

/// The change an action asks for, or why it cannot be asked (422).
fn change_for(form: &ActForm, who: &Principal) -> Result<Change, String> {
    let note = field(&form.note);
    let needs = |what: &str| {
        note.clone()
            .ok_or_else(|| format!("{what}: write it in the box next to the button"))
    };
    let (to, note, assignee) = match form.action.as_str() {
        "assign" => (None, None, Some(form.assignee.clone().unwrap_or_default())),
        "start" => (Some(RequestStatus::InProgress), note, None),
        "ask" => (
            Some(RequestStatus::WaitingForClient),
            Some(needs("the question for the client")?),
            None,
        ),
        "complete" => (Some(RequestStatus::Done), note, None),
        "cancel" => (
            Some(RequestStatus::Cancelled),
            Some(needs("the reason for cancelling")?),
            None,
        ),
        "reopen" => (Some(RequestStatus::Reopened), note, None),
        "note" => (None, Some(needs("the note")?), None),
        other => {
            return Err(format!(
                "unknown action {other:?}: assign, start, ask, complete, cancel, reopen or note"
            ));
        }
    };
    Ok(Change {
        to,
        note,
        assignee,
        actor: who.username.clone(),
        source: Some(RequestSource::Backoffice),
        ..Change::default()
    })
}

/// A refused change that is shown on the request page (with its status) rather than as an
/// error body: the user reads why, and what is allowed, where they acted.
fn shown(e: &RequestError) -> Option<StatusCode> {
    match e {
        RequestError::Transition(_) | RequestError::Conflict(_) => Some(StatusCode::CONFLICT),
        RequestError::Invalid(_) => Some(StatusCode::UNPROCESSABLE_ENTITY),
        _ => None,
    }
}

fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::NotFound(r) => ApiError::NotFound(format!("request {r} not found")),
        RequestError::Forbidden(m) => ApiError::Forbidden(m),
        RequestError::Transition(t) => ApiError::Conflict(t.to_string()),
        RequestError::Conflict(m) => ApiError::Conflict(m),
        RequestError::Invalid(m) => ApiError::Unprocessable(m),
        RequestError::Store(e) => e.into(),
        RequestError::Chat(e) => e.into(),
    }
}

pub async fn act(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath(reference): ApiPath<String>,
    axum::Form(form): axum::Form<ActForm>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ActOnRequests)?;
    let scope = who.client_scope();
    let change = match change_for(&form, &who) {
        Ok(c) => c,
        Err(why) => {
            // Still "not found" for a request the caller may not see.
            requests::read(&app.chat, &reference, &scope)
                .await
                .map_err(request_error)?;
            return page(
                &app,
                &who,
                &reference,
                Some((StatusCode::UNPROCESSABLE_ENTITY, why)),
            )
            .await;
        }
    };
    let now: DateTime<Utc> = Utc::now();
    match requests::change(&app.chat, &app.web.outlets, &reference, change, &scope, now).await {
        Ok(changed) => Ok(
            Redirect::to(&format!("/admin/requests/{}", changed.request.reference)).into_response(),
        ),
        Err(e) => match shown(&e) {
            Some(code) => page(&app, &who, &reference, Some((code, e.to_string()))).await,
            None => Err(request_error(e)),
        },
    }
}
