//! Proof generation from a store at very large sizes (O(log n) reads, one batch), and each
//! way a proof can be wrong as its own error.

use std::cell::RefCell;
use std::convert::Infallible;

use porchlight_tlog::{
    Hash, HashReader, MemoryTree, ProofError, Subtree, VerifyError, consistency_proof, empty_root,
    inclusion_proof, leaf_hash, node_hash, root_from_leaf_hashes, tree_root, verify_consistency,
    verify_inclusion,
};

/// A tree of `size` copies of one leaf: every perfect subtree of a level has the same hash,
/// so a store of any size costs 64 hashes. It counts the calls and subtrees it is asked for.
struct UniformTree {
    size: u64,
    levels: Vec<Hash>,
    calls: RefCell<usize>,
    reads: RefCell<usize>,
}

#[derive(Debug, thiserror::Error)]
#[error("subtree beyond the tree")]
struct Beyond;

impl UniformTree {
    fn new(size: u64) -> Self {
        let mut levels = vec![leaf_hash(b"porchlight")];
        for _ in 1..64 {
            let below = levels[levels.len() - 1];
            levels.push(node_hash(&below, &below));
        }
        Self {
            size,
            levels,
            calls: RefCell::new(0),
            reads: RefCell::new(0),
        }
    }

    fn take_counts(&self) -> (usize, usize) {
        (self.calls.replace(0), self.reads.replace(0))
    }
}

impl HashReader for UniformTree {
    type Error = Beyond;

    fn read_hashes(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, Beyond> {
        *self.calls.borrow_mut() += 1;
        *self.reads.borrow_mut() += subtrees.len();
        subtrees
            .iter()
            .map(|s| {
                if s.end() <= self.size {
                    Ok(self.levels[usize::from(s.level())])
                } else {
                    Err(Beyond)
                }
            })
            .collect()
    }
}

fn log2_ceil(n: u64) -> usize {
    (64 - (n - 1).leading_zeros()) as usize
}

#[test]
fn proofs_at_ten_million_and_2_pow_40_need_logarithmic_reads_in_one_batch() {
    for size in [10_000_000u64, 10_000_001, (1 << 40) + 12_345, u64::MAX >> 1] {
        let tree = UniformTree::new(size);
        let leaf = tree.levels[0];
        let root = tree_root(&tree, size).unwrap();
        let (calls, reads) = tree.take_counts();
        assert_eq!(calls, 1);
        assert!(reads <= 64);

        for index in [0, 1, size / 3, size - 2, size - 1] {
            let path = inclusion_proof(&tree, index, size).unwrap();
            let (calls, reads) = tree.take_counts();
            assert_eq!(calls, 1, "one batched read");
            assert!(reads <= 2 * log2_ceil(size), "{reads} reads at {size}");
            verify_inclusion(index, size, &leaf, &path, &root).unwrap();
        }
        for old in [1, 2, 3, 1 << 20, size / 2 + 1, size - 1] {
            let old_root = tree_root(&tree, old).unwrap();
            tree.take_counts();
            let path = consistency_proof(&tree, old, size).unwrap();
            let (calls, reads) = tree.take_counts();
            assert_eq!(calls, 1, "one batched read");
            assert!(
                reads <= 2 * log2_ceil(size) + 1,
                "{reads} reads {old}->{size}"
            );
            verify_consistency(old, size, &old_root, &root, &path).unwrap();
        }
    }
}

#[test]
fn uniform_tree_roots_match_the_definition() {
    // The counting store above is only a fair test if its roots are real ones.
    let tree = UniformTree::new(3000);
    let leaves = vec![tree.levels[0]; 3000];
    for size in [1u64, 2, 3, 5, 64, 1000, 2999, 3000] {
        assert_eq!(
            tree_root(&tree, size).unwrap(),
            root_from_leaf_hashes(&leaves[..size as usize])
        );
    }
}

#[test]
fn a_store_missing_hashes_is_a_read_error() {
    let tree = UniformTree::new(10);
    assert!(matches!(
        inclusion_proof(&tree, 3, 11),
        Err(ProofError::Read(Beyond))
    ));
    struct Short;
    impl HashReader for Short {
        type Error = Infallible;
        fn read_hashes(&self, _: &[Subtree]) -> Result<Vec<Hash>, Infallible> {
            Ok(Vec::new())
        }
    }
    assert!(matches!(
        tree_root(&Short, 5),
        Err(ProofError::WrongHashCount { asked: 2, got: 0 })
    ));
}

fn small_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for i in 0u32..20 {
        tree.push(&i.to_be_bytes());
    }
    tree
}

