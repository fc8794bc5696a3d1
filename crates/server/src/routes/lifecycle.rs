//! A forgotten password and a changed address: the ways back into an account that must not
//! become its weak door.
//!
//! - A reset link goes only to a verified address, is single-use, lives 30 minutes and is
//!   stored as a hash; using it also takes the second factor (a TOTP code or a sign-in
//!   recovery code), and it ends every session in the same transaction. It touches no key:
//!   device keys and the chain are unchanged, so a reset opens no clip.
//! - Asking for a reset answers the same, at the same speed, for every address: the lookup
//!   and the mail happen after the answer is sent.
//! - A new address is confirmed by a link sent to it; the old address is then told and can
//!   undo the change for a week, which also ends every session (whoever made the change is
//!   signed out).
//!
//! The source limits apply to every step; a wrong second factor counts toward the account's
//! lock-out like a failed sign-in, and a locked account cannot be reset until the lock ends.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use porchlight_proto::{
    EmailChangeRequest, EmailChanged, EmailTokenRequest, ErrorBody, ErrorCode, MailAccepted,
    PasswordForgotRequest, PasswordResetDone, PasswordResetRequest,
};
use porchlight_store::{Activity, StoreError, TokenPurpose};
use zeroize::Zeroizing;

use super::accounts::{
    SecondFactor, check_second_factor, confirm_identity, entry, invalid_code, notify, parse_email,
    record_failure, second_factor, weak_password,
};
use crate::auth::password::check_policy;
use crate::auth::secrets::{looks_like_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Authed, ClientAddr};
use crate::mail::{
    CHANGE_TTL_MS, RESET_TTL_MS, Template, UNDO_TTL_MS, mail_item, masked, token_for,
};
use crate::state::AppState;

/// Where an emailed token is used there is no device name yet.
const BY_LINK: &str = "link from email";

fn mail_off() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::MailOff,
        "this server sends no email, so this cannot be done here; ask whoever runs it",
    )
}

fn require_mail(state: &AppState) -> ApiResult<()> {
    if state.config.notify.smtp.is_some() {
        Ok(())
    } else {
        Err(mail_off())
    }
}

/// The token of a request, or the same refusal as a wrong one (junk never reaches the store).
fn token_of(text: &str) -> ApiResult<Vec<u8>> {
    let text = text.trim();
    if looks_like_token(text) {
        Ok(token_hash(text))
    } else {
        Err(invalid_code())
    }
}

/// "the 2 signed-in sessions were ended", for a change that ends them all.
fn every_session_ended(n: u64) -> String {
    match n {
        0 => "no device was signed in".to_owned(),
        1 => "the 1 signed-in session was ended".to_owned(),
        n => format!("all {n} signed-in sessions were ended"),
    }
}

/// What spending an emailed token answers: a token that was not (or no longer) good is a
/// wrong code; an address another account took meanwhile is a conflict.
fn spent<T>(outcome: Result<T, StoreError>) -> ApiResult<T> {
    outcome.map_err(|e| match e {
        StoreError::NotFound => invalid_code(),
        StoreError::Conflict => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "that address is now used by another account",
        ),
        other => other.into(),
    })
}

// ---- a forgotten password ----

const RESET_ACCEPTED: &str = "If an account uses that address, a link to reset its password is \
    on its way. It works for 30 minutes.";

/// Sends a reset link to the address if an account has it and it is verified. The answer is
/// the same for every address and does not wait for the lookup.
#[utoipa::path(post, path = "/api/password/forgot", tag = "accounts", request_body = PasswordForgotRequest,
    responses((status = 202, body = MailAccepted),
        (status = 422, body = ErrorBody, description = "`invalid_email`: not an address"),
        (status = 429, body = ErrorBody, description = "`throttled`: too many requests from this address; see `Retry-After`"),
        (status = 503, body = ErrorBody, description = "`mail_off`: this server sends no email")))]
pub async fn password_forgot(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<PasswordForgotRequest>,
) -> ApiResult<(StatusCode, Json<MailAccepted>)> {
    state
        .guard
        .admit(&state.store, &addr.0, state.now_ms())
        .await?;
    require_mail(&state)?;
    let email = parse_email(&req.email)?;
    let background = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send_reset(&background, &email, &addr).await {
            tracing::warn!(cause = %e.message, "a password-reset request could not be served");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(MailAccepted {
            message: RESET_ACCEPTED.to_owned(),
        }),
    ))
}

async fn send_reset(state: &AppState, email: &str, addr: &ClientAddr) -> ApiResult<()> {
    let now = state.now_ms();
    let Some(account) = state.store.account_by_email(email).await? else {
        return Ok(());
    };
    if account.email_verified_at_ms.is_none() {
        // A link to an address never proven to be the owner's is how takeovers start.
        return Ok(());
    }
    // One link a minute per account: asking again and again fills no inbox.
    if !state
        .store
        .claim_mail_slot(&format!("reset:{}", account.id), now, 60_000)
        .await?
    {
        return Ok(());
    }
    let item = mail_item(Template::Reset, &account.email, now);
    let token = token_for(
        &state.secret,
        &item,
        TokenPurpose::Reset,
        &account.id,
        &account.email,
        now,
        RESET_TTL_MS,
    );
    state.store.issue_email_token(&token, &item).await?;
    state
        .store
        .add_activity(&entry(
            state,
            &account.id,
            "password_reset_requested",
            addr,
            BY_LINK,
            "a reset link was sent to the account's address",
        ))
        .await?;
    state.notifier.wake();
    Ok(())
}

