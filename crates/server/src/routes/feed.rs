//! The neighbourhood feed (DESIGN §6): clips their owners chose to make public.
//!
//! The owner's device opens a clip, strips its container metadata and uploads the plaintext
//! MP4 here with a neighbourhood and a coarse area — a 0.01° grid cell (about 1 km), never an
//! address or an exact point. The hour a post shows is the clip's start rounded down to the UTC
//! hour, taken from the clip's row, not from the client. The server refuses a video whose boxes
//! still carry `udta`, `meta`, `uuid` or `prft` (what [`porchlight_media::strip_metadata`]
//! drops), and only inserts the row once the whole video is stored and checked.
//!
//! Any signed-in person lists and watches posts; the listing names no account, camera or clip.
//! Only the owner lists their own posts (with the clip each came from) and deletes them. Each
//! post and deletion is a transparency-log entry for the owner's account.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use futures::TryStreamExt;
use porchlight_proto::{ErrorBody, ErrorCode, FeedPage, FeedPost, MyFeedPost, MyFeedPosts};
use porchlight_store::{BlobKey, BlobReader, FeedPost as StoredPost, FeedQuery, StoreError};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;
use utoipa::IntoParams;

use crate::auth::secrets::random_id;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, DeviceAuthed};
use crate::openapi::Binary;
use crate::routes::clips::{ServedBlob, after_draining, blob_error, discard_blob, serve_blob};
use crate::state::AppState;

/// The longest neighbourhood name, in bytes of UTF-8.
pub const MAX_NEIGHBOURHOOD_BYTES: usize = 64;
/// Largest box other than `mdat`/`free`/`skip` read into memory to check (a `moov` or `moof`).
const MAX_CHECKED_BOX_BYTES: u64 = 16 * 1024 * 1024;
/// Boxes a public video must not carry: [`porchlight_media::strip_metadata`] drops them.
const METADATA_BOXES: [&[u8; 4]; 4] = [b"udta", b"meta", b"uuid", b"prft"];
const HOUR_MS: i64 = 3_600_000;
const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

fn blob_key(post_id: &str) -> ApiResult<BlobKey> {
    BlobKey::parse(&format!("feed-{post_id}")).map_err(|e| ApiError::internal(&e))
}

fn exact_location() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::ExactLocation,
        "an area is a 0.01° grid cell: give at most two decimals; exact points are refused",
    )
}

fn bad_video(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message)
}

/// `LAT,LON` with at most two decimals each, in range, as the cell's canonical text
/// (`51.51,-0.12`). More decimals are an exact point: [`ErrorCode::ExactLocation`].
pub fn parse_area(area: &str) -> ApiResult<String> {
    let malformed = || {
        ApiError::invalid_input(
            "area must be LAT,LON in degrees with at most two decimals, e.g. 51.51,-0.12",
        )
    };
    let (lat, lon) = area.split_once(',').ok_or_else(malformed)?;
    let lat = hundredths(lat.trim())?.ok_or_else(malformed)?;
    let lon = hundredths(lon.trim())?.ok_or_else(malformed)?;
    if !(-9_000..=9_000).contains(&lat) || !(-18_000..=18_000).contains(&lon) {
        return Err(ApiError::invalid_input(
            "area is out of range: latitude -90 to 90, longitude -180 to 180",
        ));
    }
    // 180° and -180° are one meridian: one name for its cells.
    let lon = if lon == 18_000 { -18_000 } else { lon };
    Ok(format!("{},{}", degrees(lat), degrees(lon)))
}

/// A decimal in hundredths: `Ok(None)` if it is not one, `Err` if it has more than two decimals.
fn hundredths(s: &str) -> ApiResult<Option<i64>> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || !all_digits(whole)
        || !all_digits(fraction)
        || (digits.contains('.') && fraction.is_empty())
    {
        return Ok(None);
    }
    if fraction.len() > 2 {
        return Err(exact_location());
    }
    let Ok(whole) = whole.parse::<i64>() else {
        return Ok(None);
    };
    let fraction = format!("{fraction:0<2}").parse::<i64>().unwrap_or(0);
    let value = whole * 100 + fraction;
    Ok(Some(if negative { -value } else { value }))
}

