//! Research consent and the research dataset (DESIGN §9).
//!
//! Owners record consent receipts their devices signed (`/api/consents`), each one checked and
//! put in the transparency log. Their clients then upload research items: a clip opened on the
//! owner's device, stripped of container metadata and re-sealed to the research program's age
//! recipient. The server stores an item with a random id, its withdrawal tag, a UTC day and a
//! size — nothing that leads back to the owner. The tag is a one-way hash of the withdrawal key
//! only the owner's devices can compute: the server removes the item when a device presents
//! that key, and answers an owner's "which of these are in the dataset" only for tags the
//! owner's device computed, so no listing hands anyone something that withdraws an item.
//!
//! Annotators (the `annotator` staff role) list items, fetch their sealed bytes (each view is
//! logged first, under no account) and add labels; this is all their role opens.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::TryStreamExt;
use porchlight_crypto::{
    ConsentAction, ConsentError, ConsentReceipt, ConsentScope, WithdrawalKey, WithdrawalTag,
};
use porchlight_proto::{
    ConsentInfo, ConsentList, ConsentScopeInfo, ConsentSubmit, ErrorBody, ErrorCode,
    MAX_MATCH_TAGS, ResearchItemInfo, ResearchItemList, ResearchLabel, ResearchRecipient,
    ResearchTagMatch, ResearchTagQuery, ResearchWithdrawal,
};
use porchlight_store::{BlobKey, ConsentOutcome, ConsentRecord, ResearchItem, Store, StoreError};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, BufReader};
use tokio_util::io::{ReaderStream, StreamReader};
use utoipa::IntoParams;

use crate::auth::secrets::random_id;
use crate::chain::stored_chain;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, DeviceAuthed, JsonBody, StaffAuthed, parse_json};
use crate::openapi::Binary;
use crate::routes::clips::{after_draining, blob_error, discard_blob, read_age_header};
use crate::routes::staff::{ROLE_ANNOTATOR, require_role};
use crate::state::AppState;

/// How far a receipt's `issued_at_ms` may be from the server's clock.
pub const RECEIPT_WINDOW_MS: i64 = 10 * 60 * 1000;
/// The longest label an annotator may add.
pub const MAX_LABEL_CHARS: usize = 100;

fn refused(status: StatusCode, code: ErrorCode, message: &str) -> ApiError {
    ApiError::new(status, code, message)
}

fn not_owned() -> ApiError {
    refused(
        StatusCode::FORBIDDEN,
        ErrorCode::NotOwned,
        "only the owner of a camera or clip may consent for it (a household's shared camera is its owner's to give)",
    )
}

fn research_off() -> ApiError {
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ResearchOff,
        "this server has no research program (research.recipient is not configured)",
    )
}

fn research_recipient(state: &AppState) -> ApiResult<String> {
    state
        .config
        .research
        .recipient()
        .map(str::to_owned)
        .ok_or_else(research_off)
}

fn blob_key(item_id: &str) -> ApiResult<BlobKey> {
    BlobKey::parse(&format!("research-{item_id}")).map_err(|e| ApiError::internal(&e))
}

fn consent_info(c: &ConsentRecord) -> ConsentInfo {
    let signer = ConsentReceipt::from_bytes(&c.receipt)
        .map(|r| hex::encode(r.signer()))
        .unwrap_or_default();
    ConsentInfo {
        action: c.action.clone(),
        scope_kind: c.scope_kind.clone(),
        scope_id: c.scope_id.clone(),
        signer,
        issued_at_ms: c.issued_at_ms,
        recorded_at_ms: c.recorded_at_ms,
        receipt: STANDARD.encode(&c.receipt),
    }
}

