//! The device chain (DESIGN §4): an account's append-only list of signed links saying which
//! devices, hubs and household members it has.
//!
//! A [`Link`] is parsed from its canonical bytes ([`Link::from_bytes`]) and is then only
//! well formed; [`verify_chain`] (or [`VerifiedChain::extend`]) turns links into a
//! [`VerifiedChain`], the only type that says who may read clips ([`VerifiedChain::recipients`])
//! and which hubs may sign them. The byte layout is in `docs/CRYPTO.md`.

use std::fmt;

use crate::keys::{DevicePublic, DeviceSecret, HubKey, KeyError, verify_strict};
use crate::wire::{Reader, WireError, Writer, sha256_tagged};

/// Prefix of every message a chain link signature covers.
pub const LINK_SIGNATURE_DOMAIN: &[u8] = b"porchlight device-chain v1\0";
/// Prefix of the link-hash input.
pub const LINK_HASH_DOMAIN: &[u8] = b"porchlight device-chain link v1\0";
/// The encoding version this code writes and reads.
pub const LINK_VERSION: u8 = 1;
/// Longest device name, hub name or member label, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 64;

const TAG_GENESIS: u8 = 1;
const TAG_ADD_DEVICE: u8 = 2;
const TAG_REMOVE_DEVICE: u8 = 3;
const TAG_ADD_HUB: u8 = 4;
const TAG_REMOVE_HUB: u8 = 5;
const TAG_ADD_MEMBER: u8 = 6;
const TAG_REMOVE_MEMBER: u8 = 7;
const TAG_MEMBER_CAMERAS: u8 = 8;
/// Most cameras one `MemberCameras` link can give a household member.
pub const MAX_MEMBER_CAMERAS: usize = 64;

// ---- small types ----

/// The SHA-256 hash of a link (see [`Link::hash`]). Link 0's hash is the account's root:
/// what hubs pin and what another account names in `AddMember`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkHash([u8; 32]);

impl LinkHash {
    /// The `prev` of link 0.
    pub const ZERO: LinkHash = LinkHash([0; 32]);

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, LinkParseError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| LinkParseError::BadHex)?;
        Ok(Self(out))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for LinkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for LinkHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkHash({})", self.to_hex())
    }
}

/// Why a name could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name is at most {MAX_NAME_BYTES} bytes")]
    TooLong,
    #[error("a name must be UTF-8")]
    NotUtf8,
    #[error("a name cannot contain control characters")]
    ControlCharacter,
    #[error("a name cannot start or end with white space")]
    OuterWhitespace,
}

/// A device name, hub name or member label: 1 to 64 bytes of UTF-8, no control characters,
/// no leading or trailing white space. Names are labels for people; keys identify.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name(String);

impl Name {
    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        if name.trim() != name {
            return Err(NameError::OuterWhitespace);
        }
        Ok(Self(name.to_owned()))
    }

    fn from_wire(bytes: &[u8]) -> Result<Self, NameError> {
        Self::new(std::str::from_utf8(bytes).map_err(|_| NameError::NotUtf8)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

// ---- links ----

/// What a link does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a few hundred bytes per link; chains are short"
)]
pub enum ChainOp {
    /// Link 0 only: the account's first device and its recovery key.
    Genesis {
        device_name: Name,
        device: DevicePublic,
        recovery: DevicePublic,
    },
    AddDevice {
        name: Name,
        device: DevicePublic,
    },
    /// Names the device by its Ed25519 key.
    RemoveDevice {
        device_sign_key: [u8; 32],
    },
    AddHub {
        name: Name,
        hub: HubKey,
    },
    RemoveHub {
        hub_key: [u8; 32],
    },
    /// Another account, by its root (link-0 hash), for household sharing.
    AddMember {
        root: LinkHash,
        label: Name,
    },
    RemoveMember {
        root: LinkHash,
    },
    /// The cameras a household member may watch, live and recorded: replaces what the member
    /// had. Hubs seal those cameras' clips to the member's devices too, and answer their live
    /// offers; an empty list gives nothing.
    MemberCameras {
        root: LinkHash,
        cameras: Vec<CameraRef>,
    },
}

/// One camera, as hubs and statements name it: the hub's key and the camera's name on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CameraRef {
    pub hub_key: [u8; 32],
    pub camera: String,
}