fn degrees(hundredths: i64) -> String {
    let sign = if hundredths < 0 { "-" } else { "" };
    let abs = hundredths.abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A neighbourhood name, trimmed: 1 to [`MAX_NEIGHBOURHOOD_BYTES`] bytes, no control characters.
pub fn parse_neighbourhood(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NEIGHBOURHOOD_BYTES || name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid_input(format!(
            "a neighbourhood is 1 to {MAX_NEIGHBOURHOOD_BYTES} bytes of text without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Refuses a query string naming a parameter not in `allowed`, saying which, before the typed
/// parse (whose refusal cannot say): a post never carries `lat`, `lon` or an address.
fn only_params(raw: Option<&str>, allowed: &[&str]) -> ApiResult<()> {
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !allowed.contains(&key) {
            let shown: String = key
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(32)
                .collect();
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::UnknownField,
                format!(
                    "`{shown}` is not a parameter of this route (it takes {}); a post carries a coarse area, never an exact location or address",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn typed_query<T: serde::de::DeserializeOwned>(uri: &Uri) -> ApiResult<T> {
    Query::<T>::try_from_uri(uri).map(|q| q.0).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedRequest,
            "the query string is not valid for this route",
        )
    })
}

fn public(p: &StoredPost) -> FeedPost {
    FeedPost {
        id: p.id.clone(),
        neighbourhood: p.neighbourhood.clone(),
        area: p.area.clone(),
        hour_ms: p.hour_ms,
        size_bytes: u64::try_from(p.size_bytes).unwrap_or(0),
    }
}

fn mine(p: &StoredPost) -> MyFeedPost {
    MyFeedPost {
        id: p.id.clone(),
        neighbourhood: p.neighbourhood.clone(),
        area: p.area.clone(),
        hour_ms: p.hour_ms,
        size_bytes: u64::try_from(p.size_bytes).unwrap_or(0),
        clip_id: p.clip_id.clone(),
        created_at_ms: p.created_at_ms,
    }
}

/// Where a post comes from and what it says about itself.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PostQuery {
    /// A clip on a camera the caller owns.
    pub clip_id: String,
    /// 1 to 64 bytes.
    pub neighbourhood: String,
    /// `LAT,LON`, at most two decimals each (a 0.01° grid cell).
    pub area: String,
}

const POST_PARAMS: [&str; 3] = ["clip_id", "neighbourhood", "area"];

/// Publishes a clip the caller owns: the body is the plaintext MP4, stripped of container
/// metadata on the owner's device. Everyone signed in can then list and watch it.
#[utoipa::path(post, path = "/api/feed/posts", tag = "feed", security(("bearer" = []), ("cookie" = [])), params(PostQuery),
    request_body(content = inline(Binary), content_type = "video/mp4", description = "the clip's plaintext MP4, without udta/meta/uuid/prft boxes"),
    responses((status = 201, body = FeedPost), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_post(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    RawQuery(raw): RawQuery,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<FeedPost>)> {
    let mut input = BufReader::with_capacity(
        64 * 1024,
        StreamReader::new(body.into_data_stream().map_err(std::io::Error::other)),
    );
    let post = match prepare_post(&state, &authed, raw.as_deref(), &uri, &headers).await {
        Ok(post) => post,
        Err(refused) => return Err(after_draining(&mut input, refused).await),
    };
    let key = blob_key(&post.id)?;
    let max = state.config.clips.max_clip_bytes;
    let size = match state.blobs.put(&key, &mut input, max).await {
        Ok(size) => size,
        Err(porchlight_store::BlobError::TooLarge { max_bytes }) => {
            let refused = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("a feed video may be at most {max_bytes} bytes; nothing was posted"),
            );
            return Err(after_draining(&mut input, refused).await);
        }
        Err(e) => return Err(after_draining(&mut input, blob_error(e)).await),
    };
    let checked = match state.blobs.get(&key).await {
        Ok((_, reader)) => check_mp4(reader).await,
        Err(e) => Err(blob_error(e)),
    };
    if let Err(refused) = checked {
        discard_blob(&state, &key).await;
        return Err(refused);
    }
    let post = StoredPost {
        size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
        ..post
    };
    let log = serde_json::json!({
        "kind": "feed_post",
        "at_ms": post.created_at_ms,
        "post": post.id,
        "clip": post.clip_id,
        "neighbourhood": post.neighbourhood,
        "area": post.area,
        "hour_ms": post.hour_ms,
    });
    match state
        .store
        .insert_feed_post(&post, "feed_post", log.to_string().as_bytes())
        .await
    {
        Ok(()) => {}
        Err(e) => {
            discard_blob(&state, &key).await;
            return Err(match e {
                StoreError::Conflict => already_posted(),
                other => other.into(),
            });
        }
    }
    metrics::counter!("porchlight_feed_posts_total").increment(1);
    Ok((StatusCode::CREATED, Json(public(&post))))
}

fn already_posted() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::Conflict,
        "this clip is already posted: delete that post first to post it again",
    )
}

/// Everything about a post that does not need its body: checked before a byte is stored.
async fn prepare_post(
    state: &AppState,
    authed: &DeviceAuthed,
    raw: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<StoredPost> {
    only_params(raw, &POST_PARAMS)?;
    let q: PostQuery = typed_query(uri)?;
    let neighbourhood = parse_neighbourhood(&q.neighbourhood)?;
    let area = parse_area(&q.area)?;
    let mp4 = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim() == "video/mp4"));
    if !mp4 {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "a feed post's body is the clip's MP4: send it as video/mp4",
        ));
    }
    // Only the owner's own clips: a household member sees a shared camera but it is not
    // theirs to publish. Anything else is "no such clip", as elsewhere.
    let view = state
        .store
        .clip_visible_to(&authed.account.id, &q.clip_id)
        .await?
        .filter(|v| v.clip.account_id == authed.account.id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NotFound,
                "no such clip on a camera of yours (a household's shared camera is its owner's to post)",
            )
        })?;
    let posted = state.store.feed_posts_of(&authed.account.id).await?;
    if posted
        .iter()
        .any(|p| p.clip_id.as_deref() == Some(view.clip.id.as_str()))
    {
        return Err(already_posted());
    }
    Ok(StoredPost {
        id: random_id(),
        account_id: authed.account.id.clone(),
        clip_id: Some(view.clip.id),
        neighbourhood,
        area,
        hour_ms: view.clip.start_ms.div_euclid(HOUR_MS) * HOUR_MS,
        size_bytes: 0,
        created_at_ms: state.now_ms(),
    })
}

