//! The crate's integration tests, in one binary: the device chain, the codes, clip sealing
//! and re-wrapping, interop with Go `age`, and property tests of every parser.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chain;
mod clips;
mod codes;
mod interop;
mod props;

use porchlight_crypto::DeviceSecret;
use sha2::{Digest, Sha256};

/// A device whose keys follow from `n`, through the public key-file format (so tests can
/// pin byte-exact vectors).
pub fn fixed_device(n: u8) -> DeviceSecret {
    let mut file = b"PLDS\x01".to_vec();
    file.extend_from_slice(&[n; 32]);
    file.extend_from_slice(&[n.wrapping_add(0x80); 32]);
    let check = Sha256::new()
        .chain_update(b"porchlight device secret v1\0")
        .chain_update(&file)
        .finalize();
    file.extend_from_slice(&check[..4]);
    DeviceSecret::from_bytes(&file).unwrap()
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

pub fn name(s: &str) -> porchlight_crypto::Name {
    porchlight_crypto::Name::new(s).unwrap()
}
