//! Listings checked before they are shown: every clip of a page passes the crypto crate's
//! listing check ([`porchlight_crypto::check_listed_clip`]) under the chain that vouches for
//! it, or is set apart with the reason it failed.
//!
//! Which chain vouches: the account's own for clips of its own hubs; for a household's camera,
//! the owner's chain that gives this account that camera (verified from the root the server
//! names and kept, as [`crate::household::owners`] does); for a shared clip, the owner's chain
//! verified from the root the share names. A clip none of them vouches for is refused as not
//! signed by a hub of the chain — which is what a file sealed to the account's public keys
//! and slipped into the store is.

use std::collections::BTreeMap;

use porchlight_crypto::{
    CheckedListing, LinkHash, ListingRefusal, VerifiedChain, WireListedClip, check_wire_listed_clip,
};
use porchlight_proto as proto;

use crate::client::Client;
use crate::e2e_error::E2eError;
use crate::household;
use crate::shares::chain_of_root;
use crate::vault::Vault;
use crate::viewer::check_listed;

/// Why a listed clip is not shown: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub reason: String,
}

impl From<ListingRefusal> for Refusal {
    fn from(refusal: ListingRefusal) -> Self {
        Self {
            code: refusal.code(),
            reason: refusal.to_string(),
        }
    }
}

impl Refusal {
    /// A refusal of a clip checked under another account's chain (worded for that).
    fn under_owner(refusal: ListingRefusal) -> Self {
        Self {
            code: refusal.code(),
            reason: refusal.reason_under_owner(),
        }
    }
}

/// A listing after the check: what may be shown (with what its hub signed) and what may not.
#[derive(Debug, Clone)]
pub struct Checked<T> {
    pub shown: Vec<(T, CheckedListing)>,
    pub refused: Vec<(T, Refusal)>,
}

impl<T> Default for Checked<T> {
    fn default() -> Self {
        Self {
            shown: Vec::new(),
            refused: Vec::new(),
        }
    }
}

impl<T> Checked<T> {
    fn push(&mut self, item: T, verdict: Result<CheckedListing, Refusal>) {
        match verdict {
            Ok(checked) => self.shown.push((item, checked)),
            Err(refusal) => self.refused.push((item, refusal)),
        }
    }
}

fn hub_bytes(hex_key: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut out).ok()?;
    Some(out)
}

/// Checks the account's clips (`GET /api/clips`: its own cameras' and its households'). The
/// households' chains are fetched only when a clip's hub is not one of the account's own.
pub async fn check_clips(
    client: &Client,
    vault: &Vault,
    own: &VerifiedChain,
    clips: Vec<proto::ClipSummary>,
) -> Result<Checked<proto::ClipSummary>, E2eError> {
    let own_hub = |clip: &proto::ClipSummary| {
        hub_bytes(&clip.hub_key).is_some_and(|k| own.hubs().iter().any(|h| h.key.as_bytes() == &k))
    };
    let owners = if clips.iter().all(own_hub) {
        Vec::new()
    } else {
        household::owners(client, vault, &own.root()).await?.chains
    };
    let mut out = Checked::default();
    for clip in clips {
        let owner = hub_bytes(&clip.hub_key)
            .filter(|_| !own_hub(&clip))
            .and_then(|hub| {
                household::owner_of_camera(&owners, &own.root(), &hub, &clip.camera_name)
            });
        let verdict = match owner {
            Some(chain) => check_listed(chain, &clip).map_err(Refusal::under_owner),
            None => check_listed(own, &clip).map_err(Refusal::from),
        };
        out.push(clip, verdict);
    }
    Ok(out)
}

