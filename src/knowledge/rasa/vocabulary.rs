//! Vocabulary groups from Rasa's synonyms (declared, and inline `"value"`s of annotations) and
//! lookup tables, as `intents/vocabulary.toml` writes them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::*;

/// Largest lookup table taken as a vocabulary group; a longer list is a gazetteer, not words
/// people use for one thing.
pub const MAX_LOOKUP_TERMS: usize = 200;

#[derive(Debug, Clone)]
pub struct Group {
    pub terms: Vec<String>,
    pub note: String,
    pub loc: Loc,
}

#[derive(Serialize)]
struct VocabularyFile<'a> {
    group: Vec<VocabularyOut<'a>>,
}

#[derive(Serialize)]
struct VocabularyOut<'a> {
    terms: &'a [String],
    note: &'a str,
}

/// `intents/vocabulary.toml` for these groups, and the line of each `[[group]]`.
pub fn to_toml(groups: &[Group]) -> (String, Vec<usize>) {
    let file = VocabularyFile {
        group: groups
            .iter()
            .map(|g| VocabularyOut {
                terms: &g.terms,
                note: &g.note,
            })
            .collect(),
    };
    let text = format!(
        "# Synonyms and lookup tables imported from Rasa.\n\n{}",
        toml::to_string_pretty(&file).unwrap_or_default()
    );
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[group]]")
        .map(|(i, _)| i + 1)
        .collect();
    (text, lines)
}

/// Vocabulary groups from synonyms (declared and inline) and lookup tables; a term goes to the
/// first group that has it, and a group needs two terms.
pub fn groups(p: &Project, skipped: &mut Vec<Skipped>) -> Vec<Group> {
    let mut raw: Vec<Group> = Vec::new();
    let mut by_canonical: BTreeMap<String, usize> = BTreeMap::new();
    let mut add =
        |raw: &mut Vec<Group>, canonical: &str, terms: &[String], note: String, loc: &Loc| {
            let at = *by_canonical
                .entry(canonical.to_lowercase())
                .or_insert_with(|| {
                    raw.push(Group {
                        terms: vec![canonical.to_string()],
                        note,
                        loc: loc.clone(),
                    });
                    raw.len() - 1
                });
            raw[at].terms.extend(terms.iter().cloned());
        };
    for s in &p.synonyms {
        add(
            &mut raw,
            &s.canonical,
            &s.terms,
            format!("Rasa synonym {:?} ({})", s.canonical, s.loc),
            &s.loc,
        );
    }
    for i in &p.intents {
        for e in &i.examples {
            for a in &e.entities {
                if let Some(v) = &a.value {
                    let loc = Loc {
                        file: i.loc.file.clone(),
                        line: e.line,
                    };
                    add(
                        &mut raw,
                        v,
                        std::slice::from_ref(&a.text),
                        format!("Rasa synonym {v:?} ({loc})"),
                        &loc,
                    );
                }
            }
        }
    }
    for l in &p.lookups {
        if l.values.len() > MAX_LOOKUP_TERMS {
            skipped.push(Skipped { loc: l.loc.clone(), what: format!("lookup {}", l.name), reason: format!("{} values: more than {MAX_LOOKUP_TERMS} is a gazetteer, not words for one thing", l.values.len()) });
            continue;
        }
        raw.push(Group {
            terms: l.values.clone(),
            note: format!("Rasa lookup table {:?} ({})", l.name, l.loc),
            loc: l.loc.clone(),
        });
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for mut g in raw {
        let mut terms = Vec::new();
        for t in g.terms {
            let key = crate::engine::normalize::normalize(&t).trim().to_string();
            if key.is_empty() || !seen.insert(key) {
                continue; // a repeat, or already in an earlier group
            }
            terms.push(t.trim().to_string());
        }
        if terms.len() < 2 {
            skipped.push(Skipped {
                loc: g.loc.clone(),
                what: g.note.clone(),
                reason: "fewer than two distinct terms left (a term belongs to one group)".into(),
            });
            continue;
        }
        g.terms = terms;
        out.push(g);
    }
    out
}
