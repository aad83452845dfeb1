-- The community layer: authors as rows (with the paper ↔ author order), what a
-- paper links to, key phrases and a one-line summary, discussion (comments,
-- their votes and reports), follows of authors and organisations, and claims
-- of author pages. Writers: src/paperfeed/catalogue/{authors,links,comments,
-- follows}.py; the summaries are written by src/paperfeed/index/phrases.py.

-- Papers whose derived rows (authors, links, imported summaries) must be
-- recomputed: filled by the triggers below in the importing transaction and
-- drained by catalogue.derive.sync (after every import, and by the back-fill).
CREATE TABLE paper_derive_queue (
    paper_id  bigint PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
    queued_at timestamptz NOT NULL DEFAULT now()
);
-- Every paper already there is derived once after the upgrade.
INSERT INTO paper_derive_queue (paper_id) SELECT id FROM papers;

-- Statement-level triggers with transition tables: one INSERT per batch
-- statement, not one per row, so an import pays almost nothing for them.
CREATE FUNCTION papers_queue_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paper_derive_queue (paper_id) SELECT id FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER papers_queue_new AFTER INSERT ON papers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION papers_queue_new();

-- Only a change of a field that authors or links are derived from queues the
-- paper again (the embedding back-fill's updates do not).
CREATE FUNCTION papers_queue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paper_derive_queue (paper_id)
    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (n.authors, n.title, n.abstract, n.github_url, n.doi, n.arxiv_id)
          IS DISTINCT FROM (o.authors, o.title, o.abstract, o.github_url, o.doi, o.arxiv_id)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER papers_queue_changed AFTER UPDATE ON papers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION papers_queue_changed();

-- A sighting's raw record carries links and Hugging Face's summary/keywords.
CREATE FUNCTION sightings_queue_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paper_derive_queue (paper_id) SELECT DISTINCT paper_id FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER sightings_queue_new AFTER INSERT ON paper_sources
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sightings_queue_new();

CREATE FUNCTION sightings_queue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO paper_derive_queue (paper_id)
    SELECT DISTINCT n.paper_id FROM new_rows n
    JOIN old_rows o ON o.source = n.source AND o.external_key = n.external_key
    WHERE n.raw IS DISTINCT FROM o.raw OR n.paper_id IS DISTINCT FROM o.paper_id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER sightings_queue_changed AFTER UPDATE ON paper_sources
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sightings_queue_changed();

-- One row per distinct normalised name. A variant merged into another keeps its
-- row (old links to its page redirect) with merged_into and the reason set.
CREATE TABLE authors (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    name_key     text NOT NULL UNIQUE,
    slug         text NOT NULL UNIQUE,
    -- Last name and the initials of the given names ("j r" for "John R. Smith"):
    -- what variant merging compares (catalogue/authors.py explains the rule).
    surname      text NOT NULL,
    initials     text NOT NULL,
    abbreviated  boolean NOT NULL,
    merged_into  bigint REFERENCES authors (id) ON DELETE SET NULL,
    merge_reason text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX authors_surname_idx ON authors (surname, initials) WHERE merged_into IS NULL;

-- The author list of a paper in its printed order; author_id is always the
-- canonical author (merging re-points these rows).
CREATE TABLE paper_authors (
    paper_id  bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    author_id bigint NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
    PRIMARY KEY (paper_id, position)
);
CREATE INDEX paper_authors_author_idx ON paper_authors (author_id, paper_id);

-- What a paper links to: arXiv, PDF, code, project page, DOI, Hugging Face
-- models/datasets/spaces; http(s) URLs only. `origin` says where it was found.
CREATE TABLE paper_links (
    paper_id   bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    url        text NOT NULL CHECK (url ~ '^https?://'),
    kind       text NOT NULL CHECK (kind IN ('arxiv', 'pdf', 'code', 'project', 'doi',
                                             'hf_model', 'hf_dataset', 'hf_space')),
    label      text NOT NULL,
    origin     text NOT NULL,
    rank       smallint NOT NULL DEFAULT 0,
    stars      integer,
    stars_checked_at timestamptz,
    PRIMARY KEY (paper_id, url)
);
CREATE INDEX paper_links_code_idx ON paper_links (paper_id) WHERE kind = 'code';

-- Key phrases and a one-line summary per paper: Hugging Face's own when an
-- import carried them (origin 'hf'), else computed offline (origin 'computed').
CREATE TABLE paper_summaries (
    paper_id    bigint PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
    summary     text NOT NULL DEFAULT '',
    key_phrases text[] NOT NULL DEFAULT '{}',
    origin      text NOT NULL CHECK (origin IN ('hf', 'computed')),
    model       text,
    -- md5 of the title and abstract summarised: a changed text is summarised again.
    text_md5    text NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);

-- Discussion: top-level comments and one level of replies (parent_id points to
-- a top-level comment). Bodies are Markdown source; HTML is rendered on read.
CREATE TABLE comments (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    paper_id   bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    user_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    parent_id  bigint REFERENCES comments (id) ON DELETE CASCADE,
    body       text NOT NULL CHECK (length(body) <= 10000),
    -- visible; pending (first comments awaiting review); hidden (by an admin);
    -- deleted (by its author: the body is emptied, replies stay).
    status     text NOT NULL DEFAULT 'visible'
               CHECK (status IN ('visible', 'pending', 'hidden', 'deleted')),
    created_at timestamptz NOT NULL DEFAULT now(),
    edited_at  timestamptz,
    moderated_by bigint REFERENCES users (id) ON DELETE SET NULL,
    moderated_at timestamptz
);
CREATE INDEX comments_paper_idx ON comments (paper_id, created_at);
CREATE INDEX comments_parent_idx ON comments (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX comments_user_idx ON comments (user_id, created_at);
CREATE INDEX comments_pending_idx ON comments (created_at) WHERE status = 'pending';

CREATE TABLE comment_votes (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    comment_id bigint NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, comment_id)
);
CREATE INDEX comment_votes_comment_idx ON comment_votes (comment_id);

CREATE TABLE comment_reports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    comment_id  bigint NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolution  text CHECK (resolution IN ('hidden', 'dismissed', 'restored')),
    UNIQUE (comment_id, user_id)
);
CREATE INDEX comment_reports_open_idx ON comment_reports (created_at) WHERE resolved_at IS NULL;

-- Follows: of an author (the canonical row) or of an organisation (by name).
CREATE TABLE author_follows (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    author_id  bigint NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, author_id)
);
CREATE INDEX author_follows_author_idx ON author_follows (author_id);
CREATE TABLE org_follows (
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, organization)
);

-- Community settings of an account (reply emails are opt-in).
CREATE TABLE community_prefs (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    reply_emails boolean NOT NULL DEFAULT false,
    -- Signed one-click unsubscribe links carry this key; rotating it revokes them.
    link_key     text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- "This author page is me": pending until an admin approves or rejects it.
CREATE TABLE author_claims (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id   bigint NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message     text NOT NULL DEFAULT '' CHECK (length(message) <= 2000),
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    decided_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (author_id, user_id)
);
-- At most one approved claim per author page.
CREATE UNIQUE INDEX author_claims_approved_idx ON author_claims (author_id)
    WHERE status = 'approved';

-- Two more digest kinds: new papers by followed authors/organisations, and the
-- reply notifications of the discussion (one outbox row per reply).
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_kind_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_kind_check
    CHECK (kind IN ('trending', 'search', 'for_you', 'following', 'replies'));
