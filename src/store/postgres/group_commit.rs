//! Group commit on PostgreSQL: the hot path's write jobs of concurrent requests share one
//! transaction and one commit per flush.
//!
//! A few writer tasks each own a pipelined connection ([`Connection`]). A writer takes every job
//! waiting (up to [`MAX_BATCH`]), sends `BEGIN`, runs the jobs **side by side** on the one
//! connection, commits once and only then answers each caller: a 200 still means the message
//! and everything its turn wrote are durable (`synchronous_commit` is left as the server has
//! it, on by default). While one writer waits for PostgreSQL, the next gathers the jobs that
//! arrived meanwhile, so batches grow with the load and an idle server answers a lone job at
//! once.
//!
//! Side by side, the jobs' statements interleave in the pipeline: every job's first statement
//! goes out in one write, then every job's second, and so on, so a batch of a hundred turns
//! costs about the round trips of one. Savepoints cannot isolate interleaved jobs (they nest),
//! so isolation rests on two rules instead:
//! - a job that keeps nothing (a duplicate message, a lost version race) has written nothing
//!   that stays — `writes/` undoes its own writes where it made some;
//! - any error (a stale request among them) fails the whole transaction (PostgreSQL refuses everything after it), so the
//!   writer rolls it back and runs that batch's jobs again **one by one**, each in its own
//!   transaction: the job at fault gets its error, the others their result. Jobs are therefore
//!   re-runnable (`Fn`), and nobody is answered before the transaction holding their writes
//!   has committed.
//!
//! A writer whose connection is lost reconnects on its next batch; the jobs of a batch that
//! cannot run are answered "unavailable" (503 + `Retry-After`), never "done".

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::connection::Connection;
use super::pipe::{Pipe, Target};
use super::shared::Shared;
use crate::store::exec::{JobOutcome, Ran, WriteStats};
use crate::store::{StoreError, StoreResult};

/// At most this many jobs share a transaction.
const MAX_BATCH: usize = 256;
/// Jobs waiting beyond this are refused (503) rather than queued without bound.
const QUEUE: usize = 4096;

/// A queued write job: runnable more than once (see the module doc), answered once.
trait Job: Send + Sync {
    fn run<'c>(&'c self, pipe: &'c mut Pipe) -> BoxFuture<'c, Ran>;
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
    F: for<'c> Fn(&'c mut Pipe) -> BoxFuture<'c, StoreResult<(T, bool)>> + Send + Sync + 'static,
{
    fn run<'c>(&'c self, pipe: &'c mut Pipe) -> BoxFuture<'c, Ran> {
        Box::pin(async move {
            let r = (self.f)(pipe).await;
            // The statements it sent ahead must have worked too.
            let r = match (r, pipe.settle().await) {
                (Ok(v), Ok(())) => Ok(v),
                (Ok(_), Err(e)) | (Err(e), _) => Err(e),
            };
            self.outcome.record(r)
        })
    }

    fn deliver(self: Box<Self>, committed: Result<(), &StoreError>) {
        self.outcome.deliver(committed);
    }
}

/// The callers' side: queue a job, get its value once its transaction has committed.
pub struct GroupCommit {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl GroupCommit {
    /// Start `writers` writer tasks. The first connection is made here, so a wrong URL fails at
    /// start rather than on the first message.
    pub async fn start(
        target: Target,
        writers: usize,
        stats: Arc<WriteStats>,
    ) -> StoreResult<Self> {
        let first = connect(&target).await?;
        let (jobs, rx) = mpsc::channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let mut first = Some(first);
        for _ in 0..writers.max(1) {
            tokio::spawn(writer(
                target.clone(),
                first.take(),
                Arc::clone(&rx),
                stats.clone(),
            ));
        }
        Ok(Self { jobs })
    }

    /// Queue a write job for the next group commit now; its value, as a future, once the batch
    /// is durable. `f` may run more than once (see the module doc); only the last run's writes
    /// are kept. Jobs are taken in the order they were queued, but two batches may run at once
    /// on different writers: a job queued after another is not sure to see what that one wrote
    /// unless they share a batch.
    pub fn queue<T, F>(&self, f: F) -> StoreResult<BoxFuture<'static, StoreResult<T>>>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Pipe) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + Sync
            + 'static,
    {
        let (done, answer) = oneshot::channel::<StoreResult<T>>();
        let job = Box::new(Typed {
            f,
            outcome: JobOutcome::new(done),
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                StoreError::Unavailable("the PostgreSQL writers' queue is full".into())
            }
            mpsc::error::TrySendError::Closed(_) => {
                StoreError::Unavailable("the PostgreSQL writers have stopped".into())
            }
        })?;
        Ok(Box::pin(async move {
            answer.await.map_err(|_| {
                StoreError::Unavailable("the PostgreSQL write batch failed; see the log".into())
            })?
        }))
    }
}

