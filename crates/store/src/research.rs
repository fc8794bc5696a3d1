//! Research consent (per account) and the research dataset (per item, linked to no one).
//!
//! The two halves never join: consent rows name their account; research items carry only a
//! random id, the withdrawal tag (a hash of the key only the owner's devices compute), a UTC
//! day and a size.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::tlog::enqueue_log;
use crate::{Result, Store, StoreError};

/// One consent receipt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// Hex of the receipt's 16-byte nonce.
    pub nonce: String,
    pub account_id: String,
    /// `give` or `withdraw`.
    pub action: String,
    /// `camera` or `clip`.
    pub scope_kind: String,
    pub scope_id: String,
    /// The receipt's canonical bytes.
    pub receipt: Vec<u8>,
    pub issued_at_ms: i64,
    pub recorded_at_ms: i64,
}

/// What recording a receipt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentOutcome {
    Recorded,
    /// The nonce was seen before.
    Replayed,
    /// A withdrawal of a scope with no live consent.
    NotLive,
}

/// A research item: nothing here leads to an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResearchItem {
    pub id: String,
    /// Hex of the 32-byte withdrawal tag (a hash of the key only the owner's devices compute).
    pub withdrawal_tag: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub size_bytes: i64,
}

fn consent(row: &AnyRow) -> Result<ConsentRecord> {
    Ok(ConsentRecord {
        nonce: row.try_get("nonce")?,
        account_id: row.try_get("account_id")?,
        action: row.try_get("action")?,
        scope_kind: row.try_get("scope_kind")?,
        scope_id: row.try_get("scope_id")?,
        receipt: row.try_get("receipt")?,
        issued_at_ms: row.try_get("issued_at_ms")?,
        recorded_at_ms: row.try_get("recorded_at_ms")?,
    })
}

fn item(row: &AnyRow) -> Result<ResearchItem> {
    Ok(ResearchItem {
        id: row.try_get("id")?,
        withdrawal_tag: row.try_get("withdrawal_tag")?,
        day: row.try_get("day")?,
        size_bytes: row.try_get("size_bytes")?,
    })
}

impl Store {
    // ---- consent ----

    /// Records a receipt, updates the scope's live state and queues the log entry `log_body`
    /// of kind `log_kind` for the account, in one transaction.
    pub async fn record_consent(
        &self,
        c: &ConsentRecord,
        log_kind: &str,
        log_body: &[u8],
    ) -> Result<ConsentOutcome> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO consent_receipts (nonce, account_id, action, scope_kind, scope_id, receipt, \
             issued_at_ms, recorded_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.nonce)
        .bind(&c.account_id)
        .bind(&c.action)
        .bind(&c.scope_kind)
        .bind(&c.scope_id)
        .bind(&c.receipt)
        .bind(c.issued_at_ms)
        .bind(c.recorded_at_ms)
        .execute(&mut *tx)
        .await;
        match inserted.map_err(StoreError::from) {
            Ok(_) => {}
            Err(StoreError::Conflict) => return Ok(ConsentOutcome::Replayed),
            Err(e) => return Err(e),
        }
        if c.action == "withdraw" {
            let done = sqlx::query(
                "UPDATE consents SET live = 0 WHERE account_id = $1 AND scope_kind = $2 \
                 AND scope_id = $3 AND live = 1",
            )
            .bind(&c.account_id)
            .bind(&c.scope_kind)
            .bind(&c.scope_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(ConsentOutcome::NotLive);
            }
        } else {
            sqlx::query(
                "INSERT INTO consents (account_id, scope_kind, scope_id, live) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (account_id, scope_kind, scope_id) DO UPDATE SET live = 1",
            )
            .bind(&c.account_id)
            .bind(&c.scope_kind)
            .bind(&c.scope_id)
            .execute(&mut *tx)
            .await?;
        }
        enqueue_log(
            &mut tx,
            Some(&c.account_id),
            log_kind,
            log_body,
            c.recorded_at_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(ConsentOutcome::Recorded)
    }

