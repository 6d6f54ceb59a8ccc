//! The fan-out: running announcements, once to each linked Telegram and Discord user of their
//! audience, through the durable outbox (whose worker sends them through the channel port and
//! retries after a 429's `retry_after`).
//!
//! One round ([`Fanout::tick`], which tests drive with their own clock):
//! 1. deliveries that waited for a client's coverage window and whose window has opened are
//!    queued (or skipped: unsubscribed since, announcement over);
//! 2. the running announcements no other replica holds are leased, their audience read, and a
//!    delivery recorded for each member: queued now (urgent, or the client is in coverage),
//!    waiting until the next coverage window, or skipped (unsubscribed).
//!
//! Every member is offered each round (someone who links their account while it runs gets it
//! too); the store's unique delivery per announcement × channel × recipient, written with its
//! outbox row in one transaction, is what keeps a second round, a second replica or a restart
//! from sending anything twice. Queued rows are due at paced slots per channel
//! ([`default_pacing`]), so a large audience leaves within the Bot APIs' overall rate.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::message_text;
use crate::dialogue::service::{SharedKnowledge, current};
use crate::domain::Reply;
use crate::domain::time::millis;
use crate::knowledge::Knowledge;
use crate::outlet::{Relay, RelayRoute};
use crate::policy::calendar::{in_coverage, next_coverage_start};
use crate::shutdown::Shutdown;
use crate::store::{
    AnnouncementRow, AudienceMember, DeliveryStatus, NewDelivery, Pacing, Store, StoreError,
};

/// The chat channels an announcement is pushed to (the web shows a banner instead).
pub const PUSHED: [&str; 2] = ["telegram", "discord"];

/// Telegram allows about 30 messages a second overall: one every 35 ms stays under it.
/// Discord's global limit is 50 requests a second and a DM takes two (open the DM channel,
/// post): one every 50 ms.
pub fn default_pacing() -> Pacing {
    Pacing::from([("telegram".to_string(), 35), ("discord".to_string(), 50)])
}

/// The idempotency key of a recipient's outbox row.
pub fn key(announcement_id: i64, channel: &str, recipient: &str) -> String {
    format!("announce:{announcement_id}:{channel}:{recipient}")
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FanoutReport {
    /// New deliveries queued in the outbox now.
    pub queued: usize,
    /// New deliveries waiting for a coverage window.
    pub waiting: usize,
    /// New deliveries skipped (unsubscribed, or the window opens after the end).
    pub skipped: usize,
    /// Waiting deliveries queued because their window opened.
    pub released: usize,
}

#[derive(Clone)]
pub struct Fanout {
    store: Arc<dyn Store>,
    knowledge: SharedKnowledge,
    /// The outbox worker's wake-up: queued rows leave without waiting for its poll.
    wake: Arc<tokio::sync::Notify>,
    pacing: Pacing,
    poll: StdDuration,
    lease: Duration,
    /// Who holds a lease: unique per process.
    id: String,
}

impl Fanout {
    pub fn new(
        store: Arc<dyn Store>,
        knowledge: SharedKnowledge,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        let n: u32 = rand::random();
        Self {
            store,
            knowledge,
            wake,
            pacing: default_pacing(),
            poll: StdDuration::from_secs(5),
            lease: Duration::seconds(60),
            id: format!("fanout-{}-{n:08x}", std::process::id()),
        }
    }

    /// Rounds this often (default 5 s).
    pub fn with_poll(mut self, poll: StdDuration) -> Self {
        self.poll = poll;
        self
    }

    /// Other spacing between sends per channel (tests).
    pub fn with_pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// Fan out until shutdown. A round in flight finishes (its writes are one transaction per
    /// announcement); what it did not reach, the next start (or another replica) does.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::error!(error = %e, "announcement fan-out round failed; retrying");
            }
            tokio::select! {
                _ = shutdown.recv() => break,
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
        tracing::info!("announcement fan-out stopped");
    }

    pub async fn tick(&self, now: DateTime<Utc>) -> Result<FanoutReport, StoreError> {
        let k = current(&self.knowledge);
        let mut report = FanoutReport {
            released: self
                .store
                .release_waiting(millis(now), &self.pacing, 1000)
                .await?,
            ..FanoutReport::default()
        };
        let running = self
            .store
            .claim_announcements(&self.id, millis(now), millis(now + self.lease))
            .await?;
        for a in &running {
            for channel in a.channel_list() {
                if !PUSHED.contains(&channel.as_str()) {
                    continue;
                }
                let since = a
                    .active_days
                    .map_or(i64::MIN, |d| millis(now - Duration::days(d)));
                let members = self.store.audience(&channel, since).await?;
                let deliveries: Vec<NewDelivery> = members
                    .iter()
                    .filter(|m| a.reaches_client(Some(&m.client_code)))
                    .map(|m| delivery(a, m, &k, now))
                    .collect();
                if deliveries.is_empty() {
                    continue;
                }
                let new = self
                    .store
                    .record_deliveries(a.id, &deliveries, &self.pacing, millis(now))
                    .await?;
                for status in &new {
                    match status {
                        DeliveryStatus::Queued => report.queued += 1,
                        DeliveryStatus::Waiting => report.waiting += 1,
                        DeliveryStatus::Unsubscribed | DeliveryStatus::Expired => {
                            report.skipped += 1
                        }
                    }
                }
                if !new.is_empty() {
                    tracing::info!(announcement = a.id, %channel, new = new.len(), "announcement fanned out");
                }
            }
        }
        if report.queued > 0 || report.released > 0 {
            self.wake.notify_one();
        }
        Ok(report)
    }
}

/// What becomes of one member: skipped if they unsubscribed; queued now if urgent or their
/// client is in coverage; else waiting for the next window (skipped if that opens after the
/// announcement ends).
fn delivery(
    a: &AnnouncementRow,
    m: &AudienceMember,
    k: &Knowledge,
    now: DateTime<Utc>,
) -> NewDelivery {
    let coverage = k.coverage_for(Some(&m.client_code), None);
    let (status, due) = if m.opted_out {
        (DeliveryStatus::Unsubscribed, now)
    } else if a.urgent || in_coverage(coverage, now) {
        (DeliveryStatus::Queued, now)
    } else {
        let opens = next_coverage_start(coverage, now);
        if millis(opens) >= a.effective_end() {
            (DeliveryStatus::Expired, opens)
        } else {
            (DeliveryStatus::Waiting, opens)
        }
    };
    // To the user's private chat (Telegram: the user id is the chat id) or DM, not into a
    // group their last conversation may have been in.
    let address = match m.channel.as_str() {
        "discord" => format!("user:{}", m.recipient),
        _ => m.recipient.clone(),
    };
    let route = RelayRoute::new(&m.channel, &m.conversation_id, &m.session_key).to_address(address);
    let relay = Relay {
        conversation_id: m.conversation_id.clone(),
        replies: vec![Reply::text(message_text(a, k, &m.channel))],
        intent: None,
        confidence: 0.0,
        outcome: "announcement".into(),
        sent: 0,
    };
    NewDelivery {
        channel: m.channel.clone(),
        recipient: m.recipient.clone(),
        client_code: m.client_code.clone(),
        status,
        due_at: millis(due),
        outbox_key: key(a.id, &m.channel, &m.recipient),
        route: serde_json::to_string(&route).unwrap_or_default(),
        payload: serde_json::to_string(&relay).unwrap_or_default(),
    }
}
