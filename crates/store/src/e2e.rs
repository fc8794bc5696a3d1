//! Rows and queries of the end-to-end part: device chains, devices, pairing, hubs and their
//! credentials, cameras and sealed clips.
//!
//! The store keeps what the server is given — signed links, public keys, ciphertext headers,
//! signed statements — and the states the server derives from a verified chain. It verifies
//! nothing itself: the server verifies a chain before it calls [`Store::append_links`], and
//! passes in what the verified chain says (which devices, hubs and members are current).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::tlog::enqueue_log;
use crate::{Result, Store, StoreError};

/// One stored link of a device chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLinkRow {
    pub seq: i64,
    pub link: Vec<u8>,
    pub hash: Vec<u8>,
}

/// What a verified chain says is current; the store makes device, hub and member rows agree.
#[derive(Debug, Clone, Default)]
pub struct ChainMembership {
    /// Hash of link 0.
    pub root: Vec<u8>,
    /// Ed25519 keys of the current devices (the recovery key is not a device row).
    pub device_sign_keys: Vec<Vec<u8>>,
    pub hub_keys: Vec<Vec<u8>>,
    pub member_roots: Vec<Vec<u8>>,
    /// `(member root, hub key, camera name)`: what each member was given.
    pub member_cameras: Vec<(Vec<u8>, Vec<u8>, String)>,
}

/// What an append changed beyond the links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Device rows that became active.
    pub activated_devices: Vec<String>,
    /// Device rows the chain removed; their sessions were ended in the same transaction.
    pub removed_devices: Vec<String>,
    /// Hub rows that became active / were removed (removed hubs lose their tokens).
    pub activated_hubs: Vec<String>,
    pub removed_hubs: Vec<String>,
}

pub const STATE_PENDING: &str = "pending";
pub const STATE_ACTIVE: &str = "active";
pub const STATE_REMOVED: &str = "removed";

/// A client device's public keys, bound to the client device id it registered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub account_id: String,
    pub device_hash: Vec<u8>,
    pub name: String,
    pub sign_key: Vec<u8>,
    pub age_key: Vec<u8>,
    /// [`STATE_PENDING`], [`STATE_ACTIVE`] or [`STATE_REMOVED`].
    pub state: String,
    pub created_at_ms: i64,
}

/// A one-time pairing code, by the verifier of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    pub id: String,
    pub verifier: Vec<u8>,
    pub account_id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    /// Set when a hub redeemed the code.
    pub hub_id: Option<String>,
    pub hub_key: Option<Vec<u8>>,
    pub hub_proof: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    pub id: String,
    pub account_id: String,
    pub hub_key: Vec<u8>,
    pub name: String,
    pub state: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Camera {
    pub id: String,
    pub account_id: String,
    pub hub_id: String,
    /// What the hub calls it and signs in every clip statement; never changes.
    pub name: String,
    /// The name the owner gave it in the apps, shown in place of `name`; `None`: the name.
    pub label: Option<String>,
    pub retention_days: i64,
    pub created_at_ms: i64,
}

/// A sealed clip: what the server knows of it, and the bytes it needs to hand out besides
/// the payload blob (stored under the clip's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    pub id: String,
    pub account_id: String,
    pub camera_id: String,
    pub hub_id: String,
    pub upload_key: String,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub payload_size: i64,
    pub payload_sha256: Vec<u8>,
    pub header: Vec<u8>,
    pub statement: Vec<u8>,
    pub signature: Vec<u8>,
    pub created_at_ms: i64,
}

/// A clip with the names a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipView {
    pub clip: Clip,
    pub camera_name: String,
    pub hub_key: Vec<u8>,
}

