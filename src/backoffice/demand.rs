//! Demand: daily contact volume per client against its trailing average, with spikes flagged,
//! and the busiest hours ranked from the KPI heatmap.
//!
//! What `kpi.rs` already has is not repeated here: the weekday × hour heatmap, the share of
//! contacts outside coverage and the counts in the first and last hour of coverage.
//!
//! Formulas (a "contact" is an inbound client message, manager relays and request updates
//! excluded as in the KPIs' volume, dated in the client's time zone):
//! - `volume(d)` = contacts on local day `d`.
//! - `baseline(d) = (1/W) · Σ_{w=1..W} volume(d − 7w)`: the mean of the same weekday in the `W`
//!   preceding weeks (`W` = 4 by default, so the trailing 4-week average for that weekday;
//!   days without contacts count as 0, including weeks before the first contact).
//! - `ratio(d) = volume(d) / baseline(d)`, undefined when the baseline is 0.
//! - `d` is a spike when `baseline(d) > 0`, `volume(d) ≥ min_volume` and
//!   `volume(d) ≥ factor · baseline(d)` (`factor` 2 and `min_volume` 10 by default). A baseline
//!   of 0 flags nothing: a client's first weeks are not all spikes.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::period::{MAX_PERIOD_DAYS, local_midnight};
use crate::knowledge::Knowledge;
use crate::store::{Insight, Millis, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DemandError {
    #[error("unknown client {0}")]
    UnknownClient(String),
    #[error("the period ends ({1}) before it starts ({0})")]
    BadRange(NaiveDate, NaiveDate),
    #[error("the period is {0} days; at most {MAX_DAYS}")]
    TooLong(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SpikeSettings {
    /// A day is a spike at `factor` × its baseline or more.
    pub factor: f64,
    /// ... and with at least this many contacts.
    pub min_volume: i64,
    /// Weeks of the trailing same-weekday average.
    pub weeks: u32,
}

impl Default for SpikeSettings {
    fn default() -> Self {
        Self {
            factor: 2.0,
            min_volume: 10,
            weeks: 4,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayVolume {
    pub date: NaiveDate,
    /// Mon, Tue, ...
    pub weekday: String,
    pub volume: i64,
    /// Mean of the same weekday over the preceding `weeks` weeks.
    pub baseline: f64,
    /// `volume / baseline`; `None` when the baseline is 0.
    pub ratio: Option<f64>,
    pub spike: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Demand {
    pub client: String,
    /// First and last local day of the period (inclusive).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub settings: SpikeSettings,
    /// Every day of the period, oldest first.
    pub days: Vec<DayVolume>,
    /// The spike days, biggest ratio first.
    pub spikes: Vec<DayVolume>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BusyHour {
    /// 0 = Monday.
    pub weekday: usize,
    pub weekday_name: String,
    /// Local hour 0..=23 (the hour starting then).
    pub hour: usize,
    pub contacts: i64,
}

/// The longest period one call may ask for (its contacts are read into memory).
pub const MAX_DAYS: i64 = MAX_PERIOD_DAYS;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The `n` busiest weekday × hour cells of a KPI heatmap ([`crate::backoffice::kpi::Kpis::heatmap`]),
/// most contacts first (ties: earlier in the week, then earlier in the day); empty cells are
/// left out.
pub fn busiest_hours(heatmap: &[[i64; 24]], n: usize) -> Vec<BusyHour> {
    let mut cells: Vec<BusyHour> = heatmap
        .iter()
        .enumerate()
        .flat_map(|(d, row)| {
            row.iter().enumerate().map(move |(h, c)| BusyHour {
                weekday: d,
                weekday_name: DAY_NAMES.get(d).copied().unwrap_or("?").to_string(),
                hour: h,
                contacts: *c,
            })
        })
        .filter(|c| c.contacts > 0)
        .collect();
    cells.sort_by(|a, b| {
        b.contacts
            .cmp(&a.contacts)
            .then(a.weekday.cmp(&b.weekday))
            .then(a.hour.cmp(&b.hour))
    });
    cells.truncate(n);
    cells
}

/// Contacts per local day.
pub fn daily_volumes(times: &[Millis], tz: Tz) -> BTreeMap<NaiveDate, i64> {
    let mut out = BTreeMap::new();
    for t in times {
        if let Some(utc) = Utc.timestamp_millis_opt(*t).single() {
            *out.entry(utc.with_timezone(&tz).date_naive()).or_insert(0) += 1;
        }
    }
    out
}

/// Every day of `[from, to]` with its baseline and spike flag (pure; formulas in the module
/// notes). `volumes` must cover the `weeks` weeks before `from` for the baselines.
pub fn spikes(
    volumes: &BTreeMap<NaiveDate, i64>,
    from: NaiveDate,
    to: NaiveDate,
    settings: &SpikeSettings,
) -> Vec<DayVolume> {
    let weeks = settings.weeks.max(1);
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        let volume = volumes.get(&d).copied().unwrap_or(0);
        let history: i64 = (1..=i64::from(weeks))
            .map(|w| {
                volumes
                    .get(&(d - Duration::days(7 * w)))
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        let baseline = history as f64 / f64::from(weeks);
        let ratio = (baseline > 0.0).then(|| volume as f64 / baseline);
        out.push(DayVolume {
            date: d,
            weekday: DAY_NAMES
                .get(d.weekday().num_days_from_monday() as usize)
                .copied()
                .unwrap_or("?")
                .to_string(),
            volume,
            baseline,
            ratio,
            spike: baseline > 0.0
                && volume >= settings.min_volume
                && volume as f64 >= settings.factor * baseline,
        });
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    out
}

/// A client's daily demand over `[from, to]` (local days, inclusive) with spikes flagged.
pub async fn demand(
    store: &dyn Insight,
    k: &Knowledge,
    client: &str,
    from: NaiveDate,
    to: NaiveDate,
    settings: &SpikeSettings,
) -> Result<Demand, DemandError> {
    let c = k
        .clients
        .get(client)
        .ok_or_else(|| DemandError::UnknownClient(client.to_string()))?;
    if to < from {
        return Err(DemandError::BadRange(from, to));
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_DAYS {
        return Err(DemandError::TooLong(days));
    }
    let history_start = from - Duration::days(7 * i64::from(settings.weeks.max(1)));
    let end = to.succ_opt().unwrap_or(to);
    let times = store
        .inbound_times(
            client,
            local_midnight(c.timezone, history_start),
            local_midnight(c.timezone, end),
        )
        .await?;
    let days = spikes(&daily_volumes(&times, c.timezone), from, to, settings);
    let mut spike_days: Vec<DayVolume> = days.iter().filter(|d| d.spike).cloned().collect();
    spike_days.sort_by(|a, b| {
        b.ratio
            .unwrap_or(0.0)
            .total_cmp(&a.ratio.unwrap_or(0.0))
            .then(a.date.cmp(&b.date))
    });
    Ok(Demand {
        client: client.to_string(),
        from,
        to,
        settings: settings.clone(),
        days,
        spikes: spike_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_day_at_twice_its_weekday_average_is_a_spike() {
        // Mondays 2, 9, 16, 23 Nov 2026: 10, 12, 8, 10 contacts → baseline 10 for Mon 30 Nov.
        let mut v = BTreeMap::new();
        for (day, n) in [
            ("2026-11-02", 10),
            ("2026-11-09", 12),
            ("2026-11-16", 8),
            ("2026-11-23", 10),
        ] {
            v.insert(d(day), n);
        }
        v.insert(d("2026-11-30"), 25);
        v.insert(d("2026-11-29"), 3); // Sunday, no history: baseline 0, never a spike
        let s = SpikeSettings::default();
        let days = spikes(&v, d("2026-11-29"), d("2026-11-30"), &s);
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].baseline, 0.0);
        assert_eq!(days[0].ratio, None);
        assert!(!days[0].spike);
        assert_eq!(days[1].weekday, "Mon");
        assert_eq!(days[1].baseline, 10.0);
        assert_eq!(days[1].ratio, Some(2.5));
        assert!(days[1].spike);
        // 19 of baseline 10 is below 2×; 25 is below a min volume of 30.
        v.insert(d("2026-11-30"), 19);
        assert!(!spikes(&v, d("2026-11-30"), d("2026-11-30"), &s)[0].spike);
        v.insert(d("2026-11-30"), 25);
        let strict = SpikeSettings {
            min_volume: 30,
            ..s
        };
        assert!(!spikes(&v, d("2026-11-30"), d("2026-11-30"), &strict)[0].spike);
    }

    #[test]
    fn busiest_hours_rank_the_heatmap() {
        let mut h = vec![[0i64; 24]; 7];
        h[0][9] = 5;
        h[2][14] = 7;
        h[4][9] = 5;
        let top = busiest_hours(&h, 2);
        assert_eq!(
            top.iter()
                .map(|c| (c.weekday_name.as_str(), c.hour, c.contacts))
                .collect::<Vec<_>>(),
            vec![("Wed", 14, 7), ("Mon", 9, 5)]
        );
        assert_eq!(busiest_hours(&h, 10).len(), 3);
    }
}
