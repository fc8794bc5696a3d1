//! Staff principals, their sessions, access requests and grants, the record of staff reads
//! and the alerts they raise.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store};

/// A member of the operator's staff.
#[derive(Clone)]
pub struct Staff {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub totp_secret: Vec<u8>,
    pub totp_last_step: i64,
    /// `support`, `annotator`, `security` or `admin`.
    pub role: String,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staff")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

pub const REQUEST_PENDING: &str = "pending";
pub const REQUEST_APPROVED: &str = "approved";
pub const REQUEST_DENIED: &str = "denied";
pub const REQUEST_REVOKED: &str = "revoked";

/// A staff member's request for access to one account, and, once approved, the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: String,
    pub staff_id: String,
    /// `None` when the address named has no account (the request never leads anywhere).
    pub account_id: Option<String>,
    pub scopes: Vec<String>,
    pub justification: String,
    pub ticket: String,
    pub duration_ms: i64,
    pub break_glass: bool,
    pub state: String,
    /// The second security staff member who approved a break-glass request.
    pub second_staff_id: Option<String>,
    pub created_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub expires_at_ms: Option<i64>,
}

/// An alert for security staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAlert {
    pub id: String,
    pub staff_id: String,
    /// What raised it: [`ALERT_BULK_ACCESS`] or [`ALERT_UNUSUAL_HOURS`].
    pub kind: String,
    pub reason: String,
    pub created_at_ms: i64,
}

/// A staff member read many different accounts within an hour.
pub const ALERT_BULK_ACCESS: &str = "bulk_access";
/// A staff member read an account outside the deployment's usual working hours.
pub const ALERT_UNUSUAL_HOURS: &str = "unusual_hours";

/// What staff without a grant may see: counts, nothing about anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateFigures {
    pub accounts: i64,
    pub clips: i64,
    pub clip_bytes: i64,
    pub log_size: i64,
}

const STAFF_COLUMNS: &str =
    "id, email, password_hash, totp_secret, totp_last_step, role, created_at_ms";
const REQUEST_COLUMNS: &str = "id, staff_id, account_id, scopes, justification, ticket, \
     duration_ms, break_glass, state, second_staff_id, created_at_ms, decided_at_ms, expires_at_ms";

