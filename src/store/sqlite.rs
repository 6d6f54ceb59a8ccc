//! SQLite backend: the embedded default. One file under the data directory, WAL mode.
//!
//! **Group commit.** With `synchronous=FULL` every commit waits for an fsync (milliseconds on
//! real disks), and SQLite has one writer: one transaction per message would cap the service at
//! a few hundred messages a second. The hot path's writes (`run_write` jobs: turns, new people
//! and conversations, request numbers) therefore go to one writer thread that takes every job
//! waiting, runs each in its own savepoint (so one job's conflict or error rolls back only its
//! own writes) inside one transaction, commits once — one fsync for the batch — and only then
//! hands each caller its result. Nobody is told "done" before their data is durable; while one
//! batch is being synced the next one gathers, so batches grow with the load.
//!
//! The writer thread owns a `rusqlite` connection and runs the jobs (`writes.rs`, the same code
//! as PostgreSQL's, through `exec.rs`) as plain calls. Through sqlx-sqlite every statement was a
//! hand-off to the connection's worker thread and back, and those futex wake-ups were most of
//! the server's CPU under load. Everything else still goes through sqlx.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::oneshot;

use super::exec::{WriteStats, batch_error};
use super::{Backend, StoreError, StoreResult, sql::impl_sql_store};

pub struct SqliteStore {
    /// Writes off the hot path (seeding, the outbox worker, the back office). Its transactions
    /// all begin with a write, so they wait for the group-commit writer's lock through the busy
    /// timeout rather than failing on a stale snapshot.
    writer: SqlitePool,
    /// Readers run concurrently with the writer thanks to WAL.
    reader: SqlitePool,
    /// To the group-commit writer thread.
    jobs: SyncSender<Job>,
    /// Read-only rusqlite connections for the hot path's one read (`turn_context`), run inline
    /// on the caller's thread: a WAL read of a few indexed rows takes microseconds, less than
    /// the hand-off to an sqlx worker thread and back. The lock is held only to take or return
    /// a connection, never during a query.
    inline_readers: Mutex<Vec<rusqlite::Connection>>,
    path: PathBuf,
    write_stats: Arc<WriteStats>,
}

/// Idle inline readers kept (about one per runtime thread).
const INLINE_READERS: usize = 8;

/// Called once the job's batch has committed (`Ok`) or failed.
type Deliver = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A write job: runs on the writer thread's connection inside its savepoint; says whether to
/// keep its writes, and how to deliver its result once the batch is settled.
type Job = Box<dyn FnOnce(&mut rusqlite::Connection) -> (bool, Deliver) + Send>;

/// At most this many jobs share a transaction.
const MAX_BATCH: usize = 1024;

/// The writer thread: batches until every sender (the store) is gone. A thread of its own with
/// a synchronous connection: each statement is a plain function call, where an async driver
/// would hand it to another thread and back.
fn group_commit(mut conn: rusqlite::Connection, rx: Receiver<Job>, stats: Arc<WriteStats>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut delivers = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        stats.batch(batch.len());
        let result = run_batch(&mut conn, &mut batch, &mut delivers);
        if result.is_err() && !conn.is_autocommit() {
            // Leave the connection clean for the next batch; the error is what callers get.
            let _ = conn.execute_batch("ROLLBACK");
        }
        // Jobs the failure kept from running drop their result channel: the caller sees
        // "unavailable".
        batch.clear();
        if let Err(e) = &result {
            tracing::error!(error = %e, jobs = delivers.len(), "SQLite write batch failed");
        }
        for d in delivers.drain(..) {
            d(result.as_ref().map(|_| ()));
        }
    }
}

