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

/// A request to do something, not a question about how: an imperative ("set up a vendor"), or
/// one behind a polite or needy opening ("I need to", "can you", "please", "I'd like to"), at
/// the start of the message (after a greeting). Anchored there so that "how do I set up a
/// vendor" and "do I need to open a PO" stay questions; the verbs are the ones a service is
/// asked for with.
static REQUEST_TO_DO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*
        (?:(?:hi|hello|hey|morning|good\s+morning)\b[\s,!.]*)?
        (?:(?:please|pls|kindly)\s+)?
        (?:
            (?:i|we)\s*(?:['’]d|would)\s+like\s+(?:you\s+)?to\s+
          | (?:i|we)\s+(?:need|want)\s+(?:you\s+|someone\s+)?to\s+
          | (?:can|could|would|will)\s+(?:you|u|someone|somebody)\s+
        )?
        (?:please\s+)?
        (?:(?:help\s+(?:me|us)|go\s+ahead\s+and)\s+)?
        (?:set\s*-?\s*up|open|create|add|order|request|change|raise|onboard|register)\b",
    )
    .expect("static regex")
});

/// A question inside the message ("..., how do I do that?"): it asks how, so it is not yet a
/// request to do.
static QUESTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\bhow\b|\b(what|which|when|where|why|who)\s+(do|does|did|is|are|can|could|should|would|will|to)\b",
    )
    .expect("static regex")
});

/// Does the message ask the bot to do something ("I need to set up a new vendor", "can you
/// open a PO for me"), rather than ask about it ("how do I set up a vendor")?
pub(super) fn is_request_to_do(text: &str) -> bool {
    REQUEST_TO_DO.is_match(text) && !QUESTION.is_match(text)
}

pub(super) fn text_of(input: &Input) -> &str {
    match input {
        Input::Text(t) => t,
        Input::Button(p) => p,
        Input::Manager(_) => "",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_to_do_is_not_a_question_about_how() {
        for request in [
            "I need to set up a new vendor",
            "can you set up a new vendor for us",
            "Could you please open a purchase order",
            "please create a supplier record",
            "I'd like to order a new laptop",
            "I want to change my bank details",
            "we need you to raise a PO",
            "Hi, can you add a new supplier called Brightwell Ltd",
            "set up a new starter for Monday",
        ] {
            assert!(is_request_to_do(request), "{request:?}");
        }
        for question in [
            "how do I set up a vendor?",
            "how long does vendor setup take",
            "I need to set up a new vendor, how do I do that?",
            "do I need to set up a new vendor for a one-off payment",
            "can I set up a vendor myself?",
            "I need to know how to set up a vendor",
            "what do I need to set up a vendor",
            "new vendor set-up",
        ] {
            assert!(!is_request_to_do(question), "{question:?}");
        }
    }
}
