//! Statements that the jobs of a batch share: the turns of a group commit's jobs go to
//! PostgreSQL as one statement ([`Exec::fetch_one_of_many`]).
//!
//! Why: `perf record -a` of the server under wrk had PostgreSQL's backends at half the
//! machine's CPU, and a fifth of theirs in starting and ending each statement — the executor's
//! start-up for a turn's one statement (a dozen plan nodes: four writes, the scans that join
//! them), its portal, its cached plan — whatever the statement's rows. A turn was one statement
//! of its own; a batch of them now pays that once.
//!
//! How: a job's call is only queued ([`Shared::call`]). The writer runs its jobs through
//! [`Shared::drive`], which, each time every job is waiting, sends the calls made so far: one
//! statement per prepared statement, every list argument the concatenation of the calls'. The
//! statement answers one row per call, in order, and each call gets its own. Two calls with
//! one key (two turns of one conversation) never share a statement: the second goes in a
//! statement sent after the first's, and PostgreSQL runs a connection's statements in the order
//! sent, so it sees what the first wrote.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::oneshot;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};

use super::connection::{Connection, Owned};
use crate::store::exec::{Arg, I64Pair};
use crate::store::{StoreError, StoreResult};

type Answer = StoreResult<Option<I64Pair>>;

/// The calls a batch's jobs have made and the statements sent for them.
pub struct Shared {
    conn: Arc<Connection>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Made since the last send, in the order made.
    waiting: Vec<Call>,
    /// Sent, each answering its calls once PostgreSQL has.
    running: FuturesUnordered<BoxFuture<'static, ()>>,
    /// Statements sent so far, and the calls they carried.
    sent: (u64, u64),
}

struct Call {
    /// Its text, which tells the calls of one statement.
    sql: &'static str,
    statement: Statement,
    key: String,
    args: Vec<Owned>,
    answer: oneshot::Sender<Answer>,
}

