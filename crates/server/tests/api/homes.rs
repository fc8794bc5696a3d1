//! Households for the end-to-end tests: accounts with device keys and a chain, hubs paired
//! the way a real owner device and hub pair, and sealed clips uploaded the way a hub uploads.
//! Everything goes through the HTTP API; keys live only here, as on real devices.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_client::Client;
use porchlight_client::proto::{
    ChainLinks, ClipSummary, DeviceRegistration, HubChallengeRequest, HubPairRequest,
    HubTokenRequest, PairingRequest, PairingState,
};
use porchlight_client::{DeviceId, Secret};
use porchlight_crypto::{
    ChainBuilder, ChainOp, DeviceSecret, HubSecret, Link, LinkHash, Name, PairingCode, RecoveryKey,
    VerifiedChain, verify_chain,
};
use sha2::{Digest, Sha256};

use crate::harness::{Account, TestApp};

/// An account whose first device holds keys and signed link 0.
pub struct Owner {
    pub account: Account,
    pub device: DeviceSecret,
    pub recovery: RecoveryKey,
    pub chain: ChainBuilder,
}

impl Owner {
    pub fn client(&self) -> &Client {
        &self.account.client
    }

    pub fn root(&self) -> LinkHash {
        self.chain.chain().root()
    }

    /// Signs `op` with the first device and posts it.
    pub async fn append(&mut self, op: ChainOp) {
        let link = self.chain.append(op, &self.device).unwrap();
        post_links(self.client(), &[link]).await;
    }
}

pub async fn post_links(client: &Client, links: &[Link]) {
    client
        .append_chain(&ChainLinks {
            links: links
                .iter()
                .map(|l| STANDARD.encode(l.to_bytes()))
                .collect(),
        })
        .await
        .unwrap();
}

pub fn registration(name: &str, device: &DeviceSecret) -> DeviceRegistration {
    DeviceRegistration {
        name: name.into(),
        sign_key: device.public().sign_hex(),
        age_recipient: device.public().age_string(),
    }
}

/// The chain the server serves this client, verified from `root`.
pub async fn served_chain(client: &Client, root: &LinkHash) -> VerifiedChain {
    let links: Vec<Link> = client
        .chain()
        .await
        .unwrap()
        .links
        .iter()
        .map(|t| Link::from_bytes(&STANDARD.decode(t).unwrap()).unwrap())
        .collect();
    verify_chain(&links, root, None).unwrap()
}

/// Signs up `email`, makes the first device's keys and the recovery key, registers the
/// device and posts link 0.
pub async fn owner(app: &TestApp, email: &str) -> Owner {
    let account = app.account(email).await;
    let device = DeviceSecret::generate();
    account
        .client
        .register_device(&registration("first device", &device))
        .await
        .unwrap();
    let (recovery, _code) = RecoveryKey::generate();
    let chain = ChainBuilder::genesis(
        &device,
        Name::new("first device").unwrap(),
        recovery.public(),
    )
    .unwrap();
    post_links(&account.client, chain.links()).await;
    Owner {
        account,
        device,
        recovery,
        chain,
    }
}

/// A paired hub and its signed-in client (a hub token).
pub struct PairedHub {
    pub secret: HubSecret,
    pub id: String,
    pub client: Client,
    pub token: String,
}

impl PairedHub {
    /// A fresh token (they live 15 minutes, and tests move the clock).
    pub async fn refresh(&mut self, app: &TestApp) {
        self.token = hub_token(app, &self.secret).await.unwrap();
        self.client = Client::new(&app.url, DeviceId::generate())
            .unwrap()
            .with_token(Secret::new(self.token.clone()));
    }
}

/// A client holding a fresh hub token for `hub`, or the server's refusal.
pub async fn hub_client(
    app: &TestApp,
    hub: &HubSecret,
) -> Result<Client, porchlight_client::ClientError> {
    let token = hub_token(app, hub).await?;
    Ok(Client::new(&app.url, DeviceId::generate())
        .unwrap()
        .with_token(Secret::new(token)))
}

/// A fresh hub token (a new challenge, signed), or the server's refusal.
pub async fn hub_token(
    app: &TestApp,
    hub: &HubSecret,
) -> Result<String, porchlight_client::ClientError> {
    let anon = Client::new(&app.url, DeviceId::generate()).unwrap();
    let key = hub.public().to_hex();
    let challenge = anon
        .hub_challenge(&HubChallengeRequest {
            hub_key: key.clone(),
        })
        .await?;
    let mut raw = [0u8; 32];
    hex::decode_to_slice(&challenge.challenge, &mut raw).unwrap();
    let signature = hub.sign_auth_challenge(&raw);
    let token = anon
        .hub_token(&HubTokenRequest {
            hub_key: key,
            challenge: challenge.challenge,
            signature: hex::encode(signature),
        })
        .await?;
    Ok(token.token)
}

