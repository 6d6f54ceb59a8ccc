//! PostgreSQL backend: for several replicas sharing one database.
//!
//! Reads and the writes off the hot path go through an sqlx pool. The hot path's writes (a
//! turn, a new person or conversation, a request number: the jobs of `writes/`) go to the
//! group commit (`group_commit.rs`) over pipelined connections (`pipe.rs`).

mod connection;
mod group_commit;
mod pipe;
mod shared;
mod tls;

use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::postgres::{PgPool, PgPoolOptions};

use self::connection::Connection;
use self::group_commit::GroupCommit;
pub(crate) use self::pipe::Pipe;
use self::pipe::Target;
use self::tls::{Check, MakeRustls};
use super::exec::WriteStats;
use super::{Backend, StoreError, StoreResult, sql::impl_sql_store};
use tokio_postgres::config::SslMode;

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

/// The TLS a URL asks for (`None`: `sslmode=disable`).
#[derive(Debug, PartialEq)]
struct TlsWanted {
    check: Check,
    root_cert: Option<std::path::PathBuf>,
}

/// The pipelined connections' settings and TLS from the URL the pool was given. sqlx's own
/// parameters are translated (`options[name]=value` is `-c name=value`; `sslmode` and
/// `sslrootcert` as libpq reads them, see `tls.rs`) or left out (its statement cache, client
/// certificates).
fn pipelined_config(url: &str) -> StoreResult<(tokio_postgres::Config, Option<TlsWanted>)> {
    let bad = |e: String| {
        StoreError::Invalid(format!(
            "the PostgreSQL URL is not one the group-commit writers understand: {e}"
        ))
    };
    let mut u = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    let mut options = Vec::new();
    let (mut sslmode, mut root_cert) = ("prefer".to_string(), None);
    u.set_query(None);
    for (k, v) in &pairs {
        if k == "sslmode" {
            sslmode = v.clone();
        } else if k == "sslrootcert" {
            root_cert = Some(std::path::PathBuf::from(v));
        } else if let Some(name) = k.strip_prefix("options[").and_then(|r| r.strip_suffix(']')) {
            options.push(format!("-c {name}={v}"));
        } else if SHARED_PARAMETERS.contains(&k.as_str()) {
            u.query_pairs_mut().append_pair(k, v);
        }
    }
    let mut config =
        tokio_postgres::Config::from_str(u.as_str()).map_err(|e| bad(e.to_string()))?;
    let (mode, check) = match sslmode.as_str() {
        "disable" => (SslMode::Disable, None),
        // libpq's `allow` tries without TLS first; here it is `prefer` (TLS first).
        "allow" | "prefer" => (SslMode::Prefer, Some(Check::Nothing)),
        "require" => (SslMode::Require, Some(Check::Nothing)),
        "verify-ca" => (SslMode::Require, Some(Check::Chain)),
        "verify-full" => (SslMode::Require, Some(Check::ChainAndHost)),
        other => return Err(bad(format!("unknown sslmode {other:?}"))),
    };
    config.ssl_mode(mode);
    let tls = check.map(|check| TlsWanted { check, root_cert });
    if !options.is_empty() {
        let all: Vec<String> = config
            .get_options()
            .map(str::to_string)
            .into_iter()
            .chain(options)
            .collect();
        config.options(all.join(" "));
    }
    Ok((config, tls))
}

