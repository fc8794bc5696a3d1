//! Every decoder fed random bytes and mutated valid encodings: errors, never panics, and
//! whatever is accepted is canonical.

use std::io::Read;
use std::sync::LazyLock;

use porchlight_crypto::{
    ChainBuilder, ChainOp, ClipHeader, ClipStatement, DeviceSecret, HubSecret, Link, LinkHash,
    PairingCode, RecoveryKey, open, rewrap, seal,
};
use proptest::prelude::*;

use crate::name;

/// One link of every shape, encoded.
static LINKS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let phone = DeviceSecret::generate();
    let laptop = DeviceSecret::generate();
    let hub = HubSecret::generate();
    let mut b =
        ChainBuilder::genesis(&phone, name("phone"), DeviceSecret::generate().public()).unwrap();
    for op in [
        ChainOp::AddDevice {
            name: name("laptop"),
            device: laptop.public(),
        },
        ChainOp::AddHub {
            name: name("porch"),
            hub: hub.public(),
        },
        ChainOp::AddMember {
            root: LinkHash::from_bytes([6; 32]),
            label: name("lodger"),
        },
        ChainOp::MemberCameras {
            root: LinkHash::from_bytes([6; 32]),
            cameras: vec![
                porchlight_crypto::CameraRef::new(*hub.public().as_bytes(), "front").unwrap(),
            ],
        },
        ChainOp::RemoveHub {
            hub_key: *hub.public().as_bytes(),
        },
        ChainOp::AddMember {
            root: LinkHash::from_bytes([5; 32]),
            label: name("gran"),
        },
        ChainOp::RemoveMember {
            root: LinkHash::from_bytes([5; 32]),
        },
        ChainOp::RemoveDevice {
            device_sign_key: *laptop.public().sign(),
        },
    ] {
        b.append(op, &phone).unwrap();
    }
    b.links().iter().map(Link::to_bytes).collect()
});

static PAIRING: LazyLock<String> = LazyLock::new(|| {
    PairingCode::new("https://porch.example", LinkHash::from_bytes([3; 32]))
        .unwrap()
        .encode()
        .to_string()
});

static RECOVERY: LazyLock<String> = LazyLock::new(|| RecoveryKey::generate().1.expose().to_owned());

struct Clip {
    device: DeviceSecret,
    header: Vec<u8>,
    payload: Vec<u8>,
}

static CLIP: LazyLock<Clip> = LazyLock::new(|| {
    let device = DeviceSecret::generate();
    let mut header = Vec::new();
    let mut payload = Vec::new();
    seal(
        &b"a short clip"[..],
        &mut header,
        &mut payload,
        &[device.public()],
    )
    .unwrap();
    Clip {
        device,
        header,
        payload,
    }
});

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
    ]
}

fn mutate(input: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = input.to_vec();
    for m in mutations {
        let len = out.len();
        match *m {
            Mutation::Flip { at, bit } if len > 0 => out[at % len] ^= 1 << bit,
            Mutation::Set { at, byte } if len > 0 => out[at % len] = byte,
            Mutation::Truncate { at } => out.truncate(at % (len + 1)),
            Mutation::Insert { at, byte } => out.insert(at % (len + 1), byte),
            Mutation::Remove { at } if len > 0 => {
                out.remove(at % len);
            }
            _ => {}
        }
    }
    out
}