impl CameraRef {
    /// A camera name is checked as statements check it (1 to 128 bytes, no control characters).
    pub fn new(hub_key: [u8; 32], camera: &str) -> Result<Self, LinkParseError> {
        crate::statement::check_camera_id(camera).map_err(|_| LinkParseError::BadCameraName)?;
        Ok(Self {
            hub_key,
            camera: camera.to_owned(),
        })
    }
}

impl ChainOp {
    fn tag(&self) -> u8 {
        match self {
            ChainOp::Genesis { .. } => TAG_GENESIS,
            ChainOp::AddDevice { .. } => TAG_ADD_DEVICE,
            ChainOp::RemoveDevice { .. } => TAG_REMOVE_DEVICE,
            ChainOp::AddHub { .. } => TAG_ADD_HUB,
            ChainOp::RemoveHub { .. } => TAG_REMOVE_HUB,
            ChainOp::AddMember { .. } => TAG_ADD_MEMBER,
            ChainOp::RemoveMember { .. } => TAG_REMOVE_MEMBER,
            ChainOp::MemberCameras { .. } => TAG_MEMBER_CAMERAS,
        }
    }

    fn write(&self, w: &mut Writer) {
        w.u8(self.tag());
        match self {
            ChainOp::Genesis {
                device_name,
                device,
                recovery,
            } => {
                w.short(device_name.as_str().as_bytes())
                    .fixed(device.sign())
                    .fixed(device.age())
                    .fixed(recovery.sign())
                    .fixed(recovery.age());
            }
            ChainOp::AddDevice { name, device } => {
                w.short(name.as_str().as_bytes())
                    .fixed(device.sign())
                    .fixed(device.age());
            }
            ChainOp::RemoveDevice { device_sign_key } => {
                w.fixed(device_sign_key);
            }
            ChainOp::AddHub { name, hub } => {
                w.short(name.as_str().as_bytes()).fixed(hub.as_bytes());
            }
            ChainOp::RemoveHub { hub_key } => {
                w.fixed(hub_key);
            }
            ChainOp::AddMember { root, label } => {
                w.fixed(root.as_bytes()).short(label.as_str().as_bytes());
            }
            ChainOp::RemoveMember { root } => {
                w.fixed(root.as_bytes());
            }
            ChainOp::MemberCameras { root, cameras } => {
                w.fixed(root.as_bytes());
                // At most MAX_MEMBER_CAMERAS (checked when applied and when read).
                w.u8(u8::try_from(cameras.len()).unwrap_or(u8::MAX));
                for camera in cameras {
                    w.fixed(&camera.hub_key).short(camera.camera.as_bytes());
                }
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, LinkParseError> {
        let tag = r.u8()?;
        let op = match tag {
            TAG_GENESIS => ChainOp::Genesis {
                device_name: read_name(r)?,
                device: read_device(r)?,
                recovery: read_device(r)?,
            },
            TAG_ADD_DEVICE => ChainOp::AddDevice {
                name: read_name(r)?,
                device: read_device(r)?,
            },
            TAG_REMOVE_DEVICE => ChainOp::RemoveDevice {
                device_sign_key: r.array()?,
            },
            TAG_ADD_HUB => ChainOp::AddHub {
                name: read_name(r)?,
                hub: HubKey::from_bytes(r.array()?).map_err(LinkParseError::Key)?,
            },
            TAG_REMOVE_HUB => ChainOp::RemoveHub {
                hub_key: r.array()?,
            },
            TAG_ADD_MEMBER => ChainOp::AddMember {
                root: LinkHash(r.array()?),
                label: read_name(r)?,
            },
            TAG_REMOVE_MEMBER => ChainOp::RemoveMember {
                root: LinkHash(r.array()?),
            },
            TAG_MEMBER_CAMERAS => {
                let root = LinkHash(r.array()?);
                let count = usize::from(r.u8()?);
                if count > MAX_MEMBER_CAMERAS {
                    return Err(LinkParseError::TooManyCameras);
                }
                let mut cameras = Vec::with_capacity(count);
                for _ in 0..count {
                    let hub_key = r.array()?;
                    let name = std::str::from_utf8(r.short(crate::statement::MAX_CAMERA_ID_BYTES)?)
                        .map_err(|_| LinkParseError::BadCameraName)?;
                    cameras.push(CameraRef::new(hub_key, name)?);
                }
                ChainOp::MemberCameras { root, cameras }
            }
            other => return Err(LinkParseError::UnknownOp(other)),
        };
        Ok(op)
    }
}

fn read_name(r: &mut Reader<'_>) -> Result<Name, LinkParseError> {
    Name::from_wire(r.short(MAX_NAME_BYTES)?).map_err(LinkParseError::Name)
}

fn read_device(r: &mut Reader<'_>) -> Result<DevicePublic, LinkParseError> {
    let sign = r.array()?;
    let age = r.array()?;
    DevicePublic::from_bytes(sign, age).map_err(LinkParseError::Key)
}

/// Why bytes are not a well-formed link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkParseError {
    #[error("link encoding version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("link is truncated")]
    Truncated,
    #[error("link has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("a link field is {found} bytes, longer than the {max} allowed")]
    FieldTooLong { max: usize, found: usize },
    #[error("unknown link operation {0}")]
    UnknownOp(u8),
    #[error("bad name in link: {0}")]
    Name(NameError),
    #[error("bad key in link: {0}")]
    Key(KeyError),
    #[error("not 64 hex digits")]
    BadHex,
    #[error("a camera name must be 1 to 128 bytes of UTF-8 without control characters")]
    BadCameraName,
    #[error("a link names more than {MAX_MEMBER_CAMERAS} cameras")]
    TooManyCameras,
}

impl From<WireError> for LinkParseError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated => LinkParseError::Truncated,
            WireError::TooLong { max, found } => LinkParseError::FieldTooLong { max, found },
            WireError::Trailing { count } => LinkParseError::TrailingBytes(count),
        }
    }
}

