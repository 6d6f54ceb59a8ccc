//! The scoring model over sparse TF-IDF vectors (the serving indexes are in `postings`).
//!
//! * [`LinearModel`]: multinomial logistic regression trained with SGD at load
//!   time. With few intents the softmax runs over all of them (dense weight
//!   rows); with many, over the true intent plus the top retrieved confusers
//!   (sparse rows). Either way the result is exported as an inverted index of
//!   per-feature postings truncated to the strongest `max_postings`, so query
//!   cost is bounded independently of the number of intents.

use std::sync::atomic::{AtomicU16, Ordering};

use super::parallel::{Rng, par_map, run_scoped};
use super::postings::{Postings, softmax_in_place};
use super::sparse::SparseVec;
use super::svm;

mod layout;
mod partial;
mod sgd;

use layout::FixedLayout;
use sgd::{Dropout, FixedRun};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Multinomial logistic regression.
    Softmax,
    /// One-vs-rest linear SVM (hinge).
    Hinge,
    /// One-vs-rest squared hinge (as LinearSVC).
    SquaredHinge,
}

#[derive(Clone, Debug)]
pub struct TrainParams {
    pub loss: Loss,
    pub label_smoothing: f32,
    /// Learning rate falls linearly to (1 - lr_decay) of its start value.
    pub lr_decay: f32,
    /// Probability of dropping each feature of an example in an SGD step.
    pub dropout: f32,
    /// Minimum number of SGD steps (more epochs for small sets).
    pub min_steps: usize,
    pub ensemble: usize,
    /// Weight of the one-vs-rest SVM, when one is given to [`LinearModel::train`].
    pub hinge_blend: f32,
    /// Scale of the softmax model when the SVM is blended in.
    pub blend_softmax_weight: f32,
    pub average: bool,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub seed: u64,
    /// Above this many classes, train on sampled candidates (sparse rows).
    pub dense_max_classes: usize,
    pub candidates: usize,
    /// Sampled training: each epoch is split into this many parts trained side by side and
    /// summed (see [`FixedRun::sharded_epoch`]); 1 = one sequential pass.
    pub shards: usize,
    pub max_postings: usize,
    pub min_weight: f32,
}

/// Weight storage during training.
enum Store {
    Dense {
        w: Vec<f32>,
        c: usize,
    },
    /// Sampled training with every slot laid out beforehand (see [`FixedLayout`]).
    Fixed {
        w: Vec<f32>,
        layout: FixedLayout,
    },
    /// Sampled training with rows that grow as weights are first touched: the reference the
    /// fixed layout is tested against.
    #[cfg(test)]
    Sparse {
        rows: Vec<Vec<(u32, f32)>>,
    },
}

/// How sampled training lays out its sparse weights.
#[derive(Clone, Copy)]
enum Layout {
    Fixed,
    /// Rows grown as weights are first touched (the earlier way; a test's reference).
    #[cfg(test)]
    Grown,
}

#[cfg(test)]
impl Store {
    fn get(&self, f: u32, c: u32) -> f32 {
        match self {
            Store::Sparse { rows } => {
                let r = &rows[f as usize];
                match r.binary_search_by_key(&c, |e| e.0) {
                    Ok(i) => r[i].1,
                    Err(_) => 0.0,
                }
            }
            _ => unreachable!("only grown rows are read by (feature, class)"),
        }
    }
    fn add(&mut self, f: u32, c: u32, delta: f32, decay: f32) {
        match self {
            Store::Sparse { rows } => {
                let r = &mut rows[f as usize];
                match r.binary_search_by_key(&c, |e| e.0) {
                    Ok(i) => r[i].1 = r[i].1 * decay + delta,
                    Err(i) => r.insert(i, (c, delta)),
                }
            }
            _ => unreachable!("only grown rows are written by (feature, class)"),
        }
    }
}

#[derive(Debug, Default)]
pub struct LinearModel {
    pub postings: Postings,
    pub n_classes: usize,
    /// Per-intent intercept, added to every intent's score (empty: none). Only the
    /// one-vs-rest SVM has one: each of its binary problems needs its own offset (about -1,
    /// varying by intent), and without it the SVM's accuracy on CLINC150 validation fell
    /// from 93.3 to 92.3% top-1 (scikit-learn's LinearSVC on the engine's own vectors).
    pub bias: Vec<f32>,
}