    /// The account's receipts, oldest first.
    pub async fn consent_receipts_of(&self, account_id: &str) -> Result<Vec<ConsentRecord>> {
        let rows = sqlx::query(
            "SELECT nonce, account_id, action, scope_kind, scope_id, receipt, issued_at_ms, \
             recorded_at_ms FROM consent_receipts WHERE account_id = $1 \
             ORDER BY recorded_at_ms, nonce",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(consent).collect()
    }

    /// The account's live consents, as `(scope_kind, scope_id)`.
    pub async fn live_consents_of(&self, account_id: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT scope_kind, scope_id FROM consents WHERE account_id = $1 AND live = 1 \
             ORDER BY scope_kind, scope_id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("scope_kind")?, r.try_get("scope_id")?)))
            .collect()
    }

    // ---- the research dataset ----

    /// [`StoreError::Conflict`] if the withdrawal tag is already in the dataset.
    pub async fn insert_research_item(&self, i: &ResearchItem) -> Result<()> {
        sqlx::query(
            "INSERT INTO research_items (id, withdrawal_tag, day, size_bytes) VALUES ($1, $2, $3, $4)",
        )
        .bind(&i.id)
        .bind(&i.withdrawal_tag)
        .bind(&i.day)
        .bind(i.size_bytes)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every item with its labels, in id order (random, so no upload order shows).
    pub async fn research_items(&self) -> Result<Vec<(ResearchItem, Vec<String>)>> {
        let rows = sqlx::query(
            "SELECT id, withdrawal_tag, day, size_bytes FROM research_items ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let labels =
            sqlx::query("SELECT item_id, label FROM research_labels ORDER BY item_id, label")
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let i = item(row)?;
            let mut mine = Vec::new();
            for l in &labels {
                let item_id: String = l.try_get("item_id")?;
                if item_id == i.id {
                    mine.push(l.try_get("label")?);
                }
            }
            out.push((i, mine));
        }
        Ok(out)
    }

    pub async fn research_item(&self, id: &str) -> Result<Option<ResearchItem>> {
        let row = sqlx::query(
            "SELECT id, withdrawal_tag, day, size_bytes FROM research_items WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(item).transpose()
    }

    /// Removes the item with this withdrawal tag (labels too), returning its id.
    pub async fn withdraw_research_item(&self, withdrawal_tag: &str) -> Result<Option<String>> {
        let mut tx = self.pool.begin().await?;
        // A write first: on SQLite a transaction that reads before it writes can fail with a
        // busy snapshot when another writer (the log appender) commits in between.
        sqlx::query(
            "DELETE FROM research_labels WHERE item_id IN \
             (SELECT id FROM research_items WHERE withdrawal_tag = $1)",
        )
        .bind(withdrawal_tag)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query("SELECT id FROM research_items WHERE withdrawal_tag = $1")
            .bind(withdrawal_tag)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: String = row.try_get("id")?;
        sqlx::query("DELETE FROM research_items WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Which of `tags` are in the dataset, sorted. The caller computed them from its own
    /// clips; a tag it could not compute it cannot ask about, and nothing else is answered.
    pub async fn research_tags_present(&self, tags: &[String]) -> Result<Vec<String>> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=tags.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT withdrawal_tag FROM research_items WHERE withdrawal_tag IN ({}) \
             ORDER BY withdrawal_tag",
            placeholders.join(", ")
        );
        // Only numbered placeholders are formatted in; every tag is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for tag in tags {
            query = query.bind(tag);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok(r.try_get("withdrawal_tag")?))
            .collect()
    }

    /// Items stored before withdrawal tags, with the withdrawal key (hex) they were stored
    /// under: `(item id, key)`. The server hashes each into its tag as it starts.
    pub async fn research_items_keyed_by_key(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, withdrawal_tag FROM research_items WHERE withdrawal_tag LIKE 'key:%' \
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let marked: String = r.try_get("withdrawal_tag")?;
                let key = marked.strip_prefix("key:").unwrap_or(&marked).to_owned();
                Ok((id, key))
            })
            .collect()
    }

    /// Replaces an item's stored withdrawal key by its tag; false if the item is gone or was
    /// already converted.
    pub async fn set_research_withdrawal_tag(
        &self,
        item_id: &str,
        key: &str,
        tag: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE research_items SET withdrawal_tag = $1 WHERE id = $2 AND withdrawal_tag = $3",
        )
        .bind(tag)
        .bind(item_id)
        .bind(format!("key:{key}"))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds a label to an item; false if there is no such item.
    pub async fn add_research_label(&self, item_id: &str, label: &str) -> Result<bool> {
        if self.research_item(item_id).await?.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO research_labels (item_id, label) VALUES ($1, $2) \
             ON CONFLICT (item_id, label) DO NOTHING",
        )
        .bind(item_id)
        .bind(label)
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    /// The columns of a table, read from the database's own catalogue (for schema tests).
    pub async fn table_columns(&self, table: &str) -> Result<Vec<String>> {
        let rows = match self.backend {
            crate::Backend::Sqlite => {
                sqlx::query("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&self.pool)
                    .await?
            }
            crate::Backend::Postgres => {
                sqlx::query(
                    "SELECT CAST(column_name AS TEXT) AS name FROM information_schema.columns \
                     WHERE table_name = $1 AND table_schema = current_schema() \
                     ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(|r| Ok(r.try_get("name")?)).collect()
    }
}
