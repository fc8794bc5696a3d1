//! Sign-up with mandatory TOTP enrolment, sign-in, sessions, security changes, activity and
//! the notification feed.
//!
//! Every failure at sign-in answers the same (`401 invalid_credentials`, same body) whether
//! the email is unknown, the password wrong or the code wrong or replayed; an unknown email
//! costs one Argon2 verification like a known one. Only the owner, in their activity list,
//! learns which it was.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use porchlight_proto::{
    ActivityEntry, ActivityList, CsrfToken, ErrorBody, ErrorCode, LoginRequest, LogoutRequest, Me,
    Notification as WireNotification, NotificationList, PasswordChangeRequest, Revoked,
    SessionCreated, SessionInfo, SessionList, SignupConfirmRequest, SignupRequest, SignupResponse,
    TotpEnrolment, TotpResetConfirmRequest, TotpResetDone, TotpResetRequest, WebSessionCreated,
};
use porchlight_store::{Account, Activity, PendingSignup, Session, StoreError};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use zeroize::Zeroizing;

use crate::auth::browser::{cleared_cookie, session_cookie};
use crate::auth::password::check_policy;
use crate::auth::secrets::{
    device_hash, generate_recovery_codes, issue_token, looks_like_token, random_id,
    recovery_code_hash, token_hash,
};
use crate::auth::totp;
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    ApiJson, ApiPath, ApiQuery, Authed, ClientAddr, CookieSecurity, Credential, DeviceId, WebSignIn,
};
use crate::mail::{self, Template};
use crate::notify::Notice;
use crate::state::AppState;

/// How long a sign-up may wait for its first TOTP code.
const ENROLMENT_TTL_MS: i64 = 15 * 60 * 1000;
/// How long a replacement second factor may wait for its first code.
const TOTP_RESET_TTL_MS: i64 = 10 * 60 * 1000;

// ---- helpers ----

pub(crate) fn weak_password(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::WeakPassword,
        message,
    )
}

pub(crate) fn invalid_code() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCode,
        "the code is wrong, expired or already used",
    )
}

/// A wrong current password on a signed-in request: refused, but the session stays valid.
pub(crate) fn wrong_password() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::InvalidCredentials,
        "the password or code is not right",
    )
}

/// Lower-cased, trimmed, and deliverable-looking; the store keeps this form.
pub(crate) fn parse_email(raw: &str) -> ApiResult<String> {
    let email = raw.trim().to_lowercase();
    let domain_has_dot = email
        .rsplit_once('@')
        .is_some_and(|(_, d)| d.contains('.') && !d.ends_with('.'));
    if email.len() > 254 || !domain_has_dot || !email_address::EmailAddress::is_valid(&email) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidEmail,
            "that is not an email address we can use",
        ));
    }
    Ok(email)
}

/// A label a person can read in a session list: printable, at most 64 characters.
fn device_label(name: Option<&str>) -> String {
    let clean: String = name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "unnamed device".to_owned()
    } else {
        clean.to_owned()
    }
}

/// "1 other session was ended", "2 other sessions were ended".
pub(crate) fn sessions_ended(n: u64) -> String {
    match n {
        1 => "1 other session was ended".to_owned(),
        n => format!("{n} other sessions were ended"),
    }
}

pub(crate) fn entry(
    state: &AppState,
    account_id: &str,
    kind: &str,
    addr: &ClientAddr,
    device: &str,
    detail: impl Into<String>,
) -> Activity {
    Activity {
        id: random_id(),
        account_id: account_id.to_owned(),
        at_ms: state.now_ms(),
        kind: kind.to_owned(),
        source_addr: addr.0.clone(),
        device_name: device.to_owned(),
        detail: detail.into(),
    }
}

pub(crate) async fn notify(
    state: &AppState,
    account_id: &str,
    kind: &'static str,
    subject: impl Into<String>,
    body: impl Into<String>,
) -> ApiResult<()> {
    let notice = Notice {
        kind,
        subject: subject.into(),
        body: body.into(),
    };
    state
        .notifier
        .send(&state.store, account_id, state.now_ms(), notice)
        .await?;
    Ok(())
}

