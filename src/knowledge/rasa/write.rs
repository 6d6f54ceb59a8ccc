//! Writing a [`Project`] as Rasa 3.x YAML: `data/nlu.yml` (intents with `examples: |` blocks,
//! synonyms, regexes), `data/rules.yml` (one rule per intent that a response answers) and
//! `domain.yml` (intents and responses), following Rasa's documented training data format.

use std::fmt::Write;

use super::model::{NluIntent, Project};

/// The training data format version written (Rasa 3.1 and later read it).
pub const VERSION: &str = "3.1";

pub fn nlu_yaml(p: &Project) -> String {
    let mut out = format!("version: \"{VERSION}\"\n\nnlu:\n");
    for i in &p.intents {
        let examples: Vec<String> = i.examples.iter().map(|e| one_line(&e.text)).collect();
        if examples.iter().all(String::is_empty) {
            continue;
        }
        let _ = writeln!(out, "- intent: {}", scalar(&i.name));
        metadata(&mut out, i);
        block(&mut out, "examples", &examples);
    }
    for s in &p.synonyms {
        let _ = writeln!(out, "- synonym: {}", scalar(&s.canonical));
        block(&mut out, "examples", &s.terms);
    }
    for r in &p.regexes {
        let _ = writeln!(out, "- regex: {}", scalar(&r.name));
        let patterns: Vec<String> = r.patterns.iter().map(|(p, _)| p.clone()).collect();
        block(&mut out, "examples", &patterns);
    }
    for l in &p.lookups {
        let _ = writeln!(out, "- lookup: {}", scalar(&l.name));
        block(&mut out, "examples", &l.values);
    }
    out
}

pub fn rules_yaml(p: &Project) -> String {
    if p.pairings.is_empty() {
        return format!("version: \"{VERSION}\"\n\nrules: []\n");
    }
    let mut out = format!("version: \"{VERSION}\"\n\nrules:\n");
    for pair in &p.pairings {
        let _ = writeln!(
            out,
            "- rule: {}\n  steps:",
            scalar(&format!("answer {}", pair.intents.join(" or ")))
        );
        match pair.intents.as_slice() {
            [one] => {
                let _ = writeln!(out, "  - intent: {}", scalar(one));
            }
            many => {
                let _ = writeln!(out, "  - or:");
                for i in many {
                    let _ = writeln!(out, "    - intent: {}", scalar(i));
                }
            }
        }
        for r in &pair.responses {
            let _ = writeln!(out, "  - action: {}", scalar(r));
        }
    }
    out
}

pub fn domain_yaml(p: &Project) -> String {
    let mut out = format!("version: \"{VERSION}\"\n\nintents:\n");
    for i in &p.intents {
        let _ = writeln!(out, "- {}", scalar(&i.name));
    }
    if !p.responses.is_empty() {
        out.push_str("\nresponses:\n");
    }
    for r in &p.responses {
        let _ = writeln!(out, "  {}:", scalar(&r.name));
        for v in &r.variations {
            let text = v.text.as_deref().unwrap_or_default();
            let _ = writeln!(out, "  - text: {}", text_value(text, "      "));
        }
    }
    out
}

fn metadata(out: &mut String, i: &NluIntent) {
    let Some(h) = &i.frontdoor else { return };
    let _ = writeln!(
        out,
        "  metadata:\n    frontdoor:\n      action: {}",
        scalar(&h.action)
    );
    for (k, v) in [
        ("title", &h.title),
        ("category", &h.category),
        ("owner", &h.owner),
    ] {
        if let Some(v) = v {
            let _ = writeln!(out, "      {k}: {}", scalar(v));
        }
    }
}

/// `key: |` with one `- line` per entry.
fn block(out: &mut String, key: &str, lines: &[String]) {
    let _ = writeln!(out, "  {key}: |");
    for l in lines.iter().map(|l| one_line(l)).filter(|l| !l.is_empty()) {
        let _ = writeln!(out, "    - {l}");
    }
}

/// An example is one line in Rasa's block format.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A scalar written plain when YAML reads it back as the same string, else double-quoted
/// (JSON's string syntax is valid YAML).
pub fn scalar(s: &str) -> String {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    ];
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./'-".contains(c))
        && !s.ends_with(' ')
        && !WORDS.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// A response text: a literal block (`|-`) for readable multi-line text, else a scalar.
fn text_value(text: &str, indent: &str) -> String {
    let literal_ok = text.contains('\n')
        && !text.starts_with([' ', '\t', '\n'])
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    if !literal_ok {
        return scalar(text);
    }
    let mut out = String::from("|-");
    for line in text.trim_end().lines() {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(indent);
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::yaml;
    use super::*;

    #[test]
    fn scalars_read_back_as_written() {
        for s in [
            "greet",
            "faq/ask_hours",
            "yes",
            "3.1",
            "a: b",
            "- dash",
            "#hash",
            "quote \"x\"",
            "annual leave",
            "trailing ",
            "multi\nline",
        ] {
            let doc = format!("k: {}\n", scalar(s));
            let root = yaml::parse(&doc).expect("valid").expect("doc");
            assert_eq!(root.get("k").and_then(yaml::Node::as_str), Some(s), "{doc}");
        }
    }

    #[test]
    fn a_multi_line_response_is_a_literal_block_that_reads_back() {
        let text = "**Step by step**\n\n1. Open it.\n   - indented\n2. Done: `code`";
        let doc = format!("r:\n  - text: {}\n", text_value(text, "      "));
        assert!(doc.contains("|-"), "{doc}");
        let root = yaml::parse(&doc).expect("valid").expect("doc");
        let got = root
            .get("r")
            .map(|r| r.items()[0].get("text").and_then(yaml::Node::as_str));
        assert_eq!(got, Some(Some(text)));
    }
}
