use porchlight_crypto::{
    CameraRef, ChainBuilder, ChainError, ChainOp, DeviceSecret, HubKey, HubSecret, Link, LinkHash,
    LinkParseError, MAX_MEMBER_CAMERAS, OpError, RecoveryKey, verify_chain,
};

use crate::{fixed_device, name};

struct Account {
    phone: DeviceSecret,
    laptop: DeviceSecret,
    recovery: RecoveryKey,
    hub: HubSecret,
    builder: ChainBuilder,
}

/// genesis(phone) → add laptop → add hub → add member: four links.
fn account() -> Account {
    let phone = DeviceSecret::generate();
    let laptop = DeviceSecret::generate();
    let (recovery, _) = RecoveryKey::generate();
    let hub = HubSecret::generate();
    let mut builder = ChainBuilder::genesis(&phone, name("phone"), recovery.public()).unwrap();
    builder
        .append(
            ChainOp::AddDevice {
                name: name("laptop"),
                device: laptop.public(),
            },
            &phone,
        )
        .unwrap();
    builder
        .append(
            ChainOp::AddHub {
                name: name("porch"),
                hub: hub.public(),
            },
            &laptop,
        )
        .unwrap();
    builder
        .append(
            ChainOp::AddMember {
                root: LinkHash::from_bytes([7; 32]),
                label: name("gran"),
            },
            &phone,
        )
        .unwrap();
    Account {
        phone,
        laptop,
        recovery,
        hub,
        builder,
    }
}

fn root(links: &[Link]) -> LinkHash {
    links[0].hash()
}

/// Appends a link that `signer` signs, at the right seq and prev, whatever its validity.
fn forge(links: &[Link], op: ChainOp, signer: &DeviceSecret) -> Vec<Link> {
    let last = links.last().unwrap();
    let mut out = links.to_vec();
    out.push(Link::sign(last.seq() + 1, last.hash(), op, signer));
    out
}

fn ghost_op() -> ChainOp {
    ChainOp::AddDevice {
        name: name("ghost"),
        device: DeviceSecret::generate().public(),
    }
}

#[test]
fn happy_path_state_and_recipients() {
    let a = account();
    let links = a.builder.links().to_vec();
    let chain = verify_chain(&links, &root(&links), None).unwrap();
    assert_eq!(chain.len(), 4);
    assert_eq!(chain.root(), links[0].hash());
    assert_eq!(chain.head(), links[3].hash());
    assert_eq!(chain.position(), (3, links[3].hash()));
    let devices: Vec<_> = chain.devices().iter().map(|d| d.name.as_str()).collect();
    assert_eq!(devices, ["phone", "laptop"]);
    assert_eq!(chain.recovery_key(), &a.recovery.public());
    assert_eq!(chain.hubs().len(), 1);
    assert!(chain.has_hub(&a.hub.public()));
    assert_eq!(chain.members()[0].label.as_str(), "gran");
    assert_eq!(
        chain.recipients(),
        vec![a.phone.public(), a.laptop.public(), a.recovery.public()]
    );
    assert!(chain.can_sign(a.recovery.public().sign()));
    assert!(!chain.can_sign(a.hub.public().as_bytes()));

    // Seen before: the same head, or an earlier link, is fine.
    verify_chain(&links, &root(&links), Some((3, links[3].hash()))).unwrap();
    verify_chain(&links, &root(&links), Some((1, links[1].hash()))).unwrap();

    // The chain survives its byte encoding.
    let decoded: Vec<Link> = links
        .iter()
        .map(|l| Link::from_bytes(&l.to_bytes()).unwrap())
        .collect();
    assert_eq!(decoded, links);
}

