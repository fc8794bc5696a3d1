//! The recovery key: a member of every chain that lives on paper. Its printed code holds
//! 256 random bits; HKDF-SHA256 derives from them both an Ed25519 key (to sign a chain link
//! that adds a new device) and an X25519 age identity (to open every clip).
//!
//! Code: `secret (32) ‖ check (3)` in Crockford base32, 56 characters in 14 groups of four,
//! where `check` = the first 3 bytes of SHA-256(`"porchlight recovery code v1\0"` ‖ secret).

use std::fmt;

use age_core::format::{FileKey, Stanza};
use zeroize::Zeroizing;

use crate::codes::{self, TextError};
use crate::keys::{DevicePublic, DeviceSecret, random_bytes};
use crate::wire::{hkdf_sha256, sha256_tagged};

const CHECK_DOMAIN: &[u8] = b"porchlight recovery code v1\0";
const HKDF_SALT: &[u8] = b"porchlight recovery key v1";
const INFO_ED25519: &[u8] = b"ed25519 signing key";
const INFO_X25519: &[u8] = b"x25519 age identity";
const SECRET_BYTES: usize = 32;
const CHECK_BYTES: usize = 3;
/// Characters in a code, without dashes.
pub const RECOVERY_CODE_CHARS: usize = (SECRET_BYTES + CHECK_BYTES) * 8 / 5;

/// Why text is not a recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecoveryCodeError {
    #[error("character {position} is not part of a recovery code")]
    InvalidCharacter { position: usize },
    #[error("a recovery code has {RECOVERY_CODE_CHARS} characters, this has {found}")]
    WrongLength { found: usize },
    #[error("the recovery code has a typo (its check characters do not match)")]
    BadChecksum,
}

/// The printable recovery code. Shown once, to be written down; no `Display`, and `Debug`
/// is redacted, so it cannot reach a log by accident.
#[derive(Clone)]
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    /// The code as printed: `XXXX-XXXX-…` (14 groups).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

/// The keys derived from a recovery code. Signs chain links and opens clips like a device
/// ([`Self::as_device`], and it is an [`age::Identity`]).
#[derive(Clone)]
pub struct RecoveryKey {
    device: DeviceSecret,
}

fn check(secret: &[u8; SECRET_BYTES]) -> [u8; CHECK_BYTES] {
    let digest = sha256_tagged(CHECK_DOMAIN, &[secret]);
    [digest[0], digest[1], digest[2]]
}

fn derive(secret: &[u8; SECRET_BYTES], info: &[u8]) -> Zeroizing<[u8; 32]> {
    hkdf_sha256(HKDF_SALT, secret, info)
}

impl RecoveryKey {
    /// A new recovery secret from the OS CSPRNG, its keys, and the code to print.
    pub fn generate() -> (RecoveryKey, RecoveryCode) {
        loop {
            let secret = random_bytes::<SECRET_BYTES>();
            if let Some(key) = Self::from_secret(&secret) {
                let mut payload = Zeroizing::new(secret.to_vec());
                payload.extend_from_slice(&check(&secret));
                let text = codes::encode(&payload);
                return (key, RecoveryCode(codes::grouped(&text, 4)));
            }
        }
    }

    /// Reads a code as typed: case, spaces, dashes and look-alikes (`O`/`0`, `I`/`L`/`1`)
    /// are tolerated; a typo is caught by the check characters.
    pub fn from_code(code: &str) -> Result<RecoveryKey, RecoveryCodeError> {
        let bytes = codes::decode(code).map_err(|e| match e {
            TextError::InvalidCharacter { position } => {
                RecoveryCodeError::InvalidCharacter { position }
            }
            TextError::NonCanonical => RecoveryCodeError::WrongLength {
                found: count_code_chars(code),
            },
        })?;
        if bytes.len() != SECRET_BYTES + CHECK_BYTES {
            return Err(RecoveryCodeError::WrongLength {
                found: count_code_chars(code),
            });
        }
        let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
        secret.copy_from_slice(&bytes[..SECRET_BYTES]);
        if bytes[SECRET_BYTES..] != check(&secret) {
            return Err(RecoveryCodeError::BadChecksum);
        }
        // The derived keys fail the public-key checks with negligible probability; such a
        // code is never printed (generate draws again), so reading one is a typo.
        Self::from_secret(&secret).ok_or(RecoveryCodeError::BadChecksum)
    }

    fn from_secret(secret: &[u8; SECRET_BYTES]) -> Option<RecoveryKey> {
        let ed = derive(secret, INFO_ED25519);
        let x = derive(secret, INFO_X25519);
        DeviceSecret::from_raw(&ed, &x)
            .ok()
            .map(|device| RecoveryKey { device })
    }

    /// The public keys that go in the chain's genesis link.
    pub fn public(&self) -> DevicePublic {
        self.device.public()
    }

    /// The recovery key as a signer of chain links (and holder of an age identity).
    pub fn as_device(&self) -> &DeviceSecret {
        &self.device
    }
}

fn count_code_chars(code: &str) -> usize {
    code.chars()
        .filter(|c| *c != '-' && !c.is_ascii_whitespace())
        .count()
}

impl age::Identity for RecoveryKey {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        self.device.unwrap_stanza(stanza)
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryKey")
            .field("public", self.device.public_ref())
            .field("secret", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn code_shape() {
        let (key, code) = RecoveryKey::generate();
        let text = code.expose();
        assert_eq!(RECOVERY_CODE_CHARS, 56);
        assert_eq!(text.len(), 56 + 13);
        assert!(text.split('-').all(|g| g.len() == 4));
        assert_eq!(RecoveryKey::from_code(text).unwrap().public(), key.public());
        assert!(!format!("{code:?}").contains(&text[..4]));
        assert!(format!("{key:?}").contains("[redacted]"));
    }

    #[test]
    fn derivation_is_pinned() {
        // A fixed secret must always give the same keys: changing the derivation would
        // lock every account out of its recovery key.
        let secret = [0x42u8; 32];
        let key = RecoveryKey::from_secret(&secret).unwrap();
        let mut payload = secret.to_vec();
        payload.extend_from_slice(&check(&secret));
        let code = codes::grouped(&codes::encode(&payload), 4);
        assert_eq!(
            RecoveryKey::from_code(&code).unwrap().public(),
            key.public()
        );
        assert_eq!(code.as_str(), PINNED_CODE);
        assert_eq!(key.public().sign_hex(), PINNED_SIGN);
        assert_eq!(key.public().age_string(), PINNED_AGE);
    }

    // Computed independently (Python `cryptography`: HKDF-SHA256, Ed25519, X25519; BIP-173
    // Bech32; RFC 4648 base32 mapped to Crockford's alphabet).
    const PINNED_CODE: &str =
        "8914-4GJ2-8914-4GJ2-8914-4GJ2-8914-4GJ2-8914-4GJ2-8914-4GJ2-8915-SXSQ";
    const PINNED_SIGN: &str = "2f00c35b15178253afcfbd9732b822d1bc480c51674428a074bea6a4022ef243";
    const PINNED_AGE: &str = "age1kx8w98f9a2956mjtf3vj5vdunf270nskxe4ac4dpnrun3f82w34s9js6kf";
}
