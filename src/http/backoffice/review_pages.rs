//! The monthly report's review in the back office: the report page (the printable report, with
//! the review of the month before read out in it) carries this month's review panel — the
//! comments so far, the marks, a comment form (optionally an action agreed) and the "mark
//! reviewed" button of the caller's side — and `/admin/reviews` lists the reports awaiting
//! review in the caller's scope. Forms post back here and are redirected to the report page
//! (303); a refused form shows the report page again with the reason, under its 4xx status.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use minijinja::{Value, context};
use serde::Deserialize;

use super::super::{ApiError, ApiPath, ApiQuery, AppState};
use super::api::check_client;
use super::auth::{PageUser, require};
use super::pages::{frame, render};
use super::reviews::check_reviewer;
use crate::backoffice::access::{Permission, Principal};
use crate::backoffice::dashboard::this_month;
use crate::backoffice::report::monthly_reviewed;
use crate::backoffice::review::awaiting::{WINDOW_MONTHS, awaiting};
use crate::backoffice::review::{
    self, CommentRequest, Review, ReviewError, Side, close_action, mark_reviewed,
};
use crate::dialogue::service::{current, millis};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/reviews", get(awaiting_page))
        .route("/admin/clients/{code}/report", get(report))
        .route(
            "/admin/clients/{code}/reports/{month}/comments",
            post(comment),
        )
        .route(
            "/admin/clients/{code}/reports/{month}/reviewed",
            post(reviewed),
        )
        .route(
            "/admin/clients/{code}/reports/{month}/actions/{id}/done",
            post(action_done),
        )
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Sso => "SSO",
        Side::Client => "client",
    }
}

fn panel_context(who: &Principal, r: &Review, error: Option<String>) -> Value {
    let my_side = Side::marked_by(who.role);
    let comments: Vec<Value> = r
        .comments
        .iter()
        .map(|c| {
            context! {
                id => c.id,
                when => stamp(c.at),
                author => c.author.clone(),
                role => c.role.clone(),
                side => side_name(c.side),
                text => c.text.clone(),
                action => c.action.as_ref().map(|a| context! {
                    owner => a.owner.clone(),
                    due => a.due.clone(),
                    status => a.status.as_str(),
                    open => a.done_at.is_none(),
                }),
            }
        })
        .collect();
    let marks: Vec<Value> = r
        .marks
        .iter()
        .map(|m| context! { side => side_name(m.side), by => m.by.clone(), role => m.role.clone(), when => stamp(m.at) })
        .collect();
    context! {
        code => r.client.clone(),
        month => r.month.clone(),
        comments,
        marks,
        reviewed => r.reviewed,
        missing => r.missing.iter().map(|s| side_name(*s)).collect::<Vec<_>>(),
        month_ended => r.month_ended,
        may_comment => who.may(Permission::ReviewReports),
        my_side => my_side.map(side_name),
        marked_mine => my_side.is_some_and(|s| !r.missing.contains(&s)),
        error,
    }
}

