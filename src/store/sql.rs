//! The SQL of the store, written once and compiled for both backends.
//!
//! Both dialects accept `$N` placeholders, `RETURNING`, `ON CONFLICT DO NOTHING` and the column
//! types of the migrations (BIGINT millis, TEXT JSON, BOOLEAN), so one body serves both. A macro
//! rather than generic code over `sqlx::Database`: the generic bounds for every bound type and
//! executor are longer than the queries themselves. Each backend supplies `self.writer` (the pool
//! that writes; one connection on SQLite, which has a single writer anyway), `self.reader`, and
//! `self.run_write(job)`: the hot path's writes (a turn, a new person or conversation, a request
//! number) are jobs (`writes.rs`, written against `exec::Exec`) run in a transaction on a `$conn`
//! — an sqlx connection with one transaction each on PostgreSQL; on SQLite the group-commit
//! writer thread's rusqlite connection, where many concurrent jobs share one transaction and one
//! fsync (`sqlite.rs`).
//! A job returns its value and whether to keep what it wrote; the caller gets the value only
//! once the transaction holding it has committed.

/// A turn's context in one statement (see `TurnContextRow`).
pub(crate) const TURN_CONTEXT: &str =
    "SELECT c.id, c.channel, c.session_key, c.person_id, c.client_code, c.state,
            c.version, c.created_at, c.updated_at,
            p.id AS p_id, p.client_code AS p_client_code,
            p.display_name AS p_display_name, p.created_at AS p_created_at,
            p.last_seen_at AS p_last_seen_at,
            (SELECT COUNT(*) FROM service_requests r WHERE r.person_id = c.person_id)
                AS request_count,
            (SELECT MAX(s.sent_at) FROM surveys s WHERE s.person_id = c.person_id)
                AS last_survey_at
     FROM conversations c LEFT JOIN people p ON p.id = c.person_id
     WHERE c.channel = $1 AND c.session_key = $2";

