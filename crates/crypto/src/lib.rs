//! Porchlight's end-to-end cryptography, as pure functions over bytes and `std::io`
//! streams: no files, no network, no clock, no threads, no async (so it also builds for
//! `wasm32-unknown-unknown`; randomness comes from the OS through `getrandom`).
//!
//! What it owns (formats and rules in `docs/CRYPTO.md`):
//!
//! - **Keys** ([`keys`]): a device's Ed25519 signing key and X25519 age identity
//!   ([`DeviceSecret`], [`DevicePublic`]), a hub's Ed25519 key ([`HubSecret`], [`HubKey`]),
//!   their key-file and `age1…`/`AGE-SECRET-KEY-1…` string forms.
//! - **The device chain** ([`chain`]): the canonical link encoding and its parser,
//!   [`verify_chain`] (pin, signatures, membership, rollback and fork), [`VerifiedChain`]
//!   (who may read clips, which hubs may sign them), [`ChainBuilder`].
//! - **Codes** people handle: the [`RecoveryKey`] and its printed [`RecoveryCode`], and the
//!   hub [`PairingCode`] (string and QR code).
//! - **Clips** ([`clip`], [`header`]): [`seal`] and [`open`] in the age v1 format, stored as
//!   a header blob and a payload blob; [`rewrap`] gives a header new recipients without
//!   touching the payload; [`ClipStatement`]s signed by the hub for authenticity, and
//!   [`check_listed_clip`]: whether a clip a listing shows may be shown, with a named
//!   [`ListingRefusal`] when not.
//! - **Households** ([`household`]): which owner's chain vouches for a camera given to this
//!   account ([`owner_of_camera`], [`given_camera`]), which members a hub seals to.
//! - **Consent** ([`consent`]): [`ConsentReceipt`]s an owner's device signs to give or
//!   withdraw research consent for a camera or a clip; [`research_withdrawal_key`], the
//!   secret that withdraws an item, and its public [`WithdrawalTag`].
//! - **Live view** ([`live`]): the forward-secret handshake between a viewer device
//!   ([`PendingView`]) and a hub ([`answer_offer`]) and the AES-256-GCM sealing of the
//!   stream's frames ([`FrameSealer`], [`FrameOpener`]).
//!
//! What it does not own: where keys are kept (the client's home folder, the hub's data
//! folder), how links, headers and payloads travel (proto, server, client), and every
//! policy above the primitives (when to re-wrap, which clips to show).
//!
//! Every primitive is a well-kept crate's: `age`/`age-core` (file format, X25519 stanzas,
//! STREAM), `ed25519-dalek` and `x25519-dalek` 3, `aes-gcm`, `sha2`, `hkdf`, `hmac`, `base32`,
//! `bech32`.

mod codes;
mod wire;

pub mod chain;
pub mod clip;
pub mod consent;
pub mod header;
pub mod household;
pub mod keys;
pub mod listing;
pub mod live;
pub mod notice;
pub mod pairing;
pub mod recovery;
pub mod statement;

pub use chain::{
    CameraRef, ChainBuilder, ChainError, ChainOp, DeviceEntry, HubEntry, Link, LinkHash,
    LinkParseError, MAX_MEMBER_CAMERAS, MemberEntry, Name, NameError, OpError, VerifiedChain,
    verify_chain,
};
pub use clip::{
    ClipError, ClipReader, HashingWriter, MAX_RECIPIENTS, SealedSizes, open, open_file, seal,
    sha256_reader,
};
pub use consent::{
    ConsentAction, ConsentError, ConsentReceipt, ConsentScope, WithdrawalKey, WithdrawalTag,
    research_withdrawal_key,
};
pub use header::{ClipHeader, HeaderError, MAX_HEADER_BYTES, read_header, rewrap};
pub use household::{given_camera, member_roots, owner_of_camera};
pub use keys::{DevicePublic, DeviceSecret, HubKey, HubSecret, KeyError};
pub use listing::{
    CheckedListing, ListedClip, ListingField, ListingRefusal, WireListedClip, check_listed_clip,
    check_wire_listed_clip,
};
pub use live::{
    AcceptedOffer, Answer, FrameHeader, FrameKind, FrameOpener, FrameSealer, LiveError, Offer,
    OfferWindow, OpenedFrame, PendingView, StreamId, answer_household_offer, answer_offer,
};
pub use notice::{
    NoticeBody, NoticeError, OpenedNotice, open_event_notice, open_notice, seal_notice,
};
pub use pairing::{PairingCode, PairingError, PairingSecret};
pub use recovery::{RecoveryCode, RecoveryCodeError, RecoveryKey};
pub use statement::{
    ClipSignature, ClipStatement, StatementError, sign_clip, verify_clip, verify_clip_in_chain,
};

/// Re-exported so callers can name the identity and recipient types without depending on
/// `age` themselves.
pub use age;
