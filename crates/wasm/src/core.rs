//! What the bindings do, in plain Rust: JSON and bytes in, JSON and bytes out, errors as
//! sentences a person can read. Nothing here keeps a secret beyond the call that uses it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{
    CameraRef, ChainBuilder, ChainOp, DevicePublic, DeviceSecret, HubKey, Link, LinkHash, Name,
    RecoveryKey, VerifiedChain, verify_chain,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

type Result<T> = std::result::Result<T, String>;

/// The chain as `GET /api/chain` serves it and `POST /api/chain` takes it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Links {
    links: Vec<String>,
}

/// What the browser remembers about the chain between visits: the pinned root and the
/// highest link it has verified (rollback and fork detection, as `porchlight-client` does).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trust {
    root: String,
    seen_seq: u64,
    seen_hash: String,
}

#[derive(Serialize)]
struct DeviceView {
    name: String,
    sign_key: String,
    age_recipient: String,
    fingerprint: String,
}

#[derive(Serialize)]
struct HubView {
    name: String,
    key: String,
}

#[derive(Serialize)]
struct MemberView {
    root: String,
    label: String,
    cameras: Vec<CameraView>,
}

/// A camera as the chain names it: its hub's key and its name on that hub.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CameraView {
    pub(crate) hub_key: String,
    pub(crate) camera: String,
}

impl From<&CameraRef> for CameraView {
    fn from(c: &CameraRef) -> Self {
        Self {
            hub_key: hex::encode(c.hub_key),
            camera: c.camera.clone(),
        }
    }
}

#[derive(Serialize)]
struct ChainView {
    root: String,
    head: String,
    length: u64,
    devices: Vec<DeviceView>,
    hubs: Vec<HubView>,
    members: Vec<MemberView>,
    recovery_fingerprint: String,
}

/// The operations the app signs.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum OpRequest {
    AddDevice {
        name: String,
        sign_key: String,
        age_recipient: String,
    },
    RemoveDevice {
        sign_key: String,
    },
    AddHub {
        name: String,
        hub_key: String,
    },
    RemoveHub {
        hub_key: String,
    },
    /// Another account, by the root its invitation carried, into the household.
    AddMember {
        root: String,
        label: String,
    },
    RemoveMember {
        root: String,
    },
    /// Replaces the cameras the member may watch.
    MemberCameras {
        root: String,
        cameras: Vec<CameraView>,
    },
}

/// A fresh device key pair's secret half, in the crypto crate's key-file encoding.
pub fn device_generate() -> Zeroizing<Vec<u8>> {
    DeviceSecret::generate().to_bytes()
}

pub(crate) fn secret(bytes: &[u8]) -> Result<DeviceSecret> {
    DeviceSecret::from_bytes(bytes).map_err(|e| format!("this browser's device key: {e}"))
}

fn recovery(code: &str) -> Result<RecoveryKey> {
    RecoveryKey::from_code(code).map_err(|e| format!("the key recovery code: {e}"))
}

fn key32(hex_text: &str, what: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out)
        .map_err(|_| format!("{what} is not 64 hexadecimal digits"))?;
    Ok(out)
}

fn public(sign_key: &str, age_recipient: &str) -> Result<DevicePublic> {
    DevicePublic::from_parts(key32(sign_key, "the signing key")?, age_recipient)
        .map_err(|e| format!("the device's public keys: {e}"))
}

fn name(text: &str) -> Result<Name> {
    Name::new(text).map_err(|e| format!("the name: {e}"))
}

fn device_view(name: &Name, key: &DevicePublic) -> DeviceView {
    DeviceView {
        name: name.as_str().to_owned(),
        sign_key: key.sign_hex(),
        age_recipient: key.age_string(),
        fingerprint: key.fingerprint(),
    }
}

