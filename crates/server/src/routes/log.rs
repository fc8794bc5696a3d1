//! The transparency log's API: the key and the latest signed checkpoint, proofs (public: they
//! are hashes of salted commitments), and an account's own entries with their salts.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_proto::{
    ConsistencyProof, ErrorBody, ErrorCode, InclusionProof, LogEntry, LogEntryList, LogKey,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Authed};
use crate::state::AppState;
use crate::tlog::{LogError, append_queued, prove_consistency, prove_inclusion};

fn log_failure(e: &LogError) -> ApiError {
    ApiError::internal(e)
}

async fn current_size(state: &AppState) -> ApiResult<u64> {
    // Proofs are for trees a checkpoint was signed for.
    Ok(state
        .store
        .latest_checkpoint()
        .await?
        .map(|(size, _)| u64::try_from(size).unwrap_or(0))
        .unwrap_or(0))
}

fn beyond_the_log(size: u64, log_size: u64) -> ApiError {
    ApiError::invalid_input(format!(
        "the log has {log_size} entries signed; size {size} is not one of its trees"
    ))
}

/// The log's origin and the key its checkpoints are signed with.
#[utoipa::path(get, path = "/api/log/key", tag = "transparency log",
    responses((status = 200, body = LogKey)))]
pub async fn log_key(State(state): State<AppState>) -> Json<LogKey> {
    Json(LogKey {
        origin: state.log.origin().to_owned(),
        vkey: state.log.vkey(),
    })
}

/// The latest signed checkpoint, as a C2SP signed note (`text/plain`).
#[utoipa::path(get, path = "/api/log/checkpoint", tag = "transparency log",
    responses((status = 200, content_type = "text/plain", body = String), (status = 503, body = ErrorBody)))]
pub async fn checkpoint(State(state): State<AppState>) -> ApiResult<Response> {
    let Some((_, note)) = state.store.latest_checkpoint().await? else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the log has not signed its first checkpoint yet; try again shortly",
        ));
    };
    let mut response = note.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// Most appender passes one on-demand request runs (each takes up to one batch).
const MAX_PASSES_ON_DEMAND: usize = 40;

/// Signs a checkpoint now that covers the caller's queued entries (appends are otherwise
/// batched every `log.batch_interval_ms`), and answers it like `GET /api/log/checkpoint`.
/// A client verifying its entries calls this when its listing says some are still pending.
/// Several nodes may do this at once: appends are guarded by the tree size, so one wins and
/// the others find the entries already in.
#[utoipa::path(post, path = "/api/log/checkpoint", tag = "transparency log", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, content_type = "text/plain", body = String), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn sign_checkpoint(State(state): State<AppState>, authed: Authed) -> ApiResult<Response> {
    let account = &authed.account.id;
    for _ in 0..MAX_PASSES_ON_DEMAND {
        if state.store.queued_log_count_of(account).await? == 0 {
            break;
        }
        append_queued(&state).await.map_err(|e| log_failure(&e))?;
    }
    checkpoint(State(state)).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The leaf's index.
    index: u64,
    /// The tree size of a signed checkpoint.
    size: u64,
}

/// The inclusion proof of one leaf in a signed tree.
#[utoipa::path(get, path = "/api/log/proof/inclusion", tag = "transparency log", params(InclusionQuery),
    responses((status = 200, body = InclusionProof), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    let log_size = current_size(&state).await?;
    if q.size > log_size {
        return Err(beyond_the_log(q.size, log_size));
    }
    if q.index >= q.size {
        return Err(ApiError::invalid_input("index must be below size"));
    }
    let proof = prove_inclusion(&state.store, q.index, q.size)
        .await
        .map_err(|e| log_failure(&e))?;
    Ok(Json(InclusionProof {
        index: q.index,
        size: q.size,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older tree size.
    old: u64,
    /// The newer tree size (a signed checkpoint's).
    size: u64,
}

/// The consistency proof between two signed trees.
#[utoipa::path(get, path = "/api/log/proof/consistency", tag = "transparency log", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    let log_size = current_size(&state).await?;
    if q.size > log_size {
        return Err(beyond_the_log(q.size, log_size));
    }
    if q.old > q.size {
        return Err(ApiError::invalid_input("old must not be above size"));
    }
    let proof = prove_consistency(&state.store, q.old, q.size)
        .await
        .map_err(|e| log_failure(&e))?;
    Ok(Json(ConsistencyProof {
        old: q.old,
        size: q.size,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

/// The account's own log entries (sign-ins, security changes, chain heads, and, with the
/// staff API, every staff access), with the salts that open their commitments.
#[utoipa::path(get, path = "/api/log/entries", tag = "transparency log", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = LogEntryList), (status = 401, body = ErrorBody)))]
pub async fn entries(
    State(state): State<AppState>,
    authed: Authed,
) -> ApiResult<Json<LogEntryList>> {
    let account = &authed.account.id;
    // Counted before the listing is read: an entry the appender moves from the queue into
    // the tree between the two reads is then counted as pending (the client asks again)
    // rather than missing from both, which would let a client take a short list as settled.
    let pending = state.store.queued_log_count_of(account).await?;
    let rows = state.store.log_entries_of(account).await?;
    Ok(Json(LogEntryList {
        entries: rows
            .iter()
            .map(|r| LogEntry {
                index: u64::try_from(r.index).unwrap_or(0),
                kind: r.kind.clone(),
                at_ms: r.created_at_ms,
                body: STANDARD.encode(&r.body),
                salt: hex::encode(&r.salt),
            })
            .collect(),
        pending: u64::try_from(pending).unwrap_or(0),
    }))
}
