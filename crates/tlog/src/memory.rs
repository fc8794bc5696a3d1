//! An append-only tree kept in memory: the [`HashReader`] of tests, benchmarks and tools.

use crate::hash::{Hash, leaf_hash, node_hash};
use crate::tree::{self, HashReader, ProofError, Subtree};

/// Every perfect subtree hash of a growing tree, level by level: `levels[0]` holds the leaf
/// hashes, `levels[l][i]` the hash of [`Subtree`] `(l, i)`. About `2n` hashes for `n` leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

/// A [`MemoryTree`] was asked for a subtree it does not (yet) hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree has no complete subtree at level {level}, index {index}")]
pub struct MissingSubtree {
    pub level: u8,
    pub index: u64,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree of these leaf hashes, in order.
    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push_leaf_hash(leaf);
        }
        tree
    }

    /// Appends a leaf by its data; returns its index.
    pub fn push(&mut self, data: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(data))
    }

    /// Appends a leaf by its hash; returns its index.
    pub fn push_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.len();
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            // A row of even length has just completed a pair: their parent is complete too.
            if row.len() % 2 == 1 {
                break;
            }
            let right = row[row.len() - 1];
            let left = row[row.len() - 2];
            hash = node_hash(&left, &right);
            level += 1;
        }
        index
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |row| row.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of leaf `index`, if there is one.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        let index = usize::try_from(index).ok()?;
        self.levels.first()?.get(index).copied()
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        match self.root_at(self.len()) {
            Ok(root) => root,
            // Every subtree of the tree's own size is held, so this does not happen.
            Err(_) => crate::hash::empty_root(),
        }
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError<MissingSubtree>> {
        tree::tree_root(self, size)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, ProofError<MissingSubtree>> {
        tree::inclusion_proof(self, index, size)
    }

    /// The consistency proof between the trees of the first `old_size` and `new_size` leaves.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, ProofError<MissingSubtree>> {
        tree::consistency_proof(self, old_size, new_size)
    }

    fn subtree_hash(&self, subtree: Subtree) -> Option<Hash> {
        let row = self.levels.get(usize::from(subtree.level()))?;
        row.get(usize::try_from(subtree.index()).ok()?).copied()
    }
}

impl HashReader for MemoryTree {
    type Error = MissingSubtree;

    fn read_hashes(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, MissingSubtree> {
        subtrees
            .iter()
            .map(|&s| {
                self.subtree_hash(s).ok_or(MissingSubtree {
                    level: s.level(),
                    index: s.index(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::hash::root_from_leaf_hashes;

    #[test]
    fn roots_match_the_definition_at_every_size() {
        let leaves: Vec<Hash> = (0u32..70).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MemoryTree::from_leaf_hashes(leaves.iter().copied());
        for size in 0..=leaves.len() {
            assert_eq!(
                tree.root_at(size as u64).unwrap(),
                root_from_leaf_hashes(&leaves[..size]),
                "size {size}"
            );
        }
        assert_eq!(tree.root(), root_from_leaf_hashes(&leaves));
    }

    #[test]
    fn sizes_beyond_the_tree_are_a_missing_subtree() {
        let mut tree = MemoryTree::new();
        tree.push(b"a");
        assert!(matches!(
            tree.root_at(2),
            Err(ProofError::Read(MissingSubtree { .. }))
        ));
        assert!(matches!(
            tree.inclusion_proof(1, 1),
            Err(ProofError::IndexOutOfRange { index: 1, size: 1 })
        ));
        assert!(matches!(
            tree.consistency_proof(2, 1),
            Err(ProofError::OldSizeAboveNew { old: 2, new: 1 })
        ));
    }

    #[test]
    fn hashes_to_store_rebuild_the_levels() {
        let mut tree = MemoryTree::new();
        let mut stored: std::collections::BTreeMap<Subtree, Hash> = Default::default();
        for i in 0u64..40 {
            let leaf = leaf_hash(&i.to_le_bytes());
            for (s, h) in crate::tree::hashes_to_store(&tree, i, leaf).unwrap() {
                stored.insert(s, h);
            }
            tree.push_leaf_hash(leaf);
        }
        for (s, h) in stored {
            assert_eq!(tree.read_hashes(&[s]).unwrap(), [h]);
        }
    }
}
