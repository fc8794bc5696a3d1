//! RFC 6962 / RFC 9162 §2.1.1 Merkle tree hashing with SHA-256.
//!
//! A leaf's hash is `SHA-256(0x00 ‖ data)`, an interior node's is
//! `SHA-256(0x01 ‖ left ‖ right)`, and the Merkle Tree Hash (MTH) of `n > 1` leaves splits
//! them at `k`, the largest power of two below `n`: `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`.
//! The MTH of no leaves is `SHA-256("")`.

use sha2::{Digest, Sha256};

/// Length of every hash in the tree, in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 output: a leaf hash, a node hash, or a tree's root.
pub type Hash = [u8; HASH_LEN];

/// Prefix of a leaf's hash input (RFC 6962 §2.1).
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an interior node's hash input (RFC 6962 §2.1).
pub const NODE_PREFIX: u8 = 0x01;

/// `SHA-256(0x00 ‖ data)`: the hash of the leaf whose data is `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(data)
        .finalize()
        .into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous input: a single `update` call, which matters in unoptimised builds.
    let mut input = [0u8; 1 + 2 * HASH_LEN];
    input[0] = NODE_PREFIX;
    input[1..=HASH_LEN].copy_from_slice(left);
    input[HASH_LEN + 1..].copy_from_slice(right);
    Sha256::digest(input).into()
}

/// `SHA-256("")`: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The Merkle Tree Hash of a list of leaf hashes, straight from the definition (O(n) hashing,
/// no storage). Use [`crate::MemoryTree`] or [`crate::tree_root`] to reuse work across sizes.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            // `leaves.len() >= 2`, so the split is at least 1 and below the length.
            let k = split_point(leaves.len() as u64) as usize;
            let (left, right) = leaves.split_at(k);
            node_hash(&root_from_leaf_hashes(left), &root_from_leaf_hashes(right))
        }
    }
}

/// The largest power of two strictly below `n`, for `n >= 2` (1 for smaller `n`, which no
/// caller passes).
pub(crate) fn split_point(n: u64) -> u64 {
    if n < 2 {
        return 1;
    }
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn split_point_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (7, 4),
            (8, 4),
            (9, 8),
            (28937, 16384),
        ] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
        assert_eq!(split_point(1 << 63), 1 << 62);
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let a = leaf_hash(b"");
        assert_eq!(
            hex(&a),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let mut both = Vec::new();
        both.extend_from_slice(&a);
        both.extend_from_slice(&a);
        assert_ne!(node_hash(&a, &a), leaf_hash(&both));
    }

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }
}
