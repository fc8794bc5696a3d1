-- Accounts, sessions, sign-in defences, activity and notifications.
-- Times are Unix milliseconds; hashes and secrets are raw bytes.

CREATE TABLE accounts (
    id                 TEXT PRIMARY KEY,
    email              TEXT NOT NULL UNIQUE,
    password_hash      TEXT NOT NULL,
    totp_secret        BYTEA NOT NULL,
    totp_last_step     BIGINT NOT NULL DEFAULT 0,
    totp_pending       BYTEA,
    totp_pending_until BIGINT,
    created_at_ms      BIGINT NOT NULL
);

CREATE TABLE pending_signups (
    token_hash      BYTEA PRIMARY KEY,
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    totp_secret     BYTEA NOT NULL,
    recovery_hashes BYTEA NOT NULL,
    expires_at_ms   BIGINT NOT NULL
);
CREATE INDEX pending_signups_expiry ON pending_signups (expires_at_ms);

CREATE TABLE recovery_codes (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash   BYTEA NOT NULL,
    used_at_ms  BIGINT,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    token_hash       BYTEA NOT NULL UNIQUE,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_hash      BYTEA NOT NULL,
    device_name      TEXT NOT NULL,
    source_addr      TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    last_seen_at_ms  BIGINT NOT NULL,
    expires_at_ms    BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE known_devices (
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_hash    BYTEA NOT NULL,
    device_name    TEXT NOT NULL,
    first_seen_ms  BIGINT NOT NULL,
    last_seen_ms   BIGINT NOT NULL,
    PRIMARY KEY (account_id, device_hash)
);

CREATE TABLE activity (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at_ms        BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    source_addr  TEXT NOT NULL,
    device_name  TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX activity_account_time ON activity (account_id, at_ms);

-- Failures per sign-in name (a keyed hash of the email, whether or not an account has it,
-- so lock-out looks the same for unknown addresses).
CREATE TABLE login_guards (
    name_key          BYTEA PRIMARY KEY,
    failures          BIGINT NOT NULL,
    last_failure_ms   BIGINT NOT NULL,
    locked_until_ms   BIGINT NOT NULL
);

CREATE TABLE login_failures (
    source_addr  TEXT NOT NULL,
    name_key     BYTEA NOT NULL,
    at_ms        BIGINT NOT NULL
);
CREATE INDEX login_failures_source_time ON login_failures (source_addr, at_ms);
CREATE INDEX login_failures_time ON login_failures (at_ms);

CREATE TABLE blocked_sources (
    source_addr       TEXT PRIMARY KEY,
    blocked_until_ms  BIGINT NOT NULL,
    reason            TEXT NOT NULL
);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    pending_sinks    TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    last_error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (next_attempt_ms);

CREATE TABLE notifications (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    at_ms          BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL,
    read_at_ms     BIGINT
);
CREATE INDEX notifications_account_time ON notifications (account_id, at_ms);
