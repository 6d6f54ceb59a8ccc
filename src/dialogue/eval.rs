//! Measuring content through the real dialogue on questions we did not write.
//!
//! A *development set* maps intents of public, crowd-written intent datasets to the article (or
//! request form) of ours that answers them, plus intents that have no home here (weather,
//! recipes, banking products...) whose right answer is no article. Only the mapping is ours
//! (`tests/fixtures/devset.toml`); the questions are read from the dataset files at run time, so
//! they never end up in the content. Each question goes through [`step`] from a fresh
//! conversation, exactly as a first message in the web chat would, and the first reply is
//! judged:
//!
//! - in-domain: **direct** (the right article or form at once), **suggested** (the right one
//!   among the "did you mean" buttons), **wrong** (another article, form or action), or
//!   **declined** (no answer, or suggestions without the right one);
//! - out-of-domain: **declined**, **suggested** (buttons, no article shown), or **answered**
//!   (an article or form: a wrong answer, worse than "I don't know").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{Event, Input, Outcome, State, UserContext, step};
use crate::config::DialogueSettings;
use crate::knowledge::{Action, Knowledge};

/// The development-set file (see `tests/fixtures/devset.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSetSpec {
    /// Directory of the dataset files, relative to the working directory.
    pub datasets: PathBuf,
    #[serde(default)]
    pub topic: Vec<TopicSpec>,
    #[serde(default)]
    pub out_of_domain: Vec<OutOfDomainSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub source: Vec<String>,
    pub intent: String,
    /// Acceptable answers: article ids, or `service:<id>`.
    pub expect: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutOfDomainSpec {
    pub source: Vec<String>,
    pub intents: Vec<String>,
    /// At most this many rows of each intent from each source file (in file order).
    pub per_intent: usize,
}

/// One question of the development set.
#[derive(Clone, Debug)]
pub struct DevRow {
    pub text: String,
    /// `dataset-file:intent` it came from.
    pub origin: String,
    /// Acceptable answers; empty = out of domain.
    pub expect: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DevSetError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{spec}: {what} {name:?} is not in the content")]
    UnknownTarget {
        spec: String,
        what: &'static str,
        name: String,
    },
    #[error("{spec}: no rows of intent {intent:?} in {sources}")]
    NoRows {
        spec: String,
        intent: String,
        sources: String,
    },
}

/// Read the spec and the dataset rows it names. `datasets` overrides the spec's directory.
pub fn load_devset(spec_path: &Path, datasets: Option<&Path>) -> Result<Vec<DevRow>, DevSetError> {
    let file_err = |path: &Path, message: String| DevSetError::File {
        path: path.display().to_string(),
        message,
    };
    let text =
        std::fs::read_to_string(spec_path).map_err(|e| file_err(spec_path, e.to_string()))?;
    let spec: DevSetSpec = toml::from_str(&text).map_err(|e| file_err(spec_path, e.to_string()))?;
    let dir = datasets.map_or_else(|| spec.datasets.clone(), Path::to_path_buf);
    let mut files: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut rows_of = |name: &str| -> Result<Vec<(String, String)>, DevSetError> {
        if let Some(rows) = files.get(name) {
            return Ok(rows.clone());
        }
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| file_err(&path, e.to_string()))?;
        let rows = crate::engine::eval::load_jsonl(&text).map_err(|message| {
            let line = message
                .strip_prefix("line ")
                .and_then(|r| r.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            DevSetError::Row {
                path: path.display().to_string(),
                line,
                message,
            }
        })?;
        files.insert(name.to_string(), rows.clone());
        Ok(rows)
    };
    let spec_name = spec_path.display().to_string();
    let mut out = Vec::new();
    for t in &spec.topic {
        let before = out.len();
        for source in &t.source {
            for (text, intent) in rows_of(source)? {
                if intent == t.intent {
                    out.push(DevRow {
                        text,
                        origin: format!("{source}:{intent}"),
                        expect: t.expect.clone(),
                    });
                }
            }
        }
        if out.len() == before {
            return Err(DevSetError::NoRows {
                spec: spec_name,
                intent: t.intent.clone(),
                sources: t.source.join(", "),
            });
        }
    }
    for o in &spec.out_of_domain {
        for source in &o.source {
            let rows = rows_of(source)?;
            for intent in &o.intents {
                out.extend(
                    rows.iter()
                        .filter(|(_, i)| i == intent)
                        .take(o.per_intent)
                        .map(|(text, _)| DevRow {
                            text: text.clone(),
                            origin: format!("{source}:{intent}"),
                            expect: Vec::new(),
                        }),
                );
            }
        }
    }
    Ok(out)
}