/// Checks that `scope` is a camera or clip the caller owns (not one shared with it).
async fn check_owned(state: &AppState, account_id: &str, scope: &ConsentScope) -> ApiResult<()> {
    let owned = match scope {
        ConsentScope::Camera(id) => state
            .store
            .cameras_visible_to(account_id)
            .await?
            .iter()
            .any(|c| &c.id == id && c.account_id == account_id),
        ConsentScope::Clip(id) => state
            .store
            .clip_visible_to(account_id, id)
            .await?
            .is_some_and(|v| v.clip.account_id == account_id),
    };
    if owned { Ok(()) } else { Err(not_owned()) }
}

fn receipt_error(e: ConsentError) -> ApiError {
    match e {
        ConsentError::SignerNotInChain => refused(
            StatusCode::FORBIDDEN,
            ErrorCode::SignerNotInChain,
            "the receipt is signed by a key that is not an active device of your device chain",
        ),
        ConsentError::WrongChain => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ReceiptInvalid,
            "the receipt names another account's device chain",
        ),
        ConsentError::BadSignature => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ReceiptInvalid,
            "the receipt's signature does not verify",
        ),
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ReceiptInvalid,
            format!("the receipt is malformed: {other}"),
        ),
    }
}

/// Records a consent receipt (give or withdraw) signed by one of the caller's devices, and
/// puts it in the transparency log for the account.
#[utoipa::path(post, path = "/api/consents", tag = "research", request_body = ConsentSubmit, security(("bearer" = []), ("cookie" = [])),
    responses((status = 201, body = ConsentInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_consent(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiJson(req): ApiJson<ConsentSubmit>,
) -> ApiResult<(StatusCode, Json<ConsentInfo>)> {
    let account_id = authed.account.id.clone();
    let bytes = STANDARD
        .decode(req.receipt.trim())
        .map_err(|_| ApiError::invalid_input("receipt must be base64"))?;
    let receipt = ConsentReceipt::from_bytes(&bytes).map_err(receipt_error)?;
    let Some((chain, _)) = stored_chain(&state, &account_id).await? else {
        return Err(receipt_error(ConsentError::SignerNotInChain));
    };
    receipt.verify(&chain).map_err(receipt_error)?;
    let now = state.now_ms();
    if (receipt.issued_at_ms() - now).abs() > RECEIPT_WINDOW_MS {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ReceiptStale,
            "the receipt was issued more than 10 minutes from the server's time: check the device clock and sign a new one",
        ));
    }
    check_owned(&state, &account_id, receipt.scope()).await?;
    let (action, kind) = match receipt.action() {
        ConsentAction::Give => ("give", "consent_given"),
        ConsentAction::Withdraw => ("withdraw", "consent_withdrawn"),
    };
    let record = ConsentRecord {
        nonce: hex::encode(receipt.nonce()),
        account_id: account_id.clone(),
        action: action.to_owned(),
        scope_kind: receipt.scope().kind().to_owned(),
        scope_id: receipt.scope().id().to_owned(),
        receipt: bytes.clone(),
        issued_at_ms: receipt.issued_at_ms(),
        recorded_at_ms: now,
    };
    let body = serde_json::json!({
        "kind": kind,
        "at_ms": now,
        "scope_kind": record.scope_kind,
        "scope_id": record.scope_id,
        "signer": hex::encode(receipt.signer()),
        "issued_at_ms": record.issued_at_ms,
        "receipt": STANDARD.encode(&bytes),
    });
    match state
        .store
        .record_consent(&record, kind, body.to_string().as_bytes())
        .await?
    {
        ConsentOutcome::Recorded => Ok((StatusCode::CREATED, Json(consent_info(&record)))),
        ConsentOutcome::Replayed => Err(refused(
            StatusCode::CONFLICT,
            ErrorCode::ReceiptReplayed,
            "this receipt was recorded before: each receipt counts once",
        )),
        ConsentOutcome::NotLive => Err(refused(
            StatusCode::CONFLICT,
            ErrorCode::NoConsent,
            "there is no live consent for this scope to withdraw",
        )),
    }
}

