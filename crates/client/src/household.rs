//! Household chains kept on a device or a hub (DESIGN §4, §6).
//!
//! An owner's chain names each household member by the root of the member's own chain, and
//! gives members cameras (`MemberCameras`). Three readers need the chain on the other side:
//! a hub seals a given camera's clips to the member's devices and answers their live offers;
//! the owner's device keeps members in clip headers when it re-wraps; a member's device checks
//! the owner's hub. Each chain is verified from the root the reader already trusts and kept
//! with the highest link seen, so a server that later serves an older chain (one that still
//! names a removed device) is refused and the kept chain is used instead.

use std::collections::BTreeMap;

use porchlight_crypto::{LinkHash, VerifiedChain, verify_chain};
use porchlight_proto as proto;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::e2e_error::E2eError;
use crate::files::PrivateDir;
use crate::vault::{Vault, decode_links, encode_links};

const FORMAT_VERSION: u32 = 1;
/// Where a device keeps the chains of the households it belongs to.
pub const OWNERS_FILE: &str = "household-owners.json";
/// Where a device keeps its own household members' chains.
pub const MEMBERS_FILE: &str = "household-members.json";

#[derive(Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
struct KeptFile {
    version: u32,
    /// By root (hex).
    chains: BTreeMap<String, KeptChain>,
}

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct KeptChain {
    links: Vec<String>,
    seen_seq: u64,
    seen_hash: String,
}

/// Chains kept in one file of a private folder, by root.
pub(crate) struct KeptChains<'d> {
    dir: &'d PrivateDir,
    file: &'static str,
}

/// What [`KeptChains::refresh`] found: the chains to use, and the roots whose served chain
/// was refused (each with why) — for those the kept chain, if any, is in `chains`.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub chains: Vec<VerifiedChain>,
    pub refused: Vec<(LinkHash, E2eError)>,
}

impl<'d> KeptChains<'d> {
    pub(crate) fn new(dir: &'d PrivateDir, file: &'static str) -> Self {
        Self { dir, file }
    }

    fn load(&self) -> Result<KeptFile, E2eError> {
        match self.dir.read_json::<KeptFile>(self.file)? {
            Some(file) if file.version == FORMAT_VERSION => Ok(file),
            Some(_) => Err(E2eError::Home(self.dir.damaged(self.file))),
            None => Ok(KeptFile {
                version: FORMAT_VERSION,
                chains: BTreeMap::new(),
            }),
        }
    }

    fn verify_kept(&self, root: &LinkHash, kept: &KeptChain) -> Result<VerifiedChain, E2eError> {
        let damaged = || E2eError::Home(self.dir.damaged(self.file));
        let seen = LinkHash::from_hex(&kept.seen_hash).map_err(|_| damaged())?;
        let links = decode_links(&proto::ChainLinks {
            links: kept.links.clone(),
        })?;
        Ok(verify_chain(&links, root, Some((kept.seen_seq, seen)))?)
    }

    /// The kept chains of `roots`, each verified again from its root; a root with no kept
    /// chain (or one that no longer verifies) is left out.
    pub(crate) fn kept(&self, roots: &[LinkHash]) -> Result<Vec<VerifiedChain>, E2eError> {
        let file = self.load()?;
        Ok(roots
            .iter()
            .filter_map(|root| {
                let kept = file.chains.get(&root.to_hex())?;
                self.verify_kept(root, kept).ok()
            })
            .collect())
    }

