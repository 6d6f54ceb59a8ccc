//! PostgreSQL backend: for several replicas sharing one database.
//!
//! Reads and the writes off the hot path go through an sqlx pool. The hot path's writes (a
//! turn, a new person or conversation, a request number: the jobs of `writes/`) go to the
//! group commit (`group_commit.rs`) over pipelined connections (`pipe.rs`).

mod group_commit;
mod pipe;

use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::postgres::{PgPool, PgPoolOptions};

use self::group_commit::GroupCommit;
pub(crate) use self::pipe::Pipe;
use self::pipe::{Connection, Target};
use super::exec::WriteStats;
use super::{Backend, StoreError, StoreResult, sql::impl_sql_store};

/// Group-commit writers per replica: while one waits for PostgreSQL, the next gathers a batch.
/// `FRONTDOOR_PG_WRITERS` overrides it (1–64).
fn writers() -> usize {
    std::env::var("FRONTDOOR_PG_WRITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(2)
}

pub struct PgStore {
    writer: PgPool,
    /// The same pool as `writer`: PostgreSQL handles concurrent writers itself.
    reader: PgPool,
    group_commit: GroupCommit,
    /// The hot path's reads and request numbers, pipelined (see `HotReader`).
    hot: HotReader,
    write_stats: std::sync::Arc<WriteStats>,
}

/// A pipelined connection for the turn's context read (and a request's number, from a
/// sequence), reconnected when lost: concurrent turns' reads share its round trips instead of
/// taking a pool connection each.
struct HotReader {
    target: Target,
    conn: tokio::sync::Mutex<Option<std::sync::Arc<Connection>>>,
}

impl HotReader {
    async fn get(&self) -> StoreResult<std::sync::Arc<Connection>> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(Duration::from_secs(3), self.target.connect())
            .await
            .map_err(|_| StoreError::Unavailable("connecting to PostgreSQL timed out".into()))??;
        *slot = Some(c.clone());
        Ok(c)
    }
}

/// URL parameters both drivers read alike (tokio-postgres refuses any other).
const SHARED_PARAMETERS: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslmode",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "target_session_attrs",
    "channel_binding",
];

/// The pipelined connections' settings from the URL the pool was given. sqlx's own parameters
/// are translated (`options[name]=value` is `-c name=value`) or left out (its statement cache,
/// TLS files: the pipelined connections do not use TLS).
fn pipelined_config(url: &str) -> StoreResult<tokio_postgres::Config> {
    let bad = |e: String| {
        StoreError::Invalid(format!(
            "the PostgreSQL URL is not one the group-commit writers understand: {e}"
        ))
    };
    let mut u = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let mut options = Vec::new();
    u.set_query(None);
    for (k, v) in &pairs {
        if k == "sslmode" && (v == "require" || v.starts_with("verify")) {
            return Err(StoreError::Invalid(format!(
                "sslmode={v}: the group-commit writers' connections do not speak TLS yet; reach \
                 PostgreSQL over a private network or a Unix socket (sslmode=prefer or disable)"
            )));
        }
        if let Some(name) = k.strip_prefix("options[").and_then(|r| r.strip_suffix(']')) {
            options.push(format!("-c {name}={v}"));
        } else if SHARED_PARAMETERS.contains(&k.as_str()) {
            u.query_pairs_mut().append_pair(k, v);
        }
    }
    let mut config =
        tokio_postgres::Config::from_str(u.as_str()).map_err(|e| bad(e.to_string()))?;
    if !options.is_empty() {
        let all: Vec<String> = config
            .get_options()
            .map(str::to_string)
            .into_iter()
            .chain(options)
            .collect();
        config.options(all.join(" "));
    }
    Ok(config)
}

