//! Transparent huge pages off while content loads.
//!
//! mimalloc asks the kernel for huge pages on its arenas, and the kernel then zeroes a whole
//! 2 MB page on the first touch of any byte in it. A load fills and frees large arrays phase
//! after phase, so pages were zeroed again and again: 7% of a 100× `bench-kb` run's CPU was
//! in `clear_page_erms`. With them off (for the whole process, in that measurement), 6 runs
//! each in alternating groups: the 100× load's median 3.57 → 3.29 s and its peak 378 → 352 MB,
//! queries afterwards as fast (README, "A knowledge base 100× the shipped one"). Serving keeps
//! the kernel's setting: with huge pages off for the whole process, our loadtest's median was
//! 3.6% lower (six alternating runs each, within the noise but not in its favour).

use std::sync::{Mutex, MutexGuard};

/// Loads in progress, and whether the first of them turned huge pages off (so the last one
/// turns them back on). One lock for both, so a load starting as the last one ends cannot
/// find them on.
static LOADS: Mutex<(usize, bool)> = Mutex::new((0, false));

fn loads() -> MutexGuard<'static, (usize, bool)> {
    LOADS.lock().unwrap_or_else(|p| p.into_inner())
}

/// While any is held, the kernel gives this process no transparent huge pages (Linux;
/// elsewhere nothing). Left alone when `MIMALLOC_ALLOW_THP` is set (the operator decided) or
/// when they were off already.
pub(super) struct SmallPages(());

impl SmallPages {
    pub(super) fn during_load() -> Self {
        let mut loads = loads();
        if loads.0 == 0 {
            loads.1 = std::env::var_os("MIMALLOC_ALLOW_THP").is_none() && set_thp_disabled(true);
        }
        loads.0 += 1;
        SmallPages(())
    }
}

impl Drop for SmallPages {
    fn drop(&mut self) {
        let mut loads = loads();
        loads.0 -= 1;
        if loads.0 == 0 && std::mem::take(&mut loads.1) {
            set_thp_disabled(false);
        }
    }
}

/// Set the process's "no transparent huge pages" flag to `off`; true when it changed.
#[cfg(target_os = "linux")]
fn set_thp_disabled(off: bool) -> bool {
    // SAFETY: both calls take integer arguments only and read or set a flag of this process.
    unsafe {
        let was = libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0);
        if was < 0 || (was == 1) == off {
            return false;
        }
        libc::prctl(libc::PR_SET_THP_DISABLE, libc::c_ulong::from(off), 0, 0, 0) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn set_thp_disabled(_off: bool) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Loads in progress, whether they turned huge pages off, and the kernel's flag, read
    /// together (other tests of this process load content at the same time).
    fn now() -> (usize, bool, bool) {
        let loads = loads();
        // SAFETY: reads a flag of this process.
        let off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 };
        (loads.0, loads.1, off)
    }

    #[test]
    fn huge_pages_stay_off_until_the_last_load_ends() {
        let first = SmallPages::during_load();
        let (_, turned_off, off) = now();
        if !turned_off {
            eprintln!("SKIPPED: huge pages were decided before any load (MIMALLOC_ALLOW_THP)");
            return;
        }
        assert!(off);
        let second = SmallPages::during_load();
        drop(first);
        assert!(now().2, "a load still in progress has them off");
        drop(second);
        let (loads, turned_off, off) = now();
        assert!(
            loads > 0 || (!turned_off && !off),
            "{loads} loads, off: {off}"
        );
    }
}