/// Every `expect` target must exist in the content, or the figures would silently count a
/// typo in the mapping as the engine's miss.
pub fn check_targets(rows: &[DevRow], k: &Knowledge, spec: &str) -> Result<(), DevSetError> {
    for r in rows {
        for e in &r.expect {
            let (what, known) = match e.strip_prefix("service:") {
                Some(s) => ("service", k.services.contains_key(s)),
                None => ("article", k.articles.contains_key(e)),
            };
            if !known {
                return Err(DevSetError::UnknownTarget {
                    spec: spec.to_string(),
                    what,
                    name: e.clone(),
                });
            }
        }
    }
    Ok(())
}

/// What the first reply to a question was.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    /// An article shown, or a request form started (`service:<id>`).
    Answer { target: String },
    /// "Did you mean": the targets of the buttons offered.
    Suggest { targets: Vec<String> },
    /// "Sorry, I don't know".
    Declined,
    /// Anything else (small talk, status, an escalation...).
    Other { outcome: String },
}

/// The first reply of a fresh conversation to `text`, in the web chat, on a weekday in
/// coverage hours, for a user of no particular client.
pub fn first_response(k: &Knowledge, settings: &DialogueSettings, text: &str) -> Response {
    let event = Event {
        input: Input::Text(text.to_string()),
        channel: "web".into(),
        user: UserContext::default(),
        now: weekday_morning(),
        gate: super::Gate::Live,
    };
    let s = step(State::default(), &event, k, settings);
    match s.state {
        State::AwaitingAnswerFeedback { article, .. } => Response::Answer { target: article },
        State::CollectingInputs(f) | State::Confirming(f) => Response::Answer {
            target: format!("service:{}", f.service),
        },
        State::Clarifying { options, .. } => Response::Suggest {
            targets: options.iter().filter_map(|o| target_of(k, o)).collect(),
        },
        _ if s.outcome == Outcome::Fallback => Response::Declined,
        _ => Response::Other {
            outcome: s.outcome.as_str().to_string(),
        },
    }
}