fn new_session(
    state: &AppState,
    account_id: &str,
    device: &DeviceId,
    device_name: &str,
    addr: &ClientAddr,
) -> (Session, Zeroizing<String>) {
    let token = issue_token();
    let now = state.now_ms();
    let session = Session {
        id: random_id(),
        token_hash: token.hash,
        account_id: account_id.to_owned(),
        device_hash: device_hash(&device.0),
        device_name: device_name.to_owned(),
        source_addr: addr.0.clone(),
        created_at_ms: now,
        last_seen_at_ms: now,
        expires_at_ms: now.saturating_add(
            state
                .config
                .session
                .absolute_timeout_secs
                .saturating_mul(1000),
        ),
    };
    (session, token.text)
}

/// What a sign-in answers (`201`). For API clients, the bearer token in the body. For the
/// browser app (`porchlight-web: 1`), the token in the HttpOnly session cookie, living until
/// the session's absolute expiry, and a body without it: script on the page never holds
/// the token, only the CSRF token its writes must carry.
fn created(
    state: &AppState,
    web: WebSignIn,
    session: &Session,
    token: &Zeroizing<String>,
) -> ApiResult<Response> {
    let Some(security) = web.0 else {
        let body = SessionCreated {
            token: token.to_string(),
            session_id: session.id.clone(),
            account_id: session.account_id.clone(),
            expires_at_ms: session.expires_at_ms,
        };
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    };
    let max_age_secs = (session.expires_at_ms - state.now_ms()) / 1000;
    let cookie = session_cookie(token, max_age_secs, security.secure)
        .ok_or_else(|| ApiError::internal(&"a session cookie is not a header value"))?;
    let body = WebSessionCreated {
        session_id: session.id.clone(),
        account_id: session.account_id.clone(),
        expires_at_ms: session.expires_at_ms,
        csrf_token: state.secret.csrf_token(&session.token_hash),
    };
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(body),
    )
        .into_response())
}

/// The two bodies of a new session, for the API document only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum NewSession {
    /// Without `porchlight-web`: the bearer token is in the body.
    Bearer(SessionCreated),
    /// With `porchlight-web: 1`: the token is in the `porchlight_session` cookie, not here.
    Web(WebSessionCreated),
}

pub(crate) enum SecondFactor<'a> {
    Totp(&'a str),
    Recovery(&'a str),
}

/// Exactly one of a TOTP code and a recovery code, checked before any password work so that
/// a malformed request reveals nothing about the password.
pub(crate) fn second_factor<'a>(
    totp_code: &'a Option<String>,
    recovery_code: &'a Option<String>,
) -> ApiResult<SecondFactor<'a>> {
    match (totp_code.as_deref(), recovery_code.as_deref()) {
        (Some(code), None) => Ok(SecondFactor::Totp(code)),
        (None, Some(code)) => Ok(SecondFactor::Recovery(code)),
        _ => Err(ApiError::invalid_input(
            "send exactly one of totp_code and recovery_code",
        )),
    }
}

/// A stored TOTP secret, opened with the server's secret (`ServerSecret::seal_totp`).
pub(crate) fn open_totp(state: &AppState, stored: &[u8]) -> ApiResult<Zeroizing<Vec<u8>>> {
    state.secret.open_totp(stored).ok_or_else(|| {
        ApiError::internal(&"a stored TOTP secret does not open with this server's secret file")
    })
}

/// Checks and consumes the second factor. `Err(reason)` says why it failed, for the owner's
/// activity list only.
pub(crate) async fn check_second_factor(
    state: &AppState,
    account: &Account,
    factor: &SecondFactor<'_>,
) -> ApiResult<Result<(), &'static str>> {
    let now = state.now_ms();
    match factor {
        SecondFactor::Totp(code) => {
            let secret = open_totp(state, &account.totp_secret)?;
            let Some(step) = totp::matching_step(&secret, code, now) else {
                return Ok(Err("wrong authenticator code"));
            };
            if state.store.consume_totp_step(&account.id, step).await? {
                Ok(Ok(()))
            } else {
                Ok(Err("an authenticator code that was already used"))
            }
        }
        SecondFactor::Recovery(code) => {
            if state
                .store
                .consume_recovery_code(&account.id, &recovery_code_hash(code), now)
                .await?
            {
                Ok(Ok(()))
            } else {
                Ok(Err("wrong or used recovery code"))
            }
        }
    }
}

