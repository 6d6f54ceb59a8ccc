//! [`ChannelState`](crate::store::ChannelState) in SQL: cursors and link codes.

macro_rules! impl_channel_state {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ChannelState for $store {
            async fn cursor(&self, name: &str) -> $crate::store::StoreResult<Option<i64>> {
                let row: Option<(i64,)> = sqlx::query_as("SELECT value FROM channel_cursors WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.writer)
                    .await?;
                Ok(row.map(|r| r.0))
            }

            async fn set_cursor(&self, name: &str, value: i64) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO channel_cursors (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = $2",
                )
                .bind(name)
                .bind(value)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn create_link_code(
                &self,
                code: &str,
                client_code: &str,
                expires_at: $crate::store::Millis,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                sqlx::query(
                    "INSERT INTO link_codes (code, client_code, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(code)
                .bind(client_code)
                .bind(now)
                .bind(expires_at)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn redeem_link_code(
                &self,
                code: &str,
                by: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Option<String>> {
                // A code used before this migration has no `used_by`: nobody gets it again.
                let row: Option<(String,)> = sqlx::query_as(
                    "UPDATE link_codes SET used_at = COALESCE(used_at, $2), used_by = $3
                     WHERE code = $1
                       AND ((used_at IS NULL AND expires_at > $2) OR used_by = $3)
                     RETURNING client_code",
                )
                .bind(code)
                .bind(now)
                .bind(by)
                .fetch_optional(&self.writer)
                .await?;
                Ok(row.map(|r| r.0))
            }
        }
    };
}

pub(crate) use impl_channel_state;