#[test]
fn removals_and_incremental_extension() {
    let mut a = account();
    let before = a.builder.chain().clone();
    let removed = [
        a.builder
            .append(
                ChainOp::RemoveMember {
                    root: LinkHash::from_bytes([7; 32]),
                },
                &a.laptop,
            )
            .unwrap(),
        a.builder
            .append(
                ChainOp::RemoveHub {
                    hub_key: *a.hub.public().as_bytes(),
                },
                &a.phone,
            )
            .unwrap(),
        // A device may remove itself.
        a.builder
            .append(
                ChainOp::RemoveDevice {
                    device_sign_key: *a.laptop.public().sign(),
                },
                &a.laptop,
            )
            .unwrap(),
    ];
    let links = a.builder.links().to_vec();
    let full = verify_chain(&links, &root(&links), None).unwrap();
    let incremental = before.extend(&removed).unwrap();
    assert_eq!(full.head(), incremental.head());
    assert_eq!(full.devices(), incremental.devices());
    assert_eq!(full.devices().len(), 1);
    assert!(full.hubs().is_empty() && full.members().is_empty());
    assert_eq!(
        full.recipients(),
        vec![a.phone.public(), a.recovery.public()]
    );
}

#[test]
fn recovery_key_adds_a_device_after_loss() {
    let mut a = account();
    let replacement = DeviceSecret::generate();
    a.builder
        .append(
            ChainOp::AddDevice {
                name: name("new phone"),
                device: replacement.public(),
            },
            a.recovery.as_device(),
        )
        .unwrap();
    a.builder
        .append(
            ChainOp::RemoveDevice {
                device_sign_key: *a.phone.public().sign(),
            },
            &replacement,
        )
        .unwrap();
    let links = a.builder.links();
    let chain = verify_chain(links, &root(links), None).unwrap();
    assert!(chain.recipients().contains(&replacement.public()));
    assert!(!chain.recipients().contains(&a.phone.public()));
}

#[test]
fn forged_signature_is_refused() {
    let a = account();
    let links = a.builder.links();
    let mut bytes = links[2].to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let mut forged = links.to_vec();
    forged[2] = Link::from_bytes(&bytes).unwrap();
    // Link 3 still names the genuine link 2 as prev, so the first error is at link 2.
    assert_eq!(
        verify_chain(&forged, &root(links), None).unwrap_err(),
        ChainError::BadSignature { seq: 2 }
    );

    // An altered operation under the old signature fails the same way.
    let mut altered = links[..3].to_vec();
    let laptop_link = Link::sign(
        1,
        links[0].hash(),
        ChainOp::AddDevice {
            name: name("laptop2"),
            device: a.laptop.public(),
        },
        &a.phone,
    );
    let mut spliced = laptop_link.to_bytes();
    let sig_at = spliced.len() - 64;
    spliced[sig_at..].copy_from_slice(links[1].signature());
    altered[1] = Link::from_bytes(&spliced).unwrap();
    assert_eq!(
        verify_chain(&altered[..2], &root(links), None).unwrap_err(),
        ChainError::BadSignature { seq: 1 }
    );
}

#[test]
fn ghost_device_is_refused() {
    // The server, or anyone, appends a well-signed link with a key the owner never added.
    let a = account();
    let ghost = DeviceSecret::generate();
    let links = forge(
        a.builder.links(),
        ChainOp::AddDevice {
            name: name("ghost"),
            device: ghost.public(),
        },
        &ghost,
    );
    assert_eq!(
        verify_chain(&links, &root(&links), None).unwrap_err(),
        ChainError::SignerNotMember { seq: 4 }
    );
}

#[test]
fn removed_device_cannot_sign() {
    let mut a = account();
    a.builder
        .append(
            ChainOp::RemoveDevice {
                device_sign_key: *a.laptop.public().sign(),
            },
            &a.phone,
        )
        .unwrap();
    let links = forge(a.builder.links(), ghost_op(), &a.laptop);
    assert_eq!(
        verify_chain(&links, &root(&links), None).unwrap_err(),
        ChainError::SignerRemoved { seq: 5 }
    );
    // And the builder refuses the same thing.
    assert_eq!(
        a.builder.append(ghost_op(), &a.laptop).unwrap_err(),
        ChainError::SignerRemoved { seq: 5 }
    );
}

