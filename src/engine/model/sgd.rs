//! One SGD pass over the fixed layout: feature dropout, sequential steps and the sharded
//! epoch whose parts train side by side and are summed (deterministic whatever the cores).

use super::layout::FixedLayout;
use super::*;
use crate::engine::parallel::threads_for;
use crate::engine::prefetch::{prefetch, prefetch_slice};

/// Feature dropout (a cheap regulariser for sparse text), with its buffers.
#[derive(Default)]
pub(super) struct Dropout {
    pub(super) dropped: SparseVec,
    /// Index of each kept feature in the example.
    pub(super) kept: Vec<u32>,
    /// 0, 1, 2, ...: every feature kept.
    pub(super) iota: Vec<u32>,
}

impl Dropout {
    /// `v` with each feature dropped with probability `p` (the rest scaled up by 1 / (1 - p)),
    /// and the index in `v` of each feature left.
    pub(super) fn apply<'a>(
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

    /// The vector the last [`Dropout::apply`] (to `v`, with `p`) returned.
    pub(super) fn current<'a>(&'a self, v: &'a SparseVec, p: f32) -> &'a SparseVec {
        if p <= 0.0 { v } else { &self.dropped }
    }
}

/// Steps between an example's first prefetch and its training step (see
/// [`FixedRun::steps`]): four prefetch stages a step apart, then `prepare` one step ahead
/// (the fourth stage's map entries are read by `prepare` a step later).
const PIPELINE: usize = 5;

/// One example's step worked out ahead: its dropout and its slots.
#[derive(Default)]
struct Ahead {
    dropout: Dropout,
    slots: Vec<usize>,
}

/// What sampled training over a [`FixedLayout`] reads: the examples, their labels and
/// candidates, and the learning-rate schedule.
pub(super) struct FixedRun<'a> {
    pub(super) layout: &'a FixedLayout,
    pub(super) vectors: &'a [SparseVec],
    pub(super) labels: &'a [u32],
    pub(super) cand_lists: &'a [Vec<u32>],
    pub(super) params: &'a TrainParams,
    /// Steps in the whole run (the learning rate falls linearly over them).
    pub(super) total: f32,
    /// When given, example i's step moves only the weights of the classes `learns(i, c)`
    /// allows (a partial retraining: see [`LinearModel::retrain`]); else every candidate's.
    pub(super) learns: Option<&'a (dyn Fn(usize, u32) -> bool + Sync)>,
}

