//! Pairing hubs and their credentials.
//!
//! An owner device opens a pairing (the server keeps the secret's verifier, 10 minutes,
//! single use) and shows the code; the hub redeems it with its key and a proof only the
//! owner device can check; the owner device checks the proof and signs the hub into the
//! chain. From then on the hub signs a single-use challenge for a short-lived token that
//! opens the `/api/hub/…` routes: reading its account's chain, uploading clips.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use porchlight_crypto::HubKey;
use porchlight_proto::{
    ChainLinks, ErrorBody, ErrorCode, HubChallenge, HubChallengeRequest, HubInfo, HubList,
    HubPairRequest, HubPaired, HubState, HubToken, HubTokenRequest, PairingCreated, PairingRequest,
    PairingState, PairingStatus, RedeemedHub,
};
use porchlight_store::{Hub, Pairing, STATE_ACTIVE, STATE_PENDING, StoreError};
use rand::RngCore;

use crate::auth::secrets::{issue_token, random_id};
use crate::chain::encode_link;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, Authed, ClientAddr, DeviceAuthed, HubAuthed};
use crate::routes::accounts::entry;
use crate::routes::devices::{parse_hex32, parse_name};
use crate::state::AppState;

/// How long a pairing code may wait for its hub.
pub const PAIRING_TTL_MS: i64 = 10 * 60 * 1000;
/// How long a hub challenge stays good.
const CHALLENGE_TTL_MS: i64 = 2 * 60 * 1000;
/// How long a hub token opens the hub routes.
pub const HUB_TOKEN_TTL_MS: i64 = 15 * 60 * 1000;

fn invalid_pairing_code() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::InvalidCode,
        "the pairing code is wrong, expired or already used; make a new one",
    )
}

fn hub_not_recognised() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
        "this hub key is not paired, or the challenge is wrong or expired",
    )
}

fn hub_state(state: &str) -> HubState {
    match state {
        STATE_ACTIVE => HubState::Active,
        STATE_PENDING => HubState::Pending,
        _ => HubState::Removed,
    }
}

fn hub_info(h: &Hub, online: bool) -> HubInfo {
    HubInfo {
        id: h.id.clone(),
        name: h.name.clone(),
        hub_key: hex::encode(&h.hub_key),
        state: hub_state(&h.state),
        created_at_ms: h.created_at_ms,
        online,
    }
}

fn pairing_status(p: &Pairing, now_ms: i64) -> PairingStatus {
    let hub = match (&p.hub_id, &p.hub_key, &p.hub_proof) {
        (Some(hub_id), Some(key), Some(proof)) => Some(RedeemedHub {
            hub_id: hub_id.clone(),
            hub_key: hex::encode(key),
            proof: hex::encode(proof),
        }),
        _ => None,
    };
    let state = if hub.is_some() {
        PairingState::Redeemed
    } else if now_ms >= p.expires_at_ms {
        PairingState::Expired
    } else {
        PairingState::Waiting
    };
    PairingStatus {
        id: p.id.clone(),
        state,
        name: p.name.clone(),
        expires_at_ms: p.expires_at_ms,
        hub,
    }
}