/// The caller's receipts and live consents.
#[utoipa::path(get, path = "/api/consents", tag = "research", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ConsentList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_consents(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<Json<ConsentList>> {
    let receipts = state.store.consent_receipts_of(&authed.account.id).await?;
    let live = state.store.live_consents_of(&authed.account.id).await?;
    Ok(Json(ConsentList {
        receipts: receipts.iter().map(consent_info).collect(),
        live: live
            .into_iter()
            .map(|(scope_kind, scope_id)| ConsentScopeInfo {
                scope_kind,
                scope_id,
            })
            .collect(),
    }))
}

/// The research program's age recipient, which owners' clients seal research items to.
#[utoipa::path(get, path = "/api/research/recipient", tag = "research", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ResearchRecipient), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn recipient(
    State(state): State<AppState>,
    _authed: DeviceAuthed,
) -> ApiResult<Json<ResearchRecipient>> {
    Ok(Json(ResearchRecipient {
        recipient: research_recipient(&state)?,
    }))
}

/// Where a research item upload says what it is: nothing but a day and the withdrawal tag.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemUpload {
    /// `YYYY-MM-DD`: the clip's start, rounded down to the day, UTC.
    pub day: String,
    /// 64 lowercase hex characters: the hash of the clip's withdrawal key, never the key.
    pub withdrawal_tag: String,
}

fn valid_day(day: &str) -> bool {
    let b = day.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !digits(0..4)
        || !digits(5..7)
        || !digits(8..10)
    {
        return false;
    }
    let month: u32 = day[5..7].parse().unwrap_or(0);
    let d: u32 = day[8..10].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&d)
}

