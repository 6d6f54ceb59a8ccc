//! Group commit on SQLite: the hot path's write jobs of concurrent requests share one
//! transaction and one fsync.
//!
//! With `synchronous=FULL` every commit waits for an fsync (milliseconds on real disks), and
//! SQLite has one writer: one transaction per message would cap the service at a few hundred
//! messages a second. The jobs (turns, new people and conversations, request numbers) therefore
//! go to one writer thread that takes every job waiting, runs them one after another in one
//! transaction, commits once — one fsync for the batch — and only then hands each caller its
//! result. Nobody is told "done" before their data is durable; batches grow with the load.
//!
//! No savepoint per job: writing a page under a savepoint first copies it to the statement
//! journal, and that copying was a tenth of the writer's time. Isolation rests on the rules the
//! PostgreSQL group commit has (`postgres/group_commit.rs`): a job that keeps nothing has left
//! nothing (`writes/` undoes its own writes there), and a job that fails spoils the batch,
//! which is rolled back and run again one job per transaction — the job at fault gets its
//! error, the others their result. Jobs are therefore re-runnable (`Fn`).
//!
//! **Checkpoints.** SQLite's automatic checkpoint runs inside the commit that takes the WAL
//! past a thousand pages: every caller of that batch would wait while pages are copied back
//! into the database file and it is fsynced. The writer checkpoints instead once it has
//! answered a batch, at most every [`CHECKPOINT_EVERY`]: a page that a hundred batches wrote
//! is copied once, and no caller waits for it (the next batch gathers meanwhile).
//!
//! The thread owns a `rusqlite` connection and runs the jobs (`writes/`, through `exec.rs`)
//! as plain calls: through sqlx-sqlite every statement was a hand-off to the connection's worker
//! thread and back, and those futex wake-ups were most of the server's CPU under load.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::oneshot;

use crate::store::exec::{JobOutcome, Ran, WriteStats};
use crate::store::{StoreError, StoreResult};

/// At most this many jobs share a transaction.
const MAX_BATCH: usize = 1024;
/// Jobs waiting beyond this are refused (503) rather than queued without bound.
const QUEUE: usize = 4 * MAX_BATCH;
/// The writer's WAL checkpoints are at least this far apart (see the module doc).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// A queued write job: runnable more than once, answered once.
trait Job: Send {
    fn run(&self, conn: &mut rusqlite::Connection) -> Ran;
    /// Answer the caller: `committed` is the fate of the transaction that ran it last.
    fn deliver(self: Box<Self>, committed: Result<(), &StoreError>);
}

struct Typed<T, F> {
    f: F,
    outcome: JobOutcome<T>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut rusqlite::Connection) -> BoxFuture<'c, StoreResult<(T, bool)>>
        + Send
        + 'static,
{
    fn run(&self, conn: &mut rusqlite::Connection) -> Ran {
        // Ready at once (see `exec.rs`): the thread never parks here.
        self.outcome
            .record(futures::executor::block_on((self.f)(conn)))
    }

    fn deliver(self: Box<Self>, committed: Result<(), &StoreError>) {
        self.outcome.deliver(committed);
    }
}

/// The callers' side: queue a job, get its value once its transaction has committed.
pub(super) struct GroupCommit {
    jobs: SyncSender<Box<dyn Job>>,
}

