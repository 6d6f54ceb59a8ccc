//! PostgreSQL backend: for several replicas sharing one database.

use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};

use super::{Backend, StoreResult, sql::impl_sql_store};

pub struct PgStore {
    writer: PgPool,
    /// The same pool as `writer`: PostgreSQL handles concurrent writers itself.
    reader: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // Fail fast when the database is down: callers answer 503 instead of hanging.
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self {
            reader: pool.clone(),
            writer: pool,
        })
    }

    /// Connect to a fresh schema (tests): creates it, sets it as the search path, migrates.
    pub async fn connect_isolated(url: &str, schema: &str) -> StoreResult<Self> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(super::StoreError::Invalid(format!(
                "bad schema name {schema:?}"
            )));
        }
        let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .execute(&admin)
        .await?;
        admin.close().await;
        let search_path = format!("SET search_path TO {schema}");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(3))
            .after_connect(move |conn, _| {
                let sql = search_path.clone();
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *conn, sqlx::AssertSqlSafe(sql)).await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self {
            reader: pool.clone(),
            writer: pool,
        })
    }
}

impl PgStore {
    /// Run a write job in its own transaction: PostgreSQL takes concurrent writers and groups
    /// their commits' WAL flushes itself.
    async fn run_write<T, F>(&self, job: F) -> StoreResult<T>
    where
        F: for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, StoreResult<(T, bool)>>,
    {
        let mut tx = self.writer.begin().await?;
        let (value, keep) = job(&mut tx).await?;
        if keep {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(value)
    }
}

impl PgStore {
    async fn turn_context_row(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<super::TurnContextRow>> {
        Ok(sqlx::query_as(super::sql::TURN_CONTEXT)
            .bind(channel)
            .bind(session_key)
            .fetch_optional(&self.reader)
            .await?)
    }
}

impl_sql_store!(
    PgStore,
    PgConnection,
    Backend::Postgres,
    "FOR UPDATE SKIP LOCKED"
);
