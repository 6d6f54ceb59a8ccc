//! Building the engine, one phase per method of [`Build`]: check the definitions, choose the
//! model's shape, analyse every example and passage, intern the features and vectorise, train
//! the scoring model (and the SVM on data-rich content), then the lookups (typo repair, the
//! example index, the vocabulary). Pure and deterministic; each phase's time is logged at
//! `debug` (see [`Phases`]).

use super::texts::{def_hash, intent_texts};
use super::*;

impl Engine {
    pub fn build(
        intents: &[IntentDef],
        extractors: &[Extractor],
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        Self::build_with_vocabulary(intents, extractors, &[], config)
    }

    /// Build with the content's vocabulary groups (see `vocabulary`).
    pub fn build_with_vocabulary(
        intents: &[IntentDef],
        extractors: &[Extractor],
        vocabulary: &[VocabularyGroup],
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        Self::build_from(Cow::Borrowed(intents), extractors, vocabulary, config)
    }

    /// As [`Engine::build_with_vocabulary`], given the definitions: their passages (an
    /// article's whole text) are freed once analysed, and their examples become the engine's,
    /// instead of being held through training and copied.
    pub fn build_owned(
        intents: Vec<IntentDef>,
        extractors: &[Extractor],
        vocabulary: &[VocabularyGroup],
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        Self::build_from(Cow::Owned(intents), extractors, vocabulary, config)
    }

    fn build_from(
        mut intents: Cow<'_, [IntentDef]>,
        extractors: &[Extractor],
        vocabulary: &[VocabularyGroup],
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        validate(&intents, &config)?;
        let def_hashes = parallel::par_map(intents.len(), &|c| def_hash(&intents[c]));
        let mut b = Build {
            intents: &intents,
            config: &config,
            phases: Phases::start(),
        };
        let rules = RuleSet::build(&intents, extractors)?;
        let (shape, analyzer) = b.shape();
        b.phases.done("rules");
        let corpus = b.analyse(&analyzer);
        if corpus.docs.is_empty() && rules.rules.is_empty() {
            return Err(EngineError::Empty);
        }
        let phases = b.phases;
        // Passages are read by the analysis only.
        if let Cow::Owned(defs) = &mut intents {
            for d in defs.iter_mut() {
                d.passages = Vec::new();
            }
        }
        let mut b = Build {
            intents: &intents,
            config: &config,
            phases,
        };
        let Corpus {
            docs,
            labels,
            scales,
            word_freq,
        } = corpus;
        let n_docs = docs.len();
        let mut v = b.vectorise(&analyzer, docs, labels, &scales);
        let (centroids, model) = b.train(&shape, &v);
        if v.units_later {
            // (on every core: 107,500 passage sentences at 100× the content)
            let passages: Vec<usize> = (0..v.vectors.len()).filter(|&i| v.is_passage[i]).collect();
            v.unit_vectors = parallel::par_map(passages.len(), &|n| unit(&v.vectors[passages[n]]));
            b.phases.done("passage unit vectors");
        }
        let groups = vocabulary;
        let (typo, knn, vocabulary) = b.lookups(&analyzer, &v, &word_freq, groups);
        let lexicon = config.lexicon.then(Lexicon::get);
        b.phases.done("vocabulary and lexicon");
        let oos_class = intents
            .iter()
            .position(|d| {
                !config.out_of_scope_intent.is_empty() && d.name == config.out_of_scope_intent
            })
            .map(|c| c as u32);
        let names = intents.iter().map(|d| d.name.clone()).collect();
        let examples = match intents {
            Cow::Owned(defs) => defs.into_iter().map(|d| d.examples).collect(),
            Cow::Borrowed(defs) => defs.iter().map(|d| d.examples.clone()).collect(),
        };
        Ok(Engine {
            vocabulary,
            lexicon,
            names,
            examples,
            analyzer,
            stem_vocab: word_freq.keys().map(|w| stem::stem(w)).collect(),
            word_freq,
            typo,
            centroids,
            model,
            knn,
            rules,
            in_examples: v.in_examples,
            max_idf: v.max_idf,
            unit_vectors: v.unit_vectors,
            class_start: v.class_start,
            features: v.features,
            similarity_knee: shape.similarity_knee,
            oos_class,
            def_hashes,
            sparse: shape.sparse,
            n_docs,
            extractors: extractors.to_vec(),
            vocabulary_groups: groups.to_vec(),
            config,
        })
    }
}

