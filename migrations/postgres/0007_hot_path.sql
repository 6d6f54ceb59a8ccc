-- A survey answer finds its survey as the conversation's latest (`writes/`). Without this index
-- every answer read the whole surveys table (11.8 million rows read for 4,839 answers in one 8 s
-- load test), and the table only grows.
CREATE INDEX surveys_conversation ON surveys (conversation_id, id);

-- Request references come from a sequence. The counter row was updated inside the group
-- commit's transaction, so its lock was held until the batch committed: the other writer's
-- batch waited behind it (1.6 ms per number under load). nextval takes no lock that lasts.
-- Numbers a refused turn took are skipped, as they were with the counter.
CREATE SEQUENCE request_reference_seq;
SELECT setval('request_reference_seq', (SELECT value FROM counters WHERE name = 'request_reference'));

-- A replica still running the previous version updates the counter row: hand it the
-- sequence's next value, so both versions draw from one source during a rolling upgrade.
CREATE FUNCTION counters_request_reference_from_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.value := nextval('request_reference_seq');
    RETURN NEW;
END $$;
CREATE TRIGGER counters_request_reference_from_seq BEFORE UPDATE ON counters
    FOR EACH ROW WHEN (NEW.name = 'request_reference')
    EXECUTE FUNCTION counters_request_reference_from_seq();

-- Every turn rewrites its conversation's row (state, version). Room left on each page lets
-- PostgreSQL update it in place (a HOT update) instead of writing a new entry into both of the
-- table's indexes: about half the updates were not HOT at the default of 100. New pages only.
ALTER TABLE conversations SET (fillfactor = 70);
