//! The monthly report's review over the JSON API: read a report's review, comment on it (an
//! action agreed is a comment with an owner and a due month), mark one's own side reviewed,
//! close an action, and list the reports awaiting review. Scoped like the rest of the admin
//! API: a client outside the caller's scope is a 403 (`check_client`), an unknown one a 404.
//! Who marks which side: `backoffice::review`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::ToSchema;

use super::super::error::ErrorBody;
use super::super::{ApiError, ApiJson, ApiPath, AppState};
use super::api::check_client;
use super::auth::{ApiUser, require};
use crate::backoffice::access::{Permission, Principal};
use crate::backoffice::review::awaiting::{AwaitingReview, awaiting};
use crate::backoffice::review::{
    self, Comment, CommentRequest, Review, ReviewError, close_action, mark_reviewed,
};
use crate::dialogue::service::{current, millis};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/admin/reviews", get(awaiting_reviews))
        .route(
            "/api/v1/admin/clients/{code}/reports/{month}/review",
            get(show),
        )
        .route(
            "/api/v1/admin/clients/{code}/reports/{month}/review/comments",
            post(comment),
        )
        .route(
            "/api/v1/admin/clients/{code}/reports/{month}/review/reviewed",
            post(reviewed),
        )
        .route(
            "/api/v1/admin/clients/{code}/reports/{month}/review/actions/{id}/done",
            post(action_done),
        )
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::UnknownClient(c) => ApiError::NotFound(format!("unknown client {c}")),
            ReviewError::BadMonth(_) => ApiError::BadRequest(e.to_string()),
            ReviewError::Invalid(m) => ApiError::Unprocessable(m),
            ReviewError::Forbidden(m) => ApiError::Forbidden(m),
            ReviewError::NoSuchAction { .. } => ApiError::NotFound(e.to_string()),
            ReviewError::Store(s) => s.into(),
        }
    }
}

/// The caller may review this client's reports: in scope (403 otherwise, as every client
/// route of the admin API) and a role that reviews.
pub(super) fn check_reviewer(who: &Principal, code: &str) -> Result<(), ApiError> {
    check_client(who, code)?;
    require(who, Permission::ReviewReports)
}

fn now() -> i64 {
    millis(chrono::Utc::now())
}

/// Monthly reports of the caller's clients still awaiting review (the last three ended months
/// of each), with the sides missing and the days since the month ended, longest-waiting first.
#[utoipa::path(get, path = "/api/v1/admin/reviews", tag = "back office",
    responses((status = 200, body = Vec<AwaitingReview>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn awaiting_reviews(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
) -> Result<Json<Vec<AwaitingReview>>, ApiError> {
    require(&who, Permission::ReadReports)?;
    let k = current(&app.chat.knowledge);
    let all = awaiting(app.chat.store.as_ref(), &k, chrono::Utc::now()).await?;
    Ok(Json(
        all.into_iter()
            .filter(|a| who.sees_client(&a.client))
            .collect(),
    ))
}

/// A monthly report's review: comments (and actions agreed), each side's mark, whether it is
/// reviewed.
#[utoipa::path(get, path = "/api/v1/admin/clients/{code}/reports/{month}/review", tag = "back office",
    params(("code" = String, Path, description = "client code"),
           ("month" = String, Path, description = "the report's month, YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")),
    responses((status = 200, body = Review), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn show(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath((code, month)): ApiPath<(String, String)>,
) -> Result<Json<Review>, ApiError> {
    check_client(&who, &code)?;
    let k = current(&app.chat.knowledge);
    Ok(Json(
        review::review(app.chat.store.as_ref(), &k, &code, &month, now()).await?,
    ))
}

/// An action agreed: who does it, and the month it is due.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub owner: String,
    /// `YYYY-MM`, not before the month reviewed.
    #[schema(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub due: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub text: String,
    /// Makes the comment an action agreed.
    pub action: Option<ActionBody>,
}

/// Comment on a report (once its month has begun), as the caller's side: account managers,
/// SSO leads and admins speak for the SSO, client leads for their client.
#[utoipa::path(post, path = "/api/v1/admin/clients/{code}/reports/{month}/review/comments", tag = "back office",
    params(("code" = String, Path, description = "client code"),
           ("month" = String, Path, description = "the report's month, YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")),
    request_body = CommentBody,
    responses((status = 201, body = Comment), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn comment(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath((code, month)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<CommentBody>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    check_reviewer(&who, &code)?;
    let k = current(&app.chat.knowledge);
    let request = CommentRequest {
        text: body.text,
        action_owner: body.action.as_ref().map(|a| a.owner.clone()),
        action_due: body.action.map(|a| a.due),
    };
    let c = review::add_comment(
        app.chat.store.as_ref(),
        &k,
        &who,
        &code,
        &month,
        &request,
        now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Mark the caller's side of an ended month's report reviewed (marking again changes nothing:
/// the first mark stands). The account manager or an SSO lead marks the SSO's side, the
/// client lead the client's; admins mark neither (403).
#[utoipa::path(post, path = "/api/v1/admin/clients/{code}/reports/{month}/review/reviewed", tag = "back office",
    params(("code" = String, Path, description = "client code"),
           ("month" = String, Path, description = "the report's month, YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")),
    responses((status = 200, body = Review), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reviewed(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath((code, month)): ApiPath<(String, String)>,
) -> Result<Json<Review>, ApiError> {
    check_reviewer(&who, &code)?;
    let k = current(&app.chat.knowledge);
    Ok(Json(
        mark_reviewed(app.chat.store.as_ref(), &k, &who, &code, &month, now()).await?,
    ))
}

/// Record an action agreed on the report as done (either side; the first close stands).
#[utoipa::path(post, path = "/api/v1/admin/clients/{code}/reports/{month}/review/actions/{id}/done", tag = "back office",
    params(("code" = String, Path, description = "client code"),
           ("month" = String, Path, description = "the report's month, YYYY-MM", pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
           ("id" = i64, Path, description = "the action's comment id")),
    responses((status = 200, body = Comment), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn action_done(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath((code, month, id)): ApiPath<(String, String, i64)>,
) -> Result<Json<Comment>, ApiError> {
    check_reviewer(&who, &code)?;
    let k = current(&app.chat.knowledge);
    Ok(Json(
        close_action(app.chat.store.as_ref(), &k, &who, &code, &month, id, now()).await?,
    ))
}
