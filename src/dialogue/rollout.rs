//! The roll-out's gate: what of the live bot's answer a client gets, by the mode of their
//! client on this channel, and what an account manager's approval of a draft sends.
//!
//! ```text
//! (shadow) user: how do I reset my password
//!          bot:  Thanks — Priya Shah at Shared Services will answer you here shortly.
//!          (Priya's ping carries the draft: the password article, intent, confidence)
//!          Priya: [Approve]
//!          bot:  **Reset a forgotten or expired password** ... Did this answer your question?
//! ```
//!
//! Only a fresh message is held back. An answer to what the conversation asked — a form's
//! next input, "Did this answer your question?", a survey — goes on as the live bot would
//! take it: the manager approved the step that asked, and the rest of that flow is the
//! mechanics they approved. A message asking for a person goes straight through too: it is
//! the manager's already.

use super::cx::Cx;
use super::{Draft, Effect, Event, Gate, Input, ManagerEvent, Outcome, Priority, State, Step};
use crate::config::DialogueSettings;
use crate::knowledge::{Action, Knowledge};
use crate::policy::calendar::format_local;

/// The reason a shadow-mode escalation carries (the ping and the back office show it).
pub const SHADOW_REASON: &str = "shadow";
/// The ledger's interaction for a message answered by a person in shadow mode (priced by the
/// rate card, like any other).
pub const SHADOWED_INTERACTION: &str = "shadowed";

pub(super) fn gate(from: State, live: Step, event: &Event, k: &Knowledge) -> Step {
    let Some(client) = event.user.client.as_deref().and_then(|c| k.clients.get(c)) else {
        return live;
    };
    match &event.gate {
        Gate::Live => live,
        Gate::Off => off(from, live, client),
        Gate::Shadow if goes_through(&live) => live,
        Gate::Shadow => shadow(from, live, event, k),
        Gate::Pilot {
            intents,
            domains,
            whole_conversation,
        } => {
            if *whole_conversation || goes_through(&live) || in_pilot(&live, k, intents, domains) {
                live
            } else {
                shadow(from, live, event, k)
            }
        }
    }
}

/// Not held back in shadow or pilot mode: a continuation, or an ask for a person.
fn goes_through(live: &Step) -> bool {
    !live.fresh || live.outcome == Outcome::Escalated
}

/// The pilot answers its intents and domains — when the bot was sure enough to answer (a
/// "did you mean" between a pilot intent and another is not the pilot's).
fn in_pilot(live: &Step, k: &Knowledge, intents: &[String], domains: &[String]) -> bool {
    if matches!(
        live.outcome,
        Outcome::Clarify | Outcome::Suggest | Outcome::Fallback
    ) {
        return false;
    }
    let Some(name) = live.intent.as_deref() else {
        return false;
    };
    if intents.iter().any(|i| i == name) {
        return true;
    }
    let domain = match k.intents.get(name).map(|i| &i.action) {
        Some(Action::Article(id)) => k.articles.get(id).map(|a| a.category.as_str()),
        Some(Action::Service(id)) => k.services.get(id).map(|s| s.team.as_str()),
        _ => None,
    };
    domain.is_some_and(|d| domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
}

/// Off: the SSO's people, from the client file; the message is logged, nothing else happens.
fn off(from: State, live: Step, client: &crate::knowledge::Client) -> Step {
    let people: Vec<String> = client
        .managers
        .iter()
        .map(|m| format!("{} ({})", m.name, m.email))
        .collect();
    let text = format!(
        "The Shared Services assistant isn't available for {} here yet. Your account team will help you directly: {}.",
        client.name,
        people.join(" or ")
    );
    Step {
        state: from,
        replies: vec![super::Reply::text(text)],
        effects: Vec::new(),
        intent: live.intent,
        confidence: live.confidence,
        outcome: Outcome::RolloutOff,
        off_hours: live.off_hours,
        fresh: live.fresh,
    }
}

/// Shadow: a holding reply; the live answer goes to the account manager as a draft. The
/// knowledge gaps the answer found are kept (they are about the question, not the answer).
fn shadow(from: State, live: Step, event: &Event, k: &Knowledge) -> Step {
    let (question, pressed) = match &event.input {
        Input::Text(t) => (t.clone(), false),
        Input::Button(p) => (p.clone(), true),
        Input::Manager(_) | Input::Request(_) => (String::new(), false),
    };
    let draft = Draft {
        question,
        pressed,
        intent: live.intent.clone(),
        confidence: live.confidence,
        outcome: live.outcome,
        replies: live.replies.clone(),
        from: from.clone(),
    };
    let due = due_at(event, k);
    let coverage = k.coverage_for(event.user.client.as_deref(), None);
    let who = event
        .user
        .client
        .as_deref()
        .and_then(|c| k.clients.get(c))
        .and_then(|c| {
            c.managers
                .iter()
                .find(|m| m.role == "primary")
                .or_else(|| c.managers.first())
        })
        .map(|m| m.name.clone())
        .unwrap_or_else(|| "your account manager".into());
    let text = format!(
        "Thanks — {who} at Shared Services will answer you here, by {} at the latest.",
        format_local(coverage.timezone, due)
    );
    let mut effects: Vec<Effect> = live
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::KnowledgeGap { .. }))
        .cloned()
        .collect();
    effects.push(Effect::Escalate {
        reason: SHADOW_REASON.into(),
        priority: Priority::Normal,
        request_reference: None,
        due_at: due,
        draft: Some(Box::new(draft)),
    });
    effects.push(Effect::Recharge {
        interaction: SHADOWED_INTERACTION.into(),
        reference: None,
    });
    Step {
        state: from,
        replies: vec![super::Reply::text(text)],
        effects,
        intent: live.intent,
        confidence: live.confidence,
        outcome: Outcome::Shadowed,
        off_hours: live.off_hours,
        fresh: live.fresh,
    }
}

