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

/// Called by the wiring (`app`: seeding at start-up) and the health endpoints.
#[async_trait]
pub trait Database: Send + Sync {
    fn backend(&self) -> Backend;

    async fn ping(&self) -> StoreResult<()>;

    /// Insert or update a client and replace its account managers (seed data).
    async fn upsert_client(
        &self,
        client: &ClientRecord,
        managers: &[ManagerRecord],
        now: Millis,
    ) -> StoreResult<()>;
}
