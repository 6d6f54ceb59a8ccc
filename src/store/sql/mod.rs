//! The SQL of the store, written once and compiled for both backends.
//!
//! Both dialects accept `$N` placeholders, `RETURNING`, `ON CONFLICT DO NOTHING` and the column
//! types of the migrations (BIGINT millis, TEXT JSON, BOOLEAN), so one body serves both. A macro
//! rather than generic code over `sqlx::Database`: the generic bounds for every bound type and
//! executor are longer than the queries themselves. Each backend supplies `self.writer` (the pool
//! that writes; one connection on SQLite, which has a single writer anyway), `self.reader`, and
//! `self.run_write(job)`: the hot path's writes (a turn, a new person or conversation, a request
//! number) are jobs (`writes/`, written against `exec::Exec`) run in a transaction on a `$conn`
//! — an sqlx connection with one transaction each on PostgreSQL; on SQLite the group-commit
//! writer thread's rusqlite connection, where many concurrent jobs share one transaction and one
//! fsync (`sqlite.rs`).
//! A job returns its value and whether to keep what it wrote; the caller gets the value only
//! once the transaction holding it has committed.
//!
//! One file per role trait; `impl_sql_store!` implements them all for a backend.

pub(super) mod access;
pub(super) mod announcements;
pub(super) mod channel_state;
pub(super) mod conversations;
pub(super) mod database;
pub(super) mod escalations;
pub(super) mod insight;
pub(super) mod outbox;
pub(super) mod requests;
pub(super) mod reviews;
pub(super) mod rollout;

pub(crate) use conversations::{PROCESSED_REPLIES, TURN_CONTEXT};

/// `SELECT <every column of RequestRow>` followed by the rest of the statement, so the column
/// list is written once for every query that reads requests.
macro_rules! select_requests {
    ($rest:literal) => {
        concat!(
            "SELECT id, reference, conversation_id, person_id, client_code, service_id, status, priority,
                    inputs, opened_at, due_at, closed_at, off_hours, assignee, external_id, updated_at,
                    waiting_since, client_due_at, waited_ms, waited_business_ms, client_waits, client_late,
                    reopened, first_done_at",
            $rest
        )
    };
}

pub(crate) use select_requests;

/// `SELECT <every column of EscalationRow>` followed by the rest of the statement.
macro_rules! select_escalations {
    ($rest:literal) => {
        concat!(
            "SELECT id, conversation_id, person_id, client_code, request_reference, reason, priority, status,
                    level, manager_id, created_at, due_at, next_ping_at, acknowledged_at, acknowledged_by,
                    first_response_at, resolved_at, off_hours, draft, draft_verdict",
            $rest
        )
    };
}

pub(crate) use select_escalations;

macro_rules! impl_sql_store {
    // `$skip_locked`: the row-locking clause of the outbox claim (see `outbox.rs`).
    ($store:ty, $conn:ty, $backend:expr, $skip_locked:literal) => {
        $crate::store::sql::database::impl_database!($store, $backend);
        $crate::store::sql::conversations::impl_conversations!($store, $conn);
        $crate::store::sql::escalations::impl_escalations!($store);
        $crate::store::sql::outbox::impl_outbox!($store, $skip_locked);
        $crate::store::sql::access::impl_access!($store);
        $crate::store::sql::channel_state::impl_channel_state!($store);
        $crate::store::sql::insight::impl_insight!($store);
        $crate::store::sql::requests::impl_requests!($store, $conn);
        $crate::store::sql::rollout::impl_rollouts!($store);
        $crate::store::sql::reviews::impl_reviews!($store);
        $crate::store::sql::announcements::impl_announcements!($store);
    };
}

pub(crate) use impl_sql_store;
