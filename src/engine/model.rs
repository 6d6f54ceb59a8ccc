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
use std::sync::atomic::{AtomicU16, Ordering};

use super::index::SparseVec;
use super::svm;

/// `(0..n).map(f).collect()` on every core (see [`par_chunks`]).
pub fn par_map<T: Send>(n: usize, f: &(dyn Fn(usize) -> T + Sync)) -> Vec<T> {
    par_chunks(n, &|range| range.map(f).collect())
}

/// Threads for `n` items of build work: one per core, but at least 2,048 items each (small
/// builds stay on one thread).
fn threads_for(n: usize) -> usize {
    std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(n / 2048)
        .max(1)
}

/// `f` over contiguous chunks of `0..n`, one per core, joined in order: the same result as
/// `f(0..n)` when `f` maps each index on its own. For the pure per-text work of a build
/// (analysis, vectors, retrieval of training candidates) that a large knowledge base
/// multiplies; small builds stay on one thread.
pub fn par_chunks<T: Send>(
    n: usize,
    f: &(dyn Fn(std::ops::Range<usize>) -> Vec<T> + Sync),
) -> Vec<T> {
    let threads = threads_for(n);
    if threads == 1 {
        return f(0..n);
    }
    let chunk = n.div_ceil(threads);
    run_scoped(
        (0..threads)
            .map(|t| {
                let range = t * chunk..((t + 1) * chunk).min(n);
                move || f(range)
            })
            .collect(),
    )
    .into_iter()
    .flatten()
    .collect()
}

/// Each job on its own scoped thread, results in the jobs' order. A panic in a job is a bug;
/// it is passed on rather than turned into a short result.
pub fn run_scoped<T: Send, F: FnOnce() -> T + Send>(jobs: Vec<F>) -> Vec<T> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.into_iter().map(|job| scope.spawn(job)).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

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
    /// Build from per-feature lists; keeps the `max_len` largest |weight|. Features are cut
    /// and sorted on every core, then joined in feature order.
    pub fn from_lists(lists: Vec<Vec<(u32, f32)>>, max_len: usize, min_abs: f32) -> Postings {
        Self::from_slices(lists.len(), &|f| &lists[f], max_len, min_abs)
    }

    /// Build from (feature, class, weight) entries, as [`Postings::from_lists`] would from
    /// per-feature lists of the entries in the same order: one flat array, no list per feature.
    pub fn from_entries(
        n_features: usize,
        entries: &[(u32, u32, f32)],
        max_len: usize,
        min_abs: f32,
    ) -> Postings {
        let mut offs = vec![0usize; n_features + 1];
        for &(f, _, _) in entries {
            offs[f as usize + 1] += 1;
        }
        for f in 0..n_features {
            offs[f + 1] += offs[f];
        }
        let mut flat = vec![(0u32, 0.0f32); entries.len()];
        let mut fill = offs.clone();
        for &(f, c, w) in entries {
            flat[fill[f as usize]] = (c, w);
            fill[f as usize] += 1;
        }
        Self::from_slices(
            n_features,
            &|f| &flat[offs[f]..offs[f + 1]],
            max_len,
            min_abs,
        )
    }

    fn from_slices<'a>(
        n: usize,
        list: &(dyn Fn(usize) -> &'a [(u32, f32)] + Sync),
        max_len: usize,
        min_abs: f32,
    ) -> Postings {
        let cut = |l: &[(u32, f32)]| -> Vec<(u32, f32)> {
            let mut l: Vec<(u32, f32)> = l
                .iter()
                .copied()
                .filter(|&(_, w)| w.abs() >= min_abs && w.is_finite())
                .collect();
            if l.len() > max_len {
                // the strongest `max_len` (ties to the lower class), in any order
                let strongest = |a: &(u32, f32), b: &(u32, f32)| {
                    b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0))
                };
                if max_len == 0 {
                    l.clear();
                } else {
                    l.select_nth_unstable_by(max_len - 1, strongest);
                    l.truncate(max_len);
                }
            }
            // class order inside a posting gives sequential writes when dense
            l.sort_by_key(|&(c, _)| c);
            l
        };
        let parts: Vec<(Vec<u32>, Vec<u32>, Vec<f32>)> = par_chunks(n, &|range| {
            let (mut lens, mut classes, mut weights) = (Vec::new(), Vec::new(), Vec::new());
            for f in range {
                let l = cut(list(f));
                lens.push(l.len() as u32);
                for (c, w) in l {
                    classes.push(c);
                    weights.push(w);
                }
            }
            vec![(lens, classes, weights)]
        });
        let total: usize = parts.iter().map(|p| p.1.len()).sum();
        let mut p = Postings {
            offsets: Vec::with_capacity(n + 1),
            classes: Vec::with_capacity(total),
            weights: Vec::with_capacity(total),
        };
        p.offsets.push(0);
        for (lens, classes, weights) in parts {
            for n in lens {
                let last = p.offsets[p.offsets.len() - 1];
                p.offsets.push(last + n);
            }
            p.classes.extend(classes);
            p.weights.extend(weights);
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
    /// `top`'s working list, kept between calls: with many intents a query touches thousands
    /// of them, and a fresh list per call was a tenth of the 100× knowledge base's build time.
    ranked: Vec<(u32, f32)>,
}

