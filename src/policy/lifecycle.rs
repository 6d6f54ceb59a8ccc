//! A service request's lifecycle as a pure function: a change applied to a request gives the
//! request after it and the events that record it, or says why the change is not allowed.
//!
//! The two-way SLA lives here. The SSO's clock runs while the request is open, in progress or
//! reopened; asking the client for information (`waiting_for_client`) stops it and starts the
//! client's, due `client_response_hours` of the client's business time later. When the wait
//! ends, the SSO's due time moves out by the business time the client took, and the wait is
//! added to the request's totals (calendar and business), so the KPIs can split the time with
//! the SSO from the time waiting for the client.
//!
//! The back office, the case system's API and the dialogue (a client's answer) all change
//! requests through [`apply`], so the rules cannot differ by surface.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::domain::time::{from_millis, millis};
use crate::domain::{RequestEventKind, RequestSource, RequestStatus};
use crate::knowledge::{Coverage, Knowledge};
use crate::policy::calendar::{add_business, business_duration};
use crate::store::{NewRequestEvent, RequestRow};

/// What someone wants done to a request. Every field is optional but the actor's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    pub to: Option<RequestStatus>,
    /// Why, for the timeline (and, for the client-facing moves, what the client is told).
    pub note: Option<String>,
    /// Assign (`Some(name)`) or unassign (`Some("")`).
    pub assignee: Option<String>,
    pub external_id: Option<String>,
    /// The change is the client's answer to a question (a `client_reply` event).
    pub client_reply: bool,
    pub actor: String,
    pub source: Option<RequestSource>,
    pub idempotency_key: Option<String>,
}

/// The SPA terms a request is judged by: the client's coverage hours (with its region's public
/// holidays), the client's time to answer, and the reopen window.
#[derive(Clone, Debug, PartialEq)]
pub struct Terms {
    pub coverage: Coverage,
    pub client_response: Duration,
    pub reopen_window: Duration,
}

impl Terms {
    pub fn for_request(k: &Knowledge, row: &RequestRow) -> Self {
        let service = k.services.get(&row.service_id);
        Self {
            coverage: k.coverage_for(row.client_code.as_deref(), service).clone(),
            client_response: Duration::hours(i64::from(k.organisation.client_response_hours)),
            reopen_window: Duration::days(i64::from(k.organisation.reopen_window_days)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TransitionError {
    #[error(
        "{reference} is {f}: it cannot move to {t}. Allowed from {f}: {allowed}",
        f = .from.as_str(),
        t = .to.as_str(),
        allowed = .from.allowed_list()
    )]
    NotAllowed {
        reference: String,
        from: RequestStatus,
        to: RequestStatus,
    },
    #[error(
        "{reference} was completed more than {days} days ago: it can no longer be reopened; open a new request"
    )]
    ReopenWindowPassed { reference: String, days: i64 },
    #[error("{reference} has a status this version does not know ({status})")]
    UnknownStored { reference: String, status: String },
    #[error("nothing to change: give a status, a note, an assignee or an external id")]
    Nothing,
}

