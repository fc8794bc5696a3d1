//! A device's end-to-end keys and its trust in the account's device chain, kept in the home
//! folder beside the session (0600 files in the 0700 folder, as [`crate::Home`] keeps them).
//!
//! - `device.key`: this device's Ed25519 and X25519 secret keys (the crypto crate's key file).
//!   Made once, on the device; only the public half ever leaves it.
//! - `chain.json`: the **pin** — the account's root (the hash of chain link 0) — and the
//!   highest link this home has verified, `(seq, hash)`. Every chain the server serves later
//!   must start at that root and contain that link, or it is refused (rollback, fork).
//!
//! The root is pinned the first time this home sees the chain (trust on first use): by the
//! first device when it signs link 0, by a later device when it signs in (the owner compares
//! its key fingerprint before approving it), or by the recovery code, whose key link 0 names.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{
    ChainBuilder, ChainOp, DevicePublic, DeviceSecret, Link, LinkHash, Name, RecoveryCode,
    RecoveryKey, VerifiedChain, verify_chain,
};
use porchlight_proto::{self as proto, ErrorCode};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::e2e_error::E2eError;
use crate::files::PrivateDir;
use crate::home::{Home, HomeError, StoredSession};

/// This device's secret keys.
pub const DEVICE_KEY_FILE: &str = "device.key";
/// The pinned root and the highest link seen.
pub const TRUST_FILE: &str = "chain.json";
const FORMAT_VERSION: u32 = 1;
/// How often an append is tried again when another device appended first.
const APPEND_ATTEMPTS: usize = 3;

/// What this home trusts about the account's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    pub server_url: String,
    pub account_id: String,
    /// The hash of link 0.
    pub root: LinkHash,
    /// `(seq, hash)` of the highest link verified so far.
    pub seen: (u64, LinkHash),
}

