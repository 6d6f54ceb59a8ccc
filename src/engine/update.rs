//! Patching a built engine when a few intents change — a content editor saved one article of
//! a large knowledge base, and training every intent again to take it in costs seconds.
//!
//! Only the sampled model (above `dense_max_classes` intents) is patched: below that the
//! softmax trains over every intent at once, and a full build is fast anyway. Anything else
//! than changed examples, rules or passages of existing intents (an intent added, removed or
//! renamed, other settings, extractors or vocabulary groups, more than [`MAX_PATCHED`]
//! intents changed) is a full build. A patch:
//! - re-analyses the changed intents' texts: the old ones to take their words out of the
//!   counts, the new ones to put theirs in. A feature never seen before joins the dictionary
//!   with its IDF over the build's texts; known features keep their IDF (an article moves a
//!   feature's document count by a few out of the build's 236,582 texts at 100×);
//! - replaces the changed intents' centroids and passage-sentence vectors;
//! - retrains the changed intents from zero, on their own texts and their confusers' (only the
//!   changed intents' weights move; see [`LinearModel::retrain`]);
//! - builds the rules, typo repair and vocabulary again (cheap).
//!
//! What a patch cannot bring back: a (feature, intent) weight an earlier cut to `max_postings`
//! dropped. The next full build (a restart, or a change a patch does not cover) starts afresh.

use std::collections::{BTreeMap, BTreeSet};

use super::build::{compile_vocabulary, train_params, typo_index, validate, word_level};
use super::texts::{def_hash, intent_texts};
use super::*;

/// Most changed intents a patch takes; more, and [`Engine::update`] builds afresh.
pub const MAX_PATCHED: usize = 16;

/// What [`Engine::update`] made of the new definitions.
pub enum Updated {
    /// Nothing the engine was built from changed: it answers as a new build would.
    Unchanged,
    /// The changed intents were patched in (their number).
    Patched(Engine, usize),
    /// Built afresh.
    Rebuilt(Engine),
}

/// Texts being trained on: vector (scaled as in the build), intent, passage or example.
#[derive(Default)]
struct Docs {
    vectors: Vec<SparseVec>,
    labels: Vec<u32>,
    is_passage: Vec<bool>,
}

impl Engine {
    /// The engine for `intents` (the same intents in the same order, `previous(c)` giving
    /// intent c's definition this engine was built from): patched when only a few intents'
    /// examples, rules or passages changed and the model allows it, else built afresh.
    pub fn update(
        &self,
        intents: &[IntentDef],
        previous: &dyn Fn(usize) -> Option<IntentDef>,
        extractors: &[Extractor],
        vocabulary: &[VocabularyGroup],
        config: EngineConfig,
    ) -> Result<Updated, EngineError> {
        let same_frame = self.sparse
            && self.knn.is_none()
            && self.config == config
            && self.extractors == extractors
            && self.vocabulary_groups == vocabulary
            && self.names.len() == intents.len()
            && self.names.iter().zip(intents).all(|(n, d)| *n == d.name);
        let changed: Vec<usize> = if same_frame {
            let hashes = parallel::par_map(intents.len(), &|c| def_hash(&intents[c]));
            (0..intents.len())
                .filter(|&c| hashes[c] != self.def_hashes[c])
                .collect()
        } else {
            Vec::new()
        };
        if same_frame && changed.is_empty() {
            return Ok(Updated::Unchanged);
        }
        // The definitions this engine was built from, checked against their hashes.
        let olds: Option<Vec<IntentDef>> = (same_frame && changed.len() <= MAX_PATCHED)
            .then(|| {
                changed
                    .iter()
                    .map(|&c| previous(c).filter(|d| def_hash(d) == self.def_hashes[c]))
                    .collect()
            })
            .flatten();
        match olds {
            Some(olds) => {
                validate(intents, &config)?;
                let rules = RuleSet::build(intents, extractors)?;
                let n = changed.len();
                Ok(Updated::Patched(
                    self.patch(intents, &changed, &olds, rules),
                    n,
                ))
            }
            _ => Engine::build_with_vocabulary(intents, extractors, vocabulary, config)
                .map(Updated::Rebuilt),
        }
    }

