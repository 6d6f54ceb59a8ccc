//! FAQ answers and what happens around them: the article and "did this answer your question?",
//! the clarification between two close intents, "did you mean…?" suggestions when the engine is
//! not sure, and the fallback with its help menu.

use super::cx::{Cx, Next};
use super::escalate::escalate;
use super::request::offered;
use super::survey::open_survey;
use super::words::{is_no, is_yes, text_of};
use super::{Button, Effect, GapKind, Input, Outcome, Priority, State};
use crate::engine::Classification;
use crate::knowledge::{Action, Knowledge};

/// Confidence under which an answer is still given but logged as a knowledge gap.
const LOW_CONFIDENCE: f32 = 0.5;

/// Runner-up articles above this confidence are offered after "No": the floor of the "did you
/// mean" band (`app::DEFAULT_SUGGEST_THRESHOLD`), since both offer the engine's next guesses.
/// It was 0.05; with the content vocabulary the top answer is surer and the runners-up of
/// "when do I get paid this month" (month-end close 0.047, accruals 0.043) fell under it.
const ALTERNATIVE_FLOOR: f32 = 0.02;

/// Whether two intents give the same article (then there is nothing to choose between).
pub(super) fn same_article(k: &Knowledge, a: &str, b: &str) -> bool {
    article_of(k, a).is_some() && article_of(k, a) == article_of(k, b)
}

/// "Did you mean A or B?": two intents too close to call.
pub(super) fn clarify(cx: &mut Cx, text: &str, a: String, b: String) -> State {
    cx.intent = Some(a.clone());
    cx.outcome = Outcome::Clarify;
    let options = vec![a, b];
    let mut buttons: Vec<Button> = options
        .iter()
        .map(|o| Button::new(intent_label(cx.k, o), format!("intent:{o}")))
        .collect();
    buttons.push(Button::new("Something else", "something_else"));
    cx.ask("Did you mean one of these?", buttons);
    State::Clarifying {
        question: text.to_string(),
        options,
        since: cx.now(),
    }
}

/// "Did you mean...?": the engine was not sure enough to answer, but its best candidates are
/// worth a tap. One button per distinct answer (two intents of one article are one button),
/// then "None of these", which goes on as a fallback does.
pub(super) fn suggest(
    cx: &mut Cx,
    text: &str,
    options: Vec<String>,
    c: &Classification,
    fallbacks: u8,
) -> State {
    let mut seen: Vec<String> = Vec::new();
    let options: Vec<String> = options
        .into_iter()
        .filter(|o| {
            let answer = article_of(cx.k, o).unwrap_or_else(|| o.clone());
            let offerable = cx.k.intents.get(o).is_some_and(|i| {
                matches!(
                    i.action,
                    Action::Article(_) | Action::Service(_) | Action::Process(_) | Action::Status
                )
            });
            let new = !seen.contains(&answer);
            seen.push(answer);
            offerable && new
        })
        .collect();
    if options.is_empty() {
        let top = c.ranked.first().map(|s| s.intent.clone());
        return fallback(cx, text, top, c.confidence, fallbacks);
    }
    cx.intent = options.first().cloned();
    cx.outcome = Outcome::Suggest;
    cx.effects.push(Effect::KnowledgeGap {
        kind: GapKind::Suggested,
        text: text.to_string(),
        intent: options.first().cloned(),
        confidence: Some(c.confidence),
    });
    let mut buttons: Vec<Button> = options
        .iter()
        .map(|o| Button::new(intent_label(cx.k, o), format!("intent:{o}")))
        .collect();
    buttons.push(Button::new("None of these", "something_else"));
    cx.ask(
        "I'm not sure I understood. Did you mean one of these?",
        buttons,
    );
    State::Clarifying {
        question: text.to_string(),
        options,
        since: cx.now(),
    }
}