/// Which clips a listing wants. Times are the clip's start, `from_ms` inclusive and
/// `to_ms` exclusive; `after` is the (start, id) of the last clip of the previous page.
#[derive(Debug, Clone, Default)]
pub struct ClipQuery {
    pub camera_id: Option<String>,
    pub camera_name: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

/// True when `$1` may see the camera whose row is `cam` (with its hub row joined as `$hub`):
/// it owns the camera, or the owner's chain gave this camera to `$1`'s root as a household
/// member's (`household_cameras`, kept in line with the verified chain).
macro_rules! camera_visible_to_viewer {
    ($cam:literal, $hub:literal) => {
        concat!(
            "(",
            $cam,
            ".account_id = $1 OR EXISTS (SELECT 1 FROM household_cameras hc \
             JOIN chain_roots r ON r.root = hc.member_root \
             WHERE r.account_id = $1 AND hc.owner_account_id = ",
            $cam,
            ".account_id \
             AND hc.hub_key = ",
            $hub,
            ".hub_key AND hc.camera_name = ",
            $cam,
            ".name))"
        )
    };
}

macro_rules! clip_columns {
    () => {
        "c.id, c.account_id, c.camera_id, c.hub_id, c.upload_key, c.start_ms, c.duration_ms, \
         c.payload_size, c.payload_sha256, c.header, c.statement, c.signature, c.created_at_ms, \
         cam.name AS camera_name, h.hub_key AS hub_key"
    };
}

fn device(row: &AnyRow) -> Result<Device> {
    Ok(Device {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        device_hash: row.try_get("device_hash")?,
        name: row.try_get("name")?,
        sign_key: row.try_get("sign_key")?,
        age_key: row.try_get("age_key")?,
        state: row.try_get("state")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn pairing(row: &AnyRow) -> Result<Pairing> {
    Ok(Pairing {
        id: row.try_get("id")?,
        verifier: row.try_get("verifier")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        created_at_ms: row.try_get("created_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
        hub_id: row.try_get("hub_id")?,
        hub_key: row.try_get("hub_key")?,
        hub_proof: row.try_get("hub_proof")?,
    })
}

fn hub(row: &AnyRow) -> Result<Hub> {
    Ok(Hub {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        hub_key: row.try_get("hub_key")?,
        name: row.try_get("name")?,
        state: row.try_get("state")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn camera(row: &AnyRow) -> Result<Camera> {
    Ok(Camera {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        hub_id: row.try_get("hub_id")?,
        name: row.try_get("name")?,
        label: row.try_get("label")?,
        retention_days: row.try_get("retention_days")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

pub(crate) fn clip_view(row: &AnyRow) -> Result<ClipView> {
    Ok(ClipView {
        clip: Clip {
            id: row.try_get("id")?,
            account_id: row.try_get("account_id")?,
            camera_id: row.try_get("camera_id")?,
            hub_id: row.try_get("hub_id")?,
            upload_key: row.try_get("upload_key")?,
            start_ms: row.try_get("start_ms")?,
            duration_ms: row.try_get("duration_ms")?,
            payload_size: row.try_get("payload_size")?,
            payload_sha256: row.try_get("payload_sha256")?,
            header: row.try_get("header")?,
            statement: row.try_get("statement")?,
            signature: row.try_get("signature")?,
            created_at_ms: row.try_get("created_at_ms")?,
        },
        camera_name: row.try_get("camera_name")?,
        hub_key: row.try_get("hub_key")?,
    })
}

impl Store {
    // ---- device chains ----

    /// The account's chain, link 0 first.
    pub async fn chain_of(&self, account_id: &str) -> Result<Vec<ChainLinkRow>> {
        let rows = sqlx::query(
            "SELECT seq, link, hash FROM chain_links WHERE account_id = $1 ORDER BY seq",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ChainLinkRow {
                    seq: row.try_get("seq")?,
                    link: row.try_get("link")?,
                    hash: row.try_get("hash")?,
                })
            })
            .collect()
    }

    /// Appends verified links and brings device, hub and member rows in line with the chain
    /// they make, in one transaction. [`StoreError::Conflict`] if another append took one of
    /// the sequence numbers first (the caller verified against a chain that has moved on).
    pub async fn append_links(
        &self,
        account_id: &str,
        links: &[ChainLinkRow],
        membership: &ChainMembership,
        now_ms: i64,
    ) -> Result<AppendOutcome> {
        let mut tx = self.pool.begin().await?;
        for link in links {
            sqlx::query(
                "INSERT INTO chain_links (account_id, seq, link, hash, added_at_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(account_id)
            .bind(link.seq)
            .bind(&link.link)
            .bind(&link.hash)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if link.seq == 0 {
                sqlx::query("INSERT INTO chain_roots (account_id, root) VALUES ($1, $2)")
                    .bind(account_id)
                    .bind(&link.hash)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let mut outcome = AppendOutcome::default();

        let devices = sqlx::query(
            "SELECT id, device_hash, sign_key, state FROM devices WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_all(&mut *tx)
        .await?;
        for row in &devices {
            let id: String = row.try_get("id")?;
            let key: Vec<u8> = row.try_get("sign_key")?;
            let state: String = row.try_get("state")?;
            let in_chain = membership.device_sign_keys.contains(&key);
            let next = match (state.as_str(), in_chain) {
                (STATE_PENDING, true) => STATE_ACTIVE,
                (STATE_ACTIVE, false) => STATE_REMOVED,
                _ => continue,
            };
            sqlx::query("UPDATE devices SET state = $1 WHERE id = $2")
                .bind(next)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            if next == STATE_REMOVED {
                let device_hash: Vec<u8> = row.try_get("device_hash")?;
                sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND device_hash = $2")
                    .bind(account_id)
                    .bind(&device_hash)
                    .execute(&mut *tx)
                    .await?;
                outcome.removed_devices.push(id);
            } else {
                outcome.activated_devices.push(id);
            }
        }

        let hubs = sqlx::query("SELECT id, hub_key, state FROM hubs WHERE account_id = $1")
            .bind(account_id)
            .fetch_all(&mut *tx)
            .await?;
        for row in &hubs {
            let id: String = row.try_get("id")?;
            let key: Vec<u8> = row.try_get("hub_key")?;
            let state: String = row.try_get("state")?;
            let in_chain = membership.hub_keys.contains(&key);
            let next = match (state.as_str(), in_chain) {
                (STATE_PENDING, true) => STATE_ACTIVE,
                (STATE_ACTIVE, false) => STATE_REMOVED,
                _ => continue,
            };
            sqlx::query("UPDATE hubs SET state = $1 WHERE id = $2")
                .bind(next)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            if next == STATE_REMOVED {
                sqlx::query("DELETE FROM hub_tokens WHERE hub_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                outcome.removed_hubs.push(id);
            } else {
                outcome.activated_hubs.push(id);
            }
        }

        sqlx::query("DELETE FROM household_members WHERE owner_account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        for root in &membership.member_roots {
            sqlx::query(
                "INSERT INTO household_members (owner_account_id, member_root) VALUES ($1, $2)",
            )
            .bind(account_id)
            .bind(root)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM household_cameras WHERE owner_account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        for (root, hub_key, camera) in &membership.member_cameras {
            sqlx::query(
                "INSERT INTO household_cameras (owner_account_id, member_root, hub_key, camera_name) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(account_id)
            .bind(root)
            .bind(hub_key)
            .bind(camera)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// The account whose chain starts with `root`.
    pub async fn account_by_root(&self, root: &[u8]) -> Result<Option<String>> {
        let row = sqlx::query("SELECT account_id FROM chain_roots WHERE root = $1")
            .bind(root)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("account_id")).transpose()?)
    }

    /// `(root, account)` of each household member of `owner_account_id` that has an account
    /// here (a member root nobody signed up with yet names nobody).
    pub async fn household_members_of(
        &self,
        owner_account_id: &str,
    ) -> Result<Vec<(Vec<u8>, String)>> {
        let rows = sqlx::query(
            "SELECT hm.member_root AS root, r.account_id AS account_id FROM household_members hm \
             JOIN chain_roots r ON r.root = hm.member_root \
             WHERE hm.owner_account_id = $1 ORDER BY hm.member_root",
        )
        .bind(owner_account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("root")?, r.try_get("account_id")?)))
            .collect()
    }

    /// `(root, account)` of each account whose chain names `member_account_id`'s root as a
    /// household member.
    pub async fn households_of(&self, member_account_id: &str) -> Result<Vec<(Vec<u8>, String)>> {
        let rows = sqlx::query(
            "SELECT owner_root.root AS root, hm.owner_account_id AS account_id \
             FROM household_members hm \
             JOIN chain_roots mine ON mine.root = hm.member_root \
             JOIN chain_roots owner_root ON owner_root.account_id = hm.owner_account_id \
             WHERE mine.account_id = $1 ORDER BY owner_root.root",
        )
        .bind(member_account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("root")?, r.try_get("account_id")?)))
            .collect()
    }

    // ---- devices ----

    /// [`StoreError::Conflict`] if this client device, or this signing key, is registered
    /// with the account already.
    pub async fn register_device(&self, d: &Device) -> Result<()> {
        sqlx::query(
            "INSERT INTO devices (id, account_id, device_hash, name, sign_key, age_key, state, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&d.id)
        .bind(&d.account_id)
        .bind(&d.device_hash)
        .bind(&d.name)
        .bind(&d.sign_key)
        .bind(&d.age_key)
        .bind(&d.state)
        .bind(d.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn devices_of(&self, account_id: &str) -> Result<Vec<Device>> {
        let rows = sqlx::query(
            "SELECT id, account_id, device_hash, name, sign_key, age_key, state, created_at_ms \
             FROM devices WHERE account_id = $1 ORDER BY created_at_ms, id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device).collect()
    }

    /// The device a client device id registered with this account.
    pub async fn device_by_hash(
        &self,
        account_id: &str,
        device_hash: &[u8],
    ) -> Result<Option<Device>> {
        let row = sqlx::query(
            "SELECT id, account_id, device_hash, name, sign_key, age_key, state, created_at_ms \
             FROM devices WHERE account_id = $1 AND device_hash = $2",
        )
        .bind(account_id)
        .bind(device_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(device).transpose()
    }

    // ---- pairing and hubs ----

    pub async fn create_pairing(&self, p: &Pairing) -> Result<()> {
        sqlx::query(
            "INSERT INTO pairings (id, verifier, account_id, name, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&p.id)
        .bind(&p.verifier)
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(p.created_at_ms)
        .bind(p.expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn pairing_of(&self, account_id: &str, id: &str) -> Result<Option<Pairing>> {
        let row = sqlx::query(
            "SELECT id, verifier, account_id, name, created_at_ms, expires_at_ms, hub_id, hub_key, hub_proof \
             FROM pairings WHERE account_id = $1 AND id = $2",
        )
        .bind(account_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(pairing).transpose()
    }

    /// Uses the pairing code with this verifier, if it is unused and unexpired, and creates
    /// the pending hub it names — atomically, so a code pairs at most one hub however many
    /// redeem it at once. [`StoreError::NotFound`] if the code is unknown, used or expired;
    /// [`StoreError::Conflict`] if the hub key is paired already.
    pub async fn redeem_pairing(
        &self,
        verifier: &[u8],
        hub_id: &str,
        hub_key: &[u8],
        proof: &[u8],
        now_ms: i64,
    ) -> Result<Hub> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE pairings SET hub_id = $1, hub_key = $2, hub_proof = $3 \
             WHERE verifier = $4 AND hub_id IS NULL AND expires_at_ms > $5 \
             RETURNING account_id, name",
        )
        .bind(hub_id)
        .bind(hub_key)
        .bind(proof)
        .bind(verifier)
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let hub = Hub {
            id: hub_id.to_owned(),
            account_id: row.try_get("account_id")?,
            hub_key: hub_key.to_vec(),
            name: row.try_get("name")?,
            state: STATE_PENDING.to_owned(),
            created_at_ms: now_ms,
        };
        sqlx::query(
            "INSERT INTO hubs (id, account_id, hub_key, name, state, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&hub.id)
        .bind(&hub.account_id)
        .bind(&hub.hub_key)
        .bind(&hub.name)
        .bind(&hub.state)
        .bind(hub.created_at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(hub)
    }

    /// Removes pairing codes that expired unused before `now_ms`.
    pub async fn prune_pairings(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pairings WHERE expires_at_ms <= $1 AND hub_id IS NULL")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn hub_by_key(&self, hub_key: &[u8]) -> Result<Option<Hub>> {
        let row = sqlx::query(
            "SELECT id, account_id, hub_key, name, state, created_at_ms FROM hubs WHERE hub_key = $1",
        )
        .bind(hub_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(hub).transpose()
    }

    pub async fn hubs_of(&self, account_id: &str) -> Result<Vec<Hub>> {
        let rows = sqlx::query(
            "SELECT id, account_id, hub_key, name, state, created_at_ms FROM hubs \
             WHERE account_id = $1 ORDER BY created_at_ms, id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hub).collect()
    }

    pub async fn insert_hub_challenge(
        &self,
        challenge: &[u8],
        hub_id: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO hub_challenges (challenge, hub_id, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(challenge)
        .bind(hub_id)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Uses a challenge: true once if it was issued to this hub and is unexpired.
    pub async fn take_hub_challenge(
        &self,
        challenge: &[u8],
        hub_id: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM hub_challenges WHERE challenge = $1 AND hub_id = $2 AND expires_at_ms > $3",
        )
        .bind(challenge)
        .bind(hub_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn insert_hub_token(
        &self,
        token_hash: &[u8],
        hub_id: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO hub_tokens (token_hash, hub_id, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(hub_id)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The active hub holding this unexpired token.
    pub async fn hub_by_token(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<Hub>> {
        let row = sqlx::query(
            "SELECT h.id, h.account_id, h.hub_key, h.name, h.state, h.created_at_ms \
             FROM hub_tokens t JOIN hubs h ON h.id = t.hub_id \
             WHERE t.token_hash = $1 AND t.expires_at_ms > $2 AND h.state = $3",
        )
        .bind(token_hash)
        .bind(now_ms)
        .bind(STATE_ACTIVE)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(hub).transpose()
    }

    /// Removes expired hub challenges and tokens.
    pub async fn prune_hub_credentials(&self, now_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM hub_challenges WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM hub_tokens WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- cameras ----

    /// The hub's camera with this name, made on first use with `new_id` and
    /// `retention_days`.
    pub async fn camera_for_upload(
        &self,
        hub: &Hub,
        name: &str,
        new_id: &str,
        retention_days: i64,
        now_ms: i64,
    ) -> Result<Camera> {
        sqlx::query(
            "INSERT INTO cameras (id, account_id, hub_id, name, retention_days, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hub_id, name) DO NOTHING",
        )
        .bind(new_id)
        .bind(&hub.account_id)
        .bind(&hub.id)
        .bind(name)
        .bind(retention_days)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "SELECT id, account_id, hub_id, name, label, retention_days, created_at_ms FROM cameras \
             WHERE hub_id = $1 AND name = $2",
        )
        .bind(&hub.id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        camera(&row)
    }

    /// Cameras `viewer` may see: its own and its households'.
    pub async fn cameras_visible_to(&self, viewer: &str) -> Result<Vec<Camera>> {
        let sql = concat!(
            "SELECT cam.id, cam.account_id, cam.hub_id, cam.name, cam.label, cam.retention_days, \
             cam.created_at_ms FROM cameras cam JOIN hubs h ON h.id = cam.hub_id WHERE ",
            camera_visible_to_viewer!("cam", "h"),
            " ORDER BY cam.name, cam.id"
        );
        let rows = sqlx::query(sql).bind(viewer).fetch_all(&self.pool).await?;
        rows.iter().map(camera).collect()
    }

    /// Sets an owned camera's retention and label (`None`: show its name); false if the
    /// account owns no such camera. The name, which its hub signs, is never changed.
    pub async fn set_camera_settings(
        &self,
        account_id: &str,
        camera_id: &str,
        retention_days: i64,
        label: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE cameras SET retention_days = $1, label = $2 WHERE id = $3 AND account_id = $4",
        )
        .bind(retention_days)
        .bind(label)
        .bind(camera_id)
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- clips ----

    /// Records a clip whose payload blob is already durable. [`StoreError::Conflict`] if the
    /// hub used this upload key before.
    pub async fn insert_clip(&self, c: &Clip) -> Result<()> {
        sqlx::query(
            "INSERT INTO clips (id, account_id, camera_id, hub_id, upload_key, start_ms, duration_ms, \
             payload_size, payload_sha256, header, statement, signature, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&c.id)
        .bind(&c.account_id)
        .bind(&c.camera_id)
        .bind(&c.hub_id)
        .bind(&c.upload_key)
        .bind(c.start_ms)
        .bind(c.duration_ms)
        .bind(c.payload_size)
        .bind(&c.payload_sha256)
        .bind(&c.header)
        .bind(&c.statement)
        .bind(&c.signature)
        .bind(c.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The clip a hub uploaded under this key, if any.
    pub async fn clip_by_upload_key(
        &self,
        hub_id: &str,
        upload_key: &str,
    ) -> Result<Option<ClipView>> {
        let sql = concat!(
            "SELECT ",
            clip_columns!(),
            " FROM clips c JOIN cameras cam ON cam.id = c.camera_id JOIN hubs h ON h.id = c.hub_id \
             WHERE c.hub_id = $1 AND c.upload_key = $2"
        );
        let row = sqlx::query(sql)
            .bind(hub_id)
            .bind(upload_key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(clip_view).transpose()
    }

    /// A clip `viewer` may see (its own or its households'), or `None`.
    pub async fn clip_visible_to(&self, viewer: &str, clip_id: &str) -> Result<Option<ClipView>> {
        let sql = concat!(
            "SELECT ",
            clip_columns!(),
            " FROM clips c JOIN cameras cam ON cam.id = c.camera_id JOIN hubs h ON h.id = c.hub_id \
             WHERE c.id = $2 AND ",
            camera_visible_to_viewer!("cam", "h")
        );
        let row = sqlx::query(sql)
            .bind(viewer)
            .bind(clip_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(clip_view).transpose()
    }

    /// A page of the clips `viewer` may see, oldest first.
    pub async fn clips_visible_to(&self, viewer: &str, q: &ClipQuery) -> Result<Vec<ClipView>> {
        let (after_start, after_id) = q.after.clone().unwrap_or((i64::MIN, String::new()));
        let sql = concat!(
            "SELECT ",
            clip_columns!(),
            " FROM clips c JOIN cameras cam ON cam.id = c.camera_id JOIN hubs h ON h.id = c.hub_id WHERE ",
            camera_visible_to_viewer!("cam", "h"),
            " AND ($2 = '' OR c.camera_id = $2) AND ($3 = '' OR cam.name = $3) \
             AND c.start_ms >= $4 AND c.start_ms < $5 \
             AND (c.start_ms > $6 OR (c.start_ms = $6 AND c.id > $7)) \
             ORDER BY c.start_ms, c.id LIMIT $8"
        );
        let rows = sqlx::query(sql)
            .bind(viewer)
            .bind(q.camera_id.clone().unwrap_or_default())
            .bind(q.camera_name.clone().unwrap_or_default())
            .bind(q.from_ms.unwrap_or(i64::MIN))
            .bind(q.to_ms.unwrap_or(i64::MAX))
            .bind(after_start)
            .bind(after_id)
            .bind(q.limit.max(0))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(clip_view).collect()
    }

    /// Replaces an owned clip's header if it is still `previous` (compare-and-swap, so two
    /// devices re-wrapping at once cannot drop each other's stanzas). [`StoreError::NotFound`]
    /// if the account owns no such clip, [`StoreError::Conflict`] if the header changed.
    pub async fn replace_clip_header(
        &self,
        account_id: &str,
        clip_id: &str,
        previous: &[u8],
        header: &[u8],
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE clips SET header = $1 WHERE id = $2 AND account_id = $3 AND header = $4",
        )
        .bind(header)
        .bind(clip_id)
        .bind(account_id)
        .bind(previous)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let exists = sqlx::query("SELECT id FROM clips WHERE id = $1 AND account_id = $2")
            .bind(clip_id)
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        Err(if exists.is_some() {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        })
    }

    /// Deletes an owned clip's row (its shares go with it), queueing the log entry in the
    /// same transaction; the caller deletes its blob. False if there was none.
    pub async fn delete_clip(
        &self,
        account_id: &str,
        clip_id: &str,
        log_kind: &str,
        log_body: &[u8],
        at_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM clips WHERE id = $1 AND account_id = $2")
            .bind(clip_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        enqueue_log(&mut tx, Some(account_id), log_kind, log_body, at_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ids of clips older than their camera's retention at `now_ms`, at most `limit`.
    pub async fn expired_clips(&self, now_ms: i64, limit: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT c.id FROM clips c JOIN cameras cam ON cam.id = c.camera_id \
             WHERE c.start_ms + c.duration_ms < $1 - cam.retention_days * 86400000 \
             ORDER BY c.start_ms LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// Deletes a clip's row whoever owns it (retention); false if it was gone.
    pub async fn delete_expired_clip(&self, clip_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM clips WHERE id = $1")
            .bind(clip_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
