//! Announcements in the back office: the JSON API (`/api/v1/admin/announcements`) and the page
//! (`/admin/announcements`: a form, and the list with each one's delivery counts). Admins and
//! SSO leads (`Permission::ManageAnnouncements`) — they speak to every client, which is why
//! account managers, scoped to theirs, do not.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDateTime, Utc};
use minijinja::{Value, context};
use serde::Deserialize;

use super::super::error::ErrorBody;
use super::super::{ApiError, ApiJson, ApiPath, AppState};
use super::auth::{ApiUser, PageUser, require};
use super::pages::{frame, render};
use crate::announce::{AnnounceError, AnnouncementRequest, AnnouncementView, validate};
use crate::backoffice::access::{Permission, Principal};
use crate::dialogue::service::current;
use crate::domain::time::millis;
use crate::store::Store;

/// Shown on the page and in the API's list: the newest this many.
const LISTED: i64 = 100;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/admin/announcements", get(list).post(create))
        .route("/api/v1/admin/announcements/{id}", get(show).delete(end))
        .route("/admin/announcements", get(page).post(create_from_form))
        .route("/admin/announcements/{id}/end", post(end_from_form))
}

impl From<AnnounceError> for ApiError {
    fn from(e: AnnounceError) -> Self {
        match e {
            AnnounceError::Invalid(m) => ApiError::Unprocessable(m),
            AnnounceError::NotFound(_) => ApiError::NotFound(e.to_string()),
            AnnounceError::Store(s) => s.into(),
        }
    }
}

async fn view(
    store: &dyn Store,
    id: i64,
    now: DateTime<Utc>,
) -> Result<AnnouncementView, ApiError> {
    let a = store
        .announcement(id)
        .await?
        .ok_or(AnnounceError::NotFound(id))?;
    let counts = store.delivery_counts(id).await?;
    Ok(AnnouncementView::new(&a, counts, now))
}

async fn views(store: &dyn Store, now: DateTime<Utc>) -> Result<Vec<AnnouncementView>, ApiError> {
    let mut out = Vec::new();
    for a in store.announcements(LISTED).await? {
        let counts = store.delivery_counts(a.id).await?;
        out.push(AnnouncementView::new(&a, counts, now));
    }
    Ok(out)
}

async fn create_one(
    app: &AppState,
    who: &Principal,
    r: AnnouncementRequest,
) -> Result<i64, ApiError> {
    require(who, Permission::ManageAnnouncements)?;
    let k = current(&app.chat.knowledge);
    let now = Utc::now();
    let new = validate(r, &k, &who.username, now)?;
    let id = app
        .chat
        .store
        .create_announcement(&new, millis(now))
        .await?;
    app.chat.announcements_changed();
    tracing::info!(announcement = id, by = %who.username, clients = ?new.clients, channels = ?new.channels, urgent = new.urgent, "announcement created");
    Ok(id)
}

/// Create an announcement: who it is for (clients, channels, linked or recently active chat
/// users), when it runs, the article it is about, whether it is urgent (sent outside the
/// clients' coverage hours too). Telegram and Discord users get it once; the web chat shows
/// it as a banner while it runs.
#[utoipa::path(post, path = "/api/v1/admin/announcements", tag = "announcements",
    request_body = AnnouncementRequest,
    responses((status = 201, body = AnnouncementView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, description = "end before start or in the past, empty text, unknown client, channel or article", body = ErrorBody)))]
pub async fn create(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiJson(body): ApiJson<AnnouncementRequest>,
) -> Result<(StatusCode, Json<AnnouncementView>), ApiError> {
    let id = create_one(&app, &who, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(view(app.chat.store.as_ref(), id, Utc::now()).await?),
    ))
}

