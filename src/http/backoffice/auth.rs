//! Authentication for the back office: a session cookie for people (login form, argon2 password)
//! and bearer API tokens for scripts. Two extractors: [`ApiUser`] answers 401 JSON, [`PageUser`]
//! redirects to the login page. Nothing in the back office is reachable without one of them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::super::error::ErrorBody;
use super::super::{ApiError, AppState};
use crate::backoffice::access::{
    Permission, Principal, dummy_hash, new_secret, secret_hash, verify_password,
};
use crate::dialogue::service::millis;

pub const SESSION_COOKIE: &str = "fd_session";
/// A back-office session lasts a working day.
const SESSION_MS: i64 = 12 * 3_600_000;
pub const TOKEN_PREFIX: &str = "fdt_";

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// How the caller proved who they are; cookies need a same-origin check on writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
}

/// Who is calling, if anyone: the operator's admin token, a user's API token, or a session.
pub async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Principal, Via)>, ApiError> {
    let now = millis(chrono::Utc::now());
    if let Some(given) = bearer(headers) {
        if let Some(token) = &app.admin_token
            && crate::channels::identity::constant_time_eq(
                given.as_bytes(),
                token.expose().as_bytes(),
            )
        {
            return Ok(Some((Principal::operator(), Via::Bearer)));
        }
        if given.starts_with(TOKEN_PREFIX) {
            let user = app.chat.store.token_user(&secret_hash(given), now).await?;
            return Ok(match user {
                Some(row) => Some((principal(&row)?, Via::Bearer)),
                None => None,
            });
        }
        return Ok(None);
    }
    if let Some(session) = cookie_value(headers, SESSION_COOKIE) {
        let user = app
            .chat
            .store
            .session_user(&secret_hash(session), now)
            .await?;
        return Ok(match user {
            Some(row) => Some((principal(&row)?, Via::Cookie)),
            None => None,
        });
    }
    Ok(None)
}

fn principal(row: &crate::store::UserRow) -> Result<Principal, ApiError> {
    Principal::from_row(row).map_err(|e| ApiError::Internal(e.to_string()))
}

/// A cookie-authenticated write must come from our own pages: the cookie is SameSite=Strict,
/// and a browser's `Origin` (or, failing that, `Sec-Fetch-Site`) must agree.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
        return host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host));
    }
    !matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("cross-site" | "same-site")
    )
}

async fn from_parts(parts: &Parts, app: &AppState) -> Result<Option<Principal>, ApiError> {
    match authenticate(app, &parts.headers).await? {
        Some((p, Via::Cookie))
            if !matches!(parts.method, Method::GET | Method::HEAD)
                && !same_origin(&parts.headers) =>
        {
            tracing::warn!(user = %p.username, "cross-origin write with a session cookie refused");
            Err(ApiError::Forbidden(
                "cross-origin request refused; use an API token".into(),
            ))
        }
        Some((p, _)) => Ok(Some(p)),
        None => Ok(None),
    }
}

/// Require a back-office caller with `permission` (the admin token counts as an admin).
pub fn require(p: &Principal, permission: Permission) -> Result<(), ApiError> {
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

/// An authenticated caller of the JSON API (401 otherwise).
pub struct ApiUser(pub Principal);

impl FromRequestParts<Arc<AppState>> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        match from_parts(parts, app).await? {
            Some(p) => Ok(ApiUser(p)),
            None => Err(ApiError::Unauthorized(
                "sign in at /admin/login, or send Authorization: Bearer <API token>".into(),
            )),
        }
    }
}

/// An authenticated person on a dashboard page (redirected to the login page otherwise).
pub struct PageUser(pub Principal);

impl FromRequestParts<Arc<AppState>> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        match from_parts(parts, app).await {
            Ok(Some(p)) => Ok(PageUser(p)),
            Ok(None) => {
                let next = parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/admin");
                let to = format!("/admin/login?next={}", urlencode(next));
                Err(Redirect::to(&to).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only local paths are followed after login (no open redirect to another site).
pub(super) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/admin",
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    // Login CSRF: another site must not sign a visitor in as someone else.
    if !same_origin(&headers) {
        return Err(ApiError::Forbidden("cross-origin sign-in refused".into()));
    }
    if let Err(wait) = app.web.logins.check(&peer.ip().to_string(), Instant::now()) {
        return Err(ApiError::TooManyRequests(format!(
            "too many sign-in attempts; retry in {} s",
            wait.as_secs().max(1)
        )));
    }
    let next = safe_next(form.next.as_deref()).to_string();
    let now = millis(chrono::Utc::now());
    let user = app.chat.store.user_by_name(form.username.trim()).await?;
    // Verify even for an unknown user, so both failures take the same time.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.as_str())
        .unwrap_or(dummy_hash());
    let password = form.password;
    let hash = hash.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            tracing::info!(username = %form.username.trim(), "back-office sign-in failed");
            let to = format!("/admin/login?error=1&next={}", urlencode(&next));
            return Ok(Redirect::to(&to).into_response());
        }
    };
    let session = new_secret("");
    app.chat
        .store
        .create_session(&secret_hash(&session), user.id, now, now + SESSION_MS)
        .await?;
    tracing::info!(user = %user.username, "back-office sign-in");
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_MS / 1000,
        if secure { "; Secure" } else { "" }
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub async fn logout(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(session) = cookie_value(&headers, SESSION_COOKIE)
        && let Err(e) = app.chat.store.delete_session(&secret_hash(session)).await
    {
        return ApiError::from(e).into_response();
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("fd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

/// Who the caller is: role and client scope.
#[utoipa::path(get, path = "/api/v1/admin/me", tag = "access",
    responses((status = 200, body = Principal), (status = 401, body = ErrorBody)))]
pub async fn me(ApiUser(p): ApiUser) -> Json<Principal> {
    Json(p)
}