/// One link of a device chain. Made by [`Link::sign`] or parsed by [`Link::from_bytes`];
/// a link is trusted only once [`verify_chain`] accepts the chain it is in.
#[derive(Clone, PartialEq, Eq)]
pub struct Link {
    seq: u64,
    prev: LinkHash,
    op: ChainOp,
    signer: [u8; 32],
    signature: [u8; 64],
}

impl Link {
    /// Makes and signs a link, without checking that it fits any chain (use
    /// [`VerifiedChain::append`] or [`ChainBuilder`] for that).
    pub fn sign(seq: u64, prev: LinkHash, op: ChainOp, signer: &DeviceSecret) -> Self {
        let mut link = Self {
            seq,
            prev,
            op,
            signer: *signer.public_ref().sign(),
            signature: [0; 64],
        };
        link.signature = signer.sign(&link.signed_message());
        link
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn prev(&self) -> &LinkHash {
        &self.prev
    }

    pub fn op(&self) -> &ChainOp {
        &self.op
    }

    /// The Ed25519 key that claims to have signed this link.
    pub fn signer(&self) -> &[u8; 32] {
        &self.signer
    }

    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// `version ‖ seq ‖ prev ‖ signer ‖ op`: what the signature and the hash cover.
    fn body(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(LINK_VERSION)
            .u64(self.seq)
            .fixed(self.prev.as_bytes())
            .fixed(&self.signer);
        self.op.write(&mut w);
        w.into_bytes()
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut message = LINK_SIGNATURE_DOMAIN.to_vec();
        message.extend_from_slice(&self.body());
        message
    }

    /// The canonical encoding: `body ‖ signature`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.body();
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    /// Parses [`Self::to_bytes`]. Refuses other versions, unknown operations, over-long or
    /// invalid names, invalid keys, truncation and trailing bytes; since every field has
    /// exactly one encoding, a parsed link re-encodes to the same bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LinkParseError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != LINK_VERSION {
            return Err(LinkParseError::UnsupportedVersion(version));
        }
        let seq = r.u64()?;
        let prev = LinkHash(r.array()?);
        let signer = r.array()?;
        let op = ChainOp::read(&mut r)?;
        let signature = r.array()?;
        r.finish()?;
        Ok(Self {
            seq,
            prev,
            op,
            signer,
            signature,
        })
    }

    /// SHA-256(`"porchlight device-chain link v1\0"` ‖ body ‖ signature).
    pub fn hash(&self) -> LinkHash {
        LinkHash(sha256_tagged(LINK_HASH_DOMAIN, &[&self.to_bytes()]))
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("seq", &self.seq)
            .field("prev", &self.prev)
            .field("op", &self.op)
            .field("signer", &hex::encode(self.signer))
            .finish_non_exhaustive()
    }
}

// ---- verification ----

