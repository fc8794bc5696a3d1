//! Rows of the transparency log: the queue of entries waiting to be appended, the numbered
//! entries (private to their account), the perfect-subtree hashes and the signed checkpoints
//! (public).
//!
//! The store does no Merkle hashing: the server's appender computes leaves, subtree hashes and
//! the checkpoint (with `porchlight-tlog`) and hands them to [`Store::append_log_batch`], which
//! stores them in one transaction guarded by a compare-and-swap on the tree size.

use rand::RngCore;
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{Connection, Executor, Row};

use crate::{Activity, Backend, Result, Store, StoreError};

/// Rows per multi-row statement: well under both backends' parameter limits.
const ROWS_PER_STATEMENT: usize = 200;

/// `($1, $2, …), ($k+1, …), …` for `rows` rows of `columns` values.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bytes of an entry's salt.
pub const LOG_SALT_LEN: usize = 32;

/// An entry waiting for the appender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedLogEntry {
    pub id: i64,
    pub account_id: Option<String>,
    pub kind: String,
    pub body: Vec<u8>,
    pub salt: Vec<u8>,
    pub created_at_ms: i64,
}

/// An entry in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntryRow {
    pub index: i64,
    pub account_id: Option<String>,
    pub kind: String,
    pub body: Vec<u8>,
    pub salt: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub created_at_ms: i64,
}

/// One appended entry: the queue row it came from, its index and leaf hash.
#[derive(Debug, Clone)]
pub struct AppendedEntry {
    pub entry: QueuedLogEntry,
    pub index: i64,
    pub leaf_hash: Vec<u8>,
}

/// What an append stores besides the entries.
#[derive(Debug, Clone)]
pub struct LogBatch {
    /// The tree size the batch was computed against.
    pub old_size: i64,
    pub entries: Vec<AppendedEntry>,
    /// Every perfect subtree the entries complete: `(level, index, hash)`.
    pub nodes: Vec<(u8, i64, Vec<u8>)>,
    /// The signed checkpoint for `old_size + entries.len()`.
    pub checkpoint_note: String,
}

/// The body of an activity entry in the log: what happened, when, from which device. The
/// field order is the byte order, so the bytes are the same wherever they are made.
#[derive(Serialize)]
struct ActivityBody<'a> {
    kind: &'a str,
    at_ms: i64,
    device: &'a str,
    source: &'a str,
    detail: &'a str,
}

