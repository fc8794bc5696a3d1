//! The crate's integration tests, in one binary: RFC 6962 known answers, agreement with the
//! independent `ct-merkle` implementation, proofs on very large trees, signed notes and
//! checkpoints against Go's `sumdb/note` vectors and a real sum.golang.org checkpoint, every
//! refusal as its own error, and property tests of every parser and verifier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod checkpoints;
mod interop;
mod notes;
mod proofs;
mod props;
mod vectors;

use porchlight_tlog::Hash;

/// A 32-byte hash from hex.
pub fn h(hex: &str) -> Hash {
    hex::decode(hex).unwrap().try_into().unwrap()
}

/// A proof from concatenated hex hashes.
pub fn proof(hex: &str) -> Vec<Hash> {
    hex::decode(hex)
        .unwrap()
        .chunks(32)
        .map(|c| c.try_into().unwrap())
        .collect()
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

/// Leaf data number `i`: distinct, of varying length (0 to 47 bytes).
pub fn leaf_data(i: u64) -> Vec<u8> {
    pseudo_random(
        (i % 48) as usize,
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed,
    )
    .into_iter()
    .chain(i.to_be_bytes())
    .collect()
}
