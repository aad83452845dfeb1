-- Brings databases made by early builds up to the shipped 0002-0004.
-- Three migrations were edited after they first shipped, before paperfeed
-- recorded a checksum per applied migration: a database created then says
-- "5 of 5" yet lacks what the edits added. Every statement here is a no-op on
-- a database that ran the final files, so it is safe everywhere.
-- Shipped migrations are never edited again (db/migrations/MANIFEST, checked by
-- tests/db/test_migrations.py); a change is always a new file.

-- 0002: keyword statistics and in-row storage of what every search reads.
ALTER TABLE papers ALTER COLUMN search SET STATISTICS 1000;
ALTER TABLE papers SET (toast_tuple_target = 4080);
ALTER TABLE papers ALTER COLUMN search SET STORAGE MAIN;
ALTER TABLE papers ALTER COLUMN embedding SET STORAGE MAIN;

-- 0003: the trending index.
CREATE INDEX IF NOT EXISTS papers_day_rank_idx ON papers ((coalesce(listed_on, published_on)))
    INCLUDE (id, listed_on, published_on, imported_upvotes);

-- 0004: why each paper is in a digest.
ALTER TABLE digest_outbox ADD COLUMN IF NOT EXISTS paper_reasons jsonb NOT NULL DEFAULT '{}'::jsonb;