#[test]
fn a_hub_key_cannot_sign_links() {
    let mut a = account();
    // A hub whose Ed25519 key is also a device-style key we hold.
    let hub_as_device = DeviceSecret::generate();
    a.builder
        .append(
            ChainOp::AddHub {
                name: name("garage"),
                hub: HubKey::from_bytes(*hub_as_device.public().sign()).unwrap(),
            },
            &a.phone,
        )
        .unwrap();
    let links = forge(a.builder.links(), ghost_op(), &hub_as_device);
    assert_eq!(
        verify_chain(&links, &root(&links), None).unwrap_err(),
        ChainError::SignerIsHub { seq: 5 }
    );
}

#[test]
fn wrong_prev_hash_and_skipped_seq() {
    let a = account();
    let links = a.builder.links();
    let mut bad_prev = links.to_vec();
    bad_prev.push(Link::sign(4, links[2].hash(), ghost_op(), &a.phone));
    assert_eq!(
        verify_chain(&bad_prev, &root(links), None).unwrap_err(),
        ChainError::BadPrevHash { seq: 4 }
    );

    let mut skipped = links.to_vec();
    skipped.push(Link::sign(5, links[3].hash(), ghost_op(), &a.phone));
    assert_eq!(
        verify_chain(&skipped, &root(links), None).unwrap_err(),
        ChainError::BadSequence {
            index: 4,
            expected: 4,
            found: 5
        }
    );

    // A link dropped from the middle.
    let mut gap = links.to_vec();
    gap.remove(2);
    assert!(matches!(
        verify_chain(&gap, &root(links), None).unwrap_err(),
        ChainError::BadSequence { index: 2, .. }
    ));
}

#[test]
fn wrong_pin_and_bad_genesis() {
    let a = account();
    let links = a.builder.links();
    let other = account();
    assert!(matches!(
        verify_chain(links, &root(other.builder.links()), None).unwrap_err(),
        ChainError::PinMismatch { .. }
    ));
    assert_eq!(
        verify_chain(&[], &root(links), None).unwrap_err(),
        ChainError::Empty
    );

    // Link 0 naming one device but signed by another.
    let intruder = DeviceSecret::generate();
    let not_self_signed = Link::sign(
        0,
        LinkHash::ZERO,
        ChainOp::Genesis {
            device_name: name("phone"),
            device: a.phone.public(),
            recovery: a.recovery.public(),
        },
        &intruder,
    );
    assert_eq!(
        verify_chain(
            std::slice::from_ref(&not_self_signed),
            &not_self_signed.hash(),
            None
        )
        .unwrap_err(),
        ChainError::GenesisNotSelfSigned
    );

    // Link 0 that is not a genesis.
    let not_genesis = Link::sign(0, LinkHash::ZERO, ghost_op(), &a.phone);
    assert_eq!(
        verify_chain(
            std::slice::from_ref(&not_genesis),
            &not_genesis.hash(),
            None
        )
        .unwrap_err(),
        ChainError::FirstLinkNotGenesis
    );

    // A second genesis later on.
    let again = forge(
        links,
        ChainOp::Genesis {
            device_name: name("phone"),
            device: DeviceSecret::generate().public(),
            recovery: a.recovery.public(),
        },
        &a.phone,
    );
    assert_eq!(
        verify_chain(&again, &root(links), None).unwrap_err(),
        ChainError::GenesisNotFirst { seq: 4 }
    );
}

#[test]
fn rollback_and_fork_are_refused() {
    let mut a = account();
    let old = a.builder.links().to_vec();
    a.builder.append(ghost_op(), &a.phone).unwrap();
    let new = a.builder.links().to_vec();
    let seen = (4, new[4].hash());

    // The server serves the older, shorter chain to someone who saw link 4.
    assert_eq!(
        verify_chain(&old, &root(&old), Some(seen)).unwrap_err(),
        ChainError::Rollback {
            seen_seq: 4,
            chain_len: 4
        }
    );

    // The server serves a different link 4 (validly signed: a fork, not a forgery).
    let forked = forge(&old, ghost_op(), &a.laptop);
    assert_eq!(
        verify_chain(&forked, &root(&old), Some(seen)).unwrap_err(),
        ChainError::Fork { seq: 4 }
    );
    verify_chain(&new, &root(&new), Some(seen)).unwrap();
}

