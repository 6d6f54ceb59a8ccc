//! The phased roll-out over HTTP: read a client's modes (`GET`), change them (`PUT` by the
//! operator token or an admin, and the client page's form), each change audited. The change
//! goes through [`ChatService::set_rollout`](crate::dialogue::service::ChatService), so this
//! replica's next message already sees it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::super::error::ErrorBody;
use super::super::{ApiError, ApiJson, ApiPath, AppState};
use super::api::check_client;
use super::auth::{ApiUser, PageUser, require};
use crate::backoffice::access::{Permission, Principal};
use crate::backoffice::rollout::{self, Rollout, RolloutError};
use crate::dialogue::service::current;
use crate::domain::RolloutMode;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/admin/clients/{code}/rollout",
            get(show).put(change),
        )
        .route(
            "/admin/clients/{code}/rollout",
            axum::routing::post(change_from_page),
        )
}

impl From<RolloutError> for ApiError {
    fn from(e: RolloutError) -> Self {
        match e {
            RolloutError::UnknownClient(c) => ApiError::NotFound(format!("unknown client {c}")),
            other => ApiError::Unprocessable(other.to_string()),
        }
    }
}

/// `PUT …/rollout`'s body: the channels to set (the others keep their mode).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutChange {
    pub web: Option<RolloutMode>,
    pub telegram: Option<RolloutMode>,
    pub discord: Option<RolloutMode>,
}

impl RolloutChange {
    fn asked(&self) -> BTreeMap<String, String> {
        [
            ("web", self.web),
            ("telegram", self.telegram),
            ("discord", self.discord),
        ]
        .into_iter()
        .filter_map(|(ch, m)| m.map(|m| (ch.to_string(), m.as_str().to_string())))
        .collect()
    }
}

/// Who is named in the audit trail: the signed-in user, or `operator` for the admin token.
fn actor(who: &Principal) -> String {
    who.username.clone()
}

pub(super) async fn read(app: &AppState, code: &str) -> Result<Rollout, ApiError> {
    let k = current(&app.chat.knowledge);
    let store = app.chat.store.as_ref();
    let set = store.rollout_modes().await?;
    let changes = store.audit_events(&format!("client:{code}"), 20).await?;
    Ok(rollout::rollout(&k, code, &set, changes)?)
}

/// A client's roll-out: each channel's mode and where it is set, the pilot's scope, and the
/// latest changes (newest first).
#[utoipa::path(get, path = "/api/v1/admin/clients/{code}/rollout", tag = "back office",
    params(("code" = String, Path, description = "Client code")),
    responses((status = 200, body = Rollout), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<Rollout>, ApiError> {
    check_client(&who, &code)?;
    Ok(Json(read(&app, &code).await?))
}

/// Set modes for some of a client's channels: `{"web": "shadow", "telegram": "pilot"}` (off,
/// shadow, pilot or live; channels not named keep theirs). Refused whole on any bad channel or
/// mode (422), or on `pilot` for a client whose file names no pilot (422). Every channel whose
/// mode changes leaves an audit event.
#[utoipa::path(put, path = "/api/v1/admin/clients/{code}/rollout", tag = "back office",
    params(("code" = String, Path, description = "Client code")),
    request_body = RolloutChange,
    responses((status = 200, body = Rollout), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(code): ApiPath<String>,
    ApiJson(asked): ApiJson<RolloutChange>,
) -> Result<Json<Rollout>, ApiError> {
    apply(&app, &who, &code, &asked.asked()).await?;
    Ok(Json(read(&app, &code).await?))
}

async fn apply(
    app: &AppState,
    who: &Principal,
    code: &str,
    asked: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    require(who, Permission::ManageRollout)?;
    let k = current(&app.chat.knowledge);
    let modes = rollout::changes(&k, code, asked)?;
    let audit = app
        .chat
        .set_rollout(code, &modes, &actor(who), chrono::Utc::now())
        .await?;
    for a in &audit {
        tracing::info!(client = code, by = %a.actor, change = %a.detail, "roll-out mode changed");
    }
    Ok(())
}

/// The client page's form: one select per channel; unchanged channels change nothing.
async fn change_from_page(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath(code): ApiPath<String>,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    apply(&app, &who, &code, &form).await?;
    Ok(Redirect::to(&format!("/admin/clients/{code}#rollout")).into_response())
}
