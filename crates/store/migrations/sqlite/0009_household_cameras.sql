-- The cameras each household member was given (the chain's MemberCameras links): a member's
-- devices see exactly these cameras' clips and live views, kept in line with the verified chain
-- in the transaction that stores each link.
CREATE TABLE household_cameras (
    owner_account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    member_root       BLOB NOT NULL,
    hub_key           BLOB NOT NULL,
    camera_name       TEXT NOT NULL,
    PRIMARY KEY (owner_account_id, member_root, hub_key, camera_name)
);
CREATE INDEX household_cameras_member ON household_cameras (member_root);
