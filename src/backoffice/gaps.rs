//! Knowledge gaps: fallbacks, low-confidence answers, "No, that didn't help" and low survey
//! scores, grouped by similarity, ranked by volume, and exportable as content an editor can
//! paste (an intent example list, or a Markdown article stub).
//!
//! Grouping reuses the engine's text pipeline (normalisation and tokenisation, its stop-word
//! list and its Porter stemmer) and is deterministic: the same gaps give the same groups.
//!
//! - Typos are repaired the engine's way, within the gaps of the period: a content word is
//!   replaced by a more frequent one (ties: alphabetical order) within the engine's edit bound
//!   (`typo::max_edits`: none up to 4 letters, 1 up to 8, then 2; optimal string alignment
//!   distance), so "cantene" counts as "canteen".
//! - Each gap's query ([`GapFact::query`]) becomes a vector of two L2-normalised blocks:
//!   content-word stems (`w`) and character 3-grams of the content words (`c`, so "cantene"
//!   still meets "canteen"), each feature weighted by TF × IDF with
//!   `idf(f) = ln((N + 1) / (df(f) + 1)) + 1` over the N distinct queries of the period.
//!   Similarity of two vectors: `sim = 0.6 · cos_w + 0.4 · cos_c` (the blocks are scaled by
//!   √0.6 and √0.4 so one dot product gives it).
//! - Distinct queries (by normalised text) are taken most frequent first (ties: earliest
//!   first seen, then text); each joins the existing group whose centroid (the count-weighted
//!   sum of its members' vectors) is most similar, `sim(q, centroid) / |centroid|`, when that
//!   is at least `threshold` (default 0.45); otherwise it starts a group.
//! - Groups are ranked by volume (gaps, not distinct queries), then by last seen (newest
//!   first), then by label.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use strsim::osa_distance;

use crate::engine::index::is_stop_word;
use crate::engine::normalize::{is_number, tokenize};
use crate::engine::stem::stem;
use crate::engine::typo::max_edits;
use crate::knowledge::{Action, Knowledge};
use crate::store::{GapFact, Millis, Store, StoreError};

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
    store: &dyn Store,
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

/// Words that carry no topic on top of the engine's stop-words: pronouns, auxiliaries,
/// question words and filler. (The engine keeps these because they tell intents apart; a
/// topic group should not form around "how do I".)
const FUNCTION_WORDS: &[&str] = &[
    "i", "me", "my", "mine", "we", "us", "our", "you", "your", "it", "its", "this", "that",
    "these", "those", "do", "does", "did", "doing", "can", "could", "would", "should", "will",
    "shall", "may", "might", "must", "have", "has", "had", "get", "got", "how", "what", "when",
    "where", "who", "why", "which", "there", "here", "with", "from", "about", "by", "as", "if",
    "not", "no", "yes", "was", "were", "been", "being", "need", "want", "like", "know", "tell",
    "than", "then", "into", "up", "out", "all", "also", "again", "still", "very", "really", "much",
    "many", "more", "most", "one", "hi", "hello", "thanks", "thank", "ok", "okay", "is", "anyone",
    "someone", "way", "find", "s", "t", "m", "d", "ll", "re", "ve",
];

/// Content words of a query, normalised by the engine's tokenizer.
fn content_words(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter(|t| !is_stop_word(t) && !FUNCTION_WORDS.contains(&t.as_str()) && !is_number(t))
        .collect()
}

/// Word → the more frequent word it is a typo of (see the module notes).
fn typo_repairs(counts: &BTreeMap<String, usize>) -> HashMap<String, String> {
    let mut words: Vec<(&String, usize)> = counts.iter().map(|(w, n)| (w, *n)).collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut roots: Vec<&String> = Vec::new();
    let mut repairs = HashMap::new();
    for (w, _) in words {
        let bound = max_edits(w.chars().count());
        let root = (bound > 0)
            .then(|| {
                roots
                    .iter()
                    .find(|r| max_edits(r.chars().count()) > 0 && osa_distance(w, r) <= bound)
            })
            .flatten();
        match root {
            Some(r) => {
                repairs.insert(w.clone(), (*r).clone());
            }
            None => roots.push(w),
        }
    }
    repairs
}

