//! The validated knowledge: what the loader produces and the dialogue reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Serialize;

/// Days of the week as a bit set (Mon = bit 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WeekdaySet(pub u8);

impl WeekdaySet {
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Parse "Mon-Fri", "Mon-Sat", "Mon,Wed,Fri", "Mon-Fri,Sun", "all".
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("all") || s.trim().eq_ignore_ascii_case("every day") {
            return Ok(Self(0x7f));
        }
        let mut bits = 0u8;
        for part in s.split(',') {
            let part = part.trim();
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (part, part),
            };
            let a = parse_weekday(a)?;
            let b = parse_weekday(b)?;
            let (mut i, end) = (a.num_days_from_monday(), b.num_days_from_monday());
            loop {
                bits |= 1 << i;
                if i == end {
                    break;
                }
                i = (i + 1) % 7;
            }
        }
        Ok(Self(bits))
    }
}

fn parse_weekday(s: &str) -> Result<Weekday, String> {
    s.parse::<Weekday>()
        .map_err(|_| format!("{s:?} is not a day of the week (Mon, Tue, ...)"))
}

/// Hours of coverage: on these days, from `start` to `end`, in a time zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coverage {
    pub days: WeekdaySet,
    pub start: NaiveTime,
    pub end: NaiveTime,
    #[serde(serialize_with = "ser_tz")]
    pub timezone: Tz,
    /// Public holidays of the region these hours are kept in: no business time on them.
    pub holidays: Holidays,
}

/// A region's public holidays (`[holidays]` in `sso.toml`), shared by every coverage kept there.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Holidays {
    /// The region's name as the content gives it (`england-and-wales`); empty for none.
    pub region: String,
    pub dates: std::sync::Arc<std::collections::BTreeSet<NaiveDate>>,
}

impl Holidays {
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.dates.contains(&day)
    }
}

fn ser_tz<S: serde::Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

impl Coverage {
    pub fn label(&self) -> String {
        let days: Vec<&str> = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ]
        .iter()
        .filter(|d| self.days.contains(**d))
        .map(|d| match d {
            Weekday::Mon => "Mon",
            Weekday::Tue => "Tue",
            Weekday::Wed => "Wed",
            Weekday::Thu => "Thu",
            Weekday::Fri => "Fri",
            Weekday::Sat => "Sat",
            Weekday::Sun => "Sun",
        })
        .collect();
        let days = if days.len() > 2 && self.days.0 == 0x1f {
            "Mon-Fri".to_string()
        } else {
            days.join(", ")
        };
        format!(
            "{days} {}-{} ({})",
            self.start.format("%H:%M"),
            self.end.format("%H:%M"),
            self.timezone.name()
        )
    }
}

/// The interaction a request's first completion is recharged as, when the rate card prices it:
/// `completed_request = 2.00` (every service) or `completed_request = { default = 2.00,
/// vendor-setup = 12.00 }` (per service, `default` for the others; without `default` only the
/// services named are charged). The ledger row's type is `completed_request.<service id>`, so a
/// statement shows one line per service.
pub const COMPLETED_REQUEST: &str = "completed_request";

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Organisation {
    pub name: String,
    pub short_name: String,
    #[serde(serialize_with = "ser_tz")]
    pub timezone: Tz,
    pub currency: String,
    pub coverage: Coverage,
    /// The rate card: interaction type → unit price. A completed request may be priced per
    /// service: `completed_request.<service id>` (see [`COMPLETED_REQUEST`]).
    pub rates: BTreeMap<String, f64>,
    /// The SSO's commitment to answer an escalation (business hours), normal and urgent.
    pub escalation_response_hours: u32,
    pub urgent_response_hours: u32,
    /// The client's side of the SPA: business hours to answer a question about their request.
    pub client_response_hours: u32,
    /// Days after completion within which a request may be reopened.
    pub reopen_window_days: u32,
    /// Days after a month ends before its report, not yet reviewed by both sides, reminds the
    /// account manager (`backoffice::review::reminders`).
    pub review_reminder_days: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    All,
    Clients(Vec<String>),
}

