//! Web Push subscriptions, one per approved device. The server encrypts to the keys kept here
//! (RFC 8291) what it pushes; what it pushes is a hub's sealed notice, which these keys do not
//! open. A subscription of a device that is no longer active is never returned for delivery.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, STATE_ACTIVE, Store};

/// A browser's push subscription, as its device registered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    pub device_id: String,
    pub account_id: String,
    /// The push service's URL for this browser (checked by the server before it is stored).
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The browser's authentication secret (16 bytes).
    pub auth: Vec<u8>,
    pub created_at_ms: i64,
}

const COLUMNS: &str = "s.device_id, s.account_id, s.endpoint, s.p256dh, s.auth, s.created_at_ms";

fn subscription(row: &AnyRow) -> Result<PushSubscription> {
    Ok(PushSubscription {
        device_id: row.try_get("device_id")?,
        account_id: row.try_get("account_id")?,
        endpoint: row.try_get("endpoint")?,
        p256dh: row.try_get("p256dh")?,
        auth: row.try_get("auth")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl Store {
    /// Stores a device's subscription, replacing the one it had.
    pub async fn put_push_subscription(&self, sub: &PushSubscription) -> Result<()> {
        sqlx::query(
            "INSERT INTO push_subscriptions (device_id, account_id, endpoint, p256dh, auth, \
             created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (device_id) DO UPDATE \
             SET endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth, \
             created_at_ms = excluded.created_at_ms",
        )
        .bind(&sub.device_id)
        .bind(&sub.account_id)
        .bind(&sub.endpoint)
        .bind(&sub.p256dh)
        .bind(&sub.auth)
        .bind(sub.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The subscription of `device_id` in `account_id`, if its device is still active.
    pub async fn push_subscription(
        &self,
        account_id: &str,
        device_id: &str,
    ) -> Result<Option<PushSubscription>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM push_subscriptions s JOIN devices d ON d.id = s.device_id \
             WHERE s.account_id = $1 AND s.device_id = $2 AND d.state = $3"
        )))
        .bind(account_id)
        .bind(device_id)
        .bind(STATE_ACTIVE)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(subscription).transpose()
    }

    /// The devices of `account_id` that have a subscription and are still active.
    pub async fn push_devices(&self, account_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT s.device_id FROM push_subscriptions s JOIN devices d ON d.id = s.device_id \
             WHERE s.account_id = $1 AND d.state = $2 ORDER BY s.device_id",
        )
        .bind(account_id)
        .bind(STATE_ACTIVE)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("device_id")?))
            .collect()
    }

    /// Removes a device's subscription. With `endpoint`, only if it is still that one (a push
    /// service's "gone" for an old endpoint must not remove the newer one). True if removed.
    pub async fn delete_push_subscription(
        &self,
        account_id: &str,
        device_id: &str,
        endpoint: Option<&str>,
    ) -> Result<bool> {
        let done = match endpoint {
            Some(endpoint) => {
                sqlx::query(
                    "DELETE FROM push_subscriptions WHERE account_id = $1 AND device_id = $2 \
                     AND endpoint = $3",
                )
                .bind(account_id)
                .bind(device_id)
                .bind(endpoint)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "DELETE FROM push_subscriptions WHERE account_id = $1 AND device_id = $2",
                )
                .bind(account_id)
                .bind(device_id)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected() > 0)
    }
}
