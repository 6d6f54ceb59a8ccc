//! The seam the hot path's write jobs (`writes/`) are written against, so each is
//! written once for two very different executors:
//!
//! - PostgreSQL: a pipelined tokio-postgres connection of the group commit
//!   (`postgres/pipe.rs`): statements the job does not read the answer of ([`Exec::queue`]) go
//!   out without waiting, and a turn's own rows are one statement ([`Exec::modifying_ctes`]);
//! - SQLite: a `rusqlite` connection owned by the group-commit writer thread (`sqlite/`).
//!   Its futures are ready at once — the statement ran before the future was made — so the
//!   thread drives a job with `block_on` and never parks. sqlx-sqlite would hand every
//!   statement to its own worker thread and back: under load those futex hand-offs were most
//!   of the server's CPU (see the README's "Performance and reliability").
//!
//! Placeholders are `$N` in both dialects. They are bound **by name** on SQLite: SQLite numbers
//! `$N` parameters in order of first appearance, not by N, so positional binding would be wrong
//! for SQL that mentions `$2` before `$1`.

use futures::future::{BoxFuture, FutureExt, ready};

use super::{ConversationRow, Person, StoreError, StoreResult};

/// A bound value. Typed, so PostgreSQL gets the parameter types its columns have.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<&'a str>),
    Bool(bool),
    /// Lists, for `unnest` on PostgreSQL (see [`Exec::modifying_ctes`]); SQLite refuses them.
    Ints(&'a [Option<i64>]),
    Reals(&'a [Option<f64>]),
    Texts(&'a [Option<&'a str>]),
    Bools(&'a [bool]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<Option<f64>> for Arg<'_> {
    fn from(v: Option<f64>) -> Self {
        Arg::Real(v)
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(v))
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref())
    }
}

/// Two integer columns of a row, either possibly NULL (see [`Exec::fetch_i64_pair`]).
pub type I64Pair = (Option<i64>, Option<i64>);

/// `args![a, b, ...]`: a slice of [`Arg`]s.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::store::exec::Arg::from($v)),*] };
}
pub(crate) use args;

/// What a write job needs from a connection inside its transaction.
pub trait Exec: Send {
    /// Whether this executor's SQL has data-modifying `WITH` (PostgreSQL's does, SQLite's has
    /// not), so a job may write several tables in one statement. On PostgreSQL every statement
    /// is a message each way and a backend wake-up; in process (SQLite) a statement costs
    /// about what its work does, and a job there writes step by step.
    fn modifying_ctes(&self) -> bool {
        false
    }
    /// Run a statement; the number of rows it changed.
    fn execute<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<u64>>;
    /// Run a statement whose outcome the job does not look at. A pipelining executor sends it
    /// and goes on: its error, if any, surfaces when the job's savepoint is settled. The job
    /// must not depend on its effect being visible before the next statement it sends.
    fn queue<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.execute(sql, args).map(|r| r.map(|_| ())).boxed()
    }
    /// The first column of the first row as an integer (`RETURNING id`, counters), if any row.
    fn fetch_i64<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<i64>>>;
    /// Insert one row with `sql`, an `INSERT … RETURNING id` (the clause last): the new row's
    /// id, or `None` when it inserted nothing (`ON CONFLICT DO NOTHING`).
    fn insert_id<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<i64>>> {
        self.fetch_i64(sql, args)
    }
    /// The first two columns of the first row, as integers, if any row.
    fn fetch_i64_pair<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<I64Pair>>>;
    /// Run a statement written for many rows at once: every argument a list, one answer row
    /// per element of the first list, in order. This call gives it one row (the first list
    /// one long) keyed by `key`, and answers the first two columns of that row. An executor
    /// that runs many jobs side by side (PostgreSQL's group commit) may send the calls of
    /// several as one statement, each list the concatenation of theirs: a statement costs
    /// PostgreSQL most of what a turn does, whatever its rows (see `postgres/shared.rs`). Calls
    /// with the same key never share a statement, and run in the order they were made, so a
    /// statement's rows must not depend on each other except through their keys.
    fn fetch_one_of_many<'a>(
        &'a mut self,
        sql: &'static str,
        key: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<I64Pair>>> {
        let _ = key;
        self.fetch_i64_pair(sql, args)
    }
    /// `id, client_code, display_name, created_at, last_seen_at`.
    fn fetch_person<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<Person>>>;
    /// The columns of [`ConversationRow`], in its order.
    fn fetch_conversation<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<ConversationRow>>>;
}

/// The group commit's counters, bumped by the writer (see [`super::WriteCounts`]).
#[derive(Debug, Default)]
pub(super) struct WriteStats {
    batches: std::sync::atomic::AtomicU64,
    jobs: std::sync::atomic::AtomicU64,
    reruns: std::sync::atomic::AtomicU64,
    shared_statements: std::sync::atomic::AtomicU64,
    shared_calls: std::sync::atomic::AtomicU64,
}