impl Visibility {
    pub fn allows(&self, client: Option<&str>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Clients(list) => client.is_some_and(|c| list.iter().any(|x| x == c)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub category: String,
    pub tags: Vec<String>,
    pub questions: Vec<String>,
    pub process: Option<String>,
    pub service: Option<String>,
    pub reviewed: NaiveDate,
    pub owner: String,
    pub visibility: Visibility,
    /// Markdown.
    pub body: String,
    pub file: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessQuestion {
    Owner,
    Inputs,
    Duration,
}

/// What an intent does when recognised.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "target")]
pub enum Action {
    Article(String),
    Service(String),
    Status,
    Escalate,
    Feedback,
    Smalltalk,
    Help,
    Greeting,
    Thanks,
    Goodbye,
    Process(ProcessQuestion),
    /// Examples of what the SSO does not handle (weather, personal shopping, ...). The engine
    /// trains it like any intent and answers `Fallback` when it ranks first (see
    /// `EngineConfig::out_of_scope_intent`), so off-topic questions built from domain words
    /// are caught by what they look like, not only by a low confidence. At most one.
    OutOfScope,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Intent {
    pub name: String,
    pub description: String,
    pub action: Action,
    pub examples: Vec<String>,
    pub rules: Vec<String>,
    pub replies: Vec<String>,
    pub file: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Turnaround {
    BusinessHours(u32),
    BusinessDays(u32),
    CalendarDays(u32),
}

impl Turnaround {
    pub fn label(&self) -> String {
        fn plural(n: u32, unit: &str) -> String {
            if n == 1 {
                format!("1 {unit}")
            } else {
                format!("{n} {unit}s")
            }
        }
        match *self {
            Turnaround::BusinessHours(n) => plural(n, "business hour"),
            Turnaround::BusinessDays(n) => plural(n, "business day"),
            Turnaround::CalendarDays(n) => plural(n, "calendar day"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum InputKind {
    Text,
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Amount {
        min: Option<f64>,
        max: Option<f64>,
    },
    Date {
        future: bool,
    },
    Email,
    Choice {
        choices: Vec<String>,
    },
    Reference {
        pattern: Pattern,
        /// The same pattern found anywhere in a message (`\b(?:…)\b`, its anchors dropped):
        /// compiled once with the content, not for every message that might carry a value.
        #[serde(skip)]
        in_text: Pattern,
    },
}

impl InputKind {
    /// A reference input whose whole answer must match `pattern`.
    pub fn reference(pattern: &str) -> Result<Self, regex::Error> {
        let unanchored = pattern.trim_start_matches('^').trim_end_matches('$');
        Ok(InputKind::Reference {
            pattern: Pattern(regex::Regex::new(pattern)?),
            in_text: Pattern(regex::Regex::new(&format!(r"\b(?:{unanchored})\b"))?),
        })
    }
}

/// A compiled regex that compares and serialises as its source.
#[derive(Clone, Debug)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputSpec {
    pub name: String,
    pub prompt: String,
    pub kind: InputKind,
    pub required: bool,
    pub help: Option<String>,
    /// Finds the value in a free-text message (e.g. the vendor name in "new vendor Acme Ltd"),
    /// so it is not asked again. Uses the group named `value` if present, else the whole match.
    pub extract: Option<Pattern>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub team: String,
    pub process: Option<String>,
    pub description: String,
    pub interaction: String,
    pub turnaround: Turnaround,
    pub coverage: Option<Coverage>,
    pub inputs: Vec<InputSpec>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Manager {
    pub name: String,
    pub role: String,
    pub email: String,
    pub telegram_chat: Option<i64>,
    pub discord_user: Option<String>,
    pub discord_channel: Option<String>,
    pub webhook: Option<String>,
    /// The manager's route preference by channel name (`telegram`, `discord`, `webhook`,
    /// `email`); routes not named follow in the default order. Empty: the default order.
    pub route_order: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spa {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub renewal_notice_days: u32,
    pub coverage: Option<Coverage>,
    /// `None`: all services.
    pub services: Option<Vec<String>>,
}

impl Spa {
    /// The last day to give renewal notice.
    pub fn renewal_notice_date(&self) -> NaiveDate {
        self.end - chrono::Days::new(u64::from(self.renewal_notice_days))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Client {
    pub code: String,
    pub name: String,
    #[serde(serialize_with = "ser_tz")]
    pub timezone: Tz,
    pub spa: Spa,
    pub rates: BTreeMap<String, f64>,
    pub managers: Vec<Manager>,
    /// How far the bot is switched on for this client, per channel (the client file's
    /// `[rollout]`; the back office can override a channel's mode at run time).
    pub rollout: ClientRollout,
}

/// The client file's `[rollout]`: a mode per channel (absent: live) and what a pilot covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClientRollout {
    pub modes: BTreeMap<String, crate::domain::RolloutMode>,
    pub pilot: PilotScope,
}

impl ClientRollout {
    /// The mode the client file gives a channel.
    pub fn mode(&self, channel: &str) -> crate::domain::RolloutMode {
        self.modes.get(channel).copied().unwrap_or_default()
    }
}

/// What the bot answers itself in pilot mode; everything else is shadowed.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PilotScope {
    /// Intent names the bot answers.
    pub intents: Vec<String>,
    /// Article categories or service teams ("IT", "Procurement") the bot answers.
    pub domains: Vec<String>,
    /// Percent of conversations (chosen by a stable hash of the conversation) the bot runs
    /// whole, whatever they ask.
    pub share: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessStep {
    pub name: String,
    pub side: String,
    pub description: String,
    pub handoff: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Process {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub owner: String,
    pub team: String,
    pub description: String,
    pub typical_duration: Option<String>,
    pub services: Vec<String>,
    pub articles: Vec<String>,
    pub steps: Vec<ProcessStep>,
}

/// One group as written, with where it was written.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VocabularyEntry {
    pub terms: Vec<String>,
    pub articles: Vec<String>,
    pub domain: Option<String>,
    pub note: Option<String>,
    /// The terms mark questions the SSO does not handle (see `VocabularyGroup::off_topic`).
    pub off_topic: bool,
    pub file: PathBuf,
    /// Line of the group's `[[group]]` header.
    pub line: usize,
}

impl VocabularyEntry {
    /// "intents/vocabulary.toml:12", relative to the content root when possible.
    pub fn origin(&self, root: &Path) -> String {
        let shown = self.file.strip_prefix(root).unwrap_or(&self.file);
        format!("{}:{}", shown.display(), self.line)
    }
}
