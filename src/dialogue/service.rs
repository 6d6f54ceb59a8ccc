//! The dialogue service: load the conversation, step, and commit state + log + effects in one
//! transaction before any reply leaves. Channel adapters call `handle`; nothing else.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

use super::{
    Effect, Event, Gate, Input, Outcome, REFERENCE_PLACEHOLDER, Reply, RequestSummary, State,
    UserContext, step,
};
use crate::config::{DialogueSettings, EscalationSettings};
use crate::domain::{DraftVerdict, EscalationAction};

mod notices;
mod records;
mod rollout;
mod sessions;
mod speaker;

use sessions::SessionLocks;
// `millis` is public here too: the HTTP layer has long taken it from the service.
use crate::domain::time::from_millis;
pub use crate::domain::time::millis;
use crate::knowledge::Knowledge;
use crate::outlet::{relay_key, request_relay_key};
use crate::policy::request_hook::RequestHook;
use crate::store::{
    ConversationRow, IdentityClaim, NewMessage, Record, Store, StoreError, Turn, TurnOpening,
    TurnOutcome,
};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("the conversation is busy; try again")]
    Busy,
}

/// A message as a channel adapter hands it over.
#[derive(Clone, Debug)]
pub struct Inbound {
    pub channel: String,
    /// The conversation key within the channel (web session, Telegram chat, Discord channel+user).
    pub session_key: String,
    /// Who sent it; `None` for a web session's later messages (the conversation knows who) or an
    /// anonymous visitor (the session is the identity).
    pub identity: Option<IdentityClaim>,
    pub input: Input,
    /// The channel's id for this message: a redelivery with the same id is not processed twice.
    pub channel_message_id: Option<String>,
    pub now: DateTime<Utc>,
}

/// What goes back to the channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Outbound {
    pub conversation_id: String,
    pub replies: Vec<Reply>,
    pub intent: Option<String>,
    pub confidence: f32,
    pub outcome: String,
    /// True when this message had been processed before and the stored replies are returned.
    pub duplicate: bool,
}

/// Shared, hot-swappable knowledge.
pub type SharedKnowledge = Arc<RwLock<Arc<Knowledge>>>;

pub fn share(k: Knowledge) -> SharedKnowledge {
    Arc::new(RwLock::new(Arc::new(k)))
}