#[test]
fn operations_must_make_sense() {
    let mut a = account();
    let cases: Vec<(ChainOp, OpError)> = vec![
        (
            ChainOp::AddDevice {
                name: name("again"),
                device: a.laptop.public(),
            },
            OpError::DeviceAlreadyPresent,
        ),
        (
            ChainOp::AddDevice {
                name: name("recovery"),
                device: a.recovery.public(),
            },
            OpError::KeyInUse,
        ),
        (
            ChainOp::RemoveDevice {
                device_sign_key: *DeviceSecret::generate().public().sign(),
            },
            OpError::DeviceNotPresent,
        ),
        (
            ChainOp::RemoveDevice {
                device_sign_key: *a.recovery.public().sign(),
            },
            OpError::RecoveryKeyNotRemovable,
        ),
        (
            ChainOp::AddHub {
                name: name("again"),
                hub: a.hub.public(),
            },
            OpError::HubAlreadyPresent,
        ),
        (
            ChainOp::AddHub {
                name: name("phone as hub"),
                hub: HubKey::from_bytes(*a.phone.public().sign()).unwrap(),
            },
            OpError::KeyInUse,
        ),
        (
            ChainOp::RemoveHub {
                hub_key: *HubSecret::generate().public().as_bytes(),
            },
            OpError::HubNotPresent,
        ),
        (
            ChainOp::AddMember {
                root: LinkHash::from_bytes([7; 32]),
                label: name("again"),
            },
            OpError::MemberAlreadyPresent,
        ),
        (
            ChainOp::AddMember {
                root: a.builder.chain().root(),
                label: name("me"),
            },
            OpError::SelfMember,
        ),
        (
            ChainOp::RemoveMember {
                root: LinkHash::from_bytes([8; 32]),
            },
            OpError::MemberNotPresent,
        ),
    ];
    for (op, reason) in cases {
        // The builder refuses it, and so does verification of a link that does it anyway.
        assert_eq!(
            a.builder.append(op.clone(), &a.phone).unwrap_err(),
            ChainError::InvalidOp { seq: 4, reason },
            "{op:?}"
        );
        let links = forge(a.builder.links(), op, &a.phone);
        assert_eq!(
            verify_chain(&links, &root(&links), None).unwrap_err(),
            ChainError::InvalidOp { seq: 4, reason }
        );
    }

    // A removed key never comes back, and the last device cannot go.
    a.builder
        .append(
            ChainOp::RemoveDevice {
                device_sign_key: *a.laptop.public().sign(),
            },
            &a.phone,
        )
        .unwrap();
    assert_eq!(
        a.builder
            .append(
                ChainOp::AddDevice {
                    name: name("laptop"),
                    device: a.laptop.public(),
                },
                &a.phone,
            )
            .unwrap_err(),
        ChainError::InvalidOp {
            seq: 5,
            reason: OpError::KeyRevoked
        }
    );
    assert_eq!(
        a.builder
            .append(
                ChainOp::RemoveDevice {
                    device_sign_key: *a.phone.public().sign(),
                },
                &a.phone,
            )
            .unwrap_err(),
        ChainError::InvalidOp {
            seq: 5,
            reason: OpError::LastDevice
        }
    );
    assert_eq!(a.builder.links().len(), 5);
}

#[test]
fn errors_say_where() {
    assert_eq!(
        ChainError::SignerNotMember { seq: 4 }.to_string(),
        "link 4: signed by a key that is not a device of this account"
    );
    assert_eq!(
        ChainError::InvalidOp {
            seq: 2,
            reason: OpError::LastDevice
        }
        .to_string(),
        "link 2: the last device cannot be removed"
    );
}

