//! Creating back-office users: the rules a new user must meet, the same whether the request
//! comes from the API (`POST /api/v1/admin/users`) or `frontdoor admin create-user`.

use crate::backoffice::access::{AccessError, Role, hash_password, validate_scope};
use crate::knowledge::Knowledge;
use crate::store::{NewUser, Store, StoreError};

/// A user to create, as asked for (not yet checked).
#[derive(Debug)]
pub struct UserRequest {
    pub username: String,
    pub password: String,
    pub role: String,
    pub clients: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NewUserError {
    /// The request breaks a rule (name, role, scope, password length, unknown client).
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("user {0} already exists")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validate and store a new user; returns its id.
pub async fn create_user(
    store: &dyn Store,
    k: &Knowledge,
    request: UserRequest,
) -> Result<i64, NewUserError> {
    let username = request.username.trim().to_string();
    if username.is_empty()
        || username.chars().count() > 200
        || username.chars().any(char::is_control)
    {
        return Err(
            AccessError::Invalid("username must be 1–200 printable characters".into()).into(),
        );
    }
    let role = Role::parse(&request.role)?;
    validate_scope(role, &request.clients)?;
    if let Some(unknown) = request.clients.iter().find(|c| !k.clients.contains_key(*c)) {
        return Err(AccessError::Invalid(format!("unknown client {unknown}")).into());
    }
    let password = request.password;
    // argon2 is slow on purpose: off the async workers.
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccessError::Hash(e.to_string()))??;
    let user = NewUser {
        username: username.clone(),
        password_hash: hash,
        role: role.as_str().to_string(),
        client_scope: request.clients,
        manager_id: None,
    };
    store
        .create_user(&user, crate::dialogue::service::millis(chrono::Utc::now()))
        .await?
        .ok_or(NewUserError::Exists(username))
}
