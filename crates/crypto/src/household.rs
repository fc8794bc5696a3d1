//! Household sharing decisions over verified chains (DESIGN §4, §6): which chain vouches for
//! a camera another account gave this one, and which members a hub seals to. Written once
//! here so that the CLI, the hub and the browser decide alike; fetching and keeping the
//! chains is the caller's.

use crate::chain::{LinkHash, VerifiedChain};
use crate::keys::HubKey;

/// The roots of `owner`'s members that were given at least one camera of `hub_key`
/// (all members given any camera when `hub_key` is `None`).
pub fn member_roots(owner: &VerifiedChain, hub_key: Option<&[u8; 32]>) -> Vec<LinkHash> {
    owner
        .members()
        .iter()
        .filter(|m| match hub_key {
            Some(key) => m.cameras.iter().any(|c| c.hub_key == *key),
            None => !m.cameras.is_empty(),
        })
        .map(|m| m.root)
        .collect()
}

/// Of `owners`, the one whose chain has hub `hub_key` and gives this account (`my_root`)
/// camera `camera` on it: the chain a clip of that camera is checked under.
pub fn owner_of_camera<'c>(
    owners: &'c [VerifiedChain],
    my_root: &LinkHash,
    hub_key: &[u8; 32],
    camera: &str,
) -> Option<&'c VerifiedChain> {
    owners.iter().find(|chain| {
        chain.hubs().iter().any(|h| h.key.as_bytes() == hub_key)
            && chain
                .member(my_root)
                .is_some_and(|m| m.may_watch(hub_key, camera))
    })
}

/// A camera this account does not own but was given, by the name its hub signs: the owner's
/// chain that gives it (to check the hub's answers and statements under) and the hub's key,
/// both from that chain — never from the server.
pub fn given_camera<'c>(
    owners: &'c [VerifiedChain],
    my_root: &LinkHash,
    camera: &str,
) -> Option<(&'c VerifiedChain, HubKey)> {
    owners.iter().find_map(|chain| {
        let given = chain
            .member(my_root)?
            .cameras
            .iter()
            .find(|c| c.camera == camera)?;
        let hub = chain
            .hubs()
            .iter()
            .find(|h| h.key.as_bytes() == &given.hub_key)?;
        Some((chain, hub.key))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{CameraRef, ChainBuilder, ChainOp, DeviceSecret, HubSecret, Name, RecoveryKey};

    fn account() -> (DeviceSecret, ChainBuilder) {
        let device = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let builder =
            ChainBuilder::genesis(&device, Name::new("phone").unwrap(), recovery.public()).unwrap();
        (device, builder)
    }

    #[test]
    fn only_the_owner_that_gives_the_camera_vouches_for_it() {
        let (_, member) = account();
        let me = member.chain().root();
        let (owner_device, mut owner) = account();
        let hub = HubSecret::generate();
        let hub_key = *hub.public().as_bytes();
        for op in [
            ChainOp::AddHub {
                name: Name::new("porch hub").unwrap(),
                hub: hub.public(),
            },
            ChainOp::AddMember {
                root: me,
                label: Name::new("lodger").unwrap(),
            },
        ] {
            owner.append(op, &owner_device).unwrap();
        }
        let named_only = owner.chain().clone();
        assert!(
            owner_of_camera(std::slice::from_ref(&named_only), &me, &hub_key, "front").is_none()
        );
        assert!(given_camera(std::slice::from_ref(&named_only), &me, "front").is_none());
        assert!(member_roots(&named_only, None).is_empty());

        owner
            .append(
                ChainOp::MemberCameras {
                    root: me,
                    cameras: vec![CameraRef::new(hub_key, "front").unwrap()],
                },
                &owner_device,
            )
            .unwrap();
        let giving = owner.chain().clone();
        let owners = [named_only, giving];
        let found = owner_of_camera(&owners, &me, &hub_key, "front").unwrap();
        assert_eq!(found.head(), owners[1].head());
        assert!(owner_of_camera(&owners, &me, &hub_key, "garden").is_none());
        assert!(owner_of_camera(&owners, &me, &[7; 32], "front").is_none());
        let stranger = account().1.chain().root();
        assert!(owner_of_camera(&owners, &stranger, &hub_key, "front").is_none());
        let (chain, key) = given_camera(&owners, &me, "front").unwrap();
        assert_eq!(key, hub.public());
        assert_eq!(chain.head(), owners[1].head());
        assert_eq!(member_roots(&owners[1], Some(&hub_key)), vec![me]);
        assert!(member_roots(&owners[1], Some(&[7; 32])).is_empty());

        owner
            .append(ChainOp::RemoveMember { root: me }, &owner_device)
            .unwrap();
        let removed = [owner.chain().clone()];
        assert!(owner_of_camera(&removed, &me, &hub_key, "front").is_none());
        assert!(given_camera(&removed, &me, "front").is_none());
    }
}
