-- Device chains, devices, hubs and pairing, cameras and sealed clips.
-- The server stores public keys, signed links and ciphertext only.

-- Each account's device chain: signed links, verified by the server before they are stored
-- (and again by every hub and client that reads them).
CREATE TABLE chain_links (
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    link         BLOB NOT NULL,
    hash         BLOB NOT NULL,
    added_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (account_id, seq)
);

-- Link 0's hash per account: how another account's chain names this one as a member.
CREATE TABLE chain_roots (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    root        BLOB NOT NULL UNIQUE
);

-- Household members named by the current verified chain (derived, rewritten per append).
CREATE TABLE household_members (
    owner_account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    member_root       BLOB NOT NULL,
    PRIMARY KEY (owner_account_id, member_root)
);
CREATE INDEX household_members_root ON household_members (member_root);

-- Client devices: public keys a signed-in device announced, bound to that client's device
-- id (as sessions are). Active only while the verified chain names the signing key.
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_hash    BLOB NOT NULL,
    name           TEXT NOT NULL,
    sign_key       BLOB NOT NULL,
    age_key        BLOB NOT NULL,
    state          TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    UNIQUE (account_id, device_hash),
    UNIQUE (account_id, sign_key)
);

-- One-time pairing codes: only the verifier of the secret is kept.
CREATE TABLE pairings (
    id             TEXT PRIMARY KEY,
    verifier       BLOB NOT NULL UNIQUE,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    hub_id         TEXT,
    hub_key        BLOB,
    hub_proof      BLOB
);

CREATE TABLE hubs (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hub_key        BLOB NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    state          TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL
);

CREATE TABLE hub_challenges (
    challenge      BLOB PRIMARY KEY,
    hub_id         TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    expires_at_ms  INTEGER NOT NULL
);

CREATE TABLE hub_tokens (
    token_hash     BLOB PRIMARY KEY,
    hub_id         TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    expires_at_ms  INTEGER NOT NULL
);
CREATE INDEX hub_tokens_hub ON hub_tokens (hub_id);

CREATE TABLE cameras (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hub_id          TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    retention_days  INTEGER NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    UNIQUE (hub_id, name)
);
CREATE INDEX cameras_account ON cameras (account_id);

-- A clip row appears only after its payload blob is whole and durable.
CREATE TABLE clips (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    camera_id       TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    hub_id          TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    upload_key      TEXT NOT NULL,
    start_ms        INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    payload_size    INTEGER NOT NULL,
    payload_sha256  BLOB NOT NULL,
    header          BLOB NOT NULL,
    statement       BLOB NOT NULL,
    signature       BLOB NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    UNIQUE (hub_id, upload_key)
);
CREATE INDEX clips_camera_start ON clips (camera_id, start_ms, id);
CREATE INDEX clips_account_start ON clips (account_id, start_ms, id);