/// The newest announcements (at most 100), newest first, with their delivery counts.
#[utoipa::path(get, path = "/api/v1/admin/announcements", tag = "announcements",
    responses((status = 200, body = Vec<AnnouncementView>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
) -> Result<Json<Vec<AnnouncementView>>, ApiError> {
    require(&who, Permission::ManageAnnouncements)?;
    Ok(Json(views(app.chat.store.as_ref(), Utc::now()).await?))
}

/// One announcement with its delivery counts.
#[utoipa::path(get, path = "/api/v1/admin/announcements/{id}", tag = "announcements",
    params(("id" = i64, Path, description = "announcement id")),
    responses((status = 200, body = AnnouncementView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn show(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AnnouncementView>, ApiError> {
    require(&who, Permission::ManageAnnouncements)?;
    Ok(Json(view(app.chat.store.as_ref(), id, Utc::now()).await?))
}

async fn end_one(app: &AppState, who: &Principal, id: i64) -> Result<(), ApiError> {
    require(who, Permission::ManageAnnouncements)?;
    let store = app.chat.store.as_ref();
    let a = store
        .announcement(id)
        .await?
        .ok_or(AnnounceError::NotFound(id))?;
    if !store.end_announcement(id, millis(Utc::now())).await? {
        return Err(ApiError::Conflict(format!(
            "announcement {} has already ended",
            a.id
        )));
    }
    app.chat.announcements_changed();
    tracing::info!(announcement = id, by = %who.username, "announcement ended early");
    Ok(())
}

/// End an announcement now: the banner goes, nothing more is sent (what waited for coverage
/// is counted as expired). What was sent stays sent.
#[utoipa::path(delete, path = "/api/v1/admin/announcements/{id}", tag = "announcements",
    params(("id" = i64, Path, description = "announcement id")),
    responses((status = 200, body = AnnouncementView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "it has already ended", body = ErrorBody)))]
pub async fn end(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AnnouncementView>, ApiError> {
    end_one(&app, &who, id).await?;
    Ok(Json(view(app.chat.store.as_ref(), id, Utc::now()).await?))
}

/// The page's form as posted (`datetime-local` fields are UTC).
#[derive(Debug, Default, Deserialize)]
pub struct AnnouncementForm {
    title: String,
    text: String,
    /// Comma-separated client codes; empty: every client.
    #[serde(default)]
    clients: String,
    #[serde(default)]
    channel_web: Option<String>,
    #[serde(default)]
    channel_telegram: Option<String>,
    #[serde(default)]
    channel_discord: Option<String>,
    #[serde(default)]
    active_days: String,
    #[serde(default)]
    article_id: String,
    #[serde(default)]
    urgent: Option<String>,
    #[serde(default)]
    starts_at: String,
    ends_at: String,
}

fn utc_field(name: &str, v: &str) -> Result<Option<DateTime<Utc>>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .map(|t| Some(t.and_utc()))
        .map_err(|_| format!("{name} is not a date and time (YYYY-MM-DDTHH:MM, UTC): {v:?}"))
}

impl AnnouncementForm {
    fn request(&self) -> Result<AnnouncementRequest, String> {
        let channels = [
            ("web", &self.channel_web),
            ("telegram", &self.channel_telegram),
            ("discord", &self.channel_discord),
        ]
        .into_iter()
        .filter(|(_, on)| on.is_some())
        .map(|(c, _)| c.to_string())
        .collect();
        let active_days = match self.active_days.trim() {
            "" => None,
            d => Some(
                d.parse::<i64>()
                    .map_err(|_| format!("active days is not a number: {d:?}"))?,
            ),
        };
        Ok(AnnouncementRequest {
            title: self.title.clone(),
            text: self.text.clone(),
            clients: self
                .clients
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            channels,
            active_days,
            article_id: Some(self.article_id.trim().to_string()).filter(|a| !a.is_empty()),
            urgent: self.urgent.is_some(),
            starts_at: utc_field("start", &self.starts_at)?,
            ends_at: utc_field("end", &self.ends_at)?.ok_or("the end is required")?,
        })
    }
}

async fn render_page(
    app: &AppState,
    who: &Principal,
    error: Option<(StatusCode, String)>,
) -> Result<Response, ApiError> {
    require(who, Permission::ManageAnnouncements)?;
    let k = current(&app.chat.knowledge);
    let announcements: Vec<Value> = views(app.chat.store.as_ref(), Utc::now())
        .await?
        .iter()
        .map(|a| Value::from(minijinja::value::Serde(a)))
        .collect();
    let clients: Vec<String> = k.clients.keys().cloned().collect();
    let articles: Vec<String> = k.articles.keys().cloned().collect();
    let (status, message) = error.unwrap_or((StatusCode::OK, String::new()));
    let html = render(
        "announcements.html",
        context! { ..frame(who, "announcements"), ..context! {
            announcements, clients, articles, error => message,
        } },
    )?;
    Ok((status, html).into_response())
}

pub async fn page(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
) -> Result<Response, ApiError> {
    render_page(&app, &who, None).await
}

pub async fn create_from_form(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    axum::Form(form): axum::Form<AnnouncementForm>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ManageAnnouncements)?;
    let request = match form.request() {
        Ok(r) => r,
        Err(why) => {
            return render_page(&app, &who, Some((StatusCode::UNPROCESSABLE_ENTITY, why))).await;
        }
    };
    match create_one(&app, &who, request).await {
        Ok(_) => Ok(Redirect::to("/admin/announcements").into_response()),
        Err(ApiError::Unprocessable(why)) => {
            render_page(&app, &who, Some((StatusCode::UNPROCESSABLE_ENTITY, why))).await
        }
        Err(e) => Err(e),
    }
}

pub async fn end_from_form(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    match end_one(&app, &who, id).await {
        Ok(()) => Ok(Redirect::to("/admin/announcements").into_response()),
        Err(ApiError::Conflict(why)) => {
            render_page(&app, &who, Some((StatusCode::CONFLICT, why))).await
        }
        Err(e) => Err(e),
    }
}