/// Raw (feature, tf) counts of a query: stems prefixed `w:`, character 3-grams `c:`.
fn raw_features(text: &str, repairs: &HashMap<String, String>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for word in content_words(text) {
        let word = repairs.get(&word).cloned().unwrap_or(word);
        *out.entry(format!("w:{}", stem(&word))).or_insert(0.0) += 1.0;
        let chars: Vec<char> = format!("<{word}>").chars().collect();
        for w in chars.windows(3) {
            *out.entry(format!("c:{}", w.iter().collect::<String>()))
                .or_insert(0.0) += 1.0;
        }
    }
    out
}

type Vector = BTreeMap<String, f64>;

const WORD_SHARE: f64 = 0.6;

/// TF-IDF, one L2-normalised block per kind, scaled so that a dot product is
/// `0.6 · cos_words + 0.4 · cos_chars`.
fn weigh(raw: &BTreeMap<String, f64>, idf: &HashMap<String, f64>) -> Vector {
    let mut v: Vector = raw
        .iter()
        .map(|(f, tf)| (f.clone(), tf * idf.get(f).copied().unwrap_or(1.0)))
        .collect();
    for (prefix, share) in [("w:", WORD_SHARE), ("c:", 1.0 - WORD_SHARE)] {
        let norm = v
            .iter()
            .filter(|(f, _)| f.starts_with(prefix))
            .map(|(_, x)| x * x)
            .sum::<f64>()
            .sqrt();
        if norm > 0.0 {
            for (f, x) in v.iter_mut() {
                if f.starts_with(prefix) {
                    *x = *x / norm * share.sqrt();
                }
            }
        }
    }
    v
}

fn dot(a: &Vector, b: &Vector) -> f64 {
    let (small, big) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small
        .iter()
        .filter_map(|(f, x)| big.get(f).map(|y| x * y))
        .sum()
}

fn norm(a: &Vector) -> f64 {
    a.values().map(|x| x * x).sum::<f64>().sqrt()
}

/// One distinct query (by normalised text) and its gaps.
struct Distinct<'a> {
    key: String,
    text: &'a str,
    gaps: Vec<&'a GapFact>,
    first_seen: Millis,
}

struct Building {
    members: Vec<usize>,
    centroid: Vector,
    /// Queries with no content word are grouped by their exact normalised text.
    empty_key: Option<String>,
}

/// The intent a gap points at: the one answered, the engine's best candidate, or the intent of
/// the question before a low score.
fn pointed_intent(g: &GapFact) -> Option<&str> {
    g.intent.as_deref().or(g.context_intent.as_deref())
}

