//! Identity tokens as a host page (or the account managers' portal) would sign them.

use frontdoor::channels::identity::{Claims, sign};

/// Claims for `sub`, valid for ten minutes from now.
pub fn claims(sub: &str, name: Option<&str>, client: Option<&str>, role: Option<&str>) -> Claims {
    Claims {
        sub: sub.into(),
        name: name.map(str::to_string),
        client: client.map(str::to_string),
        role: role.map(str::to_string),
        exp: chrono::Utc::now().timestamp() + 600,
    }
}

/// A chat user's token: `sub`, shown as `name`, in `client`, signed with `secret`.
pub fn user_token(secret: &str, sub: &str, name: Option<&str>, client: Option<&str>) -> String {
    sign(&claims(sub, name, client, None), secret.as_bytes())
}

/// An account manager's token for the escalation API.
pub fn manager_token(secret: &str, email: &str) -> String {
    sign(
        &claims(email, None, None, Some("manager")),
        secret.as_bytes(),
    )
}
