//! Moments as the store keeps them: milliseconds since the Unix epoch, UTC.

use chrono::{DateTime, TimeZone, Utc};

/// A moment as stored.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored moment; one out of chrono's range (a corrupt row) reads as the epoch rather than
/// failing whoever reads it.
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
