//! Bringing in the account manager: the offer, the escalation itself, and when its answer is
//! due (business hours of the client's coverage).

use chrono::{DateTime, Utc};

use super::cx::{Cx, Next};
use super::words::{is_no, is_yes, text_of};
use super::{Effect, Outcome, Priority, State};
use crate::knowledge::Turnaround;
use crate::policy::calendar::{due_at, format_local};

pub(super) fn escalation_due(cx: &Cx, priority: Priority) -> DateTime<Utc> {
    let hours = match priority {
        Priority::Urgent => cx.k.organisation.urgent_response_hours,
        Priority::Normal => cx.k.organisation.escalation_response_hours,
    };
    due_at(
        cx.coverage(None),
        Turnaround::BusinessHours(hours),
        cx.now(),
    )
}

pub(super) fn escalate(
    cx: &mut Cx,
    reason: &str,
    priority: Priority,
    request_reference: Option<String>,
) -> State {
    escalate_about(cx, reason, priority, request_reference, None)
}

/// Escalate; `topic` (an article's title) is what the user's message was about, said back to
/// them so they know the manager was told.
pub(super) fn escalate_about(
    cx: &mut Cx,
    reason: &str,
    priority: Priority,
    request_reference: Option<String>,
    topic: Option<&str>,
) -> State {
    let Some(client) = cx.client() else {
        cx.outcome = Outcome::Answered;
        cx.say("I can't reach an account manager without knowing your business unit. Please use the chat on your intranet home page, or email the SSO service desk.");
        return State::default();
    };
    let who = cx
        .primary_manager_name()
        .unwrap_or_else(|| "your account manager".into());
    let due = escalation_due(cx, priority);
    cx.outcome = Outcome::Escalated;
    cx.effects.push(Effect::Escalate {
        reason: reason.to_string(),
        priority,
        request_reference,
        due_at: due,
        draft: None,
    });
    cx.effects.push(Effect::Recharge {
        interaction: "escalation".into(),
        reference: None,
    });
    let hours = match priority {
        Priority::Urgent => cx.k.organisation.urgent_response_hours,
        Priority::Normal => cx.k.organisation.escalation_response_hours,
    };
    let tz = cx.coverage(None).timezone;
    let mut text = format!(
        "I've passed this to {who}, {}'s account manager{}{}. You'll hear back by {} (within {}).",
        client.name,
        if priority == Priority::Urgent {
            ", marked **urgent**"
        } else {
            ""
        },
        topic.map(|t| format!(", about *{t}*")).unwrap_or_default(),
        format_local(tz, due),
        Turnaround::BusinessHours(hours).label()
    );
    if let Some(note) = cx.off_hours_note(None) {
        text.push_str(&format!(" {note}"));
    }
    cx.say(text);
    State::default()
}

pub(super) fn on_escalation_offer(cx: &mut Cx, reason: &str) -> Next {
    let input = text_of(&cx.event.input).to_string();
    if input == "escalate" || is_yes(&input) {
        return Next::State(escalate(cx, reason, Priority::Normal, None));
    }
    if is_no(&input) {
        cx.outcome = Outcome::Smalltalk;
        cx.say("No problem. Ask me anything else whenever you like.");
        return Next::State(State::default());
    }
    Next::Afresh
}
