//! The service-request API for the SSO's case system (ServiceNow, Jira Service Management,
//! Zendesk, …): poll requests changed since a time, read one with its timeline, move it
//! through its lifecycle, add a note. Authenticated like the back office's JSON API (the
//! operator's `FRONTDOOR_ADMIN_TOKEN` or an API token); an account manager's token sees and
//! moves only their clients' requests, a client lead's only reads their client's.
//!
//! Every move goes through [`crate::requests::change`], so the API, the back office and the
//! chat follow the same lifecycle rules, and the client hears of it in their channel.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::backoffice::auth::{ApiUser, require};
use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState};
use crate::backoffice::access::{Permission, Principal};
use crate::dialogue::service::current;
use crate::domain::time::{from_millis, millis};
use crate::domain::{RequestSource, RequestStatus};
use crate::policy::lifecycle::{Change, SlaState, sla_state};
use crate::requests::{self, RequestError};
use crate::store::{RequestEventRow, RequestFilter, RequestRow};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/requests", get(list))
        .route("/api/v1/requests/{reference}", get(show).patch(update))
        .route("/api/v1/requests/{reference}/events", post(add_event))
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
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
}

/// A request as the API shows it (times in RFC 3339, UTC).
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub reference: String,
    pub client: Option<String>,
    pub service: String,
    pub service_name: Option<String>,
    #[schema(value_type = String, example = "in_progress")]
    pub status: String,
    pub priority: String,
    /// The SPA inputs the client gave, by name.
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
    pub assignee: Option<String>,
    /// The case system's own id for it (set with PATCH).
    pub external_id: Option<String>,
    pub opened_at: DateTime<Utc>,
    /// The SSO's due time, moved out by the time spent waiting for the client.
    pub due_at: DateTime<Utc>,
    /// The client's due time while they are asked for information.
    pub client_due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub sla: SlaState,
    pub reopened: i64,
    /// Where it may move next.
    pub allowed: Vec<RequestStatus>,
}

/// One entry of a request's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    /// `created`, `status`, `assigned`, `note`, `client_reply`, `linked`.
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub actor: String,
    /// `chat`, `backoffice`, `api`, `system`.
    pub source: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestDetail {
    pub request: RequestView,
    pub events: Vec<EventView>,
    /// The client's message about this change reached their channel during the call (else
    /// the outbox delivers it, with retries). Absent on reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayed: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestPage {
    pub requests: Vec<RequestView>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

fn view(app: &AppState, r: &RequestRow, now: DateTime<Utc>) -> RequestView {
    let k = current(&app.chat.knowledge);
    let service = k.services.get(&r.service_id);
    let tz = k.coverage_for(r.client_code.as_deref(), service).timezone;
    RequestView {
        reference: r.reference.clone(),
        client: r.client_code.clone(),
        service: r.service_id.clone(),
        service_name: service.map(|s| s.name.clone()),
        status: r.status.clone(),
        priority: r.priority.clone(),
        inputs: serde_json::from_str(&r.inputs).unwrap_or_else(|_| serde_json::json!({})),
        assignee: r.assignee.clone(),
        external_id: r.external_id.clone(),
        opened_at: from_millis(r.opened_at),
        due_at: from_millis(r.due_at),
        client_due_at: r.client_due_at.map(from_millis),
        closed_at: r.closed_at.map(from_millis),
        updated_at: from_millis(r.updated_at),
        sla: sla_state(r, tz, now),
        reopened: r.reopened,
        allowed: RequestStatus::parse(&r.status)
            .map(|s| s.next().to_vec())
            .unwrap_or_default(),
    }
}

fn event_view(e: &RequestEventRow) -> EventView {
    EventView {
        id: e.id,
        kind: e.kind.clone(),
        from: e.from_status.clone(),
        to: e.to_status.clone(),
        actor: e.actor.clone(),
        source: e.source.clone(),
        note: e.note.clone(),
        at: from_millis(e.created_at),
    }
}

fn detail(
    app: &AppState,
    r: &RequestRow,
    events: &[RequestEventRow],
    relayed: Option<bool>,
) -> RequestDetail {
    RequestDetail {
        request: view(app, r, Utc::now()),
        events: events.iter().map(event_view).collect(),
        relayed,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// One status or several, comma-separated (`open,in_progress`).
    #[param(
        pattern = "^((open|in_progress|waiting_for_client|done|cancelled|reopened)(,(open|in_progress|waiting_for_client|done|cancelled|reopened))*)?$"
    )]
    status: Option<String>,
    /// A client code.
    client: Option<String>,
    /// A service id.
    service: Option<String>,
    assignee: Option<String>,
    /// Only requests changed at or after this time (RFC 3339).
    #[param(format = DateTime)]
    updated_since: Option<String>,
    /// Only requests past the SSO's due time and still running.
    overdue: Option<bool>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^([0-9]+\\.[0-9]+)?$")]
    cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

fn parse_statuses(s: &str) -> Result<Vec<String>, ApiError> {
    s.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            RequestStatus::parse(w)
                .map(|s| s.as_str().to_string())
                .ok_or_else(|| unknown_status(w))
        })
        .collect()
}