/// An operation that does not make sense at the point of the chain where it appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    #[error("the device is already in the chain")]
    DeviceAlreadyPresent,
    #[error("the key is already used by another device, hub or the recovery key")]
    KeyInUse,
    #[error("the key was removed earlier and cannot come back")]
    KeyRevoked,
    #[error("the device to remove is not in the chain")]
    DeviceNotPresent,
    #[error("the recovery key cannot be removed")]
    RecoveryKeyNotRemovable,
    #[error("the last device cannot be removed")]
    LastDevice,
    #[error("the hub is already in the chain")]
    HubAlreadyPresent,
    #[error("the hub to remove is not in the chain")]
    HubNotPresent,
    #[error("the member is already in the chain")]
    MemberAlreadyPresent,
    #[error("the member to remove is not in the chain")]
    MemberNotPresent,
    #[error("an account cannot be a member of itself")]
    SelfMember,
    #[error("a camera given to a member is not on a hub of this chain")]
    CameraHubNotPresent,
    #[error("a link gives more than {MAX_MEMBER_CAMERAS} cameras")]
    TooManyCameras,
    #[error("a camera name must be 1 to 128 bytes of UTF-8 without control characters")]
    BadCameraName,
}

/// Exactly what is wrong with a chain, and where: clients show it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("the chain is empty")]
    Empty,
    #[error("link 0 has hash {found}, not the pinned root {pinned}")]
    PinMismatch { pinned: LinkHash, found: LinkHash },
    #[error("link 0 is not a genesis link")]
    FirstLinkNotGenesis,
    #[error("link 0 is not signed by the device it introduces")]
    GenesisNotSelfSigned,
    #[error("link {seq}: a genesis operation after link 0")]
    GenesisNotFirst { seq: u64 },
    #[error("link at position {index} has seq {found}, expected {expected}")]
    BadSequence {
        index: u64,
        expected: u64,
        found: u64,
    },
    #[error("link {seq}: prev-hash is not the hash of the link before it (zeros for link 0)")]
    BadPrevHash { seq: u64 },
    #[error("link {seq}: signed by a key that is not a device of this account")]
    SignerNotMember { seq: u64 },
    #[error("link {seq}: signed by a device that was removed")]
    SignerRemoved { seq: u64 },
    #[error("link {seq}: signed by a hub (hubs cannot change the chain)")]
    SignerIsHub { seq: u64 },
    #[error("link {seq}: the signature does not verify")]
    BadSignature { seq: u64 },
    #[error("link {seq}: {reason}")]
    InvalidOp { seq: u64, reason: OpError },
    #[error(
        "rollback: link {seen_seq} was seen before, but the chain offered has only {chain_len} links"
    )]
    Rollback { seen_seq: u64, chain_len: u64 },
    #[error("fork: link {seq} differs from the one seen before")]
    Fork { seq: u64 },
}

/// A device of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    pub name: Name,
    pub key: DevicePublic,
}

/// A hub paired to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubEntry {
    pub name: Name,
    pub key: HubKey,
}

/// Another account sharing this one's cameras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    pub root: LinkHash,
    pub label: Name,
    /// The cameras this member may watch (none until a `MemberCameras` link gives some).
    pub cameras: Vec<CameraRef>,
}

impl MemberEntry {
    /// Whether this member may watch camera `camera` of hub `hub_key`.
    pub fn may_watch(&self, hub_key: &[u8; 32], camera: &str) -> bool {
        self.cameras
            .iter()
            .any(|c| c.hub_key == *hub_key && c.camera == camera)
    }
}

/// The state of a chain that verified: who is in it now.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    devices: Vec<DeviceEntry>,
    recovery: DevicePublic,
    hubs: Vec<HubEntry>,
    members: Vec<MemberEntry>,
    /// Every key removed so far (device Ed25519 and X25519 keys, hub keys): never again
    /// valid in any role.
    revoked: Vec<[u8; 32]>,
    hashes: Vec<LinkHash>,
}

/// Verifies a whole chain against the pinned root and, if the caller has seen this chain
/// before, against the highest link it saw (`(seq, hash)`), refusing a rollback or a fork.
pub fn verify_chain(
    links: &[Link],
    pinned_root: &LinkHash,
    highest_seen: Option<(u64, LinkHash)>,
) -> Result<VerifiedChain, ChainError> {
    let (first, rest) = links.split_first().ok_or(ChainError::Empty)?;
    let chain = VerifiedChain::from_genesis(first, pinned_root)?;
    let chain = chain.extend(rest)?;
    if let Some((seen_seq, seen_hash)) = highest_seen {
        chain.check_seen(seen_seq, &seen_hash)?;
    }
    Ok(chain)
}

