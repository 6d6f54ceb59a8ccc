//! The monthly report's review: comments by either side (some of them actions agreed) and one
//! "reviewed" mark per side. Who may write which side is decided above the store
//! (`backoffice::review`); here a mark is only ever set once, so marking twice changes nothing.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Millis, StoreResult};

/// A comment on a (client, month) report, as stored (`report_review_comments`).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct ReviewCommentRow {
    pub id: i64,
    pub client_code: String,
    pub month: String,
    pub author: String,
    pub role: String,
    /// `sso` or `client`.
    pub side: String,
    pub body: String,
    /// Set on an action agreed (with `action_due`, a `YYYY-MM` month).
    pub action_owner: Option<String>,
    pub action_due: Option<String>,
    pub action_done_at: Option<Millis>,
    pub action_done_by: Option<String>,
    pub created_at: Millis,
}

/// A comment to add.
#[derive(Clone, Debug, PartialEq)]
pub struct NewReviewComment {
    pub client_code: String,
    pub month: String,
    pub author: String,
    pub role: String,
    pub side: String,
    pub body: String,
    /// An action agreed: (owner, due month).
    pub action: Option<(String, String)>,
}

/// One side's "reviewed" mark on a report (`report_review_marks`).
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct ReviewMarkRow {
    pub client_code: String,
    pub month: String,
    pub side: String,
    pub marked_by: String,
    pub role: String,
    pub marked_at: Millis,
}

/// Called by the back office (the review's pages and API) and the review reminder.
#[async_trait]
pub trait Reviews: Send + Sync {
    async fn add_review_comment(
        &self,
        comment: &NewReviewComment,
        now: Millis,
    ) -> StoreResult<ReviewCommentRow>;

    /// A report's comments, oldest first.
    async fn review_comments(
        &self,
        client: &str,
        month: &str,
    ) -> StoreResult<Vec<ReviewCommentRow>>;

    /// Mark `side` of the report reviewed, unless it is already: the mark that stands (the
    /// first one) and whether this call set it.
    async fn mark_reviewed(&self, mark: &ReviewMarkRow) -> StoreResult<(ReviewMarkRow, bool)>;

    /// A report's marks (at most one per side).
    async fn review_marks(&self, client: &str, month: &str) -> StoreResult<Vec<ReviewMarkRow>>;

    /// Every client's marks on the reports of `from_month` and later (the awaiting list).
    async fn review_marks_since(&self, from_month: &str) -> StoreResult<Vec<ReviewMarkRow>>;

    /// Record the action agreed in comment `id` of this report as done (the first time only);
    /// the comment as it now is, or `None` when the report has no such action.
    async fn close_review_action(
        &self,
        client: &str,
        month: &str,
        id: i64,
        by: &str,
        now: Millis,
    ) -> StoreResult<Option<ReviewCommentRow>>;
}
