-- Device chains, devices, hubs and pairing, cameras and sealed clips.
-- The server stores public keys, signed links and ciphertext only.

-- Each account's device chain: signed links, verified by the server before they are stored
-- (and again by every hub and client that reads them).
CREATE TABLE chain_links (
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    link         BYTEA NOT NULL,
    hash         BYTEA NOT NULL,
    added_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (account_id, seq)
);

-- Link 0's hash per account: how another account's chain names this one as a member.
CREATE TABLE chain_roots (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    root        BYTEA NOT NULL UNIQUE
);

-- Household members named by the current verified chain (derived, rewritten per append).
CREATE TABLE household_members (
    owner_account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    member_root       BYTEA NOT NULL,
    PRIMARY KEY (owner_account_id, member_root)
);
CREATE INDEX household_members_root ON household_members (member_root);

-- Client devices: public keys a signed-in device announced, bound to that client's device
-- id (as sessions are). Active only while the verified chain names the signing key.
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    device_hash    BYTEA NOT NULL,
    name           TEXT NOT NULL,
    sign_key       BYTEA NOT NULL,
    age_key        BYTEA NOT NULL,
    state          TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    UNIQUE (account_id, device_hash),
    UNIQUE (account_id, sign_key)
);

-- One-time pairing codes: only the verifier of the secret is kept.
CREATE TABLE pairings (
    id             TEXT PRIMARY KEY,
    verifier       BYTEA NOT NULL UNIQUE,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL,
    hub_id         TEXT,
    hub_key        BYTEA,
    hub_proof      BYTEA
);

CREATE TABLE hubs (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hub_key        BYTEA NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    state          TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL
);

CREATE TABLE hub_challenges (
    challenge      BYTEA PRIMARY KEY,
    hub_id         TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    expires_at_ms  BIGINT NOT NULL
);

CREATE TABLE hub_tokens (
    token_hash     BYTEA PRIMARY KEY,
    hub_id         TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    expires_at_ms  BIGINT NOT NULL
);
CREATE INDEX hub_tokens_hub ON hub_tokens (hub_id);

CREATE TABLE cameras (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    hub_id          TEXT NOT NULL REFERENCES hubs (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    retention_days  BIGINT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
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
    start_ms        BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    payload_size    BIGINT NOT NULL,
    payload_sha256  BYTEA NOT NULL,
    header          BYTEA NOT NULL,
    statement       BYTEA NOT NULL,
    signature       BYTEA NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    UNIQUE (hub_id, upload_key)
);
CREATE INDEX clips_camera_start ON clips (camera_id, start_ms, id);
CREATE INDEX clips_account_start ON clips (account_id, start_ms, id);
