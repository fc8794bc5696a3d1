//! C2SP `signed-note` (<https://c2sp.org/signed-note>) with Ed25519 keys, in the form
//! `golang.org/x/mod/sumdb/note` writes and reads.
//!
//! ```text
//! <text, ending in a newline>
//!
//! — <key name> <base64(key id (4 bytes, big-endian) ‖ signature)>
//! ```
//!
//! The parser is strict: the whole message is at most [`MAX_NOTE_BYTES`], valid UTF-8 with no
//! control character but the newline; the text (up to the last blank line) at most
//! [`MAX_TEXT_BYTES`]; then one to [`MAX_SIGNATURES`] well-formed signature lines, each key
//! (name and id) at most once, base64 in its one canonical form. So an accepted note has one
//! encoding, and [`SignedNote::to_bytes`] gives back the bytes it was parsed from.
//!
//! Verification follows the spec: a signature whose key name *and* id match a known key must
//! verify (`verify_strict`) or the whole note is refused; signatures by other keys are kept
//! but ignored; at least one known key must have signed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Largest signed note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Largest note text accepted or signed, in bytes (the final newline included).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Most signature lines accepted on one note (C2SP asks verifiers to take at least 16).
pub const MAX_SIGNATURES: usize = 32;
/// Signature type byte of Ed25519 in key ids and verifier keys.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;

/// The start of every signature line: an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Bytes of the key id at the start of every signature.
const KEY_ID_LEN: usize = 4;

/// Why a note cannot be read, made, or believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    #[error("the signed note is {len} bytes; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("the note text is {len} bytes; at most {max} are accepted")]
    TextTooLarge { len: usize, max: usize },
    #[error("the signed note is not valid UTF-8")]
    NotUtf8,
    #[error("the note has a control character other than newline")]
    ControlCharacter,
    #[error("the note text must be non-empty and end with a newline")]
    TextNotNewlineTerminated,
    #[error("the note has no blank line before its signatures")]
    MissingBlankLine,
    #[error("the note has no signature lines")]
    NoSignatures,
    #[error("the note's last signature line does not end with a newline")]
    MissingFinalNewline,
    #[error("a line of the signature block is not `— <key name> <base64>`")]
    BadSignatureLine,
    #[error("a key name is empty or has a space, a plus sign or a control character")]
    BadKeyName,
    #[error("a signature is not canonical base64")]
    BadBase64,
    #[error("a signature is shorter than a key id and one byte")]
    ShortSignature,
    #[error("the note has more than {max} signatures")]
    TooManySignatures { max: usize },
    #[error("the note is signed twice by the same key")]
    DuplicateSignature,
    #[error("two different verifier keys share a key name and id")]
    AmbiguousVerifier,
    #[error("a signature by a known key does not verify")]
    BadSignature,
    #[error("the note is signed under a known key name but with an unknown key id")]
    UnknownKeyId,
    #[error("the note is not signed by any known key")]
    NoKnownSignature,
}

/// Why a verifier key string (`<name>+<key id hex>+<base64(0x01 ‖ public key)>`) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("a verifier key is `<name>+<8 lowercase hex digits>+<base64 key>`")]
    Malformed,
    #[error("a key name is empty or has a space, a plus sign or a control character")]
    BadKeyName,
    #[error("the verifier key's data is not canonical base64")]
    BadBase64,
    #[error("signature type {0:#04x} is not supported; only Ed25519 (0x01) is")]
    UnsupportedAlgorithm(u8),
    #[error("an Ed25519 verifier key holds 33 bytes (type and key), not {0}")]
    BadKeyLength(usize),
    #[error("the key id does not match the key name and public key")]
    KeyIdMismatch,
    #[error("the public key is not a valid Ed25519 key")]
    BadPublicKey,
}

