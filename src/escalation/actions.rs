//! A manager's action on an escalation: who may act, and how the action reaches the client.
//!
//! The action becomes a dialogue event on the escalation's conversation, so the reply, the
//! acknowledgement note or the survey is committed with the conversation's log and state in
//! one turn, exactly like anything else the bot says — and, in the same transaction, queued in
//! the outbox for the client's channel. [`act_and_relay`] is the one entry every surface uses
//! (Telegram, Discord, the HTTP API, the back office): it acts, then has the outbox deliver
//! the answer at once through the channel port; what fails there is retried by the worker.

use chrono::{DateTime, Utc};

use super::EscalationError;
use super::relay::Courier;
use crate::dialogue::service::{ChatService, Inbound, Outbound, current};
use crate::dialogue::{Draft, Input, ManagerEvent};
use crate::domain::EscalationAction;
use crate::outlet::Outlets;

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
    /// The answer reached the client's channel during the call (else the outbox retries it).
    pub relayed: bool,
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
        // An edited draft: the manager's text instead of the bot's (blank: as written).
        EscalationAction::Approve => match text.map(|t| t.trim().to_string()) {
            Some(t) if t.chars().count() > MAX_REPLY_CHARS => {
                return Err(EscalationError::Invalid(format!(
                    "an edited draft is at most {MAX_REPLY_CHARS} characters"
                )));
            }
            Some(t) if !t.is_empty() => Some(t),
            _ => None,
        },
        _ => None,
    };
    // The bot's draft, for a shadow-mode escalation: approved, or replaced by a reply.
    let draft = match &e.draft {
        Some(json) => Some(Box::new(serde_json::from_str::<Draft>(json).map_err(
            |err| {
                EscalationError::Invalid(format!(
                    "escalation {escalation_id}'s draft is unreadable: {err}"
                ))
            },
        )?)),
        None if action == EscalationAction::Approve => {
            return Err(EscalationError::Conflict(format!(
                "escalation {escalation_id} carries no draft to approve (only a shadow-mode escalation does)"
            )));
        }
        None => None,
    };
    let conversation = store
        .conversation(&e.conversation_id)
        .await?
        .ok_or_else(|| EscalationError::Invalid("the escalation's conversation is gone".into()))?;
    // A retried call with the same key is answered from the log, not relayed twice. Looked up
    // before the status checks: the first call may have resolved the escalation and then lost
    // its answer (a replica killed, a connection cut), and its retry is owed that answer, not
    // a 409.
    let message_id =
        idempotency_key.map(|key| format!("manager:{escalation_id}:{}:{key}", action.as_str()));
    if let Some(id) = &message_id
        && let Some(outbound) = chat.replay(&conversation.channel, id).await?
    {
        return Ok(ActionResult {
            escalation_id,
            status: e.status,
            channel: conversation.channel,
            session_key: conversation.session_key,
            outbound,
            relayed: false,
        });
    }
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
                draft,
            }),
            // Two calls with one key racing: the commit takes one, the other is answered
            // from the log.
            channel_message_id: message_id,
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
        relayed: false,
    })
}

/// Act (see [`act`]), then deliver what the action queued for the client through `outlets`,
/// at once. A failed delivery is not an error of the action: it is committed, and the outbox
/// worker retries the delivery with backoff, across restarts.
#[allow(clippy::too_many_arguments)]
pub async fn act_and_relay(
    chat: &ChatService,
    outlets: &Outlets,
    escalation_id: i64,
    actor: &Actor,
    action: EscalationAction,
    text: Option<String>,
    idempotency_key: Option<String>,
    now: DateTime<Utc>,
) -> Result<ActionResult, EscalationError> {
    let mut done = act(
        chat,
        escalation_id,
        actor,
        action,
        text,
        idempotency_key,
        now,
    )
    .await?;
    if done.outbound.duplicate {
        // A retried call: its relay was queued (and tried) the first time.
        return Ok(done);
    }
    let courier = Courier::new(chat.store.clone(), outlets.clone(), chat.escalation.clone());
    let prefix = format!(
        "escalation-{escalation_id}-relay-{}-",
        done.outbound.conversation_id
    );
    // Oldest first. Only rows that are due: one waiting out a receiver's `retry_after` stays
    // with the worker, which honours it.
    let due = Utc::now().timestamp_millis();
    let pending: Vec<_> = chat
        .store
        .outbox_by_key_prefix(&prefix)
        .await?
        .into_iter()
        .filter(|r| r.status == "pending" && r.next_attempt_at <= due)
        .collect();
    let mut relayed = !pending.is_empty();
    for row in pending {
        match courier.deliver_now(&row.idempotency_key, Utc::now()).await {
            Ok(true) => {}
            Ok(false) => relayed = false,
            Err(e) => {
                // Committed and queued: the worker delivers it when the store answers again.
                tracing::warn!(key = %row.idempotency_key, error = %e, "relay left to the outbox worker");
                relayed = false;
            }
        }
    }
    done.relayed = relayed;
    Ok(done)
}

/// A manager's command as typed in a chat (`/reply 12 text`, `/ack 12`, `/resolve 12`,
/// `/approve 12 [edited text]`, with an optional `@botname` after the command) or pressed on a
/// ping's button (`esc:ack:12`, `esc:approve:12`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatCommand {
    Act {
        action: EscalationAction,
        escalation_id: i64,
        text: Option<String>,
    },
    /// A manager command with its id missing or unreadable.
    Usage,
}

