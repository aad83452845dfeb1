-- The catalogue: papers, where each was seen, and the bookkeeping of imports.
-- Migrations only grow at the end; each file runs in its own transaction.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE papers (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The key the paper was created under ("arxiv:<id>" or "title:<normalised title>").
    -- Unique, so two importers racing on the same paper cannot both insert it.
    ident            text NOT NULL UNIQUE,
    arxiv_id         text UNIQUE,
    doi              text,
    title            text NOT NULL,
    norm_title       text NOT NULL,
    abstract         text NOT NULL DEFAULT '',
    authors          text[] NOT NULL DEFAULT '{}',
    author_count     integer,
    organization     text,
    published_on     date,
    listed_on        date,
    github_url       text,
    categories       text[] NOT NULL DEFAULT '{}',
    -- The largest upvote count any source showed; votes cast here live in `votes`.
    imported_upvotes integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Merging looks papers up by normalised title when no arXiv id is known.
CREATE INDEX papers_norm_title_idx ON papers (norm_title);
-- Daily/weekly/monthly lists and date filters.
CREATE INDEX papers_day_idx ON papers ((coalesce(listed_on, published_on)));
CREATE INDEX papers_organization_idx ON papers (organization) WHERE organization IS NOT NULL;

-- Provenance: one row per sighting of a paper in a source, with the raw record.
CREATE TABLE paper_sources (
    source       text NOT NULL,
    external_key text NOT NULL,
    paper_id     bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    first_seen   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    upvotes      integer NOT NULL DEFAULT 0,
    raw          jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (source, external_key)
);
CREATE INDEX paper_sources_paper_idx ON paper_sources (paper_id);

-- A record of every import: what was read, what it did, and what it rejected.
CREATE TABLE ingest_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL,
    origin      text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'failed')),
    read        integer NOT NULL DEFAULT 0,
    new         integer NOT NULL DEFAULT 0,
    merged      integer NOT NULL DEFAULT 0,
    rejected    integer NOT NULL DEFAULT 0,
    -- The first rejections, each {"position", "reason"}; the count above is complete.
    errors      jsonb NOT NULL DEFAULT '[]',
    message     text
);

-- Small named values a source keeps between runs (e.g. the last arXiv harvest date).
CREATE TABLE ingest_state (
    source     text NOT NULL,
    key        text NOT NULL,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, key)
);
