//! Hub settings signed by an owner's device (cameras on or off, motion sensitivity, pre- and
//! post-roll): the owner's device puts the signed statement, the hub fetches it, checks it
//! against its own verified chain and reports what it did. The server cannot make or change
//! a statement a hub accepts; it checks only the form, that the calling device signed it for
//! this hub, and that the counter moves forward, so a mistake is refused at once rather than
//! only at the hub.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::SignedHubSettings;
use porchlight_proto::{
    ErrorBody, ErrorCode, HubControl, HubSettingsPut, HubSettingsRefusal, HubSettingsReportBody,
    HubSettingsState,
};
use porchlight_store::{HubSettingsReport, HubSettingsRow, STATE_REMOVED};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, DeviceAuthed, HubAuthed, JsonBody, parse_json};
use crate::state::AppState;

/// Longest refusal message a hub may report (it is shown to the owner).
const MAX_REPORT_MESSAGE: usize = 300;
/// Longest refusal code.
const MAX_REPORT_CODE: usize = 32;

fn state_of(hub_id: &str, row: Option<HubSettingsRow>) -> HubSettingsState {
    let counter = |c: i64| u64::try_from(c).ok();
    match row {
        None => HubSettingsState {
            hub_id: hub_id.to_owned(),
            statement: None,
            counter: None,
            updated_at_ms: None,
            applied_counter: None,
            refused: None,
            reported_at_ms: None,
        },
        Some(row) => HubSettingsState {
            hub_id: row.hub_id,
            statement: Some(STANDARD.encode(&row.statement)),
            counter: counter(row.counter),
            updated_at_ms: Some(row.updated_at_ms),
            applied_counter: row.applied_counter.and_then(counter),
            refused: row.refused_code.map(|code| HubSettingsRefusal {
                counter: row.refused_counter.and_then(counter),
                code,
                message: row.refused_message.unwrap_or_default(),
            }),
            reported_at_ms: row.reported_at_ms,
        },
    }
}

/// The caller's hub `id`, not removed; `404` for anyone else's.
async fn own_hub(
    state: &AppState,
    authed: &DeviceAuthed,
    id: &str,
) -> ApiResult<porchlight_store::Hub> {
    state
        .store
        .hubs_of(&authed.account.id)
        .await?
        .into_iter()
        .find(|h| h.id == id && h.state != STATE_REMOVED)
        .ok_or_else(ApiError::not_found)
}

/// The hub's signed settings and what the hub last reported doing with them.
#[utoipa::path(get, path = "/api/hubs/{id}/settings", tag = "hubs", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "hub id")),
    responses((status = 200, body = HubSettingsState), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<HubSettingsState>> {
    let hub = own_hub(&state, &authed, &id).await?;
    let row = state.store.hub_settings(&hub.id).await?;
    Ok(Json(state_of(&hub.id, row)))
}

/// New settings for the hub, signed by the calling device; the hub is told at once if it is
/// connected. `409` when the counter is not above the stored one.
#[utoipa::path(put, path = "/api/hubs/{id}/settings", tag = "hubs", request_body = HubSettingsPut, security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "hub id")),
    responses((status = 200, body = HubSettingsState), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<HubSettingsState>> {
    let hub = own_hub(&state, &authed, &id).await?;
    let req: HubSettingsPut = parse_json(&body)?;
    let bytes = STANDARD
        .decode(req.statement.as_bytes())
        .map_err(|_| ApiError::invalid_input("statement: not base64"))?;
    let signed = SignedHubSettings::from_bytes(&bytes)
        .map_err(|e| ApiError::invalid_input(format!("statement: {e}")))?;
    if signed.settings().hub_key.as_slice() != hub.hub_key.as_slice() {
        return Err(ApiError::invalid_input(
            "statement: the settings are for another hub",
        ));
    }
    if signed.signer().as_slice() != authed.device.sign_key.as_slice() {
        return Err(ApiError::invalid_input(
            "statement: the settings must be signed by the device that sends them",
        ));
    }
    let counter = i64::try_from(signed.settings().counter)
        .map_err(|_| ApiError::invalid_input("statement: the counter is too large"))?;
    if !state
        .store
        .put_hub_settings(&hub.id, &bytes, counter, state.now_ms())
        .await?
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "newer settings were saved meanwhile; fetch them and sign again",
        ));
    }
    tracing::info!(hub = %hub.id, counter, "hub settings saved");
    state.live.control_hub(
        &hub.id,
        HubControl::SettingsChanged {
            counter: signed.settings().counter,
        },
    );
    let row = state.store.hub_settings(&hub.id).await?;
    Ok(Json(state_of(&hub.id, row)))
}

/// The hub side: this hub's signed settings, as the owner's device made them.
#[utoipa::path(get, path = "/api/hub/settings", tag = "hubs", security(("bearer" = [])),
    responses((status = 200, body = HubSettingsState), (status = 401, body = ErrorBody)))]
pub async fn hub_get_settings(
    State(state): State<AppState>,
    hub: HubAuthed,
) -> ApiResult<Json<HubSettingsState>> {
    let row = state.store.hub_settings(&hub.hub.id).await?;
    Ok(Json(state_of(&hub.hub.id, row)))
}

/// The hub side: what the hub did with its settings (applied, or refused and why), for the
/// owner's apps to show.
#[utoipa::path(post, path = "/api/hub/settings/report", tag = "hubs", request_body = HubSettingsReportBody, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn hub_report_settings(
    State(state): State<AppState>,
    hub: HubAuthed,
    ApiJson(req): ApiJson<HubSettingsReportBody>,
) -> ApiResult<StatusCode> {
    let as_i64 =
        |c: u64| i64::try_from(c).map_err(|_| ApiError::invalid_input("counter: too large"));
    let report = match req {
        HubSettingsReportBody::Applied { counter } => HubSettingsReport::Applied {
            counter: as_i64(counter)?,
        },
        HubSettingsReportBody::Refused {
            counter,
            code,
            message,
        } => {
            let plain = |s: &str| !s.chars().any(char::is_control);
            if code.is_empty() || code.len() > MAX_REPORT_CODE || !plain(&code) {
                return Err(ApiError::invalid_input("code: 1 to 32 plain characters"));
            }
            if message.len() > MAX_REPORT_MESSAGE || !plain(&message) {
                return Err(ApiError::invalid_input(
                    "message: at most 300 plain characters",
                ));
            }
            HubSettingsReport::Refused {
                counter: counter.map(as_i64).transpose()?,
                code,
                message,
            }
        }
    };
    if state
        .store
        .report_hub_settings(&hub.hub.id, &report, state.now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
