//! The service-request KPIs of one client and period: the two-way SLA as it was lived — the
//! SSO's side (completed on time, time spent, reopened) and the client's (answering the SSO's
//! questions on time) — in total and by service, and the surveys asked after completion.
//!
//! The cohort is the requests *opened* in the period (as the rest of the report counts what
//! started in it); the surveys are those *sent* in it, tied to their request's service by the
//! store's read. Every figure is written next to its field in [`RequestKpis`].

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use super::{SlaTerms, mean, ratio, share};
use crate::domain::RequestStatus;
use crate::domain::time::from_millis;
use crate::policy::calendar::business_duration;
use crate::store::{Millis, RequestRow, SurveyRow};

const HOUR_MS: f64 = 3_600_000.0;

/// Request figures over a set of requests (a client's, or one service's).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RequestKpis {
    /// Requests opened.
    pub requests: i64,
    /// Requests completed (done at least once).
    pub completed: i64,
    pub cancelled: i64,
    /// Business hours: first completion by the SSO's due time (`first_done_at ≤ due_at`; the
    /// due time already moved out by the client's waits) / requests completed, or still open
    /// and past it. Cancelled requests are not judged; a request waiting for the client is
    /// judged only if it was already late when the SSO asked.
    pub sla_met: Option<f64>,
    /// Calendar time: first completion by `opened + nominal turnaround + calendar time waited
    /// for the client` (see [`SlaTerms::calendar_due`]) / judged as above.
    pub sla_met_calendar: Option<f64>,
    /// Mean business hours with the SSO (opened to first completion, less the client's waits)
    /// and mean business hours waiting for the client, over the requests completed and never
    /// reopened (a reopen's later waits would blur the split). Means, so the two add up to the
    /// mean business time to complete.
    pub sso_hours_avg: Option<f64>,
    pub client_wait_hours_avg: Option<f64>,
    /// The client's side: questions answered by their due time / questions answered, plus
    /// those still unanswered past it.
    pub client_answered_on_time: Option<f64>,
    /// Questions the SSO asked the client (answered or not yet).
    pub client_questions: i64,
    /// Requests reopened at least once / requests completed.
    pub reopen_rate: Option<f64>,
    /// Mean score (1–5) of the surveys asked after a completion, and how many were answered.
    pub csat_avg: Option<f64>,
    pub csat_answers: i64,
}

fn status(r: &RequestRow) -> Option<RequestStatus> {
    RequestStatus::parse(&r.status)
}

/// Met (`Some(true)`), missed (`Some(false)`) or not judged (`None`) against `due`.
fn judge(r: &RequestRow, due: Millis, now: Millis) -> Option<bool> {
    if let Some(done) = r.first_done_at {
        return Some(done <= due);
    }
    match status(r) {
        Some(RequestStatus::Cancelled) | None => None,
        // The SSO's clock is stopped; it was late only if it already was when it asked.
        Some(RequestStatus::WaitingForClient) => {
            r.waiting_since.filter(|since| *since > due).map(|_| false)
        }
        _ => (now > due).then_some(false),
    }
}

/// The calendar due time: the nominal turnaround after opening, plus the calendar time waited
/// for the client. `None` for a service no longer in the catalogue.
fn calendar_due(terms: &SlaTerms, r: &RequestRow) -> Option<Millis> {
    terms
        .calendar_due(&r.service_id, r.opened_at)
        .map(|due| due + r.waited_ms)
}

