//! The pairing code a trusted owner device shows to a new hub (as a QR code and a string):
//! the server URL, a single-use 128-bit secret, and the owner's root (link-0 hash), which the
//! hub keeps as its trust anchor.
//!
//! Bytes: `version (1) ‖ secret (16) ‖ root (32) ‖ url_len (1) ‖ url ‖ check (4)`, where
//! `check` = the first 4 bytes of SHA-256(`"porchlight pairing code v1\0"` ‖ all before);
//! text: those bytes in Crockford base32, uppercase (so a QR code holds it in alphanumeric
//! mode).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::chain::LinkHash;
use crate::codes::{self, TextError};
use crate::keys::HubKey;
use crate::keys::random_bytes;
use crate::wire::{Reader, WireError, Writer, sha256_tagged};

/// The encoding version this code writes and reads.
pub const PAIRING_VERSION: u8 = 1;
/// Longest server URL, in bytes.
pub const MAX_URL_BYTES: usize = 200;
const CHECK_DOMAIN: &[u8] = b"porchlight pairing code v1\0";
const VERIFIER_DOMAIN: &[u8] = b"porchlight pairing secret v1\0";
const HUB_PROOF_DOMAIN: &[u8] = b"porchlight pairing hub proof v1\0";
const CHECK_BYTES: usize = 4;
const MIN_BYTES: usize = 1 + 16 + 32 + 1 + CHECK_BYTES;

/// Why a string is not a pairing code, or a URL cannot go in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairingError {
    #[error("the pairing code is empty")]
    Empty,
    #[error("character {position} is not part of a pairing code")]
    InvalidCharacter { position: usize },
    #[error("the pairing code's last character is not a valid ending")]
    NonCanonical,
    #[error("pairing code version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the pairing code is truncated")]
    Truncated,
    #[error("the pairing code has a typo (its check characters do not match)")]
    BadChecksum,
    #[error("the pairing code has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    #[error("the server URL is longer than {MAX_URL_BYTES} bytes")]
    UrlTooLong,
    #[error("the server URL must start with https:// or http://")]
    UrlNotHttp,
    #[error("the server URL has no host or has characters a URL cannot have")]
    UrlInvalid,
    #[error("the pairing code is too long for a QR code")]
    QrTooLong,
}

/// The single-use secret of a pairing code. The server stores only [`Self::verifier`].
#[derive(Clone, PartialEq, Eq)]
pub struct PairingSecret(Zeroizing<[u8; 16]>);

impl PairingSecret {
    pub fn generate() -> Self {
        Self(random_bytes::<16>())
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }

    /// SHA-256(`"porchlight pairing secret v1\0"` ‖ secret): what the server keeps to check
    /// the hub's claim (a uniformly random secret needs no slow hash).
    pub fn verifier(&self) -> [u8; 32] {
        sha256_tagged(VERIFIER_DOMAIN, &[self.0.as_slice()])
    }

    /// HMAC-SHA256(key = secret, `"porchlight pairing hub proof v1\0"` ‖ hub key): the hub
    /// sends it with its key when it redeems the code. The server knows only the verifier,
    /// so it cannot make a proof for a key of its own choosing; the owner device checks the
    /// proof ([`Self::check_hub_proof`]) before it signs the hub into the chain.
    pub fn hub_proof(&self, hub: &HubKey) -> [u8; 32] {
        self.proof_mac(hub).finalize().into_bytes().into()
    }

    /// Constant-time check of a [`Self::hub_proof`].
    pub fn check_hub_proof(&self, hub: &HubKey, proof: &[u8]) -> bool {
        self.proof_mac(hub).verify_slice(proof).is_ok()
    }

    #[allow(clippy::expect_used, reason = "HMAC accepts a key of any length")]
    fn proof_mac(&self, hub: &HubKey) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_slice())
            .expect("HMAC takes any key length");
        mac.update(HUB_PROOF_DOMAIN);
        mac.update(hub.as_bytes());
        mac
    }
}

impl fmt::Debug for PairingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PairingSecret([redacted])")
    }
}

/// A parsed (or freshly made) pairing code.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingCode {
    server_url: String,
    secret: PairingSecret,
    owner_root: LinkHash,
}

/// An `http` or `https` URL with a host, of printable ASCII, at most [`MAX_URL_BYTES`].
fn check_url(url: &str) -> Result<(), PairingError> {
    if url.len() > MAX_URL_BYTES {
        return Err(PairingError::UrlTooLong);
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(PairingError::UrlNotHttp)?;
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PairingError::UrlInvalid);
    }
    match rest.bytes().next() {
        None | Some(b'/' | b'?' | b'#' | b'@') => Err(PairingError::UrlInvalid),
        Some(_) => Ok(()),
    }
}

impl PairingCode {
    /// A new code with a fresh secret.
    pub fn new(server_url: &str, owner_root: LinkHash) -> Result<Self, PairingError> {
        Self::from_parts(server_url, PairingSecret::generate(), owner_root)
    }

    pub fn from_parts(
        server_url: &str,
        secret: PairingSecret,
        owner_root: LinkHash,
    ) -> Result<Self, PairingError> {
        check_url(server_url)?;
        Ok(Self {
            server_url: server_url.to_owned(),
            secret,
            owner_root,
        })
    }

    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    pub fn secret(&self) -> &PairingSecret {
        &self.secret
    }

