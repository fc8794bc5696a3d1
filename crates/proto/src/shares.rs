//! Clips shared with another account (DESIGN §6). An account is named by its root: the hex
//! hash of link 0 of its device chain, which its owner gives out of band.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ClipDetail;

/// Share a clip with the account whose chain starts at `root`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// 64 hex digits: the sharee's chain root.
    pub root: String,
    /// Base64 age header: the clip's file key wrapped to the devices of the sharee's chain.
    pub header: String,
}

/// One share of a clip, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInfo {
    pub id: String,
    pub clip_id: String,
    /// Hex root of the sharee's chain.
    pub sharee_root: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareList {
    pub shares: Vec<ShareInfo>,
}

/// A clip shared with the caller: what it is and whose, by the owner's chain root only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedClipInfo {
    pub share_id: String,
    /// Hex root of the owner's chain.
    pub owner_root: String,
    pub camera_name: String,
    pub start_ms: i64,
    pub duration_ms: u64,
    /// Bytes of the sealed payload.
    pub payload_size: u64,
    pub shared_at_ms: i64,
    /// Hex SHA-256 of the payload.
    pub payload_sha256: String,
    /// Base64 of the hub's clip statement bytes: checked under the owner's chain.
    pub statement: String,
    /// Base64 of the hub's Ed25519 signature over it.
    pub signature: String,
    /// Hex key of the owner's hub that uploaded it.
    pub hub_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedClipList {
    pub clips: Vec<SharedClipInfo>,
}

/// What the sharee's device needs to check and open a shared clip: the clip's detail with
/// the share's header in place of the owner's, and the owner's chain (base64 links, link 0
/// first) to verify from the owner's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedClipDetail {
    pub share_id: String,
    pub owner_root: String,
    pub clip: ClipDetail,
    pub owner_chain: Vec<String>,
}
