//! The staff API (DESIGN §7): staff sign in with a second factor; without a grant they see
//! only aggregate figures; naming an account only opens an access request; with a grant the
//! customer approved they read the granted scopes, and each read is on record in the
//! transparency log before the data is read. No route leads to a clip key: there is none.
//!
//! Roles: `support` requests and reads under grants; `security` also makes and co-approves
//! break-glass requests and sees alerts; `admin` sees alerts; `annotator` (research) gets
//! nothing here — not even the figures or its own request list — only the research routes
//! (`routes/research.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use porchlight_proto::{
    ACCESS_SCOPES, AccessRequestCreate, AccessRequestInfo, AccessRequestList, AccessRequestState,
    CameraInfo, CameraList, ClipList, DeviceInfo, DeviceList, DeviceState, ErrorBody, ErrorCode,
    StaffAlertInfo, StaffAlertList, StaffFigures, StaffLoginRequest, StaffSession,
};
use porchlight_store::{
    ALERT_BULK_ACCESS, ALERT_UNUSUAL_HOURS, AccessRequest, ClipQuery, REQUEST_APPROVED,
    REQUEST_DENIED, REQUEST_PENDING, REQUEST_REVOKED, STATE_ACTIVE, STATE_PENDING, Staff,
    StaffAlert,
};
use zeroize::Zeroizing;

use crate::auth::secrets::{issue_token, random_id};
use crate::auth::totp;
use crate::config::UsualHours;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ClientAddr, JsonBody, StaffAuthed, parse_json};
use crate::routes::accounts::notify;
use crate::state::AppState;

pub const ROLE_SUPPORT: &str = "support";
pub const ROLE_ANNOTATOR: &str = "annotator";
pub const ROLE_SECURITY: &str = "security";
pub const ROLE_ADMIN: &str = "admin";
pub const ROLES: &[&str] = &[ROLE_SUPPORT, ROLE_ANNOTATOR, ROLE_SECURITY, ROLE_ADMIN];
/// The longest grant.
pub const MAX_GRANT_SECS: u64 = 24 * 3600;

fn role_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "your role does not include this",
    )
}

pub(crate) fn require_role(staff: &Staff, allowed: &[&str]) -> ApiResult<()> {
    if allowed.contains(&staff.role.as_str()) {
        Ok(())
    } else {
        Err(role_refused())
    }
}

fn no_grant() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "no live grant covers this: the customer has not approved it, or it expired or was revoked",
    )
}

/// An activity entry on a customer's record for something a staff member did.
fn staff_activity(
    state: &AppState,
    account_id: &str,
    kind: &str,
    staff: &Staff,
    detail: String,
) -> porchlight_store::Activity {
    porchlight_store::Activity {
        id: random_id(),
        account_id: account_id.to_owned(),
        at_ms: state.now_ms(),
        kind: kind.to_owned(),
        source_addr: "staff".to_owned(),
        device_name: format!("staff: {}", staff.email),
        detail,
    }
}

/// A request's state as the wire shows it: an approved grant past its time is expired.
pub fn request_state(r: &AccessRequest, now_ms: i64) -> AccessRequestState {
    match r.state.as_str() {
        REQUEST_APPROVED if r.expires_at_ms.is_some_and(|e| now_ms >= e) => {
            AccessRequestState::Expired
        }
        REQUEST_APPROVED => AccessRequestState::Approved,
        REQUEST_DENIED => AccessRequestState::Denied,
        REQUEST_REVOKED => AccessRequestState::Revoked,
        _ => AccessRequestState::Pending,
    }
}

pub fn request_info(r: &AccessRequest, staff: &Staff, now_ms: i64) -> AccessRequestInfo {
    AccessRequestInfo {
        id: r.id.clone(),
        staff_email: staff.email.clone(),
        staff_role: staff.role.clone(),
        scopes: r.scopes.clone(),
        justification: r.justification.clone(),
        ticket: r.ticket.clone(),
        duration_secs: u64::try_from(r.duration_ms / 1000).unwrap_or(0),
        break_glass: r.break_glass,
        state: request_state(r, now_ms),
        created_at_ms: r.created_at_ms,
        decided_at_ms: r.decided_at_ms,
        expires_at_ms: r.expires_at_ms,
    }
}