    /// The hash of the owner's link 0: the hub's trust anchor.
    pub fn owner_root(&self) -> &LinkHash {
        &self.owner_root
    }

    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new();
        w.u8(PAIRING_VERSION)
            .fixed(self.secret.expose())
            .fixed(self.owner_root.as_bytes())
            .short(self.server_url.as_bytes());
        seal_with_check(w.into_bytes())
    }

    /// The code as one string (it holds the secret: show it, don't log it).
    pub fn encode(&self) -> Zeroizing<String> {
        codes::encode(&self.to_bytes())
    }

    /// Parses [`Self::encode`]'s output. Case and the spaces or dashes a person might add
    /// are tolerated; everything else is strict.
    pub fn parse(text: &str) -> Result<Self, PairingError> {
        if text.trim().is_empty() {
            return Err(PairingError::Empty);
        }
        let bytes = codes::decode(text).map_err(|e| match e {
            TextError::InvalidCharacter { position } => PairingError::InvalidCharacter { position },
            TextError::NonCanonical => PairingError::NonCanonical,
        })?;
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, PairingError> {
        let version = *bytes.first().ok_or(PairingError::Truncated)?;
        if version != PAIRING_VERSION {
            return Err(PairingError::UnsupportedVersion(version));
        }
        if bytes.len() < MIN_BYTES {
            return Err(PairingError::Truncated);
        }
        let (body, check) = bytes.split_at(bytes.len() - CHECK_BYTES);
        if check != checksum(body) {
            return Err(PairingError::BadChecksum);
        }
        let mut r = Reader::new(&body[1..]);
        let secret = PairingSecret(Zeroizing::new(r.array::<16>().map_err(wire)?));
        let owner_root = LinkHash::from_bytes(r.array().map_err(wire)?);
        let url_len = usize::from(r.u8().map_err(wire)?);
        if url_len > MAX_URL_BYTES {
            return Err(PairingError::UrlTooLong);
        }
        if url_len > r.remaining() {
            return Err(PairingError::Truncated);
        }
        let url = r.fixed_slice(url_len).map_err(wire)?;
        r.finish().map_err(wire)?;
        let url = std::str::from_utf8(url).map_err(|_| PairingError::UrlInvalid)?;
        Self::from_parts(url, secret, owner_root)
    }

    /// The code as a QR code of Unicode half blocks (light on dark, for a terminal).
    pub fn to_qr_text(&self) -> Result<Zeroizing<String>, PairingError> {
        use qrcode::render::unicode::Dense1x2;
        let text = self.encode();
        let code = qrcode::QrCode::new(text.as_bytes()).map_err(|_| PairingError::QrTooLong)?;
        Ok(Zeroizing::new(
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .build(),
        ))
    }
}

fn checksum(body: &[u8]) -> [u8; CHECK_BYTES] {
    let digest = sha256_tagged(CHECK_DOMAIN, &[body]);
    [digest[0], digest[1], digest[2], digest[3]]
}

fn seal_with_check(body: Vec<u8>) -> Zeroizing<Vec<u8>> {
    let mut bytes = Zeroizing::new(body);
    let check = checksum(&bytes);
    bytes.extend_from_slice(&check);
    bytes
}

fn wire(e: WireError) -> PairingError {
    match e {
        WireError::Truncated => PairingError::Truncated,
        WireError::TooLong { .. } => PairingError::UrlTooLong,
        WireError::Trailing { count } => PairingError::TrailingBytes(count),
    }
}

impl fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairingCode")
            .field("server_url", &self.server_url)
            .field("secret", &self.secret)
            .field("owner_root", &self.owner_root)
            .finish()
    }
}

/// Test support: encodes arbitrary body bytes with a valid check, so tests can reach the
/// errors that lie behind the checksum.
#[doc(hidden)]
pub fn encode_raw_for_tests(body: &[u8]) -> String {
    codes::encode(&seal_with_check(body.to_vec())).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn round_trip() {
        let code = PairingCode::new(
            "https://porch.example:8443/base",
            LinkHash::from_bytes([7; 32]),
        )
        .unwrap();
        let text = code.encode();
        let back = PairingCode::parse(&text).unwrap();
        assert_eq!(back, code);
        assert_eq!(PairingCode::parse(&text.to_lowercase()).unwrap(), code);
        assert!(!format!("{code:?}").contains(&hex::encode(code.secret().expose())));
        let qr = code.to_qr_text().unwrap();
        assert!(qr.contains('▀') || qr.contains('▄'));
    }

    #[test]
    fn urls() {
        let root = LinkHash::ZERO;
        assert!(PairingCode::new("http://127.0.0.1:8080", root).is_ok());
        assert_eq!(
            PairingCode::new("ftp://x", root).unwrap_err(),
            PairingError::UrlNotHttp
        );
        assert_eq!(
            PairingCode::new("https://", root).unwrap_err(),
            PairingError::UrlInvalid
        );
        assert_eq!(
            PairingCode::new("https://a b", root).unwrap_err(),
            PairingError::UrlInvalid
        );
        let long = format!("https://{}", "a".repeat(MAX_URL_BYTES));
        assert_eq!(
            PairingCode::new(&long, root).unwrap_err(),
            PairingError::UrlTooLong
        );
    }
}