fn staff(row: &AnyRow) -> Result<Staff> {
    Ok(Staff {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_last_step: row.try_get("totp_last_step")?,
        role: row.try_get("role")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn request(row: &AnyRow) -> Result<AccessRequest> {
    let scopes: String = row.try_get("scopes")?;
    let break_glass: i64 = row.try_get("break_glass")?;
    Ok(AccessRequest {
        id: row.try_get("id")?,
        staff_id: row.try_get("staff_id")?,
        account_id: row.try_get("account_id")?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        justification: row.try_get("justification")?,
        ticket: row.try_get("ticket")?,
        duration_ms: row.try_get("duration_ms")?,
        break_glass: break_glass != 0,
        state: row.try_get("state")?,
        second_staff_id: row.try_get("second_staff_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
        decided_at_ms: row.try_get("decided_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
    })
}

impl Store {
    // ---- staff and their sessions ----

    /// [`crate::StoreError::Conflict`] if the address is taken.
    pub async fn create_staff(&self, s: &Staff) -> Result<()> {
        sqlx::query(
            "INSERT INTO staff (id, email, password_hash, totp_secret, totp_last_step, role, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id)
        .bind(&s.email)
        .bind(&s.password_hash)
        .bind(&s.totp_secret)
        .bind(s.totp_last_step)
        .bind(&s.role)
        .bind(s.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn staff_by_email(&self, email: &str) -> Result<Option<Staff>> {
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff WHERE email = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(staff).transpose()
    }

    pub async fn staff_by_id(&self, id: &str) -> Result<Option<Staff>> {
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(staff).transpose()
    }

    /// Uses TOTP step `step` for the staff member: true once, if no later step was used.
    pub async fn consume_staff_totp_step(&self, staff_id: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE staff SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(staff_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn create_staff_session(
        &self,
        token_hash: &[u8],
        staff_id: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO staff_sessions (token_hash, staff_id, created_at_ms, expires_at_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(staff_id)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The staff member holding this unexpired session token.
    pub async fn staff_by_session(&self, token_hash: &[u8], now_ms: i64) -> Result<Option<Staff>> {
        let sql = format!(
            "SELECT {} FROM staff_sessions ss JOIN staff s ON s.id = ss.staff_id \
             WHERE ss.token_hash = $1 AND ss.expires_at_ms > $2",
            STAFF_COLUMNS
                .split(", ")
                .map(|c| format!("s.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(staff).transpose()
    }

    // ---- access requests and grants ----

    pub async fn create_access_request(&self, r: &AccessRequest) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_requests (id, staff_id, account_id, scopes, justification, ticket, \
             duration_ms, break_glass, state, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&r.id)
        .bind(&r.staff_id)
        .bind(&r.account_id)
        .bind(r.scopes.join(","))
        .bind(&r.justification)
        .bind(&r.ticket)
        .bind(r.duration_ms)
        .bind(i64::from(r.break_glass))
        .bind(&r.state)
        .bind(r.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn access_request(&self, id: &str) -> Result<Option<AccessRequest>> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM access_requests WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request).transpose()
    }

    /// Requests a staff member made, newest first.
    pub async fn access_requests_by_staff(&self, staff_id: &str) -> Result<Vec<AccessRequest>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM access_requests WHERE staff_id = $1 \
             ORDER BY created_at_ms DESC, id LIMIT 200"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(staff_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(request).collect()
    }

    /// Requests for an account, newest first.
    pub async fn access_requests_for(&self, account_id: &str) -> Result<Vec<AccessRequest>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM access_requests WHERE account_id = $1 \
             ORDER BY created_at_ms DESC, id LIMIT 200"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(request).collect()
    }

    /// The customer decides a pending, ordinary request: true if it was pending.
    pub async fn decide_access_request(
        &self,
        account_id: &str,
        id: &str,
        state: &str,
        now_ms: i64,
        expires_at_ms: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE access_requests SET state = $1, decided_at_ms = $2, expires_at_ms = $3 \
             WHERE id = $4 AND account_id = $5 AND state = $6 AND break_glass = 0",
        )
        .bind(state)
        .bind(now_ms)
        .bind(expires_at_ms)
        .bind(id)
        .bind(account_id)
        .bind(REQUEST_PENDING)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The customer ends a grant (approved, or a break-glass one): true if it was live.
    pub async fn revoke_grant(&self, account_id: &str, id: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE access_requests SET state = $1, decided_at_ms = $2 \
             WHERE id = $3 AND account_id = $4 AND state = $5",
        )
        .bind(REQUEST_REVOKED)
        .bind(now_ms)
        .bind(id)
        .bind(account_id)
        .bind(REQUEST_APPROVED)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A second security staff member approves a pending break-glass request: true if it was
    /// pending, break-glass, and made by someone else.
    pub async fn approve_break_glass(
        &self,
        id: &str,
        second_staff_id: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE access_requests SET state = $1, second_staff_id = $2, decided_at_ms = $3, \
             expires_at_ms = $4 WHERE id = $5 AND state = $6 AND break_glass = 1 \
             AND staff_id <> $2 AND account_id IS NOT NULL",
        )
        .bind(REQUEST_APPROVED)
        .bind(second_staff_id)
        .bind(now_ms)
        .bind(expires_at_ms)
        .bind(id)
        .bind(REQUEST_PENDING)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a staff read and queues its transparency-log entry in one transaction: when
    /// this returns, the access is on record, and only then may the data be read.
    pub async fn record_staff_read(
        &self,
        staff_id: &str,
        account_id: &str,
        log_body: &[u8],
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO staff_reads (staff_id, account_id, at_ms) VALUES ($1, $2, $3)")
            .bind(staff_id)
            .bind(account_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        crate::tlog::enqueue_log(&mut tx, Some(account_id), "staff_access", log_body, now_ms)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many different accounts the staff member read since `since_ms`.
    pub async fn accounts_read_since(&self, staff_id: &str, since_ms: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT account_id) AS n FROM staff_reads WHERE staff_id = $1 AND at_ms >= $2",
        )
        .bind(staff_id)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Raises an alert unless the staff member has one of the same kind since `since_ms`;
    /// true if raised.
    pub async fn raise_staff_alert(&self, alert: &StaffAlert, since_ms: i64) -> Result<bool> {
        let recent = sqlx::query(
            "SELECT id FROM staff_alerts WHERE staff_id = $1 AND kind = $2 AND created_at_ms >= $3 \
             LIMIT 1",
        )
        .bind(&alert.staff_id)
        .bind(&alert.kind)
        .bind(since_ms)
        .fetch_optional(&self.pool)
        .await?;
        if recent.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO staff_alerts (id, staff_id, kind, reason, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&alert.id)
        .bind(&alert.staff_id)
        .bind(&alert.kind)
        .bind(&alert.reason)
        .bind(alert.created_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    /// The newest alerts.
    pub async fn staff_alerts(&self, limit: i64) -> Result<Vec<StaffAlert>> {
        let rows = sqlx::query(
            "SELECT id, staff_id, kind, reason, created_at_ms FROM staff_alerts \
             ORDER BY created_at_ms DESC LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StaffAlert {
                    id: r.try_get("id")?,
                    staff_id: r.try_get("staff_id")?,
                    kind: r.try_get("kind")?,
                    reason: r.try_get("reason")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                })
            })
            .collect()
    }

    /// Counts across all accounts: what staff see without a grant.
    pub async fn aggregate_figures(&self) -> Result<AggregateFigures> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM accounts) AS accounts, \
             (SELECT COUNT(*) FROM clips) AS clips, \
             (SELECT CAST(COALESCE(SUM(payload_size), 0) AS BIGINT) FROM clips) AS clip_bytes, \
             (SELECT size FROM log_state WHERE id = 1) AS log_size",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(AggregateFigures {
            accounts: row.try_get("accounts")?,
            clips: row.try_get("clips")?,
            clip_bytes: row.try_get("clip_bytes")?,
            log_size: row.try_get("log_size")?,
        })
    }
}