/// The definitions and settings make sense: every error a content editor can cause is named.
pub(super) fn validate(intents: &[IntentDef], config: &EngineConfig) -> Result<(), EngineError> {
    if intents.is_empty() {
        return Err(EngineError::Empty);
    }
    if !(config.temperature > 0.0 && config.temperature.is_finite()) {
        return Err(EngineError::InvalidConfig("temperature must be > 0".into()));
    }
    if !(0.0..=1.0).contains(&config.oos_threshold) || !(0.0..=1.0).contains(&config.clarify_margin)
    {
        return Err(EngineError::InvalidConfig(
            "oos_threshold and clarify_margin must be within 0..=1".into(),
        ));
    }
    let band_ok = (0.0..=config.oos_threshold).contains(&config.suggest_threshold)
        && (0.0..=1.0).contains(&config.suggest_ratio);
    let weights_ok = config.vocabulary_weight.is_finite()
        && config.vocabulary_weight >= 0.0
        && config.lexicon_weight.is_finite()
        && config.lexicon_weight >= 0.0;
    if !(band_ok && weights_ok) {
        return Err(EngineError::InvalidConfig(
            "suggest_threshold must be within 0..=oos_threshold, suggest_ratio within 0..=1, \
             vocabulary_weight and lexicon_weight finite and >= 0"
                .into(),
        ));
    }
    let svm_ok = config.svm_c > 0.0
        && config.svm_c.is_finite()
        && config.hinge_blend.is_finite()
        && config.blend_softmax_weight.is_finite();
    if !svm_ok {
        return Err(EngineError::InvalidConfig(
            "svm_c must be > 0; hinge_blend and blend_softmax_weight finite".into(),
        ));
    }
    let mut seen = HashSet::new();
    for def in intents {
        if def.name.is_empty() {
            return Err(EngineError::EmptyIntentName);
        }
        if !seen.insert(def.name.as_str()) {
            return Err(EngineError::DuplicateIntent(def.name.clone()));
        }
    }
    Ok(())
}

/// One build in progress: what every phase reads, and the phase clock.
struct Build<'a> {
    intents: &'a [IntentDef],
    config: &'a EngineConfig,
    phases: Phases,
}

/// The model's shape, chosen from the number of intents and examples.
struct Shape {
    /// Above `dense_max_classes` intents: sampled training on word-level features.
    sparse: bool,
    /// Character n-grams are features.
    chars: bool,
    /// Data-rich intents: the exact SVM is blended in.
    rich: bool,
    similarity_knee: f32,
}

/// Every example and passage sentence that has tokens, analysed: features named, intent, weight.
struct Corpus {
    docs: Vec<index::NamedFeatures>,
    labels: Vec<u32>,
    /// 1 for an example, `passage_weight` for a passage sentence.
    scales: Vec<f32>,
    word_freq: HashMap<String, u32>,
}

/// The corpus as vectors over the interned feature space.
struct Vectors {
    features: FeatureSpace,
    /// Per feature: seen in a real example (not only in passages).
    in_examples: Vec<bool>,
    max_idf: f32,
    /// Examples and passage sentences (scaled down; weight-0 ones dropped).
    vectors: Vec<SparseVec>,
    labels: Vec<u32>,
    is_passage: Vec<bool>,
    unit_vectors: Vec<SparseVec>,
    /// The unit vectors are still to be made, from the scaled passage vectors.
    units_later: bool,
    class_start: Vec<usize>,
}

