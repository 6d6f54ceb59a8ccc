//! Grouping gaps by similarity.
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

use strsim::osa_distance;

use super::{Chosen, GapGroup, GapSettings, Nearest};
use crate::domain::GapKind;
use crate::engine::index::is_stop_word;
use crate::engine::normalize::{is_number, tokenize};
use crate::engine::stem::stem;
use crate::engine::typo::max_edits;
use crate::knowledge::{Action, Knowledge};
use crate::store::{GapFact, Millis};

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
pub(super) fn content_words(text: &str) -> Vec<String> {
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
            for gap in gaps
                .iter()
                .filter(|g| GapKind::parse(&g.kind) == Some(GapKind::SuggestionChosen))
            {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_words_drop_function_words_and_numbers() {
        assert_eq!(
            content_words("How do I get a parking permit for 2027?"),
            vec!["parking", "permit"]
        );
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