impl Shared {
    pub fn new(conn: &Arc<Connection>) -> Arc<Self> {
        Arc::new(Self {
            conn: Arc::clone(conn),
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds consistent lists.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue one row of `statement` (see [`Exec::fetch_one_of_many`]) and wait for its answer.
    /// Answered only while the batch runs under [`drive`](Self::drive).
    pub(super) async fn call(
        &self,
        sql: &'static str,
        statement: Statement,
        key: &str,
        args: &[Arg<'_>],
    ) -> Answer {
        let args: Vec<Owned> = args.iter().map(Owned::of).collect();
        if args.first().and_then(Owned::len) != Some(1) || args.iter().any(|a| a.len().is_none()) {
            return Err(StoreError::Invalid(
                "a statement shared by jobs takes only lists, the first one element long".into(),
            ));
        }
        let (answer, answered) = oneshot::channel();
        self.state().waiting.push(Call {
            sql,
            statement,
            key: key.to_owned(),
            args,
            answer,
        });
        answered.await.map_err(|_| {
            StoreError::Unavailable("a shared statement was dropped unanswered".into())
        })?
    }

    /// Statements sent so far and the calls they carried (for the write counters).
    pub fn sent(&self) -> (u64, u64) {
        self.state().sent
    }

    /// Run `jobs` (a batch's, side by side), sending the calls they made each time they all
    /// wait.
    pub async fn drive<F: Future>(&self, jobs: F) -> F::Output {
        let mut jobs = pin!(jobs);
        std::future::poll_fn(|cx| {
            loop {
                if let Poll::Ready(out) = jobs.as_mut().poll(cx) {
                    return Poll::Ready(out);
                }
                let mut state = self.state();
                self.send(&mut state);
                let mut answered = false;
                while let Poll::Ready(Some(())) = state.running.poll_next_unpin(cx) {
                    answered = true;
                }
                if !answered {
                    return Poll::Pending;
                }
                // Some jobs have their answers: let them go on before waiting.
            }
        })
        .await
    }

    /// Send the waiting calls: per round (a key's first call, its second, …), one statement per
    /// prepared statement.
    fn send(&self, state: &mut State) {
        if state.waiting.is_empty() {
            return;
        }
        let mut before: HashMap<String, usize> = HashMap::new();
        let mut rounds: Vec<Vec<Call>> = Vec::new();
        for call in state.waiting.drain(..) {
            let round = before.entry(call.key.clone()).or_insert(0);
            if rounds.len() <= *round {
                rounds.push(Vec::new());
            }
            rounds[*round].push(call);
            *round += 1;
        }
        for round in rounds {
            let mut by_statement: Vec<Vec<Call>> = Vec::new();
            for call in round {
                match by_statement
                    .iter_mut()
                    .find(|g| std::ptr::eq(g[0].sql, call.sql))
                {
                    Some(group) => group.push(call),
                    None => by_statement.push(vec![call]),
                }
            }
            for calls in by_statement {
                state.sent.0 += 1;
                state.sent.1 += calls.len() as u64;
                state.running.push(self.run(calls));
            }
        }
    }

    /// Send one statement for `calls` now; the future that answers them.
    fn run(&self, calls: Vec<Call>) -> BoxFuture<'static, ()> {
        let mut answers = Vec::with_capacity(calls.len());
        let mut args: Vec<Owned> = Vec::new();
        let statement = calls[0].statement.clone();
        let mut mismatched = false;
        for mut call in calls {
            answers.push(call.answer);
            if args.is_empty() {
                args = call.args;
            } else if args.len() == call.args.len() {
                for (list, more) in args.iter_mut().zip(call.args.iter_mut()) {
                    mismatched |= !list.append(more);
                }
            } else {
                mismatched = true;
            }
        }
        if mismatched {
            return Box::pin(async move {
                for answer in answers {
                    let _ = answer.send(Err(StoreError::Invalid(
                        "calls of one shared statement with different arguments".into(),
                    )));
                }
            });
        }
        let conn = Arc::clone(&self.conn);
        let mut query = Box::pin(async move {
            let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(Owned::sql).collect();
            conn.client.query(&statement, &refs).await
        });
        // tokio-postgres sends a request when its future is first polled: now, ahead of
        // whatever the jobs send next (see `Pipe::send`).
        let waker = futures::task::noop_waker_ref();
        let first = query.as_mut().poll(&mut Context::from_waker(waker));
        Box::pin(async move {
            let rows = match first {
                Poll::Ready(rows) => rows,
                Poll::Pending => query.await,
            };
            answer(answers, rows);
        })
    }
}

/// Give each call its row, or each the statement's error.
fn answer(answers: Vec<oneshot::Sender<Answer>>, rows: Result<Vec<Row>, tokio_postgres::Error>) {
    let rows = rows.map_err(StoreError::from).and_then(|rows| {
        if rows.len() == answers.len() {
            Ok(rows)
        } else {
            Err(StoreError::Invalid(format!(
                "a shared statement answered {} rows for {} calls",
                rows.len(),
                answers.len()
            )))
        }
    });
    match rows {
        Ok(rows) => {
            for (answer, row) in answers.into_iter().zip(rows) {
                let pair =
                    (|| Ok::<_, tokio_postgres::Error>((row.try_get(0)?, row.try_get(1)?)))();
                let _ = answer.send(pair.map(Some).map_err(StoreError::from));
            }
        }
        Err(e) => {
            // The first caller gets the error itself, the others its like: the batch is
            // rolled back and its jobs run one by one (`group_commit.rs`), each meeting its own.
            let unavailable = e.is_unavailable();
            let message = e.to_string();
            let mut first = Some(e);
            for answer in answers {
                let e = first.take().unwrap_or_else(|| {
                    if unavailable {
                        StoreError::Unavailable(message.clone())
                    } else {
                        StoreError::Invalid(message.clone())
                    }
                });
                let _ = answer.send(Err(e));
            }
        }
    }
}
