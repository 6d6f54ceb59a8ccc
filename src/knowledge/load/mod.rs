//! Reading content files into the model. Every problem is reported as `file:line: message`, and
//! loading goes on after an error so an editor sees all problems at once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use serde::Deserialize;

use super::model::*;
use super::{ContentError, line_of, line_of_offset};

mod articles;
mod catalogue;
mod clients;
pub mod vocabulary;

/// Raw content as parsed, before cross-file validation.
#[derive(Default)]
pub struct Raw {
    pub organisation: Option<Organisation>,
    pub articles: Vec<Article>,
    pub intents: Vec<Intent>,
    pub services: Vec<Service>,
    pub clients: Vec<Client>,
    pub processes: Vec<Process>,
    pub vocabulary: Vec<VocabularyEntry>,
    /// File texts, kept to point errors found later at a line.
    pub texts: HashMap<PathBuf, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DateField {
    Toml(toml::value::Datetime),
    Text(String),
}

impl DateField {
    fn to_date(&self) -> Result<NaiveDate, String> {
        match self {
            DateField::Toml(dt) => match dt.date {
                Some(d) => {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                        .ok_or_else(|| format!("{dt} is not a valid date"))
                }
                None => Err(format!("{dt} is not a date (YYYY-MM-DD)")),
            },
            DateField::Text(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCoverage {
    days: String,
    start: String,
    end: String,
    timezone: Option<String>,
    /// The region whose public holidays these hours skip (a key of `[holidays]` in
    /// `sso.toml`); the organisation's region when absent.
    holidays: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganisation {
    name: String,
    short_name: Option<String>,
    timezone: String,
    currency: String,
    coverage: RawCoverage,
    #[serde(default)]
    rates: BTreeMap<String, RawRate>,
    #[serde(default = "four")]
    escalation_response_hours: u32,
    #[serde(default = "one")]
    urgent_response_hours: u32,
    /// Public holidays by region: `england-and-wales = [2026-12-25, ...]`.
    #[serde(default)]
    holidays: BTreeMap<String, Vec<DateField>>,
    /// How long the client has to answer a question about their request (business hours).
    #[serde(default = "sixteen")]
    client_response_hours: u32,
    /// How long after completion a client may reopen a request (days).
    #[serde(default = "fourteen")]
    reopen_window_days: u32,
    /// Days after a month ends before an unreviewed monthly report reminds the account manager.
    #[serde(default = "five")]
    review_reminder_days: u32,
}

/// A rate card entry: a price, or (for `completed_request` only) prices by service id with an
/// optional `default`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawRate {
    Price(f64),
    PerService(BTreeMap<String, f64>),
}

fn sixteen() -> u32 {
    16
}

fn fourteen() -> u32 {
    14
}

fn five() -> u32 {
    5
}

fn four() -> u32 {
    4
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawVisibility {
    Word(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArticle {
    id: String,
    title: String,
    category: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    questions: Vec<String>,
    process: Option<String>,
    service: Option<String>,
    reviewed: DateField,
    owner: String,
    visibility: Option<RawVisibility>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntentFile {
    #[serde(default)]
    intent: Vec<RawIntent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    name: String,
    #[serde(default)]
    description: String,
    action: String,
    article: Option<String>,
    service: Option<String>,
    process_question: Option<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    replies: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurnaround {
    business_hours: Option<u32>,
    business_days: Option<u32>,
    calendar_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommitment {
    turnaround: RawTurnaround,
    coverage: Option<RawCoverage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: String,
    prompt: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "yes")]
    required: bool,
    help: Option<String>,
    pattern: Option<String>,
    #[serde(default)]
    choices: Vec<String>,
    #[serde(default)]
    future: bool,
    min: Option<f64>,
    max: Option<f64>,
    extract: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: String,
    name: String,
    team: String,
    process: Option<String>,
    #[serde(default)]
    description: String,
    interaction: String,
    commitment: RawCommitment,
    #[serde(default)]
    input: Vec<RawInput>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawServiceList {
    Word(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpa {
    start: DateField,
    end: DateField,
    #[serde(default = "ninety")]
    renewal_notice_days: u32,
    coverage: Option<RawCoverage>,
    services: Option<RawServiceList>,
}

fn ninety() -> u32 {
    90
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManager {
    name: String,
    role: String,
    email: String,
    telegram_chat: Option<i64>,
    discord_user: Option<String>,
    discord_channel: Option<String>,
    webhook: Option<String>,
    #[serde(default)]
    route_order: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    code: String,
    name: String,
    timezone: String,
    spa: RawSpa,
    #[serde(default)]
    rates: BTreeMap<String, RawRate>,
    #[serde(default)]
    manager: Vec<RawManager>,
    #[serde(default)]
    rollout: RawRollout,
}

/// `[rollout]` in a client file: `web = "shadow"`, `telegram = "pilot"`, … and the pilot's scope.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRollout {
    web: Option<String>,
    telegram: Option<String>,
    discord: Option<String>,
    #[serde(default)]
    pilot_intents: Vec<String>,
    #[serde(default)]
    pilot_domains: Vec<String>,
    #[serde(default)]
    pilot_share: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: String,
    side: String,
    #[serde(default)]
    description: String,
    handoff: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    owner: String,
    team: String,
    #[serde(default)]
    description: String,
    typical_duration: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    articles: Vec<String>,
    #[serde(default)]
    step: Vec<RawStep>,
}

/// Files of one kind read per thread, at least (the shipped content's 68 articles stay on one).
const FILES_PER_THREAD: usize = 512;

/// Collects errors while loading.
pub struct Loader {
    pub errors: Vec<ContentError>,
    pub raw: Raw,
    default_tz: Tz,
    /// Public holidays by region, from the organisation file (loaded first).
    holidays: BTreeMap<String, Holidays>,
    /// The organisation coverage's region: every coverage that names none keeps it.
    default_region: Option<String>,
}

impl Loader {
    pub fn new() -> Self {
        Self {
            errors: Vec::new(),
            raw: Raw::default(),
            default_tz: chrono_tz::Europe::London,
            holidays: BTreeMap::new(),
            default_region: None,
        }
    }

    /// `load` over `files`, in their order. Many files (a 100× knowledge base has 6,800
    /// articles: 0.3 s of its load) are read on every core, each thread's contiguous share into
    /// a loader of its own, which this one then takes in, in file order: the same content and
    /// errors as reading them one by one.
    pub fn load_each(&mut self, files: &[PathBuf], load: fn(&mut Loader, &Path)) {
        let threads = std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
            .min(files.len() / FILES_PER_THREAD)
            .max(1);
        if threads == 1 {
            for file in files {
                load(self, file);
            }
            return;
        }
        let shares = crate::engine::parallel::run_scoped(
            files
                .chunks(files.len().div_ceil(threads))
                .map(|share| {
                    let mut helper = self.helper();
                    move || {
                        for file in share {
                            load(&mut helper, file);
                        }
                        helper
                    }
                })
                .collect(),
        );
        for helper in shares {
            self.take_in(helper);
        }
    }

    /// An empty loader with this one's settings (the organisation's time zone and holidays).
    fn helper(&self) -> Loader {
        Loader {
            errors: Vec::new(),
            raw: Raw::default(),
            default_tz: self.default_tz,
            holidays: self.holidays.clone(),
            default_region: self.default_region.clone(),
        }
    }

    /// What `other` read, after what this one read.
    fn take_in(&mut self, other: Loader) {
        // Every field named, so a new kind of content cannot be left behind.
        let Raw {
            organisation,
            articles,
            intents,
            services,
            clients,
            processes,
            vocabulary,
            texts,
        } = other.raw;
        if organisation.is_some() {
            self.raw.organisation = organisation;
        }
        self.raw.articles.extend(articles);
        self.raw.intents.extend(intents);
        self.raw.services.extend(services);
        self.raw.clients.extend(clients);
        self.raw.processes.extend(processes);
        self.raw.vocabulary.extend(vocabulary);
        self.raw.texts.extend(texts);
        self.errors.extend(other.errors);
    }

    pub(super) fn err(&mut self, file: &Path, line: usize, message: impl Into<String>) {
        self.errors.push(ContentError {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    /// Error at the line where `needle` first appears in the file (1 if it does not).
    pub fn err_at(&mut self, file: &Path, needle: &str, message: impl Into<String>) {
        let line = self
            .raw
            .texts
            .get(file)
            .map(|t| line_of(t, needle))
            .unwrap_or(1);
        self.err(file, line, message);
    }

    pub(super) fn read(&mut self, file: &Path) -> Option<String> {
        match std::fs::read_to_string(file) {
            Ok(text) => {
                self.raw.texts.insert(file.to_path_buf(), text.clone());
                Some(text)
            }
            Err(e) => {
                self.err(file, 1, format!("cannot read: {e}"));
                None
            }
        }
    }

    /// Parse TOML, reporting a syntax or shape error at its line. `line_base` shifts lines for
    /// front matter that starts further down the file.
    pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
        &mut self,
        file: &Path,
        text: &str,
        line_base: usize,
    ) -> Option<T> {
        match toml::from_str::<T>(text) {
            Ok(v) => Some(v),
            Err(e) => {
                let line = e.span().map(|s| line_of_offset(text, s.start)).unwrap_or(1);
                self.err(file, line + line_base, e.message().trim().to_string());
                None
            }
        }
    }

    fn coverage(&mut self, file: &Path, raw: &RawCoverage, default_tz: Tz) -> Option<Coverage> {
        let days = match WeekdaySet::parse(&raw.days) {
            Ok(d) => d,
            Err(e) => {
                self.err_at(file, &raw.days, format!("coverage days: {e}"));
                return None;
            }
        };
        let parse_time = |s: &str| NaiveTime::parse_from_str(s, "%H:%M");
        let (Ok(start), Ok(end)) = (parse_time(&raw.start), parse_time(&raw.end)) else {
            self.err_at(
                file,
                "coverage",
                format!(
                    "coverage times must be HH:MM, got {:?}-{:?}",
                    raw.start, raw.end
                ),
            );
            return None;
        };
        if end <= start {
            self.err_at(file, "coverage", "coverage end must be after its start");
            return None;
        }
        let timezone = match &raw.timezone {
            Some(tz) => self.timezone(file, tz)?,
            None => default_tz,
        };
        let region = raw.holidays.clone().or_else(|| self.default_region.clone());
        let holidays = match region {
            None => Holidays::default(),
            Some(region) => match self.holidays.get(&region) {
                Some(h) => h.clone(),
                None => {
                    let known: Vec<&str> = self.holidays.keys().map(String::as_str).collect();
                    self.err_at(
                        file,
                        &region,
                        format!(
                            "holidays: no region {region:?} in the organisation's [holidays] (known: {})",
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    );
                    Holidays::default()
                }
            },
        };
        Some(Coverage {
            days,
            start,
            end,
            timezone,
            holidays,
        })
    }

    fn timezone(&mut self, file: &Path, name: &str) -> Option<Tz> {
        match name.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.err_at(
                    file,
                    name,
                    format!("{name:?} is not an IANA time zone (e.g. Europe/London)"),
                );
                None
            }
        }
    }

    fn date(&mut self, file: &Path, field: &str, value: &DateField) -> Option<NaiveDate> {
        match value.to_date() {
            Ok(d) => Some(d),
            Err(e) => {
                self.err_at(file, field, format!("{field}: {e}"));
                None
            }
        }
    }
}

/// Split `+++\n<toml>\n+++\n<body>`; returns (front matter, body, line where the front matter starts).
fn split_front_matter(text: &str) -> Option<(&str, &str, usize)> {
    let text_start = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rest = text_start.strip_prefix("+++")?;
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            let front = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Some((front, body, 2));
        }
        offset += line.len();
    }
    None
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_intent_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' || c == '.'
        })
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_split() {
        let (f, b, line) = split_front_matter("+++\nid = \"x\"\n+++\nBody\n").unwrap();
        assert_eq!(f, "id = \"x\"\n");
        assert_eq!(b, "Body\n");
        assert_eq!(line, 2);
        assert!(split_front_matter("no front matter").is_none());
        assert!(split_front_matter("+++\nid = 1\n").is_none());
    }

    #[test]
    fn weekday_sets() {
        assert_eq!(WeekdaySet::parse("Mon-Fri").unwrap().0, 0x1f);
        assert_eq!(WeekdaySet::parse("Sat-Mon").unwrap().0, 0b110_0001);
        assert!(WeekdaySet::parse("Funday").is_err());
    }

    /// Content files are edited by hand: any text in any of them gives errors that name the
    /// file and a line inside it — never a panic.
    mod properties {
        use super::super::Loader;
        use proptest::prelude::*;
        use std::path::Path;

        const ARTICLE: &str = include_str!("../../../knowledge-base/hr/hr-payday-payslips.md");
        const SERVICE: &str = include_str!("../../../knowledge-base/services/vendor-setup.toml");

        /// A real file with random edits: deeper into the parser than random text gets.
        fn mutated(base: &'static str) -> impl Strategy<Value = String> {
            proptest::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    0..4u8,
                    "\\PC{0,6}|[=\\[\\]\"'+#:\\n-]{1,3}",
                ),
                1..12,
            )
            .prop_map(move |edits| {
                let mut s: Vec<char> = base.chars().collect();
                for (at, kind, text) in edits {
                    let i = at.index(s.len() + 1);
                    match kind {
                        0 => s.splice(i..i, text.chars()).for_each(drop),
                        1 if i < s.len() => {
                            s.remove(i);
                        }
                        2 if i < s.len() => s[i] = text.chars().next().unwrap_or(' '),
                        _ => s.truncate(i.max(1)),
                    }
                }
                s.into_iter().collect()
            })
        }

        fn check(dir: &Path, name: &str, text: &str, load: fn(&mut Loader, &Path)) {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            let mut loader = Loader::new();
            load(&mut loader, &path);
            let lines = text.lines().count().max(1);
            for e in &loader.errors {
                assert_eq!(e.file, path);
                assert!(
                    e.line >= 1 && e.line <= lines + 1,
                    "{}:{} of {lines}: {}",
                    name,
                    e.line,
                    e.message
                );
                assert!(!e.message.trim().is_empty());
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn articles(text in prop_oneof![mutated(ARTICLE), any::<String>()]) {
                let dir = tempfile::tempdir().unwrap();
                check(dir.path(), "article.md", &text, Loader::load_article);
            }

            #[test]
            fn services(text in prop_oneof![mutated(SERVICE), any::<String>()]) {
                let dir = tempfile::tempdir().unwrap();
                check(dir.path(), "service.toml", &text, Loader::load_service);
            }

            #[test]
            fn intents(text in prop_oneof![
                mutated(include_str!("../../../intents/articles.toml")),
                any::<String>(),
            ]) {
                let dir = tempfile::tempdir().unwrap();
                check(dir.path(), "intents.toml", &text, Loader::load_intents);
            }
        }
    }
}