/// Staff sign-in: password and TOTP, always.
#[utoipa::path(post, path = "/api/staff/login", tag = "staff", request_body = StaffLoginRequest,
    responses((status = 201, body = StaffSession), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn staff_login(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(mut req): ApiJson<StaffLoginRequest>,
) -> ApiResult<(StatusCode, Json<StaffSession>)> {
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let password = Zeroizing::new(std::mem::take(&mut req.password));
    let email = req.email.trim().to_lowercase();
    let staff = state.store.staff_by_email(&email).await?;
    let hash = staff.as_ref().map(|s| s.password_hash.clone());
    let password_ok = state.hasher.verify(password, hash).await?;
    let Some(staff) = staff.filter(|_| password_ok) else {
        return Err(ApiError::invalid_credentials());
    };
    let secret = crate::routes::accounts::open_totp(&state, &staff.totp_secret)?;
    let step = totp::matching_step(&secret, &req.totp_code, now)
        .ok_or_else(ApiError::invalid_credentials)?;
    if !state.store.consume_staff_totp_step(&staff.id, step).await? {
        return Err(ApiError::invalid_credentials());
    }
    let token = issue_token();
    let expires_at_ms = now + state.config.staff.session_secs.saturating_mul(1000);
    state
        .store
        .create_staff_session(&token.hash, &staff.id, now, expires_at_ms)
        .await?;
    tracing::info!(staff = %staff.id, role = %staff.role, "staff signed in");
    Ok((
        StatusCode::CREATED,
        Json(StaffSession {
            token: token.text.to_string(),
            staff_id: staff.id,
            role: staff.role,
            expires_at_ms,
        }),
    ))
}

/// Roles that work with customer accounts (every role but `annotator`).
const ACCOUNT_ROLES: &[&str] = &[ROLE_SUPPORT, ROLE_SECURITY, ROLE_ADMIN];

/// Aggregate figures: what every account-facing role sees without a grant.
#[utoipa::path(get, path = "/api/staff/figures", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = StaffFigures), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn figures(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
) -> ApiResult<Json<StaffFigures>> {
    require_role(&staff, ACCOUNT_ROLES)?;
    let f = state.store.aggregate_figures().await?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(Json(StaffFigures {
        accounts: n(f.accounts),
        clips: n(f.clips),
        clip_bytes: n(f.clip_bytes),
        log_size: n(f.log_size),
    }))
}