/// 64 lowercase hex characters: the one spelling of a tag the store holds.
fn valid_tag(tag: &str) -> bool {
    tag.len() == 64 && tag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An owner's client uploads a research item: an age file sealed to the research recipient,
/// streamed. The caller must hold at least one live consent or feed post; which clip it came
/// from is the client's to check and is never told to the server.
#[utoipa::path(post, path = "/api/research/items", tag = "research", security(("bearer" = []), ("cookie" = [])), params(ItemUpload),
    request_body(content = inline(Binary), content_type = "application/octet-stream", description = "an age v1 file sealed to the research recipient"),
    responses((status = 201, body = ResearchItemInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn upload_item(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiQuery(q): ApiQuery<ItemUpload>,
    body: Body,
) -> ApiResult<(StatusCode, Json<ResearchItemInfo>)> {
    research_recipient(&state)?;
    if !valid_day(&q.day) || !valid_tag(&q.withdrawal_tag) {
        return Err(ApiError::invalid_input(
            "day must be YYYY-MM-DD and withdrawal_tag 64 lowercase hex characters",
        ));
    }
    // Research takes consented clips and public feed posts (DESIGN §9); which clip an item
    // came from is never told, so the caller needs a live consent or a post of its own.
    if state
        .store
        .live_consents_of(&authed.account.id)
        .await?
        .is_empty()
        && !state.store.has_feed_posts(&authed.account.id).await?
    {
        return Err(refused(
            StatusCode::FORBIDDEN,
            ErrorCode::NoConsent,
            "give consent for the camera or clip first (or post it to the feed): research takes only consented clips and feed posts",
        ));
    }
    let mut input = BufReader::with_capacity(
        64 * 1024,
        StreamReader::new(body.into_data_stream().map_err(std::io::Error::other)),
    );
    let header = match read_age_header(&mut input).await {
        Ok(header) => header,
        Err(refused) => return Err(after_draining(&mut input, refused).await),
    };
    if porchlight_crypto::ClipHeader::parse(&header).is_err() {
        return Err(after_draining(
            &mut input,
            ApiError::invalid_input("the item is not an age v1 file"),
        )
        .await);
    }
    let id = random_id();
    let key = blob_key(&id)?;
    let max = state
        .config
        .research
        .max_item_bytes
        .unwrap_or(state.config.clips.max_clip_bytes);
    let mut whole = std::io::Cursor::new(header).chain(&mut input);
    let size = match state.blobs.put(&key, &mut whole, max).await {
        Ok(size) => size,
        Err(e) => return Err(after_draining(&mut input, blob_error(e)).await),
    };
    let item = ResearchItem {
        id,
        withdrawal_tag: q.withdrawal_tag,
        day: q.day,
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
    };
    match state.store.insert_research_item(&item).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            discard_blob(&state, &key).await;
            return Err(refused(
                StatusCode::CONFLICT,
                ErrorCode::Conflict,
                "this clip is already in the research dataset",
            ));
        }
        Err(e) => {
            discard_blob(&state, &key).await;
            return Err(e.into());
        }
    }
    metrics::counter!("porchlight_research_items_total").increment(1);
    Ok((StatusCode::CREATED, Json(item_info(&item, Vec::new()))))
}

fn item_info(i: &ResearchItem, labels: Vec<String>) -> ResearchItemInfo {
    ResearchItemInfo {
        id: i.id.clone(),
        day: i.day.clone(),
        size_bytes: u64::try_from(i.size_bytes).unwrap_or(0),
        labels,
    }
}

/// Removes the research item whose tag is the hash of this withdrawal key, and its blob. Any
/// owner's device may ask: only the clip's owner can compute the key, and the server keeps
/// only its hash, so neither a listing nor the database gives one away.
#[utoipa::path(post, path = "/api/research/withdrawals", tag = "research", request_body = ResearchWithdrawal, security(("bearer" = []), ("cookie" = [])),
    responses((status = 204, description = "withdrawn: the item, its labels and its blob are gone"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn withdraw_item(
    State(state): State<AppState>,
    _authed: DeviceAuthed,
    ApiJson(req): ApiJson<ResearchWithdrawal>,
) -> ApiResult<StatusCode> {
    research_recipient(&state)?;
    let key = WithdrawalKey::from_hex(&req.withdrawal_key)
        .ok_or_else(|| ApiError::invalid_input("withdrawal_key must be 64 hex characters"))?;
    let id = state
        .store
        .withdraw_research_item(&key.tag().to_hex())
        .await?
        .ok_or_else(ApiError::not_found)?;
    discard_blob(&state, &blob_key(&id)?).await;
    metrics::counter!("porchlight_research_withdrawals_total").increment(1);
    Ok(StatusCode::NO_CONTENT)
}

/// Which of the given withdrawal tags are in the dataset. An owner's device computes the tags
/// of its own clips and asks about those; a tag withdraws nothing, and the answer says
/// nothing about any other item, not even how many there are.
#[utoipa::path(post, path = "/api/research/items/match", tag = "research", request_body = ResearchTagQuery, security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ResearchTagMatch), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn match_items(
    State(state): State<AppState>,
    _authed: DeviceAuthed,
    ApiJson(req): ApiJson<ResearchTagQuery>,
) -> ApiResult<Json<ResearchTagMatch>> {
    research_recipient(&state)?;
    if req.withdrawal_tags.len() > MAX_MATCH_TAGS {
        return Err(ApiError::invalid_input(format!(
            "at most {MAX_MATCH_TAGS} withdrawal tags a request"
        )));
    }
    if !req.withdrawal_tags.iter().all(|t| valid_tag(t)) {
        return Err(ApiError::invalid_input(
            "each withdrawal tag is 64 lowercase hex characters",
        ));
    }
    let mut tags = req.withdrawal_tags;
    tags.sort_unstable();
    tags.dedup();
    Ok(Json(ResearchTagMatch {
        present: state.store.research_tags_present(&tags).await?,
    }))
}

/// Hashes the withdrawal keys that items stored before withdrawal tags were kept under into
/// their tags (migration 0010 marked them), so no key stays in the database. Run at start,
/// before the server answers; returns how many items it converted.
pub async fn tag_items_stored_by_key(store: &Store) -> Result<usize, StoreError> {
    let mut converted = 0;
    for (item_id, key_hex) in store.research_items_keyed_by_key().await? {
        // A stored key was checked as 64 hex characters on upload; anything else cannot
        // have been one, and is hashed as it is so that no text stays readable.
        let tag = match WithdrawalKey::from_hex(&key_hex) {
            Some(key) => key.tag(),
            None => {
                use sha2::Digest;
                WithdrawalTag::from_bytes(sha2::Sha256::digest(key_hex.as_bytes()).into())
            }
        };
        if store
            .set_research_withdrawal_tag(&item_id, &key_hex, &tag.to_hex())
            .await?
        {
            converted += 1;
        }
    }
    Ok(converted)
}

// ---- annotators ----

/// Research items with their labels: ids, days, sizes. Annotators only.
#[utoipa::path(get, path = "/api/staff/research/items", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = ResearchItemList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn staff_items(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
) -> ApiResult<Json<ResearchItemList>> {
    require_role(&staff, &[ROLE_ANNOTATOR])?;
    research_recipient(&state)?;
    let items = state.store.research_items().await?;
    Ok(Json(ResearchItemList {
        items: items
            .into_iter()
            .map(|(i, labels)| item_info(&i, labels))
            .collect(),
    }))
}

/// A research item's sealed bytes, streamed. The view goes into the transparency log (under
/// no account) before a byte is served.
#[utoipa::path(get, path = "/api/staff/research/items/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "research item id")),
    responses((status = 200, content_type = "application/octet-stream", body = inline(Binary)), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn staff_item(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    require_role(&staff, &[ROLE_ANNOTATOR])?;
    research_recipient(&state)?;
    let item = state
        .store
        .research_item(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = state.now_ms();
    let body = serde_json::json!({
        "kind": "research_view",
        "at_ms": now,
        "staff": staff.email,
        "role": staff.role,
        "item": item.id,
    });
    state
        .store
        .enqueue_log_entry(None, "research_view", body.to_string().as_bytes(), now)
        .await?;
    let (size, reader) = state
        .blobs
        .get(&blob_key(&item.id)?)
        .await
        .map_err(blob_error)?;
    let mut response = Response::new(Body::from_stream(ReaderStream::with_capacity(
        reader,
        64 * 1024,
    )));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(response)
}

/// Adds a label to a research item. Annotators only.
#[utoipa::path(post, path = "/api/staff/research/items/{id}/labels", tag = "staff", request_body = ResearchLabel, security(("bearer" = [])),
    params(("id" = String, Path, description = "research item id")),
    responses((status = 200, body = ResearchItemInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn staff_label(
    State(state): State<AppState>,
    StaffAuthed { staff }: StaffAuthed,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ResearchItemInfo>> {
    // The role first: a role that may not label learns nothing from how its body was put.
    require_role(&staff, &[ROLE_ANNOTATOR])?;
    research_recipient(&state)?;
    let req: ResearchLabel = parse_json(&body)?;
    let label = req.label.trim();
    if label.is_empty()
        || label.chars().count() > MAX_LABEL_CHARS
        || label.chars().any(char::is_control)
    {
        return Err(ApiError::invalid_input(format!(
            "a label is 1 to {MAX_LABEL_CHARS} characters without control characters"
        )));
    }
    if !state.store.add_research_label(&id, label).await? {
        return Err(ApiError::not_found());
    }
    let item = state
        .store
        .research_item(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let labels: BTreeSet<String> = state
        .store
        .research_items()
        .await?
        .into_iter()
        .find(|(i, _)| i.id == id)
        .map(|(_, l)| l.into_iter().collect())
        .unwrap_or_default();
    Ok(Json(item_info(&item, labels.into_iter().collect())))
}
