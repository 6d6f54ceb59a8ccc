//! The dialogue's side of the store, the hot path: who is talking, their conversation, the turn
//! that commits a step of it, and the records a turn leaves (requests, input collections,
//! surveys) as the dialogue reads them back.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::database::ClientRecord;
use super::escalations::EscalationAction;
use super::outbox::NewPing;
use super::requests::RequestRow;
use super::{Millis, StoreResult};

/// Who is talking: a channel identity with what the channel could tell about them.
#[derive(Clone, Debug, Default)]
pub struct IdentityClaim {
    pub channel: String,
    pub external_id: String,
    pub display_name: Option<String>,
    pub client_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize)]
pub struct Person {
    pub id: i64,
    pub client_code: Option<String>,
    pub display_name: Option<String>,
    pub created_at: Millis,
    /// When they were last seen before this message (equal to `created_at` for a new person).
    pub last_seen_at: Millis,
}

/// What a turn needs before it steps, read in one statement: the conversation of a session,
/// its person, and whether that person has requests and when they were last surveyed. (Each
/// statement is a round trip — to another thread for SQLite, over the network for PostgreSQL —
/// so the hot path asks once instead of four times.)
#[derive(Clone, Debug, PartialEq)]
pub struct TurnContext {
    pub conversation: ConversationRow,
    pub person: Option<Person>,
    /// The person's service requests, any status.
    pub request_count: i64,
    /// When the person was last sent a survey.
    pub last_survey_at: Option<Millis>,
}

/// A queued turn's outcome, once its batch is durable ([`Conversations::queue_turn`]).
pub type QueuedTurn = futures::future::BoxFuture<'static, StoreResult<TurnOutcome>>;

/// [`TurnContext`] as one row: the conversation's columns, then the person's (prefixed `p_`,
/// all NULL when it has none) and the two aggregates.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct TurnContextRow {
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    pub p_id: Option<i64>,
    pub p_client_code: Option<String>,
    pub p_display_name: Option<String>,
    pub p_created_at: Option<Millis>,
    pub p_last_seen_at: Option<Millis>,
    pub request_count: i64,
    pub last_survey_at: Option<Millis>,
}