/// Sets a new password with the emailed token and the second factor; every session of the
/// account ends in the same transaction.
#[utoipa::path(post, path = "/api/password/reset", tag = "accounts", request_body = PasswordResetRequest,
    responses((status = 200, body = PasswordResetDone),
        (status = 401, body = ErrorBody, description = "`invalid_code`: the token is wrong, used or expired; `invalid_credentials`: the second factor is wrong (the token stays good)"),
        (status = 422, body = ErrorBody, description = "`weak_password`, or not exactly one of `totp_code` and `recovery_code`"),
        (status = 429, body = ErrorBody, description = "`throttled`: too many attempts from this address, or the account's sign-in is locked; see `Retry-After`")))]
pub async fn password_reset(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(mut req): ApiJson<PasswordResetRequest>,
) -> ApiResult<Json<PasswordResetDone>> {
    let new_password = Zeroizing::new(std::mem::take(&mut req.new_password));
    let factor = second_factor(&req.totp_code, &req.recovery_code)?;
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let hash = token_of(&req.token)?;
    let token = state
        .store
        .email_token(&hash, TokenPurpose::Reset, now)
        .await?
        .ok_or_else(invalid_code)?;
    let account = state
        .store
        .account_by_id(&token.account_id)
        .await?
        .ok_or_else(invalid_code)?;
    let name_key = state.secret.name_key(&account.email);
    state.guard.check_name(&state.store, &name_key, now).await?;
    check_policy(&new_password, &account.email).map_err(weak_password)?;
    if let Err(reason) = check_second_factor(&state, &account, &factor).await? {
        record_failure(
            &state,
            &addr,
            &account.email,
            Some(&account),
            &format!("password reset: {reason}"),
            false,
            BY_LINK,
        )
        .await?;
        return Err(ApiError::invalid_credentials());
    }
    let password_hash = state.hasher.hash(new_password).await?;
    let how = match factor {
        SecondFactor::Totp(_) => "with the emailed link and an authenticator code",
        SecondFactor::Recovery(_) => "with the emailed link and a recovery code",
    };
    let e = entry(
        &state,
        &account.id,
        "password_reset",
        &addr,
        BY_LINK,
        format!("password reset {how}; every session ended"),
    );
    let revoked = spent(
        state
            .store
            .reset_password(&hash, &password_hash, state.now_ms(), &e)
            .await,
    )?;
    state.guard.on_success(&state.store, &name_key).await?;
    let ended = every_session_ended(revoked);
    notify(
        &state,
        &account.id,
        "password_reset",
        "Your password was reset",
        format!(
            "The password of your account was reset from {} {how}; {ended}. Your video is \
             untouched: a reset changes no device key. If it was not you, sign in with your \
             recovery code and set up your authenticator again.",
            addr.0
        ),
    )
    .await?;
    metrics::counter!("porchlight_password_resets_total").increment(1);
    Ok(Json(PasswordResetDone {
        revoked_sessions: revoked,
    }))
}

// ---- a changed address ----

/// Starts moving the account to another address: needs the password and the second factor,
/// and sends a link to the new address. An address another account has gets nothing, and the
/// answer is the same.
#[utoipa::path(post, path = "/api/email", tag = "accounts", request_body = EmailChangeRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 202, body = MailAccepted),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "`invalid_credentials`: the password or code is wrong (the session stays)"),
        (status = 422, body = ErrorBody, description = "`invalid_email`, `invalid_input` (the account's own address, or not exactly one factor)"),
        (status = 429, body = ErrorBody, description = "`throttled`: too many attempts from this address; see `Retry-After`"),
        (status = 503, body = ErrorBody, description = "`mail_off`: this server sends no email")))]