fn unknown_status(w: &str) -> ApiError {
    let all: Vec<&str> = RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
    ApiError::BadRequest(format!("unknown status {w:?}: one of {}", all.join(", ")))
}

fn parse_cursor(c: &str) -> Result<(i64, i64), ApiError> {
    c.split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| ApiError::BadRequest(format!("cursor {c:?} is not one this API gave")))
}

/// The clients a caller's request filter is limited to, with the asked client checked in.
fn scoped_clients(who: &Principal, asked: Option<&str>) -> Option<Vec<String>> {
    match (who.client_scope(), asked) {
        (None, None) => None,
        (None, Some(c)) => Some(vec![c.to_string()]),
        (Some(mine), None) => Some(mine),
        (Some(mine), Some(c)) => Some(mine.into_iter().filter(|m| m == c).collect()),
    }
}

/// Requests, oldest change first: poll with `updated_since` and follow `next_cursor`.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(ListQuery),
    responses((status = 200, body = RequestPage), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<RequestPage>, ApiError> {
    require(&who, Permission::ReadRequests)?;
    let limit = match q.limit {
        None => 100,
        Some(n) if (1..=500).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and 500, not {n}"
            )));
        }
    };
    let updated_since = match q.updated_since.as_deref() {
        None => None,
        Some(t) => Some(millis(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| {
                    ApiError::BadRequest(format!(
                        "updated_since {t:?} is not an RFC 3339 time: {e}"
                    ))
                })?
                .with_timezone(&Utc),
        )),
    };
    let filter = RequestFilter {
        statuses: q
            .status
            .as_deref()
            .map(parse_statuses)
            .transpose()?
            .unwrap_or_default(),
        clients: scoped_clients(&who, q.client.as_deref()),
        service: q.service.clone(),
        assignee: q.assignee.clone(),
        updated_since,
        due_before: q.overdue.unwrap_or(false).then(|| millis(Utc::now())),
        // An empty parameter (`cursor=`) is an absent one.
        after: q
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(parse_cursor)
            .transpose()?,
        limit,
    };
    let rows = app.chat.store.requests(&filter).await?;
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| format!("{}.{}", r.updated_at, r.id)))
        .flatten();
    let now = Utc::now();
    Ok(Json(RequestPage {
        requests: rows.iter().map(|r| view(&app, r, now)).collect(),
        next_cursor,
    }))
}

/// A request with its inputs, status, due times and timeline.
#[utoipa::path(get, path = "/api/v1/requests/{reference}", tag = "requests",
    params(("reference" = String, Path, description = "The request's reference, e.g. REQ-1001")),
    responses((status = 200, body = RequestDetail), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn show(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(reference): ApiPath<String>,
) -> Result<Json<RequestDetail>, ApiError> {
    require(&who, Permission::ReadRequests)?;
    let (row, events) = requests::read(&app.chat, &reference, &who.client_scope()).await?;
    Ok(Json(detail(&app, &row, &events, None)))
}

/// A change: any of a new status, a note (the question when asking the client, the completion
/// note, the cancellation reason), an assignee (`""` unassigns), the case system's id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[schema(value_type = Option<RequestStatus>, example = "in_progress")]
    pub status: Option<String>,
    #[schema(max_length = 4000)]
    pub note: Option<String>,
    #[schema(max_length = 200)]
    pub assignee: Option<String>,
    #[schema(max_length = 200)]
    pub external_id: Option<String>,
}

