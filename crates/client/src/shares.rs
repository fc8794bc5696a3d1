//! Sharing a clip with another account, on the owner's device, and opening one shared with
//! this account (DESIGN §6).
//!
//! An account is named by its root: the hash of link 0 of its device chain, which a person
//! gives out of band. The owner's device fetches that account's chain, verifies it from the
//! root it was given (so the server cannot slip its own key in), unwraps the clip's file key
//! with this device's identity and wraps it to the devices that chain names now. The result
//! is a share: an age header of its own, stored beside the clip. A device the sharee adds
//! later is not in it; sharing again re-wraps to the chain as it is then.
//!
//! The sharee's device verifies the owner's chain from the owner's root, the hub's statement
//! under a hub of that chain, and the payload against the statement as it downloads (the
//! viewer's own steps), and opens it with its own identity.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::age::Identity;
use porchlight_crypto::{DeviceSecret, LinkHash, VerifiedChain, rewrap, verify_chain};
use porchlight_proto::{self as proto};

use crate::client::Client;
use crate::e2e_error::E2eError;
use crate::vault::decode_links;
use crate::viewer::{OpenedClip, PayloadFrom, fetch_verified, open_verified, verify_detail};

/// A root as a person types it: 64 hex digits (spaces and dashes ignored).
pub fn parse_root(text: &str) -> Result<LinkHash, E2eError> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    LinkHash::from_hex(&digits.to_ascii_lowercase()).map_err(|_| E2eError::BadRoot {
        reason: "a root is 64 hex digits (`porchlight identity root` prints it)".to_owned(),
    })
}

/// A short form of a root for people to compare: its first 80 bits as five groups of four
/// hex digits.
pub fn root_fingerprint(root: &LinkHash) -> String {
    let hex = root.to_hex();
    hex.as_bytes()
        .chunks(4)
        .take(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The chain of the account with root `root`, as the server serves it, verified from that
/// root: a chain that does not start there, or does not verify, is refused.
pub async fn chain_of_root(client: &Client, root: &LinkHash) -> Result<VerifiedChain, E2eError> {
    let links = decode_links(&client.account_chain(&root.to_hex()).await?)?;
    Ok(verify_chain(&links, root, None)?)
}

/// What sharing did.
#[derive(Debug, Clone)]
pub struct Shared {
    pub share: proto::ShareInfo,
    /// Devices (and the recovery key) of the sharee's chain the header was wrapped to.
    pub recipients: usize,
}

/// Shares owned clip `clip_id` with the account whose chain starts at `sharee`: the clip is
/// checked against this account's chain, its file key unwrapped with `device` and wrapped to
/// the sharee's verified chain. Sharing again replaces the share's header.
pub async fn share_clip(
    client: &Client,
    own_chain: &VerifiedChain,
    device: &DeviceSecret,
    clip_id: &str,
    sharee: &LinkHash,
) -> Result<Shared, E2eError> {
    if *sharee == own_chain.root() {
        return Err(E2eError::BadRoot {
            reason: "that root is this account's own: your devices open your clips already"
                .to_owned(),
        });
    }
    require_owned(client, clip_id).await?;
    let sharee_chain = chain_of_root(client, sharee).await?;
    let clip = fetch_verified(client, own_chain, clip_id).await?;
    let recipients = sharee_chain.recipients();
    let header = rewrap(&clip.header, device, &recipients).map_err(|source| E2eError::Clip {
        subject: format!("clip {clip_id}"),
        source,
    })?;
    let share = client
        .share_clip(
            clip_id,
            &proto::ShareRequest {
                root: sharee.to_hex(),
                header: STANDARD.encode(header),
            },
        )
        .await?;
    Ok(Shared {
        share,
        recipients: recipients.len(),
    })
}

/// Refuses, before any key work, a clip this account does not own: one of another account,
/// or of a camera a household shares with it (that is its owner's to share).
async fn require_owned(client: &Client, clip_id: &str) -> Result<(), E2eError> {
    let not_owned = || E2eError::NotOwned {
        subject: format!("clip {clip_id}"),
    };
    let detail = match client.clip(clip_id).await {
        Ok(detail) => detail,
        Err(e) if e.code() == Some(proto::ErrorCode::NotFound) => return Err(not_owned()),
        Err(e) => return Err(e.into()),
    };
    let owned = client
        .cameras()
        .await?
        .cameras
        .iter()
        .any(|c| c.owned && c.id == detail.summary.camera_id);
    if owned { Ok(()) } else { Err(not_owned()) }
}

/// Which share of a clip to revoke.
#[derive(Debug, Clone)]
pub enum ShareTarget {
    Id(String),
    /// The share with the account of this root.
    With(LinkHash),
}

/// Revokes a share of owned clip `clip_id`; returns the share revoked. Copies the sharee
/// downloaded before are beyond reach.
pub async fn unshare(
    client: &Client,
    clip_id: &str,
    target: &ShareTarget,
) -> Result<proto::ShareInfo, E2eError> {
    let shares = client.clip_shares(clip_id).await?.shares;
    let found = shares.into_iter().find(|s| match target {
        ShareTarget::Id(id) => s.id == *id,
        ShareTarget::With(root) => s.sharee_root.eq_ignore_ascii_case(&root.to_hex()),
    });
    let share = found.ok_or_else(|| E2eError::NoSuchShare {
        subject: format!("clip {clip_id}"),
    })?;
    client.revoke_share(clip_id, &share.id).await?;
    Ok(share)
}

/// A shared clip, downloaded, checked and opened on this device.
#[derive(Debug, Clone)]
pub struct OpenedShare {
    pub share_id: String,
    /// The root the owner's chain verified from.
    pub owner_root: LinkHash,
    pub opened: OpenedClip,
}

/// Opens share `share_id` into `output`: the owner's chain verified from `expected_owner` if
/// given, else from the root the share names (the caller shows its fingerprint for the user
/// to compare with what the owner told them); the statement under a hub of that chain; the
/// payload against the statement as it downloads; then opened with `identity`.
pub async fn open_shared<I>(
    client: &Client,
    share_id: &str,
    expected_owner: Option<&LinkHash>,
    identity: I,
    output: &Path,
) -> Result<OpenedShare, E2eError>
where
    I: Identity + Send + 'static,
{
    let detail = client.shared_clip(share_id).await?;
    let named = LinkHash::from_hex(&detail.owner_root).map_err(|_| E2eError::BadClipDetail {
        subject: format!("share {share_id}"),
        what: "owner root",
    })?;
    let pin = expected_owner.copied().unwrap_or(named);
    let links = decode_links(&proto::ChainLinks {
        links: detail.owner_chain,
    })?;
    let owner_chain = verify_chain(&links, &pin, None)?;
    let clip = verify_detail(&owner_chain, detail.clip)?;
    let opened =
        open_verified(client, clip, PayloadFrom::Share(share_id), identity, output).await?;
    Ok(OpenedShare {
        share_id: share_id.to_owned(),
        owner_root: owner_chain.root(),
        opened,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn roots_parse_as_people_type_them() {
        let hex = "ab".repeat(32);
        let root = parse_root(&hex).unwrap();
        assert_eq!(root.to_hex(), hex);
        assert_eq!(
            parse_root(&format!(" {} ", hex.to_uppercase())).unwrap(),
            root
        );
        assert_eq!(root_fingerprint(&root), "abab-abab-abab-abab-abab");
        for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(33)] {
            let err = parse_root(bad).unwrap_err();
            assert_eq!(err.code(), "invalid_input", "{bad}");
        }
    }
}
