//! Messages that ask the bot to *act*, read before the engine's answer is taken at its word:
//!
//! - a request to do ("I need to set up a new vendor", "can you open a PO for us") whose topic
//!   has a service starts that service's form, instead of showing the article about it (the
//!   article is for "how do I set up a vendor");
//! - an ask for a person ("this is urgent, payroll is wrong and I need a human now") escalates
//!   even when the message also names a topic; the topic goes with the escalation, so the
//!   account manager's ping says what it is about, and urgency makes it urgent.

use super::answer::intent_label;
use super::cx::Cx;
use super::escalate::escalate_about;
use super::request::start_form;
use super::words::{asks_for_person, is_request_to_do, is_urgent, is_urgent_ask, without_urgency};
use super::{Priority, State};
use crate::engine::{Classification, Decision};
use crate::knowledge::{Action, Knowledge};

/// The service an intent leads to: its own (a request intent), or its article's.
fn service_of(k: &Knowledge, intent: &str) -> Option<String> {
    match &k.intents.get(intent)?.action {
        Action::Service(s) => Some(s.clone()),
        Action::Article(a) => k.articles.get(a)?.service.clone(),
        _ => None,
    }
}

/// "I need to set up a new vendor": the engine found the vendor article, whose topic has a
/// service, and the message asks for it to be done, so the form starts. `None` leaves the
/// message to the engine's answer: a question about how, an intent with no service, a user
/// of no known business unit (no form can be opened for them; the article says how it is
/// done), or an engine not sure enough to answer. A service outside the client's SPA is
/// started too: `start_form` says so and offers the account manager, as for a request intent.
pub(super) fn request_to_do(cx: &mut Cx, text: &str, c: &Classification) -> Option<State> {
    let service = match &c.decision {
        // A request intent starts its form anyway (`handle_intent`).
        Decision::Intent(name) if matches!(cx.k.intents.get(name)?.action, Action::Article(_)) => {
            service_of(cx.k, name)?
        }
        // The article and the request form of one service are one answer to a request to do.
        Decision::Clarify(a, b) => {
            let s = service_of(cx.k, a)?;
            (service_of(cx.k, b).as_deref() == Some(s.as_str())).then_some(s)?
        }
        _ => return None,
    };
    if !is_request_to_do(text) || cx.client().is_none() {
        return None;
    }
    // Named after the request intent when there is one, as when the engine picks it.
    cx.intent =
        cx.k.intents
            .values()
            .find(|i| i.action == Action::Service(service.clone()))
            .map(|i| i.name.clone());
    Some(start_form(cx, &service, text, is_urgent(text)))
}

/// "Let me speak to someone about my expenses": escalate, with what the rest of the message is
/// about. `None` when the message does not ask for a person.
pub(super) fn ask_for_person(cx: &mut Cx, text: &str) -> Option<State> {
    let asked = asks_for_person(text)?;
    // The rest of the message, without the ask and the urgency, is what it is about. (A
    // regex match's bounds are character boundaries, so the slices cannot panic.)
    let rest = format!("{} {}", &text[..asked.start], &text[asked.end..]);
    let topic = topic_of(cx, &without_urgency(&rest));
    let urgent = is_urgent_ask(text);
    let (code, priority) = if urgent {
        ("urgent_request", Priority::Urgent)
    } else {
        ("user_request", Priority::Normal)
    };
    cx.intent =
        cx.k.intents
            .values()
            .find(|i| i.action == Action::Escalate)
            .map(|i| i.name.clone());
    cx.confidence = 1.0;
    let reason = match &topic {
        Some((intent, label)) => format!("{code}: {label} [{intent}]"),
        None => code.to_string(),
    };
    let label = topic.map(|(_, label)| label);
    Some(escalate_about(
        cx,
        &reason,
        priority,
        None,
        label.as_deref(),
    ))
}

/// The engine's best answer for `text`, as (intent, title), when it is an answer about a topic
/// (an article or a request form) the user may see. Suggestions count: the manager reads the
/// topic, so a likely one is worth more than none.
fn topic_of(cx: &Cx, text: &str) -> Option<(String, String)> {
    // "I need a human" leaves "I": nothing to be about, and the engine would still rank
    // something. A topic needs a word that is not the ask's own filler.
    if !has_content(text) {
        return None;
    }
    let c = cx.k.engine.classify(text);
    let name = match c.decision {
        Decision::Intent(n) | Decision::Clarify(n, _) => n,
        Decision::Suggest(options) => options.into_iter().next()?,
        Decision::Fallback => return None,
    };
    let visible = match &cx.k.intents.get(&name)?.action {
        Action::Article(a) => cx.k.article_visible(a, cx.client_code()).is_some(),
        Action::Service(_) => true,
        _ => false,
    };
    visible.then(|| {
        let label = intent_label(cx.k, &name);
        (name, label)
    })
}

/// Some word of three letters or more that is not filler around an ask for a person.
fn has_content(text: &str) -> bool {
    const FILLER: &[&str] = &[
        "the",
        "and",
        "but",
        "for",
        "this",
        "that",
        "these",
        "with",
        "about",
        "please",
        "pls",
        "need",
        "want",
        "would",
        "like",
        "let",
        "can",
        "could",
        "you",
        "someone",
        "somebody",
        "just",
        "really",
        "get",
        "its",
        "was",
        "are",
        "our",
        "your",
        "hey",
        "hello",
        "thanks",
        "thank",
        "help",
        "here",
        "there",
        "right",
        "now",
        "again",
        "someone's",
        "i'm",
        "i've",
    ];
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .any(|w| w.chars().count() > 2 && !FILLER.contains(&w))
}
