//! The pulse survey: a score from 1 to 5 (a low one alerts the account manager), then an
//! optional comment.

use chrono::{DateTime, Duration, Utc};

use super::cx::{Cx, Next};
use super::escalate::escalation_due;
use super::words::{is_cancel, text_of};
use super::{Button, Effect, GapKind, Input, Outcome, Priority, State};
use crate::engine::Decision;
use crate::knowledge::{Action, Knowledge};

/// Survey scores at or below this alert the account manager.
const LOW_SCORE: u8 = 2;

pub(super) fn open_survey(cx: &mut Cx, cause: &str, asked: bool) -> State {
    survey_about(cx, cause, asked, None)
}

/// The survey after a request is completed, tied to it (and so to its service in the KPIs).
/// The same fatigue rule as any other unasked survey.
pub(super) fn open_request_survey(cx: &mut Cx, reference: &str) -> State {
    survey_about(cx, "request_done", false, Some(reference))
}

fn survey_about(cx: &mut Cx, cause: &str, asked: bool, request: Option<&str>) -> State {
    if cx.event.user.surveyed_recently && !asked {
        return State::default();
    }
    cx.outcome = Outcome::Survey;
    let expires_at = cx.now() + Duration::hours(i64::from(cx.settings.survey_expiry_hours));
    cx.effects.push(Effect::SendSurvey {
        cause: cause.to_string(),
        expires_at,
        request: request.map(str::to_string),
    });
    cx.ask(
        "How would you rate your experience today? (1 = poor, 5 = excellent)",
        (1..=5)
            .map(|n| Button::new(n.to_string(), format!("survey:{n}")))
            .collect(),
    );
    State::Survey {
        cause: cause.to_string(),
        expires_at,
    }
}

/// A score, or `Next::Afresh` when the message is not one (the dispatch then keeps the survey
/// open while it handles the message).
pub(super) fn on_survey(cx: &mut Cx, cause: &str, expires_at: DateTime<Utc>) -> Next {
    let input = text_of(&cx.event.input);
    let score = input
        .strip_prefix("survey:")
        .unwrap_or(input)
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|s| (1..=5).contains(s));
    let Some(score) = score else {
        return Next::Afresh;
    };
    cx.outcome = Outcome::Survey;
    cx.effects.push(Effect::SurveyAnswer {
        score: Some(score),
        comment: None,
    });
    let mut text = "Thank you for the feedback!".to_string();
    if score <= LOW_SCORE {
        cx.effects.push(Effect::KnowledgeGap {
            kind: GapKind::LowScore,
            text: format!("survey score {score} ({cause})"),
            intent: None,
            confidence: None,
        });
        if let Some(who) = cx.primary_manager_name() {
            let due = escalation_due(cx, Priority::Normal);
            cx.effects.push(Effect::Escalate {
                reason: "low_survey_score".into(),
                priority: Priority::Normal,
                request_reference: None,
                due_at: due,
                draft: None,
            });
            text = format!(
                "Sorry we fell short. I've asked {who}, your account manager, to follow up with you."
            );
        }
    }
    cx.ask(
        format!("{text} Is there anything we could do better? Type a comment, or press Skip."),
        vec![Button::new("Skip", "skip")],
    );
    Next::State(State::SurveyComment { score, expires_at })
}

/// Is this text a request of its own ("help", "my requests", "talk to a human") rather than a
/// survey comment? Only a confident, non-chit-chat intent counts, so real comments stay comments.
fn is_request(k: &Knowledge, text: &str) -> bool {
    let c = k.engine.classify(text);
    match c.decision {
        Decision::Intent(name) if c.confidence >= 0.8 => k.intents.get(&name).is_some_and(|i| {
            matches!(
                i.action,
                Action::Help | Action::Status | Action::Escalate | Action::Service(_)
            )
        }),
        _ => false,
    }
}

pub(super) fn on_survey_comment(cx: &mut Cx) -> Next {
    match &cx.event.input {
        Input::Button(p) if p == "skip" => {
            cx.outcome = Outcome::Survey;
            cx.say("Thanks! Anything else I can help with?");
            Next::State(State::default())
        }
        Input::Text(t) if !t.trim().ends_with('?') && !is_cancel(t) && !is_request(cx.k, t) => {
            cx.outcome = Outcome::Survey;
            cx.effects.push(Effect::SurveyAnswer {
                score: None,
                comment: Some(t.trim().chars().take(2000).collect()),
            });
            cx.say("Thank you, your comment has been passed to the team.");
            Next::State(State::default())
        }
        _ => Next::Afresh,
    }
}
