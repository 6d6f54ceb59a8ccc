//! [`Rollouts`](crate::store::Rollouts) in SQL.

macro_rules! impl_rollouts {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Rollouts for $store {
            async fn rollout_modes(
                &self,
            ) -> $crate::store::StoreResult<Vec<$crate::store::RolloutRow>> {
                Ok(sqlx::query_as(
                    "SELECT client_code, channel, mode, updated_at, updated_by FROM rollout_modes
                     ORDER BY client_code, channel",
                )
                .fetch_all(&self.reader)
                .await?)
            }

            async fn set_rollout(
                &self,
                client_code: &str,
                changes: &[(String, String, String)],
                actor: &str,
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<Vec<$crate::store::AuditRow>> {
                let mut tx = self.writer.begin().await?;
                let mut audit = Vec::new();
                for (channel, from, to) in changes {
                    if from == to {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO rollout_modes (client_code, channel, mode, updated_at, updated_by)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (client_code, channel)
                         DO UPDATE SET mode = $3, updated_at = $4, updated_by = $5",
                    )
                    .bind(client_code)
                    .bind(channel)
                    .bind(to)
                    .bind(now)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                    let detail =
                        serde_json::json!({"channel": channel, "from": from, "to": to}).to_string();
                    let row: $crate::store::AuditRow = sqlx::query_as(
                        "INSERT INTO audit_events (at, actor, action, subject, detail)
                         VALUES ($1, $2, 'rollout.set', $3, $4)
                         RETURNING id, at, actor, action, subject, detail",
                    )
                    .bind(now)
                    .bind(actor)
                    .bind(format!("client:{client_code}"))
                    .bind(detail)
                    .fetch_one(&mut *tx)
                    .await?;
                    audit.push(row);
                }
                tx.commit().await?;
                Ok(audit)
            }

            async fn audit_events(
                &self,
                subject: &str,
                limit: i64,
            ) -> $crate::store::StoreResult<Vec<$crate::store::AuditRow>> {
                Ok(sqlx::query_as(
                    "SELECT id, at, actor, action, subject, detail FROM audit_events
                     WHERE subject = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(subject)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?)
            }
        }
    };
}

pub(crate) use impl_rollouts;