impl LinearModel {
    /// Train the linear model. `candidates_of(i)` gives retrieval candidates
    /// for example i: the softmax runs over the true intent plus the first
    /// `params.candidates` of them (hard negatives), or over all intents when
    /// `params.candidates` is 0 or not smaller than the number of intents.
    /// Weights live in a dense matrix when it is small enough, else in sparse
    /// sorted rows.
    pub fn train(
        vectors: &[SparseVec],
        labels: &[u32],
        n_classes: usize,
        n_features: usize,
        params: &TrainParams,
        candidates_of: &(dyn Fn(usize) -> Vec<u32> + Sync),
        svm: Option<svm::Svm>,
    ) -> LinearModel {
        // bagging over seeds: the average of linear models is a linear model
        let runs = params.ensemble.max(1);
        if runs == 1 && svm.is_none() {
            // One run: its weights cut straight into postings, without a list per feature.
            let store = Self::train_store_in(
                Layout::Fixed,
                vectors,
                labels,
                n_classes,
                n_features,
                params,
                candidates_of,
            );
            return LinearModel {
                postings: store.into_postings(n_features, params.max_postings, params.min_weight),
                n_classes,
                bias: Vec::new(),
            };
        }
        let mut lists = Self::train_lists(
            vectors,
            labels,
            n_classes,
            n_features,
            params,
            candidates_of,
        );
        for r in 1..runs {
            let p = TrainParams {
                seed: params.seed.wrapping_add(0x9E37_79B9 * r as u64),
                ..params.clone()
            };
            let more = Self::train_lists(vectors, labels, n_classes, n_features, &p, candidates_of);
            merge_lists(&mut lists, more, 1.0);
        }
        if runs > 1 {
            let inv = 1.0 / runs as f32;
            for l in lists.iter_mut() {
                for e in l.iter_mut() {
                    e.1 *= inv;
                }
            }
        }
        // The exact one-vs-rest SVM (see `svm`), when given, is blended in: the sum of
        // linear models is linear, so serving cost is unchanged.
        let mut bias = Vec::new();
        if let Some(svm) = svm {
            for l in lists.iter_mut() {
                for e in l.iter_mut() {
                    e.1 *= params.blend_softmax_weight;
                }
            }
            merge_lists(&mut lists, svm.lists, params.hinge_blend);
            bias = svm.bias.iter().map(|b| b * params.hinge_blend).collect();
        }
        LinearModel {
            postings: Postings::from_lists(lists, params.max_postings, params.min_weight),
            n_classes,
            bias,
        }
    }

    /// One training run; per-feature (class, weight) lists sorted by class.
    fn train_lists(
        vectors: &[SparseVec],
        labels: &[u32],
        n_classes: usize,
        n_features: usize,
        params: &TrainParams,
        candidates_of: &(dyn Fn(usize) -> Vec<u32> + Sync),
    ) -> Vec<Vec<(u32, f32)>> {
        Self::train_lists_in(
            Layout::Fixed,
            vectors,
            labels,
            n_classes,
            n_features,
            params,
            candidates_of,
        )
    }

    fn train_lists_in(
        layout: Layout,
        vectors: &[SparseVec],
        labels: &[u32],
        n_classes: usize,
        n_features: usize,
        params: &TrainParams,
        candidates_of: &(dyn Fn(usize) -> Vec<u32> + Sync),
    ) -> Vec<Vec<(u32, f32)>> {
        Self::train_store_in(
            layout,
            vectors,
            labels,
            n_classes,
            n_features,
            params,
            candidates_of,
        )
        .into_lists(n_features)
    }

