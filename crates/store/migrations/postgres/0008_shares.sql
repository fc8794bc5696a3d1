-- Clips shared with another account: one age header per share, the clip's file key wrapped to
-- the devices of the sharee's verified chain when the owner shared it. The clip's own header
-- never carries a sharee's keys, so the owner's re-wraps leave shares alone and revoking is
-- deleting the row.
CREATE TABLE clip_shares (
    id                 TEXT PRIMARY KEY,
    clip_id            TEXT NOT NULL REFERENCES clips (id) ON DELETE CASCADE,
    sharee_account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    header             BYTEA NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    UNIQUE (clip_id, sharee_account_id)
);
CREATE INDEX clip_shares_sharee ON clip_shares (sharee_account_id, created_at_ms);
