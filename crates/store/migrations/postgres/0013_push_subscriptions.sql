-- Web Push subscriptions: at most one per approved device. The endpoint is the push service's
-- URL for that browser; p256dh and auth are the browser's RFC 8291 keys that the server
-- encrypts to. What the server pushes is the hub's sealed notice, so these open nothing of it.
CREATE TABLE push_subscriptions (
    device_id      TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    endpoint       TEXT NOT NULL,
    p256dh         BYTEA NOT NULL,
    auth           BYTEA NOT NULL,
    created_at_ms  BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id);
