//! Wire types of the end-to-end routes: the device chain, device registration, hub pairing
//! and credentials, cameras and clips.
//!
//! Binary values travel as standard base64 (links, clip headers, statements, signatures) or
//! lower-case hex (keys, hashes, challenges). None of them is secret to the server except the
//! pairing secret and the hub token, which have redacted `Debug`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The request header that carries a hub's signed clip statement on upload
/// (base64 of statement bytes ‖ 64-byte Ed25519 signature).
pub const CLIP_STATEMENT_HEADER: &str = "porchlight-clip-statement";

// ---- the device chain ----

/// An account's device chain, link 0 first, each link base64 of its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainLinks {
    pub links: Vec<String>,
}

/// Where a chain stands after an append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    /// Number of links.
    pub length: u64,
    /// Hex SHA-256 link hash of the last link.
    pub head: String,
    /// Hex hash of link 0: the account's root.
    pub root: String,
}

// ---- devices ----

/// A device announcing its public keys. It stays pending until a link in the chain adds it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRegistration {
    pub name: String,
    /// Hex Ed25519 public key.
    pub sign_key: String,
    /// `age1…` X25519 recipient.
    pub age_recipient: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Registered, not yet added to the chain by a trusted device.
    Pending,
    /// In the verified chain: clips are sealed to it.
    Active,
    /// Removed from the chain; its sessions are ended.
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInfo {
    pub id: String,
    pub name: String,
    pub sign_key: String,
    pub age_recipient: String,
    pub state: DeviceState,
    /// Whether this is the device asking.
    pub current: bool,
    pub created_at_ms: i64,
    /// When a session of this device was last used; absent once it has none.
    pub last_used_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceList {
    pub devices: Vec<DeviceInfo>,
}

// ---- pairing and hubs ----

/// An owner device opening a pairing. The secret stays on the device and in the code; the
/// server keeps only its verifier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingRequest {
    /// Hex SHA-256 verifier of the pairing secret.
    pub verifier: String,
    /// The name the hub will have in the chain.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingCreated {
    pub id: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PairingState {
    /// No hub has used the code yet.
    Waiting,
    /// A hub used it; the owner device checks its proof and signs it into the chain.
    Redeemed,
    /// The code expired unused.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingStatus {
    pub id: String,
    pub state: PairingState,
    pub name: String,
    pub expires_at_ms: i64,
    /// Set once redeemed.
    pub hub: Option<RedeemedHub>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemedHub {
    pub hub_id: String,
    /// Hex Ed25519 hub key.
    pub hub_key: String,
    /// Hex proof that whoever redeemed holds the pairing secret and chose this key.
    pub proof: String,
}

/// A hub redeeming a pairing code. The secret itself never leaves the owner's device and the
/// hub: the hub names the code by its verifier and proves it holds the secret with `proof`,
/// which only the owner device can check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubPairRequest {
    /// Hex SHA-256 verifier of the pairing secret.
    pub verifier: String,
    pub hub_key: String,
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubPaired {
    pub hub_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubChallengeRequest {
    pub hub_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubChallenge {
    /// Hex, 32 random bytes; single use.
    pub challenge: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubTokenRequest {
    pub hub_key: String,
    pub challenge: String,
    /// Hex Ed25519 signature over the hub-auth message for the challenge.
    pub signature: String,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubToken {
    pub token: String,
    pub hub_id: String,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HubState {
    /// Paired, not yet signed into the chain.
    Pending,
    Active,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubInfo {
    pub id: String,
    pub name: String,
    pub hub_key: String,
    pub state: HubState,
    pub created_at_ms: i64,
    /// Whether the hub holds its control connection to this server now (it is running and
    /// reachable: live view works and its notices come through). Absent from an older
    /// server: read as false.
    #[serde(default)]
    pub online: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubList {
    pub hubs: Vec<HubInfo>,
}

// ---- hub settings ----

/// `PUT /api/hubs/{id}/settings`: settings an owner's device signed for this hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubSettingsPut {
    /// Base64 of the signed statement (`porchlight_crypto::hub_settings`).
    pub statement: String,
}

/// Settings a hub refused, as it reported them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubSettingsRefusal {
    /// The refused statement's counter, when it could be read.
    pub counter: Option<u64>,
    /// `malformed`, `wrong_signer`, `bad_signature`, `wrong_chain`, `wrong_hub`, `not_newer`.
    pub code: String,
    pub message: String,
}

/// A hub's signed settings as the server holds them, and what the hub last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubSettingsState {
    pub hub_id: String,
    /// Base64 of the latest signed statement; `None` until an owner's device signs one (the
    /// hub then uses its own `hub.toml`).
    pub statement: Option<String>,
    /// That statement's counter.
    pub counter: Option<u64>,
    pub updated_at_ms: Option<i64>,
    /// The counter of the settings the hub reported it applies.
    pub applied_counter: Option<u64>,
    /// The last statement the hub refused, if it has not applied a newer one since.
    pub refused: Option<HubSettingsRefusal>,
    pub reported_at_ms: Option<i64>,
}

/// `POST /api/hub/settings/report` (hub side): what the hub did with its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum HubSettingsReportBody {
    Applied {
        counter: u64,
    },
    /// Fields as in [`HubSettingsRefusal`].
    Refused {
        counter: Option<u64>,
        code: String,
        message: String,
    },
}

// ---- cameras and clips ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraInfo {
    pub id: String,
    /// What the camera's hub calls it: the name it signs in every clip statement, which
    /// devices check listings against. It never changes.
    pub name: String,
    /// The name the owner gave it, for the apps to show in place of `name`; null when none.
    /// Only shown: nothing is checked against it.
    pub label: Option<String>,
    pub hub_id: String,
    /// Clips older than this many days are deleted.
    pub retention_days: u32,
    /// Whether the asking account owns it (otherwise it is shared through the household).
    pub owned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraList {
    pub cameras: Vec<CameraInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraUpdate {
    /// 1 to 3650; absent or null: unchanged.
    pub retention_days: Option<u32>,
    /// The name shown in the apps, 1 to 64 characters once trimmed, no control characters;
    /// an empty string clears it (the apps show the camera's name again); absent or null:
    /// unchanged. The camera's signed name never changes.
    pub label: Option<String>,
}

/// What the server knows of a clip (which camera, when, how long, how big) and what the hub
/// signed about it, so a device can check every clip of a listing (`check_listed_clip`)
/// without fetching each one's detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipSummary {
    pub id: String,
    pub camera_id: String,
    pub camera_name: String,
    pub start_ms: i64,
    pub duration_ms: u64,
    /// Bytes of the sealed payload.
    pub payload_size: u64,
    /// Bytes of the age header.
    pub header_size: u64,
    /// Hex SHA-256 of the payload.
    pub payload_sha256: String,
    /// Base64 of the hub's clip statement bytes.
    pub statement: String,
    /// Base64 of the hub's Ed25519 signature over it.
    pub signature: String,
    /// Hex key of the hub that uploaded it.
    pub hub_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipList {
    pub clips: Vec<ClipSummary>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Everything a device needs to open and check a clip, apart from the payload bytes: the
/// listing's fields (statement, signature and hub key among them) and the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipDetail {
    #[serde(flatten)]
    pub summary: ClipSummary,
    /// Base64 age header.
    pub header: String,
    /// Hex SHA-256 of the header, for `previous_sha256` on re-wrap.
    pub header_sha256: String,
}

/// A re-wrapped header. Refused if the clip's header changed since `previous_sha256`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderReplace {
    pub header: String,
    pub previous_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    pub deleted: u64,
}

/// One account's device chain, with its root (hex of link 0's hash): a household member's,
/// or the owner of a household one belongs to. The reader verifies it from the root it
/// trusts (the one a verified chain names), never from this field alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChain {
    pub root: String,
    pub links: Vec<String>,
}

/// Chains of the accounts on the other side of a household link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdChains {
    pub chains: Vec<AccountChain>,
}
