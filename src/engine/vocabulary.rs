//! The content's vocabulary: groups of terms that mean the same thing in this domain
//! (synonyms, regional variants, abbreviations, multi-word phrases), applied at classify time.
//!
//! A query is scanned for terms (longest first, on normalised tokens). For each match the
//! group's *other* terms that the domain knows are added to the query's word features with
//! weight `vocabulary_weight` split over them (below an exact match, which weighs 1), and the
//! matched words count as known for the out-of-scope decision. A group can be scoped to some
//! intents: it then only counts when the answer it leads to is one of them (see
//! `Engine::score`).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::normalize::tokenize;

/// One group as the content defines it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VocabularyGroup {
    pub terms: Vec<String>,
    /// Intent names the group is limited to; empty = every intent.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Where the group was written ("intents/vocabulary.toml:12"), for explanations.
    #[serde(default)]
    pub origin: String,
    /// The terms mark a question the domain does not handle ("savings account" for an SSO):
    /// they count against the query being on-topic, and expand to nothing.
    #[serde(default)]
    pub off_topic: bool,
}

/// A vocabulary term found in a query and what it added.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expansion {
    /// The words as typed (normalised).
    pub typed: String,
    /// The group's other terms that the domain knows, added to the query.
    pub added: Vec<String>,
    /// Where the group was written.
    pub origin: String,
    #[serde(skip)]
    pub(crate) group: u32,
    /// The term matched (an index into the compiled terms).
    #[serde(skip)]
    pub(crate) term: u32,
    /// Token span `[start, end)` in the analysed query.
    #[serde(skip)]
    pub(crate) span: (usize, usize),
}

struct Term {
    tokens: Vec<String>,
    group: u32,
}

struct Group {
    origin: String,
    off_topic: bool,
    /// Class ids the group is limited to (`None` = all).
    scope: Option<HashSet<u32>>,
    /// (term index, word-feature ids) of the group's terms the domain knows.
    known: Vec<(u32, Vec<u32>)>,
}

#[derive(Default)]
pub(crate) struct Vocabulary {
    terms: Vec<Term>,
    /// First token → indices of the terms that start with it, longest first.
    by_first: HashMap<String, Vec<u32>>,
    groups: Vec<Group>,
    /// Every token of every term (typo repair leaves them alone and may repair towards them).
    pub(crate) tokens: HashSet<String>,
}

impl Vocabulary {
    /// Compile the groups. `class_of` resolves a scope's intent names (unknown names are
    /// dropped: content checks report them); `features_of` gives a term's word-feature ids in
    /// the built feature space (empty when the domain knows none of its words).
    pub(crate) fn compile(
        groups: &[VocabularyGroup],
        class_of: &dyn Fn(&str) -> Option<u32>,
        features_of: &dyn Fn(&str) -> Vec<u32>,
    ) -> Vocabulary {
        let mut v = Vocabulary::default();
        for (g, def) in groups.iter().enumerate() {
            let mut known = Vec::new();
            for term in &def.terms {
                let tokens = tokenize(term);
                if tokens.is_empty() {
                    continue;
                }
                let t = v.terms.len() as u32;
                let ids = features_of(term);
                if !ids.is_empty() {
                    known.push((t, ids));
                }
                v.tokens.extend(tokens.iter().cloned());
                v.by_first.entry(tokens[0].clone()).or_default().push(t);
                v.terms.push(Term {
                    tokens,
                    group: g as u32,
                });
            }
            let scope = (!def.scope.is_empty())
                .then(|| def.scope.iter().filter_map(|s| class_of(s)).collect());
            v.groups.push(Group {
                origin: def.origin.clone(),
                off_topic: def.off_topic,
                scope,
                known,
            });
        }
        for list in v.by_first.values_mut() {
            let terms = &v.terms;
            list.sort_by_key(|&t| std::cmp::Reverse(terms[t as usize].tokens.len()));
        }
        v
    }

    /// Terms found in `tokens`, left to right, longest first, not overlapping. A group whose
    /// terms the domain knows none of adds nothing and is skipped.
    pub(crate) fn find(&self, tokens: &[String]) -> Vec<Expansion> {
        let mut out = Vec::new();
        if self.terms.is_empty() {
            return out;
        }
        let mut i = 0;
        while i < tokens.len() {
            let hit = self.by_first.get(&tokens[i]).and_then(|list| {
                list.iter().copied().find(|&t| {
                    let tt = &self.terms[t as usize].tokens;
                    tokens.len() - i >= tt.len() && tokens[i..i + tt.len()] == tt[..]
                })
            });
            let Some(t) = hit else {
                i += 1;
                continue;
            };
            let term = &self.terms[t as usize];
            let group = &self.groups[term.group as usize];
            let len = term.tokens.len();
            if !group.known.is_empty() || group.off_topic {
                out.push(Expansion {
                    typed: tokens[i..i + len].join(" "),
                    added: if group.off_topic {
                        Vec::new()
                    } else {
                        group
                            .known
                            .iter()
                            .filter(|(k, _)| *k != t)
                            .map(|(k, _)| self.terms[*k as usize].tokens.join(" "))
                            .collect()
                    },
                    origin: group.origin.clone(),
                    group: term.group,
                    term: t,
                    span: (i, i + len),
                });
            }
            i += len;
        }
        out
    }

