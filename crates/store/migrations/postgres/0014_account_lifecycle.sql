-- A verified address, a forgotten password and a changed address (issue: account lifecycle).
--
-- An address is verified when a code or link sent to it came back. Accounts made before this
-- (or on a server that sends no email) have none until their owner proves it.
ALTER TABLE accounts ADD COLUMN email_verified_at_ms BIGINT;

-- A sign-up on a server that sends email waits for the code sent to its address as well as
-- its first TOTP code. The code is kept only as a hash bound to the enrolment token; a few
-- wrong codes end the sign-up.
ALTER TABLE pending_signups ADD COLUMN email_code_hash BYTEA;
ALTER TABLE pending_signups ADD COLUMN email_code_failures BIGINT NOT NULL DEFAULT 0;

-- Single-use tokens sent by email: a password reset, a new address to confirm, a change to
-- undo from the old address. Only their hash is kept; `email` is where it was sent (or, for a
-- change, the address it would move to).
CREATE TABLE email_tokens (
    token_hash     BYTEA PRIMARY KEY,
    purpose        TEXT NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    used_at_ms     BIGINT
);
CREATE INDEX email_tokens_account ON email_tokens (account_id, purpose);
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at_ms);

-- Mail to an address rather than to an account: a sign-up code, a reset link, a change to
-- confirm or undo. A row names the message and the id its token is derived from (with the
-- server's secret); the token itself is never stored, so the database alone sends no one a
-- working link. Delivered rows are deleted.
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,
    to_address       TEXT NOT NULL,
    template         TEXT NOT NULL,
    token_id         TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms  BIGINT NOT NULL,
    last_error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_ms);

-- When mail of a kind last went for a key (such as a reset for one account), so that asking
-- again and again fills no inbox. Claimed with one conditional upsert: two requests racing
-- cannot both send.
CREATE TABLE mail_throttle (
    key      TEXT PRIMARY KEY,
    last_ms  BIGINT NOT NULL
);
