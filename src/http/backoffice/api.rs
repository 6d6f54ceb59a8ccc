//! The back office's JSON API under `/api/v1/admin/…`: the same data as the dashboard, for
//! scripts (API tokens) and for the pages' own use (session cookie). Every handler takes an
//! [`ApiUser`], so nothing answers without authentication; scopes are checked per client.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::error::ErrorBody;
use super::super::{ApiError, ApiJson, ApiPath, ApiQuery, AppState};
use super::auth::{ApiUser, TOKEN_PREFIX, require};
use crate::backoffice::access::{
    AccessError, Permission, Principal, Role, new_secret, secret_hash,
};
use crate::backoffice::dashboard::{self, ClientSummary, this_month};
use crate::backoffice::demand::{Demand, DemandError, SpikeSettings, demand};
use crate::backoffice::gaps::{GapError, GapReport};
use crate::backoffice::report::{MonthlyReport, PeriodReport, monthly_reviewed, period};
use crate::backoffice::statement::{Statement, StatementError, statement};
use crate::backoffice::users::{self, NewUserError, UserRequest};
use crate::dialogue::service::{current, millis};
use crate::store::{ApiTokenRow, EscalationRow, GapRow, UserRow};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/admin/me", get(super::auth::me))
        .route("/api/v1/admin/clients", get(clients))
        .route("/api/v1/admin/clients/{code}/report", get(report))
        .route("/api/v1/admin/clients/{code}/kpis", get(period_kpis))
        .route("/api/v1/admin/clients/{code}/demand", get(client_demand))
        .route(
            "/api/v1/admin/clients/{code}/statement",
            get(client_statement),
        )
        .route("/api/v1/admin/escalations", get(escalations))
        .route("/api/v1/admin/gaps", get(gaps))
        .route("/api/v1/admin/gaps/grouped", get(grouped_gaps))
        .route("/api/v1/admin/gaps/{rank}/export", get(export_gap))
        .route("/api/v1/admin/renewals", get(renewals))
        .route("/api/v1/admin/users", get(users).post(create_user))
        .route("/api/v1/admin/tokens", get(tokens).post(create_token))
        .route("/api/v1/admin/tokens/{id}", delete(revoke_token))
}

impl From<StatementError> for ApiError {
    fn from(e: StatementError) -> Self {
        match e {
            StatementError::UnknownClient(c) => ApiError::NotFound(format!("unknown client {c}")),
            StatementError::BadMonth(_) | StatementError::BadPeriod(_) => {
                ApiError::BadRequest(e.to_string())
            }
            StatementError::Store(e) => e.into(),
        }
    }
}

impl From<DemandError> for ApiError {
    fn from(e: DemandError) -> Self {
        match e {
            DemandError::UnknownClient(c) => ApiError::NotFound(format!("unknown client {c}")),
            DemandError::BadRange(..) | DemandError::TooLong(_) => {
                ApiError::BadRequest(e.to_string())
            }
            DemandError::Store(e) => e.into(),
        }
    }
}

impl From<GapError> for ApiError {
    fn from(e: GapError) -> Self {
        match e {
            GapError::UnknownClient(c) => ApiError::NotFound(format!("unknown client {c}")),
            GapError::NoSuchGroup(..) => ApiError::NotFound(e.to_string()),
            GapError::Store(e) => e.into(),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::Hash(m) => ApiError::Internal(m),
            other => ApiError::Unprocessable(other.to_string()),
        }
    }
}

fn now() -> i64 {
    millis(chrono::Utc::now())
}

/// The caller's knowledge gaps of the last `days` days (default 30, at most 366), grouped.
pub(super) async fn recent_gaps(
    app: &AppState,
    k: &crate::knowledge::Knowledge,
    who: &Principal,
    days: Option<i64>,
) -> Result<GapReport, ApiError> {
    let days = bounded("days", days, 30, 1, 366)?;
    let to = now();
    Ok(dashboard::gap_report(app.chat.store.as_ref(), k, who, to - days * 86_400_000, to).await?)
}

/// A numeric query parameter within its documented range (a value outside it is a 400, not
/// silently clamped: the caller asked for something this API does not do).
pub(super) fn bounded(
    name: &str,
    v: Option<i64>,
    default: i64,
    lo: i64,
    hi: i64,
) -> Result<i64, ApiError> {
    match v {
        None => Ok(default),
        Some(v) if (lo..=hi).contains(&v) => Ok(v),
        Some(v) => Err(ApiError::BadRequest(format!(
            "{name} must be between {lo} and {hi}, not {v}"
        ))),
    }
}

