//! The store: the one seam between SQLite and PostgreSQL.
//!
//! Everything above this module talks to `dyn Store`. The SQL lives once, in `sql.rs`, and is
//! compiled for both backends by a macro; the conformance suite in `tests/store.rs` runs it against
//! both so the two dialects cannot drift. Queries are runtime `sqlx::query` strings: no database is
//! needed at build time.

mod exec;
mod postgres;
mod sql;
mod sqlite;
mod writes;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use crate::config::DatabaseUrl;
pub use crate::domain::EscalationAction;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Errors where retrying later may succeed: the connection was lost or could not be made
    /// (I/O, TLS, a connection closed mid-handshake — which sqlx reports as a protocol error,
    /// e.g. "unexpected response from SSLRequest" when a restarting server hangs up), the pool
    /// is exhausted or closed, or the server says it is shutting down, starting up or full.
    /// Callers answer these with 503 + `Retry-After`; everything else is a bug (500).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    // 08xxx connection exception; 57P01-03 admin/crash shutdown, cannot connect
                    // now; 53300 too many connections.
                    code.starts_with("08")
                        || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                }),
                _ => false,
            },
            // The group-commit writer's own connection (`sqlite.rs`): busy or locked past the
            // timeout, the disk full or failing, the file gone.
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
            ),
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Milliseconds since the Unix epoch, the store's one time unit.
pub type Millis = i64;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientRecord {
    pub code: String,
    pub name: String,
    pub timezone: String,
    /// JSON document with the SPA (dates, coverage, rates).
    pub spa: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ManagerRecord {
    pub name: String,
    pub email: String,
    pub role: String,
    /// JSON list of contact routes.
    pub routes: String,
}

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
pub struct RequestRow {
    pub id: i64,
    pub reference: String,
    pub conversation_id: String,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub service_id: String,
    pub status: String,
    pub priority: String,
    pub inputs: String,
    pub opened_at: Millis,
    pub due_at: Millis,
    pub closed_at: Option<Millis>,
    pub off_hours: bool,
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

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EscalationRow {
    pub id: i64,
    pub conversation_id: String,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub request_reference: Option<String>,
    pub reason: String,
    pub priority: String,
    pub status: String,
    pub level: i64,
    pub manager_id: Option<i64>,
    pub created_at: Millis,
    pub due_at: Millis,
    pub next_ping_at: Option<Millis>,
    pub acknowledged_at: Option<Millis>,
    pub acknowledged_by: Option<String>,
    pub first_response_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub off_hours: bool,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct OutboxRow {
    pub id: i64,
    pub idempotency_key: String,
    pub kind: String,
    pub escalation_id: Option<i64>,
    pub route: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub delivered_at: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
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
}

/// A back-office user as stored. `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    /// JSON list of client codes.
    pub client_scope: String,
    pub manager_id: Option<i64>,
    pub disabled: bool,
    pub created_at: Millis,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("client_scope", &self.client_scope)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// What `create_user` writes. The password is already hashed (argon2) by the caller.
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub client_scope: Vec<String>,
    pub manager_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GapRow {
    pub id: i64,
    pub conversation_id: String,
    pub message_id: Option<i64>,
    pub client_code: Option<String>,
    pub kind: String,
    pub text: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct LedgerRow {
    pub id: i64,
    pub client_code: String,
    pub interaction_type: String,
    pub quantity: i64,
    pub conversation_id: Option<String>,
    pub reference: Option<String>,
    pub corrects_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: Millis,
}

/// A knowledge gap with the query it is about: the gap's own text, except for a low survey
/// score, whose text only names the score; `context` is then the conversation's latest earlier
/// client question that got an answer, a fallback, a clarification or an escalation.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct GapFact {
    pub id: i64,
    pub conversation_id: String,
    pub message_id: Option<i64>,
    pub client_code: Option<String>,
    pub kind: String,
    pub text: String,
    pub intent: Option<String>,
    pub confidence: Option<f64>,
    pub created_at: Millis,
    pub context: Option<String>,
    pub context_intent: Option<String>,
}

impl GapFact {
    /// The query the gap is about.
    pub fn query(&self) -> &str {
        match (&self.context, self.kind.as_str()) {
            (Some(c), "low_score") => c,
            _ => &self.text,
        }
    }
}

/// Everything the back office's KPIs of one client and period are computed from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeriodFacts {
    /// Inbound messages (client queries and button presses; manager relays included, flagged
    /// by their `manager_*` outcome).
    pub inbound: Vec<MessageRow>,
    pub escalations: Vec<EscalationRow>,
    pub surveys: Vec<SurveyRow>,
    pub collections: Vec<InputCollectionRow>,
    pub requests: Vec<RequestRow>,
}

/// Totals for `/metrics` (counters over the whole store, so every replica reports the same).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// (direction, outcome, count)
    pub messages: Vec<(String, String, i64)>,
    /// Inbound bot latencies: counts at or under each bound (µs), then the count and the sum.
    pub latency_buckets_us: Vec<(i64, i64)>,
    pub latency_count: i64,
    pub latency_sum_us: i64,
    /// (status, count)
    pub outbox: Vec<(String, i64)>,
    pub escalations: Vec<(String, i64)>,
}

/// Latency bucket bounds for `/metrics`, in µs.
pub const LATENCY_BUCKETS_US: [i64; 8] = [
    500, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000,
];

/// How one delivery attempt of a claimed outbox row ended.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboxFinish {
    Delivered,
    /// Try again at this time (transient error, or the receiver's `retry_after`).
    Retry {
        at: Millis,
        error: String,
    },
    /// Part of a batch went out: store the payload that remembers how far, and try the rest
    /// again at this time.
    Progress {
        at: Millis,
        error: String,
        payload: String,
    },
    /// Given up on this row; optionally the next route's ping takes its place.
    Failed {
        error: String,
        failover: Option<(String, NewPing)>,
    },
}

