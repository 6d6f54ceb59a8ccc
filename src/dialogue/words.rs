//! Small text helpers every flow uses: what the user typed, yes/no/cancel, words of a name,
//! the pick among canned replies. Leaves: they import nothing but the dialogue's own types.

use std::sync::LazyLock;

use regex::Regex;

use super::Input;

static URGENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(urgent(ly)?|asap|a\.s\.a\.p|as soon as possible|emergency|critical|immediately|right away|deadline (is )?today|due today|by (the )?end of (the )?day|eod|payroll (is |runs |deadline )?(today|tomorrow)|(today|tomorrow)'?s? payroll)\b",
    )
    .expect("static regex")
});

/// Is the message urgent (cognizance: "urgent", "asap", "payroll tomorrow")?
pub(super) fn is_urgent(text: &str) -> bool {
    URGENT.is_match(text)
}

pub(super) fn text_of(input: &Input) -> &str {
    match input {
        Input::Text(t) => t,
        Input::Button(p) => p,
        Input::Manager(_) | Input::Request(_) => "",
    }
}

pub(super) fn normalized(s: &str) -> String {
    s.trim()
        .trim_end_matches(['.', '!', '?'])
        .trim()
        .to_lowercase()
}

pub(super) fn is_yes(s: &str) -> bool {
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

pub(super) fn is_no(s: &str) -> bool {
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

pub(super) fn is_cancel(s: &str) -> bool {
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

/// Deterministic pick among canned replies (a hash of the text, not a random number).
pub(super) fn pick<'s>(options: &'s [String], text: &str) -> Option<&'s String> {
    if options.is_empty() {
        return None;
    }
    let h = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    options.get((h % options.len() as u64) as usize)
}

pub(super) fn first_name(n: &str) -> &str {
    n.split_whitespace().next().unwrap_or(n)
}

pub(super) fn is_open(status: &str) -> bool {
    status == "open" || status == "in_progress"
}

pub(super) fn label_of(name: &str) -> String {
    let s = name.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

pub(super) fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            w.len() > 2 && !matches!(*w, "the" | "and" | "for" | "new" | "request" | "process")
        })
        .map(|w| w.trim_end_matches('s').to_string())
        .collect()
}