thread_local! {
    pub static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { scores: Vec::new(), touched: Vec::new(), mark: Vec::new(), ranked: Vec::new() }) };
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

    /// scores += bias, for every class (all become touched).
    pub fn add_bias(&mut self, bias: &[f32]) {
        for (c, &b) in bias.iter().enumerate() {
            if !self.mark[c] {
                self.mark[c] = true;
                self.touched.push(c as u32);
            }
            self.scores[c] += b;
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

    /// The `k` best touched classes, sorted best first (ties by class id). Ranking is a strict
    /// total order, so the answer is unique: a short insertion-sorted list when `k` is small
    /// next to the touched list (each score is usually one comparison against the k-th
    /// best; with thousands of touched intents a selection over all of them was most of the
    /// 100× knowledge base's training-candidate time), else selection then sort.
    pub fn top(&mut self, k: usize) -> Vec<(u32, f32)> {
        if k == 0 {
            return Vec::new();
        }
        let better = |a: (u32, f32), b: (u32, f32)| match a.1.total_cmp(&b.1) {
            std::cmp::Ordering::Equal => a.0 < b.0,
            o => o == std::cmp::Ordering::Greater,
        };
        let r = &mut self.ranked;
        r.clear();
        if self.touched.len() > 8 * k {
            for &c in &self.touched {
                let e = (c, self.scores[c as usize]);
                if r.len() == k {
                    if !better(e, r[k - 1]) {
                        continue;
                    }
                    r.pop();
                }
                let at = r.partition_point(|&x| better(x, e));
                r.insert(at, e);
            }
            return r.clone();
        }
        r.extend(self.touched.iter().map(|&c| (c, self.scores[c as usize])));
        let cmp = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if r.len() > k {
            r.select_nth_unstable_by(k - 1, cmp);
            r.truncate(k);
        }
        r.sort_by(cmp);
        r.clone()
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
        n_features: usize,
        max_postings: usize,
    ) -> CentroidIndex {
        // Per class, sum its rows in a dense accumulator over features (touched ones listed),
        // then emit that class's normalised centroid as (feature, class, weight) entries;
        // classes on every core, entries joined in class order.
        let mut by_class: Vec<usize> = (0..vectors.len()).collect();
        by_class.sort_by_key(|&i| labels[i]);
        let groups: Vec<&[usize]> = by_class.chunk_by(|&a, &b| labels[a] == labels[b]).collect();
        let entries: Vec<(u32, u32, f32)> = par_chunks(groups.len(), &|range| {
            let mut acc = vec![0.0f32; n_features];
            let mut mark = vec![false; n_features];
            let mut touched: Vec<u32> = Vec::new();
            let mut out = Vec::new();
            for rows in &groups[range] {
                let c = labels[rows[0]];
                for &i in rows.iter() {
                    let v = &vectors[i];
                    for (&f, &x) in v.ids.iter().zip(&v.vals) {
                        if !mark[f as usize] {
                            mark[f as usize] = true;
                            touched.push(f);
                        }
                        acc[f as usize] += x;
                    }
                }
                touched.sort_unstable();
                let norm: f32 = touched
                    .iter()
                    .map(|&f| acc[f as usize] * acc[f as usize])
                    .sum::<f32>()
                    .sqrt();
                for &f in &touched {
                    let w = std::mem::take(&mut acc[f as usize]);
                    mark[f as usize] = false;
                    if norm > 0.0 {
                        out.push((f, c, w / norm));
                    }
                }
                touched.clear();
            }
            out
        });
        CentroidIndex {
            postings: Postings::from_entries(n_features, &entries, max_postings, 0.0),
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

/// Sparse weights over a layout fixed before training. Sampled training only ever touches
/// (feature of example i, candidate class of i) pairs, so each feature's row of classes is
/// laid out once, sorted, before the first step; weights then live in one flat array and
/// never move. Rows that span many classes (common words) also get a direct class → slot
/// map, so a lookup there is one read instead of a binary search over thousands of classes.
/// Growing rows as weights were first touched (binary search per read, insertion shifting a
/// long row) took 46% of the 100× knowledge base's load time.
struct FixedLayout {
    /// Row of feature f: `cls[offs[f]..offs[f + 1]]` (sorted classes), same range of weights.
    offs: Vec<usize>,
    cls: Vec<u32>,
    /// `direct[f]`: the row's index in `slots` when the row has a direct map, else `NONE`.
    direct: Vec<u32>,
    /// Direct maps, `n_classes` slots each (`NONE` for a class not in the row).
    slots: Vec<u32>,
    n_classes: usize,
    /// Every example's slots, worked out once (when within [`LOCAL_BUDGET`]): the slot of
    /// example i's k-th feature f and j-th candidate is
    /// `offs[f] + local[start[i] + k * n_cands + j]`, 2 bytes each. Epochs then look nothing up.
    local: Option<(Vec<usize>, Vec<u16>)>,
}

/// Most cached (example feature × candidate) slots: 2 bytes each, so at most 256 MB. The 100×
/// knowledge base needs 70 M of them (140 MB, for the seconds of its build).
const LOCAL_BUDGET: usize = 128 << 20;

/// One thread's share of a [`FixedLayout`]: rows of a contiguous range of features.
#[derive(Default)]
struct LayoutPart {
    cls: Vec<u32>,
    /// End of each row in `cls`.
    ends: Vec<usize>,
    /// (feature, index of its direct map in `slots`).
    direct: Vec<(usize, usize)>,
    /// Direct maps, `n_classes` slots each, holding positions in this part's `cls`.
    slots: Vec<u32>,
}

impl FixedLayout {
    const NONE: u32 = u32::MAX;

    fn build(
        vectors: &[SparseVec],
        cand_lists: &[Vec<u32>],
        n_features: usize,
        n_classes: usize,
    ) -> FixedLayout {
        // Cache the slots when they fit (and a row's index fits in 2 bytes).
        let mut start = Vec::with_capacity(vectors.len() + 1);
        start.push(0usize);
        for (v, c) in vectors.iter().zip(cand_lists) {
            start.push(start[start.len() - 1] + v.ids.len() * c.len());
        }
        let mut local = (start[vectors.len()] <= LOCAL_BUDGET && n_classes <= 1 << 16)
            .then(|| vec![0u16; start[vectors.len()]]);
        // feature → (example, index of the feature in the example)
        let mut inv_off = vec![0usize; n_features + 1];
        for v in vectors {
            for &f in &v.ids {
                inv_off[f as usize + 1] += 1;
            }
        }
        for f in 0..n_features {
            inv_off[f + 1] += inv_off[f];
        }
        let mut inv = vec![(0u32, 0u32); inv_off[n_features]];
        let mut fill = inv_off.clone();
        for (i, v) in vectors.iter().enumerate() {
            for (k, &f) in v.ids.iter().enumerate() {
                inv[fill[f as usize]] = (i as u32, k as u32);
                fill[f as usize] += 1;
            }
        }
        drop(fill);
        // Rows are laid out on every core, each thread a contiguous range of features with
        // about the same number of (example, feature) users, then joined in feature order:
        // the same layout as one pass. Each cached slot belongs to exactly one feature, so the
        // threads write disjoint entries of `local`.
        let local_atomic: Option<Vec<AtomicU16>> = local
            .take()
            .map(|l| l.into_iter().map(AtomicU16::new).collect());
        let threads = threads_for(n_features);
        let total = inv_off[n_features];
        let mut bounds = vec![0usize];
        for t in 1..threads {
            let want = total / threads * t;
            bounds.push(
                inv_off
                    .partition_point(|&o| o < want)
                    .clamp(bounds[t - 1], n_features),
            );
        }
        bounds.push(n_features);
        let lay_out = |features: std::ops::Range<usize>| {
            let mut part = LayoutPart::default();
            // seen[c] == f + 1: class c is already in feature f's row
            let mut seen = vec![0u32; n_classes];
            // class → its index in the current row (cached slots only)
            let mut map = vec![0u16; if local_atomic.is_some() { n_classes } else { 0 }];
            for f in features {
                let mark = f as u32 + 1;
                let row_start = part.cls.len();
                let users = &inv[inv_off[f]..inv_off[f + 1]];
                for &(i, _) in users {
                    for &c in &cand_lists[i as usize] {
                        if seen[c as usize] != mark {
                            seen[c as usize] = mark;
                            part.cls.push(c);
                        }
                    }
                }
                part.cls[row_start..].sort_unstable();
                let len = part.cls.len() - row_start;
                if let Some(local) = &local_atomic {
                    for (n, &c) in part.cls[row_start..].iter().enumerate() {
                        map[c as usize] = n as u16;
                    }
                    for &(i, k) in users {
                        let cands = &cand_lists[i as usize];
                        let at = start[i as usize] + k as usize * cands.len();
                        for (l, &c) in local[at..at + cands.len()].iter().zip(cands) {
                            l.store(map[c as usize], Ordering::Relaxed);
                        }
                    }
                }
                // A direct map costs 4 bytes per class; a row of over n/8 classes already
                // costs 8 bytes per entry, so the map at most doubles that row's memory.
                if len > 64 && len > n_classes / 8 {
                    part.direct.push((f, part.slots.len() / n_classes));
                    let base = part.slots.len();
                    part.slots.resize(base + n_classes, Self::NONE);
                    for (n, &c) in part.cls[row_start..].iter().enumerate() {
                        // row-relative within the part until the parts are joined
                        part.slots[base + c as usize] = (row_start + n) as u32;
                    }
                }
                part.ends.push(part.cls.len());
            }
            part
        };
        let parts: Vec<LayoutPart> = if threads == 1 {
            vec![lay_out(0..n_features)]
        } else {
            let lay_out = &lay_out;
            run_scoped(
                bounds
                    .windows(2)
                    .map(|b| {
                        let range = b[0]..b[1];
                        move || lay_out(range)
                    })
                    .collect(),
            )
        };
        let mut offs = Vec::with_capacity(n_features + 1);
        offs.push(0usize);
        let mut cls: Vec<u32> = Vec::new();
        let mut direct = vec![Self::NONE; n_features];
        let mut slots: Vec<u32> = Vec::new();
        for part in parts {
            let base = cls.len();
            let rows = slots.len() / n_classes.max(1);
            // (a slot in a direct map is 4 bytes: past 2^32 slots, rows are searched instead)
            let fits = base + part.cls.len() <= u32::MAX as usize;
            offs.extend(part.ends.iter().map(|e| base + e));
            if fits {
                for &(f, d) in &part.direct {
                    direct[f] = (rows + d) as u32;
                }
                slots.extend(
                    part.slots
                        .iter()
                        .map(|&s| if s == Self::NONE { s } else { s + base as u32 }),
                );
            }
            cls.extend_from_slice(&part.cls);
        }
        FixedLayout {
            offs,
            cls,
            direct,
            slots,
            n_classes,
            local: local_atomic
                .map(|l| (start, l.into_iter().map(AtomicU16::into_inner).collect())),
        }
    }

    /// The slots of example `i`'s step into `out` (feature k, candidate j at k · n_cands + j):
    /// `x` is the example's vector or a dropout of it, `ks` the index of each of `x`'s
    /// features in the example.
    fn step_slots(&self, i: usize, x: &SparseVec, ks: &[u32], cands: &[u32], out: &mut Vec<usize>) {
        out.clear();
        let nc = cands.len();
        match &self.local {
            Some((start, local)) => {
                for (&f, &k) in x.ids.iter().zip(ks) {
                    let row = self.offs[f as usize];
                    let at = start[i] + k as usize * nc;
                    out.extend(local[at..at + nc].iter().map(|&l| row + l as usize));
                }
            }
            None => {
                for &f in &x.ids {
                    out.extend(cands.iter().map(|&c| self.slot(f, c)));
                }
            }
        }
    }

    /// Slot of (feature, class); the pair must be in the layout (a candidate of an example
    /// that has the feature).
    fn slot(&self, f: u32, c: u32) -> usize {
        let f = f as usize;
        match self.direct[f] {
            Self::NONE => {
                let row = &self.cls[self.offs[f]..self.offs[f + 1]];
                self.offs[f] + row.partition_point(|&x| x < c)
            }
            d => self.slots[d as usize * self.n_classes + c as usize] as usize,
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
            tracing::debug!(target: "frontdoor::load", weights = w.len(), cached_slots = layout.local.as_ref().map_or(0, |l| l.1.len()), "sampled training layout");
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
                };
                if params.shards > 1 {
                    let seed = params.seed.wrapping_add(0x2545_F491 * (epoch as u64 + 1));
                    run.sharded_epoch(w, &order, t, params.shards, seed);
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
            Store::Fixed { w, layout } => (0..n_features)
                .map(|f| {
                    let row = layout.offs[f]..layout.offs[f + 1];
                    layout.cls[row.clone()]
                        .iter()
                        .zip(&w[row])
                        .filter(|(_, v)| **v != 0.0)
                        .map(|(&c, &v)| (c, v))
                        .collect()
                })
                .collect(),
            #[cfg(test)]
            Store::Sparse { rows } => rows,
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

/// Feature dropout (a cheap regulariser for sparse text), with its buffers.
#[derive(Default)]
struct Dropout {
    dropped: SparseVec,
    /// Index of each kept feature in the example.
    kept: Vec<u32>,
    /// 0, 1, 2, ...: every feature kept.
    iota: Vec<u32>,
}

impl Dropout {
    /// `v` with each feature dropped with probability `p` (the rest scaled up by 1 / (1 - p)),
    /// and the index in `v` of each feature left.
    fn apply<'a>(
        &'a mut self,
        v: &'a SparseVec,
        p: f32,
        rng: &mut Rng,
    ) -> (&'a SparseVec, &'a [u32]) {
        if p <= 0.0 {
            while self.iota.len() < v.ids.len() {
                self.iota.push(self.iota.len() as u32);
            }
            return (v, &self.iota[..v.ids.len()]);
        }
        self.dropped.ids.clear();
        self.dropped.vals.clear();
        self.kept.clear();
        let keep = 1.0 - p;
        let cut = (p as f64 * u64::MAX as f64) as u64;
        for (k, &f) in v.ids.iter().enumerate() {
            if rng.next_u64() >= cut {
                self.dropped.ids.push(f);
                self.dropped.vals.push(v.vals[k] / keep);
                self.kept.push(k as u32);
            }
        }
        (&self.dropped, &self.kept)
    }
}

/// What sampled training over a [`FixedLayout`] reads: the examples, their labels and
/// candidates, and the learning-rate schedule.
struct FixedRun<'a> {
    layout: &'a FixedLayout,
    vectors: &'a [SparseVec],
    labels: &'a [u32],
    cand_lists: &'a [Vec<u32>],
    params: &'a TrainParams,
    /// Steps in the whole run (the learning rate falls linearly over them).
    total: f32,
}

impl FixedRun<'_> {
    /// SGD steps over `order` (examples), the first being step `t0` of the run. `rng` draws
    /// the dropout masks.
    fn steps(&self, w: &mut [f32], order: &[usize], t0: usize, rng: &mut Rng) {
        let params = self.params;
        let mut step: Vec<usize> = Vec::new();
        let mut scores: Vec<f32> = Vec::new();
        let mut dropout = Dropout::default();
        for (n, &i) in order.iter().enumerate() {
            let v = &self.vectors[i];
            let (x, ks) = dropout.apply(v, params.dropout, rng);
            let cands = &self.cand_lists[i];
            let nc = cands.len();
            let t = t0 + n + 1;
            let lr = params.learning_rate * (1.0 - params.lr_decay * (t - 1) as f32 / self.total);
            self.layout.step_slots(i, x, ks, cands, &mut step);
            scores.clear();
            scores.resize(nc, 0.0);
            for (k, &v) in x.vals.iter().enumerate() {
                for (s, &p) in scores.iter_mut().zip(&step[k * nc..k * nc + nc]) {
                    *s += v * w[p];
                }
            }
            loss_gradient(&mut scores, cands, self.labels[i], params);
            let decay = 1.0 - lr * params.l2;
            for (j, &g) in scores.iter().enumerate() {
                if g.abs() < 1e-4 {
                    continue;
                }
                for (k, &v) in x.vals.iter().enumerate() {
                    let p = step[k * nc + j];
                    // the same arithmetic, in the same order, as growing rows
                    w[p] = w[p] * decay + -lr * g * v;
                }
            }
        }
    }

    /// One epoch over `order` split into `shards` contiguous parts, each trained from the
    /// same weights on its own copy and thread, their changes then summed into `w`
    /// (iterative parameter mixing, summing rather than averaging, so each example moves the
    /// weights as much as in a single pass). Deterministic: the split depends on `shards`,
    /// not on the number of cores, and each part draws its dropout from its own seed.
    fn sharded_epoch(&self, w: &mut [f32], order: &[usize], t0: usize, shards: usize, seed: u64) {
        let chunk = order.len().div_ceil(shards.max(1)).max(1);
        let base: &[f32] = w;
        let parts: Vec<Vec<f32>> = run_scoped(
            order
                .chunks(chunk)
                .enumerate()
                .map(|(n, part)| {
                    move || {
                        let mut mine = base.to_vec();
                        let mut rng = Rng::new(seed.wrapping_add(0x9E37_79B9 * (n as u64 + 1)));
                        self.steps(&mut mine, part, t0 + n * chunk, &mut rng);
                        mine
                    }
                })
                .collect(),
        );
        // w + Σ (part − w), in one pass
        let others = (parts.len() as f32) - 1.0;
        for (p, b) in w.iter_mut().enumerate() {
            let sum: f32 = parts.iter().map(|part| part[p]).sum();
            *b = sum - others * *b;
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
    pub static KNN_SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { scores: Vec::new(), touched: Vec::new(), mark: Vec::new(), ranked: Vec::new() }) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up sampled-training problem: 60 intents, 300 features, 500 examples.
    fn problem() -> (Vec<SparseVec>, Vec<u32>, Vec<Vec<u32>>) {
        let mut rng = Rng::new(7);
        let (mut vectors, mut labels, mut cands) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..500 {
            let label = (i % 60) as u32;
            let mut ids: Vec<u32> = (0..6).map(|_| rng.below(300) as u32).collect();
            ids.push(300 - 1 - label); // a feature that says which intent it is
            ids.sort_unstable();
            ids.dedup();
            let vals = ids
                .iter()
                .map(|_| 0.2 + rng.below(80) as f32 / 100.0)
                .collect();
            vectors.push(SparseVec { ids, vals });
            labels.push(label);
            cands.push((0..10).map(|_| rng.below(60) as u32).collect());
        }
        (vectors, labels, cands)
    }

    fn params(dropout: f32) -> TrainParams {
        TrainParams {
            loss: Loss::Softmax,
            label_smoothing: 0.05,
            lr_decay: 0.5,
            dropout,
            min_steps: 0,
            ensemble: 1,
            hinge_blend: 0.0,
            blend_softmax_weight: 1.0,
            average: false,
            epochs: 3,
            learning_rate: 0.5,
            l2: 1e-4,
            seed: 42,
            dense_max_classes: 10,
            candidates: 8,
            shards: 1,
            max_postings: 1000,
            min_weight: 0.0,
        }
    }

    #[test]
    fn top_by_insertion_is_top_by_selection() {
        // Both ways of ranking, on many touched classes with ties, give the same list.
        let mut rng = Rng::new(7);
        for round in 0..200 {
            let n = 1 + rng.below(3000);
            let mut s = Scratch {
                scores: Vec::new(),
                touched: Vec::new(),
                mark: Vec::new(),
                ranked: Vec::new(),
            };
            s.prepare(n);
            for c in 0..n as u32 {
                if rng.below(3) > 0 {
                    s.touched.push(c);
                    // few distinct values: plenty of ties
                    s.scores[c as usize] = (rng.below(40) as f32 - 20.0) / 8.0;
                }
            }
            rng.shuffle(&mut s.touched);
            let k = 1 + round % 40;
            let mut all: Vec<(u32, f32)> = s
                .touched
                .iter()
                .map(|&c| (c, s.scores[c as usize]))
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
            assert_eq!(s.top(k), all, "n {n}, k {k}");
        }
    }

    #[test]
    fn fixed_layout_slots_are_the_pairs_they_stand_for() {
        // 400 intents; feature 0 is in every example, so its row spans most intents and gets
        // a direct map; the other rows are short and searched.
        let mut rng = Rng::new(3);
        let mut vectors = Vec::new();
        let mut cands = Vec::new();
        for _ in 0..3000 {
            let mut ids = vec![0u32];
            ids.extend((0..5).map(|_| 1 + rng.below(500) as u32));
            ids.sort_unstable();
            ids.dedup();
            let vals = vec![1.0; ids.len()];
            vectors.push(SparseVec { ids, vals });
            let mut c: Vec<u32> = (0..12).map(|_| rng.below(400) as u32).collect();
            c.sort_unstable();
            c.dedup();
            cands.push(c);
        }
        let layout = FixedLayout::build(&vectors, &cands, 501, 400);
        assert_ne!(
            layout.direct[0],
            FixedLayout::NONE,
            "a long row has a direct map"
        );
        assert!(layout.local.is_some(), "small enough to cache every slot");
        let mut cached = Vec::new();
        for (i, (x, cs)) in vectors.iter().zip(&cands).enumerate() {
            let ks: Vec<u32> = (0..x.ids.len() as u32).collect();
            layout.step_slots(i, x, &ks, cs, &mut cached);
            let mut k = 0;
            for &f in &x.ids {
                let row = layout.offs[f as usize]..layout.offs[f as usize + 1];
                for &c in cs {
                    let slot = layout.slot(f, c);
                    assert!(
                        row.contains(&slot),
                        "feature {f}'s slot for {c} is in its row"
                    );
                    assert_eq!(layout.cls[slot], c);
                    assert_eq!(cached[k], slot, "the cached slot is the looked-up one");
                    k += 1;
                }
            }
        }
    }

    #[test]
    fn fixed_layout_trains_exactly_like_growing_rows() {
        let (vectors, labels, cands) = problem();
        let candidates_of = |i: usize| cands[i].clone();
        for dropout in [0.0, 0.2] {
            let train = |layout| {
                LinearModel::train_lists_in(
                    layout,
                    &vectors,
                    &labels,
                    60,
                    300,
                    &params(dropout),
                    &candidates_of,
                )
            };
            let (fixed, grown) = (train(Layout::Fixed), train(Layout::Grown));
            assert!(
                fixed.iter().any(|row| !row.is_empty()),
                "it learned something"
            );
            assert_eq!(fixed, grown, "dropout {dropout}");
        }
    }

    #[test]
    fn sharded_epochs_sum_the_changes_of_their_parts_and_still_learn() {
        let (vectors, labels, cands) = problem();
        let mut cand_lists: Vec<Vec<u32>> = cands.clone();
        for (c, &y) in cand_lists.iter_mut().zip(&labels) {
            c.truncate(8);
            if !c.contains(&y) {
                c.push(y);
            }
            c.sort_unstable();
            c.dedup();
        }
        let layout = FixedLayout::build(&vectors, &cand_lists, 300, 60);
        let p = params(0.0);
        let run = FixedRun {
            layout: &layout,
            vectors: &vectors,
            labels: &labels,
            cand_lists: &cand_lists,
            params: &p,
            total: 1500.0,
        };
        let order: Vec<usize> = (0..vectors.len()).rev().collect();
        let start: Vec<f32> = (0..layout.cls.len())
            .map(|i| (i % 7) as f32 * 0.01)
            .collect();
        // by hand: each half from the same start (the second one's steps numbered on), summed
        let (a, b) = order.split_at(250);
        let mut wa = start.clone();
        run.steps(&mut wa, a, 0, &mut Rng::new(1));
        let mut wb = start.clone();
        run.steps(&mut wb, b, 250, &mut Rng::new(1));
        let mut sharded = start.clone();
        run.sharded_epoch(&mut sharded, &order, 0, 2, 9);
        for p in 0..start.len() {
            let want = start[p] + (wa[p] - start[p]) + (wb[p] - start[p]);
            assert!((sharded[p] - want).abs() < 1e-6, "slot {p}");
        }
        // and three sharded epochs from zero fit the training set
        let mut w = vec![0.0; layout.cls.len()];
        for e in 0..3 {
            run.sharded_epoch(&mut w, &order, e * 500, 2, e as u64);
        }
        let right = (0..vectors.len())
            .filter(|&i| {
                let score = |c: u32| {
                    let x = &vectors[i];
                    x.ids
                        .iter()
                        .zip(&x.vals)
                        .map(|(&f, &v)| v * w[layout.slot(f, c)])
                        .sum::<f32>()
                };
                let best = cand_lists[i]
                    .iter()
                    .copied()
                    .max_by(|&a, &b| score(a).total_cmp(&score(b)).then(b.cmp(&a)));
                best == Some(labels[i])
            })
            .count();
        // Measured: all 500 (training is deterministic: fixed seeds and order, parts summed in
        // a fixed order whatever the cores). Separable data three epochs can fit entirely, so
        // anything less is a change in what an epoch learns.
        assert_eq!(right, 500, "{right} of 500 right among their candidates");
    }
}