/// Apply `change` to `row` at `now`: the request after it and the events to append.
pub fn apply(
    row: &RequestRow,
    change: &Change,
    terms: &Terms,
    now: DateTime<Utc>,
) -> Result<(RequestRow, Vec<NewRequestEvent>), TransitionError> {
    let from = RequestStatus::parse(&row.status).ok_or_else(|| TransitionError::UnknownStored {
        reference: row.reference.clone(),
        status: row.status.clone(),
    })?;
    let source = change.source.unwrap_or(RequestSource::System).as_str();
    let event = |kind: RequestEventKind, note: Option<String>| NewRequestEvent {
        kind: kind.as_str().to_string(),
        from_status: None,
        to_status: None,
        actor: change.actor.clone(),
        source: source.to_string(),
        note,
        idempotency_key: None,
    };
    let mut after = row.clone();
    let mut events = Vec::new();
    let now_ms = millis(now);
    let note = change
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);

    if let Some(to) = change.to {
        if !from.can_move_to(to) {
            return Err(TransitionError::NotAllowed {
                reference: row.reference.clone(),
                from,
                to,
            });
        }
        if to == RequestStatus::Reopened {
            let closed = row.closed_at.map(from_millis).unwrap_or(now);
            if now - closed > terms.reopen_window {
                return Err(TransitionError::ReopenWindowPassed {
                    reference: row.reference.clone(),
                    days: terms.reopen_window.num_days(),
                });
            }
            after.reopened += 1;
            after.closed_at = None;
        }
        if from == RequestStatus::WaitingForClient {
            end_wait(&mut after, terms, now);
        }
        match to {
            RequestStatus::WaitingForClient => {
                after.waiting_since = Some(now_ms);
                after.client_due_at = Some(millis(add_business(
                    &terms.coverage,
                    now,
                    terms.client_response,
                )));
            }
            RequestStatus::Done => {
                after.closed_at = Some(now_ms);
                after.first_done_at = Some(row.first_done_at.unwrap_or(now_ms));
            }
            RequestStatus::Cancelled => after.closed_at = Some(now_ms),
            _ => {}
        }
        after.status = to.as_str().to_string();
        events.push(NewRequestEvent {
            from_status: Some(from.as_str().to_string()),
            to_status: Some(to.as_str().to_string()),
            ..event(
                if change.client_reply {
                    RequestEventKind::ClientReply
                } else {
                    RequestEventKind::Status
                },
                note.clone(),
            )
        });
    } else if let Some(n) = &note {
        events.push(event(
            if change.client_reply {
                RequestEventKind::ClientReply
            } else {
                RequestEventKind::Note
            },
            Some(n.clone()),
        ));
    }
    if let Some(a) = &change.assignee {
        let a = a.trim();
        let new = (!a.is_empty()).then(|| a.to_string());
        if new != row.assignee {
            after.assignee = new.clone();
            events.push(event(
                RequestEventKind::Assigned,
                Some(new.unwrap_or_else(|| "unassigned".into())),
            ));
        }
    }
    if let Some(x) = &change.external_id {
        let x = x.trim();
        let new = (!x.is_empty()).then(|| x.to_string());
        if new != row.external_id {
            after.external_id = new.clone();
            events.push(event(RequestEventKind::Linked, new));
        }
    }
    if events.is_empty() {
        return Err(TransitionError::Nothing);
    }
    // Strictly later than the version read, even within one millisecond: the store's guard
    // compares `updated_at`, so two changes from the same read cannot both be written.
    after.updated_at = now_ms.max(row.updated_at + 1);
    if let (Some(first), Some(key)) = (events.first_mut(), &change.idempotency_key) {
        first.idempotency_key = Some(key.clone());
    }
    Ok((after, events))
}

/// The client answered (or the SSO went on without them): stop their clock, add the wait to the
/// totals and move the SSO's due time out by the business time it took.
fn end_wait(after: &mut RequestRow, terms: &Terms, now: DateTime<Utc>) {
    let Some(since) = after.waiting_since.map(from_millis) else {
        return;
    };
    let waited = (now - since).max(Duration::zero());
    let business = business_duration(&terms.coverage, since, now);
    after.waited_ms += waited.num_milliseconds();
    after.waited_business_ms += business.num_milliseconds();
    after.due_at = millis(add_business(
        &terms.coverage,
        from_millis(after.due_at),
        business,
    ));
    after.client_waits += 1;
    if after.client_due_at.is_some_and(|due| millis(now) > due) {
        after.client_late += 1;
    }
    after.waiting_since = None;
    after.client_due_at = None;
}

/// Where a request stands against its SLA, for the queue and the request page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// The SSO's clock runs and the due time is after today.
    OnTrack,
    /// Due later today (the client's local day).
    DueToday,
    Overdue,
    /// Waiting for the client: the SSO's clock is stopped.
    WaitingForClient,
    /// Completed by its due time (the first completion counts).
    Met,
    Missed,
    Cancelled,
}

impl SlaState {
    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::OnTrack => "on_track",
            SlaState::DueToday => "due_today",
            SlaState::Overdue => "overdue",
            SlaState::WaitingForClient => "waiting_for_client",
            SlaState::Met => "met",
            SlaState::Missed => "missed",
            SlaState::Cancelled => "cancelled",
        }
    }
}

