//! The flat weight layout of sampled training: one slot per (feature, candidate intent)
//! pair that training can touch, laid out before training so SGD steps write into a fixed
//! array instead of growing rows.

use std::sync::atomic::AtomicU8;

use super::*;
use crate::engine::parallel::threads_for;
use crate::engine::prefetch::{prefetch, prefetch_slice};

/// Sparse weights over a layout fixed before training. Sampled training only ever touches
/// (feature of example i, candidate class of i) pairs, so each feature's row of classes is
/// laid out once, sorted, before the first step; weights then live in one flat array and
/// never move. Rows that span many classes (common words) also get a direct class → slot
/// map, so a lookup there is one read instead of a binary search over thousands of classes.
/// Growing rows as weights were first touched (binary search per read, insertion shifting a
/// long row) took 46% of the 100× knowledge base's load time.
pub(super) struct FixedLayout {
    /// Row of feature f: `cls[offs[f]..offs[f + 1]]` (sorted classes), same range of weights.
    pub(super) offs: Vec<usize>,
    pub(super) cls: Classes,
    /// `direct[f]`: the row's index in `slots` when the row has a direct map, else `NONE`.
    pub(super) direct: Vec<u32>,
    /// Direct maps, `n_classes` entries each: the class's index in the row (`ABSENT` for a
    /// class not in it), 2 bytes each. Only with fewer than 65,535 classes.
    pub(super) slots: Vec<u16>,
    pub(super) n_classes: usize,
    /// Every example's slots in rows without a direct map (a map is one read already),
    /// worked out once when within [`LOCAL_BUDGET`]; see [`SlotCache`]. Epochs then look
    /// nothing up.
    pub(super) local: Option<SlotCache>,
}

/// The slots of every example's features without a direct map: the slot of example i's
/// feature f (its k-th such feature of f's kind) and j-th candidate is
/// `offs[f] + narrow[start[i].0 + k * n_cands + j]` when f's row has at most [`NARROW`]
/// classes (1 byte each), else `offs[f] + wide[start[i].1 + k * n_cands + j]` (2 bytes).
pub(super) struct SlotCache {
    start: Vec<(u32, u32)>,
    narrow: Vec<u8>,
    wide: Vec<u16>,
}

impl SlotCache {
    pub(super) fn len(&self) -> usize {
        self.narrow.len() + self.wide.len()
    }
}

/// The classes of a layout's slots: 2 bytes each when every class id fits (at most 65,536
/// intents), else 4.
pub(super) enum Classes {
    Short(Vec<u16>),
    Long(Vec<u32>),
}

impl Classes {
    pub(super) fn len(&self) -> usize {
        match self {
            Classes::Short(c) => c.len(),
            Classes::Long(c) => c.len(),
        }
    }

    /// The class of slot `i`.
    #[cfg(test)]
    pub(super) fn get(&self, i: usize) -> u32 {
        match self {
            Classes::Short(c) => u32::from(c[i]),
            Classes::Long(c) => c[i],
        }
    }

    /// The classes of slots `range`, in order.
    pub(super) fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = u32> + '_ {
        let (short, long): (&[u16], &[u32]) = match self {
            Classes::Short(c) => (&c[range], &[]),
            Classes::Long(c) => (&[], &c[range]),
        };
        short
            .iter()
            .map(|&c| u32::from(c))
            .chain(long.iter().copied())
    }

    /// Index in `range` (a sorted row) of the first class not below `class`, from its start.
    fn partition_point(&self, range: std::ops::Range<usize>, class: u32) -> usize {
        match self {
            Classes::Short(c) => c[range].partition_point(|&x| u32::from(x) < class),
            Classes::Long(c) => c[range].partition_point(|&x| x < class),
        }
    }
}

/// Rows of at most this many classes have their cached slots in 1 byte.
const NARROW: usize = 256;

/// How a feature's slots are found (see [`FixedLayout::step_slots`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mapped,
    Narrow,
    Wide,
}

/// Most cached (example feature × candidate) slots: 1 or 2 bytes each, so at most 256 MB. The 100×
/// knowledge base needs 28 M of them (the rest of its 70 M slots are in rows with a map).
pub(super) const LOCAL_BUDGET: usize = 128 << 20;

