//! Wire types shared by the Porchlight server and its clients.
//!
//! This crate owns the JSON shapes of the HTTP API and the single error shape every route
//! answers with (`{"error": {"code": …, "message": …}}`). It does no I/O and holds no logic
//! beyond (de)serialisation: validation of the values lives where they are parsed, in the
//! server. Request types refuse unknown fields so a typo in a client is an error, not a no-op.
//!
//! Times on the wire are Unix milliseconds, in fields whose names end in `_ms`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

mod e2e;
mod feed;
mod live;
mod push;
mod research;
mod shares;
mod staff;
mod tlog;
pub use e2e::*;
pub use feed::*;
pub use live::*;
pub use push::*;
pub use research::*;
pub use shares::*;
pub use staff::*;
pub use tlog::*;

/// The header that binds a request to a client device. Every client keeps a random device id
/// in its home folder; a session is usable only from the device that created it.
pub const DEVICE_HEADER: &str = "porchlight-device";

/// Sent as `porchlight-web: 1` by the browser app at sign-in: the session then comes back as
/// the [`SESSION_COOKIE`] (HttpOnly) and the body is a [`WebSessionCreated`], without the token.
pub const WEB_HEADER: &str = "porchlight-web";

/// The cookie that carries a browser's session token. Customer sessions only: staff and hub
/// tokens are accepted as `Authorization: Bearer` and nowhere else.
pub const SESSION_COOKIE: &str = "porchlight_session";

/// The header a cookie-authenticated write (any method but GET, HEAD and OPTIONS) must carry,
/// holding the session's CSRF token ([`WebSessionCreated::csrf_token`], [`CsrfToken`]).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The WebSocket subprotocol the server selects. A browser, which cannot set headers on a
/// WebSocket, offers it with its device id as a second one:
/// `Sec-WebSocket-Protocol: porchlight, porchlight-device.<device id>`.
pub const WEBSOCKET_PROTOCOL: &str = "porchlight";

/// The prefix of the subprotocol that names the device on a WebSocket (see
/// [`WEBSOCKET_PROTOCOL`]); read only when the [`DEVICE_HEADER`] is absent.
pub const WEBSOCKET_DEVICE_PREFIX: &str = "porchlight-device.";

/// The one error shape of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable, machine-readable; see [`ErrorCode`].
    pub code: ErrorCode,
    /// For people; never contains a secret or whether an account exists.
    pub message: String,
}

/// Machine-readable error codes. Clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body is not valid JSON, or does not match the request type.
    MalformedRequest,
    /// The request names a field the route does not take.
    UnknownField,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// A value failed validation (the message says which field).
    InvalidInput,
    /// The email address is not one we can send to.
    InvalidEmail,
    /// The password is too short, too long, or too easy to guess.
    WeakPassword,
    /// Email, password or second factor is wrong (deliberately not saying which).
    InvalidCredentials,
    /// A one-time code is wrong, expired, or already used.
    InvalidCode,
    /// No session, or it expired, was revoked, or belongs to another device.
    Unauthenticated,
    /// Signed in, but this is not yours.
    Forbidden,
    /// Sign-up could not be completed.
    SignupFailed,
    /// Too many attempts; retry after the time in `Retry-After`.
    Throttled,
    NotFound,
    MethodNotAllowed,
    /// The resource changed under the request (the chain moved on, a header was re-wrapped
    /// meanwhile, an idempotency key was reused for something else); fetch and retry.
    Conflict,
    /// A device-chain link does not verify (the message names the rule it breaks).
    ChainInvalid,
    /// This device is signed in but not (or no longer) in the account's device chain.
    DeviceNotApproved,
    /// A clip upload or header is not a well-formed sealed clip, or does not match its
    /// signed statement.
    InvalidClip,
    /// Something failed on the server; details are in its log, not here.
    Internal,
    /// The server cannot serve now (e.g. its store is unreachable).
    Unavailable,
    /// A request authenticated by the session cookie did not come from the Porchlight app
    /// (no or a wrong CSRF token, another site's `Origin` or `Sec-Fetch-Site`).
    Csrf,
    /// Consent or research for a camera or clip the caller does not own (a household's
    /// shared camera included: only its owner consents).
    NotOwned,
    /// A consent receipt that does not parse or whose signature does not verify.
    ReceiptInvalid,
    /// A consent receipt signed by a key that is not an active device of the caller's chain.
    SignerNotInChain,
    /// A consent receipt whose nonce was seen before.
    ReceiptReplayed,
    /// A consent receipt issued more than ten minutes from the server's clock.
    ReceiptStale,
    /// A withdrawal of a consent that is not live, or research without any live consent.
    NoConsent,
    /// This server has no research program configured.
    ResearchOff,
    /// No account has a device chain with the root given.
    UnknownAccount,
    /// A feed post's area is finer than a 0.01° grid cell (an exact point).
    ExactLocation,
    /// This server sends no email (no `notify.smtp`), so nothing that needs a message to an
    /// inbox (a forgotten password, a change of address) can be done here.
    MailOff,
}