pub fn sla_state(row: &RequestRow, tz: Tz, now: DateTime<Utc>) -> SlaState {
    let due = from_millis(row.due_at);
    match RequestStatus::parse(&row.status) {
        Some(RequestStatus::Cancelled) => SlaState::Cancelled,
        Some(RequestStatus::WaitingForClient) => SlaState::WaitingForClient,
        Some(RequestStatus::Done) => match row.first_done_at {
            Some(t) if t > row.due_at => SlaState::Missed,
            _ => SlaState::Met,
        },
        _ if now > due => SlaState::Overdue,
        _ if due.with_timezone(&tz).date_naive() == now.with_timezone(&tz).date_naive() => {
            SlaState::DueToday
        }
        _ => SlaState::OnTrack,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{Holidays, WeekdaySet};
    use chrono::NaiveTime;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn terms() -> Terms {
        let days = ["2026-12-25", "2026-12-28"]
            .iter()
            .map(|d| d.parse().unwrap())
            .collect();
        Terms {
            coverage: Coverage {
                days: WeekdaySet(0x1f),
                start: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
                timezone: chrono_tz::Europe::London,
                holidays: Holidays {
                    region: "england-and-wales".into(),
                    dates: std::sync::Arc::new(days),
                },
            },
            client_response: Duration::hours(16),
            reopen_window: Duration::days(14),
        }
    }

    /// Opened Mon 14 Dec 2026 10:00, due two business days later (Wed 16 Dec 10:00).
    fn request() -> RequestRow {
        let opened = millis(utc("2026-12-14T10:00:00Z"));
        RequestRow {
            id: 1,
            reference: "REQ-1001".into(),
            conversation_id: "c".into(),
            person_id: Some(1),
            client_code: Some("ACME".into()),
            service_id: "vendor-setup".into(),
            status: "open".into(),
            priority: "normal".into(),
            inputs: "{}".into(),
            opened_at: opened,
            due_at: millis(utc("2026-12-16T10:00:00Z")),
            closed_at: None,
            off_hours: false,
            assignee: None,
            external_id: None,
            updated_at: opened,
            waiting_since: None,
            client_due_at: None,
            waited_ms: 0,
            waited_business_ms: 0,
            client_waits: 0,
            client_late: 0,
            reopened: 0,
            first_done_at: None,
        }
    }

    fn to(status: RequestStatus, note: &str) -> Change {
        Change {
            to: Some(status),
            note: Some(note.into()),
            actor: "dana@sso.example".into(),
            source: Some(RequestSource::Backoffice),
            ..Change::default()
        }
    }

    #[test]
    fn waiting_for_the_client_stops_the_sso_clock_and_starts_theirs() {
        let t = terms();
        let r = request();
        let (r, events) = apply(
            &r,
            &to(RequestStatus::InProgress, ""),
            &t,
            utc("2026-12-14T11:00:00Z"),
        )
        .unwrap();
        assert_eq!(events[0].kind, "status");
        assert_eq!(events[0].note, None, "a blank note is no note");
        // Tue 15 Dec 16:00: ask the client. Their 16 business hours: 2 on Tuesday, 10 on
        // Wednesday, 4 on Thursday → Thu 17 Dec 12:00.
        let (r, _) = apply(
            &r,
            &to(RequestStatus::WaitingForClient, "Which bank?"),
            &t,
            utc("2026-12-15T16:00:00Z"),
        )
        .unwrap();
        assert_eq!(r.client_due_at, Some(millis(utc("2026-12-17T12:00:00Z"))));
        assert_eq!(
            sla_state(&r, chrono_tz::Europe::London, utc("2026-12-16T12:00:00Z")),
            SlaState::WaitingForClient,
            "past the SSO's due time, but its clock is stopped"
        );
        // They answer Fri 18 Dec 09:00: late (due Thursday noon). They took 2 + 10 + 10 + 1 =
        // 23 business hours, so the SSO's due time moves from Wed 16 10:00 by 23 h: 8 h left on
        // Wednesday, 10 on Thursday, 5 on Friday → Fri 18 Dec 13:00.
        let reply = Change {
            to: Some(RequestStatus::InProgress),
            note: Some("Barclays".into()),
            client_reply: true,
            actor: "client".into(),
            source: Some(RequestSource::Chat),
            ..Change::default()
        };
        let (r, events) = apply(&r, &reply, &t, utc("2026-12-18T09:00:00Z")).unwrap();
        assert_eq!(events[0].kind, "client_reply");
        assert_eq!(r.due_at, millis(utc("2026-12-18T13:00:00Z")));
        assert_eq!(r.waited_business_ms, Duration::hours(23).num_milliseconds());
        assert_eq!(r.waited_ms, Duration::hours(65).num_milliseconds());
        assert_eq!((r.client_waits, r.client_late), (1, 1));
        assert_eq!(r.waiting_since, None);
        // Done at 12:30 on Friday: on time, thanks to the pause.
        let (r, _) = apply(
            &r,
            &to(RequestStatus::Done, "Set up"),
            &t,
            utc("2026-12-18T12:30:00Z"),
        )
        .unwrap();
        assert_eq!(
            sla_state(&r, chrono_tz::Europe::London, utc("2026-12-18T12:30:00Z")),
            SlaState::Met
        );
    }

    #[test]
    fn a_wait_over_public_holidays_moves_the_due_time_past_them() {
        let t = terms();
        let mut r = request();
        r.status = "in_progress".into();
        r.due_at = millis(utc("2026-12-24T12:00:00Z"));
        // Ask Thu 24 Dec 17:00; the client answers Tue 29 Dec 09:00: 1 h Thursday, (Christmas,
        // the weekend and the Boxing Day holiday are not business time), 1 h Tuesday.
        let (r, _) = apply(
            &r,
            &to(RequestStatus::WaitingForClient, "?"),
            &t,
            utc("2026-12-24T17:00:00Z"),
        )
        .unwrap();
        let (r, _) = apply(
            &r,
            &to(RequestStatus::InProgress, ""),
            &t,
            utc("2026-12-29T09:00:00Z"),
        )
        .unwrap();
        assert_eq!(r.waited_business_ms, Duration::hours(2).num_milliseconds());
        // Due Thu 24 12:00 + 2 business hours = 14:00 the same day.
        assert_eq!(r.due_at, millis(utc("2026-12-24T14:00:00Z")));
    }

    #[test]
    fn invalid_moves_say_what_is_allowed_and_change_nothing() {
        let t = terms();
        let mut r = request();
        r.status = "done".into();
        r.closed_at = Some(millis(utc("2026-12-15T10:00:00Z")));
        let e = apply(
            &r,
            &to(RequestStatus::WaitingForClient, ""),
            &t,
            utc("2026-12-15T11:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "REQ-1001 is done: it cannot move to waiting_for_client. Allowed from done: reopened"
        );
        // Reopen inside the window; not after it.
        assert!(
            apply(
                &r,
                &to(RequestStatus::Reopened, "Still wrong"),
                &t,
                utc("2026-12-20T10:00:00Z")
            )
            .is_ok()
        );
        let late = apply(
            &r,
            &to(RequestStatus::Reopened, ""),
            &t,
            utc("2027-01-05T10:00:00Z"),
        );
        assert!(matches!(
            late,
            Err(TransitionError::ReopenWindowPassed { days: 14, .. })
        ));
        assert_eq!(
            apply(
                &request(),
                &Change {
                    actor: "x".into(),
                    ..Change::default()
                },
                &t,
                utc("2026-12-15T11:00:00Z")
            ),
            Err(TransitionError::Nothing)
        );
    }

    #[test]
    fn reopening_keeps_the_first_completion_and_counts_the_reopen() {
        let t = terms();
        let (r, _) = apply(
            &request(),
            &to(RequestStatus::Done, "ok"),
            &t,
            utc("2026-12-15T10:00:00Z"),
        )
        .unwrap();
        let (r, _) = apply(
            &r,
            &to(RequestStatus::Reopened, "not ok"),
            &t,
            utc("2026-12-16T10:00:00Z"),
        )
        .unwrap();
        assert_eq!((r.reopened, r.closed_at), (1, None));
        let (r, _) = apply(
            &r,
            &to(RequestStatus::Done, "now ok"),
            &t,
            utc("2026-12-17T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(r.first_done_at, Some(millis(utc("2026-12-15T10:00:00Z"))));
        assert_eq!(r.closed_at, Some(millis(utc("2026-12-17T10:00:00Z"))));
    }

    #[test]
    fn assignment_and_link_are_events_and_bump_the_version() {
        let t = terms();
        let r = request();
        let change = Change {
            assignee: Some("dana@sso.example".into()),
            external_id: Some("SD-42".into()),
            actor: "jira".into(),
            source: Some(RequestSource::Api),
            idempotency_key: Some("k1".into()),
            ..Change::default()
        };
        let now = from_millis(r.updated_at);
        let (after, events) = apply(&r, &change, &t, now).unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["assigned", "linked"]);
        assert_eq!(events[0].idempotency_key.as_deref(), Some("k1"));
        assert_eq!(events[1].idempotency_key, None);
        assert!(
            after.updated_at > r.updated_at,
            "same millisecond, new version"
        );
        // The same again changes nothing.
        assert_eq!(
            apply(&after, &change, &t, now),
            Err(TransitionError::Nothing)
        );
    }
}