fn json<T: Serialize>(value: &T) -> String {
    // Serialising these plain structs cannot fail; an empty object would be refused by the app.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// `{sign_key, age_recipient, fingerprint}` of a device secret.
pub fn device_public(secret_bytes: &[u8]) -> Result<String> {
    let key = secret(secret_bytes)?.public();
    Ok(json(&serde_json::json!({
        "sign_key": key.sign_hex(),
        "age_recipient": key.age_string(),
        "fingerprint": key.fingerprint(),
    })))
}

/// The fingerprint of public keys as the server lists them.
pub fn fingerprint_of(sign_key: &str, age_recipient: &str) -> Result<String> {
    Ok(public(sign_key, age_recipient)?.fingerprint())
}

/// An SVG QR code for `text`, medium error correction, with a quiet zone.
pub fn qr_svg(text: &str) -> Result<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| "too long for a QR code".to_owned())?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

pub(crate) fn decode_links(text: &str) -> Result<Vec<Link>> {
    let links: Links = serde_json::from_str(text)
        .map_err(|_| "the chain is not in the expected form".to_owned())?;
    links
        .links
        .iter()
        .enumerate()
        .map(|(index, encoded)| {
            let bytes = STANDARD
                .decode(encoded)
                .map_err(|_| format!("chain link {index} is not base64"))?;
            Link::from_bytes(&bytes).map_err(|e| format!("chain link {index}: {e}"))
        })
        .collect()
}

fn encode_links(links: &[Link]) -> String {
    json(&Links {
        links: links
            .iter()
            .map(|l| STANDARD.encode(l.to_bytes()))
            .collect(),
    })
}

pub(crate) fn hash(text: &str, what: &str) -> Result<LinkHash> {
    LinkHash::from_hex(text).map_err(|_| format!("{what} is not a link hash"))
}

/// Other accounts' chains as the household routes serve them (`GET /api/household/members`,
/// `GET /api/household/owners`): `{"chains": [{"root", "links"}]}`.
#[derive(Deserialize)]
pub(crate) struct HouseholdChains {
    pub(crate) chains: Vec<ServedChain>,
}

#[derive(Deserialize)]
pub(crate) struct ServedChain {
    pub(crate) root: String,
    pub(crate) links: Vec<String>,
}

/// A verified chain and whether verifying it pinned the root.
#[derive(Debug)]
pub struct Chain {
    chain: VerifiedChain,
    pinned_now: bool,
    /// Household members' chains, each verified from the root this chain names: re-wrapping
    /// a clip of a camera given to a member keeps the member's devices in its header.
    members: Vec<VerifiedChain>,
}

impl Chain {
    /// Link 0 for a new account: this device and a fresh recovery key. Returns the chain,
    /// `{"links": [...]}` to post, and the recovery code.
    pub fn start(secret_bytes: &[u8], device_name: &str) -> Result<(Self, String, String)> {
        let device = secret(secret_bytes)?;
        let (recovery, code) = RecoveryKey::generate();
        let builder = ChainBuilder::genesis(&device, name(device_name)?, recovery.public())
            .map_err(|e| format!("starting the chain: {e}"))?;
        let links = encode_links(builder.links());
        let (chain, _) = builder.into_parts();
        Ok((
            Self {
                chain,
                pinned_now: true,
                members: Vec::new(),
            },
            links,
            code.expose().to_owned(),
        ))
    }

    /// Verifies the served links from the trust the browser kept, or pins link 0 without it.
    pub fn verify(links_text: &str, trust_text: Option<&str>) -> Result<Self> {
        let links = decode_links(links_text)?;
        let (root, seen) = match trust_text {
            Some(text) => {
                let trust: Trust = serde_json::from_str(text)
                    .map_err(|_| "the kept chain pin is damaged".to_owned())?;
                (
                    hash(&trust.root, "the pinned root")?,
                    Some((
                        trust.seen_seq,
                        hash(&trust.seen_hash, "the last link seen")?,
                    )),
                )
            }
            None => (
                links
                    .first()
                    .ok_or_else(|| "the account has no device chain yet".to_owned())?
                    .hash(),
                None,
            ),
        };
        let chain = verify_chain(&links, &root, seen).map_err(|e| e.to_string())?;
        Ok(Self {
            chain,
            pinned_now: trust_text.is_none(),
            members: Vec::new(),
        })
    }

