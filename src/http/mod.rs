//! The HTTP surface: web chat API, health. Each module exposes `router()`; `run` serves them.

mod admin;
mod chat;
pub mod error;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

pub use error::ApiError;

use crate::dialogue::service::ChatService;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Chat texts longer than this (in characters) are refused with 422.
pub const MAX_TEXT_CHARS: usize = 4000;

#[derive(Clone)]
pub struct AppState {
    pub chat: ChatService,
    /// Where the knowledge was loaded from, and how, for reloads.
    pub content_dir: std::path::PathBuf,
    pub engine: crate::config::EngineSettings,
    pub admin_token: Option<crate::config::Secret>,
}

/// JSON body extractor whose rejections are our JSON errors.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(v) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(chat::router())
        .merge(admin::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(Arc::new(state))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the store answers and knowledge is loaded.
async fn readyz(State(app): State<Arc<AppState>>) -> (StatusCode, Json<serde_json::Value>) {
    let store = app.chat.store.ping().await;
    let k = crate::dialogue::service::current(&app.chat.knowledge);
    let ready = store.is_ok() && !k.intents.is_empty();
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(json!({
            "ready": ready,
            "store": store.map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string()),
            "backend": app.chat.store.backend(),
            "intents": k.intents.len(),
            "articles": k.articles.len(),
        })),
    )
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Serve until `shutdown` completes; in-flight requests finish first (graceful shutdown).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
