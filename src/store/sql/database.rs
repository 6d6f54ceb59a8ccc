//! [`Database`](crate::store::Database) in SQL: the backend, a ping, the seed data.

macro_rules! impl_database {
    ($store:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Database for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            fn write_counts(&self) -> $crate::store::WriteCounts {
                self.write_stats.counts()
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.reader).await?;
                Ok(())
            }

            async fn upsert_client(
                &self,
                client: &$crate::store::ClientRecord,
                managers: &[$crate::store::ManagerRecord],
                now: $crate::store::Millis,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.writer.begin().await?;
                sqlx::query(
                    "INSERT INTO clients (code, name, timezone, spa, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5)
                     ON CONFLICT (code) DO UPDATE SET name = $2, timezone = $3, spa = $4, updated_at = $5",
                )
                .bind(&client.code)
                .bind(&client.name)
                .bind(&client.timezone)
                .bind(&client.spa)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Managers no longer in the seed are deactivated, not deleted: escalations refer to them.
                sqlx::query("UPDATE account_managers SET active = FALSE WHERE client_code = $1")
                    .bind(&client.code)
                    .execute(&mut *tx)
                    .await?;
                for m in managers {
                    sqlx::query(
                        "INSERT INTO account_managers (client_code, name, email, role, routes, active)
                         VALUES ($1, $2, $3, $4, $5, TRUE)
                         ON CONFLICT (client_code, email) DO UPDATE
                         SET name = $2, role = $4, routes = $5, active = TRUE",
                    )
                    .bind(&client.code)
                    .bind(&m.name)
                    .bind(&m.email)
                    .bind(&m.role)
                    .bind(&m.routes)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_database;
