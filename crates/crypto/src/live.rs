//! Live view (DESIGN §5): a forward-secret handshake between a viewer device and a hub,
//! relayed by a server that can read neither, and the AES-256-GCM sealing of the fMP4 init
//! segment and fragments the hub then streams.
//!
//! 1. The viewer makes a [`PendingView`]: a fresh ephemeral X25519 key and a random stream
//!    id, in an [`Offer`] signed by its device key.
//! 2. The hub runs [`answer_offer`]: the signer must be a current device of the hub's verified
//!    chain and the offer fresh; the hub answers with its own ephemeral key in an [`Answer`]
//!    signed by its hub key and gets a [`FrameSealer`].
//! 3. The viewer runs [`PendingView::finish`]: the hub must be in the viewer's verified chain
//!    and the answer must name the viewer's own offer; the viewer gets a [`FrameOpener`].
//!
//! The stream key comes from the two ephemeral keys alone (HKDF-SHA256 over their X25519
//! shared secret, bound to the stream id and the whole transcript); the long-term keys only
//! sign. Both ephemeral secrets are dropped (and zeroised) when the handshake ends, so a
//! device or hub key stolen later cannot open a recorded capture.
//!
//! Every primitive is one browsers have in WebCrypto (X25519, Ed25519, HKDF-SHA256,
//! AES-256-GCM, SHA-256), and every encoding is fixed-layout: `docs/CRYPTO.md` ("Live view")
//! describes them byte by byte, and a known-answer test pins them.
//!
//! What it does not own: moving bytes (the relay), remembering stream ids the hub has
//! answered (to refuse a replayed offer within its freshness window), and the viewer's
//! policy after a gap (wait for the next keyframe).

use std::fmt;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce, Tag};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey as XPublic, SharedSecret, StaticSecret};
use zeroize::Zeroizing;

use crate::chain::VerifiedChain;
use crate::keys::{DevicePublic, DeviceSecret, HubKey, HubSecret, random_bytes, verify_strict};
use crate::statement::{MAX_CAMERA_ID_BYTES, check_camera_id};
use crate::wire::{Reader, WireError, Writer, hkdf_sha256, sha256_tagged};

/// The version byte of offers, answers and frames this code writes and reads.
pub const LIVE_VERSION: u8 = 1;
/// Prefix of the message a viewer's device key signs in an offer.
pub const OFFER_SIGNATURE_DOMAIN: &[u8] = b"porchlight live-offer v1\0";
/// Prefix of the message a hub key signs in an answer.
pub const ANSWER_SIGNATURE_DOMAIN: &[u8] = b"porchlight live-answer v1\0";
/// Prefix of the transcript hash (offer and answer) the stream key is bound to.
pub const TRANSCRIPT_HASH_DOMAIN: &[u8] = b"porchlight live transcript v1\0";
/// Prefix of the HKDF `info` that derives the stream key.
pub const STREAM_KEY_INFO_DOMAIN: &[u8] = b"porchlight live stream key v1\0";
/// Bytes of a stream id.
pub const STREAM_ID_BYTES: usize = 16;
/// Bytes of an offer without its camera name.
pub const OFFER_FIXED_BYTES: usize = 1 + STREAM_ID_BYTES + 32 + 32 + 8 + 1 + 64;
/// Bytes of an answer.
pub const ANSWER_BYTES: usize = 1 + STREAM_ID_BYTES + 32 + 32 + 64;
/// Bytes of a frame header (`version ‖ kind ‖ flags ‖ seq`), the AEAD's associated data.
pub const FRAME_HEADER_BYTES: usize = 11;
/// Bytes of the AES-GCM tag at the end of every frame.
pub const FRAME_TAG_BYTES: usize = 16;
/// Largest payload of one frame (a 1080p fragment of a second or two is a few hundred KB).
pub const MAX_FRAME_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;

const FRAME_KIND_INIT: u8 = 1;
const FRAME_KIND_FRAGMENT: u8 = 2;
const FLAG_KEYFRAME: u8 = 0x01;
const SIGNATURE_BYTES: usize = 64;

/// Why a live-view handshake or frame was refused. Messages name the check that failed and
/// never include key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    #[error("live-view {what} version {version} is not supported")]
    UnsupportedVersion { what: &'static str, version: u8 },
    #[error("the live-view {what} is truncated")]
    Truncated { what: &'static str },
    #[error("the live-view {what} has {count} unexpected trailing bytes")]
    TrailingBytes { what: &'static str, count: usize },
    #[error(
        "a camera name is 1 to {MAX_CAMERA_ID_BYTES} bytes of UTF-8 without control characters or outer spaces"
    )]
    BadCamera,
    #[error("the offer asks for another camera")]
    CameraMismatch,
    #[error("an ephemeral X25519 key is not in canonical encoding")]
    NonCanonicalEphemeralKey,
    #[error("an ephemeral X25519 key has small order (the key exchange would not be contributory)")]
    WeakEphemeralKey,
    #[error("the offer is signed by a key that is not a device of this account")]
    SignerNotInChain,
    #[error("the offer is signed by a device that was removed from the account")]
    SignerRemoved,
    #[error("the offer is signed by the recovery key, which does not watch live video")]
    SignerIsRecoveryKey,
    #[error("the offer is signed by a hub key, not a device")]
    SignerIsHub,
    #[error("the offer's signature does not verify")]
    BadOfferSignature,
    #[error("the offer was issued {age_ms} ms ago, more than the {max_ms} ms allowed")]
    OfferTooOld { age_ms: u64, max_ms: u64 },
    #[error(
        "the offer is dated {ahead_ms} ms in the future, more than the {max_ms} ms of clock skew allowed"
    )]
    OfferFromFuture { ahead_ms: u64, max_ms: u64 },
    #[error("the hub is not a current hub of the account's device chain")]
    HubNotInChain,
    #[error("the device is a household member's, and the owner has not given them this camera")]
    CameraNotGiven,
    #[error("the answer's signature does not verify under the hub key")]
    BadAnswerSignature,
    #[error("the answer is for another stream")]
    WrongStream,
    #[error("the answer is for another offer (the offer was altered on the way)")]
    OfferHashMismatch,
    #[error("unknown live frame kind {0}")]
    UnknownFrameKind(u8),
    #[error("live frame flags {0:#04x} are not valid for the frame's kind")]
    BadFrameFlags(u8),
    #[error("a live frame's payload is at most {MAX_FRAME_PAYLOAD_BYTES} bytes")]
    FrameTooLarge,
    #[error("frame {seq} is not after the last accepted frame {last}: replayed or reordered")]
    ReplayedFrame { seq: u64, last: u64 },
    #[error("the frame does not authenticate: altered, truncated, or sealed for another stream")]
    FrameNotAuthentic,
    #[error("the stream's frame counter is used up: start a new stream")]
    CounterExhausted,
}

fn wire_error(what: &'static str) -> impl Fn(WireError) -> LiveError {
    move |e| match e {
        WireError::Truncated => LiveError::Truncated { what },
        WireError::TooLong { .. } => LiveError::BadCamera,
        WireError::Trailing { count } => LiveError::TrailingBytes { what, count },
    }
}

impl LiveError {
    /// A stable snake_case name for the error, as a hub passes a refusal on to a viewer
    /// through the relay (`signer_removed`, `offer_too_old`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::BadCamera => "bad_camera",
            Self::CameraMismatch => "camera_mismatch",
            Self::NonCanonicalEphemeralKey => "non_canonical_ephemeral_key",
            Self::WeakEphemeralKey => "weak_ephemeral_key",
            Self::SignerNotInChain => "signer_not_in_chain",
            Self::SignerRemoved => "signer_removed",
            Self::SignerIsRecoveryKey => "signer_is_recovery_key",
            Self::SignerIsHub => "signer_is_hub",
            Self::BadOfferSignature => "bad_offer_signature",
            Self::OfferTooOld { .. } => "offer_too_old",
            Self::OfferFromFuture { .. } => "offer_from_future",
            Self::HubNotInChain => "hub_not_in_chain",
            Self::CameraNotGiven => "camera_not_given",
            Self::BadAnswerSignature => "bad_answer_signature",
            Self::WrongStream => "wrong_stream",
            Self::OfferHashMismatch => "offer_hash_mismatch",
            Self::UnknownFrameKind(_) => "unknown_frame_kind",
            Self::BadFrameFlags(_) => "bad_frame_flags",
            Self::FrameTooLarge => "frame_too_large",
            Self::ReplayedFrame { .. } => "replayed_frame",
            Self::FrameNotAuthentic => "frame_not_authentic",
            Self::CounterExhausted => "counter_exhausted",
        }
    }
}

fn read_version(r: &mut Reader<'_>, what: &'static str) -> Result<(), LiveError> {
    let version = r.u8().map_err(wire_error(what))?;
    if version != LIVE_VERSION {
        return Err(LiveError::UnsupportedVersion { what, version });
    }
    Ok(())
}

/// An X25519 public key as the offer or answer carries it: little-endian u-coordinate below
/// 2^255 − 19 (so below 2^255), the one encoding per point RFC 7748 produces.
fn read_ephemeral(r: &mut Reader<'_>, what: &'static str) -> Result<[u8; 32], LiveError> {
    let key: [u8; 32] = r.array().map_err(wire_error(what))?;
    let at_least_p = key[31] == 0x7f && key[1..31].iter().all(|b| *b == 0xff) && key[0] >= 0xed;
    if key[31] & 0x80 != 0 || at_least_p {
        return Err(LiveError::NonCanonicalEphemeralKey);
    }
    Ok(key)
}

// ---- stream id ----

/// A stream's random 16-byte id, chosen by the viewer. It names the stream on the relay,
/// salts the key derivation and prefixes every frame nonce.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId([u8; STREAM_ID_BYTES]);

impl StreamId {
    pub const fn from_bytes(bytes: [u8; STREAM_ID_BYTES]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; STREAM_ID_BYTES] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn nonce_prefix(&self) -> [u8; 4] {
        [self.0[0], self.0[1], self.0[2], self.0[3]]
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.to_hex())
    }
}

// ---- offer ----

/// A viewer's request for live video, signed by its device key. Parsing
/// ([`Offer::from_bytes`]) checks only the encoding; [`answer_offer`] checks the rest.
#[derive(Clone, PartialEq, Eq)]
pub struct Offer {
    stream_id: StreamId,
    device_key: [u8; 32],
    ephemeral: [u8; 32],
    issued_at_ms: u64,
    camera: String,
    signature: [u8; SIGNATURE_BYTES],
}

