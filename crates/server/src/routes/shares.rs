//! Clips shared with another account (DESIGN §6).
//!
//! An account is named by its root, the hash of link 0 of its device chain, which a person
//! gives out of band to whoever wants to share with them. The owner's device fetches that
//! account's chain (`GET /api/accounts/{root}/chain`), verifies it from the root it was
//! given, unwraps the clip's file key and wraps it to the devices that chain names: a share
//! is that age header, stored beside the clip, never inside the clip's own header. The server
//! only checks the header is well-formed; it cannot tell whose keys it names.
//!
//! The sharee lists what is shared with it, fetches the share's header with the clip's
//! statement and the owner's chain, and the payload. Only the clip's owner shares, lists and
//! revokes; a household member sees the clip but may not pass it on. Anything the caller may
//! not reach answers 404, as if it did not exist. Shares and revocations go into the owner's
//! entries of the transparency log.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{ClipHeader, MAX_HEADER_BYTES};
use porchlight_proto::{
    ChainLinks, ErrorBody, ErrorCode, ShareInfo, ShareList, ShareRequest, SharedClipDetail,
    SharedClipInfo, SharedClipList,
};
use porchlight_store::{ClipShare, ClipView, SharedClip};
use sha2::{Digest, Sha256};

use crate::auth::secrets::random_id;
use crate::chain::encode_link;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, DeviceAuthed, JsonContent, parse_json};
use crate::openapi::Binary;
use crate::routes::clips::{detail, serve_payload};
use crate::state::AppState;

/// The longest base64 text of a share header accepted.
const MAX_HEADER_TEXT: usize = MAX_HEADER_BYTES.div_ceil(3) * 4;

fn root_bytes(root: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(root.trim(), &mut out).ok()?;
    Some(out)
}

fn unknown_account() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::UnknownAccount,
        "no account has a device chain with that root: check the root you were given",
    )
}

fn header_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("an age header is at most {MAX_HEADER_BYTES} bytes"),
    )
}

/// A share request's body, refused past what the largest header needs (the server's general
/// body limit is smaller than the largest age header's base64).
async fn read_request(body: Body) -> ApiResult<axum::body::Bytes> {
    let limited = http_body_util::Limited::new(body, MAX_HEADER_TEXT + 1024);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(header_too_large())
        }
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedRequest,
            "the body could not be read",
        )),
    }
}

fn invalid_header(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidClip, message)
}

/// Clip `id` if the caller owns it; 404 otherwise, including for a clip its household shows
/// it (that clip is its owner's to share).
async fn owned_clip(state: &AppState, authed: &DeviceAuthed, id: &str) -> ApiResult<ClipView> {
    state
        .store
        .clip_visible_to(&authed.account.id, id)
        .await?
        .filter(|v| v.clip.account_id == authed.account.id)
        .ok_or_else(ApiError::not_found)
}

