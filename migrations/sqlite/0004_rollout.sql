-- Phased roll-out: the back office's run-time mode per client × channel (over the client
-- file's `[rollout]`), the bot's draft carried by a shadow-mode escalation and what the manager
-- did with it, and an append-only audit trail of who changed what.

CREATE TABLE rollout_modes (
    client_code TEXT NOT NULL,
    channel TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('off', 'shadow', 'pilot', 'live')),
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (client_code, channel)
);

-- The draft as JSON (the replies, the states before and after, the effects); NULL for an
-- ordinary escalation. The verdict: approved, edited or replaced.
ALTER TABLE escalations ADD COLUMN draft TEXT;
ALTER TABLE escalations ADD COLUMN draft_verdict TEXT
    CHECK (draft_verdict IS NULL OR draft_verdict IN ('approved', 'edited', 'replaced'));

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_subject ON audit_events (subject, id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are immutable'); END;