impl Offer {
    pub fn stream_id(&self) -> StreamId {
        self.stream_id
    }

    /// The Ed25519 key of the device that claims to have signed the offer.
    pub fn device_key(&self) -> &[u8; 32] {
        &self.device_key
    }

    /// The viewer's ephemeral X25519 public key.
    pub fn ephemeral(&self) -> &[u8; 32] {
        &self.ephemeral
    }

    /// When the viewer made the offer, in milliseconds since the Unix epoch.
    pub fn issued_at_ms(&self) -> u64 {
        self.issued_at_ms
    }

    /// The camera the viewer asks for (the hub's camera id, as in clip statements).
    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// `version ‖ stream id ‖ device key ‖ ephemeral ‖ issued_at_ms ‖ camera`.
    fn body(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(LIVE_VERSION)
            .fixed(self.stream_id.as_bytes())
            .fixed(&self.device_key)
            .fixed(&self.ephemeral)
            .u64(self.issued_at_ms)
            .short(self.camera.as_bytes());
        w.into_bytes()
    }

    fn signed_message(&self) -> Vec<u8> {
        [OFFER_SIGNATURE_DOMAIN, &self.body()].concat()
    }

    /// The canonical encoding: `body ‖ signature`.
    pub fn to_bytes(&self) -> Vec<u8> {
        [self.body().as_slice(), &self.signature].concat()
    }

    /// Parses [`Self::to_bytes`] strictly: any version but 1, a truncated or over-long input,
    /// a camera name that breaks the camera-id rule, or a non-canonical ephemeral key is
    /// refused. Since every field has one encoding, a parsed offer re-encodes to its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LiveError> {
        const WHAT: &str = "offer";
        let mut r = Reader::new(bytes);
        read_version(&mut r, WHAT)?;
        let stream_id = StreamId(r.array().map_err(wire_error(WHAT))?);
        let device_key = r.array().map_err(wire_error(WHAT))?;
        let ephemeral = read_ephemeral(&mut r, WHAT)?;
        let issued_at_ms = r.u64().map_err(wire_error(WHAT))?;
        let camera = r.short(MAX_CAMERA_ID_BYTES).map_err(wire_error(WHAT))?;
        let camera = std::str::from_utf8(camera).map_err(|_| LiveError::BadCamera)?;
        check_camera_id(camera).map_err(|_| LiveError::BadCamera)?;
        let signature = r.array().map_err(wire_error(WHAT))?;
        r.finish().map_err(wire_error(WHAT))?;
        Ok(Self {
            stream_id,
            device_key,
            ephemeral,
            issued_at_ms,
            camera: camera.to_owned(),
            signature,
        })
    }
}

impl fmt::Debug for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offer")
            .field("stream_id", &self.stream_id)
            .field("device_key", &hex::encode(self.device_key))
            .field("ephemeral", &hex::encode(self.ephemeral))
            .field("issued_at_ms", &self.issued_at_ms)
            .field("camera", &self.camera)
            .finish_non_exhaustive()
    }
}

// ---- answer ----

/// The hub's reply to an [`Offer`], signed by its hub key.
#[derive(Clone, PartialEq, Eq)]
pub struct Answer {
    stream_id: StreamId,
    ephemeral: [u8; 32],
    offer_sha256: [u8; 32],
    signature: [u8; SIGNATURE_BYTES],
}

impl Answer {
    pub fn stream_id(&self) -> StreamId {
        self.stream_id
    }

    /// The hub's ephemeral X25519 public key.
    pub fn ephemeral(&self) -> &[u8; 32] {
        &self.ephemeral
    }

    /// SHA-256 of the offer's bytes, exactly as the hub received them.
    pub fn offer_sha256(&self) -> &[u8; 32] {
        &self.offer_sha256
    }

    /// `version ‖ stream id ‖ ephemeral ‖ offer hash`.
    fn body(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(LIVE_VERSION)
            .fixed(self.stream_id.as_bytes())
            .fixed(&self.ephemeral)
            .fixed(&self.offer_sha256);
        w.into_bytes()
    }

    fn signed_message(&self) -> Vec<u8> {
        [ANSWER_SIGNATURE_DOMAIN, &self.body()].concat()
    }

    /// The canonical encoding ([`ANSWER_BYTES`] bytes): `body ‖ signature`.
    pub fn to_bytes(&self) -> Vec<u8> {
        [self.body().as_slice(), &self.signature].concat()
    }

    /// Parses [`Self::to_bytes`] strictly (as [`Offer::from_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LiveError> {
        const WHAT: &str = "answer";
        let mut r = Reader::new(bytes);
        read_version(&mut r, WHAT)?;
        let stream_id = StreamId(r.array().map_err(wire_error(WHAT))?);
        let ephemeral = read_ephemeral(&mut r, WHAT)?;
        let offer_sha256 = r.array().map_err(wire_error(WHAT))?;
        let signature = r.array().map_err(wire_error(WHAT))?;
        r.finish().map_err(wire_error(WHAT))?;
        Ok(Self {
            stream_id,
            ephemeral,
            offer_sha256,
            signature,
        })
    }
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("stream_id", &self.stream_id)
            .field("ephemeral", &hex::encode(self.ephemeral))
            .field("offer_sha256", &hex::encode(self.offer_sha256))
            .finish_non_exhaustive()
    }
}

// ---- key agreement ----

/// X25519 with a peer's ephemeral key, refusing a small-order key (which would make the
/// shared secret a constant anyone can compute).
fn agree(secret: &StaticSecret, peer: &[u8; 32]) -> Result<SharedSecret, LiveError> {
    let shared = secret.diffie_hellman(&XPublic::from(*peer));
    if !shared.was_contributory() {
        return Err(LiveError::WeakEphemeralKey);
    }
    Ok(shared)
}

/// `HKDF-SHA256(salt = stream id, ikm = X25519 shared secret,
/// info = "porchlight live stream key v1\0" ‖ SHA-256("porchlight live transcript v1\0" ‖
/// offer ‖ answer))`.
fn stream_key(
    shared: &[u8; 32],
    stream_id: &StreamId,
    offer: &[u8],
    answer: &[u8],
) -> Zeroizing<[u8; 32]> {
    let transcript = sha256_tagged(TRANSCRIPT_HASH_DOMAIN, &[offer, answer]);
    let info = [STREAM_KEY_INFO_DOMAIN, transcript.as_slice()].concat();
    hkdf_sha256(stream_id.as_bytes(), shared, &info)
}

// ---- viewer side ----

/// A viewer's half-finished handshake: the offer it sent and the ephemeral secret that will
/// open the stream. Single use: [`Self::finish`] consumes it, and dropping it zeroises the
/// secret.
pub struct PendingView {
    offer: Offer,
    offer_bytes: Vec<u8>,
    ephemeral: StaticSecret,
}

impl PendingView {
    /// Makes an offer for `camera`, signed by `device`, with a fresh stream id and ephemeral
    /// key from the OS CSPRNG. `issued_at_ms` is the viewer's clock (ms since the Unix
    /// epoch); the hub refuses offers too far from its own.
    pub fn start(
        device: &DeviceSecret,
        camera: &str,
        issued_at_ms: u64,
    ) -> Result<Self, LiveError> {
        let stream_id = StreamId(*random_bytes::<STREAM_ID_BYTES>());
        let ephemeral = StaticSecret::from(*random_bytes::<32>());
        Self::start_with(device, camera, issued_at_ms, stream_id, ephemeral)
    }

    /// [`Self::start`] with the randomness given (known-answer tests pin it).
    fn start_with(
        device: &DeviceSecret,
        camera: &str,
        issued_at_ms: u64,
        stream_id: StreamId,
        ephemeral: StaticSecret,
    ) -> Result<Self, LiveError> {
        check_camera_id(camera).map_err(|_| LiveError::BadCamera)?;
        let mut offer = Offer {
            stream_id,
            device_key: *device.public_ref().sign(),
            ephemeral: XPublic::from(&ephemeral).to_bytes(),
            issued_at_ms,
            camera: camera.to_owned(),
            signature: [0; SIGNATURE_BYTES],
        };
        offer.signature = device.sign(&offer.signed_message());
        Ok(Self {
            offer_bytes: offer.to_bytes(),
            offer,
            ephemeral,
        })
    }

    /// The offer's bytes, to send to the hub through the relay.
    pub fn offer_bytes(&self) -> &[u8] {
        &self.offer_bytes
    }

    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    pub fn stream_id(&self) -> StreamId {
        self.offer.stream_id
    }

    /// Checks the hub's answer and derives the stream key. `hub` is the hub the viewer asked
    /// (the one that owns the camera); it must be a current hub of `chain`, the viewer's own
    /// verified chain of the camera owner's account, so the server cannot answer in its
    /// place. The answer must carry this offer's stream id and hash, so an answer to another
    /// (or an altered) offer is refused.
    pub fn finish(
        self,
        answer: &[u8],
        chain: &VerifiedChain,
        hub: &HubKey,
    ) -> Result<FrameOpener, LiveError> {
        let parsed = Answer::from_bytes(answer)?;
        if !chain.has_hub(hub) {
            return Err(LiveError::HubNotInChain);
        }
        if !verify_strict(
            hub.verifying_key(),
            &parsed.signed_message(),
            &parsed.signature,
        ) {
            return Err(LiveError::BadAnswerSignature);
        }
        if parsed.stream_id != self.offer.stream_id {
            return Err(LiveError::WrongStream);
        }
        if parsed.offer_sha256 != <[u8; 32]>::from(Sha256::digest(&self.offer_bytes)) {
            return Err(LiveError::OfferHashMismatch);
        }
        let shared = agree(&self.ephemeral, &parsed.ephemeral)?;
        let key = stream_key(
            shared.as_bytes(),
            &self.offer.stream_id,
            &self.offer_bytes,
            answer,
        );
        Ok(FrameOpener::new(FrameCipher::new(
            &key,
            self.offer.stream_id,
        )))
    }
}

impl fmt::Debug for PendingView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingView")
            .field("offer", &self.offer)
            .field("ephemeral_secret", &"[redacted]")
            .finish()
    }
}

// ---- hub side ----

/// How far an offer's `issued_at_ms` may be from the hub's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferWindow {
    /// Oldest offer accepted, in ms before the hub's now.
    pub max_age_ms: u64,
    /// Clock skew accepted, in ms after the hub's now.
    pub max_future_ms: u64,
}

