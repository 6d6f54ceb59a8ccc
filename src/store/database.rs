//! The database as a whole: which backend it is, whether it answers, and the seed data every
//! other role reads (the content's clients and their account managers, written at start-up).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Backend, Millis, StoreResult};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientRecord {
    pub code: String,
    pub name: String,
    pub timezone: String,
    /// JSON document with the SPA (dates, coverage, rates).
    pub spa: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManagerRecord {
    pub name: String,
    pub email: String,
    pub role: String,
    /// JSON list of contact routes.
    pub routes: String,
}

/// The hot path's writes as the group commit ran them, in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// Transactions committed or tried, each holding one or more jobs.
    pub batches: u64,
    /// Write jobs run (a turn, a new person or conversation, a request number, a request's change).
    pub jobs: u64,
    /// Batches that failed as a whole and whose jobs were run again one by one (PostgreSQL).
    pub reruns: u64,
    /// Statements that carried the rows of a batch's jobs at once (PostgreSQL: a batch's turns,
    /// `postgres/shared.rs`); 0 on SQLite.
    pub shared_statements: u64,
    /// The jobs' rows those statements carried: divided by the statements, how many turns
    /// shared one.
    pub shared_calls: u64,
}

/// Called by the wiring (`app`: seeding at start-up) and the health endpoints.
#[async_trait]
pub trait Database: Send + Sync {
    fn backend(&self) -> Backend;

    /// This replica's group-commit counters since it started (for `/metrics` and tests).
    fn write_counts(&self) -> WriteCounts;

    async fn ping(&self) -> StoreResult<()>;

    /// Insert or update a client and replace its account managers (seed data).
    async fn upsert_client(
        &self,
        client: &ClientRecord,
        managers: &[ManagerRecord],
        now: Millis,
    ) -> StoreResult<()>;
}
