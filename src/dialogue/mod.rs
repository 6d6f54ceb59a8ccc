//! The dialogue: one pure, channel-neutral state machine.
//!
//! `step(state, event, &knowledge, &settings)` turns an inbound event and the conversation's saved
//! state into a new state, replies and effects. It does no I/O: `service.rs` loads the state,
//! steps, and commits state + log + effects in one transaction. State variants carry their data
//! (the inputs collected so far), so a half-filled impossible state cannot be written.
//!
//! ```text
//! user: how do I reset my password
//! bot:  **Reset a forgotten or expired password** ... Did this answer your question? [Yes] [No]
//! user: [Yes]
//! bot:  Great! How did we do? [1] [2] [3] [4] [5]
//! ```

mod acts;
mod answer;
mod cx;
mod escalate;
pub mod eval;
pub mod forms;
mod outbox;
mod progress;
mod request;
mod rollout;
pub mod service;
mod status;
mod step;
mod survey;
pub mod transcript;
mod turn_requests;
mod words;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// The vocabulary the dialogue shares with the layers below it (the outlet renders a `Reply`
// without knowing the dialogue); re-exported because it is the dialogue's language too.
pub use crate::domain::{Button, CollectionOutcome, GapKind, Outcome, Priority, Reply};
pub use step::step;

/// The reply text placeholder the service replaces with the allocated request reference.
pub const REFERENCE_PLACEHOLDER: &str = "{{request_ref}}";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Nothing pending. Counts fallbacks in a row to offer a human after two.
    Idle { fallbacks: u8 },
    /// An article was shown; waiting for "Did this answer your question?".
    AwaitingAnswerFeedback {
        article: String,
        question: String,
        /// Next-best articles to offer on "No".
        alternatives: Vec<String>,
        /// Alternatives were already offered: another "No" escalates.
        offered_alternatives: bool,
        since: DateTime<Utc>,
    },
    /// "Did you mean A or B?" (two close candidates), or "did you mean one of these?" (the
    /// engine was not confident enough to answer: up to three suggestions). The choice is
    /// logged with the question, so an editor can make it an example.
    Clarifying {
        question: String,
        options: Vec<String>,
        since: DateTime<Utc>,
    },
    /// Asking for a service's SPA inputs, one at a time.
    CollectingInputs(Form),
    /// All inputs given; waiting for the user to confirm the summary.
    Confirming(Form),
    /// Offered to bring in the account manager; waiting for yes/no.
    OfferingEscalation {
        reason: String,
        since: DateTime<Utc>,
    },
    /// A pulse survey is open.
    Survey {
        cause: String,
        expires_at: DateTime<Utc>,
    },
    /// The SSO asked a question about one of the client's requests: their next message is the
    /// answer.
    AnsweringRequest {
        reference: String,
        question: String,
        since: DateTime<Utc>,
    },
    /// Got a score; an optional comment may follow.
    SurveyComment {
        score: u8,
        expires_at: DateTime<Utc>,
    },
}

impl Default for State {
    fn default() -> Self {
        State::Idle { fallbacks: 0 }
    }
}

impl State {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| "{\"state\":\"idle\",\"fallbacks\":0}".into())
    }
    /// A state saved by an older or broken version starts over rather than failing the turn.
    pub fn from_json(s: &str) -> State {
        serde_json::from_str(s).unwrap_or_default()
    }
}

/// A service request being filled in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Form {
    pub service: String,
    /// Valid values so far, by input name.
    pub values: BTreeMap<String, String>,
    /// Inputs the user chose to skip (optional ones).
    pub skipped: Vec<String>,
    /// The input being asked for; `None` when confirming.
    pub asking: Option<String>,
    pub reprompts: u32,
    /// Every required input was valid at its first answer so far.
    pub first_attempt_ok: bool,
    pub urgent: bool,
    pub started_at: DateTime<Utc>,
    pub since: DateTime<Utc>,
}

/// What came in.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Text(String),
    /// A button press: the button's payload.
    Button(String),
    /// The account manager acted on this conversation's escalation; the service checked who
    /// they are and that the escalation is theirs.
    Manager(ManagerEvent),
    /// One of the client's service requests moved (the request lifecycle checked the move).
    Request(RequestNotice),
}

/// A request's move, as the client will hear of it.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestNotice {
    pub reference: String,
    /// The service's name.
    pub service: String,
    /// The team that delivers it ("Procurement").
    pub team: String,
    pub status: crate::domain::RequestStatus,
    /// `in_progress` again after waiting for the client (not a first pick-up).
    pub resumed: bool,
    /// The note: the question (waiting for the client), the completion note, the reason.
    pub note: Option<String>,
    /// The due time, as the client reads it ("Thu 26 Nov 14:00").
    pub due: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ManagerEvent {
    pub escalation_id: i64,
    pub action: crate::domain::EscalationAction,
    /// The manager's display name, as the client will see it.
    pub manager: String,
    /// The reply text (for `Reply`); the edited draft (for `Approve`).
    pub text: Option<String>,
    /// The escalation's draft (shadow mode), for `Approve`.
    pub draft: Option<Box<Draft>>,
}

