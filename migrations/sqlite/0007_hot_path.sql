-- A survey answer finds its survey as the conversation's latest (`writes/`). Without this index
-- SQLite walked the surveys table back from the newest row until it reached the conversation's:
-- short for a survey just sent, the whole table for an old one, and the table only grows.
CREATE INDEX surveys_conversation ON surveys (conversation_id, id);
