//! Clip authenticity. age says nothing about who sealed a file, and the server knows every
//! recipient key, so the hub signs a statement about each clip with its Ed25519 key; clients
//! show only clips whose statement verifies under a hub of the verified chain.
//!
//! The statement covers the payload ciphertext's hash, which re-wrapping the header does
//! not change, and the hash of the clip's sealed metadata.
//!
//! Bytes: `version (1) ‖ camera_id_len (1) ‖ camera_id ‖ start_ms (i64 BE) ‖
//! duration_ms (u64 BE) ‖ payload_sha256 (32) ‖ meta_sha256 (32)`; the signature covers
//! `"porchlight clip-statement v1\0" ‖ bytes`.

use std::fmt;

use crate::chain::VerifiedChain;
use crate::keys::{HubKey, HubSecret, verify_strict};
use crate::wire::{Reader, WireError, Writer};

/// Prefix of every message a clip signature covers.
pub const CLIP_STATEMENT_DOMAIN: &[u8] = b"porchlight clip-statement v1\0";
/// The encoding version this code writes and reads.
pub const CLIP_STATEMENT_VERSION: u8 = 1;
/// Longest camera id, in bytes of UTF-8.
pub const MAX_CAMERA_ID_BYTES: usize = 128;

/// Why a statement cannot be made, read or believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    #[error(
        "a camera id is 1 to {MAX_CAMERA_ID_BYTES} bytes of UTF-8 without control characters or outer spaces"
    )]
    BadCameraId,
    #[error("clip statement version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the clip statement is truncated")]
    Truncated,
    #[error("the clip statement has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("the clip's signature does not verify: do not show this clip")]
    BadSignature,
    #[error("the clip is signed by a hub that is not in the account's chain")]
    HubNotInChain,
}

/// The rule for a camera id, shared with live-view offers (`live.rs`) and the server's list of
/// a hub's cameras.
pub fn check_camera_id(id: &str) -> Result<(), StatementError> {
    if id.is_empty()
        || id.len() > MAX_CAMERA_ID_BYTES
        || id.chars().any(char::is_control)
        || id.trim() != id
    {
        return Err(StatementError::BadCameraId);
    }
    Ok(())
}

/// What a hub vouches for about one clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipStatement {
    camera_id: String,
    start_ms: i64,
    duration_ms: u64,
    payload_sha256: [u8; 32],
    meta_sha256: [u8; 32],
}

impl ClipStatement {
    pub fn new(
        camera_id: &str,
        start_ms: i64,
        duration_ms: u64,
        payload_sha256: [u8; 32],
        meta_sha256: [u8; 32],
    ) -> Result<Self, StatementError> {
        check_camera_id(camera_id)?;
        Ok(Self {
            camera_id: camera_id.to_owned(),
            start_ms,
            duration_ms,
            payload_sha256,
            meta_sha256,
        })
    }

    pub fn camera_id(&self) -> &str {
        &self.camera_id
    }

    /// Milliseconds since the Unix epoch.
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    pub fn duration_ms(&self) -> u64 {
        self.duration_ms
    }

    /// SHA-256 of the payload blob (ciphertext).
    pub fn payload_sha256(&self) -> &[u8; 32] {
        &self.payload_sha256
    }

    /// SHA-256 of the sealed metadata blob (event kind, thumbnail, detections).
    pub fn meta_sha256(&self) -> &[u8; 32] {
        &self.meta_sha256
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(CLIP_STATEMENT_VERSION)
            .short(self.camera_id.as_bytes())
            .i64(self.start_ms)
            .u64(self.duration_ms)
            .fixed(&self.payload_sha256)
            .fixed(&self.meta_sha256);
        w.into_bytes()
    }

