//! Hub settings signed by an owner's device: the latest statement per hub, and what the hub
//! last reported doing with it. The store neither reads nor checks the statement; the server
//! checks its form and counter before [`Store::put_hub_settings`], and the hub decides.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store};

/// A hub's latest signed settings and the hub's last report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSettingsRow {
    pub hub_id: String,
    /// The signed statement's bytes, as the owner's device made them.
    pub statement: Vec<u8>,
    /// The statement's counter (also inside it), so a stale put is refused without parsing.
    pub counter: i64,
    pub updated_at_ms: i64,
    /// The counter of the settings the hub said it applies.
    pub applied_counter: Option<i64>,
    /// The counter, reason code and message of the settings the hub last refused.
    pub refused_counter: Option<i64>,
    pub refused_code: Option<String>,
    pub refused_message: Option<String>,
    pub reported_at_ms: Option<i64>,
}

/// What a hub reports about the settings it was handed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubSettingsReport {
    Applied {
        counter: i64,
    },
    Refused {
        counter: Option<i64>,
        code: String,
        message: String,
    },
}

fn row(r: &AnyRow) -> Result<HubSettingsRow> {
    Ok(HubSettingsRow {
        hub_id: r.try_get("hub_id")?,
        statement: r.try_get("statement")?,
        counter: r.try_get("counter")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        applied_counter: r.try_get("applied_counter")?,
        refused_counter: r.try_get("refused_counter")?,
        refused_code: r.try_get("refused_code")?,
        refused_message: r.try_get("refused_message")?,
        reported_at_ms: r.try_get("reported_at_ms")?,
    })
}

impl Store {
    /// Keeps `statement` as hub `hub_id`'s settings if its `counter` is above the stored one
    /// (or none is stored); false otherwise. A new statement clears the last refusal.
    pub async fn put_hub_settings(
        &self,
        hub_id: &str,
        statement: &[u8],
        counter: i64,
        now_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO hub_settings (hub_id, statement, counter, updated_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (hub_id) DO UPDATE SET \
             statement = excluded.statement, counter = excluded.counter, \
             updated_at_ms = excluded.updated_at_ms, refused_counter = NULL, \
             refused_code = NULL, refused_message = NULL \
             WHERE hub_settings.counter < excluded.counter",
        )
        .bind(hub_id)
        .bind(statement)
        .bind(counter)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn hub_settings(&self, hub_id: &str) -> Result<Option<HubSettingsRow>> {
        let found = sqlx::query(
            "SELECT hub_id, statement, counter, updated_at_ms, applied_counter, refused_counter, \
             refused_code, refused_message, reported_at_ms FROM hub_settings WHERE hub_id = $1",
        )
        .bind(hub_id)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(row).transpose()
    }

    /// Records what hub `hub_id` did with its settings; false if it has none stored.
    pub async fn report_hub_settings(
        &self,
        hub_id: &str,
        report: &HubSettingsReport,
        now_ms: i64,
    ) -> Result<bool> {
        let done = match report {
            HubSettingsReport::Applied { counter } => {
                sqlx::query(
                    "UPDATE hub_settings SET applied_counter = $1, reported_at_ms = $2, \
                     refused_counter = CASE WHEN refused_counter <= $1 THEN NULL ELSE refused_counter END, \
                     refused_code = CASE WHEN refused_counter <= $1 THEN NULL ELSE refused_code END, \
                     refused_message = CASE WHEN refused_counter <= $1 THEN NULL ELSE refused_message END \
                     WHERE hub_id = $3",
                )
                .bind(*counter)
                .bind(now_ms)
                .bind(hub_id)
                .execute(&self.pool)
                .await?
            }
            HubSettingsReport::Refused {
                counter,
                code,
                message,
            } => {
                sqlx::query(
                    "UPDATE hub_settings SET refused_counter = $1, refused_code = $2, \
                     refused_message = $3, reported_at_ms = $4 WHERE hub_id = $5",
                )
                .bind(*counter)
                .bind(code)
                .bind(message)
                .bind(now_ms)
                .bind(hub_id)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }
}
