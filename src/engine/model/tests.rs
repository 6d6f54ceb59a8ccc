//! Training on a made-up problem: layouts, shards and selection agree with the plain way.

use super::*;
use crate::engine::postings::Scratch;

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
        let mut s = Scratch::default();
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
        layout.step_slots(i, x, x, &ks, cs, &mut cached);
        let mut k = 0;
        for &f in &x.ids {
            let row = layout.offs[f as usize]..layout.offs[f as usize + 1];
            for &c in cs {
                let slot = layout.slot(f, c);
                assert!(
                    row.contains(&slot),
                    "feature {f}'s slot for {c} is in its row"
                );
                assert_eq!(layout.cls.get(slot), c);
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
        learns: None,
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
    run.sharded_epoch(&mut sharded, &order, 0, 2, 9, &mut Vec::new());
    for p in 0..start.len() {
        let want = start[p] + (wa[p] - start[p]) + (wb[p] - start[p]);
        assert!((sharded[p] - want).abs() < 1e-6, "slot {p}");
    }
    // and three sharded epochs from zero fit the training set
    let mut w = vec![0.0; layout.cls.len()];
    for e in 0..3 {
        run.sharded_epoch(&mut w, &order, e * 500, 2, e as u64, &mut Vec::new());
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
