//! A PostgreSQL connection that pipelines a write job's statements (`tokio-postgres`).
//!
//! Many of a job's statements — a turn's records, the rows that undo a refused turn — are ones
//! whose answers the job never looks at. Through sqlx each was a round trip: send, wait for the
//! server, wake up, send the next. Here [`Exec::queue`] sends such a statement at once and
//! collects its answer later ([`Pipe::settle`]); PostgreSQL runs the statements in the order
//! sent, so the job still reads like a sequence. A turn's own rows go in one statement
//! (`writes/turn.rs`, lists bound as arrays), so a turn is one round trip plus its records, and
//! under load the round trips are shared with the batch's other jobs (see `group_commit.rs`).
//! sqlx has no pipelining; tokio-postgres pipelines every request that is sent before the
//! previous one is answered.
//!
//! Statements are prepared once per connection with the parameter types of their arguments
//! (`prepare_typed`), so PostgreSQL coerces as it does for sqlx's typed parameters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{BoxFuture, FutureExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Statement};

use super::connection::{Connection, Owned};
use super::shared::Shared;
use crate::store::exec::{Arg, Exec, I64Pair};
use crate::store::{ConversationRow, Person, StoreError, StoreResult};

/// A statement sent and not yet answered.
type Sent = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send>>;

/// How to open a pipelined connection (the URL, its TLS, and the schema for isolated tests).
#[derive(Clone)]
pub struct Target {
    pub config: tokio_postgres::Config,
    /// `None`: `sslmode=disable`.
    pub tls: Option<super::tls::MakeRustls>,
    pub search_path: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config may hold a password.
        f.debug_struct("Target")
            .field("search_path", &self.search_path)
            .finish_non_exhaustive()
    }
}

impl Target {
    pub async fn connect(&self) -> StoreResult<Arc<Connection>> {
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                drive(connection);
                client
            }
            None => {
                let (client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
                drive(connection);
                client
            }
        };
        if let Some(schema) = &self.search_path {
            client
                .batch_execute(&format!("SET search_path TO {schema}"))
                .await?;
        }
        Ok(Connection::new(client))
    }
}

/// Run a connection's I/O until it ends.
fn drive<F>(connection: F)
where
    F: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "PostgreSQL pipelined connection ended");
        }
    });
}

/// A job's view of the connection: its statements sent and not yet answered.
pub struct Pipe {
    conn: Arc<Connection>,
    sent: Vec<Sent>,
    /// The batch's statements that jobs side by side share, in a group commit.
    shared: Option<Arc<Shared>>,
}

fn borrowed<'a>(a: &'a Arg<'a>) -> &'a (dyn ToSql + Sync) {
    match a {
        Arg::Int(v) => v,
        Arg::Real(v) => v,
        Arg::Text(v) => v,
        Arg::Bool(v) => v,
        Arg::Ints(v) => v,
        Arg::Reals(v) => v,
        Arg::Texts(v) => v,
        Arg::Bools(v) => v,
    }
}

fn pg_type(a: &Arg<'_>) -> (Type, u128) {
    match a {
        Arg::Int(_) => (Type::INT8, 0),
        Arg::Real(_) => (Type::FLOAT8, 1),
        Arg::Text(_) => (Type::TEXT, 2),
        Arg::Bool(_) => (Type::BOOL, 3),
        Arg::Ints(_) => (Type::INT8_ARRAY, 4),
        Arg::Reals(_) => (Type::FLOAT8_ARRAY, 5),
        Arg::Texts(_) => (Type::TEXT_ARRAY, 6),
        Arg::Bools(_) => (Type::BOOL_ARRAY, 7),
    }
}

impl Pipe {
    pub fn new(conn: &Arc<Connection>) -> Self {
        Self {
            conn: Arc::clone(conn),
            sent: Vec::new(),
            shared: None,
        }
    }

    /// A pipe for one of the jobs that run side by side with `shared`'s.
    pub fn sharing(conn: &Arc<Connection>, shared: &Arc<Shared>) -> Self {
        Self {
            shared: Some(Arc::clone(shared)),
            ..Self::new(conn)
        }
    }