    /// Verifies another account's links from the root hash it is known by (a share names its
    /// owner's root; a sharee is named by theirs). Nothing is pinned.
    pub fn verify_from_root(links_text: &str, root_hex: &str) -> Result<Self> {
        let links = decode_links(links_text)?;
        let root = hash(root_hex.trim(), "the account's root")?;
        let chain = verify_chain(&links, &root, None).map_err(|e| e.to_string())?;
        Ok(Self {
            chain,
            pinned_now: false,
            members: Vec::new(),
        })
    }

    /// Verifies the served links for a browser restored by the recovery code.
    pub fn verify_by_recovery(links_text: &str, code: &str) -> Result<Self> {
        let key = recovery(code)?;
        let links = decode_links(links_text)?;
        let first = links
            .first()
            .ok_or_else(|| "the account has no device chain yet".to_owned())?;
        match first.op() {
            ChainOp::Genesis {
                recovery: named, ..
            } if *named == key.public() => {}
            _ => {
                return Err(
                    "this key recovery code does not belong to this account's chain".to_owned(),
                );
            }
        }
        let chain = verify_chain(&links, &first.hash(), None).map_err(|e| e.to_string())?;
        Ok(Self {
            chain,
            pinned_now: true,
            members: Vec::new(),
        })
    }

    /// Another account's chain this device verified (a household owner's), to check clips
    /// and live answers under. Nothing is pinned.
    pub(crate) fn of_owner(chain: VerifiedChain) -> Self {
        Self {
            chain,
            pinned_now: false,
            members: Vec::new(),
        }
    }

    /// The verified chain itself, for the clip checks.
    pub fn verified(&self) -> &VerifiedChain {
        &self.chain
    }

    pub fn pinned_now(&self) -> bool {
        self.pinned_now
    }

    pub fn trust(&self) -> String {
        let (seen_seq, seen_hash) = self.chain.position();
        json(&Trust {
            root: self.chain.root().to_hex(),
            seen_seq,
            seen_hash: seen_hash.to_hex(),
        })
    }

    pub fn view(&self) -> String {
        let chain = &self.chain;
        json(&ChainView {
            root: chain.root().to_hex(),
            head: chain.head().to_hex(),
            length: chain.len(),
            devices: chain
                .devices()
                .iter()
                .map(|d| device_view(&d.name, &d.key))
                .collect(),
            hubs: chain
                .hubs()
                .iter()
                .map(|h| HubView {
                    name: h.name.as_str().to_owned(),
                    key: h.key.to_hex(),
                })
                .collect(),
            members: chain
                .members()
                .iter()
                .map(|m| MemberView {
                    root: m.root.to_hex(),
                    label: m.label.as_str().to_owned(),
                    cameras: m.cameras.iter().map(CameraView::from).collect(),
                })
                .collect(),
            recovery_fingerprint: chain.recovery_key().fingerprint(),
        })
    }

