//! Web Push (RFC 8030) for an account's approved devices. What the server pushes is the hub's
//! sealed, signed event notice — the base64 text `/api/events/live` carries — encrypted once more to
//! the browser's subscription keys (RFC 8291, `aes128gcm`), so neither the push service nor the
//! server can read it; a notice too large for a push message (about 4 KB) is replaced by an
//! empty message that only says "open the app" (about 2,900 bytes of notice fit: a notice
//! sealed to some twenty devices or more).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The server's VAPID key (RFC 8292), which a browser subscribes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKey {
    /// Base64url (no padding) of the uncompressed P-256 public key: the browser's
    /// `applicationServerKey`.
    pub public_key: String,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionRequest {
    /// The push service's URL for this browser: `https://`, a host name, port 443.
    #[schema(max_length = 1024)]
    pub endpoint: String,
    /// Base64url of the browser's uncompressed P-256 public key (65 bytes).
    #[schema(min_length = 87, max_length = 88)]
    pub p256dh: String,
    /// Base64url of the browser's authentication secret (16 bytes).
    #[schema(min_length = 22, max_length = 24)]
    pub auth: String,
}

/// The calling device's push subscription, as the server has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionInfo {
    pub endpoint: String,
    pub created_at_ms: i64,
}

/// Whether the calling device has a push subscription on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionStatus {
    /// `null` when it has none (never registered, turned off, or dropped by the server after
    /// the push service said it is gone).
    pub subscription: Option<PushSubscriptionInfo>,
}