impl VerifiedChain {
    fn from_genesis(link: &Link, pinned_root: &LinkHash) -> Result<Self, ChainError> {
        let hash = link.hash();
        if hash != *pinned_root {
            return Err(ChainError::PinMismatch {
                pinned: *pinned_root,
                found: hash,
            });
        }
        if link.seq != 0 {
            return Err(ChainError::BadSequence {
                index: 0,
                expected: 0,
                found: link.seq,
            });
        }
        if link.prev != LinkHash::ZERO {
            return Err(ChainError::BadPrevHash { seq: 0 });
        }
        let ChainOp::Genesis {
            device_name,
            device,
            recovery,
        } = &link.op
        else {
            return Err(ChainError::FirstLinkNotGenesis);
        };
        if link.signer != *device.sign() {
            return Err(ChainError::GenesisNotSelfSigned);
        }
        if !verify_strict(
            device.verifying_key(),
            &link.signed_message(),
            &link.signature,
        ) {
            return Err(ChainError::BadSignature { seq: 0 });
        }
        if device.sign() == recovery.sign() || device.age() == recovery.age() {
            return Err(ChainError::InvalidOp {
                seq: 0,
                reason: OpError::KeyInUse,
            });
        }
        Ok(Self {
            devices: vec![DeviceEntry {
                name: device_name.clone(),
                key: device.clone(),
            }],
            recovery: recovery.clone(),
            hubs: Vec::new(),
            members: Vec::new(),
            revoked: Vec::new(),
            hashes: vec![hash],
        })
    }

    /// Verifies links that continue this chain (the first must have seq = [`Self::len`])
    /// and returns the chain they lead to. A hub uses this for links a device hands it.
    pub fn extend(&self, links: &[Link]) -> Result<VerifiedChain, ChainError> {
        let mut next = self.clone();
        for link in links {
            next.apply(link)?;
        }
        Ok(next)
    }

    fn apply(&mut self, link: &Link) -> Result<(), ChainError> {
        let expected = self.len();
        if link.seq != expected {
            return Err(ChainError::BadSequence {
                index: expected,
                expected,
                found: link.seq,
            });
        }
        let seq = link.seq;
        if link.prev != self.head() {
            return Err(ChainError::BadPrevHash { seq });
        }
        if matches!(link.op, ChainOp::Genesis { .. }) {
            return Err(ChainError::GenesisNotFirst { seq });
        }
        let signer = self.authorised_signer(&link.signer, seq)?;
        if !verify_strict(
            signer.verifying_key(),
            &link.signed_message(),
            &link.signature,
        ) {
            return Err(ChainError::BadSignature { seq });
        }
        self.apply_op(&link.op)
            .map_err(|reason| ChainError::InvalidOp { seq, reason })?;
        self.hashes.push(link.hash());
        Ok(())
    }

    fn authorised_signer(&self, signer: &[u8; 32], seq: u64) -> Result<DevicePublic, ChainError> {
        if let Some(device) = self.devices.iter().find(|d| d.key.sign() == signer) {
            return Ok(device.key.clone());
        }
        if self.recovery.sign() == signer {
            return Ok(self.recovery.clone());
        }
        if self.hubs.iter().any(|h| h.key.as_bytes() == signer) {
            return Err(ChainError::SignerIsHub { seq });
        }
        if self.revoked.contains(signer) {
            return Err(ChainError::SignerRemoved { seq });
        }
        Err(ChainError::SignerNotMember { seq })
    }

    /// Every 32-byte key in use in any role.
    fn key_in_use(&self, key: &[u8; 32]) -> bool {
        self.devices
            .iter()
            .any(|d| d.key.sign() == key || d.key.age() == key)
            || self.recovery.sign() == key
            || self.recovery.age() == key
            || self.hubs.iter().any(|h| h.key.as_bytes() == key)
    }

    fn check_new_key(&self, key: &[u8; 32]) -> Result<(), OpError> {
        if self.revoked.contains(key) {
            return Err(OpError::KeyRevoked);
        }
        if self.key_in_use(key) {
            return Err(OpError::KeyInUse);
        }
        Ok(())
    }