/// Counts a failed proof of identity (sign-in, or a password check on a signed-in request)
/// and tells the owner what they need to know.
pub(crate) async fn record_failure(
    state: &AppState,
    addr: &ClientAddr,
    email: &str,
    account: Option<&Account>,
    reason: &str,
    password_ok: bool,
    device: &str,
) -> ApiResult<()> {
    let now = state.now_ms();
    let name_key = state.secret.name_key(email);
    let outcome = state
        .guard
        .on_failure(&state.store, &addr.0, &name_key, now)
        .await?;
    metrics::counter!("porchlight_signin_failures_total").increment(1);
    let Some(account) = account else {
        return Ok(());
    };
    state
        .store
        .add_activity(&entry(
            state,
            &account.id,
            "sign_in_failed",
            addr,
            device,
            reason,
        ))
        .await?;
    if password_ok {
        notify(
            state,
            &account.id,
            "password_used",
            "Your password was used with a wrong second factor",
            format!("Someone entered your correct password from {} but failed the second factor ({reason}). If it was not you, change your password now.", addr.0),
        )
        .await?;
    }
    if let Some(until) = outcome.locked_until_ms {
        let minutes = (until - now + 59_999) / 60_000;
        state
            .store
            .add_activity(&entry(
                state,
                &account.id,
                "locked_out",
                addr,
                device,
                format!(
                    "{} failed attempts; sign-in locked for {minutes} min",
                    outcome.consecutive_failures
                ),
            ))
            .await?;
        notify(
            state,
            &account.id,
            "locked_out",
            "Sign-in to your account is locked for a while",
            format!("After {} failed sign-in attempts (the last from {}), sign-in is locked for {minutes} minutes.", outcome.consecutive_failures, addr.0),
        )
        .await?;
    }
    Ok(())
}

/// The password and a second factor, asked again of a signed-in person before a security
/// change (`what` names it in the owner's activity list). A failure counts toward the lock-out
/// like a failed sign-in, tells the owner when the password was right, and is refused with
/// `403` so that the session stays.
pub(crate) async fn confirm_identity(
    state: &AppState,
    addr: &ClientAddr,
    authed: &Authed,
    password: Zeroizing<String>,
    factor: &SecondFactor<'_>,
    what: &str,
) -> ApiResult<()> {
    let account = &authed.account;
    let password_ok = state
        .hasher
        .verify(password, Some(account.password_hash.clone()))
        .await?;
    let failure = if password_ok {
        check_second_factor(state, account, factor).await?.err()
    } else {
        Some("wrong password")
    };
    if let Some(reason) = failure {
        record_failure(
            state,
            addr,
            &account.email,
            Some(account),
            &format!("{what}: {reason}"),
            password_ok,
            &authed.session.device_name,
        )
        .await?;
        return Err(wrong_password());
    }
    Ok(())
}

const WEB_SIGN_IN: &str = "`1` from the browser app: the session is set as the HttpOnly \
    `porchlight_session` cookie and the body is a `WebSessionCreated`, without the token. \
    Refused (`403 csrf`) when `Sec-Fetch-Site` or `Origin` says another site sent it.";
const NEW_SESSION: &str = "`SessionCreated` (the bearer token) for API clients; with \
    `porchlight-web: 1`, `WebSessionCreated` (no token; the CSRF token for writes) and \
    `Set-Cookie: porchlight_session=…; Path=/; HttpOnly; SameSite=Strict; Secure; \
    Max-Age=<seconds to the session's absolute expiry>` (`Secure` left out for a loopback host)";

// ---- sign-up ----

