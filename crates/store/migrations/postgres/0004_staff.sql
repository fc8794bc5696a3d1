-- Staff: separate principals, roles, second factor; access requests and the grants customers
-- approve. Staff reach customer data only through an approved, unexpired, unrevoked grant,
-- and every such read is queued in the transparency log before the data is read.

CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    totp_secret     BYTEA NOT NULL,
    totp_last_step  BIGINT NOT NULL DEFAULT 0,
    role            TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash     BYTEA PRIMARY KEY,
    staff_id       TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL
);

-- account_id is NULL when the address named has no account: the request then stays pending
-- for ever, and the staff member learns nothing from it.
CREATE TABLE access_requests (
    id               TEXT PRIMARY KEY,
    staff_id         TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    account_id       TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    scopes           TEXT NOT NULL,
    justification    TEXT NOT NULL,
    ticket           TEXT NOT NULL,
    duration_ms      BIGINT NOT NULL,
    break_glass      BIGINT NOT NULL DEFAULT 0,
    state            TEXT NOT NULL,
    second_staff_id  TEXT REFERENCES staff (id),
    created_at_ms    BIGINT NOT NULL,
    decided_at_ms    BIGINT,
    expires_at_ms    BIGINT
);
CREATE INDEX access_requests_account ON access_requests (account_id, created_at_ms);
CREATE INDEX access_requests_staff ON access_requests (staff_id, created_at_ms);

-- Staff reads under grants, for the bulk-access alert (the log holds the full record).
CREATE TABLE staff_reads (
    staff_id    TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX staff_reads_staff ON staff_reads (staff_id, at_ms);

CREATE TABLE staff_alerts (
    id             TEXT PRIMARY KEY,
    staff_id       TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    reason         TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL
);