impl WriteStats {
    pub(super) fn batch(&self, jobs: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.batches.fetch_add(1, Relaxed);
        self.jobs.fetch_add(jobs as u64, Relaxed);
    }
    pub(super) fn rerun(&self) {
        self.reruns
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    /// `statements` sent for `calls` jobs' rows (PostgreSQL, `postgres/shared.rs`).
    pub(super) fn shared(&self, statements: u64, calls: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.shared_statements.fetch_add(statements, Relaxed);
        self.shared_calls.fetch_add(calls, Relaxed);
    }
    pub(super) fn counts(&self) -> super::WriteCounts {
        use std::sync::atomic::Ordering::Relaxed;
        super::WriteCounts {
            batches: self.batches.load(Relaxed),
            jobs: self.jobs.load(Relaxed),
            reruns: self.reruns.load(Relaxed),
            shared_statements: self.shared_statements.load(Relaxed),
            shared_calls: self.shared_calls.load(Relaxed),
        }
    }
}

/// What running a write job once came to (both backends' group commits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ran {
    /// Its writes are to be committed.
    Keep,
    /// It keeps nothing and left nothing behind (a duplicate, a conflict).
    Clean,
    /// An error: what it wrote, if anything, must not stay. A stale request may come after the
    /// job's first writes (a turn's request update), so it is not clean either.
    Failed,
}

/// A queued write job's last result and its caller. A job may run more than once (a failed
/// batch is re-run one job per transaction) and is answered once.
pub(super) struct JobOutcome<T> {
    result: std::sync::Mutex<Option<StoreResult<(T, bool)>>>,
    done: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T> JobOutcome<T> {
    pub(super) fn new(done: tokio::sync::oneshot::Sender<StoreResult<T>>) -> Self {
        Self {
            result: std::sync::Mutex::new(None),
            done,
        }
    }

    /// Keep a run's result (replacing an earlier run's); what it came to.
    pub(super) fn record(&self, r: StoreResult<(T, bool)>) -> Ran {
        let ran = match &r {
            Ok((_, true)) => Ran::Keep,
            Ok((_, false)) => Ran::Clean,
            Err(_) => Ran::Failed,
        };
        if let Ok(mut slot) = self.result.lock() {
            *slot = Some(r);
        }
        ran
    }

    /// Answer the caller: `committed` is the fate of the transaction that ran the job last.
    pub(super) fn deliver(self, committed: Result<(), &StoreError>) {
        let answer = match (self.result.into_inner().ok().flatten(), committed) {
            (None, Err(e)) => Err(batch_error(e)),
            (None, Ok(())) => Err(StoreError::Unavailable("the write job did not run".into())),
            // Its own error, or nothing kept: as it is, whatever the batch did.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok((value, false))), _) => Ok(value),
            (Some(Ok((value, true))), Ok(())) => Ok(value),
            (Some(Ok((_, true))), Err(e)) => Err(batch_error(e)),
        };
        let _ = self.done.send(answer);
    }
}

/// A caller's copy of its group commit's failure (each caller gets its own error value).
pub(super) fn batch_error(e: &StoreError) -> StoreError {
    if e.is_unavailable() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Invalid(format!("write batch failed: {e}"))
    }
}

/// `$1` … `$32`: parameter names, so binding allocates nothing.
const NAMES: [&str; 32] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
    "$29", "$30", "$31", "$32",
];

/// A cached prepared statement with `args` bound by name.
fn prepare<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut st = conn.prepare_cached(sql)?;
    for (i, a) in args.iter().enumerate() {
        let name = NAMES
            .get(i)
            .copied()
            .ok_or(rusqlite::Error::InvalidParameterCount(
                args.len(),
                NAMES.len(),
            ))?;
        // A parameter the statement does not mention is not an error (PostgreSQL would say);
        // every statement here uses all of its arguments.
        let Some(index) = st.parameter_index(name)? else {
            continue;
        };
        match *a {
            Arg::Int(v) => st.raw_bind_parameter(index, v)?,
            Arg::Real(v) => st.raw_bind_parameter(index, v)?,
            Arg::Text(v) => st.raw_bind_parameter(index, v)?,
            Arg::Bool(v) => st.raw_bind_parameter(index, v)?,
            Arg::Ints(_) | Arg::Reals(_) | Arg::Texts(_) | Arg::Bools(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    "a list argument: SQLite has no arrays (written for PostgreSQL's unnest)"
                        .into(),
                ));
            }
        }
    }
    Ok(st)
}

fn first_row<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    args: &[Arg<'_>],
    map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    let mut st = prepare(conn, sql, args)?;
    let mut rows = st.raw_query();
    let value = match rows.next()? {
        Some(row) => Some(map(row)?),
        None => None,
    };
    // Step to the end: an `INSERT … RETURNING` only completes its write when stepped out.
    while rows.next()?.is_some() {}
    Ok(value)
}

