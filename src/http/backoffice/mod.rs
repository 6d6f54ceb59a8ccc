//! The back office over HTTP: the `/admin` dashboard (server-rendered), its JSON API under
//! `/api/v1/admin`, sign-in, and the OpenAPI document. Reads go through `crate::backoffice`.

pub mod announcements;
pub mod api;
pub mod auth;
pub mod pages;
pub mod queue;
pub mod review_pages;
pub mod reviews;
pub mod rollout;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

use super::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/", get(|| async { Redirect::permanent("/admin") }))
        .route("/admin/login", get(pages::login_page).post(auth::login))
        .route("/admin/logout", post(auth::logout))
        .route("/admin/clients/{code}", get(pages::client))
        .route("/admin/escalations", get(pages::escalations))
        .route(
            "/admin/escalations/{id}/act",
            post(pages::act_on_escalation),
        )
        .route("/admin/requests", get(queue::requests))
        .route(
            "/admin/requests/{reference}",
            get(queue::request).post(queue::act),
        )
        .route("/admin/gaps", get(pages::gaps))
        .route("/admin/users", get(pages::users))
        .merge(review_pages::router())
        .merge(api::router())
        .merge(rollout::router())
        .merge(reviews::router())
        .merge(announcements::router())
}
