//! Live view over WebSockets (DESIGN §5): the hub's control connection and a viewer's stream.
//!
//! Two WebSocket routes, both relayed by the server, which never holds a key:
//!
//! - `GET /api/hub/live` — the hub's single outbound control connection (hub token). The
//!   server sends [`HubControl`] as text messages; the hub answers with [`HubReport`] text
//!   messages and sends each sealed frame as one binary message: the 16-byte stream id, then
//!   the frame exactly as `porchlight_crypto::live::FrameSealer` made it.
//! - `GET /api/cameras/{id}/live` — one viewer's stream (session token of an approved device).
//!   The viewer's first message is the binary offer (`porchlight_crypto::live::Offer`); the
//!   server answers with [`ViewerNotice`] text messages and relays each sealed frame as one
//!   binary message, without the stream id.
//!
//! Binary payloads are never JSON: the offer, the answer and every frame stay the bytes the
//! two ends sign and seal. Answers travel base64 inside JSON because they are small and rare.

use serde::{Deserialize, Serialize};

/// The hub's control connection.
pub const HUB_LIVE_PATH: &str = "/api/hub/live";

/// An account's own devices' connection for event notices, as they happen.
pub const EVENTS_LIVE_PATH: &str = "/api/events/live";

/// What the events connection sends (text messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AccountEvent {
    /// A sealed notice from the hub `hub_id`; only the account's devices open it.
    Notice {
        hub_id: String,
        /// Base64 of the notice (`porchlight_crypto::notice`).
        notice: String,
        received_at_ms: i64,
    },
    /// Notices were dropped because this connection fell behind.
    Missed { count: u64 },
    /// The connection ends (`session_ended`, `device_removed`, `server_stopping`).
    End { code: String, message: String },
}

/// The viewer route for camera `id`.
pub fn camera_live_path(camera_id: &str) -> String {
    format!("/api/cameras/{camera_id}/live")
}

/// Bytes of the stream id that prefixes each frame the hub sends.
pub const LIVE_STREAM_ID_BYTES: usize = 16;

/// Server → hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HubControl {
    /// A viewer asks for `camera`: answer with [`HubReport::Answer`] or
    /// [`HubReport::Refused`], then stream.
    Offer {
        /// Hex of the offer's stream id, as in the offer.
        stream: String,
        camera: String,
        /// Base64 of the offer bytes, exactly as the viewer sent them.
        offer: String,
    },
    /// The viewer left or lost access: stop streaming `stream`.
    Stop { stream: String, reason: String },
    /// The owner asked for a recording of `camera` now (`porchlight events trigger`).
    Trigger { camera: String },
    /// The owner's device chain changed (a device or hub added or removed; now `length`
    /// links): fetch and verify it again before sealing the next clip, so a device approved a
    /// moment ago can open it. A hint only: the hub trusts the chain it verifies, not this.
    ChainChanged { length: u64 },
    /// The owner's device signed new settings for this hub (counter `counter`): fetch them
    /// from `GET /api/hub/settings`, check and apply them. A hint only, like `ChainChanged`.
    SettingsChanged { counter: u64 },
    /// The server could not use a message from the hub; the connection stays up.
    Error { message: String },
}

/// Hub → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HubReport {
    /// Sent once after connecting: the cameras a viewer may ask for by name.
    Hello { cameras: Vec<String> },
    /// Base64 of the signed answer for `stream`.
    Answer { stream: String, answer: String },
    /// The hub will not stream: `code` is `porchlight_crypto::live::LiveError::code`
    /// (`signer_removed`, `offer_too_old`, …) or the hub's own `no_such_camera`,
    /// `replayed_offer`, `malformed_offer`, `chain_unavailable`.
    Refused {
        stream: String,
        code: String,
        message: String,
    },
    /// The hub stopped streaming `stream` on its own (camera gone, hub stopping).
    Ended { stream: String, reason: String },
    /// Base64 of a sealed event notice (`porchlight_crypto::notice`), for the owner's
    /// connected devices: a doorbell press, in real time.
    Event { notice: String },
}

/// Server → viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ViewerNotice {
    /// Base64 of the hub's signed answer: check it, then frames follow as binary messages.
    Answer { answer: String },
    /// The stream did not start or has ended; `code` says why (`hub_offline`, `hub_gone`,
    /// `refused:<hub code>`, `device_removed`, `session_ended`, `camera_offline`, …).
    End { code: String, message: String },
}
