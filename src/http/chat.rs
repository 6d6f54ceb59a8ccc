//! `POST /api/v1/chat` and `GET /api/v1/conversations/{id}`: the web chat contract.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::error::ErrorBody;
use super::{ApiError, ApiJson, ApiPath, AppState, MAX_TEXT_CHARS, WebState};
use crate::channels::identity::{self, TokenError};
use crate::dialogue::service::Inbound;
use crate::dialogue::{Button, Input};
use crate::knowledge::render;
use crate::store::IdentityClaim;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/chat", post(chat))
        .route("/api/v1/conversations/{id}", get(conversation))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatUser {
    #[schema(
        pattern = r"^[A-Za-z0-9._:@-]{1,128}$",
        min_length = 1,
        max_length = 128
    )]
    pub id: String,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub client: Option<String>,
}

/// One message from the web chat: typed `text`, or a button's `payload`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// The browser session's id: 1–128 of `A-Za-z0-9-_.:@`.
    #[schema(
        pattern = r"^[A-Za-z0-9._:@-]{1,128}$",
        min_length = 1,
        max_length = 128
    )]
    pub session: String,
    /// At most 4,000 characters, not blank, no control characters but tab and line breaks.
    /// Exactly one of `text` and `payload`.
    #[schema(
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub text: Option<String>,
    /// A button's payload, 1–256 characters.
    #[schema(min_length = 1, max_length = 256)]
    pub payload: Option<String>,
    pub user: Option<ChatUser>,
    /// Optional client-generated message id: a retry with the same id is answered from the log.
    #[schema(
        pattern = r"^[A-Za-z0-9._:@-]{1,128}$",
        min_length = 1,
        max_length = 128
    )]
    pub message_id: Option<String>,
    /// A signed identity token from the host page (instead of `user`).
    pub token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReplyOut {
    pub text: String,
    /// The same text rendered as safe HTML for the widget.
    pub html: String,
    pub buttons: Vec<Button>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatResponse {
    pub conversation: String,
    pub replies: Vec<ReplyOut>,
    pub intent: Option<String>,
    pub confidence: f32,
    pub outcome: String,
    /// The candidates offered when `outcome` is `suggest` ("did you mean", best first) or
    /// `clarify`: each press answers that intent (its button's payload is `intent:<name>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<crate::dialogue::Suggestion>,
    pub duplicate: bool,
    /// True for messages pushed later over the socket (not a reply to the last message).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub push: bool,
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
}

impl ChatRequest {
    /// Check the request and turn it into the service's inbound message.
    fn into_inbound(self, web: &WebState) -> Result<Inbound, ApiError> {
        if !valid_id(&self.session) {
            return Err(ApiError::Unprocessable(
                "session must be 1-128 characters of letters, digits, '-', '_', '.', ':' or '@'"
                    .into(),
            ));
        }
        let input = match (self.text, self.payload) {
            (Some(_), Some(_)) => {
                return Err(ApiError::Unprocessable(
                    "send either text or payload, not both".into(),
                ));
            }
            (None, None) => {
                return Err(ApiError::Unprocessable(
                    "text or payload is required".into(),
                ));
            }
            (Some(t), None) => {
                if t.trim().is_empty() {
                    return Err(ApiError::Unprocessable("text is empty".into()));
                }
                let n = t.chars().count();
                if n > MAX_TEXT_CHARS {
                    return Err(ApiError::PayloadTooLarge(format!(
                        "text is {n} characters; the limit is {MAX_TEXT_CHARS}"
                    )));
                }
                if t.chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
                {
                    return Err(ApiError::Unprocessable(
                        "text contains control characters".into(),
                    ));
                }
                Input::Text(t)
            }
            (None, Some(p)) => {
                if p.is_empty() || p.chars().count() > 256 {
                    return Err(ApiError::Unprocessable(
                        "payload must be 1-256 characters".into(),
                    ));
                }
                Input::Button(p)
            }
        };
        if let Some(id) = &self.message_id
            && !valid_id(id)
        {
            return Err(ApiError::Unprocessable(
                "message_id must be 1-128 characters of letters, digits, '-', '_', '.', ':' or '@'"
                    .into(),
            ));
        }
        let verified = match (&self.token, &self.user) {
            (Some(_), Some(_)) => {
                return Err(ApiError::Unprocessable(
                    "send either a user or an identity token, not both".into(),
                ));
            }
            (Some(token), None) => {
                let secret = web
                    .identity_secret
                    .as_ref()
                    .ok_or_else(|| ApiError::Unauthorized(TokenError::NotConfigured.to_string()))?;
                let claims =
                    identity::verify(token, secret.expose().as_bytes(), Utc::now().timestamp())
                        .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
                if claims.role.is_some() {
                    return Err(ApiError::Unauthorized(
                        "this is a manager token; the chat takes a user identity token".into(),
                    ));
                }
                Some(IdentityClaim {
                    channel: "web".into(),
                    external_id: claims.sub,
                    display_name: claims.name,
                    client_code: claims.client,
                })
            }
            (None, Some(u))
                if web.identity_secret.is_some()
                    && u.client.as_deref().is_some_and(|c| !c.is_empty()) =>
            {
                // With a secret configured, only a signed token may say which client someone is in.
                return Err(ApiError::Unauthorized(
                    "a signed identity token is required to claim a client on this server".into(),
                ));
            }
            _ => None,
        };
        let identity = if verified.is_some() {
            verified
        } else {
            match self.user {
                Some(u) => Some({
                    if !valid_id(&u.id) {
                        return Err(ApiError::Unprocessable("user.id must be 1-128 characters of letters, digits, '-', '_', '.', ':' or '@'".into()));
                    }
                    if u.name.as_ref().is_some_and(|n| n.chars().count() > 200) {
                        return Err(ApiError::Unprocessable(
                            "user.name is longer than 200 characters".into(),
                        ));
                    }
                    IdentityClaim {
                        channel: "web".into(),
                        external_id: u.id,
                        display_name: u.name.filter(|n| !n.trim().is_empty()),
                        client_code: u.client.filter(|c| !c.is_empty()),
                    }
                }),
                // After the first message the user is optional: the conversation remembers who it was.
                None => None,
            }
        };
        Ok(Inbound {
            channel: "web".into(),
            session_key: self.session,
            identity,
            input,
            channel_message_id: self.message_id,
            now: Utc::now(),
        })
    }
}

/// Send one message (typed text or a button press) and get the bot's replies. The turn is
/// stored before the answer; a retry with the same `message_id` is answered from the log.
#[utoipa::path(post, path = "/api/v1/chat", tag = "chat", request_body = ChatRequest,
    responses((status = 200, body = ChatResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn chat(
    State(app): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Json<ChatResponse>, ApiError> {
    app.web.check_origin(&headers)?;
    check_rate(&app.web, peer, &req.session)?;
    Ok(Json(process(&app, req).await?))
}

/// Per-IP and per-session limits; 429 with the wait in the message (and `Retry-After`).
pub(super) fn check_rate(web: &WebState, peer: SocketAddr, session: &str) -> Result<(), ApiError> {
    let now = Instant::now();
    let ip = web.per_ip.check(&peer.ip().to_string(), now);
    let sess = ip.and_then(|_| web.per_session.check(session, now));
    sess.map_err(|wait| {
        ApiError::TooManyRequests(format!(
            "too many messages; please wait {} s and try again",
            wait.as_secs().max(1)
        ))
    })
}

/// The one path from a chat request to its answer, for REST and WebSocket alike.
pub(super) async fn process(app: &AppState, req: ChatRequest) -> Result<ChatResponse, ApiError> {
    let inbound = req.into_inbound(&app.web)?;
    Ok(app.chat.handle(inbound).await?.into())
}

impl From<crate::dialogue::service::Outbound> for ChatResponse {
    fn from(out: crate::dialogue::service::Outbound) -> Self {
        let suggestions = crate::dialogue::suggestions_of(&out.outcome, &out.replies);
        ChatResponse {
            suggestions,
            conversation: out.conversation_id,
            replies: out
                .replies
                .into_iter()
                .map(|r| ReplyOut {
                    html: render::to_html(&r.text),
                    text: r.text,
                    buttons: r.buttons,
                })
                .collect(),
            intent: out.intent,
            confidence: out.confidence,
            outcome: out.outcome,
            duplicate: out.duplicate,
            push: false,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TranscriptMessage {
    id: i64,
    direction: String,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<String>,
    buttons: Vec<Button>,
    payload: Option<String>,
    intent: Option<String>,
    confidence: Option<f64>,
    outcome: Option<String>,
    latency_us: Option<i64>,
    at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Transcript {
    conversation: String,
    channel: String,
    client: Option<String>,
    messages: Vec<TranscriptMessage>,
}

/// A web chat conversation's transcript (the id is the capability: it is random and only its
/// participant's browser knows it). Telegram and Discord conversations are not served here,
/// whoever holds their id: their people read them in their own app, staff in the back office.
#[utoipa::path(get, path = "/api/v1/conversations/{id}", tag = "chat",
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, body = Transcript), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn conversation(
    State(app): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Transcript>, ApiError> {
    let Some(conv) = app
        .chat
        .store
        .conversation(&id)
        .await?
        .filter(|c| c.channel == "web")
    else {
        // the same answer whether it does not exist or is another channel's
        return Err(ApiError::NotFound(format!("no conversation {id}")));
    };
    let messages = app.chat.store.transcript(&id).await?;
    Ok(Json(Transcript {
        conversation: conv.id,
        channel: conv.channel,
        client: conv.client_code,
        messages: messages
            .into_iter()
            .map(|m| {
                let (buttons, payload) = if m.direction == "out" {
                    (
                        m.payload
                            .as_deref()
                            .and_then(|p| serde_json::from_str(p).ok())
                            .unwrap_or_default(),
                        None,
                    )
                } else {
                    (Vec::new(), m.payload)
                };
                TranscriptMessage {
                    html: (m.direction == "out").then(|| render::to_html(&m.text)),
                    id: m.id,
                    direction: m.direction,
                    text: m.text,
                    buttons,
                    payload,
                    intent: m.intent,
                    confidence: m.confidence,
                    outcome: m.outcome,
                    latency_us: m.latency_us,
                    at: chrono::DateTime::from_timestamp_millis(m.created_at)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default(),
                }
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    //! Decoding the chat request: any JSON at all is either a valid message or a 4xx with a
    //! reason — never a panic, never a 5xx.
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            "[a-z0-9.:@_-]{0,140}".prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("id".to_string()),
                        Just("name".to_string()),
                        Just("client".to_string()),
                        "\\PC{0,8}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        // Mostly request-shaped objects, with hostile values in the known fields.
        proptest::collection::btree_map(
            prop_oneof![
                Just("session".to_string()),
                Just("text".to_string()),
                Just("payload".to_string()),
                Just("user".to_string()),
                Just("message_id".to_string()),
                Just("token".to_string()),
                "\\PC{0,8}",
            ],
            value,
            0..6,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    /// Request-shaped objects whose known fields have the right types (with hostile strings),
    /// so they decode and go on to `into_inbound`'s checks. Weighted towards what a widget
    /// sends (a valid session, text or a payload), so many pass those checks too.
    fn typed() -> impl Strategy<Value = Value> {
        use proptest::option::weighted;
        let text = || {
            prop_oneof![
                any::<String>(),
                "[A-Za-z0-9.:@_-]{0,140}",
                "\\PC{0,40}",
                Just(String::new())
            ]
        };
        let id = || prop_oneof![3 => "[A-Za-z0-9._:@-]{1,128}", 1 => text()];
        let user =
            (id(), weighted(0.5, text()), weighted(0.2, text())).prop_map(|(id, name, client)| {
                let mut u = serde_json::json!({ "id": id });
                if let Some(n) = name {
                    u["name"] = n.into();
                }
                if let Some(c) = client {
                    u["client"] = c.into();
                }
                u
            });
        let said = prop_oneof![
            4 => text().prop_map(|t| (Some(t), None)),
            2 => text().prop_map(|p| (None, Some(p))),
            1 => (text(), text()).prop_map(|(t, p)| (Some(t), Some(p))),
            1 => Just((None, None)),
        ];
        (
            id(),
            said,
            weighted(0.5, user),
            weighted(0.3, id()),
            weighted(0.1, text()),
        )
            .prop_map(|(session, (text, payload), user, message_id, token)| {
                let mut m = serde_json::json!({ "session": session });
                for (k, v) in [
                    ("text", text.map(Value::from)),
                    ("payload", payload.map(Value::from)),
                    ("user", user),
                    ("message_id", message_id.map(Value::from)),
                    ("token", token.map(Value::from)),
                ] {
                    if let Some(v) = v {
                        m[k] = v;
                    }
                }
                m
            })
    }

    /// Any JSON body, decoded as the chat endpoint decodes it (`ApiJson`: axum's `Json`, then
    /// the rejection turned into our error): a message, or a 4xx with a reason. Three inputs
    /// in four are well-typed requests, and the test checks that most of them do decode, so
    /// it exercises `into_inbound` and not only serde's rejection of unknown fields.
    #[test]
    fn any_json_is_a_message_or_a_4xx() {
        use std::cell::Cell;
        let web = WebState::new(
            crate::config::WebSettings::default(),
            Some(crate::config::Secret::new("identity-secret".to_string())),
        );
        let cases = 1024;
        let (decoded, accepted) = (Cell::new(0u32), Cell::new(0u32));
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(cases));
        runner
            .run(&prop_oneof![3 => typed(), 1 => json()], |v| {
                let body = serde_json::to_vec(&v).expect("JSON");
                let status = match Json::<ChatRequest>::from_bytes(&body) {
                    Ok(Json(req)) => {
                        decoded.set(decoded.get() + 1);
                        match req.into_inbound(&web) {
                            Ok(inbound) => {
                                accepted.set(accepted.get() + 1);
                                prop_assert!(!inbound.session_key.is_empty());
                                None
                            }
                            Err(e) => Some((e.status().as_u16(), e.to_string())),
                        }
                    }
                    Err(rejection) => {
                        let e = ApiError::from(rejection);
                        Some((e.status().as_u16(), e.to_string()))
                    }
                };
                if let Some((status, reason)) = status {
                    prop_assert!((400..500).contains(&status), "{v}: {status} {reason}");
                    prop_assert!(!reason.trim().is_empty(), "{v}: {status} without a reason");
                }
                Ok(())
            })
            .unwrap();
        eprintln!(
            "{} of {cases} decoded, {} accepted as messages",
            decoded.get(),
            accepted.get()
        );
        // Measured with this generator (5 Dec 2026): 751 of 1024 decode, 248 are accepted as
        // messages. Proptest seeds each run afresh, so the floors sit far below (about 1 in 2
        // and 1 in 8): they only fail if the generator stops reaching the checks.
        assert!(
            decoded.get() > cases / 2,
            "only {} of {cases} inputs decoded",
            decoded.get()
        );
        assert!(
            accepted.get() > cases / 8,
            "only {} of {cases} inputs were accepted as messages",
            accepted.get()
        );
    }
}