macro_rules! impl_sql_store {
    // `$skip_locked`: the row-locking clause of the outbox claim ("FOR UPDATE SKIP LOCKED" on
    // PostgreSQL; empty on SQLite, whose single writer already serialises claims).
    ($store:ty, $conn:ty, $backend:expr, $skip_locked:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.reader).await?;
                Ok(())
            }

            async fn upsert_client(
                &self,
                client: &$crate::store::ClientRecord,
                managers: &[$crate::store::ManagerRecord],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(
                    "INSERT INTO clients (code, name, timezone, spa, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5)
                     ON CONFLICT (code) DO UPDATE SET name = $2, timezone = $3, spa = $4, updated_at = $5",
                )
                .bind(&client.code)
                .bind(&client.name)
                .bind(&client.timezone)
                .bind(&client.spa)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Managers no longer in the seed are deactivated, not deleted: escalations refer to them.
                sqlx::query("UPDATE account_managers SET active = FALSE WHERE client_code = $1")
                    .bind(&client.code)
                    .execute(&mut *tx)
                    .await?;
                for m in managers {
                    sqlx::query(
                        "INSERT INTO account_managers (client_code, name, email, role, routes, active)
                         VALUES ($1, $2, $3, $4, $5, TRUE)
                         ON CONFLICT (client_code, email) DO UPDATE
                         SET name = $2, role = $4, routes = $5, active = TRUE",
                    )
                    .bind(&client.code)
                    .bind(&m.name)
                    .bind(&m.email)
                    .bind(&m.role)
                    .bind(&m.routes)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn client(
                &self,
                code: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::ClientRecord>> {
                let row: Option<(String, String, String, String)> = sqlx::query_as(
                    "SELECT code, name, timezone, spa FROM clients WHERE code = $1",
                )
                .bind(code)
                .fetch_optional(&self.reader)
                .await?;
                Ok(row.map(|(code, name, timezone, spa)| $crate::store::ClientRecord {
                    code,
                    name,
                    timezone,
                    spa,
                }))
            }

            async fn resolve_person(
                &self,
                claim: &$crate::store::IdentityClaim,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<$crate::store::Person> {
                let claim = claim.clone();
                self.run_write(move |tx: &mut $conn| Box::pin(async move {
                    $crate::store::writes::resolve_person(tx, &claim, now).await
                })).await
            }

            async fn open_conversation(
                &self,
                channel: &str,
                session_key: &str,
                person: Option<&$crate::store::Person>,
                new_id: &str,
                initial_state: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<$crate::store::ConversationRow> {
                if let Some(row) = sqlx::query_as::<_, $crate::store::ConversationRow>(
                    $crate::store::writes::CONVERSATION_BY_SESSION,
                )
                .bind(channel)
                .bind(session_key)
                .fetch_optional(&self.reader)
                .await?
                {
                    return Ok(row);
                }
                let new = $crate::store::ConversationRow {
                    id: new_id.to_string(),
                    channel: channel.to_string(),
                    session_key: session_key.to_string(),
                    person_id: person.map(|p| p.id),
                    client_code: person.and_then(|p| p.client_code.clone()),
                    state: initial_state.to_string(),
                    version: 0,
                    created_at: now,
                    updated_at: now,
                };
                self.run_write(move |tx: &mut $conn| Box::pin(async move {
                    $crate::store::writes::open_conversation(tx, &new).await
                })).await
            }

            async fn conversation(
                &self,
                id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::ConversationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, channel, session_key, person_id, client_code, state, version,
                            created_at, updated_at
                     FROM conversations WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.reader)
                .await?)
            }

            async fn turn_context(
                &self,
                channel: &str,
                session_key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::TurnContext>> {
                Ok(self.turn_context_row(channel, session_key).await?.map(Into::into))
            }

            async fn conversation_by_session(
                &self,
                channel: &str,
                session_key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::ConversationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, channel, session_key, person_id, client_code, state, version,
                            created_at, updated_at
                     FROM conversations WHERE channel = $1 AND session_key = $2",
                )
                .bind(channel)
                .bind(session_key)
                // The reader: writes are committed before their callers return, and WAL readers
                // see every committed transaction (the writer is kept for the write batches).
                .fetch_optional(&self.reader)
                .await?)
            }

            async fn person(
                &self,
                id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::Person>> {
                Ok(sqlx::query_as(
                    "SELECT id, client_code, display_name, created_at, last_seen_at FROM people WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.reader)
                .await?)
            }

            async fn transcript(
                &self,
                conversation_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::MessageRow>> {
                Ok(sqlx::query_as(
                    "SELECT * FROM messages WHERE conversation_id = $1 ORDER BY id",
                )
                .bind(conversation_id)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn processed_message(
                &self,
                channel: &str,
                channel_message_id: &str,
            ) -> $crate::store::StoreResult<
                Option<($crate::store::MessageRow, Vec<$crate::store::MessageRow>)>,
            > {
                let inbound: Option<$crate::store::MessageRow> = sqlx::query_as(
                    "SELECT * FROM messages WHERE channel = $1 AND channel_message_id = $2",
                )
                .bind(channel)
                .bind(channel_message_id)
                // The reader, as `conversation_by_session`: turns are durable before they answer.
                .fetch_optional(&self.reader)
                .await?;
                let Some(inbound) = inbound else {
                    return Ok(None);
                };
                let replies = sqlx::query_as(
                    "SELECT * FROM messages WHERE reply_to = $1 ORDER BY id",
                )
                .bind(inbound.id)
                .fetch_all(&self.reader)
                .await?;
                Ok(Some((inbound, replies)))
            }

            async fn next_request_number(&self) -> $crate::store::StoreResult<i64> {
                self.run_write(|tx: &mut $conn| Box::pin(async move {
                    $crate::store::writes::next_request_number(tx).await
                })).await
            }

            async fn commit_turn(
                &self,
                turn: &$crate::store::Turn,
            ) -> $crate::store::StoreResult<$crate::store::TurnOutcome> {
                let turn = turn.clone();
                self.run_write(move |tx: &mut $conn| Box::pin(async move {
                    $crate::store::writes::commit_turn(tx, &turn).await
                })).await
            }

            async fn requests_of_person(
                &self,
                person_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RequestRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, reference, conversation_id, person_id, client_code, service_id, status, priority,
                            inputs, opened_at, due_at, closed_at, off_hours
                     FROM service_requests WHERE person_id = $1 ORDER BY id DESC",
                )
                .bind(person_id)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn request_by_reference(
                &self,
                reference: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::RequestRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, reference, conversation_id, person_id, client_code, service_id, status, priority,
                            inputs, opened_at, due_at, closed_at, off_hours
                     FROM service_requests WHERE reference = $1",
                )
                .bind(reference)
                .fetch_optional(&self.reader)
                .await?)
            }

            async fn input_collections(
                &self,
                conversation_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::InputCollectionRow>> {
                Ok(sqlx::query_as("SELECT * FROM input_collections WHERE conversation_id = $1 ORDER BY id")
                    .bind(conversation_id)
                    .fetch_all(&self.reader)
                    .await?)
            }

            async fn escalations_of_conversation(
                &self,
                conversation_id: &str,
            ) -> $crate::store::StoreResult<Vec<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, conversation_id, person_id, client_code, request_reference, reason, priority, status,
                            level, manager_id, created_at, due_at, next_ping_at, acknowledged_at, acknowledged_by,
                            first_response_at, resolved_at, off_hours
                     FROM escalations WHERE conversation_id = $1 ORDER BY id",
                )
                .bind(conversation_id)
                .fetch_all(&self.reader)
                .await?)
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

            async fn surveys_of_person(
                &self,
                person_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::SurveyRow>> {
                Ok(sqlx::query_as("SELECT * FROM surveys WHERE person_id = $1 ORDER BY id")
                    .bind(person_id)
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

            async fn escalation(
                &self,
                id: i64,
            ) -> $crate::store::StoreResult<Option<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, conversation_id, person_id, client_code, request_reference, reason, priority, status,
                            level, manager_id, created_at, due_at, next_ping_at, acknowledged_at, acknowledged_by,
                            first_response_at, resolved_at, off_hours
                     FROM escalations WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.writer)
                .await?)
            }

            async fn due_escalations(
                &self,
                now: $crate::store::Millis,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, conversation_id, person_id, client_code, request_reference, reason, priority, status,
                            level, manager_id, created_at, due_at, next_ping_at, acknowledged_at, acknowledged_by,
                            first_response_at, resolved_at, off_hours
                     FROM escalations WHERE status = 'open' AND next_ping_at IS NOT NULL AND next_ping_at <= $1
                     ORDER BY next_ping_at, id LIMIT $2",
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
                    escalations,
                })
            }

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
                    "SELECT id, conversation_id, person_id, client_code, request_reference, reason, priority, status,
                            level, manager_id, created_at, due_at, next_ping_at, acknowledged_at, acknowledged_by,
                            first_response_at, resolved_at, off_hours
                     FROM escalations WHERE client_code = $1 AND created_at >= $2 AND created_at < $3 ORDER BY id",
                )
                .bind(client_code).bind(from).bind(to)
                .fetch_all(&self.reader)
                .await?;
                let surveys = sqlx::query_as(
                    "SELECT * FROM surveys WHERE client_code = $1 AND sent_at >= $2 AND sent_at < $3 ORDER BY id",
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

            async fn create_user(
                &self,
                user: &$crate::store::NewUser,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<i64>> {
                let scope = serde_json::to_string(&user.client_scope)
                    .map_err(|e| $crate::store::StoreError::Invalid(e.to_string()))?;
                let row: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO backoffice_users (username, password_hash, role, client_scope, manager_id, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (username) DO NOTHING RETURNING id",
                )
                .bind(&user.username)
                .bind(&user.password_hash)
                .bind(&user.role)
                .bind(scope)
                .bind(user.manager_id)
                .bind(now)
                .fetch_optional(&self.writer)
                .await?;
                Ok(row.map(|r| r.0))
            }

            async fn user_by_name(
                &self,
                username: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::UserRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, username, password_hash, role, client_scope, manager_id, disabled, created_at
                     FROM backoffice_users WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&self.reader)
                .await?)
            }

            async fn users(&self) -> $crate::store::StoreResult<Vec<$crate::store::UserRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, username, password_hash, role, client_scope, manager_id, disabled, created_at
                     FROM backoffice_users ORDER BY username",
                )
                .fetch_all(&self.reader)
                .await?)
            }

            async fn create_session(
                &self,
                id_hash: &str,
                user_id: i64,
                now: $crate::store::Millis,
                expires_at: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                // Expired sessions are swept on every login: the table stays small without a job.
                sqlx::query("DELETE FROM backoffice_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO backoffice_sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(id_hash)
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session_user(
                &self,
                id_hash: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::UserRow>> {
                Ok(sqlx::query_as(
                    "SELECT u.id, u.username, u.password_hash, u.role, u.client_scope, u.manager_id, u.disabled, u.created_at
                     FROM backoffice_sessions s JOIN backoffice_users u ON u.id = s.user_id
                     WHERE s.id_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
                )
                .bind(id_hash)
                .bind(now)
                .fetch_optional(&self.reader)
                .await?)
            }

            async fn delete_session(&self, id_hash: &str) -> $crate::store::StoreResult<()> {
                sqlx::query("DELETE FROM backoffice_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn create_api_token(
                &self,
                user_id: i64,
                token_hash: &str,
                name: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<i64> {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(user_id)
                .bind(token_hash)
                .bind(name)
                .bind(now)
                .fetch_one(&self.writer)
                .await?;
                Ok(id)
            }

            async fn token_user(
                &self,
                token_hash: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<$crate::store::UserRow>> {
                let user: Option<$crate::store::UserRow> = sqlx::query_as(
                    "SELECT u.id, u.username, u.password_hash, u.role, u.client_scope, u.manager_id, u.disabled, u.created_at
                     FROM api_tokens t JOIN backoffice_users u ON u.id = t.user_id
                     WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND NOT u.disabled",
                )
                .bind(token_hash)
                .fetch_optional(&self.reader)
                .await?;
                if user.is_some() {
                    // Last use at minute precision: one write per token per minute, not per call.
                    sqlx::query(
                        "UPDATE api_tokens SET last_used_at = $2
                         WHERE token_hash = $1 AND (last_used_at IS NULL OR last_used_at < $2 - 60000)",
                    )
                    .bind(token_hash)
                    .bind(now)
                    .execute(&self.writer)
                    .await?;
                }
                Ok(user)
            }

            async fn api_tokens(
                &self,
                user_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::ApiTokenRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id",
                )
                .bind(user_id)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn revoke_api_token(
                &self,
                user_id: i64,
                token_id: i64,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(token_id)
                .bind(user_id)
                .bind(now)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn escalations(
                &self,
                status: Option<&str>,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::EscalationRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, conversation_id, person_id, client_code, request_reference, reason, priority, status,
                            level, manager_id, created_at, due_at, next_ping_at, acknowledged_at, acknowledged_by,
                            first_response_at, resolved_at, off_hours
                     FROM escalations WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2",
                )
                .bind(status)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?)
            }

            async fn cursor(&self, name: &str) -> $crate::store::StoreResult<Option<i64>> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT value FROM channel_cursors WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.writer)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            async fn set_cursor(&self, name: &str, value: i64) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO channel_cursors (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = $2",
                )
                .bind(name)
                .bind(value)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn create_link_code(
                &self,
                code: &str,
                client_code: &str,
                expires_at: $crate::store::Millis,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO link_codes (code, client_code, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(code)
                .bind(client_code)
                .bind(now)
                .bind(expires_at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn redeem_link_code(
                &self,
                code: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<String>> {
                let row: Option<(String,)> = sqlx::query_as(
                    "UPDATE link_codes SET used_at = $2
                     WHERE code = $1 AND used_at IS NULL AND expires_at > $2
                     RETURNING client_code",
                )
                .bind(code)
                .bind(now)
                .fetch_optional(&self.writer)
                .await?;
                Ok(row.map(|r| r.0))
            }

            async fn message_count(&self) -> $crate::store::StoreResult<i64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
                    .fetch_one(&self.reader)
                    .await?;
                Ok(n)
            }

            // --- Back office: knowledge gaps, demand, renewal alerts, demo data (issue #9) ----

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
                       AND (outcome IS NULL OR substr(outcome, 1, 8) <> 'manager_')
                     ORDER BY created_at, id",
                )
                .bind(client_code)
                .bind(from)
                .bind(to)
                .fetch_all(&self.reader)
                .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
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

pub(crate) use impl_sql_store;
