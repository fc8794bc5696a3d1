//! Cameras and sealed clips: hub upload, listing, download with `Range`, header re-wrap,
//! deletion and retention.
//!
//! The server never holds a key that opens a clip. An upload is a standard age file
//! (header ‖ payload) plus the hub's signed statement (camera, start, duration, payload
//! hash); the server checks the statement's signature under the uploading hub's key and that
//! the payload it stored hashes to what the statement says, so a cut or corrupted upload
//! never becomes a clip. The header lives in the database (it is small and re-wrapped in
//! place); the payload streams into the blob store and out again, never whole in memory.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::TryStreamExt;
use porchlight_crypto::{
    ClipHeader, ClipSignature, ClipStatement, HubKey, MAX_HEADER_BYTES, verify_clip,
};
use porchlight_proto::{
    CLIP_STATEMENT_HEADER, CameraInfo, CameraList, CameraUpdate, ClipDetail, ClipList, ClipSummary,
    Deleted, ErrorBody, ErrorCode,
};
use porchlight_store::{BlobError, BlobKey, Camera, Clip, ClipQuery, ClipView, StoreError};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, ReadBuf};
use tokio_util::io::{ReaderStream, StreamReader};
use utoipa::IntoParams;

use crate::auth::secrets::random_id;
use crate::config::MAX_RETENTION_DAYS;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery, DeviceAuthed, HubAuthed, JsonBody, parse_json};
use crate::openapi::Binary;
use crate::state::AppState;

/// Age STREAM: a 16-byte nonce, then chunks of 64 KiB plaintext + 16-byte tag.
const PAYLOAD_NONCE: u64 = 16;
const STREAM_CHUNK: u64 = 64 * 1024 + 16;
const STREAM_TAG: u64 = 16;
/// Longest clip the server records the duration of: a day.
const MAX_DURATION_MS: u64 = 24 * 3600 * 1000;
const MAX_PAGE: i64 = 500;
/// How much of a refused upload is read (and dropped) so the client sees the answer.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;
const DEFAULT_PAGE: i64 = 100;

fn invalid_clip(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidClip, message)
}

fn too_large(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        message,
    )
}

fn upload_cut() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidClip,
        "the upload ended early or could not be read; nothing was stored",
    )
}

fn owner_only() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "only the owner's devices may change or delete clips and cameras",
    )
}

fn blob_key(clip_id: &str) -> ApiResult<BlobKey> {
    BlobKey::parse(clip_id).map_err(|e| ApiError::internal(&e))
}

pub(crate) fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::TooLarge { max_bytes } => {
            too_large(format!("a sealed clip may be at most {max_bytes} bytes"))
        }
        BlobError::Upload(_) => upload_cut(),
        BlobError::NotFound => ApiError::not_found(),
        other => ApiError::internal(&other),
    }
}

