//! Consent to research, as receipts an owner's device signs, and the withdrawal id that lets
//! the owner's devices (and only they) name a research item made from one of their clips.
//!
//! Receipt bytes: `version (1) ‖ action (1: 1 give, 2 withdraw) ‖ scope kind (1: 1 camera,
//! 2 clip) ‖ scope_id_len (1) ‖ scope_id ‖ chain_root (32) ‖ signer (32) ‖ issued_at_ms
//! (i64 BE) ‖ nonce (16) ‖ signature (64)`; the signature is the signer's Ed25519 over
//! `"porchlight consent-receipt v1\0" ‖ every byte before the signature`.
//!
//! A research item is withdrawn with its clip's **withdrawal key**, HKDF-SHA256(ikm = the
//! clip's age file key, salt = empty, info = `"porchlight research withdrawal v1"`): only a
//! holder of a key the clip is sealed to can compute it. The server stores and matches only
//! the item's **withdrawal tag**, SHA-256(`"porchlight research withdrawal tag v1\0"` ‖ key),
//! which names the item without being able to withdraw it: whoever reads the database, or
//! asks the server about a tag, learns nothing that withdraws an item.

use std::fmt;

use age::secrecy::ExposeSecret;

use crate::chain::{LinkHash, VerifiedChain};
use crate::clip::ClipError;
use crate::header::ClipHeader;
use crate::keys::{DeviceSecret, verify_strict};
use crate::wire::{Reader, WireError, Writer, hkdf_sha256};

/// Prefix of every message a consent signature covers.
pub const CONSENT_DOMAIN: &[u8] = b"porchlight consent-receipt v1\0";
/// The encoding version this code writes and reads.
pub const CONSENT_VERSION: u8 = 1;
/// Longest scope id (a camera id or a clip id), in bytes of UTF-8.
pub const MAX_SCOPE_ID_BYTES: usize = 128;
/// The HKDF info of a research withdrawal key.
pub const WITHDRAWAL_INFO: &[u8] = b"porchlight research withdrawal v1";
/// Prefix of what a withdrawal tag hashes.
pub const WITHDRAWAL_TAG_DOMAIN: &[u8] = b"porchlight research withdrawal tag v1\0";

/// The secret that withdraws the research item made from one clip. Only the owner's devices
/// (the holders of a key the clip is sealed to) can compute it; it is sent to the server once,
/// to withdraw, and never stored there. No `Display`; `Debug` is redacted; wiped on drop.
#[derive(Clone, PartialEq, Eq, zeroize::ZeroizeOnDrop)]
pub struct WithdrawalKey([u8; 32]);

impl WithdrawalKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads 64 hex characters, as a withdrawal request carries them.
    pub fn from_hex(hex_key: &str) -> Option<Self> {
        hex32(hex_key).map(|bytes| Self(*bytes))
    }

    /// 64 lowercase hex characters, for the one request that withdraws the item.
    pub fn to_hex(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(hex::encode(self.0))
    }

    /// The public name of the item this key withdraws.
    pub fn tag(&self) -> WithdrawalTag {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(WITHDRAWAL_TAG_DOMAIN);
        hash.update(self.0);
        WithdrawalTag(hash.finalize().into())
    }
}

impl fmt::Debug for WithdrawalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithdrawalKey(<redacted>)")
    }
}

/// 64 hex characters as 32 bytes, wiped when dropped (a key passes through here).
fn hex32(text: &str) -> Option<zeroize::Zeroizing<[u8; 32]>> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, bytes.as_mut()).ok()?;
    Some(bytes)
}

/// The name a research item is stored and matched under: a one-way hash of its withdrawal
/// key, so knowing a tag withdraws nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WithdrawalTag([u8; 32]);

impl WithdrawalTag {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads 64 hex characters (either case).
    pub fn from_hex(hex_tag: &str) -> Option<Self> {
        hex32(hex_tag).map(|bytes| Self(*bytes))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// 64 lowercase hex characters: the form the server stores and answers.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for WithdrawalTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WithdrawalTag({})", self.to_hex())
    }
}