/// Reads the stored video's top-level boxes: an `ftyp` first, a `moov`, and no metadata box
/// anywhere the box walker reaches. `mdat` (and `free`/`skip`) bodies are skipped, not read.
async fn check_mp4(mut reader: BlobReader) -> ApiResult<()> {
    let mut first = true;
    let mut saw_moov = false;
    loop {
        let mut head = [0u8; 8];
        match read_some(&mut reader, &mut head).await? {
            0 => break,
            8 => {}
            _ => return Err(bad_video("the video ends inside a box header: not an MP4")),
        }
        let mut kind = [0u8; 4];
        kind.copy_from_slice(&head[4..]);
        let mut header_len = 8u64;
        let size = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 => None,
            1 => {
                let mut large = [0u8; 8];
                if read_some(&mut reader, &mut large).await? != 8 {
                    return Err(bad_video("the video ends inside a box header: not an MP4"));
                }
                header_len = 16;
                Some(u64::from_be_bytes(large))
            }
            n => Some(u64::from(n)),
        };
        if first && &kind != b"ftyp" {
            return Err(bad_video(
                "the video is not an MP4 (it does not start with ftyp)",
            ));
        }
        first = false;
        if METADATA_BOXES.contains(&&kind) {
            return Err(metadata_refused(&kind));
        }
        let Some(size) = size else {
            // A box reaching to the end of the file: only media data may.
            if &kind != b"mdat" {
                return Err(bad_video("the video is not a well-formed MP4"));
            }
            tokio::io::copy(&mut reader, &mut tokio::io::sink())
                .await
                .map_err(|e| ApiError::internal(&e))?;
            break;
        };
        let body_len = size
            .checked_sub(header_len)
            .ok_or_else(|| bad_video("the video is not a well-formed MP4 (a box is too short)"))?;
        if matches!(&kind, b"mdat" | b"free" | b"skip") {
            let skipped =
                tokio::io::copy(&mut (&mut reader).take(body_len), &mut tokio::io::sink())
                    .await
                    .map_err(|e| ApiError::internal(&e))?;
            if skipped != body_len {
                return Err(bad_video("the video ends inside a box: not a whole MP4"));
            }
            continue;
        }
        if body_len > MAX_CHECKED_BOX_BYTES {
            return Err(bad_video("the video has a header box larger than 16 MiB"));
        }
        saw_moov |= &kind == b"moov";
        let mut whole = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        whole.extend_from_slice(&head);
        if header_len == 16 {
            whole.extend_from_slice(&size.to_be_bytes());
        }
        let read = (&mut reader)
            .take(body_len)
            .read_to_end(&mut whole)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        if read as u64 != body_len {
            return Err(bad_video("the video ends inside a box: not a whole MP4"));
        }
        let boxes = porchlight_media::boxes::walk(&whole)
            .map_err(|_| bad_video("the video is not a well-formed MP4"))?;
        if let Some(b) = boxes.iter().find(|b| METADATA_BOXES.contains(&&b.kind)) {
            return Err(metadata_refused(&b.kind));
        }
    }
    if !saw_moov {
        return Err(bad_video("the video is not an MP4 (it has no moov box)"));
    }
    Ok(())
}