/// Group gaps by similarity and rank the groups (pure; see the module notes for the formulas).
pub fn group(facts: &[GapFact], k: &Knowledge, settings: &GapSettings) -> Vec<GapGroup> {
    // Distinct queries.
    let mut by_key: BTreeMap<String, Distinct<'_>> = BTreeMap::new();
    for g in facts {
        let text = g.query();
        let key = tokenize(text).join(" ");
        let d = by_key.entry(key.clone()).or_insert_with(|| Distinct {
            key,
            text,
            gaps: Vec::new(),
            first_seen: g.created_at,
        });
        d.gaps.push(g);
        d.first_seen = d.first_seen.min(g.created_at);
    }
    let mut distinct: Vec<Distinct<'_>> = by_key.into_values().collect();
    distinct.sort_by(|a, b| {
        b.gaps
            .len()
            .cmp(&a.gaps.len())
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.key.cmp(&b.key))
    });

    // Typo repairs, then IDF over the distinct queries.
    let mut word_counts: BTreeMap<String, usize> = BTreeMap::new();
    for d in &distinct {
        for w in content_words(d.text) {
            *word_counts.entry(w).or_insert(0) += d.gaps.len();
        }
    }
    let repairs = typo_repairs(&word_counts);
    let raws: Vec<BTreeMap<String, f64>> = distinct
        .iter()
        .map(|d| raw_features(d.text, &repairs))
        .collect();
    let mut df: HashMap<String, f64> = HashMap::new();
    for r in &raws {
        for f in r.keys() {
            *df.entry(f.clone()).or_insert(0.0) += 1.0;
        }
    }
    let n = raws.len() as f64;
    let idf: HashMap<String, f64> = df
        .into_iter()
        .map(|(f, d)| (f, ((n + 1.0) / (d + 1.0)).ln() + 1.0))
        .collect();
    let vectors: Vec<Vector> = raws.iter().map(|r| weigh(r, &idf)).collect();

    // Leader clustering against count-weighted centroids.
    let mut groups: Vec<Building> = Vec::new();
    for (i, d) in distinct.iter().enumerate() {
        let v = &vectors[i];
        let target = if v.is_empty() {
            groups
                .iter()
                .position(|g| g.empty_key.as_deref() == Some(d.key.as_str()))
        } else {
            let mut best: Option<(usize, f64)> = None;
            for (gi, g) in groups.iter().enumerate() {
                if g.empty_key.is_some() {
                    continue;
                }
                let len = norm(&g.centroid);
                if len == 0.0 {
                    continue;
                }
                let sim = dot(v, &g.centroid) / len;
                if sim >= settings.threshold && best.is_none_or(|(_, s)| sim > s) {
                    best = Some((gi, sim));
                }
            }
            best.map(|(gi, _)| gi)
        };
        let weight = d.gaps.len() as f64;
        match target {
            Some(gi) => {
                let g = &mut groups[gi];
                g.members.push(i);
                for (f, x) in v {
                    *g.centroid.entry(f.clone()).or_insert(0.0) += x * weight;
                }
            }
            None => groups.push(Building {
                members: vec![i],
                centroid: v.iter().map(|(f, x)| (f.clone(), x * weight)).collect(),
                empty_key: v.is_empty().then(|| d.key.clone()),
            }),
        }
    }

    let mut out: Vec<GapGroup> = groups
        .iter()
        .map(|g| {
            let members: Vec<&Distinct<'_>> = g.members.iter().map(|i| &distinct[*i]).collect();
            let gaps: Vec<&GapFact> = members
                .iter()
                .flat_map(|d| d.gaps.iter().copied())
                .collect();
            let mut kinds = BTreeMap::new();
            let mut clients = BTreeMap::new();
            let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
            // The out-of-scope intent is not a place to send people: a gap it caught is a
            // question nobody answers yet, which is exactly what this list is for.
            let off_topic = k.engine.config().out_of_scope_intent.as_str();
            for gap in &gaps {
                *kinds.entry(gap.kind.clone()).or_insert(0) += 1;
                *clients
                    .entry(gap.client_code.clone().unwrap_or_default())
                    .or_insert(0) += 1;
                if let Some(i) = pointed_intent(gap).filter(|i| *i != off_topic) {
                    *votes.entry(i).or_insert(0) += 1;
                }
            }
            // Members are already most frequent first.
            let examples: Vec<String> = members
                .iter()
                .take(settings.examples)
                .map(|d| d.text.trim().to_string())
                .collect();
            let nearest = votes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(intent, n)| nearest(k, intent, *n as f64 / gaps.len() as f64));
            let mut gap_ids: Vec<i64> = gaps.iter().map(|g| g.id).collect();
            gap_ids.sort_unstable();
            let mut chosen: Vec<Chosen> = Vec::new();
            for gap in gaps.iter().filter(|g| g.kind == "suggestion_chosen") {
                if let Some(intent) = &gap.intent {
                    let c = Chosen {
                        question: gap.text.trim().to_string(),
                        intent: intent.clone(),
                    };
                    if !chosen.contains(&c) {
                        chosen.push(c);
                    }
                }
            }
            GapGroup {
                rank: 0,
                label: members
                    .first()
                    .map(|d| d.text.trim().to_string())
                    .unwrap_or_default(),
                volume: gaps.len(),
                distinct_queries: members.len(),
                kinds,
                clients,
                examples,
                nearest,
                first_seen: gaps.iter().map(|g| g.created_at).min().unwrap_or(0),
                last_seen: gaps.iter().map(|g| g.created_at).max().unwrap_or(0),
                gap_ids,
                chosen,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.volume
            .cmp(&a.volume)
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.label.cmp(&b.label))
    });
    for (i, g) in out.iter_mut().enumerate() {
        g.rank = i + 1;
    }
    out
}

