//! The HTTP surface: web chat API, health. Each module exposes `router()`; `run` serves them.

mod admin;
mod announcements;
mod assets;
pub mod backoffice;
mod chat;
pub mod error;
mod escalations;
mod extract;
mod metrics;
pub mod openapi;
pub mod requests;
mod telegram;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;

pub use error::ApiError;
pub use extract::{ApiJson, ApiPath, ApiQuery};

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
    pub web: Arc<WebState>,
    /// Set when the Telegram bot runs: manager replies to Telegram conversations go through it.
    pub telegram: Option<crate::channels::telegram::TelegramAdapter>,
    /// Webhook mode: the secret Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`.
    pub telegram_webhook_secret: Option<crate::config::Secret>,
}

impl AppState {
    /// The live knowledge of this state, to reload it (admin endpoint, SIGHUP, the content
    /// watcher).
    pub fn live_knowledge(&self) -> crate::knowledge::live::LiveKnowledge {
        crate::knowledge::live::LiveKnowledge {
            content_dir: self.content_dir.clone(),
            engine: crate::config::engine_config(&self.engine),
            store: self.chat.store.clone(),
            shared: self.chat.knowledge.clone(),
        }
    }
}

/// Web chat guards and the push hub.
pub struct WebState {
    pub settings: crate::config::WebSettings,
    pub identity_secret: Option<crate::config::Secret>,
    pub per_ip: crate::channels::ratelimit::RateLimiter,
    pub per_session: crate::channels::ratelimit::RateLimiter,
    /// Back-office login attempts per IP: 10 at once, then 10 a minute (argon2 is slow on
    /// purpose; this keeps a password-guessing loop from also being a CPU flood).
    pub logins: crate::channels::ratelimit::RateLimiter,
    pub hub: Arc<crate::channels::hub::Hub>,
    /// The channel port's registry: every channel's outlet, for what the bot says outside a
    /// turn (a manager's answer relayed, pings). The web's own outlet is registered here; the
    /// others when their channel is configured (`app::register_outlets`). It sits in the web
    /// state only so that `AppState`'s shape (built literally by the tests' helpers) stays
    /// as it is; it belongs to the app.
    pub outlets: crate::outlet::Outlets,
}

impl WebState {
    pub fn new(
        settings: crate::config::WebSettings,
        identity_secret: Option<crate::config::Secret>,
    ) -> Self {
        let hub = Arc::new(crate::channels::hub::Hub::default());
        let outlets = crate::outlet::Outlets::default();
        outlets.register(Arc::new(crate::channels::hub::WebOutlet::new(hub.clone())));
        Self {
            per_ip: crate::channels::ratelimit::RateLimiter::new(
                settings.per_ip_burst,
                settings.per_ip_per_minute,
            ),
            per_session: crate::channels::ratelimit::RateLimiter::new(
                settings.per_session_burst,
                settings.per_session_per_minute,
            ),
            logins: crate::channels::ratelimit::RateLimiter::new(10, 10),
            settings,
            identity_secret,
            hub,
            outlets,
        }
    }

    /// The origin check of the chat API and the socket: 403 with the origin named.
    pub fn check_origin(&self, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
        let origin = headers
            .get(axum::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        if self.origin_allowed(origin) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "origin {} is not allowed",
                origin.unwrap_or_default()
            )))
        }
    }

    /// Is a request from this `Origin` allowed? No Origin (not a browser) is allowed; the
    /// allow-list applies to browsers, which always send one cross-origin.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let list = &self.settings.allowed_origins;
        match origin {
            None => true,
            Some(_) if list.is_empty() => true,
            Some(o) => list
                .iter()
                .any(|a| a == "*" || a.eq_ignore_ascii_case(o.trim_end_matches('/'))),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let cors = {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origins = &state.web.settings.allowed_origins;
        let allow = if origins.is_empty() || origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
        };
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::header::AUTHORIZATION,
            ])
    };
    Router::new()
        .merge(chat::router())
        .merge(announcements::router())
        .merge(ws::router())
        .merge(assets::router())
        .merge(admin::router())
        .merge(escalations::router())
        .merge(requests::router())
        .merge(metrics::router())
        .merge(telegram::router())
        .merge(backoffice::router())
        .merge(openapi::router())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
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
