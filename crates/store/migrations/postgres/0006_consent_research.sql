-- Research consent, per owner: every receipt (its nonce is the replay guard) and the live state
-- per scope. These tables belong to accounts and are never read by a research role.
CREATE TABLE consent_receipts (
    nonce           TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    action          TEXT NOT NULL,
    scope_kind      TEXT NOT NULL,
    scope_id        TEXT NOT NULL,
    receipt         BYTEA NOT NULL,
    issued_at_ms    BIGINT NOT NULL,
    recorded_at_ms  BIGINT NOT NULL
);
CREATE INDEX consent_receipts_account ON consent_receipts (account_id, recorded_at_ms);

CREATE TABLE consents (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scope_kind  TEXT NOT NULL,
    scope_id    TEXT NOT NULL,
    live        BIGINT NOT NULL,
    PRIMARY KEY (account_id, scope_kind, scope_id)
);

-- The research dataset. Deliberately unlinked: a random id, the owner-computed withdrawal id,
-- a UTC day, a size. No column leads to an account, camera, hub, device, clip or exact time
-- (tests/api/research.rs lists the columns from the database and fails if one does).
CREATE TABLE research_items (
    id             TEXT PRIMARY KEY,
    withdrawal_id  TEXT NOT NULL UNIQUE,
    day            TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL
);

CREATE TABLE research_labels (
    item_id  TEXT NOT NULL REFERENCES research_items (id) ON DELETE CASCADE,
    label    TEXT NOT NULL,
    PRIMARY KEY (item_id, label)
);