    fn op(&self, text: &str) -> Result<ChainOp> {
        let request: OpRequest =
            serde_json::from_str(text).map_err(|_| "not a chain operation".to_owned())?;
        Ok(match request {
            OpRequest::AddDevice {
                name: n,
                sign_key,
                age_recipient,
            } => ChainOp::AddDevice {
                name: name(&n)?,
                device: public(&sign_key, &age_recipient)?,
            },
            OpRequest::RemoveDevice { sign_key } => ChainOp::RemoveDevice {
                device_sign_key: key32(&sign_key, "the signing key")?,
            },
            OpRequest::AddHub { name: n, hub_key } => ChainOp::AddHub {
                name: name(&n)?,
                hub: HubKey::from_bytes(key32(&hub_key, "the hub key")?)
                    .map_err(|e| format!("the hub key: {e}"))?,
            },
            OpRequest::RemoveHub { hub_key } => ChainOp::RemoveHub {
                hub_key: key32(&hub_key, "the hub key")?,
            },
            OpRequest::AddMember { root, label } => ChainOp::AddMember {
                root: hash(root.trim(), "the member's account root")?,
                label: name(&label)?,
            },
            OpRequest::RemoveMember { root } => ChainOp::RemoveMember {
                root: hash(root.trim(), "the member's account root")?,
            },
            OpRequest::MemberCameras { root, cameras } => ChainOp::MemberCameras {
                root: hash(root.trim(), "the member's account root")?,
                cameras: cameras
                    .iter()
                    .map(|c| {
                        CameraRef::new(key32(&c.hub_key, "the camera's hub key")?, &c.camera)
                            .map_err(|_| {
                                format!("\"{}\" is not a camera name a hub signs", c.camera)
                            })
                    })
                    .collect::<Result<_>>()?,
            },
        })
    }

    fn sign_next(&mut self, signer: &DeviceSecret, op: &str) -> Result<String> {
        let op = self.op(op)?;
        let mut next = self.chain.clone();
        let link = next.append(op, signer).map_err(|e| e.to_string())?;
        self.chain = next;
        Ok(encode_links(std::slice::from_ref(&link)))
    }

    pub fn append(&mut self, secret_bytes: &[u8], op: &str) -> Result<String> {
        let signer = secret(secret_bytes)?;
        if !self.chain.can_sign(signer.public().sign()) {
            return Err("this browser is not an approved device of the account".to_owned());
        }
        self.sign_next(&signer, op)
    }

    pub fn append_by_recovery(&mut self, code: &str, op: &str) -> Result<String> {
        let key = recovery(code)?;
        if *self.chain.recovery_key() != key.public() {
            return Err(
                "this key recovery code does not belong to this account's chain".to_owned(),
            );
        }
        self.sign_next(key.as_device(), op)
    }

    /// Takes the household members' chains (`GET /api/household/members`:
    /// `{"chains": [{"root", "links"}]}`), keeping each one that verifies from the root this
    /// chain names for a member given at least one camera, and that is no older than the
    /// position kept for it (`kept`: `{"<root hex>": [seq, "<hash hex>"]}` from an earlier
    /// call, or empty). Returns the positions to keep for next time; a member chain that does
    /// not verify, or that rolled back or forked, is left out (its member's devices are then
    /// not re-wrapped to) and keeps its old position.
    pub fn set_members(&mut self, text: &str, kept: &str) -> Result<String> {
        let served: HouseholdChains = serde_json::from_str(text)
            .map_err(|_| "the household members' chains are not in the expected form".to_owned())?;
        let kept: std::collections::BTreeMap<String, (u64, String)> = if kept.trim().is_empty() {
            std::collections::BTreeMap::new()
        } else {
            serde_json::from_str(kept)
                .map_err(|_| "the kept household positions are damaged".to_owned())?
        };
        let mut chains = Vec::new();
        let mut positions = std::collections::BTreeMap::new();
        for member in self
            .chain
            .members()
            .iter()
            .filter(|m| !m.cameras.is_empty())
        {
            let root_hex = member.root.to_hex();
            let seen = match kept.get(&root_hex) {
                Some((seq, hash_hex)) => Some((*seq, hash(hash_hex, "a kept member position")?)),
                None => None,
            };
            if let Some((seq, hash)) = seen {
                positions.insert(root_hex.clone(), (seq, hash.to_hex()));
            }
            let Some(found) = served
                .chains
                .iter()
                .find(|c| c.root.eq_ignore_ascii_case(&root_hex))
            else {
                continue;
            };
            let links = serde_json::json!({ "links": found.links }).to_string();
            let verified = decode_links(&links).and_then(|links| {
                verify_chain(&links, &member.root, seen).map_err(|e| e.to_string())
            });
            if let Ok(chain) = verified {
                let (seq, head) = chain.position();
                positions.insert(root_hex, (seq, head.to_hex()));
                chains.push(chain);
            }
        }
        self.members = chains;
        serde_json::to_string(&positions).map_err(|e| e.to_string())
    }

