//! `GET /api/v1/announcements`: the running announcements the web widget shows as a banner,
//! for the visitor's client (and those for every client).
//!
//! Who the visitor is comes the way the chat takes it: a signed identity token (here in the
//! `Authorization: Bearer` header, so it stays out of URLs and access logs), or, on a server
//! without an identity secret, the `client` the host page names.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ErrorBody;
use super::{ApiError, ApiQuery, AppState};
use crate::channels::identity::{self, TokenError};
use crate::domain::time::{from_millis, millis};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/announcements", get(active))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BannerQuery {
    /// The visitor's client code, on a server without an identity secret (with one, send the
    /// identity token as `Authorization: Bearer` instead).
    #[param(max_length = 64)]
    pub client: Option<String>,
}

/// A running announcement, as the widget's banner shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Banner {
    pub id: i64,
    pub title: String,
    pub text: String,
    pub urgent: bool,
    pub article_id: Option<String>,
    pub ends_at: DateTime<Utc>,
}

/// The announcements running now for the web chat of this visitor's client, urgent first.
#[utoipa::path(get, path = "/api/v1/announcements", tag = "announcements", params(BannerQuery),
    responses((status = 200, body = Vec<Banner>), (status = 400, body = ErrorBody),
              (status = 401, description = "a bad identity token, or a client named where only a token may say it", body = ErrorBody)))]
pub async fn active(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<BannerQuery>,
) -> Result<Json<Vec<Banner>>, ApiError> {
    let client = visitor_client(&app, &headers, q.client)?;
    let now = Utc::now();
    let banners = app
        .chat
        .store
        .active_announcements(millis(now))
        .await?
        .into_iter()
        .filter(|a| a.channel_list().iter().any(|c| c == "web"))
        .filter(|a| a.reaches_client(client.as_deref()))
        .map(|a| Banner {
            id: a.id,
            title: a.title,
            text: a.body,
            urgent: a.urgent,
            article_id: a.article_id,
            ends_at: from_millis(a.ends_at),
        })
        .collect();
    Ok(Json(banners))
}

/// The visitor's client: from a verified token, or the query where the server trusts it.
fn visitor_client(
    app: &AppState,
    headers: &HeaderMap,
    named: Option<String>,
) -> Result<Option<String>, ApiError> {
    let named = named
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if named.as_ref().is_some_and(|c| c.chars().count() > 64) {
        return Err(ApiError::BadRequest(
            "client is longer than 64 characters".into(),
        ));
    }
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let secret = app.web.identity_secret.as_ref();
    match (token, secret) {
        (Some(token), Some(secret)) => {
            let claims =
                identity::verify(token, secret.expose().as_bytes(), Utc::now().timestamp())
                    .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
            Ok(claims.client)
        }
        (Some(_), None) => Err(ApiError::Unauthorized(
            TokenError::NotConfigured.to_string(),
        )),
        (None, Some(_)) if named.is_some() => Err(ApiError::Unauthorized(
            "a signed identity token is required to name a client on this server".into(),
        )),
        (None, _) => Ok(named),
    }
}
