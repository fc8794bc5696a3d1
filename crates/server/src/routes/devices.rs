//! The device chain and device registration.
//!
//! A device that signs in announces its public keys (`POST /api/devices`); it stays pending
//! until a trusted device (or the recovery key) signs a link adding it, which the device
//! posts to `POST /api/chain`. The server verifies every appended link against the stored
//! chain and refuses what does not verify; it cannot sign a link itself.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use porchlight_crypto::{ChainOp, DevicePublic, Link, Name};
use porchlight_proto::{
    ChainHead, ChainLinks, DeviceInfo, DeviceList, DeviceRegistration, DeviceState, ErrorBody,
    ErrorCode, HubControl,
};
use porchlight_store::{ChainLinkRow, Device, STATE_ACTIVE, STATE_PENDING, StoreError};

use crate::auth::secrets::random_id;
use crate::chain::{
    MAX_LINKS_PER_APPEND, chain_invalid, decode_link, describe, encode_link, membership,
    stored_chain, verify_new_chain,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Authed, ClientAddr};
use crate::live::StreamEnd;
use crate::routes::accounts::{entry, notify};
use crate::state::AppState;

pub(crate) fn parse_hex32(value: &str, field: &str) -> ApiResult<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out)
        .map_err(|_| ApiError::invalid_input(format!("{field} must be 64 hex digits")))?;
    Ok(out)
}

pub(crate) fn parse_name(value: &str, field: &str) -> ApiResult<Name> {
    Name::new(value).map_err(|e| ApiError::invalid_input(format!("{field}: {e}")))
}

fn device_state(state: &str) -> DeviceState {
    match state {
        STATE_ACTIVE => DeviceState::Active,
        STATE_PENDING => DeviceState::Pending,
        _ => DeviceState::Removed,
    }
}

fn device_info(
    d: &Device,
    current_hash: &[u8],
    last_used_at_ms: Option<i64>,
) -> ApiResult<DeviceInfo> {
    let sign: [u8; 32] = d
        .sign_key
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal(&"stored device key has the wrong length"))?;
    let age: [u8; 32] = d
        .age_key
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal(&"stored device key has the wrong length"))?;
    let public = DevicePublic::from_bytes(sign, age).map_err(|e| ApiError::internal(&e))?;
    Ok(DeviceInfo {
        id: d.id.clone(),
        name: d.name.clone(),
        sign_key: public.sign_hex(),
        age_recipient: public.age_string(),
        state: device_state(&d.state),
        current: d.device_hash == current_hash,
        created_at_ms: d.created_at_ms,
        last_used_at_ms,
    })
}

/// The account's device chain, link 0 first. Clients and hubs verify it themselves.
#[utoipa::path(get, path = "/api/chain", tag = "devices", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ChainLinks), (status = 401, body = ErrorBody)))]
pub async fn get_chain(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<ChainLinks>> {
    let rows = state.store.chain_of(&authed.account.id).await?;
    Ok(Json(ChainLinks {
        links: rows.iter().map(|r| encode_link(&r.link)).collect(),
    }))
}

/// Appends signed links (a genesis when the account has none yet). Every link must verify
/// as the continuation of the stored chain; `409 conflict` if another append came first.
#[utoipa::path(post, path = "/api/chain", tag = "devices", request_body = ChainLinks, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ChainHead), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn append_chain(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiJson(req): ApiJson<ChainLinks>,
) -> ApiResult<Json<ChainHead>> {
    if req.links.is_empty() || req.links.len() > MAX_LINKS_PER_APPEND {
        return Err(ApiError::invalid_input(format!(
            "send 1 to {MAX_LINKS_PER_APPEND} links"
        )));
    }
    let new: Vec<Link> = req
        .links
        .iter()
        .enumerate()
        .map(|(i, text)| decode_link(text, i))
        .collect::<ApiResult<_>>()?;
    let account = &authed.account.id;
    // The stored chain is verified once; the new links extend it (or, for a new account,
    // start it from their own genesis).
    let chain = match stored_chain(&state, account).await? {
        Some((stored, _)) => stored.extend(&new),
        None => verify_new_chain(&new),
    }
    .map_err(|e| chain_invalid(e.to_string()))?;
    let rows: Vec<ChainLinkRow> = new
        .iter()
        .map(|link| ChainLinkRow {
            seq: i64::try_from(link.seq()).unwrap_or(i64::MAX),
            link: link.to_bytes(),
            hash: link.hash().as_bytes().to_vec(),
        })
        .collect();
    let now = state.now_ms();
    match state
        .store
        .append_links(account, &rows, &membership(&chain), now)
        .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "the device chain changed meanwhile; fetch it and sign again",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    // A removed device's live streams end now, not at the relay's next check.
    for link in &new {
        if let ChainOp::RemoveDevice { device_sign_key } = link.op() {
            state.live.end_device(
                &hex::encode(device_sign_key),
                &StreamEnd::new(
                    "device_removed",
                    "this device was removed from the account's device chain",
                ),
            );
        }
    }
    for link in &new {
        let (kind, detail) = describe(link);
        let activity = entry(
            &state,
            account,
            kind,
            &addr,
            &authed.session.device_name,
            detail.clone(),
        );
        state.store.add_activity(&activity).await?;
        notify(&state, account, kind, "Your device chain changed", detail).await?;
    }
    // Every chain head goes into the transparency log, so a fork shown to different parties
    // is provable.
    let head = serde_json::json!({
        "kind": "chain_head",
        "root": chain.root().to_hex(),
        "length": chain.len(),
        "head": chain.head().to_hex(),
    });
    state
        .store
        .enqueue_log_entry(
            Some(account),
            "chain_head",
            head.to_string().as_bytes(),
            now,
        )
        .await?;
    // The account's connected hubs seal the next clip to the new chain, not to the one
    // they fetched up to a minute ago.
    for hub in state.store.hubs_of(account).await? {
        state.live.control_hub(
            &hub.id,
            HubControl::ChainChanged {
                length: chain.len(),
            },
        );
    }
    Ok(Json(ChainHead {
        length: chain.len(),
        head: chain.head().to_hex(),
        root: chain.root().to_hex(),
    }))
}

