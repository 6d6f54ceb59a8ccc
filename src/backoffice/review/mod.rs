//! The monthly report's review, held by the SSO and the client together (the SPA: "process
//! performance will be reviewed monthly by SSO and client … an opportunity for comments to be
//! heard").
//!
//! A review belongs to one (client, month) report. Each side comments (as often as it likes; a
//! comment may be an *action agreed*, with an owner and the month it is due) and marks the
//! report reviewed, once per side. A report is **reviewed** when both sides have marked it. The
//! comments and actions are read out in the next month's report ("Review of <month>").
//!
//! Who does what (`access.rs` has the matrix):
//!
//! | role            | comments as | may mark the side |
//! |-----------------|-------------|-------------------|
//! | account_manager | sso         | sso (their clients) |
//! | sso_lead        | sso         | sso (stands in for the manager) |
//! | client_lead     | client      | client (their client only) |
//! | admin, operator | sso         | – (a system role: it signs off for nobody) |
//!
//! The client's side is marked by the client only: the point of the review is that the client
//! was heard, which the SSO cannot declare for them. Comments are taken from the month's first
//! day on (notes can be gathered during the month); marks only once the month has ended. An
//! action agreed is `open`, `overdue` once its due month has ended, or `done` when either side
//! has closed it.

pub mod awaiting;
pub mod reminders;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::access::{Principal, Role};
use super::period::month_bounds;
use super::statement::{StatementError, month_range};
use crate::knowledge::{Client, Knowledge};
use crate::store::{
    Millis, NewReviewComment, ReviewCommentRow, ReviewMarkRow, Reviews, StoreError,
};

/// The longest comment, action owner and text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
pub const MAX_OWNER_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("unknown client {0}")]
    UnknownClient(String),
    #[error("month must look like 2026-11, not {0:?}")]
    BadMonth(String),
    /// The request is well-formed but cannot be done (yet): a mark before the month's end, an
    /// empty comment, an action due before the month reviewed.
    #[error("{0}")]
    Invalid(String),
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("report {client} {month} has no action agreed with id {id}")]
    NoSuchAction {
        client: String,
        month: String,
        id: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<StatementError> for ReviewError {
    fn from(e: StatementError) -> Self {
        match e {
            StatementError::UnknownClient(c) => ReviewError::UnknownClient(c),
            StatementError::BadMonth(m) => ReviewError::BadMonth(m),
            StatementError::BadPeriod(p) => ReviewError::Invalid(p),
            StatementError::Store(s) => ReviewError::Store(s),
        }
    }
}

/// The two sides of the agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Sso,
    Client,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Sso, Side::Client];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Sso => "sso",
            Side::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "sso" => Some(Side::Sso),
            "client" => Some(Side::Client),
            _ => None,
        }
    }

    /// The side a role speaks for in a comment.
    pub fn of_comment(role: Role) -> Side {
        match role {
            Role::ClientLead => Side::Client,
            Role::Admin | Role::SsoLead | Role::AccountManager => Side::Sso,
        }
    }

    /// The side a role may mark reviewed, if any (see the module's table).
    pub fn marked_by(role: Role) -> Option<Side> {
        match role {
            Role::AccountManager | Role::SsoLead => Some(Side::Sso),
            Role::ClientLead => Some(Side::Client),
            Role::Admin => None,
        }
    }
}

/// Where an action agreed stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    Open,
    /// Still open after its due month ended.
    Overdue,
    Done,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Open => "open",
            ActionStatus::Overdue => "overdue",
            ActionStatus::Done => "done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Action {
    pub owner: String,
    /// The month it is due, `YYYY-MM`.
    pub due: String,
    pub status: ActionStatus,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comment {
    pub id: i64,
    pub author: String,
    pub role: String,
    pub side: Side,
    pub text: String,
    pub at: DateTime<Utc>,
    /// Set when the comment is an action agreed.
    pub action: Option<Action>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Mark {
    pub side: Side,
    pub by: String,
    pub role: String,
    pub at: DateTime<Utc>,
}

/// A report's review as it stands.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Review {
    pub client: String,
    pub client_name: String,
    pub month: String,
    /// The month has ended (in the client's time zone): it may be marked reviewed.
    pub month_ended: bool,
    pub comments: Vec<Comment>,
    pub marks: Vec<Mark>,
    /// Both sides have marked it.
    pub reviewed: bool,
    /// The sides that have not marked it yet.
    pub missing: Vec<Side>,
}