/// The report page, with the review panel of its month; `error` (a refused form) above it.
async fn report_page(
    app: &AppState,
    who: &Principal,
    code: &str,
    month: &str,
    error: Option<(StatusCode, String)>,
) -> Result<Response, ApiError> {
    let now = millis(Utc::now());
    let k = current(&app.chat.knowledge);
    let store = app.chat.store.as_ref();
    let report = monthly_reviewed(store, &k, code, month, now).await?;
    let r = review::review(store, &k, code, month, now).await?;
    let status = error.as_ref().map(|(c, _)| *c).unwrap_or(StatusCode::OK);
    let panel = render(
        "review_panel.html",
        panel_context(who, &r, error.map(|(_, m)| m)),
    )?
    .0;
    let mut html = report.to_html();
    // The panel is the page's, not the printed report's: it goes last, hidden in print.
    let at = html.rfind("</body>").unwrap_or(html.len());
    html.insert_str(at, &panel);
    Ok((status, Html(html)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
}

/// The printable monthly report (the one an account manager reviews with the client), and
/// the month's review.
pub async fn report(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<MonthQuery>,
) -> Result<Response, ApiError> {
    check_client(&who, &code)?;
    let month = q
        .month
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| this_month(millis(Utc::now())));
    report_page(&app, &who, &code, &month, None).await
}

/// After a form: back to the report page, or the page again with why it was refused (the
/// errors the user can fix where they acted; the others are plain error answers).
async fn after(
    app: &AppState,
    who: &Principal,
    code: &str,
    month: &str,
    result: Result<(), ReviewError>,
) -> Result<Response, ApiError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/admin/clients/{code}/report?month={month}#review"
        ))
        .into_response()),
        Err(ReviewError::Invalid(why)) => {
            report_page(
                app,
                who,
                code,
                month,
                Some((StatusCode::UNPROCESSABLE_ENTITY, why)),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The comment form: text, and for an action agreed its owner and due month.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    text: String,
    #[serde(default)]
    action_owner: Option<String>,
    #[serde(default)]
    action_due: Option<String>,
}

pub async fn comment(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath((code, month)): ApiPath<(String, String)>,
    Form(form): Form<CommentForm>,
) -> Result<Response, ApiError> {
    check_reviewer(&who, &code)?;
    let k = current(&app.chat.knowledge);
    let request = CommentRequest {
        text: form.text,
        action_owner: form.action_owner,
        action_due: form.action_due,
    };
    let result = review::add_comment(
        app.chat.store.as_ref(),
        &k,
        &who,
        &code,
        &month,
        &request,
        millis(Utc::now()),
    )
    .await
    .map(|_| ());
    after(&app, &who, &code, &month, result).await
}

pub async fn reviewed(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath((code, month)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    check_reviewer(&who, &code)?;
    let k = current(&app.chat.knowledge);
    let result = mark_reviewed(
        app.chat.store.as_ref(),
        &k,
        &who,
        &code,
        &month,
        millis(Utc::now()),
    )
    .await
    .map(|_| ());
    after(&app, &who, &code, &month, result).await
}

pub async fn action_done(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
    ApiPath((code, month, id)): ApiPath<(String, String, i64)>,
) -> Result<Response, ApiError> {
    check_reviewer(&who, &code)?;
    let k = current(&app.chat.knowledge);
    let result = close_action(
        app.chat.store.as_ref(),
        &k,
        &who,
        &code,
        &month,
        id,
        millis(Utc::now()),
    )
    .await
    .map(|_| ());
    after(&app, &who, &code, &month, result).await
}

/// Reports awaiting review in the caller's scope.
pub async fn awaiting_page(
    State(app): State<Arc<AppState>>,
    PageUser(who): PageUser,
) -> Result<Response, ApiError> {
    require(&who, Permission::ReadReports)?;
    let k = current(&app.chat.knowledge);
    let rows: Vec<Value> = awaiting(app.chat.store.as_ref(), &k, Utc::now())
        .await?
        .into_iter()
        .filter(|a| who.sees_client(&a.client))
        .map(|a| {
            context! {
                code => a.client.clone(),
                name => a.client_name.clone(),
                month => a.month.clone(),
                missing => a.missing.iter().map(|s| side_name(*s)).collect::<Vec<_>>().join(" and "),
                marks => a.marks.iter().map(|m| format!("{} by {}", side_name(m.side), m.by)).collect::<Vec<_>>().join("; "),
                days => a.days_since_month_end,
                late => a.days_since_month_end >= i64::from(k.organisation.review_reminder_days),
            }
        })
        .collect();
    Ok(render(
        "reviews.html",
        context! {
            ..frame(&who, "reviews"),
            ..context! {
                rows,
                window => WINDOW_MONTHS,
                reminder_days => k.organisation.review_reminder_days,
            }
        },
    )?
    .into_response())
}