/// Announces this device's public keys. It is pending until a link adds it to the chain
/// (active at once if the chain names its key already).
#[utoipa::path(post, path = "/api/devices", tag = "devices", request_body = DeviceRegistration, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = DeviceInfo), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn register_device(
    State(state): State<AppState>,
    authed: Authed,
    addr: ClientAddr,
    ApiJson(req): ApiJson<DeviceRegistration>,
) -> ApiResult<(StatusCode, Json<DeviceInfo>)> {
    let name = parse_name(&req.name, "name")?;
    let sign = parse_hex32(&req.sign_key, "sign_key")?;
    let public = DevicePublic::from_parts(sign, &req.age_recipient)
        .map_err(|e| ApiError::invalid_input(format!("keys: {e}")))?;
    let in_chain = stored_chain(&state, &authed.account.id)
        .await?
        .is_some_and(|(chain, _)| chain.can_sign(public.sign()));
    let device = Device {
        id: random_id(),
        account_id: authed.account.id.clone(),
        device_hash: authed.session.device_hash.clone(),
        name: name.as_str().to_owned(),
        sign_key: public.sign().to_vec(),
        age_key: public.age().to_vec(),
        state: if in_chain {
            STATE_ACTIVE
        } else {
            STATE_PENDING
        }
        .to_owned(),
        created_at_ms: state.now_ms(),
    };
    match state.store.register_device(&device).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "this device, or this key, is registered already",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let activity = entry(
        &state,
        &authed.account.id,
        "device_registered",
        &addr,
        &authed.session.device_name,
        format!(
            "device \"{}\" asks to join; approve it from a trusted device",
            device.name
        ),
    );
    state.store.add_activity(&activity).await?;
    Ok((
        StatusCode::CREATED,
        Json(device_info(
            &device,
            &authed.session.device_hash,
            Some(authed.session.last_seen_at_ms),
        )?),
    ))
}

/// The account's devices: active (in the chain), pending approval, removed.
#[utoipa::path(get, path = "/api/devices", tag = "devices", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = DeviceList), (status = 401, body = ErrorBody)))]
pub async fn list_devices(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<DeviceList>> {
    // Last used: the newest use of any session bound to the device (sessions record the
    // device they were made on), so devices that share a name can be told apart.
    let mut last_used: std::collections::HashMap<Vec<u8>, i64> = std::collections::HashMap::new();
    for session in state.store.sessions_of(&authed.account.id).await? {
        let seen = last_used.entry(session.device_hash).or_insert(i64::MIN);
        *seen = (*seen).max(session.last_seen_at_ms);
    }
    let devices = state
        .store
        .devices_of(&authed.account.id)
        .await?
        .iter()
        .map(|d| {
            device_info(
                d,
                &authed.session.device_hash,
                last_used.get(&d.device_hash).copied(),
            )
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(DeviceList { devices }))
}
