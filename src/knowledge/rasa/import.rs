//! A Rasa [`Project`] as Frontdoor content: the files of a content directory, and what was
//! left out with the reason. The mapping (also in the README):
//!
//! - every intent with examples becomes an intent with the same examples (annotations stripped
//!   to their text); `out_of_scope` and `nlu_fallback` become our one out-of-scope intent;
//! - an intent answered by responses (a story or rule that is only `intent` then `utter_…`
//!   actions, or a retrieval intent's `utter_faq/x`) becomes an **article** when it is a
//!   retrieval intent (Rasa's FAQ answers) or was an article when we exported it, else a
//!   `smalltalk` intent whose `replies` are the response's text variations;
//! - an intent with no response (its answer was a form or custom code) becomes a `help` intent:
//!   the bot says what it can do instead of guessing, and the report asks for an answer;
//! - synonyms (`- synonym:` and inline `{"value": …}`) and lookup tables become vocabulary
//!   groups: a lookup table lists words that play the same part in a question, which is what a
//!   group tells the engine (Rasa uses it the same way, as one feature for all its values);
//! - a regex named after an intent becomes that intent's rule; any other regex is a feature or
//!   an entity pattern in Rasa, and as a rule it would force one intent, so it is left out.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use super::model::*;
use super::vocabulary::{self, Group};

