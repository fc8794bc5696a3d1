//! Research consent and the research dataset (DESIGN §9).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A consent receipt to record: base64 of its canonical bytes (`docs/CRYPTO.md`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentSubmit {
    pub receipt: String,
}

/// A recorded consent receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInfo {
    /// `give` or `withdraw`.
    pub action: String,
    /// `camera` or `clip`.
    pub scope_kind: String,
    pub scope_id: String,
    /// Hex of the signing device's Ed25519 key.
    pub signer: String,
    pub issued_at_ms: i64,
    pub recorded_at_ms: i64,
    /// Base64 of the receipt's bytes, for the owner's own checking.
    pub receipt: String,
}

/// The account's receipts (oldest first) and which scopes are live now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentList {
    pub receipts: Vec<ConsentInfo>,
    pub live: Vec<ConsentScopeInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentScopeInfo {
    pub scope_kind: String,
    pub scope_id: String,
}

/// The research program's age recipient, to seal research items to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchRecipient {
    pub recipient: String,
}

/// What the server answers for a stored research item (to its uploader, and to annotators).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchItemInfo {
    /// Random; says nothing about the owner.
    pub id: String,
    /// `YYYY-MM-DD`, UTC: the clip's day, never its time.
    pub day: String,
    pub size_bytes: u64,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchItemList {
    pub items: Vec<ResearchItemInfo>,
}

/// The most withdrawal tags one match request may carry (about 34 KB of JSON, under the
/// server's default 64 KiB body limit).
pub const MAX_MATCH_TAGS: usize = 500;

/// Withdrawal tags an owner's device computed from its own clips, to learn which of them are
/// in the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchTagQuery {
    /// 64 lowercase hex characters each; at most 500.
    #[schema(max_items = 500)]
    pub withdrawal_tags: Vec<String>,
}

/// Which of the asked tags are in the dataset: nothing about any other item, not even how
/// many there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchTagMatch {
    pub present: Vec<String>,
}

/// Withdraws one research item: its withdrawal key, which only the owner's devices compute
/// and the server hashes into the tag it stored. Sent in the body, never in a URL.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchWithdrawal {
    /// 64 hex characters.
    pub withdrawal_key: String,
}

impl std::fmt::Debug for ResearchWithdrawal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResearchWithdrawal").finish_non_exhaustive()
    }
}

/// An annotator's label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchLabel {
    pub label: String,
}
