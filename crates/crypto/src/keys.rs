//! Device and hub keys: an Ed25519 signing key and an X25519 age identity per device, an
//! Ed25519 key per hub, their public halves, and the string and file forms they travel in.
//!
//! Raw 32-byte keys cross between `ed25519-dalek`/`x25519-dalek` 3 and `age` (which still
//! uses dalek 2) through age's own Bech32 forms (`AGE-SECRET-KEY-1…`, `age1…`), so no type
//! of one dalek major is handed to the other.

use std::fmt;
use std::sync::LazyLock;

use age_core::format::{FileKey, Stanza};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::TryRngCore;
use rand::rngs::OsRng;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use crate::wire::{Reader, WireError, Writer, sha256_tagged};

const AGE_SECRET_HRP: bech32::Hrp = bech32::Hrp::parse_unchecked("AGE-SECRET-KEY-");
const AGE_PUBLIC_HRP: bech32::Hrp = bech32::Hrp::parse_unchecked("age");

const DEVICE_SECRET_MAGIC: &[u8; 4] = b"PLDS";
const HUB_SECRET_MAGIC: &[u8; 4] = b"PLHS";
const SECRET_FORMAT_V1: u8 = 1;
const DEVICE_SECRET_CHECK_DOMAIN: &[u8] = b"porchlight device secret v1\0";
const HUB_SECRET_CHECK_DOMAIN: &[u8] = b"porchlight hub secret v1\0";

/// What is wrong with a key or a key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("not a valid Ed25519 public key")]
    InvalidSigningKey,
    #[error("a weak (small-order) Ed25519 public key")]
    WeakSigningKey,
    #[error("a non-canonical Ed25519 public key encoding")]
    NonCanonicalSigningKey,
    #[error("not a usable X25519 public key (small order or non-canonical)")]
    InvalidAgeKey,
    #[error("not a valid age key string ({0})")]
    AgeString(&'static str),
    #[error("not a Porchlight {0} key file")]
    WrongFileKind(&'static str),
    #[error("key file version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("key file is truncated")]
    Truncated,
    #[error("key file has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    #[error("key file checksum does not match (corrupted file)")]
    BadChecksum,
}

/// 32 bytes from the operating system's CSPRNG (getrandom; in a browser, WebCrypto).
///
/// A failing OS random source leaves nothing safe to do, so this panics, as `age` itself
/// does; no input can cause it.
#[allow(
    clippy::expect_used,
    reason = "no safe way on without an OS random source"
)]
pub(crate) fn random_bytes<const N: usize>() -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    OsRng
        .try_fill_bytes(out.as_mut())
        .expect("the operating system's random source failed");
    out
}

// ---- public keys ----

fn parse_verifying_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidSigningKey)?;
    if key.is_weak() {
        return Err(KeyError::WeakSigningKey);
    }
    if &key.to_bytes() != bytes {
        return Err(KeyError::NonCanonicalSigningKey);
    }
    Ok(key)
}

/// A fixed scalar whose product with a small-order point is the identity: a Diffie-Hellman
/// with it is non-contributory exactly when the public key has small order.
static PROBE: LazyLock<StaticSecret> = LazyLock::new(|| StaticSecret::from([0x5a; 32]));

/// Refuses X25519 public keys that `age` must never be handed: a small-order point would
/// make every shared secret zero (age panics on that), and a set top bit is a second
/// encoding of another key.
fn check_age_public(bytes: &[u8; 32]) -> Result<(), KeyError> {
    if bytes[31] & 0x80 != 0 {
        return Err(KeyError::InvalidAgeKey);
    }
    if !PROBE
        .diffie_hellman(&XPublic::from(*bytes))
        .was_contributory()
    {
        return Err(KeyError::InvalidAgeKey);
    }
    Ok(())
}

/// An X25519 public key as age's `age1…` recipient string.
pub fn age_public_to_string(bytes: &[u8; 32]) -> String {
    age_core::primitives::bech32_encode(AGE_PUBLIC_HRP, bytes)
}

/// The raw X25519 public key inside an `age1…` recipient string.
pub fn age_public_from_str(s: &str) -> Result<[u8; 32], KeyError> {
    let bytes = age_core::primitives::bech32_decode(
        s,
        |_| KeyError::AgeString("invalid Bech32"),
        |hrp| {
            (hrp == AGE_PUBLIC_HRP)
                .then_some(())
                .ok_or(KeyError::AgeString("not an age1… recipient"))
        },
        |_, data| {
            <[u8; 32]>::try_from(data.collect::<Vec<u8>>())
                .map_err(|_| KeyError::AgeString("wrong key length"))
        },
    )?;
    check_age_public(&bytes)?;
    Ok(bytes)
}

