//! Who may see what in the back office: roles, client scopes, passwords, sessions and tokens.
//!
//! The access matrix (also walked by `tests/backoffice_access.rs`):
//!
//! | surface                         | admin | sso_lead | account_manager | client_lead |
//! |---------------------------------|-------|----------|-----------------|-------------|
//! | overview (all clients in scope) | all   | all      | their clients   | their client|
//! | client page, report, statement  | all   | all      | their clients   | their client|
//! | comment on a report's review    | all   | all      | their clients   | their client|
//! | mark a report reviewed (side)   | –     | sso side | sso side        | client side |
//! | knowledge gaps                  | all   | all      | their clients   | –           |
//! | escalations queue               | all   | all      | their clients   | –           |
//! | requests queue, request page    | all   | all      | their clients   | their client|
//! | act on a request                | yes   | yes      | their clients   | –           |
//! | users (list, create)            | yes   | –        | –               | –           |
//! | content reload, metrics         | yes   | metrics  | –               | –           |
//! | own API tokens                  | yes   | yes      | yes             | yes         |
//!
//! Client leads see their own client's report and statement, not the raw queries of its staff
//! (gaps) nor the SSO's internal queue (escalations). They follow their client's service
//! requests (the queue and each request's timeline) but do not move them: that is the SSO's
//! work. A request of a client outside the caller's scope is "not found", not "forbidden".
//! The monthly report's review is two-sided (`review/mod.rs`): each side comments and marks its
//! own side, for the clients it sees; admins comment but sign off for nobody.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::UserRow;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("unknown role {0:?} (admin, sso_lead, account_manager, client_lead)")]
    UnknownRole(String),
    #[error("{0}")]
    Invalid(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    SsoLead,
    AccountManager,
    ClientLead,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, AccessError> {
        match s {
            "admin" => Ok(Role::Admin),
            "sso_lead" => Ok(Role::SsoLead),
            "account_manager" => Ok(Role::AccountManager),
            "client_lead" => Ok(Role::ClientLead),
            other => Err(AccessError::UnknownRole(other.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SsoLead => "sso_lead",
            Role::AccountManager => "account_manager",
            Role::ClientLead => "client_lead",
        }
    }

    /// Roles that see every client, whatever their scope says.
    fn sees_all_clients(self) -> bool {
        matches!(self, Role::Admin | Role::SsoLead)
    }
}

/// What a back-office surface needs, checked by [`Principal::may`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Reports, KPIs and statements of the clients in scope.
    ReadReports,
    /// Comment on the monthly reports of the clients in scope and mark one's own side reviewed
    /// (which side: `review::Side::marked_by`).
    ReviewReports,
    /// Knowledge gaps (raw queries) of the clients in scope.
    ReadGaps,
    /// The escalations queue of the clients in scope.
    ReadEscalations,
    /// The service requests of the clients in scope: the queue and each request's page.
    ReadRequests,
    /// Move, assign and annotate the service requests of the clients in scope.
    ActOnRequests,
    /// Users: list and create.
    ManageUsers,
    /// Announcements to every client's staff: create, list with counts, end early.
    ManageAnnouncements,
    /// Content reload.
    Reload,
    /// Switch the bot's roll-out mode for a client's channel (admins only).
    ManageRollout,
    /// Prometheus metrics (totals across clients).
    Metrics,
}

/// An authenticated back-office caller.
#[derive(Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub user_id: Option<i64>,
    pub username: String,
    pub role: Role,
    /// Client codes this caller may see; ignored for roles that see all clients.
    pub clients: Vec<String>,
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.username, self.role.as_str())
    }
}

impl Principal {
    /// The operator holding `FRONTDOOR_ADMIN_TOKEN`: an admin with no user row.
    pub fn operator() -> Principal {
        Principal {
            user_id: None,
            username: "operator".into(),
            role: Role::Admin,
            clients: Vec::new(),
        }
    }

