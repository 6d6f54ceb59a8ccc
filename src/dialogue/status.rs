//! What the user has and how things work: the greeting that lists open requests, the status of
//! requests, and process questions (who owns it, what it needs, how long it takes).

use std::sync::LazyLock;

use regex::Regex;

use super::cx::Cx;
use super::words::{first_name, is_open, label_of, pick, words};
use super::{Button, Outcome};
use crate::engine::Classification;
use crate::knowledge::{Knowledge, Process, ProcessQuestion, Service};
use crate::policy::calendar::format_local;

static LEADING_GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(hello|hi there|hi|hey|good (morning|afternoon|evening))\s*[!,.]\s*")
        .expect("static regex")
});

pub(super) fn greet(cx: &mut Cx, replies: Vec<String>, text: &str) {
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

pub(super) fn status(cx: &mut Cx, c: Option<&Classification>) {
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

pub(super) fn describe_inputs(cx: &mut Cx, service: &Service) {
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

pub(super) fn process_question(cx: &mut Cx, q: ProcessQuestion, text: &str) {
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