impl Build<'_> {
    fn shape(&mut self) -> (Shape, Analyzer) {
        let (intents, config) = (self.intents, self.config);
        // Above `dense_max_classes` intents the sampled model trains on word-level features
        // only, so character n-grams there would feed nothing but the out-of-scope similarity:
        // they are left out (see `sparse_char_ngrams`).
        let sparse = intents.len() > config.dense_max_classes;
        let chars = !sparse || config.sparse_char_ngrams;
        let similarity_knee = if chars {
            config.similarity_knee
        } else {
            config.sparse_similarity_knee
        };
        // Data-rich intents (the median one has `rich_min_examples` examples or more) get the
        // exact SVM blended in and their own character weight; see `hinge_blend`.
        let rich = config.hinge_blend > 0.0
            && !sparse
            && median_examples(intents) >= config.rich_min_examples;
        let params = FeatureParams {
            char_min: if chars { config.char_ngram_min } else { 0 },
            char_max: config.char_ngram_max.min(12),
            bigrams: config.word_bigrams,
            word_weight: config.word_weight,
            char_weight: if rich {
                config.rich_char_weight
            } else {
                config.char_weight
            },
            stop_words: config.stop_words,
            skip_bigrams: config.skip_bigrams,
            cross_word_chars: config.cross_word_chars,
            surface_unigrams: config.surface_unigrams,
            edge_words: config.edge_words,
            chars_from_original: config.chars_from_original,
            content_bigrams: config.content_bigrams,
            light_stem: config.light_stem,
        };
        let analyzer = Analyzer::new(params, &config.synonyms);
        let shape = Shape {
            sparse,
            chars,
            rich,
            similarity_knee,
        };
        (shape, analyzer)
    }

    fn analyse(&mut self, analyzer: &Analyzer) -> Corpus {
        let (intents, config, phases) = (self.intents, self.config, &mut self.phases);
        // Analyse every example and passage sentence (on every core; in order).
        let mut texts: Vec<(u32, Cow<'_, str>, f32)> = Vec::new();
        for (c, def) in intents.iter().enumerate() {
            for (text, w) in intent_texts(def, config.passage_weight) {
                texts.push((c as u32, text, w));
            }
        }
        // Each core counts its texts' words as it goes: the tokens are not kept per text
        // (at 100× the knowledge base, 236,582 lists of strings held until every text was
        // analysed).
        let runs = parallel::par_chunks(texts.len(), &|range| {
            let mut namer = index::Namer::default();
            let mut counts: HashMap<String, u32> = HashMap::new();
            let docs: Vec<Option<index::NamedFeatures>> = range
                .map(|i| {
                    let a = analyzer.analyze(&texts[i].1, None);
                    if a.tokens.is_empty() {
                        return None;
                    }
                    let mut raw = Vec::new();
                    analyzer.features(&a, &mut raw, Some(&mut namer));
                    raw.shrink_to_fit();
                    for t in a.tokens {
                        match counts.get_mut(t.as_str()) {
                            Some(n) => *n += 1,
                            None => {
                                counts.insert(t, 1);
                            }
                        }
                    }
                    Some((raw, std::mem::take(&mut namer.named)))
                })
                .collect();
            vec![(docs, counts)]
        });
        phases.done("analysis");
        let mut docs: Vec<index::NamedFeatures> = Vec::with_capacity(texts.len());
        let mut labels = Vec::with_capacity(texts.len());
        let mut scales: Vec<f32> = Vec::with_capacity(texts.len());
        let mut word_freq: HashMap<String, u32> = HashMap::new();
        let mut at = texts.iter();
        for (run, counts) in runs {
            for (analysis, (label, _, scale)) in run.into_iter().zip(at.by_ref()) {
                let Some(doc) = analysis else {
                    continue;
                };
                docs.push(doc);
                labels.push(*label);
                scales.push(*scale);
            }
            if word_freq.is_empty() {
                word_freq = counts;
            } else {
                for (w, n) in counts {
                    *word_freq.entry(w).or_insert(0) += n;
                }
            }
        }
        drop(texts);
        phases.done("word counts");
        Corpus {
            docs,
            labels,
            scales,
            word_freq,
        }
    }

    fn vectorise(
        &mut self,
        analyzer: &Analyzer,
        docs: Vec<index::NamedFeatures>,
        mut labels: Vec<u32>,
        scales: &[f32],
    ) -> Vectors {
        let (intents, phases) = (self.intents, &mut self.phases);
        let features = FeatureSpace::build(&docs);
        tracing::debug!(target: "frontdoor::load", texts = docs.len(), features = features.len(), occurrences = docs.iter().map(|d| d.0.len()).sum::<usize>(), "dictionary");
        phases.done("dictionary");
        let mut in_examples = vec![false; features.len()];
        for ((raw, _), &w) in docs.iter().zip(scales) {
            if w == 1.0 {
                for f in raw {
                    if let Some(&id) = features.ids.get(&f.hash) {
                        in_examples[id as usize] = true;
                    }
                }
            }
        }
        let max_idf = ((1.0 + docs.len() as f32) / 1.0).ln() + 1.0;
        // (each text's features freed as soon as its vector is made)
        let mut vectors: Vec<SparseVec> =
            parallel::par_consume(docs, &|(raw, _)| features.vectorize(&raw, &analyzer.params));
        phases.done("vectors");
        // Unit-length passage sentences grouped by intent, for the
        // out-of-scope similarity term (see `similarity_knee`).
        let n_classes = intents.len();
        let mut class_start = vec![0usize; n_classes + 1];
        let mut unit_vectors = Vec::new();
        // Scaling by a power of two is exact, and so is normalising the scaled vector: then the
        // unit vectors are made after training from the scaled passage vectors (the same
        // values), and not held through it.
        let units_later = scales
            .iter()
            .all(|&w| w == 1.0 || w <= 0.0 || exact_scale(w));
        // docs were built intent by intent, so each intent's rows are contiguous
        for (k, v) in vectors.iter().enumerate() {
            let w = scales[k];
            if w > 0.0 && w != 1.0 {
                class_start[labels[k] as usize + 1] += 1;
                if !units_later {
                    unit_vectors.push(unit(v));
                }
            }
        }
        for c in 0..n_classes {
            class_start[c + 1] += class_start[c];
        }
        let mut is_passage: Vec<bool> = Vec::new();
        // passage pseudo-examples: weaker evidence (scaled vectors; dropped at 0)
        if scales.iter().any(|&w| w != 1.0) {
            let mut k = 0;
            let mut keep_labels = Vec::with_capacity(labels.len());
            vectors.retain_mut(|v| {
                let w = scales[k];
                let keep = w > 0.0;
                if keep {
                    v.vals.iter_mut().for_each(|x| *x *= w);
                    keep_labels.push(labels[k]);
                    is_passage.push(w != 1.0);
                }
                k += 1;
                keep
            });
            labels = keep_labels;
        } else {
            is_passage = vec![false; labels.len()];
        }
        phases.done("passage vectors");
        Vectors {
            features,
            in_examples,
            max_idf,
            vectors,
            labels,
            is_passage,
            unit_vectors,
            units_later,
            class_start,
        }
    }

    fn train(&mut self, shape: &Shape, v: &Vectors) -> (CentroidIndex, LinearModel) {
        let (config, phases) = (self.config, &mut self.phases);
        let (sparse, chars, rich) = (shape.sparse, shape.chars, shape.rich);
        let (features, vectors, labels, is_passage) =
            (&v.features, &v.vectors, &v.labels, &v.is_passage);
        let n_classes = self.intents.len();
        let centroids = CentroidIndex::build(vectors, labels, features.len(), config.max_postings);
        phases.done("centroids");
        let train = train_params(config, sparse);
        // Word-level features only: training candidates are retrieved with them (cheap), and
        // with many intents the model trains on them (character n-gram rows would span most
        // intents and dominate build time).
        let word_level = |v: &SparseVec| word_level(features, v);
        let word_only: Vec<SparseVec>;
        let model_vectors = if sparse && chars {
            word_only = parallel::par_map(vectors.len(), &|i| word_level(&vectors[i]));
            &word_only
        } else {
            vectors
        };
        phases.done("word-level vectors");
        // The `train_candidates` intents whose (word-level) centroids are nearest to `q`.
        let retrieve = |q: &SparseVec| centroids.retrieve(n_classes, config.train_candidates, q);
        // Passage sentences train against their intent's confusers, retrieved once per
        // intent with the sum of its passage sentences, rather than each sentence's own: on
        // the shipped content trained the sampled way (`dense_max_classes=50`), paraphrase
        // accuracy 70.4 → 73.3% (mean of seeds 1–3; the holdout set 68.6% either way), and
        // the 100× knowledge base's top-1 35.8 → 37.9%, at about half the retrievals.
        let passage_candidates: Vec<Vec<u32>> = if sparse {
            let mut rows = vec![0usize; n_classes + 1];
            for &l in labels {
                rows[l as usize + 1] += 1;
            }
            for c in 0..n_classes {
                rows[c + 1] += rows[c];
            }
            parallel::par_chunks(n_classes, &|range| {
                let mut acc = vec![0.0f32; features.len()];
                let mut touched: Vec<u32> = Vec::new();
                range
                    .map(|c| {
                        // each intent's rows are contiguous (texts were listed intent by intent)
                        for i in rows[c]..rows[c + 1] {
                            if !is_passage[i] {
                                continue;
                            }
                            let v = &model_vectors[i];
                            for (&f, &x) in v.ids.iter().zip(&v.vals) {
                                // (TF-IDF values are positive: 0 means not yet touched)
                                if acc[f as usize] == 0.0 {
                                    touched.push(f);
                                }
                                acc[f as usize] += x;
                            }
                        }
                        if touched.is_empty() {
                            return Vec::new();
                        }
                        touched.sort_unstable();
                        let mut q = SparseVec::default();
                        for &f in &touched {
                            q.ids.push(f);
                            q.vals.push(std::mem::take(&mut acc[f as usize]));
                        }
                        touched.clear();
                        retrieve(&q)
                    })
                    .collect()
            })
        } else {
            Vec::new()
        };
        phases.done("passage candidates");
        let candidates_of = |i: usize| -> Vec<u32> {
            if sparse {
                if is_passage[i] {
                    passage_candidates[labels[i] as usize].clone()
                } else {
                    retrieve(&model_vectors[i]) // already word-level
                }
            } else {
                retrieve(&word_level(&vectors[i]))
            }
        };
        let svm = rich.then(|| {
            svm::train(
                model_vectors,
                labels,
                n_classes,
                features.len(),
                &svm::SvmParams {
                    c: config.svm_c,
                    max_passes: config.svm_passes,
                    seed: config.seed.wrapping_add(0x5851_F42D),
                },
                &candidates_of,
                is_passage,
            )
        });
        phases.done("svm");
        let model = LinearModel::train(
            model_vectors,
            labels,
            n_classes,
            features.len(),
            &train,
            &candidates_of,
            svm,
        );
        phases.done("training");
        (centroids, model)
    }

    fn lookups(
        &mut self,
        analyzer: &Analyzer,
        v: &Vectors,
        word_freq: &HashMap<String, u32>,
        vocabulary: &[VocabularyGroup],
    ) -> (TypoIndex, Option<ExampleIndex>, Vocabulary) {
        let (intents, config, phases) = (self.intents, self.config, &mut self.phases);
        let (features, vectors, labels) = (&v.features, &v.vectors, &v.labels);
        // Vocabulary words are repair targets too ("vacaton" → "vacation"), and are never
        // repaired themselves (see `analyze`).
        let typo = typo_index(word_freq, vocabulary);
        let knn = (config.knn_weight != 0.0).then(|| {
            let words_only = config.knn_words_only;
            let keep = |f: u32| !words_only || features.blocks[f as usize] == index::BLOCK_WORD;
            ExampleIndex::build(
                vectors,
                labels,
                features.len(),
                config.knn_max_postings,
                &keep,
            )
        });
        phases.done("typo and example index");
        let vocabulary = compile_vocabulary(analyzer, features, intents, vocabulary, config);
        (typo, knn, vocabulary)
    }
}

