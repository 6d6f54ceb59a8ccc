-- "Did you mean": a question answered with suggestions ('suggested') and the suggestion the user
-- chose ('suggestion_chosen', the question and the intent it meant) are knowledge gaps too.
ALTER TABLE knowledge_gaps DROP CONSTRAINT knowledge_gaps_kind_check;
ALTER TABLE knowledge_gaps ADD CONSTRAINT knowledge_gaps_kind_check
    CHECK (kind IN ('fallback', 'low_confidence', 'not_helpful', 'low_score', 'suggested', 'suggestion_chosen'));
