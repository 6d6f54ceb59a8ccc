//! The OpenAPI document (`/api/openapi.json`) and Swagger UI (`/api/docs`, vendored: no CDN).
//! The document is generated from the handlers' annotations, so it cannot drift from the code
//! without the schema test noticing.

use std::sync::Arc;

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::AppState;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A back-office API token (fdt_…, POST /api/v1/admin/tokens) or the operator's FRONTDOOR_ADMIN_TOKEN",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("fd_session"))),
        );
        // Everything under /api/v1/admin needs one of the two.
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !(path.starts_with("/api/v1/admin") || path.starts_with("/api/v1/requests")) {
                continue;
            }
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.delete,
                &mut item.put,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                op.security = Some(vec![
                    utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>("bearer", []),
                    utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>(
                        "session",
                        [],
                    ),
                ]);
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Frontdoor API",
        description = "Web chat and back office of the Frontdoor SSO assistant. Errors are JSON `{\"error\": reason}`."
    ),
    paths(
        super::chat::chat,
        super::chat::conversation,
        super::backoffice::auth::me,
        super::backoffice::api::clients,
        super::backoffice::api::report,
        super::backoffice::api::period_kpis,
        super::backoffice::api::client_demand,
        super::backoffice::api::client_statement,
        super::backoffice::api::escalations,
        super::backoffice::api::gaps,
        super::backoffice::api::grouped_gaps,
        super::backoffice::api::export_gap,
        super::backoffice::api::renewals,
        super::backoffice::reviews::awaiting_reviews,
        super::backoffice::reviews::show,
        super::backoffice::reviews::comment,
        super::backoffice::reviews::reviewed,
        super::backoffice::reviews::action_done,
        super::backoffice::api::users,
        super::backoffice::api::create_user,
        super::backoffice::api::tokens,
        super::backoffice::api::create_token,
        super::backoffice::api::revoke_token,
        super::backoffice::rollout::show,
        super::backoffice::rollout::change,
        super::backoffice::announcements::create,
        super::backoffice::announcements::list,
        super::backoffice::announcements::show,
        super::backoffice::announcements::end,
        super::announcements::active,
        super::requests::list,
        super::requests::show,
        super::requests::update,
        super::requests::add_event,
    ),
    modifiers(&Security),
    tags(
        (name = "chat", description = "The web chat"),
        (name = "back office", description = "KPIs, reports and their reviews, statements, escalations, knowledge gaps"),
        (name = "access", description = "Users and API tokens"),
        (name = "requests", description = "Service requests, for the SSO's case system"),
        (name = "announcements", description = "Announcements to the clients' staff: web banner, Telegram, Discord"),
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<Arc<AppState>> {
    Router::from(SwaggerUi::new("/api/docs").url("/api/openapi.json", ApiDoc::openapi()))
}