    /// Verifies the served chain of each of `roots` from that root and no older than the one
    /// kept; keeps what verified and forgets roots no longer asked for.
    pub(crate) fn refresh(
        &self,
        roots: &[LinkHash],
        served: &proto::HouseholdChains,
    ) -> Result<Refreshed, E2eError> {
        let old = self.load()?;
        let mut next = KeptFile {
            version: FORMAT_VERSION,
            chains: BTreeMap::new(),
        };
        let mut out = Refreshed::default();
        for root in roots {
            let hex = root.to_hex();
            let kept = old.chains.get(&hex);
            let seen = kept.and_then(|k| {
                LinkHash::from_hex(&k.seen_hash)
                    .ok()
                    .map(|hash| (k.seen_seq, hash))
            });
            let fresh = served
                .chains
                .iter()
                .find(|c| c.root.eq_ignore_ascii_case(&hex))
                .map(|c| {
                    let links = decode_links(&proto::ChainLinks {
                        links: c.links.clone(),
                    })?;
                    let chain = verify_chain(&links, root, seen)?;
                    Ok::<_, E2eError>((chain, links))
                });
            match fresh {
                Some(Ok((chain, links))) => {
                    let (seen_seq, seen_hash) = chain.position();
                    next.chains.insert(
                        hex,
                        KeptChain {
                            links: encode_links(&links).links,
                            seen_seq,
                            seen_hash: seen_hash.to_hex(),
                        },
                    );
                    out.chains.push(chain);
                }
                other => {
                    if let Some(Err(e)) = other {
                        out.refused.push((*root, e));
                    }
                    if let Some(kept) = kept {
                        if let Ok(chain) = self.verify_kept(root, kept) {
                            out.chains.push(chain);
                        }
                        next.chains.insert(
                            hex,
                            KeptChain {
                                links: kept.links.clone(),
                                seen_seq: kept.seen_seq,
                                seen_hash: kept.seen_hash.clone(),
                            },
                        );
                    }
                }
            }
        }
        // Refreshed every minute and for every live offer: written only when it changed.
        if next != old {
            self.dir.write_json(self.file, &next)?;
        }
        Ok(out)
    }
}

pub use porchlight_crypto::household::member_roots;

/// The owner's device: its household members' chains (those given a camera), verified from
/// the roots its own verified chain names — what it re-wraps the given cameras' clips to.
pub async fn members(
    client: &Client,
    vault: &Vault,
    owner: &VerifiedChain,
) -> Result<Refreshed, E2eError> {
    let roots = member_roots(owner, None);
    let kept = KeptChains::new(vault.private_dir(), MEMBERS_FILE);
    if roots.is_empty() {
        return kept.refresh(&roots, &proto::HouseholdChains { chains: Vec::new() });
    }
    kept.refresh(&roots, &client.household_members().await?)
}

/// A member's device: the chains of the households whose owners name this account's root as
/// a member, each verified from the root the server gives for it and kept, so a later
/// rollback is refused. The owner's root is shown to the person to compare with the one the
/// owner gave them; the server cannot make a chain name this account without a device of the
/// owner signing it — except by inventing a whole account, which the root comparison shows.
pub async fn owners(
    client: &Client,
    vault: &Vault,
    my_root: &LinkHash,
) -> Result<Refreshed, E2eError> {
    let served = client.household_owners().await?;
    let mut roots = Vec::new();
    let mut refused = Vec::new();
    for chain in &served.chains {
        match LinkHash::from_hex(&chain.root) {
            Ok(root) => roots.push(root),
            Err(_) => {
                refused.push((
                    LinkHash::ZERO,
                    E2eError::BadLink {
                        index: 0,
                        reason: "a household root is not 64 hex digits".to_owned(),
                    },
                ));
            }
        }
    }
    let mut out = KeptChains::new(vault.private_dir(), OWNERS_FILE).refresh(&roots, &served)?;
    out.chains.retain(|c| c.member(my_root).is_some());
    out.refused.extend(refused);
    Ok(out)
}

pub use porchlight_crypto::household::{given_camera, owner_of_camera};

/// The chain to check clip `clip_id` under: this account's own when its hub is one of ours,
/// else the chain of the household whose owner gave this account that clip's camera, else
/// this account's own again — under which the clip's check then fails as not signed by a hub
/// of the chain, as it does in a listing (`listing::check_clips`).
pub async fn chain_for_clip(
    client: &Client,
    vault: &Vault,
    own: &VerifiedChain,
    clip_id: &str,
) -> Result<VerifiedChain, E2eError> {
    let detail = client.clip(clip_id).await?;
    let mut hub_key = [0u8; 32];
    hex::decode_to_slice(&detail.summary.hub_key, &mut hub_key).map_err(|_| {
        E2eError::BadClipDetail {
            subject: format!("clip {clip_id}"),
            what: "hub key",
        }
    })?;
    if own.hubs().iter().any(|h| h.key.as_bytes() == &hub_key) {
        return Ok(own.clone());
    }
    let owners = owners(client, vault, &own.root()).await?;
    Ok(owner_of_camera(
        &owners.chains,
        &own.root(),
        &hub_key,
        &detail.summary.camera_name,
    )
    .unwrap_or(own)
    .clone())
}
