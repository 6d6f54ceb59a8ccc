-- Announcements: what the SSO tells its clients' staff ("payroll cut-off moves to the 20th"),
-- to whom (clients, channels, linked users or recent ones), when, and how each recipient got it.

CREATE TABLE announcements (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    clients         TEXT NOT NULL,               -- JSON list of client codes; [] = every client
    channels        TEXT NOT NULL,               -- JSON list among web, telegram, discord
    active_days     BIGINT,                      -- only users seen in the last N days; NULL = all linked
    article_id      TEXT,                        -- a knowledge-base article it is about
    urgent          BOOLEAN NOT NULL DEFAULT 0,  -- sent outside coverage hours too
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    ended_early_at  BIGINT,                      -- ended before ends_at by an operator
    fanout_by       TEXT,                        -- the replica fanning it out now (a lease) ...
    fanout_until    BIGINT                       -- ... until then
);
CREATE INDEX announcements_window ON announcements (ends_at, starts_at);

-- One row per announcement x channel x recipient: the uniqueness is what makes "once" hold
-- across fan-out rounds, replicas and restarts (with the outbox row's idempotency key).
CREATE TABLE announcement_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    announcement_id BIGINT NOT NULL REFERENCES announcements(id),
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,               -- the channel's user id
    client_code     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'waiting', 'unsubscribed', 'expired')),
    due_at          BIGINT NOT NULL,             -- waiting: when the client's coverage opens
    outbox_key      TEXT NOT NULL,               -- the outbox row that carries it (once queued)
    route           TEXT NOT NULL,               -- the outbox row's route and payload, kept
    payload         TEXT NOT NULL,               -- while it waits for coverage
    created_at      BIGINT NOT NULL,
    UNIQUE (announcement_id, channel, recipient)
);
CREATE INDEX announcement_deliveries_waiting ON announcement_deliveries (status, due_at);

-- Chat users who said /unsubscribe: no further announcements on that channel.
CREATE TABLE announcement_optouts (
    channel     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (channel, recipient)
);

-- The next free send slot per channel: announcement sends are spaced to stay under the Bot
-- APIs' overall rate (Telegram ~30 messages/s), whichever replica queues them.
CREATE TABLE announcement_pacing (
    channel     TEXT PRIMARY KEY,
    next_slot   BIGINT NOT NULL
);
