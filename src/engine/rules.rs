//! Regex rules and extractors. All intent rules are compiled once into a
//! `RegexSet` (one pass tells which rules match); the first matching rule in
//! definition order pins its intent. Named capture groups of the pinning rule
//! and of every extractor become entities (byte offsets into the input).

use regex::{Regex, RegexSet};

use super::{EngineError, Entity, Extractor, IntentDef};

/// Patterns longer than this are rejected (guards compile time/memory).
const MAX_PATTERN_LEN: usize = 4096;
const SIZE_LIMIT: usize = 8 << 20;

#[derive(Debug)]
pub struct Rule {
    pub intent: usize,
    pub index: usize,
    pub regex: Regex,
}

#[derive(Debug, Default)]
pub struct RuleSet {
    set: Option<RegexSet>,
    pub rules: Vec<Rule>,
    extractors: Vec<(String, Regex)>,
}

fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("pattern longer than {MAX_PATTERN_LEN} bytes"));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

impl RuleSet {
    pub fn build(intents: &[IntentDef], extractors: &[Extractor]) -> Result<RuleSet, EngineError> {
        let mut rs = RuleSet::default();
        for (i, def) in intents.iter().enumerate() {
            for (j, src) in def.rules.iter().enumerate() {
                let regex = compile(src).map_err(|message| EngineError::InvalidRule {
                    intent: def.name.clone(),
                    index: j,
                    message,
                })?;
                rs.rules.push(Rule {
                    intent: i,
                    index: j,
                    regex,
                });
            }
        }
        if !rs.rules.is_empty() {
            let set = regex::RegexSetBuilder::new(rs.rules.iter().map(|r| r.regex.as_str()))
                .size_limit(SIZE_LIMIT * 4)
                .build()
                .map_err(|e| EngineError::InvalidRule {
                    intent: "*".to_string(),
                    index: 0,
                    message: e.to_string(),
                })?;
            rs.set = Some(set);
        }
        for (k, ex) in extractors.iter().enumerate() {
            let regex = compile(&ex.pattern).map_err(|message| EngineError::InvalidExtractor {
                name: ex.name.clone(),
                index: k,
                message,
            })?;
            rs.extractors.push((ex.name.clone(), regex));
        }
        Ok(rs)
    }

    /// Index (into `rules`) of the first matching rule.
    pub fn first_match(&self, text: &str) -> Option<usize> {
        let set = self.set.as_ref()?;
        set.matches(text).iter().next()
    }

    /// Entities from the given rule (if any) and all extractors.
    pub fn entities(&self, text: &str, rule: Option<usize>) -> Vec<Entity> {
        let mut out = Vec::new();
        if let Some(r) = rule.and_then(|r| self.rules.get(r)) {
            captures(&r.regex, None, text, &mut out);
        }
        for (name, re) in &self.extractors {
            captures(re, Some(name), text, &mut out);
        }
        out.sort_by(|a, b| (a.start, a.end, &a.name).cmp(&(b.start, b.end, &b.name)));
        out.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.name == b.name);
        out
    }
}

fn captures(re: &Regex, fallback: Option<&str>, text: &str, out: &mut Vec<Entity>) {
    let names: Vec<(usize, &str)> = re
        .capture_names()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (i, n)))
        .collect();
    for caps in re.captures_iter(text).take(64) {
        if names.is_empty() {
            if let (Some(name), Some(m)) = (fallback, caps.get(0))
                && !m.as_str().is_empty()
            {
                out.push(Entity {
                    name: name.to_string(),
                    value: m.as_str().to_string(),
                    start: m.start(),
                    end: m.end(),
                });
            }
            continue;
        }
        for &(i, n) in &names {
            if let Some(m) = caps.get(i) {
                out.push(Entity {
                    name: n.to_string(),
                    value: m.as_str().to_string(),
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

/// A ready-made set of extractors: request references, invoice numbers,
/// amounts with a currency, ISO dates and e-mail addresses.
pub fn builtin_extractors() -> Vec<Extractor> {
    [
        ("request", r"(?i)\b(?P<request>REQ-?\d{1,10})\b"),
        ("invoice", r"(?i)\b(?P<invoice>INV-?\d{2,12})\b"),
        (
            "amount",
            r"(?P<amount>[£$€]\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?|\b\d+(?:\.\d{1,2})?\s?(?:EUR|USD|GBP)\b)",
        ),
        ("date", r"\b(?P<date>\d{4}-\d{2}-\d{2})\b"),
        (
            "email",
            r"(?P<email>[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})",
        ),
    ]
    .iter()
    .map(|(n, p)| Extractor {
        name: n.to_string(),
        pattern: p.to_string(),
    })
    .collect()
}
