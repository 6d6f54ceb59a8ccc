//! The step function and the flows: FAQ answers, clarification, fallback, SPA inputs → service
//! requests, status, escalation, surveys, process questions.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use regex::Regex;

use super::calendar::{due_at, format_local, in_coverage, next_coverage_start};
use super::forms;
use super::{
    Button, Effect, Event, Form, Input, Outcome, Priority, REFERENCE_PLACEHOLDER, Reply, State,
    Step,
};
use crate::config::DialogueSettings;
use crate::engine::{Classification, Decision};
use crate::knowledge::{
    Action, Client, Coverage, InputKind, Knowledge, Process, ProcessQuestion, Service, Turnaround,
};

/// Confidence under which an answer is still given but logged as a knowledge gap.
const LOW_CONFIDENCE: f32 = 0.5;
/// Runner-up articles above this confidence are offered after "No": the floor of the "did you
/// mean" band (`app::DEFAULT_SUGGEST_THRESHOLD`), since both offer the engine's next guesses.
/// It was 0.05; with the content vocabulary the top answer is surer and the runners-up of
/// "when do I get paid this month" (month-end close 0.047, accruals 0.043) fell under it.
const ALTERNATIVE_FLOOR: f32 = 0.02;
/// Survey scores at or below this alert the account manager.
const LOW_SCORE: u8 = 2;

static URGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(urgent(ly)?|asap|a\.s\.a\.p|as soon as possible|emergency|critical|immediately|right away|deadline (is )?today|due today|by (the )?end of (the )?day|eod|payroll (is |runs |deadline )?(today|tomorrow)|(today|tomorrow)'?s? payroll)\b",
    )
    .expect("static regex")
});

static LEADING_GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(hello|hi there|hi|hey|good (morning|afternoon|evening))\s*[!,.]\s*")
        .expect("static regex")
});

/// Is the message urgent (cognizance: "urgent", "asap", "payroll tomorrow")?
pub fn is_urgent(text: &str) -> bool {
    URGENT.is_match(text)
}

struct Cx<'a> {
    event: &'a Event,
    k: &'a Knowledge,
    settings: &'a DialogueSettings,
    replies: Vec<Reply>,
    effects: Vec<Effect>,
    intent: Option<String>,
    confidence: f32,
    outcome: Outcome,
    off_hours: bool,
}

impl<'a> Cx<'a> {
    fn now(&self) -> DateTime<Utc> {
        self.event.now
    }
    fn client(&self) -> Option<&'a Client> {
        self.event
            .user
            .client
            .as_deref()
            .and_then(|c| self.k.clients.get(c))
    }
    fn client_code(&self) -> Option<&str> {
        self.event.user.client.as_deref()
    }
    fn coverage(&self, service: Option<&'a Service>) -> &'a Coverage {
        self.k.coverage_for(self.client_code(), service)
    }
    fn say(&mut self, text: impl Into<String>) {
        self.replies.push(Reply::text(text));
    }
    fn ask(&mut self, text: impl Into<String>, buttons: Vec<Button>) {
        self.replies.push(Reply::with_buttons(text, buttons));
    }
    fn primary_manager_name(&self) -> Option<String> {
        self.client().and_then(|c| {
            c.managers
                .iter()
                .find(|m| m.role == "primary")
                .or_else(|| c.managers.first())
                .map(|m| m.name.clone())
        })
    }
    fn off_hours_note(&self, service: Option<&Service>) -> Option<String> {
        if !self.off_hours {
            return None;
        }
        let coverage = self.coverage(service);
        let from = next_coverage_start(coverage, self.now());
        let whose = self
            .client()
            .map(|c| format!("{}'s", c.name))
            .unwrap_or_else(|| "our".to_string());
        Some(format!(
            "It's outside {whose} coverage hours ({}), so the team will pick this up from {}.",
            coverage.label(),
            format_local(coverage.timezone, from)
        ))
    }
}

