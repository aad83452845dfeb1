-- Papers taken out of every public view without being deleted: hidden by an
-- administrator (reason 'hidden'), or submitted by a new account and held until
-- an administrator approves it (reason 'review', with PAPERFEED_REVIEW_NEW_SUBMISSIONS).
-- Lists, trending, search, feeds, digests, similar papers, for-you and the API
-- leave out every paper with a row here (catalogue/moderation.py).
--
-- A table of its own rather than columns on papers: adding columns would not
-- rewrite papers, but the list queries' index-only scans of papers_day_rank_idx
-- would then need every row's heap page to test the flag; an anti-join against
-- this (nearly always tiny) table keeps them index-only, and hiding or restoring
-- a paper never touches the papers row, its indexes or the ingest partition locks.
CREATE TABLE hidden_papers (
    paper_id   bigint PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
    reason     text NOT NULL CHECK (reason IN ('hidden', 'review')),
    note       text NOT NULL DEFAULT '',
    hidden_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    hidden_at  timestamptz NOT NULL DEFAULT now()
);