/// A ping to put in the outbox with an escalation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewPing {
    pub kind: String,
    pub route: String,
    pub payload: String,
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
    },
    /// An account manager acted on an escalation: `acknowledge`, `reply` or `resolve`. Replies
    /// and resolutions imply acknowledgement; the first of each time is kept for the KPIs.
    EscalationAction {
        escalation_id: i64,
        action: EscalationAction,
        by: String,
    },
    Survey {
        cause: String,
        expires_at: Millis,
    },
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
    Outbox {
        key: String,
        ping: NewPing,
    },
}

/// One dialogue turn, committed atomically: the inbound message, the replies, the new state and
/// every record the turn produced.
#[derive(Clone, Debug)]
pub struct Turn {
    pub conversation_id: String,
    /// The state version the turn was computed from (optimistic concurrency).
    pub expected_version: i64,
    pub new_state: String,
    pub channel: String,
    pub person_id: Option<i64>,
    pub client_code: Option<String>,
    pub off_hours: bool,
    pub inbound: NewMessage,
    pub outbound: Vec<NewMessage>,
    pub records: Vec<Record>,
    pub now: Millis,
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

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    async fn ping(&self) -> StoreResult<()>;

    /// Insert or update a client and replace its account managers (seed data).
    async fn upsert_client(
        &self,
        client: &ClientRecord,
        managers: &[ManagerRecord],
        now: Millis,
    ) -> StoreResult<()>;
    async fn client(&self, code: &str) -> StoreResult<Option<ClientRecord>>;

    /// Find or create the person behind a channel identity. A client claimed for an identity
    /// that has none yet is recorded; an existing client is never silently changed.
    async fn resolve_person(&self, claim: &IdentityClaim, now: Millis) -> StoreResult<Person>;

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

