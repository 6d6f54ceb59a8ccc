//! Business time: coverage hours, due times of SPA commitments, off-hours detection. A covered
//! weekday that is a public holiday of the coverage's region (`Coverage::holidays`) has none.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::knowledge::{Coverage, Turnaround};

fn local(coverage: &Coverage, t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&coverage.timezone).naive_local()
}

fn to_utc(tz: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    // Around DST changes a local time can be missing or doubled: take the earliest valid one,
    // or shift by an hour when it does not exist.
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&naive)),
    }
}

/// Is `t` within the coverage hours?
pub fn in_coverage(coverage: &Coverage, t: DateTime<Utc>) -> bool {
    let l = local(coverage, t);
    is_business_day(coverage, l.date()) && l.time() >= coverage.start && l.time() < coverage.end
}

fn is_business_day(coverage: &Coverage, day: chrono::NaiveDate) -> bool {
    coverage.days.contains(day.weekday()) && !coverage.holidays.contains(day)
}

/// The next moment coverage starts at or after `t` (`t` itself when covered).
pub fn next_coverage_start(coverage: &Coverage, t: DateTime<Utc>) -> DateTime<Utc> {
    if in_coverage(coverage, t) || coverage.days.0 == 0 {
        return t;
    }
    let l = local(coverage, t);
    let mut day = l.date();
    if l.time() >= coverage.start {
        day = day.succ_opt().unwrap_or(day);
    }
    // A week, plus the longest run of holidays a region has (Christmas to New Year).
    for _ in 0..21 {
        if is_business_day(coverage, day) {
            return to_utc(coverage.timezone, day.and_time(coverage.start));
        }
        day = day.succ_opt().unwrap_or(day);
    }
    t
}

/// Add business minutes: time only runs inside coverage hours.
fn add_business_minutes(coverage: &Coverage, start: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    let mut t = next_coverage_start(coverage, start);
    let mut left = minutes;
    // Bounded: at most a few years of days, whatever the input.
    for _ in 0..2000 {
        let l = local(coverage, t);
        let end_today = to_utc(coverage.timezone, l.date().and_time(coverage.end));
        let available = (end_today - t).num_minutes();
        if left <= available {
            return t + Duration::minutes(left);
        }
        left -= available.max(0);
        t = next_coverage_start(coverage, end_today + Duration::seconds(1));
    }
    t
}

/// Business time between `from` and `to` (zero when `to` is not after `from`): what a clock
/// that only runs inside coverage hours shows.
pub fn business_duration(coverage: &Coverage, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    let mut total = Duration::zero();
    let mut t = next_coverage_start(coverage, from);
    // Bounded like `add_business_minutes`: a day of coverage per pass.
    for _ in 0..5000 {
        if t >= to {
            break;
        }
        let l = local(coverage, t);
        let end_today = to_utc(coverage.timezone, l.date().and_time(coverage.end));
        total += end_today.min(to) - t;
        t = next_coverage_start(coverage, end_today + Duration::seconds(1));
        if t == end_today + Duration::seconds(1) {
            // No coverage at all (no days): nothing more to count.
            break;
        }
    }
    total
}

/// `d` of business time after `t` (to the millisecond; see `add_business_minutes`).
pub fn add_business(coverage: &Coverage, t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    let mut t = next_coverage_start(coverage, t);
    let mut left = d;
    for _ in 0..5000 {
        if left <= Duration::zero() {
            return t;
        }
        let l = local(coverage, t);
        let end_today = to_utc(coverage.timezone, l.date().and_time(coverage.end));
        let available = end_today - t;
        if left <= available {
            return t + left;
        }
        left -= available.max(Duration::zero());
        t = next_coverage_start(coverage, end_today + Duration::seconds(1));
    }
    t
}

/// When a commitment made at `now` falls due.
pub fn due_at(coverage: &Coverage, turnaround: Turnaround, now: DateTime<Utc>) -> DateTime<Utc> {
    let day_minutes = (coverage.end - coverage.start).num_minutes().max(1);
    match turnaround {
        Turnaround::BusinessHours(h) => add_business_minutes(coverage, now, i64::from(h) * 60),
        Turnaround::BusinessDays(d) => {
            add_business_minutes(coverage, now, i64::from(d) * day_minutes)
        }
        Turnaround::CalendarDays(d) => now + Duration::days(i64::from(d)),
    }
}

/// `minutes` of coverage time after `t`: the clock stops outside coverage hours, so a 15-minute
/// re-ping asked for at 18:55 falls at 07:10 the next working morning, not at 19:10.
pub fn add_coverage_minutes(coverage: &Coverage, t: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    let mut t = t;
    for _ in 0..minutes {
        if !in_coverage(coverage, t) {
            t = next_coverage_start(coverage, t);
        }
        t += chrono::Duration::minutes(1);
    }
    t
}

