//! `intents/vocabulary.toml`: the words our users use for the things our articles talk about.
//!
//! ```toml
//! [[group]]
//! terms = ["annual leave", "vacation", "pto", "time off"]
//! domain = "HR"                      # or: articles = ["hr-leave-booking", ...]; optional
//! note = "US: vacation, PTO"         # optional, for editors
//! ```
//!
//! Loading checks what can be checked from the file alone and the content's articles
//! (file:line for every problem): at least two terms, no empty or repeated term, no term in two
//! groups, scopes that name real articles and categories. What needs the engine (a group whose
//! terms the content knows none of, a group that changes no answer) is `frontdoor check`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::Deserialize;

use super::*;
use crate::engine::VocabularyGroup;

/// The file name, under `intents/`.
pub const FILE_NAME: &str = "vocabulary.toml";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    terms: Vec<String>,
    #[serde(default)]
    articles: Vec<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    off_topic: bool,
}

/// 1-based lines of the `[[group]]` headers, in order.
fn group_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[group]]")
        .map(|(i, _)| i + 1)
        .collect()
}

/// 1-based line of `"term"` at or after `from` (the header's line when not found).
fn term_line(text: &str, from: usize, term: &str) -> usize {
    let quoted = format!("\"{term}\"");
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.contains(&quoted))
        .map_or(from, |(i, _)| i + 1)
}

impl Loader {
    pub fn load_vocabulary(&mut self, file: &Path) {
        let Some(text) = self.read(file) else {
            return;
        };
        let Some(raw) = self.parse_toml::<RawFile>(file, &text, 0) else {
            return;
        };
        let lines = group_lines(&text);
        // normalised term → (line, group number) of its first use
        let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
        for (g, rg) in raw.group.into_iter().enumerate() {
            let line = lines.get(g).copied().unwrap_or(1);
            if rg.off_topic && (!rg.articles.is_empty() || rg.domain.is_some()) {
                self.err(
                    file,
                    line,
                    "an off_topic group has no scope: its terms mark questions we don't handle at all",
                );
            }
            if rg.terms.len() < 2 && !rg.off_topic {
                self.err(
                    file,
                    line,
                    "a vocabulary group needs at least two terms (the word people use and ours)",
                );
            }
            let mut in_group: BTreeSet<String> = BTreeSet::new();
            for term in &rg.terms {
                let at = term_line(&text, line, term);
                let norm = crate::engine::normalize::normalize(term);
                if norm.trim().is_empty() {
                    self.err(file, at, format!("vocabulary term {term:?} has no words"));
                    continue;
                }
                if !in_group.insert(norm.clone()) {
                    self.err(
                        file,
                        at,
                        format!("vocabulary term {term:?} appears twice in this group"),
                    );
                    continue;
                }
                match seen.get(&norm) {
                    Some(&(first, _)) => self.err(
                        file,
                        at,
                        format!(
                            "vocabulary term {term:?} is also in the group at line {first}: a term \
                             belongs to one group (merge the groups or drop one)"
                        ),
                    ),
                    None => {
                        seen.insert(norm, (line, g));
                    }
                }
            }
            self.raw.vocabulary.push(VocabularyEntry {
                terms: rg.terms,
                articles: rg.articles,
                domain: rg.domain,
                note: rg.note,
                off_topic: rg.off_topic,
                file: file.to_path_buf(),
                line,
            });
        }
    }
}

/// Check scopes against the content and turn the entries into the engine's groups (scopes
/// resolved to intent names: the articles' intents and the intents of their services).
pub fn resolve(
    loader: &mut Loader,
    root: &Path,
    entries: &[VocabularyEntry],
    articles: &BTreeMap<String, Article>,
    intents: &BTreeMap<String, Intent>,
) -> Vec<VocabularyGroup> {
    let categories: BTreeSet<&str> = articles.values().map(|a| a.category.as_str()).collect();
    let mut out = Vec::new();
    for e in entries {
        let mut scoped_articles: BTreeSet<&str> = BTreeSet::new();
        for a in &e.articles {
            if articles.contains_key(a) {
                scoped_articles.insert(a);
            } else {
                let at = term_line(&loader.raw.texts[&e.file], e.line, a);
                loader.err(&e.file, at, format!("vocabulary scope: no article {a:?}"));
            }
        }
        if let Some(d) = &e.domain {
            if categories.contains(d.as_str()) {
                scoped_articles.extend(
                    articles
                        .values()
                        .filter(|a| &a.category == d)
                        .map(|a| a.id.as_str()),
                );
            } else {
                let at = term_line(&loader.raw.texts[&e.file], e.line, d);
                let known: Vec<&str> = categories.iter().copied().collect();
                loader.err(
                    &e.file,
                    at,
                    format!(
                        "vocabulary scope: no article category {d:?} (categories: {})",
                        known.join(", ")
                    ),
                );
            }
        }
        let scoped = !e.articles.is_empty() || e.domain.is_some();
        let services: BTreeSet<&str> = scoped_articles
            .iter()
            .filter_map(|a| articles.get(*a).and_then(|a| a.service.as_deref()))
            .collect();
        let scope: Vec<String> = if scoped {
            intents
                .values()
                .filter(|i| match &i.action {
                    Action::Article(a) => scoped_articles.contains(a.as_str()),
                    Action::Service(s) => services.contains(s.as_str()),
                    _ => false,
                })
                .map(|i| i.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        // A scope that resolves to nothing (its errors are reported above) must not make the
        // group apply everywhere: an empty name matches no intent, so the group never applies.
        let scope = if scoped && scope.is_empty() {
            vec![String::new()]
        } else {
            scope
        };
        out.push(VocabularyGroup {
            terms: e.terms.clone(),
            scope,
            origin: e.origin(root),
            off_topic: e.off_topic,
        });
    }
    out
}
