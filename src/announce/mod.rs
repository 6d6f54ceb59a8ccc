//! Announcements: what the SSO tells its clients' staff ("payroll cut-off moves to the 20th"),
//! to which clients, on which channels, for how long.
//!
//! - this file: an announcement as the back office asks for it, checked against the content
//!   (known clients, channels, article) into what the store keeps, and shown back with its
//!   delivery counts;
//! - `fanout`: the background task that sends running announcements once to each linked
//!   Telegram and Discord user of the audience, through the outbox, paced, within the client's
//!   coverage hours unless urgent.
//!
//! The web widget shows running ones as a banner (`http::announcements`), and an answer whose
//! article an announcement is about mentions it (the dialogue reads them as data).
//!
//! Sits beside `escalation` and `requests`: it imports the store, the knowledge, the policy's
//! calendar and the channel port, and nothing imports it but the HTTP layer and the wiring.

pub mod fanout;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::time::{from_millis, millis};
use crate::knowledge::Knowledge;
use crate::store::{AnnouncementRow, DeliveryCounts, NewAnnouncement, StoreError};

/// The channels an announcement may name.
pub const CHANNELS: [&str; 3] = ["web", "telegram", "discord"];
const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    /// The request names something that does not hold (the reason says what).
    #[error("{0}")]
    Invalid(String),
    #[error("no announcement {0}")]
    NotFound(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An announcement as the back office (form or API) asks for it.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnouncementRequest {
    /// A short headline, shown first (at most 200 characters).
    pub title: String,
    /// The text (at most 2,000 characters).
    pub text: String,
    /// Client codes; empty or absent: every client.
    #[serde(default)]
    pub clients: Vec<String>,
    /// Among `web`, `telegram`, `discord`; at least one.
    pub channels: Vec<String>,
    /// Only chat users who talked to the bot in the last this many days (1–366); absent:
    /// every linked user.
    #[schema(minimum = 1, maximum = 366)]
    pub active_days: Option<i64>,
    /// A knowledge-base article it is about: an answer from that article mentions it.
    pub article_id: Option<String>,
    /// Sent at once, outside the clients' coverage hours too.
    #[serde(default)]
    pub urgent: bool,
    /// When it starts (RFC 3339); absent: now.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends (RFC 3339), after the start and in the future.
    pub ends_at: DateTime<Utc>,
}

/// Check a request against the content and the clock; what the store keeps, or why not.
pub fn validate(
    r: AnnouncementRequest,
    k: &Knowledge,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<NewAnnouncement, AnnounceError> {
    let bad = |m: String| Err(AnnounceError::Invalid(m));
    let title = r.title.trim().to_string();
    let text = r.text.trim().to_string();
    if title.is_empty() {
        return bad("title is empty".into());
    }
    if text.is_empty() {
        return bad("text is empty".into());
    }
    if title.chars().count() > MAX_TITLE {
        return bad(format!("title is longer than {MAX_TITLE} characters"));
    }
    if text.chars().count() > MAX_BODY {
        return bad(format!("text is longer than {MAX_BODY} characters"));
    }
    let mut clients = Vec::new();
    for c in r.clients.iter().map(|c| c.trim()) {
        if !k.clients.contains_key(c) {
            return bad(format!("unknown client {c:?}"));
        }
        if !clients.iter().any(|x| x == c) {
            clients.push(c.to_string());
        }
    }
    if r.channels.is_empty() {
        return bad(format!(
            "channels is empty; name at least one of {CHANNELS:?}"
        ));
    }
    let mut channels = Vec::new();
    for c in r.channels.iter().map(|c| c.trim()) {
        if !CHANNELS.contains(&c) {
            return bad(format!("unknown channel {c:?} (one of {CHANNELS:?})"));
        }
        if !channels.iter().any(|x| x == c) {
            channels.push(c.to_string());
        }
    }
    if let Some(d) = r.active_days
        && !(1..=366).contains(&d)
    {
        return bad(format!("active_days must be between 1 and 366, not {d}"));
    }
    if let Some(a) = &r.article_id
        && !k.articles.contains_key(a)
    {
        return bad(format!("unknown article {a:?}"));
    }
    let starts_at = r.starts_at.unwrap_or(now);
    if r.ends_at <= now {
        return bad(format!("ends_at {} is in the past", r.ends_at.to_rfc3339()));
    }
    if r.ends_at <= starts_at {
        return bad(format!(
            "ends_at {} is not after starts_at {}",
            r.ends_at.to_rfc3339(),
            starts_at.to_rfc3339()
        ));
    }
    Ok(NewAnnouncement {
        title,
        body: text,
        clients,
        channels,
        active_days: r.active_days,
        article_id: r.article_id,
        urgent: r.urgent,
        starts_at: millis(starts_at),
        ends_at: millis(r.ends_at),
        created_by: created_by.to_string(),
    })
}

/// An announcement as the back office shows it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AnnouncementView {
    pub id: i64,
    pub title: String,
    pub text: String,
    /// Client codes; empty: every client.
    pub clients: Vec<String>,
    pub channels: Vec<String>,
    pub active_days: Option<i64>,
    pub article_id: Option<String>,
    pub urgent: bool,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Set when it was ended before `ends_at`.
    pub ended_early_at: Option<DateTime<Utc>>,
    /// `scheduled`, `active` or `ended`.
    pub status: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Telegram and Discord deliveries.
    pub counts: DeliveryCounts,
}

impl AnnouncementView {
    pub fn new(a: &AnnouncementRow, counts: DeliveryCounts, now: DateTime<Utc>) -> Self {
        let now = millis(now);
        let status = if a.is_active(now) {
            "active"
        } else if now < a.starts_at && a.ended_early_at.is_none() {
            "scheduled"
        } else {
            "ended"
        };
        Self {
            id: a.id,
            title: a.title.clone(),
            text: a.body.clone(),
            clients: a.client_list(),
            channels: a.channel_list(),
            active_days: a.active_days,
            article_id: a.article_id.clone(),
            urgent: a.urgent,
            starts_at: from_millis(a.starts_at),
            ends_at: from_millis(a.ends_at),
            ended_early_at: a.ended_early_at.map(from_millis),
            status: status.into(),
            created_by: a.created_by.clone(),
            created_at: from_millis(a.created_at),
            counts,
        }
    }
}

/// What a chat message says: headline, text, the article it is about, how to stop them.
pub fn message_text(a: &AnnouncementRow, k: &Knowledge, channel: &str) -> String {
    let mut text = format!("📢 **{}**\n\n{}", a.title, a.body);
    if let Some(article) = a.article_id.as_deref().and_then(|id| k.articles.get(id)) {
        text.push_str(&format!("\n\nMore: ask me about \"{}\".", article.title));
    }
    text.push_str(match channel {
        "telegram" => "\n\nTo stop announcements, send /unsubscribe.",
        _ => "\n\nTo stop announcements, send me \"unsubscribe\".",
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AnnouncementRequest {
        AnnouncementRequest {
            title: "Payroll cut-off".into(),
            text: "The cut-off moves to the 20th.".into(),
            clients: vec!["ACME".into()],
            channels: vec!["telegram".into(), "web".into()],
            ends_at: Utc::now() + chrono::Duration::days(1),
            ..AnnouncementRequest::default()
        }
    }

    fn k() -> Knowledge {
        Knowledge::load(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            crate::engine::EngineConfig::default(),
        )
        .expect("the shipped content loads")
    }

    #[test]
    fn each_mistake_is_named() {
        let k = k();
        let now = Utc::now();
        let reason = |r: AnnouncementRequest| match validate(r, &k, "ada", now) {
            Err(AnnounceError::Invalid(m)) => m,
            other => panic!("expected a reason, got {other:?}"),
        };
        assert!(validate(request(), &k, "ada", now).is_ok());
        assert_eq!(
            reason(AnnouncementRequest {
                text: " ".into(),
                ..request()
            }),
            "text is empty"
        );
        assert!(
            reason(AnnouncementRequest {
                clients: vec!["NOPE".into()],
                ..request()
            })
            .contains("unknown client \"NOPE\"")
        );
        assert!(
            reason(AnnouncementRequest {
                channels: vec!["fax".into()],
                ..request()
            })
            .contains("unknown channel \"fax\"")
        );
        assert!(
            reason(AnnouncementRequest {
                article_id: Some("no-such".into()),
                ..request()
            })
            .contains("unknown article")
        );
        assert!(
            reason(AnnouncementRequest {
                starts_at: Some(now + chrono::Duration::days(2)),
                ..request()
            })
            .contains("is not after starts_at")
        );
    }
}