/// `v` at unit length (all zero if it is).
fn unit(v: &SparseVec) -> SparseVec {
    let norm = v.dot(v).sqrt();
    let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    SparseVec {
        ids: v.ids.clone(),
        vals: v.vals.iter().map(|x| x * inv).collect(),
    }
}

/// Multiplying TF-IDF values by `w` is exact: a power of two, neither so small nor so large
/// that a value could leave the normal range.
fn exact_scale(w: f32) -> bool {
    (1.0 / 1024.0..=1024.0).contains(&w) && w.to_bits() & 0x007f_ffff == 0
}

/// The scoring model's training settings (`sparse`: above `dense_max_classes` intents).
pub(super) fn train_params(config: &EngineConfig, sparse: bool) -> TrainParams {
    TrainParams {
        loss: config.loss,
        label_smoothing: config.label_smoothing,
        lr_decay: config.lr_decay,
        dropout: config.dropout,
        min_steps: 20_000,
        average: config.average,
        ensemble: config.ensemble,
        hinge_blend: config.hinge_blend,
        blend_softmax_weight: config.blend_softmax_weight,
        epochs: if sparse {
            config.epochs.min(config.sparse_epochs)
        } else {
            config.epochs
        },
        learning_rate: config.learning_rate,
        l2: config.l2,
        seed: config.seed,
        dense_max_classes: config.dense_max_classes,
        candidates: config.train_candidates,
        shards: config.train_shards.max(1),
        max_postings: config.max_postings,
        min_weight: config.min_weight,
    }
}

