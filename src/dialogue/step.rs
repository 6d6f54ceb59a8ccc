//! The step function: the dispatch of an event over the conversation's state, and the routing
//! of a fresh message (a button, free text, an intent) to its flow. The flows live in their own
//! modules — `answer` (FAQ, clarify, suggest, fallback), `request` (SPA inputs → service
//! requests), `survey`, `escalate`, `status` (status, greetings, process questions), `acts`
//! (requests to do and asks for a person, read before the engine's answer) — and hand back
//! a [`Next`] rather than calling back into this dispatch, so they stay below it.

use chrono::Duration;

use super::cx::{Cx, Next};
use super::words::{is_urgent, pick};
use super::{
    CollectionOutcome, Effect, Event, Input, ManagerEvent, Outcome, Priority, State, Step,
};
use super::{acts, answer, escalate, progress, request, rollout, status, survey};
use crate::config::DialogueSettings;
use crate::domain::EscalationAction;
use crate::engine::{Classification, Decision};
use crate::knowledge::{Action, Knowledge};
use crate::policy::calendar::in_coverage;

/// One turn of the dialogue. Pure: the same state, event and knowledge give the same step.
///
/// A client's message is answered as if the bot were live, and the roll-out's gate then
/// decides what of that answer the client gets (all of it, a holding reply while their
/// account manager reviews it as a draft, or the SSO's contacts).
pub fn step(state: State, event: &Event, k: &Knowledge, settings: &DialogueSettings) -> Step {
    let client_speaks = matches!(event.input, Input::Text(_) | Input::Button(_));
    if !client_speaks || event.gate == super::Gate::Live {
        return run(state, event, k, settings);
    }
    let from = state.clone();
    let live = run(state, event, k, settings);
    rollout::gate(from, live, event, k)
}

/// The turn as the live bot takes it.
fn run(state: State, event: &Event, k: &Knowledge, settings: &DialogueSettings) -> Step {
    let coverage = k.coverage_for(event.user.client.as_deref(), None);
    let mut cx = Cx {
        event,
        k,
        settings,
        replies: Vec::new(),
        effects: Vec::new(),
        intent: None,
        confidence: 0.0,
        outcome: Outcome::Answered,
        off_hours: !in_coverage(coverage, event.now),
        fresh: false,
    };
    // Not the client speaking: news from their manager or about their request, which never
    // expires or answers what the client was doing.
    let told = match &event.input {
        Input::Manager(m) => Some(on_manager(state.clone(), m, &mut cx)),
        Input::Request(n) => Some(progress::on_notice(state.clone(), n, &mut cx)),
        _ => None,
    };
    if let Some(next) = told {
        return Step {
            state: next,
            replies: cx.replies,
            effects: cx.effects,
            intent: cx.intent,
            confidence: 1.0,
            outcome: cx.outcome,
            off_hours: cx.off_hours,
            fresh: false,
        };
    }
    let state = expire(state, &mut cx);
    let next = match state {
        State::CollectingInputs(form) => request::on_form_input(form, &mut cx),
        State::Confirming(form) => request::on_confirm(form, &mut cx),
        State::AwaitingAnswerFeedback {
            article,
            question,
            alternatives,
            offered_alternatives,
            ..
        } => {
            let next = answer::on_answer_feedback(
                &mut cx,
                article,
                question,
                alternatives,
                offered_alternatives,
            );
            follow(&mut cx, next)
        }
        State::Clarifying {
            question, options, ..
        } => {
            let next = answer::on_clarify(&mut cx, question, options);
            follow(&mut cx, next)
        }
        State::OfferingEscalation { reason, .. } => {
            let next = escalate::on_escalation_offer(&mut cx, &reason);
            follow(&mut cx, next)
        }
        State::Survey { cause, expires_at } => match survey::on_survey(&mut cx, &cause, expires_at)
        {
            // Not an answer: the survey stays open (and expires) while the new message is
            // handled.
            Next::Afresh => match on_idle(&mut cx, 0) {
                State::Idle { .. } => State::Survey { cause, expires_at },
                other => other,
            },
            next => follow(&mut cx, next),
        },
        State::SurveyComment { .. } => {
            let next = survey::on_survey_comment(&mut cx);
            follow(&mut cx, next)
        }
        State::AnsweringRequest {
            reference,
            question,
            since,
        } => {
            let next = progress::on_answer(&mut cx, &reference, &question, since);
            follow(&mut cx, next)
        }
        State::Idle { fallbacks } => on_idle(&mut cx, fallbacks),
    };
    Step {
        state: next,
        replies: cx.replies,
        effects: cx.effects,
        intent: cx.intent,
        confidence: cx.confidence,
        outcome: cx.outcome,
        off_hours: cx.off_hours,
        fresh: cx.fresh,
    }
}