    /// The prepared statement for `sql` with these arguments' types (prepared on first use:
    /// one round trip per statement per connection).
    pub(super) async fn statement(
        &mut self,
        sql: &'static str,
        args: &[Arg<'_>],
    ) -> StoreResult<Statement> {
        if args.len() > 32 {
            return Err(StoreError::Invalid(format!(
                "{} arguments; at most 32 are supported",
                args.len()
            )));
        }
        let mut signature = 0u128;
        let mut types = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let (t, code) = pg_type(a);
            signature |= code << (3 * i);
            types.push(t);
        }
        let key = (sql.as_ptr() as usize, sql.len(), signature);
        let cached = self
            .conn
            .statements
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned());
        if let Some(s) = cached {
            return Ok(s);
        }
        // Two jobs may prepare the same statement at once; both work, one is kept.
        let s = self.conn.client.prepare_typed(sql, &types).await?;
        if let Ok(mut m) = self.conn.statements.lock() {
            m.insert(key, s.clone());
        }
        Ok(s)
    }

    /// Send `sql` now; its answer is collected by [`settle`](Self::settle).
    pub async fn send(&mut self, sql: &'static str, args: &[Arg<'_>]) -> StoreResult<()> {
        let statement = self.statement(sql, args).await?;
        let owned: Vec<Owned> = args.iter().map(Owned::of).collect();
        let conn = Arc::clone(&self.conn);
        let mut fut: Sent = Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(Owned::sql).collect();
            conn.client.execute(&statement, &refs).await
        });
        // tokio-postgres sends a request when its future is first polled; poll once here so it
        // goes out now, ahead of whatever the job sends next.
        let waker = futures::task::noop_waker_ref();
        match fut.as_mut().poll(&mut Context::from_waker(waker)) {
            Poll::Ready(r) => self.sent.push(Box::pin(futures::future::ready(r))),
            Poll::Pending => self.sent.push(fut),
        }
        Ok(())
    }

    /// Wait for every statement sent; the first error, if any (after an error PostgreSQL
    /// refuses the rest of the transaction, so later errors only repeat it).
    pub async fn settle(&mut self) -> StoreResult<()> {
        let mut first = None;
        for fut in self.sent.drain(..) {
            if let Err(e) = fut.await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), |e| Err(e.into()))
    }

    /// Run `sql` and wait for its rows.
    async fn rows(&mut self, sql: &'static str, args: &[Arg<'_>]) -> StoreResult<Vec<Row>> {
        let statement = self.statement(sql, args).await?;
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(borrowed).collect();
        Ok(self.conn.client.query(&statement, &refs).await?)
    }
}

fn person(r: &Row) -> Result<Person, tokio_postgres::Error> {
    Ok(Person {
        id: r.try_get(0)?,
        client_code: r.try_get(1)?,
        display_name: r.try_get(2)?,
        created_at: r.try_get(3)?,
        last_seen_at: r.try_get(4)?,
    })
}

fn conversation(r: &Row) -> Result<ConversationRow, tokio_postgres::Error> {
    Ok(ConversationRow {
        id: r.try_get(0)?,
        channel: r.try_get(1)?,
        session_key: r.try_get(2)?,
        person_id: r.try_get(3)?,
        client_code: r.try_get(4)?,
        state: r.try_get(5)?,
        version: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

impl Exec for Pipe {
    fn modifying_ctes(&self) -> bool {
        true
    }

    fn execute<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<u64>> {
        async move {
            let statement = self.statement(sql, args).await?;
            let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(borrowed).collect();
            Ok(self.conn.client.execute(&statement, &refs).await?)
        }
        .boxed()
    }

    fn queue<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.send(sql, args).boxed()
    }

    fn fetch_i64<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<i64>>> {
        async move {
            let rows = self.rows(sql, args).await?;
            Ok(rows.first().map(|r| r.try_get(0)).transpose()?)
        }
        .boxed()
    }

    fn fetch_i64_pair<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<I64Pair>>> {
        async move {
            let rows = self.rows(sql, args).await?;
            Ok(rows
                .first()
                .map(|r| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?)
        }
        .boxed()
    }

    fn fetch_one_of_many<'a>(
        &'a mut self,
        sql: &'static str,
        key: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<I64Pair>>> {
        async move {
            let Some(shared) = self.shared.clone() else {
                return self.fetch_i64_pair(sql, args).await;
            };
            let statement = self.statement(sql, args).await?;
            shared.call(sql, statement, key, args).await
        }
        .boxed()
    }

    fn fetch_person<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<Person>>> {
        async move {
            let rows = self.rows(sql, args).await?;
            Ok(rows.first().map(person).transpose()?)
        }
        .boxed()
    }

    fn fetch_conversation<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<ConversationRow>>> {
        async move {
            let rows = self.rows(sql, args).await?;
            Ok(rows.first().map(conversation).transpose()?)
        }
        .boxed()
    }
}

/// The hot path's one read (`TurnContextRow`'s columns in order) on a shared pipelined
/// connection: concurrent turns' reads go out together instead of a pool connection each.
pub async fn turn_context(
    conn: &Arc<Connection>,
    channel: &str,
    session_key: &str,
) -> StoreResult<Option<crate::store::TurnContextRow>> {
    let mut pipe = Pipe::new(conn);
    let rows = pipe
        .rows(
            crate::store::sql::TURN_CONTEXT,
            &[Arg::Text(Some(channel)), Arg::Text(Some(session_key))],
        )
        .await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(crate::store::TurnContextRow {
        conversation: conversation(r)?,
        p_id: r.try_get(9)?,
        p_client_code: r.try_get(10)?,
        p_display_name: r.try_get(11)?,
        p_created_at: r.try_get(12)?,
        p_last_seen_at: r.try_get(13)?,
        request_count: r.try_get(14)?,
        last_survey_at: r.try_get(15)?,
    }))
}