/// An X25519 secret key as age's `AGE-SECRET-KEY-1…` identity string.
pub fn age_secret_to_string(bytes: &[u8; 32]) -> Zeroizing<String> {
    let lower = Zeroizing::new(age_core::primitives::bech32_encode(AGE_SECRET_HRP, bytes));
    Zeroizing::new(lower.to_uppercase())
}

/// The raw X25519 secret key inside an `AGE-SECRET-KEY-1…` identity string.
pub fn age_secret_from_str(s: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    age_core::primitives::bech32_decode(
        s,
        |_| KeyError::AgeString("invalid Bech32"),
        |hrp| {
            (hrp == AGE_SECRET_HRP)
                .then_some(())
                .ok_or(KeyError::AgeString("not an AGE-SECRET-KEY-1… identity"))
        },
        |_, data| {
            let bytes = Zeroizing::new(data.collect::<Vec<u8>>());
            let mut out = Zeroizing::new([0u8; 32]);
            if bytes.len() != 32 {
                return Err(KeyError::AgeString("wrong key length"));
            }
            out.copy_from_slice(&bytes);
            Ok(out)
        },
    )
}

fn age_identity_from_raw(secret: &[u8; 32]) -> Result<age::x25519::Identity, KeyError> {
    age_secret_to_string(secret)
        .parse()
        .map_err(KeyError::AgeString)
}

fn age_recipient_from_raw(public: &[u8; 32]) -> Result<age::x25519::Recipient, KeyError> {
    age_public_to_string(public)
        .parse()
        .map_err(KeyError::AgeString)
}

const FINGERPRINT_DOMAIN: &[u8] = b"porchlight device fingerprint v1\0";

/// A device's public keys: the Ed25519 key its chain links and live-view offers are signed
/// with, and the X25519 key clips are sealed to. Both are checked when the value is made
/// (a valid, canonical, not-small-order Ed25519 point; a contributory X25519 key), so a
/// `DevicePublic` can be handed to `age` and to signature checks without further thought.
#[derive(Clone)]
pub struct DevicePublic {
    sign: [u8; 32],
    age: [u8; 32],
    verifying: VerifyingKey,
    recipient: age::x25519::Recipient,
}

impl DevicePublic {
    /// Checks and wraps raw public keys.
    pub fn from_bytes(sign: [u8; 32], age: [u8; 32]) -> Result<Self, KeyError> {
        let verifying = parse_verifying_key(&sign)?;
        check_age_public(&age)?;
        let recipient = age_recipient_from_raw(&age)?;
        Ok(Self {
            sign,
            age,
            verifying,
            recipient,
        })
    }

    /// From the Ed25519 key's bytes and an `age1…` recipient string.
    pub fn from_parts(sign: [u8; 32], age_recipient: &str) -> Result<Self, KeyError> {
        Self::from_bytes(sign, age_public_from_str(age_recipient)?)
    }

    /// The Ed25519 public key: the device's identity in the chain.
    pub fn sign(&self) -> &[u8; 32] {
        &self.sign
    }

    /// The X25519 public key clips are sealed to.
    pub fn age(&self) -> &[u8; 32] {
        &self.age
    }

    /// The age recipient for [`Self::age`].
    pub fn age_recipient(&self) -> age::x25519::Recipient {
        self.recipient.clone()
    }

    /// The `age1…` string of the encryption key (what `age -r` takes).
    pub fn age_string(&self) -> String {
        age_public_to_string(&self.age)
    }

    /// The Ed25519 key in lowercase hex.
    pub fn sign_hex(&self) -> String {
        hex::encode(self.sign)
    }

    /// A short digest of both public keys, for people to compare between a new device's
    /// screen and the approving one's: 80 bits as five groups of four hex digits.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(FINGERPRINT_DOMAIN)
            .chain_update(self.sign)
            .chain_update(self.age)
            .finalize();
        let hex = hex::encode(&digest[..10]);
        let mut out = String::with_capacity(24);
        for (i, c) in hex.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    pub(crate) fn recipient_ref(&self) -> &age::x25519::Recipient {
        &self.recipient
    }
}

