//! Clips shared with another account.
//!
//! A share is its own age header: the clip's file key wrapped, on the owner's device, to the
//! devices of the sharee's verified chain. The store keeps it beside the clip and never in
//! the clip's header, so the owner's re-wraps (a device added or removed) leave shares alone,
//! and revoking a share is deleting its row. Every query that reaches a clip through a share
//! names who asks: the owner (by the clip's `account_id`) or the sharee.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::e2e::clip_view;
use crate::tlog::enqueue_log;
use crate::{ClipView, Result, Store};

/// One share of a clip with one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipShare {
    pub id: String,
    pub clip_id: String,
    pub sharee_account_id: String,
    /// The age header for the sharee's devices.
    pub header: Vec<u8>,
    pub created_at_ms: i64,
}

/// A share as its owner lists it: who it is with, by their chain's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareOfClip {
    pub id: String,
    pub sharee_root: Vec<u8>,
    pub created_at_ms: i64,
}

/// A clip shared with the caller: the share, the clip as the owner has it, and the root of
/// the owner's chain (which the sharee verifies the clip's hub under).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedClip {
    pub share_id: String,
    pub header: Vec<u8>,
    pub shared_at_ms: i64,
    pub owner_root: Vec<u8>,
    pub view: ClipView,
}

/// The clip columns `clip_view` reads, and the share's own.
const SHARED_COLUMNS: &str = "c.id, c.account_id, c.camera_id, c.hub_id, c.upload_key, \
     c.start_ms, c.duration_ms, c.payload_size, c.payload_sha256, c.header, c.statement, \
     c.signature, c.created_at_ms, cam.name AS camera_name, h.hub_key AS hub_key, \
     s.id AS share_id, s.header AS share_header, s.created_at_ms AS shared_at_ms, \
     r.root AS owner_root";

const SHARED_FROM: &str = "FROM clip_shares s JOIN clips c ON c.id = s.clip_id \
     JOIN cameras cam ON cam.id = c.camera_id JOIN hubs h ON h.id = c.hub_id \
     JOIN chain_roots r ON r.account_id = c.account_id";

fn shared_clip(row: &AnyRow) -> Result<SharedClip> {
    Ok(SharedClip {
        share_id: row.try_get("share_id")?,
        header: row.try_get("share_header")?,
        shared_at_ms: row.try_get("shared_at_ms")?,
        owner_root: row.try_get("owner_root")?,
        view: clip_view(row)?,
    })
}

impl Store {
    /// Shares a clip with an account, or replaces the header of the share it already has,
    /// and queues the log entry `log_body` of kind `log_kind` for the clip's owner, in one
    /// transaction. Returns the share's id (the existing one on a replace). The caller has
    /// checked that `owner_account_id` owns the clip; the store checks it again.
    pub async fn put_share(
        &self,
        owner_account_id: &str,
        share: &ClipShare,
        log_kind: &str,
        log_body: &[u8],
    ) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO clip_shares (id, clip_id, sharee_account_id, header, created_at_ms) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
             (SELECT 1 FROM clips WHERE id = $2 AND account_id = $6) \
             ON CONFLICT (clip_id, sharee_account_id) \
             DO UPDATE SET header = excluded.header, created_at_ms = excluded.created_at_ms",
        )
        .bind(&share.id)
        .bind(&share.clip_id)
        .bind(&share.sharee_account_id)
        .bind(&share.header)
        .bind(share.created_at_ms)
        .bind(owner_account_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let row =
            sqlx::query("SELECT id FROM clip_shares WHERE clip_id = $1 AND sharee_account_id = $2")
                .bind(&share.clip_id)
                .bind(&share.sharee_account_id)
                .fetch_one(&mut *tx)
                .await?;
        let id: String = row.try_get("id")?;
        enqueue_log(
            &mut tx,
            Some(owner_account_id),
            log_kind,
            log_body,
            share.created_at_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The shares of a clip `owner_account_id` owns, oldest first; empty for anyone else's.
    pub async fn shares_of_clip(
        &self,
        owner_account_id: &str,
        clip_id: &str,
    ) -> Result<Vec<ShareOfClip>> {
        let rows = sqlx::query(
            "SELECT s.id, s.created_at_ms, r.root FROM clip_shares s \
             JOIN clips c ON c.id = s.clip_id \
             JOIN chain_roots r ON r.account_id = s.sharee_account_id \
             WHERE s.clip_id = $1 AND c.account_id = $2 ORDER BY s.created_at_ms, s.id",
        )
        .bind(clip_id)
        .bind(owner_account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ShareOfClip {
                    id: r.try_get("id")?,
                    sharee_root: r.try_get("root")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect()
    }

    /// Revokes share `share_id` of a clip `owner_account_id` owns, queueing the log entry in
    /// the same transaction; false if there is no such share of such a clip.
    pub async fn delete_share(
        &self,
        owner_account_id: &str,
        clip_id: &str,
        share_id: &str,
        log_kind: &str,
        log_body: &[u8],
        at_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "DELETE FROM clip_shares WHERE id = $1 AND clip_id = $2 AND clip_id IN \
             (SELECT id FROM clips WHERE account_id = $3)",
        )
        .bind(share_id)
        .bind(clip_id)
        .bind(owner_account_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        enqueue_log(&mut tx, Some(owner_account_id), log_kind, log_body, at_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The clips shared with `sharee_account_id`, by start time.
    pub async fn clips_shared_with(&self, sharee_account_id: &str) -> Result<Vec<SharedClip>> {
        let sql = format!(
            "SELECT {SHARED_COLUMNS} {SHARED_FROM} WHERE s.sharee_account_id = $1 \
             ORDER BY c.start_ms, s.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sharee_account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(shared_clip).collect()
    }

    /// Share `share_id`, if it is shared with `sharee_account_id`.
    pub async fn shared_clip(
        &self,
        sharee_account_id: &str,
        share_id: &str,
    ) -> Result<Option<SharedClip>> {
        let sql = format!(
            "SELECT {SHARED_COLUMNS} {SHARED_FROM} WHERE s.sharee_account_id = $1 AND s.id = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sharee_account_id)
            .bind(share_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(shared_clip).transpose()
    }
}
