//! Signed web chat identity tokens: the host page (which knows who is signed in) passes a token
//! the widget cannot forge, so a user can't claim to be someone else by editing JavaScript.
//!
//! Format: `base64url(json claims) "." base64url(HMAC-SHA256(secret, first part))`, claims
//! `{"sub": user id, "name": display name, "client": client code, "exp": unix seconds}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// `"manager"` for an account manager's token (the escalation API); absent for chat users,
    /// so neither kind of token can stand in for the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("identity token is malformed")]
    Malformed,
    #[error("identity token signature is invalid")]
    BadSignature,
    #[error("identity token has expired")]
    Expired,
    #[error("identity tokens are not accepted: the server has no FRONTDOOR_IDENTITY_SECRET")]
    NotConfigured,
}

/// Compare two secrets in time that does not depend on where they differ (tokens, signatures).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length")
}

pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let body = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mut m = mac(secret);
    m.update(body.as_bytes());
    let sig = B64.encode(m.finalize().into_bytes());
    format!("{body}.{sig}")
}

pub fn verify(token: &str, secret: &[u8], now_unix: i64) -> Result<Claims, TokenError> {
    let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    let mut m = mac(secret);
    m.update(body.as_bytes());
    // verify_slice compares in constant time.
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
    let claims: Claims =
        serde_json::from_slice(&B64.decode(body).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now_unix {
        return Err(TokenError::Expired);
    }
    if claims.sub.is_empty() || claims.sub.len() > 128 {
        return Err(TokenError::Malformed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "ann.lee@acme.example".into(),
            name: Some("Ann Lee".into()),
            client: Some("ACME".into()),
            role: None,
            exp: 2_000,
        }
    }

    #[test]
    fn round_trip_and_forgeries() {
        let t = sign(&claims(), b"secret");
        assert_eq!(verify(&t, b"secret", 1_000).unwrap(), claims());
        assert_eq!(verify(&t, b"other", 1_000), Err(TokenError::BadSignature));
        assert_eq!(verify(&t, b"secret", 2_000), Err(TokenError::Expired));
        // Change the client in the body, keep the signature: refused.
        let (_, sig) = t.split_once('.').unwrap();
        let mut forged = claims();
        forged.client = Some("GLOBEX".into());
        let forged_body = B64.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            verify(&format!("{forged_body}.{sig}"), b"secret", 1_000),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify("garbage", b"secret", 1_000),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify("a.b", b"secret", 1_000),
            Err(TokenError::Malformed),
            "a signature that is not base64"
        );
    }
}
