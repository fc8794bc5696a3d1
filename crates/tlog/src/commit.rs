//! Commitment leaves (DESIGN §8): the public log holds, for each entry, only a salted hash of
//! it, so reading the log reveals nothing about who accessed whom, while the owner — who is
//! given the entry and its salt — can recompute the leaf and check its inclusion.
//!
//! `commitment = SHA-256("porchlight tlog-commitment v1\0" ‖ salt (32) ‖ entry)`, and the
//! leaf's data is the 32-byte commitment, so its leaf hash is `SHA-256(0x00 ‖ commitment)`.
//! The salt is fixed-length and comes first, so `(salt, entry)` has one encoding; it is 256
//! random bits per entry, so an entry that is easy to guess (an account id and a day) cannot be
//! confirmed by hashing guesses, and two equal entries give unrelated leaves.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::hash::{Hash, leaf_hash};

/// Prefix of every commitment's hash input.
pub const COMMITMENT_DOMAIN: &[u8] = b"porchlight tlog-commitment v1\0";
/// Length of a commitment salt, in bytes.
pub const SALT_LEN: usize = 32;

/// The commitment to `entry` (its canonical bytes) under `salt`: the data of its public leaf.
pub fn commit(salt: [u8; SALT_LEN], entry: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(COMMITMENT_DOMAIN)
        .chain_update(salt)
        .chain_update(entry)
        .finalize()
        .into()
}

/// The leaf hash of the commitment to `entry` under `salt`: what an inclusion proof for the
/// entry is checked against.
pub fn commitment_leaf_hash(salt: [u8; SALT_LEN], entry: &[u8]) -> Hash {
    leaf_hash(&commit(salt, entry))
}

/// Whether `commitment` is the commitment to `entry` under `salt` (compared in constant time).
pub fn commitment_matches(salt: [u8; SALT_LEN], entry: &[u8], commitment: &[u8; 32]) -> bool {
    commit(salt, entry).ct_eq(commitment).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn commitments_bind_salt_and_entry() {
        let c = commit([1; 32], b"entry");
        assert!(commitment_matches([1; 32], b"entry", &c));
        assert!(!commitment_matches([2; 32], b"entry", &c));
        assert!(!commitment_matches([1; 32], b"entrx", &c));
        assert_ne!(commit([1; 32], b""), commit([1; 32], b"\0"));
        assert_eq!(commitment_leaf_hash([1; 32], b"entry"), leaf_hash(&c));
    }

    #[test]
    fn known_answer() {
        // SHA-256("porchlight tlog-commitment v1\0" ‖ 0x00 × 32 ‖ "") — pinned so the format
        // cannot drift unnoticed.
        let c = commit([0; 32], b"");
        let mut input = COMMITMENT_DOMAIN.to_vec();
        input.extend_from_slice(&[0; 32]);
        assert_eq!(c, <[u8; 32]>::from(Sha256::digest(&input)));
    }
}