fn nearest(k: &Knowledge, intent: &str, share: f64) -> Nearest {
    let article = match k.intents.get(intent).map(|i| &i.action) {
        Some(Action::Article(a)) => Some(a.clone()),
        _ => k.articles.get(intent).map(|a| a.id.clone()),
    };
    let title = article
        .as_deref()
        .and_then(|a| k.articles.get(a))
        .map(|a| a.title.clone());
    Nearest {
        intent: intent.to_string(),
        article,
        title,
        share,
    }
}

// --- Export ---------------------------------------------------------------------------------

#[derive(Serialize)]
struct IntentFile {
    intent: Vec<IntentEntry>,
}

#[derive(Serialize)]
struct IntentEntry {
    name: String,
    description: String,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    article: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    process_question: Option<String>,
    examples: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    replies: Vec<String>,
}

#[derive(Serialize)]
struct FrontMatter {
    id: String,
    title: String,
    category: String,
    tags: Vec<String>,
    questions: Vec<String>,
    reviewed: toml::value::Datetime,
    owner: String,
    visibility: String,
}

/// `parking-permit-car` from a label: up to four content words, lower-case letters and digits.
fn slug(label: &str) -> String {
    let words: Vec<String> = content_words(label)
        .into_iter()
        .map(|w| w.chars().filter(|c| c.is_ascii_alphanumeric()).collect())
        .filter(|w: &String| !w.is_empty())
        .take(4)
        .collect();
    if words.is_empty() {
        "topic".into()
    } else {
        words.join("-")
    }
}

/// Content words of the group's examples, most frequent first (for tags).
fn top_words(examples: &[String], n: usize) -> Vec<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in examples {
        for w in content_words(e) {
            if w.chars().count() > 2 {
                *counts.entry(w).or_insert(0) += 1;
            }
        }
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(n).map(|(w, _)| w).collect()
}

impl GapGroup {
    /// The examples that are not yet an example or question of any intent (the loader refuses
    /// the same example in two intents; compared trimmed and lower-cased, as it does).
    pub fn fresh_examples(&self, k: &Knowledge) -> Vec<String> {
        let known: std::collections::HashSet<String> = k
            .intents
            .values()
            .flat_map(|i| i.examples.iter())
            .chain(k.articles.values().flat_map(|a| a.questions.iter()))
            .map(|e| e.trim().to_lowercase())
            .collect();
        let mut seen = std::collections::HashSet::new();
        self.examples
            .iter()
            .filter(|e| {
                let key = e.trim().to_lowercase();
                !known.contains(&key) && seen.insert(key)
            })
            .cloned()
            .collect()
    }