/// No answer. `top` is the engine's best guess (the out-of-scope intent when the question
/// looked off-topic), kept with the knowledge gap.
pub(super) fn fallback(
    cx: &mut Cx,
    text: &str,
    top: Option<String>,
    confidence: f32,
    fallbacks: u8,
) -> State {
    cx.outcome = Outcome::Fallback;
    cx.intent = None;
    cx.effects.push(Effect::KnowledgeGap {
        kind: GapKind::Fallback,
        text: text.to_string(),
        intent: top,
        confidence: Some(confidence),
    });
    let fallbacks = fallbacks.saturating_add(1);
    if fallbacks >= 2 && cx.client().is_some() {
        let who = cx
            .primary_manager_name()
            .unwrap_or_else(|| "your account manager".into());
        cx.ask(
            format!("I'm still not able to help with that. Shall I bring in {who}, your account manager?"),
            vec![Button::new(format!("Yes, contact {who}"), "escalate"), Button::new("No thanks", "no")],
        );
        return State::OfferingEscalation {
            reason: "repeated_fallback".into(),
            since: cx.now(),
        };
    }
    help_menu(
        cx,
        "Sorry, I don't know the answer to that. I can help with finance, HR, IT and procurement questions, open service requests and check their status.",
    );
    State::Idle { fallbacks }
}