/// Starts a sign-up: returns the second factor to enrol. Nothing exists until it is confirmed.
///
/// On a server that sends email the address must prove itself too: a code goes to it, and
/// confirming needs that code. An address that already has an account gets a note instead
/// (its owner learns of the attempt) and the answer is the same, so sign-up tells no one
/// which addresses have accounts.
#[utoipa::path(post, path = "/api/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 201, body = SignupResponse), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<SignupResponse>)> {
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let password = Zeroizing::new(req.password);
    let email = parse_email(&req.email)?;
    check_policy(&password, &email).map_err(weak_password)?;
    let password_hash = state.hasher.hash(password).await?;
    let secret = totp::generate_secret();
    let (otpauth_uri, totp_secret) =
        totp::enrolment(&secret, &email).map_err(|e| ApiError::internal(&e))?;
    let codes = generate_recovery_codes();
    let token = issue_token();
    let mail_on = state.config.notify.smtp.is_some();
    let code_mail = mail_on.then(|| mail::mail_item(Template::SignupCode, &email, now));
    let pending = PendingSignup {
        token_hash: token.hash.clone(),
        email,
        password_hash,
        totp_secret: state.secret.seal_totp(&secret),
        recovery_hashes: codes.iter().map(|c| recovery_code_hash(c)).collect(),
        expires_at_ms: now + ENROLMENT_TTL_MS,
        email_code_hash: code_mail.as_ref().map(|m| {
            let code = state.secret.signup_code(&m.token_id);
            state.secret.signup_code_hash(&token.hash, &code)
        }),
    };
    state.store.insert_pending_signup(&pending).await?;
    if let Some(code_mail) = code_mail {
        match state.store.account_by_email(&pending.email).await? {
            Some(existing) => {
                notify(&state, &existing.id, "signup_attempt", "Someone tried to sign up with your email address",
                    format!("A sign-up for your address was started from {}. It cannot finish without a code sent here, and none was. Your account is unchanged.", addr.0)).await?;
            }
            None => {
                state.store.enqueue_mail(&code_mail).await?;
                state.notifier.wake();
            }
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            enrolment_token: token.text.to_string(),
            otpauth_uri,
            totp_secret,
            recovery_codes: codes.iter().map(|c| c.to_string()).collect(),
            expires_at_ms: pending.expires_at_ms,
            email_code_sent: mail_on,
        }),
    ))
}

/// Wrong emailed codes a sign-up survives; the next one ends it.
const EMAIL_CODE_TRIES: i64 = 5;

/// Confirms the first TOTP code: the account now exists, and this is its first session.
#[utoipa::path(post, path = "/api/signup/confirm", tag = "accounts", request_body = SignupConfirmRequest,
    params(("porchlight-device" = String, Header, description = "the client's device id"),
        ("porchlight-web" = Option<String>, Header, description = WEB_SIGN_IN)),
    responses((status = 201, body = NewSession, description = NEW_SESSION,
            headers(("set-cookie" = String, description = "only with `porchlight-web: 1`"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "no valid `porchlight-device` header, or a `porchlight-web` other than `1`"), (status = 429, body = ErrorBody, description = "`throttled`: too many failed attempts from this address; see `Retry-After`")))]
pub async fn signup_confirm(
    State(state): State<AppState>,
    addr: ClientAddr,
    device: DeviceId,
    web: WebSignIn,
    ApiJson(req): ApiJson<SignupConfirmRequest>,
) -> ApiResult<Response> {
    state
        .guard
        .admit(&state.store, &addr.0, state.now_ms())
        .await?;
    if !looks_like_token(&req.enrolment_token) {
        return Err(invalid_code());
    }
    let now = state.now_ms();
    let pending = state
        .store
        .pending_signup(&token_hash(&req.enrolment_token), now)
        .await?
        .ok_or_else(invalid_code)?;
    let secret = open_totp(&state, &pending.totp_secret)?;
    let step = totp::matching_step(&secret, &req.code, now).ok_or_else(invalid_code)?;
    if let Some(expected) = &pending.email_code_hash {
        let typed = req.email_code.as_deref().unwrap_or_default();
        let given = state.secret.signup_code_hash(&pending.token_hash, typed);
        if !bool::from(given.ct_eq(expected)) {
            state
                .store
                .email_code_failed(&pending.token_hash, EMAIL_CODE_TRIES)
                .await?;
            return Err(invalid_code());
        }
    }
    let account_id = random_id();
    let label = device_label(req.device_name.as_deref());
    let (session, token) = new_session(&state, &account_id, &device, &label, &addr);
    let welcome = entry(
        &state,
        &account_id,
        "account_created",
        &addr,
        &label,
        "account created with an authenticator app",
    );
    match state
        .store
        .complete_signup(&pending, &account_id, step, &session, &welcome)
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(invalid_code()),
        Err(StoreError::Conflict) => {
            // The address has an account. Tell its owner, and the requester only that sign-up
            // did not complete — after they proved control of a fresh authenticator, not before.
            if let Some(existing) = state.store.account_by_email(&pending.email).await? {
                notify(&state, &existing.id, "signup_attempt", "Someone tried to sign up with your email address",
                    format!("A sign-up for your address was attempted from {}. Your account is unchanged.", addr.0)).await?;
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::SignupFailed,
                "sign-up could not be completed; if you already have an account, sign in instead",
            ));
        }
        Err(other) => return Err(other.into()),
    }
    metrics::counter!("porchlight_signups_total").increment(1);
    created(&state, web, &session, &token)
}

