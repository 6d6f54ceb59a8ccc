//! Periods in a client's local time, as the store's `[from, to)` milliseconds: where a local
//! day starts, a month's first days, and how long a period one request may read. The statement,
//! the reports and the demand view all count in the client's days, so they take them from here.

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::store::Millis;

/// The longest period one request may ask for: the facts of the whole period are read into
/// memory, and a bounded request keeps one caller from loading years of messages.
pub const MAX_PERIOD_DAYS: i64 = 400;

/// Midnight of a local day in epoch milliseconds (the earliest instant, across DST changes).
/// The UTC instant local day `d` starts in `tz`.
pub fn local_midnight(tz: Tz, d: NaiveDate) -> Millis {
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
        .unwrap_or_default()
}

/// `2026-11` → first day of that month and of the next; `None` when it is not a month.
pub fn month_bounds(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }?;
    Some((first, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        let (a, b) = month_bounds("2026-12").unwrap();
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-12-01".into(), "2027-01-01".into())
        );
        assert!(month_bounds("2026-13").is_none());
        assert!(month_bounds("Nov").is_none());
    }
}
