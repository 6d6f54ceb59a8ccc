//! Playing one contact: what it is about (`Plan`), and the person's side of it through the real
//! dialogue, then the manager's side of every escalation it raised through the real actions.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::Rng;
use rand::rngs::StdRng;

use super::lines::{COMMENTS, HUMAN, MANAGER_REPLIES, OFF_TOPIC, SMALLTALK, STATUS};
use super::{DemoError, DemoSummary};
use crate::dialogue::Input;
use crate::dialogue::service::{ChatService, Inbound, Outbound};
use crate::escalation::actions::{Actor, act};
use crate::knowledge::{Action, Client, Knowledge, Service};
use crate::simulation::draw::{pick, pick_text, weighted};
use crate::simulation::people::Person;
use crate::simulation::typo;
use crate::simulation::values;
use crate::store::{EscalationAction, IdentityClaim};

/// What a contact is about.
pub(super) enum Plan {
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

/// The demo's state while it plays: its one generator, drawn in contact order.
pub(super) struct Generator<'a> {
    pub(super) chat: &'a ChatService,
    pub(super) k: std::sync::Arc<Knowledge>,
    pub(super) rng: StdRng,
    /// The requests' lives draw from their own generator, so the contacts played are the same
    /// with or without them.
    pub(super) lives: StdRng,
    pub(super) end: DateTime<Utc>,
    pub(super) summary: DemoSummary,
    pub(super) session: u64,
}

/// One contact being played.
pub(super) struct Visit<'a> {
    pub(super) client: &'a Client,
    pub(super) person: &'a Person,
    pub(super) session: String,
    pub(super) now: DateTime<Utc>,
    pub(super) conversation: Option<String>,
}

impl Generator<'_> {
    pub(super) async fn say(
        &mut self,
        v: &mut Visit<'_>,
        input: Input,
    ) -> Result<Outbound, DemoError> {
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
                && let Some(bad) = values::refused(input)
            {
                refused = true;
                out = self.say(v, Input::Text(bad.into())).await?;
                continue;
            }
            let Some(value) = values::realistic(&mut self.rng, input, v.person, v.now) else {
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

    pub(super) fn plan(
        &mut self,
        client: &Client,
        payroll_incident: bool,
        month_end: bool,
    ) -> Plan {
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
                typo::in_long_word(rng, &q)
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

    pub(super) async fn visit(
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
                    self.lifecycle(&mut v).await?;
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