impl ErrorCode {
    /// The snake_case name, as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "malformed_request",
            Self::UnknownField => "unknown_field",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidInput => "invalid_input",
            Self::InvalidEmail => "invalid_email",
            Self::WeakPassword => "weak_password",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidCode => "invalid_code",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::SignupFailed => "signup_failed",
            Self::Throttled => "throttled",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::ChainInvalid => "chain_invalid",
            Self::DeviceNotApproved => "device_not_approved",
            Self::InvalidClip => "invalid_clip",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::Csrf => "csrf",
            Self::NotOwned => "not_owned",
            Self::ReceiptInvalid => "receipt_invalid",
            Self::SignerNotInChain => "signer_not_in_chain",
            Self::ReceiptReplayed => "receipt_replayed",
            Self::ReceiptStale => "receipt_stale",
            Self::NoConsent => "no_consent",
            Self::ResearchOff => "research_off",
            Self::UnknownAccount => "unknown_account",
            Self::ExactLocation => "exact_location",
            Self::MailOff => "mail_off",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---- sign-up and enrolment ----

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub email: String,
    pub password: String,
}

/// The second factor to enrol. Nothing is usable until a first code from it is confirmed.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupResponse {
    /// Presented to `POST /api/signup/confirm`; good for one confirmation until `expires_at_ms`.
    pub enrolment_token: String,
    /// `otpauth://totp/…` for an authenticator app (show as a QR code).
    pub otpauth_uri: String,
    /// The same secret in base32, for typing into an app by hand.
    pub totp_secret: String,
    /// Shown once; each signs in once in place of a TOTP code. Stored only as hashes.
    pub recovery_codes: Vec<String>,
    pub expires_at_ms: i64,
    /// Whether a code was sent to the address, which `POST /api/signup/confirm` then needs as
    /// `email_code` (the server sends email). The same for every address: an address that
    /// already has an account gets a note instead of a code, and confirming then fails as a
    /// wrong code does.
    #[serde(default)]
    pub email_code_sent: bool,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupConfirmRequest {
    pub enrolment_token: String,
    pub code: String,
    /// The code emailed to the address (`XXXX-XXXX`), when `email_code_sent` said one was.
    #[serde(default)]
    pub email_code: Option<String>,
    /// A label for this session's device, shown in the session list.
    #[serde(default)]
    pub device_name: Option<String>,
}

// ---- sign-in and sessions ----

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// A code from the authenticator app. Exactly one of `totp_code` and `recovery_code`.
    #[serde(default)]
    pub totp_code: Option<String>,
    /// One of the recovery codes shown at sign-up, for a lost authenticator.
    #[serde(default)]
    pub recovery_code: Option<String>,
    #[serde(default)]
    pub device_name: Option<String>,
}

/// A new session. The token is shown only here; the server keeps its hash.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCreated {
    pub token: String,
    pub session_id: String,
    pub account_id: String,
    pub expires_at_ms: i64,
}

/// A new browser session (`porchlight-web: 1` at sign-in). The token went into the HttpOnly
/// [`SESSION_COOKIE`] and is not here; `csrf_token` goes into the [`CSRF_HEADER`] of every
/// write.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebSessionCreated {
    pub session_id: String,
    pub account_id: String,
    pub expires_at_ms: i64,
    /// Hex; the same for the whole session (`GET /api/session/csrf` gives it again).
    pub csrf_token: String,
}

/// The session's CSRF token, for a page reloaded with the cookie but without it.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsrfToken {
    pub csrf_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Also end every other session of the account.
    #[serde(default)]
    pub everywhere: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    /// How many sessions this ended.
    pub revoked_sessions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Me {
    pub account_id: String,
    pub email: String,
    pub created_at_ms: i64,
    pub session_id: String,
    /// Whether this server has a research program (`research.recipient`): without one, apps
    /// offer no research consent, since nothing could ever be added. Absent from an older
    /// server's answer: read as none.
    #[serde(default)]
    pub research_program: bool,
    /// Whether the address was proven by a code or link sent to it. Nothing that matters to
    /// the account's security is sent to an address that was not.
    #[serde(default)]
    pub email_verified: bool,
    /// Whether this server sends email at all (`notify.smtp`): without it no address is
    /// verified, no reset link is sent and the address cannot be changed, so apps offer none
    /// of that. Absent from an older server's answer: read as not.
    #[serde(default)]
    pub server_sends_email: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionInfo {
    pub id: String,
    pub device_name: String,
    pub source_addr: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    /// When it ends even if used (absolute expiry).
    pub expires_at_ms: i64,
    /// When it ends if not used before then (idle expiry).
    pub idle_expires_at_ms: i64,
    /// This is the session making the request.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionList {
    pub sessions: Vec<SessionInfo>,
}

// ---- security changes ----

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    pub current_password: String,
    pub new_password: String,
}

