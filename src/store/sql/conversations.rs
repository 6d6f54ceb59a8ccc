//! [`Conversations`](crate::store::Conversations) in SQL. The writes of the hot path (a turn, a
//! new person or conversation, a request number) are jobs from `writes/` run by the backend's
//! `run_write`; the reads go to the reader pool (turns are durable before they answer).

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

/// The replies logged for an inbound message ($2), by the conversation's index: replies are
/// written after their inbound, in its conversation ($1). `reply_to` has no index of its own:
/// one would cost every reply's insert, for the rare retry.
pub(crate) const PROCESSED_REPLIES: &str = "SELECT * FROM messages
     WHERE conversation_id = $1 AND id > $2 AND reply_to = $2 ORDER BY id";

macro_rules! impl_conversations {
    ($store:ty, $conn:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Conversations for $store {
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
                // Shared, not moved: a job may run more than once (PostgreSQL's group commit).
                let claim = std::sync::Arc::new(claim.clone());
                self.run_write(move |tx: &mut $conn| {
                    let claim = std::sync::Arc::clone(&claim);
                    Box::pin(async move {
                        $crate::store::writes::resolve_person(tx, &claim, now).await
                    })
                }).await
            }

            async fn person_by_identity(
                &self,
                channel: &str,
                external_id: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::Person>> {
                self.person_by_identity_row(channel, external_id).await
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
                // No read first: the caller asks only when the turn's context found none, and
                // the job returns the session's conversation whoever made it.
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
                let new = std::sync::Arc::new(new);
                self.run_write(move |tx: &mut $conn| {
                    let new = std::sync::Arc::clone(&new);
                    Box::pin(async move {
                        $crate::store::writes::open_conversation(tx, &new).await
                    })
                }).await
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

            async fn conversation_by_session(
                &self,
                channel: &str,
                session_key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::ConversationRow>> {
                // The hot path's reader (every web socket that joins asks it): writes are
                // committed before their callers return, and WAL readers see every committed
                // transaction.
                self.conversation_by_session_row(channel, session_key).await
            }

            async fn turn_context(
                &self,
                channel: &str,
                session_key: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::TurnContext>> {
                Ok(self.turn_context_row(channel, session_key).await?.map(Into::into))
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
                // The reader: turns are durable before they answer.
                .fetch_optional(&self.reader)
                .await?;
                let Some(inbound) = inbound else {
                    return Ok(None);
                };
                let replies = sqlx::query_as($crate::store::sql::PROCESSED_REPLIES)
                .bind(&inbound.conversation_id)
                .bind(inbound.id)
                .fetch_all(&self.reader)
                .await?;
                Ok(Some((inbound, replies)))
            }

            async fn next_request_number(&self) -> $crate::store::StoreResult<i64> {
                self.allocate_request_number().await
            }

            async fn commit_turn(
                &self,
                turn: &$crate::store::Turn,
            ) -> $crate::store::StoreResult<$crate::store::TurnOutcome> {
                self.queue_turn(turn)?.await
            }

            fn queue_turn(
                &self,
                turn: &$crate::store::Turn,
            ) -> $crate::store::StoreResult<$crate::store::QueuedTurn> {
                let turn = std::sync::Arc::new(turn.clone());
                self.queue_write(move |tx: &mut $conn| {
                    let turn = std::sync::Arc::clone(&turn);
                    Box::pin(async move {
                        $crate::store::writes::commit_turn(tx, &turn).await
                    })
                })
            }

            async fn requests_of_person(
                &self,
                person_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RequestRow>> {
                Ok(sqlx::query_as(
                    $crate::store::sql::select_requests!(" FROM service_requests WHERE person_id = $1 ORDER BY id DESC"),
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
                    $crate::store::sql::select_requests!(" FROM service_requests WHERE reference = $1"),
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

            async fn surveys_of_person(
                &self,
                person_id: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::SurveyRow>> {
                Ok(sqlx::query_as("SELECT * FROM surveys WHERE person_id = $1 ORDER BY id")
                    .bind(person_id)
                    .fetch_all(&self.reader)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_conversations;
