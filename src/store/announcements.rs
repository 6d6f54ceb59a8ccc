//! Announcements and their deliveries: what the SSO tells its clients' staff, and, per
//! announcement × channel × recipient, whether it is queued (an outbox row carries it), waiting
//! for the client's coverage hours, or skipped because the recipient unsubscribed.
//!
//! "Exactly once" rests here: a delivery row is unique per announcement, channel and
//! recipient, and its outbox row (unique idempotency key) is written in the same transaction
//! as the delivery, so a second fan-out round, another replica or a restart finds the row and
//! queues nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Serialize;

use super::{Millis, StoreResult};

/// An announcement as stored.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct AnnouncementRow {
    pub id: i64,
    pub title: String,
    pub body: String,
    /// JSON list of client codes; `[]` is every client.
    pub clients: String,
    /// JSON list among `web`, `telegram`, `discord`.
    pub channels: String,
    /// Only users who talked to the bot in the last this many days; `None`: every linked user.
    pub active_days: Option<i64>,
    pub article_id: Option<String>,
    pub urgent: bool,
    pub starts_at: Millis,
    pub ends_at: Millis,
    pub created_by: String,
    pub created_at: Millis,
    pub ended_early_at: Option<Millis>,
}

impl AnnouncementRow {
    pub fn client_list(&self) -> Vec<String> {
        serde_json::from_str(&self.clients).unwrap_or_default()
    }

    pub fn channel_list(&self) -> Vec<String> {
        serde_json::from_str(&self.channels).unwrap_or_default()
    }

    /// When it stops: its end, or the moment it was ended early.
    pub fn effective_end(&self) -> Millis {
        self.ended_early_at
            .map_or(self.ends_at, |e| e.min(self.ends_at))
    }

    pub fn is_active(&self, now: Millis) -> bool {
        self.starts_at <= now && now < self.effective_end()
    }

    /// Whether a user of `client` is in its audience (by client; channels apart).
    pub fn reaches_client(&self, client: Option<&str>) -> bool {
        let clients = self.client_list();
        clients.is_empty() || client.is_some_and(|c| clients.iter().any(|x| x == c))
    }
}

/// An announcement to create (validated above the store).
#[derive(Clone, Debug, PartialEq)]
pub struct NewAnnouncement {
    pub title: String,
    pub body: String,
    pub clients: Vec<String>,
    pub channels: Vec<String>,
    pub active_days: Option<i64>,
    pub article_id: Option<String>,
    pub urgent: bool,
    pub starts_at: Millis,
    pub ends_at: Millis,
    pub created_by: String,
}

/// A chat user an announcement may reach: their account on a channel, their client, the
/// conversation they last used there.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct AudienceMember {
    pub channel: String,
    /// The channel's user id (Telegram user id, Discord user id).
    pub recipient: String,
    pub client_code: String,
    pub conversation_id: String,
    pub session_key: String,
    pub last_seen_at: Millis,
    pub opted_out: bool,
}

/// What becomes of one recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Put in the outbox now (paced).
    Queued,
    /// Kept until `due_at`, when the client's coverage window opens.
    Waiting,
    /// The recipient unsubscribed: nothing is sent.
    Unsubscribed,
    /// The announcement ended before it could be sent.
    Expired,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Waiting => "waiting",
            Self::Unsubscribed => "unsubscribed",
            Self::Expired => "expired",
        }
    }
}

/// A delivery to record; `route` and `payload` are the outbox row's.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDelivery {
    pub channel: String,
    pub recipient: String,
    pub client_code: String,
    pub status: DeliveryStatus,
    pub due_at: Millis,
    pub outbox_key: String,
    pub route: String,
    pub payload: String,
}

/// A delivery as stored, with its outbox row's status when it has one.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct DeliveryRow {
    pub channel: String,
    pub recipient: String,
    pub client_code: String,
    pub status: String,
    pub due_at: Millis,
    pub outbox_key: String,
    /// `pending`, `delivered`, `failed`; `None` while waiting or skipped.
    pub outbox_status: Option<String>,
    pub attempts: Option<i64>,
}

/// How an announcement's deliveries stand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeliveryCounts {
    /// In the outbox, not yet sent (paced, or retrying after a 429).
    pub queued: i64,
    pub sent: i64,
    pub failed: i64,
    pub waiting_for_coverage: i64,
    pub unsubscribed_skipped: i64,
    /// Still waiting for coverage when the announcement ended.
    pub expired: i64,
}

/// Spacing between two sends on a channel, in milliseconds (channels not named: none).
pub type Pacing = BTreeMap<String, i64>;

/// The outbox row kind of an announcement.
pub const OUTBOX_KIND: &str = "announcement";

/// Called by the back office (create, list, end, counts), the fan-out task, the dialogue
/// service (active ones, for answers) and the chat adapters (unsubscribe).
#[async_trait]
pub trait Announcements: Send + Sync {
    async fn create_announcement(&self, a: &NewAnnouncement, now: Millis) -> StoreResult<i64>;

    async fn announcement(&self, id: i64) -> StoreResult<Option<AnnouncementRow>>;

    /// The newest `limit` announcements, newest first.
    async fn announcements(&self, limit: i64) -> StoreResult<Vec<AnnouncementRow>>;

    /// Those running at `now` (started, not ended, not ended early).
    async fn active_announcements(&self, now: Millis) -> StoreResult<Vec<AnnouncementRow>>;

    /// End it now; `false` if unknown or already over. Deliveries still waiting for coverage
    /// become `expired`.
    async fn end_announcement(&self, id: i64, now: Millis) -> StoreResult<bool>;

    /// Lease the running announcements no other worker holds a lease on (or that `worker`
    /// holds already) until `lease_until`: two replicas do not fan out the same one at once.
    async fn claim_announcements(
        &self,
        worker: &str,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Vec<AnnouncementRow>>;

    /// Chat users of `channel` whose account is linked to a client (through their person or
    /// their conversation), each once with their latest conversation there, seen at or after
    /// `seen_since`.
    async fn audience(&self, channel: &str, seen_since: Millis)
    -> StoreResult<Vec<AudienceMember>>;

    /// Record deliveries; those new and `Queued` get their outbox row in the same
    /// transaction, due at the channel's next paced slot. Returns the statuses of the new ones
    /// (those already recorded are left as they are).
    async fn record_deliveries(
        &self,
        announcement_id: i64,
        deliveries: &[NewDelivery],
        pacing: &Pacing,
        now: Millis,
    ) -> StoreResult<Vec<DeliveryStatus>>;

    /// Queue up to `limit` deliveries whose coverage window has opened (or mark them
    /// unsubscribed / expired). Returns how many were queued.
    async fn release_waiting(&self, now: Millis, pacing: &Pacing, limit: i64)
    -> StoreResult<usize>;

    /// `/unsubscribe` (`false`) or `/subscribe` (`true`); `true` when it changed anything.
    async fn set_announcement_subscription(
        &self,
        channel: &str,
        recipient: &str,
        subscribed: bool,
        now: Millis,
    ) -> StoreResult<bool>;

    async fn delivery_counts(&self, announcement_id: i64) -> StoreResult<DeliveryCounts>;

    async fn deliveries(&self, announcement_id: i64) -> StoreResult<Vec<DeliveryRow>>;
}