impl From<TurnContextRow> for TurnContext {
    fn from(r: TurnContextRow) -> Self {
        let person = match (r.p_id, r.p_created_at, r.p_last_seen_at) {
            (Some(id), Some(created_at), Some(last_seen_at)) => Some(Person {
                id,
                client_code: r.p_client_code,
                display_name: r.p_display_name,
                created_at,
                last_seen_at,
            }),
            _ => None,
        };
        TurnContext {
            conversation: r.conversation,
            person,
            request_count: r.request_count,
            last_survey_at: r.last_survey_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize)]
pub struct ConversationRow {
    pub id: String,
    pub channel: String,
    pub session_key: String,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub state: String,
    pub version: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct MessageRow {
    pub id: i64,
    pub conversation_id: String,
    pub direction: String,
    pub channel: String,
    pub channel_message_id: Option<String>,
    pub reply_to: Option<i64>,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub text: String,
    pub payload: Option<String>,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub outcome: Option<String>,
    pub latency_us: Option<i64>,
    pub off_hours: bool,
    pub created_at: Millis,
}

/// A message to log (inbound or outbound) as part of a turn.
#[derive(Clone, Debug, Default)]
pub struct NewMessage {
    pub text: String,
    pub payload: Option<String>,
    pub channel_message_id: Option<String>,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub outcome: Option<String>,
    pub latency_us: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct InputCollectionRow {
    pub id: i64,
    pub conversation_id: String,
    pub client_code: Option<String>,
    pub service_id: String,
    pub started_at: Millis,
    pub ended_at: Millis,
    pub outcome: String,
    pub complete_first_attempt: bool,
    pub reprompts: i64,
    pub missing_inputs: i64,
    pub request_reference: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct SurveyRow {
    pub id: i64,
    pub conversation_id: String,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub cause: String,
    pub sent_at: Millis,
    pub expires_at: Millis,
    pub answered_at: Option<Millis>,
    pub score: Option<i64>,
    pub comment: Option<String>,
    /// The request whose completion it asked about.
    #[sqlx(default)]
    pub request_reference: Option<String>,
    /// That request's service, where the read joins it (the KPIs' surveys by service).
    #[sqlx(default)]
    pub request_service: Option<String>,
}

/// What a turn writes besides the messages and the state. Written in the turn's transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Request {
        reference: String,
        service_id: String,
        priority: String,
        inputs: String,
        due_at: Millis,
        off_hours: bool,
        /// What the outbox tells the SSO's case system (`request.created`), keyed.
        hooks: Vec<(String, NewPing)>,
    },
    InputCollection {
        service_id: String,
        started_at: Millis,
        outcome: String,
        complete_first_attempt: bool,
        reprompts: i64,
        missing_inputs: i64,
        request_reference: Option<String>,
    },
    Escalation {
        reason: String,
        priority: String,
        request_reference: Option<String>,
        due_at: Millis,
        next_ping_at: Option<Millis>,
        off_hours: bool,
        /// The manager pinged first (the client's primary), by email.
        manager_email: Option<String>,
        pings: Vec<NewPing>,
        /// The bot's draft, for a shadow-mode escalation (JSON, see `dialogue::Draft`).
        draft: Option<String>,
    },
    /// An account manager acted on an escalation: `acknowledge`, `reply`, `resolve` or
    /// `approve`. Each implies acknowledgement; the first of each time is kept for the KPIs.
    EscalationAction {
        escalation_id: i64,
        action: EscalationAction,
        by: String,
        /// What became of the escalation's draft (shadow mode); it answers the escalation.
        verdict: Option<crate::domain::DraftVerdict>,
    },
    Survey {
        cause: String,
        expires_at: Millis,
        /// The request whose completion this survey asks about.
        request_reference: Option<String>,
    },
    /// A request's change, with its events and what the outbox should tell the case system;
    /// refused (the turn rolls back) when the request moved since it was read.
    RequestUpdate(Box<super::requests::RequestUpdate>),
    SurveyAnswer {
        score: Option<i64>,
        comment: Option<String>,
    },
    Gap {
        kind: String,
        text: String,
        intent: Option<String>,
        confidence: Option<f64>,
    },
    Ledger {
        interaction_type: String,
        reference: Option<String>,
    },
    /// A message for the outbox to deliver after the commit (a manager's answer relayed to the
    /// client's channel), under its idempotency key.
    Outbox { key: String, ping: NewPing },
}

impl Record {
    /// True when writing it leaves what the next turn reads before it steps ([`TurnContext`])
    /// as it was: facts for the back office (a gap, a recharge, a form's figures, a survey's
    /// answer). A request, a survey sent, an escalation or a relay changes it, or hands work to
    /// others.
    pub fn leaves_context_alone(&self) -> bool {
        match self {
            Record::Gap { .. } | Record::Ledger { .. } | Record::SurveyAnswer { .. } => true,
            Record::InputCollection {
                request_reference, ..
            } => request_reference.is_none(),
            Record::Request { .. }
            | Record::Escalation { .. }
            | Record::EscalationAction { .. }
            | Record::Survey { .. }
            | Record::RequestUpdate(_)
            | Record::Outbox { .. } => false,
        }
    }
}

/// One dialogue turn, committed atomically: the inbound message, the replies, the new state and
/// every record the turn produced.
#[derive(Clone, Debug)]
pub struct Turn {
    pub conversation_id: String,
    /// The state version the turn was computed from (optimistic concurrency); 0 with
    /// `opening.session` for a conversation the turn creates.
    pub expected_version: i64,
    pub new_state: String,
    pub channel: String,
    /// The person, when known before the turn; `opening.identity` resolves it in the turn.
    pub person_id: Option<i64>,
    /// What the turn creates or brings up to date before its messages.
    pub opening: TurnOpening,
    pub client_code: Option<String>,
    pub off_hours: bool,
    pub inbound: NewMessage,
    pub outbound: Vec<NewMessage>,
    pub records: Vec<Record>,
    pub now: Millis,
}

/// A session's first message and every message that names its sender (a Telegram or Discord
/// user, a signed-in web visitor) used to cost a write job each before the turn's own — a group
/// commit and an fsync each, waited for one after the other. The turn does them itself now, in
/// its own transaction: one commit per message.
#[derive(Clone, Debug, Default)]
pub struct TurnOpening {
    /// The session's key when it had no conversation as the turn was computed: the turn
    /// inserts it (`conversation_id`, created now, at version 1 with the new state). If another
    /// turn created it first, the turn is a `Conflict` and writes nothing.
    pub session: Option<String>,
    /// Who sent the message: found or created (`Conversations::resolve_person`'s rules), seen
    /// now, and the person of every row the turn writes (over `person_id`).
    pub identity: Option<IdentityClaim>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TurnOutcome {
    Committed {
        inbound_id: i64,
    },
    /// Someone else committed a turn on this conversation since it was loaded: reload and retry.
    Conflict,
    /// This channel message id was already processed: nothing was written.
    Duplicate,
}

/// Called by the dialogue service on every message, and by the channels and the escalation
/// worker to read a conversation back (transcripts, a request behind an escalation).
#[async_trait]
pub trait Conversations: Send + Sync {
    /// A client as seeded (its SPA is what the dialogue checks a request against).
    async fn client(&self, code: &str) -> StoreResult<Option<ClientRecord>>;

