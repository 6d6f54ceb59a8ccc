//! What the simulated users say: drawn from the shipped content at start-up, so the load is the
//! traffic the content is written for. FAQ questions come from the articles' `questions` (with
//! light typos), button presses follow the buttons the server offers, service requests answer each
//! SPA input with a value of its type, and a small share asks for a human.

use std::sync::Arc;

use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Value, json};

use crate::knowledge::Knowledge;
use crate::knowledge::model::{Action, InputKind, InputSpec};
use crate::simulation::{typo, values};

/// One service's guided request: the phrase that opens it and its inputs.
#[derive(Clone, Debug)]
pub struct ServicePlan {
    pub id: String,
    pub trigger: Vec<String>,
    pub inputs: Vec<InputSpec>,
}

/// Everything the generator draws from, built once before the run.
#[derive(Clone, Debug, Default)]
pub struct Material {
    pub faq: Vec<String>,
    pub services: Vec<ServicePlan>,
    pub escalate: Vec<String>,
    pub smalltalk: Vec<String>,
    pub clients: Vec<String>,
}

/// The mix of conversation kinds, in percent (the rest after these is FAQ).
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    pub service_pct: u32,
    pub escalate_pct: u32,
    pub smalltalk_pct: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            service_pct: 25,
            escalate_pct: 2,
            smalltalk_pct: 8,
        }
    }
}

impl Material {
    pub fn from_knowledge(k: &Knowledge) -> Material {
        let faq = k
            .articles
            .values()
            .flat_map(|a| a.questions.iter().cloned())
            .collect();
        let mut services = Vec::new();
        let mut escalate = Vec::new();
        let mut smalltalk = Vec::new();
        for intent in k.intents.values() {
            match &intent.action {
                Action::Service(id) => {
                    let Some(s) = k.services.get(id) else {
                        continue;
                    };
                    // Only services whose every required input this generator can answer.
                    if s.inputs
                        .iter()
                        .any(|i| i.required && values::plain(i, 0).is_none())
                    {
                        continue;
                    }
                    services.push(ServicePlan {
                        id: id.clone(),
                        trigger: intent.examples.clone(),
                        inputs: s.inputs.clone(),
                    });
                }
                Action::Escalate => escalate.extend(intent.examples.iter().cloned()),
                Action::Greeting | Action::Thanks | Action::Smalltalk => {
                    smalltalk.extend(intent.examples.iter().cloned())
                }
                _ => {}
            }
        }
        services.retain(|s| !s.trigger.is_empty());
        Material {
            faq,
            services,
            escalate,
            smalltalk,
            clients: k.clients.keys().cloned().collect(),
        }
    }
}

/// One message to send: the JSON body of `POST /api/v1/chat` (and of a WebSocket frame).
#[derive(Clone, Debug)]
pub struct Message {
    pub body: Value,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Faq,
    Service(usize),
    Escalate,
    Smalltalk,
}

/// A simulated user's conversation: says the next thing given the last answer.
pub struct Conversation {
    material: Arc<Material>,
    session: String,
    user: Value,
    kind: Kind,
    turns: u32,
    /// FAQ questions asked so far.
    asked: u32,
    /// The last input answered in a form, and how often in a row (to give up on a re-prompt loop).
    last_input: Option<(String, u32)>,
    n: u64,
}

/// At most this many messages in one conversation.
const MAX_TURNS: u32 = 14;

