//! Frontdoor intent engine: pure, deterministic, built in memory from intent
//! definitions (examples + optional regex rules).
//!
//! Pipeline of [`Engine::classify`]:
//! 1. **Rules** — all intent regexes in one `RegexSet`; the first match (in
//!    definition order) pins the intent with confidence 1. Named groups of that
//!    rule and of every [`Extractor`] become [`Entity`]s.
//! 2. **Normalise** — NFKC, case folding, accents, contractions ("can't" → "can
//!    not"), punctuation, numbers (`normalize`).
//! 3. **Typo repair** — unknown tokens (whose stem is unknown too) are mapped
//!    to the closest vocabulary word within a length-dependent edit bound via
//!    a deletion index (`typo`).
//! 4. **Features** — Porter stems (`stem`) minus a few stop-words (question
//!    words and negations are kept), synonyms, word bigrams and character
//!    3–4-grams, TF-IDF weighted, one L2-normalised block per kind (`index`).
//! 5. **Score** — a multinomial logistic regression trained at build time by
//!    SGD over every intent (above `dense_max_classes` intents: the true one plus the 16
//!    whose centroids are closest, as hard negatives), with Polyak averaging
//!    of the second half of training. It is served from an inverted index of
//!    impact-ordered, truncated postings so query cost does not grow with the
//!    number of intents (`model`). Above `dense_max_classes` intents the model
//!    uses sparse weight rows and word-level features only, to bound build time
//!    (character n-grams are then left out altogether, `sparse_char_ngrams`);
//!    there passage sentences share their intent's confusers, and each epoch
//!    trains in `train_shards` parts side by side whose changes are summed
//!    (deterministic whatever the number of cores). When the intents are data-rich (median
//!    intent ≥ `rich_min_examples` examples) an exact one-vs-rest linear SVM with an intercept
//!    per intent (dual coordinate descent, `svm`) is added to the softmax's weights, which
//!    are scaled down (`hinge_blend`, `blend_softmax_weight`).
//! 6. **Out-of-scope evidence** — the temperature-calibrated softmax
//!    confidence is multiplied by two factors in 0..=1: domain coverage (the
//!    IDF-weighted share of the query's content words the domain knows,
//!    `coverage_knee`/`coverage_power`) and similarity (the query's cosine to
//!    the top intent's centroid, or to its nearest passage sentence when
//!    larger, over `similarity_knee`). Softmax alone is confident on queries
//!    made of known words in an unknown combination; the similarity factor
//!    catches those.
//! 7. **Decide** — the `out_of_scope_intent` (examples of what the domain is
//!    not, trained like any intent) ranked first, or one of its rules matched,
//!    → [`Decision::Fallback`] with confidence 0; confidence below
//!    `oos_threshold` → [`Decision::Fallback`]; top two in-scope intents closer
//!    than `clarify_margin` → [`Decision::Clarify`]; else [`Decision::Intent`].
//!
//! [`Engine::explain`] re-runs the pipeline and reports the rule, the token
//! corrections, the strongest weighted terms, the nearest examples, the
//! runner-up and the margin (`explain`). [`eval`] measures it on JSONL data.

mod build;
pub mod config;
pub mod eval;
pub mod explain;
pub mod index;
pub mod lexicon;
pub mod model;
pub mod normalize;
pub mod parallel;
pub mod postings;
mod prefetch;
pub mod rules;
mod score;
pub mod sparse;
pub mod stem;
pub mod svm;
mod texts;
pub mod typo;
mod update;
pub mod vocabulary;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub use config::EngineConfig;
pub use explain::{Explanation, NearExample, TermWeight};
use index::{Analyzer, FeatureParams, FeatureSpace};
use lexicon::Lexicon;
pub use lexicon::WordClass;
use model::{LinearModel, TrainParams};
use postings::{CentroidIndex, ExampleIndex, KNN_SCRATCH, SCRATCH};
use rules::RuleSet;
pub use rules::builtin_extractors;
use sparse::SparseVec;
pub use texts::split_sentences;
use typo::TypoIndex;
pub use update::{MAX_PATCHED, Updated};
use vocabulary::Vocabulary;
pub use vocabulary::{Expansion, VocabularyGroup};