    /// May this match count when the answer is class `c`?
    pub(crate) fn in_scope(&self, e: &Expansion, c: u32) -> bool {
        self.groups[e.group as usize]
            .scope
            .as_ref()
            .is_none_or(|s| s.contains(&c))
    }

    /// (feature id, weight) pairs a match adds: each other known term of its group weighs
    /// `weight / sqrt(number of them)`, so a big group adds more than a small one but not in
    /// proportion (its terms overlap in meaning), and no expanded term weighs as much as a
    /// typed one. Off-topic groups add nothing: they only count against the query.
    pub(crate) fn extra_features(&self, e: &Expansion, weight: f32, out: &mut Vec<(u32, f32)>) {
        let group = &self.groups[e.group as usize];
        if group.off_topic {
            return;
        }
        let others: Vec<&(u32, Vec<u32>)> =
            group.known.iter().filter(|(t, _)| *t != e.term).collect();
        if others.is_empty() {
            return;
        }
        let w = weight / (others.len() as f32).sqrt();
        for (_, ids) in others {
            out.extend(ids.iter().map(|&id| (id, w)));
        }
    }

    /// Number of a group's terms the domain knows (0 for an unknown group).
    pub(crate) fn known_terms(&self, group: u32) -> usize {
        self.groups.get(group as usize).map_or(0, |g| g.known.len())
    }

    /// Is this match a term of an off-topic group ("savings account", "oil change")?
    pub(crate) fn is_off_topic(&self, e: &Expansion) -> bool {
        self.groups[e.group as usize].off_topic
    }
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("groups", &self.groups.len())
            .field("terms", &self.terms.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<VocabularyGroup> {
        vec![
            VocabularyGroup {
                terms: vec!["annual leave".into(), "vacation".into(), "time off".into()],
                scope: vec!["leave".into()],
                origin: "vocabulary.toml:3".into(),
                off_topic: false,
            },
            VocabularyGroup {
                terms: vec!["nicked".into(), "stolen".into()],
                scope: vec![],
                origin: "vocabulary.toml:7".into(),
                off_topic: false,
            },
        ]
    }

    fn compile() -> Vocabulary {
        // "annual leave", "time off" and "stolen" are known words of the domain
        let features = |t: &str| match t {
            "annual leave" => vec![1, 2],
            "time off" => vec![3],
            "stolen" => vec![4],
            _ => vec![],
        };
        let class = |n: &str| (n == "leave").then_some(7);
        Vocabulary::compile(&groups(), &class, &features)
    }

    fn toks(s: &str) -> Vec<String> {
        tokenize(s)
    }

    #[test]
    fn a_term_expands_to_the_other_known_terms_of_its_group() {
        let v = compile();
        let found = v.find(&toks("please put in a vacation request"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].typed, "vacation");
        assert_eq!(found[0].added, vec!["annual leave", "time off"]);
        assert_eq!(found[0].origin, "vocabulary.toml:3");
        let mut extra = Vec::new();
        v.extra_features(&found[0], 0.6, &mut extra);
        // two other terms: 0.6 / sqrt(2) each; "annual leave" has two features
        let w = 0.6 / 2f32.sqrt();
        assert_eq!(extra, vec![(1, w), (2, w), (3, w)]);
    }

    #[test]
    fn multi_word_terms_match_longest_first_and_do_not_overlap() {
        let v = compile();
        let found = v.find(&toks("can I take time off, my phone was nicked"));
        let typed: Vec<&str> = found.iter().map(|e| e.typed.as_str()).collect();
        assert_eq!(typed, vec!["time off", "nicked"]);
        assert_eq!(found[0].span, (3, 5));
    }

    #[test]
    fn a_matched_known_term_does_not_add_itself() {
        let v = compile();
        let found = v.find(&toks("time off"));
        let mut extra = Vec::new();
        v.extra_features(&found[0], 0.6, &mut extra);
        // one other known term
        assert_eq!(extra, vec![(1, 0.6), (2, 0.6)]);
    }

    #[test]
    fn scope_limits_a_group_to_its_intents() {
        let v = compile();
        let found = v.find(&toks("vacation"));
        assert!(v.in_scope(&found[0], 7));
        assert!(!v.in_scope(&found[0], 8));
        let nicked = v.find(&toks("nicked"));
        assert!(
            v.in_scope(&nicked[0], 8),
            "an unscoped group applies everywhere"
        );
    }

    #[test]
    fn no_vocabulary_finds_nothing() {
        let v = Vocabulary::default();
        assert!(v.find(&toks("vacation")).is_empty());
    }
}