/// Why a receipt cannot be made, read or believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    #[error("consent receipt version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the consent receipt is truncated")]
    Truncated,
    #[error("the consent receipt has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("unknown consent action {0}")]
    BadAction(u8),
    #[error("unknown consent scope kind {0}")]
    BadScopeKind(u8),
    #[error("a scope id is 1 to {MAX_SCOPE_ID_BYTES} bytes of UTF-8 without control characters")]
    BadScopeId,
    #[error("the consent receipt's signature does not verify")]
    BadSignature,
    #[error("the consent receipt is signed by a key that is not a current device of the chain")]
    SignerNotInChain,
    #[error("the consent receipt names another account's chain")]
    WrongChain,
}

/// Whether a receipt gives or withdraws consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsentAction {
    Give,
    Withdraw,
}

impl ConsentAction {
    fn code(self) -> u8 {
        match self {
            Self::Give => 1,
            Self::Withdraw => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Give => "give",
            Self::Withdraw => "withdraw",
        }
    }
}

/// What a receipt is about: every clip of one camera, or one clip.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConsentScope {
    Camera(String),
    Clip(String),
}

impl ConsentScope {
    fn code(&self) -> u8 {
        match self {
            Self::Camera(_) => 1,
            Self::Clip(_) => 2,
        }
    }

    /// `"camera"` or `"clip"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Camera(_) => "camera",
            Self::Clip(_) => "clip",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Camera(id) | Self::Clip(id) => id,
        }
    }

    fn check(&self) -> Result<(), ConsentError> {
        let id = self.id();
        if id.is_empty() || id.len() > MAX_SCOPE_ID_BYTES || id.chars().any(char::is_control) {
            return Err(ConsentError::BadScopeId);
        }
        Ok(())
    }
}

/// A signed consent receipt. Only [`ConsentReceipt::sign`] and [`ConsentReceipt::from_bytes`]
/// make one; `from_bytes` checks the form, [`ConsentReceipt::verify`] the signature and signer.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsentReceipt {
    action: ConsentAction,
    scope: ConsentScope,
    chain_root: LinkHash,
    signer: [u8; 32],
    issued_at_ms: i64,
    nonce: [u8; 16],
    signature: [u8; 64],
}

impl ConsentReceipt {
    /// Signs a receipt with a device of the chain rooted at `chain_root`, with a fresh nonce.
    pub fn sign(
        action: ConsentAction,
        scope: ConsentScope,
        chain_root: LinkHash,
        issued_at_ms: i64,
        device: &DeviceSecret,
    ) -> Result<Self, ConsentError> {
        scope.check()?;
        let mut receipt = Self {
            action,
            scope,
            chain_root,
            signer: *device.public().sign(),
            issued_at_ms,
            nonce: rand::random(),
            signature: [0; 64],
        };
        receipt.signature = device.sign(&receipt.signed_message());
        Ok(receipt)
    }

    pub fn action(&self) -> ConsentAction {
        self.action
    }

    pub fn scope(&self) -> &ConsentScope {
        &self.scope
    }

    pub fn chain_root(&self) -> &LinkHash {
        &self.chain_root
    }

    /// The signing device's Ed25519 key.
    pub fn signer(&self) -> &[u8; 32] {
        &self.signer
    }

    /// Milliseconds since the Unix epoch, by the signing device's clock.
    pub fn issued_at_ms(&self) -> i64 {
        self.issued_at_ms
    }

    pub fn nonce(&self) -> &[u8; 16] {
        &self.nonce
    }

    fn body(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(CONSENT_VERSION)
            .u8(self.action.code())
            .u8(self.scope.code())
            .short(self.scope.id().as_bytes())
            .fixed(self.chain_root.as_bytes())
            .fixed(&self.signer)
            .i64(self.issued_at_ms)
            .fixed(&self.nonce);
        w.into_bytes()
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut message = CONSENT_DOMAIN.to_vec();
        message.extend_from_slice(&self.body());
        message
    }

