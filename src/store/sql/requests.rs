//! [`Requests`](crate::store::Requests) in SQL.
//!
//! Lists of statuses and clients are bound as one comma-joined text and matched with `LIKE`,
//! which both dialects have (SQLite has no arrays; PostgreSQL's `ANY` has no SQLite twin). The
//! words matched are validated first (status names, client codes), so no `%` reaches the
//! pattern.

/// `,a,b,` for a list (so `%,x,%` matches whole items), `None` for no filter.
pub fn joined(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| format!(",{},", items.join(",")))
}

macro_rules! impl_requests {
    ($store:ty, $conn:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Requests for $store {
            async fn requests(
                &self,
                f: &$crate::store::RequestFilter,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RequestRow>> {
                let statuses = $crate::store::sql::requests::joined(&f.statuses);
                // Some(empty): a caller allowed no client at all sees nothing.
                let clients = match &f.clients {
                    None => None,
                    Some(c) if c.is_empty() => return Ok(Vec::new()),
                    Some(c) => $crate::store::sql::requests::joined(c),
                };
                let (after_t, after_id) = match f.after {
                    Some((t, id)) => (Some(t), Some(id)),
                    None => (None, None),
                };
                Ok(sqlx::query_as($crate::store::sql::select_requests!(
                    " FROM service_requests
                     WHERE ($1 IS NULL OR $1 LIKE '%,' || status || ',%')
                       AND ($2 IS NULL OR $2 LIKE '%,' || client_code || ',%')
                       AND ($3 IS NULL OR service_id = $3)
                       AND ($4 IS NULL OR assignee = $4)
                       AND ($5 IS NULL OR updated_at >= $5)
                       AND ($6 IS NULL OR (status IN ('open', 'in_progress', 'reopened') AND due_at < $6))
                       AND ($7 IS NULL OR updated_at > $7 OR (updated_at = $7 AND id > $8))
                     ORDER BY updated_at, id
                     LIMIT $9"
                ))
                .bind(statuses)
                .bind(clients)
                .bind(&f.service)
                .bind(&f.assignee)
                .bind(f.updated_since)
                .bind(f.due_before)
                .bind(after_t)
                .bind(after_id)
                .bind(f.limit)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn request_events(
                &self,
                request_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RequestEventRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, request_id, kind, from_status, to_status, actor, source, note,
                            idempotency_key, created_at
                     FROM request_events WHERE request_id = $1 ORDER BY id",
                )
                .bind(request_id)
                .fetch_all(&self.writer)
                .await?)
            }

            async fn request_event_by_key(
                &self,
                key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::RequestEventRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, request_id, kind, from_status, to_status, actor, source, note,
                            idempotency_key, created_at
                     FROM request_events WHERE idempotency_key = $1",
                )
                .bind(key)
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn update_request(
                &self,
                update: &$crate::store::RequestUpdate,
            ) -> $crate::store::StoreResult<()> {
                let update = std::sync::Arc::new(update.clone());
                self.run_write(move |tx: &mut $conn| {
                    let update = std::sync::Arc::clone(&update);
                    Box::pin(async move {
                        $crate::store::writes::update_request_job(tx, &update).await
                    })
                })
                .await
            }
        }
    };
}

pub(crate) use impl_requests;