/// Known answer: the canonical encoding and hash of a fixed genesis link and a fixed
/// AddHub link. If this fails, the encoding changed, and every stored chain with it.
#[test]
fn link_encoding_known_answer() {
    let first = fixed_device(1);
    let recovery = fixed_device(2);
    let hub = HubKey::from_bytes(*fixed_device(3).public().sign()).unwrap();
    let mut b = ChainBuilder::genesis(&first, name("phone"), recovery.public()).unwrap();
    b.append(
        ChainOp::AddHub {
            name: name("porch"),
            hub,
        },
        &first,
    )
    .unwrap();
    let links = b.links();
    let genesis_hex = hex::encode(links[0].to_bytes());
    let add_hub_hex = hex::encode(links[1].to_bytes());
    assert_eq!(genesis_hex, GENESIS_HEX);
    assert_eq!(links[0].hash().to_hex(), GENESIS_HASH);
    assert_eq!(add_hub_hex, ADD_HUB_HEX);
    assert_eq!(links[1].hash().to_hex(), ADD_HUB_HASH);
    verify_chain(links, &LinkHash::from_hex(GENESIS_HASH).unwrap(), None).unwrap();
}

// Reproduced independently from the layout in docs/CRYPTO.md with Python's `cryptography`
// (Ed25519 signatures are deterministic, so the whole encoding is).
const GENESIS_HEX: &str = concat!(
    "01000000000000000000000000000000000000000000000000000000000000000000000000000000",
    "008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c010570686f6e65",
    "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c00f81ab0eb0e18dd",
    "b5e247d38f25c7a352c39fc77a74cb3f739d309f69ee48788139770ea87d175f56a35466c34c7ecc",
    "cb8d8a91b4ee37a25df60f5b8fc9b394c181d64580af6c2f7f661c99d52b11016c85b2d807ad18be",
    "1275b463c1054919e6b33bf4550d13e0e2d6cd73f0a46054c597e970bf8acdf2d26ca96dcc85d9b0",
    "eaeb6d68a17fe3a8bed1f209aea5d0000a04a87c1dfd7762cfe86ee5c7b0fe0c"
);
const GENESIS_HASH: &str = "a603243d5f53ba2214c1f539def58a566a705e9d17af0a9e7192426cfc55ac26";
const ADD_HUB_HEX: &str = concat!(
    "010000000000000001a603243d5f53ba2214c1f539def58a566a705e9d17af0a9e7192426cfc55ac",
    "268a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c0405706f726368",
    "ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1bf38b24e0dcc6165",
    "81908ebd3e94a360aa67f537127125c5cc9395fbc4bb74905aadd64ad353092bf0fb28bf0705513f",
    "7a113b2645b6d8b1415fa1edf1550702"
);
const ADD_HUB_HASH: &str = "3ce324590f80396565e93b615d234ee8d23bdd49c6cf9960c8de3c4634ebc28a";

/// A member's own account: two devices and a recovery key.
fn member_account() -> (ChainBuilder, DeviceSecret, DeviceSecret) {
    let tablet = DeviceSecret::generate();
    let watch = DeviceSecret::generate();
    let (recovery, _) = RecoveryKey::generate();
    let mut builder = ChainBuilder::genesis(&tablet, name("tablet"), recovery.public()).unwrap();
    builder
        .append(
            ChainOp::AddDevice {
                name: name("watch"),
                device: watch.public(),
            },
            &tablet,
        )
        .unwrap();
    (builder, tablet, watch)
}