/// The `Idempotency-Key` header: a retried call with the same key does nothing new.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "Idempotency-Key must be 1-200 visible ASCII characters".into(),
                    )
                })?;
            Ok(Some(format!("api:{k}")))
        }
    }
}

/// Make `change` as `who` (within their clients) and show the request after it.
async fn act(
    app: &AppState,
    who: &Principal,
    reference: &str,
    change: Change,
) -> Result<RequestDetail, ApiError> {
    let done = requests::change(
        &app.chat,
        &app.web.outlets,
        reference,
        change,
        &who.client_scope(),
        Utc::now(),
    )
    .await?;
    Ok(detail(app, &done.request, &done.events, Some(done.relayed)))
}

fn bounded_text(name: &str, v: &Option<String>, max: usize) -> Result<(), ApiError> {
    match v {
        Some(t) if t.chars().count() > max => Err(ApiError::Unprocessable(format!(
            "{name} is at most {max} characters"
        ))),
        _ => Ok(()),
    }
}

/// Move a request, assign it, record the case system's id. The client hears of a move in the
/// channel they used (picked up; information needed, with the note as the question; done, with
/// the note, then the pulse survey; cancelled, with the note as the reason). A move the
/// lifecycle does not allow is refused with 409 and the allowed moves; nothing changes.
#[utoipa::path(patch, path = "/api/v1/requests/{reference}", tag = "requests",
    params(("reference" = String, Path, description = "The request's reference, e.g. REQ-1001"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe: 1-200 visible ASCII characters",
            pattern = "^[!-~]{1,200}$")),
    request_body = PatchBody,
    responses((status = 200, body = RequestDetail), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn update(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(reference): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PatchBody>,
) -> Result<Json<RequestDetail>, ApiError> {
    require(&who, Permission::ActOnRequests)?;
    bounded_text("note", &body.note, 4000)?;
    bounded_text("assignee", &body.assignee, 200)?;
    bounded_text("external_id", &body.external_id, 200)?;
    let to = body
        .status
        .as_deref()
        .map(|s| {
            RequestStatus::parse(s.trim()).ok_or_else(|| match unknown_status(s) {
                ApiError::BadRequest(m) => ApiError::Unprocessable(m),
                e => e,
            })
        })
        .transpose()?;
    let change = Change {
        to,
        note: body.note,
        assignee: body.assignee,
        external_id: body.external_id,
        client_reply: false,
        actor: who.username.clone(),
        source: Some(RequestSource::Api),
        idempotency_key: idempotency_key(&headers)?,
    };
    Ok(Json(act(&app, &who, &reference, change).await?))
}

/// A note on a request's timeline (the client is not told).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    #[schema(min_length = 1, max_length = 4000)]
    pub note: String,
}

/// Add a note to a request's timeline, e.g. a comment made in the case system.
#[utoipa::path(post, path = "/api/v1/requests/{reference}/events", tag = "requests",
    params(("reference" = String, Path, description = "The request's reference, e.g. REQ-1001"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried call safe: 1-200 visible ASCII characters",
            pattern = "^[!-~]{1,200}$")),
    request_body = EventBody,
    responses((status = 201, body = RequestDetail), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn add_event(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(reference): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EventBody>,
) -> Result<(StatusCode, Json<RequestDetail>), ApiError> {
    require(&who, Permission::ActOnRequests)?;
    if body.note.trim().is_empty() {
        return Err(ApiError::Unprocessable("note must not be empty".into()));
    }
    bounded_text("note", &Some(body.note.clone()), 4000)?;
    let change = Change {
        note: Some(body.note),
        actor: who.username.clone(),
        source: Some(RequestSource::Api),
        idempotency_key: idempotency_key(&headers)?,
        ..Change::default()
    };
    let mut done = act(&app, &who, &reference, change).await?;
    // A note tells nobody: there is no delivery to report.
    done.relayed = None;
    Ok((StatusCode::CREATED, Json(done)))
}
