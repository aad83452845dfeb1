-- Comments keep their sanitised HTML, made once on write instead of on every
-- view (catalogue/comment_html.py says why and how it stays safe). Rows from
-- before this migration have none (html_version NULL): they are rendered on
-- read until `comments.render_stale` (the upkeep job) stores theirs.
ALTER TABLE comments
    ADD COLUMN body_html text,
    -- comment_html.VERSION the HTML was made by; another version is stale.
    ADD COLUMN html_version smallint;
-- How render_stale finds the few rows of an older (or no) version among many.
CREATE INDEX comments_html_version_idx ON comments (html_version);

-- 0007's community_prefs was never used: reply emails are opt-in through a
-- 'replies' subscription (delivery/replies.py), whose link_key already signs
-- the one-click unsubscribe links. No dead schema.
DROP TABLE community_prefs;