/// Starts replacing the second factor. Needs the password and a current code (or a recovery
/// code, for a lost authenticator).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpResetRequest {
    pub password: String,
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpEnrolment {
    pub otpauth_uri: String,
    pub totp_secret: String,
    pub expires_at_ms: i64,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpResetConfirmRequest {
    /// A code from the new secret.
    pub code: String,
}

/// The new factor is active; every other session has ended.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpResetDone {
    pub recovery_codes: Vec<String>,
    pub revoked_sessions: u64,
}

// ---- a forgotten password, a changed address ----

/// Asks for a reset link. Answered `202` alike for every address.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordForgotRequest {
    pub email: String,
}

/// A request taken in; what became of it arrives by email.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailAccepted {
    /// What to tell the person, the same for every address.
    pub message: String,
}

/// Sets a new password with the emailed token and the second factor.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The token from the email (the link's `#` part, or the code printed under it).
    pub token: String,
    pub new_password: String,
    /// Exactly one of `totp_code` and `recovery_code`.
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// The password is set; every session of the account has ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetDone {
    pub revoked_sessions: u64,
}

/// Starts moving the account to another address: a link goes to the new one.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    pub new_email: String,
    pub password: String,
    /// Exactly one of `totp_code` and `recovery_code`.
    #[serde(default)]
    pub totp_code: Option<String>,
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// A token from an email: confirming a new address, or undoing a change from the old one.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTokenRequest {
    pub token: String,
}

/// The account's address now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChanged {
    pub email: String,
    /// Sessions ended by this change: none for a confirmation, every one for an undo.
    pub revoked_sessions: u64,
}

// ---- activity and notifications ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityEntry {
    pub id: String,
    pub at_ms: i64,
    /// e.g. `sign_in`, `sign_in_failed`, `locked_out`, `password_changed`, `totp_reset`,
    /// `session_revoked`, `signed_out_everywhere`, `new_device`, `account_created`.
    pub kind: String,
    pub source_addr: String,
    pub device_name: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityList {
    pub entries: Vec<ActivityEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    pub id: String,
    pub at_ms: i64,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub read: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationList {
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub status: String,
}

/// `Debug` for types that carry a secret (password, token, code, TOTP secret): only the
/// named fields are shown, so a stray `{:?}` in a log cannot leak one.
macro_rules! redacted_debug {
    ($($ty:ident { $($shown:ident),* }),* $(,)?) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))$(.field(stringify!($shown), &self.$shown))*.finish_non_exhaustive()
            }
        }
    )*};
}

redacted_debug! {
    SignupRequest { email },
    SignupResponse { expires_at_ms },
    SignupConfirmRequest { device_name },
    PasswordForgotRequest { email },
    PasswordResetRequest {  },
    EmailChangeRequest { new_email },
    EmailTokenRequest {  },
    LoginRequest { email, device_name },
    SessionCreated { session_id, account_id, expires_at_ms },
    WebSessionCreated { session_id, account_id, expires_at_ms },
    CsrfToken {  },
    PasswordChangeRequest {  },
    TotpResetRequest {  },
    TotpEnrolment { expires_at_ms },
    TotpResetConfirmRequest {  },
    TotpResetDone { revoked_sessions },
    StaffLoginRequest { email },
    StaffSession { staff_id, role, expires_at_ms },
    AccessDecision {  },
    HubToken { hub_id, expires_at_ms },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_serialise_as_their_names() {
        for code in [
            ErrorCode::MalformedRequest,
            ErrorCode::InvalidCredentials,
            ErrorCode::Throttled,
            ErrorCode::Csrf,
            ErrorCode::NotOwned,
            ErrorCode::ReceiptReplayed,
            ErrorCode::ResearchOff,
            ErrorCode::ExactLocation,
            ErrorCode::MailOff,
        ] {
            let json = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        }
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let login = LoginRequest {
            email: "a@b.c".into(),
            password: "hunter2".into(),
            totp_code: Some("123456".into()),
            recovery_code: None,
            device_name: None,
        };
        let shown = format!("{login:?}");
        assert!(
            shown.contains("a@b.c") && !shown.contains("hunter2") && !shown.contains("123456"),
            "{shown}"
        );
        let session = SessionCreated {
            token: "tok-secret".into(),
            session_id: "s1".into(),
            account_id: "a1".into(),
            expires_at_ms: 1,
        };
        assert!(!format!("{session:?}").contains("tok-secret"));
        let web = WebSessionCreated {
            session_id: "s1".into(),
            account_id: "a1".into(),
            expires_at_ms: 1,
            csrf_token: "csrf-secret".into(),
        };
        assert!(!format!("{web:?}").contains("csrf-secret"));
        let csrf = CsrfToken {
            csrf_token: "csrf-secret".into(),
        };
        assert!(!format!("{csrf:?}").contains("csrf-secret"));
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let err = serde_json::from_str::<LoginRequest>(
            r#"{"email":"a@b.c","password":"x","admin":true}"#,
        );
        assert!(err.is_err());
    }
}