impl Default for OfferWindow {
    /// One minute old, or thirty seconds ahead: a relay hop and phone clocks that are
    /// roughly right.
    fn default() -> Self {
        Self {
            max_age_ms: 60_000,
            max_future_ms: 30_000,
        }
    }
}

impl OfferWindow {
    fn check(&self, issued_at_ms: u64, now_ms: u64) -> Result<(), LiveError> {
        if let Some(ahead_ms) = issued_at_ms.checked_sub(now_ms)
            && ahead_ms > self.max_future_ms
        {
            return Err(LiveError::OfferFromFuture {
                ahead_ms,
                max_ms: self.max_future_ms,
            });
        }
        let age_ms = now_ms.saturating_sub(issued_at_ms);
        if age_ms > self.max_age_ms {
            return Err(LiveError::OfferTooOld {
                age_ms,
                max_ms: self.max_age_ms,
            });
        }
        Ok(())
    }
}

/// An offer the hub accepted: who asked for what, the answer to send back, and the sealer
/// for the stream's frames.
#[derive(Debug)]
pub struct AcceptedOffer {
    /// The verified offer (its device key is a current device of the chain).
    pub offer: Offer,
    /// The answer's bytes, to send to the viewer through the relay.
    pub answer: Vec<u8>,
    pub sealer: FrameSealer,
}

/// The hub's side of the handshake. Refuses, in this order: a malformed offer; a hub not in
/// its own chain; a signer that is not a current device of `chain` (a removed device, the
/// recovery key, a hub, an unknown key); a bad signature; an offer outside `window` around
/// `now_ms`; a camera other than `expected_camera` (when given); a small-order ephemeral key.
///
/// The hub should also remember the stream ids it answered for `window.max_age_ms` and
/// refuse a repeat: a replayed offer cannot open anything (the replayer lacks the ephemeral
/// secret), but it would make the hub stream for nobody.
pub fn answer_offer(
    hub: &HubSecret,
    chain: &VerifiedChain,
    offer: &[u8],
    expected_camera: Option<&str>,
    now_ms: u64,
    window: OfferWindow,
) -> Result<AcceptedOffer, LiveError> {
    answer_household_offer(hub, chain, &[], offer, expected_camera, now_ms, window)
}

/// [`answer_offer`] for a camera the owner may have given household members: the offer may
/// also come from a current device of a member's chain (each verified from the root the
/// owner's `chain` names) when the owner's chain gives that member this camera of this hub.
pub fn answer_household_offer(
    hub: &HubSecret,
    chain: &VerifiedChain,
    members: &[VerifiedChain],
    offer: &[u8],
    expected_camera: Option<&str>,
    now_ms: u64,
    window: OfferWindow,
) -> Result<AcceptedOffer, LiveError> {
    let ephemeral = StaticSecret::from(*random_bytes::<32>());
    answer_with(
        hub,
        (chain, members),
        offer,
        expected_camera,
        now_ms,
        window,
        ephemeral,
    )
}

/// [`answer_offer`] with the hub's ephemeral secret given (known-answer tests pin it).
fn answer_with(
    hub: &HubSecret,
    (chain, members): (&VerifiedChain, &[VerifiedChain]),
    offer_bytes: &[u8],
    expected_camera: Option<&str>,
    now_ms: u64,
    window: OfferWindow,
    ephemeral: StaticSecret,
) -> Result<AcceptedOffer, LiveError> {
    let offer = Offer::from_bytes(offer_bytes)?;
    if !chain.has_hub(&hub.public()) {
        return Err(LiveError::HubNotInChain);
    }
    let device = match current_device(chain, &offer.device_key) {
        Err(LiveError::SignerNotInChain) => {
            member_device(chain, members, hub, &offer.device_key, &offer.camera)?
        }
        other => other?,
    };
    if !verify_strict(
        device.verifying_key(),
        &offer.signed_message(),
        &offer.signature,
    ) {
        return Err(LiveError::BadOfferSignature);
    }
    window.check(offer.issued_at_ms, now_ms)?;
    if expected_camera.is_some_and(|camera| camera != offer.camera) {
        return Err(LiveError::CameraMismatch);
    }
    let shared = agree(&ephemeral, &offer.ephemeral)?;
    let mut answer = Answer {
        stream_id: offer.stream_id,
        ephemeral: XPublic::from(&ephemeral).to_bytes(),
        offer_sha256: Sha256::digest(offer_bytes).into(),
        signature: [0; SIGNATURE_BYTES],
    };
    answer.signature = hub.sign(&answer.signed_message());
    let answer_bytes = answer.to_bytes();
    let key = stream_key(
        shared.as_bytes(),
        &offer.stream_id,
        offer_bytes,
        &answer_bytes,
    );
    let sealer = FrameSealer::new(FrameCipher::new(&key, offer.stream_id));
    Ok(AcceptedOffer {
        offer,
        answer: answer_bytes,
        sealer,
    })
}

/// The current device with Ed25519 key `key`, or why there is none.
/// A current device of a member's chain that `chain` names; refused unless that member was
/// given `camera` of `hub`.
fn member_device<'c>(
    chain: &VerifiedChain,
    members: &'c [VerifiedChain],
    hub: &HubSecret,
    key: &[u8; 32],
    camera: &str,
) -> Result<&'c DevicePublic, LiveError> {
    for member_chain in members {
        let Some(member) = chain.member(&member_chain.root()) else {
            continue;
        };
        if let Some(entry) = member_chain.devices().iter().find(|d| d.key.sign() == key) {
            if !member.may_watch(hub.public().as_bytes(), camera) {
                return Err(LiveError::CameraNotGiven);
            }
            return Ok(&entry.key);
        }
    }
    Err(LiveError::SignerNotInChain)
}

fn current_device<'c>(
    chain: &'c VerifiedChain,
    key: &[u8; 32],
) -> Result<&'c DevicePublic, LiveError> {
    if let Some(entry) = chain.devices().iter().find(|d| d.key.sign() == key) {
        return Ok(&entry.key);
    }
    Err(if chain.recovery_key().sign() == key {
        LiveError::SignerIsRecoveryKey
    } else if chain.hubs().iter().any(|h| h.key.as_bytes() == key) {
        LiveError::SignerIsHub
    } else if chain.was_removed(key) {
        LiveError::SignerRemoved
    } else {
        LiveError::SignerNotInChain
    })
}

#[cfg(any(test, feature = "test-support"))]
pub mod capture;

// ---- frames ----

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// The fMP4 init segment (`ftyp` + `moov`).
    Init,
    /// A fragment (`moof` + `mdat`); `keyframe` when it starts with a sync sample, so a
    /// viewer that missed frames can resume decoding there.
    Fragment { keyframe: bool },
}

/// A frame's cleartext header, authenticated as the AEAD's associated data. The relay may
/// read it ([`FrameHeader::parse`]) to drop fragments for a slow viewer up to a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub kind: FrameKind,
    pub seq: u64,
}

impl FrameHeader {
    /// Whether a viewer that missed frames can start decoding again here: an init segment,
    /// or a fragment that starts with a keyframe. What a relay skips a slow viewer to.
    pub fn resumes_decoding(&self) -> bool {
        matches!(
            self.kind,
            FrameKind::Init | FrameKind::Fragment { keyframe: true }
        )
    }

    fn to_bytes(self) -> [u8; FRAME_HEADER_BYTES] {
        let (kind, flags) = match self.kind {
            FrameKind::Init => (FRAME_KIND_INIT, 0),
            FrameKind::Fragment { keyframe } => (
                FRAME_KIND_FRAGMENT,
                if keyframe { FLAG_KEYFRAME } else { 0 },
            ),
        };
        let mut out = [0u8; FRAME_HEADER_BYTES];
        out[0] = LIVE_VERSION;
        out[1] = kind;
        out[2] = flags;
        out[3..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// Reads the header of a sealed frame (without authenticating it: only
    /// [`FrameOpener::open`] does that). Refuses input shorter than header and tag, another
    /// version, an unknown kind, flags not defined for the kind.
    pub fn parse(frame: &[u8]) -> Result<Self, LiveError> {
        const WHAT: &str = "frame";
        if frame.len() < FRAME_HEADER_BYTES + FRAME_TAG_BYTES {
            return Err(LiveError::Truncated { what: WHAT });
        }
        let mut r = Reader::new(frame);
        read_version(&mut r, WHAT)?;
        let kind = r.u8().map_err(wire_error(WHAT))?;
        let flags = r.u8().map_err(wire_error(WHAT))?;
        let seq = r.u64().map_err(wire_error(WHAT))?;
        let kind = match (kind, flags) {
            (FRAME_KIND_INIT, 0) => FrameKind::Init,
            (FRAME_KIND_FRAGMENT, 0 | FLAG_KEYFRAME) => FrameKind::Fragment {
                keyframe: flags == FLAG_KEYFRAME,
            },
            (FRAME_KIND_INIT | FRAME_KIND_FRAGMENT, _) => {
                return Err(LiveError::BadFrameFlags(flags));
            }
            (other, _) => return Err(LiveError::UnknownFrameKind(other)),
        };
        Ok(Self { kind, seq })
    }
}

/// The stream's AES-256-GCM key and nonce prefix, shared by the sealer and the opener.
/// `Aes256Gcm` wipes its key schedule on drop only with the `aes` crate's `zeroize` feature,
/// which the workspace does not enable yet (docs/CRYPTO.md, "Live view").
struct FrameCipher {
    aead: Aes256Gcm,
    nonce_prefix: [u8; 4],
}

impl FrameCipher {
    fn new(key: &Zeroizing<[u8; 32]>, stream_id: StreamId) -> Self {
        Self {
            aead: Aes256Gcm::new(<&Key<Aes256Gcm>>::from(&**key)),
            nonce_prefix: stream_id.nonce_prefix(),
        }
    }

    /// `stream_id[0..4] ‖ seq (u64 BE)`: unique per frame, since seq never repeats within
    /// a stream and every stream has its own key.
    fn nonce(&self, seq: u64) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&self.nonce_prefix);
        nonce[4..].copy_from_slice(&seq.to_be_bytes());
        nonce.into()
    }
}

/// The hub's end of a stream: seals frames with consecutive sequence numbers from 0.
pub struct FrameSealer {
    cipher: FrameCipher,
    /// `None` once `u64::MAX` was used: the stream must end rather than reuse a nonce.
    next_seq: Option<u64>,
}

