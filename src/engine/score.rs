//! Scoring one query: analyse (with typo repair), expand with the content's vocabulary and
//! general English, score against the model and the k-nearest examples, weigh the out-of-scope
//! evidence (domain coverage, similarity) and decide: answer, clarify, suggest or fall back.

use super::*;

impl Engine {
    pub(crate) fn analyze(&self, text: &str) -> index::Analysis {
        let known = |t: &str| {
            self.word_freq.contains_key(t)
                || self.vocabulary.tokens.contains(t)
                || self.stem_vocab.contains(&stem::stem(t))
        };
        let typo = if self.config.typo_correction {
            Some((&self.typo, &known as &dyn Fn(&str) -> bool))
        } else {
            None
        };
        self.analyzer.analyze(text, typo)
    }

    pub(crate) fn vectorize(&self, a: &index::Analysis) -> SparseVec {
        let mut raw = Vec::new();
        self.analyzer.features(a, &mut raw, None);
        self.features.vectorize(&raw, &self.analyzer.params)
    }

    /// Similarity scoring: calibrated probabilities for the touched intents.
    pub(crate) fn score(&self, text: &str, keep: usize) -> Scoring {
        self.score_without(text, keep, None)
    }

    /// `score`, with vocabulary group `without` (an index into the groups given to the build)
    /// left out: what the group changes (see [`Engine::vocabulary_report`]).
    pub(super) fn score_without(&self, text: &str, keep: usize, without: Option<u32>) -> Scoring {
        let analysis = self.analyze(text);
        let names = proper_names(text);
        let mut expansions = self.vocabulary.find(&analysis.tokens);
        expansions.retain(|e| Some(e.group) != without);
        let scoring = self.score_analysis(analysis, &names, expansions.clone(), keep);
        // A scoped vocabulary group only counts when the answer it leads to is one of its
        // intents ("leave" means annual leave in HR questions only): otherwise score again
        // without it. One retry: the second ranking stands.
        let Some(&(top, _)) = scoring.ranked.first() else {
            return scoring;
        };
        if expansions.iter().all(|e| self.vocabulary.in_scope(e, top)) {
            return scoring;
        }
        expansions.retain(|e| self.vocabulary.in_scope(e, top));
        self.score_analysis(scoring.analysis, &names, expansions, keep)
    }

