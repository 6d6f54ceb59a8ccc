//! Messages that ask the bot to *act*, read before the engine's answer is taken at its word:
//! a request to do ("I need to set up a new vendor", "can you open a PO for us") whose topic
//! has a service starts that service's form, instead of showing the article about it (the
//! article is for "how do I set up a vendor").

use super::State;
use super::cx::Cx;
use super::request::start_form;
use super::words::{is_request_to_do, is_urgent};
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