/// The figures over `requests` and the `surveys` about them, at `now`.
pub fn request_kpis(
    requests: &[&RequestRow],
    surveys: &[&SurveyRow],
    terms: &SlaTerms,
    now: Millis,
) -> RequestKpis {
    let business: Vec<bool> = requests
        .iter()
        .filter_map(|r| judge(r, r.due_at, now))
        .collect();
    let calendar: Vec<bool> = requests
        .iter()
        .filter_map(|r| calendar_due(terms, r).and_then(|due| judge(r, due, now)))
        .collect();
    let completed: Vec<&&RequestRow> = requests
        .iter()
        .filter(|r| r.first_done_at.is_some())
        .collect();
    let (mut sso, mut client) = (Vec::new(), Vec::new());
    for r in completed.iter().filter(|r| r.reopened == 0) {
        let Some(done) = r.first_done_at else {
            continue;
        };
        let total = business_duration(&terms.coverage, from_millis(r.opened_at), from_millis(done));
        let waited = Duration::milliseconds(r.waited_business_ms);
        sso.push((total - waited).max(Duration::zero()).num_milliseconds() as f64 / HOUR_MS);
        client.push(r.waited_business_ms as f64 / HOUR_MS);
    }
    // Answered questions are judged; one still unanswered past its due time is already late.
    let (mut asked, mut judged, mut late) = (0i64, 0i64, 0i64);
    for r in requests {
        asked += r.client_waits;
        judged += r.client_waits;
        late += r.client_late;
        if status(r) == Some(RequestStatus::WaitingForClient) {
            asked += 1;
            if r.client_due_at.is_some_and(|due| now > due) {
                judged += 1;
                late += 1;
            }
        }
    }
    let scores: Vec<f64> = surveys
        .iter()
        .filter_map(|s| s.score)
        .filter(|s| (1..=5).contains(s))
        .map(|s| s as f64)
        .collect();
    RequestKpis {
        requests: requests.len() as i64,
        completed: completed.len() as i64,
        cancelled: requests
            .iter()
            .filter(|r| status(r) == Some(RequestStatus::Cancelled))
            .count() as i64,
        sla_met: share(&business),
        sla_met_calendar: share(&calendar),
        sso_hours_avg: mean(&sso),
        client_wait_hours_avg: mean(&client),
        client_answered_on_time: ratio((judged - late).max(0) as usize, judged as usize),
        client_questions: asked,
        reopen_rate: ratio(
            completed.iter().filter(|r| r.reopened > 0).count(),
            completed.len(),
        ),
        csat_avg: mean(&scores),
        csat_answers: scores.len() as i64,
    }
}

