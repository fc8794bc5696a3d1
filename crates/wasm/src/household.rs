//! A household member's browser (DESIGN §4, §6): the chains of the households this account
//! belongs to, each verified from its root and no older than this browser last saw it, and
//! the crypto crate's one decision about which of them vouches for a given camera — for the
//! listing, for opening a clip, for checking a live answer. The TypeScript fetches
//! `GET /api/household/owners` and keeps the positions; it decides nothing.

use std::collections::BTreeMap;

use porchlight_crypto::{LinkHash, VerifiedChain, given_camera, owner_of_camera, verify_chain};
use serde::Serialize;

use crate::core::{CameraView, HouseholdChains, decode_links, hash};

type Result<T> = std::result::Result<T, String>;

/// `{"<root hex>": [seq, "<hash hex>"]}`: the highest link seen of each owner's chain.
type Positions = BTreeMap<String, (u64, String)>;

#[derive(Serialize)]
struct GivenView {
    hub_name: String,
    #[serde(flatten)]
    camera: CameraView,
}

#[derive(Serialize)]
struct OwnerView {
    root: String,
    cameras: Vec<GivenView>,
}

#[derive(Serialize)]
struct RefusedView {
    root: String,
    reason: String,
}

#[derive(Serialize)]
struct HouseholdsView {
    owners: Vec<OwnerView>,
    refused: Vec<RefusedView>,
}

/// The households this account (`mine`, its root) belongs to, as this device verified them.
#[derive(Debug)]
pub struct Households {
    mine: LinkHash,
    owners: Vec<VerifiedChain>,
    positions: Positions,
    refused: Vec<(String, String)>,
}

impl Households {
    /// Verifies each served chain (`{"chains": [{"root", "links"}]}`) from the root it is
    /// served under and against the position `kept` for it (an older or forked chain is
    /// refused, keeping its old position), and keeps those whose owner names `mine` as a
    /// member. The server cannot make a chain name this account without a device of that
    /// owner signing it.
    pub fn verify(mine: LinkHash, served: &str, kept: &str) -> Result<Self> {
        let served: HouseholdChains = serde_json::from_str(served)
            .map_err(|_| "the households' chains are not in the expected form".to_owned())?;
        let mut positions: Positions = if kept.trim().is_empty() {
            Positions::new()
        } else {
            serde_json::from_str(kept)
                .map_err(|_| "the kept household positions are damaged".to_owned())?
        };
        let mut owners = Vec::new();
        let mut refused = Vec::new();
        for served in &served.chains {
            let root_hex = served.root.to_ascii_lowercase();
            let verified = hash(&root_hex, "a household's root").and_then(|root| {
                let seen = match positions.get(&root_hex) {
                    Some((seq, head)) => Some((*seq, hash(head, "a kept household position")?)),
                    None => None,
                };
                let links =
                    decode_links(&serde_json::json!({ "links": served.links }).to_string())?;
                verify_chain(&links, &root, seen).map_err(|e| e.to_string())
            });
            match verified {
                Ok(chain) if chain.member(&mine).is_some() => {
                    let (seq, head) = chain.position();
                    positions.insert(root_hex, (seq, head.to_hex()));
                    owners.push(chain);
                }
                // Served, but it does not name this account: not a household of ours.
                Ok(_) => {}
                Err(reason) => refused.push((root_hex, reason)),
            }
        }
        Ok(Self {
            mine,
            owners,
            positions,
            refused,
        })
    }

    /// The positions to keep for the next call.
    pub fn positions(&self) -> String {
        serde_json::to_string(&self.positions).unwrap_or_else(|_| "{}".to_owned())
    }

