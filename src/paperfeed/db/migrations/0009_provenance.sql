-- Real-world imports: how precise a publication date is, and which run added what.

-- A BibTeX `year = {2016}` is stored as 2016-01-01 with precision 'year', so a
-- merge never lets it replace the day another source stated (model.merge).
ALTER TABLE papers
    ADD COLUMN published_precision text NOT NULL DEFAULT 'day'
        CHECK (published_precision IN ('year', 'month', 'day'));

-- The import that first made each sighting and each paper: `paperfeed ingest undo`
-- removes exactly those. NULL for rows older than this migration (never undone).
ALTER TABLE paper_sources
    ADD COLUMN first_run bigint REFERENCES ingest_runs (id) ON DELETE SET NULL;
ALTER TABLE papers
    ADD COLUMN first_run bigint REFERENCES ingest_runs (id) ON DELETE SET NULL;
CREATE INDEX paper_sources_first_run_idx ON paper_sources (first_run) WHERE first_run IS NOT NULL;
CREATE INDEX papers_first_run_idx ON papers (first_run) WHERE first_run IS NOT NULL;

-- An undone run stays listed (with what the undo removed) instead of vanishing.
ALTER TABLE ingest_runs DROP CONSTRAINT ingest_runs_status_check;
ALTER TABLE ingest_runs ADD CONSTRAINT ingest_runs_status_check
    CHECK (status IN ('running', 'finished', 'failed', 'undone'));
ALTER TABLE ingest_runs ADD COLUMN undone_at timestamptz;