/// The writers' connection settings from the URL the pool was given.
fn target(url: &str, search_path: Option<String>) -> StoreResult<Target> {
    let (mut config, tls) = pipelined_config(url)?;
    let tls = tls
        .map(|t| MakeRustls::new(t.check, t.root_cert.as_deref()))
        .transpose()?;
    // Fail fast when the database is down: callers answer 503 instead of hanging.
    config.connect_timeout(Duration::from_secs(3));
    // Named with the schema, so a test can tell its own writers apart in pg_stat_activity.
    config.application_name(&match &search_path {
        Some(schema) => format!("frontdoor-writer:{schema}"),
        None => "frontdoor-writer".to_string(),
    });
    Ok(Target {
        config,
        tls,
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
        self.queue_write(job)?.await
    }

    /// [`run_write`](Self::run_write), queued now: the future is its value once durable.
    fn queue_write<T, F>(&self, job: F) -> StoreResult<BoxFuture<'static, StoreResult<T>>>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Pipe) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + Sync
            + 'static,
    {
        self.group_commit.queue(job)
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

    async fn conversation_by_session_row(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<super::ConversationRow>> {
        use super::exec::Exec;
        let conn = self.hot.get().await?;
        pipe::Pipe::new(&conn)
            .fetch_conversation(
                super::writes::CONVERSATION_BY_SESSION,
                &[
                    super::exec::Arg::Text(Some(channel)),
                    super::exec::Arg::Text(Some(session_key)),
                ],
            )
            .await
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
    use super::{Check, SslMode, pipelined_config};

    #[test]
    fn the_pools_url_serves_the_pipelined_connections() {
        let (c, tls) = pipelined_config(
            "postgres://app:secret@db.internal:6432/frontdoor?sslmode=disable&statement-cache-capacity=50&options[search_path]=t_1&application_name=x",
        )
        .unwrap();
        assert_eq!(c.get_user(), Some("app"));
        assert_eq!(c.get_password(), Some(&b"secret"[..]));
        assert_eq!(c.get_dbname(), Some("frontdoor"));
        assert_eq!(c.get_ports(), &[6432]);
        assert_eq!(c.get_options(), Some("-c search_path=t_1"));
        assert_eq!(c.get_application_name(), Some("x"));
        assert_eq!(c.get_ssl_mode(), SslMode::Disable);
        assert!(tls.is_none());
        // sqlx's own statement-cache setting is not tokio-postgres's business.
        assert!(pipelined_config("postgres://u@h/d?statement-cache-capacity=5").is_ok());
        assert!(pipelined_config("not a url").is_err());
    }

    #[test]
    fn sslmode_means_what_it_means_to_libpq() {
        for (url, mode, check) in [
            ("postgres://u@h/d", SslMode::Prefer, Check::Nothing),
            (
                "postgres://u@h/d?sslmode=prefer",
                SslMode::Prefer,
                Check::Nothing,
            ),
            (
                "postgres://u@h/d?sslmode=require",
                SslMode::Require,
                Check::Nothing,
            ),
            (
                "postgres://u@h/d?sslmode=verify-ca",
                SslMode::Require,
                Check::Chain,
            ),
            (
                "postgres://u@h/d?sslmode=verify-full",
                SslMode::Require,
                Check::ChainAndHost,
            ),
        ] {
            let (c, tls) = pipelined_config(url).unwrap();
            assert_eq!(c.get_ssl_mode(), mode, "{url}");
            assert_eq!(tls.map(|t| t.check), Some(check), "{url}");
        }
        let e = pipelined_config("postgres://u@h/d?sslmode=sometimes")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown sslmode \"sometimes\""), "{e}");
        let (_, tls) =
            pipelined_config("postgres://u@h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem")
                .unwrap();
        assert_eq!(tls.and_then(|t| t.root_cert), Some("/etc/ca.pem".into()));
        let e = super::target(
            "postgres://u@h/d?sslmode=verify-ca&sslrootcert=/nowhere/ca.pem",
            None,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("sslrootcert /nowhere/ca.pem"), "{e}");
    }

    /// The writers refuse what libpq refuses: a certificate for another name (`verify-full`),
    /// one no trusted root signed (`verify-ca` with the public roots), and take the server's own
    /// certificate as the root it is given. Against the tests' PostgreSQL, whose certificate
    /// (Debian's) is for "localhost" while the URL says 127.0.0.1.
    #[tokio::test]
    async fn the_writers_trust_only_what_the_url_says_to() {
        let url = match std::env::var("FRONTDOOR_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let required = std::env::var("FRONTDOOR_TEST_REQUIRE")
                    .unwrap_or_default()
                    .contains("postgres");
                assert!(!required, "FRONTDOOR_TEST_POSTGRES_URL is required");
                eprintln!(
                    "\n!!! SKIPPED the writers' TLS checks: no FRONTDOOR_TEST_POSTGRES_URL !!!\n"
                );
                return;
            }
        };
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let on: String = sqlx::query_scalar("SHOW ssl")
            .fetch_one(&pool)
            .await
            .unwrap();
        let cert: String = sqlx::query_scalar("SHOW ssl_cert_file")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        if on != "on" {
            eprintln!("\n!!! SKIPPED the writers' TLS checks: the server has ssl = off !!!\n");
            return;
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        let connect = |query: String| {
            let url = format!("{url}{sep}{query}");
            async move { super::target(&url, None)?.connect().await.map(|_| ()) }
        };
        let name = connect(format!("sslmode=verify-full&sslrootcert={cert}"))
            .await
            .unwrap_err()
            .to_string();
        assert!(name.contains("certificate"), "{name}");
        let issuer = connect("sslmode=verify-ca".into())
            .await
            .unwrap_err()
            .to_string();
        assert!(issuer.contains("certificate"), "{issuer}");
        connect(format!("sslmode=verify-ca&sslrootcert={cert}"))
            .await
            .unwrap();
        connect("sslmode=require".into()).await.unwrap();
    }
}
