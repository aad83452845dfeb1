-- Papers that still need key phrases and a one-line summary (index/phrases.py).
-- The embed upkeep asks every few minutes whether any are left; answering from
-- this queue reads only what is queued, where the anti-join of every paper with
-- paper_summaries read the whole catalogue each time.
CREATE TABLE summary_queue (
    paper_id bigint PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE
);

-- Statement-level, with transition tables (as 0007's queues): one INSERT per
-- batch statement, so a COPY of many papers pays one set-based insert.
CREATE FUNCTION papers_queue_for_summary() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_queue (paper_id) SELECT id FROM new_rows ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER papers_queue_for_summary AFTER INSERT ON papers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION papers_queue_for_summary();

-- A summary dropped because its paper's text changed (catalogue/derive.py)
-- queues the paper again; one dropped with its paper (the cascade) does not.
CREATE FUNCTION summaries_requeue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO summary_queue (paper_id)
    SELECT o.paper_id FROM old_rows o WHERE EXISTS (SELECT 1 FROM papers p WHERE p.id = o.paper_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER summaries_requeue AFTER DELETE ON paper_summaries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION summaries_requeue();

-- Papers without a summary today: one pass at the upgrade (a few seconds per
-- million papers), never again.
INSERT INTO summary_queue (paper_id)
SELECT p.id FROM papers p
WHERE NOT EXISTS (SELECT 1 FROM paper_summaries s WHERE s.paper_id = p.id);