/// One intent: its name, example utterances and optional regex rules.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IntentDef {
    pub name: String,
    pub examples: Vec<String>,
    /// Regex sources; a match pins this intent.
    pub rules: Vec<String>,
    /// Descriptive text of the intent (e.g. an article's title, tags and
    /// body). Weaker evidence than examples: split into sentences that become
    /// down-weighted pseudo-examples, and added to the vocabulary (typo
    /// repair, domain coverage) and IDF statistics.
    #[serde(default)]
    pub passages: Vec<String>,
}

/// A regex with named groups whose captures are extracted from any text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Extractor {
    pub name: String,
    pub pattern: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid rule #{index} of intent {intent:?}: {message}")]
    InvalidRule {
        intent: String,
        index: usize,
        message: String,
    },
    #[error("invalid extractor #{index} ({name:?}): {message}")]
    InvalidExtractor {
        name: String,
        index: usize,
        message: String,
    },
    #[error("duplicate intent {0:?}")]
    DuplicateIntent(String),
    #[error("intent name must not be empty")]
    EmptyIntentName,
    #[error("no intents, or no intent has a usable example or rule")]
    Empty,
    #[error("invalid config: {0}")]
    InvalidConfig(String),
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub enum Decision {
    Intent(String),
    Clarify(String, String),
    /// Not confident enough to answer, but these (best first, at most three) are worth
    /// offering: "did you mean...?".
    Suggest(Vec<String>),
    Fallback,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Scored {
    pub intent: String,
    pub confidence: f32,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Entity {
    pub name: String,
    pub value: String,
    /// Byte offsets into the input text.
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Classification {
    pub decision: Decision,
    /// 0..=1, of the top intent.
    pub confidence: f32,
    /// Top 5 intents with confidence, best first.
    pub ranked: Vec<Scored>,
    /// "intent_name#rule_index" when a rule pinned the intent.
    pub rule: Option<String>,
    pub entities: Vec<Entity>,
}

/// The intent engine. Immutable after [`Engine::build`]; `Send + Sync`.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    names: Vec<String>,
    examples: Vec<Vec<String>>,
    analyzer: Analyzer,
    features: FeatureSpace,
    /// Every training token with its count (the domain's words; typo repair's targets).
    word_freq: HashMap<String, u32>,
    /// Stems of the vocabulary: a token whose stem is known ("tried" when
    /// "try" was seen) is an inflection, not a typo.
    stem_vocab: HashSet<String>,
    typo: TypoIndex,
    centroids: CentroidIndex,
    model: LinearModel,
    knn: Option<ExampleIndex>,
    rules: RuleSet,
    /// Per feature: seen in a real example (not only in passages).
    in_examples: Vec<bool>,
    /// IDF given to a word never seen at build time.
    max_idf: f32,
    /// Unit-length passage-sentence vectors grouped by intent: intent `c` owns
    /// `unit_vectors[class_start[c]..class_start[c + 1]]`.
    unit_vectors: Vec<SparseVec>,
    class_start: Vec<usize>,
    /// `similarity_knee`, or `sparse_similarity_knee` when character n-grams are left out.
    similarity_knee: f32,
    /// The `out_of_scope_intent`, when defined.
    oos_class: Option<u32>,
    /// The content's vocabulary groups, compiled against the feature space.
    vocabulary: Vocabulary,
    /// General English, when `lexicon` is on.
    lexicon: Option<&'static Lexicon>,
    /// What the engine was built from, for [`Engine::update`]: a hash of each intent's
    /// definition, the extractors and vocabulary groups, whether the model is the sampled one,
    /// and the number of analysed texts the IDF was computed over.
    def_hashes: Vec<u64>,
    extractors: Vec<Extractor>,
    vocabulary_groups: Vec<VocabularyGroup>,
    sparse: bool,
    n_docs: usize,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer").finish_non_exhaustive()
    }
}

/// What one vocabulary group does (see [`Engine::vocabulary_report`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VocabularyUse {
    pub origin: String,
    /// Terms of the group whose words the domain knows.
    pub known_terms: usize,
    /// Some term of the group, asked alone, is answered differently without the group.
    pub changes_answers: bool,
}

/// Internal scoring result: (class, probability) best first.
pub(crate) struct Scoring {
    pub ranked: Vec<(u32, f32)>,
    pub analysis: index::Analysis,
    pub vector: SparseVec,
    /// Domain coverage of the query (1 = every content word known).
    pub coverage: f32,
    /// Factor the softmax probabilities were multiplied by.
    pub evidence: f32,
    /// Centroid cosine of the query to the top intent (0 when not computed).
    #[allow(dead_code)]
    pub similarity: f32,
    /// Content vocabulary terms found and applied.
    pub expansions: Vec<Expansion>,
    /// WordNet synonyms added for English words the domain does not know: (word, synonyms).
    pub lexical: Vec<(String, Vec<String>)>,
    /// What each analysed token is, for the out-of-scope decision.
    pub classes: Vec<WordClass>,
}