/// [`Exec::insert_id`] on SQLite: `sql` without its trailing `RETURNING id`, then the rowid.
fn insert_rowid(
    conn: &rusqlite::Connection,
    sql: &'static str,
    args: &[Arg<'_>],
) -> StoreResult<Option<i64>> {
    let plain = sql
        .trim_end()
        .strip_suffix("RETURNING id")
        .ok_or_else(|| StoreError::Invalid(format!("not an INSERT … RETURNING id: {sql}")))?;
    let inserted = prepare(conn, plain, args)?.raw_execute()?;
    Ok((inserted > 0).then(|| conn.last_insert_rowid()))
}

impl Exec for rusqlite::Connection {
    fn execute<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<u64>> {
        let r = prepare(self, sql, args)
            .and_then(|mut st| st.raw_execute())
            .map(|n| n as u64)
            .map_err(StoreError::from);
        ready(r).boxed()
    }

    fn fetch_i64<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<i64>>> {
        ready(first_row(self, sql, args, |r| r.get(0))).boxed()
    }

    /// Runs the insert without its `RETURNING` and answers the rowid (every table inserted
    /// this way has an `INTEGER PRIMARY KEY`, the rowid's alias). Inside a transaction SQLite
    /// gives an `INSERT … RETURNING` a statement journal (the clause is a trigger, which makes
    /// it a write that may touch several rows and abort half-way): each page the insert
    /// touched was first copied into memory allocated for the statement and freed at its end,
    /// and that freeing made glibc trim its heap, an `madvise` per turn with a TLB flush on
    /// the other core: 8% of the server's CPU under wrk (README, "Eighteenth session").
    fn insert_id<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<i64>>> {
        ready(insert_rowid(self, sql, args)).boxed()
    }

    fn fetch_i64_pair<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<I64Pair>>> {
        ready(first_row(self, sql, args, |r| Ok((r.get(0)?, r.get(1)?)))).boxed()
    }

    fn fetch_person<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<Person>>> {
        ready(first_row(self, sql, args, person_row)).boxed()
    }

    fn fetch_conversation<'a>(
        &'a mut self,
        sql: &'static str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, StoreResult<Option<ConversationRow>>> {
        ready(first_row(self, sql, args, conversation_row)).boxed()
    }
}

/// A [`Person`] from the first five columns of a rusqlite row.
pub fn person_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        id: r.get(0)?,
        client_code: r.get(1)?,
        display_name: r.get(2)?,
        created_at: r.get(3)?,
        last_seen_at: r.get(4)?,
    })
}

/// A [`ConversationRow`] from the first nine columns of a rusqlite row.
pub fn conversation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConversationRow> {
    Ok(ConversationRow {
        id: r.get(0)?,
        channel: r.get(1)?,
        session_key: r.get(2)?,
        person_id: r.get(3)?,
        client_code: r.get(4)?,
        state: r.get(5)?,
        version: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::Exec;
    use crate::store::StoreError;

    const INSERT: &str = "INSERT INTO t (key, note) VALUES ($1, $2)
         ON CONFLICT (key) DO NOTHING
         RETURNING id";

    fn table() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().expect("in-memory SQLite");
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
                note TEXT);
             INSERT INTO t (key) VALUES ('before');",
        )
        .expect("schema");
        conn
    }

    /// SQLite's `insert_id` drops the `RETURNING` and reads the rowid: the id it answers is the
    /// row's, and a row it skipped answers none, even right after one it inserted.
    #[tokio::test]
    async fn an_insert_answers_its_rows_id_and_a_skipped_one_none() {
        let mut conn = table();
        let first = conn
            .insert_id(INSERT, args!["a", "one"])
            .await
            .expect("insert");
        let second = conn
            .insert_id(INSERT, args!["b", "two"])
            .await
            .expect("insert");
        let again = conn
            .insert_id(INSERT, args!["a", "three"])
            .await
            .expect("insert");
        let id_of = |key: &str| -> i64 {
            conn.query_row("SELECT id FROM t WHERE key = ?1", [key], |r| r.get(0))
                .expect("row")
        };
        assert_eq!(first, Some(id_of("a")));
        assert_eq!(second, Some(id_of("b")));
        assert_eq!(id_of("a"), 2, "after the row inserted by the schema");
        assert_eq!(again, None, "the conflicting insert wrote nothing");
        let note: String = conn
            .query_row("SELECT note FROM t WHERE key = 'a'", [], |r| r.get(0))
            .expect("row");
        assert_eq!(note, "one");
    }

    #[tokio::test]
    async fn an_insert_without_returning_id_is_refused_before_it_runs() {
        let mut conn = table();
        let err = conn
            .insert_id("INSERT INTO t (key) VALUES ($1)", args!["c"])
            .await
            .expect_err("no RETURNING id");
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("RETURNING id")),
            "{err}"
        );
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 1, "nothing was inserted");
    }
}
