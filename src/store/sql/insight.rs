//! [`Insight`](crate::store::Insight) in SQL: the back office's reads and the `/metrics` totals.

macro_rules! impl_insight {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Insight for $store {
            async fn period_facts(
                &self,
                client_code: &str,
                from: $crate::store::Millis,
                to: $crate::store::Millis,
            ) -> $crate::store::StoreResult<$crate::store::PeriodFacts> {
                let inbound = sqlx::query_as(
                    "SELECT * FROM messages
                     WHERE client_code = $1 AND direction = 'in' AND created_at >= $2 AND created_at < $3
                     ORDER BY id",
                )
                .bind(client_code).bind(from).bind(to)
                .fetch_all(&self.reader)
                .await?;
                let escalations = sqlx::query_as(
                    $crate::store::sql::select_escalations!(" FROM escalations WHERE client_code = $1 AND created_at >= $2 AND created_at < $3 ORDER BY id"),
                )
                .bind(client_code).bind(from).bind(to)
                .fetch_all(&self.reader)
                .await?;
                let surveys = sqlx::query_as(
                    // With the service of the request it asked about, if any (a survey after a
                    // completion; the request may have been opened in an earlier period).
                    "SELECT s.*, r.service_id AS request_service
                     FROM surveys s LEFT JOIN service_requests r ON r.reference = s.request_reference
                     WHERE s.client_code = $1 AND s.sent_at >= $2 AND s.sent_at < $3 ORDER BY s.id",
                )
                .bind(client_code).bind(from).bind(to)
                .fetch_all(&self.reader)
                .await?;
                let collections = sqlx::query_as(
                    "SELECT * FROM input_collections
                     WHERE client_code = $1 AND started_at >= $2 AND started_at < $3 ORDER BY id",
                )
                .bind(client_code).bind(from).bind(to)
                .fetch_all(&self.reader)
                .await?;
                let requests = sqlx::query_as(
                    "SELECT * FROM service_requests
                     WHERE client_code = $1 AND opened_at >= $2 AND opened_at < $3 ORDER BY id",
                )
                .bind(client_code).bind(from).bind(to)
                .fetch_all(&self.reader)
                .await?;
                Ok($crate::store::PeriodFacts { inbound, escalations, surveys, collections, requests })
            }

            async fn ledger(
                &self,
                client_code: &str,
                from: $crate::store::Millis,
                to: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::LedgerRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM recharge_ledger
                     WHERE client_code = $1 AND created_at >= $2 AND created_at < $3 ORDER BY id",
                )
                .bind(client_code)
                .bind(from)
                .bind(to)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn gaps(
                &self,
                since: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::GapRow>> {
                Ok(sqlx::query_as("SELECT * FROM knowledge_gaps WHERE created_at >= $1 ORDER BY id")
                    .bind(since)
                    .fetch_all(&self.reader)
                    .await?)
            }

            async fn gap_facts(
                &self,
                client_code: Option<&str>,
                from: $crate::store::Millis,
                to: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::GapFact>> {
                // The context: the conversation's latest earlier client question that got an
                // answer, a fallback, a clarification or an escalation.
                Ok(sqlx::query_as(
                    "SELECT g.id, g.conversation_id, g.message_id, g.client_code, g.kind, g.text, g.intent,
                            g.confidence, g.created_at,
                            (SELECT m.text FROM messages m WHERE m.conversation_id = g.conversation_id
                               AND m.direction = 'in' AND m.id < g.message_id AND m.text <> ''
                               AND m.outcome IN ('answered', 'fallback', 'clarify', 'escalated', 'request_opened')
                             ORDER BY m.id DESC LIMIT 1) AS context,
                            (SELECT m.intent FROM messages m WHERE m.conversation_id = g.conversation_id
                               AND m.direction = 'in' AND m.id < g.message_id AND m.text <> ''
                               AND m.outcome IN ('answered', 'fallback', 'clarify', 'escalated', 'request_opened')
                             ORDER BY m.id DESC LIMIT 1) AS context_intent
                     FROM knowledge_gaps g
                     WHERE (CAST($1 AS TEXT) IS NULL OR g.client_code = $1)
                       AND g.created_at >= $2 AND g.created_at < $3
                     ORDER BY g.created_at, g.id",
                )
                    .bind(client_code)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&self.reader)
                    .await?)
            }

            async fn inbound_times(
                &self,
                client_code: &str,
                from: $crate::store::Millis,
                to: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Millis>> {
                let rows: Vec<(i64,)> = sqlx::query_as(
                    "SELECT created_at FROM messages
                     WHERE client_code = $1 AND direction = 'in' AND created_at >= $2 AND created_at < $3
                       AND (outcome IS NULL
                            OR (substr(outcome, 1, 8) <> 'manager_' AND outcome <> 'request_update'))
                     ORDER BY created_at, id",
                )
                .bind(client_code)
                .bind(from)
                .bind(to)
                .fetch_all(&self.reader)
                .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn message_count(&self) -> $crate::store::StoreResult<i64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
                    .fetch_one(&self.reader)
                    .await?;
                Ok(n)
            }

            async fn totals(&self) -> $crate::store::StoreResult<$crate::store::Totals> {
                let messages: Vec<(String, Option<String>, i64)> = sqlx::query_as(
                    "SELECT direction, outcome, COUNT(*) FROM messages GROUP BY direction, outcome ORDER BY 1, 2",
                )
                .fetch_all(&self.reader)
                .await?;
                let mut latency_buckets_us = Vec::new();
                for bound in $crate::store::LATENCY_BUCKETS_US {
                    let (n,): (i64,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND latency_us IS NOT NULL AND latency_us <= $1",
                    )
                    .bind(bound)
                    .fetch_one(&self.reader)
                    .await?;
                    latency_buckets_us.push((bound, n));
                }
                let (latency_count, latency_sum_us): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), CAST(SUM(latency_us) AS BIGINT) FROM messages
                     WHERE direction = 'in' AND latency_us IS NOT NULL",
                )
                .fetch_one(&self.reader)
                .await?;
                let outbox = sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY 1")
                    .fetch_all(&self.reader)
                    .await?;
                let request_hooks = sqlx::query_as(
                    "SELECT status, COUNT(*) FROM outbox WHERE kind = 'request_hook' GROUP BY status ORDER BY 1",
                )
                .fetch_all(&self.reader)
                .await?;
                let escalations =
                    sqlx::query_as("SELECT status, COUNT(*) FROM escalations GROUP BY status ORDER BY 1")
                        .fetch_all(&self.reader)
                        .await?;
                Ok($crate::store::Totals {
                    messages: messages
                        .into_iter()
                        .map(|(d, o, n)| (d, o.unwrap_or_default(), n))
                        .collect(),
                    latency_buckets_us,
                    latency_count,
                    latency_sum_us: latency_sum_us.unwrap_or(0),
                    outbox,
                    request_hooks,
                    escalations,
                })
            }
        }
    };
}

pub(crate) use impl_insight;