/// The content files and what the import decided.
#[derive(Debug, Default)]
pub struct Imported {
    /// Relative path → text, vocabulary excepted (see [`Imported::vocabulary_toml`]).
    pub files: Vec<(PathBuf, String)>,
    pub intents: Vec<ImportedIntent>,
    pub groups: Vec<Group>,
    /// Decisions worth reading (renames, intents without an answer).
    pub notes: Vec<Skipped>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportedIntent {
    pub rasa: Vec<String>,
    pub name: String,
    pub action: String,
    pub examples: usize,
}

#[derive(Serialize)]
struct IntentFile {
    intent: Vec<IntentOut>,
}

#[derive(Serialize)]
struct IntentOut {
    name: String,
    description: String,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    article: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    examples: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rules: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    replies: Vec<String>,
}

#[derive(Serialize)]
struct FrontMatter {
    id: String,
    title: String,
    category: String,
    questions: Vec<String>,
    reviewed: toml::value::Datetime,
    owner: String,
    visibility: String,
}

/// One of our intents being assembled from one or more Rasa intents.
struct Draft {
    rasa: Vec<String>,
    loc: Loc,
    examples: Vec<String>,
    hints: Option<FrontdoorHints>,
    retrieval: bool,
    out_of_scope: bool,
    rules: Vec<String>,
}

/// Convert a project; `organisation` names the SSO in `sso.toml`, `today` dates the articles.
pub fn to_content(p: &Project, organisation: &str, today: chrono::NaiveDate) -> Imported {
    let mut out = Imported {
        skipped: p.skipped.clone(),
        ..Imported::default()
    };
    let drafts = drafts(p, &mut out);
    let answers = answers(p);
    let mut used_responses: BTreeSet<&str> = BTreeSet::new();
    let mut intents_toml = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for d in drafts {
        let action = d.hints.as_ref().map(|h| h.action.as_str()).unwrap_or("");
        let responses: Vec<&Response> = d
            .rasa
            .iter()
            .filter_map(|r| answers.get(r.as_str()))
            .flatten()
            .filter_map(|name| p.response(name))
            .collect();
        let replies = reply_texts(&responses, &mut out.skipped);
        let first = &d.rasa[0];
        let as_article =
            !d.out_of_scope && !replies.is_empty() && (d.retrieval || action == "article");
        let name = unique(
            if as_article {
                slug(first)
            } else {
                intent_name(first)
            },
            &mut taken,
        );
        if !d.out_of_scope && &name != first {
            out.notes.push(note(
                &d.loc,
                first,
                format!(
                    "renamed {name:?} (Frontdoor names are lower-case letters, digits{})",
                    if as_article {
                        " and dashes"
                    } else {
                        ", '_', '-' and '.'"
                    }
                ),
            ));
        }
        let (kind, intent) = if d.out_of_scope {
            ("out_of_scope", Some(plain(&name, "out_of_scope", &d)))
        } else if as_article {
            used_responses.extend(responses.iter().map(|r| r.name.as_str()));
            out.files
                .push(article(&name, &d, &replies, organisation, today));
            if replies.len() > 1 {
                out.notes.push(note(
                    &d.loc,
                    first,
                    format!(
                        "{} response variations: the article's body is the first",
                        replies.len()
                    ),
                ));
            }
            let pin = (!d.rules.is_empty()).then(|| IntentOut {
                article: Some(name.clone()),
                examples: Vec::new(),
                ..plain(&name, "article", &d)
            });
            ("article", pin)
        } else if !replies.is_empty() {
            used_responses.extend(responses.iter().map(|r| r.name.as_str()));
            let keep = matches!(action, "greeting" | "thanks" | "goodbye" | "help");
            let kind = if keep { action } else { "smalltalk" };
            (
                kind,
                Some(IntentOut {
                    replies: replies.clone(),
                    ..plain(&name, kind, &d)
                }),
            )
        } else {
            let kind = match action {
                "status" | "escalate" | "feedback" | "help" => action,
                _ => {
                    out.notes.push(note(&d.loc, first, "no response answers it (a form or custom action did): imported as a `help` intent (the bot says what it can do); give it an article or a service".to_string()));
                    "help"
                }
            };
            (kind, Some(plain(&name, kind, &d)))
        };
        let kind = kind.to_string();
        if let Some(i) = intent {
            intents_toml.push(i);
        }
        out.intents.push(ImportedIntent {
            rasa: d.rasa.clone(),
            name,
            action: kind,
            examples: d.examples.len(),
        });
    }
    let answered: BTreeSet<&str> = out
        .intents
        .iter()
        .filter(|i| i.action != "out_of_scope")
        .flat_map(|i| i.rasa.iter().map(String::as_str))
        .collect();
    for pair in &p.pairings {
        if !pair.intents.iter().any(|i| answered.contains(i.as_str())) {
            out.skipped.push(Skipped {
                loc: pair.loc.clone(),
                what: pair.what.clone(),
                reason: format!(
                    "answers {}: out of scope (Frontdoor's fallback has its own reply) or not imported",
                    pair.intents.join(", ")
                ),
            });
        }
    }
    for r in &p.responses {
        if !used_responses.contains(r.name.as_str()) {
            out.skipped.push(Skipped {
                loc: r.loc.clone(),
                what: format!("response {}", r.name),
                reason: "answers no imported intent on its own (used by forms, custom actions or multi-turn stories, or by nlu_fallback: Frontdoor's fallback has its own text)".into(),
            });
        }
    }
    out.files.push((
        PathBuf::from("intents/imported.toml"),
        format!(
            "# Imported from Rasa by `frontdoor import-rasa` (see rasa-import-report.txt).\n\n{}",
            toml::to_string_pretty(&IntentFile {
                intent: intents_toml
            })
            .unwrap_or_default()
        ),
    ));
    out.files.push((
        PathBuf::from("knowledge-base/sso.toml"),
        sso_toml(organisation),
    ));
    out.groups = vocabulary::groups(p, &mut out.skipped);
    out.skipped.sort();
    out
}

impl Imported {
    /// `intents/vocabulary.toml` for these groups, and the line of each `[[group]]`.
    pub fn vocabulary_toml(&self) -> (String, Vec<usize>) {
        vocabulary::to_toml(&self.groups)
    }
}

fn note(loc: &Loc, intent: &str, what: String) -> Skipped {
    Skipped {
        loc: loc.clone(),
        what: format!("intent {intent}"),
        reason: what,
    }
}

fn plain(name: &str, action: &str, d: &Draft) -> IntentOut {
    IntentOut {
        name: name.to_string(),
        description: format!("Rasa intent {} ({})", d.rasa.join(", "), d.loc),
        action: action.to_string(),
        article: None,
        examples: d.examples.clone(),
        rules: d.rules.clone(),
        replies: Vec::new(),
    }
}

/// Rasa intents grouped into ours, examples de-duplicated across intents as `check` requires.
fn drafts(p: &Project, out: &mut Imported) -> Vec<Draft> {
    let mut drafts: Vec<Draft> = Vec::new();
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut oos: Option<usize> = None;
    for i in &p.intents {
        let out_of_scope = is_out_of_scope_name(&i.name)
            || i.frontdoor
                .as_ref()
                .is_some_and(|h| h.action == "out_of_scope");
        let mut examples = Vec::new();
        for e in &i.examples {
            let key = e.text.trim().to_lowercase();
            if key.is_empty() {
                out.skipped.push(Skipped {
                    loc: Loc {
                        file: i.loc.file.clone(),
                        line: e.line,
                    },
                    what: format!("an example of {}", i.name),
                    reason: "empty".into(),
                });
                continue;
            }
            match owner.get(&key) {
                Some(other) if other != &i.name => out.skipped.push(Skipped {
                    loc: Loc {
                        file: i.loc.file.clone(),
                        line: e.line,
                    },
                    what: format!("example {:?} of {}", e.text, i.name),
                    reason: format!(
                        "also an example of {other}: one example belongs to one intent"
                    ),
                }),
                _ => {
                    owner.insert(key, i.name.clone());
                    examples.push(e.text.clone());
                }
            }
        }
        if examples.is_empty() {
            out.skipped.push(Skipped {
                loc: i.loc.clone(),
                what: format!("intent {}", i.name),
                reason: "no examples".into(),
            });
            continue;
        }
        let rules = rules_for(p, &i.name, &mut out.skipped);
        if out_of_scope && let Some(at) = oos {
            drafts[at].rasa.push(i.name.clone());
            drafts[at].examples.extend(examples);
            drafts[at].rules.extend(rules);
            continue;
        }
        if out_of_scope {
            oos = Some(drafts.len());
        }
        drafts.push(Draft {
            rasa: vec![i.name.clone()],
            loc: i.loc.clone(),
            examples,
            hints: i.frontdoor.clone(),
            retrieval: i.is_retrieval(),
            out_of_scope,
            rules,
        });
    }
    let with_data: BTreeSet<&str> = p.intents.iter().map(|i| i.name.as_str()).collect();
    for (name, loc) in &p.domain_intents {
        if !with_data.contains(name.as_str()) {
            out.skipped.push(Skipped {
                loc: loc.clone(),
                what: format!("intent {name}"),
                reason: "in the domain but has no training examples".into(),
            });
        }
    }
    for r in &p.regexes {
        if !with_data.contains(r.name.as_str()) {
            out.skipped.push(Skipped { loc: r.loc.clone(), what: format!("regex {}", r.name), reason: "named after no intent: Rasa uses it as a feature or an entity pattern; as a Frontdoor rule it would force one intent on every match".into() });
        }
    }
    drafts
}

/// The rules of the regex named after an intent, those Rust's `regex` compiles.
fn rules_for(p: &Project, intent: &str, skipped: &mut Vec<Skipped>) -> Vec<String> {
    let mut rules = Vec::new();
    for r in p.regexes.iter().filter(|r| r.name == intent) {
        for (pattern, line) in &r.patterns {
            match regex::Regex::new(pattern) {
                Ok(_) => rules.push(pattern.clone()),
                Err(e) => skipped.push(Skipped {
                    loc: Loc {
                        file: r.loc.file.clone(),
                        line: *line,
                    },
                    what: format!("regex {} pattern {pattern:?}", r.name),
                    reason: format!(
                        "does not compile in Rust's regex: {}",
                        e.to_string().lines().last().unwrap_or_default()
                    ),
                }),
            }
        }
    }
    rules
}

/// Rasa intent → the responses that answer it: a pairing story/rule, or the retrieval
/// intent's own `utter_<intent>`.
fn answers(p: &Project) -> HashMap<&str, Vec<&str>> {
    let mut map: HashMap<&str, Vec<&str>> = HashMap::new();
    for pair in &p.pairings {
        for i in &pair.intents {
            map.entry(i.as_str())
                .or_insert_with(|| pair.responses.iter().map(String::as_str).collect());
        }
    }
    for i in p.intents.iter().filter(|i| i.is_retrieval()) {
        let own = format!("utter_{}", i.name);
        if let Some(r) = p.response(&own) {
            map.entry(i.name.as_str())
                .or_insert_with(|| vec![r.name.as_str()]);
        }
    }
    map
}

/// The text a user would see: one response's variations, or several responses in turn (each
/// one's first variation). Variations with slot placeholders or without text are left out.
fn reply_texts(responses: &[&Response], skipped: &mut Vec<Skipped>) -> Vec<String> {
    let usable = |r: &Response, skipped: &mut Vec<Skipped>| -> Vec<String> {
        let mut texts = Vec::new();
        for v in &r.variations {
            let at = Loc {
                file: r.loc.file.clone(),
                line: v.line,
            };
            match &v.text {
                Some(t) if has_placeholder(t) => skipped.push(Skipped {
                    loc: at,
                    what: format!("response {} variation", r.name),
                    reason: "fills slots ({slot}); Frontdoor replies have no slots".into(),
                }),
                Some(t) if !t.trim().is_empty() => {
                    texts.push(t.trim().to_string());
                    if !v.extras.is_empty() {
                        skipped.push(Skipped {
                            loc: at,
                            what: format!("response {} {}", r.name, v.extras.join(", ")),
                            reason: "only the text of a response is imported".into(),
                        });
                    }
                }
                _ => skipped.push(Skipped {
                    loc: at,
                    what: format!("response {} variation", r.name),
                    reason: "has no text".into(),
                }),
            }
        }
        texts
    };
    match responses {
        [] => Vec::new(),
        [one] => usable(one, skipped),
        many => {
            let parts: Vec<String> = many
                .iter()
                .filter_map(|r| usable(r, skipped).into_iter().next())
                .collect();
            if parts.is_empty() {
                Vec::new()
            } else {
                vec![parts.join("\n\n")]
            }
        }
    }
}

fn has_placeholder(text: &str) -> bool {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('}')
            && !after[..close].is_empty()
            && after[..close]
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_')
        {
            return true;
        }
        rest = after;
    }
    false
}