impl GroupCommit {
    /// Start the writer thread on `conn`; it runs until the store is dropped.
    pub fn start(conn: rusqlite::Connection, stats: Arc<WriteStats>) -> StoreResult<Self> {
        let (jobs, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(conn, rx, stats))
            .map_err(|e| StoreError::Invalid(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Queue a write job for the next group commit now; its value, as a future, once the batch
    /// is durable. `f` may run more than once; only the last run's writes are kept. Its future
    /// must be ready at once (see `exec.rs`): the writer thread does not park. Jobs run in the
    /// order they were queued, one after another, so a job queued after another sees what that
    /// one wrote.
    pub fn queue<T, F>(&self, f: F) -> StoreResult<BoxFuture<'static, StoreResult<T>>>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut rusqlite::Connection) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + 'static,
    {
        let (done, answer) = oneshot::channel::<StoreResult<T>>();
        let job = Box::new(Typed {
            f,
            outcome: JobOutcome::new(done),
        });
        // Never block a runtime thread on a full queue: shed the load (503 + Retry-After).
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => {
                StoreError::Unavailable("the SQLite writer's queue is full".into())
            }
            TrySendError::Disconnected(_) => {
                StoreError::Unavailable("the SQLite writer has stopped".into())
            }
        })?;
        Ok(Box::pin(async move {
            answer.await.map_err(|_| {
                StoreError::Unavailable("the SQLite write batch failed; see the log".into())
            })?
        }))
    }
}

/// The writer thread: batches until every sender (the store) is gone. A thread of its own with
/// a synchronous connection: each statement is a plain function call, where an async driver
/// would hand it to another thread and back.
fn writer(mut conn: rusqlite::Connection, rx: Receiver<Box<dyn Job>>, stats: Arc<WriteStats>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    let mut checkpointed = Instant::now();
    while let Ok(first) = rx.recv() {
        run_batch(&mut conn, &mut batch, first, &rx, &stats);
        if checkpointed.elapsed() >= CHECKPOINT_EVERY {
            checkpoint(&conn);
            checkpointed = Instant::now();
        }
    }
}

/// Checkpoint what the WAL holds, waiting for neither readers nor other writers.
fn checkpoint(conn: &rusqlite::Connection) {
    let r = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match r {
        Ok((frames, copied)) => tracing::trace!(frames, copied, "WAL checkpoint"),
        Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; trying again later"),
    }
}

/// Gather what is waiting behind `first`, run it, answer everyone.
fn run_batch(
    conn: &mut rusqlite::Connection,
    batch: &mut Vec<Box<dyn Job>>,
    first: Box<dyn Job>,
    rx: &Receiver<Box<dyn Job>>,
    stats: &WriteStats,
) {
    batch.push(first);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
    stats.batch(batch.len());
    if batch.len() > 1 {
        match together(conn, batch) {
            Ok(()) => {
                batch.drain(..).for_each(|job| job.deliver(Ok(())));
                return;
            }
            Err(e) if e.is_unavailable() => {
                tracing::error!(error = %e, jobs = batch.len(), "SQLite write batch failed");
                batch.drain(..).for_each(|job| job.deliver(Err(&e)));
                return;
            }
            Err(e) => {
                stats.rerun();
                tracing::warn!(error = %e, jobs = batch.len(),
                    "SQLite write batch failed; running its jobs one by one");
            }
        }
    }
    for job in batch.drain(..) {
        let committed = alone(conn, job.as_ref());
        if let Err(e) = &committed {
            tracing::error!(error = %e, "SQLite write job failed");
        }
        job.deliver(committed.as_ref().map(|_| ()));
    }
}

fn exec(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Leave the connection clean for the next transaction; the error is what callers get.
fn rollback(conn: &rusqlite::Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Every job in one transaction; committed only when each kept its writes or left nothing.
fn together(conn: &mut rusqlite::Connection, batch: &[Box<dyn Job>]) -> StoreResult<()> {
    // IMMEDIATE: take the write lock now (waiting through the busy timeout if the other writer
    // has it), not at the first write, where a stale read snapshot would fail at once.
    exec(conn, "BEGIN IMMEDIATE")?;
    let mut failed = false;
    for job in batch {
        // Stop at the first failure: the rest run again alone anyway, and after some errors
        // (a full disk) SQLite has already ended the transaction — what ran after would
        // commit on its own.
        if job.run(conn) == Ran::Failed || conn.is_autocommit() {
            failed = true;
            break;
        }
    }
    let result = if failed {
        Err(StoreError::Invalid("a write job failed".into()))
    } else {
        exec(conn, "COMMIT").map_err(StoreError::from)
    };
    if result.is_err() {
        rollback(conn);
    }
    result
}

/// One job in a transaction of its own.
fn alone(conn: &mut rusqlite::Connection, job: &dyn Job) -> StoreResult<()> {
    exec(conn, "BEGIN IMMEDIATE")?;
    match job.run(conn) {
        Ran::Keep if conn.is_autocommit() => Err(StoreError::Unavailable(
            "SQLite ended the transaction; see the log".into(),
        )),
        Ran::Keep => exec(conn, "COMMIT").map_err(|e| {
            rollback(conn);
            StoreError::from(e)
        }),
        // Its answer is its own error or outcome; nothing of it stays.
        Ran::Clean | Ran::Failed => {
            rollback(conn);
            Ok(())
        }
    }
}
