//! A household set up over the HTTP API the way the CLI sets one up: an account with a
//! second factor, its first device's keys and chain, and a hub paired to it.

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use porchlight_client::proto::{
    ChainLinks, DeviceRegistration, HubChallengeRequest, HubPairRequest, HubTokenRequest,
    PairingRequest, PairingState, SignupConfirmRequest, SignupRequest,
};
use porchlight_client::{Client, DeviceId, Secret};
use porchlight_crypto::{
    ChainBuilder, ChainOp, DeviceSecret, HubSecret, Link, Name, PairingCode, RecoveryKey,
};
use porchlight_server::auth::totp;
use porchlight_server::clock::{Clock as _, SystemClock};

/// Every benchmark account's password.
pub const PASSWORD: &str = "correct horse battery staple 42";

/// An account with its first device's keys and chain, and a hub paired to it.
pub struct Household {
    pub url: String,
    pub owner: Client,
    pub device: DeviceSecret,
    pub chain: ChainBuilder,
    pub hub: HubSecret,
}

impl std::fmt::Debug for Household {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Household")
            .field("url", &self.url)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Household {
    /// Sign-up with a second factor, device keys and link 0, then a hub paired the way the
    /// CLI pairs one (see `crates/server/tests/api/homes.rs`).
    pub async fn set_up(url: &str, email: &str) -> anyhow::Result<Self> {
        let owner = sign_up(url, email).await?;
        let device = DeviceSecret::generate();
        owner
            .register_device(&DeviceRegistration {
                name: "bench device".into(),
                sign_key: device.public().sign_hex(),
                age_recipient: device.public().age_string(),
            })
            .await
            .context("registering the device's keys")?;
        let (recovery, _code) = RecoveryKey::generate();
        let chain = ChainBuilder::genesis(&device, Name::new("bench device")?, recovery.public())
            .context("making the chain's genesis link")?;
        post_links(&owner, chain.links())
            .await
            .context("posting the genesis link")?;
        let mut household = Self {
            url: url.to_owned(),
            owner,
            device,
            chain,
            hub: HubSecret::generate(),
        };
        household.pair_hub("bench hub").await?;
        Ok(household)
    }

    pub async fn pair_hub(&mut self, name: &str) -> anyhow::Result<()> {
        let code = PairingCode::new(&self.url, self.chain.chain().root())
            .context("making a pairing code")?;
        let verifier = hex::encode(code.secret().verifier());
        let pairing = self
            .owner
            .create_pairing(&PairingRequest {
                verifier: verifier.clone(),
                name: name.into(),
            })
            .await
            .context("creating the pairing")?;
        let paired = anonymous(&self.url)?
            .hub_pair(&HubPairRequest {
                verifier,
                hub_key: self.hub.public().to_hex(),
                proof: hex::encode(code.secret().hub_proof(&self.hub.public())),
            })
            .await
            .context("redeeming the pairing code as the hub")?;
        let status = self
            .owner
            .pairing(&pairing.id)
            .await
            .context("reading the pairing")?;
        ensure!(
            status.state == PairingState::Redeemed,
            "the pairing is {:?}, not redeemed",
            status.state
        );
        let redeemed = status.hub.context("a redeemed pairing without its hub")?;
        ensure!(
            redeemed.hub_id == paired.hub_id,
            "the pairing names another hub"
        );
        let proof = hex::decode(&redeemed.proof).context("the hub's proof is not hex")?;
        ensure!(
            code.secret().check_hub_proof(&self.hub.public(), &proof),
            "the hub's proof does not check"
        );
        let link = self.chain.append(
            ChainOp::AddHub {
                name: Name::new(name)?,
                hub: self.hub.public(),
            },
            &self.device,
        )?;
        post_links(&self.owner, &[link])
            .await
            .context("posting the AddHub link")?;
        Ok(())
    }

    /// Pairs the hub whose state folder is `home` (as `porchlight hub pair` does) and signs it
    /// into the chain, so `porchlight hub run --state` can run with that folder.
    pub async fn pair_hub_home(
        &mut self,
        home: &porchlight_client::hub::HubHome,
        name: &str,
    ) -> anyhow::Result<()> {
        let code = PairingCode::new(&self.url, self.chain.chain().root())
            .context("making a pairing code")?;
        self.owner
            .create_pairing(&PairingRequest {
                verifier: hex::encode(code.secret().verifier()),
                name: name.into(),
            })
            .await
            .context("creating the pairing")?;
        porchlight_client::hub::pair(home, &code)
            .await
            .context("redeeming the pairing code as the hub")?;
        let hub_key = home.require_secret()?.public();
        let link = self.chain.append(
            ChainOp::AddHub {
                name: Name::new(name)?,
                hub: hub_key,
            },
            &self.device,
        )?;
        post_links(&self.owner, &[link])
            .await
            .context("posting the AddHub link")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        porchlight_client::hub::wait_until_approved(home, deadline, || SystemClock.now_ms())
            .await
            .context("the hub's first sign-in")?;
        Ok(())
    }

    /// A client holding a fresh hub token: a challenge, signed with the hub's key.
    pub async fn hub_client(&self) -> anyhow::Result<Client> {
        let anon = anonymous(&self.url)?;
        let hub_key = self.hub.public().to_hex();
        let challenge = anon
            .hub_challenge(&HubChallengeRequest {
                hub_key: hub_key.clone(),
            })
            .await
            .context("asking for a hub challenge")?;
        let mut raw = [0u8; 32];
        hex::decode_to_slice(&challenge.challenge, &mut raw)
            .context("the hub challenge is not 32 bytes of hex")?;
        let token = anon
            .hub_token(&HubTokenRequest {
                hub_key,
                challenge: challenge.challenge,
                signature: hex::encode(self.hub.sign_auth_challenge(&raw)),
            })
            .await
            .context("exchanging the signed challenge for a hub token")?;
        Ok(anonymous(&self.url)?.with_token(Secret::new(token.token)))
    }
}

pub fn anonymous(url: &str) -> anyhow::Result<Client> {
    Client::new(url, DeviceId::generate()).context("making an HTTP client")
}

/// Signs `email` up and confirms it with the authenticator's current code; the signed-in
/// client.
pub async fn sign_up(url: &str, email: &str) -> anyhow::Result<Client> {
    let client = anonymous(url)?;
    let started = client
        .signup(&SignupRequest {
            email: email.into(),
            password: PASSWORD.into(),
        })
        .await
        .context("sign-up")?;
    // The server runs on the system clock, so the code is for now.
    let code = totp::code_for_base32(&started.totp_secret, SystemClock.now_ms())
        .context("computing a TOTP code")?;
    let session = client
        .signup_confirm(&SignupConfirmRequest {
            enrolment_token: started.enrolment_token,
            code,
            email_code: None,
            device_name: Some("bench".into()),
        })
        .await
        .context("confirming sign-up")?;
    Ok(client.with_token(Secret::new(session.token)))
}

pub async fn post_links(client: &Client, links: &[Link]) -> anyhow::Result<()> {
    client
        .append_chain(&ChainLinks {
            links: links
                .iter()
                .map(|l| STANDARD.encode(l.to_bytes()))
                .collect(),
        })
        .await?;
    Ok(())
}
