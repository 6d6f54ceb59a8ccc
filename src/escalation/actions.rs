//! A manager's action on an escalation: who may act, and how the action reaches the client.
//!
//! The action becomes a dialogue event on the escalation's conversation, so the reply, the
//! acknowledgement note or the survey is committed with the conversation's log and state in
//! one turn, exactly like anything else the bot says.

use chrono::{DateTime, Utc};

use super::EscalationError;
use crate::dialogue::service::{ChatService, Inbound, Outbound, current};
use crate::dialogue::{Input, ManagerEvent};
use crate::store::EscalationAction;

/// Who is acting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The SSO's administrator (admin token): may act on any escalation.
    Admin,
    /// An account manager, identified by email (a signed manager token).
    Manager { email: String },
}

/// What an action did, for the API's answer and the channel adapter's push.
#[derive(Clone, Debug)]
pub struct ActionResult {
    pub escalation_id: i64,
    pub status: String,
    pub channel: String,
    pub session_key: String,
    pub outbound: Outbound,
}

/// Longest reply relayed (the chat API's own limit).
pub const MAX_REPLY_CHARS: usize = 4000;

pub async fn act(
    chat: &ChatService,
    escalation_id: i64,
    actor: &Actor,
    action: EscalationAction,
    text: Option<String>,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<ActionResult, EscalationError> {
    let store = &chat.store;
    let e = store
        .escalation(escalation_id)
        .await?
        .ok_or(EscalationError::NotFound(escalation_id))?;
    let k = current(&chat.knowledge);
    let client = e.client_code.as_deref().and_then(|c| k.clients.get(c));
    let name = match actor {
        Actor::Admin => k.organisation.short_name.clone(),
        Actor::Manager { email } => client
            .and_then(|c| {
                c.managers
                    .iter()
                    .find(|m| m.email.eq_ignore_ascii_case(email))
            })
            .map(|m| m.name.clone())
            .ok_or_else(|| {
                EscalationError::Forbidden(format!(
                    "{email} is not an account manager of this escalation's client"
                ))
            })?,
    };
    let text = match action {
        EscalationAction::Reply => {
            let t = text.map(|t| t.trim().to_string()).unwrap_or_default();
            if t.is_empty() {
                return Err(EscalationError::Invalid(
                    "a reply needs a non-empty text".into(),
                ));
            }
            if t.chars().count() > MAX_REPLY_CHARS {
                return Err(EscalationError::Invalid(format!(
                    "a reply is at most {MAX_REPLY_CHARS} characters"
                )));
            }
            Some(t)
        }
        _ => None,
    };
    if e.status == "resolved" {
        return Err(EscalationError::Conflict(format!(
            "escalation {escalation_id} is already resolved"
        )));
    }
    if action == EscalationAction::Acknowledge && e.status != "open" {
        return Err(EscalationError::Conflict(format!(
            "escalation {escalation_id} is already acknowledged"
        )));
    }
    let conversation = store
        .conversation(&e.conversation_id)
        .await?
        .ok_or_else(|| EscalationError::Invalid("the escalation's conversation is gone".into()))?;
    let outbound = chat
        .handle(Inbound {
            channel: conversation.channel.clone(),
            session_key: conversation.session_key.clone(),
            identity: None,
            input: Input::Manager(ManagerEvent {
                escalation_id,
                action,
                manager: name,
                text,
            }),
            // A retried API call with the same key is answered from the log, not relayed twice.
            channel_message_id: idempotency_key
                .map(|key| format!("manager:{escalation_id}:{}:{key}", action.as_str())),
            now,
        })
        .await?;
    let status = store
        .escalation(escalation_id)
        .await?
        .map(|e| e.status)
        .unwrap_or_default();
    Ok(ActionResult {
        escalation_id,
        status,
        channel: conversation.channel,
        session_key: conversation.session_key,
        outbound,
    })
}
