//! A service request's life, as words every layer shares: its status, the moves allowed between
//! them, and where a change came from.
//!
//! ```text
//!             ┌──────────────► cancelled ◄───────────────┐
//!             │                    ▲                      │
//!   open ──► in_progress ◄──► waiting_for_client          │
//!     │          │                  │                     │
//!     └──────────┴──────► done ◄────┘                     │
//!                          │  ▲                           │
//!       (within the window)▼  │                           │
//!                        reopened ────────────────────────┘
//! ```
//!
//! `open`, `in_progress` and `reopened` run the SSO's clock; `waiting_for_client` pauses it and
//! runs the client's (the two-way SLA); `done` and `cancelled` stop both.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Open,
    InProgress,
    WaitingForClient,
    Done,
    Cancelled,
    Reopened,
}

words!(RequestStatus {
    Open => "open",
    InProgress => "in_progress",
    WaitingForClient => "waiting_for_client",
    Done => "done",
    Cancelled => "cancelled",
    Reopened => "reopened",
});

impl RequestStatus {
    /// Where a request in this status may go next. (`done → reopened` is further bounded by the
    /// reopen window, which is a setting, not a word.)
    pub fn next(self) -> &'static [RequestStatus] {
        use RequestStatus::*;
        match self {
            Open | Reopened => &[InProgress, WaitingForClient, Done, Cancelled],
            InProgress => &[WaitingForClient, Done, Cancelled],
            WaitingForClient => &[InProgress, Done, Cancelled],
            Done => &[Reopened],
            Cancelled => &[],
        }
    }

    pub fn can_move_to(self, to: RequestStatus) -> bool {
        self.next().contains(&to)
    }

    /// Done or cancelled: no clock runs.
    pub fn is_closed(self) -> bool {
        matches!(self, RequestStatus::Done | RequestStatus::Cancelled)
    }

    /// The SSO's clock runs.
    pub fn with_sso(self) -> bool {
        matches!(
            self,
            RequestStatus::Open | RequestStatus::InProgress | RequestStatus::Reopened
        )
    }

    /// "in_progress, waiting_for_client or cancelled": the moves from here, for an error message.
    pub fn allowed_list(self) -> String {
        let next = self.next();
        if next.is_empty() {
            return "none (it is final)".into();
        }
        next.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Who made a change, by surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestSource {
    /// The client, in the conversation (opening it, answering a question).
    Chat,
    /// SSO staff in the back office.
    Backoffice,
    /// The SSO's case system, over the REST API.
    Api,
    /// Frontdoor itself.
    System,
}

words!(RequestSource {
    Chat => "chat",
    Backoffice => "backoffice",
    Api => "api",
    System => "system",
});

/// What an event on a request's timeline records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestEventKind {
    Created,
    /// A status change (`from_status → to_status`).
    Status,
    Assigned,
    Note,
    /// The client's answer to a question asked while waiting for them.
    ClientReply,
    /// The case system's own id was recorded.
    Linked,
}

words!(RequestEventKind {
    Created => "created",
    Status => "status",
    Assigned => "assigned",
    Note => "note",
    ClientReply => "client_reply",
    Linked => "linked",
});

#[cfg(test)]
mod tests {
    use super::RequestStatus::*;
    use super::*;

    #[test]
    fn words_round_trip() {
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(*s));
        }
        for s in RequestSource::ALL {
            assert_eq!(RequestSource::parse(s.as_str()), Some(*s));
        }
        for s in RequestEventKind::ALL {
            assert_eq!(RequestEventKind::parse(s.as_str()), Some(*s));
        }
        assert_eq!(RequestStatus::parse("finished"), None);
    }

    #[test]
    fn the_lifecycle_allows_what_the_issue_draws_and_nothing_else() {
        assert!(Open.can_move_to(InProgress));
        assert!(InProgress.can_move_to(WaitingForClient));
        assert!(WaitingForClient.can_move_to(InProgress));
        assert!(InProgress.can_move_to(Done));
        assert!(Done.can_move_to(Reopened));
        assert!(Reopened.can_move_to(InProgress));
        assert!(!Done.can_move_to(WaitingForClient));
        assert!(!Cancelled.can_move_to(Open));
        assert!(!Open.can_move_to(Open));
        assert!(!InProgress.can_move_to(Reopened));
        assert_eq!(Done.allowed_list(), "reopened");
        assert_eq!(Cancelled.allowed_list(), "none (it is final)");
        // Every status can end, except the final ones.
        for s in RequestStatus::ALL {
            assert_eq!(s.is_closed(), s.next().iter().all(|n| *n == Reopened));
        }
    }
}