impl Review {
    pub fn actions(&self) -> impl Iterator<Item = (&Comment, &Action)> {
        self.comments
            .iter()
            .filter_map(|c| c.action.as_ref().map(|a| (c, a)))
    }
}

fn utc(t: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

/// `YYYY-MM` of the instant `t` in the client's time zone.
pub fn month_of(c: &Client, t: DateTime<Utc>) -> String {
    t.with_timezone(&c.timezone).format("%Y-%m").to_string()
}

/// The month before `month` (`None` if it is not a month).
pub fn previous_month(month: &str) -> Option<String> {
    let (first, _) = month_bounds(month)?;
    let last = first.pred_opt()?;
    Some(last.format("%Y-%m").to_string())
}

/// The month after `month`.
pub fn next_month(month: &str) -> Option<String> {
    let (_, next) = month_bounds(month)?;
    Some(next.format("%Y-%m").to_string())
}

fn action_status(c: &Client, row: &ReviewCommentRow, now: Millis) -> Option<Action> {
    let (owner, due) = (row.action_owner.clone()?, row.action_due.clone()?);
    let status = if row.action_done_at.is_some() {
        ActionStatus::Done
    } else if month_range(c, &due).is_ok_and(|(_, end)| end <= now) {
        ActionStatus::Overdue
    } else {
        ActionStatus::Open
    };
    Some(Action {
        owner,
        due,
        status,
        done_at: row.action_done_at.map(utc),
        done_by: row.action_done_by.clone(),
    })
}

fn comment(c: &Client, row: &ReviewCommentRow, now: Millis) -> Comment {
    Comment {
        id: row.id,
        author: row.author.clone(),
        role: row.role.clone(),
        side: Side::parse(&row.side).unwrap_or(Side::Sso),
        text: row.body.clone(),
        at: utc(row.created_at),
        action: action_status(c, row, now),
    }
}

fn mark(row: &ReviewMarkRow) -> Option<Mark> {
    Some(Mark {
        side: Side::parse(&row.side)?,
        by: row.marked_by.clone(),
        role: row.role.clone(),
        at: utc(row.marked_at),
    })
}

/// The sides missing from `marks`.
pub fn missing(marks: &[Mark]) -> Vec<Side> {
    Side::BOTH
        .into_iter()
        .filter(|s| !marks.iter().any(|m| m.side == *s))
        .collect()
}

/// The client and the report's `[from, to)` after checking both exist.
fn report_of<'k>(
    k: &'k Knowledge,
    client: &str,
    month: &str,
) -> Result<(&'k Client, Millis, Millis), ReviewError> {
    let c = k
        .clients
        .get(client)
        .ok_or_else(|| ReviewError::UnknownClient(client.to_string()))?;
    let (from, to) = month_range(c, month)?;
    Ok((c, from, to))
}

/// The review of `client`'s report for `month`.
pub async fn review(
    store: &dyn Reviews,
    k: &Knowledge,
    client: &str,
    month: &str,
    now: Millis,
) -> Result<Review, ReviewError> {
    let (c, _, end) = report_of(k, client, month)?;
    let comments = store
        .review_comments(client, month)
        .await?
        .iter()
        .map(|r| comment(c, r, now))
        .collect();
    let mut marks: Vec<Mark> = store
        .review_marks(client, month)
        .await?
        .iter()
        .filter_map(mark)
        .collect();
    // The SSO's side first, as the report reads.
    marks.sort_by_key(|m| m.side);
    let missing = missing(&marks);
    Ok(Review {
        client: client.to_string(),
        client_name: c.name.clone(),
        month: month.to_string(),
        month_ended: end <= now,
        comments,
        marks,
        reviewed: missing.is_empty(),
        missing,
    })
}

/// What a comment says: its text and, for an action agreed, who owns it and by when.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommentRequest {
    pub text: String,
    /// Makes the comment an action agreed: who does it (a name or an email).
    pub action_owner: Option<String>,
    /// The month the action is due, `YYYY-MM` (not before the month reviewed).
    pub action_due: Option<String>,
}

