//! An intent's training texts (its examples, its passages cut into sentences) and the hash
//! of what a build reads of it.

use std::borrow::Cow;

use super::IntentDef;

/// A hash of everything of an intent the build reads.
pub(super) fn def_hash(d: &IntentDef) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&d.name, &d.examples, &d.rules, &d.passages).hash(&mut h);
    h.finish()
}

/// An intent's training texts: its examples (weight 1), then its passages' sentences
/// (`passage_weight`).
pub(super) fn intent_texts(
    def: &IntentDef,
    passage_weight: f32,
) -> impl Iterator<Item = (Cow<'_, str>, f32)> {
    let examples = def
        .examples
        .iter()
        .map(|e| (Cow::Borrowed(e.as_str()), 1.0));
    let sentences = def
        .passages
        .iter()
        .flat_map(|p| split_sentences(p))
        .map(move |s| (Cow::Owned(s), passage_weight));
    examples.chain(sentences)
}

/// Split descriptive text into sentence-like pieces: lines, and sentences
/// within lines (". ", "? ", "! ", "; "); list markers are dropped.
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line
            .trim()
            .trim_start_matches(['-', '*', '•'])
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches(['.', ')'])
            .trim();
        let mut start = 0;
        let b = line.as_bytes();
        for i in 0..b.len() {
            if matches!(b[i], b'.' | b'?' | b'!' | b';') && (i + 1 == b.len() || b[i + 1] == b' ') {
                let s = line[start..=i].trim();
                if !s.is_empty() {
                    out.push(s.to_string());
                }
                start = i + 1;
            }
        }
        let s = line[start..].trim();
        if !s.is_empty() {
            out.push(s.to_string());
        }
    }
    out
}
