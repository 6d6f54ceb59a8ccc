-- Frontdoor schema, SQLite dialect. Same version numbers as migrations/postgres.
-- Timestamps are BIGINT milliseconds since the Unix epoch (UTC) in both dialects, so the two
-- backends share one set of queries; JSON documents are TEXT for the same reason.

-- Clients (business units) and their Service Partnership Agreement, seeded from
-- knowledge-base/clients/*.toml and later managed by the back office.
CREATE TABLE clients (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    spa         TEXT NOT NULL DEFAULT '{}',      -- JSON: start, end, renewal notice, coverage, rates
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Account managers: the client's escalation point (primary, backup), with contact routes.
CREATE TABLE account_managers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    client_code TEXT NOT NULL REFERENCES clients(code),
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('primary', 'backup')),
    routes      TEXT NOT NULL DEFAULT '[]',      -- JSON list: telegram chat, discord user/channel, webhook, email
    active      BOOLEAN NOT NULL DEFAULT 1,
    UNIQUE (client_code, email)
);

-- Client staff. One person belongs to at most one client; anonymous web visitors have none.
CREATE TABLE people (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    client_code  TEXT REFERENCES clients(code),
    display_name TEXT,
    email        TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

-- A Discord/Telegram/web identity maps to exactly one person.
CREATE TABLE identities (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    person_id   BIGINT NOT NULL REFERENCES people(id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (channel, external_id)
);

-- One-time codes that link a chat identity to a person/client (Telegram /start <code>, Discord).
CREATE TABLE link_codes (
    code        TEXT PRIMARY KEY,
    client_code TEXT NOT NULL REFERENCES clients(code),
    person_id   BIGINT REFERENCES people(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- A conversation is one session on one channel; its dialogue state is a JSON document.
-- `version` gives optimistic concurrency: a turn commits only if nobody committed in between.
CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    session_key TEXT NOT NULL,
    person_id   BIGINT REFERENCES people(id),
    client_code TEXT,
    state       TEXT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (channel, session_key)
);

-- Every inbound and outbound turn: the query log.
CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    TEXT NOT NULL REFERENCES conversations(id),
    direction          TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    channel            TEXT NOT NULL,
    channel_message_id TEXT,                     -- inbound idempotency key, unique per channel
    reply_to           BIGINT,                   -- outbound: the inbound message answered
    person_id          BIGINT,
    client_code        TEXT,
    text               TEXT NOT NULL,
    payload            TEXT,                     -- inbound: button payload; outbound: buttons JSON
    intent             TEXT,
    confidence         DOUBLE PRECISION,
    outcome            TEXT,
    latency_us         BIGINT,
    off_hours          BOOLEAN NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_inbound_key ON messages (channel, channel_message_id)
    WHERE channel_message_id IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, id);
CREATE INDEX messages_client_time ON messages (client_code, created_at);

-- Named counters (request references REQ-1001, ...).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('request_reference', 1000);

-- Service requests opened after the SPA inputs were collected.
CREATE TABLE service_requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    reference       TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    person_id       BIGINT,
    client_code     TEXT,
    service_id      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    priority        TEXT NOT NULL CHECK (priority IN ('normal', 'urgent')),
    inputs          TEXT NOT NULL,               -- JSON object name -> value
    opened_at       BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    closed_at       BIGINT,
    off_hours       BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX service_requests_person ON service_requests (person_id, status);
CREATE INDEX service_requests_client ON service_requests (client_code, opened_at);

-- The client side of the SPA: how each attempt to supply a service's inputs went.
CREATE TABLE input_collections (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id        TEXT NOT NULL REFERENCES conversations(id),
    client_code            TEXT,
    service_id             TEXT NOT NULL,
    started_at             BIGINT NOT NULL,
    ended_at               BIGINT NOT NULL,
    outcome                TEXT NOT NULL CHECK (outcome IN ('submitted', 'cancelled', 'expired')),
    complete_first_attempt BOOLEAN NOT NULL,     -- every required input valid at its first answer
    reprompts              BIGINT NOT NULL,
    missing_inputs         BIGINT NOT NULL,      -- required inputs still missing when it ended
    request_reference      TEXT
);
CREATE INDEX input_collections_client ON input_collections (client_code, started_at);

-- Escalations to the client's account manager.
CREATE TABLE escalations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id   TEXT NOT NULL REFERENCES conversations(id),
    person_id         BIGINT,
    client_code       TEXT,
    request_reference TEXT,
    reason            TEXT NOT NULL,
    priority          TEXT NOT NULL CHECK (priority IN ('normal', 'urgent')),
    status            TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    level             BIGINT NOT NULL DEFAULT 0, -- 0 primary manager, 1 backup
    manager_id        BIGINT REFERENCES account_managers(id),
    created_at        BIGINT NOT NULL,
    due_at            BIGINT NOT NULL,
    next_ping_at      BIGINT,
    acknowledged_at   BIGINT,
    acknowledged_by   TEXT,
    first_response_at BIGINT,
    resolved_at       BIGINT,
    off_hours         BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX escalations_client ON escalations (client_code, created_at);
CREATE INDEX escalations_open ON escalations (status, next_ping_at);

-- Transactional outbox: pings written with the escalation, delivered by a worker.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    escalation_id   BIGINT REFERENCES escalations(id),
    route           TEXT NOT NULL,               -- JSON: where to deliver
    payload         TEXT NOT NULL,               -- JSON: what to deliver
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_by       TEXT,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

-- Pulse surveys (CSAT 1-5 + optional comment).
CREATE TABLE surveys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    person_id       BIGINT,
    client_code     TEXT,
    cause           TEXT NOT NULL,               -- self_service | request | escalation
    sent_at         BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    answered_at     BIGINT,
    score           BIGINT CHECK (score BETWEEN 1 AND 5),
    comment         TEXT
);
CREATE INDEX surveys_person ON surveys (person_id, sent_at);
CREATE INDEX surveys_client ON surveys (client_code, sent_at);

-- Knowledge gaps: fallbacks, low-confidence answers, "that didn't help", low survey scores.
CREATE TABLE knowledge_gaps (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    message_id      BIGINT,
    client_code     TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('fallback', 'low_confidence', 'not_helpful', 'low_score')),
    text            TEXT NOT NULL,
    intent          TEXT,
    confidence      DOUBLE PRECISION,
    created_at      BIGINT NOT NULL
);
CREATE INDEX knowledge_gaps_time ON knowledge_gaps (created_at);

-- Recharge ledger: one immutable row per billable interaction; corrections are new rows.
CREATE TABLE recharge_ledger (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    client_code      TEXT NOT NULL,
    interaction_type TEXT NOT NULL,
    quantity         BIGINT NOT NULL,
    conversation_id  TEXT,
    reference        TEXT,
    corrects_id      BIGINT REFERENCES recharge_ledger(id),
    note             TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX recharge_ledger_client ON recharge_ledger (client_code, created_at);
CREATE TRIGGER recharge_ledger_no_update BEFORE UPDATE ON recharge_ledger
BEGIN SELECT RAISE(ABORT, 'recharge ledger rows are immutable; add a correction row'); END;
CREATE TRIGGER recharge_ledger_no_delete BEFORE DELETE ON recharge_ledger
BEGIN SELECT RAISE(ABORT, 'recharge ledger rows are immutable; add a correction row'); END;

-- Back-office users, their API tokens and login sessions (secrets stored only as hashes).
CREATE TABLE backoffice_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'sso_lead', 'account_manager', 'client_lead')),
    client_scope  TEXT NOT NULL DEFAULT '[]',    -- JSON list of client codes
    manager_id    BIGINT REFERENCES account_managers(id),
    disabled      BOOLEAN NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES backoffice_users(id),
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE TABLE backoffice_sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES backoffice_users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Channel cursors (e.g. the Telegram update offset), advanced only after an update is stored.
CREATE TABLE channel_cursors (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
