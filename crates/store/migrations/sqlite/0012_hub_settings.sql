-- The latest hub settings an owner's device signed for each hub (porchlight_crypto's
-- hub_settings statement: cameras on or off, motion sensitivity, pre- and post-roll). The
-- server keeps and passes on the signed bytes; the hub applies them only if a device of its
-- verified chain signed them and their counter is above the one it applies. The applied_* and
-- refused_* columns are what the hub last reported, shown to the owner's apps.
CREATE TABLE hub_settings (
    hub_id            TEXT PRIMARY KEY REFERENCES hubs (id) ON DELETE CASCADE,
    statement         BLOB NOT NULL,
    counter           INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    applied_counter   INTEGER,
    refused_counter   INTEGER,
    refused_code      TEXT,
    refused_message   TEXT,
    reported_at_ms    INTEGER
);