    /// How many member chains [`Self::set_members`] kept.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    fn rewrap_with(
        &self,
        header: &str,
        identity: &dyn porchlight_crypto::age::Identity,
        hub_key: &str,
        camera: &str,
    ) -> Result<String> {
        let bytes = STANDARD
            .decode(header)
            .map_err(|_| "the clip header is not base64".to_owned())?;
        let recipients = self.chain.recipients_for_camera(
            &key32(hub_key, "the hub key")?,
            camera,
            &self.members,
        );
        let out = porchlight_crypto::rewrap(&bytes, identity, &recipients)
            .map_err(|e| format!("re-wrapping the clip: {e}"))?;
        Ok(STANDARD.encode(out))
    }

    /// A clip header re-wrapped to every device of the chain and of the members given the
    /// clip's camera (`hub_key` hex, `camera` as the clip detail names them).
    pub fn rewrap(
        &self,
        header: &str,
        secret_bytes: &[u8],
        hub_key: &str,
        camera: &str,
    ) -> Result<String> {
        self.rewrap_with(header, &secret(secret_bytes)?, hub_key, camera)
    }

    pub fn rewrap_by_recovery(
        &self,
        header: &str,
        code: &str,
        hub_key: &str,
        camera: &str,
    ) -> Result<String> {
        self.rewrap_with(header, &recovery(code)?, hub_key, camera)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rewrapping_keeps_the_members_given_the_camera() {
        use porchlight_crypto::{CameraRef, HubSecret};
        let owner = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let hub = HubSecret::generate();
        let hub_hex = hex::encode(hub.public().as_bytes());
        let member_device = DeviceSecret::generate();
        let (member_recovery, _) = RecoveryKey::generate();
        let member = ChainBuilder::genesis(
            &member_device,
            Name::new("tablet").unwrap(),
            member_recovery.public(),
        )
        .unwrap();
        let member_root = member.chain().root();
        let mut builder =
            ChainBuilder::genesis(&owner, Name::new("phone").unwrap(), recovery.public()).unwrap();
        for op in [
            ChainOp::AddHub {
                name: Name::new("porch").unwrap(),
                hub: hub.public(),
            },
            ChainOp::AddMember {
                root: member_root,
                label: Name::new("lodger").unwrap(),
            },
            ChainOp::MemberCameras {
                root: member_root,
                cameras: vec![CameraRef::new(*hub.public().as_bytes(), "front").unwrap()],
            },
        ] {
            builder.append(op, &owner).unwrap();
        }
        let mut chain = Chain::verify(&encode_links(builder.links()), None).unwrap();
        let served = serde_json::json!({"chains": [
            {"root": member_root.to_hex(), "links": serde_json::from_str::<serde_json::Value>(&encode_links(member.links())).unwrap()["links"]},
            // Not a member: ignored.
            {"root": "00".repeat(32), "links": []},
        ]});
        let positions = chain.set_members(&served.to_string(), "").unwrap();
        assert_eq!(chain.member_count(), 1);
        assert!(chain.set_members("not json", "").is_err());
        assert!(chain.set_members(&served.to_string(), "not json").is_err());

        // The member's chain moves on; served again as it was, it is a rollback: left out.
        let mut grown = member.clone();
        grown
            .append(
                ChainOp::AddDevice {
                    name: Name::new("phone").unwrap(),
                    device: DeviceSecret::generate().public(),
                },
                &member_device,
            )
            .unwrap();
        let served_grown = serde_json::json!({"chains": [
            {"root": member_root.to_hex(), "links": serde_json::from_str::<serde_json::Value>(&encode_links(grown.links())).unwrap()["links"]},
        ]});
        let newer = chain
            .set_members(&served_grown.to_string(), &positions)
            .unwrap();
        assert_eq!(chain.member_count(), 1);
        assert_ne!(newer, positions);
        let refused = chain.set_members(&served.to_string(), &newer).unwrap();
        assert_eq!(chain.member_count(), 0);
        assert_eq!(refused, newer, "a refused chain keeps its old position");
        chain.set_members(&served.to_string(), &positions).unwrap();

        let mut header = Vec::new();
        let mut payload = Vec::new();
        porchlight_crypto::seal(&b"clip"[..], &mut header, &mut payload, &[owner.public()])
            .unwrap();
        let header = STANDARD.encode(header);
        let opens = |header_b64: &str, who: &DeviceSecret| {
            let h = STANDARD.decode(header_b64).unwrap();
            porchlight_crypto::open(&h, payload.as_slice(), who).is_ok()
        };
        let front = chain
            .rewrap(&header, &owner.to_bytes(), &hub_hex, "front")
            .unwrap();
        assert!(opens(&front, &member_device));
        assert!(opens(&front, &owner));
        let garden = chain
            .rewrap(&header, &owner.to_bytes(), &hub_hex, "garden")
            .unwrap();
        assert!(!opens(&garden, &member_device));
        assert!(opens(&garden, &owner));
        assert!(
            chain
                .rewrap(&header, &owner.to_bytes(), "zz", "front")
                .is_err()
        );
    }

    #[test]
    fn a_chain_started_here_verifies_from_its_own_pin_and_grows() {
        let first = device_generate();
        let (chain, links, code) = Chain::start(&first, "laptop").unwrap();
        let trust = chain.trust();
        let again = Chain::verify(&links, Some(&trust)).unwrap();
        assert!(!again.pinned_now());
        let view: serde_json::Value = serde_json::from_str(&again.view()).unwrap();
        assert_eq!(view["devices"][0]["name"], "laptop");

        // A second browser, pending; the first approves it.
        let second = device_generate();
        let second_public: serde_json::Value =
            serde_json::from_str(&device_public(&second).unwrap()).unwrap();
        let op = serde_json::json!({"add_device": {
            "name": "phone",
            "sign_key": second_public["sign_key"],
            "age_recipient": second_public["age_recipient"],
        }})
        .to_string();
        let mut approving = Chain::verify(&links, Some(&trust)).unwrap();
        let link = approving.append(&first, &op).unwrap();
        let mut all: Links = serde_json::from_str(&links).unwrap();
        all.links
            .extend(serde_json::from_str::<Links>(&link).unwrap().links);
        let all = json(&all);
        let grown = Chain::verify(&all, Some(&trust)).unwrap();
        let view: serde_json::Value = serde_json::from_str(&grown.view()).unwrap();
        assert_eq!(
            view["devices"][1]["fingerprint"],
            second_public["fingerprint"]
        );

        // The pending device cannot sign; the recovery code can, and only its own.
        let mut pending = Chain::verify(&links, None).unwrap();
        assert!(pending.append(&second, &op).is_err());
        assert!(Chain::verify_by_recovery(&links, &code).is_ok());
        let (_, _, other_code) = Chain::start(&device_generate(), "other").unwrap();
        assert!(Chain::verify_by_recovery(&links, &other_code).is_err());
        assert!(pending.append_by_recovery(&other_code, &op).is_err());
        assert!(pending.append_by_recovery(&code, &op).is_ok());
    }

    #[test]
    fn household_links_are_signed_here_and_shown_with_their_cameras() {
        let first = device_generate();
        let (_, links, _) = Chain::start(&first, "laptop").unwrap();
        let (member, _, _) = Chain::start(&device_generate(), "tablet").unwrap();
        let member_root = member.verified().root().to_hex();
        let hub = porchlight_crypto::HubSecret::generate();
        let hub_hex = hub.public().to_hex();
        let mut chain = Chain::verify(&links, None).unwrap();
        let sign = |chain: &mut Chain, op: serde_json::Value| chain.append(&first, &op.to_string());
        sign(
            &mut chain,
            serde_json::json!({"add_hub": {"name": "porch hub", "hub_key": hub_hex}}),
        )
        .unwrap();
        sign(
            &mut chain,
            serde_json::json!({"add_member": {"root": member_root, "label": "Sam"}}),
        )
        .unwrap();
        // A camera of no hub of the chain, or a name no hub signs, is refused.
        let other_hub = porchlight_crypto::HubSecret::generate().public().to_hex();
        for cameras in [
            serde_json::json!([{"hub_key": other_hub, "camera": "porch"}]),
            serde_json::json!([{"hub_key": hub_hex, "camera": ""}]),
            serde_json::json!([{"hub_key": "zz", "camera": "porch"}]),
        ] {
            let op =
                serde_json::json!({"member_cameras": {"root": member_root, "cameras": cameras}});
            assert!(sign(&mut chain, op).is_err());
        }
        sign(&mut chain, serde_json::json!({"member_cameras": {"root": member_root, "cameras": [{"hub_key": hub_hex, "camera": "porch"}]}})).unwrap();
        let view: serde_json::Value = serde_json::from_str(&chain.view()).unwrap();
        assert_eq!(view["members"][0]["label"], "Sam");
        assert_eq!(view["members"][0]["cameras"][0]["camera"], "porch");
        assert_eq!(view["members"][0]["cameras"][0]["hub_key"], hub_hex);
        assert!(
            sign(
                &mut chain,
                serde_json::json!({"add_member": {"root": "not a root", "label": "x"}})
            )
            .is_err()
        );
        sign(
            &mut chain,
            serde_json::json!({"remove_member": {"root": member_root}}),
        )
        .unwrap();
        let view: serde_json::Value = serde_json::from_str(&chain.view()).unwrap();
        assert_eq!(view["members"].as_array().unwrap().len(), 0);
        assert!(
            sign(
                &mut chain,
                serde_json::json!({"remove_member": {"root": member_root}})
            )
            .is_err()
        );
    }

    #[test]
    fn a_rolled_back_or_foreign_chain_is_refused() {
        let first = device_generate();
        let (chain, links, _) = Chain::start(&first, "laptop").unwrap();
        let (_, foreign, _) = Chain::start(&device_generate(), "elsewhere").unwrap();
        assert!(Chain::verify(&foreign, Some(&chain.trust())).is_err());
        assert!(Chain::verify("{\"links\": []}", None).is_err());
        assert!(Chain::verify("not json", None).is_err());
        assert!(Chain::verify(&links, Some("{}")).is_err());
    }

    #[test]
    fn another_accounts_chain_verifies_only_from_its_own_root() {
        let (chain, links, _) = Chain::start(&device_generate(), "laptop").unwrap();
        let view: serde_json::Value = serde_json::from_str(&chain.view()).unwrap();
        let root = view["root"].as_str().unwrap();
        let theirs = Chain::verify_from_root(&links, root).unwrap();
        assert!(!theirs.pinned_now());
        assert_eq!(theirs.verified().root(), chain.verified().root());
        let (other, _, _) = Chain::start(&device_generate(), "elsewhere").unwrap();
        let other_root: serde_json::Value = serde_json::from_str(&other.view()).unwrap();
        assert!(Chain::verify_from_root(&links, other_root["root"].as_str().unwrap()).is_err());
        assert!(Chain::verify_from_root(&links, "not a hash").is_err());
        assert!(Chain::verify_from_root("{\"links\": []}", root).is_err());
    }

    #[test]
    fn qr_codes_are_plain_svg() {
        let svg =
            qr_svg("otpauth://totp/Porchlight:a@example.com?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(svg.contains("<svg"));
        assert!(!svg.contains("<script"));
    }
}
