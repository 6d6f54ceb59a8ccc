//! SQLite backend: the embedded default. One file under the data directory, WAL mode.
//!
//! The hot path's writes go to one writer thread that commits concurrent requests' jobs
//! together (`group_commit.rs`); its reads of a few indexed rows run inline on the caller's
//! thread (`read_inline`). Everything else goes through sqlx.

mod group_commit;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::exec::WriteStats;
use super::{Backend, StoreError, StoreResult, sql::impl_sql_store};
use group_commit::GroupCommit;

pub struct SqliteStore {
    /// Writes off the hot path (seeding, the outbox worker, the back office). Its transactions
    /// all begin with a write, so they wait for the group-commit writer's lock through the busy
    /// timeout rather than failing on a stale snapshot.
    writer: SqlitePool,
    /// Readers run concurrently with the writer thanks to WAL.
    reader: SqlitePool,
    /// To the group-commit writer thread.
    jobs: GroupCommit,
    /// Read-only rusqlite connections for the hot path's reads (`turn_context`, the sender by
    /// identity), run inline on the caller's thread: a WAL read of a few indexed rows takes
    /// microseconds, less than the hand-off to an sqlx worker thread and back. The lock is held
    /// only to take or return a connection, never during a query.
    inline_readers: Mutex<Vec<rusqlite::Connection>>,
    path: PathBuf,
    write_stats: Arc<WriteStats>,
}

/// Idle inline readers kept (about one per runtime thread).
const INLINE_READERS: usize = 8;

impl SqliteStore {
    /// Queue a write job for the next group commit; its value once the batch is durable.
    async fn run_write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut rusqlite::Connection) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + 'static,
    {
        self.queue_write(f)?.await
    }

    /// [`run_write`](Self::run_write), queued now: the future is its value once durable.
    fn queue_write<T, F>(&self, f: F) -> StoreResult<BoxFuture<'static, StoreResult<T>>>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut rusqlite::Connection) -> BoxFuture<'c, StoreResult<(T, bool)>>
            + Send
            + 'static,
    {
        self.jobs.queue(f)
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

    /// The one row of `sql` keyed by (`$1`, `$2`), read inline, or none.
    fn read_keyed_row<T>(
        &self,
        sql: &'static str,
        (k1, k2): (&str, &str),
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Option<T>> {
        use rusqlite::OptionalExtension;
        self.read_inline(|conn| {
            conn.prepare_cached(sql)?
                .query_row(rusqlite::named_params! {"$1": k1, "$2": k2}, map)
                .optional()
        })
    }

    async fn turn_context_row(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<super::TurnContextRow>> {
        self.read_keyed_row(super::sql::TURN_CONTEXT, (channel, session_key), |r| {
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
        })
    }
}

impl SqliteStore {
    /// The next request number: the counter row, bumped by the writer (one writer, so the row's
    /// lock never keeps anyone waiting).
    async fn allocate_request_number(&self) -> StoreResult<i64> {
        self.run_write(|tx: &mut rusqlite::Connection| {
            Box::pin(async move { super::writes::next_request_number(tx).await })
        })
        .await
    }

    /// The session's conversation, read inline (see `inline_readers`): a web socket asks it
    /// as it joins, and through sqlx that was a hand-off to a pool thread and back.
    async fn conversation_by_session_row(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<super::ConversationRow>> {
        self.read_keyed_row(
            super::writes::CONVERSATION_BY_SESSION,
            (channel, session_key),
            super::exec::conversation_row,
        )
    }

    async fn person_by_identity_row(
        &self,
        channel: &str,
        external_id: &str,
    ) -> StoreResult<Option<super::Person>> {
        self.read_keyed_row(
            super::writes::PERSON_BY_IDENTITY,
            (channel, external_id),
            super::exec::person_row,
        )
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
    // The writer checkpoints after answering a batch (`group_commit.rs`), not inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // 64 MB of page cache (the default is 2 MB): the pages a turn's inserts touch (the right
    // edge of each table and index) stay in memory instead of being read back from the file.
    conn.pragma_update(None, "cache_size", -65536)?;
    // After a checkpoint lets the WAL start over, cut the file back to 64 MB.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
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
        let write_stats = Arc::new(WriteStats::default());
        let jobs = GroupCommit::start(open_writer(path)?, write_stats.clone())?;
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

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::store::{sql, writes};

    /// Every lookup the hot path makes by something other than a row's key is answered by an
    /// index: the tables only grow, and a statement that reads a whole one (as the survey answer
    /// did before migration 0007) gets slower with every message ever logged.
    #[tokio::test]
    async fn the_hot_paths_lookups_use_an_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("frontdoor.db"))
            .await
            .expect("store");
        for statement in [
            sql::TURN_CONTEXT,
            sql::PROCESSED_REPLIES,
            writes::PERSON_BY_IDENTITY,
            writes::SURVEY_ANSWER,
        ] {
            let plan = store
                .read_inline(|conn| {
                    // Unbound parameters are NULL: the plan does not depend on their values.
                    let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {statement}"))?;
                    let mut rows = explain.raw_query();
                    let mut steps = Vec::new();
                    while let Some(row) = rows.next()? {
                        steps.push(row.get::<_, String>(3)?);
                    }
                    Ok(steps)
                })
                .expect("plan");
            // A table step without `USING` walks the table: `SCAN t`, or `SEARCH t` for a
            // MAX() that reads backwards until a row matches (the survey answer before 0007).
            let scans: Vec<&String> = plan
                .iter()
                .filter(|step| {
                    (step.starts_with("SCAN ") || step.starts_with("SEARCH "))
                        && !step.contains(" USING ")
                        && !step.contains("CONSTANT ROW")
                })
                .collect();
            assert!(
                scans.is_empty(),
                "{statement}\nreads whole tables: {scans:?}"
            );
        }
    }
}