    pub fn from_row(row: &UserRow) -> Result<Principal, AccessError> {
        let clients: Vec<String> = serde_json::from_str(&row.client_scope).map_err(|e| {
            AccessError::Invalid(format!("user {}: bad client scope: {e}", row.username))
        })?;
        Ok(Principal {
            user_id: Some(row.id),
            username: row.username.clone(),
            role: Role::parse(&row.role)?,
            clients,
        })
    }

    pub fn may(&self, permission: Permission) -> bool {
        use Permission::*;
        matches!(
            (self.role, permission),
            (Role::Admin, _)
                | (
                    Role::SsoLead,
                    ReadReports
                        | ReviewReports
                        | ReadGaps
                        | ReadEscalations
                        | Metrics
                        | ReadRequests
                        | ActOnRequests
                        | ManageAnnouncements
                )
                | (
                    Role::AccountManager,
                    ReadReports
                        | ReviewReports
                        | ReadGaps
                        | ReadEscalations
                        | ReadRequests
                        | ActOnRequests
                )
                | (Role::ClientLead, ReadReports | ReviewReports | ReadRequests)
        )
    }

    /// The clients this caller is limited to: `None` for the roles that see every client
    /// (requests of no client included), else their list.
    pub fn client_scope(&self) -> Option<Vec<String>> {
        (!self.role.sees_all_clients()).then(|| self.clients.clone())
    }

    pub fn sees_client(&self, code: &str) -> bool {
        self.role.sees_all_clients() || self.clients.iter().any(|c| c == code)
    }

    /// The subset of `codes` this caller may see, in the given order.
    pub fn visible<'a>(&self, codes: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        codes
            .into_iter()
            .filter(|c| self.sees_client(c))
            .map(str::to_string)
            .collect()
    }
}

/// Check a new user's role and scope: account managers and client leads need clients, a client
/// lead exactly one.
pub fn validate_scope(role: Role, clients: &[String]) -> Result<(), AccessError> {
    match role {
        Role::ClientLead if clients.len() != 1 => Err(AccessError::Invalid(
            "a client lead belongs to exactly one client (--clients CODE)".into(),
        )),
        Role::AccountManager if clients.is_empty() => Err(AccessError::Invalid(
            "an account manager needs at least one client (--clients A,B)".into(),
        )),
        _ => Ok(()),
    }
}

/// Passwords shorter than this are refused: the back office shows client data.
pub const MIN_PASSWORD_CHARS: usize = 10;

pub fn hash_password(password: &str) -> Result<String, AccessError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccessError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccessError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccessError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the username is unknown, so that a wrong username costs the
/// same time as a wrong password (no user enumeration through timing).
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default())
}

/// A new random secret (session id or API token) with a readable prefix.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Sessions and tokens are stored as SHA-256 hex of the secret (they are random, so no salt or
/// slow hash is needed).
pub fn secret_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, clients: &[&str]) -> Principal {
        Principal {
            user_id: Some(1),
            username: "u".into(),
            role,
            clients: clients.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("anything", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(AccessError::Invalid(_))
        ));
    }

    #[test]
    fn scopes_follow_roles() {
        let am = principal(Role::AccountManager, &["ACME"]);
        assert!(am.sees_client("ACME") && !am.sees_client("GLOBEX"));
        assert_eq!(am.visible(["GLOBEX", "ACME"]), vec!["ACME"]);
        assert!(principal(Role::SsoLead, &[]).sees_client("GLOBEX"));
        let lead = principal(Role::ClientLead, &["ACME"]);
        assert!(lead.may(Permission::ReadReports) && !lead.may(Permission::ReadGaps));
        assert!(!am.may(Permission::ManageUsers) && !am.may(Permission::Metrics));
        assert!(validate_scope(Role::ClientLead, &[]).is_err());
        assert!(validate_scope(Role::AccountManager, &["A".into()]).is_ok());
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("fds_");
        assert!(a.starts_with("fds_") && a.len() > 40);
        assert_ne!(a, new_secret("fds_"));
        assert_eq!(secret_hash("x").len(), 64);
    }
}