const TOP_N: usize = 5;

/// Times the phases of a content load and engine build and logs each at `debug` (target
/// `frontdoor::load`), with the process's CPU time over the phase and its resident memory
/// after it when a probe is installed (see [`set_process_probe`]), so a slow or large load can
/// be broken down without a profiler: `FRONTDOOR_LOG=frontdoor::load=debug frontdoor bench-kb
/// --scale 100`. CPU time over wall time is how many cores the phase kept busy: on a
/// two-core machine a phase near 1 runs on one of them.
pub(crate) struct Phases {
    at: std::time::Instant,
    cpu_ms: Option<f64>,
}

/// What a [`ProcessProbe`] reads of the process.
#[derive(Clone, Copy, Debug)]
pub struct ProcessSample {
    /// CPU time of the whole process so far (all threads, user and system), ms (None where
    /// the platform does not say).
    pub cpu_ms: Option<f64>,
    /// Resident and peak resident memory, MB (None where the platform does not say).
    pub memory_mb: Option<(f64, f64)>,
}

/// Reads the process's CPU time and memory. The engine does no I/O, so the caller that may
/// read them (the content loader) installs it.
pub type ProcessProbe = fn() -> ProcessSample;

static PROCESS_PROBE: std::sync::OnceLock<ProcessProbe> = std::sync::OnceLock::new();

/// Install the probe [`Phases`] logs CPU time and memory with (the first one installed stays).
pub fn set_process_probe(probe: ProcessProbe) {
    let _ = PROCESS_PROBE.set(probe);
}

impl Phases {
    pub(crate) fn start() -> Phases {
        Phases {
            at: std::time::Instant::now(),
            cpu_ms: Self::sample().and_then(|s| s.cpu_ms),
        }
    }

    /// The probe's reading, only when the phase log is on (it costs a read of `/proc`).
    fn sample() -> Option<ProcessSample> {
        if !tracing::enabled!(target: "frontdoor::load", tracing::Level::DEBUG) {
            return None;
        }
        PROCESS_PROBE.get().map(|probe| probe())
    }

    pub(crate) fn done(&mut self, phase: &'static str) {
        let ms = self.at.elapsed().as_secs_f64() * 1e3;
        if tracing::enabled!(target: "frontdoor::load", tracing::Level::DEBUG) {
            let now = Self::sample();
            let now_cpu = now.and_then(|s| s.cpu_ms);
            // (a field that is None is left out of the line)
            let cpu_ms = now_cpu.zip(self.cpu_ms).map(|(now, before)| now - before);
            match now.and_then(|s| s.memory_mb) {
                Some((rss_mb, peak_mb)) => {
                    tracing::debug!(target: "frontdoor::load", phase, ms, cpu_ms, rss_mb, peak_mb)
                }
                None => tracing::debug!(target: "frontdoor::load", phase, ms, cpu_ms),
            }
            self.cpu_ms = now_cpu;
        }
        // (the probe's own time is not the next phase's)
        self.at = std::time::Instant::now();
    }
}

impl Engine {
    pub fn intent_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The model's intercept for intent `c`, when it has intercepts (see `hinge_blend`).
    pub(crate) fn intercept(&self, c: u32) -> Option<f32> {
        self.model.bias.get(c as usize).copied()
    }

    /// A hash of what the build trained and serves from: the model's postings and
    /// intercepts, the centroids' postings and the feature count. Two builds with the same
    /// fingerprint answer alike; a change meant to make the build faster without changing
    /// the engine shows it by leaving this as it was (`frontdoor bench-kb` prints it).
    pub fn model_fingerprint(&self) -> u64 {
        let mut h = postings::Fingerprint::default();
        h.words([self.features.len() as u32, self.model.n_classes as u32].into_iter());
        self.model.postings.fingerprint(&mut h);
        h.words(self.model.bias.iter().map(|b| b.to_bits()));
        self.centroids.postings.fingerprint(&mut h);
        h.finish()
    }

    /// Number of features in the dictionary (diagnostics).
    pub fn feature_count(&self) -> usize {
        self.features.len()
    }

