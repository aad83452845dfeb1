-- Search: a weighted full-text vector and a sentence embedding for every paper.
-- Owned by the search engineer; see docs/search.md for why each choice was made.

-- array_to_string is only STABLE (element output functions could depend on
-- settings); for text[] it is immutable, which a generated column needs.
CREATE FUNCTION paperfeed_join_text(text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN array_to_string($1, ' ');

-- Title weighs most (A), then the abstract (B); organisation and author names
-- are kept unstemmed (simple config) at the lowest weight (C) so that a name
-- finds its papers without pulling topic queries towards them.
ALTER TABLE papers ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A')
    || setweight(to_tsvector('english', abstract), 'B')
    || setweight(
        to_tsvector('simple', coalesce(organization, '') || ' '
                              || coalesce(paperfeed_join_text(authors), '')),
        'C')
) STORED;
CREATE INDEX papers_search_idx ON papers USING gin (search);
-- Keyword ranking takes each term's document frequency from the planner's
-- statistics (pg_stats.most_common_elems): keep the 10,000 most common lexemes.
ALTER TABLE papers ALTER COLUMN search SET STATISTICS 1000;

-- One vector per paper from the configured model. halfvec halves the table
-- and index size against vector (776 vs 1544 bytes a row); the dev queries
-- score the same with it as with float32 vectors (semantic nDCG@10 0.7704).
-- The dimension follows the configured model (index.py retypes the column
-- when a model of another size is configured).
-- embedding_model records which model made the vector, so a model change
-- re-embeds exactly the papers made by another one.
ALTER TABLE papers
    ADD COLUMN embedding       halfvec(384),
    ADD COLUMN embedding_model text,
    ADD COLUMN embedded_at     timestamptz;

-- Keep what every search reads inside the table row instead of TOAST: ranking
-- reads the tsvector of up to 500 candidates per query, and the HNSW results
-- are re-sorted by the stored vectors. Out of line, each of those costs a TOAST
-- index lookup and more pages (EXPLAIN at 300k papers: 4.9 buffers read per
-- ranked candidate out of line, 1.0 inline). Rows up to ~4 KB stay whole; a
-- long abstract is compressed or moved out first.
ALTER TABLE papers SET (toast_tuple_target = 4080);
ALTER TABLE papers ALTER COLUMN search SET STORAGE MAIN;
ALTER TABLE papers ALTER COLUMN embedding SET STORAGE MAIN;

-- m = 16, ef_construction = 64 (pgvector's defaults): measured at 300k papers,
-- recall@10 0.997 and recall@100 0.945 against an exact scan with
-- hnsw.ef_search = 100, built in 213 s on a loaded 2-core machine (335 MB).
-- Recall is already near 1 where ranking needs it, so larger (slower to
-- build, bigger) graphs were not adopted.
CREATE INDEX papers_embedding_idx ON papers
    USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 64);

-- The back-fill's to-do list: papers that still need a vector.
CREATE INDEX papers_unembedded_idx ON papers (id) WHERE embedding IS NULL;

-- A vector describes the text it was made from: when the catalogue changes the
-- title or abstract, the vector goes and the back-fill makes a new one. The
-- catalogue knows nothing of embeddings; this trigger keeps it that way.
CREATE FUNCTION papers_clear_stale_embedding() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.title IS DISTINCT FROM OLD.title OR NEW.abstract IS DISTINCT FROM OLD.abstract THEN
        NEW.embedding := NULL;
        NEW.embedding_model := NULL;
        NEW.embedded_at := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER papers_clear_stale_embedding
    BEFORE UPDATE OF title, abstract ON papers
    FOR EACH ROW EXECUTE FUNCTION papers_clear_stale_embedding();