    pub(super) fn score_analysis(
        &self,
        analysis: index::Analysis,
        names: &HashSet<String>,
        expansions: Vec<Expansion>,
        keep: usize,
    ) -> Scoring {
        let classes = self.word_classes(&analysis, names, &expansions);
        let mut extra: Vec<(u32, f32)> = Vec::new();
        for e in &expansions {
            self.vocabulary
                .extra_features(e, self.config.vocabulary_weight, &mut extra);
        }
        let lexical = self.lexical_expansion(&analysis, &classes, &mut extra);
        let vector = {
            let mut raw = Vec::new();
            self.analyzer.features(&analysis, &mut raw, None);
            self.features
                .vectorize_with(&raw, &extra, &self.analyzer.params)
        };
        let n = self.names.len();
        let t = self.config.temperature;
        let ranked = SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.prepare(n);
            s.accumulate(&self.model.postings, &vector);
            s.add_bias(&self.model.bias);
            if let Some(knn) = &self.knn {
                self.add_knn(knn, &vector, &mut s);
            }
            if self.config.centroid_weight != 0.0 {
                s.accumulate_scaled(
                    &self.centroids.postings,
                    &vector,
                    self.config.centroid_weight,
                );
            }
            let r = s.top(keep);
            if r.is_empty() {
                return r;
            }
            // softmax over all intents; untouched ones have score 0
            let m = r[0].1.max(0.0);
            let untouched = (n - s.touched.len()) as f32;
            let mut z = untouched * ((0.0 - m) / t).exp();
            for &c in &s.touched {
                z += ((s.scores[c as usize] - m) / t).exp();
            }
            r.into_iter()
                .map(|(c, v)| (c, ((v - m) / t).exp() / z))
                .collect()
        });
        let coverage = self.coverage(&analysis, &classes);
        let knee = self.config.coverage_knee;
        let mut evidence = if knee > 0.0 {
            (coverage / knee).min(1.0).powf(self.config.coverage_power)
        } else {
            1.0
        };
        let sim_knee = self.similarity_knee;
        let similarity = match ranked.first() {
            Some(&(top, _)) if sim_knee > 0.0 => {
                let s = self.centroid_similarity(&vector, top);
                // the per-passage scan only runs when the centroid alone would
                // cost confidence, so typical in-scope queries skip it
                if s < sim_knee {
                    s.max(self.nearest_passage_similarity(&vector, top))
                } else {
                    s
                }
            }
            _ => 0.0,
        };
        if sim_knee > 0.0 {
            evidence *= (similarity / sim_knee).clamp(0.0, 1.0);
        }
        let ranked = if evidence < 1.0 {
            ranked.into_iter().map(|(c, p)| (c, p * evidence)).collect()
        } else {
            ranked
        };
        Scoring {
            ranked,
            analysis,
            vector,
            coverage,
            evidence,
            similarity,
            expansions,
            lexical,
            classes,
        }
    }

    /// The word-level feature id of a token's stem, when the domain knows it.
    pub(super) fn word_feature(&self, stem: &str) -> Option<u32> {
        self.features
            .ids
            .get(&sparse::fnv1a(b'w', stem.as_bytes()))
            .copied()
    }

    /// What each analysed token is, for the out-of-scope decision (see [`WordClass`]).
    pub(crate) fn word_classes(
        &self,
        a: &index::Analysis,
        names: &HashSet<String>,
        expansions: &[Expansion],
    ) -> Vec<WordClass> {
        a.tokens
            .iter()
            .enumerate()
            .map(|(i, tok)| {
                if index::is_stop_word(tok) {
                    WordClass::Stop
                } else if normalize::is_number(tok) || tok.chars().any(|c| c.is_ascii_digit()) {
                    WordClass::Number
                } else if a.original.get(i).is_some_and(|o| names.contains(o))
                    || names.contains(tok)
                {
                    // Names and references ("Acme Widgets Ltd", "GB123456789") are values
                    // the user supplies, not vocabulary the domain should know.
                    WordClass::Name
                } else if let Some(e) = expansions
                    .iter()
                    .find(|e| (e.span.0..e.span.1).contains(&i))
                {
                    if self.vocabulary.is_off_topic(e) {
                        WordClass::OffTopic
                    } else {
                        WordClass::Vocabulary
                    }
                } else if self.word_feature(&a.stems[i]).is_some() {
                    if a.original.get(i).is_some_and(|o| o != tok) {
                        WordClass::Corrected
                    } else {
                        WordClass::Domain
                    }
                } else if let Some(lexicon) = self.lexicon {
                    if lexicon::is_date_word(tok) {
                        WordClass::Date
                    } else if lexicon.is_word(tok) {
                        WordClass::English
                    } else {
                        WordClass::Unknown
                    }
                } else {
                    // without general English, every unknown word is off-topic evidence
                    WordClass::English
                }
            })
            .collect()
    }

    /// WordNet synonyms the domain knows (seen in examples), for the English words it does
    /// not: added to `extra` sharing `lexicon_weight` per word. Returns what was added.
    pub(super) fn lexical_expansion(
        &self,
        a: &index::Analysis,
        classes: &[WordClass],
        extra: &mut Vec<(u32, f32)>,
    ) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let (Some(lexicon), w) = (self.lexicon, self.config.lexicon_weight) else {
            return out;
        };
        if w <= 0.0 {
            return out;
        }
        for (i, tok) in a.tokens.iter().enumerate() {
            if classes[i] != WordClass::English {
                continue;
            }
            let mut found: Vec<(String, u32)> = Vec::new();
            for syn in lexicon.synonyms(tok) {
                let st = self.analyzer.stem_token(syn);
                if let Some(id) = self.word_feature(&st)
                    && self.in_examples[id as usize]
                    && !found.iter().any(|(_, f)| *f == id)
                {
                    found.push((syn.to_string(), id));
                }
            }
            if found.is_empty() {
                continue;
            }
            let share = w / found.len() as f32;
            extra.extend(found.iter().map(|&(_, id)| (id, share)));
            out.push((tok.clone(), found.into_iter().map(|(s, _)| s).collect()));
        }
        out
    }

    /// IDF-weighted share of the query's content words that the domain
    /// knows: a word seen in examples counts fully, one seen only in passages
    /// by `coverage_passage_credit`, a typo-repaired one by three quarters, a content
    /// vocabulary term fully, an English word the domain does not know not at all (weighted
    /// by the largest IDF). Stop-words, numbers, names, dates and words that are not English
    /// (see [`WordClass`]) are not judged. 1 when nothing to judge.
    pub(crate) fn coverage(&self, a: &index::Analysis, classes: &[WordClass]) -> f32 {
        let (mut known, mut total) = (0.0f32, 0.0f32);
        for (i, class) in classes.iter().enumerate() {
            match class {
                WordClass::Stop
                | WordClass::Number
                | WordClass::Name
                | WordClass::Date
                | WordClass::Unknown => {}
                WordClass::English => total += self.max_idf,
                // Declared off-topic by the content: stronger evidence than a word merely
                // unknown here, so it weighs twice.
                WordClass::OffTopic => total += 2.0 * self.max_idf,
                // A vocabulary term is a word of the domain: fully known, weighted like the
                // domain's own word when it is one, else like the rarest word.
                WordClass::Vocabulary => {
                    let idf = self
                        .word_feature(&a.stems[i])
                        .map_or(self.max_idf, |id| self.features.idf[id as usize]);
                    total += idf;
                    known += idf;
                }
                WordClass::Domain | WordClass::Corrected => {
                    let Some(id) = self.word_feature(&a.stems[i]) else {
                        total += self.max_idf;
                        continue;
                    };
                    let idf = self.features.idf[id as usize];
                    let mut credit = if self.in_examples[id as usize] {
                        1.0
                    } else {
                        self.config.coverage_passage_credit
                    };
                    if *class == WordClass::Corrected {
                        credit *= 0.75;
                    }
                    total += idf;
                    known += credit * idf;
                }
            }
        }
        if total > 0.0 { known / total } else { 1.0 }
    }

    /// Add the weighted vote of the k nearest training examples.
    pub(super) fn add_knn(&self, knn: &ExampleIndex, v: &SparseVec, out: &mut postings::Scratch) {
        let words_only = self.config.knn_words_only;
        let keep = |f: u32| !words_only || self.features.blocks[f as usize] == index::BLOCK_WORD;
        let mut q = SparseVec::default();
        for (k, &f) in v.ids.iter().enumerate() {
            if keep(f) {
                q.ids.push(f);
                q.vals.push(v.vals[k]);
            }
        }
        let norm = q.dot(&q).sqrt();
        if norm <= 0.0 {
            return;
        }
        let top: Vec<(u32, f32)> = KNN_SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.prepare(knn.labels.len());
            s.accumulate_scaled(&knn.postings, &q, 1.0 / norm);
            let mut r: Vec<(u32, f32)> = s
                .touched
                .iter()
                .map(|&e| (e, s.scores[e as usize]))
                .collect();
            let k = self.config.knn_k.max(1).min(r.len());
            if k == 0 {
                return r;
            }
            r.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            r.truncate(k);
            r
        });
        let w = self.config.knn_weight;
        for (e, sim) in top {
            let c = knn.labels[e as usize];
            let ci = c as usize;
            if !out.mark[ci] {
                out.mark[ci] = true;
                out.touched.push(c);
            }
            out.scores[ci] += w * sim;
        }
    }

    pub(super) fn decide(&self, ranked: &[(u32, f32)]) -> (Decision, f32) {
        let Some(&(top, p1)) = ranked.first() else {
            return (Decision::Fallback, 0.0);
        };
        if Some(top) == self.oos_class {
            return (Decision::Fallback, 0.0);
        }
        if p1 < self.config.oos_threshold {
            return (self.suggest(ranked), p1);
        }
        let mut others = ranked[1..].iter().filter(|r| Some(r.0) != self.oos_class);
        if let Some(&(second, p2)) = others.next()
            && p1 - p2 < self.config.clarify_margin
        {
            return (
                Decision::Clarify(
                    self.names[top as usize].clone(),
                    self.names[second as usize].clone(),
                ),
                p1,
            );
        }
        (Decision::Intent(self.names[top as usize].clone()), p1)
    }

    /// Below the answer threshold: "did you mean" when the top in-scope intents are close
    /// enough to the threshold to be worth offering (see `suggest_threshold`), else no answer.
    pub(super) fn suggest(&self, ranked: &[(u32, f32)]) -> Decision {
        let in_scope: Vec<(u32, f32)> = ranked
            .iter()
            .copied()
            .filter(|r| Some(r.0) != self.oos_class)
            .collect();
        let threshold = self.config.suggest_threshold;
        match in_scope.first() {
            Some(&(_, p1)) if threshold > 0.0 && p1 >= threshold => Decision::Suggest(
                in_scope
                    .iter()
                    .take(3)
                    .filter(|r| r.1 >= p1 * self.config.suggest_ratio)
                    .map(|r| self.names[r.0 as usize].clone())
                    .collect(),
            ),
            _ => Decision::Fallback,
        }
    }
}

