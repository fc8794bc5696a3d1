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

/// Every withdrawal id in the dataset: owners match them on their own devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalIdList {
    pub withdrawal_ids: Vec<String>,
}

/// An annotator's label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResearchLabel {
    pub label: String,
}
