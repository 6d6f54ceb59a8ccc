//! When contacts happen: each client's daily volume (weekday base, Saturday cover, month-end
//! and payroll-incident peaks) spread over a business-day curve in its time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rand::Rng;
use rand::rngs::StdRng;

use crate::knowledge::Client;

/// Weekday base volume (conversations per day) and whether Saturday is covered.
fn base_volume(client: &str) -> (f64, bool) {
    match client {
        "ACME" => (22.0, false),
        "GLOBEX" => (14.0, true),
        _ => (9.0, false),
    }
}

/// Hour-of-day weights (local time) of a working day; 0 outside.
pub(super) const HOUR_WEIGHTS: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 1.0, 4.0, 8.0, 9.0, 8.0, 5.0, 6.0, 9.0, 7.0, 6.0, 4.0, 2.0,
    1.0, 0.8, 0.5, 0.3, 0.1,
];

/// Working days (Mon-Fri) of the month of `d` that are among its last two.
fn is_month_end(d: NaiveDate) -> bool {
    let mut next = d;
    let mut working_after = 0;
    loop {
        next = match next.succ_opt() {
            Some(n) => n,
            None => return false,
        };
        if next.month() != d.month() {
            break;
        }
        if next.weekday().num_days_from_monday() < 5 {
            working_after += 1;
        }
    }
    d.weekday().num_days_from_monday() < 5 && working_after < 2
}

/// Contact times of one client: (UTC time, payroll incident day, month end), oldest first.
pub(super) fn schedule(
    rng: &mut StdRng,
    client: &Client,
    days: u32,
    end: DateTime<Utc>,
    scale: f64,
) -> Vec<(DateTime<Utc>, bool, bool)> {
    let tz = client.timezone;
    let (base, saturday) = base_volume(&client.code);
    let last_day = end.with_timezone(&tz).date_naive();
    let incident_day = last_day - Duration::days(12);
    let mut out = Vec::new();
    for back in (0..i64::from(days)).rev() {
        let day = last_day - Duration::days(back);
        let weekday = day.weekday();
        let mut expected = match weekday {
            Weekday::Sat if saturday => base * 0.35,
            Weekday::Sat => base * 0.05,
            Weekday::Sun => base * 0.04,
            _ => base,
        };
        let month_end = is_month_end(day);
        if month_end {
            expected *= 1.6;
        }
        let incident = client.code == "GLOBEX" && day == incident_day;
        if incident {
            // Five times the contacts: most are one-question pay FAQs where a normal contact
            // averages about three messages, so the day's messages come out at about 3× — well
            // past the 2× spike threshold, as a real payroll incident would be.
            expected *= 5.0;
        }
        let n = (expected * scale * rng.random_range(0.7..1.3)).round() as usize;
        for _ in 0..n {
            let hour = {
                let total: f64 = HOUR_WEIGHTS.iter().sum();
                let mut x = rng.random_range(0.0..total);
                let mut h = 23;
                for (i, w) in HOUR_WEIGHTS.iter().enumerate() {
                    if x < *w {
                        h = i;
                        break;
                    }
                    x -= w;
                }
                h as u32
            };
            let Some(local) =
                day.and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
            else {
                continue;
            };
            let Some(t) = tz.from_local_datetime(&local).earliest() else {
                continue;
            };
            let t = t.with_timezone(&Utc);
            if t < end {
                out.push((t, incident, month_end));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_end_is_the_last_two_working_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // November 2026 ends on Monday 30th: Fri 27 and Mon 30 are its last working days.
        assert!(is_month_end(d("2026-11-30")));
        assert!(is_month_end(d("2026-11-27")));
        assert!(!is_month_end(d("2026-11-26")));
        assert!(!is_month_end(d("2026-11-28")));
    }
}