impl PartialEq for DevicePublic {
    fn eq(&self, other: &Self) -> bool {
        self.sign == other.sign && self.age == other.age
    }
}

impl Eq for DevicePublic {}

impl std::hash::Hash for DevicePublic {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.sign.hash(state);
        self.age.hash(state);
    }
}

impl fmt::Debug for DevicePublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevicePublic")
            .field("sign", &hex::encode(self.sign))
            .field("age", &self.age_string())
            .finish()
    }
}

/// A hub's Ed25519 public key (checked as for [`DevicePublic::sign`]). Hubs sign clip
/// statements and live-view answers; they never sign chain links.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HubKey {
    bytes: [u8; 32],
    verifying: VerifyingKey,
}

impl HubKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        Ok(Self {
            verifying: parse_verifying_key(&bytes)?,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// Checks a [`HubSecret::sign_auth_challenge`] signature (strict verification).
    pub fn verify_auth_challenge(&self, challenge: &[u8; 32], signature: &[u8; 64]) -> bool {
        verify_strict(&self.verifying, &hub_auth_message(challenge), signature)
    }
}

impl fmt::Debug for HubKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HubKey({})", hex::encode(self.bytes))
    }
}

// ---- secrets ----

fn key_file_checksum(domain: &[u8], body: &[u8]) -> [u8; 4] {
    let digest = sha256_tagged(domain, &[body]);
    [digest[0], digest[1], digest[2], digest[3]]
}

fn map_file_wire(e: WireError) -> KeyError {
    match e {
        WireError::Truncated | WireError::TooLong { .. } => KeyError::Truncated,
        WireError::Trailing { count } => KeyError::TrailingBytes(count),
    }
}

/// Reads `magic ‖ version ‖ body ‖ checksum` and hands the body's reader to `read_body`.
fn read_key_file<T>(
    bytes: &[u8],
    magic: &[u8; 4],
    kind: &'static str,
    domain: &[u8],
    read_body: impl FnOnce(&mut Reader<'_>) -> Result<T, WireError>,
) -> Result<T, KeyError> {
    let mut r = Reader::new(bytes);
    if &r.array::<4>().map_err(|_| KeyError::WrongFileKind(kind))? != magic {
        return Err(KeyError::WrongFileKind(kind));
    }
    let version = r.u8().map_err(map_file_wire)?;
    if version != SECRET_FORMAT_V1 {
        return Err(KeyError::UnsupportedVersion(version));
    }
    let body_end = bytes.len().checked_sub(4).ok_or(KeyError::Truncated)?;
    let value = read_body(&mut r).map_err(map_file_wire)?;
    let check: [u8; 4] = r.array().map_err(map_file_wire)?;
    r.finish().map_err(map_file_wire)?;
    let expected = key_file_checksum(domain, &bytes[..body_end]);
    if check != expected {
        return Err(KeyError::BadChecksum);
    }
    Ok(value)
}

fn write_key_file(magic: &[u8; 4], domain: &[u8], secrets: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let mut w = Writer::new();
    w.fixed(magic).u8(SECRET_FORMAT_V1);
    for s in secrets {
        w.fixed(s);
    }
    let mut bytes = Zeroizing::new(w.into_bytes());
    let check = key_file_checksum(domain, &bytes);
    bytes.extend_from_slice(&check);
    bytes
}

/// A device's secret keys: Ed25519 for signing, X25519 for opening clips. Generated on the
/// device and never sent anywhere; the server sees only [`DevicePublic`].
///
/// No `Display`; `Debug` shows the public half only; the key bytes are zeroised on drop.
#[derive(Clone)]
pub struct DeviceSecret {
    signing: SigningKey,
    x25519: Zeroizing<[u8; 32]>,
    identity: age::x25519::Identity,
    public: DevicePublic,
}

impl DeviceSecret {
    /// New keys from the OS CSPRNG.
    pub fn generate() -> Self {
        loop {
            let seed = random_bytes::<32>();
            let x = random_bytes::<32>();
            // Only a negligible fraction of random secrets could fail the public-key
            // checks (none in practice); draw again rather than fail.
            if let Ok(secret) = Self::from_raw(&seed, &x) {
                return secret;
            }
        }
    }

    /// From raw key material (the recovery key derives its own this way).
    pub(crate) fn from_raw(ed25519_seed: &[u8; 32], x25519: &[u8; 32]) -> Result<Self, KeyError> {
        let signing = SigningKey::from_bytes(ed25519_seed);
        let x_public = XPublic::from(&StaticSecret::from(*x25519)).to_bytes();
        let public = DevicePublic::from_bytes(signing.verifying_key().to_bytes(), x_public)?;
        Ok(Self {
            identity: age_identity_from_raw(x25519)?,
            signing,
            x25519: Zeroizing::new(*x25519),
            public,
        })
    }

    pub fn public(&self) -> DevicePublic {
        self.public.clone()
    }

    pub(crate) fn public_ref(&self) -> &DevicePublic {
        &self.public
    }

    /// The age identity that opens clips sealed to this device.
    pub fn age_identity(&self) -> &age::x25519::Identity {
        &self.identity
    }

    /// The standard `AGE-SECRET-KEY-1…` line (for `porchlight identity export`): with it,
    /// any age tool opens this device's clips.
    pub fn export_age_identity(&self) -> Zeroizing<String> {
        age_secret_to_string(&self.x25519)
    }

    /// The key file for the client's home folder:
    /// `"PLDS" ‖ 0x01 ‖ ed25519 seed (32) ‖ x25519 secret (32) ‖ checksum (4)`,
    /// checksum = first 4 bytes of SHA-256(`"porchlight device secret v1\0"` ‖ all before).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let seed = Zeroizing::new(self.signing.to_bytes());
        write_key_file(
            DEVICE_SECRET_MAGIC,
            DEVICE_SECRET_CHECK_DOMAIN,
            &[seed.as_slice(), self.x25519.as_slice()],
        )
    }

    /// Parses [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let (seed, x) = read_key_file(
            bytes,
            DEVICE_SECRET_MAGIC,
            "device secret",
            DEVICE_SECRET_CHECK_DOMAIN,
            |r| {
                Ok((
                    Zeroizing::new(r.array::<32>()?),
                    Zeroizing::new(r.array::<32>()?),
                ))
            },
        )?;
        Self::from_raw(&seed, &x)
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl age::Identity for DeviceSecret {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        self.identity.unwrap_stanza(stanza)
    }
}

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSecret")
            .field("public", &self.public)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A hub's Ed25519 secret key: it signs clip statements (and, later, live-view answers).
