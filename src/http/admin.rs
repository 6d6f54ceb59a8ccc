//! Operations endpoints: content reload. Callers are the operator (`FRONTDOOR_ADMIN_TOKEN` as a
//! Bearer token) or a back-office admin (session or API token); nobody else, loopback included.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use super::backoffice::auth::{ApiUser, require};
use super::{ApiError, AppState};
use crate::backoffice::access::Permission;
use crate::knowledge::live::{ReloadError, Reloaded};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/admin/reload", post(reload))
}

async fn reload(
    State(app): State<Arc<AppState>>,
    ApiUser(p): ApiUser,
) -> Result<Json<Reloaded>, ApiError> {
    require(&p, Permission::Reload)?;
    match app.live_knowledge().reload().await {
        Ok(r) => Ok(Json(r)),
        Err(ReloadError::Content(errors)) => Err(ApiError::Unprocessable(format!(
            "content has errors; the previous knowledge stays loaded:\n{errors}"
        ))),
        Err(ReloadError::Store(e)) => Err(e.into()),
    }
}