    /// The canonical encoding, signature last.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.body();
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    /// Parses [`Self::to_bytes`], strictly; the signature is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ConsentError> {
        let mut r = Reader::new(bytes);
        let version = r.u8().map_err(wire)?;
        if version != CONSENT_VERSION {
            return Err(ConsentError::UnsupportedVersion(version));
        }
        let action = match r.u8().map_err(wire)? {
            1 => ConsentAction::Give,
            2 => ConsentAction::Withdraw,
            other => return Err(ConsentError::BadAction(other)),
        };
        let kind = r.u8().map_err(wire)?;
        let id = r.short(MAX_SCOPE_ID_BYTES).map_err(wire)?;
        let id = std::str::from_utf8(id)
            .map_err(|_| ConsentError::BadScopeId)?
            .to_owned();
        let scope = match kind {
            1 => ConsentScope::Camera(id),
            2 => ConsentScope::Clip(id),
            other => return Err(ConsentError::BadScopeKind(other)),
        };
        scope.check()?;
        let chain_root = LinkHash::from_bytes(r.array().map_err(wire)?);
        let signer = r.array().map_err(wire)?;
        let issued_at_ms = r.i64().map_err(wire)?;
        let nonce = r.array().map_err(wire)?;
        let signature = r.array().map_err(wire)?;
        r.finish().map_err(wire)?;
        Ok(Self {
            action,
            scope,
            chain_root,
            signer,
            issued_at_ms,
            nonce,
            signature,
        })
    }

    /// Checks that the receipt names `chain`, that its signer is a current device of it and
    /// that the signature verifies (strict Ed25519).
    pub fn verify(&self, chain: &VerifiedChain) -> Result<(), ConsentError> {
        if self.chain_root != chain.root() {
            return Err(ConsentError::WrongChain);
        }
        let device = chain
            .devices()
            .iter()
            .find(|d| d.key.sign() == &self.signer)
            .ok_or(ConsentError::SignerNotInChain)?;
        if verify_strict(
            device.key.verifying_key(),
            &self.signed_message(),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(ConsentError::BadSignature)
        }
    }
}

impl fmt::Debug for ConsentReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentReceipt")
            .field("action", &self.action)
            .field("scope", &self.scope)
            .field("issued_at_ms", &self.issued_at_ms)
            .finish_non_exhaustive()
    }
}

fn wire(e: WireError) -> ConsentError {
    match e {
        WireError::Truncated => ConsentError::Truncated,
        WireError::TooLong { .. } => ConsentError::BadScopeId,
        WireError::Trailing { count } => ConsentError::TrailingBytes(count),
    }
}

