//! Wire types of the transparency log: the log's key, proofs, and an account's own entries.
//!
//! The latest checkpoint itself is served as `text/plain` (a C2SP signed note), not JSON,
//! so standard tools can read it. Hashes are lower-case hex, entry bytes base64.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The key checkpoints are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogKey {
    /// The checkpoint origin line (and the key's name).
    pub origin: String,
    /// The verifier key in the C2SP / Go `note` form: `name+hash+base64(0x01 ‖ key)`.
    pub vkey: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    /// Sibling hashes from the leaf up (RFC 9162 §2.1.3).
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub old: u64,
    pub size: u64,
    /// RFC 9162 §2.1.4 consistency proof.
    pub proof: Vec<String>,
}

/// One of the account's own log entries, with what it takes to check it: the public leaf is
/// `commit(salt, body)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    pub index: u64,
    pub kind: String,
    pub at_ms: i64,
    /// Base64 of the exact entry bytes (UTF-8 JSON).
    pub body: String,
    /// Hex, 32 bytes.
    pub salt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogEntryList {
    /// Oldest first.
    pub entries: Vec<LogEntry>,
    /// The account's entries queued but not yet in the tree (appends are batched), counted
    /// before `entries` was read: when it is 0, every entry made before the request is listed.
    pub pending: u64,
}
