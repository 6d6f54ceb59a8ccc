//! The SSO's queue of service requests: what a back-office user may see, filtered by client,
//! service, status, assignee and where each stands against its SLA, most urgent first.
//!
//! Reads only; the actions on a request go through `crate::requests::change` (the one entry
//! every surface uses), called by the HTTP layer.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::access::Principal;
use crate::domain::RequestStatus;
use crate::domain::time::from_millis;
use crate::knowledge::Knowledge;
use crate::policy::lifecycle::{SlaState, sla_state};
use crate::store::{Millis, RequestFilter, RequestRow, Requests, StoreError};

/// Rows read per page from the store, and at most this many pages: the queue shows the
/// requests still being worked on (few) and those closed recently.
const PAGE: i64 = 500;
const MAX_PAGES: usize = 20;
/// Rows shown.
pub const SHOWN: usize = 300;

/// The statuses of requests still being worked on (the queue's default).
pub const ACTIVE: [RequestStatus; 4] = [
    RequestStatus::Open,
    RequestStatus::InProgress,
    RequestStatus::WaitingForClient,
    RequestStatus::Reopened,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// The SSO's due time has passed (its clock running).
    Overdue,
    /// Due later today, in the client's time zone.
    DueToday,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueQuery {
    pub client: Option<String>,
    pub service: Option<String>,
    /// Empty: the active statuses.
    pub statuses: Vec<RequestStatus>,
    pub assignee: Option<String>,
    pub due: Option<Due>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A request as the queue lists it.
#[derive(Clone, Debug, Serialize)]
pub struct QueueRow {
    pub request: RequestRow,
    pub sla: SlaState,
    pub service_name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Queue {
    /// The first [`SHOWN`], most urgent first.
    pub rows: Vec<QueueRow>,
    /// How many matched (up to what was read).
    pub matched: usize,
}

/// The clients whose requests are listed: `client` when given (one `who` may not see is
/// refused, as its page is), else `who`'s scope (`None`: every client's).
fn clients(
    k: &Knowledge,
    who: &Principal,
    client: Option<&str>,
) -> Result<Option<Vec<String>>, QueueError> {
    match client {
        Some(c) if !k.clients.contains_key(c) => {
            Err(QueueError::Invalid(format!("unknown client {c:?}")))
        }
        Some(c) if !who.sees_client(c) => Err(QueueError::Forbidden(format!(
            "{} may not see client {c}",
            who.username
        ))),
        Some(c) => Ok(Some(vec![c.to_string()])),
        None => Ok(who.client_scope()),
    }
}

/// Where a request stands, in its client's time zone.
pub fn sla_of(k: &Knowledge, r: &RequestRow, now: DateTime<Utc>) -> SlaState {
    let tz = k
        .coverage_for(r.client_code.as_deref(), k.services.get(&r.service_id))
        .timezone;
    sla_state(r, tz, now)
}

pub async fn queue(
    store: &dyn Requests,
    k: &Knowledge,
    who: &Principal,
    q: &QueueQuery,
    now: Millis,
) -> Result<Queue, QueueError> {
    let clients = clients(k, who, q.client.as_deref())?;
    if let Some(s) = &q.service
        && !k.services.contains_key(s)
    {
        return Err(QueueError::Invalid(format!("unknown service {s:?}")));
    }
    let statuses = if q.statuses.is_empty() {
        ACTIVE.to_vec()
    } else {
        q.statuses.clone()
    };
    let due_before = match q.due {
        None => None,
        Some(Due::Overdue) => Some(now),
        // Today ends within a day in any time zone; the SLA state says which are today's.
        Some(Due::DueToday) => Some(now + 86_400_000),
    };
    let mut filter = RequestFilter {
        statuses: statuses.iter().map(|s| s.as_str().to_string()).collect(),
        clients,
        service: q.service.clone(),
        assignee: q
            .assignee
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        due_before,
        limit: PAGE,
        ..RequestFilter::default()
    };
    let at = from_millis(now);
    let mut rows = Vec::new();
    for _ in 0..MAX_PAGES {
        let page = store.requests(&filter).await?;
        let last = page.last().map(|r| (r.updated_at, r.id));
        let full = page.len() as i64 == PAGE;
        rows.extend(page.into_iter().filter_map(|r| {
            let sla = sla_of(k, &r, at);
            let wanted = match q.due {
                None => true,
                Some(Due::Overdue) => sla == SlaState::Overdue,
                Some(Due::DueToday) => sla == SlaState::DueToday,
            };
            wanted.then(|| QueueRow {
                service_name: k
                    .services
                    .get(&r.service_id)
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| r.service_id.clone()),
                request: r,
                sla,
            })
        }));
        match last {
            Some(after) if full => filter.after = Some(after),
            _ => break,
        }
    }
    // Work still to do by due time (overdue first); closed work most recently changed first.
    rows.sort_by(|a, b| {
        let closed = |r: &QueueRow| {
            RequestStatus::parse(&r.request.status).is_some_and(RequestStatus::is_closed)
        };
        closed(a).cmp(&closed(b)).then_with(|| {
            if closed(a) {
                b.request.updated_at.cmp(&a.request.updated_at)
            } else {
                a.request.due_at.cmp(&b.request.due_at)
            }
        })
    });
    let matched = rows.len();
    rows.truncate(SHOWN);
    Ok(Queue { rows, matched })
}