/// A key's name: non-empty UTF-8 with no Unicode space, no `+` and no control character.
/// C2SP recommends a schema-less URL, such as `porch.example/log`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    pub fn new(name: &str) -> Result<Self, KeyError> {
        if is_valid_key_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(KeyError::BadKeyName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The 4-byte id that, with its name, names a key on a signature line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    pub fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    /// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[..4]`, the id C2SP assigns an Ed25519 key.
    pub fn ed25519(name: &KeyName, key: &VerifyingKey) -> Self {
        let digest = Sha256::new()
            .chain_update(name.as_str())
            .chain_update([b'\n', ED25519_SIGNATURE_TYPE])
            .chain_update(key.as_bytes())
            .finalize();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self(id)
    }
}

impl fmt::Display for KeyId {
    /// Eight lowercase hex digits, as in a verifier key string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", u32::from_be_bytes(self.0))
    }
}

/// An Ed25519 key that signs notes under a name (the log's, or a witness's).
pub struct NoteSigner {
    name: KeyName,
    id: KeyId,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    pub fn new(name: KeyName, key: SigningKey) -> Self {
        let id = KeyId::ed25519(&name, &key.verifying_key());
        Self { name, id, key }
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The matching verifier, to hand to clients (as its [`NoteVerifier::to_vkey`] string).
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// This key's signature over `text` (which must be a valid note text).
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut bytes = Vec::with_capacity(KEY_ID_LEN + 64);
        bytes.extend_from_slice(self.id.as_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(NoteSignature {
            name: self.name.clone(),
            id: self.id,
            bytes,
        })
    }
}

/// A known Ed25519 key that notes may be signed by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: KeyName,
    id: KeyId,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The verifier for `key` under `name`; refuses keys of small order.
    pub fn new(name: KeyName, key: VerifyingKey) -> Result<Self, KeyError> {
        if key.is_weak() {
            return Err(KeyError::BadPublicKey);
        }
        let id = KeyId::ed25519(&name, &key);
        Ok(Self { name, id, key })
    }

    /// Parses `<name>+<key id as 8 lowercase hex digits>+<base64(0x01 ‖ 32-byte key)>`, the
    /// verifier key string of `golang.org/x/mod/sumdb/note`; the id must match the key.
    pub fn parse(vkey: &str) -> Result<Self, KeyError> {
        let (name, rest) = vkey.split_once('+').ok_or(KeyError::Malformed)?;
        let (id_hex, data) = rest.split_once('+').ok_or(KeyError::Malformed)?;
        let name = KeyName::new(name)?;
        let id = parse_key_id_hex(id_hex).ok_or(KeyError::Malformed)?;
        let data = BASE64.decode(data).map_err(|_| KeyError::BadBase64)?;
        let (&alg, key) = data.split_first().ok_or(KeyError::BadKeyLength(0))?;
        if alg != ED25519_SIGNATURE_TYPE {
            return Err(KeyError::UnsupportedAlgorithm(alg));
        }
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| KeyError::BadKeyLength(data.len()))?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| KeyError::BadPublicKey)?;
        let verifier = Self::new(name, key)?;
        if verifier.id != id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(verifier)
    }

    /// The verifier key string that [`NoteVerifier::parse`] reads.
    pub fn to_vkey(&self) -> String {
        let mut data = Vec::with_capacity(33);
        data.push(ED25519_SIGNATURE_TYPE);
        data.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, self.id, BASE64.encode(data))
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> KeyId {
        self.id
    }

    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    fn matches(&self, signature: &NoteSignature) -> bool {
        self.id == signature.id && self.name == signature.name
    }

    fn verify(&self, text: &str, signature: &NoteSignature) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature.signature()) else {
            return false;
        };
        self.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
            .is_ok()
    }
}

fn parse_key_id_hex(hex: &str) -> Option<KeyId> {
    if hex.len() != 8 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let id = u32::from_str_radix(hex, 16).ok()?;
    Some(KeyId(id.to_be_bytes()))
}

/// One signature line: the key's name and id and the signature bytes (id included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: KeyName,
    id: KeyId,
    /// `key id ‖ signature`, as base64-encoded on the line.
    bytes: Vec<u8>,
}