#[derive(Clone)]
pub struct HubSecret {
    signing: SigningKey,
    public: HubKey,
}

impl HubSecret {
    pub fn generate() -> Self {
        loop {
            if let Ok(secret) = Self::from_seed(&random_bytes::<32>()) {
                return secret;
            }
        }
    }

    fn from_seed(seed: &[u8; 32]) -> Result<Self, KeyError> {
        let signing = SigningKey::from_bytes(seed);
        let public = HubKey::from_bytes(signing.verifying_key().to_bytes())?;
        Ok(Self { signing, public })
    }

    pub fn public(&self) -> HubKey {
        self.public
    }

    /// `"PLHS" ‖ 0x01 ‖ ed25519 seed (32) ‖ checksum (4)`, checksum as for
    /// [`DeviceSecret::to_bytes`] with `"porchlight hub secret v1\0"`.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let seed = Zeroizing::new(self.signing.to_bytes());
        write_key_file(
            HUB_SECRET_MAGIC,
            HUB_SECRET_CHECK_DOMAIN,
            &[seed.as_slice()],
        )
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let seed = read_key_file(
            bytes,
            HUB_SECRET_MAGIC,
            "hub secret",
            HUB_SECRET_CHECK_DOMAIN,
            |r| Ok(Zeroizing::new(r.array::<32>()?)),
        )?;
        Self::from_seed(&seed)
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// Signs a server's single-use challenge, to obtain a short-lived upload credential.
    pub fn sign_auth_challenge(&self, challenge: &[u8; 32]) -> [u8; 64] {
        self.sign(&hub_auth_message(challenge))
    }
}

const HUB_AUTH_DOMAIN: &[u8] = b"porchlight hub auth v1\0";

/// `"porchlight hub auth v1\0"` ‖ challenge: what a hub signs to prove it holds its key.
/// The domain keeps a challenge from ever being a valid clip statement or chain link.
fn hub_auth_message(challenge: &[u8; 32]) -> Vec<u8> {
    [HUB_AUTH_DOMAIN, challenge.as_slice()].concat()
}

