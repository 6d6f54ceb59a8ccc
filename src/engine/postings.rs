//! Serving structures over sparse TF-IDF vectors: impact-ordered, truncated inverted indexes
//! ([`Postings`]) so a query's cost does not grow with the number of intents, the per-thread
//! accumulator that scores against them ([`Scratch`]), one centroid per intent
//! ([`CentroidIndex`], candidate retrieval and the similarity signal) and one vector per
//! example ([`ExampleIndex`], k-nearest-neighbour voting).

use std::cell::RefCell;

use super::parallel::{par_chunks, par_runs, run_scoped, threads_for};
use super::sparse::SparseVec;

/// Writes feature f's (class, weight) entries into a buffer (see [`Postings::from_rows`]).
pub type FillRow<'a> = dyn Fn(usize, &mut Vec<(u32, f32)>) + Sync + 'a;

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
        let (offs, flat) = by_feature(n_features, &[entries]);
        Self::from_slices(
            n_features,
            &|f| &flat[offs[f]..offs[f + 1]],
            max_len,
            min_abs,
        )
    }

    /// As [`Postings::from_entries`] of the runs joined in order, each run freed once its
    /// entries are placed.
    pub fn from_entry_runs(
        n_features: usize,
        runs: Vec<Vec<(u32, u32, f32)>>,
        max_len: usize,
        min_abs: f32,
    ) -> Postings {
        let refs: Vec<&[(u32, u32, f32)]> = runs.iter().map(Vec::as_slice).collect();
        let (offs, flat) = by_feature(n_features, &refs);
        drop(refs);
        drop(runs);
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
        Self::from_rows(
            n,
            &|f, out| out.extend_from_slice(list(f)),
            max_len,
            min_abs,
        )
    }

    /// Build from rows written by `row(f, out)` into an empty buffer, each cut to its
    /// `max_len` strongest entries (at least `min_abs`) and sorted by class.
    pub fn from_rows(n: usize, row: &FillRow<'_>, max_len: usize, min_abs: f32) -> Postings {
        let keep = |&(_, w): &(u32, f32)| w.abs() >= min_abs && w.is_finite();
        let cut = |l: &mut Vec<(u32, f32)>| {
            l.retain(keep);
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
        };
        // Two passes, so the postings are allocated once at their size and filled in place
        // (no per-core copies joined beside them): the first counts each row's entries after
        // the cut, the second cuts and writes them.
        let lens: Vec<u32> = par_chunks(n, &|range| {
            let mut l = Vec::new();
            range
                .map(|f| {
                    l.clear();
                    row(f, &mut l);
                    l.iter().filter(|e| keep(e)).count().min(max_len) as u32
                })
                .collect()
        });
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for &len in &lens {
            offsets.push(offsets[offsets.len() - 1] + len);
        }
        drop(lens);
        let total = offsets[n] as usize;
        let mut classes = vec![0u32; total];
        let mut weights = vec![0.0f32; total];
        let threads = threads_for(n);
        let chunk = n.div_ceil(threads).max(1);
        let (mut cs, mut ws) = (classes.as_mut_slice(), weights.as_mut_slice());
        let mut jobs = Vec::with_capacity(threads);
        for t in 0..threads {
            let range = (t * chunk).min(n)..((t + 1) * chunk).min(n);
            let len = (offsets[range.end] - offsets[range.start]) as usize;
            let (c, rest_c) = std::mem::take(&mut cs).split_at_mut(len);
            let (w, rest_w) = std::mem::take(&mut ws).split_at_mut(len);
            (cs, ws) = (rest_c, rest_w);
            let cut = &cut;
            jobs.push(move || {
                let mut l = Vec::new();
                let mut at = 0;
                for f in range {
                    l.clear();
                    row(f, &mut l);
                    cut(&mut l);
                    for (k, &(class, weight)) in l.iter().enumerate() {
                        c[at + k] = class;
                        w[at + k] = weight;
                    }
                    at += l.len();
                }
            });
        }
        run_scoped(jobs);
        Postings {
            offsets,
            classes,
            weights,
        }
    }

    /// These postings over `n_features` features with every entry of a class `dropped` says
    /// is gone and `entries` ((feature, class, weight), sorted by feature then class) put in,
    /// replacing the entry of the same (feature, class); each row cut again as in
    /// [`Postings::from_lists`]. An entry an earlier cut dropped does not come back.
    pub fn patch(
        &self,
        n_features: usize,
        dropped: &(dyn Fn(u32) -> bool + Sync),
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
        let row = |f: usize, out: &mut Vec<(u32, f32)>| {
            let new = &entries[offs[f]..offs[f + 1]];
            let (cs, ws) = self.get(f as u32);
            for (&c, &w) in cs.iter().zip(ws) {
                if !dropped(c) && new.binary_search_by_key(&c, |e| e.1).is_err() {
                    out.push((c, w));
                }
            }
            out.extend(new.iter().map(|&(_, c, w)| (c, w)));
        };
        Self::from_rows(n_features, &row, max_len, min_abs)
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

    /// Feed every offset, class and weight (its bits) to `h`: equal fingerprints mean equal
    /// postings, to the bit.
    pub fn fingerprint(&self, h: &mut Fingerprint) {
        h.words(self.offsets.iter().copied());
        h.words(self.classes.iter().copied());
        h.words(self.weights.iter().map(|w| w.to_bits()));
    }
}

