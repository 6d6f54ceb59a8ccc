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
//! - Requests live their lifecycle through the one entry every surface uses
//!   (`requests::record`, the lifecycle's rules): picked up within hours, one in four needs
//!   information from the client (who answers in the conversation, one time in five late), most
//!   are completed inside the SPA's due time and some late, a few are cancelled or reopened;
//!   completions ask for the survey and are recharged where the rate card prices them.
//!   Whatever falls after the period's end has not happened yet: those requests are still open.
//!
//! Nothing is delivered: the outbox worker is not started, and at the end every pending ping
//! is marked failed with the note "demo data: not sent" and the re-ping ladder is stopped, so
//! a server started on the demo database pings nobody. The traffic is deterministic for a
//! seed (conversation ids and measured latencies are not).

mod lifecycle;
mod lines;
mod schedule;
mod visit;

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::dialogue::service::{ChatService, ServiceError, current};
use crate::escalation::EscalationError;
use crate::requests::RequestError;
use crate::simulation::people::{PEOPLE, Person, people_of};
use crate::store::StoreError;
use schedule::schedule;
use visit::Generator;

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
    #[error(transparent)]
    Request(#[from] RequestError),
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
    /// Requests moved by the SSO (picked up, asked, completed, cancelled, reopened).
    pub request_moves: usize,
    pub pings_not_sent: u64,
    pub elapsed_ms: u128,
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
        lives: StdRng::seed_from_u64(options.seed ^ 0x11fe_c1c1e),
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
