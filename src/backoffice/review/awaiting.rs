//! Reports awaiting review: for each client, the last [`WINDOW_MONTHS`] months that have ended
//! (none before the SPA's first month, none after its last), less those both sides have marked.
//!
//! - `month_end` is the first local day after the month (its end is that day's midnight in the
//!   client's time zone);
//! - `days_since_month_end = today − month_end`, `today` in the client's time zone: 0 on the
//!   1st of the next month.
//!
//! A window rather than "every month since the SPA began": a review is a monthly conversation,
//! and a report nobody looked at for a quarter is history, not a to-do.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use super::{Mark, ReviewError, Side, mark, missing, month_of, previous_month};
use crate::backoffice::period::month_bounds;
use crate::backoffice::renewals::ManagerRef;
use crate::knowledge::{Client, Knowledge};
use crate::policy::ladder::manager_at_level;
use crate::store::Reviews;

/// How many ended months are listed per client.
pub const WINDOW_MONTHS: usize = 3;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AwaitingReview {
    pub client: String,
    pub client_name: String,
    pub month: String,
    /// The sides that have not marked it reviewed.
    pub missing: Vec<Side>,
    /// The marks made so far.
    pub marks: Vec<Mark>,
    /// The first local day after the month.
    pub month_end: NaiveDate,
    pub days_since_month_end: i64,
    /// The client's primary account manager (who is reminded).
    pub manager: Option<ManagerRef>,
}

/// The ended months of `c` under review at `now`, newest first.
pub fn review_months(c: &Client, now: DateTime<Utc>) -> Vec<String> {
    let today = now.with_timezone(&c.timezone).date_naive();
    let spa_first = c.spa.start.with_day(1).unwrap_or(c.spa.start);
    let mut out = Vec::new();
    let mut month = previous_month(&month_of(c, now));
    while let Some(m) = month {
        if out.len() == WINDOW_MONTHS {
            break;
        }
        let Some((first, _)) = month_bounds(&m) else {
            break;
        };
        if first < spa_first {
            break;
        }
        if first <= c.spa.end && first <= today {
            out.push(m.clone());
        }
        month = previous_month(&m);
    }
    out
}

/// Every client's reports awaiting review at `now`, the longest-waiting first (the caller
/// filters by scope).
pub async fn awaiting(
    store: &dyn Reviews,
    k: &Knowledge,
    now: DateTime<Utc>,
) -> Result<Vec<AwaitingReview>, ReviewError> {
    let windows: Vec<(&Client, Vec<String>)> = k
        .clients
        .values()
        .map(|c| (c, review_months(c, now)))
        .collect();
    let Some(oldest) = windows.iter().flat_map(|(_, ms)| ms.iter()).min().cloned() else {
        return Ok(Vec::new());
    };
    let marks = store.review_marks_since(&oldest).await?;
    let mut out = Vec::new();
    for (c, months) in windows {
        let today = now.with_timezone(&c.timezone).date_naive();
        for m in months {
            let mut made: Vec<Mark> = marks
                .iter()
                .filter(|r| r.client_code == c.code && r.month == m)
                .filter_map(mark)
                .collect();
            made.sort_by_key(|x| x.side);
            let missing = missing(&made);
            let Some((_, month_end)) = month_bounds(&m) else {
                continue;
            };
            if missing.is_empty() {
                continue;
            }
            out.push(AwaitingReview {
                client: c.code.clone(),
                client_name: c.name.clone(),
                month: m,
                missing,
                marks: made,
                month_end,
                days_since_month_end: (today - month_end).num_days(),
                manager: manager_at_level(c, 0).map(|(m, _)| ManagerRef {
                    name: m.name.clone(),
                    email: m.email.clone(),
                }),
            });
        }
    }
    out.sort_by(|a, b| {
        b.days_since_month_end
            .cmp(&a.days_since_month_end)
            .then(a.client.cmp(&b.client))
    });
    Ok(out)
}