// ---- sign-in ----

/// Signs in with password and second factor (an authenticator code, or a recovery code).
#[utoipa::path(post, path = "/api/login", tag = "accounts", request_body = LoginRequest,
    params(("porchlight-device" = String, Header, description = "the client's device id"),
        ("porchlight-web" = Option<String>, Header, description = WEB_SIGN_IN)),
    responses((status = 201, body = NewSession, description = NEW_SESSION,
            headers(("set-cookie" = String, description = "only with `porchlight-web: 1`"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "no valid `porchlight-device` header, a `porchlight-web` other than `1`, or not exactly one of `totp_code` and `recovery_code`")))]
pub async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    device: DeviceId,
    web: WebSignIn,
    ApiJson(mut req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let password = Zeroizing::new(std::mem::take(&mut req.password));
    let factor = second_factor(&req.totp_code, &req.recovery_code)?;
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let name_key = state.secret.name_key(&req.email);
    state.guard.check_name(&state.store, &name_key, now).await?;
    let label = device_label(req.device_name.as_deref());
    let account = match parse_email(&req.email) {
        Ok(email) => state.store.account_by_email(&email).await?,
        Err(_) => None,
    };
    let password_ok = state
        .hasher
        .verify(password, account.as_ref().map(|a| a.password_hash.clone()))
        .await?;
    let failure = match (&account, password_ok) {
        (Some(a), true) => check_second_factor(&state, a, &factor).await?.err(),
        (Some(_), false) => Some("wrong password"),
        (None, _) => Some("no such account"),
    };
    if let Some(reason) = failure {
        record_failure(
            &state,
            &addr,
            &req.email,
            account.as_ref(),
            reason,
            password_ok,
            &label,
        )
        .await?;
        return Err(ApiError::invalid_credentials());
    }
    let Some(account) = account else {
        return Err(ApiError::invalid_credentials());
    };
    state.guard.on_success(&state.store, &name_key).await?;
    let (session, token) = new_session(&state, &account.id, &device, &label, &addr);
    let new_device = state.store.create_session(&session).await?;
    let how = match factor {
        SecondFactor::Totp(_) => "password and authenticator code",
        SecondFactor::Recovery(_) => "password and a recovery code",
    };
    state
        .store
        .add_activity(&entry(&state, &account.id, "sign_in", &addr, &label, how))
        .await?;
    if new_device {
        state
            .store
            .add_activity(&entry(
                &state,
                &account.id,
                "new_device",
                &addr,
                &label,
                "first sign-in from this device",
            ))
            .await?;
        notify(&state, &account.id, "new_device", format!("New sign-in from \"{label}\""),
            format!("Your account was signed in from a device it had not seen before (\"{label}\", from {}). If it was not you, sign out everywhere and change your password.", addr.0)).await?;
    }
    if matches!(factor, SecondFactor::Recovery(_)) {
        let left = state.store.unused_recovery_codes(&account.id).await?;
        notify(
            &state,
            &account.id,
            "recovery_code_used",
            "A recovery code was used to sign in",
            format!(
                "You have {left} unused recovery codes left. Set up your authenticator again soon."
            ),
        )
        .await?;
    }
    metrics::counter!("porchlight_signins_total").increment(1);
    created(&state, web, &session, &token)
}

