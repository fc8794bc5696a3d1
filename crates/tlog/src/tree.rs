//! Roots and proofs made from stored hashes (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1).
//!
//! Every hash a proof needs is the Merkle Tree Hash of a range of leaves, and every such range
//! splits into at most 64 *perfect* subtrees — `2^level` leaves starting at a multiple of
//! `2^level` — whose hashes never change once the tree has grown past them. A store that keeps
//! the hash of every perfect subtree (about two hashes per leaf) therefore answers a root, an
//! inclusion proof or a consistency proof with O(log n) hashes, in one batched read, whatever
//! the tree's size. [`HashReader`] is that store; [`crate::MemoryTree`] is the in-memory one.

use crate::hash::{Hash, node_hash, split_point};

/// A perfect subtree: the `2^level` leaves `[index·2^level, (index+1)·2^level)`. Level 0 is a
/// single leaf, whose hash is that leaf's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subtree {
    level: u8,
    index: u64,
}

impl Subtree {
    /// The subtree at `level` and `index`, or `None` when it would reach past leaf index
    /// `u64::MAX - 1` (no tree has more than `u64::MAX` leaves).
    pub fn new(level: u8, index: u64) -> Option<Self> {
        if level >= 64 {
            return None;
        }
        let end = (u128::from(index) + 1) << level;
        (end <= u128::from(u64::MAX)).then_some(Self { level, index })
    }

    /// The single-leaf subtree of leaf `index` (`None` for `u64::MAX`, which no tree reaches).
    pub fn leaf(index: u64) -> Option<Self> {
        Self::new(0, index)
    }

    /// The height above the leaves: the subtree holds `2^level` leaves.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The subtree's position among the subtrees of its level, from 0 at the left.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Index of its first leaf.
    pub fn start(&self) -> u64 {
        self.index << self.level
    }

    /// Number of leaves, `2^level`.
    pub fn size(&self) -> u64 {
        1 << self.level
    }

    /// One past the index of its last leaf.
    pub fn end(&self) -> u64 {
        self.start() + self.size()
    }

    /// Its two halves, or `None` for a single leaf.
    pub fn children(&self) -> Option<(Subtree, Subtree)> {
        let level = self.level.checked_sub(1)?;
        let left = Subtree {
            level,
            index: self.index << 1,
        };
        let right = Subtree {
            level,
            index: left.index + 1,
        };
        Some((left, right))
    }

    /// The perfect subtrees whose last leaf is `leaf_index`, smallest first: the hashes a store
    /// must add when that leaf is appended (see [`hashes_to_store`]).
    pub fn completed_by(leaf_index: u64) -> impl Iterator<Item = Subtree> {
        let levels = if leaf_index == u64::MAX {
            0
        } else {
            leaf_index.trailing_ones() + 1
        };
        (0..levels).map(move |level| Subtree {
            level: level as u8,
            index: leaf_index >> level,
        })
    }
}

/// Read access to the hashes of a log's perfect subtrees, however they are stored.
///
/// A proof for any tree size reads only subtrees that lie within that size, at most
/// `2·⌈log2 n⌉` of them, all in a single call.
pub trait HashReader {
    /// Why a read failed (a database error, a hash that is missing).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hashes of `subtrees`, in the same order. A level-0 subtree's hash is its leaf
    /// hash. Every subtree asked for lies within the tree the caller named, so a missing one
    /// is the store's error.
    fn read_hashes(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;

    fn read_hashes(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(subtrees)
    }
}

/// Why a root or a proof could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError<E> {
    /// An inclusion proof was asked for a leaf the tree does not have.
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old} is above the new tree size {new}")]
    OldSizeAboveNew { old: u64, new: u64 },
    /// The store returned another number of hashes than it was asked for.
    #[error("the hash store returned {got} hashes for {asked} subtrees")]
    WrongHashCount { asked: usize, got: usize },
    /// The store failed.
    #[error("reading stored hashes failed")]
    Read(#[source] E),
}

/// The root (Merkle Tree Hash) of the tree's first `size` leaves.
pub fn tree_root<R: HashReader>(reader: &R, size: u64) -> Result<Hash, ProofError<R::Error>> {
    if size == 0 {
        return Ok(crate::hash::empty_root());
    }
    let hashes = range_hashes(reader, &[(0, size)])?;
    Ok(hashes
        .into_iter()
        .next()
        .unwrap_or_else(crate::hash::empty_root))
}

/// The inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaves,
/// `PATH(index, D[size])` of RFC 9162 §2.1.3.1: sibling hashes from the leaf up.
pub fn inclusion_proof<R: HashReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    range_hashes(reader, &inclusion_ranges(index, size))
}