    /// This engine with the intents `changed` (sorted) as defined in `intents`; `olds` are
    /// their definitions as built.
    fn patch(
        &self,
        intents: &[IntentDef],
        changed: &[usize],
        olds: &[IntentDef],
        rules: RuleSet,
    ) -> Engine {
        let mut phases = Phases::start();
        let (config, analyzer) = (&self.config, &self.analyzer);
        let n_classes = self.names.len();
        let is_changed = |c: u32| changed.binary_search(&(c as usize)).is_ok();
        let mut word_freq = self.word_freq.clone();
        for old in olds {
            for (text, _) in intent_texts(old, config.passage_weight) {
                for t in analyzer.analyze(&text, None).tokens {
                    if let Some(n) = word_freq.get_mut(&t) {
                        *n -= 1;
                        if *n == 0 {
                            word_freq.remove(&t);
                        }
                    }
                }
            }
        }
        // The new texts, their words counted and their new features named.
        let mut namer = index::Namer::default();
        let mut analysed: Vec<(u32, f32, index::NamedFeatures)> = Vec::new();
        for &c in changed {
            for (text, w) in intent_texts(&intents[c], config.passage_weight) {
                let a = analyzer.analyze(&text, None);
                if a.tokens.is_empty() {
                    continue;
                }
                let mut raw = Vec::new();
                analyzer.features(&a, &mut raw, Some(&mut namer));
                for t in a.tokens {
                    *word_freq.entry(t).or_insert(0) += 1;
                }
                analysed.push((c as u32, w, (raw, std::mem::take(&mut namer.named))));
            }
        }
        let mut features = self.features.clone();
        let mut in_examples = self.in_examples.clone();
        let known = features.len();
        let mut df: HashMap<u32, u32> = HashMap::new();
        for (_, w, (raw, named)) in &analysed {
            let mut named = named.iter().peekable();
            let mut counted: HashSet<u32> = HashSet::new();
            for (k, f) in raw.iter().enumerate() {
                let name = named.next_if(|(at, _)| *at as usize == k).map(|(_, n)| n);
                let id = match features.ids.get(&f.hash) {
                    Some(&id) => id,
                    None => {
                        let id = features.names.len() as u32;
                        features.ids.insert(f.hash, id);
                        features
                            .names
                            .push(name.cloned().unwrap_or_else(|| format!("#{:x}", f.hash)));
                        features.blocks.push(f.block);
                        features.idf.push(0.0);
                        in_examples.push(false);
                        id
                    }
                };
                if *w == 1.0 {
                    in_examples[id as usize] = true;
                }
                if id as usize >= known && counted.insert(id) {
                    *df.entry(id).or_insert(0) += 1;
                }
            }
        }
        let n = self.n_docs as f32;
        for (id, d) in df {
            features.idf[id as usize] = ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0;
        }
        // Vectors as the build makes them: passage sentences also unit-length for the
        // out-of-scope similarity, then scaled down (dropped at weight 0).
        let mut fresh = Docs::default();
        let mut units: Vec<Vec<SparseVec>> = vec![Vec::new(); changed.len()];
        for (c, w, (raw, _)) in &analysed {
            let mut v = features.vectorize(raw, &analyzer.params);
            if *w > 0.0 && *w != 1.0 {
                let norm = v.dot(&v).sqrt();
                let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
                let k = changed.binary_search(&(*c as usize)).unwrap_or(0);
                units[k].push(SparseVec {
                    ids: v.ids.clone(),
                    vals: v.vals.iter().map(|x| x * inv).collect(),
                });
            }
            if *w > 0.0 {
                v.vals.iter_mut().for_each(|x| *x *= w);
                fresh.vectors.push(v);
                fresh.labels.push(*c);
                fresh.is_passage.push(*w != 1.0);
            }
        }
        drop(analysed);
        let mut unit_vectors = Vec::with_capacity(self.unit_vectors.len());
        let mut class_start = Vec::with_capacity(n_classes + 1);
        class_start.push(0);
        for c in 0..n_classes {
            match changed.binary_search(&c) {
                Ok(k) => unit_vectors.append(&mut units[k]),
                Err(_) => unit_vectors.extend_from_slice(
                    &self.unit_vectors[self.class_start[c]..self.class_start[c + 1]],
                ),
            }
            class_start.push(unit_vectors.len());
        }
        let mut entries = CentroidIndex::entries(&fresh.vectors, &fresh.labels, features.len());
        entries.sort_unstable_by_key(|&(f, c, _)| (f, c));
        let centroids = CentroidIndex {
            postings: self.centroids.postings.patch(
                features.len(),
                &is_changed,
                &entries,
                config.max_postings,
                0.0,
            ),
        };
        phases.done("patch: analysis, centroids");
        let model = self.retrain(intents, changed, fresh, &features, &centroids);
        phases.done("patch: retraining");
        let typo = typo_index(&word_freq, &self.vocabulary_groups);
        let vocabulary = compile_vocabulary(
            analyzer,
            &features,
            intents,
            &self.vocabulary_groups,
            config,
        );
        let mut examples = self.examples.clone();
        let mut def_hashes = self.def_hashes.clone();
        for &c in changed {
            examples[c] = intents[c].examples.clone();
            def_hashes[c] = def_hash(&intents[c]);
        }
        phases.done("patch: lookups");
        Engine {
            config: config.clone(),
            names: self.names.clone(),
            examples,
            analyzer: analyzer.clone(),
            stem_vocab: word_freq.keys().map(|w| stem::stem(w)).collect(),
            word_freq,
            typo,
            centroids,
            model,
            knn: None,
            rules,
            in_examples,
            max_idf: self.max_idf,
            unit_vectors,
            class_start,
            features,
            similarity_knee: self.similarity_knee,
            oos_class: self.oos_class,
            vocabulary,
            lexicon: self.lexicon,
            def_hashes,
            extractors: self.extractors.clone(),
            vocabulary_groups: self.vocabulary_groups.clone(),
            sparse: self.sparse,
            n_docs: self.n_docs,
        }
    }