#[test]
fn member_cameras_decide_what_a_hub_seals_to() {
    let mut a = account();
    let (member, tablet, watch) = member_account();
    let member_root = member.chain().root();
    let hub_key = *a.hub.public().as_bytes();
    a.builder
        .append(
            ChainOp::AddMember {
                root: member_root,
                label: name("lodger"),
            },
            &a.phone,
        )
        .unwrap();
    let owner_only = a.builder.chain().recipients();
    // Added, but given no camera yet: the member is named by nothing.
    let members = [member.chain().clone()];
    assert_eq!(
        a.builder
            .chain()
            .recipients_for_camera(&hub_key, "front", &members),
        owner_only
    );

    let front = CameraRef::new(hub_key, "front").unwrap();
    a.builder
        .append(
            ChainOp::MemberCameras {
                root: member_root,
                cameras: vec![front.clone(), front.clone()],
            },
            &a.laptop,
        )
        .unwrap();
    let chain = a.builder.chain();
    assert_eq!(chain.member(&member_root).unwrap().cameras, vec![front]);
    let mut expected = owner_only.clone();
    expected.extend([tablet.public(), watch.public()]);
    assert_eq!(
        chain.recipients_for_camera(&hub_key, "front", &members),
        expected
    );
    // Another camera, another hub, or a chain that is not a member: owner only.
    assert_eq!(
        chain.recipients_for_camera(&hub_key, "garden", &members),
        owner_only
    );
    assert_eq!(
        chain.recipients_for_camera(&[9; 32], "front", &members),
        owner_only
    );
    let (stranger, _, _) = member_account();
    assert_eq!(
        chain.recipients_for_camera(&hub_key, "front", &[stranger.chain().clone()]),
        owner_only
    );

    // The link survives its encoding, and a verifier reaches the same state.
    let links = a.builder.links().to_vec();
    let decoded: Vec<Link> = links
        .iter()
        .map(|l| Link::from_bytes(&l.to_bytes()).unwrap())
        .collect();
    assert_eq!(decoded, links);
    let verified = verify_chain(&decoded, &root(&links), None).unwrap();
    assert_eq!(
        verified.recipients_for_camera(&hub_key, "front", &members),
        expected
    );

    // Removing the member: new clips no longer name the member's devices.
    a.builder
        .append(ChainOp::RemoveMember { root: member_root }, &a.phone)
        .unwrap();
    assert_eq!(
        a.builder
            .chain()
            .recipients_for_camera(&hub_key, "front", &members),
        owner_only
    );
}

#[test]
fn member_cameras_must_make_sense() {
    let mut a = account();
    let hub_key = *a.hub.public().as_bytes();
    let gran = LinkHash::from_bytes([7; 32]);
    let give = |root: LinkHash, cameras: Vec<CameraRef>| ChainOp::MemberCameras { root, cameras };
    let front = CameraRef::new(hub_key, "front").unwrap();

    let refused = |a: &mut Account, op: ChainOp, want: OpError| {
        let phone = a.phone.clone();
        let err = a.builder.append(op, &phone).unwrap_err();
        assert!(
            matches!(err, ChainError::InvalidOp { reason, .. } if reason == want),
            "{err:?}"
        );
    };
    refused(
        &mut a,
        give(LinkHash::from_bytes([8; 32]), vec![front.clone()]),
        OpError::MemberNotPresent,
    );
    refused(
        &mut a,
        give(gran, vec![CameraRef::new([3; 32], "front").unwrap()]),
        OpError::CameraHubNotPresent,
    );
    let many: Vec<CameraRef> = (0..=MAX_MEMBER_CAMERAS)
        .map(|i| CameraRef::new(hub_key, &format!("cam{i}")).unwrap())
        .collect();
    refused(&mut a, give(gran, many), OpError::TooManyCameras);
    refused(
        &mut a,
        give(
            gran,
            vec![CameraRef {
                hub_key,
                camera: "bad\nname".to_owned(),
            }],
        ),
        OpError::BadCameraName,
    );
    assert!(CameraRef::new(hub_key, "").is_err());
    assert!(CameraRef::new(hub_key, &"x".repeat(129)).is_err());

    // Removing the hub takes its cameras from every member.
    a.builder.append(give(gran, vec![front]), &a.phone).unwrap();
    let given = a.builder.links().last().unwrap().to_bytes();
    a.builder
        .append(ChainOp::RemoveHub { hub_key }, &a.phone)
        .unwrap();
    assert!(a.builder.chain().member(&gran).unwrap().cameras.is_empty());

    // A link claiming more cameras than allowed does not even parse.
    let at = given
        .windows(33)
        .position(|w| w[..32] == *gran.as_bytes() && w[32] == 1)
        .unwrap()
        + 32;
    let mut bytes = given.clone();
    bytes[at] = u8::try_from(MAX_MEMBER_CAMERAS + 1).unwrap();
    assert_eq!(
        Link::from_bytes(&bytes).unwrap_err(),
        LinkParseError::TooManyCameras
    );
    assert!(Link::from_bytes(&given).is_ok());
}
