//! The customer's side of staff access: see who asked for what and why, approve or deny with
//! the second factor, end a grant at any time. Every decision is an activity entry, and so a
//! transparency-log entry.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use porchlight_proto::{
    AccessDecision, AccessRequestInfo, AccessRequestList, AccessRequestState, ErrorBody, ErrorCode,
};
use porchlight_store::{AccessRequest, REQUEST_APPROVED, REQUEST_DENIED};

use zeroize::Zeroizing;

use crate::auth::totp;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, Authed, ClientAddr, JsonBody, parse_json};
use crate::routes::accounts::entry;
use crate::routes::staff::{request_info, request_state};
use crate::state::AppState;

async fn info(state: &AppState, r: &AccessRequest) -> ApiResult<AccessRequestInfo> {
    let staff = state
        .store
        .staff_by_id(&r.staff_id)
        .await?
        .ok_or_else(|| ApiError::internal(&"an access request names no staff member"))?;
    Ok(request_info(r, &staff, state.now_ms()))
}

async fn own_request(state: &AppState, authed: &Authed, id: &str) -> ApiResult<AccessRequest> {
    state
        .store
        .access_request(id)
        .await?
        .filter(|r| r.account_id.as_deref() == Some(authed.account.id.as_str()))
        .ok_or_else(ApiError::not_found)
}

/// The second factor, checked and used up as at sign-in.
async fn check_code(
    state: &AppState,
    authed: &Authed,
    addr: &ClientAddr,
    code: &str,
) -> ApiResult<()> {
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let wrong = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidCode,
            "the code is wrong, expired or already used",
        )
    };
    let secret = crate::routes::accounts::open_totp(state, &authed.account.totp_secret)?;
    let step = totp::matching_step(&secret, code, now).ok_or_else(wrong)?;
    if !state
        .store
        .consume_totp_step(&authed.account.id, step)
        .await?
    {
        return Err(wrong());
    }
    Ok(())
}

/// Staff requests for access to this account, newest first.
#[utoipa::path(get, path = "/api/access-requests", tag = "staff access", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = AccessRequestList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<AccessRequestList>> {
    let mut requests = Vec::new();
    for r in state.store.access_requests_for(&authed.account.id).await? {
        requests.push(info(&state, &r).await?);
    }
    Ok(Json(AccessRequestList { requests }))
}

async fn decide(
    state: &AppState,
    authed: &Authed,
    addr: &ClientAddr,
    id: &str,
    body: &[u8],
    approve: bool,
) -> ApiResult<AccessRequestInfo> {
    // Whose request it is before what was sent: another account learns nothing from the body.
    let request = own_request(state, authed, id).await?;
    let AccessDecision { totp_code: code } = parse_json(body)?;
    let code = Zeroizing::new(code);
    if request.break_glass {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "an emergency (break-glass) grant is not yours to approve; you can revoke it",
        ));
    }
    check_code(state, authed, addr, &code).await?;
    let now = state.now_ms();
    let (to, expires) = if approve {
        (REQUEST_APPROVED, Some(now + request.duration_ms))
    } else {
        (REQUEST_DENIED, None)
    };
    if !state
        .store
        .decide_access_request(&authed.account.id, id, to, now, expires)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "the request was decided already",
        ));
    }
    let kind = if approve {
        "access_approved"
    } else {
        "access_denied"
    };
    let detail = format!(
        "{} {} for ticket {} ({})",
        if approve { "granted" } else { "denied" },
        request.scopes.join(", "),
        request.ticket,
        request.id
    );
    let activity = entry(
        state,
        &authed.account.id,
        kind,
        addr,
        &authed.session.device_name,
        detail,
    );
    state.store.add_activity(&activity).await?;
    let decided = own_request(state, authed, id).await?;
    info(state, &decided).await
}

/// Approves a staff request with the second factor; the grant runs for its duration.
#[utoipa::path(post, path = "/api/access-requests/{id}/approve", tag = "staff access", request_body = AccessDecision, security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "access request id")),
    responses((status = 200, body = AccessRequestInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody, description = "`throttled`: too many failed attempts from this address; see `Retry-After`")))]
pub async fn approve(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<AccessRequestInfo>> {
    Ok(Json(
        decide(&state, &authed, &addr, &id, &body, true).await?,
    ))
}

/// Denies a staff request with the second factor.
#[utoipa::path(post, path = "/api/access-requests/{id}/deny", tag = "staff access", request_body = AccessDecision, security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "access request id")),
    responses((status = 200, body = AccessRequestInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody, description = "`throttled`: too many failed attempts from this address; see `Retry-After`")))]
pub async fn deny(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<AccessRequestInfo>> {
    Ok(Json(
        decide(&state, &authed, &addr, &id, &body, false).await?,
    ))
}

/// Ends a grant now (an ordinary or an emergency one). Staff's next read fails.
#[utoipa::path(post, path = "/api/access-requests/{id}/revoke", tag = "staff access", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "access request id")),
    responses((status = 200, body = AccessRequestInfo), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AccessRequestInfo>> {
    let request = own_request(&state, &authed, &id).await?;
    let now = state.now_ms();
    if request_state(&request, now) != AccessRequestState::Approved
        || !state
            .store
            .revoke_grant(&authed.account.id, &id, now)
            .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "there is no live grant to revoke",
        ));
    }
    let detail = format!("revoked grant {} (ticket {})", request.id, request.ticket);
    let activity = entry(
        &state,
        &authed.account.id,
        "access_revoked",
        &addr,
        &authed.session.device_name,
        detail,
    );
    state.store.add_activity(&activity).await?;
    let revoked = own_request(&state, &authed, &id).await?;
    Ok(Json(info(&state, &revoked).await?))
}