/// (feature, class, weight) entries, in order, as per-feature (class, weight) rows: row f is
/// `flat[offs[f]..offs[f + 1]]`.
fn by_feature(n_features: usize, runs: &[&[(u32, u32, f32)]]) -> (Vec<usize>, Vec<(u32, f32)>) {
    let mut offs = vec![0usize; n_features + 1];
    for &(f, _, _) in runs.iter().flat_map(|r| r.iter()) {
        offs[f as usize + 1] += 1;
    }
    for f in 0..n_features {
        offs[f + 1] += offs[f];
    }
    let mut flat = vec![(0u32, 0.0f32); offs[n_features]];
    let mut fill = offs.clone();
    for &(f, c, w) in runs.iter().flat_map(|r| r.iter()) {
        flat[fill[f as usize]] = (c, w);
        fill[f as usize] += 1;
    }
    (offs, flat)
}

/// A 64-bit FNV-1a-style hash over 32-bit words (see [`Postings::fingerprint`]).
pub struct Fingerprint(u64);

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }
}

impl Fingerprint {
    pub fn words(&mut self, words: impl Iterator<Item = u32>) {
        for w in words {
            self.0 = (self.0 ^ u64::from(w)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// Accumulator reused per thread: dense scores + touched list.
#[derive(Default)]
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
        let Scratch {
            scores,
            touched,
            mark,
            ..
        } = self;
        // As slices: their pointers and lengths then stay in registers, where through the
        // `Vec`s they were loaded again for every posting (`touched.push` might have moved
        // them, as far as the compiler knew). The profile put about a quarter of this loop's
        // samples on those loads; the 100× knowledge base's retrievals took 3–8% less.
        let (scores, mark) = (scores.as_mut_slice(), mark.as_mut_slice());
        for (&f, &v) in x.ids.iter().zip(&x.vals) {
            let (cs, ws) = p.get(f);
            for (&c, &w) in cs.iter().zip(ws) {
                let ci = c as usize;
                if !mark[ci] {
                    mark[ci] = true;
                    touched.push(c);
                }
                scores[ci] += v * w;
            }
        }
    }

    /// [`Scratch::accumulate`] for [`Scratch::top_of_marked`]: classes are marked, not listed,
    /// so a posting's step has no branch (whether its class was touched before was a
    /// coin-flip branch when a query touches thousands of intents).
    pub fn accumulate_marked(&mut self, p: &Postings, x: &SparseVec) {
        let (scores, mark) = (self.scores.as_mut_slice(), self.mark.as_mut_slice());
        for (&f, &v) in x.ids.iter().zip(&x.vals) {
            let (cs, ws) = p.get(f);
            for (&c, &w) in cs.iter().zip(ws) {
                let ci = c as usize;
                mark[ci] = true;
                scores[ci] += v * w;
            }
        }
    }

    /// [`Scratch::top`] after [`Scratch::accumulate_marked`]: the same `k` classes in the
    /// same order (the ranking is a strict total order, so the scan's order does not matter),
    /// found by one pass over the first `n` classes that also clears them for the next query.
    pub fn top_of_marked(&mut self, k: usize, n: usize) -> Vec<(u32, f32)> {
        let r = &mut self.ranked;
        r.clear();
        let n = n.min(self.scores.len());
        let (scores, mark) = (&mut self.scores[..n], &mut self.mark[..n]);
        let mut floor = f32::NEG_INFINITY;
        for (c, (s, m)) in scores.iter_mut().zip(mark.iter_mut()).enumerate() {
            let (s, m) = (std::mem::take(s), std::mem::take(m));
            if m && k > 0 {
                offer(r, k, &mut floor, (c as u32, s));
            }
        }
        r.clone()
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
        let r = &mut self.ranked;
        r.clear();
        if self.touched.len() > 8 * k {
            let mut floor = f32::NEG_INFINITY;
            for &c in &self.touched {
                offer(r, k, &mut floor, (c, self.scores[c as usize]));
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

/// `a` ranks before `b`: the higher score, ties by the lower class id (a strict total order).
fn better(a: (u32, f32), b: (u32, f32)) -> bool {
    match a.1.total_cmp(&b.1) {
        std::cmp::Ordering::Equal => a.0 < b.0,
        o => o == std::cmp::Ordering::Greater,
    }
}

/// Offer `e` to `ranked`, the best `k` (> 0) so far in rank order. `floor` is the k-th best
/// score once there are `k`: a score below it (by `<`, which implies below by `total_cmp`
/// too) is out without the full comparison, and most scores are.
#[inline]
fn offer(ranked: &mut Vec<(u32, f32)>, k: usize, floor: &mut f32, e: (u32, f32)) {
    if e.1 < *floor {
        return;
    }
    if ranked.len() == k {
        if !better(e, ranked[k - 1]) {
            return;
        }
        ranked.pop();
    }
    let at = ranked.partition_point(|&x| better(x, e));
    ranked.insert(at, e);
    if ranked.len() == k {
        *floor = ranked[k - 1].1;
    }
}

/// Centroid per class as an inverted index.
#[derive(Clone, Debug, Default)]
pub struct CentroidIndex {
    pub postings: Postings,
}

impl CentroidIndex {
    /// The `k` intents (of `n_classes`) whose centroids are nearest to `q`.
    pub fn retrieve(&self, n_classes: usize, k: usize, q: &SparseVec) -> Vec<u32> {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.prepare(n_classes);
            // A query with more postings than there are intents (an intent's passages
            // summed) touches most of them: marking every class and scanning them all then
            // beats listing each one as it is first touched, which is a branch per posting
            // (at 100× the content: passage candidates -22%). Example queries touch far
            // fewer: listed.
            let postings: usize = q.ids.iter().map(|&f| self.postings.get(f).0.len()).sum();
            let top = if postings > n_classes {
                s.accumulate_marked(&self.postings, q);
                s.top_of_marked(k, n_classes)
            } else {
                s.accumulate(&self.postings, q);
                s.top(k)
            };
            top.into_iter().map(|(c, _)| c).collect()
        })
    }

    pub fn build(
        vectors: &[SparseVec],
        labels: &[u32],
        n_features: usize,
        max_postings: usize,
    ) -> CentroidIndex {
        let runs = Self::entry_runs(vectors, labels, n_features);
        CentroidIndex {
            postings: Postings::from_entry_runs(n_features, runs, max_postings, 0.0),
        }
    }

    /// Each class's normalised centroid as (feature, class, weight) entries, in class order
    /// then feature order. Per class, its rows are summed in a dense accumulator over features
    /// (touched ones listed); classes on every core, entries joined in class order.
    pub fn entries(
        vectors: &[SparseVec],
        labels: &[u32],
        n_features: usize,
    ) -> Vec<(u32, u32, f32)> {
        Self::entry_runs(vectors, labels, n_features).concat()
    }

    /// [`CentroidIndex::entries`] as each core's run of classes left in its own list.
    fn entry_runs(
        vectors: &[SparseVec],
        labels: &[u32],
        n_features: usize,
    ) -> Vec<Vec<(u32, u32, f32)>> {
        let mut by_class: Vec<usize> = (0..vectors.len()).collect();
        by_class.sort_by_key(|&i| labels[i]);
        let groups: Vec<&[usize]> = by_class.chunk_by(|&a, &b| labels[a] == labels[b]).collect();
        par_runs(groups.len(), &|range| {
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
        })
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
    use proptest::prelude::*;

    fn scratch() -> Scratch {
        Scratch {
            scores: Vec::new(),
            touched: Vec::new(),
            mark: Vec::new(),
            ranked: Vec::new(),
        }
    }

    /// Sorted, distinct ids with values from a few (so scores tie often, zeros and negative
    /// weights included).
    fn sparse(max_id: u32, len: usize) -> impl Strategy<Value = Vec<(u32, f32)>> {
        proptest::collection::btree_map(
            0..max_id,
            prop::sample::select(vec![-1.0f32, 0.0, 0.5, 1.0, 2.0]),
            0..len,
        )
        .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        /// Candidate retrieval ranks a query's classes by listing them as first touched or
        /// by marking them and scanning every class: the same classes in the same order,
        /// ties included, and the scratch left clean for the next query either way.
        #[test]
        fn marked_and_listed_rankings_agree(
            lists in proptest::collection::vec(sparse(30, 12), 1..16),
            queries in proptest::collection::vec(sparse(16, 8), 1..6),
            k in 0usize..12,
        ) {
            let n_classes = 30;
            let postings = Postings::from_lists(lists.clone(), usize::MAX, 0.0);
            let (mut listed, mut marked) = (scratch(), scratch());
            for q in &queries {
                let q = SparseVec {
                    ids: q.iter().map(|e| e.0).filter(|&f| (f as usize) < lists.len()).collect(),
                    vals: q.iter().filter(|e| (e.0 as usize) < lists.len()).map(|e| e.1).collect(),
                };
                listed.prepare(n_classes);
                listed.accumulate(&postings, &q);
                marked.prepare(n_classes);
                marked.accumulate_marked(&postings, &q);
                prop_assert_eq!(marked.top_of_marked(k, n_classes), listed.top(k));
                prop_assert!(marked.scores.iter().all(|&s| s == 0.0));
                prop_assert!(marked.mark.iter().all(|&m| !m));
            }
        }
    }
}