fn trimmed(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Add `who`'s comment to the report (the caller has checked `who` sees the client).
pub async fn add_comment(
    store: &dyn Reviews,
    k: &Knowledge,
    who: &Principal,
    client: &str,
    month: &str,
    request: &CommentRequest,
    now: Millis,
) -> Result<Comment, ReviewError> {
    let (c, start, _) = report_of(k, client, month)?;
    if start > now {
        return Err(ReviewError::Invalid(format!(
            "{month} has not begun: comment on a month once it has"
        )));
    }
    let text = request.text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARS {
        return Err(ReviewError::Invalid(format!(
            "the comment must have 1 to {MAX_TEXT_CHARS} characters"
        )));
    }
    let action = match (trimmed(&request.action_owner), trimmed(&request.action_due)) {
        (None, None) => None,
        (Some(owner), Some(due)) => {
            if owner.chars().count() > MAX_OWNER_CHARS {
                return Err(ReviewError::Invalid(format!(
                    "the action's owner must have at most {MAX_OWNER_CHARS} characters"
                )));
            }
            if month_bounds(&due).is_none() {
                return Err(ReviewError::Invalid(format!(
                    "the action's due month must look like 2026-11, not {due:?}"
                )));
            }
            // `YYYY-MM` strings sort as the months do.
            if due.as_str() < month {
                return Err(ReviewError::Invalid(format!(
                    "the action cannot be due ({due}) before the month reviewed ({month})"
                )));
            }
            Some((owner, due))
        }
        _ => {
            return Err(ReviewError::Invalid(
                "an action agreed needs both an owner and a due month".into(),
            ));
        }
    };
    let row = store
        .add_review_comment(
            &NewReviewComment {
                client_code: client.to_string(),
                month: month.to_string(),
                author: who.username.clone(),
                role: who.role.as_str().to_string(),
                side: Side::of_comment(who.role).as_str().to_string(),
                body: text.to_string(),
                action,
            },
            now,
        )
        .await?;
    tracing::info!(client, month, author = %who.username, id = row.id, "report review comment");
    Ok(comment(c, &row, now))
}

/// Mark `who`'s side of the report reviewed (idempotent: the first mark stands). The review as
/// it then stands.
pub async fn mark_reviewed(
    store: &dyn Reviews,
    k: &Knowledge,
    who: &Principal,
    client: &str,
    month: &str,
    now: Millis,
) -> Result<Review, ReviewError> {
    let (_, _, end) = report_of(k, client, month)?;
    let Some(side) = Side::marked_by(who.role) else {
        return Err(ReviewError::Forbidden(format!(
            "{} may comment but marks no side reviewed: the account manager (or an SSO lead) marks the SSO's, the client lead the client's",
            who.role.as_str()
        )));
    };
    if end > now {
        return Err(ReviewError::Invalid(format!(
            "{month} has not ended yet: a report is reviewed once its month is over"
        )));
    }
    let (_, new) = store
        .mark_reviewed(&ReviewMarkRow {
            client_code: client.to_string(),
            month: month.to_string(),
            side: side.as_str().to_string(),
            marked_by: who.username.clone(),
            role: who.role.as_str().to_string(),
            marked_at: now,
        })
        .await?;
    if new {
        tracing::info!(client, month, side = side.as_str(), by = %who.username, "report marked reviewed");
    }
    review(store, k, client, month, now).await
}

/// Close an action agreed on the report (either side may: it is done when it is done).
pub async fn close_action(
    store: &dyn Reviews,
    k: &Knowledge,
    who: &Principal,
    client: &str,
    month: &str,
    id: i64,
    now: Millis,
) -> Result<Comment, ReviewError> {
    let (c, _, _) = report_of(k, client, month)?;
    match store
        .close_review_action(client, month, id, &who.username, now)
        .await?
    {
        Some(row) => Ok(comment(c, &row, now)),
        None => Err(ReviewError::NoSuchAction {
            client: client.to_string(),
            month: month.to_string(),
            id,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_step_over_the_year() {
        assert_eq!(previous_month("2027-01").as_deref(), Some("2026-12"));
        assert_eq!(next_month("2026-12").as_deref(), Some("2027-01"));
        assert_eq!(previous_month("2026-13"), None);
    }

    #[test]
    fn each_role_marks_its_own_side_and_admins_none() {
        assert_eq!(Side::marked_by(Role::AccountManager), Some(Side::Sso));
        assert_eq!(Side::marked_by(Role::SsoLead), Some(Side::Sso));
        assert_eq!(Side::marked_by(Role::ClientLead), Some(Side::Client));
        assert_eq!(Side::marked_by(Role::Admin), None);
        assert_eq!(Side::of_comment(Role::Admin), Side::Sso);
    }
}