/// "Thu 26 Nov 14:00" in the coverage's time zone.
pub fn format_local(tz: Tz, t: DateTime<Utc>) -> String {
    t.with_timezone(&tz).format("%a %-d %b %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Holidays, WeekdaySet};
    use chrono::NaiveTime;

    fn london() -> Coverage {
        Coverage {
            days: WeekdaySet(0x1f),
            start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            timezone: chrono_tz::Europe::London,
            holidays: Holidays::default(),
        }
    }

    fn with_christmas(mut c: Coverage) -> Coverage {
        let days = ["2026-12-25", "2026-12-28", "2027-01-01"]
            .iter()
            .map(|d| d.parse().unwrap())
            .collect();
        c.holidays = Holidays {
            region: "england-and-wales".into(),
            dates: std::sync::Arc::new(days),
        };
        c
    }

    #[test]
    fn public_holidays_have_no_business_time() {
        let c = with_christmas(london());
        // Thu 24 Dec 16:00 + 4 business hours: 2 on Thursday, then Fri 25 (holiday), the
        // weekend and Mon 28 (holiday) pass, 2 more on Tue 29 → 10:00.
        assert_eq!(
            due_at(
                &c,
                Turnaround::BusinessHours(4),
                utc("2026-12-24T16:00:00Z")
            ),
            utc("2026-12-29T10:00:00Z")
        );
        assert!(!in_coverage(&c, utc("2026-12-25T10:00:00Z")));
        assert!(in_coverage(&london(), utc("2026-12-25T10:00:00Z")));
        assert_eq!(
            next_coverage_start(&c, utc("2026-12-24T18:30:00Z")),
            utc("2026-12-29T08:00:00Z")
        );
        // Two business days from Wed 30 Dec 09:00: Thu 31, (Fri 1 Jan holiday), Mon 4 09:00.
        assert_eq!(
            due_at(&c, Turnaround::BusinessDays(2), utc("2026-12-30T09:00:00Z")),
            utc("2027-01-04T09:00:00Z")
        );
    }

    #[test]
    fn business_duration_counts_only_covered_time() {
        let c = with_christmas(london());
        let d = |a: &str, b: &str| business_duration(&c, utc(a), utc(b)).num_minutes();
        assert_eq!(d("2026-11-24T10:00:00Z", "2026-11-24T11:30:00Z"), 90);
        // Fri 17:00 → Mon 09:00: one hour Friday, one Monday.
        assert_eq!(d("2026-11-27T17:00:00Z", "2026-11-30T09:00:00Z"), 120);
        // Across Christmas: Thu 24 17:00 → Tue 29 09:00: 1 h + 1 h.
        assert_eq!(d("2026-12-24T17:00:00Z", "2026-12-29T09:00:00Z"), 120);
        // Nights, weekends and reversed spans count nothing.
        assert_eq!(d("2026-11-28T09:00:00Z", "2026-11-29T17:00:00Z"), 0);
        assert_eq!(d("2026-11-24T11:00:00Z", "2026-11-24T10:00:00Z"), 0);
        // The inverse of `add_business`.
        let from = utc("2026-12-23T15:20:00Z");
        let to = add_business(&c, from, Duration::minutes(777));
        assert_eq!(business_duration(&c, from, to), Duration::minutes(777));
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn business_days_keep_time_of_day() {
        // Tue 24 Nov 2026 14:00 London (UTC in winter) + 2 business days = Thu 14:00.
        let due = due_at(
            &london(),
            Turnaround::BusinessDays(2),
            utc("2026-11-24T14:00:00Z"),
        );
        assert_eq!(due, utc("2026-11-26T14:00:00Z"));
        assert_eq!(
            format_local(chrono_tz::Europe::London, due),
            "Thu 26 Nov 14:00"
        );
    }

    #[test]
    fn business_hours_skip_nights_and_weekends() {
        // Fri 27 Nov 16:00 + 4 business hours = Mon 30 Nov 10:00.
        let due = due_at(
            &london(),
            Turnaround::BusinessHours(4),
            utc("2026-11-27T16:00:00Z"),
        );
        assert_eq!(due, utc("2026-11-30T10:00:00Z"));
        // Saturday request starts counting Monday 08:00.
        let due = due_at(
            &london(),
            Turnaround::BusinessHours(1),
            utc("2026-11-28T11:00:00Z"),
        );
        assert_eq!(due, utc("2026-11-30T09:00:00Z"));
    }

    #[test]
    fn coverage_minutes_stop_outside_coverage() {
        let c = london();
        // Within hours: plain wall-clock minutes.
        assert_eq!(
            add_coverage_minutes(&c, utc("2026-11-24T10:00:00Z"), 15),
            utc("2026-11-24T10:15:00Z")
        );
        // 17:55 Friday: 5 minutes today, 10 on Monday morning.
        assert_eq!(
            add_coverage_minutes(&c, utc("2026-11-27T17:55:00Z"), 15),
            utc("2026-11-30T08:10:00Z")
        );
        // Asked on a Saturday: counted from Monday's start.
        assert_eq!(
            add_coverage_minutes(&c, utc("2026-11-28T12:00:00Z"), 5),
            utc("2026-11-30T08:05:00Z")
        );
    }

    #[test]
    fn coverage_and_summer_time() {
        let c = london();
        assert!(in_coverage(&c, utc("2026-11-24T08:00:00Z")));
        assert!(!in_coverage(&c, utc("2026-11-24T18:00:00Z")));
        assert!(!in_coverage(&c, utc("2026-11-28T12:00:00Z")));
        // 07:30 UTC in July is 08:30 BST.
        assert!(in_coverage(&c, utc("2026-07-01T07:30:00Z")));
        assert_eq!(
            next_coverage_start(&c, utc("2026-11-27T19:00:00Z")),
            utc("2026-11-30T08:00:00Z")
        );
    }
}
