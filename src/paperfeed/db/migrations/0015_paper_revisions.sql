-- What an import run changed in papers that existed before it: the paper's merged
-- fields before the run's first change to it and after its last, so that
-- `paperfeed ingest undo RUN_ID` can put them back (when nothing changed them since).
-- `fields` are the papers columns in catalogue.papers._PAPER_COLUMNS order (JSON).
CREATE TABLE paper_revisions (
    run_id            bigint NOT NULL REFERENCES ingest_runs (id) ON DELETE CASCADE,
    paper_id          bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    before            jsonb NOT NULL,
    before_updated_at timestamptz NOT NULL,
    after             jsonb NOT NULL,
    PRIMARY KEY (run_id, paper_id)
);
CREATE INDEX paper_revisions_paper_idx ON paper_revisions (paper_id);