    /// One training run, its weights left in their store.
    fn train_store_in(
        layout: Layout,
        vectors: &[SparseVec],
        labels: &[u32],
        n_classes: usize,
        n_features: usize,
        params: &TrainParams,
        candidates_of: &(dyn Fn(usize) -> Vec<u32> + Sync),
    ) -> Store {
        let mut phases = super::Phases::start();
        let dense = n_classes <= params.dense_max_classes;
        let sampled = !dense && params.candidates > 0 && params.candidates < n_classes;
        let all: Vec<u32> = if sampled {
            Vec::new()
        } else {
            (0..n_classes as u32).collect()
        };
        let cand_lists: Vec<Vec<u32>> = if sampled {
            par_map(vectors.len(), &|i| {
                let mut c = candidates_of(i);
                c.truncate(params.candidates);
                if !c.contains(&labels[i]) {
                    c.push(labels[i]);
                }
                c.sort_unstable();
                // (a list grown past its retrieval's size by the label holds twice the room)
                c.shrink_to_fit();
                c
            })
        } else {
            Vec::new()
        };
        phases.done("training candidates");
        // Without sampling (few intents, or configured to train over all of them) every
        // weight is touched: a dense matrix.
        let mut store = if !sampled {
            Store::Dense {
                w: vec![0.0; n_features * n_classes],
                c: n_classes,
            }
        } else {
            match layout {
                Layout::Fixed => {
                    let layout = FixedLayout::build(vectors, &cand_lists, n_features, n_classes);
                    Store::Fixed {
                        w: vec![0.0; layout.cls.len()],
                        layout,
                    }
                }
                #[cfg(test)]
                Layout::Grown => Store::Sparse {
                    rows: vec![Vec::new(); n_features],
                },
            }
        };
        if let Store::Fixed { w, layout } = &store {
            tracing::debug!(target: "frontdoor::load", weights = w.len(), direct_maps = layout.slots.len() / n_classes.max(1), cached_slots = layout.local.as_ref().map_or(0, |l| l.len()), "sampled training layout");
        }
        phases.done("training layout");
        let mut dropout = Dropout::default();
        let average = params.average && dense;
        // small sets get more epochs so SGD settles (deterministic, cheap)
        let epochs = params
            .epochs
            .max(params.min_steps.div_ceil(vectors.len().max(1)))
            .min(params.epochs.max(1) * 1000);
        let params = &TrainParams {
            epochs,
            ..params.clone()
        };
        let mut order: Vec<usize> = (0..vectors.len()).collect();
        let mut rng = Rng::new(params.seed);
        let total = (params.epochs * vectors.len()).max(1) as f32;
        let mut t = 0usize;
        let mut scores: Vec<f32> = Vec::new();
        // Polyak averaging of all iterates of the second half (dense store;
        // it replaces L2 there): avg = w_T - u / (T - s0)
        let avg_start = params.epochs / 2 * vectors.len();
        let mut avg_u: Vec<f32> = Vec::new();
        let mut copies: Vec<Vec<f32>> = Vec::new();
        for epoch in 0..params.epochs {
            rng.shuffle(&mut order);
            if let Store::Fixed { w, layout } = &mut store {
                let run = FixedRun {
                    layout,
                    vectors,
                    labels,
                    cand_lists: &cand_lists,
                    params,
                    total,
                    learns: None,
                };
                if params.shards > 1 {
                    let seed = params.seed.wrapping_add(0x2545_F491 * (epoch as u64 + 1));
                    run.sharded_epoch(w, &order, t, params.shards, seed, &mut copies);
                } else {
                    run.steps(w, &order, t, &mut rng);
                }
                t += order.len();
                continue;
            }
            for &i in &order {
                let (x, _) = dropout.apply(&vectors[i], params.dropout, &mut rng);
                let y = labels[i];
                let cands: &[u32] = if sampled { &cand_lists[i] } else { &all };
                let lr = params.learning_rate * (1.0 - params.lr_decay * t as f32 / total);
                t += 1;
                scores.clear();
                scores.resize(cands.len(), 0.0);
                match &store {
                    // dense means every class is a candidate, in order
                    Store::Dense { w, c: nc } => {
                        for (k, &f) in x.ids.iter().enumerate() {
                            let v = x.vals[k];
                            let row = &w[f as usize * nc..f as usize * nc + nc];
                            for (s, &wv) in scores.iter_mut().zip(row) {
                                *s += v * wv;
                            }
                        }
                    }
                    Store::Fixed { .. } => unreachable!("fixed layouts train in FixedRun"),
                    #[cfg(test)]
                    Store::Sparse { .. } => {
                        for (j, &c) in cands.iter().enumerate() {
                            let mut s = 0.0;
                            for (k, &f) in x.ids.iter().enumerate() {
                                s += x.vals[k] * store.get(f, c);
                            }
                            scores[j] = s;
                        }
                    }
                }
                loss_gradient(&mut scores, cands, y, params);
                match &mut store {
                    Store::Dense { w, c: nc } => {
                        let nc = *nc;
                        let decay = if average { 1.0 } else { 1.0 - lr * params.l2 };
                        if average && t > avg_start && avg_u.is_empty() {
                            avg_u = vec![0.0; w.len()];
                        }
                        let a = t.saturating_sub(avg_start + 1) as f32;
                        for (k, &f) in x.ids.iter().enumerate() {
                            let v = x.vals[k] * lr;
                            let base = f as usize * nc;
                            for (wv, &g) in w[base..base + nc].iter_mut().zip(scores.iter()) {
                                *wv = *wv * decay - v * g;
                            }
                            if !avg_u.is_empty() {
                                let va = v * a;
                                for (uv, &g) in avg_u[base..base + nc].iter_mut().zip(scores.iter())
                                {
                                    *uv -= va * g;
                                }
                            }
                        }
                    }
                    Store::Fixed { .. } => unreachable!("fixed layouts train in FixedRun"),
                    #[cfg(test)]
                    s @ Store::Sparse { .. } => {
                        let decay = 1.0 - lr * params.l2;
                        for (j, &c) in cands.iter().enumerate() {
                            let g = scores[j];
                            if g.abs() < 1e-4 {
                                continue;
                            }
                            for (k, &f) in x.ids.iter().enumerate() {
                                s.add(f, c, -lr * g * x.vals[k], decay);
                            }
                        }
                    }
                }
            }
        }
        phases.done("training epochs");
        if !avg_u.is_empty()
            && let Store::Dense { w, .. } = &mut store
        {
            let inv = 1.0 / (t.saturating_sub(avg_start)).max(1) as f32;
            for (v, u) in w.iter_mut().zip(avg_u) {
                *v -= u * inv;
            }
        }
        store
    }
}

