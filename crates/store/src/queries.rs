//! The store's queries. Written once in the SQL SQLite and PostgreSQL share (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`); every multi-row change is one transaction.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{
    Account, Activity, LoginGuard, Notification, OutboxItem, PendingSignup, Result, Session, Store,
    StoreError,
};

/// Recovery-code hashes are SHA-256 sized; a pending sign-up keeps them concatenated.
const HASH_LEN: usize = 32;

macro_rules! account_columns {
    () => {
        "id, email, password_hash, totp_secret, totp_last_step, totp_pending, \
         totp_pending_until, created_at_ms, email_verified_at_ms"
    };
}
macro_rules! session_columns {
    () => {
        "id, token_hash, account_id, device_hash, device_name, source_addr, created_at_ms, \
         last_seen_at_ms, expires_at_ms"
    };
}

fn account(row: &AnyRow) -> Result<Account> {
    account_with_prefix(row, "")
}

/// An account from columns named with `prefix` (a join aliases them so they do not clash
/// with the other table's `id` and `created_at_ms`).
fn account_with_prefix(row: &AnyRow, prefix: &str) -> Result<Account> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(Account {
        id: row.try_get(col("id").as_str())?,
        email: row.try_get(col("email").as_str())?,
        password_hash: row.try_get(col("password_hash").as_str())?,
        totp_secret: row.try_get(col("totp_secret").as_str())?,
        totp_last_step: row.try_get(col("totp_last_step").as_str())?,
        totp_pending: row.try_get(col("totp_pending").as_str())?,
        totp_pending_until_ms: row.try_get(col("totp_pending_until").as_str())?,
        created_at_ms: row.try_get(col("created_at_ms").as_str())?,
        email_verified_at_ms: row.try_get(col("email_verified_at_ms").as_str())?,
    })
}

fn session(row: &AnyRow) -> Result<Session> {
    Ok(Session {
        id: row.try_get("id")?,
        token_hash: row.try_get("token_hash")?,
        account_id: row.try_get("account_id")?,
        device_hash: row.try_get("device_hash")?,
        device_name: row.try_get("device_name")?,
        source_addr: row.try_get("source_addr")?,
        created_at_ms: row.try_get("created_at_ms")?,
        last_seen_at_ms: row.try_get("last_seen_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
    })
}

fn activity(row: &AnyRow) -> Result<Activity> {
    Ok(Activity {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        at_ms: row.try_get("at_ms")?,
        kind: row.try_get("kind")?,
        source_addr: row.try_get("source_addr")?,
        device_name: row.try_get("device_name")?,
        detail: row.try_get("detail")?,
    })
}

fn outbox_item(row: &AnyRow) -> Result<OutboxItem> {
    let sinks: String = row.try_get("pending_sinks")?;
    Ok(OutboxItem {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        created_at_ms: row.try_get("created_at_ms")?,
        pending_sinks: split_sinks(&sinks),
        attempts: row.try_get("attempts")?,
        next_attempt_ms: row.try_get("next_attempt_ms")?,
        last_error: row.try_get("last_error")?,
    })
}

fn notification(row: &AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        at_ms: row.try_get("at_ms")?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        read_at_ms: row.try_get("read_at_ms")?,
    })
}

/// A `LIMIT` both backends read alike: PostgreSQL refuses a negative one, SQLite reads it as
/// no limit at all.
fn row_limit(limit: i64) -> i64 {
    limit.max(0)
}

fn split_sinks(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) async fn insert_activity(
    conn: &mut sqlx::AnyConnection,
    entry: &Activity,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO activity (id, account_id, at_ms, kind, source_addr, device_name, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&entry.id)
    .bind(&entry.account_id)
    .bind(entry.at_ms)
    .bind(&entry.kind)
    .bind(&entry.source_addr)
    .bind(&entry.device_name)
    .bind(&entry.detail)
    .execute(&mut *conn)
    .await?;
    // Every activity entry is also a transparency-log entry, queued in the same transaction.
    crate::tlog::enqueue_activity(conn, entry).await
}