/// Ends this session, or with `everywhere` every session of the account. A session that
/// came in the cookie is also cleared from the browser (`Set-Cookie` with `Max-Age=0`).
#[utoipa::path(post, path = "/api/logout", tag = "sessions", request_body = LogoutRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    cookies: CookieSecurity,
    ApiJson(req): ApiJson<LogoutRequest>,
) -> ApiResult<Response> {
    let device = &authed.session.device_name;
    let mut revoked = 0;
    if req.everywhere {
        let e = entry(
            &state,
            &authed.account.id,
            "signed_out_everywhere",
            &addr,
            device,
            "every session ended",
        );
        revoked += state
            .store
            .delete_other_sessions(&authed.account.id, &authed.session.id, &e)
            .await?;
    }
    let e = entry(
        &state,
        &authed.account.id,
        "sign_out",
        &addr,
        device,
        "signed out",
    );
    if state
        .store
        .delete_session(&authed.account.id, &authed.session.id, Some(&e))
        .await?
    {
        revoked += 1;
    }
    let body = Json(Revoked {
        revoked_sessions: revoked,
    });
    Ok(match authed.credential {
        Credential::Cookie => {
            ([(header::SET_COOKIE, cleared_cookie(cookies.secure))], body).into_response()
        }
        Credential::Bearer => body.into_response(),
    })
}

/// The session's CSRF token again, for a page reloaded with the cookie but without the
/// token (script cannot read the HttpOnly cookie, and the token is derived from it).
#[utoipa::path(get, path = "/api/session/csrf", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CsrfToken), (status = 401, body = ErrorBody)))]
pub async fn csrf_token(State(state): State<AppState>, authed: Authed) -> Json<CsrfToken> {
    Json(CsrfToken {
        csrf_token: state.secret.csrf_token(&authed.session.token_hash),
    })
}

// ---- the account ----

#[utoipa::path(get, path = "/api/me", tag = "accounts", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, authed: Authed) -> Json<Me> {
    Json(Me {
        account_id: authed.account.id,
        email: authed.account.email,
        created_at_ms: authed.account.created_at_ms,
        session_id: authed.session.id,
        research_program: state.config.research.recipient().is_some(),
        email_verified: authed.account.email_verified_at_ms.is_some(),
        server_sends_email: state.config.notify.smtp.is_some(),
    })
}

