-- Accounts: users, server-side sessions, votes, submitted papers, rate limits,
-- password reset tokens and personal API tokens. Owned by the web app
-- (src/paperfeed/accounts.py is the only writer of these tables).

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL,
    -- argon2id hash in PHC string format ($argon2id$v=19$m=…).
    password_hash  text NOT NULL,
    display_name   text NOT NULL DEFAULT '',
    is_admin       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_login_at  timestamptz
);
-- Emails compare case-insensitively: "A@x.org" and "a@x.org" are one account.
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));

-- Only the SHA-256 of a session token is stored: a leaked table opens no session.
CREATE TABLE sessions (
    token_hash    text PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    user_agent    text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- One vote per user per paper: the primary key makes a vote count once, even
-- when the same user's requests race. Shown counts = papers.imported_upvotes + count(votes).
CREATE TABLE votes (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    paper_id   bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, paper_id)
);
-- Counting a paper's votes, and trending over recent votes.
CREATE INDEX votes_paper_idx ON votes (paper_id);
CREATE INDEX votes_created_idx ON votes (created_at);

-- Papers users asked the instance to add. By arXiv id: pending until the ingest
-- worker fetches it. By form: imported at once (status 'imported').
CREATE TABLE submissions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    arxiv_id     text,
    title        text NOT NULL DEFAULT '',
    abstract     text NOT NULL DEFAULT '',
    authors      text[] NOT NULL DEFAULT '{}',
    url          text,
    paper_id     bigint REFERENCES papers (id) ON DELETE SET NULL,
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'imported', 'failed')),
    message      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
-- The same arXiv id is submitted once; later submitters are told it is known.
CREATE UNIQUE INDEX submissions_arxiv_idx ON submissions (arxiv_id) WHERE arxiv_id IS NOT NULL;
CREATE INDEX submissions_pending_idx ON submissions (created_at) WHERE status = 'pending';

-- Fixed-window counters shared by every web worker (sign-in, sign-up, resets).
CREATE TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

-- Password reset links: the token's SHA-256, single use, short-lived.
CREATE TABLE password_resets (
    token_hash  text PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- Personal API tokens for scripts (Authorization: Bearer …); stored hashed.
CREATE TABLE api_tokens (
    token_hash   text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Trending ranks a month of papers by day and upvotes: this index answers it
-- with an index-only scan (the expression alone would force a heap visit per paper).
CREATE INDEX papers_day_rank_idx ON papers ((coalesce(listed_on, published_on)))
    INCLUDE (id, listed_on, published_on, imported_upvotes);
