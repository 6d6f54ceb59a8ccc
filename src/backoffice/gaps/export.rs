//! A gap group as content an editor can paste: examples for the nearest intent (an
//! `[[intent]]` for an `intents/*.toml` file) or a Markdown article stub.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::GapGroup;
use super::cluster::content_words;
use crate::knowledge::{Action, Knowledge};

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
    fn slugs_keep_up_to_four_content_words() {
        assert_eq!(slug("How do I get a parking permit?"), "parking-permit");
        assert_eq!(slug("??"), "topic");
    }
}
