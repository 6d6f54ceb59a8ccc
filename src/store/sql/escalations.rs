//! [`Escalations`](crate::store::Escalations) in SQL.

macro_rules! impl_escalations {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Escalations for $store {
            async fn escalation(
                &self,
                id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    $crate::store::sql::select_escalations!(" FROM escalations WHERE id = $1"),
                )
                .bind(id)
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn escalations(
                &self,
                status: Option<&str>,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    $crate::store::sql::select_escalations!(" FROM escalations WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2"),
                )
                .bind(status)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn escalations_of_conversation(
                &self,
                conversation_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    $crate::store::sql::select_escalations!(" FROM escalations WHERE conversation_id = $1 ORDER BY id"),
                )
                .bind(conversation_id)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn due_escalations(
                &self,
                now: $crate::store::Millis,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    $crate::store::sql::select_escalations!(" FROM escalations WHERE status = 'open' AND next_ping_at IS NOT NULL AND next_ping_at <= $1
                     ORDER BY next_ping_at, id LIMIT $2"),
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn advance_escalation(
                &self,
                id: i64,
                from_level: i64,
                to_level: i64,
                manager_email: Option<&str>,
                next_ping_at: Option<$crate::store::Millis>,
                pings: &[(String, $crate::store::NewPing)],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let moved = sqlx::query(
                    "UPDATE escalations SET level = $3, next_ping_at = $4,
                        manager_id = COALESCE((SELECT id FROM account_managers
                                               WHERE client_code = escalations.client_code AND email = $5), manager_id)
                     WHERE id = $1 AND level = $2 AND status = 'open'",
                )
                .bind(id)
                .bind(from_level)
                .bind(to_level)
                .bind(next_ping_at)
                .bind(manager_email)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved == 0 {
                    return Ok(false);
                }
                for (key, ping) in pings {
                    sqlx::query(
                        "INSERT INTO outbox (idempotency_key, kind, escalation_id, route, payload, status,
                            attempts, next_attempt_at, created_at)
                         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)
                         ON CONFLICT (idempotency_key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(&ping.kind)
                    .bind(id)
                    .bind(&ping.route)
                    .bind(&ping.payload)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn manager_id(
                &self,
                client_code: &str,
                email: &str,
            ) -> $crate::store::StoreResult<Option<i64>> {
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM account_managers WHERE client_code = $1 AND email = $2",
                )
                .bind(client_code)
                .bind(email)
                .fetch_optional(&self.reader)
                .await?;
                Ok(row.map(|r| r.0))
            }
        }
    };
}

pub(crate) use impl_escalations;
