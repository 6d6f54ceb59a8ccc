//! Our content as a Rasa [`Project`]: every intent with its examples (article intents included,
//! their questions being their examples), vocabulary groups as synonyms, rules as regexes where
//! Python's `re` reads them the same, and the replies and articles as responses answered by one
//! rule each. Each intent's metadata carries our action (and an article's title, category and
//! owner), so `import-rasa` turns an export back into the same kinds of intents.

use std::path::Path;

use super::model::*;
use crate::knowledge::{Action, Knowledge, line_of};

/// The project to write and what could not be expressed in Rasa.
pub fn from_knowledge(k: &Knowledge) -> (Project, Vec<Skipped>) {
    let mut p = Project::default();
    let mut left_out = Vec::new();
    for i in k.intents.values() {
        let loc = locate(&i.file, &i.name);
        let examples: Vec<Example> = i
            .examples
            .iter()
            .map(|e| Example {
                text: e.split_whitespace().collect::<Vec<_>>().join(" "),
                ..Example::default()
            })
            .filter(|e| !e.text.is_empty())
            .collect();
        if examples.is_empty() {
            left_out.push(Skipped {
                loc,
                what: format!("intent {}", i.name),
                reason: "has rules but no examples: Rasa needs examples".into(),
            });
            continue;
        }
        let action = serde_json::to_value(&i.action)
            .ok()
            .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_string))
            .unwrap_or_default();
        let mut hints = FrontdoorHints {
            action,
            ..FrontdoorHints::default()
        };
        let response = format!("utter_{}", i.name);
        let mut texts = i.replies.clone();
        match &i.action {
            Action::Article(a) => {
                if let Some(article) = k.articles.get(a) {
                    hints.title = Some(article.title.clone());
                    hints.category = Some(article.category.clone());
                    hints.owner = Some(article.owner.clone());
                    texts = vec![article.body.clone()];
                }
            }
            Action::Service(_) | Action::Process(_) => left_out.push(Skipped {
                loc: loc.clone(),
                what: format!("intent {}: its {} action", i.name, hints.action),
                reason: "a service form or process question has no Rasa response; exported as an intent only".into(),
            }),
            _ => {}
        }
        if !texts.is_empty() {
            p.responses.push(Response {
                name: response.clone(),
                variations: texts
                    .into_iter()
                    .map(|t| Variation {
                        text: Some(t),
                        ..Variation::default()
                    })
                    .collect(),
                ..Response::default()
            });
            p.pairings.push(Pairing {
                intents: vec![i.name.clone()],
                responses: vec![response],
                ..Pairing::default()
            });
        }
        let patterns = i.rules.iter().filter_map(|r| match python_compatible(r) {
            Ok(()) => Some((r.clone(), 0)),
            Err(why) => {
                left_out.push(Skipped {
                    loc: locate(&i.file, r),
                    what: format!("rule {r:?} of {}", i.name),
                    reason: format!("Python's `re` reads it differently ({why})"),
                });
                None
            }
        });
        let patterns: Vec<(String, usize)> = patterns.collect();
        if !patterns.is_empty() {
            p.regexes.push(Pattern {
                name: i.name.clone(),
                patterns,
                loc: Loc::default(),
            });
        }
        p.intents.push(NluIntent {
            name: i.name.clone(),
            loc,
            examples,
            frontdoor: Some(hints),
        });
    }
    for g in &k.vocabulary {
        let loc = Loc {
            file: g.file.clone(),
            line: g.line,
        };
        if g.off_topic {
            left_out.push(Skipped {
                loc,
                what: "off-topic vocabulary group".into(),
                reason: "Rasa has no counterpart (words that mark questions we don't handle)"
                    .into(),
            });
            continue;
        }
        if !g.articles.is_empty() || g.domain.is_some() {
            left_out.push(Skipped {
                loc: loc.clone(),
                what: "vocabulary group scope".into(),
                reason: "a Rasa synonym applies everywhere; exported without its scope".into(),
            });
        }
        if let Some((first, rest)) = g.terms.split_first() {
            p.synonyms.push(Synonym {
                canonical: first.clone(),
                terms: rest.to_vec(),
                loc,
            });
        }
    }
    (p, left_out)
}

fn locate(file: &Path, needle: &str) -> Loc {
    let line = std::fs::read_to_string(file)
        .map(|t| line_of(&t, needle))
        .unwrap_or(1);
    Loc {
        file: file.to_path_buf(),
        line,
    }
}

/// Whether Python's `re` (which Rasa uses) reads a Rust regex the same; the reason when not.
pub fn python_compatible(pattern: &str) -> Result<(), &'static str> {
    if ["\\p", "\\P"].iter().any(|s| pattern.contains(s)) {
        return Err("Unicode classes \\p{…}");
    }
    if pattern.contains("[[:") {
        return Err("POSIX classes [[:…:]]");
    }
    if pattern.contains("\\z") {
        return Err("\\z");
    }
    if ["&&", "~~", "--"].iter().any(|s| pattern.contains(s)) {
        return Err("class set operations");
    }
    if pattern.contains("(?<") && !pattern.contains("(?<=") && !pattern.contains("(?<!") {
        return Err("named groups without P");
    }
    // Flags: Python takes i, m, s (and x) for the whole pattern only at its start.
    let mut rest = pattern;
    let mut at = 0;
    while let Some(i) = rest.find("(?") {
        let flags: String = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .collect();
        let next = rest[i + 2 + flags.len()..].chars().next();
        if !flags.is_empty() && matches!(next, Some(')' | ':')) {
            if flags.chars().any(|c| !"imsx-".contains(c)) {
                return Err("a flag Python lacks");
            }
            if next == Some(')') && at + i != 0 {
                return Err("flags after the start");
            }
        }
        at += i + 2;
        rest = &rest[i + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_python_reads_the_same_are_exported_and_the_others_say_why() {
        for ok in [
            r"(?i)\bP60s?\b",
            r"(?i)\b(VPN|GlobalProtect)\b",
            r"\d{4}-\d{2}",
            r"(?i:abc)x",
            r"(?P<ref>REQ-\d+)",
            r"(?<=a)b",
        ] {
            assert_eq!(python_compatible(ok), Ok(()), "{ok}");
        }
        for bad in [
            r"\p{L}+",
            r"x(?i)y",
            r"(?U)a+",
            r"[[:alpha:]]",
            r"(?<n>a)",
            r"a\z",
        ] {
            assert!(python_compatible(bad).is_err(), "{bad}");
        }
    }
}
