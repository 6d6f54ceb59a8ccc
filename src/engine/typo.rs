//! Typo tolerance: maps an unknown query token to the closest vocabulary
//! term. Candidates come from a symmetric-deletion index (SymSpell style):
//! every vocabulary word is stored under the hashes of its deletion variants,
//! so a lookup generates the query's few deletion variants and verifies the
//! candidates with an optimal-string-alignment distance — no vocabulary scan.

use std::collections::HashMap;

use super::sparse::fnv1a;

/// Edit-distance bound by token length (in chars): words of up to 4 chars
/// are never corrected (too many real words are one edit apart), 5–8 chars
/// by one edit, longer ones by two.
pub fn max_edits(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

#[derive(Debug, Default)]
pub struct TypoIndex {
    words: Vec<String>,
    freq: Vec<u32>,
    /// sorted (hash of deletion variant, word id)
    deletes: Vec<(u64, u32)>,
}

/// All strings obtained by deleting up to `d` chars, deduplicated (includes the word).
fn deletion_variants(chars: &[char], d: usize, out: &mut Vec<Vec<char>>) {
    out.clear();
    out.push(chars.to_vec());
    let mut frontier = vec![chars.to_vec()];
    for _ in 0..d {
        let mut next = Vec::new();
        for w in &frontier {
            if w.len() <= 1 {
                continue;
            }
            for i in 0..w.len() {
                let mut v = w.clone();
                v.remove(i);
                next.push(v);
            }
        }
        next.sort();
        next.dedup();
        out.extend(next.iter().cloned());
        frontier = next;
    }
    out.sort();
    out.dedup();
}

fn hash_chars(c: &[char]) -> u64 {
    let s: String = c.iter().collect();
    fnv1a(b'd', s.as_bytes())
}

impl TypoIndex {
    /// Build from (word, frequency) pairs. Only alphabetic words of 4+ chars are indexed.
    pub fn build(vocab: &HashMap<String, u32>) -> TypoIndex {
        let mut entries: Vec<(&String, &u32)> = vocab
            .iter()
            .filter(|(w, _)| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic))
            .collect();
        entries.sort();
        let mut idx = TypoIndex::default();
        let mut variants = Vec::new();
        for (id, (w, f)) in entries.into_iter().enumerate() {
            let chars: Vec<char> = w.chars().collect();
            // index deep enough for queries one char longer than the word
            deletion_variants(&chars, max_edits(chars.len() + 1).max(1), &mut variants);
            for v in &variants {
                idx.deletes.push((hash_chars(v), id as u32));
            }
            idx.words.push(w.clone());
            idx.freq.push(*f);
        }
        idx.deletes.sort_unstable();
        idx.deletes.dedup();
        idx
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Closest vocabulary word within the length-dependent bound, with its
    /// distance. Ties: smaller distance, then more frequent, then alphabetical.
    pub fn correct(&self, token: &str) -> Option<(&str, usize)> {
        let chars: Vec<char> = token.chars().collect();
        let bound = max_edits(chars.len());
        if bound == 0 || !chars.iter().all(|c| c.is_alphabetic()) || chars.len() > 40 {
            return None;
        }
        let mut variants = Vec::new();
        deletion_variants(&chars, bound, &mut variants);
        let mut best: Option<(usize, u32, u32)> = None; // (dist, freq, id)
        let mut seen: Vec<u32> = Vec::new();
        for v in &variants {
            let h = hash_chars(v);
            let start = self.deletes.partition_point(|&(k, _)| k < h);
            for &(k, id) in &self.deletes[start..] {
                if k != h {
                    break;
                }
                if seen.contains(&id) {
                    continue;
                }
                seen.push(id);
                let w = &self.words[id as usize];
                let wl = w.chars().count();
                let allowed = bound;
                if wl.abs_diff(chars.len()) > allowed {
                    continue;
                }
                let d = strsim::osa_distance(token, w);
                if d == 0 || d > allowed {
                    continue;
                }
                let f = self.freq[id as usize];
                let better = match best {
                    None => true,
                    Some((bd, bf, bid)) => {
                        d < bd
                            || (d == bd && (f > bf || (f == bf && w < &self.words[bid as usize])))
                    }
                };
                if better {
                    best = Some((d, f, id));
                }
            }
        }
        best.map(|(d, _, id)| (self.words[id as usize].as_str(), d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(words: &[&str]) -> TypoIndex {
        let vocab: HashMap<String, u32> = words.iter().map(|w| (w.to_string(), 1)).collect();
        TypoIndex::build(&vocab)
    }

    #[test]
    fn corrects_common_typos() {
        let idx = index(&[
            "password",
            "invoice",
            "holiday",
            "holidays",
            "balance",
            "reset",
            "reservation",
        ]);
        assert_eq!(idx.correct("pasword"), Some(("password", 1)));
        assert_eq!(idx.correct("invioce"), Some(("invoice", 1)));
        assert_eq!(idx.correct("holliday"), Some(("holiday", 1)));
        assert_eq!(idx.correct("balanse"), Some(("balance", 1)));
        assert_eq!(idx.correct("passwordd"), Some(("password", 1)));
        assert_eq!(idx.correct("rezervatoin"), Some(("reservation", 2)));
    }

    #[test]
    fn respects_bounds() {
        let idx = index(&["password", "card"]);
        // short tokens are never corrected
        assert_eq!(idx.correct("crd"), None);
        // too far
        assert_eq!(idx.correct("pwd"), None);
        assert_eq!(idx.correct("passage"), None);
        // exact words are not "corrected"
        assert_eq!(idx.correct("password"), None);
        assert_eq!(idx.correct("12345"), None);
    }
}