/// Mutations of text that stay within printable ASCII (plus what the mutation inserts).
fn mutate_text(input: &str, mutations: &[Mutation]) -> String {
    String::from_utf8_lossy(&mutate(input.as_bytes(), mutations)).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn link_parser_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(link) = Link::from_bytes(&bytes) {
            prop_assert_eq!(link.to_bytes(), bytes);
        }
    }

    #[test]
    fn link_parser_mutations(
        which in 0usize..7,
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let original = &LINKS[which];
        let bytes = mutate(original, &mutations);
        if let Ok(link) = Link::from_bytes(&bytes) {
            // Accepted only in canonical form, and a changed link never keeps a valid
            // place in the chain (its hash changes).
            prop_assert_eq!(link.to_bytes(), bytes.clone());
            if bytes != *original {
                prop_assert_ne!(link.hash(), Link::from_bytes(original).unwrap().hash());
            }
        }
    }

    #[test]
    fn pairing_parser_random(text in ".{0,200}") {
        let _ = PairingCode::parse(&text);
    }

    #[test]
    fn pairing_parser_alphabet(text in "[0-9A-Za-z -]{0,200}") {
        let _ = PairingCode::parse(&text);
    }

    #[test]
    fn pairing_parser_mutations(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let text = mutate_text(&PAIRING, &mutations);
        if let Ok(code) = PairingCode::parse(&text) {
            // Only a harmless change (case, a dash or a space) can still parse.
            let encoded = code.encode();
            prop_assert_eq!(encoded.as_str(), PAIRING.as_str());
        }
    }

    #[test]
    fn recovery_parser_random(text in ".{0,120}") {
        let _ = RecoveryKey::from_code(&text);
    }

    #[test]
    fn recovery_parser_mutations(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let _ = RecoveryKey::from_code(&mutate_text(&RECOVERY, &mutations));
    }

    #[test]
    fn header_parser_random(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = ClipHeader::parse(&bytes);
        let mut prefixed = b"age-encryption.org/v1\n".to_vec();
        prefixed.extend_from_slice(&bytes);
        let _ = ClipHeader::parse(&prefixed);
    }

    #[test]
    fn header_mutations_never_open(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let clip = &*CLIP;
        let header = mutate(&clip.header, &mutations);
        let _ = ClipHeader::parse(&header);
        let rewrapped = rewrap(&header, &clip.device, &[clip.device.public()]);
        match open(&header, &clip.payload[..], &clip.device) {
            Ok(mut reader) => {
                prop_assert_eq!(&header, &clip.header);
                prop_assert!(rewrapped.is_ok());
                let mut out = Vec::new();
                prop_assert!(reader.read_to_end(&mut out).is_ok());
            }
            Err(_) => {
                prop_assert_ne!(&header, &clip.header);
                prop_assert!(rewrapped.is_err());
            }
        }
    }

    #[test]
    fn payload_mutations_never_panic(mutations in proptest::collection::vec(mutation(), 1..3)) {
        let clip = &*CLIP;
        let payload = mutate(&clip.payload, &mutations);
        if let Ok(mut reader) = open(&clip.header, &payload[..], &clip.device) {
            let mut out = Vec::new();
            let read = reader.read_to_end(&mut out);
            prop_assert_eq!(read.is_ok(), payload == clip.payload);
        }
    }

    #[test]
    fn statement_parser(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(statement) = ClipStatement::from_bytes(&bytes) {
            prop_assert_eq!(statement.to_bytes(), bytes);
        }
    }

    #[test]
    fn key_file_parser(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = DeviceSecret::from_bytes(&bytes);
        let _ = HubSecret::from_bytes(&bytes);
    }
}

/// A valid chain of every shape (`LINKS`), and a foreign chain's links to splice in.
static FOREIGN: LazyLock<Vec<Link>> = LazyLock::new(|| {
    let other = DeviceSecret::generate();
    let mut b =
        ChainBuilder::genesis(&other, name("other"), DeviceSecret::generate().public()).unwrap();
    b.append(
        ChainOp::AddDevice {
            name: name("x"),
            device: DeviceSecret::generate().public(),
        },
        &other,
    )
    .unwrap();
    b.links().to_vec()
});

#[derive(Debug, Clone)]
enum Reshape {
    Swap(usize, usize),
    Drop(usize),
    Duplicate(usize),
    Foreign { at: usize, which: usize },
    Truncate(usize),
}

fn reshape() -> impl Strategy<Value = Reshape> {
    prop_oneof![
        (0usize..7, 0usize..7).prop_map(|(a, b)| Reshape::Swap(a, b)),
        (0usize..7).prop_map(Reshape::Drop),
        (0usize..7).prop_map(Reshape::Duplicate),
        (0usize..7, 0usize..2).prop_map(|(at, which)| Reshape::Foreign { at, which }),
        (1usize..7).prop_map(Reshape::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Reordering, dropping, repeating or splicing in links never verifies; cutting the
    /// tail verifies only as a prefix, and is a rollback to whoever saw the whole chain.
    #[test]
    fn reshaped_chains_are_refused(change in reshape()) {
        let links: Vec<Link> = LINKS.iter().map(|b| Link::from_bytes(b).unwrap()).collect();
        let root = links[0].hash();
        let full = porchlight_crypto::verify_chain(&links, &root, None).unwrap();
        let seen = Some(full.position());
        let mut changed = links.clone();
        match change {
            Reshape::Swap(a, b) => changed.swap(a, b),
            Reshape::Drop(at) => { changed.remove(at); }
            Reshape::Duplicate(at) => { let l = changed[at].clone(); changed.insert(at, l); }
            Reshape::Foreign { at, which } => changed[at] = FOREIGN[which].clone(),
            Reshape::Truncate(len) => changed.truncate(len),
        }
        let result = porchlight_crypto::verify_chain(&changed, &root, None);
        if changed == links {
            prop_assert!(result.is_ok());
        } else if links.starts_with(&changed) {
            // A prefix is a valid older chain — which is exactly a rollback.
            prop_assert_eq!(result.unwrap().len(), changed.len() as u64);
            let rolled = porchlight_crypto::verify_chain(&changed, &root, seen);
            let is_rollback = matches!(rolled, Err(porchlight_crypto::ChainError::Rollback { .. }));
            prop_assert!(is_rollback);
        } else {
            prop_assert!(result.is_err(), "{:?} verified", change);
        }
    }
}
