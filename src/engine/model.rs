//! Scoring models over sparse TF-IDF vectors.
//!
//! * [`CentroidIndex`]: one L2-normalised centroid per intent, stored as an
//!   inverted index (feature → intents, impact-ordered, truncated), used for
//!   candidate retrieval and as a similarity signal.
//! * [`LinearModel`]: multinomial logistic regression trained with SGD at load
//!   time. With few intents the softmax runs over all of them (dense weight
//!   rows); with many, over the true intent plus the top retrieved confusers
//!   (sparse rows). Either way the result is exported as an inverted index of
//!   per-feature postings truncated to the strongest `max_postings`, so query
//!   cost is bounded independently of the number of intents.

use std::cell::RefCell;

use super::index::SparseVec;

/// Deterministic xorshift64* generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Inverted index: feature → (class, weight), impact-ordered and truncated.
#[derive(Debug, Default, Clone)]
pub struct Postings {
    offsets: Vec<u32>,
    classes: Vec<u32>,
    weights: Vec<f32>,
}

impl Postings {
    /// Build from per-feature lists; keeps the `max_len` largest |weight|.
    pub fn from_lists(lists: Vec<Vec<(u32, f32)>>, max_len: usize, min_abs: f32) -> Postings {
        let mut p = Postings {
            offsets: Vec::with_capacity(lists.len() + 1),
            ..Default::default()
        };
        p.offsets.push(0);
        for mut l in lists {
            l.retain(|&(_, w)| w.abs() >= min_abs && w.is_finite());
            l.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
            l.truncate(max_len);
            // class order inside a posting gives sequential writes when dense
            l.sort_by_key(|&(c, _)| c);
            for (c, w) in l {
                p.classes.push(c);
                p.weights.push(w);
            }
            p.offsets.push(p.classes.len() as u32);
        }
        p
    }

    pub fn get(&self, f: u32) -> (&[u32], &[f32]) {
        let f = f as usize;
        if f + 1 >= self.offsets.len() {
            return (&[], &[]);
        }
        let (a, b) = (self.offsets[f] as usize, self.offsets[f + 1] as usize);
        (&self.classes[a..b], &self.weights[a..b])
    }

    /// Weight of (feature, class) or 0.
    pub fn weight(&self, f: u32, c: u32) -> f32 {
        let (cs, ws) = self.get(f);
        match cs.binary_search(&c) {
            Ok(i) => ws[i],
            Err(_) => 0.0,
        }
    }

    pub fn total_len(&self) -> usize {
        self.classes.len()
    }
}

/// Accumulator reused per thread: dense scores + touched list.
pub struct Scratch {
    pub scores: Vec<f32>,
    pub touched: Vec<u32>,
    pub mark: Vec<bool>,
}

thread_local! {
    pub static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { scores: Vec::new(), touched: Vec::new(), mark: Vec::new() }) };
}

impl Scratch {
    pub fn prepare(&mut self, n: usize) {
        if self.scores.len() < n {
            self.scores.resize(n, 0.0);
            self.mark.resize(n, false);
        }
        for &c in &self.touched {
            self.scores[c as usize] = 0.0;
            self.mark[c as usize] = false;
        }
        self.touched.clear();
    }

    /// scores += scale · x · postings
    pub fn accumulate_scaled(&mut self, p: &Postings, x: &SparseVec, scale: f32) {
        for (k, &f) in x.ids.iter().enumerate() {
            let v = x.vals[k] * scale;
            let (cs, ws) = p.get(f);
            for (i, &c) in cs.iter().enumerate() {
                let ci = c as usize;
                if !self.mark[ci] {
                    self.mark[ci] = true;
                    self.touched.push(c);
                }
                self.scores[ci] += v * ws[i];
            }
        }
    }

    /// scores += x · postings
    pub fn accumulate(&mut self, p: &Postings, x: &SparseVec) {
        for (k, &f) in x.ids.iter().enumerate() {
            let v = x.vals[k];
            let (cs, ws) = p.get(f);
            for (i, &c) in cs.iter().enumerate() {
                let ci = c as usize;
                if !self.mark[ci] {
                    self.mark[ci] = true;
                    self.touched.push(c);
                }
                self.scores[ci] += v * ws[i];
            }
        }
    }

    /// The `k` best touched classes, sorted best first (ties by class id),
    /// in O(touched) plus O(k log k).
    pub fn top(&self, k: usize) -> Vec<(u32, f32)> {
        let mut r: Vec<(u32, f32)> = self
            .touched
            .iter()
            .map(|&c| (c, self.scores[c as usize]))
            .collect();
        let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if k == 0 {
            return Vec::new();
        }
        if r.len() > k {
            r.select_nth_unstable_by(k - 1, cmp);
            r.truncate(k);
        }
        r.sort_by(cmp);
        r
    }
}

/// Centroid per class as an inverted index.
#[derive(Debug, Default)]
pub struct CentroidIndex {
    pub postings: Postings,
}