#[test]
fn inclusion_refusals_are_distinct() {
    let tree = small_tree();
    let root = tree.root_at(13).unwrap();
    let leaf = tree.leaf_hash(6).unwrap();
    let good = tree.inclusion_proof(6, 13).unwrap();
    verify_inclusion(6, 13, &leaf, &good, &root).unwrap();

    let mut flipped = good.clone();
    flipped[1][0] ^= 1;
    let cases: Vec<(VerifyError, Result<(), VerifyError>)> = vec![
        (
            VerifyError::EmptyTree,
            verify_inclusion(0, 0, &leaf, &[], &empty_root()),
        ),
        (
            VerifyError::IndexOutOfRange {
                index: 13,
                size: 13,
            },
            verify_inclusion(13, 13, &leaf, &good, &root),
        ),
        (
            VerifyError::WrongProofLength {
                expected: 4,
                got: 3,
            },
            verify_inclusion(6, 13, &leaf, &good[..3], &root),
        ),
        (
            VerifyError::WrongProofLength {
                expected: 4,
                got: 5,
            },
            verify_inclusion(6, 13, &leaf, &[good.as_slice(), &[[0; 32]]].concat(), &root),
        ),
        (
            VerifyError::RootMismatch,
            verify_inclusion(6, 13, &leaf, &flipped, &root),
        ),
        (
            VerifyError::RootMismatch,
            verify_inclusion(6, 13, &tree.leaf_hash(7).unwrap(), &good, &root),
        ),
        (
            VerifyError::RootMismatch,
            verify_inclusion(7, 13, &leaf, &good, &root),
        ),
    ];
    for (want, got) in cases {
        assert_eq!(got, Err(want));
    }
}

#[test]
fn consistency_refusals_are_distinct() {
    let tree = small_tree();
    let (old, new) = (5u64, 13u64);
    let old_root = tree.root_at(old).unwrap();
    let new_root = tree.root_at(new).unwrap();
    let good = tree.consistency_proof(old, new).unwrap();
    verify_consistency(old, new, &old_root, &new_root, &good).unwrap();
    // The path's first node feeds only the old root's rebuild when it is the seed; the last
    // feeds only the new root's.
    let mut last_flipped = good.clone();
    let last = last_flipped.len() - 1;
    last_flipped[last][31] ^= 1;
    let mut first_flipped = good.clone();
    first_flipped[0][0] ^= 1;

    let cases: Vec<(VerifyError, Result<(), VerifyError>)> = vec![
        (
            VerifyError::OldSizeAboveNew { old: 14, new: 13 },
            verify_consistency(14, 13, &old_root, &new_root, &good),
        ),
        (
            VerifyError::WrongProofLength {
                expected: good.len(),
                got: good.len() - 1,
            },
            verify_consistency(old, new, &old_root, &new_root, &good[1..]),
        ),
        (
            VerifyError::OldRootMismatch,
            verify_consistency(old, new, &new_root, &new_root, &good),
        ),
        (
            VerifyError::OldRootMismatch,
            verify_consistency(old, new, &old_root, &new_root, &first_flipped),
        ),
        (
            VerifyError::NewRootMismatch,
            verify_consistency(old, new, &old_root, &old_root, &good),
        ),
        (
            VerifyError::NewRootMismatch,
            verify_consistency(old, new, &old_root, &new_root, &last_flipped),
        ),
        (
            VerifyError::SameSizeRootsDiffer,
            verify_consistency(new, new, &old_root, &new_root, &[]),
        ),
        (
            VerifyError::WrongProofLength {
                expected: 0,
                got: 1,
            },
            verify_consistency(new, new, &new_root, &new_root, &good[..1]),
        ),
        (
            VerifyError::OldRootMismatch,
            verify_consistency(0, new, &old_root, &new_root, &[]),
        ),
        (
            VerifyError::WrongProofLength {
                expected: 0,
                got: 1,
            },
            verify_consistency(0, new, &empty_root(), &new_root, &good[..1]),
        ),
    ];
    for (want, got) in cases {
        assert_eq!(got, Err(want));
    }
    // Every tree extends the empty one, and itself.
    verify_consistency(0, new, &empty_root(), &new_root, &[]).unwrap();
    verify_consistency(new, new, &new_root, &new_root, &[]).unwrap();
}

#[test]
fn hostile_sizes_never_panic() {
    let h = [0x5a; 32];
    let paths: Vec<Vec<Hash>> = (0..=70).map(|n| vec![h; n]).collect();
    let sizes = [
        0,
        1,
        2,
        3,
        (1 << 63) - 1,
        1 << 63,
        (1 << 63) + 1,
        u64::MAX - 1,
        u64::MAX,
    ];
    for &a in &sizes {
        for &b in &sizes {
            for path in &paths {
                let _ = verify_inclusion(a, b, &h, path, &h);
                let _ = verify_consistency(a, b, &h, &h, path);
            }
        }
    }
}
