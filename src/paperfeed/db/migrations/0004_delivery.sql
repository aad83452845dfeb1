-- Delivery: email subscriptions, the digest outbox, what each subscriber was
-- sent, delivery failures, and the scheduler's record of runs.
-- Owned by the delivery engineer: src/paperfeed/delivery/ is the only writer
-- of these tables. docs/delivery.md explains the outbox's guarantees.

CREATE TABLE subscriptions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    -- Set when subscribed while signed in; anonymous subscriptions have none.
    user_id        bigint REFERENCES users (id) ON DELETE SET NULL,
    -- trending: the period's top papers; search: a saved search-page query with
    -- its filters; for_you: the user's personal feed (needs user_id).
    kind           text NOT NULL CHECK (kind IN ('trending', 'search', 'for_you')),
    query          text NOT NULL DEFAULT '',
    filters        jsonb NOT NULL DEFAULT '{}',
    cadence        text NOT NULL CHECK (cadence IN ('daily', 'weekly')),
    send_hour      smallint NOT NULL DEFAULT 7 CHECK (send_hour BETWEEN 0 AND 23),
    -- ISO weekday (1 = Monday) a weekly digest goes out on; ignored for daily.
    send_weekday   smallint NOT NULL DEFAULT 1 CHECK (send_weekday BETWEEN 1 AND 7),
    timezone       text NOT NULL DEFAULT 'UTC',
    -- pending: waiting for the double opt-in click (nothing is ever sent);
    -- active; paused (by the subscriber, or by a hard bounce: see paused_reason);
    -- unsubscribed (kept so that a late click on an old link stays harmless).
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'active', 'paused', 'unsubscribed')),
    paused_reason  text CHECK (paused_reason IN ('user', 'bounce')),
    -- The confirmation link carries this nonce; confirming clears it, so a link
    -- works once. Re-requesting confirmation replaces it (old links die).
    confirm_nonce  text,
    confirmed_at   timestamptz,
    -- Signed manage/unsubscribe links carry this key; rotating it revokes them.
    link_key       text NOT NULL,
    bounce_count   integer NOT NULL DEFAULT 0,
    last_bounce_at timestamptz,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    unsubscribed_at timestamptz
);
-- One live subscription per address and content: subscribing twice re-sends
-- the confirmation instead of creating a second digest.
CREATE UNIQUE INDEX subscriptions_unique_live_idx
    ON subscriptions (lower(email), kind, query, filters, cadence)
    WHERE status <> 'unsubscribed';
CREATE INDEX subscriptions_active_idx ON subscriptions (id) WHERE status = 'active';
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id) WHERE user_id IS NOT NULL;

-- One row per (subscription, period), written (with its content frozen) before
-- any byte goes to the SMTP server. The unique key is the guard against a
-- second digest for the same period; message_id is stable across retries.
CREATE TABLE digest_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    -- "daily:2026-11-23" or "weekly:2026-W48", in the subscriber's time zone.
    period_key      text NOT NULL,
    message_id      text NOT NULL UNIQUE,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    paper_ids       bigint[] NOT NULL,
    -- pending: to send (again, once next_attempt_at has passed);
    -- sending: claimed by a sender, the DATA terminator not yet written;
    -- committing: the terminator is about to be / was written: the one state in
    --   which the server may or may not hold the message (see docs/delivery.md);
    -- sent: the server answered 250 to the DATA; failed: permanent (5xx) or out
    --   of attempts; cancelled: the subscription ended before it went out;
    --   empty: nothing new in the period, so nothing is sent (the row still
    --   records that the period was handled).
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'committing', 'sent', 'failed',
                                      'cancelled', 'empty')),
    attempts        integer NOT NULL DEFAULT 0,
    -- Recoveries of a 'committing' row whose sender died: each one may have
    -- delivered a second copy (same Message-ID).
    uncertain_resends integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    smtp_code       integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    claimed_at      timestamptz,
    sent_at         timestamptz,
    UNIQUE (subscription_id, period_key)
);
CREATE INDEX digest_outbox_todo_idx ON digest_outbox (next_attempt_at)
    WHERE status IN ('pending', 'sending', 'committing');

-- Papers already put in a subscriber's digest: later digests skip them. Written
-- with the outbox row; removed again if that row fails for good.
CREATE TABLE sent_papers (
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    paper_id        bigint NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    outbox_id       bigint NOT NULL REFERENCES digest_outbox (id) ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, paper_id)
);
CREATE INDEX sent_papers_outbox_idx ON sent_papers (outbox_id);

-- Every failed SMTP attempt worth an operator's eye (shown on /admin/delivery).
CREATE TABLE delivery_failures (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id       bigint REFERENCES digest_outbox (id) ON DELETE SET NULL,
    subscription_id bigint REFERENCES subscriptions (id) ON DELETE SET NULL,
    recipient       text NOT NULL,
    smtp_code       integer,
    message         text NOT NULL,
    permanent       boolean NOT NULL,
    -- A 5xx refusal of the recipient itself: the address was paused.
    hard_bounce     boolean NOT NULL DEFAULT false,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_failures_at_idx ON delivery_failures (at DESC);

-- A record of every scheduler job run. (job, slot) is unique: when several
-- instances wake for the same slot, one inserts the row and runs; the others
-- see the conflict and skip.
CREATE TABLE scheduler_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text NOT NULL,
    slot        text NOT NULL,
    instance    text NOT NULL,
    status      text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'finished', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    summary     jsonb NOT NULL DEFAULT '{}',
    message     text,
    UNIQUE (job, slot)
);
CREATE INDEX scheduler_runs_started_idx ON scheduler_runs (started_at DESC);

-- Why each paper is in the digest (for-you digests: {"<paper id>": "close to …"}),
-- frozen with paper_ids so that a retried send renders the same message.
ALTER TABLE digest_outbox ADD COLUMN paper_reasons jsonb NOT NULL DEFAULT '{}'::jsonb;
