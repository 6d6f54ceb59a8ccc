//! A service request's progress, told to the client in their conversation: picked up,
//! information needed (and the client's next message taken as the answer), done (then the pulse
//! survey), cancelled, reopened.
//!
//! The change itself was validated and computed by the request lifecycle
//! (`policy::lifecycle`) before this turn; the service commits it with the turn, so what the
//! client is told and what the request records cannot disagree.

use chrono::{DateTime, Duration, Utc};

use super::cx::{Cx, Next};
use super::survey;
use super::{Effect, Input, Outcome, RequestNotice, State};
use crate::domain::RequestStatus;

/// The request's news, said without disturbing what the client is doing (a half-filled form
/// stays half-filled); a question waits for the client's answer, and completion asks for the
/// survey, when the client is free to answer.
pub(super) fn on_notice(state: State, n: &RequestNotice, cx: &mut Cx) -> State {
    cx.outcome = Outcome::RequestUpdate;
    let what = format!("**{}** ({})", n.reference, n.service);
    let note = n.note.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let free = matches!(
        state,
        State::Idle { .. }
            | State::AwaitingAnswerFeedback { .. }
            | State::Clarifying { .. }
            | State::OfferingEscalation { .. }
            | State::AnsweringRequest { .. }
    );
    match n.status {
        RequestStatus::InProgress if n.resumed => {
            cx.say(format!("{} is working on {what} again.", n.team));
            state
        }
        RequestStatus::InProgress => {
            let mut text = format!("Good news: {} has picked up {what}.", n.team);
            if let Some(due) = &n.due {
                text.push_str(&format!(" It is due by {due}."));
            }
            if let Some(note) = note {
                text.push_str(&format!("\n\n{note}"));
            }
            cx.say(text);
            state
        }
        RequestStatus::WaitingForClient => {
            let question = note.unwrap_or("Please get in touch with them about it.");
            cx.say(format!(
                "{} needs some information to carry on with {what}:\n\n> {question}\n\nJust reply here and I'll add your answer to the request.",
                n.team
            ));
            if free {
                State::AnsweringRequest {
                    reference: n.reference.clone(),
                    question: question.to_string(),
                    since: cx.now(),
                }
            } else {
                state
            }
        }
        RequestStatus::Done => {
            let mut text = format!("{what} is done.");
            if let Some(note) = note {
                text.push_str(&format!(" {} says:\n\n{note}", n.team));
            }
            cx.say(text);
            if free {
                survey::open_request_survey(cx, &n.reference)
            } else {
                state
            }
        }
        RequestStatus::Cancelled => {
            let mut text = format!("{what} was cancelled.");
            if let Some(note) = note {
                text.push_str(&format!(" Reason: {note}"));
            }
            text.push_str(" If you still need it, just ask me to open a new request.");
            cx.say(text);
            state
        }
        RequestStatus::Reopened => {
            cx.say(format!(
                "{what} has been reopened; {} is looking at it again.",
                n.team
            ));
            state
        }
        RequestStatus::Open => state,
    }
}

/// The client's next message after a question about their request is their answer: it goes to
/// the request (and restarts the SSO's clock). Buttons, and a message sent after the question
/// has gone stale, are handled afresh.
pub(super) fn on_answer(
    cx: &mut Cx,
    reference: &str,
    question: &str,
    since: DateTime<Utc>,
) -> Next {
    let text = match &cx.event.input {
        Input::Text(t) => t.trim().to_string(),
        _ => return Next::Afresh,
    };
    // Days later the client is more likely to be asking something new than answering.
    if text.is_empty() || cx.now() - since > Duration::days(14) {
        return Next::Afresh;
    }
    cx.outcome = Outcome::RequestUpdate;
    cx.effects.push(Effect::ClientAnswer {
        reference: reference.to_string(),
        question: question.to_string(),
        text,
    });
    cx.say(format!(
        "Thanks, I've added that to **{reference}** and let the team know."
    ));
    Next::State(State::default())
}
