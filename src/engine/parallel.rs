//! The build's parallel helpers and its random numbers: pure per-item work over every core,
//! joined in order, so a build gives the same engine whatever the number of cores.

/// `(0..n).map(f).collect()` on every core (see [`par_chunks`]).
pub fn par_map<T: Send>(n: usize, f: &(dyn Fn(usize) -> T + Sync)) -> Vec<T> {
    par_chunks(n, &|range| range.map(f).collect())
}

/// Threads for `n` items of build work: one per core, but at least 2,048 items each (small
/// builds stay on one thread).
pub(crate) fn threads_for(n: usize) -> usize {
    std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .min(n / 2048)
        .max(1)
}

/// `f` over contiguous chunks of `0..n`, several per core (see [`par_runs`]), joined in order:
/// the same result as `f(0..n)` when `f` maps each index on its own. For the pure per-text work of a build
/// (analysis, vectors, retrieval of training candidates) that a large knowledge base
/// multiplies; small builds stay on one thread.
pub fn par_chunks<T: Send>(
    n: usize,
    f: &(dyn Fn(std::ops::Range<usize>) -> Vec<T> + Sync),
) -> Vec<T> {
    let mut runs = par_runs(n, f);
    if runs.len() == 1 {
        return runs.pop().unwrap_or_default();
    }
    let mut out = Vec::with_capacity(runs.iter().map(Vec::len).sum());
    for run in runs {
        // (each run freed once moved)
        out.extend(run);
    }
    out
}

/// As [`par_chunks`], each run's results left in their own list (in order), for a caller
/// that reads them in turn: no joined copy held beside them.
///
/// `0..n` is cut into [`RUNS_PER_THREAD`] contiguous runs per thread, which the threads take
/// in turn as they finish: with one run per thread, a phase whose items differ in cost (a
/// large knowledge base's intents, some with long passages and some with none) kept one core
/// busy while the other waited; the phase log showed 1.6 cores of 2. The runs are still
/// joined in order, so the result does not depend on which thread mapped which run.
pub fn par_runs<T: Send>(
    n: usize,
    f: &(dyn Fn(std::ops::Range<usize>) -> Vec<T> + Sync),
) -> Vec<Vec<T>> {
    let threads = threads_for(n);
    if threads == 1 {
        return vec![f(0..n)];
    }
    let runs = threads * RUNS_PER_THREAD;
    let chunk = n.div_ceil(runs);
    let runs = n.div_ceil(chunk);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let taken: Vec<Vec<(usize, Vec<T>)>> = run_scoped(
        (0..threads)
            .map(|_| {
                let next = &next;
                move || {
                    let mut mine = Vec::new();
                    loop {
                        let r = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if r >= runs {
                            return mine;
                        }
                        mine.push((r, f(r * chunk..((r + 1) * chunk).min(n))));
                    }
                }
            })
            .collect(),
    );
    let mut out: Vec<Option<Vec<T>>> = (0..runs).map(|_| None).collect();
    for (r, run) in taken.into_iter().flatten() {
        out[r] = Some(run);
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

/// Runs [`par_runs`] cuts per thread: enough for a thread that finishes early to take over
/// work, few enough that each run's set-up (a caller may size a buffer per run) stays small.
const RUNS_PER_THREAD: usize = 8;

/// `items.into_iter().map(f).collect()` on every core, in contiguous runs joined in order:
/// each item is dropped as soon as it is mapped, so the input and the output are not both
/// held whole (the build's per-text features become vectors this way).
pub fn par_consume<T: Send, U: Send>(mut items: Vec<T>, f: &(dyn Fn(T) -> U + Sync)) -> Vec<U> {
    let n = items.len();
    let threads = threads_for(n);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let chunk = n.div_ceil(threads);
    let mut runs: Vec<Vec<T>> = Vec::with_capacity(threads);
    while items.len() > chunk {
        let at = (items.len() - 1) / chunk * chunk;
        runs.push(items.split_off(at));
    }
    runs.push(items);
    runs.reverse();
    let parts = run_scoped(
        runs.into_iter()
            .map(|run| move || run.into_iter().map(f).collect::<Vec<U>>())
            .collect(),
    );
    let mut out = Vec::with_capacity(n);
    for part in parts {
        out.extend(part);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_taken_in_turn_are_joined_in_order_whatever_their_cost() {
        // Early items cost far more than late ones, so a thread that took a cheap run comes
        // back for more while the other is still busy.
        let n = 40_000;
        let f = |range: std::ops::Range<usize>| -> Vec<u64> {
            range
                .map(|i| {
                    let rounds = if i < n / 10 { 2_000 } else { 1 };
                    (0..rounds).fold(i as u64, |h, r| h.rotate_left(5) ^ r)
                })
                .collect()
        };
        let runs = par_runs(n, &f);
        assert_eq!(runs.concat(), f(0..n), "the same as one pass");
        assert!(runs.iter().all(|r| !r.is_empty()), "no empty run");
        assert_eq!(
            runs.len(),
            if threads_for(n) == 1 {
                1
            } else {
                threads_for(n) * RUNS_PER_THREAD
            }
        );
        assert_eq!(par_chunks(n, &f), f(0..n));
        assert_eq!(
            par_map(n, &|i| i * 3),
            (0..n).map(|i| i * 3).collect::<Vec<_>>()
        );
    }
}