    async fn requests_of_person(&self, person_id: i64) -> StoreResult<Vec<RequestRow>>;
    async fn request_by_reference(&self, reference: &str) -> StoreResult<Option<RequestRow>>;
    async fn input_collections(
        &self,
        conversation_id: &str,
    ) -> StoreResult<Vec<InputCollectionRow>>;
    async fn escalations_of_conversation(
        &self,
        conversation_id: &str,
    ) -> StoreResult<Vec<EscalationRow>>;
    async fn outbox_of_escalation(&self, escalation_id: i64) -> StoreResult<Vec<OutboxRow>>;
    async fn surveys_of_person(&self, person_id: i64) -> StoreResult<Vec<SurveyRow>>;
    async fn gaps(&self, since: Millis) -> StoreResult<Vec<GapRow>>;
    async fn ledger(
        &self,
        client_code: &str,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<LedgerRow>>;
    async fn message_count(&self) -> StoreResult<i64>;

    async fn escalation(&self, id: i64) -> StoreResult<Option<EscalationRow>>;
    /// Open (unacknowledged) escalations whose next ping is due.
    async fn due_escalations(&self, now: Millis, limit: i64) -> StoreResult<Vec<EscalationRow>>;
    /// Move an open escalation from `from_level` to `to_level` and queue its pings, atomically
    /// and only if nobody (another replica, an acknowledgement) moved it first.
    #[allow(clippy::too_many_arguments)]
    async fn advance_escalation(
        &self,
        id: i64,
        from_level: i64,
        to_level: i64,
        manager_email: Option<&str>,
        next_ping_at: Option<Millis>,
        pings: &[(String, NewPing)],
        now: Millis,
    ) -> StoreResult<bool>;
    /// Lock up to `limit` due pending outbox rows to `worker` until `lease_until` and count the
    /// attempt. On PostgreSQL rows locked by another worker's transaction are skipped
    /// (`FOR UPDATE SKIP LOCKED`), so two replicas never send the same ping.
    async fn claim_outbox(
        &self,
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: i64,
    ) -> StoreResult<Vec<OutboxRow>>;
    /// Claim the pending row with this key (due or not) for an attempt right now, unless
    /// another worker holds an unexpired claim on it: how a manager's answer leaves at once
    /// after the action commits, with the outbox's retries behind it.
    async fn claim_outbox_key(
        &self,
        key: &str,
        worker: &str,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Option<OutboxRow>>;
    /// Record how a claimed attempt ended; `false` when the claim had lapsed to another worker.
    async fn finish_outbox(
        &self,
        id: i64,
        worker: &str,
        finish: &OutboxFinish,
        now: Millis,
    ) -> StoreResult<bool>;
    /// Outbox rows in a status, newest first (failed pings are surfaced from here).
    async fn outbox_by_status(&self, status: &str, limit: i64) -> StoreResult<Vec<OutboxRow>>;
    /// The account manager's stored id for (client, email).
    async fn manager_id(&self, client_code: &str, email: &str) -> StoreResult<Option<i64>>;

    /// Totals for the Prometheus endpoint.
    async fn totals(&self) -> StoreResult<Totals>;

    /// The facts of one client in `[from, to)` for the KPIs.
    async fn period_facts(
        &self,
        client_code: &str,
        from: Millis,
        to: Millis,
    ) -> StoreResult<PeriodFacts>;

    // --- Back-office users, sessions and API tokens ---------------------------------------
    /// Create a user; `None` when the username is taken.
    async fn create_user(&self, user: &NewUser, now: Millis) -> StoreResult<Option<i64>>;
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<UserRow>>;
    async fn users(&self) -> StoreResult<Vec<UserRow>>;
    /// Sessions and tokens are stored as SHA-256 hashes: a leaked database does not log anyone in.
    async fn create_session(
        &self,
        id_hash: &str,
        user_id: i64,
        now: Millis,
        expires_at: Millis,
    ) -> StoreResult<()>;
    /// The enabled user of an unexpired session.
    async fn session_user(&self, id_hash: &str, now: Millis) -> StoreResult<Option<UserRow>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    async fn create_api_token(
        &self,
        user_id: i64,
        token_hash: &str,
        name: &str,
        now: Millis,
    ) -> StoreResult<i64>;
    /// The enabled user of an unrevoked token (and the token's last use is recorded).
    async fn token_user(&self, token_hash: &str, now: Millis) -> StoreResult<Option<UserRow>>;
    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiTokenRow>>;
    /// Revoke one of the user's tokens; false when it is not theirs or already revoked.
    async fn revoke_api_token(&self, user_id: i64, token_id: i64, now: Millis)
    -> StoreResult<bool>;
    /// Escalations, newest first, optionally in one status (the back office's queue).
    async fn escalations(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<EscalationRow>>;

    /// A channel's saved position (e.g. the last Telegram update id fully handled).
    async fn cursor(&self, name: &str) -> StoreResult<Option<i64>>;
    async fn set_cursor(&self, name: &str, value: i64) -> StoreResult<()>;
    /// A one-time code that links a chat account to a client (`/start CODE` in Telegram).
    async fn create_link_code(
        &self,
        code: &str,
        client_code: &str,
        expires_at: Millis,
        now: Millis,
    ) -> StoreResult<()>;
    /// Use a link code once: its client, or `None` if unknown, used or expired.
    async fn redeem_link_code(&self, code: &str, now: Millis) -> StoreResult<Option<String>>;

    // --- Back office: knowledge gaps, demand, renewal alerts, demo data (issue #9) -------------
    /// Knowledge gaps recorded in `[from, to)`, of one client or all, oldest first, each with
    /// the query it is about (see [`GapFact::query`]).
    async fn gap_facts(
        &self,
        client_code: Option<&str>,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<GapFact>>;
    /// When a client's inbound client messages (manager relays excluded) arrived in
    /// `[from, to)`, oldest first: the demand series.
    async fn inbound_times(
        &self,
        client_code: &str,
        from: Millis,
        to: Millis,
    ) -> StoreResult<Vec<Millis>>;
    /// Queue an outbox message that belongs to no escalation (a renewal alert); `false` when a
    /// row with this idempotency key exists already (it is then left as it is).
    async fn enqueue_outbox(&self, key: &str, ping: &NewPing, now: Millis) -> StoreResult<bool>;
    /// Outbox rows whose idempotency key starts with `prefix`, oldest first.
    async fn outbox_by_key_prefix(&self, prefix: &str) -> StoreResult<Vec<OutboxRow>>;
    /// For demo data: every pending outbox row is marked failed with `note` (never sent) and
    /// open escalations stop their re-ping ladder, so a server started on the database sends
    /// nothing. Returns (outbox rows, escalations) changed.
    async fn quiesce_outbox(&self, note: &str) -> StoreResult<(u64, u64)>;
}

/// Connect to the database named by the URL (creating the SQLite file and its folder on first
/// run) and apply pending migrations.
pub async fn connect(url: &DatabaseUrl) -> StoreResult<Arc<dyn Store>> {
    if url.is_postgres() {
        Ok(Arc::new(PgStore::connect(url.expose()).await?))
    } else {
        let path = url
            .expose()
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
    }
}