/// Opens a pairing for a new hub. Only a device in the chain may: it signs the hub in later.
#[utoipa::path(post, path = "/api/pairings", tag = "hubs", request_body = PairingRequest, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = PairingCreated), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_pairing(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiJson(req): ApiJson<PairingRequest>,
) -> ApiResult<(StatusCode, Json<PairingCreated>)> {
    let verifier = parse_hex32(&req.verifier, "verifier")?;
    let name = parse_name(&req.name, "name")?;
    let now = state.now_ms();
    let pairing = Pairing {
        id: random_id(),
        verifier: verifier.to_vec(),
        account_id: authed.account.id.clone(),
        name: name.as_str().to_owned(),
        created_at_ms: now,
        expires_at_ms: now + PAIRING_TTL_MS,
        hub_id: None,
        hub_key: None,
        hub_proof: None,
    };
    match state.store.create_pairing(&pairing).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(ApiError::invalid_input(
                "that pairing secret was used before",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok((
        StatusCode::CREATED,
        Json(PairingCreated {
            id: pairing.id,
            expires_at_ms: pairing.expires_at_ms,
        }),
    ))
}

/// Whether a hub has redeemed the pairing, and with which key and proof.
#[utoipa::path(get, path = "/api/pairings/{id}", tag = "hubs", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "pairing id")),
    responses((status = 200, body = PairingStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pairing(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PairingStatus>> {
    let pairing = state
        .store
        .pairing_of(&authed.account.id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(pairing_status(&pairing, state.now_ms())))
}

/// A hub redeems a pairing code: single use, within 10 minutes. The hub is pending until the
/// owner device signs it into the chain.
#[utoipa::path(post, path = "/api/hub/pair", tag = "hubs", request_body = HubPairRequest,
    responses((status = 201, body = HubPaired), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn hub_pair(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<HubPairRequest>,
) -> ApiResult<(StatusCode, Json<HubPaired>)> {
    let now = state.now_ms();
    state.guard.admit(&state.store, &addr.0, now).await?;
    let verifier = parse_hex32(&req.verifier, "verifier")?;
    let key = parse_hex32(&req.hub_key, "hub_key")?;
    let hub_key =
        HubKey::from_bytes(key).map_err(|e| ApiError::invalid_input(format!("hub_key: {e}")))?;
    let proof = parse_hex32(&req.proof, "proof")?;
    let hub = match state
        .store
        .redeem_pairing(&verifier, &random_id(), hub_key.as_bytes(), &proof, now)
        .await
    {
        Ok(hub) => hub,
        Err(StoreError::NotFound) => return Err(invalid_pairing_code()),
        Err(StoreError::Conflict) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "this hub key is paired already; a hub pairs once",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let activity = entry(
        &state,
        &hub.account_id,
        "hub_paired",
        &addr,
        &hub.name,
        format!(
            "hub \"{}\" used a pairing code; it needs your device's signature",
            hub.name
        ),
    );
    state.store.add_activity(&activity).await?;
    Ok((
        StatusCode::CREATED,
        Json(HubPaired {
            hub_id: hub.id,
            name: hub.name,
        }),
    ))
}

/// A single-use challenge for a paired hub to sign.
#[utoipa::path(post, path = "/api/hub/challenge", tag = "hubs", request_body = HubChallengeRequest,
    responses((status = 200, body = HubChallenge), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn hub_challenge(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<HubChallengeRequest>,
) -> ApiResult<Json<HubChallenge>> {
    let now = state.now_ms();
    state.guard.check_hub_rate(&addr.0)?;
    let key = parse_hex32(&req.hub_key, "hub_key")?;
    let hub = state
        .store
        .hub_by_key(&key)
        .await?
        .filter(|h| h.state != porchlight_store::STATE_REMOVED)
        .ok_or_else(hub_not_recognised)?;
    let mut challenge = [0u8; 32];
    rand::rng().fill_bytes(&mut challenge);
    let expires_at_ms = now + CHALLENGE_TTL_MS;
    state
        .store
        .insert_hub_challenge(&challenge, &hub.id, expires_at_ms)
        .await?;
    Ok(Json(HubChallenge {
        challenge: hex::encode(challenge),
        expires_at_ms,
    }))
}

/// A short-lived token for a hub that signed its challenge and is in the owner's chain.
#[utoipa::path(post, path = "/api/hub/token", tag = "hubs", request_body = HubTokenRequest,
    responses((status = 201, body = HubToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn hub_token(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(req): ApiJson<HubTokenRequest>,
) -> ApiResult<(StatusCode, Json<HubToken>)> {
    let now = state.now_ms();
    state.guard.check_hub_rate(&addr.0)?;
    let key = parse_hex32(&req.hub_key, "hub_key")?;
    let challenge = parse_hex32(&req.challenge, "challenge")?;
    let mut signature = [0u8; 64];
    hex::decode_to_slice(&req.signature, &mut signature)
        .map_err(|_| ApiError::invalid_input("signature must be 128 hex digits"))?;
    let hub = state
        .store
        .hub_by_key(&key)
        .await?
        .ok_or_else(hub_not_recognised)?;
    if !state
        .store
        .take_hub_challenge(&challenge, &hub.id, now)
        .await?
    {
        return Err(hub_not_recognised());
    }
    let hub_key = HubKey::from_bytes(key).map_err(|e| ApiError::internal(&e))?;
    if !hub_key.verify_auth_challenge(&challenge, &signature) {
        return Err(hub_not_recognised());
    }
    if hub.state != STATE_ACTIVE {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::DeviceNotApproved,
            "this hub is not in the owner's device chain (yet, or any more)",
        ));
    }
    let token = issue_token();
    let expires_at_ms = now + HUB_TOKEN_TTL_MS;
    state
        .store
        .insert_hub_token(&token.hash, &hub.id, expires_at_ms)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(HubToken {
            token: token.text.to_string(),
            hub_id: hub.id,
            expires_at_ms,
        }),
    ))
}

/// The account's hubs, each with whether it holds its control connection now.
#[utoipa::path(get, path = "/api/hubs", tag = "hubs", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = HubList), (status = 401, body = ErrorBody)))]
pub async fn list_hubs(State(state): State<AppState>, authed: Authed) -> ApiResult<Json<HubList>> {
    let hubs = state.store.hubs_of(&authed.account.id).await?;
    Ok(Json(HubList {
        hubs: hubs
            .iter()
            .map(|h| hub_info(h, state.live.hub_connected(&h.id)))
            .collect(),
    }))
}

/// The hub's account chain: what the hub verifies (from its pinned root) before it seals.
#[utoipa::path(get, path = "/api/hub/chain", tag = "hubs", security(("bearer" = [])),
    responses((status = 200, body = ChainLinks), (status = 401, body = ErrorBody)))]
pub async fn hub_chain(
    State(state): State<AppState>,
    hub: HubAuthed,
) -> ApiResult<Json<ChainLinks>> {
    let rows = state.store.chain_of(&hub.hub.account_id).await?;
    Ok(Json(ChainLinks {
        links: rows.iter().map(|r| encode_link(&r.link)).collect(),
    }))
}
