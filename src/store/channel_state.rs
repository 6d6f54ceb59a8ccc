//! What the chat adapters keep between restarts: their position in a channel's update stream,
//! and the one-time codes that link a chat account to a client.

use async_trait::async_trait;

use super::{Millis, StoreResult};

/// Called by the Telegram and Discord adapters, and the command that issues link codes.
#[async_trait]
pub trait ChannelState: Send + Sync {
    /// A channel's saved position (e.g. the last Telegram update id fully handled).
    async fn cursor(&self, name: &str) -> StoreResult<Option<i64>>;

    async fn set_cursor(&self, name: &str, value: i64) -> StoreResult<()>;

    /// A one-time code that links a chat account to a client (`/start CODE` in Telegram).
    async fn create_link_code(
        &self,
        code: &str,
        client_code: &str,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()>;

    /// Use a link code once, for the chat account `by` (`channel:external_id`): its client, or
    /// `None` if unknown, expired or used by another account. The account that used it gets
    /// its client again (a redelivered `/start CODE` whose first delivery did not finish),
    /// expired by then or not.
    async fn redeem_link_code(
        &self,
        code: &str,
        by: &str,
        now: Millis,
    ) -> StoreResult<Option<String>>;
}