/// The research withdrawal key of a clip: HKDF-SHA256 of its age file key, which `identity`
/// unwraps from `header` (the header MAC is checked first).
pub fn research_withdrawal_key(
    header: &[u8],
    identity: &dyn age::Identity,
) -> Result<WithdrawalKey, ClipError> {
    let parsed = ClipHeader::parse(header)?;
    let file_key = parsed.file_key(identity)?;
    let okm = hkdf_sha256(&[], file_key.expose_secret(), WITHDRAWAL_INFO);
    Ok(WithdrawalKey(*okm))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::chain::{ChainBuilder, Name};
    use crate::recovery::RecoveryKey;

    fn chain(device: &DeviceSecret) -> ChainBuilder {
        let (recovery, _code) = RecoveryKey::generate();
        ChainBuilder::genesis(device, Name::new("phone").unwrap(), recovery.public()).unwrap()
    }

    #[test]
    fn sign_parse_verify() {
        let device = DeviceSecret::generate();
        let builder = chain(&device);
        let c = builder.chain();
        let r = ConsentReceipt::sign(
            ConsentAction::Give,
            ConsentScope::Camera("front".into()),
            c.root(),
            1_700_000_000_000,
            &device,
        )
        .unwrap();
        let bytes = r.to_bytes();
        let parsed = ConsentReceipt::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, r);
        assert_eq!(parsed.verify(c), Ok(()));

        let mut forged = bytes.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(
            ConsentReceipt::from_bytes(&forged).unwrap().verify(c),
            Err(ConsentError::BadSignature)
        );
        let mut changed = bytes.clone();
        changed[1] = 2;
        assert_eq!(
            ConsentReceipt::from_bytes(&changed).unwrap().verify(c),
            Err(ConsentError::BadSignature)
        );
        assert_eq!(
            ConsentReceipt::from_bytes(&bytes[..bytes.len() - 1]),
            Err(ConsentError::Truncated)
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            ConsentReceipt::from_bytes(&long),
            Err(ConsentError::TrailingBytes(1))
        );
        let mut v9 = bytes;
        v9[0] = 9;
        assert_eq!(
            ConsentReceipt::from_bytes(&v9),
            Err(ConsentError::UnsupportedVersion(9))
        );

        let stranger = DeviceSecret::generate();
        let foreign = ConsentReceipt::sign(
            ConsentAction::Give,
            r.scope().clone(),
            c.root(),
            0,
            &stranger,
        )
        .unwrap();
        assert_eq!(foreign.verify(c), Err(ConsentError::SignerNotInChain));
        let other = chain(&stranger);
        assert_eq!(foreign.verify(other.chain()), Err(ConsentError::WrongChain));
    }

    proptest::proptest! {
        /// The parser is total, and what it accepts encodes back to the same bytes.
        #[test]
        fn parse_is_total_and_canonical(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(r) = ConsentReceipt::from_bytes(&data) {
                proptest::prop_assert_eq!(r.to_bytes(), data);
            }
        }
    }

    #[test]
    fn withdrawal_key_needs_the_file_key() {
        let device = DeviceSecret::generate();
        let other = DeviceSecret::generate();
        let (mut header, mut payload) = (Vec::new(), Vec::new());
        crate::clip::seal(&b"clip"[..], &mut header, &mut payload, &[device.public()]).unwrap();
        let key = research_withdrawal_key(&header, &device).unwrap();
        assert_eq!(research_withdrawal_key(&header, &device).unwrap(), key);
        let rewrapped =
            crate::header::rewrap(&header, &device, &[device.public(), other.public()]).unwrap();
        assert_eq!(research_withdrawal_key(&rewrapped, &other).unwrap(), key);
        assert!(research_withdrawal_key(&header, &other).is_err());
    }

    #[test]
    fn the_tag_is_a_domain_separated_hash_of_the_key_and_not_the_key() {
        // Known answer: SHA-256("porchlight research withdrawal tag v1\0" ‖ 32 × 0x2a).
        let key = WithdrawalKey::from_bytes([0x2a; 32]);
        let mut preimage = WITHDRAWAL_TAG_DOMAIN.to_vec();
        preimage.extend_from_slice(&[0x2a; 32]);
        use sha2::Digest;
        let expected: [u8; 32] = sha2::Sha256::digest(&preimage).into();
        assert_eq!(key.tag().to_bytes(), expected);
        assert_ne!(key.tag().to_bytes(), [0x2a; 32]);
        assert_ne!(key.tag(), WithdrawalKey::from_bytes([0x2b; 32]).tag());
        // Hex in and out, and a key never shows itself in a log.
        assert_eq!(WithdrawalKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_eq!(
            WithdrawalTag::from_hex(&key.tag().to_hex()),
            Some(key.tag())
        );
        assert_eq!(WithdrawalKey::from_hex("2a"), None);
        assert_eq!(WithdrawalTag::from_hex(&"zz".repeat(32)), None);
        assert!(!format!("{key:?}").contains("2a2a"));
    }
}