/// Whether `size` bytes can be an age payload: nonce, full chunks, a last chunk holding at
/// least its tag. (Whether the chunks open is for the devices to find out.)
fn plausible_payload_size(size: u64) -> bool {
    size >= PAYLOAD_NONCE + STREAM_TAG
        && !(1..STREAM_TAG).contains(&((size - PAYLOAD_NONCE) % STREAM_CHUNK))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A clip as listings show it: with the hub's statement, so a device checks each one.
pub(crate) fn summary(view: &ClipView) -> ClipSummary {
    let c = &view.clip;
    ClipSummary {
        id: c.id.clone(),
        camera_id: c.camera_id.clone(),
        camera_name: view.camera_name.clone(),
        start_ms: c.start_ms,
        duration_ms: u64::try_from(c.duration_ms).unwrap_or(0),
        payload_size: u64::try_from(c.payload_size).unwrap_or(0),
        header_size: c.header.len() as u64,
        payload_sha256: hex::encode(&c.payload_sha256),
        statement: STANDARD.encode(&c.statement),
        signature: STANDARD.encode(&c.signature),
        hub_key: hex::encode(&view.hub_key),
    }
}

pub(crate) fn detail(view: &ClipView) -> ClipDetail {
    let c = &view.clip;
    ClipDetail {
        summary: summary(view),
        header: STANDARD.encode(&c.header),
        header_sha256: sha256_hex(&c.header),
    }
}

fn camera_info(c: &Camera, viewer: &str) -> CameraInfo {
    CameraInfo {
        id: c.id.clone(),
        name: c.name.clone(),
        label: c.label.clone(),
        hub_id: c.hub_id.clone(),
        retention_days: u32::try_from(c.retention_days).unwrap_or(0),
        owned: c.account_id == viewer,
    }
}

// ---- upload ----

/// Reads the age header (through the `--- MAC` line) from the front of an upload, refusing
/// one longer than [`MAX_HEADER_BYTES`] before reading further.
pub(crate) async fn read_age_header<R: AsyncBufRead + Unpin>(input: &mut R) -> ApiResult<Vec<u8>> {
    let mut header = Vec::new();
    loop {
        let start = header.len();
        let room = (MAX_HEADER_BYTES + 1 - start) as u64;
        let n = (&mut *input)
            .take(room)
            .read_until(b'\n', &mut header)
            .await
            .map_err(|_| upload_cut())?;
        if header.len() > MAX_HEADER_BYTES {
            return Err(too_large(format!(
                "the age header is larger than {MAX_HEADER_BYTES} bytes"
            )));
        }
        if n == 0 || !header.ends_with(b"\n") {
            return Err(invalid_clip("the upload ended inside the age header"));
        }
        if header[start..].starts_with(b"--- ") {
            return Ok(header);
        }
    }
}

/// Reads and drops up to [`DRAIN_LIMIT`] more bytes of a refused upload before answering, so
/// a client still sending reads the refusal instead of a reset connection; a larger rest is
/// cut off (the connection closes).
pub(crate) async fn after_draining<R: AsyncRead + Unpin>(
    input: &mut R,
    refusal: ApiError,
) -> ApiError {
    let _ = tokio::io::copy(&mut input.take(DRAIN_LIMIT), &mut tokio::io::sink()).await;
    refusal
}

/// Hashes and counts what passes through.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashing<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let fresh = &buf.filled()[before..];
            self.hasher.update(fresh);
        }
        polled
    }
}

/// The statement header: base64 of statement bytes ‖ 64-byte signature.
fn parse_statement(headers: &HeaderMap) -> ApiResult<(ClipStatement, ClipSignature, Vec<u8>)> {
    let text = headers
        .get(CLIP_STATEMENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| invalid_clip(format!("send the {CLIP_STATEMENT_HEADER} header")))?;
    if text.len() > 2048 {
        return Err(invalid_clip("the clip statement is too long"));
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| invalid_clip("the clip statement is not base64"))?;
    let split = bytes
        .len()
        .checked_sub(64)
        .ok_or_else(|| invalid_clip("the clip statement is too short"))?;
    let (statement_bytes, signature) = bytes.split_at(split);
    let statement = ClipStatement::from_bytes(statement_bytes)
        .map_err(|e| invalid_clip(format!("the clip statement: {e}")))?;
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| invalid_clip("the clip statement is too short"))?;
    Ok((
        statement,
        ClipSignature::from_bytes(signature),
        statement_bytes.to_vec(),
    ))
}