/// [`request_kpis`] for every service with requests opened or surveys answered in the period.
pub fn by_service(
    requests: &[RequestRow],
    surveys: &[SurveyRow],
    terms: &SlaTerms,
    now: Millis,
) -> BTreeMap<String, RequestKpis> {
    let mut groups: BTreeMap<&str, (Vec<&RequestRow>, Vec<&SurveyRow>)> = BTreeMap::new();
    for r in requests {
        groups.entry(r.service_id.as_str()).or_default().0.push(r);
    }
    for s in surveys {
        if let Some(service) = &s.request_service {
            groups.entry(service.as_str()).or_default().1.push(s);
        }
    }
    groups
        .into_iter()
        .map(|(service, (rs, ss))| (service.to_string(), request_kpis(&rs, &ss, terms, now)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Coverage, Turnaround, WeekdaySet};
    use chrono::{NaiveTime, TimeZone, Utc};

    /// Mon–Fri 08:00–18:00 UTC; vendor set-up in 2 business days.
    fn terms() -> SlaTerms {
        SlaTerms {
            coverage: Coverage {
                days: WeekdaySet(0x1f),
                start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                timezone: chrono_tz::UTC,
                holidays: Default::default(),
            },
            turnaround: [("vendor-setup".to_string(), Turnaround::BusinessDays(2))].into(),
            escalation_hours: (4, 1),
        }
    }

    /// November 2026, day `d` at `h`:00 UTC (Mon 23 Nov is a Monday).
    fn at(d: u32, h: u32) -> Millis {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn request(status: &str, opened: Millis, due: Millis) -> RequestRow {
        RequestRow {
            reference: "REQ-1".into(),
            service_id: "vendor-setup".into(),
            status: status.into(),
            opened_at: opened,
            due_at: due,
            updated_at: opened,
            ..RequestRow::default()
        }
    }

    #[test]
    fn the_first_completion_is_judged_and_the_clients_waits_count_for_them() {
        let t = terms();
        // Opened Mon 23 10:00, due Wed 25 10:00. The client was asked Mon 16:00 and answered
        // Tue 16:00 (10 business hours, 24 calendar hours, late: due Tue 14:00): the SSO's due
        // time moved to Thu 26 10:00 (business) and to Thu 26 10:00 on the calendar (48 h +
        // 24 h). Done Thu 09:00: on time both ways.
        let mut waited = request("done", at(23, 10), at(26, 10));
        waited.first_done_at = Some(at(26, 9));
        waited.closed_at = waited.first_done_at;
        (waited.waited_ms, waited.waited_business_ms) = (24 * 3_600_000, 10 * 3_600_000);
        (waited.client_waits, waited.client_late) = (1, 1);
        // Opened Mon 23 10:00, done Fri 27 10:00: late both ways, then reopened and done again
        // (the first completion is the one judged).
        let mut late = request("done", at(23, 10), at(25, 10));
        late.first_done_at = Some(at(27, 10));
        late.closed_at = Some(at(30, 12));
        late.reopened = 1;
        // Open and past due at `now`: missed. Cancelled: not judged. Waiting since before its
        // due time, with the client's due time passed: not judged for the SSO, late for the
        // client.
        let open = request("in_progress", at(23, 10), at(25, 10));
        let cancelled = request("cancelled", at(23, 10), at(25, 10));
        let mut waiting = request("waiting_for_client", at(24, 10), at(26, 10));
        waiting.waiting_since = Some(at(25, 9));
        waiting.client_due_at = Some(at(26, 9));
        let rows = [&waited, &late, &open, &cancelled, &waiting];
        let score = |s: i64, service: &str| SurveyRow {
            score: Some(s),
            request_service: Some(service.into()),
            ..SurveyRow::default()
        };
        let surveys = [score(5, "vendor-setup"), score(3, "vendor-setup")];
        let k = request_kpis(&rows, &surveys.iter().collect::<Vec<_>>(), &t, at(27, 12));
        assert_eq!((k.requests, k.completed, k.cancelled), (5, 2, 1));
        assert_eq!(
            k.sla_met,
            Some(1.0 / 3.0),
            "waited met; late and open missed"
        );
        assert_eq!(k.sla_met_calendar, Some(1.0 / 3.0));
        // Only `waited` is completed and never reopened: Mon 10:00 to Thu 09:00 is 8 + 10 + 10
        // + 1 = 29 business hours, 10 of them waiting for the client.
        assert_eq!(k.sso_hours_avg, Some(19.0));
        assert_eq!(k.client_wait_hours_avg, Some(10.0));
        // Two questions judged (one answered late, one unanswered past due): none on time.
        assert_eq!(k.client_answered_on_time, Some(0.0));
        assert_eq!(k.client_questions, 2);
        assert_eq!(k.reopen_rate, Some(0.5));
        assert_eq!((k.csat_avg, k.csat_answers), (Some(4.0), 2));
    }

    #[test]
    fn a_friday_request_meets_the_business_clock_and_misses_the_calendar() {
        let t = terms();
        // Fri 27 Nov 17:00, 2 business days: due Tue 1 Dec 17:00 in business hours, Sun 29 Nov
        // 17:00 on the calendar. Done Mon 30 Nov 12:00.
        let due = Utc
            .with_ymd_and_hms(2026, 12, 1, 17, 0, 0)
            .unwrap()
            .timestamp_millis();
        let mut r = request("done", at(27, 17), due);
        r.first_done_at = Some(at(30, 12));
        let k = request_kpis(&[&r], &[], &t, at(30, 13));
        assert_eq!((k.sla_met, k.sla_met_calendar), (Some(1.0), Some(0.0)));
        // Nothing to measure is not 0%.
        let none = request_kpis(&[], &[], &t, at(30, 13));
        assert_eq!(
            (none.sla_met, none.reopen_rate, none.client_answered_on_time),
            (None, None, None)
        );
    }
}