    /// For each vocabulary group given to the build, in order: how many of its terms the
    /// domain knows, and whether it changes any answer (each of its terms, asked alone, is
    /// decided differently without the group). A group that changes nothing is dead weight.
    pub fn vocabulary_report(&self, groups: &[VocabularyGroup]) -> Vec<VocabularyUse> {
        groups
            .iter()
            .enumerate()
            .map(|(g, def)| {
                let known_terms = self.vocabulary.known_terms(g as u32);
                let changes = def.terms.iter().any(|t| {
                    let with = self.score(t, TOP_N);
                    let without = self.score_without(t, TOP_N, Some(g as u32));
                    self.decide(&with.ranked).0 != self.decide(&without.ranked).0
                });
                VocabularyUse {
                    origin: def.origin.clone(),
                    known_terms,
                    changes_answers: changes,
                }
            })
            .collect()
    }

    /// Classify one utterance (fast path).
    pub fn classify(&self, text: &str) -> Classification {
        self.classify_inner(text).0
    }

    pub(crate) fn classify_inner(&self, text: &str) -> (Classification, Option<Scoring>) {
        if let Some(r) = self.rules.first_match(text) {
            let rule = &self.rules.rules[r];
            let name = self.names[rule.intent].clone();
            // A rule of the out-of-scope intent pins it like any rule, and the answer is no
            // answer, with confidence 0 as when the model ranks it first (`decide`).
            let (decision, confidence) = if Some(rule.intent as u32) == self.oos_class {
                (Decision::Fallback, 0.0)
            } else {
                (Decision::Intent(name.clone()), 1.0)
            };
            return (
                Classification {
                    decision,
                    confidence,
                    ranked: vec![Scored {
                        intent: name.clone(),
                        confidence: 1.0,
                    }],
                    rule: Some(format!("{}#{}", name, rule.index)),
                    entities: self.rules.entities(text, Some(r)),
                },
                None,
            );
        }
        let scoring = self.score(text, TOP_N);
        let (decision, confidence) = self.decide(&scoring.ranked);
        let ranked = scoring
            .ranked
            .iter()
            .map(|&(c, p)| Scored {
                intent: self.names[c as usize].clone(),
                confidence: p,
            })
            .collect();
        (
            Classification {
                decision,
                confidence,
                ranked,
                rule: None,
                entities: self.rules.entities(text, None),
            },
            Some(scoring),
        )
    }

    /// Classify and say why (slower: re-scores examples of the top intents).
    pub fn explain(&self, text: &str) -> Explanation {
        explain::explain(self, text)
    }

    pub(crate) fn intent_name(&self, c: usize) -> &str {
        self.names.get(c).map_or("?", String::as_str)
    }

    pub(crate) fn examples_of(&self, c: usize) -> &[String] {
        &self.examples[c]
    }

    pub(crate) fn feature_name(&self, f: u32) -> &str {
        self.features
            .names
            .get(f as usize)
            .map_or("?", String::as_str)
    }

    pub(crate) fn model_weight(&self, f: u32, c: u32) -> f32 {
        self.model.postings.weight(f, c)
    }

    pub(crate) fn rule_source(&self, r: usize) -> Option<&str> {
        self.rules.rules.get(r).map(|r| r.regex.as_str())
    }

    pub(crate) fn first_rule(&self, text: &str) -> Option<usize> {
        self.rules.first_match(text)
    }

    /// Largest dot product of the query with a unit-length passage sentence
    /// of intent `c` (on the same scale as [`Engine::centroid_similarity`]).
    pub(crate) fn nearest_passage_similarity(&self, v: &SparseVec, c: u32) -> f32 {
        let c = c as usize;
        let (Some(&a), Some(&b)) = (self.class_start.get(c), self.class_start.get(c + 1)) else {
            return 0.0;
        };
        self.unit_vectors
            .get(a..b)
            .unwrap_or(&[])
            .iter()
            .map(|e| e.dot(v))
            .fold(0.0, f32::max)
    }

    /// Centroid cosine of the query to an intent.
    pub(crate) fn centroid_similarity(&self, v: &SparseVec, c: u32) -> f32 {
        let mut s = 0.0;
        for (k, &f) in v.ids.iter().enumerate() {
            s += v.vals[k] * self.centroids.postings.weight(f, c);
        }
        s
    }
}

#[cfg(test)]
mod tests;
