//! SQLite backend: the embedded default. One file under the data directory, WAL mode.
//!
//! **Group commit.** With `synchronous=FULL` every commit waits for an fsync (milliseconds on
//! real disks), and SQLite has one writer: one transaction per message would cap the service at
//! a few hundred messages a second. The hot path's writes (`run_write` jobs: turns, new people
//! and conversations, request numbers) therefore go to one writer task that takes every job
//! waiting, runs each in its own savepoint (so one job's conflict or error rolls back only its
//! own writes) inside one transaction, commits once — one fsync for the batch — and only then
//! hands each caller its result. Nobody is told "done" before their data is durable; while one
//! batch is being synced the next one gathers, so batches grow with the load.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::Connection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};

use super::{Backend, StoreError, StoreResult, sql::impl_sql_store};

pub struct SqliteStore {
    /// One connection: SQLite has a single writer, and queueing writers in the pool is cheaper
    /// and fairer than letting several connections fight over the lock with busy retries.
    writer: SqlitePool,
    /// Readers run concurrently with the writer thanks to WAL.
    reader: SqlitePool,
    /// To the group-commit writer task.
    jobs: mpsc::Sender<Job>,
}

/// Called once the job's batch has committed (`Ok`) or failed.
type Deliver = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// A write job: runs on the writer connection inside its savepoint; says whether to keep its
/// writes, and how to deliver its result once the batch is settled.
type Job =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Deliver)> + Send>;

fn job<F>(f: F) -> Job
where
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Deliver)> + Send + 'static,
{
    Box::new(f)
}

/// At most this many jobs share a transaction.
const MAX_BATCH: usize = 1024;

/// The writer task: batches until every sender (the store) is gone.
async fn group_commit(pool: SqlitePool, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut delivers = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = run_batch(&pool, &mut batch, &mut delivers).await;
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

async fn run_batch(
    pool: &SqlitePool,
    batch: &mut Vec<Job>,
    delivers: &mut Vec<Deliver>,
) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    let mut tx = Connection::begin(&mut *conn).await?;
    if batch.len() == 1 {
        // Alone: no savepoint needed, the transaction is the job's.
        let (keep, deliver) = (batch.pop().expect("one job"))(&mut tx).await;
        delivers.push(deliver);
        if !keep {
            tx.rollback().await?;
            return Ok(());
        }
    } else {
        for j in batch.drain(..) {
            let mut sp = Connection::begin(&mut *tx).await?;
            let (keep, deliver) = j(&mut sp).await;
            delivers.push(deliver);
            if keep {
                sp.commit().await?;
            } else {
                sp.rollback().await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The caller's copy of a batch failure (each caller gets its own error value).
fn batch_error(e: &StoreError) -> StoreError {
    if e.is_unavailable() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Invalid(format!("write batch failed: {e}"))
    }
}

impl SqliteStore {
    /// Queue a write job for the next group commit; its value once the batch is durable.
    async fn run_write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + 'static,
    {
        let (done, result) = oneshot::channel::<StoreResult<T>>();
        let j = job(move |conn| {
            Box::pin(async move {
                match f(conn).await {
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
                }
            })
        });
        self.jobs
            .send(j)
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        result.await.map_err(|_| {
            StoreError::Unavailable("the SQLite write batch failed; see the log".into())
        })?
    }
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
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(writer.clone(), rx));
        Ok(Self {
            writer,
            reader,
            jobs,
        })
    }
}

impl_sql_store!(SqliteStore, SqliteConnection, Backend::Sqlite, "");