/// How the writers' statements are planned. Each touches a few rows by key, but PostgreSQL
/// makes a prepared statement's generic plan once per connection, for the sizes the tables
/// have then: the turns of a batch (`writes/turn.rs`, `TURNS`), prepared while the tables
/// were small, were planned as hash joins over sequential scans and stayed so as the tables
/// grew — after 8 s of wrk, 37% of PostgreSQL's CPU went to building those hashes. Without
/// sequential scans, hash or merge joins, the plans are index lookups in nested loops, right at
/// any size; the joins between a statement's own lists are of a batch's rows (at most
/// [`MAX_BATCH`]).
const WRITER_PLANS: &str =
    "SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off";

/// A writer's connection, its planner set as [`WRITER_PLANS`] says.
async fn connect(target: &Target) -> StoreResult<Arc<Connection>> {
    let conn = target.connect().await?;
    conn.client.batch_execute(WRITER_PLANS).await?;
    Ok(conn)
}

/// One writer: gathers a batch, (re)connects when needed, runs it.
async fn writer(
    target: Target,
    mut conn: Option<Arc<Connection>>,
    rx: Arc<Mutex<mpsc::Receiver<Box<dyn Job>>>>,
    stats: Arc<WriteStats>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            // Holding the receiver while waiting: the other writers queue behind it, and the
            // first free writer takes whatever arrived while the others were busy.
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return; // the store is gone
            }
        }
        if conn.as_ref().is_none_or(|c| c.is_closed()) {
            conn = match tokio::time::timeout(Duration::from_secs(3), connect(&target)).await {
                Ok(Ok(c)) => Some(c),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "PostgreSQL writer cannot connect");
                    None
                }
                Err(_) => {
                    tracing::warn!("PostgreSQL writer: connecting timed out");
                    None
                }
            };
        }
        tracing::trace!(jobs = batch.len(), "PostgreSQL write batch");
        match &conn {
            Some(c) => {
                stats.batch(batch.len());
                run_batch(c, std::mem::take(&mut batch), &stats).await
            }
            None => {
                let e = StoreError::Unavailable("PostgreSQL is unreachable".into());
                for job in batch.drain(..) {
                    job.deliver(Err(&e));
                }
            }
        }
    }
}

/// Run a batch side by side in one transaction; if anything failed, one by one.
async fn run_batch(conn: &Arc<Connection>, batch: Vec<Box<dyn Job>>, stats: &WriteStats) {
    if batch.len() > 1 {
        match side_by_side(conn, &batch, stats).await {
            Ok(()) => {
                for job in batch {
                    job.deliver(Ok(()));
                }
                return;
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, jobs = batch.len(), "PostgreSQL write batch failed");
                for job in batch {
                    job.deliver(Err(&e));
                }
                return;
            }
            Err(e) => {
                stats.rerun();
                tracing::warn!(error = %e, jobs = batch.len(),
                    "PostgreSQL write batch failed; running its jobs one by one");
            }
        }
    }
    for job in batch {
        let committed = one_by_one(conn, job.as_ref()).await;
        if let Err(e) = &committed {
            tracing::error!(error = %e, "PostgreSQL write job failed");
        }
        job.deliver(committed.as_ref().map(|_| ()));
    }
}

/// Every job at once in one transaction; committed only when every job kept its writes or left
/// nothing behind.
async fn side_by_side(
    conn: &Arc<Connection>,
    batch: &[Box<dyn Job>],
    stats: &WriteStats,
) -> StoreResult<()> {
    let mut control = Pipe::new(conn);
    control.send("BEGIN", &[]).await?;
    // The jobs' turns go as one statement (`shared.rs`).
    let shared = Shared::new(conn);
    let runs = shared
        .drive(join_all(batch.iter().map(|job| {
            let shared = &shared;
            async move {
                let mut pipe = Pipe::sharing(conn, shared);
                job.run(&mut pipe).await
            }
        })))
        .await;
    let (statements, calls) = shared.sent();
    stats.shared(statements, calls);
    let begun = control.settle().await;
    let result = if let Err(e) = begun {
        Err(e)
    } else if runs.contains(&Ran::Failed) {
        Err(StoreError::Invalid("a write job failed".into()))
    } else {
        control.send("COMMIT", &[]).await?;
        control.settle().await
    };
    if result.is_err() {
        rollback(conn).await;
    }
    result
}

/// One job in a transaction of its own.
async fn one_by_one(conn: &Arc<Connection>, job: &dyn Job) -> StoreResult<()> {
    let mut control = Pipe::new(conn);
    control.send("BEGIN", &[]).await?;
    let mut pipe = Pipe::new(conn);
    let ran = job.run(&mut pipe).await;
    control.settle().await?;
    match ran {
        Ran::Keep => {
            control.send("COMMIT", &[]).await?;
            control.settle().await
        }
        // Its answer is its own error or outcome; nothing of it stays.
        Ran::Clean | Ran::Failed => {
            rollback(conn).await;
            Ok(())
        }
    }
}

/// Roll back a transaction that is not to be committed, leaving the connection clean for the
/// next.
async fn rollback(conn: &Arc<Connection>) {
    let mut control = Pipe::new(conn);
    if control.send("ROLLBACK", &[]).await.is_ok() {
        let _ = control.settle().await;
    }
}