/// The word-level features of `v` (training candidates are retrieved with them).
pub(super) fn word_level(features: &FeatureSpace, v: &SparseVec) -> SparseVec {
    let mut q = SparseVec::default();
    for (k, &f) in v.ids.iter().enumerate() {
        if features.blocks[f as usize] == index::BLOCK_WORD {
            q.ids.push(f);
            q.vals.push(v.vals[k]);
        }
    }
    q
}

/// Typo repair towards the training words and the vocabulary groups' words ("vacaton" →
/// "vacation"; vocabulary words are never repaired themselves, see `analyze`).
pub(super) fn typo_index(
    word_freq: &HashMap<String, u32>,
    vocabulary: &[VocabularyGroup],
) -> TypoIndex {
    if vocabulary.is_empty() {
        return TypoIndex::build(word_freq);
    }
    let mut with_vocabulary = word_freq.clone();
    for g in vocabulary {
        for t in g.terms.iter().flat_map(|t| normalize::tokenize(t)) {
            with_vocabulary.entry(t).or_insert(1);
        }
    }
    TypoIndex::build(&with_vocabulary)
}

/// The content's vocabulary groups compiled against the feature space.
pub(super) fn compile_vocabulary(
    analyzer: &Analyzer,
    features: &FeatureSpace,
    intents: &[IntentDef],
    vocabulary: &[VocabularyGroup],
    config: &EngineConfig,
) -> Vocabulary {
    if config.vocabulary_weight <= 0.0 {
        return Vocabulary::default();
    }
    let class_of = |name: &str| {
        intents
            .iter()
            .position(|d| d.name == name)
            .map(|c| c as u32)
    };
    let features_of = |term: &str| {
        let a = analyzer.analyze(term, None);
        let mut raw = Vec::new();
        analyzer.features(&a, &mut raw, None);
        let mut ids: Vec<u32> = raw
            .iter()
            .filter(|f| f.block == index::BLOCK_WORD)
            .filter_map(|f| features.ids.get(&f.hash).copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    Vocabulary::compile(vocabulary, &class_of, &features_of)
}

/// Median number of examples per intent (passages not counted).
fn median_examples(intents: &[IntentDef]) -> usize {
    let mut counts: Vec<usize> = intents.iter().map(|d| d.examples.len()).collect();
    counts.sort_unstable();
    counts.get(counts.len() / 2).copied().unwrap_or(0)
}
