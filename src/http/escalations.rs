//! The account managers' escalation API: look at an escalation and its pings, acknowledge it,
//! reply to the client, resolve it. A manager authenticates with a signed manager token
//! (`frontdoor token --manager --user EMAIL`) and may act only on their own clients'
//! escalations; the admin token may act on any.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::backoffice::auth::{TOKEN_PREFIX, authenticate};
use super::chat::ChatResponse;
use super::{ApiError, ApiJson, ApiPath, AppState};
use crate::backoffice::access::Role;
use crate::channels::identity;
use crate::dialogue::service::current;
use crate::escalation::EscalationError;
use crate::escalation::actions::{self, Actor};
use crate::store::EscalationAction;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/escalations/{id}", get(show))
        .route("/api/v1/escalations/{id}/ack", post(ack))
        .route("/api/v1/escalations/{id}/reply", post(reply))
        .route("/api/v1/escalations/{id}/resolve", post(resolve))
        .route("/api/v1/escalations/{id}/approve", post(approve))
}

impl From<EscalationError> for ApiError {
    fn from(e: EscalationError) -> Self {
        match e {
            EscalationError::Store(e) => e.into(),
            EscalationError::Chat(e) => e.into(),
            EscalationError::NotFound(id) => {
                ApiError::NotFound(format!("escalation {id} not found"))
            }
            EscalationError::Forbidden(m) => ApiError::Forbidden(m),
            EscalationError::Conflict(m) => ApiError::Conflict(m),
            EscalationError::Invalid(m) => ApiError::Unprocessable(m),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The admin token, a back-office API token (admins and SSO leads act as admin, an account
/// manager as the manager whose email is their username), or a signed manager token. Nobody
/// acts without one.
async fn actor(app: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let given = bearer(headers);
    if let (Some(admin), Some(g)) = (&app.admin_token, given)
        && identity::constant_time_eq(admin.expose().as_bytes(), g.as_bytes())
    {
        return Ok(Actor::Admin);
    }
    match given {
        Some(token) if token.starts_with(TOKEN_PREFIX) => {
            let Some((p, _)) = authenticate(app, headers).await? else {
                return Err(ApiError::Unauthorized(
                    "unknown or revoked API token".into(),
                ));
            };
            match p.role {
                Role::Admin | Role::SsoLead => Ok(Actor::Admin),
                Role::AccountManager => Ok(Actor::Manager { email: p.username }),
                Role::ClientLead => Err(ApiError::Forbidden(
                    "client leads do not act on escalations".into(),
                )),
            }
        }
        Some(token) => {
            let secret = app.web.identity_secret.as_ref().ok_or_else(|| {
                ApiError::Unauthorized(
                    "manager tokens need FRONTDOOR_IDENTITY_SECRET on the server".into(),
                )
            })?;
            let claims =
                identity::verify(token, secret.expose().as_bytes(), Utc::now().timestamp())
                    .map_err(|e| {
                        ApiError::Unauthorized(e.to_string().replace("identity", "manager"))
                    })?;
            if claims.role.as_deref() != Some("manager") {
                return Err(ApiError::Unauthorized(
                    "a manager token is required (frontdoor token --manager --user EMAIL)".into(),
                ));
            }
            Ok(Actor::Manager { email: claims.sub })
        }
        None => Err(ApiError::Unauthorized(
            "Authorization: Bearer <manager, API or admin token> is required".into(),
        )),
    }
}

/// May this actor see the escalation? (Acting is checked again by `actions::act`.)
fn may_see(app: &AppState, actor: &Actor, client: Option<&str>) -> bool {
    match actor {
        Actor::Admin => true,
        Actor::Manager { email } => {
            let k = current(&app.chat.knowledge);
            client.and_then(|c| k.clients.get(c)).is_some_and(|c| {
                c.managers
                    .iter()
                    .any(|m| m.email.eq_ignore_ascii_case(email))
            })
        }
    }
}

async fn show(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&app, &headers).await?;
    let store = &app.chat.store;
    let e = store
        .escalation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("escalation {id} not found")))?;
    if !may_see(&app, &actor, e.client_code.as_deref()) {
        return Err(ApiError::Forbidden(
            "this escalation belongs to a client you do not manage".into(),
        ));
    }
    let pings = store.outbox_of_escalation(id).await?;
    Ok(Json(json!({
        "escalation": e,
        "pings": pings.iter().map(|p| json!({
            "key": p.idempotency_key,
            "route": p.kind,
            "status": p.status,
            "attempts": p.attempts,
            "last_error": p.last_error,
            "delivered_at": p.delivered_at,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    text: String,
}

async fn ack(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    run(&app, &headers, id, EscalationAction::Acknowledge, None).await
}

async fn reply(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ReplyBody>,
) -> Result<Json<Value>, ApiError> {
    run(&app, &headers, id, EscalationAction::Reply, Some(body.text)).await
}

async fn resolve(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    run(&app, &headers, id, EscalationAction::Resolve, None).await
}

/// `{"text": "..."}` to send an edited draft; no body (or no text) sends it as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    #[serde(default)]
    text: Option<String>,
}

/// Send a shadow-mode escalation's draft to the client: as written, or edited. 409 when the
/// escalation carries no draft or is already answered.
async fn approve(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApproveBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::Unprocessable(format!(
                "approve body: {e} (expected {{\"text\": \"...\"}})"
            )),
            _ => ApiError::BadRequest(format!("approve body is not JSON: {e}")),
        })?
    };
    run(&app, &headers, id, EscalationAction::Approve, body.text).await
}

async fn run(
    app: &AppState,
    headers: &HeaderMap,
    id: i64,
    action: EscalationAction,
    text: Option<String>,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(app, headers).await?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(str::to_string);
    // The one action every surface uses: committed with the answer queued in the outbox, then
    // delivered at once to the client's channel (the worker retries what fails).
    let done = actions::act_and_relay(
        &app.chat,
        &app.web.outlets,
        id,
        &actor,
        action,
        text,
        key,
        Utc::now(),
    )
    .await?;
    let frame: ChatResponse = done.outbound.into();
    // 1 when the answer reached the client's channel during this call (pushed to the open
    // widget, sent to Telegram or Discord), 0 when the outbox will retry it.
    let live = usize::from(done.relayed);
    Ok(Json(json!({
        "escalation": done.escalation_id,
        "status": done.status,
        "conversation": frame.conversation,
        "channel": done.channel,
        "delivered_live": live,
        "replies": frame.replies,
        "duplicate": frame.duplicate,
    })))
}