fn article(
    id: &str,
    d: &Draft,
    replies: &[String],
    organisation: &str,
    today: chrono::NaiveDate,
) -> (PathBuf, String) {
    use chrono::Datelike;
    let hints = d.hints.clone().unwrap_or_default();
    let first = &d.rasa[0];
    let group = first.split('/').next().unwrap_or(first);
    let category = hints.category.unwrap_or_else(|| {
        if d.retrieval {
            group.to_string()
        } else {
            "Imported".into()
        }
    });
    let title = hints
        .title
        .unwrap_or_else(|| humanise(first.rsplit('/').next().unwrap_or(first)));
    let front = FrontMatter {
        id: id.to_string(),
        title,
        category: category.clone(),
        questions: d.examples.clone(),
        reviewed: toml::value::Datetime {
            date: Some(toml::value::Date {
                year: u16::try_from(today.year()).unwrap_or(2026),
                month: u8::try_from(today.month()).unwrap_or(1),
                day: u8::try_from(today.day()).unwrap_or(1),
            }),
            time: None,
            offset: None,
        },
        owner: hints.owner.unwrap_or_else(|| organisation.to_string()),
        visibility: "all".into(),
    };
    let folder = match slug(&category) {
        s if s.is_empty() => "imported".to_string(),
        s => s,
    };
    (
        PathBuf::from(format!("knowledge-base/{folder}/{id}.md")),
        format!(
            "+++\n{}+++\n{}\n",
            toml::to_string_pretty(&front).unwrap_or_default(),
            replies[0]
        ),
    )
}

