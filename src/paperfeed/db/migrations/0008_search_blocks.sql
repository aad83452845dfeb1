-- Keyword search of common words reads the newest papers first, one block of
-- 50,000 consecutive ids at a time, each block through a GIN index of its own
-- (index/lexical.py, BLOCK_PAPERS): the work per query is bounded by the block,
-- not by the catalogue. The first two blocks are made here; the back-fill's
-- upkeep (lexical.ensure_blocks) adds each next one, CONCURRENTLY, before any
-- paper id reaches it.
CREATE INDEX IF NOT EXISTS papers_search_block_0 ON papers
    USING gin (search) WHERE id > 0 AND id <= 50000;
CREATE INDEX IF NOT EXISTS papers_search_block_1 ON papers
    USING gin (search) WHERE id > 50000 AND id <= 100000;
