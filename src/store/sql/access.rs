//! [`Access`](crate::store::Access) in SQL: back-office users, sessions and API tokens.

macro_rules! impl_access {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Access for $store {
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
        }
    };
}

pub(crate) use impl_access;