fn valid_upload_key(key: &str) -> bool {
    (8..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A hub uploads a sealed clip: the body is the age file (header ‖ payload), the
/// `porchlight-clip-statement` header its signed statement. Idempotent per upload key: a
/// retry of a finished upload answers `200` with the same clip.
#[utoipa::path(put, path = "/api/hub/clips/{key}", tag = "clips", security(("bearer" = [])),
    params(("key" = String, Path, description = "the hub's idempotency key: 8 to 64 letters, digits, - or _"),
           ("porchlight-clip-statement" = String, Header, description = "base64 of the statement bytes and the hub's 64-byte signature")),
    request_body(content = inline(Binary), content_type = "application/octet-stream", description = "an age v1 file"),
    responses((status = 201, body = ClipSummary), (status = 200, body = ClipSummary), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upload_clip(
    State(state): State<AppState>,
    hub: HubAuthed,
    ApiPath(key): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<ClipSummary>)> {
    let hub = hub.hub;
    if !valid_upload_key(&key) {
        return Err(ApiError::invalid_input(
            "the upload key must be 8 to 64 letters, digits, - or _",
        ));
    }
    let (statement, signature, statement_bytes) = parse_statement(&headers)?;
    let hub_key = <[u8; 32]>::try_from(hub.hub_key.as_slice())
        .ok()
        .and_then(|k| HubKey::from_bytes(k).ok())
        .ok_or_else(|| ApiError::internal(&"stored hub key is invalid"))?;
    verify_clip(&statement, &signature, &hub_key).map_err(|_| {
        invalid_clip("the clip statement's signature does not verify under this hub's key")
    })?;
    if statement.duration_ms() > MAX_DURATION_MS {
        return Err(invalid_clip("a clip may last at most a day"));
    }
    if let Some(existing) = state.store.clip_by_upload_key(&hub.id, &key).await? {
        return same_upload(&existing, &statement_bytes, &signature);
    }

    let mut input = BufReader::with_capacity(
        64 * 1024,
        StreamReader::new(body.into_data_stream().map_err(io::Error::other)),
    );
    let header = match read_age_header(&mut input).await {
        Ok(header) => header,
        Err(refused) => return Err(after_draining(&mut input, refused).await),
    };
    ClipHeader::parse(&header).map_err(|e| invalid_clip(format!("the age header: {e}")))?;

    let clip_id = random_id();
    let blob = blob_key(&clip_id)?;
    let mut payload = Hashing {
        inner: input,
        hasher: Sha256::new(),
    };
    let size = match state
        .blobs
        .put(&blob, &mut payload, state.config.clips.max_clip_bytes)
        .await
    {
        Ok(size) => size,
        Err(e) => return Err(after_draining(&mut payload.inner, blob_error(e)).await),
    };
    let digest: [u8; 32] = payload.hasher.finalize().into();
    let refuse = |message: &str| invalid_clip(message.to_owned());
    let problem = if digest != *statement.payload_sha256() {
        Some(refuse(
            "the payload does not hash to what the statement says (cut or corrupted upload)",
        ))
    } else if !plausible_payload_size(size) {
        Some(refuse("the payload is not a whole age payload"))
    } else {
        None
    };
    if let Some(problem) = problem {
        discard_blob(&state, &blob).await;
        return Err(problem);
    }

    let now = state.now_ms();
    let camera = state
        .store
        .camera_for_upload(
            &hub,
            statement.camera_id(),
            &random_id(),
            i64::from(state.config.clips.default_retention_days),
            now,
        )
        .await?;
    let clip = Clip {
        id: clip_id,
        account_id: hub.account_id.clone(),
        camera_id: camera.id.clone(),
        hub_id: hub.id.clone(),
        upload_key: key.clone(),
        start_ms: statement.start_ms(),
        duration_ms: i64::try_from(statement.duration_ms()).unwrap_or(i64::MAX),
        payload_size: i64::try_from(size).unwrap_or(i64::MAX),
        payload_sha256: digest.to_vec(),
        header,
        statement: statement_bytes.clone(),
        signature: signature.to_bytes().to_vec(),
        created_at_ms: now,
    };
    match state.store.insert_clip(&clip).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            // The same upload finished on another connection first.
            discard_blob(&state, &blob).await;
            let existing = state
                .store
                .clip_by_upload_key(&hub.id, &key)
                .await?
                .ok_or_else(|| ApiError::internal(&"upload key conflict without a clip"))?;
            return same_upload(&existing, &statement_bytes, &signature);
        }
        Err(e) => {
            discard_blob(&state, &blob).await;
            return Err(e.into());
        }
    }
    metrics::counter!("porchlight_clips_uploaded_total").increment(1);
    metrics::counter!("porchlight_clip_bytes_uploaded_total").increment(size);
    let view = ClipView {
        clip,
        camera_name: camera.name,
        hub_key: hub.hub_key,
    };
    Ok((StatusCode::CREATED, Json(summary(&view))))
}

fn same_upload(
    existing: &ClipView,
    statement: &[u8],
    signature: &ClipSignature,
) -> ApiResult<(StatusCode, Json<ClipSummary>)> {
    if existing.clip.statement == statement && existing.clip.signature == signature.to_bytes() {
        Ok((StatusCode::OK, Json(summary(existing))))
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "this upload key was used for another clip",
        ))
    }
}

pub(crate) async fn discard_blob(state: &AppState, key: &BlobKey) {
    if let Err(e) = state.blobs.delete(key).await {
        tracing::warn!(cause = %e, "could not delete a refused clip's blob");
    }
}

// ---- cameras ----

/// Cameras the account owns, and those shared with it through a household.
#[utoipa::path(get, path = "/api/cameras", tag = "clips", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = CameraList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_cameras(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<Json<CameraList>> {
    let viewer = &authed.account.id;
    let cameras = state.store.cameras_visible_to(viewer).await?;
    Ok(Json(CameraList {
        cameras: cameras.iter().map(|c| camera_info(c, viewer)).collect(),
    }))
}

