-- The periodic jobs read only what changed, never the whole catalogue.

-- count_pending and the back-fill's batches: papers whose vector was made by
-- another model are found through this index (usually none), papers without a
-- vector through papers_unembedded_idx (0002).
CREATE INDEX IF NOT EXISTS papers_embedding_model_idx ON papers (embedding_model);

-- Papers given a vector since the topic map last placed them: topics.assign_new
-- takes them from here instead of anti-joining every paper with paper_topics.
-- Only filled while a topic map exists (a build places every paper itself).
CREATE TABLE topic_queue (
    paper_id bigint PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE
);

CREATE FUNCTION papers_queue_for_topics() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.embedding IS NOT NULL AND EXISTS (SELECT 1 FROM topic_maps) THEN
        INSERT INTO topic_queue (paper_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
-- Fired by embedding_model, which every new vector sets along with it: a
-- trigger naming the embedding column would stop the column's retype when a
-- model of another size is configured (backfill.ensure_dimension).
CREATE TRIGGER papers_queue_for_topics
    AFTER INSERT OR UPDATE OF embedding_model ON papers
    FOR EACH ROW EXECUTE FUNCTION papers_queue_for_topics();

-- Papers embedded before this migration and not yet placed.
INSERT INTO topic_queue (paper_id)
SELECT p.id FROM papers p
WHERE p.embedding IS NOT NULL
  AND EXISTS (SELECT 1 FROM topic_maps)
  AND NOT EXISTS (SELECT 1 FROM paper_topics pt WHERE pt.paper_id = p.id);
