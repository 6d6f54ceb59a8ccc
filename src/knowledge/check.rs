//! `frontdoor check`: validation errors plus a cross-validation report of the examples.
//!
//! Cross-validation: the examples of every intent are split into `FOLDS` folds; for each fold an
//! engine is trained on the other folds and classifies the held-out examples. An example that
//! lands on another intent is reported at its file and line, and the confusable pairs are ranked,
//! so an editor sees which intents to reword before users do.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{ContentError, Knowledge, builtin_extractors, line_of};
use crate::engine::{Decision, Engine, EngineConfig, IntentDef};

const FOLDS: usize = 5;

#[derive(Debug, Serialize)]
pub struct Misclassified {
    pub file: String,
    pub line: usize,
    pub example: String,
    pub expected: String,
    /// The intent it went to, `clarify:a|b`, or `fallback`.
    pub got: String,
}

#[derive(Debug, Serialize)]
pub struct ConfusablePair {
    pub a: String,
    pub b: String,
    pub count: usize,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub errors: Vec<ContentError>,
    pub counts: BTreeMap<&'static str, usize>,
    pub cross_validation: Option<CrossValidation>,
}

#[derive(Debug, Serialize)]
pub struct CrossValidation {
    pub examples: usize,
    pub accuracy: f64,
    pub misclassified: Vec<Misclassified>,
    pub confusable_pairs: Vec<ConfusablePair>,
}

/// Validate the content directory; with `cross_validate`, also run the cross-validation report.
pub fn check(root: &Path, config: EngineConfig, cross_validate: bool) -> CheckReport {
    let (knowledge, mut errors) = Knowledge::load_with_report(root, config);
    let mut counts = BTreeMap::new();
    let cv = match &knowledge {
        Some(k) => {
            counts.insert("articles", k.articles.len());
            counts.insert("intents", k.intents.len());
            counts.insert(
                "examples",
                k.intents.values().map(|i| i.examples.len()).sum(),
            );
            counts.insert("services", k.services.len());
            counts.insert("clients", k.clients.len());
            counts.insert("processes", k.processes.len());
            counts.insert("vocabulary groups", k.vocabulary.len());
            vocabulary_errors(k, &mut errors);
            // the engine's own settings: loading fills in the content's out-of-scope intent
            cross_validate.then(|| cross_validation(k, k.engine.config().clone()))
        }
        None => None,
    };
    CheckReport {
        ok: errors.is_empty() && knowledge.is_some(),
        errors,
        counts,
        cross_validation: cv,
    }
}

/// Vocabulary groups that cannot help: none of their terms is a word of the content (nothing
/// to expand to), or none of their terms is answered differently without them.
fn vocabulary_errors(k: &Knowledge, errors: &mut Vec<ContentError>) {
    let uses = k.engine.vocabulary_report(&k.vocabulary_groups);
    for (entry, u) in k.vocabulary.iter().zip(uses) {
        if entry.off_topic {
            continue;
        }
        let message = if u.known_terms == 0 {
            "vocabulary group: the content knows none of its terms, so it has nothing to expand to \
             (add a term the articles use)"
        } else if !u.changes_answers {
            "vocabulary group: changes no answer (each term asked alone is answered the same \
             without it); remove it or add the terms people actually use"
        } else {
            continue;
        };
        errors.push(ContentError {
            file: entry.file.clone(),
            line: entry.line,
            message: message.into(),
        });
    }
    errors.sort();
}

fn cross_validation(k: &Knowledge, config: EngineConfig) -> CrossValidation {
    let defs = k.intent_defs();
    let mut misclassified = Vec::new();
    let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut total = 0usize;
    for fold in 0..FOLDS {
        let train: Vec<IntentDef> = defs
            .iter()
            .map(|d| IntentDef {
                name: d.name.clone(),
                examples: d
                    .examples
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % FOLDS != fold || d.examples.len() < 2)
                    .map(|(_, e)| e.clone())
                    .collect(),
                rules: d.rules.clone(),
                passages: d.passages.clone(),
            })
            .collect();
        let Ok(engine) = Engine::build(&train, &builtin_extractors(), config.clone()) else {
            continue;
        };
        for d in &defs {
            if d.examples.len() < 2 {
                continue;
            }
            for (_, ex) in d
                .examples
                .iter()
                .enumerate()
                .filter(|(i, _)| i % FOLDS == fold)
            {
                total += 1;
                let c = engine.classify(ex);
                let got = match &c.decision {
                    Decision::Intent(i) if i == &d.name => continue,
                    // an off-topic example is answered right by falling back
                    Decision::Fallback if d.name == config.out_of_scope_intent => continue,
                    Decision::Intent(i) => i.clone(),
                    Decision::Clarify(a, b) => {
                        if a == &d.name || b == &d.name {
                            // Ambiguous but the right answer is offered: not an error.
                            continue;
                        }
                        format!("clarify:{a}|{b}")
                    }
                    Decision::Suggest(list) => format!("suggest:{}", list.join("|")),
                    Decision::Fallback => "fallback".to_string(),
                };
                let other = c
                    .ranked
                    .first()
                    .map(|s| s.intent.clone())
                    .unwrap_or_default();
                if other != d.name && !other.is_empty() {
                    let key = if d.name < other {
                        (d.name.clone(), other)
                    } else {
                        (other, d.name.clone())
                    };
                    *pairs.entry(key).or_default() += 1;
                }
                let intent = &k.intents[&d.name];
                let line = std::fs::read_to_string(&intent.file)
                    .map(|t| line_of(&t, ex))
                    .unwrap_or(1);
                misclassified.push(Misclassified {
                    file: intent.file.display().to_string(),
                    line,
                    example: ex.clone(),
                    expected: d.name.clone(),
                    got,
                });
            }
        }
    }
    let mut confusable_pairs: Vec<ConfusablePair> = pairs
        .into_iter()
        .map(|((a, b), count)| ConfusablePair { a, b, count })
        .collect();
    confusable_pairs.sort_by(|x, y| y.count.cmp(&x.count).then(x.a.cmp(&y.a)));
    misclassified.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
    CrossValidation {
        examples: total,
        accuracy: if total == 0 {
            1.0
        } else {
            1.0 - misclassified.len() as f64 / total as f64
        },
        misclassified,
        confusable_pairs,
    }
}