/// Camera `id`, if `viewer` may see it (its own, or its household's); 404 otherwise, the same
/// answer as for a camera that does not exist.
pub(crate) async fn visible_camera(state: &AppState, viewer: &str, id: &str) -> ApiResult<Camera> {
    state
        .store
        .cameras_visible_to(viewer)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(ApiError::not_found)
}

/// Longest camera label, in characters.
const MAX_LABEL_CHARS: usize = 64;

/// A label as sent: trimmed; `None` for an empty one (show the camera's name again).
fn parse_label(label: &str) -> ApiResult<Option<String>> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(ApiError::invalid_input(format!(
            "label must be at most {MAX_LABEL_CHARS} characters"
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(ApiError::invalid_input(
            "label must not contain control characters",
        ));
    }
    Ok((!label.is_empty()).then(|| label.to_owned()))
}

/// Sets an owned camera's retention (how many days its clips are kept) and the label the
/// apps show for it. The name its hub signs never changes.
#[utoipa::path(patch, path = "/api/cameras/{id}", tag = "clips", request_body = CameraUpdate, security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "camera id")),
    responses((status = 200, body = CameraInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_camera(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<CameraInfo>> {
    let viewer = &authed.account.id;
    let camera = visible_camera(&state, viewer, &id).await?;
    if camera.account_id != *viewer {
        return Err(owner_only());
    }
    let req: CameraUpdate = parse_json(&body)?;
    if req.retention_days.is_none() && req.label.is_none() {
        return Err(ApiError::invalid_input(
            "send retention_days, label or both",
        ));
    }
    let days = match req.retention_days {
        Some(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => i64::from(days),
        Some(_) => {
            return Err(ApiError::invalid_input(format!(
                "retention_days must be 1 to {MAX_RETENTION_DAYS}"
            )));
        }
        None => camera.retention_days,
    };
    let label = match &req.label {
        Some(label) => parse_label(label)?,
        None => camera.label.clone(),
    };
    if !state
        .store
        .set_camera_settings(viewer, &id, days, label.as_deref())
        .await?
    {
        return Err(ApiError::not_found());
    }
    Ok(Json(camera_info(
        &Camera {
            retention_days: days,
            label,
            ..camera
        },
        viewer,
    )))
}

// ---- clips ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClipListQuery {
    /// Only this camera (by id).
    camera: Option<String>,
    /// Only cameras with this name.
    camera_name: Option<String>,
    /// Clips starting at or after this time.
    from_ms: Option<i64>,
    /// Clips starting before this time.
    to_ms: Option<i64>,
    /// 1 to 500; 100 if absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

fn parse_cursor(cursor: &str) -> ApiResult<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(start, id)| {
            let start = start.parse::<i64>().ok()?;
            (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (start, id.to_owned()))
        })
        .ok_or_else(|| ApiError::invalid_input("cursor is not one this server gave out"))
}

/// A page of clips (oldest first) from the cameras the account may see.
#[utoipa::path(get, path = "/api/clips", tag = "clips", security(("bearer" = []), ("cookie" = [])), params(ClipListQuery),
    responses((status = 200, body = ClipList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_clips(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiQuery(q): ApiQuery<ClipListQuery>,
) -> ApiResult<Json<ClipList>> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_input(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let query = ClipQuery {
        camera_id: q.camera,
        camera_name: q.camera_name,
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut views = state
        .store
        .clips_visible_to(&authed.account.id, &query)
        .await?;
    let more = views.len() as i64 > limit;
    views.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more
        .then(|| {
            views
                .last()
                .map(|v| format!("{}.{}", v.clip.start_ms, v.clip.id))
        })
        .flatten();
    Ok(Json(ClipList {
        clips: views.iter().map(summary).collect(),
        next_cursor,
    }))
}

async fn visible_clip(state: &AppState, authed: &DeviceAuthed, id: &str) -> ApiResult<ClipView> {
    state
        .store
        .clip_visible_to(&authed.account.id, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// A clip's header, statement and signature: what a device needs to check and open it.
#[utoipa::path(get, path = "/api/clips/{id}", tag = "clips", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "clip id")),
    responses((status = 200, body = ClipDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_clip(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ClipDetail>> {
    Ok(Json(detail(&visible_clip(&state, &authed, &id).await?)))
}

/// One `bytes=` range from a `Range` header: `Ok(None)` for none (or one this server does not
/// serve, which RFC 9110 says to ignore), `Err` for one that lies outside the payload.
fn requested_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let Ok(suffix) = last.parse::<u64>() else {
            return Ok(None);
        };
        if suffix == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(suffix), size - 1)
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return Ok(None);
        };
        let end = if last.is_empty() {
            size.saturating_sub(1)
        } else {
            match last.parse::<u64>() {
                Ok(end) if end >= start => end.min(size.saturating_sub(1)),
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(());
        }
        (start, end)
    };
    Ok(Some(range))
}

/// The sealed payload, streamed; one `Range` (`bytes=a-b`, `a-`, `-n`) gives `206`.
#[utoipa::path(get, path = "/api/clips/{id}/payload", tag = "clips", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "clip id"), ("range" = Option<String>, Header, description = "one byte range")),
    responses((status = 200, content_type = "application/octet-stream", body = inline(Binary)), (status = 206, content_type = "application/octet-stream", body = inline(Binary)),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)))]
pub async fn clip_payload(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let view = visible_clip(&state, &authed, &id).await?;
    serve_payload(&state, &view.clip, &headers).await
}

/// A clip's sealed payload as a response: whole, or the one range `headers` ask for. The
/// caller has decided the asker may have it.
pub(crate) async fn serve_payload(
    state: &AppState,
    clip: &Clip,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let blob = ServedBlob {
        key: blob_key(&clip.id)?,
        size: u64::try_from(clip.payload_size).unwrap_or(0),
        content_type: "application/octet-stream",
        etag: Some(hex::encode(&clip.payload_sha256)),
        what: "payload",
    };
    serve_blob(state, headers, blob).await
}

/// A blob to stream back: a clip's payload, a feed post's video.
pub(crate) struct ServedBlob {
    pub(crate) key: BlobKey,
    pub(crate) size: u64,
    pub(crate) content_type: &'static str,
    /// Quoted into the `ETag` when given.
    pub(crate) etag: Option<String>,
    /// What the blob is, for the out-of-range message ("payload", "video").
    pub(crate) what: &'static str,
}

/// A blob as a response: whole, or the one range `headers` ask for (`206`), or `416` with the
/// size when the range lies outside it. The caller has decided the asker may have it.
pub(crate) async fn serve_blob(
    state: &AppState,
    headers: &HeaderMap,
    blob: ServedBlob,
) -> ApiResult<Response> {
    let ServedBlob {
        key,
        size,
        content_type,
        etag,
        what,
    } = blob;
    let Ok(range) = requested_range(headers, size) else {
        let mut response = ApiError {
            retry_after_secs: None,
            ..ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::InvalidInput,
                format!("the range lies outside the {size}-byte {what}"),
            )
        }
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(response);
    };
    let (status, reader, length, content_range) = match range {
        None => {
            let (_, reader) = state.blobs.get(&key).await.map_err(blob_error)?;
            (StatusCode::OK, reader, size, None)
        }
        Some((start, end)) => {
            let (_, reader) = state
                .blobs
                .get_range(&key, start, end)
                .await
                .map_err(blob_error)?;
            (
                StatusCode::PARTIAL_CONTENT,
                reader,
                end - start + 1,
                Some(format!("bytes {start}-{end}/{size}")),
            )
        }
    };
    let mut response = Response::new(Body::from_stream(ReaderStream::with_capacity(
        reader,
        64 * 1024,
    )));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(&format!("\"{e}\"")).ok()) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = content_range.and_then(|r| HeaderValue::from_str(&r).ok()) {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

/// Replaces an owned clip's age header (re-wrapped for a new recipient set), only if it is
/// still the header whose SHA-256 `If-Match` names. The payload is untouched.
#[utoipa::path(put, path = "/api/clips/{id}/header", tag = "clips", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "clip id"), ("if-match" = String, Header, description = "hex SHA-256 of the header being replaced")),
    request_body(content = inline(Binary), content_type = "application/octet-stream", description = "the new age header"),
    responses((status = 200, body = ClipDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 412, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_header(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ClipDetail>> {
    let view = visible_clip(&state, &authed, &id).await?;
    if view.clip.account_id != authed.account.id {
        return Err(owner_only());
    }
    let expected = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_ascii_lowercase())
        .ok_or_else(|| {
            ApiError::invalid_input("send If-Match with the SHA-256 of the header you re-wrapped")
        })?;
    let new_header = http_body_util::Limited::new(body, MAX_HEADER_BYTES);
    let new_header = http_body_util::BodyExt::collect(new_header)
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                too_large(format!("an age header is at most {MAX_HEADER_BYTES} bytes"))
            } else {
                upload_cut()
            }
        })?
        .to_bytes();
    ClipHeader::parse(&new_header).map_err(|e| invalid_clip(format!("the age header: {e}")))?;
    let precondition_failed = || {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::Conflict,
            "the header changed since you read it; fetch it and re-wrap again",
        )
    };
    if sha256_hex(&view.clip.header) != expected {
        return Err(precondition_failed());
    }
    match state
        .store
        .replace_clip_header(&authed.account.id, &id, &view.clip.header, &new_header)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(precondition_failed()),
        Err(StoreError::NotFound) => return Err(ApiError::not_found()),
        Err(e) => return Err(e.into()),
    }
    let mut view = view;
    view.clip.header = new_header.to_vec();
    Ok(Json(detail(&view)))
}

/// Deletes an owned clip, its header, payload and shares, for every device of the account and
/// its household; a `clip_deleted` entry goes into the account's transparency log.
#[utoipa::path(delete, path = "/api/clips/{id}", tag = "clips", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "clip id")),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_clip(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    let view = visible_clip(&state, &authed, &id).await?;
    if view.clip.account_id != authed.account.id {
        return Err(owner_only());
    }
    let now = state.now_ms();
    let log_body = serde_json::json!({
        "kind": "clip_deleted",
        "at_ms": now,
        "clip": view.clip.id,
        "camera": view.camera_name,
        "start_ms": view.clip.start_ms,
        "device": authed.device.name,
    });
    let deleted = state
        .store
        .delete_clip(
            &authed.account.id,
            &id,
            "clip_deleted",
            log_body.to_string().as_bytes(),
            now,
        )
        .await?;
    if !deleted {
        return Err(ApiError::not_found());
    }
    discard_blob(&state, &blob_key(&id)?).await;
    Ok(Json(Deleted { deleted: 1 }))
}

/// Deletes clips older than their camera's retention: rows first (so they vanish from every
/// listing at once), then payloads. Returns how many were deleted.
pub async fn sweep_retention(state: &AppState) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let expired = state.store.expired_clips(state.now_ms(), 500).await?;
        if expired.is_empty() {
            return Ok(deleted);
        }
        for id in expired {
            if state.store.delete_expired_clip(&id).await? {
                deleted += 1;
                if let Ok(key) = BlobKey::parse(&id) {
                    discard_blob(state, &key).await;
                }
            }
        }
        metrics::counter!("porchlight_clips_expired_total").increment(deleted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_sizes_age_can_write() {
        // Empty plaintext: nonce + one 16-byte tag.
        assert!(plausible_payload_size(32));
        // One full chunk, one full + 1 byte.
        assert!(plausible_payload_size(16 + STREAM_CHUNK));
        assert!(plausible_payload_size(16 + STREAM_CHUNK + 17));
        // Shorter than a tag, or a last chunk shorter than its tag.
        assert!(!plausible_payload_size(0));
        assert!(!plausible_payload_size(31));
        assert!(!plausible_payload_size(16 + STREAM_CHUNK + 5));
    }

    #[test]
    fn ranges() {
        let mut h = HeaderMap::new();
        assert_eq!(requested_range(&h, 100), Ok(None));
        for (spec, want) in [
            ("bytes=0-9", Ok(Some((0, 9)))),
            ("bytes=90-", Ok(Some((90, 99)))),
            ("bytes=-10", Ok(Some((90, 99)))),
            ("bytes=95-200", Ok(Some((95, 99)))),
            ("bytes=100-", Err(())),
            ("bytes=-0", Err(())),
            ("bytes=5-1", Ok(None)),
            ("bytes=0-1,5-6", Ok(None)),
            ("items=0-1", Ok(None)),
            ("bytes=x-1", Ok(None)),
        ] {
            h.insert(header::RANGE, HeaderValue::from_static(spec));
            assert_eq!(requested_range(&h, 100), want, "{spec}");
        }
    }
}