    /// Parses [`Self::to_bytes`], strictly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StatementError> {
        let mut r = Reader::new(bytes);
        let version = r.u8().map_err(wire)?;
        if version != CLIP_STATEMENT_VERSION {
            return Err(StatementError::UnsupportedVersion(version));
        }
        let camera_id = r.short(MAX_CAMERA_ID_BYTES).map_err(wire)?;
        let camera_id = std::str::from_utf8(camera_id).map_err(|_| StatementError::BadCameraId)?;
        let start_ms = r.i64().map_err(wire)?;
        let duration_ms = r.u64().map_err(wire)?;
        let payload_sha256 = r.array().map_err(wire)?;
        let meta_sha256 = r.array().map_err(wire)?;
        r.finish().map_err(wire)?;
        Self::new(
            camera_id,
            start_ms,
            duration_ms,
            payload_sha256,
            meta_sha256,
        )
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut message = CLIP_STATEMENT_DOMAIN.to_vec();
        message.extend_from_slice(&self.to_bytes());
        message
    }
}

fn wire(e: WireError) -> StatementError {
    match e {
        WireError::Truncated => StatementError::Truncated,
        WireError::TooLong { .. } => StatementError::BadCameraId,
        WireError::Trailing { count } => StatementError::TrailingBytes(count),
    }
}

/// A hub's Ed25519 signature over a [`ClipStatement`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClipSignature([u8; 64]);

impl ClipSignature {
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    pub fn to_bytes(&self) -> [u8; 64] {
        self.0
    }
}

impl fmt::Debug for ClipSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClipSignature({})", hex::encode(self.0))
    }
}

/// The hub signs a statement about a clip it sealed.
pub fn sign_clip(statement: &ClipStatement, hub: &HubSecret) -> ClipSignature {
    ClipSignature(hub.sign(&statement.signed_message()))
}

/// Checks a statement's signature under `hub` (strict Ed25519 verification).
pub fn verify_clip(
    statement: &ClipStatement,
    signature: &ClipSignature,
    hub: &HubKey,
) -> Result<(), StatementError> {
    if verify_strict(
        hub.verifying_key(),
        &statement.signed_message(),
        &signature.0,
    ) {
        Ok(())
    } else {
        Err(StatementError::BadSignature)
    }
}

/// Checks that `hub` is a current hub of `chain` and that it signed the statement: the
/// test a client applies before showing a clip.
pub fn verify_clip_in_chain(
    chain: &VerifiedChain,
    statement: &ClipStatement,
    signature: &ClipSignature,
    hub: &HubKey,
) -> Result<(), StatementError> {
    if !chain.has_hub(hub) {
        return Err(StatementError::HubNotInChain);
    }
    verify_clip(statement, signature, hub)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn sign_verify_and_parse() {
        let hub = HubSecret::generate();
        let st = ClipStatement::new("cam-1", 1_700_000_000_000, 12_500, [1; 32], [2; 32]).unwrap();
        let sig = sign_clip(&st, &hub);
        assert_eq!(verify_clip(&st, &sig, &hub.public()), Ok(()));

        let other =
            ClipStatement::new("cam-1", 1_700_000_000_000, 12_500, [3; 32], [2; 32]).unwrap();
        assert_eq!(
            verify_clip(&other, &sig, &hub.public()),
            Err(StatementError::BadSignature)
        );
        assert_eq!(
            verify_clip(&st, &sig, &HubSecret::generate().public()),
            Err(StatementError::BadSignature)
        );

        let bytes = st.to_bytes();
        assert_eq!(ClipStatement::from_bytes(&bytes), Ok(st.clone()));
        assert_eq!(
            ClipStatement::from_bytes(&bytes[..bytes.len() - 1]),
            Err(StatementError::Truncated)
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            ClipStatement::from_bytes(&long),
            Err(StatementError::TrailingBytes(1))
        );
        let mut v9 = bytes;
        v9[0] = 9;
        assert_eq!(
            ClipStatement::from_bytes(&v9),
            Err(StatementError::UnsupportedVersion(9))
        );
        assert_eq!(
            ClipStatement::new("", 0, 0, [0; 32], [0; 32]),
            Err(StatementError::BadCameraId)
        );
    }
}