impl NoteSignature {
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The signature proper, after the key id.
    pub fn signature(&self) -> &[u8] {
        self.bytes.get(KEY_ID_LEN..).unwrap_or_default()
    }

    fn write_line(&self, out: &mut String) {
        out.push_str(SIG_PREFIX);
        out.push_str(self.name.as_str());
        out.push(' ');
        out.push_str(&BASE64.encode(&self.bytes));
        out.push('\n');
    }

    fn parse_line(line: &str) -> Result<Self, NoteError> {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::BadSignatureLine)?;
        let (name, b64) = rest.split_once(' ').ok_or(NoteError::BadSignatureLine)?;
        let name = KeyName::new(name).map_err(|_| NoteError::BadKeyName)?;
        let bytes = BASE64.decode(b64).map_err(|_| NoteError::BadBase64)?;
        let id: [u8; KEY_ID_LEN] = bytes
            .get(..KEY_ID_LEN)
            .and_then(|id| id.try_into().ok())
            .ok_or(NoteError::ShortSignature)?;
        if bytes.len() <= KEY_ID_LEN {
            return Err(NoteError::ShortSignature);
        }
        Ok(Self {
            name,
            id: KeyId(id),
            bytes,
        })
    }
}

/// A note text with its signature lines, well-formed but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Signs `text` with each of `signers` (at least one, all different keys).
    pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<Self, NoteError> {
        check_text(text)?;
        let signatures = signers
            .iter()
            .map(|s| s.sign(text))
            .collect::<Result<Vec<_>, _>>()?;
        let note = Self {
            text: text.to_owned(),
            signatures,
        };
        note.check_signature_set()?;
        Ok(note)
    }

    /// Adds (or replaces) the signature of `signer`, as a witness cosigning a checkpoint does.
    pub fn add_signature(&mut self, signer: &NoteSigner) -> Result<(), NoteError> {
        let signature = signer.sign(&self.text)?;
        let same_key = |s: &NoteSignature| s.name == signature.name && s.id == signature.id;
        if let Some(i) = self.signatures.iter().position(same_key) {
            self.signatures[i] = signature;
        } else if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        } else {
            self.signatures.push(signature);
        }
        Ok(())
    }

    /// Parses a signed note strictly (see the module documentation); verifies nothing.
    pub fn parse(msg: &[u8]) -> Result<Self, NoteError> {
        if msg.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge {
                len: msg.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        let msg = std::str::from_utf8(msg).map_err(|_| NoteError::NotUtf8)?;
        check_chars(msg)?;
        let split = msg.rfind("\n\n").ok_or(NoteError::MissingBlankLine)?;
        let (text, sigs) = (&msg[..split + 1], &msg[split + 2..]);
        check_text(text)?;
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::MissingFinalNewline);
        };
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            signatures.push(NoteSignature::parse_line(line)?);
        }
        let note = Self {
            text: text.to_owned(),
            signatures,
        };
        note.check_signature_set()?;
        Ok(note)
    }

    /// The note exactly as it is sent: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode().into_bytes()
    }

    /// [`SignedNote::to_bytes`] as a string.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 120 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for signature in &self.signatures {
            signature.write_line(&mut out);
        }
        out
    }

    /// The text, which must not be acted on before [`SignedNote::verify`] succeeds.
    pub fn unverified_text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Checks the signatures against the known keys: every signature whose key name and id
    /// match a verifier must verify, and at least one must. Others are ignored.
    pub fn verify(self, verifiers: &[NoteVerifier]) -> Result<VerifiedNote, NoteError> {
        let mut verified = Vec::new();
        for (i, signature) in self.signatures.iter().enumerate() {
            let mut known = verifiers.iter().filter(|v| v.matches(signature));
            let Some(verifier) = known.next() else {
                continue;
            };
            if known.any(|other| other.key != verifier.key) {
                return Err(NoteError::AmbiguousVerifier);
            }
            if !verifier.verify(&self.text, signature) {
                return Err(NoteError::BadSignature);
            }
            verified.push(i);
        }
        if verified.is_empty() {
            let known_name = self
                .signatures
                .iter()
                .any(|s| verifiers.iter().any(|v| v.name == s.name));
            return Err(if known_name {
                NoteError::UnknownKeyId
            } else {
                NoteError::NoKnownSignature
            });
        }
        Ok(VerifiedNote {
            note: self,
            verified,
        })
    }

    fn check_signature_set(&self) -> Result<(), NoteError> {
        if self.signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        for (i, a) in self.signatures.iter().enumerate() {
            if self.signatures[..i]
                .iter()
                .any(|b| a.name == b.name && a.id == b.id)
            {
                return Err(NoteError::DuplicateSignature);
            }
        }
        Ok(())
    }
}

