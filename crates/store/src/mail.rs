//! What a verified address, a forgotten password and a changed address keep: single-use
//! tokens sent by email (only their hashes), mail to an address rather than to an account
//! (only the id its token is derived from), and the changes they make, each in one
//! transaction with its activity entry.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::queries::{Queue, delete_sessions_except, insert_activity, lease};
use crate::{Activity, Result, Store, StoreError};

/// What an emailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Sets a new password (with the second factor).
    Reset,
    /// Makes `email` (the new address) the account's.
    EmailChange,
    /// Puts `email` (the old address) back and ends every session.
    EmailUndo,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::EmailChange => "email_change",
            Self::EmailUndo => "email_undo",
        }
    }
}

/// A token sent by email. The token itself is not kept, only its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailToken {
    pub token_hash: Vec<u8>,
    pub purpose: TokenPurpose,
    pub account_id: String,
    /// Where it was sent; for [`TokenPurpose::EmailChange`] the address it moves to, for
    /// [`TokenPurpose::EmailUndo`] the address it moves back to.
    pub email: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for EmailToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailToken")
            .field("purpose", &self.purpose)
            .field("account_id", &self.account_id)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// A message to an address. `token_id` is what the server derives the message's token from
/// with its secret; the row alone opens nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailItem {
    pub id: String,
    pub to_address: String,
    /// Which message (the server's templates name them).
    pub template: String,
    pub token_id: String,
    pub created_at_ms: i64,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: String,
}

/// What an address change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMoved {
    pub account_id: String,
    /// The address before.
    pub from: String,
    /// The address now.
    pub to: String,
    /// Sessions ended (none for a confirmation, every one for an undo).
    pub revoked_sessions: u64,
}

fn mail_item(row: &AnyRow) -> Result<MailItem> {
    Ok(MailItem {
        id: row.try_get("id")?,
        to_address: row.try_get("to_address")?,
        template: row.try_get("template")?,
        token_id: row.try_get("token_id")?,
        created_at_ms: row.try_get("created_at_ms")?,
        attempts: row.try_get("attempts")?,
        next_attempt_ms: row.try_get("next_attempt_ms")?,
        last_error: row.try_get("last_error")?,
    })
}

async fn insert_token(conn: &mut sqlx::AnyConnection, t: &EmailToken) -> Result<()> {
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, purpose, account_id, email, created_at_ms, \
         expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&t.token_hash)
    .bind(t.purpose.as_str())
    .bind(&t.account_id)
    .bind(&t.email)
    .bind(t.created_at_ms)
    .bind(t.expires_at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_mail(conn: &mut sqlx::AnyConnection, m: &MailItem) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, to_address, template, token_id, created_at_ms, attempts, \
         next_attempt_ms, last_error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&m.id)
    .bind(&m.to_address)
    .bind(&m.template)
    .bind(&m.token_id)
    .bind(m.created_at_ms)
    .bind(m.attempts)
    .bind(m.next_attempt_ms)
    .bind(&m.last_error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks the unused, unexpired token of `purpose` with this hash used, and returns its
/// account, its address and when it was made; [`StoreError::NotFound`] if there is none
/// (wrong, used, expired).
/// The write comes first, so on SQLite the transaction holds the write lock from its start
/// and cannot fail to upgrade a read snapshot that another writer moved past.
async fn consume_token(
    conn: &mut sqlx::AnyConnection,
    token_hash: &[u8],
    purpose: TokenPurpose,
    now_ms: i64,
) -> Result<(String, String, i64)> {
    let done = sqlx::query(
        "UPDATE email_tokens SET used_at_ms = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_at_ms IS NULL AND expires_at_ms > $1",
    )
    .bind(now_ms)
    .bind(token_hash)
    .bind(purpose.as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::NotFound);
    }
    let row = sqlx::query(
        "SELECT account_id, email, created_at_ms FROM email_tokens WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        row.try_get("account_id")?,
        row.try_get("email")?,
        row.try_get("created_at_ms")?,
    ))
}