/// Lower-cased words of `text` that are values the user supplies rather than domain words:
/// words with digits (references), email addresses, and company names (a run of capitalised
/// words ending in Ltd, Limited, plc, Inc, LLC, LLP or GmbH). Other capitalised words still
/// count: "Berlin" or "Arsenal" are exactly what marks a question as off-topic.
pub(crate) fn proper_names(text: &str) -> HashSet<String> {
    const SUFFIXES: [&str; 7] = ["ltd", "limited", "plc", "inc", "llc", "llp", "gmbh"];
    let mut out = HashSet::new();
    let mut run: Vec<String> = Vec::new();
    for raw in text.split_whitespace() {
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '.');
        let word = word.trim_end_matches('.');
        if word.chars().any(|c| c.is_ascii_digit()) || word.contains('@') {
            for part in word
                .split(|c: char| !c.is_alphanumeric())
                .filter(|p| !p.is_empty())
            {
                out.insert(part.to_lowercase());
            }
        }
        if word.chars().next().is_some_and(char::is_uppercase) {
            run.push(word.to_lowercase());
            if SUFFIXES.contains(&run[run.len() - 1].as_str()) {
                out.extend(run.drain(..));
            }
        } else {
            run.clear();
        }
        if raw.ends_with([',', ';', ':', '.', '!', '?']) {
            run.clear();
        }
    }
    out
}
