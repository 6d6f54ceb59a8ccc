//! Token-bucket rate limits keyed by IP or session. Per replica, in memory: a flood is cut
//! where it lands, and a restart forgives everyone.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets are split over this many independently locked maps by a hash of the key, so
/// requests of different users never wait on one lock (every chat request takes a token).
const SHARDS: usize = 16;
/// Above this many buckets in a shard, full buckets are forgotten (memory stays bounded under
/// a flood of new keys).
const SHARD_KEYS: usize = 100_000 / SHARDS;

struct Shard {
    buckets: HashMap<String, (f64, Instant)>,
    /// Sweep when the shard grows past this: `SHARD_KEYS`, or twice what the last sweep left,
    /// so a flood of keys all still refilling costs one sweep per doubling, not one per
    /// request (sweeping on every new key made each request scan the whole shard)...
    sweep_at: usize,
    /// ... or when it is over `SHARD_KEYS` and a whole refill time has passed since the last
    /// sweep (every bucket that old is full again and can go).
    swept: Option<Instant>,
}

pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    hasher: RandomState,
    shards: [Mutex<Shard>; SHARDS],
}

impl RateLimiter {
    /// `burst` requests at once, refilled at `per_minute`.
    pub fn new(burst: u32, per_minute: u32) -> Self {
        Self {
            capacity: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| {
                Mutex::new(Shard {
                    buckets: HashMap::new(),
                    sweep_at: SHARD_KEYS,
                    swept: None,
                })
            }),
        }
    }

    /// Take one token for `key`; `Err(wait)` says how long until one is available.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
        let Shard {
            buckets,
            sweep_at,
            swept,
        } = &mut *shard;
        let refill = Duration::from_secs_f64(self.capacity / self.per_second);
        let stale = swept.is_none_or(|t| now.saturating_duration_since(t) >= refill);
        if buckets.len() >= *sweep_at || (buckets.len() > SHARD_KEYS && stale) {
            let cap = self.capacity;
            let rate = self.per_second;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < cap
            });
            *sweep_at = SHARD_KEYS.max(2 * buckets.len());
            *swept = Some(now);
        }
        // a known key (the common case) is found without allocating
        let (tokens, at) = match buckets.get_mut(key) {
            Some(bucket) => bucket,
            None => buckets
                .entry(key.to_string())
                .or_insert((self.capacity, now)),
        };
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let l = RateLimiter::new(3, 60);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("ip", t0).is_ok());
        }
        let wait = l.check("ip", t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert!(l.check("other", t0).is_ok(), "keys are independent");
        assert!(
            l.check("ip", t0 + Duration::from_millis(1100)).is_ok(),
            "refilled after a second"
        );
    }

    /// A flood of new keys is forgotten once their buckets are full again, shard by shard,
    /// and never costs a known key its bucket.
    #[test]
    fn a_flood_of_keys_is_forgotten_once_refilled() {
        let l = RateLimiter::new(3, 60);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("known", t0).is_ok());
        }
        for n in 0..3 * 100_000 {
            assert!(l.check(&format!("flood-{n}"), t0).is_ok());
        }
        let total = |l: &RateLimiter| -> usize {
            l.shards
                .iter()
                .map(|s| s.lock().map(|s| s.buckets.len()).unwrap_or(0))
                .sum()
        };
        assert!(
            total(&l) > 3 * 100_000,
            "a flood inside the refill time is kept"
        );
        assert!(
            l.check("known", t0).is_err(),
            "the known key is still empty"
        );
        // a refill time (3 tokens at 1 a second) later every flood bucket is full: new keys
        // prune their shard
        let t1 = t0 + Duration::from_secs(3);
        for n in 0..1_000 {
            assert!(l.check(&format!("late-{n}"), t1).is_ok());
        }
        assert!(total(&l) < 2_000, "{} buckets left", total(&l));
    }
}