/// Pairs a new hub to `owner` the way the CLI does: code, redemption with a proof, the
/// owner device checking the proof and signing the hub in, then a token.
pub async fn pair_hub(app: &TestApp, owner: &mut Owner, name: &str) -> PairedHub {
    let code = PairingCode::new(&app.url, owner.root()).unwrap();
    let pairing = owner
        .client()
        .create_pairing(&PairingRequest {
            verifier: hex::encode(code.secret().verifier()),
            name: name.into(),
        })
        .await
        .unwrap();
    let secret = HubSecret::generate();
    let anon = Client::new(&app.url, DeviceId::generate()).unwrap();
    let paired = anon
        .hub_pair(&HubPairRequest {
            verifier: hex::encode(code.secret().verifier()),
            hub_key: secret.public().to_hex(),
            proof: hex::encode(code.secret().hub_proof(&secret.public())),
        })
        .await
        .unwrap();
    let status = owner.client().pairing(&pairing.id).await.unwrap();
    assert_eq!(status.state, PairingState::Redeemed);
    let redeemed = status.hub.unwrap();
    assert_eq!(redeemed.hub_id, paired.hub_id);
    let proof = hex::decode(&redeemed.proof).unwrap();
    assert!(code.secret().check_hub_proof(&secret.public(), &proof));
    owner
        .append(ChainOp::AddHub {
            name: Name::new(name).unwrap(),
            hub: secret.public(),
        })
        .await;
    let token = hub_token(app, &secret).await.unwrap();
    let client = Client::new(&app.url, DeviceId::generate())
        .unwrap()
        .with_token(Secret::new(token.clone()));
    PairedHub {
        secret,
        id: paired.hub_id,
        client,
        token,
    }
}

/// The cast of the tests of who may see and change a camera: Ann owns a hub whose camera
/// `camera` her chain gives to Meg, a household member; Bob is a stranger.
pub struct Household {
    pub ann: Owner,
    pub meg: Owner,
    pub bob: Owner,
    pub hub: PairedHub,
}

pub async fn household_with_camera(app: &TestApp, camera: &str) -> Household {
    let mut ann = owner(app, "ann@example.com").await;
    let meg = owner(app, "meg@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    ann.append(ChainOp::AddMember {
        root: meg.root(),
        label: Name::new("Meg").unwrap(),
    })
    .await;
    let hub = pair_hub(app, &mut ann, "hub").await;
    ann.append(ChainOp::MemberCameras {
        root: meg.root(),
        cameras: vec![
            porchlight_crypto::CameraRef::new(*hub.secret.public().as_bytes(), camera).unwrap(),
        ],
    })
    .await;
    Household { ann, meg, bob, hub }
}

/// A sealed clip as a hub makes it: the age file (header ‖ payload) and the statement
/// header's value.
pub struct SealedClip {
    pub file: tempfile::NamedTempFile,
    pub statement: String,
    pub header: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Seals `plaintext` to the chain's recipients and signs the statement with `hub`.
pub fn seal_clip(
    chain: &VerifiedChain,
    hub: &HubSecret,
    camera: &str,
    start_ms: i64,
    plaintext: &[u8],
) -> SealedClip {
    let mut header = Vec::new();
    let mut payload = Vec::new();
    let sizes =
        porchlight_crypto::seal(plaintext, &mut header, &mut payload, &chain.recipients()).unwrap();
    let statement = porchlight_crypto::ClipStatement::new(
        camera,
        start_ms,
        4_000,
        sizes.payload_sha256,
        Sha256::digest(b"").into(),
    )
    .unwrap();
    let signature = porchlight_crypto::sign_clip(&statement, hub);
    let mut value = statement.to_bytes();
    value.extend_from_slice(&signature.to_bytes());
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&header).unwrap();
    file.write_all(&payload).unwrap();
    file.flush().unwrap();
    SealedClip {
        file,
        statement: STANDARD.encode(value),
        header,
        payload,
    }
}

/// Seals and uploads a clip from `hub` of `owner`'s account.
pub async fn upload(
    owner: &Owner,
    hub: &PairedHub,
    camera: &str,
    start_ms: i64,
    plaintext: &[u8],
) -> ClipSummary {
    let clip = seal_clip(
        owner.chain.chain(),
        &hub.secret,
        camera,
        start_ms,
        plaintext,
    );
    let file = tokio::fs::File::open(clip.file.path()).await.unwrap();
    let key = porchlight_server::auth::secrets::random_id();
    let (created, summary) = hub
        .client
        .upload_clip(&key, &clip.statement, file)
        .await
        .unwrap();
    assert!(created);
    summary
}

/// A clip's plaintext, opened on a device from what the API serves.
pub async fn open_clip(
    client: &Client,
    id: &str,
    identity: &dyn porchlight_crypto::age::Identity,
) -> Vec<u8> {
    let detail = client.clip(id).await.unwrap();
    let header = STANDARD.decode(&detail.header).unwrap();
    let mut payload = Vec::new();
    client.download_payload(id, &mut payload).await.unwrap();
    let mut reader = porchlight_crypto::open(&header, payload.as_slice(), identity).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut out).unwrap();
    out
}