/// One thread's share of a [`FixedLayout`]: rows of a contiguous range of features.
#[derive(Default)]
pub(super) struct LayoutPart {
    pub(super) cls: Vec<u32>,
    /// End of each row in `cls`.
    pub(super) ends: Vec<usize>,
    /// (feature, index of its direct map in `slots`).
    pub(super) direct: Vec<(usize, usize)>,
    /// Direct maps, `n_classes` entries each (as [`FixedLayout::slots`]).
    pub(super) slots: Vec<u16>,
}

impl FixedLayout {
    pub(super) const NONE: u32 = u32::MAX;
    pub(super) const ABSENT: u16 = u16::MAX;

    pub(super) fn build(
        vectors: &[SparseVec],
        cand_lists: &[Vec<u32>],
        n_features: usize,
        n_classes: usize,
    ) -> FixedLayout {
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
        // the same layout as one pass.
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
        let map_bytes = 2 * n_classes;
        let maps = n_classes < usize::from(Self::ABSENT);
        // When every slot could be cached, a row gets a map only where the map is smaller
        // than its users' cached slots (either way a lookup is one read); else rows spanning
        // many classes get one too, for the rows searched if the cache is over its budget.
        let cache_all: usize = vectors
            .iter()
            .zip(cand_lists)
            .map(|(v, c)| v.ids.len() * c.len())
            .sum();
        let wide_rows_mapped = cache_all > LOCAL_BUDGET || n_classes > 1 << 16;
        let lay_out = |features: std::ops::Range<usize>| {
            let mut part = LayoutPart::default();
            // seen[c] == f + 1: class c is already in feature f's row
            let mut seen = vec![0u32; n_classes];
            for f in features {
                let mark = f as u32 + 1;
                let row_start = part.cls.len();
                let users = &inv[inv_off[f]..inv_off[f + 1]];
                let mut cached_bytes = 0usize;
                for &(i, _) in users {
                    let cands = &cand_lists[i as usize];
                    cached_bytes += 2 * cands.len();
                    for &c in cands {
                        if seen[c as usize] != mark {
                            seen[c as usize] = mark;
                            part.cls.push(c);
                        }
                    }
                }
                part.cls[row_start..].sort_unstable();
                let len = part.cls.len() - row_start;
                // A direct map costs 2 bytes per class; a row of over n/8 classes already
                // costs 8 bytes per entry, so the map adds at most a quarter to that row's
                // memory. A row with a map has no cached slots.
                let wide = wide_rows_mapped && len > 64 && len > n_classes / 8;
                if maps && (wide || cached_bytes > map_bytes) {
                    part.direct.push((f, part.slots.len() / n_classes));
                    let base = part.slots.len();
                    part.slots.resize(base + n_classes, Self::ABSENT);
                    for (n, &c) in part.cls[row_start..].iter().enumerate() {
                        part.slots[base + c as usize] = n as u16;
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
        // (sized once: growing by doubling held two copies of the largest array at once)
        let total: usize = parts.iter().map(|p| p.cls.len()).sum();
        let mut cls = if n_classes <= 1 << 16 {
            Classes::Short(Vec::with_capacity(total))
        } else {
            Classes::Long(Vec::with_capacity(total))
        };
        let mut direct = vec![Self::NONE; n_features];
        let mut slots: Vec<u16> = Vec::with_capacity(parts.iter().map(|p| p.slots.len()).sum());
        let mut mapped = vec![false; n_features];
        for part in parts {
            let base = cls.len();
            let rows = slots.len() / n_classes.max(1);
            offs.extend(part.ends.iter().map(|e| base + e));
            for &(f, d) in &part.direct {
                direct[f] = (rows + d) as u32;
                mapped[f] = true;
            }
            slots.extend_from_slice(&part.slots);
            match &mut cls {
                Classes::Short(cls) => cls.extend(part.cls.iter().map(|&c| c as u16)),
                Classes::Long(cls) => cls.extend_from_slice(&part.cls),
            }
        }
        let mut layout = FixedLayout {
            offs,
            cls,
            direct,
            slots,
            n_classes,
            local: None,
        };
        layout.local = layout.cache(vectors, cand_lists, &mapped, inv, &inv_off, &bounds);
        layout
    }

    /// Every example's slots in rows without a direct map (see `local`), when they fit
    /// [`LOCAL_BUDGET`] and a row's index fits in 2 bytes. Each cached slot belongs to exactly
    /// one feature, so threads taking contiguous ranges of features write disjoint entries.
    /// `inv` (each feature's (example, index in the example) pairs, in example order) is
    /// used up: each pair's index is overwritten with where its cached slots start.
    fn cache(
        &self,
        vectors: &[SparseVec],
        cand_lists: &[Vec<u32>],
        mapped: &[bool],
        mut inv: Vec<(u32, u32)>,
        inv_off: &[usize],
        bounds: &[usize],
    ) -> Option<SlotCache> {
        let n_classes = self.n_classes;
        let kind = |f: u32| self.kind(f as usize, mapped[f as usize]);
        if n_classes > 1 << 16 {
            return None;
        }
        // Example i's cached slots: its features without a map, in order, each with one
        // slot per candidate, in `narrow` or `wide` by the length of the feature's row.
        // Where each (example, feature) pair's slots start is worked out in this one pass
        // and written over the pair's index in `inv` (counting the features before it, per
        // lookup, was a fifth of the layout's time at 100× the shipped content). `inv`
        // lists each feature's examples in example order, so a cursor per feature walking
        // the examples in order meets each pair's entry.
        let mut start = Vec::with_capacity(vectors.len() + 1);
        let mut cursor = inv_off[..inv_off.len() - 1].to_vec();
        let (mut narrow, mut wide) = (0usize, 0usize);
        for (i, (v, c)) in vectors.iter().zip(cand_lists).enumerate() {
            start.push((narrow as u32, wide as u32));
            for &f in &v.ids {
                let at = match kind(f) {
                    Kind::Narrow => {
                        narrow += c.len();
                        narrow - c.len()
                    }
                    Kind::Wide => {
                        wide += c.len();
                        wide - c.len()
                    }
                    Kind::Mapped => usize::MAX,
                };
                let entry = &mut inv[cursor[f as usize]];
                debug_assert_eq!(entry.0 as usize, i);
                entry.1 = at as u32;
                cursor[f as usize] += 1;
            }
            if narrow + wide > LOCAL_BUDGET {
                return None;
            }
        }
        drop(cursor);
        let inv = &inv;
        let narrow: Vec<AtomicU8> = (0..narrow).map(|_| AtomicU8::new(0)).collect();
        let wide: Vec<AtomicU16> = (0..wide).map(|_| AtomicU16::new(0)).collect();
        let fill = |features: std::ops::Range<usize>| {
            // class → its index in the current row
            let mut map = vec![0u16; n_classes];
            for f in features {
                let k = kind(f as u32);
                if k == Kind::Mapped {
                    continue;
                }
                for (n, c) in self.cls.range(self.offs[f]..self.offs[f + 1]).enumerate() {
                    map[c as usize] = n as u16;
                }
                for &(i, at) in &inv[inv_off[f]..inv_off[f + 1]] {
                    let cands = &cand_lists[i as usize];
                    let at = at as usize;
                    if k == Kind::Narrow {
                        for (l, &c) in narrow[at..at + cands.len()].iter().zip(cands) {
                            l.store(map[c as usize] as u8, Ordering::Relaxed);
                        }
                    } else {
                        for (l, &c) in wide[at..at + cands.len()].iter().zip(cands) {
                            l.store(map[c as usize], Ordering::Relaxed);
                        }
                    }
                }
            }
        };
        if bounds.len() <= 2 {
            fill(0..mapped.len());
        } else {
            let fill = &fill;
            run_scoped(
                bounds
                    .windows(2)
                    .map(|b| {
                        let range = b[0]..b[1];
                        move || fill(range)
                    })
                    .collect(),
            );
        }
        Some(SlotCache {
            start,
            narrow: narrow.into_iter().map(AtomicU8::into_inner).collect(),
            wide: wide.into_iter().map(AtomicU16::into_inner).collect(),
        })
    }

    /// How feature f's slots are found: by its map, or cached in 1 or 2 bytes.
    fn kind(&self, f: usize, mapped: bool) -> Kind {
        if mapped {
            Kind::Mapped
        } else if self.offs[f + 1] - self.offs[f] <= NARROW {
            Kind::Narrow
        } else {
            Kind::Wide
        }
    }

    /// The slots of example `i`'s step into `out` (feature k, candidate j at k · n_cands + j):
    /// `x` is the example's vector or a dropout of it, `ks` the index of each of `x`'s
    /// features in the example.
    pub(super) fn step_slots(
        &self,
        i: usize,
        v: &SparseVec,
        x: &SparseVec,
        ks: &[u32],
        cands: &[u32],
        out: &mut Vec<usize>,
    ) {
        out.clear();
        let nc = cands.len();
        match &self.local {
            Some(cache) => {
                // where the cached slots of the example's next feature of each kind are (see
                // `cache`); features dropped from `x` are stepped over
                let (n0, w0) = cache.start[i];
                let (mut at_narrow, mut at_wide) = (n0 as usize, w0 as usize);
                let mut next = 0usize;
                let kind = |f: u32| self.kind(f as usize, self.direct[f as usize] != Self::NONE);
                for (&f, &k) in x.ids.iter().zip(ks) {
                    let k = k as usize;
                    for &g in &v.ids[next..k] {
                        match kind(g) {
                            Kind::Narrow => at_narrow += nc,
                            Kind::Wide => at_wide += nc,
                            Kind::Mapped => {}
                        }
                    }
                    next = k + 1;
                    let row = self.offs[f as usize];
                    match kind(f) {
                        Kind::Narrow => {
                            let local = &cache.narrow[at_narrow..at_narrow + nc];
                            out.extend(local.iter().map(|&l| row + l as usize));
                            at_narrow += nc;
                        }
                        Kind::Wide => {
                            let local = &cache.wide[at_wide..at_wide + nc];
                            out.extend(local.iter().map(|&l| row + l as usize));
                            at_wide += nc;
                        }
                        Kind::Mapped => {
                            let map = self.map(self.direct[f as usize]);
                            out.extend(cands.iter().map(|&c| row + map[c as usize] as usize));
                        }
                    }
                }
            }
            None => {
                for &f in &x.ids {
                    out.extend(cands.iter().map(|&c| self.slot(f, c)));
                }
            }
        }
    }

    /// Prefetch stage: where example `i`'s cached slots start.
    pub(super) fn prefetch_start(&self, i: usize) {
        if let Some(cache) = &self.local {
            prefetch(&cache.start[i]);
        }
    }

    /// Prefetch stage (after [`FixedLayout::prefetch_start`]): example `i`'s cached slots,
    /// which run to where the next example's start.
    pub(super) fn prefetch_cached(&self, i: usize) {
        if let Some(cache) = &self.local {
            let (n0, w0) = cache.start[i];
            let (n1, w1) = cache
                .start
                .get(i + 1)
                .map_or((cache.narrow.len(), cache.wide.len()), |&(n, w)| {
                    (n as usize, w as usize)
                });
            prefetch_slice(&cache.narrow[n0 as usize..n1]);
            prefetch_slice(&cache.wide[w0 as usize..w1]);
        }
    }

    /// Prefetch stage: the rows of `v`'s features (their offsets and direct-map indexes).
    pub(super) fn prefetch_rows(&self, v: &SparseVec) {
        for &f in &v.ids {
            prefetch(&self.offs[f as usize + 1]);
            prefetch(&self.direct[f as usize]);
        }
    }

    /// Prefetch stage (after [`FixedLayout::prefetch_rows`]): the direct-map entries of
    /// `v`'s mapped features for `cands`.
    pub(super) fn prefetch_maps(&self, v: &SparseVec, cands: &[u32]) {
        for &f in &v.ids {
            let d = self.direct[f as usize];
            if d != Self::NONE {
                let map = self.map(d);
                for &c in cands {
                    prefetch(&map[c as usize]);
                }
            }
        }
    }

    /// Direct map `d`: class → index in its row.
    fn map(&self, d: u32) -> &[u16] {
        let at = d as usize * self.n_classes;
        &self.slots[at..at + self.n_classes]
    }

    /// Slot of (feature, class); the pair must be in the layout (a candidate of an example
    /// that has the feature).
    pub(super) fn slot(&self, f: u32, c: u32) -> usize {
        let f = f as usize;
        match self.direct[f] {
            Self::NONE => {
                let row = self.offs[f]..self.offs[f + 1];
                self.offs[f] + self.cls.partition_point(row, c)
            }
            d => self.offs[f] + self.map(d)[c as usize] as usize,
        }
    }
}
