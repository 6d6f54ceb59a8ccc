//! Rasa's training data and domain as far as Frontdoor reads or writes them (Rasa 2.x and 3.x
//! YAML share this shape), each piece with the place it came from.

use std::fmt;
use std::path::PathBuf;

/// Where something was read: `file:line` (no file for data built from our content).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A project: everything read from its files, merged.
#[derive(Clone, Debug, Default)]
pub struct Project {
    /// Intents in the order first seen; an intent spread over several files is one entry.
    pub intents: Vec<NluIntent>,
    pub synonyms: Vec<Synonym>,
    pub regexes: Vec<Pattern>,
    pub lookups: Vec<Lookup>,
    pub responses: Vec<Response>,
    /// Stories and rules that only answer an intent with responses.
    pub pairings: Vec<Pairing>,
    /// Intents the domain lists (`intents:`), to tell which have no training data.
    pub domain_intents: Vec<(String, Loc)>,
    /// What was read and is not imported, with the reason.
    pub skipped: Vec<Skipped>,
}

impl Project {
    pub fn intent_mut(&mut self, name: &str, loc: &Loc) -> &mut NluIntent {
        let at = match self.intents.iter().position(|i| i.name == name) {
            Some(at) => at,
            None => {
                self.intents.push(NluIntent {
                    name: name.to_string(),
                    loc: loc.clone(),
                    examples: Vec::new(),
                    frontdoor: None,
                });
                self.intents.len() - 1
            }
        };
        &mut self.intents[at]
    }

    pub fn skip(&mut self, loc: Loc, what: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            loc,
            what: what.into(),
            reason: reason.into(),
        });
    }

    pub fn response(&self, name: &str) -> Option<&Response> {
        self.responses.iter().find(|r| r.name == name)
    }
}

#[derive(Clone, Debug, Default)]
pub struct NluIntent {
    /// The name as Rasa writes it (`greet`, `faq/ask_hours`).
    pub name: String,
    pub loc: Loc,
    pub examples: Vec<Example>,
    /// What Frontdoor wrote in the intent's `metadata: {frontdoor: …}` when it exported it.
    pub frontdoor: Option<FrontdoorHints>,
}

impl NluIntent {
    /// A retrieval intent (`faq/ask_hours`): Rasa's way of writing FAQ answers.
    pub fn is_retrieval(&self) -> bool {
        self.name.contains('/')
    }
}

/// Our own keys in an exported intent's metadata, so that an export imports back as the same
/// kind of intent (Rasa keeps metadata and ignores what it does not use).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrontdoorHints {
    /// Our action: `article`, `smalltalk`, `greeting`, `help`, `out_of_scope`, …
    pub action: String,
    pub title: Option<String>,
    pub category: Option<String>,
    pub owner: Option<String>,
}

/// One training example, annotations stripped to their text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Example {
    pub text: String,
    pub line: usize,
    pub entities: Vec<Annotation>,
}

/// `[text](entity)`, `[text](entity:value)` or `[text]{"entity": …, "value": …}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Annotation {
    pub text: String,
    pub entity: String,
    /// The value the text stands for (an inline synonym), when given.
    pub value: Option<String>,
}

/// `- synonym: canonical` with the words that mean it.
#[derive(Clone, Debug, Default)]
pub struct Synonym {
    pub canonical: String,
    pub terms: Vec<String>,
    pub loc: Loc,
}

/// `- regex: name` with its patterns (Python `re` syntax in Rasa).
#[derive(Clone, Debug, Default)]
pub struct Pattern {
    pub name: String,
    pub patterns: Vec<(String, usize)>,
    pub loc: Loc,
}

/// `- lookup: name` with its values.
#[derive(Clone, Debug, Default)]
pub struct Lookup {
    pub name: String,
    pub values: Vec<String>,
    pub loc: Loc,
}

/// `utter_x:` in `responses`: its variations (one is picked at random).
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub name: String,
    pub loc: Loc,
    pub variations: Vec<Variation>,
}

#[derive(Clone, Debug, Default)]
pub struct Variation {
    pub text: Option<String>,
    pub line: usize,
    /// Keys besides `text` (buttons, image, custom, condition, channel…), which we do not import.
    pub extras: Vec<String>,
}

/// A story or rule that answers intents with responses and does nothing else: `intent: x` (or an
/// `or:` of intents) followed only by `action: utter_…` steps.
#[derive(Clone, Debug, Default)]
pub struct Pairing {
    /// `story "name"` or `rule "name"`.
    pub what: String,
    pub intents: Vec<String>,
    pub responses: Vec<String>,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skipped {
    pub loc: Loc,
    pub what: String,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.loc, self.what, self.reason)
    }
}

/// Intent names Rasa uses for "not something this bot does".
pub fn is_out_of_scope_name(name: &str) -> bool {
    let base = name.split('/').next().unwrap_or(name);
    base.eq_ignore_ascii_case("out_of_scope") || base.eq_ignore_ascii_case("nlu_fallback")
}