impl CentroidIndex {
    pub fn build(
        vectors: &[SparseVec],
        labels: &[u32],
        n_classes: usize,
        n_features: usize,
        max_postings: usize,
    ) -> CentroidIndex {
        // per-class accumulation in a map to stay sparse
        let mut per_class: Vec<std::collections::HashMap<u32, f32>> =
            vec![Default::default(); n_classes];
        for (v, &y) in vectors.iter().zip(labels) {
            let m = &mut per_class[y as usize];
            for (k, &f) in v.ids.iter().enumerate() {
                *m.entry(f).or_insert(0.0) += v.vals[k];
            }
        }
        let mut lists: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_features];
        for (c, m) in per_class.into_iter().enumerate() {
            let norm: f32 = m.values().map(|w| w * w).sum::<f32>().sqrt();
            if norm <= 0.0 {
                continue;
            }
            for (f, w) in m {
                lists[f as usize].push((c as u32, w / norm));
            }
        }
        CentroidIndex {
            postings: Postings::from_lists(lists, max_postings, 0.0),
        }
    }
}

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
    /// Weight of a one-vs-rest squared-hinge model added to the softmax one (0 = off).
    pub hinge_blend: f32,
    pub hinge_learning_rate: f32,
    pub average: bool,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub seed: u64,
    /// Above this many classes, train on sampled candidates (sparse rows).
    pub dense_max_classes: usize,
    pub candidates: usize,
    pub max_postings: usize,
    pub min_weight: f32,
}

/// Weight storage during training.
enum Store {
    Dense { w: Vec<f32>, c: usize },
    Sparse { rows: Vec<Vec<(u32, f32)>> },
}