    /// `{"owners": [{"root", "cameras": [{"hub_key", "camera", "hub_name"}]}],
    /// "refused": [{"root", "reason"}]}`: what each household gives this account.
    pub fn view(&self) -> String {
        let owners = self
            .owners
            .iter()
            .map(|chain| OwnerView {
                root: chain.root().to_hex(),
                cameras: chain
                    .member(&self.mine)
                    .map(|m| {
                        m.cameras
                            .iter()
                            .filter_map(|c| {
                                let hub = chain
                                    .hubs()
                                    .iter()
                                    .find(|h| h.key.as_bytes() == &c.hub_key)?;
                                Some(GivenView {
                                    hub_name: hub.name.as_str().to_owned(),
                                    camera: CameraView::from(c),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        let refused = self
            .refused
            .iter()
            .map(|(root, reason)| RefusedView {
                root: root.clone(),
                reason: reason.clone(),
            })
            .collect();
        serde_json::to_string(&HouseholdsView { owners, refused })
            .unwrap_or_else(|_| "{}".to_owned())
    }

    /// The owner's chain that gives this account camera `camera` of hub `hub_key` (hex).
    pub fn owner_of_camera(&self, hub_key: &str, camera: &str) -> Option<&VerifiedChain> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(hub_key, &mut key).ok()?;
        owner_of_camera(&self.owners, &self.mine, &key, camera)
    }

    /// The owner's chain that gives this account the camera its hub signs as `camera`, and
    /// that hub's key (hex), from that chain.
    pub fn given_camera(&self, camera: &str) -> Option<(&VerifiedChain, String)> {
        given_camera(&self.owners, &self.mine, camera).map(|(chain, key)| (chain, key.to_hex()))
    }

    /// The listing check for `GET /api/clips`, as the CLI makes it: a clip of one of this
    /// account's own hubs under `own`; of a camera a household gives this account, under
    /// that owner's chain; anything else under `own` again, where it is refused as not
    /// signed by a hub of the chain.
    pub fn check_listing(&self, own: &VerifiedChain, clips_json: &str) -> Result<String> {
        crate::listing::check_listing_with(clips_json, |hub_key, camera| {
            let ours = own
                .hubs()
                .iter()
                .any(|h| h.key.to_hex().eq_ignore_ascii_case(hub_key));
            match self.owner_of_camera(hub_key, camera).filter(|_| !ours) {
                Some(owner) => (owner, true),
                None => (own, false),
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use porchlight_crypto::{
        CameraRef, ChainBuilder, ChainOp, DeviceSecret, HubSecret, Name, RecoveryKey,
    };

    use super::*;

    fn builder(device: &DeviceSecret) -> ChainBuilder {
        let (recovery, _) = RecoveryKey::generate();
        ChainBuilder::genesis(device, Name::new("phone").unwrap(), recovery.public()).unwrap()
    }

    fn served(chains: &[&ChainBuilder]) -> String {
        serde_json::json!({"chains": chains.iter().map(|b| serde_json::json!({
            "root": b.chain().root().to_hex(),
            "links": b.links().iter().map(|l| STANDARD.encode(l.to_bytes())).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()})
        .to_string()
    }

    #[test]
    fn a_given_camera_is_checked_under_the_owner_that_gives_it_and_only_then() {
        let member_device = DeviceSecret::generate();
        let member = builder(&member_device);
        let mine = member.chain().root();
        let owner_device = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let mut owner = builder(&owner_device);
        owner
            .append(
                ChainOp::AddHub {
                    name: Name::new("porch hub").unwrap(),
                    hub: hub.public(),
                },
                &owner_device,
            )
            .unwrap();
        owner
            .append(
                ChainOp::AddMember {
                    root: mine,
                    label: Name::new("lodger").unwrap(),
                },
                &owner_device,
            )
            .unwrap();
        let before_cameras = owner.clone();
        owner
            .append(
                ChainOp::MemberCameras {
                    root: mine,
                    cameras: vec![CameraRef::new(*hub.public().as_bytes(), "porch").unwrap()],
                },
                &owner_device,
            )
            .unwrap();
        // Another account that does not name this one is left out.
        let stranger_device = DeviceSecret::generate();
        let stranger = builder(&stranger_device);

        let households = Households::verify(mine, &served(&[&owner, &stranger]), "").unwrap();
        let view: serde_json::Value = serde_json::from_str(&households.view()).unwrap();
        assert_eq!(view["owners"].as_array().unwrap().len(), 1);
        assert_eq!(view["owners"][0]["root"], owner.chain().root().to_hex());
        assert_eq!(view["owners"][0]["cameras"][0]["camera"], "porch");
        assert_eq!(view["owners"][0]["cameras"][0]["hub_name"], "porch hub");
        let (_, hub_hex) = households.given_camera("porch").unwrap();
        assert_eq!(hub_hex, hub.public().to_hex());
        assert!(households.given_camera("garden").is_none());

        // The clip the owner's hub signed passes under the owner's chain; the member's own
        // chain (no hub) would refuse it.
        let own = member.chain().clone();
        let (clip, _) = crate::fixtures::sealed_clip(owner.chain(), &hub, b"footage", 1_000, 2_000);
        let mut planted = clip.clone();
        planted["id"] = "planted".into();
        planted["hub_key"] = HubSecret::generate().public().to_hex().into();
        let listing = serde_json::json!([clip, planted]).to_string();
        let verdicts: serde_json::Value =
            serde_json::from_str(&households.check_listing(&own, &listing).unwrap()).unwrap();
        assert_eq!(verdicts[0]["verified"], true, "{verdicts}");
        assert_eq!(verdicts[0]["hub_name"], "porch hub");
        assert_eq!(verdicts[1]["refused"]["code"], "not_signed_by_chain_hub");

        // Served as it was before the camera was given: a rollback, refused, and its
        // position kept; the camera is then vouched for by nobody.
        let positions = households.positions();
        let rolled = Households::verify(mine, &served(&[&before_cameras]), &positions).unwrap();
        let view: serde_json::Value = serde_json::from_str(&rolled.view()).unwrap();
        assert_eq!(view["owners"].as_array().unwrap().len(), 0);
        assert_eq!(view["refused"][0]["root"], owner.chain().root().to_hex());
        assert_eq!(rolled.positions(), positions);
        let verdicts: serde_json::Value =
            serde_json::from_str(&rolled.check_listing(&own, &listing).unwrap()).unwrap();
        assert_eq!(verdicts[0]["verified"], false);
        assert_eq!(verdicts[0]["refused"]["code"], "not_signed_by_chain_hub");

        // Removed from the household: the owner's newer chain no longer gives anything.
        owner
            .append(ChainOp::RemoveMember { root: mine }, &owner_device)
            .unwrap();
        let removed = Households::verify(mine, &served(&[&owner]), &positions).unwrap();
        assert!(removed.given_camera("porch").is_none());
        assert!(
            removed
                .owner_of_camera(&hub.public().to_hex(), "porch")
                .is_none()
        );

        // A chain served under another account's root is refused.
        let mut forged: serde_json::Value = serde_json::from_str(&served(&[&owner])).unwrap();
        forged["chains"][0]["root"] = stranger.chain().root().to_hex().into();
        let forged = Households::verify(mine, &forged.to_string(), "").unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&forged.view()).unwrap()["refused"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(Households::verify(mine, "not json", "").is_err());
        assert!(Households::verify(mine, &served(&[]), "not json").is_err());
    }
}