/// Checks the clips shared with this account (`GET /api/shared`), each under its owner's
/// chain verified from the root the share names (fetched once per owner).
pub async fn check_shared(
    client: &Client,
    clips: Vec<proto::SharedClipInfo>,
) -> Checked<proto::SharedClipInfo> {
    let mut chains: BTreeMap<String, Result<VerifiedChain, Refusal>> = BTreeMap::new();
    for clip in &clips {
        if chains.contains_key(&clip.owner_root) {
            continue;
        }
        let chain = match LinkHash::from_hex(&clip.owner_root) {
            Ok(root) => chain_of_root(client, &root).await.map_err(|e| Refusal {
                code: "owner_chain_invalid",
                reason: format!(
                    "the owner's device chain could not be checked from the root the share names \
                     ({e})"
                ),
            }),
            Err(_) => Err(Refusal {
                code: "owner_chain_invalid",
                reason: "the share names no valid owner root".to_owned(),
            }),
        };
        chains.insert(clip.owner_root.clone(), chain);
    }
    let mut out = Checked::default();
    for clip in clips {
        let verdict = match chains.get(&clip.owner_root) {
            Some(Ok(chain)) => check_wire_listed_clip(
                chain,
                &WireListedClip {
                    camera: &clip.camera_name,
                    start_ms: clip.start_ms,
                    duration_ms: clip.duration_ms,
                    payload_sha256: &clip.payload_sha256,
                    statement: &clip.statement,
                    signature: &clip.signature,
                    hub_key: &clip.hub_key,
                },
            )
            .map_err(Refusal::under_owner),
            Some(Err(refusal)) => Err(refusal.clone()),
            None => Err(Refusal {
                code: "owner_chain_invalid",
                reason: "the owner's device chain could not be checked".to_owned(),
            }),
        };
        out.push(clip, verdict);
    }
    out
}

/// Only the clips of `clips` that pass the listing check under `chain`, for callers that act
/// on clips (re-wrap, research) rather than show them; the rest with their refusals.
pub fn split_under(
    chain: &VerifiedChain,
    clips: Vec<proto::ClipSummary>,
) -> Checked<proto::ClipSummary> {
    let mut out = Checked::default();
    for clip in clips {
        let verdict = check_listed(chain, &clip).map_err(Refusal::from);
        out.push(clip, verdict);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use porchlight_crypto::{
        ChainBuilder, ChainOp, ClipStatement, DeviceSecret, HubSecret, Name, RecoveryKey, sign_clip,
    };

    fn listed(hub: &HubSecret, camera: &str) -> proto::ClipSummary {
        let statement = ClipStatement::new(camera, 1_000, 2_000, [3; 32], [4; 32]).unwrap();
        proto::ClipSummary {
            id: "c1".into(),
            camera_id: "cam".into(),
            camera_name: camera.into(),
            start_ms: 1_000,
            duration_ms: 2_000,
            payload_size: 100,
            header_size: 10,
            payload_sha256: hex::encode([3; 32]),
            statement: STANDARD.encode(statement.to_bytes()),
            signature: STANDARD.encode(sign_clip(&statement, hub).to_bytes()),
            hub_key: hex::encode(hub.public().as_bytes()),
        }
    }

    #[test]
    fn a_listing_splits_into_shown_and_refused_with_reasons() {
        let device = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let hub = HubSecret::generate();
        let mut builder =
            ChainBuilder::genesis(&device, Name::new("phone").unwrap(), recovery.public()).unwrap();
        builder
            .append(
                ChainOp::AddHub {
                    name: Name::new("porch").unwrap(),
                    hub: hub.public(),
                },
                &device,
            )
            .unwrap();
        let (chain, _) = builder.into_parts();
        let real = listed(&hub, "front");
        let planted = proto::ClipSummary {
            id: "c2".into(),
            ..listed(&HubSecret::generate(), "front")
        };
        let garbled = proto::ClipSummary {
            id: "c3".into(),
            statement: "not base64!".into(),
            ..listed(&hub, "front")
        };
        let checked = split_under(&chain, vec![real, planted, garbled]);
        assert_eq!(checked.shown.len(), 1);
        assert_eq!(checked.shown[0].1.hub_name, "porch");
        let refused: Vec<_> = checked
            .refused
            .iter()
            .map(|(c, r)| (c.id.as_str(), r.code))
            .collect();
        assert_eq!(
            refused,
            [
                ("c2", "not_signed_by_chain_hub"),
                ("c3", "statement_malformed")
            ]
        );
        assert_eq!(
            checked.refused[0].1.reason,
            "it is not signed by a hub of your device chain"
        );
    }
}
