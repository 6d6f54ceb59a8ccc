//! Demo data: realistic traffic for the three shipped clients, played through the real
//! dialogue ([`ChatService::handle`]) and the real manager actions ([`actions::act`]) with
//! simulated timestamps, so every KPI, the monthly report, the statement, the knowledge gaps
//! and the demand view have meaningful numbers right after `frontdoor serve`.
//!
//! - Contacts per client and local day: a weekday base (ACME 22, GLOBEX 14 with Saturday
//!   cover, INITECH 9), ±30%, a few on Sundays; the last two working days of a month are busier
//!   (×1.6: month-end questions) and one GLOBEX day, 12 days before the end, has a payroll
//!   incident (×5 contacts, mostly short pay questions: ≈3× the messages), so the spike detector has something to find.
//! - Hours follow a business-day curve (peaks at 10:00 and 14:00), about 8% outside coverage.
//! - A contact is an FAQ question from the shipped articles (a typo in one of four), an
//!   off-topic question (fallbacks: the knowledge gaps), a service request with the SPA inputs
//!   (one in four re-prompted for an invalid answer, some cancelled), "talk to a person", a
//!   status check or small talk. Answers get "Yes" (then the survey, scores mostly 4–5),
//!   "No" (alternatives, then sometimes the manager) or no reaction.
//! - Escalations are acknowledged, answered and resolved by the client's primary manager after
//!   plausible delays (minutes in coverage, the next morning off hours); some stay open.
//!
//! Nothing is delivered: the outbox worker is not started, and at the end every pending ping
//! is marked failed with the note "demo data: not sent" and the re-ping ladder is stopped, so
//! a server started on the demo database pings nobody. The traffic is deterministic for a
//! seed (conversation ids and measured latencies are not).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::dialogue::Input;
use crate::dialogue::service::{ChatService, Inbound, Outbound, ServiceError, current};
use crate::escalation::EscalationError;
use crate::escalation::actions::{Actor, act};
use crate::knowledge::{Action, Client, InputKind, InputSpec, Knowledge, Service};
use crate::store::{EscalationAction, IdentityClaim, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the database already has {0} messages; demo data goes into an empty database (point --database at a new one)"
    )]
    NotEmpty(i64),
    #[error("the content has no client {0}: demo data needs the shipped clients")]
    MissingClient(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chat(#[from] ServiceError),
    #[error(transparent)]
    Escalation(#[from] EscalationError),
}

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub days: u32,
    pub seed: u64,
    /// The end of the simulated period (usually now); traffic falls in the `days` days before.
    pub end: DateTime<Utc>,
    /// Multiplies every client's daily volume (1.0 = the documented bases).
    pub scale: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DemoSummary {
    pub days: u32,
    pub seed: u64,
    pub conversations: usize,
    /// Client turns (typed messages and button presses).
    pub client_turns: usize,
    /// Manager actions relayed (acknowledge, reply, resolve).
    pub manager_actions: usize,
    /// Conversations per client.
    pub per_client: BTreeMap<String, usize>,
    /// Client turns per outcome.
    pub outcomes: BTreeMap<String, usize>,
    pub escalations: usize,
    pub pings_not_sent: u64,
    pub elapsed_ms: u128,
}

/// The people of each shipped client (name, preferred channel).
const PEOPLE: &[(&str, &[(&str, &str)])] = &[
    (
        "ACME",
        &[
            ("Ann Lee", "web"),
            ("Raj Patel", "web"),
            ("Maria Gomez", "telegram"),
            ("Tom Hughes", "web"),
            ("Sofia Rossi", "discord"),
            ("James O'Neill", "web"),
            ("Li Wei", "web"),
            ("Hannah Brown", "telegram"),
            ("Kwame Mensah", "web"),
            ("Chloe Dubois", "web"),
        ],
    ),
    (
        "GLOBEX",
        &[
            ("Sam Ortiz", "web"),
            ("Emma Clarke", "web"),
            ("Noah Williams", "telegram"),
            ("Olivia Jones", "web"),
            ("Ahmed Khan", "discord"),
            ("Grace Taylor", "web"),
            ("Daniel Novak", "web"),
        ],
    ),
    (
        "INITECH",
        &[
            ("Lee Park", "web"),
            ("Nina Kowalski", "web"),
            ("Peter Gibbons", "discord"),
            ("Joanna Lopez", "web"),
            ("Milton Waddams", "telegram"),
        ],
    ),
];

/// Weekday base volume (conversations per day) and whether Saturday is covered.
fn base_volume(client: &str) -> (f64, bool) {
    match client {
        "ACME" => (22.0, false),
        "GLOBEX" => (14.0, true),
        _ => (9.0, false),
    }
}

/// Off-topic questions in themes (an editor should see these as gap groups), with weights.
const OFF_TOPIC: &[(u32, &[&str])] = &[
    (
        6,
        &[
            "how do I get a parking permit",
            "parking permit for the office car park",
            "where do I apply for a car park space",
            "can I get a parking space at head office",
            "car parking pass application",
        ],
    ),
    (
        4,
        &[
            "what's on the canteen menu today",
            "canteen opening hours",
            "is the canteen open on friday",
            "canteen menu this week",
        ],
    ),
    (
        3,
        &[
            "is there a cycle to work scheme",
            "how do I join the cycle to work scheme",
            "cycle scheme bike voucher",
        ],
    ),
    (
        3,
        &[
            "can I claim for an eye test",
            "eye test vouchers for screen users",
            "do we get free eye tests",
        ],
    ),
    (
        2,
        &[
            "what is the guest wifi code for visitors",
            "guest wifi for visitors in reception",
        ],
    ),
    (
        2,
        &[
            "what will the weather be like tomorrow",
            "recommend a good pizza place nearby",
            "who won the football last night",
            "tell me a joke about accountants",
        ],
    ),
];

const HUMAN: &[&str] = &[
    "I want to talk to a real person please",
    "can I speak to someone",
    "put me through to a human",
    "I need to talk to my account manager",
];

const STATUS: &[&str] = &[
    "what are my open requests",
    "show my open requests",
    "any update on my requests?",
];

const SMALLTALK: &[&str] = &["hello", "thanks", "good morning", "thank you, bye"];

const COMMENTS: &[&str] = &[
    "Quick and clear, thanks",
    "Took a while to get there",
    "Very helpful",
    "The answer was a bit long",
];

const MANAGER_REPLIES: &[&str] = &[
    "Thanks for flagging this. I'm looking into it now and will come back to you today.",
    "I've checked with the team: this is in hand, you'll get a confirmation by email.",
    "Sorry for the trouble. I've asked the specialist team to call you this afternoon.",
];

/// Hour-of-day weights (local time) of a working day; 0 outside.
const HOUR_WEIGHTS: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 1.0, 4.0, 8.0, 9.0, 8.0, 5.0, 6.0, 9.0, 7.0, 6.0, 4.0, 2.0,
    1.0, 0.8, 0.5, 0.3, 0.1,
];

fn weighted<'a, T>(rng: &mut StdRng, items: &'a [(u32, T)]) -> &'a T {
    let total: u32 = items.iter().map(|(w, _)| *w).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for (w, item) in items {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1].1
}