impl FixedRun<'_> {
    /// SGD steps over `order` (examples), the first being step `t0` of the run. `rng` draws
    /// the dropout masks.
    ///
    /// The steps are software-pipelined: while example n trains, example n + 1's slots are
    /// worked out and its weights prefetched, and the memory of the examples after it is
    /// asked for in stages, each stage one step before the one that needs its reads (see
    /// [`crate::engine::prefetch`]). Only reads move earlier: the weights are stepped in the
    /// same order with the same arithmetic, and the dropout masks are drawn example by
    /// example as before, so the result is bit-identical to stepping one example at a time.
    pub(super) fn steps(&self, w: &mut [f32], order: &[usize], t0: usize, rng: &mut Rng) {
        let params = self.params;
        let mut scores: Vec<f32> = Vec::new();
        // [this step's, the next step's] dropout and slots
        let mut ahead: [Ahead; 2] = Default::default();
        for n in 0..PIPELINE {
            self.prefetch(order, n);
        }
        if let Some(&first) = order.first() {
            self.prepare(&mut ahead[0], first, w, rng);
        }
        for (n, &i) in order.iter().enumerate() {
            let [a, b] = &mut ahead;
            let (now, next) = if n % 2 == 0 { (a, b) } else { (b, a) };
            self.prefetch(order, n + PIPELINE);
            if let Some(&j) = order.get(n + 1) {
                self.prepare(next, j, w, rng);
            }
            let v = &self.vectors[i];
            let x = now.dropout.current(v, params.dropout);
            let step = &now.slots;
            let cands = &self.cand_lists[i];
            let nc = cands.len();
            let t = t0 + n + 1;
            let lr = params.learning_rate * (1.0 - params.lr_decay * (t - 1) as f32 / self.total);
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
                if g.abs() < 1e-4 || self.learns.is_some_and(|learns| !learns(i, cands[j])) {
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

    /// Example `i`'s dropout (drawn from `rng`, in example order as ever) and slots into
    /// `into`, and its weights prefetched: the next step's reads, issued during this one.
    fn prepare(&self, into: &mut Ahead, i: usize, w: &[f32], rng: &mut Rng) {
        let v = &self.vectors[i];
        let (x, ks) = into.dropout.apply(v, self.params.dropout, rng);
        self.layout
            .step_slots(i, v, x, ks, &self.cand_lists[i], &mut into.slots);
        for &p in &into.slots {
            prefetch(&w[p]);
        }
    }

    /// The prefetch stages due when position `n - PIPELINE` of `order` trains: stage 1 of
    /// position `n`, stage 2 of `n - 1`, and so on (see [`FixedRun::steps`]). Each stage
    /// reads only what the stage before it brought in, a step earlier.
    fn prefetch(&self, order: &[usize], n: usize) {
        // stage 1, PIPELINE steps ahead: the example's vector and candidate list headers
        if let Some(&e) = order.get(n) {
            prefetch(&self.vectors[e]);
            prefetch(&self.cand_lists[e]);
            self.layout.prefetch_start(e);
        }
        // stage 2: their contents, and its cached slots
        if let Some(&e) = n.checked_sub(1).and_then(|m| order.get(m)) {
            let v = &self.vectors[e];
            prefetch_slice(&v.ids);
            prefetch_slice(&v.vals);
            prefetch_slice(&self.cand_lists[e]);
            self.layout.prefetch_cached(e);
        }
        // stage 3: its features' rows
        if let Some(&e) = n.checked_sub(2).and_then(|m| order.get(m)) {
            self.layout.prefetch_rows(&self.vectors[e]);
        }
        // stage 4: the direct-map entries of its candidates; `prepare` reads them next step
        if let Some(&e) = n.checked_sub(3).and_then(|m| order.get(m)) {
            self.layout
                .prefetch_maps(&self.vectors[e], &self.cand_lists[e]);
        }
    }

    /// One epoch over `order` split into `shards` contiguous parts, each trained from the
    /// same weights on its own copy and thread, their changes then summed into `w`
    /// (iterative parameter mixing, summing rather than averaging, so each example moves the
    /// weights as much as in a single pass). Deterministic: the split depends on `shards`,
    /// not on the number of cores, and each part draws its dropout from its own seed.
    pub(super) fn sharded_epoch(
        &self,
        w: &mut [f32],
        order: &[usize],
        t0: usize,
        shards: usize,
        seed: u64,
        copies: &mut Vec<Vec<f32>>,
    ) {
        let chunk = order.len().div_ceil(shards.max(1)).max(1);
        let n_parts = order.len().div_ceil(chunk);
        // The parts' copies are kept from epoch to epoch: fresh ones each epoch cost the
        // kernel a zeroed page for every 4 KB of them.
        copies.resize_with(n_parts, Vec::new);
        let base: &[f32] = w;
        run_scoped(
            order
                .chunks(chunk)
                .zip(copies.iter_mut())
                .enumerate()
                .map(|(n, (part, mine))| {
                    move || {
                        mine.clear();
                        mine.extend_from_slice(base);
                        let mut rng = Rng::new(seed.wrapping_add(0x9E37_79B9 * (n as u64 + 1)));
                        self.steps(mine, part, t0 + n * chunk, &mut rng);
                    }
                })
                .collect(),
        );
        let parts = &copies[..n_parts];
        // w + Σ (part − w), in one pass, on every core: one thread summing the 100×
        // knowledge base's weights held the epochs at 1.7 cores of 2
        let others = (parts.len() as f32) - 1.0;
        let sum_into = |from: usize, ws: &mut [f32]| {
            for (p, b) in ws.iter_mut().enumerate() {
                let sum: f32 = parts.iter().map(|part| part[from + p]).sum();
                *b = sum - others * *b;
            }
        };
        // (at least 2,048 × 64 weights a thread: a small model's sum is not worth a thread)
        let threads = threads_for(w.len() / 64);
        let chunk = w.len().div_ceil(threads).max(1);
        let sum_into = &sum_into;
        run_scoped(
            w.chunks_mut(chunk)
                .enumerate()
                .map(|(n, ws)| move || sum_into(n * chunk, ws))
                .collect(),
        );
    }
}
