//! What a turn the client did not write (a manager's action, a request's progress) queues for
//! the client: the turn's replies, as an outbox row committed with the turn, so they reach the
//! client's channel exactly once even across a crash. The escalation layer's courier delivers
//! the row; the dialogue only writes it.

use crate::domain::Reply;
use crate::outlet::{Relay, RelayRoute};
use crate::store::{NewPing, Record};

/// The outbox record of such a turn's replies under `key` (`None` when the turn said nothing).
#[allow(clippy::too_many_arguments)]
pub fn record(
    key: String,
    channel: &str,
    conversation_id: &str,
    session_key: &str,
    replies: &[Reply],
    intent: Option<&str>,
    confidence: f32,
    outcome: &str,
) -> Option<Record> {
    if replies.is_empty() {
        return None;
    }
    let relay = Relay {
        conversation_id: conversation_id.to_string(),
        replies: replies.to_vec(),
        intent: intent.map(str::to_string),
        confidence,
        outcome: outcome.to_string(),
        sent: 0,
    };
    let route = RelayRoute::new(channel, conversation_id, session_key);
    Some(Record::Outbox {
        key,
        ping: NewPing {
            kind: format!("relay:{channel}"),
            route: serde_json::to_string(&route).unwrap_or_default(),
            payload: serde_json::to_string(&relay).unwrap_or_default(),
        },
    })
}
