-- The personal layer: each user's library (saved papers, folders, tags, notes),
-- "not interested" feedback, the learnt for-you profile, and the topic map.
-- Owned by the personal engineer: library.py writes the library tables,
-- recommend.py the profiles, topics.py the topic tables.
-- Vectors are declared without a dimension so that a change of embedding model
-- needs no migration; none of these tables is searched by a vector index.

-- A saved (starred) paper. Tags are free labels; folders are below.
CREATE TABLE library_items (
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paper_id  bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    note      text NOT NULL DEFAULT '',
    tags      text[] NOT NULL DEFAULT '{}',
    -- 'web' (saved on a page), 'import' (from a BibTeX/Zotero file), 'api'.
    origin    text NOT NULL DEFAULT 'web' CHECK (origin IN ('web', 'import', 'api')),
    saved_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, paper_id)
);
CREATE INDEX library_items_user_saved_idx ON library_items (user_id, saved_at DESC);
CREATE INDEX library_items_tags_idx ON library_items USING gin (tags);

CREATE TABLE library_folders (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, name)
);

-- A paper can sit in several folders; unsaving it empties it from all of them.
CREATE TABLE library_folder_items (
    folder_id bigint NOT NULL REFERENCES library_folders (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL,
    paper_id  bigint NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (folder_id, paper_id),
    FOREIGN KEY (user_id, paper_id) REFERENCES library_items (user_id, paper_id) ON DELETE CASCADE
);
CREATE INDEX library_folder_items_paper_idx ON library_folder_items (user_id, paper_id);

-- Negative feedback: "not interested" on any card. One row per user and paper.
CREATE TABLE feedback (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paper_id   bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    kind       text NOT NULL DEFAULT 'not_interested' CHECK (kind IN ('not_interested')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, paper_id)
);

-- What each library import read, matched and could not match (shown on the import page).
CREATE TABLE library_imports (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    read       integer NOT NULL DEFAULT 0,
    matched    integer NOT NULL DEFAULT 0,
    unmatched  integer NOT NULL DEFAULT 0,
    rejected   integer NOT NULL DEFAULT 0,
    -- {"unmatched": [{"position", "title"}], "rejected": [{"position", "reason"}]}, capped.
    report     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX library_imports_user_idx ON library_imports (user_id, id DESC);

-- The for-you profile: a handful of interest centroids per user, kept up to date
-- by folding in each new positive (no retraining over the corpus).
CREATE TABLE user_profiles (
    user_id            bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- How many positives (votes + saved papers) the interests summarise, and the
    -- newest one folded in: a cheap check tells whether the profile is current.
    positives          integer NOT NULL DEFAULT 0,
    folded_until       timestamptz,
    -- Bumping this revokes the private Atom feed URL (its token is an HMAC over it).
    feed_token_version integer NOT NULL DEFAULT 1,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_interests (
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slot     smallint NOT NULL,
    -- Running mean of the positives assigned to this slot (not normalised).
    centroid vector NOT NULL,
    weight   real NOT NULL CHECK (weight > 0),
    -- 'library': learnt from positives; 'topic': picked at cold start.
    origin   text NOT NULL DEFAULT 'library' CHECK (origin IN ('library', 'topic')),
    topic_id bigint,
    PRIMARY KEY (user_id, slot)
);

-- The topic map: one active clustering of the catalogue at a time.
CREATE TABLE topic_maps (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    papers     integer NOT NULL,
    -- The 2-D layout is a fixed linear projection (PCA), kept so that papers added
    -- later are placed on the same map without recomputing it.
    mean       vector NOT NULL,
    axis_x     vector NOT NULL,
    axis_y     vector NOT NULL
);

CREATE TABLE topics (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    map_id   bigint NOT NULL REFERENCES topic_maps (id) ON DELETE CASCADE,
    label    text NOT NULL,
    terms    text[] NOT NULL DEFAULT '{}',
    centroid vector NOT NULL,
    x        real NOT NULL,
    y        real NOT NULL,
    papers   integer NOT NULL DEFAULT 0
);
CREATE INDEX topics_map_idx ON topics (map_id);

CREATE TABLE paper_topics (
    paper_id    bigint PRIMARY KEY REFERENCES papers (id) ON DELETE CASCADE,
    topic_id    bigint NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    x           real NOT NULL,
    y           real NOT NULL,
    similarity  real NOT NULL,
    assigned_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX paper_topics_topic_idx ON paper_topics (topic_id);