fn weekday_morning() -> DateTime<Utc> {
    // A Wednesday, 10:00 UTC: inside every shipped client's coverage hours.
    Utc.with_ymd_and_hms(2026, 11, 4, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The article or `service:<id>` an intent leads to.
fn target_of(k: &Knowledge, intent: &str) -> Option<String> {
    match &k.intents.get(intent)?.action {
        Action::Article(a) => Some(a.clone()),
        Action::Service(s) => Some(format!("service:{s}")),
        _ => None,
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct InDomain {
    pub rows: usize,
    pub direct: usize,
    pub suggested: usize,
    pub wrong: usize,
    pub declined: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct OutOfDomain {
    pub rows: usize,
    pub declined: usize,
    pub suggested: usize,
    pub answered: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ContentEvalReport {
    pub in_domain: InDomain,
    pub out_of_domain: OutOfDomain,
    /// Per dataset intent: (origin, rows, direct, direct or suggested).
    pub by_origin: Vec<(String, usize, usize, usize)>,
    /// Misses (in-domain not direct, out-of-domain answered), for reading.
    pub misses: Vec<Miss>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Miss {
    pub text: String,
    pub origin: String,
    pub expect: Vec<String>,
    pub got: Response,
}

impl ContentEvalReport {
    fn pct(n: usize, d: usize) -> f64 {
        if d == 0 {
            0.0
        } else {
            100.0 * n as f64 / d as f64
        }
    }
    /// Right article directly, % of in-domain rows.
    pub fn direct_pct(&self) -> f64 {
        Self::pct(self.in_domain.direct, self.in_domain.rows)
    }
    /// Right article directly or among the suggestions, % of in-domain rows.
    pub fn direct_or_suggested_pct(&self) -> f64 {
        Self::pct(
            self.in_domain.direct + self.in_domain.suggested,
            self.in_domain.rows,
        )
    }
    /// Out-of-domain questions answered with an article or form, %.
    pub fn ood_answered_pct(&self) -> f64 {
        Self::pct(self.out_of_domain.answered, self.out_of_domain.rows)
    }
}

/// Run every row through the dialogue.
pub fn evaluate(k: &Knowledge, settings: &DialogueSettings, rows: &[DevRow]) -> ContentEvalReport {
    let mut r = ContentEvalReport::default();
    let mut by_origin: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for row in rows {
        let got = first_response(k, settings, &row.text);
        let mut miss = false;
        if row.expect.is_empty() {
            r.out_of_domain.rows += 1;
            match &got {
                Response::Answer { .. } => {
                    r.out_of_domain.answered += 1;
                    miss = true;
                }
                Response::Suggest { .. } => r.out_of_domain.suggested += 1,
                Response::Declined | Response::Other { .. } => r.out_of_domain.declined += 1,
            }
        } else {
            r.in_domain.rows += 1;
            let o = by_origin.entry(&row.origin).or_default();
            o.0 += 1;
            match &got {
                Response::Answer { target } if row.expect.contains(target) => {
                    r.in_domain.direct += 1;
                    o.1 += 1;
                    o.2 += 1;
                }
                Response::Suggest { targets } if targets.iter().any(|t| row.expect.contains(t)) => {
                    r.in_domain.suggested += 1;
                    o.2 += 1;
                    miss = true;
                }
                Response::Answer { .. } | Response::Other { .. } => {
                    r.in_domain.wrong += 1;
                    miss = true;
                }
                Response::Suggest { .. } | Response::Declined => {
                    r.in_domain.declined += 1;
                    miss = true;
                }
            }
        }
        if miss {
            r.misses.push(Miss {
                text: row.text.clone(),
                origin: row.origin.clone(),
                expect: row.expect.clone(),
                got,
            });
        }
    }
    r.by_origin = by_origin
        .into_iter()
        .map(|(o, (n, d, s))| (o.to_string(), n, d, s))
        .collect();
    r
}

impl std::fmt::Display for ContentEvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.in_domain;
        let o = &self.out_of_domain;
        writeln!(f, "in-domain questions:        {}", i.rows)?;
        writeln!(
            f,
            "  right article directly:   {:5.1}% ({})",
            self.direct_pct(),
            i.direct
        )?;
        writeln!(
            f,
            "  right within suggestions: {:5.1}% ({})",
            Self::pct(i.suggested, i.rows),
            i.suggested
        )?;
        writeln!(
            f,
            "  directly or suggested:    {:5.1}%",
            self.direct_or_suggested_pct()
        )?;
        writeln!(
            f,
            "  wrong answer:             {:5.1}% ({})",
            Self::pct(i.wrong, i.rows),
            i.wrong
        )?;
        writeln!(
            f,
            "  declined:                 {:5.1}% ({})",
            Self::pct(i.declined, i.rows),
            i.declined
        )?;
        writeln!(f, "out-of-domain questions:    {}", o.rows)?;
        writeln!(
            f,
            "  declined:                 {:5.1}% ({})",
            Self::pct(o.declined, o.rows),
            o.declined
        )?;
        writeln!(
            f,
            "  suggestions only:         {:5.1}% ({})",
            Self::pct(o.suggested, o.rows),
            o.suggested
        )?;
        writeln!(
            f,
            "  answered with an article: {:5.1}% ({})",
            self.ood_answered_pct(),
            o.answered
        )?;
        writeln!(
            f,
            "by dataset intent (rows, direct %, direct or suggested %):"
        )?;
        for (origin, n, d, s) in &self.by_origin {
            writeln!(
                f,
                "  {origin:<45} {n:>4} {:5.1}% {:5.1}%",
                Self::pct(*d, *n),
                Self::pct(*s, *n)
            )?;
        }
        Ok(())
    }
}
