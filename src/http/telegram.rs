//! Telegram webhook mode: `POST /telegram/webhook`, for several replicas behind one URL (long
//! polling allows only one). Telegram proves it is Telegram with the secret token it was given
//! by `setWebhook`; anything else is refused.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::channels::telegram::WebhookError;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/telegram/webhook", post(webhook))
}

async fn webhook(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (Some(bot), Some(secret)) = (&app.telegram, &app.telegram_webhook_secret) else {
        return Err(ApiError::NotFound(
            "Telegram webhook mode is not enabled on this server".into(),
        ));
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let same =
        crate::channels::identity::constant_time_eq(given.as_bytes(), secret.expose().as_bytes());
    if !same {
        return Err(ApiError::Unauthorized(
            "missing or wrong X-Telegram-Bot-Api-Secret-Token".into(),
        ));
    }
    match bot.handle_json(&body).await {
        Ok(()) => Ok(Json(json!({"ok": true}))),
        // Telegram would retry a malformed update forever: acknowledge it and log.
        Err(WebhookError::BadUpdate(e)) => {
            tracing::warn!(error = %e, "ignored a webhook body that is not an update");
            Ok(Json(json!({"ok": true, "ignored": e})))
        }
        Err(WebhookError::Failed(e)) => Err(ApiError::Unavailable(e.to_string())),
    }
}