async fn insert_session(conn: &mut sqlx::AnyConnection, s: &Session) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, account_id, device_hash, device_name, source_addr, \
         created_at_ms, last_seen_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&s.id)
    .bind(&s.token_hash)
    .bind(&s.account_id)
    .bind(&s.device_hash)
    .bind(&s.device_name)
    .bind(&s.source_addr)
    .bind(s.created_at_ms)
    .bind(s.last_seen_at_ms)
    .bind(s.expires_at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_recovery_codes(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
    hashes: &[Vec<u8>],
) -> Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)")
            .bind(account_id)
            .bind(hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A table of work items claimed with a lease (`id`, `next_attempt_ms`).
#[derive(Clone, Copy)]
pub(crate) enum Queue {
    Outbox,
    MailOutbox,
}

/// Leases `items` (as read, each with its id and the time it was due) until `lease_until_ms`
/// and returns those this caller won: each moves only if it is still due at the time read, so
/// another worker (or node) that read it too does not take it as well, and a worker that dies
/// mid-delivery leaves it to be retried when the lease runs out.
pub(crate) async fn lease<T>(
    pool: &sqlx::AnyPool,
    queue: Queue,
    items: Vec<T>,
    lease_until_ms: i64,
    key: impl Fn(&T) -> (&String, i64),
) -> Result<Vec<T>> {
    let sql = match queue {
        Queue::Outbox => {
            "UPDATE outbox SET next_attempt_ms = $1 WHERE id = $2 AND next_attempt_ms = $3"
        }
        Queue::MailOutbox => {
            "UPDATE mail_outbox SET next_attempt_ms = $1 WHERE id = $2 AND next_attempt_ms = $3"
        }
    };
    let mut claimed = Vec::with_capacity(items.len());
    for item in items {
        let (id, due_at) = key(&item);
        let done = sqlx::query(sql)
            .bind(lease_until_ms)
            .bind(id)
            .bind(due_at)
            .execute(pool)
            .await?;
        if done.rows_affected() == 1 {
            claimed.push(item);
        }
    }
    Ok(claimed)
}

pub(crate) async fn delete_sessions_except(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
    keep_session_id: &str,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id <> $2")
        .bind(account_id)
        .bind(keep_session_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}

impl Store {
    // ---- sign-up ----

    /// Stores a sign-up awaiting its first TOTP code. Its recovery-code hashes must be
    /// SHA-256 sized (they are kept concatenated).
    pub async fn insert_pending_signup(&self, p: &PendingSignup) -> Result<()> {
        if p.recovery_hashes.iter().any(|h| h.len() != HASH_LEN) {
            return Err(StoreError::Database(sqlx::Error::Encode(
                "recovery code hashes must be 32 bytes each".into(),
            )));
        }
        sqlx::query(
            "INSERT INTO pending_signups (token_hash, email, password_hash, totp_secret, \
             recovery_hashes, expires_at_ms, email_code_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.token_hash)
        .bind(&p.email)
        .bind(&p.password_hash)
        .bind(&p.totp_secret)
        .bind(p.recovery_hashes.concat())
        .bind(p.expires_at_ms)
        .bind(p.email_code_hash.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The pending sign-up with this token hash, if it has not expired by `now_ms`.
    pub async fn pending_signup(
        &self,
        token_hash: &[u8],
        now_ms: i64,
    ) -> Result<Option<PendingSignup>> {
        let row = sqlx::query(
            "SELECT token_hash, email, password_hash, totp_secret, recovery_hashes, expires_at_ms, \
             email_code_hash FROM pending_signups WHERE token_hash = $1 AND expires_at_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let packed: Vec<u8> = row.try_get("recovery_hashes")?;
        Ok(Some(PendingSignup {
            token_hash: row.try_get("token_hash")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            totp_secret: row.try_get("totp_secret")?,
            recovery_hashes: packed.chunks(HASH_LEN).map(<[u8]>::to_vec).collect(),
            expires_at_ms: row.try_get("expires_at_ms")?,
            email_code_hash: row.try_get("email_code_hash")?,
        }))
    }

    /// Turns a confirmed pending sign-up into an account with its first session, in one
    /// transaction. [`StoreError::NotFound`] if the pending sign-up was already used;
    /// [`StoreError::Conflict`] if the email address has an account by now.
    pub async fn complete_signup(
        &self,
        pending: &PendingSignup,
        account_id: &str,
        totp_step: i64,
        first_session: &Session,
        created: &Activity,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let taken = sqlx::query("DELETE FROM pending_signups WHERE token_hash = $1")
            .bind(&pending.token_hash)
            .execute(&mut *tx)
            .await?;
        if taken.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO accounts (id, email, password_hash, totp_secret, totp_last_step, \
             created_at_ms, email_verified_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(account_id)
        .bind(&pending.email)
        .bind(&pending.password_hash)
        .bind(&pending.totp_secret)
        .bind(totp_step)
        .bind(first_session.created_at_ms)
        // The emailed code was checked before this: the address is proven.
        .bind(
            pending
                .email_code_hash
                .as_ref()
                .map(|_| first_session.created_at_ms),
        )
        .execute(&mut *tx)
        .await?;
        insert_recovery_codes(&mut tx, account_id, &pending.recovery_hashes).await?;
        insert_session(&mut tx, first_session).await?;
        sqlx::query(
            "INSERT INTO known_devices (account_id, device_hash, device_name, first_seen_ms, last_seen_ms) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(account_id)
        .bind(&first_session.device_hash)
        .bind(&first_session.device_name)
        .bind(first_session.created_at_ms)
        .execute(&mut *tx)
        .await?;
        insert_activity(&mut tx, created).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes pending sign-ups that expired before `now_ms`.
    pub async fn prune_pending_signups(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM pending_signups WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    // ---- accounts and second factor ----

    pub async fn account_by_email(&self, email: &str) -> Result<Option<Account>> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE email = $1"
        );
        let row = sqlx::query(sql)
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account).transpose()
    }

    pub async fn account_by_id(&self, id: &str) -> Result<Option<Account>> {
        let sql = concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        );
        let row = sqlx::query(sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(account).transpose()
    }

    /// Records that TOTP time step `step` was used, if no step at or after it was used before.
    /// Returns false for a replay. Atomic, so two requests racing with one code cannot both win.
    pub async fn consume_totp_step(&self, account_id: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a recovery code used. Returns false if it is unknown or was used before.
    pub async fn consume_recovery_code(
        &self,
        account_id: &str,
        code_hash: &[u8],
        now_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at_ms = $1 \
             WHERE account_id = $2 AND code_hash = $3 AND used_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(account_id)
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn unused_recovery_codes(&self, account_id: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE account_id = $1 AND used_at_ms IS NULL",
        )
        .bind(account_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Replaces the password and ends every session of the account but `keep_session_id`,
    /// in one transaction. Returns how many sessions ended.
    pub async fn change_password(
        &self,
        account_id: &str,
        new_password_hash: &str,
        keep_session_id: &str,
        entry: &Activity,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(new_password_hash)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        let revoked = delete_sessions_except(&mut tx, account_id, keep_session_id).await?;
        insert_activity(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Stores a replacement TOTP secret that awaits its first code until `until_ms`.
    pub async fn set_pending_totp(
        &self,
        account_id: &str,
        secret: &[u8],
        until_ms: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE accounts SET totp_pending = $1, totp_pending_until = $2 WHERE id = $3")
            .bind(secret)
            .bind(until_ms)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Makes the pending TOTP secret the account's second factor, replaces the recovery codes
    /// and ends every session but `keep_session_id`, in one transaction. The pending secret
    /// must still be the one the caller checked the code against (`expected_pending`).
    pub async fn finish_totp_reset(
        &self,
        account_id: &str,
        expected_pending: &[u8],
        step: i64,
        recovery_hashes: &[Vec<u8>],
        keep_session_id: &str,
        entry: &Activity,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE accounts SET totp_secret = totp_pending, totp_last_step = $1, \
             totp_pending = NULL, totp_pending_until = NULL WHERE id = $2 AND totp_pending = $3",
        )
        .bind(step)
        .bind(account_id)
        .bind(expected_pending)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        insert_recovery_codes(&mut tx, account_id, recovery_hashes).await?;
        let revoked = delete_sessions_except(&mut tx, account_id, keep_session_id).await?;
        insert_activity(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    // ---- sessions ----

    /// Creates a session and remembers its device. Returns true if the account had not seen
    /// this device before.
    pub async fn create_session(&self, s: &Session) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        insert_session(&mut tx, s).await?;
        let updated = sqlx::query(
            "UPDATE known_devices SET last_seen_ms = $1, device_name = $2 \
             WHERE account_id = $3 AND device_hash = $4",
        )
        .bind(s.created_at_ms)
        .bind(&s.device_name)
        .bind(&s.account_id)
        .bind(&s.device_hash)
        .execute(&mut *tx)
        .await?;
        let new_device = updated.rows_affected() == 0;
        if new_device {
            sqlx::query(
                "INSERT INTO known_devices (account_id, device_hash, device_name, first_seen_ms, last_seen_ms) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(&s.account_id)
            .bind(&s.device_hash)
            .bind(&s.device_name)
            .bind(s.created_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new_device)
    }

    /// The session with this token hash, with its account.
    pub async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<(Session, Account)>> {
        let sql = "SELECT s.id, s.token_hash, s.account_id, s.device_hash, s.device_name, \
             s.source_addr, s.created_at_ms, s.last_seen_at_ms, s.expires_at_ms, \
             a.id AS a_id, a.email AS a_email, a.password_hash AS a_password_hash, \
             a.totp_secret AS a_totp_secret, a.totp_last_step AS a_totp_last_step, \
             a.totp_pending AS a_totp_pending, a.totp_pending_until AS a_totp_pending_until, \
             a.created_at_ms AS a_created_at_ms, a.email_verified_at_ms AS a_email_verified_at_ms \
             FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1";
        let Some(row) = sqlx::query(sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let (s, a) = (session(&row)?, account_with_prefix(&row, "a_")?);
        Ok(Some((s, a)))
    }

    /// Moves a session's last-seen time forward (idle expiry counts from it).
    pub async fn touch_session(&self, session_id: &str, now_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at_ms = $1 WHERE id = $2 AND last_seen_at_ms < $1",
        )
        .bind(now_ms)
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn sessions_of(&self, account_id: &str) -> Result<Vec<Session>> {
        let sql = concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE account_id = $1 ORDER BY created_at_ms, id"
        );
        let rows = sqlx::query(sql)
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(session).collect()
    }

    /// Ends one session of the account. Returns false if the account has no such session.
    pub async fn delete_session(
        &self,
        account_id: &str,
        session_id: &str,
        entry: Option<&Activity>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        let found = done.rows_affected() == 1;
        if let (true, Some(entry)) = (found, entry) {
            insert_activity(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(found)
    }

    /// Ends every session of the account but `keep_session_id`.
    pub async fn delete_other_sessions(
        &self,
        account_id: &str,
        keep_session_id: &str,
        entry: &Activity,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let revoked = delete_sessions_except(&mut tx, account_id, keep_session_id).await?;
        insert_activity(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Removes sessions past their absolute expiry or idle since before `idle_cutoff_ms`.
    pub async fn prune_sessions(&self, now_ms: i64, idle_cutoff_ms: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1 OR last_seen_at_ms <= $2")
                .bind(now_ms)
                .bind(idle_cutoff_ms)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    // ---- activity ----

    pub async fn add_activity(&self, entry: &Activity) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_activity(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` entries of the account, newest first.
    pub async fn activity_of(&self, account_id: &str, limit: i64) -> Result<Vec<Activity>> {
        let rows = sqlx::query(
            "SELECT id, account_id, at_ms, kind, source_addr, device_name, detail FROM activity \
             WHERE account_id = $1 ORDER BY at_ms DESC, id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(row_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(activity).collect()
    }

    // ---- sign-in defences ----

    pub async fn login_guard(&self, name_key: &[u8]) -> Result<LoginGuard> {
        let row = sqlx::query(
            "SELECT failures, last_failure_ms, locked_until_ms FROM login_guards WHERE name_key = $1",
        )
        .bind(name_key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(LoginGuard::default());
        };
        Ok(LoginGuard {
            failures: row.try_get("failures")?,
            last_failure_ms: row.try_get("last_failure_ms")?,
            locked_until_ms: row.try_get("locked_until_ms")?,
        })
    }

    /// Counts one more failure for a sign-in name and from a source address, atomically.
    /// Failures older than `reset_before_ms` no longer count toward the name's total.
    /// Returns the name's consecutive failures including this one.
    pub async fn record_login_failure(
        &self,
        name_key: &[u8],
        source_addr: &str,
        now_ms: i64,
        reset_before_ms: i64,
    ) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO login_guards (name_key, failures, last_failure_ms, locked_until_ms) \
             VALUES ($1, 1, $2, 0) ON CONFLICT (name_key) DO UPDATE SET \
             failures = CASE WHEN login_guards.last_failure_ms < $3 THEN 1 ELSE login_guards.failures + 1 END, \
             last_failure_ms = $2 RETURNING failures",
        )
        .bind(name_key)
        .bind(now_ms)
        .bind(reset_before_ms)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO login_failures (source_addr, name_key, at_ms) VALUES ($1, $2, $3)",
        )
        .bind(source_addr)
        .bind(name_key)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.try_get("failures")?)
    }

    /// Locks a sign-in name until `until_ms` (never shortening a longer lock).
    pub async fn lock_login_name(&self, name_key: &[u8], until_ms: i64) -> Result<()> {
        sqlx::query(
            "UPDATE login_guards SET locked_until_ms = $1 WHERE name_key = $2 AND locked_until_ms < $1",
        )
        .bind(until_ms)
        .bind(name_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a name's failures after a successful sign-in.
    pub async fn clear_login_guard(&self, name_key: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM login_guards WHERE name_key = $1")
            .bind(name_key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// How many different sign-in names failed from `source_addr` since `since_ms`.
    pub async fn distinct_failed_names(&self, source_addr: &str, since_ms: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT name_key) AS n FROM login_failures WHERE source_addr = $1 AND at_ms >= $2",
        )
        .bind(source_addr)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// Blocks a source address from signing in until `until_ms`.
    pub async fn block_source(&self, source_addr: &str, until_ms: i64, reason: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO blocked_sources (source_addr, blocked_until_ms, reason) VALUES ($1, $2, $3) \
             ON CONFLICT (source_addr) DO UPDATE SET blocked_until_ms = $2, reason = $3",
        )
        .bind(source_addr)
        .bind(until_ms)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Until when `source_addr` is blocked, if it is blocked at `now_ms`.
    pub async fn source_blocked_until(
        &self,
        source_addr: &str,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT blocked_until_ms FROM blocked_sources WHERE source_addr = $1 AND blocked_until_ms > $2",
        )
        .bind(source_addr)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get("blocked_until_ms"))
            .transpose()
            .map_err(Into::into)
    }

    /// Forgets failures recorded before `before_ms` and blocks that have ended.
    pub async fn prune_login_records(&self, before_ms: i64, now_ms: i64) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "DELETE FROM login_guards WHERE last_failure_ms < $1 AND locked_until_ms <= $2",
        )
        .bind(before_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM blocked_sources WHERE blocked_until_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- notifications ----

    pub async fn enqueue_notification(&self, item: &OutboxItem) -> Result<()> {
        sqlx::query(
            "INSERT INTO outbox (id, account_id, kind, subject, body, created_at_ms, pending_sinks, \
             attempts, next_attempt_ms, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&item.id)
        .bind(&item.account_id)
        .bind(&item.kind)
        .bind(&item.subject)
        .bind(&item.body)
        .bind(item.created_at_ms)
        .bind(item.pending_sinks.join(","))
        .bind(item.attempts)
        .bind(item.next_attempt_ms)
        .bind(&item.last_error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims up to `limit` items due at `now_ms` for one delivery attempt: each claimed item's
    /// next attempt moves to `lease_until_ms`, so another worker (or node) does not take it
    /// meanwhile, and a worker that dies mid-delivery leaves it to be retried. The items are
    /// returned as they were before the claim (`next_attempt_ms` is the time they were due).
    pub async fn claim_due_notifications(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        let rows = sqlx::query(
            "SELECT id, account_id, kind, subject, body, created_at_ms, pending_sinks, attempts, \
             next_attempt_ms, last_error FROM outbox WHERE next_attempt_ms <= $1 \
             ORDER BY next_attempt_ms LIMIT $2",
        )
        .bind(now_ms)
        .bind(row_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(outbox_item).collect::<Result<Vec<_>>>()?;
        lease(&self.pool, Queue::Outbox, items, lease_until_ms, |i| {
            (&i.id, i.next_attempt_ms)
        })
        .await
    }

    /// Records the outcome of an attempt: the item is removed when no sink is left, else it
    /// waits until `next_attempt_ms` for the sinks still pending.
    pub async fn finish_delivery_attempt(
        &self,
        id: &str,
        pending_sinks: &[String],
        next_attempt_ms: i64,
        last_error: &str,
    ) -> Result<()> {
        if pending_sinks.is_empty() {
            sqlx::query("DELETE FROM outbox WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
        } else {
            sqlx::query(
                "UPDATE outbox SET pending_sinks = $1, attempts = attempts + 1, next_attempt_ms = $2, \
                 last_error = $3 WHERE id = $4",
            )
            .bind(pending_sinks.join(","))
            .bind(next_attempt_ms)
            .bind(last_error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Items still waiting for a sink.
    pub async fn outbox_len(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Puts a notification in the account's in-app feed (idempotent on `id`, so a retried
    /// delivery does not show it twice).
    pub async fn add_to_feed(&self, n: &Notification) -> Result<()> {
        sqlx::query(
            "INSERT INTO notifications (id, account_id, at_ms, kind, subject, body, read_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&n.id)
        .bind(&n.account_id)
        .bind(n.at_ms)
        .bind(&n.kind)
        .bind(&n.subject)
        .bind(&n.body)
        .bind(n.read_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` feed entries of the account, newest first.
    pub async fn feed_of(&self, account_id: &str, limit: i64) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, account_id, at_ms, kind, subject, body, read_at_ms FROM notifications \
             WHERE account_id = $1 ORDER BY at_ms DESC, id DESC LIMIT $2",
        )
        .bind(account_id)
        .bind(row_limit(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notification).collect()
    }

    /// Marks every unread feed entry of the account read.
    pub async fn mark_feed_read(&self, account_id: &str, now_ms: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE notifications SET read_at_ms = $1 WHERE account_id = $2 AND read_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
