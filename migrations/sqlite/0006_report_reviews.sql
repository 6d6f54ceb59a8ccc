-- The monthly report's review by the SSO and the client: comments (some of them actions agreed,
-- with an owner, a due month and a status) and one "reviewed" mark per side.
CREATE TABLE report_review_comments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    client_code   TEXT NOT NULL,
    month         TEXT NOT NULL,                 -- the report's month, YYYY-MM
    author        TEXT NOT NULL,                 -- a back-office username
    role          TEXT NOT NULL CHECK (role IN ('admin', 'sso_lead', 'account_manager', 'client_lead')),
    side          TEXT NOT NULL CHECK (side IN ('sso', 'client')),
    body          TEXT NOT NULL,
    action_owner  TEXT,                          -- set: an action agreed
    action_due    TEXT,                          -- the month it is due, YYYY-MM
    action_done_at BIGINT,
    action_done_by TEXT,
    created_at    BIGINT NOT NULL,
    CHECK ((action_owner IS NULL) = (action_due IS NULL))
);
CREATE INDEX report_review_comments_report ON report_review_comments (client_code, month, id);

CREATE TABLE report_review_marks (
    client_code TEXT NOT NULL,
    month       TEXT NOT NULL,
    side        TEXT NOT NULL CHECK (side IN ('sso', 'client')),
    marked_by   TEXT NOT NULL,
    role        TEXT NOT NULL,
    marked_at   BIGINT NOT NULL,
    PRIMARY KEY (client_code, month, side)
);