impl Conversation {
    pub fn new(material: Arc<Material>, session: String, mix: Mix, rng: &mut SmallRng) -> Self {
        let roll = rng.random_range(0..100);
        let kind = if roll < mix.service_pct && !material.services.is_empty() {
            Kind::Service(rng.random_range(0..material.services.len()))
        } else if roll < mix.service_pct + mix.escalate_pct && !material.escalate.is_empty() {
            Kind::Escalate
        } else if roll < mix.service_pct + mix.escalate_pct + mix.smalltalk_pct
            && !material.smalltalk.is_empty()
        {
            Kind::Smalltalk
        } else {
            Kind::Faq
        };
        let client = if material.clients.is_empty() {
            Value::Null
        } else {
            json!(material.clients[rng.random_range(0..material.clients.len())])
        };
        let user =
            json!({"id": format!("user-{session}"), "name": "Load Tester", "client": client});
        Conversation {
            material,
            session,
            user,
            kind,
            turns: 0,
            asked: 0,
            last_input: None,
            n: rng.random(),
        }
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Faq => "faq",
            Kind::Service(_) => "service",
            Kind::Escalate => "escalate",
            Kind::Smalltalk => "smalltalk",
        }
    }

    /// Every message carries a fresh `message_id`, as the widget sends.
    fn message_id(&self) -> String {
        format!("{}-{}", self.session, self.turns)
    }

    fn text(&mut self, text: String) -> Option<Message> {
        self.turns += 1;
        let mut body =
            json!({"session": self.session, "text": text, "message_id": self.message_id()});
        if self.turns == 1 {
            // Who the user is goes with the first message only, as the widget does.
            body["user"] = self.user.clone();
        }
        Some(Message { body })
    }

    fn press(&mut self, payload: &str) -> Option<Message> {
        self.turns += 1;
        Some(Message {
            body: json!({"session": self.session, "payload": payload, "message_id": self.message_id()}),
        })
    }

    fn pick<'a>(list: &'a [String], rng: &mut SmallRng) -> &'a str {
        &list[rng.random_range(0..list.len())]
    }

    /// The next message, given the previous answer (`None` before the first); `None` when the
    /// conversation is over.
    pub fn next(&mut self, last: Option<&Value>, rng: &mut SmallRng) -> Option<Message> {
        if self.turns >= MAX_TURNS {
            return None;
        }
        let m = self.material.clone();
        let Some(last) = last else {
            let first = match self.kind {
                Kind::Faq => {
                    self.asked += 1;
                    let q = Self::pick(&m.faq, rng);
                    typo::light(rng, q)
                }
                Kind::Service(i) => Self::pick(&m.services[i].trigger, rng).to_string(),
                Kind::Escalate => Self::pick(&m.escalate, rng).to_string(),
                Kind::Smalltalk => Self::pick(&m.smalltalk, rng).to_string(),
            };
            return self.text(first);
        };
        let buttons: Vec<String> = last["replies"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["buttons"].as_array().into_iter().flatten())
            .filter_map(|b| b["payload"].as_str().map(str::to_string))
            .collect();
        let has = |p: &str| buttons.iter().any(|b| b == p);
        let outcome = last["outcome"].as_str().unwrap_or_default();
        if let Kind::Service(i) = self.kind {
            if outcome == "request_opened" || outcome == "cancelled" {
                return None;
            }
            if has("confirm") {
                return self.press("confirm");
            }
            let texts: Vec<&str> = last["replies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["text"].as_str())
                .collect();
            let asked = m.services[i]
                .inputs
                .iter()
                .find(|input| texts.iter().any(|t| t.contains(input.prompt.as_str())));
            if let Some(input) = asked {
                let again = match &self.last_input {
                    Some((name, n)) if *name == input.name => n + 1,
                    _ => 1,
                };
                self.last_input = Some((input.name.clone(), again));
                if again > 2 {
                    return self.text("cancel".into());
                }
                if let InputKind::Choice { .. } = input.kind
                    && let Some(b) = buttons.iter().find(|b| b.starts_with("choice:"))
                {
                    let b = b.clone();
                    return self.press(&b);
                }
                self.n += 1;
                return match values::plain(input, self.n) {
                    Some(v) => self.text(v),
                    None if has("skip") => self.press("skip"),
                    None => self.text("cancel".into()),
                };
            }
            if let Some(b) = buttons.iter().find(|b| b.starts_with("choice:")) {
                let b = b.clone();
                return self.press(&b);
            }
            // Not a form (e.g. this client's SPA does not include the service): done.
            return None;
        }
        // FAQ, escalation, small talk: follow the buttons like a satisfied user, then maybe
        // ask one more question.
        if has("yes") && has("no") {
            return self.press(if rng.random_range(0..10) < 8 {
                "yes"
            } else {
                "no"
            });
        }
        if buttons.iter().any(|b| b.starts_with("survey:")) {
            let score = rng.random_range(4..=5);
            return self.press(&format!("survey:{score}"));
        }
        if has("skip") {
            return self.press("skip");
        }
        if let Some(b) = buttons
            .iter()
            .find(|b| b.starts_with("article:") || b.starts_with("intent:"))
        {
            let b = b.clone();
            return self.press(&b);
        }
        if self.kind == Kind::Faq && self.asked < 2 && rng.random_range(0..3) == 0 {
            self.asked += 1;
            let q = Self::pick(&m.faq, rng);
            let q = typo::light(rng, q);
            return self.text(q);
        }
        None
    }
}
