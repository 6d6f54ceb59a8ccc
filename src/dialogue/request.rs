//! Service requests: the SPA inputs asked one at a time (with *why*, *back*, *skip* and
//! *cancel*), the summary to confirm, and the request opened with its due time.

use std::collections::BTreeMap;

use super::cx::Cx;
use super::escalate::escalation_due;
use super::forms;
use super::words::{is_cancel, is_no, is_yes, label_of, normalized, text_of};
use super::{
    Button, CollectionOutcome, Effect, Form, Outcome, Priority, REFERENCE_PLACEHOLDER, State,
};
use crate::knowledge::{InputKind, Knowledge, Service};
use crate::policy::calendar::{due_at, format_local};

pub(super) fn missing_required(k: &Knowledge, form: &Form) -> u32 {
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

/// Whether the user can open this service's requests here: their business unit is known and
/// the service is in its Service Partnership Agreement. Offering a form to anyone else would
/// only lead to "I need your business unit" or "not in your SPA".
pub(super) fn offered(cx: &Cx, service_id: &str) -> bool {
    cx.k.services.contains_key(service_id)
        && cx.client().is_some_and(|c| {
            c.spa
                .services
                .as_ref()
                .is_none_or(|list| list.iter().any(|s| s == service_id))
        })
}

pub(super) fn start_form(cx: &mut Cx, service_id: &str, text: &str, urgent: bool) -> State {
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
        outcome: CollectionOutcome::Cancelled,
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

pub(super) fn on_form_input(mut form: Form, cx: &mut Cx) -> State {
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

pub(super) fn on_confirm(mut form: Form, cx: &mut Cx) -> State {
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
        outcome: CollectionOutcome::Submitted,
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
            draft: None,
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
