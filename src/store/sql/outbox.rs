//! [`Outbox`](crate::store::Outbox) in SQL.

macro_rules! impl_outbox {
    // `$skip_locked`: the row-locking clause of the outbox claim ("FOR UPDATE SKIP LOCKED" on
    // PostgreSQL; empty on SQLite, whose single writer already serialises claims).
    ($store:ty, $skip_locked:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Outbox for $store {
            async fn claim_outbox(
                &self,
                worker: &str,
                now: $crate::store::Millis,
                lease_until: $crate::store::Millis,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxRow>> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE outbox SET locked_by = $1, locked_until = $2, attempts = attempts + 1
                     WHERE id IN (
                        SELECT id FROM outbox
                        WHERE status = 'pending' AND next_attempt_at <= $3
                          AND (locked_until IS NULL OR locked_until < $3)
                        ORDER BY next_attempt_at, id LIMIT $4 ",
                    $skip_locked,
                    ")
                     RETURNING id, idempotency_key, kind, escalation_id, route, payload, status, attempts,
                               next_attempt_at, last_error, created_at, delivered_at"
                ))
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn claim_outbox_key(
                &self,
                key: &str,
                worker: &str,
                now: $crate::store::Millis,
                lease_until: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::OutboxRow>> {
                Ok(sqlx::query_as(
                    "UPDATE outbox SET locked_by = $1, locked_until = $2, attempts = attempts + 1
                     WHERE idempotency_key = $3 AND status = 'pending'
                       AND (locked_until IS NULL OR locked_until < $4)
                     RETURNING id, idempotency_key, kind, escalation_id, route, payload, status, attempts,
                               next_attempt_at, last_error, created_at, delivered_at",
                )
                .bind(worker)
                .bind(lease_until)
                .bind(key)
                .bind(now)
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn finish_outbox(
                &self,
                id: i64,
                worker: &str,
                finish: &$crate::store::OutboxFinish,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.writer.begin().await?;
                let query = match finish {
                    $crate::store::OutboxFinish::Delivered => sqlx::query(
                        "UPDATE outbox SET status = 'delivered', delivered_at = $3, locked_by = NULL,
                            locked_until = NULL, last_error = NULL
                         WHERE id = $1 AND locked_by = $2 AND status = 'pending'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(now),
                    $crate::store::OutboxFinish::Retry { at, error } => sqlx::query(
                        "UPDATE outbox SET next_attempt_at = $3, last_error = $4, locked_by = NULL,
                            locked_until = NULL
                         WHERE id = $1 AND locked_by = $2 AND status = 'pending'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(*at)
                    .bind(error),
                    $crate::store::OutboxFinish::Progress { at, error, payload } => sqlx::query(
                        "UPDATE outbox SET next_attempt_at = $3, last_error = $4, payload = $5,
                            locked_by = NULL, locked_until = NULL
                         WHERE id = $1 AND locked_by = $2 AND status = 'pending'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(*at)
                    .bind(error)
                    .bind(payload),
                    $crate::store::OutboxFinish::Failed { error, .. } => sqlx::query(
                        "UPDATE outbox SET status = 'failed', last_error = $3, locked_by = NULL,
                            locked_until = NULL
                         WHERE id = $1 AND locked_by = $2 AND status = 'pending'",
                    )
                    .bind(id)
                    .bind(worker)
                    .bind(error),
                };
                let done = query.execute(&mut *tx).await?.rows_affected() == 1;
                if done
                    && let $crate::store::OutboxFinish::Failed { failover: Some((key, ping)), .. } = finish
                {
                    sqlx::query(
                        "INSERT INTO outbox (idempotency_key, kind, escalation_id, route, payload, status,
                            attempts, next_attempt_at, created_at)
                         SELECT $1, $2, escalation_id, $3, $4, 'pending', 0, $5, $5 FROM outbox WHERE id = $6
                         ON CONFLICT (idempotency_key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(&ping.kind)
                    .bind(&ping.route)
                    .bind(&ping.payload)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(done)
            }

            async fn enqueue_outbox(
                &self,
                key: &str,
                ping: &$crate::store::NewPing,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO outbox (idempotency_key, kind, escalation_id, route, payload, status,
                        attempts, next_attempt_at, created_at)
                     VALUES ($1, $2, NULL, $3, $4, 'pending', 0, $5, $5)
                     ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(key)
                .bind(&ping.kind)
                .bind(&ping.route)
                .bind(&ping.payload)
                .bind(now)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn outbox_of_escalation(
                &self,
                escalation_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, idempotency_key, kind, escalation_id, route, payload, status, attempts,
                            next_attempt_at, last_error, created_at, delivered_at
                     FROM outbox WHERE escalation_id = $1 ORDER BY id",
                )
                .bind(escalation_id)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn outbox_by_status(
                &self,
                status: &str,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, idempotency_key, kind, escalation_id, route, payload, status, attempts,
                            next_attempt_at, last_error, created_at, delivered_at
                     FROM outbox WHERE status = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(status)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn outbox_by_key_prefix(
                &self,
                prefix: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::OutboxRow>> {
                // A range rather than LIKE: the key may contain `_` or `%`.
                Ok(sqlx::query_as(
                    "SELECT id, idempotency_key, kind, escalation_id, route, payload, status, attempts,
                            next_attempt_at, last_error, created_at, delivered_at
                     FROM outbox WHERE substr(idempotency_key, 1, length($1)) = $1 ORDER BY id",
                )
                .bind(prefix)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn quiesce_outbox(&self, note: &str) -> $crate::store::StoreResult<(u64, u64)> {
                let mut tx = self.writer.begin().await?;
                let pings = sqlx::query(
                    "UPDATE outbox SET status = 'failed', last_error = $1, locked_by = NULL, locked_until = NULL
                     WHERE status = 'pending'",
                )
                .bind(note)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let escalations = sqlx::query(
                    "UPDATE escalations SET next_ping_at = NULL WHERE next_ping_at IS NOT NULL",
                )
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok((pings, escalations))
            }
        }
    };
}

pub(crate) use impl_outbox;