/// One item at random; `None` for an empty list.
fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        return None;
    }
    items.get(rng.random_range(0..items.len()))
}

/// One of a constant list of texts (empty only if the list is).
fn pick_text(rng: &mut StdRng, items: &[&str]) -> String {
    pick(rng, items).copied().unwrap_or_default().to_string()
}

/// A typo in one word of five letters or more: two letters swapped or one dropped.
fn typo(rng: &mut StdRng, text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let long: Vec<usize> = (0..words.len())
        .filter(|i| words[*i].chars().count() >= 5 && words[*i].chars().all(char::is_alphabetic))
        .collect();
    if long.is_empty() {
        return text.to_string();
    }
    let Some(&i) = pick(rng, &long) else {
        return text.to_string();
    };
    let mut chars: Vec<char> = words[i].chars().collect();
    let at = rng.random_range(1..chars.len() - 1);
    if rng.random_bool(0.5) {
        chars.swap(at, at + 1);
    } else {
        chars.remove(at);
    }
    let fixed: String = chars.into_iter().collect();
    words
        .iter()
        .enumerate()
        .map(|(j, w)| if j == i { fixed.as_str() } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A sample string matching the simple patterns the service catalogue uses (`^E\d{6}$`,
/// `^(INV|JNL)-\d{6}$`, `^CC\d{4}$`, `^\\\\nw-files0[12]\\.+`, ...); checked by the caller.
fn sample_for_pattern(rng: &mut StdRng, pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // The last atom, to repeat for a quantifier.
    let mut last = String::new();
    while i < chars.len() {
        let c = chars[i];
        let atom: Option<String> = match c {
            '^' | '$' => None,
            '\\' => {
                i += 1;
                match chars.get(i) {
                    Some('d') => Some(rng.random_range(0..10).to_string()),
                    Some(other) => Some(other.to_string()),
                    None => None,
                }
            }
            '[' => {
                let end = chars[i..].iter().position(|x| *x == ']').map(|p| p + i);
                let set: Vec<char> = match end {
                    Some(e) => chars[i + 1..e].to_vec(),
                    None => vec![],
                };
                i = end.unwrap_or(i);
                set.first().map(|x| x.to_string())
            }
            '(' => {
                let end = chars[i..].iter().position(|x| *x == ')').map(|p| p + i);
                let inner: String = match end {
                    Some(e) => chars[i + 1..e].iter().collect(),
                    None => String::new(),
                };
                i = end.unwrap_or(i);
                let alts: Vec<&str> = inner.split('|').collect();
                pick(rng, &alts).map(|a| a.to_string())
            }
            '{' => {
                let end = chars[i..].iter().position(|x| *x == '}').map(|p| p + i);
                let inner: String = match end {
                    Some(e) => chars[i + 1..e].iter().collect(),
                    None => String::new(),
                };
                i = end.unwrap_or(i);
                let n: usize = inner
                    .split(',')
                    .next()
                    .and_then(|x| x.trim().parse().ok())
                    .unwrap_or(1);
                for _ in 1..n {
                    // Regenerate digits so "\d{6}" is not "777777".
                    if last.chars().all(|x| x.is_ascii_digit()) && !last.is_empty() {
                        out.push_str(&rng.random_range(0..10).to_string());
                    } else {
                        out.push_str(&last);
                    }
                }
                None
            }
            '+' | '*' => {
                if last == "." {
                    out.pop();
                    out.push_str("finance\\budgets");
                }
                None
            }
            '?' => None,
            '.' => Some(".".to_string()),
            other => Some(other.to_string()),
        };
        if let Some(a) = atom {
            out.push_str(&a);
            last = a;
        }
        i += 1;
    }
    out
}

struct Person {
    name: String,
    email: String,
    channel: String,
}

fn people_of(client: &str) -> Vec<Person> {
    let domain = client.to_lowercase();
    PEOPLE
        .iter()
        .find(|(c, _)| *c == client)
        .map(|(_, list)| {
            list.iter()
                .map(|(name, channel)| {
                    let email = format!(
                        "{}@{domain}.example",
                        name.to_lowercase()
                            .replace('\'', "")
                            .split(' ')
                            .collect::<Vec<_>>()
                            .join(".")
                    );
                    Person {
                        name: name.to_string(),
                        email,
                        channel: channel.to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A valid answer to an input, or `None` when the demo cannot make one up.
fn valid_value(
    rng: &mut StdRng,
    input: &InputSpec,
    person: &Person,
    now: DateTime<Utc>,
) -> Option<String> {
    let name = input.name.as_str();
    Some(match &input.kind {
        InputKind::Text => {
            let options: &[&str] = if name.contains("vendor") || name.contains("supplier") {
                &[
                    "Brightwell Office Supplies Ltd",
                    "Harbour Logistics Ltd",
                    "Kestrel Facilities plc",
                ]
            } else if name.contains("holder") || name.contains("starter") {
                &[person.name.as_str()]
            } else if name.contains("software") {
                &["Tableau Desktop", "Visio Professional", "Adobe Acrobat Pro"]
            } else if name.contains("address") {
                &[
                    "Unit 4, Riverside Park, Leeds LS1 4AB",
                    "Head office, 2nd floor",
                ]
            } else if name.contains("addressee") {
                &["Nationwide Building Society", "Lettings Direct Ltd"]
            } else {
                &[
                    "Quarterly maintenance for the packing line",
                    "Posted to the wrong cost centre in October",
                    "Needed for the new regional reporting team",
                ]
            };
            pick_text(rng, options)
        }
        InputKind::Number { min, max } => {
            let lo = min.unwrap_or(1.0).max(1.0) as i64;
            let hi = max.unwrap_or(10.0).min(lo as f64 + 9.0) as i64;
            rng.random_range(lo..=hi.max(lo)).to_string()
        }
        InputKind::Amount { min, max } => {
            let lo = min.unwrap_or(10.0).max(10.0);
            let hi = max.unwrap_or(5000.0).min(5000.0).max(lo);
            format!("{:.2}", rng.random_range(lo..=hi))
        }
        InputKind::Date { .. } => (now + Duration::days(rng.random_range(5..40)))
            .date_naive()
            .format("%Y-%m-%d")
            .to_string(),
        InputKind::Email => person.email.clone(),
        InputKind::Choice { choices } => pick(rng, choices)?.clone(),
        InputKind::Reference { pattern } => {
            let v = sample_for_pattern(rng, pattern.0.as_str());
            if !pattern.0.is_match(&v) {
                return None;
            }
            v
        }
    })
}

/// An answer the form refuses, for the re-prompt KPIs; `None` when any text is accepted.
fn invalid_value(input: &InputSpec) -> Option<&'static str> {
    match &input.kind {
        InputKind::Reference { .. } => Some("not sure, hang on"),
        InputKind::Email => Some("john at the office"),
        InputKind::Date { .. } => Some("sometime soon-ish"),
        InputKind::Number { .. } => Some("a few"),
        InputKind::Amount { .. } => Some("about that much"),
        _ => None,
    }
}

/// What a contact is about.
enum Plan {
    Faq {
        question: String,
    },
    OffTopic {
        first: String,
        second: Option<String>,
    },
    Request {
        service: String,
        start: String,
    },
    Human,
    Status,
    Smalltalk,
}

struct Generator<'a> {
    chat: &'a ChatService,
    k: std::sync::Arc<Knowledge>,
    rng: StdRng,
    end: DateTime<Utc>,
    summary: DemoSummary,
    session: u64,
}

/// One contact being played.
struct Visit<'a> {
    client: &'a Client,
    person: &'a Person,
    session: String,
    now: DateTime<Utc>,
    conversation: Option<String>,
}

impl Generator<'_> {
    async fn say(&mut self, v: &mut Visit<'_>, input: Input) -> Result<Outbound, DemoError> {
        let out = self
            .chat
            .handle(Inbound {
                channel: v.person.channel.clone(),
                session_key: v.session.clone(),
                identity: Some(IdentityClaim {
                    channel: v.person.channel.clone(),
                    external_id: v.person.email.clone(),
                    display_name: Some(v.person.name.clone()),
                    client_code: Some(v.client.code.clone()),
                }),
                input,
                channel_message_id: None,
                now: v.now,
            })
            .await?;
        self.summary.client_turns += 1;
        *self
            .summary
            .outcomes
            .entry(out.outcome.clone())
            .or_insert(0) += 1;
        v.conversation = Some(out.conversation_id.clone());
        // The person reads and types: 20 s to 2 min to the next message.
        v.now += Duration::seconds(self.rng.random_range(20..120));
        Ok(out)
    }

    fn has_button(out: &Outbound, payload: &str) -> bool {
        out.replies
            .iter()
            .any(|r| r.buttons.iter().any(|b| b.payload == payload))
    }

    fn buttons_with_prefix(out: &Outbound, prefix: &str) -> Vec<String> {
        out.replies
            .iter()
            .flat_map(|r| r.buttons.iter())
            .filter(|b| b.payload.starts_with(prefix))
            .map(|b| b.payload.clone())
            .collect()
    }

    /// The survey, if offered: answered three times in four; scores mostly 4-5.
    async fn survey(&mut self, v: &mut Visit<'_>, out: &Outbound) -> Result<(), DemoError> {
        if !Self::has_button(out, "survey:5") || !self.rng.random_bool(0.75) {
            return Ok(());
        }
        let score = *weighted(&mut self.rng, &[(6, 1), (6, 2), (12, 3), (30, 4), (46, 5)]);
        let out = self
            .say(v, Input::Button(format!("survey:{score}")))
            .await?;
        if Self::has_button(&out, "skip") {
            if self.rng.random_bool(0.25) {
                let c = pick_text(&mut self.rng, COMMENTS);
                self.say(v, Input::Text(c)).await?;
            } else if self.rng.random_bool(0.5) {
                self.say(v, Input::Button("skip".into())).await?;
            }
        }
        Ok(())
    }

    async fn after_answer(&mut self, v: &mut Visit<'_>, out: Outbound) -> Result<(), DemoError> {
        let mut out = out;
        // Clarification: pick the first suggestion mostly.
        if out.outcome == "clarify" {
            let options = Self::buttons_with_prefix(&out, "intent:");
            let choice = match options.first() {
                Some(o) if self.rng.random_bool(0.75) => o.clone(),
                _ => "something_else".to_string(),
            };
            out = self.say(v, Input::Button(choice)).await?;
        }
        if !Self::has_button(&out, "yes") || out.outcome != "answered" {
            return Ok(());
        }
        let r: f64 = self.rng.random();
        if r < 0.62 {
            let out = self.say(v, Input::Button("yes".into())).await?;
            self.survey(v, &out).await?;
        } else if r < 0.80 {
            let out = self.say(v, Input::Button("no".into())).await?;
            let alternatives = Self::buttons_with_prefix(&out, "article:");
            if let Some(a) = alternatives.first().filter(|_| self.rng.random_bool(0.5)) {
                let a = a.clone();
                let out = self.say(v, Input::Button(a)).await?;
                if Self::has_button(&out, "yes") && self.rng.random_bool(0.7) {
                    let out = self.say(v, Input::Button("yes".into())).await?;
                    self.survey(v, &out).await?;
                }
            } else if Self::has_button(&out, "escalate") && self.rng.random_bool(0.6) {
                self.say(v, Input::Button("escalate".into())).await?;
            }
        }
        Ok(())
    }

    async fn request(
        &mut self,
        v: &mut Visit<'_>,
        service: &Service,
        start: &str,
    ) -> Result<(), DemoError> {
        let mut out = self.say(v, Input::Text(start.to_string())).await?;
        let invalid_once = self.rng.random_bool(0.25);
        let cancel_midway = self.rng.random_bool(0.07);
        let mut refused = false;
        for turn in 0..16 {
            if out.outcome != "prompt" {
                break;
            }
            if Self::has_button(&out, "confirm") {
                let r: f64 = self.rng.random();
                let payload = if r < 0.92 { "confirm" } else { "cancel" };
                out = self.say(v, Input::Button(payload.into())).await?;
                continue;
            }
            if cancel_midway && turn == 2 {
                self.say(v, Input::Text("cancel".into())).await?;
                break;
            }
            let text = out
                .replies
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let Some(input) = service
                .inputs
                .iter()
                .rev()
                .find(|i| text.contains(i.prompt.as_str()))
            else {
                break;
            };
            if !input.required && self.rng.random_bool(0.4) {
                out = self.say(v, Input::Button("skip".into())).await?;
                continue;
            }
            if invalid_once
                && !refused
                && let Some(bad) = invalid_value(input)
            {
                refused = true;
                out = self.say(v, Input::Text(bad.into())).await?;
                continue;
            }
            let Some(value) = valid_value(&mut self.rng, input, v.person, v.now) else {
                self.say(v, Input::Text("cancel".into())).await?;
                break;
            };
            out = self.say(v, Input::Text(value)).await?;
        }
        Ok(())
    }

    /// The manager's side of every escalation the visit raised, at plausible delays.
    async fn managers(&mut self, v: &mut Visit<'_>) -> Result<(), DemoError> {
        let Some(conversation) = v.conversation.clone() else {
            return Ok(());
        };
        let escalations = self
            .chat
            .store
            .escalations_of_conversation(&conversation)
            .await?;
        let Some(manager) = v
            .client
            .managers
            .iter()
            .find(|m| m.role == "primary")
            .or(v.client.managers.first())
        else {
            return Ok(());
        };
        let actor = Actor::Manager {
            email: manager.email.clone(),
        };
        for e in escalations {
            self.summary.escalations += 1;
            let created = Utc
                .timestamp_millis_opt(e.created_at)
                .single()
                .unwrap_or(v.now);
            // Off hours the manager sees it the next morning.
            let first = if e.off_hours {
                Duration::minutes(self.rng.random_range(600..900))
            } else if e.priority == "urgent" {
                Duration::minutes(self.rng.random_range(2..20))
            } else {
                Duration::minutes(self.rng.random_range(5..150))
            };
            let mut at = created + first;
            if !self.rng.random_bool(0.9) || at > self.end {
                continue;
            }
            act(
                self.chat,
                e.id,
                &actor,
                EscalationAction::Acknowledge,
                None,
                None,
                at,
            )
            .await?;
            self.summary.manager_actions += 1;
            at += Duration::minutes(self.rng.random_range(10..240));
            if !self.rng.random_bool(0.88) || at > self.end {
                continue;
            }
            let reply = pick_text(&mut self.rng, MANAGER_REPLIES);
            act(
                self.chat,
                e.id,
                &actor,
                EscalationAction::Reply,
                Some(reply),
                None,
                at,
            )
            .await?;
            self.summary.manager_actions += 1;
            at += Duration::minutes(self.rng.random_range(30..2880));
            if !self.rng.random_bool(0.85) || at > self.end {
                continue;
            }
            let result = act(
                self.chat,
                e.id,
                &actor,
                EscalationAction::Resolve,
                None,
                None,
                at,
            )
            .await?;
            self.summary.manager_actions += 1;
            v.now = at + Duration::minutes(self.rng.random_range(1..30));
            if v.now <= self.end {
                self.survey(v, &result.outbound).await?;
            }
        }
        Ok(())
    }

    fn plan(&mut self, client: &Client, payroll_incident: bool, month_end: bool) -> Plan {
        let k = self.k.clone();
        let visible: Vec<&crate::knowledge::Article> = k
            .articles
            .values()
            .filter(|a| a.visibility.allows(Some(&client.code)) && !a.questions.is_empty())
            .collect();
        let faq = |rng: &mut StdRng,
                   filter: &dyn Fn(&crate::knowledge::Article) -> bool|
         -> Option<String> {
            let list: Vec<&&crate::knowledge::Article> =
                visible.iter().filter(|a| filter(a)).collect();
            let list = if list.is_empty() {
                visible.iter().collect()
            } else {
                list
            };
            let a = pick(rng, &list)?;
            let q = pick(rng, &a.questions)?.clone();
            Some(if rng.random_bool(0.25) {
                typo(rng, &q)
            } else {
                q
            })
        };
        if payroll_incident
            && self.rng.random_bool(0.7)
            && let Some(question) = faq(&mut self.rng, &|a| a.id.starts_with("hr-pay"))
        {
            return Plan::Faq { question };
        }
        if month_end
            && self.rng.random_bool(0.4)
            && let Some(question) = faq(&mut self.rng, &|a| a.category == "Finance")
        {
            return Plan::Faq { question };
        }
        let r: f64 = self.rng.random();
        if r < 0.55 {
            match faq(&mut self.rng, &|_| true) {
                Some(question) => Plan::Faq { question },
                None => Plan::Smalltalk,
            }
        } else if r < 0.66 {
            let theme = *weighted(&mut self.rng, OFF_TOPIC);
            let first = pick_text(&mut self.rng, theme);
            let second = self
                .rng
                .random_bool(0.3)
                .then(|| pick_text(&mut self.rng, theme));
            Plan::OffTopic { first, second }
        } else if r < 0.84 {
            let services: Vec<(&String, Vec<&String>)> = k
                .services
                .keys()
                .filter(|s| {
                    client
                        .spa
                        .services
                        .as_ref()
                        .is_none_or(|list| list.contains(s))
                })
                .map(|s| {
                    let starts: Vec<&String> = k
                        .intents
                        .values()
                        .filter(|i| i.action == Action::Service(s.clone()))
                        .flat_map(|i| i.examples.iter())
                        .collect();
                    (s, starts)
                })
                .filter(|(_, starts)| !starts.is_empty())
                .collect();
            let Some((service, starts)) = pick(&mut self.rng, &services) else {
                return Plan::Smalltalk;
            };
            let start = pick(&mut self.rng, starts)
                .map(|s| s.to_string())
                .unwrap_or_default();
            Plan::Request {
                service: service.to_string(),
                start,
            }
        } else if r < 0.89 {
            Plan::Human
        } else if r < 0.95 {
            Plan::Status
        } else {
            Plan::Smalltalk
        }
    }

    async fn visit(
        &mut self,
        client: &Client,
        person: &Person,
        at: DateTime<Utc>,
        plan: Plan,
    ) -> Result<(), DemoError> {
        self.session += 1;
        let mut v = Visit {
            client,
            person,
            session: format!("demo-{}", self.session),
            now: at,
            conversation: None,
        };
        match plan {
            Plan::Faq { question } => {
                let out = self.say(&mut v, Input::Text(question)).await?;
                self.after_answer(&mut v, out).await?;
            }
            Plan::OffTopic { first, second } => {
                self.say(&mut v, Input::Text(first)).await?;
                if let Some(second) = second {
                    let out = self.say(&mut v, Input::Text(second)).await?;
                    if Self::has_button(&out, "escalate") {
                        let p = if self.rng.random_bool(0.5) {
                            "escalate"
                        } else {
                            "no"
                        };
                        self.say(&mut v, Input::Button(p.into())).await?;
                    }
                }
            }
            Plan::Request { service, start } => {
                let k = self.k.clone();
                if let Some(s) = k.services.get(&service) {
                    self.request(&mut v, s, &start).await?;
                }
            }
            Plan::Human => {
                let text = pick_text(&mut self.rng, HUMAN);
                self.say(&mut v, Input::Text(text)).await?;
            }
            Plan::Status => {
                let text = pick_text(&mut self.rng, STATUS);
                self.say(&mut v, Input::Text(text)).await?;
            }
            Plan::Smalltalk => {
                let text = pick_text(&mut self.rng, SMALLTALK);
                self.say(&mut v, Input::Text(text)).await?;
            }
        }
        self.managers(&mut v).await?;
        self.summary.conversations += 1;
        *self
            .summary
            .per_client
            .entry(client.code.clone())
            .or_insert(0) += 1;
        Ok(())
    }
}

/// Working days (Mon-Fri) of the month of `d` that are among its last two.
fn is_month_end(d: NaiveDate) -> bool {
    let mut next = d;
    let mut working_after = 0;
    loop {
        next = match next.succ_opt() {
            Some(n) => n,
            None => return false,
        };
        if next.month() != d.month() {
            break;
        }
        if next.weekday().num_days_from_monday() < 5 {
            working_after += 1;
        }
    }
    d.weekday().num_days_from_monday() < 5 && working_after < 2
}

/// Contact times of one client: (UTC time, payroll incident day, month end), oldest first.
fn schedule(
    rng: &mut StdRng,
    client: &Client,
    days: u32,
    end: DateTime<Utc>,
    scale: f64,
) -> Vec<(DateTime<Utc>, bool, bool)> {
    let tz = client.timezone;
    let (base, saturday) = base_volume(&client.code);
    let last_day = end.with_timezone(&tz).date_naive();
    let incident_day = last_day - Duration::days(12);
    let mut out = Vec::new();
    for back in (0..i64::from(days)).rev() {
        let day = last_day - Duration::days(back);
        let weekday = day.weekday();
        let mut expected = match weekday {
            Weekday::Sat if saturday => base * 0.35,
            Weekday::Sat => base * 0.05,
            Weekday::Sun => base * 0.04,
            _ => base,
        };
        let month_end = is_month_end(day);
        if month_end {
            expected *= 1.6;
        }
        let incident = client.code == "GLOBEX" && day == incident_day;
        if incident {
            // Five times the contacts: most are one-question pay FAQs where a normal contact
            // averages about three messages, so the day's messages come out at about 3× — well
            // past the 2× spike threshold, as a real payroll incident would be.
            expected *= 5.0;
        }
        let n = (expected * scale * rng.random_range(0.7..1.3)).round() as usize;
        for _ in 0..n {
            let hour = {
                let total: f64 = HOUR_WEIGHTS.iter().sum();
                let mut x = rng.random_range(0.0..total);
                let mut h = 23;
                for (i, w) in HOUR_WEIGHTS.iter().enumerate() {
                    if x < *w {
                        h = i;
                        break;
                    }
                    x -= w;
                }
                h as u32
            };
            let Some(local) =
                day.and_hms_opt(hour, rng.random_range(0..60), rng.random_range(0..60))
            else {
                continue;
            };
            let Some(t) = tz.from_local_datetime(&local).earliest() else {
                continue;
            };
            let t = t.with_timezone(&Utc);
            if t < end {
                out.push((t, incident, month_end));
            }
        }
    }
    out
}

/// Fill the chat service's (empty) database with `days` days of demo traffic.
pub async fn generate(chat: &ChatService, options: &DemoOptions) -> Result<DemoSummary, DemoError> {
    let started = std::time::Instant::now();
    let existing = chat.store.message_count().await?;
    if existing > 0 {
        return Err(DemoError::NotEmpty(existing));
    }
    let k = current(&chat.knowledge);
    crate::knowledge::live::seed_clients(chat.store.as_ref(), &k).await?;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let end = options
        .end
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(options.end);
    // Every contact of every client, in time order (survey fatigue and "returning user" look
    // at what came before).
    let mut contacts: Vec<(DateTime<Utc>, String, usize, bool, bool)> = Vec::new();
    for (code, _) in PEOPLE {
        let client = k
            .clients
            .get(*code)
            .ok_or_else(|| DemoError::MissingClient(code.to_string()))?;
        let people = people_of(code).len();
        for (t, incident, month_end) in schedule(&mut rng, client, options.days, end, options.scale)
        {
            let who = rng.random_range(0..people);
            contacts.push((t, code.to_string(), who, incident, month_end));
        }
    }
    contacts.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let people: BTreeMap<&str, Vec<Person>> = PEOPLE
        .iter()
        .map(|(code, _)| (*code, people_of(code)))
        .collect();
    let mut g = Generator {
        chat,
        k: k.clone(),
        rng,
        end,
        summary: DemoSummary {
            days: options.days,
            seed: options.seed,
            ..DemoSummary::default()
        },
        session: 0,
    };
    for (t, code, who, incident, month_end) in contacts {
        let (Some(client), Some(person)) = (
            k.clients.get(&code),
            people.get(code.as_str()).and_then(|p| p.get(who)),
        ) else {
            continue;
        };
        let plan = g.plan(client, incident, month_end);
        g.visit(client, person, t, plan).await?;
    }
    let (pings, _) = chat.store.quiesce_outbox("demo data: not sent").await?;
    g.summary.pings_not_sent = pings;
    g.summary.elapsed_ms = started.elapsed().as_millis();
    Ok(g.summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_samples_match_the_catalogue_patterns() {
        let mut rng = StdRng::seed_from_u64(1);
        for p in [
            r"^E\d{6}$",
            r"^\d{2}-\d{2}-\d{2}$",
            r"^(INV|JNL|EXP)-\d{6}$",
            r"^CC\d{4}$",
            r"^GB\d{9}$",
            r"^\\\\nw-files0[12]\\.+",
        ] {
            let re = regex::Regex::new(p).unwrap();
            let s = sample_for_pattern(&mut rng, p);
            assert!(re.is_match(&s), "{p} -> {s}");
        }
    }

    #[test]
    fn typos_change_one_long_word() {
        let mut rng = StdRng::seed_from_u64(3);
        let t = typo(&mut rng, "how do I reset my password");
        assert_ne!(t, "how do I reset my password");
        assert_eq!(t.split(' ').count(), 6);
        assert_eq!(typo(&mut rng, "hi to you"), "hi to you");
    }

    #[test]
    fn month_end_is_the_last_two_working_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // November 2026 ends on Monday 30th: Fri 27 and Mon 30 are its last working days.
        assert!(is_month_end(d("2026-11-30")));
        assert!(is_month_end(d("2026-11-27")));
        assert!(!is_month_end(d("2026-11-26")));
        assert!(!is_month_end(d("2026-11-28")));
    }
}
