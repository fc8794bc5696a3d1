//! Rows as the store hands them out. Secret-bearing types redact themselves in `Debug`.

use std::fmt;

/// An enrolled account.
#[derive(Clone)]
pub struct Account {
    pub id: String,
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub totp_secret: Vec<u8>,
    /// The highest TOTP time step accepted so far; codes at or below it are refused.
    pub totp_last_step: i64,
    /// A replacement second factor awaiting its first code, and until when it may be confirmed.
    pub totp_pending: Option<Vec<u8>>,
    pub totp_pending_until_ms: Option<i64>,
    pub created_at_ms: i64,
    /// When a code or link sent to the address came back; `None`: not proven, and nothing
    /// that matters to the account's security is sent there.
    pub email_verified_at_ms: Option<i64>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("created_at_ms", &self.created_at_ms)
            .finish_non_exhaustive()
    }
}

/// A sign-up that has not yet confirmed its first TOTP code. It is not an account: it owns no
/// email address and can do nothing but be confirmed or expire.
#[derive(Clone)]
pub struct PendingSignup {
    pub token_hash: Vec<u8>,
    pub email: String,
    pub password_hash: String,
    pub totp_secret: Vec<u8>,
    pub recovery_hashes: Vec<Vec<u8>>,
    pub expires_at_ms: i64,
    /// The keyed hash of the code mailed to the address, bound to this sign-up; `None` when
    /// the server sends no email (the account is then made with its address unverified).
    pub email_code_hash: Option<Vec<u8>>,
}

impl fmt::Debug for PendingSignup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSignup")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// A session, as stored: the token itself is never stored, only its hash.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub token_hash: Vec<u8>,
    pub account_id: String,
    /// Hash of the client device id the session is bound to.
    pub device_hash: Vec<u8>,
    pub device_name: String,
    pub source_addr: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    /// Absolute expiry.
    pub expires_at_ms: i64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// An account-activity entry the owner can list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub id: String,
    pub account_id: String,
    pub at_ms: i64,
    pub kind: String,
    pub source_addr: String,
    pub device_name: String,
    pub detail: String,
}

/// Consecutive sign-in failures for one sign-in name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginGuard {
    pub failures: i64,
    pub last_failure_ms: i64,
    pub locked_until_ms: i64,
}

/// A notification on its way to its sinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub created_at_ms: i64,
    /// Sinks that have not yet taken it, e.g. `["feed", "webhook", "email"]`.
    pub pending_sinks: Vec<String>,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    pub last_error: String,
}

/// An entry of the in-app notification feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub account_id: String,
    pub at_ms: i64,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub read_at_ms: Option<i64>,
}