/// Ends the account's outstanding reset and address-change links, and the undo links made
/// after `undo_made_after_ms` (none when it is `i64::MAX`). An undo link made *earlier* is
/// never ended here: it is how the owner of an address takes back a change someone else made,
/// and nothing that someone does afterwards (a reset, a further change, undoing their own
/// later change) may take that away.
async fn spend_account_tokens(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
    now_ms: i64,
    undo_made_after_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE email_tokens SET used_at_ms = $1 WHERE account_id = $2 AND used_at_ms IS NULL \
         AND (purpose <> $3 OR created_at_ms > $4)",
    )
    .bind(now_ms)
    .bind(account_id)
    .bind(TokenPurpose::EmailUndo.as_str())
    .bind(undo_made_after_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn set_email(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
    email: &str,
    now_ms: i64,
) -> Result<()> {
    let done =
        sqlx::query("UPDATE accounts SET email = $1, email_verified_at_ms = $2 WHERE id = $3")
            .bind(email)
            .bind(now_ms)
            .bind(account_id)
            .execute(&mut *conn)
            .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

impl Store {
    /// Stores a token and queues its message in one transaction: a token is never made
    /// without its mail, nor mail sent for a token that was not stored.
    pub async fn issue_email_token(&self, token: &EmailToken, mail: &MailItem) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_token(&mut tx, token).await?;
        insert_mail(&mut tx, mail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The unused, unexpired token of `purpose` with this hash.
    pub async fn email_token(
        &self,
        token_hash: &[u8],
        purpose: TokenPurpose,
        now_ms: i64,
    ) -> Result<Option<EmailToken>> {
        let row = sqlx::query(
            "SELECT token_hash, account_id, email, created_at_ms, expires_at_ms FROM email_tokens \
             WHERE token_hash = $1 AND purpose = $2 AND used_at_ms IS NULL AND expires_at_ms > $3",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(EmailToken {
            token_hash: row.try_get("token_hash")?,
            purpose,
            account_id: row.try_get("account_id")?,
            email: row.try_get("email")?,
            created_at_ms: row.try_get("created_at_ms")?,
            expires_at_ms: row.try_get("expires_at_ms")?,
        }))
    }

    /// Claims the right to send mail for `key` now: true (and `now_ms` recorded) unless mail
    /// for it went less than `gap_ms` ago. One statement, so racing requests cannot both win.
    pub async fn claim_mail_slot(&self, key: &str, now_ms: i64, gap_ms: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO mail_throttle (key, last_ms) VALUES ($1, $2) ON CONFLICT (key) \
             DO UPDATE SET last_ms = excluded.last_ms WHERE mail_throttle.last_ms <= $3",
        )
        .bind(key)
        .bind(now_ms)
        .bind(now_ms.saturating_sub(gap_ms))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Spends a reset token, sets the new password, ends every session of the account and its
    /// other reset and change links (not an undo link: see `spend_account_tokens`), and
    /// records `entry`, in one transaction. Returns how many
    /// sessions ended; [`StoreError::NotFound`] if the token is not (or no longer) good.
    pub async fn reset_password(
        &self,
        token_hash: &[u8],
        new_password_hash: &str,
        now_ms: i64,
        entry: &Activity,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let (account_id, _, _) =
            consume_token(&mut tx, token_hash, TokenPurpose::Reset, now_ms).await?;
        if account_id != entry.account_id {
            return Err(StoreError::NotFound);
        }
        let done = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(new_password_hash)
            .bind(&account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
        let revoked = delete_sessions_except(&mut tx, &account_id, "").await?;
        spend_account_tokens(&mut tx, &account_id, now_ms, i64::MAX).await?;
        insert_activity(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Spends an address-change token and makes its address the account's (verified now),
    /// stores `undo` (for the old address) and queues `undo_mail`, and records `changed`, in
    /// one transaction. A token for the address the account already has verifies it: no undo
    /// is made, and `verified` is recorded instead. [`StoreError::Conflict`] if another account
    /// has the address by now. The account and the old address, which only the token names,
    /// are filled in here (`undo.account_id`, `undo.email`, `undo_mail.to_address`, the
    /// entry's `account_id`).
    pub async fn confirm_email_change(
        &self,
        token_hash: &[u8],
        now_ms: i64,
        mut undo: EmailToken,
        mut undo_mail: MailItem,
        (mut changed, mut verified): (Activity, Activity),
    ) -> Result<AddressMoved> {
        let mut tx = self.pool.begin().await?;
        let (account_id, new_email, _) =
            consume_token(&mut tx, token_hash, TokenPurpose::EmailChange, now_ms).await?;
        let old: String = sqlx::query("SELECT email FROM accounts WHERE id = $1")
            .bind(&account_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get("email")?;
        set_email(&mut tx, &account_id, &new_email, now_ms).await?;
        let entry = if old == new_email {
            &mut verified
        } else {
            undo.account_id.clone_from(&account_id);
            undo.email.clone_from(&old);
            undo_mail.to_address.clone_from(&old);
            insert_token(&mut tx, &undo).await?;
            insert_mail(&mut tx, &undo_mail).await?;
            &mut changed
        };
        entry.account_id.clone_from(&account_id);
        insert_activity(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(AddressMoved {
            account_id,
            from: old,
            to: new_email,
            revoked_sessions: 0,
        })
    }

    /// Spends an undo token: the old address is the account's again, every session ends, the
    /// account's reset and change links and any undo link of a later change end, and `entry`
    /// is recorded (its `account_id` filled in), in one transaction. [`StoreError::Conflict`] if another account has the address by now.
    pub async fn undo_email_change(
        &self,
        token_hash: &[u8],
        now_ms: i64,
        mut entry: Activity,
    ) -> Result<AddressMoved> {
        let mut tx = self.pool.begin().await?;
        let (account_id, old_email, made_at) =
            consume_token(&mut tx, token_hash, TokenPurpose::EmailUndo, now_ms).await?;
        let current: String = sqlx::query("SELECT email FROM accounts WHERE id = $1")
            .bind(&account_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_get("email")?;
        set_email(&mut tx, &account_id, &old_email, now_ms).await?;
        let revoked = delete_sessions_except(&mut tx, &account_id, "").await?;
        spend_account_tokens(&mut tx, &account_id, now_ms, made_at).await?;
        entry.account_id.clone_from(&account_id);
        insert_activity(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(AddressMoved {
            account_id,
            from: current,
            to: old_email,
            revoked_sessions: revoked,
        })
    }

    /// Counts a wrong emailed code against a pending sign-up; at `limit` failures the sign-up
    /// is removed (it must start again). Returns true while it is still pending.
    pub async fn email_code_failed(&self, token_hash: &[u8], limit: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE pending_signups SET email_code_failures = email_code_failures + 1 \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .execute(&mut *tx)
        .await?;
        let gone = sqlx::query(
            "DELETE FROM pending_signups WHERE token_hash = $1 AND email_code_failures >= $2",
        )
        .bind(token_hash)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(gone.rows_affected() == 0)
    }

    /// Queues a message to an address.
    pub async fn enqueue_mail(&self, mail: &MailItem) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        insert_mail(&mut conn, mail).await
    }

    /// Claims up to `limit` messages due at `now_ms`, leased until `lease_until_ms` (as
    /// [`Store::claim_due_notifications`] does).
    pub async fn claim_due_mail(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<MailItem>> {
        let rows = sqlx::query(
            "SELECT id, to_address, template, token_id, created_at_ms, attempts, next_attempt_ms, \
             last_error FROM mail_outbox WHERE next_attempt_ms <= $1 ORDER BY next_attempt_ms LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(mail_item).collect::<Result<Vec<_>>>()?;
        lease(&self.pool, Queue::MailOutbox, items, lease_until_ms, |m| {
            (&m.id, m.next_attempt_ms)
        })
        .await
    }

    /// Records an attempt: `retry_at_ms` `None` removes the message (sent, or given up),
    /// else it waits until then.
    pub async fn finish_mail_attempt(
        &self,
        id: &str,
        retry_at_ms: Option<i64>,
        last_error: &str,
    ) -> Result<()> {
        match retry_at_ms {
            None => {
                sqlx::query("DELETE FROM mail_outbox WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
            Some(at) => {
                sqlx::query(
                    "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_ms = $1, \
                     last_error = $2 WHERE id = $3",
                )
                .bind(at)
                .bind(last_error)
                .bind(id)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Messages still waiting to be sent.
    pub async fn mail_outbox_len(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM mail_outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Removes tokens that expired before `now_ms`, and mail throttles older than a day.
    pub async fn prune_email_tokens(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM email_tokens WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM mail_throttle WHERE last_ms <= $1")
            .bind(now_ms.saturating_sub(24 * 3600 * 1000))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
