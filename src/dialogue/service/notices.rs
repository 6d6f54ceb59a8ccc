//! The running announcements an answer mentions: read for the turn's client and channel, and
//! handed to the (pure) dialogue step as data.

use chrono::{DateTime, Utc};

use super::{ChatService, ServiceError, millis};

impl ChatService {
    /// The running announcements about an article that reach this user (their client, this
    /// channel), for an answer to mention.
    pub(super) async fn notices(
        &self,
        channel: &str,
        client: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::dialogue::Notice>, ServiceError> {
        Ok(self
            .store
            .active_announcements(millis(now))
            .await?
            .into_iter()
            .filter(|a| a.reaches_client(client) && a.channel_list().iter().any(|c| c == channel))
            .filter_map(|a| {
                Some(crate::dialogue::Notice {
                    article_id: a.article_id?,
                    title: a.title,
                    text: a.body,
                })
            })
            .collect())
    }
}
