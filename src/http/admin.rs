//! Operations endpoints: content reload. Callers are the operator (`FRONTDOOR_ADMIN_TOKEN` as a
//! Bearer token) or a back-office admin (session or API token); nobody else, loopback included.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use super::backoffice::auth::ApiUser;
use super::{ApiError, AppState};
use crate::app::{AppError, Reloaded};
use crate::backoffice::access::{Permission, Principal};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/api/v1/admin/reload", post(reload))
}

/// Require a back-office caller with `permission` (the admin token counts as an admin).
pub(super) fn require(p: &Principal, permission: Permission) -> Result<(), ApiError> {
    if p.may(permission) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{} may not do this ({:?} needed)",
            p.role.as_str(),
            permission
        )))
    }
}

async fn reload(
    State(app): State<Arc<AppState>>,
    ApiUser(p): ApiUser,
) -> Result<Json<Reloaded>, ApiError> {
    require(&p, Permission::Reload)?;
    match crate::app::reload(&app).await {
        Ok(r) => Ok(Json(r)),
        Err(AppError::Content(errors)) => Err(ApiError::Unprocessable(format!(
            "content has errors; the previous knowledge stays loaded:\n{errors}"
        ))),
        Err(AppError::Store(e)) => Err(e.into()),
    }
}