impl Trust {
    /// Trust in `chain` (its root and its head) for the session's server and account.
    fn at(session: &StoredSession, chain: &VerifiedChain) -> Self {
        Self {
            server_url: session.server_url.clone(),
            account_id: session.account_id.clone(),
            root: chain.root(),
            seen: chain.position(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    version: u32,
    server_url: String,
    account_id: String,
    root: String,
    seen_seq: u64,
    seen_hash: String,
}

/// A chain that verified from this home's pin, and the links it is made of.
#[derive(Debug, Clone)]
pub struct CheckedChain {
    pub chain: VerifiedChain,
    pub links: Vec<Link>,
    /// This verification pinned the root (the first time this home saw the chain).
    pub pinned_now: bool,
}

/// What signing in did to this device's keys.
#[derive(Debug)]
pub struct Enrolment {
    /// The server's record of this device.
    pub device: proto::DeviceInfo,
    pub public: DevicePublic,
    pub fingerprint: String,
    pub chain: CheckedChain,
    /// Whether the verified chain names this device (so clips are sealed to it).
    pub in_chain: bool,
    /// Set when this device started the chain: the account's key recovery code, to be shown
    /// once and written down.
    pub recovery_code: Option<RecoveryCode>,
}

/// The key material and chain pin in a home folder.
#[derive(Debug, Clone)]
pub struct Vault {
    dir: PrivateDir,
}

impl Vault {
    pub fn open(home: &Home) -> Result<Self, HomeError> {
        Ok(Self {
            dir: PrivateDir::open(home.dir())?,
        })
    }

    pub(crate) fn private_dir(&self) -> &PrivateDir {
        &self.dir
    }

    /// This device's keys, if it has made them.
    pub fn device_secret(&self) -> Result<Option<DeviceSecret>, E2eError> {
        let Some(bytes) = self.dir.read(DEVICE_KEY_FILE)? else {
            return Ok(None);
        };
        DeviceSecret::from_bytes(&bytes)
            .map(Some)
            .map_err(|source| E2eError::KeyFile {
                path: self.dir.path(DEVICE_KEY_FILE),
                source,
            })
    }

    /// This device's keys, or [`E2eError::NoDeviceKeys`].
    pub fn require_device_secret(&self) -> Result<DeviceSecret, E2eError> {
        self.device_secret()?.ok_or(E2eError::NoDeviceKeys)
    }

    /// This device's keys, made and saved on first use. Two processes starting at once agree
    /// on one key: the file is created without replacing one that appeared meanwhile.
    pub fn device_secret_or_create(&self) -> Result<DeviceSecret, E2eError> {
        if let Some(secret) = self.device_secret()? {
            return Ok(secret);
        }
        let secret = DeviceSecret::generate();
        if self.dir.write_new(DEVICE_KEY_FILE, &secret.to_bytes())? {
            return Ok(secret);
        }
        self.require_device_secret()
    }

    pub fn trust(&self) -> Result<Option<Trust>, E2eError> {
        let Some(file) = self.dir.read_json::<TrustFile>(TRUST_FILE)? else {
            return Ok(None);
        };
        let damaged = || E2eError::Home(self.dir.damaged(TRUST_FILE));
        if file.version != FORMAT_VERSION {
            return Err(damaged());
        }
        let root = LinkHash::from_hex(&file.root).map_err(|_| damaged())?;
        let seen_hash = LinkHash::from_hex(&file.seen_hash).map_err(|_| damaged())?;
        Ok(Some(Trust {
            server_url: file.server_url,
            account_id: file.account_id,
            root,
            seen: (file.seen_seq, seen_hash),
        }))
    }

    fn save_trust(&self, trust: &Trust) -> Result<(), E2eError> {
        let file = TrustFile {
            version: FORMAT_VERSION,
            server_url: trust.server_url.clone(),
            account_id: trust.account_id.clone(),
            root: trust.root.to_hex(),
            seen_seq: trust.seen.0,
            seen_hash: trust.seen.1.to_hex(),
        };
        Ok(self.dir.write_json(TRUST_FILE, &file)?)
    }

    /// The pin, if it belongs to the session's account; an error if it belongs to another.
    fn trust_for(&self, session: &StoredSession) -> Result<Option<Trust>, E2eError> {
        match self.trust()? {
            Some(trust) if trust.account_id != session.account_id => Err(E2eError::OtherAccount {
                pinned: trust.account_id,
                account: session.account_id.clone(),
            }),
            trust => Ok(trust),
        }
    }

    /// Fetches the account's chain and verifies it from the pin, refusing a rollback or a
    /// fork; pins the root if this home has none yet. Remembers the new highest link.
    pub async fn verified_chain(
        &self,
        client: &Client,
        session: &StoredSession,
    ) -> Result<CheckedChain, E2eError> {
        let trust = self.trust_for(session)?;
        let links = fetch_links(client).await?;
        self.verify_and_remember(session, links, trust)
    }

    fn verify_and_remember(
        &self,
        session: &StoredSession,
        links: Vec<Link>,
        trust: Option<Trust>,
    ) -> Result<CheckedChain, E2eError> {
        let (root, seen) = match &trust {
            Some(trust) => (trust.root, Some(trust.seen)),
            None => (links.first().ok_or(E2eError::NoChain)?.hash(), None),
        };
        let chain = verify_chain(&links, &root, seen)?;
        if seen != Some(chain.position()) {
            self.save_trust(&Trust::at(session, &chain))?;
        }
        Ok(CheckedChain {
            chain,
            links,
            pinned_now: trust.is_none(),
        })
    }

    /// Starts the account's chain: link 0 names this device and a fresh recovery key, whose
    /// code is returned to be shown once. Pins the new root.
    pub async fn start_chain(
        &self,
        client: &Client,
        session: &StoredSession,
        device: &DeviceSecret,
        name: Name,
    ) -> Result<(CheckedChain, RecoveryCode), E2eError> {
        self.trust_for(session)?;
        let (recovery, code) = RecoveryKey::generate();
        let builder = ChainBuilder::genesis(device, name, recovery.public())?;
        client.append_chain(&encode_links(builder.links())).await?;
        let (chain, links) = builder.into_parts();
        self.save_trust(&Trust::at(session, &chain))?;
        let checked = CheckedChain {
            chain,
            links,
            pinned_now: true,
        };
        Ok((checked, code))
    }

    /// Signs the link `make_op` asks for on top of the verified chain and posts it. If another
    /// device appended first, the chain is fetched, verified and `make_op` asked again.
    pub async fn append(
        &self,
        client: &Client,
        session: &StoredSession,
        signer: &DeviceSecret,
        mut make_op: impl FnMut(&VerifiedChain) -> Result<ChainOp, E2eError>,
    ) -> Result<CheckedChain, E2eError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let CheckedChain {
                mut chain,
                mut links,
                pinned_now,
            } = self.verified_chain(client, session).await?;
            let op = make_op(&chain)?;
            let link = chain.append(op, signer).map_err(E2eError::Refused)?;
            match client
                .append_chain(&encode_links(std::slice::from_ref(&link)))
                .await
            {
                Ok(_) => {
                    links.push(link);
                    self.save_trust(&Trust::at(session, &chain))?;
                    return Ok(CheckedChain {
                        chain,
                        links,
                        pinned_now,
                    });
                }
                Err(e) if e.code() == Some(ErrorCode::Conflict) && attempt < APPEND_ATTEMPTS => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Verifies the chain for a device restored from the recovery code: link 0 must name
    /// `recovery` as the account's recovery key, and its hash becomes (or must equal) the pin.
    pub async fn pin_by_recovery(
        &self,
        client: &Client,
        session: &StoredSession,
        recovery: &RecoveryKey,
    ) -> Result<CheckedChain, E2eError> {
        let trust = self.trust_for(session)?;
        let links = fetch_links(client).await?;
        let first = links.first().ok_or(E2eError::NoChain)?;
        match first.op() {
            ChainOp::Genesis {
                recovery: named, ..
            } if *named == recovery.public() => {}
            _ => return Err(E2eError::RecoveryKeyMismatch),
        }
        if let Some(trust) = &trust
            && trust.root != first.hash()
        {
            return Err(porchlight_crypto::ChainError::PinMismatch {
                pinned: trust.root,
                found: first.hash(),
            }
            .into());
        }
        self.verify_and_remember(session, links, trust)
    }

    /// What signing in does for the keys: make this device's keys (once), register their
    /// public half, then verify the chain (pinning its root on first sight) — or, if the
    /// account has no chain yet, start it with this device and a new recovery key.
    pub async fn enrol(
        &self,
        client: &Client,
        session: &StoredSession,
        name: &Name,
    ) -> Result<Enrolment, E2eError> {
        self.trust_for(session)?;
        let secret = self.device_secret_or_create()?;
        let device = register(client, &secret, name).await?;
        let links = fetch_links(client).await?;
        let (chain, recovery_code) = if links.is_empty() {
            let (chain, code) = self
                .start_chain(client, session, &secret, name.clone())
                .await?;
            (chain, Some(code))
        } else {
            let trust = self.trust_for(session)?;
            (self.verify_and_remember(session, links, trust)?, None)
        };
        let public = secret.public();
        let in_chain = chain.chain.devices().iter().any(|d| d.key == public);
        Ok(Enrolment {
            device,
            fingerprint: fingerprint(&public),
            public,
            chain,
            in_chain,
            recovery_code,
        })
    }
}

/// The account's chain as the server serves it (not yet verified).
pub async fn fetch_links(client: &Client) -> Result<Vec<Link>, E2eError> {
    decode_links(&client.chain().await?)
}

pub fn decode_links(links: &proto::ChainLinks) -> Result<Vec<Link>, E2eError> {
    links
        .links
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let bytes = STANDARD.decode(text).map_err(|_| E2eError::BadLink {
                index,
                reason: "not base64".to_owned(),
            })?;
            Link::from_bytes(&bytes).map_err(|e| E2eError::BadLink {
                index,
                reason: e.to_string(),
            })
        })
        .collect()
}

pub fn encode_links(links: &[Link]) -> proto::ChainLinks {
    proto::ChainLinks {
        links: links
            .iter()
            .map(|l| STANDARD.encode(l.to_bytes()))
            .collect(),
    }
}

/// Announces this device's public keys. A device that registered before (the same device
/// id signing in again) gets its existing record back, if the keys are the same.
pub async fn register(
    client: &Client,
    secret: &DeviceSecret,
    name: &Name,
) -> Result<proto::DeviceInfo, E2eError> {
    let public = secret.public();
    let request = proto::DeviceRegistration {
        name: name.as_str().to_owned(),
        sign_key: public.sign_hex(),
        age_recipient: public.age_string(),
    };
    match client.register_device(&request).await {
        Ok(info) => Ok(info),
        Err(e) if e.code() == Some(ErrorCode::Conflict) => client
            .devices()
            .await?
            .devices
            .into_iter()
            .find(|d| d.current && d.sign_key == request.sign_key)
            .ok_or(E2eError::RegisteredWithOtherKeys),
        Err(e) => Err(e.into()),
    }
}

/// A device's public keys from the server's record of it.
pub fn device_public(info: &proto::DeviceInfo) -> Result<DevicePublic, E2eError> {
    let bad = || E2eError::BadClipDetail {
        subject: format!("device {}", info.id),
        what: "key",
    };
    let mut sign = [0u8; 32];
    hex::decode_to_slice(&info.sign_key, &mut sign).map_err(|_| bad())?;
    DevicePublic::from_parts(sign, &info.age_recipient).map_err(|_| bad())
}

/// A short digest of a device's two public keys, for people to compare between the new
/// device's screen and the approving one's: 80 bits as five groups of four hex digits.
pub fn fingerprint(public: &DevicePublic) -> String {
    public.fingerprint()
}

/// Whether two spellings of a fingerprint (case, spaces, dashes) are the same.
pub fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(char::is_ascii_hexdigit)
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    norm(a) == norm(b)
}

/// A chain name from free text (a host name, a server record): control characters dropped,
/// outer space trimmed, cut to 64 bytes; `fallback` if nothing is left.
pub fn chain_name(text: &str, fallback: &str) -> Name {
    let cleaned: String = text.chars().filter(|c| !c.is_control()).collect();
    let mut cut = cleaned.trim();
    while cut.len() > porchlight_crypto::chain::MAX_NAME_BYTES {
        let mut end = porchlight_crypto::chain::MAX_NAME_BYTES;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut = cut[..end].trim_end();
    }
    Name::new(cut)
        .or_else(|_| Name::new(fallback))
        .unwrap_or_else(|_| fallback_name())
}

fn fallback_name() -> Name {
    match Name::new("device") {
        Ok(name) => name,
        Err(_) => unreachable!("\"device\" is a valid name"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_grouped_and_compare_loosely() {
        let secret = DeviceSecret::generate();
        let fp = fingerprint(&secret.public());
        assert_eq!(fp.len(), 24);
        assert_eq!(fp.split('-').count(), 5);
        assert!(same_fingerprint(&fp, &fp.to_uppercase().replace('-', " ")));
        assert!(!same_fingerprint(
            &fp,
            &fingerprint(&DeviceSecret::generate().public())
        ));
    }

    #[test]
    fn chain_names_are_made_acceptable() {
        assert_eq!(chain_name("  cli on box\n", "x").as_str(), "cli on box");
        assert_eq!(chain_name("", "fallback").as_str(), "fallback");
        let long = "é".repeat(40);
        let name = chain_name(&long, "x");
        assert!(name.as_str().len() <= 64);
        assert!(name.as_str().chars().all(|c| c == 'é'));
    }

    #[test]
    fn links_round_trip_through_base64() {
        let device = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let builder =
            ChainBuilder::genesis(&device, Name::new("d").unwrap(), recovery.public()).unwrap();
        let decoded = decode_links(&encode_links(builder.links())).unwrap();
        assert_eq!(decoded, builder.links());
        let bad = proto::ChainLinks {
            links: vec!["!!".into()],
        };
        assert!(matches!(
            decode_links(&bad),
            Err(E2eError::BadLink { index: 0, .. })
        ));
    }

    #[test]
    fn trust_round_trips_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let home = Home::open(parent.path().join("h")).unwrap();
        let vault = Vault::open(&home).unwrap();
        assert!(vault.trust().unwrap().is_none());
        let trust = Trust {
            server_url: "http://127.0.0.1:1".into(),
            account_id: "acc".into(),
            root: LinkHash::from_bytes([1; 32]),
            seen: (3, LinkHash::from_bytes([2; 32])),
        };
        vault.save_trust(&trust).unwrap();
        assert_eq!(vault.trust().unwrap(), Some(trust));
        let key = vault.device_secret_or_create().unwrap();
        let again = vault.device_secret_or_create().unwrap();
        assert_eq!(key.public(), again.public());
        for name in [DEVICE_KEY_FILE, TRUST_FILE] {
            let mode = std::fs::metadata(home.dir().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
}
