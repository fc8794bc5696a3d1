//! The device chain. Raw mode (first byte even): links as bytes (each 2-byte length-prefixed,
//! the bytes the API carries base64-encoded in JSON) never make `Link::from_bytes` or
//! `verify_chain` panic; a parsed link re-encodes to its bytes; a chain that verifies has one
//! state per link. Signed mode (odd): arbitrary operations, really signed by the fixture
//! account's keys (so the fuzzer gets past the signature check into the rules), extend the
//! fixture chain without panicking; whatever extends also verifies from scratch, and a link
//! with one signature bit flipped never does.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use porchlight_crypto::{CameraRef, ChainOp, Link, LinkHash, Name, verify_chain};
use porchlight_fuzz::{ACCOUNT, DEVICES, HUBS, split_u16_prefixed};

#[derive(Debug, Arbitrary)]
enum Op {
    AddDevice {
        name: String,
        key: u8,
    },
    RemoveDevice {
        key: u8,
    },
    AddHub {
        name: String,
        key: u8,
    },
    RemoveHub {
        key: u8,
    },
    AddMember {
        root: [u8; 32],
        label: String,
    },
    RemoveMember {
        root: [u8; 32],
    },
    MemberCameras {
        root: [u8; 32],
        cameras: Vec<(u8, String)>,
    },
}

#[derive(Debug, Arbitrary)]
struct Step {
    signer: u8,
    op: Op,
    /// Seq and prev as the chain expects them, or (when set) these instead.
    seq: Option<u64>,
    prev: Option<[u8; 32]>,
}

fn to_op(op: Op) -> Option<ChainOp> {
    Some(match op {
        Op::AddDevice { name, key } => ChainOp::AddDevice {
            name: Name::new(&name).ok()?,
            device: DEVICES[usize::from(key % 8)].public(),
        },
        Op::RemoveDevice { key } => ChainOp::RemoveDevice {
            device_sign_key: *DEVICES[usize::from(key % 8)].public().sign(),
        },
        Op::AddHub { name, key } => ChainOp::AddHub {
            name: Name::new(&name).ok()?,
            hub: HUBS[usize::from(key % 4)].public(),
        },
        Op::RemoveHub { key } => ChainOp::RemoveHub {
            hub_key: *HUBS[usize::from(key % 4)].public().as_bytes(),
        },
        Op::AddMember { root, label } => ChainOp::AddMember {
            root: LinkHash::from_hex(&hex(&root)).ok()?,
            label: Name::new(&label).ok()?,
        },
        Op::RemoveMember { root } => ChainOp::RemoveMember {
            root: LinkHash::from_hex(&hex(&root)).ok()?,
        },
        Op::MemberCameras { root, cameras } => ChainOp::MemberCameras {
            root: LinkHash::from_hex(&hex(&root)).ok()?,
            cameras: cameras
                .iter()
                .map(|(h, c)| CameraRef::new(*HUBS[usize::from(h % 4)].public().as_bytes(), c).ok())
                .collect::<Option<Vec<_>>>()?,
        },
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn raw(data: &[u8]) {
    let mut links = Vec::new();
    for piece in split_u16_prefixed(data) {
        if let Ok(link) = Link::from_bytes(piece) {
            assert_eq!(link.to_bytes(), piece, "a link re-encodes to its bytes");
            links.push(link);
        }
    }
    let Some(first) = links.first() else { return };
    if let Ok(chain) = verify_chain(&links, &first.hash(), None) {
        assert_eq!(chain.len(), links.len() as u64);
        assert_eq!(chain.head(), links[links.len() - 1].hash());
    }
    let account = &*ACCOUNT;
    let _ = verify_chain(&links, &account.chain.root(), None);
    if let Ok(chain) = account.chain.extend(&links) {
        assert_eq!(chain.len(), account.chain.len() + links.len() as u64);
    }
}

fn signed(data: &[u8]) {
    let account = &*ACCOUNT;
    let mut u = Unstructured::new(data);
    let Ok(steps) = Vec::<Step>::arbitrary(&mut u) else {
        return;
    };
    let mut chain = account.chain.clone();
    let mut links = account.links.clone();
    for step in steps.into_iter().take(16) {
        let signer = match step.signer % 4 {
            0 => &account.phone,
            1 => &account.laptop,
            _ => &DEVICES[usize::from(step.signer % 10)],
        };
        let Some(op) = to_op(step.op) else { continue };
        let seq = step.seq.unwrap_or(chain.len());
        let prev = match step.prev {
            Some(p) => match LinkHash::from_hex(&hex(&p)) {
                Ok(h) => h,
                Err(_) => continue,
            },
            None => chain.head(),
        };
        let link = Link::sign(seq, prev, op, signer);
        let bytes = link.to_bytes();
        let parsed = match Link::from_bytes(&bytes) {
            Ok(l) => l,
            Err(e) => panic!("a signed link does not parse: {e}"),
        };
        assert_eq!(parsed, link, "decode(encode(link)) = link");
        // One flipped bit in the signature: never accepted.
        let mut forged = bytes.clone();
        let at = forged.len() - 1 - usize::from(step.signer % 64);
        forged[at] ^= 1 << (step.signer % 8);
        if let Ok(forged) = Link::from_bytes(&forged) {
            assert!(
                chain.extend(&[forged]).is_err(),
                "a link with a flipped signature bit was accepted"
            );
        }
        if let Ok(next) = chain.extend(std::slice::from_ref(&link)) {
            chain = next;
            links.push(link);
        }
    }
    match verify_chain(&links, &account.chain.root(), None) {
        Ok(again) => assert_eq!(
            again.head(),
            chain.head(),
            "verify_chain agrees with extend"
        ),
        Err(e) => panic!("links that extended one by one do not verify together: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => signed(rest),
        Some((_, rest)) => raw(rest),
        None => {}
    }
});