impl Store {
    /// Per-feature (class, weight) lists of the non-zero weights, sorted by class.
    fn into_lists(self, n_features: usize) -> Vec<Vec<(u32, f32)>> {
        let mut out = Vec::with_capacity(n_features);
        let mut row = Vec::new();
        for f in 0..n_features {
            row.clear();
            self.row(f, &mut row);
            out.push(row.clone());
        }
        out
    }

    /// The weights as postings (as `Postings::from_lists` of [`Store::into_lists`], without
    /// the lists: at 100× the knowledge base they were as large as the weights).
    fn into_postings(mut self, n_features: usize, max_len: usize, min_abs: f32) -> Postings {
        if let Store::Fixed { layout, .. } = &mut self {
            // the cached slots are the layout's largest part, and training is over (rows are
            // read by offset: the direct maps go too)
            layout.local = None;
            layout.slots = Vec::new();
        }
        Postings::from_rows(n_features, &|f, out| self.row(f, out), max_len, min_abs)
    }

    /// Feature f's non-zero weights, by class.
    fn row(&self, f: usize, out: &mut Vec<(u32, f32)>) {
        match self {
            Store::Dense { w, c: nc } => out.extend(
                w[f * nc..f * nc + nc]
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(c, &v)| (c as u32, v)),
            ),
            Store::Fixed { w, layout } => {
                let row = layout.offs[f]..layout.offs[f + 1];
                out.extend(
                    layout
                        .cls
                        .range(row.clone())
                        .zip(&w[row])
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(c, &v)| (c, v)),
                )
            }
            #[cfg(test)]
            Store::Sparse { rows } => out.extend_from_slice(&rows[f]),
        }
    }
}

/// Scores of the candidates become gradients d loss / d score.
fn loss_gradient(scores: &mut [f32], cands: &[u32], y: u32, params: &TrainParams) {
    match params.loss {
        Loss::Softmax => {
            softmax_in_place(scores);
            let eps = params.label_smoothing;
            let off = if cands.len() > 1 {
                eps / (cands.len() - 1) as f32
            } else {
                0.0
            };
            for (j, &c) in cands.iter().enumerate() {
                scores[j] -= if c == y { 1.0 - eps } else { off };
            }
        }
        Loss::SquaredHinge | Loss::Hinge => {
            for (j, &c) in cands.iter().enumerate() {
                let tv = if c == y { 1.0 } else { -1.0 };
                let m = tv * scores[j];
                scores[j] = if m >= 1.0 {
                    0.0
                } else if params.loss == Loss::Hinge {
                    -tv
                } else {
                    -2.0 * tv * (1.0 - m)
                };
            }
        }
    }
}

/// `a += scale · b` for per-feature (class, weight) lists sorted by class.
fn merge_lists(lists: &mut [Vec<(u32, f32)>], more: Vec<Vec<(u32, f32)>>, scale: f32) {
    for (a, b) in lists.iter_mut().zip(more) {
        let mut merged: Vec<(u32, f32)> = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
                merged.push(a[i]);
                i += 1;
            } else if i >= a.len() || b[j].0 < a[i].0 {
                merged.push((b[j].0, scale * b[j].1));
                j += 1;
            } else {
                merged.push((a[i].0, a[i].1 + scale * b[j].1));
                i += 1;
                j += 1;
            }
        }
        *a = merged;
    }
}

#[cfg(test)]
mod tests;
