//! Tokens, ids and the server's own secret. Tokens are 256-bit random values that are shown to
//! their holder once and stored only as SHA-256 hashes; a database reader learns nothing usable.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Length of a token in its base64url text form (32 bytes, no padding).
pub const TOKEN_TEXT_LEN: usize = 43;

/// A bearer secret and the hash the store keeps of it.
pub struct IssuedToken {
    pub text: Zeroizing<String>,
    pub hash: Vec<u8>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedToken(..)")
    }
}

pub fn issue_token() -> IssuedToken {
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::rng().fill_bytes(raw.as_mut());
    let text = Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_slice()));
    let hash = token_hash(&text);
    IssuedToken { text, hash }
}

/// The stored form of a token. Tokens are uniformly random, so a fast hash suffices.
pub fn token_hash(text: &str) -> Vec<u8> {
    Sha256::new()
        .chain_update(b"porchlight token\0")
        .chain_update(text.as_bytes())
        .finalize()
        .to_vec()
}

/// True if `text` could be a token we issued (so junk never reaches the store).
pub fn looks_like_token(text: &str) -> bool {
    text.len() == TOKEN_TEXT_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A random public identifier (sessions, activity entries): 128 bits, hex.
pub fn random_id() -> String {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

/// The stored form of a client device id.
pub fn device_hash(device_id: &str) -> Vec<u8> {
    Sha256::new()
        .chain_update(b"porchlight device\0")
        .chain_update(device_id.as_bytes())
        .finalize()
        .to_vec()
}

/// A client device id is 16 to 64 characters of `[A-Za-z0-9_-]`.
pub fn valid_device_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---- recovery codes ----

/// Crockford's base32: no i, l, o or u, so a code read aloud or off paper is unambiguous.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
pub const RECOVERY_CODES: usize = 10;

/// Ten codes of 16 characters from a 32-letter alphabet (80 bits each), grouped by four.
pub fn generate_recovery_codes() -> Vec<Zeroizing<String>> {
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code = Zeroizing::new(String::with_capacity(19));
            for i in 0..16 {
                if i > 0 && i % 4 == 0 {
                    code.push('-');
                }
                let idx = (rng.next_u32() % 32) as usize;
                code.push(char::from(RECOVERY_ALPHABET[idx]));
            }
            code
        })
        .collect()
}

/// The stored form of a recovery code, after folding case, dropping separators and reading
/// look-alikes as Crockford does (o as 0, i and l as 1), so `ABCD EFGH …` matches.
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    let folded: Zeroizing<String> = Zeroizing::new(
        code.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| match c.to_ascii_lowercase() {
                'o' => '0',
                'i' | 'l' => '1',
                other => other,
            })
            .collect(),
    );
    Sha256::new()
        .chain_update(b"porchlight recovery code\0")
        .chain_update(folded.as_bytes())
        .finalize()
        .to_vec()
}

// ---- the server secret ----

/// Marks a TOTP secret sealed at rest (and is its associated data).
const TOTP_SEALED_MAGIC: &[u8] = b"PLT1";
const TOTP_NONCE_BYTES: usize = 12;

