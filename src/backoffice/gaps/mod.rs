//! Knowledge gaps: fallbacks, low-confidence answers, "No, that didn't help" and low survey
//! scores, grouped by similarity, ranked by volume, and exportable as content an editor can
//! paste (an intent example list, or a Markdown article stub).
//!
//! - `cluster`: grouping by similarity, deterministic (the formulas are in its notes);
//! - `export`: a group as content an editor pastes (an `[[intent]]`, an article stub);
//! - `promote`: adding a group's questions as examples to a content file.

mod cluster;
mod export;
mod promote;

use std::collections::BTreeMap;

use serde::Serialize;

pub use cluster::group;
pub use promote::{PromoteError, add_examples};

use crate::knowledge::Knowledge;
use crate::store::{Insight, Millis, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum GapError {
    #[error("unknown client {0}")]
    UnknownClient(String),
    #[error("there is no gap group #{0} (the list has {1})")]
    NoSuchGroup(usize, usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which gaps to read.
#[derive(Clone, Debug, PartialEq)]
pub struct GapQuery {
    /// One client, or every client (and anonymous visitors) when `None`.
    pub client: Option<String>,
    /// `[from, to)` in epoch milliseconds.
    pub from: Millis,
    pub to: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GapSettings {
    /// Least similarity for a query to join a group (0..=1).
    pub threshold: f64,
    /// Example queries kept per group (distinct, most frequent first).
    pub examples: usize,
}

impl Default for GapSettings {
    fn default() -> Self {
        Self {
            threshold: 0.45,
            examples: 8,
        }
    }
}

/// The existing intent a group is closest to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nearest {
    pub intent: String,
    /// The article the intent answers with, when it is an article intent.
    pub article: Option<String>,
    pub title: Option<String>,
    /// Share of the group's gaps that point at this intent (the intent answered, the engine's
    /// best candidate for a fallback, or the question before a low score).
    pub share: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GapGroup {
    /// 1 = the biggest group.
    pub rank: usize,
    /// The group's most frequent query.
    pub label: String,
    /// Gaps in the group.
    pub volume: usize,
    /// Distinct queries (by normalised text).
    pub distinct_queries: usize,
    /// Gaps per kind: fallback, low_confidence, not_helpful, low_score, suggested,
    /// suggestion_chosen.
    pub kinds: BTreeMap<String, usize>,
    /// Gaps per client ("" for anonymous visitors).
    pub clients: BTreeMap<String, usize>,
    /// Distinct queries, most frequent first (ties: earliest first), at most
    /// [`GapSettings::examples`].
    pub examples: Vec<String>,
    pub nearest: Option<Nearest>,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub gap_ids: Vec<i64>,
    /// "Asked X, chose Y": questions answered with "did you mean" suggestions and the intent
    /// the user then chose (distinct pairs, first seen first). Each is an example waiting to
    /// be added (`frontdoor gaps --promote N`).
    pub chosen: Vec<Chosen>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Chosen {
    pub question: String,
    pub intent: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GapReport {
    pub client: Option<String>,
    pub from: Millis,
    pub to: Millis,
    /// Gaps read.
    pub total: usize,
    pub groups: Vec<GapGroup>,
}

/// Read the gaps of a period and group them (what the dashboard and `frontdoor gaps` show).
pub async fn knowledge_gaps(
    store: &dyn Insight,
    k: &Knowledge,
    query: &GapQuery,
    settings: &GapSettings,
) -> Result<GapReport, GapError> {
    if let Some(c) = &query.client
        && !k.clients.contains_key(c)
    {
        return Err(GapError::UnknownClient(c.clone()));
    }
    let facts = store
        .gap_facts(query.client.as_deref(), query.from, query.to)
        .await?;
    Ok(GapReport {
        client: query.client.clone(),
        from: query.from,
        to: query.to,
        total: facts.len(),
        groups: group(&facts, k, settings),
    })
}

impl GapReport {
    /// The group ranked `rank` (1-based).
    pub fn group(&self, rank: usize) -> Result<&GapGroup, GapError> {
        rank.checked_sub(1)
            .and_then(|i| self.groups.get(i))
            .ok_or(GapError::NoSuchGroup(rank, self.groups.len()))
    }
}