/// Where a flow said the conversation goes next.
fn follow(cx: &mut Cx, next: Next) -> State {
    match next {
        Next::State(state) => state,
        Next::Afresh => on_idle(cx, 0),
        Next::Intent { name, question } => handle_intent(cx, &name, &question, None),
    }
}

/// Close what has waited too long: ignored surveys expire, abandoned forms are recorded.
fn expire(state: State, cx: &mut Cx) -> State {
    let now = cx.now();
    let idle = Duration::minutes(i64::from(cx.settings.idle_timeout_minutes));
    match state {
        State::Survey { expires_at, .. } | State::SurveyComment { expires_at, .. }
            if now >= expires_at =>
        {
            State::default()
        }
        State::CollectingInputs(form) | State::Confirming(form) if now - form.since >= idle => {
            let missing = request::missing_required(cx.k, &form);
            cx.effects.push(Effect::InputCollection {
                service: form.service.clone(),
                started_at: form.started_at,
                outcome: CollectionOutcome::Expired,
                complete_first_attempt: false,
                reprompts: form.reprompts,
                missing_inputs: missing,
                opened_request: false,
            });
            let name =
                cx.k.services
                    .get(&form.service)
                    .map(|s| s.name.clone())
                    .unwrap_or(form.service);
            cx.say(format!(
                "Your earlier {name} request wasn't finished, so I closed it. You can start again any time."
            ));
            State::default()
        }
        State::AwaitingAnswerFeedback { since, .. }
        | State::Clarifying { since, .. }
        | State::OfferingEscalation { since, .. }
            if now - since >= idle =>
        {
            State::default()
        }
        other => other,
    }
}

/// Global buttons work in any state (a stale button from earlier in the conversation too).
fn on_button(cx: &mut Cx, payload: &str, fallbacks: u8) -> State {
    if let Some(name) = payload.strip_prefix("intent:") {
        if cx.k.intents.contains_key(name) {
            return handle_intent(cx, name, "", None);
        }
    } else if let Some(id) = payload.strip_prefix("service:") {
        if cx.k.services.contains_key(id) {
            return request::start_form(cx, id, "", false);
        }
    } else if let Some(id) = payload.strip_prefix("inputs:") {
        if let Some(service) = cx.k.services.get(id) {
            status::describe_inputs(cx, service);
            return State::default();
        }
    } else if payload == "escalate" {
        return escalate::escalate(cx, "user_request", Priority::Normal, None);
    } else if payload == "menu" {
        answer::help_menu(cx, "Here's what I can help with:");
        return State::default();
    }
    cx.outcome = Outcome::Smalltalk;
    cx.say("That question has closed. What can I help you with?");
    State::Idle { fallbacks }
}

fn on_idle(cx: &mut Cx, fallbacks: u8) -> State {
    cx.fresh = matches!(cx.event.input, Input::Text(_) | Input::Button(_));
    match &cx.event.input {
        Input::Button(p) => {
            let p = p.clone();
            on_button(cx, &p, fallbacks)
        }
        Input::Text(t) => {
            let t = t.clone();
            understand(cx, &t, fallbacks)
        }
        // Handled before any state is looked at (see `step`).
        Input::Manager(_) | Input::Request(_) => State::Idle { fallbacks },
    }
}