fn sso_toml(organisation: &str) -> String {
    format!(
        "# The organisation, written by `frontdoor import-rasa`: Rasa has no such settings, so these\n\
         # are defaults to edit (time zone, currency, hours of coverage). No rate card: nothing is recharged.\n\
         name = {name}\nshort_name = {name}\ntimezone = \"UTC\"\ncurrency = \"GBP\"\n\n\
         [coverage]\ndays = \"Mon-Fri\"\nstart = \"08:00\"\nend = \"18:00\"\n",
        name = toml::Value::String(organisation.to_string())
    )
}

/// A Frontdoor intent name: lower-case letters, digits, '_', '-' and '.' (`faq/ask_x` →
/// `faq.ask_x`).
pub fn intent_name(rasa: &str) -> String {
    let s: String = rasa
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '/' => '.',
            c if c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c) => c,
            _ => '-',
        })
        .collect();
    if s.is_empty() { "intent".into() } else { s }
}

/// An article id: lower-case letters, digits and single dashes.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn unique(name: String, taken: &mut BTreeSet<String>) -> String {
    let name = if name.is_empty() {
        "intent".to_string()
    } else {
        name
    };
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{name}-{n}");
        n += 1;
    }
    candidate
}

/// `ask_opening_hours` → "Ask opening hours".
fn humanise(name: &str) -> String {
    let words = name.replace(['_', '-', '.'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Imported answer".into(),
    }
}