fn exec(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(
    conn: &mut rusqlite::Connection,
    batch: &mut Vec<Job>,
    delivers: &mut Vec<Deliver>,
) -> StoreResult<()> {
    // IMMEDIATE: take the write lock now (waiting through the busy timeout if the other writer
    // has it), not at the first write, where a stale read snapshot would fail at once.
    exec(conn, "BEGIN IMMEDIATE")?;
    if batch.len() == 1 {
        // Alone: no savepoint needed, the transaction is the job's.
        let (keep, deliver) = (batch.pop().expect("one job"))(conn);
        delivers.push(deliver);
        if !keep {
            exec(conn, "ROLLBACK")?;
            return Ok(());
        }
    } else {
        for j in batch.drain(..) {
            exec(conn, "SAVEPOINT job")?;
            let (keep, deliver) = j(conn);
            delivers.push(deliver);
            if !keep {
                exec(conn, "ROLLBACK TO job")?;
            }
            exec(conn, "RELEASE job")?;
        }
    }
    exec(conn, "COMMIT")?;
    Ok(())
}

impl SqliteStore {
    /// Queue a write job for the next group commit; its value once the batch is durable. The
    /// job's future must be ready at once (see `exec.rs`): the writer thread does not park.
    async fn run_write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut rusqlite::Connection) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + 'static,
    {
        let (done, result) = oneshot::channel::<StoreResult<T>>();
        let j: Job = Box::new(move |conn| match futures::executor::block_on(f(conn)) {
            Ok((value, keep)) => (
                keep,
                Box::new(move |batch: Result<(), &StoreError>| {
                    let _ = done.send(batch.map(|_| value).map_err(batch_error));
                }) as Deliver,
            ),
            Err(e) => (
                false,
                Box::new(move |_: Result<(), &StoreError>| {
                    let _ = done.send(Err(e));
                }) as Deliver,
            ),
        });
        // Never block a runtime thread on a full queue: shed the load (503 + Retry-After).
        self.jobs.try_send(j).map_err(|e| match e {
            TrySendError::Full(_) => {
                StoreError::Unavailable("the SQLite writer's queue is full".into())
            }
            TrySendError::Disconnected(_) => {
                StoreError::Unavailable("the SQLite writer has stopped".into())
            }
        })?;
        result.await.map_err(|_| {
            StoreError::Unavailable("the SQLite write batch failed; see the log".into())
        })?
    }
}

impl SqliteStore {
    /// Run `f` on an inline read-only connection (see `inline_readers`).
    fn read_inline<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let idle = self.inline_readers.lock().ok().and_then(|mut v| v.pop());
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = rusqlite::Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                // Short: this blocks a runtime thread. WAL readers only wait on rare recovery.
                c.busy_timeout(Duration::from_secs(2))?;
                c
            }
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.inline_readers.lock()
            && idle.len() < INLINE_READERS
        {
            idle.push(conn);
        }
        Ok(result?)
    }

    async fn turn_context_row(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<super::TurnContextRow>> {
        use rusqlite::OptionalExtension;
        self.read_inline(|conn| {
            conn.prepare_cached(super::sql::TURN_CONTEXT)?
                .query_row(
                    rusqlite::named_params! {"$1": channel, "$2": session_key},
                    |r| {
                        Ok(super::TurnContextRow {
                            conversation: super::exec::conversation_row(r)?,
                            p_id: r.get(9)?,
                            p_client_code: r.get(10)?,
                            p_display_name: r.get(11)?,
                            p_created_at: r.get(12)?,
                            p_last_seen_at: r.get(13)?,
                            request_count: r.get(14)?,
                            last_survey_at: r.get(15)?,
                        })
                    },
                )
                .optional()
        })
    }
}

/// The writer thread's connection, with the pragmas the sqlx pools get.
fn open_writer(path: &Path) -> StoreResult<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // FULL: a committed turn survives power loss, not only a process crash.
    // WAL is a property of the file, set by the sqlx pool that opened (and migrated) it first.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SqliteStore {
    /// Open (creating on first run) the database file and apply migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Invalid(format!(
                    "cannot create data directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed turn survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        let conn = open_writer(path)?;
        let (jobs, rx) = sync_channel(4 * MAX_BATCH);
        let write_stats = Arc::new(WriteStats::default());
        let stats = write_stats.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || group_commit(conn, rx, stats))
            .map_err(|e| StoreError::Invalid(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self {
            writer,
            reader,
            jobs,
            inline_readers: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
            write_stats,
        })
    }
}

impl_sql_store!(SqliteStore, rusqlite::Connection, Backend::Sqlite, "");