/// The writers' connection settings from the URL the pool was given.
fn target(url: &str, search_path: Option<String>) -> StoreResult<Target> {
    let mut config = pipelined_config(url)?;
    // Fail fast when the database is down: callers answer 503 instead of hanging.
    config.connect_timeout(Duration::from_secs(3));
    // Named with the schema, so a test can tell its own writers apart in pg_stat_activity.
    config.application_name(&match &search_path {
        Some(schema) => format!("frontdoor-writer:{schema}"),
        None => "frontdoor-writer".to_string(),
    });
    Ok(Target {
        config,
        search_path,
    })
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
        let stats = std::sync::Arc::new(WriteStats::default());
        let target = target(url, None)?;
        Ok(Self {
            reader: pool.clone(),
            writer: pool,
            group_commit: GroupCommit::start(target.clone(), writers(), stats.clone()).await?,
            hot: HotReader {
                target,
                conn: Default::default(),
            },
            write_stats: stats,
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
        let stats = std::sync::Arc::new(WriteStats::default());
        let target = target(url, Some(schema.to_string()))?;
        Ok(Self {
            reader: pool.clone(),
            writer: pool,
            group_commit: GroupCommit::start(target.clone(), writers(), stats.clone()).await?,
            hot: HotReader {
                target,
                conn: Default::default(),
            },
            write_stats: stats,
        })
    }
}

impl PgStore {
    /// Queue a write job for the next group commit; its value once the batch is durable. The
    /// job may run more than once (see `group_commit.rs`).
    async fn run_write<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Pipe) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + Sync
            + 'static,
    {
        self.group_commit.run(job).await
    }
}

impl PgStore {
    async fn turn_context_row(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<super::TurnContextRow>> {
        pipe::turn_context(&self.hot.get().await?, channel, session_key).await
    }

    /// The next request number from a sequence (migration 0007), on the hot connection and
    /// outside any write batch: the counter row's lock lasted until its batch committed and
    /// queued the other writer behind it. A number is durable once the turn that uses it is
    /// (its commit flushes the sequence's WAL record with it); one never used may be reissued
    /// after a crash, which is harmless.
    async fn allocate_request_number(&self) -> StoreResult<i64> {
        use super::exec::Exec;
        let conn = self.hot.get().await?;
        pipe::Pipe::new(&conn)
            .fetch_i64("SELECT nextval('request_reference_seq')", &[])
            .await?
            .ok_or_else(|| StoreError::Invalid("the request number sequence gave no value".into()))
    }

    async fn person_by_identity_row(
        &self,
        channel: &str,
        external_id: &str,
    ) -> StoreResult<Option<super::Person>> {
        use super::exec::Exec;
        let conn = self.hot.get().await?;
        pipe::Pipe::new(&conn)
            .fetch_person(
                super::writes::PERSON_BY_IDENTITY,
                &[
                    super::exec::Arg::Text(Some(channel)),
                    super::exec::Arg::Text(Some(external_id)),
                ],
            )
            .await
    }
}

impl_sql_store!(PgStore, Pipe, Backend::Postgres, "FOR UPDATE SKIP LOCKED");

#[cfg(test)]
mod tests {
    use super::pipelined_config;

    #[test]
    fn the_pools_url_serves_the_pipelined_connections() {
        let c = pipelined_config(
            "postgres://app:secret@db.internal:6432/frontdoor?sslmode=disable&statement-cache-capacity=50&options[search_path]=t_1&application_name=x",
        )
        .unwrap();
        assert_eq!(c.get_user(), Some("app"));
        assert_eq!(c.get_password(), Some(&b"secret"[..]));
        assert_eq!(c.get_dbname(), Some("frontdoor"));
        assert_eq!(c.get_ports(), &[6432]);
        assert_eq!(c.get_options(), Some("-c search_path=t_1"));
        assert_eq!(c.get_application_name(), Some("x"));
        // sqlx's own statement-cache setting is not tokio-postgres's business.
        assert!(pipelined_config("postgres://u@h/d?statement-cache-capacity=5").is_ok());
    }

    #[test]
    fn tls_that_the_writers_cannot_give_is_refused_with_the_reason() {
        for mode in ["require", "verify-ca", "verify-full"] {
            let e = pipelined_config(&format!("postgres://u@h/d?sslmode={mode}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("do not speak TLS"), "{mode}: {e}");
        }
        assert!(pipelined_config("postgres://u@h/d?sslmode=prefer").is_ok());
        assert!(pipelined_config("not a url").is_err());
    }
}
