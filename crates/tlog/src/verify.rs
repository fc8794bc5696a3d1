//! Proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2) over untrusted input.
//!
//! Every size, index and path comes from the network, so nothing here panics or loops on
//! them: the path's length is checked against the one the sizes imply before any hashing,
//! and each way a proof can be wrong is its own [`VerifyError`].

use crate::hash::{Hash, empty_root, node_hash};

/// Why a proof does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// An inclusion proof in a tree of size 0, which has no leaves.
    #[error("the tree is empty, so it includes no leaf")]
    EmptyTree,
    /// An inclusion proof for a leaf index at or past the tree size.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old tree size {old} is above the new tree size {new}")]
    OldSizeAboveNew { old: u64, new: u64 },
    /// The path has another number of hashes than the sizes (and index) imply.
    #[error("the proof has {got} hashes where {expected} are needed")]
    WrongProofLength { expected: usize, got: usize },
    /// The inclusion path does not lead from the leaf to the root.
    #[error("the inclusion proof does not lead to the root")]
    RootMismatch,
    /// The consistency path does not rebuild the old root.
    #[error("the consistency proof does not rebuild the old root")]
    OldRootMismatch,
    /// The consistency path rebuilds the old root but not the new one.
    #[error("the consistency proof does not rebuild the new root")]
    NewRootMismatch,
    /// Two roots for the same tree size differ: one of them is from a fork.
    #[error("two different roots for the same tree size")]
    SameSizeRootsDiffer,
}

/// Number of hashes in `PATH(index, D[size])` for `index < size`: the levels below the point
/// where the leaf's path and the tree's right edge part (`inner`), plus the right-edge levels
/// above it where the path has a left sibling (`border`).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (inner, border) = decompose(index, size);
    (inner + border) as usize
}

/// Number of hashes in `PROOF(old, D[new])` for `old <= new` (0 when the sizes are equal or
/// the old tree is empty).
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    if old_size == 0 || old_size >= new_size {
        return 0;
    }
    let (inner, border) = decompose(old_size - 1, new_size);
    let shift = old_size.trailing_zeros();
    let seed_in_path = u32::from(!old_size.is_power_of_two());
    (inner.saturating_sub(shift) + border + seed_in_path) as usize
}

/// Checks that `leaf` (a leaf *hash*) is leaf `index` of the tree of size `size` whose root is
/// `root`, by the audit path `proof`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if computed != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// The root that `proof` implies for `leaf` at `index` in a tree of `size` leaves (RFC 9162
/// §2.1.3.2 without the final comparison).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if size == 0 {
        return Err(VerifyError::EmptyTree);
    }
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    let wrong_length = VerifyError::WrongProofLength {
        expected,
        got: proof.len(),
    };
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(wrong_length);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong_length);
    }
    Ok(r)
}

/// Checks that the tree of size `old_size` and root `old_root` is a prefix of the tree of size
/// `new_size` and root `new_root`, by the consistency proof `proof`.
///
/// Equal sizes need an empty proof and equal roots; an empty old tree needs an empty proof and
/// the empty root (every tree extends it).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::OldSizeAboveNew {
            old: old_size,
            new: new_size,
        });
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    if old_size == 0 {
        return if *old_root == empty_root() {
            Ok(())
        } else {
            Err(VerifyError::OldRootMismatch)
        };
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(VerifyError::SameSizeRootsDiffer)
        };
    }
    let (old_computed, new_computed) =
        roots_from_consistency_proof(old_size, new_size, old_root, proof)?;
    if old_computed != *old_root {
        return Err(VerifyError::OldRootMismatch);
    }
    if new_computed != *new_root {
        return Err(VerifyError::NewRootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2 steps 2–7 for `0 < old < new` and a path of the right length: the old and
/// new roots the path implies.
fn roots_from_consistency_proof(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    proof: &[Hash],
) -> Result<(Hash, Hash), VerifyError> {
    let wrong_length = VerifyError::WrongProofLength {
        expected: consistency_proof_len(old_size, new_size),
        got: proof.len(),
    };
    // When the old tree is a perfect subtree its root is the first node of the path.
    let (seed, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(wrong_length),
        }
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if s == 0 {
            return Err(wrong_length);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(wrong_length);
    }
    Ok((fr, sr))
}

/// For leaf `index < size`: how many levels lie below the node where the paths to the leaf
/// and to the last leaf part, and how many of the levels above it have a left sibling.
fn decompose(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn proof_lengths_match_the_reference_tree() {
        // RFC 6962 reference tree (transparency-dev/merkle testonly): PATH and PROOF sizes.
        assert_eq!(inclusion_proof_len(0, 1), 0);
        assert_eq!(inclusion_proof_len(0, 2), 1);
        assert_eq!(inclusion_proof_len(2, 3), 1);
        assert_eq!(inclusion_proof_len(1, 5), 3);
        assert_eq!(inclusion_proof_len(5, 8), 3);
        assert_eq!(consistency_proof_len(1, 8), 3);
        assert_eq!(consistency_proof_len(2, 5), 2);
        assert_eq!(consistency_proof_len(6, 8), 3);
        assert_eq!(consistency_proof_len(8, 8), 0);
        assert_eq!(consistency_proof_len(0, 8), 0);
    }

    #[test]
    fn extreme_sizes_do_not_overflow() {
        let h = [7u8; 32];
        // The last leaf of 2^64 - 1 has a left sibling on each of 63 levels; the first has
        // a sibling on all 64.
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(
            verify_inclusion(u64::MAX - 1, u64::MAX, &h, &[h; 63], &h),
            Err(VerifyError::RootMismatch)
        );
        assert_eq!(
            verify_inclusion(0, u64::MAX, &h, &[h; 64], &h),
            Err(VerifyError::RootMismatch)
        );
        assert!(consistency_proof_len(u64::MAX - 1, u64::MAX) > 0);
        let len = consistency_proof_len(u64::MAX - 1, u64::MAX);
        assert!(verify_consistency(u64::MAX - 1, u64::MAX, &h, &h, &vec![h; len]).is_err());
        let len = consistency_proof_len(1 << 63, u64::MAX);
        assert!(verify_consistency(1 << 63, u64::MAX, &h, &h, &vec![h; len]).is_err());
    }
}
