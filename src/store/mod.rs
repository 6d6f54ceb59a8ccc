//! The store: the one seam between SQLite and PostgreSQL.
//!
//! Everything above this module talks to `dyn Store`, or to the one role it needs. The SQL lives
//! once, in `sql/` (a file per role), and is compiled for both backends by a macro; the
//! conformance suite in `tests/store.rs` runs it against both so the two dialects cannot drift.
//! Queries are runtime `sqlx::query` strings: no database is needed at build time.
//!
//! The store's methods are cut into role traits, by who calls them, so a reader (or a caller
//! that takes `&dyn Insight`) sees the part it uses:
//!
//! - [`Database`]: backend, health, seed data (the wiring);
//! - [`Conversations`]: people, conversations, turns and what they record (the dialogue);
//! - [`Escalations`]: escalations and their re-ping ladder (the escalation worker, the queue);
//! - [`Outbox`]: messages to deliver outside a turn (the delivery workers);
//! - [`Access`]: back-office users, sessions and API tokens;
//! - [`ChannelState`]: chat adapters' cursors and link codes;
//! - [`Insight`]: the back office's reads and the `/metrics` totals;
//! - [`Requests`]: service requests after they are opened (the queue, the case system's API);
//! - [`Reviews`]: the monthly report's review by both sides (comments, actions agreed, marks).
//! - [`Announcements`]: announcements to clients' staff and their per-recipient deliveries.
//!
//! [`Store`] is their sum, implemented for every type that has all of them: `Arc<dyn Store>` is
//! what the wiring holds and hands out.

mod access;
mod announcements;
mod channel_state;
mod conversations;
mod database;
mod escalations;
mod exec;
mod insight;
mod outbox;
mod postgres;
mod requests;
mod reviews;
mod rollout;
mod sql;
mod sqlite;
mod writes;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use access::{Access, ApiTokenRow, NewUser, UserRow};
pub use announcements::{
    AnnouncementRow, Announcements, AudienceMember, DeliveryCounts, DeliveryRow, DeliveryStatus,
    NewAnnouncement, NewDelivery, OUTBOX_KIND as ANNOUNCEMENT_OUTBOX_KIND, Pacing,
};
pub use channel_state::ChannelState;
pub use conversations::{
    ConversationRow, Conversations, IdentityClaim, InputCollectionRow, MessageRow, NewMessage,
    Person, QueuedTurn, Record, SurveyRow, Turn, TurnContext, TurnContextRow, TurnOpening,
    TurnOutcome,
};
pub use database::{ClientRecord, Database, ManagerRecord, WriteCounts};
pub use escalations::{EscalationAction, EscalationRow, Escalations};
pub use insight::{GapFact, GapRow, Insight, LATENCY_BUCKETS_US, LedgerRow, PeriodFacts, Totals};
pub use outbox::{NewPing, Outbox, OutboxFinish, OutboxRow};
pub use postgres::PgStore;
pub use requests::{
    NewRequestEvent, RequestEventRow, RequestFilter, RequestRow, RequestUpdate, Requests,
};
pub use reviews::{NewReviewComment, ReviewCommentRow, ReviewMarkRow, Reviews};
pub use rollout::{AuditRow, RolloutRow, Rollouts};
pub use sqlite::SqliteStore;

use crate::config::DatabaseUrl;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// From the PostgreSQL group-commit writers' connections (`postgres/pipe.rs`), with its
    /// causes: tokio-postgres says "db error" or "error performing TLS handshake" and keeps the
    /// reason (the server's message, the certificate's fault) in its source.
    #[error("database error: {}", with_causes(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
    /// A conditional write found the row changed since it was read: nothing was written.
    #[error("{0}")]
    Stale(String),
}

/// An error's message followed by those of its causes that it does not already say.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !message.contains(&more) {
            message = format!("{message}: {more}");
        }
        cause = c.source();
    }
    message
}

impl StoreError {
    /// Errors where retrying later may succeed: the connection was lost or could not be made
    /// (I/O, TLS, a connection closed mid-handshake — which sqlx reports as a protocol error,
    /// e.g. "unexpected response from SSLRequest" when a restarting server hangs up), the pool
    /// is exhausted or closed, or the server says it is shutting down, starting up or full.
    /// Callers answer these with 503 + `Retry-After`; everything else is a bug (500).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|c| unavailable_code(&c)),
                _ => false,
            },
            // The group-commit writer's own connection (`sqlite.rs`): busy or locked past the
            // timeout, the disk full or failing, the file gone.
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
            ),
            // The PostgreSQL writers' connections: closed or never made (I/O), or the server
            // says so (the codes above).
            StoreError::Postgres(e) => match e.code() {
                Some(code) => unavailable_code(code.code()),
                None => {
                    e.is_closed()
                        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
                }
            },
            _ => false,
        }
    }
}

/// PostgreSQL's SQLSTATEs that mean "not now": 08xxx connection exception; 57P01-03 admin or
/// crash shutdown, cannot connect now; 53300 too many connections.
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Milliseconds since the Unix epoch, the store's one time unit.
pub type Millis = i64;

/// The whole store: every role. Implemented for any type that has them all (both backends), so
/// it adds nothing of its own; `dyn Store` can be passed where one role is asked for
/// (`&dyn Store` coerces to `&dyn Insight`).
pub trait Store:
    Database
    + Conversations
    + Escalations
    + Outbox
    + Access
    + ChannelState
    + Insight
    + Requests
    + Rollouts
    + Reviews
    + Announcements
    + 'static
{
}

impl<T> Store for T where
    T: Database
        + Conversations
        + Escalations
        + Outbox
        + Access
        + ChannelState
        + Insight
        + Requests
        + Rollouts
        + Reviews
        + Announcements
        + 'static
{
}

/// Connect to the database named by the URL (creating the SQLite file and its folder on first
/// run) and apply pending migrations.
pub async fn connect(url: &DatabaseUrl) -> StoreResult<Arc<dyn Store>> {
    if url.is_postgres() {
        Ok(Arc::new(PgStore::connect(url.expose()).await?))
    } else {
        let path = url
            .expose()
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
    }
}