    fn apply_op(&mut self, op: &ChainOp) -> Result<(), OpError> {
        match op {
            // Refused before signature checks; kept for exhaustiveness.
            ChainOp::Genesis { .. } => Err(OpError::DeviceAlreadyPresent),
            ChainOp::AddDevice { name, device } => {
                if self.devices.iter().any(|d| d.key == *device) {
                    return Err(OpError::DeviceAlreadyPresent);
                }
                self.check_new_key(device.sign())?;
                self.check_new_key(device.age())?;
                self.devices.push(DeviceEntry {
                    name: name.clone(),
                    key: device.clone(),
                });
                Ok(())
            }
            ChainOp::RemoveDevice { device_sign_key } => {
                let Some(index) = self
                    .devices
                    .iter()
                    .position(|d| d.key.sign() == device_sign_key)
                else {
                    return Err(if self.recovery.sign() == device_sign_key {
                        OpError::RecoveryKeyNotRemovable
                    } else {
                        OpError::DeviceNotPresent
                    });
                };
                if self.devices.len() == 1 {
                    return Err(OpError::LastDevice);
                }
                let removed = self.devices.remove(index);
                self.revoked.push(*removed.key.sign());
                self.revoked.push(*removed.key.age());
                Ok(())
            }
            ChainOp::AddHub { name, hub } => {
                if self.hubs.iter().any(|h| h.key == *hub) {
                    return Err(OpError::HubAlreadyPresent);
                }
                self.check_new_key(hub.as_bytes())?;
                self.hubs.push(HubEntry {
                    name: name.clone(),
                    key: *hub,
                });
                Ok(())
            }
            ChainOp::RemoveHub { hub_key } => {
                let index = self
                    .hubs
                    .iter()
                    .position(|h| h.key.as_bytes() == hub_key)
                    .ok_or(OpError::HubNotPresent)?;
                let removed = self.hubs.remove(index);
                self.revoked.push(*removed.key.as_bytes());
                // A removed hub's cameras are given to nobody any more.
                for member in &mut self.members {
                    member.cameras.retain(|c| c.hub_key != *hub_key);
                }
                Ok(())
            }
            ChainOp::AddMember { root, label } => {
                if *root == self.root() {
                    return Err(OpError::SelfMember);
                }
                if self.members.iter().any(|m| m.root == *root) {
                    return Err(OpError::MemberAlreadyPresent);
                }
                self.members.push(MemberEntry {
                    root: *root,
                    label: label.clone(),
                    cameras: Vec::new(),
                });
                Ok(())
            }
            ChainOp::RemoveMember { root } => {
                let index = self
                    .members
                    .iter()
                    .position(|m| m.root == *root)
                    .ok_or(OpError::MemberNotPresent)?;
                self.members.remove(index);
                Ok(())
            }
            ChainOp::MemberCameras { root, cameras } => {
                if cameras.len() > MAX_MEMBER_CAMERAS {
                    return Err(OpError::TooManyCameras);
                }
                if cameras
                    .iter()
                    .any(|c| crate::statement::check_camera_id(&c.camera).is_err())
                {
                    return Err(OpError::BadCameraName);
                }
                if cameras
                    .iter()
                    .any(|c| !self.hubs.iter().any(|h| h.key.as_bytes() == &c.hub_key))
                {
                    return Err(OpError::CameraHubNotPresent);
                }
                let member = self
                    .members
                    .iter_mut()
                    .find(|m| m.root == *root)
                    .ok_or(OpError::MemberNotPresent)?;
                let mut given = cameras.clone();
                given.sort();
                given.dedup();
                member.cameras = given;
                Ok(())
            }
        }
    }

    /// Refuses a chain that ends before, or differs at, a link the caller saw earlier.
    pub fn check_seen(&self, seen_seq: u64, seen_hash: &LinkHash) -> Result<(), ChainError> {
        match self.hash_at(seen_seq) {
            None => Err(ChainError::Rollback {
                seen_seq,
                chain_len: self.len(),
            }),
            Some(hash) if hash != *seen_hash => Err(ChainError::Fork { seq: seen_seq }),
            Some(_) => Ok(()),
        }
    }

    /// Makes, signs and applies the next link. Refused, with the error [`verify_chain`]
    /// would give, when the signer may not sign or the operation does not make sense.
    pub fn append(&mut self, op: ChainOp, signer: &DeviceSecret) -> Result<Link, ChainError> {
        let link = Link::sign(self.len(), self.head(), op, signer);
        let mut next = self.clone();
        next.apply(&link)?;
        *self = next;
        Ok(link)
    }

    /// Starts a chain: link 0, self-signed by the account's first device.
    pub fn genesis(
        first: &DeviceSecret,
        device_name: Name,
        recovery: DevicePublic,
    ) -> Result<(VerifiedChain, Link), ChainError> {
        let link = Link::sign(
            0,
            LinkHash::ZERO,
            ChainOp::Genesis {
                device_name,
                device: first.public(),
                recovery,
            },
            first,
        );
        let chain = Self::from_genesis(&link, &link.hash())?;
        Ok((chain, link))
    }

