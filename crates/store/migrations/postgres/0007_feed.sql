-- The neighbourhood feed: plaintext clips their owners chose to make public. A post names a
-- neighbourhood, a 0.01° grid cell and a UTC hour, never an address, exact point or time.
-- account_id is here so the owner can list and delete their posts; the listing never returns
-- it (nor clip_id). The video is the blob `feed-<id>`; a row exists only once it is whole.
CREATE TABLE feed_posts (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    clip_id        TEXT REFERENCES clips (id) ON DELETE SET NULL,
    neighbourhood  TEXT NOT NULL,
    area           TEXT NOT NULL,
    hour_ms        BIGINT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL
);
CREATE INDEX feed_posts_listing ON feed_posts (neighbourhood, area, hour_ms DESC, id);
CREATE INDEX feed_posts_hour ON feed_posts (neighbourhood, hour_ms DESC, id);
CREATE INDEX feed_posts_account ON feed_posts (account_id, created_at_ms);
CREATE UNIQUE INDEX feed_posts_clip ON feed_posts (clip_id);