/// Opens an access request for the account with this address. The answer is the same
/// whether or not the address has an account; the customer sees the request and decides.
#[utoipa::path(post, path = "/api/staff/access-requests", tag = "staff", request_body = AccessRequestCreate, security(("bearer" = [])),
    responses((status = 201, body = AccessRequestInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_request(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<AccessRequestInfo>)> {
    // The role first: a role that may not ask learns nothing from how its request was put.
    require_role(&staff, &[ROLE_SUPPORT, ROLE_SECURITY])?;
    let req: AccessRequestCreate = parse_json(&body)?;
    if req.break_glass {
        require_role(&staff, &[ROLE_SECURITY])?;
    } else {
        require_role(&staff, &[ROLE_SUPPORT, ROLE_SECURITY])?;
    }
    if req.scopes.is_empty()
        || req
            .scopes
            .iter()
            .any(|s| !ACCESS_SCOPES.contains(&s.as_str()))
    {
        return Err(ApiError::invalid_input(format!(
            "scopes must be one or more of {}",
            ACCESS_SCOPES.join(", ")
        )));
    }
    if req.duration_secs == 0 || req.duration_secs > MAX_GRANT_SECS {
        return Err(ApiError::invalid_input(
            "duration_secs must be 1 to 86400: a grant lasts at most 24 hours",
        ));
    }
    let text_ok = |t: &str, max: usize| {
        let t = t.trim();
        !t.is_empty() && t.len() <= max && !t.chars().any(char::is_control)
    };
    if !text_ok(&req.justification, 1000) || !text_ok(&req.ticket, 100) {
        return Err(ApiError::invalid_input(
            "a justification (up to 1000 characters) and a ticket id (up to 100) are required",
        ));
    }
    let now = state.now_ms();
    let account = state
        .store
        .account_by_email(&req.email.trim().to_lowercase())
        .await?;
    let mut scopes = req.scopes.clone();
    scopes.sort();
    scopes.dedup();
    let request = AccessRequest {
        id: random_id(),
        staff_id: staff.id.clone(),
        account_id: account.as_ref().map(|a| a.id.clone()),
        scopes,
        justification: req.justification.trim().to_owned(),
        ticket: req.ticket.trim().to_owned(),
        duration_ms: i64::try_from(req.duration_secs).unwrap_or(0) * 1000,
        break_glass: req.break_glass,
        state: REQUEST_PENDING.to_owned(),
        second_staff_id: None,
        created_at_ms: now,
        decided_at_ms: None,
        expires_at_ms: None,
    };
    state.store.create_access_request(&request).await?;
    if let Some(account) = &account {
        // On the customer's record (and so in the log), break-glass included.
        let detail = format!(
            "{} ({}) asked for {} for ticket {}{} ({})",
            staff.email,
            staff.role,
            request.scopes.join(", "),
            request.ticket,
            if request.break_glass {
                ", break-glass"
            } else {
                ""
            },
            request.id
        );
        let activity = staff_activity(&state, &account.id, "access_requested", &staff, detail);
        state.store.add_activity(&activity).await?;
    }
    if let Some(account) = &account
        && !request.break_glass
    {
        notify(
            &state,
            &account.id,
            "access_request",
            "Porchlight staff ask for access to your account",
            format!(
                "{} ({}) asks to see {} for {} hours, for ticket {}: \"{}\". Approve or deny it \
                 with your second factor: porchlight access-requests.",
                staff.email,
                staff.role,
                request.scopes.join(", "),
                req.duration_secs.div_ceil(3600),
                request.ticket,
                request.justification
            ),
        )
        .await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(request_info(&request, &staff, now)),
    ))
}

/// The staff member's own requests and their states.
#[utoipa::path(get, path = "/api/staff/access-requests", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = AccessRequestList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn my_requests(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
) -> ApiResult<Json<AccessRequestList>> {
    require_role(&staff, ACCOUNT_ROLES)?;
    let now = state.now_ms();
    let requests = state.store.access_requests_by_staff(&staff.id).await?;
    Ok(Json(AccessRequestList {
        requests: requests
            .iter()
            .map(|r| request_info(r, &staff, now))
            .collect(),
    }))
}

/// A second security staff member approves a break-glass request (never their own). The
/// customer is told at once.
#[utoipa::path(post, path = "/api/staff/access-requests/{id}/break-glass-approval", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "access request id")),
    responses((status = 200, body = AccessRequestInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve_break_glass(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AccessRequestInfo>> {
    require_role(&staff, &[ROLE_SECURITY])?;
    let request = state
        .store
        .access_request(&id)
        .await?
        .filter(|r| r.break_glass)
        .ok_or_else(ApiError::not_found)?;
    if request.staff_id == staff.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "break-glass needs a second security staff member: you made this request",
        ));
    }
    let now = state.now_ms();
    let expires = now + request.duration_ms;
    if !state
        .store
        .approve_break_glass(&id, &staff.id, now, expires)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "the request is not pending (or names no account)",
        ));
    }
    let Some(account_id) = &request.account_id else {
        return Err(ApiError::not_found());
    };
    let detail = format!(
        "{} approved the break-glass request {} of {}",
        staff.email, request.id, request.staff_id
    );
    let activity = staff_activity(&state, account_id, "break_glass_approved", &staff, detail);
    state.store.add_activity(&activity).await?;
    notify(
        &state,
        account_id,
        "break_glass",
        "Emergency staff access to your account",
        format!(
            "Two Porchlight security staff opened emergency access to {} for ticket {}: \"{}\". \
             It ends within {} hours; you can end it now: porchlight access-requests revoke {}.",
            request.scopes.join(", "),
            request.ticket,
            request.justification,
            (request.duration_ms / 3_600_000).max(1),
            request.id
        ),
    )
    .await?;
    let approved = state
        .store
        .access_request(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let requester = state
        .store
        .staff_by_id(&approved.staff_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(request_info(&approved, &requester, now)))
}

