-- "Did you mean": a question answered with suggestions ('suggested') and the suggestion the user
-- chose ('suggestion_chosen', the question and the intent it meant) are knowledge gaps too.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same rows.
CREATE TABLE knowledge_gaps_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    message_id      BIGINT,
    client_code     TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('fallback', 'low_confidence', 'not_helpful', 'low_score',
                                                  'suggested', 'suggestion_chosen')),
    text            TEXT NOT NULL,
    intent          TEXT,
    confidence      DOUBLE PRECISION,
    created_at      BIGINT NOT NULL
);
INSERT INTO knowledge_gaps_new (id, conversation_id, message_id, client_code, kind, text, intent, confidence, created_at)
    SELECT id, conversation_id, message_id, client_code, kind, text, intent, confidence, created_at FROM knowledge_gaps;
DROP TABLE knowledge_gaps;
ALTER TABLE knowledge_gaps_new RENAME TO knowledge_gaps;
CREATE INDEX knowledge_gaps_time ON knowledge_gaps (created_at);
