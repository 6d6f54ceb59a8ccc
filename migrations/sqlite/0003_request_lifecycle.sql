-- Service requests that finish: the lifecycle's statuses, who works on it, the case system's
-- own id, the two-way SLA's clocks, and an immutable timeline of events.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same rows.
CREATE TABLE service_requests_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    reference       TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    person_id       BIGINT,
    client_code     TEXT,
    service_id      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'waiting_for_client',
                                                    'done', 'cancelled', 'reopened')),
    priority        TEXT NOT NULL CHECK (priority IN ('normal', 'urgent')),
    inputs          TEXT NOT NULL,               -- JSON object name -> value
    opened_at       BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,             -- the SSO's due time, moved out by client waits
    closed_at       BIGINT,                      -- the latest done or cancelled
    off_hours       BOOLEAN NOT NULL DEFAULT 0,
    assignee        TEXT,
    external_id     TEXT,                        -- the SSO case system's id for it
    updated_at      BIGINT NOT NULL,
    waiting_since   BIGINT,                      -- set while waiting for the client
    client_due_at   BIGINT,                      -- the client's due time while waiting
    waited_ms       BIGINT NOT NULL DEFAULT 0,   -- calendar time spent waiting for the client
    waited_business_ms BIGINT NOT NULL DEFAULT 0,-- the same in the client's business hours
    client_late     BIGINT NOT NULL DEFAULT 0,   -- client waits that ran past their due time
    client_waits    BIGINT NOT NULL DEFAULT 0,   -- client waits finished
    reopened        BIGINT NOT NULL DEFAULT 0,   -- times reopened
    first_done_at   BIGINT                       -- the first completion, for the on-time KPIs
);
INSERT INTO service_requests_new (id, reference, conversation_id, person_id, client_code, service_id,
        status, priority, inputs, opened_at, due_at, closed_at, off_hours, updated_at, first_done_at)
    SELECT id, reference, conversation_id, person_id, client_code, service_id, status, priority,
           inputs, opened_at, due_at, closed_at, off_hours, COALESCE(closed_at, opened_at),
           CASE WHEN status = 'done' THEN closed_at END
    FROM service_requests;
DROP TABLE service_requests;
ALTER TABLE service_requests_new RENAME TO service_requests;
CREATE INDEX service_requests_person ON service_requests (person_id, status);
CREATE INDEX service_requests_client ON service_requests (client_code, opened_at);
CREATE INDEX service_requests_updated ON service_requests (updated_at, id);
CREATE INDEX service_requests_status ON service_requests (status, due_at);

-- Every change of a request, as it happened: never updated, never deleted.
CREATE TABLE request_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      BIGINT NOT NULL REFERENCES service_requests(id),
    kind            TEXT NOT NULL CHECK (kind IN ('created', 'status', 'assigned', 'note',
                                                  'client_reply', 'linked')),
    from_status     TEXT,
    to_status       TEXT,
    actor           TEXT NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('chat', 'backoffice', 'api', 'system')),
    note            TEXT,
    idempotency_key TEXT UNIQUE,
    created_at      BIGINT NOT NULL
);
CREATE INDEX request_events_request ON request_events (request_id, id);
INSERT INTO request_events (request_id, kind, to_status, actor, source, created_at)
    SELECT id, 'created', 'open', 'client', 'chat', opened_at FROM service_requests;
CREATE TRIGGER request_events_no_update BEFORE UPDATE ON request_events
BEGIN SELECT RAISE(ABORT, 'request events are immutable'); END;
CREATE TRIGGER request_events_no_delete BEFORE DELETE ON request_events
BEGIN SELECT RAISE(ABORT, 'request events are immutable'); END;

-- A survey asked after a request was completed is tied to it (and so to its service).
ALTER TABLE surveys ADD COLUMN request_reference TEXT;
