//! The running announcements an answer mentions: read for the turn's client and channel, and
//! handed to the (pure) dialogue step as data.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{ChatService, ServiceError, millis};
use crate::store::AnnouncementRow;

/// How long a replica trusts its copy of the running announcements (as the roll-out modes): one
/// small query per interval instead of one per message. An announcement created or ended
/// through this replica counts at once (`announcements_changed`); through another, within this
/// time.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(3);

/// The announcements running at `at` (the turns' clock), read at `read` (the wall clock).
struct Snapshot {
    read: Instant,
    at: i64,
    rows: Arc<Vec<AnnouncementRow>>,
}

#[derive(Clone, Default)]
pub(super) struct NoticeCache(Arc<Mutex<Option<Snapshot>>>);

impl NoticeCache {
    /// The copy, if read less than `REFRESH` ago for a moment no further back than that (a
    /// test clock may jump; a copy is never used for an earlier moment).
    fn fresh(&self, now: i64) -> Option<Arc<Vec<AnnouncementRow>>> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let window = REFRESH.as_millis() as i64;
        guard
            .as_ref()
            .filter(|s| s.read.elapsed() < REFRESH && (s.at..s.at + window).contains(&now))
            .map(|s| s.rows.clone())
    }
    fn put(&self, at: i64, rows: Arc<Vec<AnnouncementRow>>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Snapshot {
            read: Instant::now(),
            at,
            rows,
        });
    }
    fn forget(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl ChatService {
    /// An announcement was created or ended here: the next turn reads them afresh.
    pub fn announcements_changed(&self) {
        self.notices.forget();
    }

    /// The announcements running now (from the cache when fresh).
    async fn running(&self, now: i64) -> Result<Arc<Vec<AnnouncementRow>>, ServiceError> {
        if let Some(rows) = self.notices.fresh(now) {
            return Ok(rows);
        }
        let rows = Arc::new(self.store.active_announcements(now).await?);
        self.notices.put(now, rows.clone());
        Ok(rows)
    }

    /// The running announcements about an article that reach this user (their client, this
    /// channel), for an answer to mention.
    pub(super) async fn notices(
        &self,
        channel: &str,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::dialogue::Notice>, ServiceError> {
        let now = millis(now);
        Ok(self
            .running(now)
            .await?
            .iter()
            // Copies are read for a moment up to `REFRESH` earlier: drop what has ended since.
            .filter(|a| a.ends_at > now)
            .filter(|a| a.reaches_client(client) && a.channel_list().iter().any(|c| c == channel))
            .filter_map(|a| {
                Some(crate::dialogue::Notice {
                    article_id: a.article_id.clone()?,
                    title: a.title.clone(),
                    text: a.body.clone(),
                })
            })
            .collect())
    }
}