fn metadata_refused(kind: &[u8; 4]) -> ApiError {
    bad_video(format!(
        "the video still carries container metadata (a `{}` box): strip it on your device first; nothing was posted",
        String::from_utf8_lossy(kind)
    ))
}

/// Fills `buf` unless the reader ends first; the number of bytes read.
async fn read_some<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> ApiResult<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader
            .read(&mut buf[filled..])
            .await
            .map_err(|e| ApiError::internal(&e))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Which page of a neighbourhood's feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedListQuery {
    pub neighbourhood: String,
    /// One grid cell (`LAT,LON`, at most two decimals); the whole neighbourhood if absent.
    pub area: Option<String>,
    /// `next_cursor` of the previous page.
    pub before: Option<String>,
    /// 1 to 100; 20 if absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

const LIST_PARAMS: [&str; 4] = ["neighbourhood", "area", "before", "limit"];

fn parse_cursor(cursor: &str) -> ApiResult<(i64, String)> {
    cursor
        .split_once('.')
        .and_then(|(hour, id)| {
            let hour = hour.parse::<i64>().ok()?;
            (id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .then(|| (hour, id.to_owned()))
        })
        .ok_or_else(|| ApiError::invalid_input("before is not a cursor this server gave out"))
}

/// A page of a neighbourhood's posts, newest hour first. Names no account, camera or clip.
#[utoipa::path(get, path = "/api/feed", tag = "feed", security(("bearer" = []), ("cookie" = [])), params(FeedListQuery),
    responses((status = 200, body = FeedPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list_feed(
    State(state): State<AppState>,
    _authed: DeviceAuthed,
    RawQuery(raw): RawQuery,
    uri: Uri,
) -> ApiResult<Json<FeedPage>> {
    only_params(raw.as_deref(), &LIST_PARAMS)?;
    let q: FeedListQuery = typed_query(&uri)?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_input(format!(
            "limit must be 1 to {MAX_PAGE}"
        )));
    }
    let query = FeedQuery {
        neighbourhood: parse_neighbourhood(&q.neighbourhood)?,
        area: q.area.as_deref().map(parse_area).transpose()?,
        after: q.before.as_deref().map(parse_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut posts = state.store.feed_page(&query).await?;
    let more = posts.len() as i64 > limit;
    posts.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = more
        .then(|| posts.last().map(|p| format!("{}.{}", p.hour_ms, p.id)))
        .flatten();
    Ok(Json(FeedPage {
        posts: posts.iter().map(public).collect(),
        next_cursor,
    }))
}

/// The caller's own posts, newest first, each with the clip it was made from.
#[utoipa::path(get, path = "/api/feed/mine", tag = "feed", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = MyFeedPosts), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn my_posts(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<Json<MyFeedPosts>> {
    let posts = state.store.feed_posts_of(&authed.account.id).await?;
    Ok(Json(MyFeedPosts {
        posts: posts.iter().map(mine).collect(),
    }))
}

/// A post's video, streamed; one `Range` (`bytes=a-b`, `a-`, `-n`) gives `206`.
#[utoipa::path(get, path = "/api/feed/posts/{id}/video", tag = "feed", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "post id"), ("range" = Option<String>, Header, description = "one byte range")),
    responses((status = 200, content_type = "video/mp4", body = inline(Binary)), (status = 206, content_type = "video/mp4", body = inline(Binary)),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 416, body = ErrorBody)))]