fn queued(row: &AnyRow) -> Result<QueuedLogEntry> {
    Ok(QueuedLogEntry {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        salt: row.try_get("salt")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn entry_row(row: &AnyRow) -> Result<LogEntryRow> {
    Ok(LogEntryRow {
        index: row.try_get("idx")?,
        account_id: row.try_get("account_id")?,
        kind: row.try_get("kind")?,
        body: row.try_get("body")?,
        salt: row.try_get("salt")?,
        leaf_hash: row.try_get("leaf_hash")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn fresh_salt() -> [u8; LOG_SALT_LEN] {
    let mut salt = [0u8; LOG_SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    salt
}

/// Queues `body` for the log, on the caller's connection (so inside its transaction).
pub(crate) async fn enqueue_log(
    conn: &mut sqlx::AnyConnection,
    account_id: Option<&str>,
    kind: &str,
    body: &[u8],
    created_at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO log_queue (account_id, kind, body, salt, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(account_id)
    .bind(kind)
    .bind(body)
    .bind(fresh_salt().to_vec())
    .bind(created_at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Queues an activity entry for the log (same connection, same transaction).
pub(crate) async fn enqueue_activity(
    conn: &mut sqlx::AnyConnection,
    entry: &Activity,
) -> Result<()> {
    let body = serde_json::to_vec(&ActivityBody {
        kind: &entry.kind,
        at_ms: entry.at_ms,
        device: &entry.device_name,
        source: &entry.source_addr,
        detail: &entry.detail,
    })
    .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
    enqueue_log(
        conn,
        Some(&entry.account_id),
        &entry.kind,
        &body,
        entry.at_ms,
    )
    .await
}

impl Store {
    /// Queues an entry for the log outside any other change (e.g. a chain head).
    pub async fn enqueue_log_entry(
        &self,
        account_id: Option<&str>,
        kind: &str,
        body: &[u8],
        created_at_ms: i64,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        enqueue_log(&mut conn, account_id, kind, body, created_at_ms).await
    }

    /// The number of leaves in the tree.
    pub async fn log_size(&self) -> Result<i64> {
        let row = sqlx::query("SELECT size FROM log_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("size")?)
    }

    /// The oldest `limit` queued entries, in queue order.
    pub async fn queued_log_entries(&self, limit: i64) -> Result<Vec<QueuedLogEntry>> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, body, salt, created_at_ms FROM log_queue \
             ORDER BY id LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queued).collect()
    }

    /// The stored hashes of these perfect subtrees `(level, index)`, in order; `None` for one
    /// that is not stored.
    pub async fn log_hashes(&self, subtrees: &[(u8, i64)]) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(subtrees.len());
        // One query per 64 subtrees: a proof needs at most ~128.
        for chunk in subtrees.chunks(64) {
            let mut sql = String::from("SELECT level, idx, hash FROM log_nodes WHERE ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(" OR ");
                }
                sql.push_str(&format!(
                    "(level = ${} AND idx = ${})",
                    2 * i + 1,
                    2 * i + 2
                ));
            }
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (level, index) in chunk {
                query = query.bind(i64::from(*level)).bind(*index);
            }
            let rows = query.fetch_all(&self.pool).await?;
            let mut found = std::collections::HashMap::with_capacity(rows.len());
            for row in &rows {
                let level: i64 = row.try_get("level")?;
                let index: i64 = row.try_get("idx")?;
                let hash: Vec<u8> = row.try_get("hash")?;
                found.insert((level, index), hash);
            }
            out.extend(
                chunk
                    .iter()
                    .map(|(level, index)| found.get(&(i64::from(*level), *index)).cloned()),
            );
        }
        Ok(out)
    }

    /// Stores a computed batch: the entries (out of the queue), their subtree hashes and the
    /// checkpoint, in one transaction. [`StoreError::Conflict`] if the tree is no longer
    /// `batch.old_size` (another appender got there first; nothing is stored).
    pub async fn append_log_batch(&self, batch: &LogBatch, now_ms: i64) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        // A signed checkpoint may be served the moment this commits, so the commit must
        // survive a power cut: the pool's SQLite connections sync at WAL checkpoints only
        // (`synchronous = NORMAL`), which could roll back a served tree and make the log sign
        // a fork at the same size. FULL syncs the WAL on this commit; PostgreSQL always does.
        let sqlite = self.backend == Backend::Sqlite;
        if sqlite {
            conn.execute("PRAGMA synchronous = FULL").await?;
        }
        let result = self.append_log_batch_on(&mut conn, batch, now_ms).await;
        if sqlite {
            conn.execute("PRAGMA synchronous = NORMAL").await?;
        }
        result
    }

    async fn append_log_batch_on(
        &self,
        conn: &mut AnyConnection,
        batch: &LogBatch,
        now_ms: i64,
    ) -> Result<()> {
        let new_size = batch.old_size + batch.entries.len() as i64;
        let mut tx = conn.begin().await?;
        let moved = sqlx::query("UPDATE log_state SET size = $1 WHERE id = 1 AND size = $2")
            .bind(new_size)
            .bind(batch.old_size)
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        // Multi-row statements: one statement per row made a batch thousands of round trips
        // to the database, and on SQLite held its only write lock for most of a second.
        for chunk in batch.entries.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO log_entries (idx, account_id, kind, body, salt, leaf_hash, created_at_ms) VALUES {}",
                placeholders(chunk.len(), 7)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for appended in chunk {
                let e = &appended.entry;
                query = query
                    .bind(appended.index)
                    .bind(&e.account_id)
                    .bind(&e.kind)
                    .bind(&e.body)
                    .bind(&e.salt)
                    .bind(&appended.leaf_hash)
                    .bind(e.created_at_ms);
            }
            query.execute(&mut *tx).await?;
            // By exact ids (queue ids can commit out of order on PostgreSQL, so a range could
            // take an entry this batch never read).
            let sql = format!(
                "DELETE FROM log_queue WHERE id IN ({})",
                (1..=chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for appended in chunk {
                query = query.bind(appended.entry.id);
            }
            let taken = query.execute(&mut *tx).await?;
            if taken.rows_affected() != chunk.len() as u64 {
                return Err(StoreError::Conflict);
            }
        }
        for chunk in batch.nodes.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO log_nodes (level, idx, hash) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (level, index, hash) in chunk {
                query = query.bind(i64::from(*level)).bind(*index).bind(hash);
            }
            query.execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO log_checkpoints (size, note, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(new_size)
        .bind(&batch.checkpoint_note)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest signed checkpoint: its tree size and note.
    pub async fn latest_checkpoint(&self) -> Result<Option<(i64, String)>> {
        let row = sqlx::query("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("size")?, r.try_get("note")?)))
            .transpose()
    }

    /// The account's entries in the tree, oldest first.
    pub async fn log_entries_of(&self, account_id: &str) -> Result<Vec<LogEntryRow>> {
        let rows = sqlx::query(
            "SELECT idx, account_id, kind, body, salt, leaf_hash, created_at_ms FROM log_entries \
             WHERE account_id = $1 ORDER BY idx",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(entry_row).collect()
    }

    /// How many of the account's entries wait in the queue.
    pub async fn queued_log_count_of(&self, account_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM log_queue WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}
