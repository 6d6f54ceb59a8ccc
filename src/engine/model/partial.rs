//! Retraining a few classes of a sampled model in place of training it again (see
//! `Engine::update`): the changed classes from zero, on their own examples against their
//! confusers' trained weights, and on the confusers' examples, which teach them what they are
//! not.

use super::layout::FixedLayout;
use super::sgd::FixedRun;
use super::*;

impl LinearModel {
    /// This model with the classes `fresh` says retrained. `vectors`, `labels` and
    /// `cand_lists` (sorted, the label included) are the examples to train on: those of the
    /// fresh classes, and examples of other classes that have a fresh class among their
    /// candidates. A fresh class's weights start at zero and only they move; every other
    /// weight stays as trained and scores the softmax the fresh classes learn against. (When
    /// the confusers' weights moved too, pushed down by the fresh class's examples with no
    /// example of theirs to push back as in a full build, a changed article's near-copy lost
    /// every one of its questions to it.) Epochs, learning-rate schedule, parts per epoch
    /// and the cut of the postings are those of a full build.
    #[allow(clippy::too_many_arguments)]
    pub fn retrain(
        &self,
        vectors: &[SparseVec],
        labels: &[u32],
        cand_lists: &[Vec<u32>],
        n_features: usize,
        params: &TrainParams,
        fresh: &(dyn Fn(u32) -> bool + Sync),
    ) -> LinearModel {
        let layout = FixedLayout::build(vectors, cand_lists, n_features, self.n_classes);
        let mut w = vec![0.0f32; layout.cls.len()];
        for f in 0..n_features {
            let row = layout.offs[f]..layout.offs[f + 1];
            for (x, c) in w[row.clone()].iter_mut().zip(layout.cls.range(row)) {
                if !fresh(c) {
                    *x = self.postings.weight(f as u32, c);
                }
            }
        }
        let learns = |_: usize, c: u32| fresh(c);
        let epochs = params.epochs.max(1);
        let total = (epochs * vectors.len()).max(1) as f32;
        let mut order: Vec<usize> = (0..vectors.len()).collect();
        let mut rng = Rng::new(params.seed);
        let mut t = 0usize;
        let mut copies: Vec<Vec<f32>> = Vec::new();
        for epoch in 0..epochs {
            rng.shuffle(&mut order);
            let run = FixedRun {
                layout: &layout,
                vectors,
                labels,
                cand_lists,
                params,
                total,
                learns: Some(&learns),
            };
            if params.shards > 1 {
                let seed = params.seed.wrapping_add(0x2545_F491 * (epoch as u64 + 1));
                run.sharded_epoch(&mut w, &order, t, params.shards, seed, &mut copies);
            } else {
                run.steps(&mut w, &order, t, &mut rng);
            }
            t += order.len();
        }
        // Every laid-out pair is written back (a weight trained to zero replaces the old one).
        let mut entries = Vec::with_capacity(w.len());
        for f in 0..n_features {
            let row = layout.offs[f]..layout.offs[f + 1];
            let cls = layout.cls.range(row.clone());
            entries.extend(cls.zip(&w[row]).map(|(c, &x)| (f as u32, c, x)));
        }
        LinearModel {
            postings: self.postings.patch(
                n_features,
                fresh,
                &entries,
                params.max_postings,
                params.min_weight,
            ),
            n_classes: self.n_classes,
            bias: self.bias.clone(),
        }
    }
}