impl fmt::Debug for HubSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSecret")
            .field("public", &self.public)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Checks `signature` over `message` with `verify_strict` (no malleable or small-order
/// signatures).
pub(crate) fn verify_strict(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
        .is_ok()
}

/// The secret string of an age identity (tests compare it with our own encoding).
#[cfg(test)]
fn identity_string(identity: &age::x25519::Identity) -> Zeroizing<String> {
    use age::secrecy::ExposeSecret;
    Zeroizing::new(identity.to_string().expose_secret().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    // age's own test vector (age/src/native/x25519.rs).
    const TEST_SK: &str =
        "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33";
    const TEST_PK: &str = "age1t7rxyev2z3rw82stdlrrepyc39nvn86l5078zqkf5uasdy86jp6svpy7pa";

    #[test]
    fn bech32_forms_match_age() {
        let raw = age_secret_from_str(TEST_SK).unwrap();
        assert_eq!(age_secret_to_string(&raw).as_str(), TEST_SK);
        let public = XPublic::from(&StaticSecret::from(*raw)).to_bytes();
        assert_eq!(age_public_to_string(&public), TEST_PK);
        assert_eq!(age_public_from_str(TEST_PK).unwrap(), public);
        let identity = age_identity_from_raw(&raw).unwrap();
        assert_eq!(identity.to_public().to_string(), TEST_PK);
        assert_eq!(identity_string(&identity).as_str(), TEST_SK);

        assert!(age_public_from_str(TEST_SK).is_err());
        assert!(age_secret_from_str(TEST_PK).is_err());
        assert!(age_public_from_str("age1qqqq").is_err());
    }

    #[test]
    fn device_secret_round_trips_and_is_checked() {
        let d = DeviceSecret::generate();
        let bytes = d.to_bytes();
        assert_eq!(bytes.len(), 4 + 1 + 32 + 32 + 4);
        let back = DeviceSecret::from_bytes(&bytes).unwrap();
        assert_eq!(back.public(), d.public());
        assert_eq!(
            back.export_age_identity().as_str(),
            d.export_age_identity().as_str()
        );
        assert_eq!(
            d.public().age_string(),
            d.age_identity().to_public().to_string()
        );

        let mut bad = bytes.to_vec();
        bad[10] ^= 1;
        assert_eq!(
            DeviceSecret::from_bytes(&bad).unwrap_err(),
            KeyError::BadChecksum
        );
        assert_eq!(
            DeviceSecret::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
            KeyError::Truncated
        );
        let mut long = bytes.to_vec();
        long.push(0);
        assert_eq!(
            DeviceSecret::from_bytes(&long).unwrap_err(),
            KeyError::TrailingBytes(1)
        );
        let mut v2 = bytes.to_vec();
        v2[4] = 2;
        assert_eq!(
            DeviceSecret::from_bytes(&v2).unwrap_err(),
            KeyError::UnsupportedVersion(2)
        );
        assert!(matches!(
            DeviceSecret::from_bytes(b"nope"),
            Err(KeyError::WrongFileKind(_))
        ));
        let hub = HubSecret::generate();
        assert!(matches!(
            DeviceSecret::from_bytes(&hub.to_bytes()),
            Err(KeyError::WrongFileKind(_))
        ));
        assert_eq!(
            HubSecret::from_bytes(&hub.to_bytes()).unwrap().public(),
            hub.public()
        );
    }

    #[test]
    fn debug_is_redacted() {
        let d = DeviceSecret::generate();
        let shown = format!("{d:?}");
        assert!(shown.contains("[redacted]"));
        let sk = d.export_age_identity();
        let tail = &sk[sk.len() - 20..];
        assert!(!shown.to_uppercase().contains(tail));
        assert!(!format!("{:?}", HubSecret::generate()).contains("signing"));
    }

    #[test]
    fn bad_public_keys_are_refused() {
        let good = DeviceSecret::generate().public();
        // X25519: zero and one are small-order points; a set top bit is non-canonical.
        let mut one = [0u8; 32];
        one[0] = 1;
        for bad in [[0u8; 32], one] {
            assert_eq!(
                DevicePublic::from_bytes(*good.sign(), bad).unwrap_err(),
                KeyError::InvalidAgeKey
            );
        }
        let mut high = *good.age();
        high[31] |= 0x80;
        assert_eq!(
            DevicePublic::from_bytes(*good.sign(), high).unwrap_err(),
            KeyError::InvalidAgeKey
        );
        // Ed25519: the identity point is weak.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            HubKey::from_bytes(identity).unwrap_err(),
            KeyError::WeakSigningKey
        );
        assert!(DevicePublic::from_bytes(*good.sign(), *good.age()).is_ok());
    }
}