#[utoipa::path(get, path = "/api/sessions", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)))]
pub async fn sessions(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<SessionList>> {
    let idle_ms = state.config.session.idle_timeout_secs.saturating_mul(1000);
    let now = state.now_ms();
    let sessions = state
        .store
        .sessions_of(&authed.account.id)
        .await?
        .into_iter()
        .filter(|s| s.expires_at_ms > now && s.last_seen_at_ms.saturating_add(idle_ms) > now)
        .map(|s| SessionInfo {
            current: s.id == authed.session.id,
            idle_expires_at_ms: s
                .last_seen_at_ms
                .saturating_add(idle_ms)
                .min(s.expires_at_ms),
            id: s.id,
            device_name: s.device_name,
            source_addr: s.source_addr,
            created_at_ms: s.created_at_ms,
            last_seen_at_ms: s.last_seen_at_ms,
            expires_at_ms: s.expires_at_ms,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Ends one session of the account (another device's, or this one).
#[utoipa::path(delete, path = "/api/sessions/{id}", tag = "sessions", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let e = entry(
        &state,
        &authed.account.id,
        "session_revoked",
        &addr,
        &authed.session.device_name,
        format!("session {id} ended"),
    );
    if state
        .store
        .delete_session(&authed.account.id, &id, Some(&e))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// Changes the password; every other session of the account ends in the same transaction.
#[utoipa::path(post, path = "/api/password", tag = "accounts", request_body = PasswordChangeRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Revoked), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody, description = "`throttled`: too many failed attempts from this address; see `Retry-After`")))]
pub async fn change_password(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiJson(req): ApiJson<PasswordChangeRequest>,
) -> ApiResult<Json<Revoked>> {
    state
        .guard
        .admit(&state.store, &addr.0, state.now_ms())
        .await?;
    let account = &authed.account;
    let device = &authed.session.device_name;
    let current = Zeroizing::new(req.current_password);
    let new = Zeroizing::new(req.new_password);
    if !state
        .hasher
        .verify(current, Some(account.password_hash.clone()))
        .await?
    {
        record_failure(
            &state,
            &addr,
            &account.email,
            Some(account),
            "wrong current password at password change",
            false,
            device,
        )
        .await?;
        return Err(wrong_password());
    }
    check_policy(&new, &account.email).map_err(weak_password)?;
    let hash = state.hasher.hash(new).await?;
    let e = entry(
        &state,
        &account.id,
        "password_changed",
        &addr,
        device,
        "password changed; other sessions ended",
    );
    let revoked = state
        .store
        .change_password(&account.id, &hash, &authed.session.id, &e)
        .await?;
    notify(
        &state,
        &account.id,
        "password_changed",
        "Your password was changed",
        format!(
            "The password was changed from \"{device}\" ({}); {}.",
            addr.0,
            sessions_ended(revoked)
        ),
    )
    .await?;
    Ok(Json(Revoked {
        revoked_sessions: revoked,
    }))
}

/// Starts replacing the second factor (e.g. a new phone). Needs the password and a current
/// code or a recovery code; the new factor takes effect when a code from it is confirmed.
#[utoipa::path(post, path = "/api/totp/reset", tag = "accounts", request_body = TotpResetRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = TotpEnrolment), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody, description = "`throttled`: too many failed attempts from this address; see `Retry-After`"), (status = 422, body = ErrorBody)))]
pub async fn totp_reset(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiJson(mut req): ApiJson<TotpResetRequest>,
) -> ApiResult<Json<TotpEnrolment>> {
    let password = Zeroizing::new(std::mem::take(&mut req.password));
    let factor = second_factor(&req.totp_code, &req.recovery_code)?;
    state
        .guard
        .admit(&state.store, &addr.0, state.now_ms())
        .await?;
    confirm_identity(
        &state,
        &addr,
        &authed,
        password,
        &factor,
        "second-factor reset",
    )
    .await?;
    let account = &authed.account;
    let device = &authed.session.device_name;
    let secret = totp::generate_secret();
    let until = state.now_ms() + TOTP_RESET_TTL_MS;
    state
        .store
        .set_pending_totp(&account.id, &state.secret.seal_totp(&secret), until)
        .await?;
    // Password plus a recovery code is what a thief holding a session would use: the owner
    // hears of the attempt when it starts, not only when it completes.
    let how = match factor {
        SecondFactor::Totp(_) => "started with password and authenticator code",
        SecondFactor::Recovery(_) => "started with password and a recovery code",
    };
    let started = entry(
        &state,
        &account.id,
        "totp_reset_started",
        &addr,
        device,
        how,
    );
    state.store.add_activity(&started).await?;
    notify(
        &state,
        &account.id,
        "totp_reset_started",
        "A change of your second factor was started",
        format!("From \"{device}\" ({}), {how}. If it was not you, sign out everywhere and change your password.", addr.0),
    )
    .await?;
    let (otpauth_uri, totp_secret) =
        totp::enrolment(&secret, &account.email).map_err(|e| ApiError::internal(&e))?;
    Ok(Json(TotpEnrolment {
        otpauth_uri,
        totp_secret,
        expires_at_ms: until,
    }))
}

/// Confirms the replacement second factor: it takes effect, recovery codes are replaced, and
/// every other session ends in the same transaction.
#[utoipa::path(post, path = "/api/totp/reset/confirm", tag = "accounts", request_body = TotpResetConfirmRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = TotpResetDone), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody, description = "`throttled`: too many failed attempts from this address; see `Retry-After`")))]
pub async fn totp_reset_confirm(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiJson(req): ApiJson<TotpResetConfirmRequest>,
) -> ApiResult<Json<TotpResetDone>> {
    state
        .guard
        .admit(&state.store, &addr.0, state.now_ms())
        .await?;
    let account = &authed.account;
    let now = state.now_ms();
    let pending = match (&account.totp_pending, account.totp_pending_until_ms) {
        (Some(secret), Some(until)) if until > now => secret,
        _ => return Err(invalid_code()),
    };
    let secret = open_totp(&state, pending)?;
    let step = totp::matching_step(&secret, &req.code, now).ok_or_else(invalid_code)?;
    let codes = generate_recovery_codes();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    let device = &authed.session.device_name;
    let e = entry(
        &state,
        &account.id,
        "totp_reset",
        &addr,
        device,
        "second factor replaced; other sessions ended",
    );
    let revoked = match state
        .store
        .finish_totp_reset(&account.id, pending, step, &hashes, &authed.session.id, &e)
        .await
    {
        Err(StoreError::NotFound) => return Err(invalid_code()),
        other => other?,
    };
    notify(
        &state,
        &account.id,
        "totp_reset",
        "Your second factor was replaced",
        format!(
            "A new authenticator was set up from \"{device}\" ({}); {}.",
            addr.0,
            sessions_ended(revoked)
        ),
    )
    .await?;
    Ok(Json(TotpResetDone {
        recovery_codes: codes.iter().map(|c| c.to_string()).collect(),
        revoked_sessions: revoked,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// At most this many entries, newest first (1 to 1000, default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<ListLimit>,
}

impl ListQuery {
    fn limit(&self) -> i64 {
        self.limit.map_or(100, |l| l.0)
    }
}

/// How many entries a list may hold: 1 to 1000, refused at parse (`400`) otherwise, as the
/// document says.
#[derive(Debug, Clone, Copy)]
pub struct ListLimit(i64);

impl<'de> Deserialize<'de> for ListLimit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(deserializer)?;
        if (1..=1000).contains(&n) {
            Ok(Self(n))
        } else {
            Err(serde::de::Error::custom("limit is 1 to 1000"))
        }
    }
}

#[utoipa::path(get, path = "/api/activity", tag = "accounts", params(ListQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ActivityList), (status = 401, body = ErrorBody)))]
pub async fn activity(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ActivityList>> {
    let entries = state
        .store
        .activity_of(&authed.account.id, q.limit())
        .await?
        .into_iter()
        .map(|a| ActivityEntry {
            id: a.id,
            at_ms: a.at_ms,
            kind: a.kind,
            source_addr: a.source_addr,
            device_name: a.device_name,
            detail: a.detail,
        })
        .collect();
    Ok(Json(ActivityList { entries }))
}

#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(ListQuery), security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = NotificationList), (status = 401, body = ErrorBody)))]
pub async fn notifications(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<NotificationList>> {
    let notifications = state
        .store
        .feed_of(&authed.account.id, q.limit())
        .await?
        .into_iter()
        .map(|n| WireNotification {
            id: n.id,
            at_ms: n.at_ms,
            kind: n.kind,
            subject: n.subject,
            body: n.body,
            read: n.read_at_ms.is_some(),
        })
        .collect();
    Ok(Json(NotificationList { notifications }))
}

#[utoipa::path(post, path = "/api/notifications/read", tag = "notifications", security(("bearer" = []), ("cookie" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn mark_notifications_read(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<StatusCode> {
    state
        .store
        .mark_feed_read(&authed.account.id, state.now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            parse_email("  Ann@Example.COM ").ok().as_deref(),
            Some("ann@example.com")
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "ann@example.",
            "a b@example.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert!(parse_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_input_never_panics(raw in ".{0,300}") {
            if let Ok(email) = parse_email(&raw) {
                proptest::prop_assert!(email.len() <= 254 && email.contains('@'));
                proptest::prop_assert_eq!(parse_email(&email).ok(), Some(email.clone()));
            }
            let label = device_label(Some(&raw));
            proptest::prop_assert!(label.chars().count() <= 64 && !label.chars().any(char::is_control));
        }
    }

    #[test]
    fn device_labels_are_printable_and_bounded() {
        assert_eq!(device_label(None), "unnamed device");
        assert_eq!(
            device_label(Some(" cli\u{1b}[31m on box ")),
            "cli[31m on box"
        );
        assert_eq!(device_label(Some(&"x".repeat(100))).len(), 64);
    }
}