impl FrameSealer {
    fn new(cipher: FrameCipher) -> Self {
        Self {
            cipher,
            next_seq: Some(0),
        }
    }

    /// The sequence number the next frame will carry (`None`: the counter is used up).
    pub fn next_seq(&self) -> Option<u64> {
        self.next_seq
    }

    /// Seals one frame: `header (11) ‖ AES-256-GCM(payload) ‖ tag (16)`, the header as
    /// associated data.
    pub fn seal(&mut self, kind: FrameKind, payload: &[u8]) -> Result<Vec<u8>, LiveError> {
        if payload.len() > MAX_FRAME_PAYLOAD_BYTES {
            return Err(LiveError::FrameTooLarge);
        }
        let seq = self.next_seq.ok_or(LiveError::CounterExhausted)?;
        let header = FrameHeader { kind, seq }.to_bytes();
        let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len() + FRAME_TAG_BYTES);
        frame.extend_from_slice(&header);
        frame.extend_from_slice(payload);
        let tag = self
            .cipher
            .aead
            .encrypt_in_place_detached(
                &self.cipher.nonce(seq),
                &header,
                &mut frame[FRAME_HEADER_BYTES..],
            )
            .map_err(|_| LiveError::FrameTooLarge)?;
        frame.extend_from_slice(&tag);
        self.next_seq = seq.checked_add(1);
        Ok(frame)
    }
}

impl fmt::Debug for FrameSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameSealer")
            .field("next_seq", &self.next_seq)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// A frame that authenticated.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedFrame {
    pub kind: FrameKind,
    pub seq: u64,
    /// Frames missing between the last accepted frame and this one (dropped by the relay, or
    /// lost): after a gap, a viewer waits for an init segment or a keyframe.
    pub skipped: u64,
    pub payload: Vec<u8>,
}

impl fmt::Debug for OpenedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedFrame")
            .field("kind", &self.kind)
            .field("seq", &self.seq)
            .field("skipped", &self.skipped)
            .field("payload_bytes", &self.payload.len())
            .finish()
    }
}

/// The viewer's end of a stream: opens frames in increasing sequence order.
pub struct FrameOpener {
    cipher: FrameCipher,
    last_seq: Option<u64>,
}

impl FrameOpener {
    fn new(cipher: FrameCipher) -> Self {
        Self {
            cipher,
            last_seq: None,
        }
    }

    /// The sequence number of the last frame accepted.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Authenticates and decrypts one frame. Refused, leaving the opener as it was: a frame
    /// whose seq is not above the last accepted one (replayed or reordered), a malformed or
    /// oversized frame, and any frame that fails authentication (a flipped bit anywhere,
    /// truncation, another stream's key). A forward gap is accepted and reported in
    /// [`OpenedFrame::skipped`].
    pub fn open(&mut self, frame: &[u8]) -> Result<OpenedFrame, LiveError> {
        let header = FrameHeader::parse(frame)?;
        if frame.len() > FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD_BYTES + FRAME_TAG_BYTES {
            return Err(LiveError::FrameTooLarge);
        }
        if let Some(last) = self.last_seq
            && header.seq <= last
        {
            return Err(LiveError::ReplayedFrame {
                seq: header.seq,
                last,
            });
        }
        let (aad, rest) = frame.split_at(FRAME_HEADER_BYTES);
        let (ciphertext, tag) = rest.split_at(rest.len() - FRAME_TAG_BYTES);
        let tag =
            <&[u8; FRAME_TAG_BYTES]>::try_from(tag).map_err(|_| LiveError::FrameNotAuthentic)?;
        let mut payload = ciphertext.to_vec();
        self.cipher
            .aead
            .decrypt_in_place_detached(
                &self.cipher.nonce(header.seq),
                aad,
                &mut payload,
                <&Tag>::from(tag),
            )
            .map_err(|_| LiveError::FrameNotAuthentic)?;
        // `seq > last` above, so `last + 1` cannot overflow.
        let expected = self.last_seq.map_or(0, |last| last + 1);
        self.last_seq = Some(header.seq);
        Ok(OpenedFrame {
            kind: header.kind,
            seq: header.seq,
            skipped: header.seq - expected,
            payload,
        })
    }
}