/// One turn of the dialogue. Pure: the same state, event and knowledge give the same step.
pub fn step(state: State, event: &Event, k: &Knowledge, settings: &DialogueSettings) -> Step {
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
    };
    if let Input::Manager(m) = &event.input {
        let next = on_manager(state, m, &mut cx);
        return Step {
            state: next,
            replies: cx.replies,
            effects: cx.effects,
            intent: cx.intent,
            confidence: 1.0,
            outcome: cx.outcome,
            off_hours: cx.off_hours,
        };
    }
    let state = expire(state, &mut cx);
    let next = match state {
        State::CollectingInputs(form) => on_form_input(form, &mut cx),
        State::Confirming(form) => on_confirm(form, &mut cx),
        State::AwaitingAnswerFeedback {
            article,
            question,
            alternatives,
            offered_alternatives,
            since,
        } => on_answer_feedback(
            &mut cx,
            article,
            question,
            alternatives,
            offered_alternatives,
            since,
        ),
        State::Clarifying {
            question, options, ..
        } => on_clarify(&mut cx, question, options),
        State::OfferingEscalation { reason, since } => on_escalation_offer(&mut cx, reason, since),
        State::Survey { cause, expires_at } => on_survey(&mut cx, cause, expires_at),
        State::SurveyComment { score, expires_at } => on_survey_comment(&mut cx, score, expires_at),
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
            let missing = missing_required(cx.k, &form);
            cx.effects.push(Effect::InputCollection {
                service: form.service.clone(),
                started_at: form.started_at,
                outcome: "expired".into(),
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

fn text_of(input: &Input) -> &str {
    match input {
        Input::Text(t) => t,
        Input::Button(p) => p,
        Input::Manager(_) => "",
    }
}

fn normalized(s: &str) -> String {
    s.trim()
        .trim_end_matches(['.', '!', '?'])
        .trim()
        .to_lowercase()
}

fn is_yes(s: &str) -> bool {
    matches!(
        normalized(s).as_str(),
        "yes"
            | "y"
            | "yeah"
            | "yep"
            | "yup"
            | "sure"
            | "ok"
            | "okay"
            | "correct"
            | "confirm"
            | "it did"
            | "yes it did"
            | "yes thanks"
            | "yes, thanks"
            | "that's right"
            | "right"
    )
}

fn is_no(s: &str) -> bool {
    matches!(
        normalized(s).as_str(),
        "no" | "n"
            | "nope"
            | "nah"
            | "not really"
            | "it didn't"
            | "no it didn't"
            | "no, it didn't"
            | "didn't help"
            | "that didn't help"
    )
}

fn is_cancel(s: &str) -> bool {
    matches!(
        normalized(s).as_str(),
        "cancel"
            | "stop"
            | "quit"
            | "abort"
            | "never mind"
            | "nevermind"
            | "forget it"
            | "cancel request"
            | "cancel that"
    )
}

/// Global buttons work in any state (a stale button from earlier in the conversation too).
fn on_button(cx: &mut Cx, payload: &str, fallbacks: u8) -> State {
    if let Some(name) = payload.strip_prefix("intent:") {
        if cx.k.intents.contains_key(name) {
            return handle_intent(cx, name, "", None);
        }
    } else if let Some(id) = payload.strip_prefix("service:") {
        if cx.k.services.contains_key(id) {
            return start_form(cx, id, "", false);
        }
    } else if let Some(id) = payload.strip_prefix("inputs:") {
        if let Some(service) = cx.k.services.get(id) {
            describe_inputs(cx, service);
            return State::default();
        }
    } else if payload == "escalate" {
        return escalate(cx, "user_request", Priority::Normal, None);
    } else if payload == "menu" {
        help_menu(cx, "Here's what I can help with:");
        return State::default();
    }
    cx.outcome = Outcome::Smalltalk;
    cx.say("That question has closed. What can I help you with?");
    State::Idle { fallbacks }
}

fn on_idle(cx: &mut Cx, fallbacks: u8) -> State {
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
        Input::Manager(_) => State::Idle { fallbacks },
    }
}

/// The account manager's action, relayed. It never disturbs what the user is doing (a form
/// half-filled stays half-filled); a resolution asks for the pulse survey when the user is
/// free to answer it.
fn on_manager(state: State, m: &super::ManagerEvent, cx: &mut Cx) -> State {
    use crate::store::EscalationAction as A;
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
                | State::OfferingEscalation { .. } => open_survey(cx, "escalation_resolved", false),
                busy => busy,
            };
            cx.outcome = Outcome::ManagerResolved;
            next
        }
    }
}

