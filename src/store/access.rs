//! Who may use the back office: its users, their sessions and their API tokens.

use async_trait::async_trait;
use serde::Serialize;

use super::{Millis, StoreResult};

/// A back-office user as stored. `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    /// JSON list of client codes.
    pub client_scope: String,
    pub manager_id: Option<i64>,
    pub disabled: bool,
    pub created_at: Millis,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("client_scope", &self.client_scope)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// What `create_user` writes. The password is already hashed (argon2) by the caller.
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub client_scope: Vec<String>,
    pub manager_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// Called by the back office's login and API (`http::backoffice`) and the admin commands.
#[async_trait]
pub trait Access: Send + Sync {
    /// Create a user; `None` when the username is taken.
    async fn create_user(&self, user: &NewUser, now: Millis) -> StoreResult<Option<i64>>;

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRow>>;

    async fn users(&self) -> StoreResult<Vec<UserRow>>;

    /// Sessions and tokens are stored as SHA-256 hashes: a leaked database does not log anyone in.
    async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()>;

    /// The enabled user of an unexpired session.
    async fn session_user(&self, id_hash: &str, now: Millis) -> StoreResult<Option<UserRow>>;

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;

    async fn create_api_token(
        &self,
        user_id: i64,
        token_hash: &str,
        name: &str,
        now: Millis,
    ) -> StoreResult<i64>;

    /// The enabled user of an unrevoked token (and the token's last use is recorded).
    async fn token_user(&self, token_hash: &str, now: Millis) -> StoreResult<Option<UserRow>>;

    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiTokenRow>>;

    /// Revoke one of the user's tokens; false when it is not theirs or already revoked.
    async fn revoke_api_token(&self, user_id: i64, token_id: i64, now: Millis)
    -> StoreResult<bool>;
}