/// Alerts about bulk or unusual staff access.
#[utoipa::path(get, path = "/api/staff/alerts", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = StaffAlertList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn alerts(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
) -> ApiResult<Json<StaffAlertList>> {
    require_role(&staff, &[ROLE_SECURITY, ROLE_ADMIN])?;
    let alerts = state.store.staff_alerts(200).await?;
    Ok(Json(StaffAlertList {
        alerts: alerts
            .into_iter()
            .map(|a| StaffAlertInfo {
                id: a.id,
                staff_id: a.staff_id,
                kind: a.kind,
                reason: a.reason,
                created_at_ms: a.created_at_ms,
            })
            .collect(),
    }))
}

// ---- reads under a grant ----

/// Checks the grant for `scope`, then puts the read on record (the staff-read row and its
/// transparency-log entry, in one transaction) — only then may the caller read. Raises an
/// alert when the staff member has read many accounts within the hour.
async fn granted_read(
    state: &AppState,
    staff: &Staff,
    request_id: &str,
    scope: &str,
) -> ApiResult<String> {
    require_role(staff, &[ROLE_SUPPORT, ROLE_SECURITY])?;
    let now = state.now_ms();
    let grant = state
        .store
        .access_request(request_id)
        .await?
        .filter(|r| r.staff_id == staff.id)
        .ok_or_else(ApiError::not_found)?;
    let live = request_state(&grant, now) == AccessRequestState::Approved
        && grant.scopes.iter().any(|s| s == scope);
    let Some(account_id) = grant.account_id.clone().filter(|_| live) else {
        return Err(no_grant());
    };
    let body = serde_json::json!({
        "kind": "staff_access",
        "at_ms": now,
        "staff": staff.email,
        "role": staff.role,
        "scope": scope,
        "grant": grant.id,
        "ticket": grant.ticket,
        "justification": grant.justification,
        "break_glass": grant.break_glass,
    });
    state
        .store
        .record_staff_read(&staff.id, &account_id, body.to_string().as_bytes(), now)
        .await?;
    metrics::counter!("porchlight_staff_reads_total", "scope" => scope.to_owned()).increment(1);
    raise_alerts(state, staff, now).await?;
    Ok(account_id)
}

/// Alerts security staff to bulk access (many accounts within an hour) and to reads outside
/// the deployment's usual hours; each kind at most once an hour per staff member.
async fn raise_alerts(state: &AppState, staff: &Staff, now: i64) -> ApiResult<()> {
    let hour_ago = now - 3_600_000;
    let mut alerts = Vec::new();
    let accounts = state.store.accounts_read_since(&staff.id, hour_ago).await?;
    if accounts > state.config.staff.bulk_alert_accounts_per_hour {
        alerts.push((
            ALERT_BULK_ACCESS,
            format!(
                "{} read {accounts} different accounts within an hour",
                staff.email
            ),
        ));
    }
    let hours = &state.config.staff.usual_hours_utc;
    if let Some(window) = UsualHours::parse(hours).ok().flatten()
        && !window.contains(now)
    {
        alerts.push((
            ALERT_UNUSUAL_HOURS,
            format!(
                "{} read an account at {} UTC, outside the usual hours {hours} UTC",
                staff.email,
                UsualHours::clock(now)
            ),
        ));
    }
    for (kind, reason) in alerts {
        let alert = StaffAlert {
            id: random_id(),
            staff_id: staff.id.clone(),
            kind: kind.to_owned(),
            reason,
            created_at_ms: now,
        };
        if state.store.raise_staff_alert(&alert, hour_ago).await? {
            tracing::warn!(staff = %staff.id, kind, "staff access alert");
        }
    }
    Ok(())
}

