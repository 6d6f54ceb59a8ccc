//! Explanations: why the engine answered what it answered.

use std::fmt;

use serde::Serialize;

use super::{Classification, Decision, Engine};

#[derive(Clone, Debug, Serialize)]
pub struct TermWeight {
    /// Feature name: a stem ("password"), a bigram ("reset password") or a
    /// character n-gram ("<pas").
    pub term: String,
    /// Contribution to the intent's score (query weight × model weight).
    pub weight: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct NearExample {
    pub intent: String,
    pub text: String,
    /// Cosine similarity of TF-IDF vectors.
    pub similarity: f32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub text: String,
    /// Tokens after normalisation and typo repair.
    pub normalized: String,
    /// (typed, corrected) tokens.
    pub corrections: Vec<(String, String)>,
    pub classification: Classification,
    /// "intent#index" and the regex source, when a rule pinned the intent.
    pub rule: Option<(String, String)>,
    /// Strongest terms for the top intent.
    pub top_terms: Vec<TermWeight>,
    /// Strongest terms for the runner-up.
    pub runner_up_terms: Vec<TermWeight>,
    /// The model's intercept for the top intent and the runner-up (data-rich intents only,
    /// where the SVM is blended in): part of the score that no term explains.
    pub intercepts: Option<(f32, Option<f32>)>,
    pub runner_up: Option<(String, f32)>,
    /// Confidence of the top intent minus that of the runner-up.
    pub margin: f32,
    /// Most similar training examples of the top two intents.
    pub nearest_examples: Vec<NearExample>,
    /// Cosine of the query to the top intent's centroid (an out-of-scope
    /// query is usually far from every centroid).
    pub centroid_similarity: f32,
    /// IDF-weighted share of the query's content words known to the domain
    /// (examples fully, passage-only words partly); 1 = all known.
    pub coverage: f32,
    /// Factor applied to the softmax confidence from `coverage` (1 = none).
    pub evidence: f32,
    pub oos_threshold: f32,
    pub clarify_margin: f32,
    pub suggest_threshold: f32,
    /// Content vocabulary terms found in the query and the terms they added.
    pub expansions: Vec<super::Expansion>,
    /// WordNet synonyms added for English words the domain does not know: (word, synonyms).
    pub lexical: Vec<(String, Vec<String>)>,
    /// Each analysed token and what it is for the out-of-scope decision.
    pub word_classes: Vec<(String, super::WordClass)>,
}

fn terms_for(engine: &Engine, v: &super::SparseVec, c: u32, n: usize) -> Vec<TermWeight> {
    let mut t: Vec<TermWeight> = v
        .ids
        .iter()
        .zip(&v.vals)
        .map(|(&f, &x)| TermWeight {
            term: engine.feature_name(f).to_string(),
            weight: x * engine.model_weight(f, c),
        })
        .filter(|t| t.weight != 0.0)
        .collect();
    t.sort_by(|a, b| {
        b.weight
            .abs()
            .total_cmp(&a.weight.abs())
            .then(a.term.cmp(&b.term))
    });
    t.truncate(n);
    t
}

pub(crate) fn explain(engine: &Engine, text: &str) -> Explanation {
    let (classification, scoring) = engine.classify_inner(text);
    let cfg = engine.config();
    let mut ex = Explanation {
        text: text.to_string(),
        normalized: String::new(),
        corrections: Vec::new(),
        classification: classification.clone(),
        rule: None,
        top_terms: Vec::new(),
        runner_up_terms: Vec::new(),
        intercepts: None,
        runner_up: None,
        margin: 0.0,
        nearest_examples: Vec::new(),
        centroid_similarity: 0.0,
        coverage: 1.0,
        evidence: 1.0,
        oos_threshold: cfg.oos_threshold,
        clarify_margin: cfg.clarify_margin,
        suggest_threshold: cfg.suggest_threshold,
        expansions: Vec::new(),
        lexical: Vec::new(),
        word_classes: Vec::new(),
    };
    let analysis = match &scoring {
        Some(s) => s.analysis.clone(),
        None => engine.analyze(text),
    };
    ex.normalized = analysis.tokens.join(" ");
    ex.corrections = analysis.corrections.clone();
    if let (Some(label), Some(r)) = (&classification.rule, engine.first_rule(text)) {
        ex.rule = Some((
            label.clone(),
            engine.rule_source(r).unwrap_or("").to_string(),
        ));
    }
    let Some(scoring) = scoring else {
        return ex;
    };
    ex.coverage = scoring.coverage;
    ex.evidence = scoring.evidence;
    ex.expansions = scoring.expansions.clone();
    ex.lexical = scoring.lexical.clone();
    ex.word_classes = scoring
        .analysis
        .tokens
        .iter()
        .cloned()
        .zip(scoring.classes.iter().copied())
        .collect();
    let ranked = &scoring.ranked;
    if let Some(&(top, p1)) = ranked.first() {
        ex.top_terms = terms_for(engine, &scoring.vector, top, 8);
        ex.intercepts = engine
            .intercept(top)
            .map(|b| (b, ranked.get(1).and_then(|&(c, _)| engine.intercept(c))));
        if let Some(&(second, p2)) = ranked.get(1) {
            ex.runner_up = Some((classification.ranked[1].intent.clone(), p2));
            ex.margin = p1 - p2;
            ex.runner_up_terms = terms_for(engine, &scoring.vector, second, 5);
        } else {
            ex.margin = p1;
        }
        // nearest examples among the top two intents (re-vectorised on the fly)
        for &(c, _) in ranked.iter().take(2) {
            let intent = engine.intent_name(c as usize).to_string();
            let mut best: Vec<NearExample> = engine
                .examples_of(c as usize)
                .iter()
                .map(|e| {
                    let v = engine.vectorize(&engine.analyze(e));
                    let norm = (v.dot(&v) * scoring.vector.dot(&scoring.vector)).sqrt();
                    let sim = if norm > 0.0 {
                        v.dot(&scoring.vector) / norm
                    } else {
                        0.0
                    };
                    NearExample {
                        intent: intent.clone(),
                        text: e.clone(),
                        similarity: sim,
                    }
                })
                .collect();
            best.sort_by(|a, b| {
                b.similarity
                    .total_cmp(&a.similarity)
                    .then(a.text.cmp(&b.text))
            });
            best.truncate(2);
            ex.nearest_examples.extend(best);
        }
        ex.centroid_similarity = engine.centroid_similarity(&scoring.vector, top);
    }
    ex
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.classification;
        writeln!(f, "input:       {:?}", self.text)?;
        writeln!(f, "normalised:  {:?}", self.normalized)?;
        if !self.corrections.is_empty() {
            let list: Vec<String> = self
                .corrections
                .iter()
                .map(|(a, b)| format!("{a} → {b}"))
                .collect();
            writeln!(f, "typos:       {}", list.join(", "))?;
        }
        for e in &self.expansions {
            writeln!(
                f,
                "vocabulary:  {} → {} ({})",
                e.typed,
                e.added.join(", "),
                e.origin
            )?;
        }
        for (w, syns) in &self.lexical {
            writeln!(
                f,
                "wordnet:     {w} → {} (general English)",
                syns.join(", ")
            )?;
        }
        let judged: Vec<String> = self
            .word_classes
            .iter()
            .filter(|(_, c)| !matches!(c, super::WordClass::Stop | super::WordClass::Domain))
            .map(|(w, c)| format!("{w} ({})", c.as_str()))
            .collect();
        if !judged.is_empty() {
            writeln!(f, "words:       {}", judged.join(", "))?;
        }
        match &c.decision {
            Decision::Intent(i) => {
                writeln!(f, "decision:    {i} (confidence {:.3})", c.confidence)?
            }
            Decision::Clarify(a, b) => writeln!(
                f,
                "decision:    clarify between {a} and {b} (confidence {:.3}, margin {:.3} < {:.3})",
                c.confidence, self.margin, self.clarify_margin
            )?,
            Decision::Suggest(list) => writeln!(
                f,
                "decision:    did you mean {} (confidence {:.3} < threshold {:.3}, >= suggest {:.3})",
                list.join(" / "),
                c.confidence,
                self.oos_threshold,
                self.suggest_threshold
            )?,
            Decision::Fallback => writeln!(
                f,
                "decision:    fallback (confidence {:.3} < threshold {:.3})",
                c.confidence, self.oos_threshold
            )?,
        }
        if let Some((label, src)) = &self.rule {
            writeln!(f, "why:         rule {label} matched: /{src}/")?;
        } else if !c.ranked.is_empty() {
            if let Some((name, p)) = &self.runner_up {
                writeln!(f, "runner-up:   {name} ({p:.3}), margin {:.3}", self.margin)?;
            }
            writeln!(
                f,
                "centroid:    cosine {:.3} to {}",
                self.centroid_similarity, c.ranked[0].intent
            )?;
            writeln!(
                f,
                "evidence:    domain coverage {:.3} → confidence × {:.3}",
                self.coverage, self.evidence
            )?;
            writeln!(f, "top terms for {}:", c.ranked[0].intent)?;
            for t in &self.top_terms {
                writeln!(f, "  {:>+8.4}  {}", t.weight, t.term)?;
            }
            if let Some((b, _)) = self.intercepts {
                writeln!(f, "  {b:>+8.4}  (intercept)")?;
            }
            if !self.runner_up_terms.is_empty() {
                writeln!(f, "top terms for runner-up:")?;
                for t in &self.runner_up_terms {
                    writeln!(f, "  {:>+8.4}  {}", t.weight, t.term)?;
                }
                if let Some((_, Some(b))) = self.intercepts {
                    writeln!(f, "  {b:>+8.4}  (intercept)")?;
                }
            }
            if !self.nearest_examples.is_empty() {
                writeln!(f, "nearest examples:")?;
                for e in &self.nearest_examples {
                    writeln!(f, "  {:.3}  [{}] {}", e.similarity, e.intent, e.text)?;
                }
            }
        } else {
            writeln!(f, "why:         no known term in the input")?;
        }
        if !c.ranked.is_empty() {
            let r: Vec<String> = c
                .ranked
                .iter()
                .map(|s| format!("{} {:.3}", s.intent, s.confidence))
                .collect();
            writeln!(f, "ranked:      {}", r.join(", "))?;
        }
        for e in &c.entities {
            writeln!(
                f,
                "entity:      {} = {:?} [{}..{}]",
                e.name, e.value, e.start, e.end
            )?;
        }
        Ok(())
    }
}