impl fmt::Debug for FrameOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameOpener")
            .field("last_seq", &self.last_seq)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::capture::{any_key_opens, keys_from, long_term_secrets};
    use super::*;
    use crate::chain::{ChainBuilder, ChainOp, Name};
    use crate::wire::sha256_tagged;

    const CAMERA: &str = "porch";
    /// 2023-11-14T22:13:20Z.
    const NOW: u64 = 1_700_000_000_000;

    fn name(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    /// An account with two devices (phone, laptop), its recovery key and one hub.
    struct Account {
        phone: DeviceSecret,
        laptop: DeviceSecret,
        recovery: DeviceSecret,
        hub: HubSecret,
        builder: ChainBuilder,
    }

    impl Account {
        fn new() -> Self {
            let phone = DeviceSecret::generate();
            let laptop = DeviceSecret::generate();
            let recovery = DeviceSecret::generate();
            let hub = HubSecret::generate();
            let mut builder =
                ChainBuilder::genesis(&phone, name("phone"), recovery.public()).unwrap();
            builder
                .append(
                    ChainOp::AddDevice {
                        name: name("laptop"),
                        device: laptop.public(),
                    },
                    &phone,
                )
                .unwrap();
            builder
                .append(
                    ChainOp::AddHub {
                        name: name("porch"),
                        hub: hub.public(),
                    },
                    &phone,
                )
                .unwrap();
            Self {
                phone,
                laptop,
                recovery,
                hub,
                builder,
            }
        }

        fn chain(&self) -> &VerifiedChain {
            self.builder.chain()
        }

        /// The chain after `op`, signed by the phone.
        fn chain_after(&self, op: ChainOp) -> VerifiedChain {
            let mut builder = self.builder.clone();
            builder.append(op, &self.phone).unwrap();
            builder.into_parts().0
        }

        fn answer(&self, offer: &[u8]) -> Result<AcceptedOffer, LiveError> {
            answer_offer(
                &self.hub,
                self.chain(),
                offer,
                Some(CAMERA),
                NOW,
                OfferWindow::default(),
            )
        }

        /// A finished handshake: the hub's sealer and the phone's opener.
        fn session(&self) -> (FrameSealer, FrameOpener) {
            let view = PendingView::start(&self.phone, CAMERA, NOW).unwrap();
            let accepted = self.answer(view.offer_bytes()).unwrap();
            let opener = view
                .finish(&accepted.answer, self.chain(), &self.hub.public())
                .unwrap();
            (accepted.sealer, opener)
        }
    }

    /// The fixed inputs of the known-answer vector (and of tests that need to start the same
    /// offer twice).
    const KAT_DEVICE_SEED: [u8; 32] = [0x11; 32];
    const KAT_DEVICE_X25519: [u8; 32] = [0x22; 32];
    const KAT_HUB_SEED: [u8; 32] = [0x33; 32];
    const KAT_VIEWER_EPHEMERAL: [u8; 32] = [0x44; 32];
    const KAT_HUB_EPHEMERAL: [u8; 32] = [0x55; 32];
    const KAT_STREAM_ID: [u8; STREAM_ID_BYTES] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
        0x0f,
    ];

    /// A hub key from a seed, through the public key-file form (`keys.rs` keeps `from_seed`
    /// private).
    fn hub_from_seed(seed: [u8; 32]) -> HubSecret {
        let mut file = [b"PLHS".as_slice(), &[1], &seed].concat();
        let check = sha256_tagged(b"porchlight hub secret v1\0", &[&file]);
        file.extend_from_slice(&check[..4]);
        HubSecret::from_bytes(&file).unwrap()
    }

    /// The viewer's offer with every input fixed: the same bytes each time (Ed25519 signing is
    /// deterministic), so one answer fits every such view.
    fn fixed_view(device: &DeviceSecret) -> PendingView {
        PendingView::start_with(
            device,
            CAMERA,
            NOW,
            StreamId::from_bytes(KAT_STREAM_ID),
            StaticSecret::from(KAT_VIEWER_EPHEMERAL),
        )
        .unwrap()
    }

    /// An offer with any fields, signed by `sign` (to forge what `PendingView` never makes).
    fn offer_signed_by(
        device_key: [u8; 32],
        ephemeral: [u8; 32],
        sign: impl Fn(&[u8]) -> [u8; 64],
    ) -> Vec<u8> {
        let mut offer = Offer {
            stream_id: StreamId::from_bytes([7; STREAM_ID_BYTES]),
            device_key,
            ephemeral,
            issued_at_ms: NOW,
            camera: CAMERA.to_owned(),
            signature: [0; SIGNATURE_BYTES],
        };
        offer.signature = sign(&offer.signed_message());
        offer.to_bytes()
    }

    /// An answer to `offer` with any ephemeral key, signed by `hub`.
    fn answer_signed_by(offer: &[u8], ephemeral: [u8; 32], hub: &HubSecret) -> Vec<u8> {
        let parsed = Offer::from_bytes(offer).unwrap();
        let mut answer = Answer {
            stream_id: parsed.stream_id(),
            ephemeral,
            offer_sha256: Sha256::digest(offer).into(),
            signature: [0; SIGNATURE_BYTES],
        };
        answer.signature = hub.sign(&answer.signed_message());
        answer.to_bytes()
    }

    fn x25519_public(secret: [u8; 32]) -> [u8; 32] {
        XPublic::from(&StaticSecret::from(secret)).to_bytes()
    }

    fn opener_with_key(key: [u8; 32], stream_id: [u8; STREAM_ID_BYTES]) -> FrameOpener {
        FrameOpener::new(FrameCipher::new(
            &Zeroizing::new(key),
            StreamId::from_bytes(stream_id),
        ))
    }

    fn sealer_with_key(key: [u8; 32], stream_id: [u8; STREAM_ID_BYTES]) -> FrameSealer {
        FrameSealer::new(FrameCipher::new(
            &Zeroizing::new(key),
            StreamId::from_bytes(stream_id),
        ))
    }

    // ---- the handshake ----

    #[test]
    fn round_trip_with_a_real_chain() {
        let a = Account::new();
        let view = PendingView::start(&a.laptop, CAMERA, NOW - 1_500).unwrap();
        let offer_bytes = view.offer_bytes().to_vec();
        assert_eq!(offer_bytes.len(), OFFER_FIXED_BYTES + CAMERA.len());

        let accepted = a.answer(&offer_bytes).unwrap();
        assert_eq!(&accepted.offer, view.offer());
        assert_eq!(accepted.offer.device_key(), a.laptop.public().sign());
        assert_eq!(accepted.offer.camera(), CAMERA);
        assert_eq!(accepted.offer.issued_at_ms(), NOW - 1_500);
        assert_eq!(accepted.answer.len(), ANSWER_BYTES);
        let answer = Answer::from_bytes(&accepted.answer).unwrap();
        assert_eq!(answer.stream_id(), view.stream_id());
        assert_eq!(
            answer.offer_sha256(),
            &<[u8; 32]>::from(Sha256::digest(&offer_bytes))
        );
        assert_ne!(answer.ephemeral(), view.offer().ephemeral());

        let mut opener = view
            .finish(&accepted.answer, a.chain(), &a.hub.public())
            .unwrap();
        let mut sealer = accepted.sealer;
        assert_eq!(sealer.next_seq(), Some(0));
        assert_eq!(opener.last_seq(), None);

        let init = sealer.seal(FrameKind::Init, b"ftyp moov").unwrap();
        assert_eq!(init.len(), FRAME_HEADER_BYTES + 9 + FRAME_TAG_BYTES);
        let opened = opener.open(&init).unwrap();
        assert_eq!(opened.kind, FrameKind::Init);
        assert_eq!((opened.seq, opened.skipped), (0, 0));
        assert_eq!(opened.payload, b"ftyp moov");

        for (i, keyframe) in [true, false, false, true].into_iter().enumerate() {
            let payload = vec![u8::try_from(i).unwrap(); 1000 * i];
            let frame = sealer
                .seal(FrameKind::Fragment { keyframe }, &payload)
                .unwrap();
            assert_eq!(
                FrameHeader::parse(&frame).unwrap(),
                FrameHeader {
                    kind: FrameKind::Fragment { keyframe },
                    seq: 1 + u64::try_from(i).unwrap(),
                }
            );
            let opened = opener.open(&frame).unwrap();
            assert_eq!(opened.kind, FrameKind::Fragment { keyframe });
            assert_eq!(opened.skipped, 0);
            assert_eq!(opened.payload, payload);
        }
        assert_eq!(sealer.next_seq(), Some(5));
        assert_eq!(opener.last_seq(), Some(4));

        // The opener and the sealer of one session do not open another's frames.
        let (mut other_sealer, _) = a.session();
        let foreign = other_sealer.seal(FrameKind::Init, b"ftyp moov").unwrap();
        let (_, mut other_opener) = a.session();
        assert_eq!(
            other_opener.open(&foreign),
            Err(LiveError::FrameNotAuthentic)
        );
    }

    #[test]
    fn encodings_are_canonical_and_strict() {
        let a = Account::new();
        let view = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        let offer = view.offer_bytes();
        assert_eq!(Offer::from_bytes(offer).unwrap().to_bytes(), offer);
        let answer = a.answer(offer).unwrap().answer;
        assert_eq!(Answer::from_bytes(&answer).unwrap().to_bytes(), answer);

        for (bytes, what) in [(offer, "offer"), (answer.as_slice(), "answer")] {
            let parse = |b: &[u8]| match what {
                "offer" => Offer::from_bytes(b).map(|_| ()),
                _ => Answer::from_bytes(b).map(|_| ()),
            };
            let mut v2 = bytes.to_vec();
            v2[0] = 2;
            assert_eq!(
                parse(&v2),
                Err(LiveError::UnsupportedVersion { what, version: 2 })
            );
            for len in 0..bytes.len() {
                assert!(parse(&bytes[..len]).is_err(), "{what} cut to {len} bytes");
            }
            assert_eq!(parse(&[]), Err(LiveError::Truncated { what }));
            let mut long = bytes.to_vec();
            long.push(0);
            assert_eq!(
                parse(&long),
                Err(LiveError::TrailingBytes { what, count: 1 })
            );
        }

        // The camera name follows the camera-id rule, on both sides.
        for bad in [
            "",
            " porch",
            "porch\n",
            &"x".repeat(MAX_CAMERA_ID_BYTES + 1),
        ] {
            assert_eq!(
                PendingView::start(&a.phone, bad, NOW).unwrap_err(),
                LiveError::BadCamera
            );
        }
        let camera_len_at = 1 + STREAM_ID_BYTES + 32 + 32 + 8;
        let mut empty_camera = offer[..camera_len_at].to_vec();
        empty_camera.push(0);
        empty_camera.extend_from_slice(&[0; SIGNATURE_BYTES]);
        assert_eq!(Offer::from_bytes(&empty_camera), Err(LiveError::BadCamera));
        let mut over_long = offer.to_vec();
        over_long[camera_len_at] = u8::try_from(MAX_CAMERA_ID_BYTES + 1).unwrap();
        assert_eq!(Offer::from_bytes(&over_long), Err(LiveError::BadCamera));
        let mut not_utf8 = offer.to_vec();
        not_utf8[camera_len_at + 1] = 0xff;
        assert_eq!(Offer::from_bytes(&not_utf8), Err(LiveError::BadCamera));
    }

    #[test]
    fn a_household_member_watches_only_the_cameras_given() {
        let owner = Account::new();
        let member = Account::new();
        let member_root = member.chain().root();
        let hub_key = *owner.hub.public().as_bytes();
        let mut builder = owner.builder.clone();
        builder
            .append(
                ChainOp::AddMember {
                    root: member_root,
                    label: name("lodger"),
                },
                &owner.phone,
            )
            .unwrap();
        let members = [member.chain().clone()];
        let answer = |chain: &VerifiedChain, camera: &str| {
            let view = PendingView::start(&member.laptop, camera, NOW).unwrap();
            answer_household_offer(
                &owner.hub,
                chain,
                &members,
                view.offer_bytes(),
                Some(camera),
                NOW,
                OfferWindow::default(),
            )
            .map(|accepted| (view, accepted))
        };
        // A member, but given no camera.
        assert_eq!(
            answer(builder.chain(), CAMERA).unwrap_err(),
            LiveError::CameraNotGiven
        );
        builder
            .append(
                ChainOp::MemberCameras {
                    root: member_root,
                    cameras: vec![crate::CameraRef::new(hub_key, CAMERA).unwrap()],
                },
                &owner.phone,
            )
            .unwrap();
        // Given: the member's device gets a stream it can open, checked under the owner's chain.
        let (view, accepted) = answer(builder.chain(), CAMERA).unwrap();
        let mut opener = view
            .finish(&accepted.answer, builder.chain(), &owner.hub.public())
            .unwrap();
        let mut sealer = accepted.sealer;
        let frame = sealer.seal(FrameKind::Init, b"init").unwrap();
        assert_eq!(opener.open(&frame).unwrap().payload, b"init");
        // Another camera of the same hub is not given.
        assert_eq!(
            answer(builder.chain(), "garden").unwrap_err(),
            LiveError::CameraNotGiven
        );
        // Without the member's chain, or once removed, the device is nobody.
        let view = PendingView::start(&member.laptop, CAMERA, NOW).unwrap();
        assert_eq!(
            answer_offer(
                &owner.hub,
                builder.chain(),
                view.offer_bytes(),
                Some(CAMERA),
                NOW,
                OfferWindow::default()
            )
            .unwrap_err(),
            LiveError::SignerNotInChain
        );
        builder
            .append(ChainOp::RemoveMember { root: member_root }, &owner.phone)
            .unwrap();
        assert_eq!(
            answer(builder.chain(), CAMERA).unwrap_err(),
            LiveError::SignerNotInChain
        );
        assert_eq!(LiveError::CameraNotGiven.code(), "camera_not_given");
    }

    #[test]
    fn offers_from_anyone_but_a_current_device_are_refused() {
        let a = Account::new();
        let offer_from = |device: &DeviceSecret| {
            PendingView::start(device, CAMERA, NOW)
                .unwrap()
                .offer_bytes()
                .to_vec()
        };

        // A removed device, against the chain that removed it.
        let removed = a.chain_after(ChainOp::RemoveDevice {
            device_sign_key: *a.laptop.public().sign(),
        });
        let window = OfferWindow::default();
        let answer_with_chain = |chain: &VerifiedChain, offer: &[u8]| {
            answer_offer(&a.hub, chain, offer, Some(CAMERA), NOW, window).map(|_| ())
        };
        assert_eq!(answer_with_chain(a.chain(), &offer_from(&a.laptop)), Ok(()));
        assert_eq!(
            answer_with_chain(&removed, &offer_from(&a.laptop)),
            Err(LiveError::SignerRemoved)
        );
        assert_eq!(answer_with_chain(&removed, &offer_from(&a.phone)), Ok(()));

        // A device the owner never added (a ghost device the server made up).
        assert_eq!(
            a.answer(&offer_from(&DeviceSecret::generate())).map(|_| ()),
            Err(LiveError::SignerNotInChain)
        );

        // The recovery key is a member of the chain but does not watch live video.
        assert_eq!(
            a.answer(&offer_from(&a.recovery)).map(|_| ()),
            Err(LiveError::SignerIsRecoveryKey)
        );

        // A hub key signing an offer in a device's place.
        let by_hub = offer_signed_by(*a.hub.public().as_bytes(), x25519_public([9; 32]), |m| {
            a.hub.sign(m)
        });
        assert_eq!(a.answer(&by_hub).map(|_| ()), Err(LiveError::SignerIsHub));

        // A current device's key, with someone else's signature.
        let forged = offer_signed_by(*a.phone.public().sign(), x25519_public([9; 32]), |m| {
            a.laptop.sign(m)
        });
        assert_eq!(
            a.answer(&forged).map(|_| ()),
            Err(LiveError::BadOfferSignature)
        );
        let genuine = offer_signed_by(*a.phone.public().sign(), x25519_public([9; 32]), |m| {
            a.phone.sign(m)
        });
        assert!(a.answer(&genuine).is_ok());
    }

    #[test]
    fn offers_outside_the_window_are_refused() {
        let a = Account::new();
        let window = OfferWindow::default();
        let at = |issued_at_ms: u64| {
            let view = PendingView::start(&a.phone, CAMERA, issued_at_ms).unwrap();
            answer_offer(&a.hub, a.chain(), view.offer_bytes(), None, NOW, window).map(|_| ())
        };
        assert_eq!(at(NOW), Ok(()));
        assert_eq!(at(NOW - window.max_age_ms), Ok(()));
        assert_eq!(at(NOW + window.max_future_ms), Ok(()));
        assert_eq!(
            at(NOW - window.max_age_ms - 1),
            Err(LiveError::OfferTooOld {
                age_ms: window.max_age_ms + 1,
                max_ms: window.max_age_ms
            })
        );
        assert_eq!(
            at(0),
            Err(LiveError::OfferTooOld {
                age_ms: NOW,
                max_ms: window.max_age_ms
            })
        );
        assert_eq!(
            at(NOW + window.max_future_ms + 1),
            Err(LiveError::OfferFromFuture {
                ahead_ms: window.max_future_ms + 1,
                max_ms: window.max_future_ms
            })
        );
        assert_eq!(
            at(u64::MAX),
            Err(LiveError::OfferFromFuture {
                ahead_ms: u64::MAX - NOW,
                max_ms: window.max_future_ms
            })
        );
    }

    #[test]
    fn an_offer_for_another_camera_is_refused() {
        let a = Account::new();
        let view = PendingView::start(&a.phone, "garden", NOW).unwrap();
        assert_eq!(
            a.answer(view.offer_bytes()).map(|_| ()),
            Err(LiveError::CameraMismatch)
        );
        let accepted = answer_offer(
            &a.hub,
            a.chain(),
            view.offer_bytes(),
            None,
            NOW,
            OfferWindow::default(),
        )
        .unwrap();
        assert_eq!(accepted.offer.camera(), "garden");
    }

    #[test]
    fn weak_and_non_canonical_ephemeral_keys_are_refused() {
        let a = Account::new();
        let mut one = [0u8; 32];
        one[0] = 1;
        // Small-order points: the key exchange would give a constant anyone can compute.
        for weak in [[0u8; 32], one] {
            let offer = offer_signed_by(*a.phone.public().sign(), weak, |m| a.phone.sign(m));
            assert_eq!(
                a.answer(&offer).map(|_| ()),
                Err(LiveError::WeakEphemeralKey)
            );
            let view = fixed_view(&a.phone);
            let answer = answer_signed_by(view.offer_bytes(), weak, &a.hub);
            assert_eq!(
                view.finish(&answer, a.chain(), &a.hub.public()).map(|_| ()),
                Err(LiveError::WeakEphemeralKey)
            );
        }

        // p = 2^255 - 19 and a set top bit are second encodings of smaller keys.
        let view = fixed_view(&a.phone);
        let at = 1 + STREAM_ID_BYTES + 32;
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut top_bit = *view.offer().ephemeral();
        top_bit[31] |= 0x80;
        for bad in [p, top_bit, [0xff; 32]] {
            let mut offer = view.offer_bytes().to_vec();
            offer[at..at + 32].copy_from_slice(&bad);
            assert_eq!(
                Offer::from_bytes(&offer),
                Err(LiveError::NonCanonicalEphemeralKey)
            );
            let mut answer = answer_signed_by(view.offer_bytes(), x25519_public([9; 32]), &a.hub);
            answer[1 + STREAM_ID_BYTES..1 + STREAM_ID_BYTES + 32].copy_from_slice(&bad);
            assert_eq!(
                Answer::from_bytes(&answer),
                Err(LiveError::NonCanonicalEphemeralKey)
            );
        }
        let mut p_minus_one = p;
        p_minus_one[0] = 0xec;
        let mut offer = view.offer_bytes().to_vec();
        offer[at..at + 32].copy_from_slice(&p_minus_one);
        assert!(Offer::from_bytes(&offer).is_ok());
    }

    #[test]
    fn a_hub_not_in_the_chain_cannot_answer() {
        let a = Account::new();

        // The server (or anyone) answering with a hub key of its own.
        let rogue = HubSecret::generate();
        let view = fixed_view(&a.phone);
        let forged = answer_signed_by(view.offer_bytes(), x25519_public([9; 32]), &rogue);
        assert_eq!(
            fixed_view(&a.phone)
                .finish(&forged, a.chain(), &rogue.public())
                .map(|_| ()),
            Err(LiveError::HubNotInChain)
        );
        assert_eq!(
            view.finish(&forged, a.chain(), &a.hub.public()).map(|_| ()),
            Err(LiveError::BadAnswerSignature)
        );

        // A hub the owner removed: the viewer refuses it, and so does the hub once it has the
        // removal.
        let without_hub = a.chain_after(ChainOp::RemoveHub {
            hub_key: *a.hub.public().as_bytes(),
        });
        let view = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        let accepted = a.answer(view.offer_bytes()).unwrap();
        assert_eq!(
            view.finish(&accepted.answer, &without_hub, &a.hub.public())
                .map(|_| ()),
            Err(LiveError::HubNotInChain)
        );
        let view = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        assert_eq!(
            answer_offer(
                &a.hub,
                &without_hub,
                view.offer_bytes(),
                Some(CAMERA),
                NOW,
                OfferWindow::default(),
            )
            .map(|_| ()),
            Err(LiveError::HubNotInChain)
        );

        // Another hub of the same account answering in place of the one the viewer asked.
        let garage = HubSecret::generate();
        let with_garage = a.chain_after(ChainOp::AddHub {
            name: name("garage"),
            hub: garage.public(),
        });
        let view = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        let accepted = answer_offer(
            &garage,
            &with_garage,
            view.offer_bytes(),
            Some(CAMERA),
            NOW,
            OfferWindow::default(),
        )
        .unwrap();
        assert_eq!(
            view.finish(&accepted.answer, &with_garage, &a.hub.public())
                .map(|_| ()),
            Err(LiveError::BadAnswerSignature)
        );
    }

    #[test]
    fn an_answer_to_another_offer_is_refused() {
        let a = Account::new();
        let first = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        let second = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        let answer = a.answer(first.offer_bytes()).unwrap().answer;
        assert_eq!(
            second
                .finish(&answer, a.chain(), &a.hub.public())
                .map(|_| ()),
            Err(LiveError::WrongStream)
        );

        // Same stream id, other offer (here: another time): the hub answered something the
        // viewer did not send.
        let sent = fixed_view(&a.phone);
        let altered = PendingView::start_with(
            &a.phone,
            CAMERA,
            NOW - 1,
            StreamId::from_bytes(KAT_STREAM_ID),
            StaticSecret::from(KAT_VIEWER_EPHEMERAL),
        )
        .unwrap();
        let answer = a.answer(altered.offer_bytes()).unwrap().answer;
        assert_eq!(
            sent.finish(&answer, a.chain(), &a.hub.public()).map(|_| ()),
            Err(LiveError::OfferHashMismatch)
        );
    }

    #[test]
    fn every_altered_offer_byte_is_refused() {
        let a = Account::new();
        let view = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        let offer = view.offer_bytes();
        assert!(a.answer(offer).is_ok());
        for at in 0..offer.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bad = offer.to_vec();
                bad[at] ^= mask;
                assert!(
                    a.answer(&bad).is_err(),
                    "offer byte {at} ^ {mask:#04x} was accepted"
                );
            }
        }
    }

    #[test]
    fn every_altered_answer_byte_is_refused() {
        let a = Account::new();
        let answer = a.answer(fixed_view(&a.phone).offer_bytes()).unwrap().answer;
        for at in 0..answer.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bad = answer.clone();
                bad[at] ^= mask;
                assert!(
                    fixed_view(&a.phone)
                        .finish(&bad, a.chain(), &a.hub.public())
                        .is_err(),
                    "answer byte {at} ^ {mask:#04x} was accepted"
                );
            }
        }
        assert!(
            fixed_view(&a.phone)
                .finish(&answer, a.chain(), &a.hub.public())
                .is_ok()
        );
    }

    // ---- frames ----

    #[test]
    fn every_flipped_bit_of_a_sealed_frame_is_detected() {
        let a = Account::new();
        let (mut sealer, mut opener) = a.session();
        for (kind, payload) in [
            (FrameKind::Init, &b"ftyp moov"[..]),
            (
                FrameKind::Fragment { keyframe: true },
                b"moof mdat: a keyframe",
            ),
            (FrameKind::Fragment { keyframe: false }, b""),
        ] {
            let frame = sealer.seal(kind, payload).unwrap();
            let last = opener.last_seq();
            for at in 0..frame.len() {
                for bit in 0..8 {
                    let mut bad = frame.clone();
                    bad[at] ^= 1 << bit;
                    assert!(
                        opener.open(&bad).is_err(),
                        "frame byte {at} bit {bit} went unnoticed"
                    );
                    // A refused frame leaves the opener as it was.
                    assert_eq!(opener.last_seq(), last);
                }
            }
            assert_eq!(opener.open(&frame).unwrap().payload, payload);
        }
    }

    #[test]
    fn replayed_and_reordered_frames_are_refused_and_gaps_reported() {
        let a = Account::new();
        let (mut sealer, mut opener) = a.session();
        let frames: Vec<Vec<u8>> = (0..8u8)
            .map(|i| {
                sealer
                    .seal(
                        FrameKind::Fragment {
                            keyframe: i % 4 == 0,
                        },
                        &[i; 40],
                    )
                    .unwrap()
            })
            .collect();

        assert_eq!(opener.open(&frames[0]).unwrap().skipped, 0);
        assert_eq!(opener.open(&frames[1]).unwrap().skipped, 0);
        // Replayed.
        assert_eq!(
            opener.open(&frames[1]),
            Err(LiveError::ReplayedFrame { seq: 1, last: 1 })
        );
        assert_eq!(
            opener.open(&frames[0]),
            Err(LiveError::ReplayedFrame { seq: 0, last: 1 })
        );
        // A forward gap (the relay dropped 2 and 3) is accepted and reported.
        let opened = opener.open(&frames[4]).unwrap();
        assert_eq!((opened.seq, opened.skipped), (4, 2));
        assert_eq!(opened.kind, FrameKind::Fragment { keyframe: true });
        assert_eq!(opened.payload, [4; 40]);
        // Reordered: the late frames are refused once a later one was accepted.
        assert_eq!(
            opener.open(&frames[3]),
            Err(LiveError::ReplayedFrame { seq: 3, last: 4 })
        );
        assert_eq!(
            opener.open(&frames[2]),
            Err(LiveError::ReplayedFrame { seq: 2, last: 4 })
        );
        assert_eq!(opener.last_seq(), Some(4));
        assert_eq!(opener.open(&frames[5]).unwrap().skipped, 0);
        assert_eq!(opener.open(&frames[7]).unwrap().skipped, 1);
        assert_eq!(
            opener.open(&frames[6]),
            Err(LiveError::ReplayedFrame { seq: 6, last: 7 })
        );

        // A viewer that joins late (or whose first frames were dropped) sees the gap too.
        let (mut sealer, mut opener) = a.session();
        for _ in 0..3 {
            sealer.seal(FrameKind::Init, b"ftyp moov").unwrap();
        }
        let fourth = sealer.seal(FrameKind::Init, b"ftyp moov").unwrap();
        assert_eq!(opener.open(&fourth).unwrap().skipped, 3);
    }

    #[test]
    fn malformed_and_foreign_frames_are_refused() {
        let a = Account::new();
        let (mut sealer, mut opener) = a.session();
        let frame = sealer
            .seal(FrameKind::Fragment { keyframe: false }, b"moof mdat")
            .unwrap();

        let edited = |at: usize, byte: u8| {
            let mut f = frame.clone();
            f[at] = byte;
            f
        };
        assert_eq!(
            opener.open(&edited(0, 2)),
            Err(LiveError::UnsupportedVersion {
                what: "frame",
                version: 2
            })
        );
        assert_eq!(
            opener.open(&edited(0, 0)),
            Err(LiveError::UnsupportedVersion {
                what: "frame",
                version: 0
            })
        );
        assert_eq!(
            opener.open(&edited(1, 9)),
            Err(LiveError::UnknownFrameKind(9))
        );
        assert_eq!(
            opener.open(&edited(1, 0)),
            Err(LiveError::UnknownFrameKind(0))
        );
        assert_eq!(
            opener.open(&edited(2, 0x02)),
            Err(LiveError::BadFrameFlags(2))
        );
        // An init segment has no keyframe flag.
        let mut init_with_flag = edited(1, FRAME_KIND_INIT);
        init_with_flag[2] = FLAG_KEYFRAME;
        assert_eq!(
            opener.open(&init_with_flag),
            Err(LiveError::BadFrameFlags(FLAG_KEYFRAME))
        );
        // Valid headers that do not match what was sealed.
        assert_eq!(
            opener.open(&edited(1, FRAME_KIND_INIT)),
            Err(LiveError::FrameNotAuthentic)
        );
        assert_eq!(
            opener.open(&edited(2, FLAG_KEYFRAME)),
            Err(LiveError::FrameNotAuthentic)
        );
        assert_eq!(
            opener.open(&edited(10, 1)),
            Err(LiveError::FrameNotAuthentic)
        );

        // Truncated: below header + tag, the header is not even read; above, the tag fails.
        for len in 0..FRAME_HEADER_BYTES + FRAME_TAG_BYTES {
            assert_eq!(
                opener.open(&frame[..len]),
                Err(LiveError::Truncated { what: "frame" })
            );
            assert_eq!(
                FrameHeader::parse(&frame[..len]),
                Err(LiveError::Truncated { what: "frame" })
            );
        }
        for len in FRAME_HEADER_BYTES + FRAME_TAG_BYTES..frame.len() {
            assert_eq!(
                opener.open(&frame[..len]),
                Err(LiveError::FrameNotAuthentic)
            );
        }
        let mut extended = frame.clone();
        extended.push(0);
        assert_eq!(opener.open(&extended), Err(LiveError::FrameNotAuthentic));

        // Another stream's frame with the same sequence number.
        let (mut other, _) = a.session();
        let foreign = other
            .seal(FrameKind::Fragment { keyframe: false }, b"moof mdat")
            .unwrap();
        assert_eq!(&foreign[..FRAME_HEADER_BYTES], &frame[..FRAME_HEADER_BYTES]);
        assert_eq!(opener.open(&foreign), Err(LiveError::FrameNotAuthentic));

        // Too large, on either side.
        let huge = vec![0u8; MAX_FRAME_PAYLOAD_BYTES + 1];
        assert_eq!(
            sealer.seal(FrameKind::Init, &huge),
            Err(LiveError::FrameTooLarge)
        );
        let mut oversized = frame[..FRAME_HEADER_BYTES].to_vec();
        oversized.extend_from_slice(&huge);
        oversized.extend_from_slice(&[0; FRAME_TAG_BYTES]);
        assert_eq!(opener.open(&oversized), Err(LiveError::FrameTooLarge));

        assert_eq!(opener.last_seq(), None);
        assert_eq!(opener.open(&frame).unwrap().payload, b"moof mdat");
    }

    #[test]
    fn the_frame_counter_never_wraps() {
        let key = [0x5a; 32];
        let mut sealer = sealer_with_key(key, KAT_STREAM_ID);
        let mut opener = opener_with_key(key, KAT_STREAM_ID);
        sealer.next_seq = Some(u64::MAX - 1);
        let second_last = sealer.seal(FrameKind::Init, b"a").unwrap();
        let last = sealer.seal(FrameKind::Init, b"b").unwrap();
        assert_eq!(sealer.next_seq(), None);
        assert_eq!(
            sealer.seal(FrameKind::Init, b"c"),
            Err(LiveError::CounterExhausted)
        );
        assert_eq!(sealer.next_seq(), None);

        let opened = opener.open(&second_last).unwrap();
        assert_eq!((opened.seq, opened.skipped), (u64::MAX - 1, u64::MAX - 1));
        let opened = opener.open(&last).unwrap();
        assert_eq!((opened.seq, opened.skipped), (u64::MAX, 0));
        assert_eq!(
            opener.open(&last),
            Err(LiveError::ReplayedFrame {
                seq: u64::MAX,
                last: u64::MAX
            })
        );
    }

    // ---- forward secrecy ----

    /// A recorded capture (what the relay, or anyone on the path, stores) does not open with
    /// the viewer's and the hub's long-term keys stolen afterwards. The stream key is HKDF of
    /// X25519(viewer ephemeral, hub ephemeral) alone; the long-term keys only signed the
    /// offer and the answer. The two ephemeral secrets lived in the `PendingView` and inside
    /// `answer_offer` and were dropped (zeroised) when the handshake ended, so no secret left
    /// anywhere computes that shared secret: this test tries every combination the stolen
    /// keys allow and opens nothing. The control at the end shows the same search does open
    /// the capture once it is handed an ephemeral secret, so the search itself is sound.
    #[test]
    fn a_recorded_capture_does_not_open_with_the_long_term_keys() {
        let a = Account::new();
        let view = PendingView::start(&a.phone, CAMERA, NOW).unwrap();
        let stream_id = view.stream_id();
        let offer = view.offer_bytes().to_vec();
        let accepted = a.answer(&offer).unwrap();
        let answer = accepted.answer.clone();
        let mut sealer = accepted.sealer;
        let frames: Vec<Vec<u8>> = [&b"ftyp moov"[..], b"moof mdat 1", b"moof mdat 2"]
            .iter()
            .enumerate()
            .map(|(i, payload)| {
                let kind = if i == 0 {
                    FrameKind::Init
                } else {
                    FrameKind::Fragment { keyframe: i == 1 }
                };
                sealer.seal(kind, payload).unwrap()
            })
            .collect();
        let mut opener = view.finish(&answer, a.chain(), &a.hub.public()).unwrap();
        for frame in &frames {
            opener.open(frame).unwrap();
        }
        drop((opener, sealer));

        // Later, both long-term keys are stolen.
        let secrets = long_term_secrets(&a.phone, &a.hub);
        let keys = keys_from(
            &secrets,
            &offer,
            &answer,
            &a.phone.public(),
            &a.hub.public(),
        );
        assert_eq!(keys.len(), 4 * (secrets.len() * 6));
        assert!(!any_key_opens(&keys, stream_id, &frames));

        // Control: the same search with the viewer's ephemeral secret added does open a
        // capture (one made with a known ephemeral, since a real one is gone).
        let view = fixed_view(&a.phone);
        let offer = view.offer_bytes().to_vec();
        let accepted = a.answer(&offer).unwrap();
        let mut sealer = accepted.sealer;
        let frame = sealer.seal(FrameKind::Init, b"ftyp moov").unwrap();
        let mut with_ephemeral = long_term_secrets(&a.phone, &a.hub);
        assert!(!any_key_opens(
            &keys_from(
                &with_ephemeral,
                &offer,
                &accepted.answer,
                &a.phone.public(),
                &a.hub.public()
            ),
            view.stream_id(),
            std::slice::from_ref(&frame),
        ));
        with_ephemeral.push(KAT_VIEWER_EPHEMERAL);
        assert!(any_key_opens(
            &keys_from(
                &with_ephemeral,
                &offer,
                &accepted.answer,
                &a.phone.public(),
                &a.hub.public()
            ),
            view.stream_id(),
            &[frame],
        ));
    }

    #[test]
    fn every_error_has_its_own_snake_case_code() {
        let errors = [
            LiveError::UnsupportedVersion {
                what: "offer",
                version: 2,
            },
            LiveError::Truncated { what: "offer" },
            LiveError::TrailingBytes {
                what: "offer",
                count: 1,
            },
            LiveError::BadCamera,
            LiveError::CameraMismatch,
            LiveError::NonCanonicalEphemeralKey,
            LiveError::WeakEphemeralKey,
            LiveError::SignerNotInChain,
            LiveError::SignerRemoved,
            LiveError::SignerIsRecoveryKey,
            LiveError::SignerIsHub,
            LiveError::BadOfferSignature,
            LiveError::OfferTooOld {
                age_ms: 1,
                max_ms: 0,
            },
            LiveError::OfferFromFuture {
                ahead_ms: 1,
                max_ms: 0,
            },
            LiveError::HubNotInChain,
            LiveError::BadAnswerSignature,
            LiveError::WrongStream,
            LiveError::OfferHashMismatch,
            LiveError::UnknownFrameKind(9),
            LiveError::BadFrameFlags(9),
            LiveError::FrameTooLarge,
            LiveError::ReplayedFrame { seq: 1, last: 1 },
            LiveError::FrameNotAuthentic,
            LiveError::CounterExhausted,
        ];
        let codes: std::collections::HashSet<&str> = errors.iter().map(LiveError::code).collect();
        assert_eq!(codes.len(), errors.len());
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        );
        assert_eq!(LiveError::SignerRemoved.code(), "signer_removed");
    }

    // ---- known answer ----

    // Computed independently with WebCrypto (Node 20 `crypto.subtle`: Ed25519, X25519, HKDF,
    // AES-GCM, SHA-256) from the layouts in docs/CRYPTO.md, then pinned here; a browser
    // implementation must reproduce every value from the KAT_* inputs.
    const KAT_ISSUED_AT_MS: u64 = NOW;
    const KAT_DEVICE_KEY: &str = "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737";
    const KAT_HUB_KEY: &str = "17cb79fb2b4120f2b1ec65e4198d6e08b28e813feb01e4a400839b85e18080ce";
    const KAT_OFFER: &str = concat!(
        "01000102030405060708090a0b0c0d0e0f",
        "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737",
        "ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b",
        "0000018bcfe56800",
        "05706f726368",
        "5c4b1db56c7dc176d5279f6dba80a1b0dcbfbbc25e6812f4add910e6d67fd624",
        "0532167e21a51de87ae234bf2f955aaac46f28391841d66a6a651559bc75af05",
    );
    const KAT_ANSWER: &str = concat!(
        "01000102030405060708090a0b0c0d0e0f",
        "38ab664bd86f77d7e66bdd9ae0792913a94fd8b33a1260027e4b46c1f4884c67",
        "8b01e91f38a6a463660548438897d0370f91808a31fea88be68c979e8800f908",
        "8e0c344625437e56305e75ed7aee528d09a8f6fdf2cd3b6d2169e8260974df3d",
        "ccd7903658a04955222691d0cb3625f563417d6a667707102385e53ffec4940b",
    );
    const KAT_SHARED: &str = "1eafcf380080d1f4d8a308284691b84a06aa5ca32c723c9a327b7a28c504ad1d";
    const KAT_TRANSCRIPT: &str = "2aedb2ebc2f36ee2f13a839dfe9e562e490ae6d9e17efad3fb4d94beff2f3aee";
    const KAT_STREAM_KEY: &str = "8437322e6c8c0df1e1e07b55a2b1feff4f24bc542211571dd4d69f8eda881943";
    /// `Init`, seq 0, payload "ftyp moov".
    const KAT_FRAME_0: &str =
        "0101000000000000000000bc566c0f2e8056017af2aab41a3402220b9cbead53747efe86";
    /// `Fragment { keyframe: true }`, seq 1, payload "moof mdat".
    const KAT_FRAME_1: &str =
        "01020100000000000000017db3971839e3c50b60262eaaa32fc5fb95b728d0a533bc441f";

    #[test]
    fn known_answer_vector() {
        let device = DeviceSecret::from_raw(&KAT_DEVICE_SEED, &KAT_DEVICE_X25519).unwrap();
        let hub = hub_from_seed(KAT_HUB_SEED);
        assert_eq!(device.public().sign_hex(), KAT_DEVICE_KEY);
        assert_eq!(hub.public().to_hex(), KAT_HUB_KEY);
        let mut builder =
            ChainBuilder::genesis(&device, name("phone"), DeviceSecret::generate().public())
                .unwrap();
        builder
            .append(
                ChainOp::AddHub {
                    name: name("porch"),
                    hub: hub.public(),
                },
                &device,
            )
            .unwrap();
        let chain = builder.chain();

        let view = PendingView::start_with(
            &device,
            CAMERA,
            KAT_ISSUED_AT_MS,
            StreamId::from_bytes(KAT_STREAM_ID),
            StaticSecret::from(KAT_VIEWER_EPHEMERAL),
        )
        .unwrap();
        assert_eq!(hex::encode(view.offer_bytes()), KAT_OFFER);
        let accepted = answer_with(
            &hub,
            (chain, &[]),
            view.offer_bytes(),
            Some(CAMERA),
            NOW,
            OfferWindow::default(),
            StaticSecret::from(KAT_HUB_EPHEMERAL),
        )
        .unwrap();
        assert_eq!(hex::encode(&accepted.answer), KAT_ANSWER);
        let shown = format!("{accepted:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(KAT_STREAM_KEY), "{shown}");

        // The stream key, recomputed from the documented formula with the primitives alone.
        let shared = StaticSecret::from(KAT_VIEWER_EPHEMERAL)
            .diffie_hellman(&XPublic::from(x25519_public(KAT_HUB_EPHEMERAL)));
        assert_eq!(hex::encode(shared.as_bytes()), KAT_SHARED);
        let offer = hex::decode(KAT_OFFER).unwrap();
        let answer = hex::decode(KAT_ANSWER).unwrap();
        let transcript: [u8; 32] = Sha256::new()
            .chain_update(b"porchlight live transcript v1\0")
            .chain_update(&offer)
            .chain_update(&answer)
            .finalize()
            .into();
        assert_eq!(hex::encode(transcript), KAT_TRANSCRIPT);
        let mut key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(&KAT_STREAM_ID), shared.as_bytes())
            .expand(
                &[b"porchlight live stream key v1\0".as_slice(), &transcript].concat(),
                &mut key,
            )
            .unwrap();
        assert_eq!(hex::encode(key), KAT_STREAM_KEY);
        assert_eq!(
            *stream_key(
                shared.as_bytes(),
                &StreamId::from_bytes(KAT_STREAM_ID),
                &offer,
                &answer
            ),
            key
        );

        let mut sealer = accepted.sealer;
        let frame_0 = sealer.seal(FrameKind::Init, b"ftyp moov").unwrap();
        let frame_1 = sealer
            .seal(FrameKind::Fragment { keyframe: true }, b"moof mdat")
            .unwrap();
        assert_eq!(hex::encode(&frame_0), KAT_FRAME_0);
        assert_eq!(hex::encode(&frame_1), KAT_FRAME_1);

        let mut opener = view.finish(&accepted.answer, chain, &hub.public()).unwrap();
        assert_eq!(opener.open(&frame_0).unwrap().payload, b"ftyp moov");
        assert_eq!(opener.open(&frame_1).unwrap().payload, b"moof mdat");
    }

    #[test]
    fn debug_output_is_redacted() {
        let device = DeviceSecret::from_raw(&KAT_DEVICE_SEED, &KAT_DEVICE_X25519).unwrap();
        let view = fixed_view(&device);
        let shown = format!("{view:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains(&hex::encode(KAT_VIEWER_EPHEMERAL)));
        assert!(!shown.contains("68, 68"), "{shown}");

        let key: [u8; 32] = hex::decode(KAT_STREAM_KEY).unwrap().try_into().unwrap();
        let sealer = sealer_with_key(key, KAT_STREAM_ID);
        let opener = opener_with_key(key, KAT_STREAM_ID);
        for shown in [format!("{sealer:?}"), format!("{opener:?}")] {
            assert!(shown.contains("[redacted]"), "{shown}");
            assert!(!shown.contains(KAT_STREAM_KEY), "{shown}");
            assert!(!shown.contains("132, 55"), "{shown}");
        }
        let frame = OpenedFrame {
            kind: FrameKind::Init,
            seq: 0,
            skipped: 0,
            payload: b"secret video".to_vec(),
        };
        let shown = format!("{frame:?}");
        assert!(!shown.contains("115, 101, 99"), "{shown}");
        assert!(shown.contains("payload_bytes: 12"), "{shown}");
    }

    // ---- decoders are total ----

    /// A valid offer, answer and frame (from the known-answer inputs), and an opener for it.
    struct Valid {
        offer: Vec<u8>,
        answer: Vec<u8>,
        frame: Vec<u8>,
    }

    static VALID: LazyLock<Valid> = LazyLock::new(|| Valid {
        offer: hex::decode(KAT_OFFER).unwrap(),
        answer: hex::decode(KAT_ANSWER).unwrap(),
        frame: hex::decode(KAT_FRAME_1).unwrap(),
    });

    fn kat_opener() -> FrameOpener {
        let key: [u8; 32] = hex::decode(KAT_STREAM_KEY).unwrap().try_into().unwrap();
        opener_with_key(key, KAT_STREAM_ID)
    }

    /// Applies `(position, xor mask)` edits and then keeps `cut` bytes (when below the length).
    fn edit(input: &[u8], edits: &[(usize, u8)], cut: usize) -> Vec<u8> {
        let mut out = input.to_vec();
        for (at, mask) in edits {
            let len = out.len();
            out[at % len] ^= mask;
        }
        out.truncate(cut);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn offer_parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(offer) = Offer::from_bytes(&bytes) {
                prop_assert_eq!(offer.to_bytes(), bytes);
            }
        }

        #[test]
        fn answer_parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(answer) = Answer::from_bytes(&bytes) {
                prop_assert_eq!(answer.to_bytes(), bytes);
            }
        }

        #[test]
        fn frame_header_parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(header) = FrameHeader::parse(&bytes) {
                prop_assert_eq!(&header.to_bytes()[..], &bytes[..FRAME_HEADER_BYTES]);
            }
        }

        #[test]
        fn opener_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut opener = kat_opener();
            prop_assert!(opener.open(&bytes).is_err());
            prop_assert_eq!(opener.last_seq(), None);
        }

        #[test]
        fn opener_refuses_well_formed_forgeries(
            kind in 1u8..=2,
            keyframe in any::<bool>(),
            seq in any::<u64>(),
            body in proptest::collection::vec(any::<u8>(), FRAME_TAG_BYTES..200),
        ) {
            let flags = if kind == FRAME_KIND_FRAGMENT && keyframe { FLAG_KEYFRAME } else { 0 };
            let mut frame = vec![LIVE_VERSION, kind, flags];
            frame.extend_from_slice(&seq.to_be_bytes());
            frame.extend_from_slice(&body);
            let mut opener = kat_opener();
            prop_assert_eq!(opener.open(&frame), Err(LiveError::FrameNotAuthentic));
        }

        #[test]
        fn edited_encodings_are_refused(
            edits in proptest::collection::vec((any::<usize>(), 1u8..), 0..4),
            cut in 0usize..400,
        ) {
            let valid = &*VALID;

            let offer = edit(&valid.offer, &edits, cut);
            if let Ok(parsed) = Offer::from_bytes(&offer) {
                prop_assert_eq!(parsed.to_bytes(), offer.clone());
            }
            let answer = edit(&valid.answer, &edits, cut);
            if let Ok(parsed) = Answer::from_bytes(&answer) {
                prop_assert_eq!(parsed.to_bytes(), answer);
            }
            let frame = edit(&valid.frame, &edits, cut);
            let opened = kat_opener().open(&frame);
            prop_assert_eq!(opened.is_ok(), frame == valid.frame);
        }
    }
}