/// How far the bot runs a client's turn: the roll-out mode of the client on this channel, as
/// the service resolved it (the back office's run-time setting, else the client file's).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Gate {
    #[default]
    Live,
    Off,
    Shadow,
    /// Answer these intents, and the intents of these domains (article categories, service
    /// teams); shadow the rest — unless the conversation is in the pilot's live share.
    Pilot {
        intents: Vec<String>,
        domains: Vec<String>,
        whole_conversation: bool,
    },
}

/// What the bot would have said to a client's message in shadow mode: held back, carried by
/// the escalation to the account manager, and said when they approve it.
///
/// Approving it unchanged has the bot take the message now, as it would have live (so a form
/// it starts, a request it opens or a survey it asks is dated now, not when it was drafted);
/// if that answer is no longer the draft (the content or the conversation moved on), the
/// draft's words are sent as they are and the conversation stays where it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// The client's message: the text, or a button's payload when `pressed`.
    pub question: String,
    #[serde(default)]
    pub pressed: bool,
    pub intent: Option<String>,
    pub confidence: f32,
    /// What the bot's answer was (answered, clarify, prompt, …).
    pub outcome: Outcome,
    pub replies: Vec<Reply>,
    /// The conversation's state when the draft was written.
    pub from: State,
}

/// A request of the user's, as the dialogue needs to talk about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestSummary {
    pub reference: String,
    pub service: String,
    pub status: String,
    pub due_at: DateTime<Utc>,
}

/// Who is talking, as far as the dialogue needs to know.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserContext {
    pub name: Option<String>,
    pub client: Option<String>,
    /// Seen before this conversation.
    pub returning: bool,
    /// Their requests, newest first.
    pub requests: Vec<RequestSummary>,
    /// A survey was sent to them within the survey period.
    pub surveyed_recently: bool,
    /// Announcements running now for their client on this channel that are about an article:
    /// an answer from that article mentions them. Read by the service, passed in as data.
    pub notices: Vec<Notice>,
}

/// A running announcement about a knowledge-base article.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notice {
    pub article_id: String,
    pub title: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub input: Input,
    pub channel: String,
    pub user: UserContext,
    pub now: DateTime<Utc>,
    /// The roll-out mode for this client and channel.
    pub gate: Gate,
}

/// A candidate offered by "did you mean" (`suggest`) or a clarification (`clarify`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub intent: String,
    /// The article's title (or the service's name) shown on the button.
    pub title: String,
}

/// The candidates among a turn's buttons: `intent:` and `article:` payloads (an article's
/// intent has the article's id), for the outcomes that offer them.
pub fn suggestions_of(outcome: &str, replies: &[Reply]) -> Vec<Suggestion> {
    if !matches!(outcome, "suggest" | "clarify") {
        return Vec::new();
    }
    replies
        .iter()
        .flat_map(|r| &r.buttons)
        .filter_map(|b| {
            let intent = b
                .payload
                .strip_prefix("intent:")
                .or_else(|| b.payload.strip_prefix("article:"))?;
            Some(Suggestion {
                intent: intent.to_string(),
                title: b.label.clone(),
            })
        })
        .collect()
}

/// What a turn asks the world to do. The service writes these in the turn's transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Open a service request; the service allocates the reference and replaces
    /// `REFERENCE_PLACEHOLDER` in the replies with it.
    OpenRequest {
        service: String,
        inputs: BTreeMap<String, String>,
        priority: Priority,
        due_at: DateTime<Utc>,
    },
    /// The client side of the SPA: how supplying the inputs went.
    InputCollection {
        service: String,
        started_at: DateTime<Utc>,
        outcome: CollectionOutcome,
        complete_first_attempt: bool,
        reprompts: u32,
        missing_inputs: u32,
        /// The request this collection opened (its reference is the allocated one).
        opened_request: bool,
    },
    Escalate {
        reason: String,
        priority: Priority,
        /// The request this escalation is about (`REFERENCE_PLACEHOLDER` for the one opened now).
        request_reference: Option<String>,
        due_at: DateTime<Utc>,
        /// Shadow mode: the bot's draft, for the manager to approve, edit or replace.
        draft: Option<Box<Draft>>,
    },
    SendSurvey {
        cause: String,
        expires_at: DateTime<Utc>,
        /// The request whose completion it asks about.
        request: Option<String>,
    },
    /// The client answered the SSO's question about a request.
    ClientAnswer {
        reference: String,
        question: String,
        text: String,
    },
    SurveyAnswer {
        score: Option<u8>,
        comment: Option<String>,
    },
    KnowledgeGap {
        kind: GapKind,
        text: String,
        intent: Option<String>,
        confidence: Option<f32>,
    },
    /// One billable interaction for the recharge ledger.
    Recharge {
        interaction: String,
        reference: Option<String>,
    },
}

/// The result of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub state: State,
    pub replies: Vec<Reply>,
    pub effects: Vec<Effect>,
    pub intent: Option<String>,
    pub confidence: f32,
    pub outcome: Outcome,
    /// The message arrived outside the client's coverage hours.
    pub off_hours: bool,
    /// The message was understood afresh (a new question or a menu press), not taken as the
    /// answer to what the conversation had asked: what a roll-out mode holds back.
    pub fresh: bool,
}