/// The account's devices (names, keys, states), under a `devices:read` grant.
#[utoipa::path(get, path = "/api/staff/grants/{id}/devices", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "the approved access request")),
    responses((status = 200, body = DeviceList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn grant_devices(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DeviceList>> {
    let account = granted_read(&state, &staff, &id, "devices:read").await?;
    let devices = state.store.devices_of(&account).await?;
    Ok(Json(DeviceList {
        devices: devices
            .into_iter()
            .map(|d| DeviceInfo {
                id: d.id,
                name: d.name,
                sign_key: hex::encode(&d.sign_key),
                age_recipient: String::new(),
                state: match d.state.as_str() {
                    STATE_ACTIVE => DeviceState::Active,
                    STATE_PENDING => DeviceState::Pending,
                    _ => DeviceState::Removed,
                },
                current: false,
                created_at_ms: d.created_at_ms,
                // When each device was last used is not what a devices:read grant is for.
                last_used_at_ms: None,
            })
            .collect(),
    }))
}

/// The account's cameras, under a `cameras:read` grant.
#[utoipa::path(get, path = "/api/staff/grants/{id}/cameras", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "the approved access request")),
    responses((status = 200, body = CameraList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn grant_cameras(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CameraList>> {
    let account = granted_read(&state, &staff, &id, "cameras:read").await?;
    let cameras = state.store.cameras_visible_to(&account).await?;
    Ok(Json(CameraList {
        cameras: cameras
            .into_iter()
            .filter(|c| c.account_id == account)
            .map(|c| CameraInfo {
                id: c.id,
                name: c.name,
                label: c.label,
                hub_id: c.hub_id,
                retention_days: u32::try_from(c.retention_days).unwrap_or(0),
                owned: true,
            })
            .collect(),
    }))
}

/// The account's clips as the server knows them (camera, time, length, size), under a
/// `clips:metadata` grant. Never a header, never a payload.
#[utoipa::path(get, path = "/api/staff/grants/{id}/clips", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "the approved access request")),
    responses((status = 200, body = ClipList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn grant_clips(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ClipList>> {
    let account = granted_read(&state, &staff, &id, "clips:metadata").await?;
    let views = state
        .store
        .clips_visible_to(
            &account,
            &ClipQuery {
                limit: 500,
                ..ClipQuery::default()
            },
        )
        .await?;
    Ok(Json(ClipList {
        clips: views
            .into_iter()
            .filter(|v| v.clip.account_id == account)
            .map(|v| super::clips::summary(&v))
            .collect(),
        next_cursor: None,
    }))
}

// ---- staff administration (on the server host) ----

/// What `porchlight staff add` prints once: the staff member's second factor.
#[derive(Clone)]
pub struct StaffEnrolment {
    pub staff_id: String,
    pub otpauth_uri: String,
    pub totp_secret: String,
}

impl std::fmt::Debug for StaffEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffEnrolment")
            .field("staff_id", &self.staff_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StaffAdminError {
    #[error("role must be one of {}", ROLES.join(", "))]
    Role,
    #[error("{0}")]
    Password(String),
    #[error("a staff member with that address exists already")]
    Taken,
    #[error("the second factor could not be made")]
    Totp,
    #[error(transparent)]
    Store(#[from] porchlight_store::StoreError),
    #[error(transparent)]
    Hash(#[from] crate::auth::password::HashError),
}

/// Adds a staff member with a role and a fresh TOTP secret (mandatory: staff sign-in always
/// asks for it). Runs where the server's store is, never over the API.
pub async fn add_staff(
    state: &AppState,
    email: &str,
    role: &str,
    password: Zeroizing<String>,
) -> Result<StaffEnrolment, StaffAdminError> {
    if !ROLES.contains(&role) {
        return Err(StaffAdminError::Role);
    }
    let email = email.trim().to_lowercase();
    crate::auth::password::check_policy(&password, &email).map_err(StaffAdminError::Password)?;
    let password_hash = state.hasher.hash(password).await?;
    let secret = totp::generate_secret();
    let (otpauth_uri, totp_secret) =
        totp::enrolment(&secret, &format!("staff {email}")).map_err(|_| StaffAdminError::Totp)?;
    let staff = Staff {
        id: random_id(),
        email,
        password_hash,
        totp_secret: state.secret.seal_totp(&secret),
        totp_last_step: 0,
        role: role.to_owned(),
        created_at_ms: state.now_ms(),
    };
    match state.store.create_staff(&staff).await {
        Ok(()) => {}
        Err(porchlight_store::StoreError::Conflict) => return Err(StaffAdminError::Taken),
        Err(e) => return Err(e.into()),
    }
    Ok(StaffEnrolment {
        staff_id: staff.id,
        otpauth_uri,
        totp_secret,
    })
}
