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

/// An ask for a person: "talk/speak to someone", "I need a human", "get me a real person",
/// "put me through to an agent". "someone" and "person" alone count only after talk/speak or
/// get me/put me through, so "I need someone to approve my PO" is not one.
static PERSON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|some\s+)?(?:real\s+|actual\s+|live\s+)?
            (?:human(?:\s+being)?|person|someone|somebody|agent|people|(?:my\s+)?account\s+manager)\b
      | \b(?:need|want)\s+(?:a\s+|an\s+)?
            (?:human(?:\s+being)?|agent|(?:real|actual|live)\s+(?:human|person)|someone\s+real)\b
      | \b(?:get|give|find)\s+me\s+(?:a\s+|an\s+)?(?:real\s+|actual\s+|live\s+)?
            (?:human(?:\s+being)?|person|someone|somebody|agent)\b
      | \b(?:connect|transfer|put)\s+me\s+(?:through\s+)?(?:to|with)\s+(?:a\s+|an\s+)?(?:real\s+|actual\s+|live\s+)?
            (?:human(?:\s+being)?|person|someone|somebody|agent)\b",
    )
    .expect("static regex")
});

/// The part of the message that asks for a person, as a byte range; `None` when it does not.
/// "who should I talk to about vendors" asks who owns something, not for a person now.
pub(super) fn asks_for_person(text: &str) -> Option<std::ops::Range<usize>> {
    let lower = text.trim_start().to_lowercase();
    if lower.starts_with("who ") || lower.starts_with("which ") {
        return None;
    }
    PERSON.find(text).map(|m| m.range())
}

/// "now" is urgent only next to an ask for a person ("I need a human now"): elsewhere it is too
/// common ("can I now submit my claim") to put a request in the fast lane.
static NOW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(right\s+)?now\b").expect("static regex"));

/// An ask for a person said with urgency: the urgent words, or "now".
pub(super) fn is_urgent_ask(text: &str) -> bool {
    is_urgent(text) || NOW.is_match(text)
}

/// The message without its urgency words ("urgent", "asap", "now"), to find its topic.
pub(super) fn without_urgency(text: &str) -> String {
    let t = URGENT.replace_all(text, " ");
    NOW.replace_all(&t, " ").into_owned()
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

    #[test]
    fn an_ask_for_a_person_is_found_and_cut_out() {
        let text = "this is urgent, payroll is wrong and I need a human now";
        let range = asks_for_person(text).expect("asks for a person");
        assert_eq!(&text[range], "need a human");
        for ask in [
            "let me speak to someone about my expenses",
            "get me a real person",
            "I want to talk to a real person please",
            "put me through to an agent",
            "can I speak with my account manager",
        ] {
            assert!(asks_for_person(ask).is_some(), "{ask:?}");
        }
        for not_an_ask in [
            "who should I speak to about vendor setup",
            "I need someone to approve my PO",
            "which person owns procure to pay",
            "the agent booked the wrong hotel",
        ] {
            assert!(asks_for_person(not_an_ask).is_none(), "{not_an_ask:?}");
        }
    }

    #[test]
    fn now_is_urgent_only_in_an_ask_for_a_person() {
        assert!(is_urgent_ask("I need a human now"));
        assert!(is_urgent_ask("get me someone asap"));
        assert!(!is_urgent_ask("let me speak to someone about my expenses"));
        assert!(!is_urgent("can I now submit my claim"));
        let rest = without_urgency("urgent: payroll is wrong now");
        assert_eq!(
            rest.split_whitespace().collect::<Vec<_>>(),
            [":", "payroll", "is", "wrong"]
        );
    }
}