/// Classify free text and act on it.
fn understand(cx: &mut Cx, text: &str, fallbacks: u8) -> State {
    let c = cx.k.engine.classify(text);
    cx.confidence = c.confidence;
    match c.decision.clone() {
        Decision::Intent(name) => handle_intent(cx, &name, text, Some(&c)),
        Decision::Clarify(a, b) => {
            let same_article =
                article_of(cx.k, &a).is_some() && article_of(cx.k, &a) == article_of(cx.k, &b);
            if same_article {
                return handle_intent(cx, &a, text, Some(&c));
            }
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
        Decision::Suggest(options) => suggest(cx, text, options, &c, fallbacks),
        Decision::Fallback => {
            let top = c.ranked.first().map(|s| s.intent.clone());
            fallback(cx, text, top, c.confidence, fallbacks)
        }
    }
}

/// "Did you mean...?": the engine was not sure enough to answer, but its best candidates are
/// worth a tap. One button per distinct answer (two intents of one article are one button),
/// then "None of these", which goes on as a fallback does.
fn suggest(
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
        kind: "suggested".into(),
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
fn fallback(cx: &mut Cx, text: &str, top: Option<String>, confidence: f32, fallbacks: u8) -> State {
    cx.outcome = Outcome::Fallback;
    cx.intent = None;
    cx.effects.push(Effect::KnowledgeGap {
        kind: "fallback".into(),
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

fn help_menu(cx: &mut Cx, intro: &str) {
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

fn article_of(k: &Knowledge, intent: &str) -> Option<String> {
    match &k.intents.get(intent)?.action {
        Action::Article(a) => Some(a.clone()),
        _ => None,
    }
}

fn intent_label(k: &Knowledge, intent: &str) -> String {
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

/// Deterministic pick among canned replies (a hash of the text, not a random number).
fn pick<'s>(options: &'s [String], text: &str) -> Option<&'s String> {
    if options.is_empty() {
        return None;
    }
    let h = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    options.get((h % options.len() as u64) as usize)
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
        Action::Article(id) => answer_article(cx, &id, text, c, false),
        Action::Service(id) => start_form(cx, &id, text, urgent),
        Action::Status => {
            status(cx, c);
            State::default()
        }
        Action::Escalate => escalate(
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
        Action::Feedback => open_survey(cx, "feedback", true),
        Action::Help => {
            cx.outcome = Outcome::Smalltalk;
            help_menu(cx, "I'm the Shared Services assistant.");
            State::default()
        }
        Action::Greeting => {
            cx.outcome = Outcome::Smalltalk;
            greet(cx, intent.replies.clone(), text);
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
            process_question(cx, q, text);
            State::default()
        }
        // The engine never picks this intent; only a hand-made `intent:` button payload
        // reaches here, and it gets the same answer as an off-topic question.
        Action::OutOfScope => fallback(cx, text, Some(name.to_string()), 0.0, 0),
    }
}

fn greet(cx: &mut Cx, replies: Vec<String>, text: &str) {
    let user = &cx.event.user;
    let hello = match (&user.name, user.returning) {
        (Some(n), true) => format!("Welcome back, {}!", first_name(n)),
        (Some(n), false) => format!("Hello {}!", first_name(n)),
        (None, _) => "Hello!".to_string(),
    };
    let body = pick(&replies, text)
        .cloned()
        .unwrap_or_else(|| "How can I help today?".into());
    // The content's greeting may open with its own "Hello!": one is enough.
    let body = LEADING_GREETING.replace(&body, "");
    let mut msg = format!("{hello} {body}");
    let open: Vec<_> = user
        .requests
        .iter()
        .filter(|r| is_open(&r.status))
        .collect();
    if !open.is_empty() {
        let tz = cx.coverage(None).timezone;
        let list: Vec<String> = open
            .iter()
            .take(3)
            .map(|r| {
                format!(
                    "**{}** ({}, due {})",
                    r.reference,
                    r.service,
                    format_local(tz, r.due_at)
                )
            })
            .collect();
        msg.push_str(&format!(
            "\n\nYou have {} open request{}: {}.",
            open.len(),
            if open.len() == 1 { "" } else { "s" },
            list.join(", ")
        ));
    }
    cx.say(msg);
}

fn first_name(n: &str) -> &str {
    n.split_whitespace().next().unwrap_or(n)
}

fn is_open(status: &str) -> bool {
    status == "open" || status == "in_progress"
}

fn answer_article(
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
            kind: "fallback".into(),
            text: question.to_string(),
            intent: Some(id.to_string()),
            confidence: c.map(|c| c.confidence),
        });
        return State::default();
    };
    cx.outcome = Outcome::Answered;
    cx.say(format!("**{}**\n\n{}", article.title, article.body));
    cx.ask(
        "Did this answer your question?",
        vec![Button::new("Yes", "yes"), Button::new("No", "no")],
    );
    cx.effects.push(Effect::Recharge {
        interaction: "self_service_answer".into(),
        reference: None,
    });
    if let Some(c) = c
        && c.confidence < LOW_CONFIDENCE
    {
        cx.effects.push(Effect::KnowledgeGap {
            kind: "low_confidence".into(),
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

fn on_answer_feedback(
    cx: &mut Cx,
    article: String,
    question: String,
    alternatives: Vec<String>,
    offered_alternatives: bool,
    since: DateTime<Utc>,
) -> State {
    let input = text_of(&cx.event.input).to_string();
    if is_yes(&input) {
        cx.intent = Some(article.clone());
        cx.confidence = 1.0;
        cx.say("Great, glad that helped!");
        return open_survey(cx, "self_service", false);
    }
    if is_no(&input) {
        cx.intent = Some(article.clone());
        cx.confidence = 1.0;
        cx.effects.push(Effect::KnowledgeGap {
            kind: "not_helpful".into(),
            text: question.clone(),
            intent: Some(article.clone()),
            confidence: None,
        });
        if offered_alternatives || alternatives.is_empty() {
            if offered_alternatives {
                return escalate(cx, "not_helpful", Priority::Normal, None);
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
            return State::OfferingEscalation {
                reason: "not_helpful".into(),
                since: cx.now(),
            };
        }
        cx.outcome = Outcome::Clarify;
        let mut buttons: Vec<Button> = alternatives
            .iter()
            .filter_map(|a| cx.k.articles.get(a))
            .map(|a| Button::new(a.title.clone(), format!("article:{}", a.id)))
            .collect();
        buttons.push(Button::new("Talk to a person", "escalate"));
        cx.ask("Sorry about that. Is it one of these?", buttons);
        return State::AwaitingAnswerFeedback {
            article,
            question,
            alternatives,
            offered_alternatives: true,
            since: cx.now(),
        };
    }
    if let Some(next) = input.strip_prefix("article:")
        && matches!(cx.event.input, Input::Button(_))
    {
        cx.intent = Some(next.to_string());
        cx.confidence = 1.0;
        return answer_article(cx, next, &question, None, true);
    }
    let _ = since;
    on_idle(cx, 0)
}

fn on_clarify(cx: &mut Cx, question: String, options: Vec<String>) -> State {
    match &cx.event.input {
        Input::Button(p) if p == "something_else" => {
            cx.outcome = Outcome::Fallback;
            cx.effects.push(Effect::KnowledgeGap {
                kind: "fallback".into(),
                text: question,
                intent: options.first().cloned(),
                confidence: None,
            });
            cx.say("Could you tell me a bit more, in other words? For example, what you're trying to do and which system it's about.");
            State::Idle { fallbacks: 1 }
        }
        Input::Button(p) if p.starts_with("intent:") => {
            let name = p.trim_start_matches("intent:").to_string();
            if !cx.k.intents.contains_key(&name) {
                return on_idle(cx, 0);
            }
            // "asked X, chose Y": the knowledge gaps show it, and one command makes the
            // question an example of the chosen intent.
            if options.contains(&name) {
                cx.effects.push(Effect::KnowledgeGap {
                    kind: "suggestion_chosen".into(),
                    text: question.clone(),
                    intent: Some(name.clone()),
                    confidence: None,
                });
            }
            handle_intent(cx, &name, &question, None)
        }
        _ => on_idle(cx, 0),
    }
}

fn on_escalation_offer(cx: &mut Cx, reason: String, since: DateTime<Utc>) -> State {
    let _ = since;
    let input = text_of(&cx.event.input).to_string();
    if input == "escalate" || is_yes(&input) {
        return escalate(cx, &reason, Priority::Normal, None);
    }
    if is_no(&input) {
        cx.outcome = Outcome::Smalltalk;
        cx.say("No problem. Ask me anything else whenever you like.");
        return State::default();
    }
    on_idle(cx, 0)
}

fn open_survey(cx: &mut Cx, cause: &str, asked: bool) -> State {
    if cx.event.user.surveyed_recently && !asked {
        return State::default();
    }
    cx.outcome = Outcome::Survey;
    let expires_at = cx.now() + Duration::hours(i64::from(cx.settings.survey_expiry_hours));
    cx.effects.push(Effect::SendSurvey {
        cause: cause.to_string(),
        expires_at,
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

fn on_survey(cx: &mut Cx, cause: String, expires_at: DateTime<Utc>) -> State {
    let input = text_of(&cx.event.input);
    let score = input
        .strip_prefix("survey:")
        .unwrap_or(input)
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|s| (1..=5).contains(s));
    let Some(score) = score else {
        // Not an answer: the survey stays open (and expires) while the new message is handled.
        let next = on_idle(cx, 0);
        return match next {
            State::Idle { .. } => State::Survey { cause, expires_at },
            other => other,
        };
    };
    cx.outcome = Outcome::Survey;
    cx.effects.push(Effect::SurveyAnswer {
        score: Some(score),
        comment: None,
    });
    let mut text = "Thank you for the feedback!".to_string();
    if score <= LOW_SCORE {
        cx.effects.push(Effect::KnowledgeGap {
            kind: "low_score".into(),
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
    State::SurveyComment { score, expires_at }
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

fn on_survey_comment(cx: &mut Cx, score: u8, expires_at: DateTime<Utc>) -> State {
    let _ = (score, expires_at);
    match &cx.event.input {
        Input::Button(p) if p == "skip" => {
            cx.outcome = Outcome::Survey;
            cx.say("Thanks! Anything else I can help with?");
            State::default()
        }
        Input::Text(t) if !t.trim().ends_with('?') && !is_cancel(t) && !is_request(cx.k, t) => {
            cx.outcome = Outcome::Survey;
            cx.effects.push(Effect::SurveyAnswer {
                score: None,
                comment: Some(t.trim().chars().take(2000).collect()),
            });
            cx.say("Thank you, your comment has been passed to the team.");
            State::default()
        }
        _ => on_idle(cx, 0),
    }
}

// ---------------------------------------------------------------------------------------------
// Service requests: the SPA inputs.

fn missing_required(k: &Knowledge, form: &Form) -> u32 {
    k.services
        .get(&form.service)
        .map(|s| {
            s.inputs
                .iter()
                .filter(|i| i.required && !form.values.contains_key(&i.name))
                .count() as u32
        })
        .unwrap_or(0)
}

fn start_form(cx: &mut Cx, service_id: &str, text: &str, urgent: bool) -> State {
    let Some(service) = cx.k.services.get(service_id) else {
        return State::default();
    };
    cx.intent.get_or_insert_with(|| service_id.to_string());
    let Some(client) = cx.client() else {
        cx.outcome = Outcome::Answered;
        cx.say(format!(
            "To open a {} request I need to know which business unit you're with. Please use the chat on your intranet home page, or link your account, and ask again.",
            service.name.to_lowercase()
        ));
        return State::default();
    };
    if let Some(list) = &client.spa.services
        && !list.iter().any(|s| s == service_id)
    {
        cx.outcome = Outcome::Answered;
        cx.ask(
            format!(
                "{} isn't part of {}'s Service Partnership Agreement. Your account manager can discuss adding it.",
                service.name, client.name
            ),
            vec![Button::new("Contact my account manager", "escalate")],
        );
        return State::default();
    }
    let now = cx.now();
    let tz = cx.coverage(Some(service)).timezone;
    let mut values = BTreeMap::new();
    if !text.is_empty() {
        for input in &service.inputs {
            if let Some(v) = forms::extract(input, text, now, tz) {
                values.insert(input.name.clone(), v);
            }
        }
    }
    let mut intro = format!(
        "I can open a **{}** request for you. {} commits to completing it within {}.",
        service.name,
        service.team,
        service.turnaround.label()
    );
    if !values.is_empty() {
        let got: Vec<String> = service
            .inputs
            .iter()
            .filter_map(|i| {
                values
                    .get(&i.name)
                    .map(|v| format!("{}: {v}", label_of(&i.name)))
            })
            .collect();
        intro.push_str(&format!(" I already have {}.", got.join("; ")));
    }
    intro.push_str(" You can say *why* at any question, *back* to change the previous answer, or *cancel* to stop.");
    cx.say(intro);
    let form = Form {
        service: service_id.to_string(),
        values,
        skipped: Vec::new(),
        asking: None,
        reprompts: 0,
        first_attempt_ok: true,
        urgent,
        started_at: now,
        since: now,
    };
    ask_next(cx, form)
}

fn label_of(name: &str) -> String {
    let s = name.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

fn prompt_for(cx: &mut Cx, service: &Service, input_name: &str, prefix: Option<String>) {
    let Some(input) = service.inputs.iter().find(|i| i.name == input_name) else {
        return;
    };
    let mut text = input.prompt.clone();
    if !input.required {
        text.push_str(" (optional)");
    }
    if let Some(p) = prefix {
        text = format!("{p}\n\n{text}");
    }
    let mut buttons: Vec<Button> = match &input.kind {
        InputKind::Choice { choices } => choices
            .iter()
            .map(|c| Button::new(c.clone(), format!("choice:{c}")))
            .collect(),
        _ => Vec::new(),
    };
    if !input.required {
        buttons.push(Button::new("Skip", "skip"));
    }
    cx.ask(text, buttons);
}

/// Ask for the next missing input, or show the summary when none is left.
fn ask_next(cx: &mut Cx, mut form: Form) -> State {
    let Some(service) = cx.k.services.get(&form.service) else {
        return State::default();
    };
    let next = service
        .inputs
        .iter()
        .find(|i| !form.values.contains_key(&i.name) && !form.skipped.contains(&i.name))
        .map(|i| i.name.clone());
    form.since = cx.now();
    match next {
        Some(name) => {
            cx.outcome = Outcome::Prompt;
            prompt_for(cx, service, &name, None);
            form.asking = Some(name);
            State::CollectingInputs(form)
        }
        None => {
            form.asking = None;
            cx.outcome = Outcome::Prompt;
            let lines: Vec<String> = service
                .inputs
                .iter()
                .filter_map(|i| {
                    form.values
                        .get(&i.name)
                        .map(|v| format!("- {}: **{}**", label_of(&i.name), v))
                })
                .collect();
            let urgent = if form.urgent {
                "\n- Priority: **urgent**"
            } else {
                ""
            };
            cx.ask(
                format!(
                    "Please check your {} request:\n\n{}{urgent}\n\nShall I submit it?",
                    service.name,
                    lines.join("\n")
                ),
                vec![
                    Button::new("Submit", "confirm"),
                    Button::new("Start again", "restart"),
                    Button::new("Cancel", "cancel"),
                ],
            );
            State::Confirming(form)
        }
    }
}

fn cancel_form(cx: &mut Cx, form: &Form) -> State {
    let missing = missing_required(cx.k, form);
    cx.effects.push(Effect::InputCollection {
        service: form.service.clone(),
        started_at: form.started_at,
        outcome: "cancelled".into(),
        complete_first_attempt: false,
        reprompts: form.reprompts,
        missing_inputs: missing,
        opened_request: false,
    });
    cx.outcome = Outcome::Cancelled;
    let name =
        cx.k.services
            .get(&form.service)
            .map(|s| s.name.to_lowercase())
            .unwrap_or_default();
    cx.say(format!(
        "OK, I've cancelled the {name} request. Nothing was submitted."
    ));
    State::default()
}

fn on_form_input(mut form: Form, cx: &mut Cx) -> State {
    let Some(service) = cx.k.services.get(&form.service) else {
        return State::default();
    };
    cx.intent = Some(form.service.clone());
    cx.confidence = 1.0;
    let raw = text_of(&cx.event.input).to_string();
    let answer = raw.strip_prefix("choice:").unwrap_or(&raw).to_string();
    let Some(asking) = form.asking.clone() else {
        return ask_next(cx, form);
    };
    let Some(input) = service.inputs.iter().find(|i| i.name == asking) else {
        return ask_next(cx, form);
    };
    if is_cancel(&answer) {
        return cancel_form(cx, &form);
    }
    let lower = normalized(&answer);
    if lower == "back" || lower == "go back" || lower == "previous" {
        let position = service
            .inputs
            .iter()
            .position(|i| i.name == asking)
            .unwrap_or(0);
        let previous = service.inputs[..position]
            .iter()
            .rev()
            .find(|i| form.values.contains_key(&i.name) || form.skipped.contains(&i.name))
            .map(|i| i.name.clone());
        cx.outcome = Outcome::Prompt;
        return match previous {
            Some(name) => {
                form.values.remove(&name);
                form.skipped.retain(|s| s != &name);
                form.asking = Some(name.clone());
                form.since = cx.now();
                prompt_for(cx, service, &name, Some("OK, let's change that.".into()));
                State::CollectingInputs(form)
            }
            None => {
                prompt_for(
                    cx,
                    service,
                    &asking,
                    Some("This is the first question.".into()),
                );
                State::CollectingInputs(form)
            }
        };
    }
    if lower == "why"
        || lower.starts_with("why do you need")
        || lower.starts_with("why is this needed")
        || lower.starts_with("what is this for")
        || lower.starts_with("why does it matter")
    {
        cx.outcome = Outcome::Prompt;
        let why = input.help.clone().unwrap_or_else(|| {
            format!(
                "{} needs it to complete the {} as agreed in your Service Partnership Agreement.",
                service.team,
                service.name.to_lowercase()
            )
        });
        prompt_for(cx, service, &asking, Some(why));
        form.since = cx.now();
        return State::CollectingInputs(form);
    }
    if lower == "skip" {
        if input.required {
            cx.outcome = Outcome::Prompt;
            prompt_for(
                cx,
                service,
                &asking,
                Some("This one is required, I'm afraid.".into()),
            );
            return State::CollectingInputs(form);
        }
        form.skipped.push(asking);
        return ask_next(cx, form);
    }
    let tz = cx.coverage(Some(service)).timezone;
    match forms::validate(input, &answer, cx.now(), tz) {
        Ok(v) => {
            form.values.insert(asking, v);
            ask_next(cx, form)
        }
        Err(reason) => {
            form.reprompts += 1;
            if input.required {
                form.first_attempt_ok = false;
            }
            form.since = cx.now();
            cx.outcome = Outcome::Prompt;
            let hint = input
                .help
                .as_deref()
                .map(|h| format!(" {h}"))
                .unwrap_or_default();
            prompt_for(cx, service, &asking, Some(format!("{reason}{hint}")));
            State::CollectingInputs(form)
        }
    }
}

fn on_confirm(mut form: Form, cx: &mut Cx) -> State {
    let Some(service) = cx.k.services.get(&form.service) else {
        return State::default();
    };
    cx.intent = Some(form.service.clone());
    cx.confidence = 1.0;
    let input = text_of(&cx.event.input).to_string();
    if input == "confirm" || is_yes(&input) || normalized(&input) == "submit" {
        return open_request(cx, service, form);
    }
    if input == "restart" || normalized(&input) == "start again" {
        form.values.clear();
        form.skipped.clear();
        return ask_next(cx, form);
    }
    if input == "cancel" || is_cancel(&input) || is_no(&input) {
        return cancel_form(cx, &form);
    }
    cx.outcome = Outcome::Prompt;
    cx.ask(
        "Shall I submit the request?",
        vec![
            Button::new("Submit", "confirm"),
            Button::new("Start again", "restart"),
            Button::new("Cancel", "cancel"),
        ],
    );
    State::Confirming(form)
}

fn open_request(cx: &mut Cx, service: &Service, form: Form) -> State {
    let now = cx.now();
    let coverage = cx.coverage(Some(service));
    let due = due_at(coverage, service.turnaround, now);
    let priority = if form.urgent {
        Priority::Urgent
    } else {
        Priority::Normal
    };
    cx.outcome = Outcome::RequestOpened;
    cx.effects.push(Effect::OpenRequest {
        service: service.id.clone(),
        inputs: form.values.clone(),
        priority,
        due_at: due,
    });
    cx.effects.push(Effect::InputCollection {
        service: service.id.clone(),
        started_at: form.started_at,
        outcome: "submitted".into(),
        complete_first_attempt: form.first_attempt_ok && form.reprompts == 0,
        reprompts: form.reprompts,
        missing_inputs: 0,
        opened_request: true,
    });
    cx.effects.push(Effect::Recharge {
        interaction: service.interaction.clone(),
        reference: Some(REFERENCE_PLACEHOLDER.into()),
    });
    let by = format_local(coverage.timezone, due);
    let mut text = format!(
        "Done: your request **{REFERENCE_PLACEHOLDER}** is open. {} will complete this within {}, by {by}.",
        service.team,
        service.turnaround.label()
    );
    if let Some(note) = cx.off_hours_note(Some(service)) {
        text.push_str(&format!(" {note}"));
    }
    if form.urgent {
        let who = cx
            .primary_manager_name()
            .unwrap_or_else(|| "your account manager".into());
        let esc_due = escalation_due(cx, Priority::Urgent);
        cx.effects.push(Effect::Escalate {
            reason: "urgent_request".into(),
            priority: Priority::Urgent,
            request_reference: Some(REFERENCE_PLACEHOLDER.into()),
            due_at: esc_due,
        });
        cx.effects.push(Effect::Recharge {
            interaction: "escalation".into(),
            reference: Some(REFERENCE_PLACEHOLDER.into()),
        });
        text.push_str(&format!(
            " I've marked it **urgent** and alerted {who}, who will contact you by {}.",
            format_local(coverage.timezone, esc_due)
        ));
    }
    text.push_str(&format!(
        " You can ask me \"status of {REFERENCE_PLACEHOLDER}\" any time."
    ));
    cx.say(text);
    State::default()
}

// ---------------------------------------------------------------------------------------------
// Status, escalation, processes.

fn status(cx: &mut Cx, c: Option<&Classification>) {
    cx.outcome = Outcome::Answered;
    let tz = cx.coverage(None).timezone;
    let requested = c
        .and_then(|c| c.entities.iter().find(|e| e.name == "request"))
        .map(|e| {
            let digits: String = e.value.chars().filter(|ch| ch.is_ascii_digit()).collect();
            format!("REQ-{digits}")
        });
    let requests = &cx.event.user.requests;
    if let Some(reference) = requested {
        let text = match requests.iter().find(|r| r.reference == reference) {
            Some(r) => format!(
                "**{}** ({}) is **{}**, due {}.",
                r.reference,
                r.service,
                r.status.replace('_', " "),
                format_local(tz, r.due_at)
            ),
            None => format!(
                "I can't find {reference} among your requests. Check the reference, or ask \"my requests\" to see them all."
            ),
        };
        cx.say(text);
        return;
    }
    let open: Vec<_> = requests.iter().filter(|r| is_open(&r.status)).collect();
    if open.is_empty() {
        cx.say("You have no open requests. Tell me what you need and I can open one.");
        return;
    }
    let lines: Vec<String> = open
        .iter()
        .map(|r| {
            format!(
                "- **{}** {}: {}, due {}",
                r.reference,
                r.service,
                r.status.replace('_', " "),
                format_local(tz, r.due_at)
            )
        })
        .collect();
    cx.say(format!(
        "You have {} open request{}:\n\n{}",
        open.len(),
        if open.len() == 1 { "" } else { "s" },
        lines.join("\n")
    ));
}

fn escalation_due(cx: &Cx, priority: Priority) -> DateTime<Utc> {
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

fn escalate(
    cx: &mut Cx,
    reason: &str,
    priority: Priority,
    request_reference: Option<String>,
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
        "I've passed this to {who}, {}'s account manager{}. You'll hear back by {} (within {}).",
        client.name,
        if priority == Priority::Urgent {
            ", marked **urgent**"
        } else {
            ""
        },
        format_local(tz, due),
        Turnaround::BusinessHours(hours).label()
    );
    if let Some(note) = cx.off_hours_note(None) {
        text.push_str(&format!(" {note}"));
    }
    cx.say(text);
    State::default()
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            w.len() > 2 && !matches!(*w, "the" | "and" | "for" | "new" | "request" | "process")
        })
        .map(|w| w.trim_end_matches('s').to_string())
        .collect()
}

/// The process the text names (by name, id or alias), if any.
fn find_process<'k>(k: &'k Knowledge, text: &str) -> Option<&'k Process> {
    let lower = format!(
        " {} ",
        text.to_lowercase().replace(['-', '?', '.', ','], " ")
    );
    k.processes.values().find(|p| {
        std::iter::once(p.name.as_str())
            .chain(std::iter::once(p.id.as_str()))
            .chain(p.aliases.iter().map(String::as_str))
            .any(|n| {
                let n = n.to_lowercase().replace('-', " ");
                !n.trim().is_empty() && lower.contains(&format!(" {} ", n.trim()))
            })
    })
}

/// The service the text names best (most of its name's words), if any.
fn find_service<'k>(k: &'k Knowledge, text: &str) -> Option<&'k Service> {
    let tw = words(text);
    k.services
        .values()
        .map(|s| {
            let sw = words(&format!("{} {}", s.name, s.id));
            let hits = sw.iter().filter(|w| tw.contains(w)).count();
            (hits, s)
        })
        .filter(|(h, _)| *h > 0)
        .max_by_key(|(h, _)| *h)
        .map(|(_, s)| s)
}

fn describe_inputs(cx: &mut Cx, service: &Service) {
    cx.outcome = Outcome::Answered;
    let lines: Vec<String> = service
        .inputs
        .iter()
        .map(|i| {
            let mut l = format!(
                "- **{}**{}",
                label_of(&i.name),
                if i.required { "" } else { " (optional)" }
            );
            if let Some(h) = &i.help {
                l.push_str(&format!(": {h}"));
            }
            l
        })
        .collect();
    cx.ask(
        format!(
            "For a **{}** you'll need to provide:\n\n{}\n\n{} then completes it within {}.",
            service.name,
            lines.join("\n"),
            service.team,
            service.turnaround.label()
        ),
        vec![Button::new(
            format!("Start a {} request", service.name.to_lowercase()),
            format!("service:{}", service.id),
        )],
    );
}

fn process_question(cx: &mut Cx, q: ProcessQuestion, text: &str) {
    cx.outcome = Outcome::Answered;
    let process = find_process(cx.k, text);
    let service = find_service(cx.k, text);
    match q {
        ProcessQuestion::Owner => {
            if let Some(p) = process.or_else(|| {
                service
                    .and_then(|s| s.process.as_ref())
                    .and_then(|id| cx.k.processes.get(id))
            }) {
                let steps: Vec<String> = p
                    .steps
                    .iter()
                    .map(|s| {
                        format!(
                            "- {} ({})",
                            s.name,
                            if s.side == "client" { "you" } else { "SSO" }
                        )
                    })
                    .collect();
                cx.say(format!(
                    "**{}** is owned by {} ({}). {}\n\nSteps:\n{}",
                    p.name,
                    p.owner,
                    p.team,
                    p.description,
                    steps.join("\n")
                ));
            } else {
                let list: Vec<String> =
                    cx.k.processes
                        .values()
                        .map(|p| format!("- **{}**: {} ({})", p.name, p.owner, p.team))
                        .collect();
                cx.say(format!(
                    "Here are the process owners:\n\n{}",
                    list.join("\n")
                ));
            }
        }
        ProcessQuestion::Inputs => match service {
            Some(s) => describe_inputs(cx, s),
            None => {
                let buttons =
                    cx.k.services
                        .values()
                        .map(|s| Button::new(s.name.clone(), format!("inputs:{}", s.id)))
                        .collect();
                cx.ask("Which service do you mean?", buttons);
            }
        },
        ProcessQuestion::Duration => {
            if let Some(s) = service {
                cx.say(format!(
                    "A **{}** is completed by {} within {} of receiving everything we need.",
                    s.name,
                    s.team,
                    s.turnaround.label()
                ));
            } else if let Some(p) = process {
                cx.say(format!(
                    "**{}** typically takes {}.",
                    p.name,
                    p.typical_duration
                        .as_deref()
                        .unwrap_or("a few business days, depending on the steps involved")
                ));
            } else {
                let list: Vec<String> =
                    cx.k.services
                        .values()
                        .map(|s| format!("- {}: {}", s.name, s.turnaround.label()))
                        .collect();
                cx.say(format!("Our turnaround times:\n\n{}", list.join("\n")));
            }
        }
    }
}
