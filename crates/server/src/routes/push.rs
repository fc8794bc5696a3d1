//! Web Push subscriptions: the server's VAPID key, and an approved device registering (or
//! removing) the one subscription its browser has. See [`crate::push`] for what is sent and
//! how endpoints are kept from reaching into the operator's network.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use porchlight_proto::{
    ErrorBody, PushKey, PushSubscriptionInfo, PushSubscriptionRequest, PushSubscriptionStatus,
};
use porchlight_store::PushSubscription;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, DeviceAuthed};
use crate::push::{SubscriptionKeys, check_endpoint};
use crate::state::AppState;

/// The server's VAPID public key (RFC 8292), a browser's `applicationServerKey`. Public.
#[utoipa::path(get, path = "/api/push/key", tag = "push",
    responses((status = 200, body = PushKey)))]
pub async fn push_key(State(state): State<AppState>) -> Json<PushKey> {
    Json(PushKey {
        public_key: URL_SAFE_NO_PAD.encode(state.secret.vapid_key().public_bytes()),
    })
}

/// This device's push subscription, if the server has one (a push service that said it is
/// gone removes it).
#[utoipa::path(get, path = "/api/push/subscription", tag = "push", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = PushSubscriptionStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_subscription(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<Json<PushSubscriptionStatus>> {
    let sub = state
        .store
        .push_subscription(&authed.account.id, &authed.device.id)
        .await?;
    Ok(Json(PushSubscriptionStatus {
        subscription: sub.map(|sub| PushSubscriptionInfo {
            endpoint: sub.endpoint,
            created_at_ms: sub.created_at_ms,
        }),
    }))
}

/// Registers this device's push subscription, replacing the one it had: the account's event
/// notices are then pushed to it, sealed as the hub sealed them.
#[utoipa::path(put, path = "/api/push/subscription", tag = "push", request_body = PushSubscriptionRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "registered"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put_subscription(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiJson(req): ApiJson<PushSubscriptionRequest>,
) -> ApiResult<StatusCode> {
    let invalid = |e: crate::push::SubscriptionError| ApiError::invalid_input(e.to_string());
    let keys = SubscriptionKeys::parse(&req.p256dh, &req.auth).map_err(invalid)?;
    check_endpoint(&req.endpoint, &state.config.notify.push_allow_hosts).map_err(invalid)?;
    state
        .store
        .put_push_subscription(&PushSubscription {
            device_id: authed.device.id.clone(),
            account_id: authed.account.id.clone(),
            endpoint: req.endpoint,
            p256dh: keys.p256dh_bytes().to_vec(),
            auth: keys.auth_bytes().to_vec(),
            created_at_ms: state.now_ms(),
        })
        .await?;
    metrics::counter!("porchlight_push_subscriptions_registered_total").increment(1);
    Ok(StatusCode::NO_CONTENT)
}

/// Removes this device's push subscription (done also when there was none).
#[utoipa::path(delete, path = "/api/push/subscription", tag = "push", security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "removed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete_subscription(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_push_subscription(&authed.account.id, &authed.device.id, None)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
