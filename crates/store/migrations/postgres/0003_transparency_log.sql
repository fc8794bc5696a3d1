-- The transparency log. Entries wait in a queue (written in the same transaction as the event
-- they record); a batched appender numbers them, stores each one's leaf and the perfect-subtree
-- hashes it completes, and signs a checkpoint, all in one transaction.
-- The public part is log_nodes and log_checkpoints: leaves are salted commitments. Entry bodies
-- and salts are served only to the account they belong to.

CREATE TABLE log_queue (
    id             BIGSERIAL PRIMARY KEY,
    account_id     TEXT,
    kind           TEXT NOT NULL,
    body           BYTEA NOT NULL,
    salt           BYTEA NOT NULL,
    created_at_ms  BIGINT NOT NULL
);

CREATE TABLE log_entries (
    idx            BIGINT PRIMARY KEY,
    account_id     TEXT,
    kind           TEXT NOT NULL,
    body           BYTEA NOT NULL,
    salt           BYTEA NOT NULL,
    leaf_hash      BYTEA NOT NULL,
    created_at_ms  BIGINT NOT NULL
);
CREATE INDEX log_entries_account ON log_entries (account_id, idx);

-- Perfect subtrees by (level, index); level 0 holds the leaf hashes.
CREATE TABLE log_nodes (
    level  BIGINT NOT NULL,
    idx    BIGINT NOT NULL,
    hash   BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE log_checkpoints (
    size           BIGINT PRIMARY KEY,
    note           TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL
);

-- The tree's size: appends are a compare-and-swap on it, so two nodes never number twice.
CREATE TABLE log_state (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    size  BIGINT NOT NULL
);
INSERT INTO log_state (id, size) VALUES (1, 0);