    /// The account's current devices, oldest first.
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.devices
    }

    pub fn recovery_key(&self) -> &DevicePublic {
        &self.recovery
    }

    /// The account's current hubs, oldest first.
    pub fn hubs(&self) -> &[HubEntry] {
        &self.hubs
    }

    pub fn members(&self) -> &[MemberEntry] {
        &self.members
    }

    /// Link 0's hash.
    pub fn root(&self) -> LinkHash {
        self.hashes.first().copied().unwrap_or(LinkHash::ZERO)
    }

    /// The last link's hash.
    pub fn head(&self) -> LinkHash {
        self.hashes.last().copied().unwrap_or(LinkHash::ZERO)
    }

    /// The number of links.
    pub fn len(&self) -> u64 {
        self.hashes.len() as u64
    }

    /// Always false: a verified chain has link 0.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// `(seq, hash)` of the last link: what to remember and pass as `highest_seen` next time.
    pub fn position(&self) -> (u64, LinkHash) {
        (self.len().saturating_sub(1), self.head())
    }

    /// The hash of link `seq`, if the chain has it.
    pub fn hash_at(&self, seq: u64) -> Option<LinkHash> {
        usize::try_from(seq)
            .ok()
            .and_then(|i| self.hashes.get(i))
            .copied()
    }

    /// What a hub seals clips to: every current device's age key, then the recovery key.
    pub fn recipients(&self) -> Vec<DevicePublic> {
        self.devices
            .iter()
            .map(|d| d.key.clone())
            .chain(std::iter::once(self.recovery.clone()))
            .collect()
    }

    /// The current member with this root, if any.
    pub fn member(&self, root: &LinkHash) -> Option<&MemberEntry> {
        self.members.iter().find(|m| m.root == *root)
    }

    /// What hub `hub_key` seals camera `camera`'s clips to: [`Self::recipients`], then the
    /// current devices of every member this chain gives the camera to. `member_chains` are
    /// the members' chains, each verified from the root this chain names; a chain whose root
    /// is not a member given this camera adds nothing. Members' recovery keys are not added:
    /// the camera stays the owner's, and a member's recovery restores the member's own clips.
    pub fn recipients_for_camera(
        &self,
        hub_key: &[u8; 32],
        camera: &str,
        member_chains: &[VerifiedChain],
    ) -> Vec<DevicePublic> {
        let mut out = self.recipients();
        for chain in member_chains {
            let given = self
                .member(&chain.root())
                .is_some_and(|m| m.may_watch(hub_key, camera));
            if given {
                for device in chain.devices() {
                    if !out.contains(&device.key) {
                        out.push(device.key.clone());
                    }
                }
            }
        }
        out
    }

    /// Whether `key` is a current hub (one whose clip statements clients accept).
    pub fn has_hub(&self, key: &HubKey) -> bool {
        self.hubs.iter().any(|h| h.key == *key)
    }

    /// Whether `key` was removed from the chain (in any role); it can never return.
    pub(crate) fn was_removed(&self, key: &[u8; 32]) -> bool {
        self.revoked.contains(key)
    }

    /// Whether `sign_key` may sign the next link (a current device or the recovery key).
    pub fn can_sign(&self, sign_key: &[u8; 32]) -> bool {
        self.authorised_signer(sign_key, 0).is_ok()
    }
}

/// Builds a chain and keeps its links: what a client uses to start an account and to add
/// links it will upload.
#[derive(Debug, Clone)]
pub struct ChainBuilder {
    chain: VerifiedChain,
    links: Vec<Link>,
}

impl ChainBuilder {
    /// Starts a new account's chain.
    pub fn genesis(
        first: &DeviceSecret,
        device_name: Name,
        recovery: DevicePublic,
    ) -> Result<Self, ChainError> {
        let (chain, link) = VerifiedChain::genesis(first, device_name, recovery)?;
        Ok(Self {
            chain,
            links: vec![link],
        })
    }

    /// Continues an existing chain (verified against the pin first).
    pub fn from_links(links: Vec<Link>, pinned_root: &LinkHash) -> Result<Self, ChainError> {
        let chain = verify_chain(&links, pinned_root, None)?;
        Ok(Self { chain, links })
    }

