//! Admin endpoints: content reload. Protected by `FRONTDOOR_ADMIN_TOKEN` (Bearer); without a
//! token configured they answer only on the loopback interface.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};

use super::{ApiError, AppState};
use crate::app::{AppError, Reloaded};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/admin/reload", post(reload))
}

pub(super) fn authorise(
    app: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    match &app.admin_token {
        Some(token) => {
            let given = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            // Constant-time comparison: the token must not leak through timing.
            let ok = given.is_some_and(|g| {
                crate::channels::identity::constant_time_eq(g.as_bytes(), token.expose().as_bytes())
            });
            if ok {
                Ok(())
            } else {
                Err(ApiError::Unauthorized(
                    "a valid admin token is required (Authorization: Bearer ...)".into(),
                ))
            }
        }
        None if peer.ip().is_loopback() => Ok(()),
        None => Err(ApiError::Unauthorized(
            "admin endpoints need FRONTDOOR_ADMIN_TOKEN when called from another host".into(),
        )),
    }
}

async fn reload(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Reloaded>, ApiError> {
    authorise(&app, &headers, peer)?;
    match crate::app::reload(&app).await {
        Ok(r) => Ok(Json(r)),
        Err(AppError::Content(errors)) => Err(ApiError::Unprocessable(format!(
            "content has errors; the previous knowledge stays loaded:\n{errors}"
        ))),
        Err(AppError::Store(e)) => Err(e.into()),
    }
}