impl Store {
    fn get(&self, f: u32, c: u32) -> f32 {
        match self {
            Store::Dense { w, c: nc } => w[f as usize * nc + c as usize],
            Store::Sparse { rows } => {
                let r = &rows[f as usize];
                match r.binary_search_by_key(&c, |e| e.0) {
                    Ok(i) => r[i].1,
                    Err(_) => 0.0,
                }
            }
        }
    }
    fn add(&mut self, f: u32, c: u32, delta: f32, decay: f32) {
        match self {
            Store::Dense { w, c: nc } => {
                let x = &mut w[f as usize * *nc + c as usize];
                *x = *x * decay + delta;
            }
            Store::Sparse { rows } => {
                let r = &mut rows[f as usize];
                match r.binary_search_by_key(&c, |e| e.0) {
                    Ok(i) => r[i].1 = r[i].1 * decay + delta,
                    Err(i) => r.insert(i, (c, delta)),
                }
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct LinearModel {
    pub postings: Postings,
    pub n_classes: usize,
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
        candidates_of: &dyn Fn(usize) -> Vec<u32>,
    ) -> LinearModel {
        // bagging over seeds: the average of linear models is a linear model
        let runs = params.ensemble.max(1);
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
        // A one-vs-rest squared-hinge model (LinearSVC-like) over all intents,
        // added to the softmax one: the sum of linear models is linear, so
        // serving cost is unchanged, and the two losses err on different rows.
        if params.hinge_blend > 0.0 && n_classes <= params.dense_max_classes {
            let p = TrainParams {
                loss: Loss::SquaredHinge,
                learning_rate: params.hinge_learning_rate,
                candidates: 0,
                dropout: 0.0,
                label_smoothing: 0.0,
                seed: params.seed.wrapping_add(0x5851_F42D),
                ..params.clone()
            };
            let more = Self::train_lists(vectors, labels, n_classes, n_features, &p, candidates_of);
            merge_lists(&mut lists, more, params.hinge_blend);
        }
        LinearModel {
            postings: Postings::from_lists(lists, params.max_postings, params.min_weight),
            n_classes,
        }
    }

    /// One training run; per-feature (class, weight) lists sorted by class.
    fn train_lists(
        vectors: &[SparseVec],
        labels: &[u32],
        n_classes: usize,
        n_features: usize,
        params: &TrainParams,
        candidates_of: &dyn Fn(usize) -> Vec<u32>,
    ) -> Vec<Vec<(u32, f32)>> {
        let dense = n_classes <= params.dense_max_classes;
        let mut store = if dense {
            Store::Dense {
                w: vec![0.0; n_features * n_classes],
                c: n_classes,
            }
        } else {
            Store::Sparse {
                rows: vec![Vec::new(); n_features],
            }
        };
        let sampled = !dense && params.candidates > 0 && params.candidates < n_classes;
        let all: Vec<u32> = if sampled {
            Vec::new()
        } else {
            (0..n_classes as u32).collect()
        };
        let cand_lists: Vec<Vec<u32>> = if sampled {
            (0..vectors.len())
                .map(|i| {
                    let mut c = candidates_of(i);
                    c.truncate(params.candidates);
                    if !c.contains(&labels[i]) {
                        c.push(labels[i]);
                    }
                    c.sort_unstable();
                    c
                })
                .collect()
        } else {
            Vec::new()
        };
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
        let mut dropped = SparseVec::default();
        for _ in 0..params.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                let x = if params.dropout > 0.0 {
                    // feature dropout (a cheap regulariser for sparse text)
                    dropped.ids.clear();
                    dropped.vals.clear();
                    let keep = 1.0 - params.dropout;
                    let cut = (params.dropout as f64 * u64::MAX as f64) as u64;
                    for (k, &f) in vectors[i].ids.iter().enumerate() {
                        if rng.next_u64() >= cut {
                            dropped.ids.push(f);
                            dropped.vals.push(vectors[i].vals[k] / keep);
                        }
                    }
                    &dropped
                } else {
                    &vectors[i]
                };
                let y = labels[i];
                let cands: &[u32] = if sampled { &cand_lists[i] } else { &all };
                let lr = params.learning_rate * (1.0 - params.lr_decay * t as f32 / total);
                t += 1;
                scores.clear();
                scores.resize(cands.len(), 0.0);
                match &store {
                    Store::Dense { w, c: nc } if !sampled => {
                        for (k, &f) in x.ids.iter().enumerate() {
                            let v = x.vals[k];
                            let row = &w[f as usize * nc..f as usize * nc + nc];
                            for (s, &wv) in scores.iter_mut().zip(row) {
                                *s += v * wv;
                            }
                        }
                    }
                    Store::Dense { w, c: nc } => {
                        for (k, &f) in x.ids.iter().enumerate() {
                            let v = x.vals[k];
                            let row = &w[f as usize * nc..f as usize * nc + nc];
                            for (s, &c) in scores.iter_mut().zip(cands) {
                                *s += v * row[c as usize];
                            }
                        }
                    }
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
                // scores become gradients d loss / d score
                match params.loss {
                    Loss::Softmax => {
                        softmax_in_place(&mut scores);
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
                            if sampled {
                                for (&c, &g) in cands.iter().zip(scores.iter()) {
                                    let wv = &mut w[base + c as usize];
                                    *wv = *wv * decay - v * g;
                                }
                                if !avg_u.is_empty() {
                                    for (&c, &g) in cands.iter().zip(scores.iter()) {
                                        avg_u[base + c as usize] -= v * a * g;
                                    }
                                }
                            } else {
                                for (wv, &g) in w[base..base + nc].iter_mut().zip(scores.iter()) {
                                    *wv = *wv * decay - v * g;
                                }
                                if !avg_u.is_empty() {
                                    let va = v * a;
                                    for (uv, &g) in
                                        avg_u[base..base + nc].iter_mut().zip(scores.iter())
                                    {
                                        *uv -= va * g;
                                    }
                                }
                            }
                        }
                    }
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
        if !avg_u.is_empty()
            && let Store::Dense { w, .. } = &mut store
        {
            let inv = 1.0 / (t.saturating_sub(avg_start)).max(1) as f32;
            for (v, u) in w.iter_mut().zip(avg_u) {
                *v -= u * inv;
            }
        }
        match store {
            Store::Dense { w, c: nc } => (0..n_features)
                .map(|f| {
                    w[f * nc..f * nc + nc]
                        .iter()
                        .enumerate()
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(c, &v)| (c as u32, v))
                        .collect()
                })
                .collect(),
            Store::Sparse { rows } => rows,
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

pub fn softmax_in_place(s: &mut [f32]) {
    let m = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut z = 0.0;
    for v in s.iter_mut() {
        *v = (*v - m).exp();
        z += *v;
    }
    if z > 0.0 {
        for v in s.iter_mut() {
            *v /= z;
        }
    }
}

/// Example-level inverted index for k-nearest-neighbour voting. Postings are
/// impact-ordered and truncated, so lookups cost O(features × max_postings).
#[derive(Debug, Default)]
pub struct ExampleIndex {
    pub postings: Postings,
    pub labels: Vec<u32>,
}

impl ExampleIndex {
    pub fn build(
        vectors: &[SparseVec],
        labels: &[u32],
        n_features: usize,
        max_postings: usize,
        keep: &dyn Fn(u32) -> bool,
    ) -> ExampleIndex {
        let mut lists: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_features];
        for (i, v) in vectors.iter().enumerate() {
            let norm: f32 = v
                .ids
                .iter()
                .zip(&v.vals)
                .filter(|(f, _)| keep(**f))
                .map(|(_, x)| x * x)
                .sum::<f32>()
                .sqrt();
            if norm <= 0.0 {
                continue;
            }
            for (k, &f) in v.ids.iter().enumerate() {
                if keep(f) {
                    lists[f as usize].push((i as u32, v.vals[k] / norm));
                }
            }
        }
        ExampleIndex {
            postings: Postings::from_lists(lists, max_postings, 0.0),
            labels: labels.to_vec(),
        }
    }
}

thread_local! {
    pub static KNN_SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { scores: Vec::new(), touched: Vec::new(), mark: Vec::new() }) };
}
