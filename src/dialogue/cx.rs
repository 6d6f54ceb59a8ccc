//! The context of one turn: the event, the knowledge and settings it is read against, and what
//! the turn has said and asked for so far. Every flow writes into it; `step` turns it into the
//! [`Step`](super::Step).

use chrono::{DateTime, Utc};

use super::{Button, Effect, Event, Outcome, Reply, State};
use crate::config::DialogueSettings;
use crate::knowledge::{Client, Coverage, Knowledge, Service};
use crate::policy::calendar::{format_local, next_coverage_start};

pub(super) struct Cx<'a> {
    pub(super) event: &'a Event,
    pub(super) k: &'a Knowledge,
    pub(super) settings: &'a DialogueSettings,
    pub(super) replies: Vec<Reply>,
    pub(super) effects: Vec<Effect>,
    pub(super) intent: Option<String>,
    pub(super) confidence: f32,
    pub(super) outcome: Outcome,
    pub(super) off_hours: bool,
    /// The message was understood afresh (see `Step::fresh`).
    pub(super) fresh: bool,
}

impl<'a> Cx<'a> {
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.event.now
    }
    pub(super) fn client(&self) -> Option<&'a Client> {
        self.event
            .user
            .client
            .as_deref()
            .and_then(|c| self.k.clients.get(c))
    }
    pub(super) fn client_code(&self) -> Option<&str> {
        self.event.user.client.as_deref()
    }
    pub(super) fn coverage(&self, service: Option<&'a Service>) -> &'a Coverage {
        self.k.coverage_for(self.client_code(), service)
    }
    pub(super) fn say(&mut self, text: impl Into<String>) {
        self.replies.push(Reply::text(text));
    }
    pub(super) fn ask(&mut self, text: impl Into<String>, buttons: Vec<Button>) {
        self.replies.push(Reply::with_buttons(text, buttons));
    }
    pub(super) fn primary_manager_name(&self) -> Option<String> {
        self.client().and_then(|c| {
            c.managers
                .iter()
                .find(|m| m.role == "primary")
                .or_else(|| c.managers.first())
                .map(|m| m.name.clone())
        })
    }
    pub(super) fn off_hours_note(&self, service: Option<&Service>) -> Option<String> {
        if !self.off_hours {
            return None;
        }
        let coverage = self.coverage(service);
        let from = next_coverage_start(coverage, self.now());
        let whose = self
            .client()
            .map(|c| format!("{}'s", c.name))
            .unwrap_or_else(|| "our".to_string());
        Some(format!(
            "It's outside {whose} coverage hours ({}), so the team will pick this up from {}.",
            coverage.label(),
            format_local(coverage.timezone, from)
        ))
    }
}

/// What a flow hands back to the dispatch in `step.rs`. A flow never calls the dispatch itself
/// (the flow and `step.rs` would then import each other); a message that is not an answer to
/// the open question goes back to it instead, to be understood afresh.
pub(super) enum Next {
    /// Handled: the conversation's next state.
    State(State),
    /// Not an answer to the open question: handle the message as a new one, from idle.
    Afresh,
    /// The user chose an intent (a button): go on as if they had asked `question` for it.
    Intent { name: String, question: String },
}