/// The account's device chain, link 0 first, for someone given its root: the caller verifies
/// it from that root before wrapping a clip's key to the devices it names.
#[utoipa::path(get, path = "/api/accounts/{root}/chain", tag = "shares", security(("bearer" = []), ("cookie" = [])),
    params(("root" = String, Path, description = "64 hex digits: the hash of the account's chain link 0")),
    responses((status = 200, body = ChainLinks), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn account_chain(
    State(state): State<AppState>,
    _authed: DeviceAuthed,
    ApiPath(root): ApiPath<String>,
) -> ApiResult<Json<ChainLinks>> {
    let root = root_bytes(&root).ok_or_else(unknown_account)?;
    let account = state
        .store
        .account_by_root(&root)
        .await?
        .ok_or_else(unknown_account)?;
    let rows = state.store.chain_of(&account).await?;
    Ok(Json(ChainLinks {
        links: rows.iter().map(|r| encode_link(&r.link)).collect(),
    }))
}

/// Shares an owned clip with the account whose chain starts at `root`: `header` is the
/// clip's file key wrapped to that chain's devices. Sharing the same clip with the same
/// account again replaces the header (`200`); a new share is `201`.
#[utoipa::path(post, path = "/api/clips/{id}/shares", tag = "shares", request_body = ShareRequest, security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "clip id")),
    responses((status = 201, body = ShareInfo), (status = 200, body = ShareInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn share_clip(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
    _json: JsonContent,
    body: Body,
) -> ApiResult<(StatusCode, Json<ShareInfo>)> {
    // Ownership first: a caller who may not share this clip learns nothing from its body.
    let view = owned_clip(&state, &authed, &id).await?;
    let req: ShareRequest = parse_json(&read_request(body).await?)?;
    let root = root_bytes(&req.root).ok_or_else(|| {
        ApiError::invalid_input(
            "root must be 64 hex digits: the root the other person's `porchlight identity root` prints",
        )
    })?;
    if req.header.len() > MAX_HEADER_TEXT {
        return Err(header_too_large());
    }
    let header = STANDARD
        .decode(req.header.trim())
        .map_err(|_| invalid_header("header must be base64 of an age header"))?;
    ClipHeader::parse(&header).map_err(|e| invalid_header(format!("the age header: {e}")))?;
    let sharee = state
        .store
        .account_by_root(&root)
        .await?
        .ok_or_else(unknown_account)?;
    if sharee == authed.account.id {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            "that root is your own account's: your devices open your clips already",
        ));
    }
    let now = state.now_ms();
    let share = ClipShare {
        id: random_id(),
        clip_id: view.clip.id.clone(),
        sharee_account_id: sharee,
        header,
        created_at_ms: now,
    };
    let root_hex = hex::encode(root);
    let log_body = serde_json::json!({
        "kind": "clip_shared",
        "at_ms": now,
        "clip": share.clip_id,
        "sharee_root": root_hex,
        "header_sha256": hex::encode(Sha256::digest(&share.header)),
    });
    let share_id = state
        .store
        .put_share(
            &authed.account.id,
            &share,
            "clip_shared",
            log_body.to_string().as_bytes(),
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    let status = if share_id == share.id {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    metrics::counter!("porchlight_clip_shares_total").increment(1);
    Ok((
        status,
        Json(ShareInfo {
            id: share_id,
            clip_id: share.clip_id,
            sharee_root: root_hex,
            created_at_ms: now,
        }),
    ))
}

/// The shares of an owned clip, oldest first.
#[utoipa::path(get, path = "/api/clips/{id}/shares", tag = "shares", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "clip id")),
    responses((status = 200, body = ShareList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_shares(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ShareList>> {
    let view = owned_clip(&state, &authed, &id).await?;
    let shares = state
        .store
        .shares_of_clip(&authed.account.id, &view.clip.id)
        .await?;
    Ok(Json(ShareList {
        shares: shares
            .into_iter()
            .map(|s| ShareInfo {
                id: s.id,
                clip_id: view.clip.id.clone(),
                sharee_root: hex::encode(s.sharee_root),
                created_at_ms: s.created_at_ms,
            })
            .collect(),
    }))
}

/// Revokes a share of an owned clip. Copies the sharee already downloaded are beyond reach.
#[utoipa::path(delete, path = "/api/clips/{id}/shares/{share_id}", tag = "shares", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "clip id"), ("share_id" = String, Path, description = "share id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_share(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath((id, share_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let view = owned_clip(&state, &authed, &id).await?;
    let now = state.now_ms();
    let log_body = serde_json::json!({
        "kind": "clip_unshared",
        "at_ms": now,
        "clip": view.clip.id,
        "share": share_id,
    });
    let revoked = state
        .store
        .delete_share(
            &authed.account.id,
            &view.clip.id,
            &share_id,
            "clip_unshared",
            log_body.to_string().as_bytes(),
            now,
        )
        .await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

fn shared_info(s: &SharedClip) -> SharedClipInfo {
    let c = &s.view.clip;
    SharedClipInfo {
        share_id: s.share_id.clone(),
        owner_root: hex::encode(&s.owner_root),
        camera_name: s.view.camera_name.clone(),
        start_ms: c.start_ms,
        duration_ms: u64::try_from(c.duration_ms).unwrap_or(0),
        payload_size: u64::try_from(c.payload_size).unwrap_or(0),
        shared_at_ms: s.shared_at_ms,
        payload_sha256: hex::encode(&c.payload_sha256),
        statement: STANDARD.encode(&c.statement),
        signature: STANDARD.encode(&c.signature),
        hub_key: hex::encode(&s.view.hub_key),
    }
}

/// Clips other accounts shared with the caller, by start time. Owners are named by their
/// chain root only.
#[utoipa::path(get, path = "/api/shared", tag = "shares", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SharedClipList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn shared_with_me(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<Json<SharedClipList>> {
    let shared = state.store.clips_shared_with(&authed.account.id).await?;
    Ok(Json(SharedClipList {
        clips: shared.iter().map(shared_info).collect(),
    }))
}

async fn shared_clip(
    state: &AppState,
    authed: &DeviceAuthed,
    share_id: &str,
) -> ApiResult<SharedClip> {
    state
        .store
        .shared_clip(&authed.account.id, share_id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// A clip shared with the caller: the share's header in the clip's detail, and the owner's
/// chain to verify the hub's statement under (from the owner's root).
#[utoipa::path(get, path = "/api/shared/{share_id}", tag = "shares", security(("bearer" = []), ("cookie" = [])),
    params(("share_id" = String, Path, description = "share id")),
    responses((status = 200, body = SharedClipDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn shared_clip_detail(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(share_id): ApiPath<String>,
) -> ApiResult<Json<SharedClipDetail>> {
    let shared = shared_clip(&state, &authed, &share_id).await?;
    let mut clip = detail(&shared.view);
    clip.summary.header_size = shared.header.len() as u64;
    clip.header = STANDARD.encode(&shared.header);
    clip.header_sha256 = hex::encode(Sha256::digest(&shared.header));
    let chain = state.store.chain_of(&shared.view.clip.account_id).await?;
    Ok(Json(SharedClipDetail {
        share_id: shared.share_id,
        owner_root: hex::encode(&shared.owner_root),
        clip,
        owner_chain: chain.iter().map(|r| encode_link(&r.link)).collect(),
    }))
}

/// A shared clip's sealed payload, streamed; one `Range` gives `206`, as for the owner.
#[utoipa::path(get, path = "/api/shared/{share_id}/payload", tag = "shares", security(("bearer" = []), ("cookie" = [])),
    params(("share_id" = String, Path, description = "share id"), ("range" = Option<String>, Header, description = "one byte range")),
    responses((status = 200, content_type = "application/octet-stream", body = inline(Binary)), (status = 206, content_type = "application/octet-stream", body = inline(Binary)),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)))]
pub async fn shared_payload(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(share_id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let shared = shared_clip(&state, &authed, &share_id).await?;
    serve_payload(&state, &shared.view.clip, &headers).await
}