pub async fn post_video(
    State(state): State<AppState>,
    _authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let post = state
        .store
        .feed_post(&id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let blob = ServedBlob {
        key: blob_key(&post.id)?,
        size: u64::try_from(post.size_bytes).unwrap_or(0),
        content_type: "video/mp4",
        etag: None,
        what: "video",
    };
    serve_blob(&state, &headers, blob).await
}

/// Deletes one of the caller's posts and its video. Anyone else's post is "no such post".
#[utoipa::path(delete, path = "/api/feed/posts/{id}", tag = "feed", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "post id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_post(
    State(state): State<AppState>,
    authed: DeviceAuthed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let now = state.now_ms();
    let log = serde_json::json!({
        "kind": "feed_unpost",
        "at_ms": now,
        "post": id,
    });
    let post = state
        .store
        .delete_feed_post(
            &authed.account.id,
            &id,
            "feed_unpost",
            log.to_string().as_bytes(),
            now,
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    discard_blob(&state, &blob_key(&post.id)?).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn areas_are_grid_cells_in_canonical_form() {
        assert_eq!(parse_area("51.51,-0.12").unwrap(), "51.51,-0.12");
        assert_eq!(parse_area(" 51.5 , -0.1").unwrap(), "51.50,-0.10");
        assert_eq!(parse_area("-0.0,180").unwrap(), "0.00,-180.00");
        assert_eq!(parse_area("-90,-180").unwrap(), "-90.00,-180.00");
        for exact in ["51.507,-0.12", "51.51,-0.1276", "0.001,0"] {
            assert_eq!(
                parse_area(exact).unwrap_err().code,
                ErrorCode::ExactLocation
            );
        }
        for bad in [
            "",
            "51.51",
            "51.51,",
            "a,b",
            "51.,0",
            ".5,0",
            "+1,0",
            "1e1,0",
            "90.01,0",
            "0,180.01",
            "51.51,-0.12,3",
            "1000,0",
        ] {
            assert_eq!(
                parse_area(bad).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn neighbourhoods_are_short_plain_text() {
        assert_eq!(parse_neighbourhood(" Elm Park ").unwrap(), "Elm Park");
        assert_eq!(parse_neighbourhood("Zürich-Nord").unwrap(), "Zürich-Nord");
        for bad in ["", "   ", "a\nb", "tab\there", &"x".repeat(65)] {
            assert!(parse_neighbourhood(bad).is_err(), "{bad:?}");
        }
        assert!(parse_neighbourhood(&"é".repeat(32)).is_ok());
        assert!(parse_neighbourhood(&"é".repeat(33)).is_err());
    }

    #[test]
    fn unknown_parameters_are_named() {
        assert!(only_params(Some("clip_id=a&area=1,2"), &POST_PARAMS).is_ok());
        assert!(only_params(None, &POST_PARAMS).is_ok());
        let e = only_params(Some("clip_id=a&lat=51.5"), &POST_PARAMS).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnknownField);
        assert!(e.message.contains("`lat`"), "{}", e.message);
        assert!(!e.message.contains("51.5"), "{}", e.message);
    }

    #[test]
    fn cursors_are_hour_and_post_id() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_cursor(&format!("3600000.{id}")).unwrap(),
            (3_600_000, id.to_owned())
        );
        for bad in ["", "x", "1.", ".abc", "1.ABCDEF0123456789abcdef0123456789"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