/// A note at least one known key has signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    note: SignedNote,
    verified: Vec<usize>,
}

impl VerifiedNote {
    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.note.text
    }

    /// The signatures that verified under known keys (others on the note were ignored).
    pub fn verified_signatures(&self) -> impl Iterator<Item = &NoteSignature> {
        self.verified
            .iter()
            .filter_map(|&i| self.note.signatures.get(i))
    }

    /// The whole note, every signature included.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    pub fn into_note(self) -> SignedNote {
        self.note
    }
}

/// Parses and verifies a signed note in one step.
pub fn open_note(msg: &[u8], verifiers: &[NoteVerifier]) -> Result<VerifiedNote, NoteError> {
    SignedNote::parse(msg)?.verify(verifiers)
}

/// A note text: non-empty, newline-terminated, no other control character, not too large.
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(NoteError::TextTooLarge {
            len: text.len(),
            max: MAX_TEXT_BYTES,
        });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotNewlineTerminated);
    }
    check_chars(text)
}

pub(crate) fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::new(
            KeyName::new(name).unwrap(),
            SigningKey::from_bytes(&[seed; 32]),
        )
    }

    #[test]
    fn key_names() {
        for bad in ["", "a b", "a+b", "a\u{a0}b", "a\tb", "a\u{7f}"] {
            assert_eq!(KeyName::new(bad), Err(KeyError::BadKeyName), "{bad:?}");
        }
        assert!(KeyName::new("porch.example/log").is_ok());
    }

    #[test]
    fn vkey_round_trips() {
        let s = signer("porch.example/log", 9);
        let vkey = s.verifier().to_vkey();
        assert_eq!(NoteVerifier::parse(&vkey).unwrap(), s.verifier());
        assert!(vkey.starts_with(&format!("porch.example/log+{}+A", s.key_id())));
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = signer("a", 1);
        let shown = format!("{s:?}");
        assert!(shown.contains("NoteSigner"));
        assert!(!shown.contains("0101"));
        assert!(!shown.contains("[1, 1"));
    }

    #[test]
    fn signing_refuses_bad_texts() {
        let s = signer("a", 1);
        assert_eq!(
            s.sign("no newline").unwrap_err(),
            NoteError::TextNotNewlineTerminated
        );
        assert_eq!(s.sign("").unwrap_err(), NoteError::TextNotNewlineTerminated);
        assert_eq!(s.sign("a\tb\n").unwrap_err(), NoteError::ControlCharacter);
        assert_eq!(
            SignedNote::sign("x\n", &[]).unwrap_err(),
            NoteError::NoSignatures
        );
        assert_eq!(
            SignedNote::sign("x\n", &[&s, &s]).unwrap_err(),
            NoteError::DuplicateSignature
        );
    }

    #[test]
    fn add_signature_replaces_the_same_key() {
        let a = signer("a", 1);
        let b = signer("b", 2);
        let mut note = SignedNote::sign("x\n", &[&a]).unwrap();
        note.add_signature(&b).unwrap();
        note.add_signature(&a).unwrap();
        assert_eq!(note.signatures().len(), 2);
        let verified = note.verify(&[a.verifier(), b.verifier()]).unwrap();
        assert_eq!(verified.verified_signatures().count(), 2);
    }
}
