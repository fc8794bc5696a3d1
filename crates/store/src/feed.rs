//! The neighbourhood feed: public posts, each a plaintext video its owner published, listed by
//! neighbourhood, grid cell and hour.
//!
//! A post row names its owner (so the owner can list and delete it) and the clip it came from
//! (so a clip is posted at most once); the listing the public sees is built by the server from
//! [`FeedPost`] without either. The video is a blob the caller stores before the row is
//! inserted, so a listed post always has its whole video.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::tlog::enqueue_log;
use crate::{Result, Store};

/// One feed post, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPost {
    /// Random, 128-bit hex.
    pub id: String,
    pub account_id: String,
    /// `None` once the source clip is deleted (the post, already public, stays until unposted).
    pub clip_id: Option<String>,
    pub neighbourhood: String,
    /// Canonical `LAT,LON` of a 0.01° grid cell.
    pub area: String,
    /// The clip's start, rounded down to the UTC hour.
    pub hour_ms: i64,
    pub size_bytes: i64,
    pub created_at_ms: i64,
}

/// Which page of the feed to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    pub neighbourhood: String,
    /// The whole neighbourhood when `None`.
    pub area: Option<String>,
    /// Only posts after `(hour_ms, id)` in listing order (newest hour first, then by id).
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

const COLUMNS: &str =
    "id, account_id, clip_id, neighbourhood, area, hour_ms, size_bytes, created_at_ms";

fn post(row: &AnyRow) -> Result<FeedPost> {
    Ok(FeedPost {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        clip_id: row.try_get("clip_id")?,
        neighbourhood: row.try_get("neighbourhood")?,
        area: row.try_get("area")?,
        hour_ms: row.try_get("hour_ms")?,
        size_bytes: row.try_get("size_bytes")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl Store {
    /// Inserts a post and queues the owner's log entry `log_body` of kind `log_kind`, in one
    /// transaction. [`crate::StoreError::Conflict`] if the clip is already posted.
    pub async fn insert_feed_post(
        &self,
        p: &FeedPost,
        log_kind: &str,
        log_body: &[u8],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO feed_posts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(&p.id)
        .bind(&p.account_id)
        .bind(&p.clip_id)
        .bind(&p.neighbourhood)
        .bind(&p.area)
        .bind(p.hour_ms)
        .bind(p.size_bytes)
        .bind(p.created_at_ms)
        .execute(&mut *tx)
        .await?;
        enqueue_log(
            &mut tx,
            Some(&p.account_id),
            log_kind,
            log_body,
            p.created_at_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn feed_post(&self, id: &str) -> Result<Option<FeedPost>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM feed_posts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(post).transpose()
    }

    /// Whether the account has any post (which lets its client add research items).
    pub async fn has_feed_posts(&self, account_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT id FROM feed_posts WHERE account_id = $1 LIMIT 1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// A page of a neighbourhood's posts: newest hour first, then by id.
    pub async fn feed_page(&self, q: &FeedQuery) -> Result<Vec<FeedPost>> {
        let mut sql = format!("SELECT {COLUMNS} FROM feed_posts WHERE neighbourhood = $1");
        let mut n = 1;
        if q.area.is_some() {
            n += 1;
            sql.push_str(&format!(" AND area = ${n}"));
        }
        if q.after.is_some() {
            sql.push_str(&format!(
                " AND (hour_ms < ${} OR (hour_ms = ${} AND id > ${}))",
                n + 1,
                n + 1,
                n + 2
            ));
            n += 2;
        }
        sql.push_str(&format!(" ORDER BY hour_ms DESC, id LIMIT ${}", n + 1));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&q.neighbourhood);
        if let Some(area) = &q.area {
            query = query.bind(area);
        }
        if let Some((hour_ms, id)) = &q.after {
            query = query.bind(*hour_ms).bind(id);
        }
        let rows = query.bind(q.limit).fetch_all(&self.pool).await?;
        rows.iter().map(post).collect()
    }

    /// The account's own posts, newest first.
    pub async fn feed_posts_of(&self, account_id: &str) -> Result<Vec<FeedPost>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM feed_posts WHERE account_id = $1 \
             ORDER BY created_at_ms DESC, id"
        )))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(post).collect()
    }

    /// Deletes the account's post and queues the owner's log entry, in one transaction;
    /// `None` if the account has no such post.
    pub async fn delete_feed_post(
        &self,
        account_id: &str,
        id: &str,
        log_kind: &str,
        log_body: &[u8],
        now_ms: i64,
    ) -> Result<Option<FeedPost>> {
        let Some(found) = self.feed_post(id).await? else {
            return Ok(None);
        };
        if found.account_id != account_id {
            return Ok(None);
        }
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM feed_posts WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        enqueue_log(&mut tx, Some(account_id), log_kind, log_body, now_ms).await?;
        tx.commit().await?;
        Ok(Some(found))
    }
}
