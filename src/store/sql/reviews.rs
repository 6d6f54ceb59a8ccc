//! [`Reviews`](crate::store::Reviews) in SQL: the monthly report's comments and marks.

/// `SELECT <every column of ReviewCommentRow>` followed by the rest of the statement.
macro_rules! select_comments {
    ($rest:literal) => {
        concat!(
            "SELECT id, client_code, month, author, role, side, body, action_owner, action_due,
                    action_done_at, action_done_by, created_at",
            $rest
        )
    };
}

pub(crate) use select_comments;

macro_rules! impl_reviews {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Reviews for $store {
            async fn add_review_comment(
                &self,
                c: &$crate::store::NewReviewComment,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<$crate::store::ReviewCommentRow> {
                let (owner, due) = match &c.action {
                    Some((o, d)) => (Some(o.as_str()), Some(d.as_str())),
                    None => (None, None),
                };
                Ok(sqlx::query_as(
                    "INSERT INTO report_review_comments
                        (client_code, month, author, role, side, body, action_owner, action_due, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     RETURNING id, client_code, month, author, role, side, body, action_owner, action_due,
                               action_done_at, action_done_by, created_at",
                )
                .bind(&c.client_code)
                .bind(&c.month)
                .bind(&c.author)
                .bind(&c.role)
                .bind(&c.side)
                .bind(&c.body)
                .bind(owner)
                .bind(due)
                .bind(now)
                .fetch_one(&self.writer)
                .await?)
            }

            async fn review_comments(
                &self,
                client: &str,
                month: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ReviewCommentRow>> {
                Ok(sqlx::query_as($crate::store::sql::reviews::select_comments!(
                    " FROM report_review_comments WHERE client_code = $1 AND month = $2 ORDER BY id"
                ))
                .bind(client)
                .bind(month)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn mark_reviewed(
                &self,
                m: &$crate::store::ReviewMarkRow,
            ) -> $crate::store::StoreResult<($crate::store::ReviewMarkRow, bool)> {
                let mut tx = self.writer.begin().await?;
                let inserted = sqlx::query(
                    "INSERT INTO report_review_marks (client_code, month, side, marked_by, role, marked_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (client_code, month, side) DO NOTHING",
                )
                .bind(&m.client_code)
                .bind(&m.month)
                .bind(&m.side)
                .bind(&m.marked_by)
                .bind(&m.role)
                .bind(m.marked_at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let stands: $crate::store::ReviewMarkRow = sqlx::query_as(
                    "SELECT client_code, month, side, marked_by, role, marked_at
                     FROM report_review_marks WHERE client_code = $1 AND month = $2 AND side = $3",
                )
                .bind(&m.client_code)
                .bind(&m.month)
                .bind(&m.side)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok((stands, inserted))
            }

            async fn review_marks(
                &self,
                client: &str,
                month: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ReviewMarkRow>> {
                Ok(sqlx::query_as(
                    "SELECT client_code, month, side, marked_by, role, marked_at
                     FROM report_review_marks WHERE client_code = $1 AND month = $2 ORDER BY side",
                )
                .bind(client)
                .bind(month)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn review_marks_since(
                &self,
                from_month: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ReviewMarkRow>> {
                // `YYYY-MM` strings sort as the months do.
                Ok(sqlx::query_as(
                    "SELECT client_code, month, side, marked_by, role, marked_at
                     FROM report_review_marks WHERE month >= $1 ORDER BY client_code, month, side",
                )
                .bind(from_month)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn close_review_action(
                &self,
                client: &str,
                month: &str,
                id: i64,
                by: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::ReviewCommentRow>> {
                let mut tx = self.writer.begin().await?;
                // Done once: a second "done" keeps who closed it first, and when.
                sqlx::query(
                    "UPDATE report_review_comments SET action_done_at = $1, action_done_by = $2
                     WHERE id = $3 AND client_code = $4 AND month = $5
                       AND action_owner IS NOT NULL AND action_done_at IS NULL",
                )
                .bind(now)
                .bind(by)
                .bind(id)
                .bind(client)
                .bind(month)
                .execute(&mut *tx)
                .await?;
                let row = sqlx::query_as($crate::store::sql::reviews::select_comments!(
                    " FROM report_review_comments
                     WHERE id = $1 AND client_code = $2 AND month = $3 AND action_owner IS NOT NULL"
                ))
                .bind(id)
                .bind(client)
                .bind(month)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(row)
            }
        }
    };
}

pub(crate) use impl_reviews;
