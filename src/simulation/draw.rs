//! Random choices from lists, on any generator (the demo's seeded `StdRng`, the load test's
//! `SmallRng`).

use rand::Rng;

/// One item by weight.
pub fn weighted<'a, T, R: Rng + ?Sized>(rng: &mut R, items: &'a [(u32, T)]) -> &'a T {
    let total: u32 = items.iter().map(|(w, _)| *w).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for (w, item) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1].1
}

/// One item at random; `None` for an empty list.
pub fn pick<'a, T, R: Rng + ?Sized>(rng: &mut R, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        return None;
    }
    items.get(rng.random_range(0..items.len()))
}

/// One of a constant list of texts (empty only if the list is).
pub fn pick_text<R: Rng + ?Sized>(rng: &mut R, items: &[&str]) -> String {
    pick(rng, items).copied().unwrap_or_default().to_string()
}
