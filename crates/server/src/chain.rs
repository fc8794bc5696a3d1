//! The server's view of an account's device chain: decoding links from the wire, verifying
//! the stored chain, and what a verified chain says is current.
//!
//! The server verifies every link before it stores it, so it never serves a chain it could
//! have refused; but it is not trusted to have done so. Hubs and clients verify the chain
//! again from the root they pinned, which is what stops a server (or anyone writing to its
//! database) from adding a ghost device or rolling the chain back.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{ChainError, ChainOp, Link, LinkHash, VerifiedChain, verify_chain};
use porchlight_proto::ErrorCode;
use porchlight_store::{ChainLinkRow, ChainMembership};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Most links one append may carry.
pub const MAX_LINKS_PER_APPEND: usize = 64;
/// Longest base64 text of one link accepted (a link is a few hundred bytes).
const MAX_LINK_TEXT: usize = 2048;

pub fn chain_invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ChainInvalid,
        message,
    )
}

/// A link from its base64 text, or a `422 chain_invalid` naming its position.
pub fn decode_link(text: &str, index: usize) -> ApiResult<Link> {
    if text.len() > MAX_LINK_TEXT {
        return Err(chain_invalid(format!("link {index} is too long")));
    }
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| chain_invalid(format!("link {index} is not base64")))?;
    Link::from_bytes(&bytes).map_err(|e| chain_invalid(format!("link {index}: {e}")))
}

pub fn encode_link(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The account's stored chain, verified from its own link 0. `None` if it has no chain yet.
/// A stored chain that does not verify (its rows were altered behind the server's back) is a
/// `409 chain_invalid`: the server will neither extend it nor serve clips by it.
pub async fn stored_chain(
    state: &AppState,
    account_id: &str,
) -> ApiResult<Option<(VerifiedChain, Vec<ChainLinkRow>)>> {
    let rows = state.store.chain_of(account_id).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let links = rows
        .iter()
        .map(|row| Link::from_bytes(&row.link))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| stored_chain_broken(&e.to_string()))?;
    let root = links.first().map(Link::hash).unwrap_or(LinkHash::ZERO);
    let chain =
        verify_chain(&links, &root, None).map_err(|e| stored_chain_broken(&e.to_string()))?;
    Ok(Some((chain, rows)))
}

fn stored_chain_broken(reason: &str) -> ApiError {
    tracing::error!(reason, "a stored device chain does not verify");
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::ChainInvalid,
        format!("the stored device chain does not verify ({reason})"),
    )
}

/// Verifies links that start an account's chain: link 0 pins itself.
pub fn verify_new_chain(links: &[Link]) -> Result<VerifiedChain, ChainError> {
    let root = links.first().map(Link::hash).unwrap_or(LinkHash::ZERO);
    verify_chain(links, &root, None)
}

/// What the store must make current after the chain became `chain`.
pub fn membership(chain: &VerifiedChain) -> ChainMembership {
    ChainMembership {
        root: chain.root().as_bytes().to_vec(),
        device_sign_keys: chain
            .devices()
            .iter()
            .map(|d| d.key.sign().to_vec())
            .collect(),
        hub_keys: chain
            .hubs()
            .iter()
            .map(|h| h.key.as_bytes().to_vec())
            .collect(),
        member_roots: chain
            .members()
            .iter()
            .map(|m| m.root.as_bytes().to_vec())
            .collect(),
        member_cameras: chain
            .members()
            .iter()
            .flat_map(|m| {
                m.cameras.iter().map(|c| {
                    (
                        m.root.as_bytes().to_vec(),
                        c.hub_key.to_vec(),
                        c.camera.clone(),
                    )
                })
            })
            .collect(),
    }
}

/// The activity kind and a short description of a link, for the owner's activity list.
pub fn describe(link: &Link) -> (&'static str, String) {
    match link.op() {
        ChainOp::Genesis { device_name, .. } => (
            "chain_created",
            format!("device chain created with \"{}\"", device_name.as_str()),
        ),
        ChainOp::AddDevice { name, .. } => (
            "device_added",
            format!("device \"{}\" added", name.as_str()),
        ),
        ChainOp::RemoveDevice { device_sign_key } => (
            "device_removed",
            format!("device {} removed", &hex::encode(device_sign_key)[..16]),
        ),
        ChainOp::AddHub { name, .. } => ("hub_added", format!("hub \"{}\" added", name.as_str())),
        ChainOp::RemoveHub { hub_key } => (
            "hub_removed",
            format!("hub {} removed", &hex::encode(hub_key)[..16]),
        ),
        ChainOp::AddMember { label, .. } => (
            "member_added",
            format!("household member \"{}\" added", label.as_str()),
        ),
        ChainOp::RemoveMember { .. } => ("member_removed", "household member removed".to_owned()),
        ChainOp::MemberCameras { cameras, .. } => (
            "member_cameras",
            match cameras.len() {
                0 => "household member given no cameras".to_owned(),
                1 => "household member given 1 camera".to_owned(),
                n => format!("household member given {n} cameras"),
            },
        ),
    }
}