/// An answer is due as an escalation's is (business hours of the client's coverage).
fn due_at(event: &Event, k: &Knowledge) -> chrono::DateTime<chrono::Utc> {
    let hours = k.organisation.escalation_response_hours;
    crate::policy::calendar::due_at(
        k.coverage_for(event.user.client.as_deref(), None),
        crate::knowledge::Turnaround::BusinessHours(hours),
        event.now,
    )
}

/// How the live bot takes a turn (`step.rs`'s, passed in: the dispatch imports this module,
/// not the other way round).
pub(super) type Live = fn(State, &Event, &Knowledge, &DialogueSettings) -> Step;

/// The manager approved the escalation's draft: edited, their text; unchanged, the bot takes
/// the client's message now as it would live — when that still is the draft — else the
/// draft's words as written. Charges nothing more (the shadowed message was charged) and
/// finds no gap the draft did not.
pub(super) fn approve(state: State, m: &ManagerEvent, cx: &mut Cx, live: Live) -> State {
    cx.outcome = Outcome::DraftSent;
    if let Some(text) = &m.text {
        cx.say(text.clone());
        return state;
    }
    let Some(draft) = &m.draft else {
        return state;
    };
    cx.intent = draft.intent.clone();
    if state == draft.from {
        let event = Event {
            input: if draft.pressed {
                Input::Button(draft.question.clone())
            } else {
                Input::Text(draft.question.clone())
            },
            gate: Gate::Live,
            ..cx.event.clone()
        };
        let now = live(state.clone(), &event, cx.k, cx.settings);
        let same = now.replies.len() == draft.replies.len()
            && now
                .replies
                .iter()
                .zip(&draft.replies)
                .all(|(a, b)| a.text == b.text);
        if same {
            cx.replies.extend(now.replies);
            cx.effects.extend(
                now.effects.into_iter().filter(|e| {
                    !matches!(e, Effect::Recharge { .. } | Effect::KnowledgeGap { .. })
                }),
            );
            return now.state;
        }
    }
    cx.replies.extend(draft.replies.iter().cloned());
    state
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::dialogue::step;
    use crate::domain::EscalationAction;

    fn knowledge() -> Knowledge {
        Knowledge::load(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            crate::engine::EngineConfig::default(),
        )
        .unwrap()
    }

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
    }

    fn event(input: Input, gate: Gate, now: &str) -> Event {
        Event {
            input,
            channel: "web".into(),
            user: crate::dialogue::UserContext {
                name: Some("Ann Lee".into()),
                client: Some("ACME".into()),
                ..Default::default()
            },
            now: at(now),
            gate,
        }
    }

    /// The draft of "how do I reset my password", and the shadowed step that carries it.
    fn shadowed(k: &Knowledge) -> (Step, Draft) {
        let s = step(
            State::default(),
            &event(
                Input::Text("how do I reset my password".into()),
                Gate::Shadow,
                "2026-11-24T10:00:00Z",
            ),
            k,
            &DialogueSettings::default(),
        );
        let draft = s
            .effects
            .iter()
            .find_map(|e| match e {
                Effect::Escalate { draft: Some(d), .. } => Some((**d).clone()),
                _ => None,
            })
            .expect("a draft");
        (s, draft)
    }

    fn approval(draft: &Draft, text: Option<&str>) -> Event {
        event(
            Input::Manager(ManagerEvent {
                escalation_id: 1,
                action: EscalationAction::Approve,
                manager: "Priya Shah".into(),
                text: text.map(str::to_string),
                draft: Some(Box::new(draft.clone())),
            }),
            Gate::Live,
            // Two hours later: the approved answer is dated now, not when it was drafted.
            "2026-11-24T12:00:00Z",
        )
    }

    #[test]
    fn approved_unchanged_the_bot_answers_now_as_it_would_live_without_charging_again() {
        let k = knowledge();
        let (held, draft) = shadowed(&k);
        assert_eq!(held.state, State::default(), "nothing moves while held");
        let sent = step(
            held.state,
            &approval(&draft, None),
            &k,
            &DialogueSettings::default(),
        );
        assert_eq!(sent.outcome, Outcome::DraftSent);
        let texts: Vec<_> = sent.replies.iter().map(|r| r.text.clone()).collect();
        let drafted: Vec<_> = draft.replies.iter().map(|r| r.text.clone()).collect();
        assert_eq!(texts, drafted);
        match sent.state {
            State::AwaitingAnswerFeedback { since, .. } => {
                assert_eq!(since, at("2026-11-24T12:00:00Z"))
            }
            other => panic!("{other:?}"),
        }
        assert!(
            !sent
                .effects
                .iter()
                .any(|e| matches!(e, Effect::Recharge { .. })),
            "the shadowed question was charged once: {:?}",
            sent.effects
        );
    }

    #[test]
    fn approved_after_the_conversation_moved_on_the_drafts_words_go_and_nothing_moves() {
        let k = knowledge();
        let (_, draft) = shadowed(&k);
        let elsewhere = State::OfferingEscalation {
            reason: "fallback".into(),
            since: at("2026-11-24T11:00:00Z"),
        };
        let sent = step(
            elsewhere.clone(),
            &approval(&draft, None),
            &k,
            &DialogueSettings::default(),
        );
        assert_eq!(sent.state, elsewhere);
        assert_eq!(sent.replies, draft.replies);
        assert!(sent.effects.is_empty());
    }

    #[test]
    fn an_edited_draft_sends_the_managers_words() {
        let k = knowledge();
        let (held, draft) = shadowed(&k);
        let sent = step(
            held.state.clone(),
            &approval(&draft, Some("Use id.example/reset, then call 4444.")),
            &k,
            &DialogueSettings::default(),
        );
        assert_eq!(sent.replies.len(), 1);
        assert_eq!(
            sent.replies[0].text,
            "Use id.example/reset, then call 4444."
        );
        assert_eq!(sent.state, held.state);
    }

    #[test]
    fn a_pilot_share_runs_the_whole_conversation_live() {
        let k = knowledge();
        let gate = Gate::Pilot {
            intents: vec![],
            domains: vec![],
            whole_conversation: true,
        };
        let s = step(
            State::default(),
            &event(
                Input::Text("how do I claim expenses".into()),
                gate,
                "2026-11-24T10:00:00Z",
            ),
            &k,
            &DialogueSettings::default(),
        );
        assert_eq!(s.outcome, Outcome::Answered);
    }
}