pub(super) fn help_menu(cx: &mut Cx, intro: &str) {
    let mut buttons = Vec::new();
    for action in [Action::Status, Action::Escalate] {
        if let Some(i) = cx.k.intents.values().find(|i| i.action == action) {
            let label = match action {
                Action::Status => "My requests",
                _ => "Talk to a person",
            };
            buttons.push(Button::new(label, format!("intent:{}", i.name)));
        }
    }
    let categories: Vec<String> = {
        let mut c: Vec<String> = cx.k.articles.values().map(|a| a.category.clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    let services: Vec<String> =
        cx.k.services
            .values()
            .take(4)
            .map(|s| s.name.to_lowercase())
            .collect();
    cx.ask(
        format!(
            "{intro}\n\nTry asking about {}, or say what you need, e.g. {}.",
            categories.join(", "),
            services
                .iter()
                .map(|s| format!("*{s}*"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        buttons,
    );
}

pub(super) fn article_of(k: &Knowledge, intent: &str) -> Option<String> {
    match &k.intents.get(intent)?.action {
        Action::Article(a) => Some(a.clone()),
        _ => None,
    }
}

pub(super) fn intent_label(k: &Knowledge, intent: &str) -> String {
    if let Some(a) = article_of(k, intent).and_then(|a| k.articles.get(&a)) {
        return a.title.clone();
    }
    match k.intents.get(intent) {
        Some(i) => match &i.action {
            Action::Service(s) => k
                .services
                .get(s)
                .map(|s| format!("Request: {}", s.name))
                .unwrap_or_else(|| i.description.clone()),
            _ if !i.description.is_empty() => i.description.clone(),
            _ => i.name.replace(['_', '-'], " "),
        },
        None => intent.to_string(),
    }
}

pub(super) fn answer_article(
    cx: &mut Cx,
    id: &str,
    question: &str,
    c: Option<&Classification>,
    offered_alternatives: bool,
) -> State {
    let client = cx.client_code().map(str::to_string);
    let Some(article) = cx.k.article_visible(id, client.as_deref()) else {
        cx.outcome = Outcome::Fallback;
        cx.say(
            "That guidance isn't available for your business unit. Your account manager can help.",
        );
        cx.effects.push(Effect::KnowledgeGap {
            kind: GapKind::Fallback,
            text: question.to_string(),
            intent: Some(id.to_string()),
            confidence: c.map(|c| c.confidence),
        });
        return State::default();
    };
    cx.outcome = Outcome::Answered;
    let mut text = format!("**{}**\n\n{}", article.title, article.body);
    // What the SSO announced about this topic and is still running (a changed cut-off date,
    // planned downtime) belongs next to the standing guidance.
    for n in cx.event.user.notices.iter().filter(|n| n.article_id == id) {
        text.push_str(&format!("\n\nAnnouncement: **{}** {}", n.title, n.text));
    }
    cx.say(text);
    let mut buttons = vec![Button::new("Yes", "yes"), Button::new("No", "no")];
    // The article's topic has a service this user can open: one tap starts its form (the
    // `service:` button, which works from any state).
    if let Some(service) = &article.service
        && offered(cx, service)
    {
        buttons.push(Button::new("Start a request", format!("service:{service}")));
    }
    cx.ask("Did this answer your question?", buttons);
    cx.effects.push(Effect::Recharge {
        interaction: "self_service_answer".into(),
        reference: None,
    });
    if let Some(c) = c
        && c.confidence < LOW_CONFIDENCE
    {
        cx.effects.push(Effect::KnowledgeGap {
            kind: GapKind::LowConfidence,
            text: question.to_string(),
            intent: Some(id.to_string()),
            confidence: Some(c.confidence),
        });
    }
    let alternatives: Vec<String> = c
        .map(|c| {
            c.ranked
                .iter()
                .filter(|s| s.confidence >= ALTERNATIVE_FLOOR)
                .filter_map(|s| article_of(cx.k, &s.intent))
                .filter(|a| a != id && cx.k.article_visible(a, client.as_deref()).is_some())
                .take(2)
                .collect()
        })
        .unwrap_or_default();
    State::AwaitingAnswerFeedback {
        article: id.to_string(),
        question: question.to_string(),
        alternatives,
        offered_alternatives,
        since: cx.now(),
    }
}

pub(super) fn on_answer_feedback(
    cx: &mut Cx,
    article: String,
    question: String,
    alternatives: Vec<String>,
    offered_alternatives: bool,
) -> Next {
    let input = text_of(&cx.event.input).to_string();
    if is_yes(&input) {
        cx.intent = Some(article.clone());
        cx.confidence = 1.0;
        cx.say("Great, glad that helped!");
        return Next::State(open_survey(cx, "self_service", false));
    }
    if is_no(&input) {
        cx.intent = Some(article.clone());
        cx.confidence = 1.0;
        cx.effects.push(Effect::KnowledgeGap {
            kind: GapKind::NotHelpful,
            text: question.clone(),
            intent: Some(article.clone()),
            confidence: None,
        });
        if offered_alternatives || alternatives.is_empty() {
            if offered_alternatives {
                return Next::State(escalate(cx, "not_helpful", Priority::Normal, None));
            }
            cx.outcome = Outcome::Prompt;
            let who = cx
                .primary_manager_name()
                .unwrap_or_else(|| "a person from the SSO".into());
            cx.ask(
                format!("Sorry about that. Would you like me to pass your question to {who}?"),
                vec![
                    Button::new("Yes, please", "escalate"),
                    Button::new("No thanks", "no"),
                ],
            );
            return Next::State(State::OfferingEscalation {
                reason: "not_helpful".into(),
                since: cx.now(),
            });
        }
        cx.outcome = Outcome::Clarify;
        let mut buttons: Vec<Button> = alternatives
            .iter()
            .filter_map(|a| cx.k.articles.get(a))
            .map(|a| Button::new(a.title.clone(), format!("article:{}", a.id)))
            .collect();
        buttons.push(Button::new("Talk to a person", "escalate"));
        cx.ask("Sorry about that. Is it one of these?", buttons);
        return Next::State(State::AwaitingAnswerFeedback {
            article,
            question,
            alternatives,
            offered_alternatives: true,
            since: cx.now(),
        });
    }
    if let Some(next) = input.strip_prefix("article:")
        && matches!(cx.event.input, Input::Button(_))
    {
        cx.intent = Some(next.to_string());
        cx.confidence = 1.0;
        return Next::State(answer_article(cx, next, &question, None, true));
    }
    Next::Afresh
}

pub(super) fn on_clarify(cx: &mut Cx, question: String, options: Vec<String>) -> Next {
    match &cx.event.input {
        Input::Button(p) if p == "something_else" => {
            cx.outcome = Outcome::Fallback;
            cx.effects.push(Effect::KnowledgeGap {
                kind: GapKind::Fallback,
                text: question,
                intent: options.first().cloned(),
                confidence: None,
            });
            cx.say("Could you tell me a bit more, in other words? For example, what you're trying to do and which system it's about.");
            Next::State(State::Idle { fallbacks: 1 })
        }
        Input::Button(p) if p.starts_with("intent:") => {
            let name = p.trim_start_matches("intent:").to_string();
            if !cx.k.intents.contains_key(&name) {
                return Next::Afresh;
            }
            // "asked X, chose Y": the knowledge gaps show it, and one command makes the
            // question an example of the chosen intent.
            if options.contains(&name) {
                cx.effects.push(Effect::KnowledgeGap {
                    kind: GapKind::SuggestionChosen,
                    text: question.clone(),
                    intent: Some(name.clone()),
                    confidence: None,
                });
            }
            Next::Intent { name, question }
        }
        _ => Next::Afresh,
    }
}