/// The account manager's action, relayed. It never disturbs what the user is doing (a form
/// half-filled stays half-filled); a resolution asks for the pulse survey when the user is
/// free to answer it.
fn on_manager(state: State, m: &ManagerEvent, cx: &mut Cx) -> State {
    use EscalationAction as A;
    let name = &m.manager;
    match m.action {
        A::Reply => {
            cx.outcome = Outcome::ManagerReply;
            let text = m.text.as_deref().unwrap_or_default();
            cx.say(format!(
                "**{name}** (your account manager) replied:\n\n{text}"
            ));
            state
        }
        A::Acknowledge => {
            cx.outcome = Outcome::ManagerAcknowledged;
            cx.say(format!(
                "{name} has picked up your escalation and will get back to you."
            ));
            state
        }
        A::Resolve => {
            cx.say(format!("{name} has marked your escalation as resolved."));
            let next = match state {
                State::Idle { .. }
                | State::AwaitingAnswerFeedback { .. }
                | State::Clarifying { .. }
                | State::OfferingEscalation { .. } => {
                    survey::open_survey(cx, "escalation_resolved", false)
                }
                busy => busy,
            };
            cx.outcome = Outcome::ManagerResolved;
            next
        }
        A::Approve => rollout::approve(state, m, cx, run),
    }
}

/// Classify free text and act on it.
fn understand(cx: &mut Cx, text: &str, fallbacks: u8) -> State {
    // Asking for a person wins over whatever topic the message names (the topic goes with it).
    if let Some(next) = acts::ask_for_person(cx, text) {
        return next;
    }
    let c = cx.k.engine.classify(text);
    cx.confidence = c.confidence;
    if let Some(next) = acts::request_to_do(cx, text, &c) {
        return next;
    }
    match c.decision.clone() {
        Decision::Intent(name) => handle_intent(cx, &name, text, Some(&c)),
        Decision::Clarify(a, b) => {
            if answer::same_article(cx.k, &a, &b) {
                return handle_intent(cx, &a, text, Some(&c));
            }
            answer::clarify(cx, text, a, b)
        }
        Decision::Suggest(options) => answer::suggest(cx, text, options, &c, fallbacks),
        Decision::Fallback => {
            let top = c.ranked.first().map(|s| s.intent.clone());
            answer::fallback(cx, text, top, c.confidence, fallbacks)
        }
    }
}

fn handle_intent(cx: &mut Cx, name: &str, text: &str, c: Option<&Classification>) -> State {
    let Some(intent) = cx.k.intents.get(name) else {
        return State::default();
    };
    cx.intent = Some(name.to_string());
    if c.is_none() {
        cx.confidence = 1.0;
    }
    let urgent = is_urgent(text);
    match intent.action.clone() {
        Action::Article(id) => answer::answer_article(cx, &id, text, c, false),
        Action::Service(id) => request::start_form(cx, &id, text, urgent),
        Action::Status => {
            status::status(cx, c);
            State::default()
        }
        Action::Escalate => escalate::escalate(
            cx,
            if urgent {
                "urgent_request"
            } else {
                "user_request"
            },
            if urgent {
                Priority::Urgent
            } else {
                Priority::Normal
            },
            None,
        ),
        Action::Feedback => survey::open_survey(cx, "feedback", true),
        Action::Help => {
            cx.outcome = Outcome::Smalltalk;
            answer::help_menu(cx, "I'm the Shared Services assistant.");
            State::default()
        }
        Action::Greeting => {
            cx.outcome = Outcome::Smalltalk;
            status::greet(cx, intent.replies.clone(), text);
            State::default()
        }
        Action::Smalltalk | Action::Thanks | Action::Goodbye => {
            cx.outcome = Outcome::Smalltalk;
            let reply = pick(&intent.replies, text)
                .cloned()
                .unwrap_or_else(|| "Happy to help.".into());
            cx.say(reply);
            State::default()
        }
        Action::Process(q) => {
            status::process_question(cx, q, text);
            State::default()
        }
        // The engine never picks this intent; only a hand-made `intent:` button payload
        // reaches here, and it gets the same answer as an off-topic question.
        Action::OutOfScope => answer::fallback(cx, text, Some(name.to_string()), 0.0, 0),
    }
}