pub async fn change_email(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiJson(mut req): ApiJson<EmailChangeRequest>,
) -> ApiResult<(StatusCode, Json<MailAccepted>)> {
    let password = Zeroizing::new(std::mem::take(&mut req.password));
    let factor = second_factor(&req.totp_code, &req.recovery_code)?;
    state
        .guard
        .admit(&state.store, &addr.0, state.now_ms())
        .await?;
    require_mail(&state)?;
    let new_email = parse_email(&req.new_email)?;
    let account = &authed.account;
    // The account's own address only to verify it (an account made while the server sent no
    // email): the link then proves it, and nothing is undone.
    if new_email == account.email && account.email_verified_at_ms.is_some() {
        return Err(ApiError::invalid_input(
            "that is already the account's address, and it is verified",
        ));
    }
    confirm_identity(&state, &addr, &authed, password, &factor, "address change").await?;
    let device = &authed.session.device_name;
    let now = state.now_ms();
    state
        .store
        .add_activity(&entry(
            &state,
            &account.id,
            "email_change_requested",
            &addr,
            device,
            format!("a link to confirm {} was sent there", masked(&new_email)),
        ))
        .await?;
    let background = state.clone();
    let account_id = account.id.clone();
    let own = new_email == account.email;
    tokio::spawn(async move {
        let sent = async {
            if !own
                && background
                    .store
                    .account_by_email(&new_email)
                    .await?
                    .is_some()
            {
                return Ok::<_, ApiError>(());
            }
            let item = mail_item(Template::EmailChange, &new_email, now);
            let token = token_for(
                &background.secret,
                &item,
                TokenPurpose::EmailChange,
                &account_id,
                &new_email,
                now,
                CHANGE_TTL_MS,
            );
            background.store.issue_email_token(&token, &item).await?;
            background.notifier.wake();
            Ok(())
        };
        if let Err(e) = sent.await {
            tracing::warn!(cause = %e.message, "an address change could not be mailed");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(MailAccepted {
            message: format!(
                "A link is on its way to {}. The address changes when it is opened (within 24 hours).",
                req.new_email.trim()
            ),
        }),
    ))
}

fn change_entry(state: &AppState, addr: &ClientAddr, kind: &str, detail: String) -> Activity {
    // The store fills in the account, which only the token names.
    entry(state, "", kind, addr, BY_LINK, detail)
}

/// Makes the new address the account's, with the token mailed to it. The old address is then
/// sent a link that undoes the change.
#[utoipa::path(post, path = "/api/email/confirm", tag = "accounts", request_body = EmailTokenRequest,
    responses((status = 200, body = EmailChanged),
        (status = 401, body = ErrorBody, description = "`invalid_code`: the token is wrong, used or expired"),
        (status = 409, body = ErrorBody, description = "`conflict`: another account has the address by now"),
        (status = 429, body = ErrorBody, description = "`throttled`: too many requests from this address; see `Retry-After`")))]
pub async fn confirm_email(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<EmailTokenRequest>,
) -> ApiResult<Json<EmailChanged>> {
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let hash = token_of(&req.token)?;
    let undo_mail = mail_item(Template::EmailUndo, "", now);
    let undo = token_for(
        &state.secret,
        &undo_mail,
        TokenPurpose::EmailUndo,
        "",
        "",
        now,
        UNDO_TTL_MS,
    );
    let changed = change_entry(
        &state,
        &addr,
        "email_changed",
        "the account's address was changed; the old address can undo it for 7 days".to_owned(),
    );
    let verified = change_entry(
        &state,
        &addr,
        "email_verified",
        "the account's address was verified by a link sent to it".to_owned(),
    );
    let moved = spent(
        state
            .store
            .confirm_email_change(&hash, now, undo, undo_mail, (changed, verified))
            .await,
    )?;
    state.notifier.wake();
    if moved.from == moved.to {
        notify(
            &state,
            &moved.account_id,
            "email_verified",
            "Your address is verified",
            "Security notices and password resets can now be sent to this address.",
        )
        .await?;
    } else {
        notify(
            &state,
            &moved.account_id,
            "email_changed",
            "Your account uses a new address",
            format!(
                "Your account now uses {}. {} was told and can undo the change for 7 days.",
                moved.to,
                masked(&moved.from)
            ),
        )
        .await?;
    }
    Ok(Json(EmailChanged {
        email: moved.to,
        revoked_sessions: 0,
    }))
}

/// Takes a change back with the token mailed to the old address: that address is the
/// account's again and every session ends.
#[utoipa::path(post, path = "/api/email/undo", tag = "accounts", request_body = EmailTokenRequest,
    responses((status = 200, body = EmailChanged),
        (status = 401, body = ErrorBody, description = "`invalid_code`: the token is wrong, used or expired"),
        (status = 409, body = ErrorBody, description = "`conflict`: another account has the old address by now"),
        (status = 429, body = ErrorBody, description = "`throttled`: too many requests from this address; see `Retry-After`")))]
pub async fn undo_email_change(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<EmailTokenRequest>,
) -> ApiResult<Json<EmailChanged>> {
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let hash = token_of(&req.token)?;
    let e = change_entry(
        &state,
        &addr,
        "email_change_undone",
        "the change of address was undone from the old address; every session ended".to_owned(),
    );
    let moved = spent(state.store.undo_email_change(&hash, now, e).await)?;
    notify(
        &state,
        &moved.account_id,
        "email_change_undone",
        "The change of your address was undone",
        format!(
            "Your account uses {} again; {}. If you did not change the address, someone had \
             your password and second factor: sign in and change both now.",
            moved.to,
            every_session_ended(moved.revoked_sessions)
        ),
    )
    .await?;
    Ok(Json(EmailChanged {
        email: moved.to,
        revoked_sessions: moved.revoked_sessions,
    }))
}