pub const USAGE: &str = "Usage: /reply ID text · /ack ID · /resolve ID · /approve ID [edited text]";

/// `None` when the text is not a manager command at all.
pub fn parse_command(text: &str) -> Option<ChatCommand> {
    let rest = text.trim().strip_prefix('/')?;
    let mut parts = rest.splitn(3, char::is_whitespace);
    let name = parts.next()?;
    let action = match name.split('@').next().unwrap_or(name) {
        "reply" => EscalationAction::Reply,
        "ack" => EscalationAction::Acknowledge,
        "resolve" => EscalationAction::Resolve,
        "approve" => EscalationAction::Approve,
        _ => return None,
    };
    let Some(escalation_id) = parts.next().and_then(|i| i.trim().parse::<i64>().ok()) else {
        return Some(ChatCommand::Usage);
    };
    Some(ChatCommand::Act {
        action,
        escalation_id,
        text: parts.next().map(|t| t.trim().to_string()),
    })
}

/// A ping button's data (`esc:ack:{id}`, `esc:resolve:{id}`); `None` for any other button.
pub fn parse_button(data: &str) -> Option<ChatCommand> {
    let rest = data.strip_prefix("esc:")?;
    let (action, id) = rest.split_once(':').unwrap_or((rest, ""));
    let action = match action {
        "ack" => EscalationAction::Acknowledge,
        "resolve" => EscalationAction::Resolve,
        "approve" => EscalationAction::Approve,
        _ => return Some(ChatCommand::Usage),
    };
    Some(match id.parse::<i64>() {
        Ok(escalation_id) => ChatCommand::Act {
            action,
            escalation_id,
            text: None,
        },
        Err(_) => ChatCommand::Usage,
    })
}

/// The escalation id in a ping's text ("Escalation #12 from …"), for a reply to the ping.
/// Discord's rendering escapes the `#` (`\#12`): backslashes are ignored.
pub fn ping_id(text: &str) -> Option<i64> {
    let text = text.replace('\\', "");
    let rest = text.split("scalation #").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The account manager (by email) whose route on `channel` is this chat user: Telegram by the
/// user's id (their private chat with the bot), Discord by the user's id.
pub fn manager_on_channel(chat: &ChatService, channel: &str, user_id: &str) -> Option<String> {
    let k = current(&chat.knowledge);
    k.clients
        .values()
        .flat_map(|c| c.managers.iter())
        .find(|m| match channel {
            "telegram" => m.telegram_chat.map(|c| c.to_string()).as_deref() == Some(user_id),
            "discord" => m.discord_user.as_deref() == Some(user_id),
            _ => false,
        })
        .map(|m| m.email.clone())
}

/// A chat user's command, acted on through [`act_and_relay`]; the text to show them. Only a
/// manager of the escalation's client may act: anyone else is told so and nothing changes.
pub async fn act_from_chat(
    chat: &ChatService,
    outlets: &Outlets,
    channel: &str,
    user_id: &str,
    command: ChatCommand,
    now: DateTime<Utc>,
) -> Result<String, EscalationError> {
    let ChatCommand::Act {
        action,
        escalation_id,
        text,
    } = command
    else {
        return Ok(USAGE.into());
    };
    let Some(email) = manager_on_channel(chat, channel, user_id) else {
        return Ok("Only account managers can act on escalations.".into());
    };
    let actor = Actor::Manager { email };
    match act_and_relay(
        chat,
        outlets,
        escalation_id,
        &actor,
        action,
        text,
        None,
        now,
    )
    .await
    {
        Ok(done) => Ok(format!(
            "Done: escalation #{escalation_id} is {}.",
            done.status
        )),
        Err(
            e @ (EscalationError::NotFound(_)
            | EscalationError::Forbidden(_)
            | EscalationError::Conflict(_)
            | EscalationError::Invalid(_)),
        ) => Ok(format!("Could not do that: {e}")),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_commands_parse() {
        assert_eq!(
            parse_command("/reply@frontdoor_bot 12 On its way"),
            Some(ChatCommand::Act {
                action: EscalationAction::Reply,
                escalation_id: 12,
                text: Some("On its way".into())
            })
        );
        assert_eq!(parse_command("/ack x"), Some(ChatCommand::Usage));
        assert_eq!(parse_command("/help"), None);
        assert_eq!(parse_command("hello"), None);
        assert_eq!(
            parse_button("esc:resolve:7"),
            Some(ChatCommand::Act {
                action: EscalationAction::Resolve,
                escalation_id: 7,
                text: None
            })
        );
        assert_eq!(parse_button("survey:4"), None);
        assert_eq!(
            parse_button("esc:approve:9"),
            Some(ChatCommand::Act {
                action: EscalationAction::Approve,
                escalation_id: 9,
                text: None
            })
        );
        assert_eq!(
            parse_command("/approve 9 Use the self-service portal at id.example"),
            Some(ChatCommand::Act {
                action: EscalationAction::Approve,
                escalation_id: 9,
                text: Some("Use the self-service portal at id.example".into())
            })
        );
        assert_eq!(ping_id("🚨 URGENT escalation #42 from Acme"), Some(42));
        assert_eq!(ping_id("**Escalation \\#42 from Acme**"), Some(42));
        assert_eq!(ping_id("hello"), None);
    }
}