    /// Find or create the person behind a channel identity. A client claimed for an identity
    /// that has none yet is recorded; an existing client is never silently changed.
    async fn resolve_person(&self, claim: &IdentityClaim, now: Millis) -> StoreResult<Person>;

    /// The person behind a channel identity, as stored (nothing is written: a turn that names
    /// its sender resolves them itself, see [`TurnOpening::identity`]).
    async fn person_by_identity(
        &self,
        channel: &str,
        external_id: &str,
    ) -> StoreResult<Option<Person>>;

    /// Find the conversation of a channel session, creating it with `new_id`/`initial_state`.
    async fn open_conversation(
        &self,
        channel: &str,
        session_key: &str,
        person: Option<&Person>,
        new_id: &str,
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<ConversationRow>;

    async fn conversation(&self, id: &str) -> StoreResult<Option<ConversationRow>>;

    async fn conversation_by_session(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<ConversationRow>>;

    /// The session's conversation with its person and their request and survey facts.
    async fn turn_context(
        &self,
        channel: &str,
        session_key: &str,
    ) -> StoreResult<Option<TurnContext>>;

    async fn person(&self, id: i64) -> StoreResult<Option<Person>>;

    async fn transcript(&self, conversation_id: &str) -> StoreResult<Vec<MessageRow>>;

    /// The inbound message with this channel id and the replies logged for it.
    async fn processed_message(
        &self,
        channel: &str,
        channel_message_id: &str,
    ) -> StoreResult<Option<(MessageRow, Vec<MessageRow>)>>;

    /// Allocate the next request reference number (1001, 1002, ...).
    async fn next_request_number(&self) -> StoreResult<i64>;

    async fn commit_turn(&self, turn: &Turn) -> StoreResult<TurnOutcome>;

    /// Queue the turn for the next group commit now, and return its outcome as a future that
    /// resolves once it is durable. On SQLite a turn queued after another is written after it,
    /// in the same transaction or a later one; on PostgreSQL only when they share a batch
    /// (two batches may run at once), else the later one may find the earlier not yet
    /// committed and come back a `Conflict`.
    fn queue_turn(&self, turn: &Turn) -> StoreResult<QueuedTurn>;

    async fn requests_of_person(&self, person_id: i64) -> StoreResult<Vec<RequestRow>>;

    async fn request_by_reference(&self, reference: &str) -> StoreResult<Option<RequestRow>>;

    async fn input_collections(
        &self,
        conversation_id: &str,
    ) -> StoreResult<Vec<InputCollectionRow>>;

    async fn surveys_of_person(&self, person_id: i64) -> StoreResult<Vec<SurveyRow>>;
}
