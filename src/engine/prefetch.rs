//! A hint to the CPU that memory will be read soon.
//!
//! Sampled training at scale is bound by memory latency, not arithmetic: each SGD step reads
//! a random example, then its features' rows, then a few hundred weights scattered over tens
//! of megabytes, every read waiting on the one before. `perf annotate` of the 100× knowledge
//! base's epochs put two thirds of a step's time on single loads that missed the cache.
//! Asking for the next examples' memory a step or more ahead lets those misses overlap the
//! current step's work (the sampled epoch, `FixedRun::steps`, is the user).

/// Start bringing the cache line holding `r` into the cache (no effect on the program's
/// meaning; a no-op where the target has no such hint).
#[inline(always)]
pub(crate) fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only hints the cache: it reads nothing into the program, cannot
    // fault (here the address is a live reference's anyway), and SSE, its one target
    // feature, is part of every x86_64 CPU's baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<{ _MM_HINT_T0 }>((r as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// [`prefetch`] every cache line of `s`.
#[inline(always)]
pub(crate) fn prefetch_slice<T>(s: &[T]) {
    const LINE: usize = 64;
    let step = (LINE / std::mem::size_of::<T>().max(1)).max(1);
    for r in s.iter().step_by(step) {
        prefetch(r);
    }
    if let Some(last) = s.last() {
        prefetch(last);
    }
}