/// The current knowledge (a cheap `Arc` clone; a reload swaps it without disturbing turns in flight).
pub fn current(k: &SharedKnowledge) -> Arc<Knowledge> {
    match k.read() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

#[derive(Clone)]
pub struct ChatService {
    pub store: Arc<dyn Store>,
    pub knowledge: SharedKnowledge,
    pub settings: DialogueSettings,
    /// The re-ping timing, to schedule an escalation's first reminder.
    pub escalation: EscalationSettings,
    /// Woken when a turn commits an escalation, so its ping leaves at once (the fast lane)
    /// rather than at the outbox worker's next poll.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The SSO's case systems, told of every request created or changed (through the outbox).
    pub request_hooks: Arc<Vec<RequestHook>>,
    sessions: SessionLocks,
    counts: Arc<TurnCounts>,
    rollouts: rollout::RolloutCache,
    notices: notices::NoticeCache,
}

/// This replica's turns that went other than straight through (counters for `/metrics`).
#[derive(Debug, Default)]
pub struct TurnCounts {
    /// Turns that handed their session over to its next message before they were durable.
    pub handed_over: std::sync::atomic::AtomicU64,
    /// Steps taken again because the commit found the conversation moved on (another replica
    /// first, or a handed-over turn that was refused).
    pub stepped_again: std::sync::atomic::AtomicU64,
}

/// A new conversation's id: the time in milliseconds (12 hex digits), then 128 random bits.
/// Random, because the id is the capability to read a web chat's transcript; time first, so
/// new conversations sort together at the right edge of the indexes that lead with the id
/// (the conversations' key, the messages by conversation). With random ids every turn's
/// insert touched a random page of those indexes, and the group commit wrote each such page
/// to the WAL whole.
fn new_conversation_id(now: DateTime<Utc>) -> String {
    use std::fmt::Write;
    let bytes: [u8; 16] = rand::random();
    let mut id = format!("{:012x}", now.timestamp_millis().max(0));
    for b in bytes {
        let _ = write!(id, "{b:02x}");
    }
    id
}

/// Attempts on an optimistic-concurrency conflict before answering "busy".
const MAX_ATTEMPTS: usize = 8;

impl ChatService {
    pub fn new(
        store: Arc<dyn Store>,
        knowledge: SharedKnowledge,
        settings: DialogueSettings,
    ) -> Self {
        Self {
            store,
            knowledge,
            settings,
            escalation: EscalationSettings::default(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            request_hooks: Arc::new(Vec::new()),
            sessions: SessionLocks::default(),
            counts: Arc::default(),
            rollouts: rollout::RolloutCache::default(),
            notices: notices::NoticeCache::default(),
        }
    }

    pub fn with_request_hooks(mut self, hooks: Vec<RequestHook>) -> Self {
        self.request_hooks = Arc::new(hooks);
        self
    }

    pub fn with_escalation(mut self, escalation: EscalationSettings) -> Self {
        self.escalation = escalation;
        self
    }

    /// Sessions with a turn in flight (for metrics and tests of the lock map's cleanup).
    pub fn sessions_in_flight(&self) -> usize {
        self.sessions.in_flight()
    }

    /// This replica's turn counters since it started.
    pub fn turn_counts(&self) -> &TurnCounts {
        &self.counts
    }

    pub async fn handle(&self, inbound: Inbound) -> Result<Outbound, ServiceError> {
        self.handle_with(inbound, Vec::new()).await
    }

    /// [`handle`](Self::handle), committing `attached` with the turn: a request's change
    /// computed by the lifecycle before the turn that tells the client about it.
    pub async fn handle_with(
        &self,
        inbound: Inbound,
        attached: Vec<Record>,
    ) -> Result<Outbound, ServiceError> {
        let started = Instant::now();
        let session_key = format!("{}\u{1f}{}", inbound.channel, inbound.session_key);
        let mut session = Some(self.sessions.lock(session_key.clone()).await);
        // The session's last turn, if it handed the session over before it was durable: this
        // one steps on the state that turn moves to, and is queued behind it.
        let mut prior = session.as_mut().and_then(|s| s.take_pipelined());
        let mut after_prior = prior.as_ref().map(sessions::Pipelined::settled);
        // A message seen before (same channel message id) is not looked up here: the commit
        // refuses it (`TurnOutcome::Duplicate`) and the stored answer is replayed then. Retries
        // are rare; a lookup on every message costs every message a database round trip.
        let k = current(&self.knowledge);
        let now = inbound.now;
        let context = async {
            match &prior {
                Some(p) => Ok(Some(p.context.clone())),
                None => {
                    self.store
                        .turn_context(&inbound.channel, &inbound.session_key)
                        .await
                }
            }
        };
        // A message that names its sender reads them alongside the context: on PostgreSQL's
        // pipelined reader the two share a round trip.
        let (context, identity) = match &inbound.identity {
            Some(claim) => {
                let stored = self
                    .store
                    .person_by_identity(&claim.channel, &claim.external_id);
                let (context, stored) = tokio::join!(context, stored);
                let (context, stored) = (context?, stored?);
                // Stepping on a turn not yet written: the sender as that turn leaves them.
                let stored = match (&prior, stored) {
                    (Some(p), Some(s))
                        if p.context.person.as_ref().is_some_and(|cp| cp.id == s.id) =>
                    {
                        p.context.person.clone()
                    }
                    (_, s) => s,
                };
                (context, Some((claim, stored)))
            }
            None => (context.await?, None),
        };
        let speaker = speaker::speaker(
            self.store.as_ref(),
            &inbound.channel,
            &inbound.session_key,
            identity,
            &k,
            context.as_ref(),
        )
        .await?;
        // The context's request and survey facts are the person's when the message did not
        // bring another identity; someone this very message brings in has none; otherwise ask.
        let known = match &speaker.stored {
            None => Some((0, None)),
            Some(p) => context
                .as_ref()
                .filter(|c| c.person.as_ref().is_some_and(|cp| cp.id == p.id))
                .map(|c| (c.request_count, c.last_survey_at)),
        };
        // What a handed-over turn leaves its successor besides the conversation.
        let unchanged = context.as_ref().map(|c| sessions::Before {
            person: c.person.clone(),
            request_count: c.request_count,
            last_survey_at: c.last_survey_at,
        });
        // A session's first turn opens its conversation itself (`TurnOpening::session`).
        let mut opening = context.is_none();
        let conversation = match context.map(|c| c.conversation) {
            Some(c) => c,
            None => ConversationRow {
                id: new_conversation_id(now),
                channel: inbound.channel.clone(),
                session_key: inbound.session_key.clone(),
                person_id: speaker.id(),
                client_code: speaker.client_code.clone(),
                state: State::default().to_json(),
                version: 0,
                created_at: millis(now),
                updated_at: millis(now),
            },
        };
        let requests = match (known, speaker.id()) {
            (Some((0, _)), _) | (_, None) => Vec::new(),
            (_, Some(id)) => self.store.requests_of_person(id).await?,
        };
        let period = Duration::days(i64::from(self.settings.survey_period_days));
        let surveyed_recently = match (known, speaker.id()) {
            (Some((_, last)), _) => last.is_some_and(|t| from_millis(t) > now - period),
            (None, None) => false,
            (None, Some(id)) => self
                .store
                .surveys_of_person(id)
                .await?
                .iter()
                .any(|s| from_millis(s.sent_at) > now - period),
        };
        let user = UserContext {
            name: speaker.display_name.clone(),
            client: speaker.client_code.clone(),
            returning: speaker.stored.as_ref().is_some_and(|p| {
                p.last_seen_at < millis(now) && p.created_at < conversation.created_at
            }),
            requests: requests
                .iter()
                .map(|r| RequestSummary {
                    reference: r.reference.clone(),
                    service: k
                        .services
                        .get(&r.service_id)
                        .map(|s| s.name.clone())
                        .unwrap_or_else(|| r.service_id.clone()),
                    status: r.status.clone(),
                    due_at: from_millis(r.due_at),
                })
                .collect(),
            surveyed_recently,
            notices: self
                .notices(&inbound.channel, speaker.client_code.as_deref(), now)
                .await?,
        };
        // Only a client's own message passes the roll-out's gate.
        let gate = match inbound.input {
            Input::Text(_) | Input::Button(_) => {
                self.gate(
                    &k,
                    speaker.client_code.as_deref(),
                    &inbound.channel,
                    &conversation.id,
                )
                .await?
            }
            Input::Manager(_) | Input::Request(_) => Gate::Live,
        };
        let event = Event {
            input: inbound.input.clone(),
            channel: inbound.channel.clone(),
            user,
            now,
            gate,
        };

        let mut conversation = conversation;
        for _ in 0..MAX_ATTEMPTS {
            let state = State::from_json(&conversation.state);
            let mut result = step(state, &event, &k, &self.settings);
            let latency_us = started.elapsed().as_micros() as i64;

            let reference = if result
                .effects
                .iter()
                .any(|e| matches!(e, Effect::OpenRequest { .. }))
            {
                Some(format!("REQ-{}", self.store.next_request_number().await?))
            } else {
                None
            };
            if let Some(r) = &reference {
                for reply in &mut result.replies {
                    reply.text = reply.text.replace(REFERENCE_PLACEHOLDER, r);
                }
            }
            let mut records = self.records(&k, &event, &result, reference.as_deref());
            records.extend(attached.iter().cloned());
            for e in &result.effects {
                if let Effect::ClientAnswer {
                    reference,
                    question,
                    text,
                } = e
                {
                    records.extend(
                        super::turn_requests::client_answer(
                            self.store.as_ref(),
                            &self.request_hooks,
                            &k,
                            reference,
                            question,
                            text,
                            now,
                        )
                        .await?,
                    );
                }
            }
            let (text, payload) = match &inbound.input {
                Input::Text(t) => (t.clone(), None),
                Input::Button(p) => (String::new(), Some(p.clone())),
                Input::Manager(m) => {
                    // A draft's fate: sent as written, edited, or answered in the manager's own
                    // words instead.
                    let verdict = match m.action {
                        EscalationAction::Approve if m.text.is_some() => Some(DraftVerdict::Edited),
                        EscalationAction::Approve => Some(DraftVerdict::Approved),
                        EscalationAction::Reply if m.draft.is_some() => {
                            Some(DraftVerdict::Replaced)
                        }
                        _ => None,
                    };
                    records.push(Record::EscalationAction {
                        escalation_id: m.escalation_id,
                        action: m.action,
                        by: m.manager.clone(),
                        verdict,
                    });
                    // The client did not write this turn: what it says goes to their channel
                    // through the outbox, committed with the turn (keyed by its version).
                    records.extend(super::outbox::record(
                        relay_key(m.escalation_id, &conversation.id, conversation.version),
                        &inbound.channel,
                        &conversation.id,
                        &inbound.session_key,
                        &result.replies,
                        result.intent.as_deref(),
                        result.confidence,
                        result.outcome.as_str(),
                    ));
                    (
                        m.text.clone().unwrap_or_default(),
                        Some(format!("manager:{}:{}", m.action.as_str(), m.escalation_id)),
                    )
                }
                Input::Request(n) => {
                    // Told through the outbox like a manager's answer (see above).
                    records.extend(super::outbox::record(
                        request_relay_key(&n.reference, &conversation.id, conversation.version),
                        &inbound.channel,
                        &conversation.id,
                        &inbound.session_key,
                        &result.replies,
                        result.intent.as_deref(),
                        result.confidence,
                        result.outcome.as_str(),
                    ));
                    (
                        n.note.clone().unwrap_or_default(),
                        Some(format!("request:{}:{}", n.reference, n.status.as_str())),
                    )
                }
            };
            // Something for the outbox worker to send at once: a ping, a case-system webhook.
            let escalated = records.iter().any(|r| match r {
                Record::Escalation { .. } => true,
                Record::Request { hooks, .. } => !hooks.is_empty(),
                Record::RequestUpdate(u) => !u.outbox.is_empty(),
                _ => false,
            });
            let outcome = result.outcome.as_str().to_string();
            let confidence = f64::from(result.confidence);
            let turn = Turn {
                conversation_id: conversation.id.clone(),
                expected_version: conversation.version,
                new_state: result.state.to_json(),
                channel: inbound.channel.clone(),
                person_id: speaker.id(),
                opening: TurnOpening {
                    session: opening.then(|| inbound.session_key.clone()),
                    identity: speaker.claim.clone(),
                },
                client_code: speaker.client_code.clone(),
                off_hours: result.off_hours,
                inbound: NewMessage {
                    text,
                    payload,
                    channel_message_id: inbound.channel_message_id.clone(),
                    intent: result.intent.clone(),
                    confidence: Some(confidence),
                    outcome: Some(outcome.clone()),
                    latency_us: Some(latency_us),
                },
                outbound: result
                    .replies
                    .iter()
                    .map(|r| NewMessage {
                        text: r.text.clone(),
                        payload: (!r.buttons.is_empty())
                            .then(|| serde_json::to_string(&r.buttons).unwrap_or_default()),
                        intent: result.intent.clone(),
                        confidence: Some(confidence),
                        outcome: Some(outcome.clone()),
                        ..NewMessage::default()
                    })
                    .collect(),
                records,
                now: millis(now),
            };
            // A turn that changes nothing but the conversation's state and log hands the
            // session over once it is queued, so the session's next message steps while this
            // one is written (the writer keeps their order). Its client still hears back only
            // once it is durable.
            let hand_over = match (&unchanged, &inbound.input) {
                (Some(before), Input::Text(_) | Input::Button(_)) if !opening => {
                    sessions::successor_context(&turn, &conversation, before, &speaker)
                }
                _ => None,
            };
            let queued = self.store.queue_turn(&turn)?;
            // (`session` is taken only when the turn hands it over.)
            let fate = match hand_over.and_then(|c| Some((c, session.take()?))) {
                Some((context, guard)) => {
                    self.counts
                        .handed_over
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let (fate, done) = tokio::sync::watch::channel(None);
                    let lingering = guard.hand_over(sessions::Pipelined { context, done });
                    let earlier = after_prior.take();
                    // On a task of its own, so the session's later turns learn this one's fate
                    // even if its client goes away (and this future is dropped) meanwhile.
                    let settle = tokio::spawn(async move {
                        let outcome = queued.await;
                        // Settled only once the turns before it are: on PostgreSQL an earlier
                        // turn's batch may still be running when this one's is done, and a
                        // turn that steps again must find every earlier one written or refused.
                        if let Some(earlier) = earlier {
                            earlier.await;
                        }
                        let kept = matches!(outcome, Ok(TurnOutcome::Committed { .. }));
                        let _ = fate.send(Some(kept));
                        drop(lingering);
                        outcome
                    });
                    settle.await.map_err(|e| {
                        StoreError::Unavailable(format!("a turn's commit was lost: {e}"))
                    })??
                }
                None => queued.await?,
            };
            match fate {
                TurnOutcome::Committed { .. } => {
                    if escalated {
                        self.outbox_wake.notify_one();
                    }
                    tracing::debug!(
                        conversation = %conversation.id,
                        intent = ?result.intent,
                        outcome = %outcome,
                        latency_us,
                        "turn committed"
                    );
                    return Ok(Outbound {
                        conversation_id: conversation.id,
                        replies: result.replies,
                        intent: result.intent,
                        confidence: result.confidence,
                        outcome,
                        duplicate: false,
                    });
                }
                TurnOutcome::Duplicate => {
                    if let Some(id) = &inbound.channel_message_id
                        && let Some(out) = self.replay(&inbound.channel, id).await?
                    {
                        return Ok(out);
                    }
                    return Err(ServiceError::Busy);
                }
                TurnOutcome::Conflict => {
                    self.counts
                        .stepped_again
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    match prior.take() {
                        // Stepped on a turn not yet written: wait for its fate (and so for every
                        // turn before it) and step again on what the store then holds.
                        Some(p) => p.settled().await,
                        // Another replica committed a turn of this conversation first: step
                        // again on its state, after a short random pause so the two don't
                        // collide again.
                        None => {
                            let pause = rand::random_range(1..20u64);
                            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                        }
                    }
                    if session.is_none() {
                        // Handed over and refused: the session's later turns that stepped on this
                        // one are void too. Step again holding the session, once the last of them
                        // is settled (and so every one before it): one still in flight expects a
                        // version this turn's second step could reach, and would be kept on the
                        // wrong state if it were written after it.
                        let mut guard = self.sessions.lock(session_key.clone()).await;
                        if let Some(later) = guard.take_pipelined() {
                            later.settled().await;
                        }
                        session = Some(guard);
                    }
                    let again = if opening {
                        // It was opened meanwhile: this turn is not the session's first. Else
                        // the conflict was over its sender, whom another replica linked to a
                        // person of its own at that moment: open it again, the sender found.
                        let opened = self
                            .store
                            .conversation_by_session(&inbound.channel, &inbound.session_key)
                            .await?;
                        opening = opened.is_none();
                        opened.or_else(|| Some(conversation.clone()))
                    } else {
                        self.store.conversation(&conversation.id).await?
                    };
                    conversation = again.ok_or(ServiceError::Busy)?;
                }
            }
        }
        Err(ServiceError::Busy)
    }

    /// The stored answer to a message processed before.
    pub(crate) async fn replay(
        &self,
        channel: &str,
        channel_message_id: &str,
    ) -> Result<Option<Outbound>, ServiceError> {
        let Some((inbound, replies)) = self
            .store
            .processed_message(channel, channel_message_id)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Outbound {
            conversation_id: inbound.conversation_id,
            replies: replies
                .iter()
                .map(|m| Reply {
                    text: m.text.clone(),
                    buttons: m
                        .payload
                        .as_deref()
                        .and_then(|p| serde_json::from_str(p).ok())
                        .unwrap_or_default(),
                })
                .collect(),
            intent: inbound.intent,
            confidence: inbound.confidence.unwrap_or(0.0) as f32,
            outcome: inbound
                .outcome
                .unwrap_or_else(|| Outcome::Answered.as_str().into()),
            duplicate: true,
        }))
    }
}