    /// The id of the article a stub for this group would get: `gap-<slug>`, made unique
    /// against the loaded articles.
    pub fn proposed_article_id(&self, k: &Knowledge) -> String {
        let base = format!("gap-{}", slug(&self.label));
        let mut id = base.clone();
        let mut n = 2;
        while k.articles.contains_key(&id) || k.intents.contains_key(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }

    /// The group's queries as a ready-to-paste `[[intent]]` for an `intents/*.toml` file: more
    /// examples for the nearest intent when there is one (for an article, an entry named after
    /// it, which the loader merges into the article's intent; otherwise a new intent with the
    /// same action and target), else for the article a stub from
    /// [`GapGroup::to_article_stub`] would create (paste one or the other: the stub's questions
    /// are the same examples). Queries that are already examples somewhere are left out.
    pub fn to_intent_toml(&self, k: &Knowledge) -> String {
        let examples = self.fresh_examples(k);
        let header = format!(
            "# Knowledge gap #{} \"{}\" — paste into an intents/*.toml file, review, run `frontdoor check`.\n",
            self.rank,
            self.label.replace('\n', " ")
        );
        if examples.is_empty() {
            return format!(
                "{header}# Every query of this gap is already an example of an intent: the answer needs work, not the examples.\n"
            );
        }
        let target = self.nearest.as_ref().and_then(|n| k.intents.get(&n.intent));
        let mut entry = IntentEntry {
            name: String::new(),
            description: format!(
                "Knowledge gap #{}: {} quer{} ({})",
                self.rank,
                self.volume,
                if self.volume == 1 { "y" } else { "ies" },
                self.kinds
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            action: "article".into(),
            article: None,
            service: None,
            process_question: None,
            examples,
            replies: Vec::new(),
        };
        match target {
            Some(intent) => {
                entry.name = format!("{}-gap-examples", intent.name);
                match &intent.action {
                    Action::Article(a) => entry.article = Some(a.clone()),
                    Action::Service(s) => {
                        entry.action = "service".into();
                        entry.service = Some(s.clone());
                    }
                    Action::Process(q) => {
                        entry.action = "process".into();
                        entry.process_question = Some(
                            serde_json::to_value(q)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default(),
                        );
                    }
                    other => {
                        entry.action = serde_json::to_value(other)
                            .ok()
                            .and_then(|v| {
                                v.get("action").and_then(|a| a.as_str()).map(str::to_string)
                            })
                            .unwrap_or_else(|| "help".into());
                        entry.replies = intent.replies.clone();
                    }
                }
                // Examples for an article: an entry named after the article is merged into
                // the article's own intent by the loader.
                let article = match &intent.action {
                    Action::Article(a) => Some(a.clone()),
                    _ => k
                        .articles
                        .contains_key(&intent.name)
                        .then(|| intent.name.clone()),
                };
                if let Some(a) = article {
                    entry.name = a.clone();
                    entry.action = "article".into();
                    entry.article = Some(a);
                    entry.service = None;
                    entry.process_question = None;
                    entry.replies.clear();
                }
            }
            None => {
                let id = self.proposed_article_id(k);
                entry.name = format!("{id}-examples");
                entry.article = Some(id);
            }
        }
        let body = toml::to_string(&IntentFile {
            intent: vec![entry],
        })
        .unwrap_or_default();
        let about = match &self.nearest {
            Some(n) => format!(
                "# Closest existing intent: {} ({:.0}% of the gaps point at it).\n",
                n.intent,
                n.share * 100.0
            ),
            None => {
                let mut s = String::from(
                    "# No close intent: these examples go with the article stub of the same group.\n",
                );
                let off_topic = &k.engine.config().out_of_scope_intent;
                if !off_topic.is_empty() {
                    s.push_str(&format!(
                        "# If they are not the SSO's business, add them to the examples of intent {off_topic:?} instead.\n"
                    ));
                }
                s
            }
        };
        format!("{header}{about}{body}")
    }

    /// A Markdown article stub in the knowledge base's format (TOML front matter between `+++`
    /// lines) whose alternative questions are the group's queries. It loads as it is; the
    /// body, title and owner are for the editor to finish.
    pub fn to_article_stub(&self, k: &Knowledge, today: NaiveDate) -> String {
        let near_article = self
            .nearest
            .as_ref()
            .and_then(|n| n.article.as_deref())
            .and_then(|a| k.articles.get(a));
        let mut title: String = self.label.trim().trim_end_matches('?').to_string();
        if let Some(first) = title.get(..1) {
            title = format!("{}{}", first.to_uppercase(), title.get(1..).unwrap_or(""));
        }
        let reviewed = toml::value::Datetime {
            date: Some(toml::value::Date {
                year: u16::try_from(chrono::Datelike::year(&today)).unwrap_or(2026),
                month: chrono::Datelike::month(&today) as u8,
                day: chrono::Datelike::day(&today) as u8,
            }),
            time: None,
            offset: None,
        };
        let front = FrontMatter {
            id: self.proposed_article_id(k),
            title,
            category: near_article
                .map(|a| a.category.clone())
                .unwrap_or_else(|| "SSO".into()),
            tags: top_words(&self.examples, 4),
            questions: self.fresh_examples(k),
            reviewed,
            owner: near_article
                .map(|a| a.owner.clone())
                .unwrap_or_else(|| k.organisation.short_name.clone()),
            visibility: "all".into(),
        };
        let toml = toml::to_string(&front).unwrap_or_default();
        let seen = self
            .kinds
            .iter()
            .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
            .collect::<Vec<_>>()
            .join(", ");
        let related = match near_article {
            Some(a) => format!(
                "\nThe closest existing article is **{}** (`{}`): check whether it should be extended instead.\n",
                a.title, a.id
            ),
            None => String::new(),
        };
        format!(
            "+++\n{toml}+++\nTODO: write the answer. This stub comes from knowledge gap #{rank} ({volume} queries: {seen}).\n{related}",
            rank = self.rank,
            volume = self.volume,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_words_drop_function_words_and_numbers() {
        assert_eq!(
            content_words("How do I get a parking permit for 2027?"),
            vec!["parking", "permit"]
        );
        assert_eq!(slug("How do I get a parking permit?"), "parking-permit");
        assert_eq!(slug("??"), "topic");
    }

    #[test]
    fn similar_queries_are_closer_than_unrelated_ones() {
        let texts = [
            "parking permit",
            "how do I get a parking permit",
            "canteen menu",
        ];
        let raws: Vec<_> = texts
            .iter()
            .map(|t| raw_features(t, &HashMap::new()))
            .collect();
        let idf = HashMap::new();
        let v: Vec<Vector> = raws.iter().map(|r| weigh(r, &idf)).collect();
        assert!((dot(&v[0], &v[1]) - 1.0).abs() < 1e-9);
        assert!(dot(&v[0], &v[2]) < 0.1);
        assert!((norm(&v[0]) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn typos_are_repaired_towards_the_more_frequent_word() {
        let counts = BTreeMap::from([
            ("canteen".to_string(), 3),
            ("cantene".to_string(), 1),
            ("menu".to_string(), 4),
            ("menus".to_string(), 1),
        ]);
        let r = typo_repairs(&counts);
        assert_eq!(r.get("cantene").map(String::as_str), Some("canteen"));
        assert!(
            !r.contains_key("menus"),
            "4-letter words are never corrected"
        );
        assert!(!r.contains_key("canteen"));
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PromoteError {
    #[error("intent {0:?} is not in the content")]
    UnknownIntent(String),
    #[error("{file}: no `{list} = [` list to add to")]
    NoList { file: String, list: &'static str },
}

/// Add `questions` as examples of `intent` in its content file's text: an article's
/// `questions = [...]` front matter, or the `examples = [...]` of an `[[intent]]` in
/// `intents/*.toml`. Pure (the caller reads and writes the file, and reloads the content to
/// check it). Returns the new text; questions already there are skipped.
pub fn add_examples(
    text: &str,
    k: &Knowledge,
    intent: &str,
    questions: &[String],
) -> Result<String, PromoteError> {
    let i = k
        .intents
        .get(intent)
        .ok_or_else(|| PromoteError::UnknownIntent(intent.to_string()))?;
    let article_intent = matches!(&i.action, crate::knowledge::Action::Article(a) if a == intent)
        && k.articles.contains_key(intent);
    let (start, list) = if article_intent {
        (text.find("questions = ["), "questions")
    } else {
        let at = text
            .find(&format!("name = \"{intent}\""))
            .and_then(|n| text[n..].find("examples = [").map(|e| n + e));
        (at, "examples")
    };
    let no_list = || PromoteError::NoList {
        file: i.file.display().to_string(),
        list,
    };
    let start = start.ok_or_else(no_list)?;
    // the list's closing bracket: the first `]` outside a string after `[`
    let open = start + text[start..].find('[').ok_or_else(no_list)?;
    let mut in_str = false;
    let mut chars = text[open + 1..].char_indices();
    let mut close = None;
    while let Some((off, ch)) = chars.next() {
        match ch {
            '\\' if in_str => {
                chars.next();
            }
            '"' => in_str = !in_str,
            ']' if !in_str => {
                close = Some(open + 1 + off);
                break;
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(no_list)?;
    let existing = &text[open..close];
    let mut add = String::new();
    for q in questions {
        let quoted = serde_json::to_string(q.trim()).unwrap_or_default();
        if quoted.len() > 2 && !existing.contains(&quoted) && !add.contains(&quoted) {
            add.push_str(&format!("  {quoted},\n"));
        }
    }
    if add.is_empty() {
        return Ok(text.to_string());
    }
    // keep the list's shape: one entry per line, a comma after the last existing entry
    let before = text[..close].trim_end();
    let sep = if before.ends_with('[') || before.ends_with(',') {
        ""
    } else {
        ","
    };
    Ok(format!("{before}{sep}\n{add}{}", &text[close..]))
}
