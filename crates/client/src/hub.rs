//! The hub's side of end-to-end encryption: its key and trust anchor in a private state
//! folder, pairing with a code, the short-lived token it signs a challenge for, verifying the
//! owner's chain before every seal, and sealing and uploading clips.
//!
//! The state folder (0700; every file 0600):
//!
//! - `hub.key`: the hub's Ed25519 key (the crypto crate's key file);
//! - `hub.json`: the server URL, the **pinned root** (from the pairing code, never from the
//!   server), the hub's id and name, and the highest chain link verified `(seq, hash)`;
//! - `token.json`: the current hub token and when it expires (it opens only the hub routes,
//!   for at most 15 minutes);
//! - `chain.json`: the owner's chain as last verified, so clips recorded while the server is
//!   out of reach are still sealed (to that chain, verified again from the pinned root);
//! - `settings.bin`: the signed hub settings the hub applies (checked when they arrived), so
//!   a restart keeps them and an older statement is still refused;
//! - the hub's upload queue and recordings live beside these files, kept by `porchlight-hub`.
//!
//! The hub seals only to a chain that verifies from its pinned root, contains the highest
//! link it saw before (no rollback, no fork), and names this hub. So neither a ghost device
//! the server slipped into the chain nor an old chain from before a device was removed ever
//! receives a clip.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{
    ClipStatement, HubSecret, LinkHash, PairingCode, SignedHubSettings, VerifiedChain, seal,
    sign_clip, verify_chain,
};
use porchlight_proto::{self as proto, ErrorCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::client::Client;
use crate::device::DeviceId;
use crate::e2e_error::E2eError;
use crate::error::ClientError;
use crate::files::PrivateDir;
use crate::home::HomeError;
use crate::secret::Secret;
use crate::vault::{decode_links, encode_links};

const KEY_FILE: &str = "hub.key";
const CONFIG_FILE: &str = "hub.json";
const TOKEN_FILE: &str = "token.json";
const CHAIN_FILE: &str = "chain.json";
const SETTINGS_FILE: &str = "settings.bin";
const FORMAT_VERSION: u32 = 1;
/// A cached token is not used in its last minute.
const TOKEN_MARGIN_MS: i64 = 60_000;
/// First and longest pause between polls while waiting for the owner to sign the hub in.
/// The challenge and token routes count against the home's per-address sign-in allowance,
/// which the owner's own sign-ins share, so the hub backs off.
const FIRST_POLL: Duration = Duration::from_millis(500);
const MAX_POLL: Duration = Duration::from_secs(5);

/// What the hub keeps about its pairing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    pub server_url: String,
    /// The owner's root, from the pairing code.
    pub root: LinkHash,
    pub hub_id: String,
    pub name: String,
    /// Whether the hub has seen itself in the owner's verified chain.
    pub approved: bool,
    /// `(seq, hash)` of the highest chain link verified so far.
    pub seen: Option<(u64, LinkHash)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    version: u32,
    server_url: String,
    root: String,
    hub_id: String,
    name: String,
    approved: bool,
    seen_seq: Option<u64>,
    seen_hash: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    version: u32,
    token: Zeroizing<String>,
    expires_at_ms: i64,
}

/// A hub's state folder.
#[derive(Debug, Clone)]
pub struct HubHome {
    dir: PrivateDir,
}