/// The consistency proof between the trees of the first `old_size` and `new_size` leaves,
/// `PROOF(old_size, D[new_size])` of RFC 9162 §2.1.4.1. Empty when the sizes are equal or the
/// old tree is empty (every tree extends the empty one).
pub fn consistency_proof<R: HashReader>(
    reader: &R,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if old_size > new_size {
        return Err(ProofError::OldSizeAboveNew {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Ok(Vec::new());
    }
    range_hashes(reader, &consistency_ranges(old_size, new_size))
}

/// The perfect subtrees completed by appending leaf `index` with hash `leaf`, each with its
/// hash, smallest first (the leaf itself comes first). A store that keeps these for every leaf
/// can serve every proof; this reads the at most 63 left siblings it needs in one call.
pub fn hashes_to_store<R: HashReader>(
    reader: &R,
    index: u64,
    leaf: Hash,
) -> Result<Vec<(Subtree, Hash)>, ProofError<R::Error>> {
    let completed: Vec<Subtree> = Subtree::completed_by(index).collect();
    let left_siblings: Vec<Subtree> = completed
        .iter()
        .filter_map(|s| s.children().map(|(left, _)| left))
        .collect();
    let siblings = read_exact(reader, &left_siblings)?;
    let mut out = Vec::with_capacity(completed.len());
    let mut hash = leaf;
    let mut siblings = siblings.iter();
    for subtree in completed {
        if subtree.level > 0 {
            // One left sibling was read for every completed subtree above level 0.
            let Some(left) = siblings.next() else {
                return Err(ProofError::WrongHashCount {
                    asked: left_siblings.len(),
                    got: 0,
                });
            };
            hash = node_hash(left, &hash);
        }
        out.push((subtree, hash));
    }
    Ok(out)
}

/// The leaf ranges whose MTHs form `PATH(index, D[size])`, from the leaf up.
pub(crate) fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let (mut lo, mut hi) = (0u64, size);
    let mut out = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    out
}

/// The leaf ranges whose MTHs form `PROOF(old, D[new])` for `0 < old <= new`, in proof order.
pub(crate) fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    // SUBPROOF(m, D[lo:hi], b) of RFC 9162 §2.1.4.1, unrolled: `m` counts the old tree's
    // leaves from `lo`, and `whole` is b — whether the old tree is this whole range.
    let (mut lo, mut hi, mut m, mut whole) = (0u64, new, old, true);
    let mut out = Vec::new();
    loop {
        if m == hi - lo {
            if !whole {
                out.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if m <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    out
}

/// The perfect subtrees that cover `[start, end)` from left to right, largest possible first.
/// For the ranges of an MTH computation (a start aligned to the range's rounded-up size) these
/// are the binary digits of its length, largest first.
pub(crate) fn perfect_cover(start: u64, end: u64, out: &mut Vec<Subtree>) {
    let mut at = start;
    while at < end {
        let remaining = end - at;
        let fits = 63 - remaining.leading_zeros();
        let aligned = if at == 0 { 63 } else { at.trailing_zeros() };
        let level = fits.min(aligned);
        out.push(Subtree {
            level: level as u8,
            index: at >> level,
        });
        at += 1 << level;
    }
}

/// The MTH of each range, reading every perfect subtree they need in one call.
fn range_hashes<R: HashReader>(
    reader: &R,
    ranges: &[(u64, u64)],
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    let mut subtrees = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges {
        let before = subtrees.len();
        perfect_cover(start, end, &mut subtrees);
        counts.push(subtrees.len() - before);
    }
    let hashes = read_exact(reader, &subtrees)?;
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest = hashes.as_slice();
    for count in counts {
        let (these, after) = rest.split_at(count);
        rest = after;
        out.push(fold_cover(these));
    }
    Ok(out)
}

/// The MTH of a range from its perfect cover: the subtrees shrink from left to right, so the
/// tree joins them from the right.
fn fold_cover(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return crate::hash::empty_root();
    };
    iter.fold(*last, |right, left| node_hash(left, &right))
}

fn read_exact<R: HashReader>(
    reader: &R,
    subtrees: &[Subtree],
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if subtrees.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = reader.read_hashes(subtrees).map_err(ProofError::Read)?;
    if hashes.len() != subtrees.len() {
        return Err(ProofError::WrongHashCount {
            asked: subtrees.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn subtree_bounds() {
        let s = Subtree::new(3, 5).unwrap();
        assert_eq!((s.start(), s.size(), s.end()), (40, 8, 48));
        assert_eq!(
            s.children(),
            Some((Subtree::new(2, 10).unwrap(), Subtree::new(2, 11).unwrap()))
        );
        assert!(Subtree::new(64, 0).is_none());
        assert!(Subtree::new(63, 1).is_none());
        assert!(Subtree::new(63, 0).is_some());
        assert!(Subtree::new(0, u64::MAX).is_none());
        assert!(Subtree::new(0, u64::MAX - 1).is_some());
        assert_eq!(Subtree::leaf(7).unwrap().children(), None);
    }

    #[test]
    fn completed_by_lists_the_subtrees_ending_at_the_leaf() {
        let levels: Vec<(u8, u64)> = Subtree::completed_by(7)
            .map(|s| (s.level(), s.index()))
            .collect();
        assert_eq!(levels, [(0, 7), (1, 3), (2, 1), (3, 0)]);
        assert_eq!(Subtree::completed_by(4).count(), 1);
        for s in Subtree::completed_by(u64::MAX - 1) {
            assert_eq!(s.end(), u64::MAX);
        }
    }

    #[test]
    fn perfect_cover_follows_the_binary_digits() {
        let mut out = Vec::new();
        perfect_cover(0, 13, &mut out);
        let got: Vec<(u64, u64)> = out.iter().map(|s| (s.start(), s.end())).collect();
        assert_eq!(got, [(0, 8), (8, 12), (12, 13)]);

        out.clear();
        perfect_cover(0, u64::MAX, &mut out);
        assert_eq!(out.len(), 64);
        assert_eq!(out.last().map(Subtree::end), Some(u64::MAX));
    }

    #[test]
    fn ranges_are_logarithmic() {
        let n = 10_000_000u64;
        for index in [0, 1, 4_999_999, n - 1] {
            assert!(inclusion_ranges(index, n).len() <= 24);
        }
        for old in [1, 2, 3, 1_048_576, 9_999_999] {
            assert!(consistency_ranges(old, n).len() <= 25);
        }
        assert_eq!(consistency_ranges(5, 5), []);
        assert_eq!(consistency_ranges(4, 5), [(4, 5)]);
    }
}
