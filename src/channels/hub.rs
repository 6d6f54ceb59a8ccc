//! Open web chat sockets by conversation, so messages that are not replies (an account
//! manager's answer relayed, a survey after resolution) reach an open widget without polling.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

/// The sockets of one conversation: (socket id, sender).
type Sockets = Vec<(u64, mpsc::UnboundedSender<String>)>;

#[derive(Default)]
pub struct Hub {
    next: AtomicU64,
    sockets: Mutex<HashMap<String, Sockets>>,
}

impl Hub {
    /// Register a socket for a conversation; returns its id for `leave`.
    pub fn join(&self, conversation: &str, tx: mpsc::UnboundedSender<String>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut map = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(conversation.to_string())
            .or_default()
            .push((id, tx));
        id
    }

    pub fn leave(&self, conversation: &str, id: u64) {
        let mut map = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = map.get_mut(conversation) {
            list.retain(|(i, _)| *i != id);
            if list.is_empty() {
                map.remove(conversation);
            }
        }
    }

    /// Send a JSON message to every open socket of a conversation; returns how many got it.
    pub fn push(&self, conversation: &str, message: &str) -> usize {
        let mut map = self.sockets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = map.get_mut(conversation) else {
            return 0;
        };
        list.retain(|(_, tx)| tx.send(message.to_string()).is_ok());
        list.len()
    }

    pub fn open_sockets(&self) -> usize {
        self.sockets
            .lock()
            .map(|m| m.values().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

/// The web chat's outlet: a relayed batch is pushed, as one frame like a chat answer with
/// `"push": true`, to the conversation's open sockets. With none open it is delivered all the
/// same: the conversation's log holds it, and the widget loads the log when it opens.
pub struct WebOutlet {
    hub: std::sync::Arc<Hub>,
}

impl WebOutlet {
    pub fn new(hub: std::sync::Arc<Hub>) -> Self {
        Self { hub }
    }
}

#[async_trait::async_trait]
impl crate::outlet::Outlet for WebOutlet {
    fn channel(&self) -> crate::outlet::Channel {
        "web"
    }

    async fn deliver(
        &self,
        to: &crate::outlet::Recipient,
        what: crate::outlet::Outgoing<'_>,
    ) -> Result<(), crate::outlet::DeliveryError> {
        use crate::outlet::{DeliveryError, Outgoing, Recipient};
        let (
            Recipient::Conversation {
                conversation_id, ..
            },
            Outgoing::Replies(relay),
        ) = (to, what)
        else {
            return Err(DeliveryError::hard(
                "the web chat carries client conversations, not pings",
            ));
        };
        let frame = serde_json::json!({
            "conversation": conversation_id,
            "replies": relay.replies.iter().map(|r| serde_json::json!({
                "text": r.text,
                "html": crate::knowledge::render::to_html(&r.text),
                "buttons": r.buttons,
            })).collect::<Vec<_>>(),
            "intent": relay.intent,
            "confidence": relay.confidence,
            "outcome": relay.outcome,
            "duplicate": false,
            "push": true,
        });
        let live = self.hub.push(conversation_id, &frame.to_string());
        tracing::debug!(conversation = %conversation_id, live, "relayed to the web chat");
        Ok(())
    }
}