/// A client the caller may not see is answered like an unknown one would be to them: 403 with
/// a reason, and nothing about the client itself.
pub(super) fn check_client(who: &Principal, code: &str) -> Result<(), ApiError> {
    require(who, Permission::ReadReports)?;
    if who.sees_client(code) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "client {code} is not in your scope"
        )))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// The month, `YYYY-MM` (the client's time zone); default: this month.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// The month, `YYYY-MM`; default: this month.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: Option<String>,
    /// `json` (default), `csv` or `html`.
    #[param(pattern = r"^(json|csv|html)$")]
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EscalationQuery {
    /// Only escalations in this status (open, acknowledged, resolved…).
    pub status: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SinceQuery {
    /// Look back this many days (default 30, at most 366).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

/// The clients the caller may see, with the month's KPIs and recharge statement.
#[utoipa::path(get, path = "/api/v1/admin/clients", tag = "back office", params(MonthQuery),
    responses((status = 200, body = Vec<ClientSummary>), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn clients(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> Result<Json<Vec<ClientSummary>>, ApiError> {
    require(&who, Permission::ReadReports)?;
    let now = now();
    let month = q.month.unwrap_or_else(|| this_month(now));
    let k = current(&app.chat.knowledge);
    Ok(Json(
        dashboard::overview(app.chat.store.as_ref(), &k, &who, &month, now).await?,
    ))
}

/// One client's monthly report: KPIs of both sides of the SPA, the recharge statement, and the
/// review of the month before (its comments and actions agreed, with their status now).
#[utoipa::path(get, path = "/api/v1/admin/clients/{code}/report", tag = "back office",
    params(("code" = String, Path, description = "client code"), MonthQuery),
    responses((status = 200, body = MonthlyReport), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn report(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> Result<Json<MonthlyReport>, ApiError> {
    check_client(&who, &code)?;
    let now = now();
    let month = q.month.unwrap_or_else(|| this_month(now));
    let k = current(&app.chat.knowledge);
    Ok(Json(
        monthly_reviewed(app.chat.store.as_ref(), &k, &code, &month, now).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First local day, `YYYY-MM-DD` (default: 27 days before `to`).
    pub from: Option<chrono::NaiveDate>,
    /// Last local day, inclusive (default: today in the client's time zone).
    pub to: Option<chrono::NaiveDate>,
}

/// `[from, to]` with the defaults filled in: the 28 days up to today, local to the client.
fn period_bounds(
    k: &crate::knowledge::Knowledge,
    code: &str,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> Result<(chrono::NaiveDate, chrono::NaiveDate), ApiError> {
    let Some(c) = k.clients.get(code) else {
        return Err(ApiError::NotFound(format!("unknown client {code}")));
    };
    let today = chrono::Utc::now().with_timezone(&c.timezone).date_naive();
    let to = to.unwrap_or(today);
    let from = match from {
        Some(f) => f,
        None => to
            .checked_sub_days(chrono::Days::new(27))
            .ok_or_else(|| ApiError::BadRequest(format!("{to} is too early")))?,
    };
    Ok((from, to))
}

/// One client's KPIs over any period of local days (at most 400): the same figures as the
/// monthly report, for a quarter, a week or the days since a change.
#[utoipa::path(get, path = "/api/v1/admin/clients/{code}/kpis", tag = "back office",
    params(("code" = String, Path, description = "client code"), PeriodQuery),
    responses((status = 200, body = PeriodReport), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn period_kpis(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Json<PeriodReport>, ApiError> {
    check_client(&who, &code)?;
    let k = current(&app.chat.knowledge);
    let (from, to) = period_bounds(&k, &code, q.from, q.to)?;
    Ok(Json(
        period(app.chat.store.as_ref(), &k, &code, from, to, now()).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DemandQuery {
    /// First local day, `YYYY-MM-DD` (default: 27 days before `to`).
    pub from: Option<chrono::NaiveDate>,
    /// Last local day, inclusive (default: today in the client's time zone).
    pub to: Option<chrono::NaiveDate>,
    /// A spike is at least this many times its baseline (default 2; above 0, at most 1000).
    #[param(exclusive_minimum = 0, maximum = 1000)]
    pub factor: Option<f64>,
    /// ...with at least this many contacts (default 10).
    #[param(minimum = 0, maximum = 1000000000)]
    pub min_volume: Option<i64>,
}

/// One client's contacts per local day against the trailing 4-week same-weekday average, with
/// spikes flagged (biggest first).
#[utoipa::path(get, path = "/api/v1/admin/clients/{code}/demand", tag = "back office",
    params(("code" = String, Path, description = "client code"), DemandQuery),
    responses((status = 200, body = Demand), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn client_demand(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<DemandQuery>,
) -> Result<Json<Demand>, ApiError> {
    check_client(&who, &code)?;
    let k = current(&app.chat.knowledge);
    let (from, to) = period_bounds(&k, &code, q.from, q.to)?;
    let defaults = SpikeSettings::default();
    let factor = q.factor.unwrap_or(defaults.factor);
    if !(factor.is_finite() && factor > 0.0 && factor <= 1000.0) {
        return Err(ApiError::BadRequest(
            "factor must be a number above 0 and at most 1000".into(),
        ));
    }
    let settings = SpikeSettings {
        factor,
        min_volume: bounded(
            "min_volume",
            q.min_volume,
            defaults.min_volume,
            0,
            1_000_000_000,
        )?,
        ..defaults
    };
    Ok(Json(
        demand(app.chat.store.as_ref(), &k, &code, from, to, &settings).await?,
    ))
}

/// One client's recharge statement for a month, as JSON, CSV or HTML.
#[utoipa::path(get, path = "/api/v1/admin/clients/{code}/statement", tag = "back office",
    params(("code" = String, Path, description = "client code"), StatementQuery),
    responses((status = 200, description = "the statement", content((Statement = "application/json"), (String = "text/csv"), (String = "text/html"))),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn client_statement(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<Response, ApiError> {
    check_client(&who, &code)?;
    let month = q.month.unwrap_or_else(|| this_month(now()));
    let k = current(&app.chat.knowledge);
    let s: Statement = statement(app.chat.store.as_ref(), &k, &code, &month).await?;
    let filename = format!("statement-{code}-{month}");
    Ok(match q.format.as_deref().unwrap_or("json") {
        "json" => Json(s).into_response(),
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}.csv\""),
                ),
            ],
            s.to_csv(),
        )
            .into_response(),
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            s.to_html(),
        )
            .into_response(),
        other => {
            return Err(ApiError::BadRequest(format!(
                "format must be json, csv or html, not {other:?}"
            )));
        }
    })
}

/// The escalations queue, newest first, limited to the caller's clients.
#[utoipa::path(get, path = "/api/v1/admin/escalations", tag = "back office", params(EscalationQuery),
    responses((status = 200, body = Vec<EscalationRow>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn escalations(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiQuery(q): ApiQuery<EscalationQuery>,
) -> Result<Json<Vec<EscalationRow>>, ApiError> {
    require(&who, Permission::ReadEscalations)?;
    let limit = bounded("limit", q.limit, 100, 1, 1000)?;
    Ok(Json(
        dashboard::escalations(app.chat.store.as_ref(), &who, q.status.as_deref(), limit).await?,
    ))
}

/// Knowledge-gap events (fallbacks, low confidence, "didn't help", low scores) of the caller's
/// clients.
#[utoipa::path(get, path = "/api/v1/admin/gaps", tag = "back office", params(SinceQuery),
    responses((status = 200, body = Vec<GapRow>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn gaps(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiQuery(q): ApiQuery<SinceQuery>,
) -> Result<Json<Vec<GapRow>>, ApiError> {
    require(&who, Permission::ReadGaps)?;
    let days = bounded("days", q.days, 30, 1, 366)?;
    let since = now() - days * 86_400_000;
    Ok(Json(
        dashboard::gaps(app.chat.store.as_ref(), &who, since).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `intent` (an `[[intent]]` example list, TOML) or `article` (a Markdown article stub).
    #[serde(rename = "as")]
    #[param(pattern = r"^(intent|article)$")]
    pub as_: Option<String>,
    /// The period the group was ranked in (default 30 days).
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<i64>,
}

/// Knowledge gaps grouped by similarity and ranked by volume, with example queries and the
/// nearest existing intent.
#[utoipa::path(get, path = "/api/v1/admin/gaps/grouped", tag = "back office", params(SinceQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn grouped_gaps(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiQuery(q): ApiQuery<SinceQuery>,
) -> Result<Json<GapReport>, ApiError> {
    require(&who, Permission::ReadGaps)?;
    let k = current(&app.chat.knowledge);
    Ok(Json(recent_gaps(&app, &k, &who, q.days).await?))
}

/// One gap group (by rank) exported as a ready-to-paste intent example list or article stub.
#[utoipa::path(get, path = "/api/v1/admin/gaps/{rank}/export", tag = "back office",
    params(("rank" = u32, Path, description = "the group's rank, 1 = biggest", minimum = 1), ExportQuery),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn export_gap(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(rank): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    require(&who, Permission::ReadGaps)?;
    // Any whole number is a rank; one past the groups (however large) is a 404, not a 400.
    let rank: usize = match rank.parse() {
        Ok(r) => r,
        Err(_) if !rank.is_empty() && rank.bytes().all(|b| b.is_ascii_digit()) => usize::MAX,
        Err(_) => {
            return Err(ApiError::BadRequest(format!(
                "rank must be a whole number, not {rank:?}"
            )));
        }
    };
    let k = current(&app.chat.knowledge);
    let report = recent_gaps(&app, &k, &who, q.days).await?;
    let group = report.group(rank)?;
    let (text, ext) = match q.as_.as_deref().unwrap_or("intent") {
        "intent" => (group.to_intent_toml(&k), "toml"),
        "article" => (
            group.to_article_stub(&k, chrono::Utc::now().date_naive()),
            "md",
        ),
        other => {
            return Err(ApiError::BadRequest(format!(
                "as must be intent or article, not {other:?}"
            )));
        }
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"gap-{rank}.{ext}\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// SPAs of the caller's clients whose renewal-notice date is within 120 days (or passed).
#[utoipa::path(get, path = "/api/v1/admin/renewals", tag = "back office",
    responses((status = 200, body = Vec<crate::backoffice::renewals::Renewal>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn renewals(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
) -> Result<Json<Vec<crate::backoffice::renewals::Renewal>>, ApiError> {
    require(&who, Permission::ReadReports)?;
    let k = current(&app.chat.knowledge);
    let all = crate::backoffice::renewals::upcoming(
        &k,
        chrono::Utc::now(),
        crate::backoffice::renewals::HORIZON_DAYS,
    );
    Ok(Json(
        all.into_iter()
            .filter(|r| who.sees_client(&r.client))
            .collect(),
    ))
}

/// Back-office users (admins only).
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "access",
    responses((status = 200, body = Vec<UserRow>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn users(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
) -> Result<Json<Vec<UserRow>>, ApiError> {
    require(&who, Permission::ManageUsers)?;
    Ok(Json(app.chat.store.users().await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Account managers sign in with their email, so that they act on escalations as themselves.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*\S[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub username: String,
    /// At least 10 characters.
    #[schema(min_length = 10)]
    pub password: String,
    /// admin, sso_lead, account_manager or client_lead.
    #[schema(value_type = Role)]
    pub role: String,
    /// Client codes (account managers: one or more; client leads: exactly one).
    #[serde(default)]
    pub clients: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Create a back-office user (admins only).
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "access", request_body = NewUserBody,
    responses((status = 201, body = Created), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiJson(body): ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    require(&who, Permission::ManageUsers)?;
    let k = current(&app.chat.knowledge);
    let request = UserRequest {
        username: body.username,
        password: body.password,
        role: body.role,
        clients: body.clients,
    };
    let id = users::create_user(app.chat.store.as_ref(), &k, request).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

impl From<NewUserError> for ApiError {
    fn from(e: NewUserError) -> Self {
        match e {
            NewUserError::Access(a) => a.into(),
            NewUserError::Exists(_) => ApiError::Conflict(e.to_string()),
            NewUserError::Store(s) => s.into(),
        }
    }
}

fn user_id(who: &Principal) -> Result<i64, ApiError> {
    who.user_id.ok_or_else(|| {
        ApiError::Forbidden(
            "the operator token has no user; sign in as a user to manage API tokens".into(),
        )
    })
}

/// The caller's own API tokens (never the secrets).
#[utoipa::path(get, path = "/api/v1/admin/tokens", tag = "access",
    responses((status = 200, body = Vec<ApiTokenRow>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn tokens(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
) -> Result<Json<Vec<ApiTokenRow>>, ApiError> {
    Ok(Json(app.chat.store.api_tokens(user_id(&who)?).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// What the token is for (e.g. "monthly export script").
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    pub id: i64,
    /// Shown once: only its hash is stored.
    pub token: String,
}

/// Create an API token for the caller, with the caller's role and scope.
#[utoipa::path(post, path = "/api/v1/admin/tokens", tag = "access", request_body = NewTokenBody,
    responses((status = 201, body = NewToken), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiJson(body): ApiJson<NewTokenBody>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let user = user_id(&who)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::Unprocessable(
            "name must be 1–100 characters".into(),
        ));
    }
    let token = new_secret(TOKEN_PREFIX);
    let id = app
        .chat
        .store
        .create_api_token(user, &secret_hash(&token), name, now())
        .await?;
    tracing::info!(user = %who.username, token_id = id, "API token created");
    Ok((StatusCode::CREATED, Json(NewToken { id, token })))
}

/// Revoke one of the caller's API tokens.
#[utoipa::path(delete, path = "/api/v1/admin/tokens/{id}", tag = "access",
    params(("id" = i64, Path, description = "token id")),
    responses((status = 204), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(app): State<Arc<AppState>>,
    ApiUser(who): ApiUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let user = user_id(&who)?;
    if app.chat.store.revoke_api_token(user, id, now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("no active token {id} of yours")))
    }
}
