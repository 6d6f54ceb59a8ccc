//! General English from WordNet: which words are real English words, and their synonyms.
//!
//! The data is Princeton WordNet 3.x as packaged by the `thesaurus-wordnet` crate (MIT; the
//! WordNet data under the WordNet 3.0 licence, which allows use and redistribution with its
//! notice): a gzip blob compiled into the binary, so nothing is downloaded, ever. It is
//! decompressed and indexed once per process (see [`Lexicon::get`]), then read-only.
//!
//! The engine uses it for two things, both after the content's own vocabulary:
//! - **out of scope**: a query word the domain does not know counts as off-topic evidence only
//!   when it is a real English word ("weather", "lasagne"); a name, a place written as a name,
//!   an airline, a product, a number, a date or a typo is neutral ([`WordClass`]);
//! - **expansion**: such a word's WordNet synonyms that the domain does know are added to the
//!   query with a low weight ("remuneration" → "pay").
//!
//! The packaged data is lower-cased and keeps only words that have synonyms, so a few common
//! words are missing ("hotel"); those are then neutral rather than off-topic, and the content
//! vocabulary is where the domain's own words belong anyway.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

/// What a query word is, for the out-of-scope decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WordClass {
    /// A stop-word: not judged.
    Stop,
    /// Known to the domain (seen in examples or articles).
    Domain,
    /// Repaired to a domain word by typo correction.
    Corrected,
    /// Part of a content vocabulary term.
    Vocabulary,
    /// Part of a content vocabulary term marked off-topic: evidence against.
    OffTopic,
    /// A number or a reference with digits.
    Number,
    /// A name or reference the user supplies ("Acme Widgets Ltd", "Sarah" mid-sentence).
    Name,
    /// A date word (months, weekdays, "tomorrow").
    Date,
    /// A real English word the domain does not know: off-topic evidence.
    English,
    /// Neither known nor English: a name, a place, a product or a typo. Neutral.
    Unknown,
}

impl WordClass {
    pub fn as_str(self) -> &'static str {
        match self {
            WordClass::Stop => "stop",
            WordClass::Domain => "domain",
            WordClass::Corrected => "corrected",
            WordClass::Vocabulary => "vocabulary",
            WordClass::OffTopic => "off-topic vocabulary",
            WordClass::Number => "number",
            WordClass::Name => "name",
            WordClass::Date => "date",
            WordClass::English => "english, unknown here",
            WordClass::Unknown => "not english: neutral",
        }
    }

    /// Does this word count against the query being on-topic?
    pub fn is_evidence_against(self) -> bool {
        matches!(self, WordClass::English | WordClass::OffTopic)
    }
}

const DATE_WORDS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "today",
    "tomorrow",
    "yesterday",
    "tonight",
];

pub fn is_date_word(w: &str) -> bool {
    DATE_WORDS.contains(&w)
}

pub struct Lexicon {
    /// Lower-case single word → its synonyms (single words only, without itself).
    entries: HashMap<Box<str>, Box<[Box<str>]>>,
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("words", &self.entries.len())
            .finish()
    }
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(Lexicon::load);

impl Lexicon {
    /// The process-wide lexicon, indexed on first use (an engine build forces it, so the first
    /// query does not pay for it).
    pub fn get() -> &'static Lexicon {
        &LEXICON
    }

    /// Index the lexicon on a thread of its own, once per process, so that a content load
    /// which will need it finds it ready: WordNet's parse takes about 80 ms, which the load's
    /// one-core phases (cross-checks, intent definitions, the dictionary) leave a core for.
    /// A build that gets there first waits for it, as for any first use.
    pub fn prepare() {
        static STARTED: std::sync::Once = std::sync::Once::new();
        STARTED.call_once(|| {
            // No thread to be had: the build's own first use indexes it.
            let _ = std::thread::Builder::new()
                .name("lexicon".into())
                .spawn(|| LazyLock::force(&LEXICON));
        });
    }

    fn load() -> Lexicon {
        let text = thesaurus_wordnet::uncompress();
        let mut entries: HashMap<Box<str>, Box<[Box<str>]>> = HashMap::new();
        for line in text.lines() {
            let mut parts = line.split('|');
            let Some(word) = parts.next() else { continue };
            // A query token is one word: multi-word lemmas ("los angeles") cannot match one.
            if word.is_empty() || !word.chars().all(|c| c.is_alphabetic() || c == '-') {
                continue;
            }
            let mut syns: Vec<Box<str>> = parts
                .filter(|s| {
                    !s.is_empty() && *s != word && s.chars().all(|c| c.is_alphabetic() || c == '-')
                })
                .map(Into::into)
                .collect();
            syns.sort_unstable();
            syns.dedup();
            entries.insert(word.into(), syns.into_boxed_slice());
        }
        Lexicon { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The dictionary form of `w` when it, or `w` without a regular inflection, is a WordNet
    /// word ("flights" → "flight", "booked" → "book").
    pub fn lemma<'a>(&'a self, w: &str) -> Option<&'a str> {
        let found = |c: &str| self.entries.get_key_value(c).map(|(k, _)| &**k);
        if let Some(k) = found(w) {
            return Some(k);
        }
        let mut candidates: Vec<String> = Vec::with_capacity(4);
        if let Some(s) = w.strip_suffix("ies") {
            candidates.push(format!("{s}y"));
        }
        if let Some(s) = w.strip_suffix("es") {
            candidates.push(s.to_string());
        }
        if let Some(s) = w.strip_suffix('s') {
            candidates.push(s.to_string());
        }
        if let Some(s) = w.strip_suffix("ed") {
            candidates.push(s.to_string());
            candidates.push(format!("{s}e"));
        }
        if let Some(s) = w.strip_suffix("ing") {
            candidates.push(s.to_string());
            candidates.push(format!("{s}e"));
        }
        candidates
            .iter()
            .filter(|c| c.len() >= 2)
            .find_map(|c| found(c))
    }

    pub fn is_word(&self, w: &str) -> bool {
        self.lemma(w).is_some()
    }

    /// WordNet synonyms of `w` (of its dictionary form).
    pub fn synonyms(&self, w: &str) -> &[Box<str>] {
        self.lemma(w)
            .and_then(|l| self.entries.get(l))
            .map_or(&[], |s| &s[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_english_words_are_known_with_their_inflections() {
        let l = Lexicon::get();
        assert!(l.len() > 50_000, "WordNet has {} single words", l.len());
        for w in [
            "weather", "recipe", "lasagne", "vacation", "salary", "flights", "booked",
        ] {
            assert!(l.is_word(w), "{w} should be an English word");
        }
        assert_eq!(l.lemma("flights"), Some("flight"));
    }

    #[test]
    fn names_typos_and_made_up_words_are_not_english() {
        let l = Lexicon::get();
        for w in [
            "brownsburg",
            "globalprotect",
            "xqzt",
            "paswrod",
            "northwind",
        ] {
            assert!(!l.is_word(w), "{w} should not be an English word");
        }
    }

    #[test]
    fn synonyms_come_from_wordnet() {
        let l = Lexicon::get();
        assert!(
            l.synonyms("salary").iter().any(|s| &**s == "pay"),
            "salary: {:?}",
            l.synonyms("salary")
        );
        assert!(l.synonyms("zzzz").is_empty());
    }
}
