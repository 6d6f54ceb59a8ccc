//! The back office's reads: the facts its KPIs, reports, statements, knowledge gaps and demand
//! views are computed from, and the totals of `/metrics`. Read-only.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::conversations::{InputCollectionRow, MessageRow, SurveyRow};
use super::escalations::EscalationRow;
use super::requests::RequestRow;
use super::{Millis, StoreResult};

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GapRow {
    pub id: i64,
    pub conversation_id: String,
    pub message_id: Option<i64>,
    pub client_code: Option<String>,
    pub kind: String,
    pub text: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct LedgerRow {
    pub id: i64,
    pub client_code: String,
    pub interaction_type: String,
    pub quantity: i64,
    pub conversation_id: Option<String>,
    pub reference: Option<String>,
    pub corrects_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: Millis,
}

/// A knowledge gap with the query it is about: the gap's own text, except for a low survey
/// score, whose text only names the score; `context` is then the conversation's latest earlier
/// client question that got an answer, a fallback, a clarification or an escalation.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct GapFact {
    pub id: i64,
    pub conversation_id: String,
    pub message_id: Option<i64>,
    pub client_code: Option<String>,
    pub kind: String,
    pub text: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub created_at: Millis,
    pub context: Option<String>,
    pub context_intent: Option<String>,
}

impl GapFact {
    /// The query the gap is about.
    pub fn query(&self) -> &str {
        match (&self.context, self.kind.as_str()) {
            (Some(c), "low_score") => c,
            _ => &self.text,
        }
    }
}

/// Everything the back office's KPIs of one client and period are computed from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeriodFacts {
    /// Inbound messages (client queries and button presses; manager relays included, flagged
    /// by their `manager_*` outcome).
    pub inbound: Vec<MessageRow>,
    pub escalations: Vec<EscalationRow>,
    pub surveys: Vec<SurveyRow>,
    pub collections: Vec<InputCollectionRow>,
    pub requests: Vec<RequestRow>,
}

/// Totals for `/metrics` (counters over the whole store, so every replica reports the same).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// (direction, outcome, count)
    pub messages: Vec<(String, String, i64)>,
    /// Inbound bot latencies: counts at or under each bound (µs), then the count and the sum.
    pub latency_buckets_us: Vec<(i64, i64)>,
    pub latency_count: i64,
    pub latency_sum_us: i64,
    /// (status, count)
    pub outbox: Vec<(String, i64)>,
    /// The case systems' webhooks among them: (status, count).
    pub request_hooks: Vec<(String, i64)>,
    pub escalations: Vec<(String, i64)>,
}

/// Latency bucket bounds for `/metrics`, in µs.
pub const LATENCY_BUCKETS_US: [i64; 8] = [
    500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000,
];

/// Called by the back office and the metrics endpoint.
#[async_trait]
pub trait Insight: Send + Sync {
    /// The facts of one client in `[from, to)` for the KPIs.
    async fn period_facts(
        &self,
        client_code: &str,
        from: Millis,
        to: Millis,
    ) -> StoreResult<PeriodFacts>;

    async fn ledger(
        &self,
        client_code: &str,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<LedgerRow>>;

    async fn gaps(&self, since: Millis) -> StoreResult<Vec<GapRow>>;

    /// Knowledge gaps recorded in `[from, to)`, of one client or all, oldest first, each with
    /// the query it is about (see [`GapFact::query`]).
    async fn gap_facts(
        &self,
        client_code: Option<&str>,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<GapFact>>;

    /// When a client's inbound client messages (manager relays and request updates excluded,
    /// as the KPIs' volume) arrived in `[from, to)`, oldest first: the demand series.
    async fn inbound_times(
        &self,
        client_code: &str,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<Millis>>;

    async fn message_count(&self) -> StoreResult<i64>;

    /// Totals for the Prometheus endpoint.
    async fn totals(&self) -> StoreResult<Totals>;
}