impl HubHome {
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, HomeError> {
        Ok(Self {
            dir: PrivateDir::open(dir)?,
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.dir()
    }

    pub fn config(&self) -> Result<Option<HubConfig>, E2eError> {
        let Some(file) = self.dir.read_json::<ConfigFile>(CONFIG_FILE)? else {
            return Ok(None);
        };
        let damaged = || E2eError::Home(self.dir.damaged(CONFIG_FILE));
        if file.version != FORMAT_VERSION {
            return Err(damaged());
        }
        let root = LinkHash::from_hex(&file.root).map_err(|_| damaged())?;
        let seen = match (file.seen_seq, file.seen_hash) {
            (Some(seq), Some(hash)) => {
                Some((seq, LinkHash::from_hex(&hash).map_err(|_| damaged())?))
            }
            (None, None) => None,
            _ => return Err(damaged()),
        };
        Ok(Some(HubConfig {
            server_url: file.server_url,
            root,
            hub_id: file.hub_id,
            name: file.name,
            approved: file.approved,
            seen,
        }))
    }

    /// The configuration of a paired hub, or [`E2eError::HubNotPaired`].
    pub fn require_config(&self) -> Result<HubConfig, E2eError> {
        self.config()?.ok_or_else(|| E2eError::HubNotPaired {
            path: self.dir().to_owned(),
        })
    }

    fn save_config(&self, config: &HubConfig) -> Result<(), E2eError> {
        let file = ConfigFile {
            version: FORMAT_VERSION,
            server_url: config.server_url.clone(),
            root: config.root.to_hex(),
            hub_id: config.hub_id.clone(),
            name: config.name.clone(),
            approved: config.approved,
            seen_seq: config.seen.map(|(seq, _)| seq),
            seen_hash: config.seen.map(|(_, hash)| hash.to_hex()),
        };
        Ok(self.dir.write_json(CONFIG_FILE, &file)?)
    }

    pub fn secret(&self) -> Result<Option<HubSecret>, E2eError> {
        let Some(bytes) = self.dir.read(KEY_FILE)? else {
            return Ok(None);
        };
        HubSecret::from_bytes(&bytes)
            .map(Some)
            .map_err(|source| E2eError::KeyFile {
                path: self.dir.path(KEY_FILE),
                source,
            })
    }

    /// The hub's key; an error if the state folder has none (never paired).
    pub fn require_secret(&self) -> Result<HubSecret, E2eError> {
        self.secret()?.ok_or_else(|| E2eError::HubNotPaired {
            path: self.dir().to_owned(),
        })
    }

    fn secret_or_create(&self) -> Result<HubSecret, E2eError> {
        if let Some(secret) = self.secret()? {
            return Ok(secret);
        }
        let secret = HubSecret::generate();
        if self.dir.write_new(KEY_FILE, &secret.to_bytes())? {
            return Ok(secret);
        }
        self.require_secret()
    }

    fn cached_token(&self, now_ms: i64) -> Result<Option<Secret>, E2eError> {
        let Some(mut file) = self.dir.read_json::<TokenFile>(TOKEN_FILE)? else {
            return Ok(None);
        };
        if file.version != FORMAT_VERSION || file.expires_at_ms - TOKEN_MARGIN_MS <= now_ms {
            return Ok(None);
        }
        Ok(Some(Secret::new(std::mem::take(&mut *file.token))))
    }

    fn save_token(&self, token: &Secret, expires_at_ms: i64) -> Result<(), E2eError> {
        let file = TokenFile {
            version: FORMAT_VERSION,
            token: Zeroizing::new(token.expose().to_owned()),
            expires_at_ms,
        };
        Ok(self.dir.write_json(TOKEN_FILE, &file)?)
    }
}

fn anonymous_client(server_url: &str) -> Result<Client, E2eError> {
    Ok(Client::new(server_url, DeviceId::generate())?)
}

/// Redeems a pairing code: makes the hub's key (once), proves to the owner's device that it
/// holds the code, and keeps the owner's root from the code as its trust anchor. A folder
/// paired with this same code already (a pairing interrupted while waiting) is left as it is,
/// so pairing can resume.
pub async fn pair(home: &HubHome, code: &PairingCode) -> Result<HubConfig, E2eError> {
    if let Some(config) = home.config()? {
        let same_code = config.server_url == code.server_url() && config.root == *code.owner_root();
        if same_code && !config.approved {
            return Ok(config);
        }
        return Err(E2eError::HubAlreadyPaired {
            path: home.dir().to_owned(),
            hub_id: config.hub_id,
        });
    }
    let secret = home.secret_or_create()?;
    let client = anonymous_client(code.server_url())?;
    let key = secret.public();
    let paired = client
        .hub_pair(&proto::HubPairRequest {
            verifier: hex::encode(code.secret().verifier()),
            hub_key: key.to_hex(),
            proof: hex::encode(code.secret().hub_proof(&key)),
        })
        .await?;
    let config = HubConfig {
        server_url: code.server_url().to_owned(),
        root: *code.owner_root(),
        hub_id: paired.hub_id,
        name: paired.name,
        approved: false,
        seen: None,
    };
    home.save_config(&config)?;
    Ok(config)
}

/// Waits until the owner's device has signed the hub into the chain (a token is issued only
/// then), and verifies that chain from the pinned root. Gives up at `deadline`.
pub async fn wait_until_approved(
    home: &HubHome,
    deadline: Instant,
    now_ms: impl Fn() -> i64,
) -> Result<(Client, VerifiedChain), E2eError> {
    let started = Instant::now();
    let mut pause = FIRST_POLL;
    let client = loop {
        let wait = match signed_in(home, now_ms()).await {
            Ok(client) => break client,
            Err(E2eError::HubNotInChain) => pause,
            Err(E2eError::Client(e)) if e.code() == Some(ErrorCode::Throttled) => {
                match e.retry_after_secs() {
                    Some(secs) => Duration::from_secs(secs).max(pause),
                    None => pause,
                }
            }
            Err(e) => return Err(e),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(E2eError::Timeout {
                secs: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(wait.min(deadline - now)).await;
        pause = (pause * 3 / 2).min(MAX_POLL);
    };
    let chain = verified_chain(home, &client).await?;
    Ok((client, chain))
}

/// A client with a hub token: the cached one while it lasts, else a fresh one for a signed
/// challenge.
pub async fn signed_in(home: &HubHome, now_ms: i64) -> Result<Client, E2eError> {
    let config = home.require_config()?;
    let client = anonymous_client(&config.server_url)?;
    if let Some(token) = home.cached_token(now_ms)? {
        return Ok(client.with_token(token));
    }
    fresh_token(home, &config, client).await
}

async fn fresh_token(
    home: &HubHome,
    config: &HubConfig,
    client: Client,
) -> Result<Client, E2eError> {
    let secret = home.require_secret()?;
    let key = secret.public().to_hex();
    let challenge = client
        .hub_challenge(&proto::HubChallengeRequest {
            hub_key: key.clone(),
        })
        .await?;
    let mut raw = [0u8; 32];
    hex::decode_to_slice(&challenge.challenge, &mut raw).map_err(|_| {
        E2eError::Client(ClientError::Decode {
            route: "POST /api/hub/challenge",
            status: 200,
        })
    })?;
    let signature = secret.sign_auth_challenge(&raw);
    let issued = client
        .hub_token(&proto::HubTokenRequest {
            hub_key: key,
            challenge: challenge.challenge,
            signature: hex::encode(signature),
        })
        .await
        .map_err(|e| match e.code() {
            // The server issues hub tokens only to hubs its copy of the chain names.
            Some(ErrorCode::DeviceNotApproved) => E2eError::HubNotInChain,
            _ => E2eError::Client(e),
        })?;
    let token = Secret::new(issued.token);
    home.save_token(&token, issued.expires_at_ms)?;
    if issued.hub_id != config.hub_id {
        return Err(E2eError::Client(ClientError::Decode {
            route: "POST /api/hub/token",
            status: 201,
        }));
    }
    Ok(anonymous_client(&config.server_url)?.with_token(token))
}

/// A signed-in client and the verified chain: what every upload starts with. A cached token
/// the server no longer honours is replaced once.
pub async fn connect(home: &HubHome, now_ms: i64) -> Result<(Client, VerifiedChain), E2eError> {
    let client = signed_in(home, now_ms).await?;
    match verified_chain(home, &client).await {
        Err(E2eError::Client(e)) if e.code() == Some(ErrorCode::Unauthenticated) => {
            home.dir.remove(TOKEN_FILE)?;
            let client = signed_in(home, now_ms).await?;
            let chain = verified_chain(home, &client).await?;
            Ok((client, chain))
        }
        other => other.map(|chain| (client, chain)),
    }
}

/// Fetches the owner's chain and verifies it from the pinned root, refusing a rollback or a
/// fork and a chain that does not name this hub; remembers the new highest link.
pub async fn verified_chain(home: &HubHome, client: &Client) -> Result<VerifiedChain, E2eError> {
    let mut config = home.require_config()?;
    let secret = home.require_secret()?;
    let links = decode_links(&client.hub_chain().await?)?;
    let chain = verify_chain(&links, &config.root, config.seen)?;
    if !chain.has_hub(&secret.public()) {
        return Err(E2eError::HubNotInChain);
    }
    if config.seen != Some(chain.position()) || !config.approved {
        // The links first: a crash in between leaves a cache older than `seen`, which
        // `cached_chain` refuses rather than trusting.
        home.dir.write_json(CHAIN_FILE, &encode_links(&links))?;
        config.seen = Some(chain.position());
        config.approved = true;
        home.save_config(&config)?;
    } else if home.dir.read(CHAIN_FILE)?.is_none() {
        home.dir.write_json(CHAIN_FILE, &encode_links(&links))?;
    }
    Ok(chain)
}

/// The chain as last verified, verified again from the pinned root and no older than the
/// highest link seen; `None` before the first verification. For sealing while the server is
/// out of reach: a device removed since is still a recipient until the hub hears of it,
/// which is the best a hub without a connection can know.
pub fn cached_chain(home: &HubHome) -> Result<Option<VerifiedChain>, E2eError> {
    let config = home.require_config()?;
    let secret = home.require_secret()?;
    let Some(links) = home.dir.read_json::<proto::ChainLinks>(CHAIN_FILE)? else {
        return Ok(None);
    };
    let chain = verify_chain(&decode_links(&links)?, &config.root, config.seen)?;
    if !chain.has_hub(&secret.public()) {
        return Err(E2eError::HubNotInChain);
    }
    Ok(Some(chain))
}

/// The signed hub settings this hub applies, as kept by [`keep_settings`]; `None` before the
/// first. They were checked against the verified chain when they arrived and the folder is
/// the hub's own, so only their form and hub are checked again: a device removed since
/// cannot sign new settings, but what it signed while it was a device stays in force until
/// newer settings replace it.
pub fn kept_settings(home: &HubHome) -> Result<Option<SignedHubSettings>, E2eError> {
    let Some(bytes) = home.dir.read(SETTINGS_FILE)? else {
        return Ok(None);
    };
    let damaged = || E2eError::Home(home.dir.damaged(SETTINGS_FILE));
    let signed = SignedHubSettings::from_bytes(&bytes).map_err(|_| damaged())?;
    let secret = home.require_secret()?;
    if signed.settings().hub_key != *secret.public().as_bytes() {
        return Err(damaged());
    }
    Ok(Some(signed))
}

/// Keeps `signed` (checked by the caller) as the settings the hub applies. Blocking (fsync).
pub fn keep_settings(home: &HubHome, signed: &SignedHubSettings) -> Result<(), E2eError> {
    home.dir.replace(SETTINGS_FILE, &signed.to_bytes())?;
    Ok(())
}

/// The chains of the owner's household members given a camera of this hub, fetched and
/// verified from the roots `owner` (verified) names, no older than the ones kept; for a root
/// whose served chain is refused, the kept one. What this hub seals given cameras to.
pub async fn verified_members(
    home: &HubHome,
    client: &Client,
    owner: &VerifiedChain,
) -> Result<crate::household::Refreshed, E2eError> {
    let secret = home.require_secret()?;
    let roots = crate::household::member_roots(owner, Some(secret.public().as_bytes()));
    let kept = crate::household::KeptChains::new(&home.dir, crate::household::MEMBERS_FILE);
    if roots.is_empty() {
        return kept.refresh(&roots, &proto::HouseholdChains { chains: Vec::new() });
    }
    kept.refresh(&roots, &client.hub_members().await?)
}

/// The members' chains as last verified (see [`verified_members`]), for sealing while the
/// server is out of reach.
pub fn cached_members(
    home: &HubHome,
    owner: &VerifiedChain,
) -> Result<Vec<VerifiedChain>, E2eError> {
    let secret = home.require_secret()?;
    let roots = crate::household::member_roots(owner, Some(secret.public().as_bytes()));
    crate::household::KeptChains::new(&home.dir, crate::household::MEMBERS_FILE).kept(&roots)
}

/// A sealed clip's signed statement and sizes.
#[derive(Debug, Clone)]
pub struct SealedClip {
    /// Base64 of the statement bytes ‖ the hub's signature (the upload header's value).
    pub statement: String,
    pub sizes: porchlight_crypto::SealedSizes,
}

/// Seals `plaintext` to `recipients` as one age file (header ‖ payload) into `out`, and signs
/// the clip's statement with the hub key. Blocking; the caller syncs `out`.
pub fn seal_clip<R: std::io::Read, W: std::io::Write + Copy>(
    secret: &HubSecret,
    recipients: &[porchlight_crypto::DevicePublic],
    plaintext: R,
    out: W,
    camera: &str,
    start_ms: i64,
    duration_ms: u64,
) -> Result<SealedClip, E2eError> {
    // Checked before any work: a bad camera name is a usage error, not a sealing one.
    ClipStatement::new(camera, start_ms, duration_ms, [0; 32], [0; 32])
        .map_err(E2eError::Camera)?;
    // age writes the whole header before the first payload byte, so one file takes both.
    let sizes = seal(plaintext, out, out, recipients).map_err(|source| E2eError::Clip {
        subject: format!("a clip of {camera}"),
        source,
    })?;
    let meta_sha256: [u8; 32] = Sha256::digest([]).into();
    let statement = ClipStatement::new(
        camera,
        start_ms,
        duration_ms,
        sizes.payload_sha256,
        meta_sha256,
    )
    .map_err(E2eError::Camera)?;
    let signature = sign_clip(&statement, secret);
    let mut signed = statement.to_bytes();
    signed.extend_from_slice(&signature.to_bytes());
    Ok(SealedClip {
        statement: STANDARD.encode(signed),
        sizes,
    })
}

/// Uploads a sealed clip (a retry of the same upload key is harmless: the server answers
/// with the clip it made the first time). A cached token the server no longer honours is
/// replaced once. Returns whether the server made a new clip, and the clip.
pub async fn upload_sealed(
    home: &HubHome,
    client: &Client,
    upload_key: &str,
    statement: &str,
    file: &Path,
    now_ms: i64,
) -> Result<(bool, proto::ClipSummary), E2eError> {
    let open = || async {
        tokio::fs::File::open(file)
            .await
            .map_err(|e| E2eError::io("open", file, e))
    };
    match client
        .upload_clip(upload_key, statement, open().await?)
        .await
    {
        Err(e) if e.code() == Some(ErrorCode::Unauthenticated) => {
            // The cached token ended early (revoked, or the server restarted its clock).
            home.dir.remove(TOKEN_FILE)?;
            let client = signed_in(home, now_ms).await?;
            Ok(client
                .upload_clip(upload_key, statement, open().await?)
                .await?)
        }
        other => Ok(other?),
    }
}

/// When a recording started: the file's modification time, else now.
pub fn file_time_ms(path: &Path, now_ms: i64) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(now_ms)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    use porchlight_crypto::{ChainBuilder, ChainOp, DeviceSecret, Name, RecoveryKey, open_file};

    use super::*;

    fn paired_home(dir: &Path, root: LinkHash) -> HubHome {
        let home = HubHome::open(dir).unwrap();
        home.secret_or_create().unwrap();
        home.save_config(&HubConfig {
            server_url: "http://127.0.0.1:1".into(),
            root,
            hub_id: "hub1".into(),
            name: "porch".into(),
            approved: true,
            seen: None,
        })
        .unwrap();
        home
    }

    #[test]
    fn state_round_trips_and_is_private() {
        let parent = tempfile::tempdir().unwrap();
        let home = paired_home(&parent.path().join("hub"), LinkHash::from_bytes([4; 32]));
        let config = home.require_config().unwrap();
        assert_eq!(config.root, LinkHash::from_bytes([4; 32]));
        home.save_token(&Secret::from("tok"), 100_000).unwrap();
        assert!(home.cached_token(0).unwrap().is_some());
        assert!(
            home.cached_token(50_000).unwrap().is_none(),
            "too close to expiry"
        );
        for name in [KEY_FILE, CONFIG_FILE, TOKEN_FILE] {
            let mode = std::fs::metadata(home.dir().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[tokio::test]
    async fn sealed_clips_open_for_every_recipient_and_carry_a_signed_statement() {
        let parent = tempfile::tempdir().unwrap();
        let device = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let mut builder =
            ChainBuilder::genesis(&device, Name::new("d").unwrap(), recovery.public()).unwrap();
        let home = paired_home(&parent.path().join("hub"), builder.chain().root());
        let hub = home.require_secret().unwrap();
        builder
            .append(
                ChainOp::AddHub {
                    name: Name::new("porch").unwrap(),
                    hub: hub.public(),
                },
                &device,
            )
            .unwrap();
        let plain = vec![9u8; 150_000];
        let out = tempfile::tempfile().unwrap();
        let sealed = seal_clip(
            &hub,
            &builder.chain().recipients(),
            plain.as_slice(),
            &out,
            "front door",
            5,
            6,
        )
        .unwrap();
        assert_eq!(sealed.sizes.plaintext_bytes, 150_000);
        for identity in [&device as &dyn porchlight_crypto::age::Identity, &recovery] {
            let mut file = out.try_clone().unwrap();
            std::io::Seek::rewind(&mut file).unwrap();
            let mut opened = Vec::new();
            open_file(std::io::BufReader::new(file), identity)
                .unwrap()
                .read_to_end(&mut opened)
                .unwrap();
            assert_eq!(opened, plain);
        }
        let signed = STANDARD.decode(&sealed.statement).unwrap();
        let (bytes, signature) = signed.split_at(signed.len() - 64);
        let statement = ClipStatement::from_bytes(bytes).unwrap();
        assert_eq!(statement.camera_id(), "front door");
        assert_eq!(statement.payload_sha256(), &sealed.sizes.payload_sha256);
        porchlight_crypto::verify_clip_in_chain(
            builder.chain(),
            &statement,
            &porchlight_crypto::ClipSignature::from_bytes(signature.try_into().unwrap()),
            &hub.public(),
        )
        .unwrap();
        let err = seal_clip(&hub, &[], plain.as_slice(), &out, " bad ", 0, 0).unwrap_err();
        assert!(matches!(err, E2eError::Camera(_)));
    }
}