    /// The model with the `changed` intents retrained on `fresh` (their texts) and on the
    /// texts of their confusers that have a changed intent among their own candidates.
    fn retrain(
        &self,
        intents: &[IntentDef],
        changed: &[usize],
        fresh: Docs,
        features: &FeatureSpace,
        centroids: &CentroidIndex,
    ) -> LinearModel {
        let config = &self.config;
        let params = train_params(config, true);
        let n_classes = self.names.len();
        let is_changed = |c: u32| changed.binary_search(&(c as usize)).is_ok();
        let candidates = |docs: &Docs| -> Vec<Vec<u32>> {
            let words: Vec<SparseVec> = docs
                .vectors
                .iter()
                .map(|v| word_level(features, v))
                .collect();
            // Passage sentences share their intent's confusers, retrieved with their sum.
            let mut sums: BTreeMap<u32, BTreeMap<u32, f32>> = BTreeMap::new();
            for ((v, &c), &p) in words.iter().zip(&docs.labels).zip(&docs.is_passage) {
                if p {
                    let sum = sums.entry(c).or_default();
                    for (&f, &x) in v.ids.iter().zip(&v.vals) {
                        *sum.entry(f).or_insert(0.0) += x;
                    }
                }
            }
            let by_intent: HashMap<u32, Vec<u32>> = sums
                .into_iter()
                .map(|(c, sum)| {
                    let q = SparseVec {
                        ids: sum.keys().copied().collect(),
                        vals: sum.values().copied().collect(),
                    };
                    (c, centroids.retrieve(n_classes, params.candidates, &q))
                })
                .collect();
            words
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let y = docs.labels[i];
                    let mut c = if docs.is_passage[i] {
                        by_intent.get(&y).cloned().unwrap_or_default()
                    } else {
                        centroids.retrieve(n_classes, params.candidates, v)
                    };
                    c.truncate(params.candidates);
                    if !c.contains(&y) {
                        c.push(y);
                    }
                    c.sort_unstable();
                    c
                })
                .collect()
        };
        let mut cand_lists = candidates(&fresh);
        let mut docs = fresh;
        // The confusers: every other intent among the changed intents' candidates.
        let confusers: BTreeSet<u32> = cand_lists
            .iter()
            .flatten()
            .copied()
            .filter(|&c| !is_changed(c))
            .collect();
        let mut theirs = Docs::default();
        for &c in &confusers {
            for (text, w) in intent_texts(&intents[c as usize], config.passage_weight) {
                let a = self.analyzer.analyze(&text, None);
                if a.tokens.is_empty() || w <= 0.0 {
                    continue;
                }
                let mut raw = Vec::new();
                self.analyzer.features(&a, &mut raw, None);
                let mut v = features.vectorize(&raw, &self.analyzer.params);
                v.vals.iter_mut().for_each(|x| *x *= w);
                theirs.vectors.push(v);
                theirs.labels.push(c);
                theirs.is_passage.push(w != 1.0);
            }
        }
        for (i, cands) in candidates(&theirs).into_iter().enumerate() {
            // Only these teach the changed intents anything (see `LinearModel::retrain`).
            if cands.iter().any(|&c| is_changed(c)) {
                docs.vectors.push(std::mem::take(&mut theirs.vectors[i]));
                docs.labels.push(theirs.labels[i]);
                docs.is_passage.push(theirs.is_passage[i]);
                cand_lists.push(cands);
            }
        }
        tracing::debug!(target: "frontdoor::load", changed = changed.len(), confusers = confusers.len(), texts = docs.vectors.len(), "patch: retraining");
        let words: Vec<SparseVec> = docs
            .vectors
            .iter()
            .map(|v| word_level(features, v))
            .collect();
        self.model.retrain(
            &words,
            &docs.labels,
            &cand_lists,
            features.len(),
            &params,
            &is_changed,
        )
    }
}
