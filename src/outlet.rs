//! The channel port: one trait every outbound channel implements, and the registry that picks
//! the channel for a message.
//!
//! Everything the bot says that does not answer an inbound turn — an account manager's reply,
//! acknowledgement or resolution relayed to the client, the survey after a resolution, the pings
//! to managers — is first written to the durable outbox with an idempotency key, and then
//! delivered through [`Outlets`] by the outbox (at once after the action, and by the worker's
//! retries with backoff after a failure or a crash). Answers to an inbound turn go back the way
//! the turn came (the HTTP response, the adapter's own send) and are not routed here.
//!
//! Adding a channel: implement [`Outlet`] (in the channel's own file under `src/channels/`) and
//! register it with the others (`channels/outlets.rs`, which the app's `register_outlets`
//! calls). Nothing else compares channel names.
//!
//! This module imports only the shared vocabulary ([`crate::domain`]: [`Reply`], [`Channel`]);
//! the dialogue, channels, the escalation worker and the HTTP layer import it, never the other
//! way round.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::domain::Channel;
use crate::domain::Reply;

/// Who a message is for, in the terms of the channel that carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Recipient {
    /// A client's conversation: its id and the channel's session key (a Telegram chat, a
    /// Discord channel or `channel:user`, a web session).
    Conversation {
        conversation_id: String,
        session_key: String,
    },
    /// A manager's address on the channel: a Telegram chat id, a Discord `user:ID` or
    /// `channel:ID`, a webhook URL.
    Address { address: String },
}

/// What is delivered.
#[derive(Clone, Copy, Debug)]
pub enum Outgoing<'a> {
    /// Messages of the client's conversation, in order (a manager's reply; a resolution note
    /// and the survey that follows it).
    Replies(&'a Relay),
    /// A ping to a manager (or an alert), as composed JSON; `key` is its idempotency key.
    Ping { key: &'a str, message: &'a Value },
}

/// Why a delivery failed, and what that means for the next attempt.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// This route will not work as it is: connection refused, a 4xx other than 429, a route
    /// the channel cannot serve. A ping falls over to the manager's next route at once.
    #[error("{error}")]
    Hard { error: String, delivered: usize },
    /// Worth trying again later: 5xx, timeouts, 429 (with the receiver's `retry_after`).
    #[error("{error}")]
    Transient {
        error: String,
        retry_after: Option<Duration>,
        delivered: usize,
    },
}

impl DeliveryError {
    pub fn hard(error: impl Into<String>) -> Self {
        Self::Hard {
            error: error.into(),
            delivered: 0,
        }
    }

    pub fn transient(error: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::Transient {
            error: error.into(),
            retry_after,
            delivered: 0,
        }
    }

    /// The same failure, after `n` replies of the batch had gone out: the retry starts after
    /// them, so the client does not see them twice.
    pub fn after_delivering(self, n: usize) -> Self {
        match self {
            Self::Hard { error, .. } => Self::Hard {
                error,
                delivered: n,
            },
            Self::Transient {
                error, retry_after, ..
            } => Self::Transient {
                error,
                retry_after,
                delivered: n,
            },
        }
    }

    /// How many replies of the batch were delivered before the failure.
    pub fn delivered(&self) -> usize {
        match self {
            Self::Hard { delivered, .. } | Self::Transient { delivered, .. } => *delivered,
        }
    }

    pub fn is_hard(&self) -> bool {
        matches!(self, Self::Hard { .. })
    }
}

/// One outbound channel.
#[async_trait::async_trait]
pub trait Outlet: Send + Sync {
    fn channel(&self) -> Channel;
    /// Deliver once. No retries inside: the outbox retries, with backoff, across restarts.
    async fn deliver(&self, to: &Recipient, what: Outgoing<'_>) -> Result<(), DeliveryError>;
}

/// The registered outlets by channel. Cheap to clone; shared by the app state, the adapters
/// and the outbox worker. Registration happens at start-up (and in tests), lookups on every
/// delivery, hence the read-mostly lock.
#[derive(Clone, Default)]
pub struct Outlets(Arc<RwLock<HashMap<Channel, Arc<dyn Outlet>>>>);

impl std::fmt::Debug for Outlets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.channels()).finish()
    }
}

impl Outlets {
    /// Register (or replace) the outlet of its channel.
    pub fn register(&self, outlet: Arc<dyn Outlet>) {
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        map.insert(outlet.channel(), outlet);
    }

    /// Add every outlet of `other` this registry does not have yet.
    pub fn extend_missing(&self, other: &Outlets) {
        let theirs: Vec<Arc<dyn Outlet>> = {
            let map = other.0.read().unwrap_or_else(|p| p.into_inner());
            map.values().cloned().collect()
        };
        let mut map = self.0.write().unwrap_or_else(|p| p.into_inner());
        for o in theirs {
            map.entry(o.channel()).or_insert(o);
        }
    }

    pub fn get(&self, channel: &str) -> Option<Arc<dyn Outlet>> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        map.get(channel).cloned()
    }

    pub fn channels(&self) -> Vec<Channel> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<Channel> = map.keys().copied().collect();
        v.sort_unstable();
        v
    }
}

