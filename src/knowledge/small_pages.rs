//! Transparent huge pages off while content loads.
//!
//! mimalloc asks the kernel for huge pages on its arenas, and the kernel then zeroes a whole
//! 2 MB page on the first touch of any byte in it. A load fills and frees large arrays phase
//! after phase, so pages were zeroed again and again: 7% of a 100× `bench-kb` run's CPU was
//! in `clear_page_erms`. Off during the load, over 6 runs each in alternating groups: the 100×
//! load's median 3.49 → 3.29 s and its peak 378 → 352 MB, queries afterwards as fast (README,
//! "A knowledge base 100× the shipped one"). Serving keeps the kernel's setting: with huge
//! pages off for the whole process, our loadtest's median was 3.6% lower (six alternating
//! runs each, within the noise but not in its favour).

/// While held, the kernel gives this process no transparent huge pages (Linux; elsewhere
/// nothing). Not taken when `MIMALLOC_ALLOW_THP` is set (the operator decided) or when they
/// are off already; given back on drop. Two loads at once (a reload beside a `check`) may give
/// them back early: that costs the other load time, never correctness.
pub(super) struct SmallPages {
    taken: bool,
}

impl SmallPages {
    pub(super) fn during_load() -> Self {
        Self {
            taken: std::env::var_os("MIMALLOC_ALLOW_THP").is_none() && set_thp_disabled(true),
        }
    }
}

impl Drop for SmallPages {
    fn drop(&mut self) {
        if self.taken {
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

    /// The kernel's own flag, read back.
    fn disabled() -> bool {
        // SAFETY: reads a flag of this process.
        unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 }
    }

    #[test]
    fn huge_pages_are_off_while_held_and_back_after() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() || disabled() {
            eprintln!("SKIPPED: huge pages already decided for this process");
            return;
        }
        let held = SmallPages::during_load();
        assert!(disabled());
        // A second holder finds them off already and leaves the flag to the first.
        drop(SmallPages::during_load());
        assert!(disabled());
        drop(held);
        assert!(!disabled());
    }
}