    /// Appends a link signed by `signer`; see [`VerifiedChain::append`].
    pub fn append(&mut self, op: ChainOp, signer: &DeviceSecret) -> Result<Link, ChainError> {
        let link = self.chain.append(op, signer)?;
        self.links.push(link.clone());
        Ok(link)
    }

    pub fn chain(&self) -> &VerifiedChain {
        &self.chain
    }

    pub fn links(&self) -> &[Link] {
        &self.links
    }

    pub fn into_parts(self) -> (VerifiedChain, Vec<Link>) {
        (self.chain, self.links)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn name(s: &str) -> Name {
        Name::new(s).unwrap()
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(Name::new(""), Err(NameError::Empty));
        assert_eq!(Name::new(&"x".repeat(65)), Err(NameError::TooLong));
        assert!(Name::new(&"é".repeat(32)).is_ok());
        assert_eq!(Name::new("a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(Name::new(" a"), Err(NameError::OuterWhitespace));
        assert_eq!(Name::from_wire(&[0xff]), Err(NameError::NotUtf8));
    }

    #[test]
    fn every_op_round_trips() {
        let d = DeviceSecret::generate();
        let other = DeviceSecret::generate();
        let hub = crate::keys::HubSecret::generate().public();
        let ops = [
            ChainOp::Genesis {
                device_name: name("phone"),
                device: d.public(),
                recovery: other.public(),
            },
            ChainOp::AddDevice {
                name: name("laptop"),
                device: other.public(),
            },
            ChainOp::RemoveDevice {
                device_sign_key: *other.public().sign(),
            },
            ChainOp::AddHub {
                name: name("porch"),
                hub,
            },
            ChainOp::RemoveHub {
                hub_key: *hub.as_bytes(),
            },
            ChainOp::AddMember {
                root: LinkHash([9; 32]),
                label: name("gran"),
            },
            ChainOp::RemoveMember {
                root: LinkHash([9; 32]),
            },
        ];
        for op in ops {
            let link = Link::sign(3, LinkHash([1; 32]), op, &d);
            let bytes = link.to_bytes();
            let back = Link::from_bytes(&bytes).unwrap();
            assert_eq!(back, link);
            assert_eq!(back.to_bytes(), bytes);
            assert_eq!(back.hash(), link.hash());
        }
    }

    #[test]
    fn parser_refuses_malformed_links() {
        let d = DeviceSecret::generate();
        let link = Link::sign(
            1,
            LinkHash([1; 32]),
            ChainOp::AddMember {
                root: LinkHash([2; 32]),
                label: name("gran"),
            },
            &d,
        );
        let bytes = link.to_bytes();

        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert_eq!(
            Link::from_bytes(&v2),
            Err(LinkParseError::UnsupportedVersion(2))
        );
        assert_eq!(
            Link::from_bytes(&bytes[..bytes.len() - 1]),
            Err(LinkParseError::Truncated)
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            Link::from_bytes(&long),
            Err(LinkParseError::TrailingBytes(1))
        );
        // The op tag sits after version (1), seq (8), prev (32) and signer (32).
        let mut unknown = bytes.clone();
        unknown[73] = 0;
        assert_eq!(
            Link::from_bytes(&unknown),
            Err(LinkParseError::UnknownOp(0))
        );
        // The label length byte follows the tag and the 32-byte root.
        let mut oversized = bytes.clone();
        oversized[74 + 32] = 65;
        assert_eq!(
            Link::from_bytes(&oversized),
            Err(LinkParseError::FieldTooLong { max: 64, found: 65 })
        );
        let mut empty_label = bytes.clone();
        empty_label[74 + 32] = 0;
        assert!(Link::from_bytes(&empty_label).is_err());
        assert_eq!(Link::from_bytes(&[]), Err(LinkParseError::Truncated));
    }

    #[test]
    fn append_refuses_what_verify_would() {
        let first = DeviceSecret::generate();
        let recovery = DeviceSecret::generate();
        let mut b = ChainBuilder::genesis(&first, name("phone"), recovery.public()).unwrap();
        let err = b
            .append(
                ChainOp::RemoveDevice {
                    device_sign_key: *first.public().sign(),
                },
                &first,
            )
            .unwrap_err();
        assert_eq!(
            err,
            ChainError::InvalidOp {
                seq: 1,
                reason: OpError::LastDevice
            }
        );
        assert_eq!(b.links().len(), 1);
        assert_eq!(b.chain().len(), 1);
    }
}