/// A key only the server holds, for keyed hashes of sign-in names (so the store's lock-out
/// rows do not list email addresses). Nodes that share a database must share this key.
#[derive(Clone)]
pub struct ServerSecret(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

impl ServerSecret {
    pub fn random() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        Self(key)
    }

    /// Reads the key from `path`, creating it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> std::io::Result<Self> {
        load_or_create_key_file(path).map(Self)
    }

    /// A TOTP secret as it is stored: `"PLT1" ‖ nonce (12) ‖ AES-256-GCM(secret) ‖ tag (16)`
    /// under a key derived from this server's secret, so a copy of the database alone does not
    /// hold anyone's second factor.
    pub fn seal_totp(&self, secret: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let key = self.totp_key();
        let cipher = aes_gcm::Aes256Gcm::new(<&aes_gcm::Key<aes_gcm::Aes256Gcm>>::from(&*key));
        let mut nonce = [0u8; TOTP_NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: secret,
                    aad: TOTP_SEALED_MAGIC,
                },
            )
            // AES-GCM refuses only inputs of gigabytes; a TOTP secret is 20 bytes.
            .unwrap_or_default();
        [TOTP_SEALED_MAGIC, &nonce, &sealed].concat()
    }

    /// The TOTP secret `stored` holds: opened when sealed by [`Self::seal_totp`]; a secret
    /// stored before sealing existed is the raw bytes themselves. `None` if a sealed one does
    /// not open with this server's secret (the secret file was replaced, or the row altered).
    pub fn open_totp(&self, stored: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let sealed_len = TOTP_SEALED_MAGIC.len() + TOTP_NONCE_BYTES + 16;
        let Some(rest) = stored
            .strip_prefix(TOTP_SEALED_MAGIC)
            .filter(|_| stored.len() > sealed_len)
        else {
            return Some(Zeroizing::new(stored.to_vec()));
        };
        let (nonce, sealed) = rest.split_at(TOTP_NONCE_BYTES);
        let key = self.totp_key();
        let cipher = aes_gcm::Aes256Gcm::new(<&aes_gcm::Key<aes_gcm::Aes256Gcm>>::from(&*key));
        cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: sealed,
                    aad: TOTP_SEALED_MAGIC,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }

    fn totp_key(&self) -> Zeroizing<[u8; 32]> {
        self.derived_key(b"porchlight totp at rest v1\0")
    }

    /// A key for one use, named by `label`: keys for different uses are unrelated, so a value
    /// made for one can never stand for another.
    fn derived_key(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(label);
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The server's VAPID key pair for Web Push: derived, so nodes sharing the secret file
    /// share it, and browsers subscribed through one node are reached from any.
    pub fn vapid_key(&self) -> crate::push::VapidKey {
        (0u8..=u8::MAX)
            .find_map(|attempt| {
                let seed = self
                    .derived_key(&[b"porchlight vapid p-256 v1\0".as_slice(), &[attempt]].concat());
                crate::push::VapidKey::from_seed(&seed)
            })
            // Each attempt fails with probability about 2^-32; 256 in a row do not happen.
            .unwrap_or_else(|| unreachable!("no P-256 scalar in 256 derived seeds"))
    }

    /// The CSRF token of the session whose stored token hash is `session_token_hash`, hex.
    /// Derived, never stored: it lives exactly as long as the session, every node sharing the
    /// secret file computes the same one, and without the server's secret neither a database
    /// reader nor the holder of another session can make it.
    pub fn csrf_token(&self, session_token_hash: &[u8]) -> String {
        let key = self.derived_key(b"porchlight csrf token v1\0");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(session_token_hash);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The token an email made for `token_id` carries (base64url, like every token): derived,
    /// so the mail outbox keeps only the id, and a database reader cannot make the link.
    pub fn email_token(&self, token_id: &str) -> Zeroizing<String> {
        let key = self.derived_key(b"porchlight email token v1\0");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(token_id.as_bytes());
        Zeroizing::new(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// The sign-up code an email made for `token_id` carries: eight characters of the
    /// recovery-code alphabet (40 bits), shown as `ABCD-EFGH`. Guessing it is bounded by the
    /// few tries a sign-up allows; it is read off an email, so it is short.
    pub fn signup_code(&self, token_id: &str) -> Zeroizing<String> {
        let key = self.derived_key(b"porchlight sign-up code v1\0");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(token_id.as_bytes());
        let raw = Zeroizing::new(mac.finalize().into_bytes());
        let mut code = Zeroizing::new(String::with_capacity(9));
        for (i, byte) in raw.iter().take(8).enumerate() {
            if i == 4 {
                code.push('-');
            }
            let letter = RECOVERY_ALPHABET[usize::from(byte % 32)];
            code.push(char::from(letter.to_ascii_uppercase()));
        }
        code
    }

    /// The stored form of an emailed sign-up code, bound to its sign-up's enrolment token and
    /// keyed with the server's secret: forty bits would not survive a database reader with
    /// an unkeyed hash. Case, separators and look-alikes fold as for recovery codes.
    pub fn signup_code_hash(&self, enrolment_token_hash: &[u8], code: &str) -> Vec<u8> {
        let key = self.derived_key(b"porchlight sign-up code at rest v1\0");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(enrolment_token_hash);
        mac.update(&recovery_code_hash(code));
        mac.finalize().into_bytes().to_vec()
    }

    /// The keyed hash a sign-in name (a normalised email, valid or not) is counted under.
    pub fn name_key(&self, email: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(b"porchlight sign-in name\0");
        mac.update(email.trim().to_lowercase().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// HMAC-SHA256 of a webhook body under a configured key, hex.
    pub fn sign_webhook(key: &[u8], body: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// HMAC takes keys of any length; its constructor cannot fail.
#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    unreachable!("HMAC accepts keys of any length")
}

/// 32 random bytes kept in a 0600 file at `path`: read if it exists, made (and fsynced) if
/// not. A file of another length is refused rather than replaced: it is someone's key.
pub fn load_or_create_key_file(path: &Path) -> std::io::Result<Zeroizing<[u8; 32]>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} must hold 32 bytes", path.display()),
                )
            })?;
            Ok(Zeroizing::new(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(key.as_mut());
            let mut file = std::fs::OpenOptions::new();
            file.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
            let mut f = file.open(path)?;
            f.write_all(key.as_ref())?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_distinct_and_well_formed() {
        let a = issue_token();
        let b = issue_token();
        assert_ne!(*a.text, *b.text);
        assert!(looks_like_token(&a.text));
        assert_eq!(a.hash, token_hash(&a.text));
        assert!(!looks_like_token("short"));
        assert_eq!(format!("{a:?}"), "IssuedToken(..)");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_is_handled(raw in ".{0,80}") {
            // Never panics, and only token-shaped text is taken for a token.
            if looks_like_token(&raw) {
                proptest::prop_assert_eq!(raw.len(), TOKEN_TEXT_LEN);
            }
            proptest::prop_assert_eq!(recovery_code_hash(&raw).len(), 32);
            let _ = valid_device_id(&raw);
        }
    }

    #[test]
    fn recovery_codes_match_loosely_typed() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let c = &codes[0];
        assert_eq!(c.len(), 19);
        let shouted = c.to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_hash(c), recovery_code_hash(&shouted));
        assert_ne!(recovery_code_hash(c), recovery_code_hash(&codes[1]));
    }

    #[test]
    fn totp_secrets_are_sealed_at_rest() {
        let server = ServerSecret::random();
        let secret = [7u8; 20];
        let stored = server.seal_totp(&secret);
        assert!(!stored.windows(secret.len()).any(|w| w == secret));
        assert_ne!(server.seal_totp(&secret), stored, "a fresh nonce each time");
        assert_eq!(server.open_totp(&stored).unwrap().as_slice(), &secret);
        // Another server's secret, or any changed byte: it does not open.
        assert!(ServerSecret::random().open_totp(&stored).is_none());
        for i in 4..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 1;
            assert!(server.open_totp(&bad).is_none(), "byte {i}");
        }
        // A secret stored before sealing existed is read as it is.
        assert_eq!(server.open_totp(&secret).unwrap().as_slice(), &secret);
    }

    #[test]
    fn csrf_tokens_are_per_session_and_per_server() {
        let server = ServerSecret::random();
        let a = token_hash("session a");
        let token = server.csrf_token(&a);
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(server.csrf_token(&a), token, "derived, so stable");
        assert_ne!(server.csrf_token(&token_hash("session b")), token);
        assert_ne!(ServerSecret::random().csrf_token(&a), token);
        // Not the sign-in name key of the same bytes: the derivations are separate.
        assert_ne!(hex::encode(server.name_key("session a")), token);
    }

    #[test]
    fn server_secret_persists_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let a = ServerSecret::load_or_create(&path).unwrap();
        let b = ServerSecret::load_or_create(&path).unwrap();
        assert_eq!(a.name_key("X@Example.com "), b.name_key("x@example.com"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        std::fs::write(&path, b"short").unwrap();
        assert!(ServerSecret::load_or_create(&path).is_err());
    }

    #[test]
    fn sign_up_codes_are_short_typable_and_bound_to_their_sign_up() {
        let secret = ServerSecret::random();
        let code = secret.signup_code("id-1");
        assert_eq!(code.len(), 9);
        assert_eq!(code.as_bytes()[4], b'-');
        assert!(
            code.chars()
                .all(|c| c == '-' || RECOVERY_ALPHABET.contains(&(c.to_ascii_lowercase() as u8)))
        );
        assert_eq!(*code, *secret.signup_code("id-1"));
        assert_ne!(*code, *secret.signup_code("id-2"));
        let stored = secret.signup_code_hash(b"enrolment", &code);
        // Typed in lower case, without the dash, with spaces: the same code.
        let typed = format!(" {} ", code.replace('-', "").to_lowercase());
        assert_eq!(secret.signup_code_hash(b"enrolment", &typed), stored);
        // Bound to its sign-up and to this server's secret.
        assert_ne!(secret.signup_code_hash(b"another", &code), stored);
        assert_ne!(
            ServerSecret::random().signup_code_hash(b"enrolment", &code),
            stored
        );
        assert!(looks_like_token(&secret.email_token("id-1")));
    }
}