/// A relayed batch as stored in an outbox row's payload: what the client is told, and how far
/// delivery got (`sent`), so a retry never repeats a reply that already went out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Relay {
    pub conversation_id: String,
    pub replies: Vec<Reply>,
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub confidence: f32,
    pub outcome: String,
    #[serde(default)]
    pub sent: usize,
}

impl Relay {
    /// The replies not yet delivered.
    pub fn remaining(&self) -> Relay {
        Relay {
            replies: self.replies.iter().skip(self.sent).cloned().collect(),
            sent: 0,
            ..self.clone()
        }
    }
}

/// An outbox row's route for a relayed batch: the client's channel and conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayRoute {
    /// Always `"conversation"`: tells a relay row from a ping row (whose route has a `type`).
    pub r#type: String,
    pub channel: String,
    pub conversation_id: String,
    pub session_key: String,
    /// Deliver to this address on the channel instead of the conversation (an announcement
    /// goes to the user's private chat or Discord DM, not into the group the conversation
    /// may be in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl RelayRoute {
    pub const TYPE: &'static str = "conversation";

    pub fn new(channel: &str, conversation_id: &str, session_key: &str) -> Self {
        Self {
            r#type: Self::TYPE.into(),
            channel: channel.into(),
            conversation_id: conversation_id.into(),
            session_key: session_key.into(),
            address: None,
        }
    }

    /// The same conversation's user, reached at `address` (see [`RelayRoute::address`]).
    pub fn to_address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    pub fn recipient(&self) -> Recipient {
        match &self.address {
            Some(address) => Recipient::Address {
                address: address.clone(),
            },
            None => Recipient::Conversation {
                conversation_id: self.conversation_id.clone(),
                session_key: self.session_key.clone(),
            },
        }
    }

    /// The route of an outbox row if it is a relay.
    pub fn parse(route: &str) -> Option<Self> {
        serde_json::from_str::<Self>(route)
            .ok()
            .filter(|r| r.r#type == Self::TYPE)
    }
}

/// The idempotency key of the batch a manager's action relays: one per committed turn of the
/// conversation (its state version), so a retried or replayed action never queues it twice.
pub fn relay_key(escalation_id: i64, conversation_id: &str, version: i64) -> String {
    format!("escalation-{escalation_id}-relay-{conversation_id}-{version}")
}

/// The same for a request's progress told to the client (`request_relay_prefix` + version).
pub fn request_relay_key(reference: &str, conversation_id: &str, version: i64) -> String {
    format!(
        "{}{version}",
        request_relay_prefix(reference, conversation_id)
    )
}

pub fn request_relay_prefix(reference: &str, conversation_id: &str) -> String {
    format!("request-{reference}-relay-{conversation_id}-")
}

/// Errors of a reqwest call, classified: a refused connection is hard (the receiver is down:
/// try the next route), timeouts and other network trouble transient.
pub fn classify_network(e: &reqwest::Error) -> DeliveryError {
    if e.is_connect() && !e.is_timeout() {
        DeliveryError::hard(format!("connection failed: {e}"))
    } else {
        DeliveryError::transient(format!("network: {e}"), None)
    }
}

/// An HTTP status, classified the way every outlet does: 2xx delivered; 429, 408 and 5xx
/// transient (with the receiver's wait when it gave one); any other status hard.
pub fn classify_status(
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    detail: &str,
) -> Result<(), DeliveryError> {
    if status.is_success() {
        Ok(())
    } else if status.as_u16() == 429 || status.as_u16() == 408 || status.is_server_error() {
        Err(DeliveryError::transient(
            format!("{status}: {detail}"),
            retry_after,
        ))
    } else {
        Err(DeliveryError::hard(format!("{status}: {detail}")))
    }
}

/// Seconds in a `Retry-After` header (the delta form; dates are rare and treated as absent).
pub fn retry_after_header(r: &reqwest::Response) -> Option<Duration> {
    r.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        use reqwest::StatusCode as S;
        assert_eq!(classify_status(S::OK, None, ""), Ok(()));
        assert!(matches!(
            classify_status(S::INTERNAL_SERVER_ERROR, None, ""),
            Err(DeliveryError::Transient { .. })
        ));
        assert!(matches!(
            classify_status(S::TOO_MANY_REQUESTS, Some(Duration::from_secs(3)), ""),
            Err(DeliveryError::Transient { retry_after: Some(d), .. }) if d == Duration::from_secs(3)
        ));
        assert!(
            classify_status(S::FORBIDDEN, None, "")
                .unwrap_err()
                .is_hard()
        );
    }

    #[test]
    fn relay_routes_are_told_from_ping_routes() {
        let r = RelayRoute::new("telegram", "c1", "555");
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(RelayRoute::parse(&json), Some(r));
        assert_eq!(
            RelayRoute::parse(r#"{"type":"webhook","url":"http://x","manager":"a","index":0}"#),
            None
        );
    }

    #[test]
    fn a_partial_batch_resumes_after_what_went_out() {
        let relay = Relay {
            replies: vec![Reply::text("a"), Reply::text("b")],
            sent: 1,
            ..Relay::default()
        };
        assert_eq!(relay.remaining().replies, vec![Reply::text("b")]);
    }
}
