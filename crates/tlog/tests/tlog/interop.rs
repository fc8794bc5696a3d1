//! Agreement with `ct-merkle` 0.3, an independent RFC 6962 implementation: the same roots,
//! byte-identical inclusion and consistency proofs, each side's proofs accepted by the other's
//! verifier, and the same tampered proofs refused by both.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use porchlight_tlog::{Hash, MemoryTree, leaf_hash, verify_consistency, verify_inclusion};
use sha2_011::Sha256;

use crate::{leaf_data, pseudo_random};

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;

fn ct_root(root: &Hash, size: u64) -> RootHash<Sha256> {
    RootHash::new(ct_merkle::digest::Output::<Sha256>::from(*root), size)
}

fn concat(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

fn ours_accept_inclusion(index: u64, size: u64, data: &[u8], proof: &[u8], root: &Hash) -> bool {
    if !proof.len().is_multiple_of(32) {
        return false;
    }
    let path: Vec<Hash> = proof.chunks(32).map(|c| c.try_into().unwrap()).collect();
    verify_inclusion(index, size, &leaf_hash(data), &path, root).is_ok()
}

fn ct_accepts_inclusion(index: u64, size: u64, data: &[u8], proof: &[u8], root: &Hash) -> bool {
    let Ok(proof) = InclusionProof::<Sha256>::try_from_bytes(proof.to_vec()) else {
        return false;
    };
    ct_root(root, size)
        .verify_inclusion(&data, index, &proof)
        .is_ok()
}

fn ours_accept_consistency(old: u64, new: u64, roots: (&Hash, &Hash), proof: &[u8]) -> bool {
    if !proof.len().is_multiple_of(32) {
        return false;
    }
    let path: Vec<Hash> = proof.chunks(32).map(|c| c.try_into().unwrap()).collect();
    verify_consistency(old, new, roots.0, roots.1, &path).is_ok()
}

fn ct_accepts_consistency(old: u64, new: u64, roots: (&Hash, &Hash), proof: &[u8]) -> bool {
    let Ok(proof) = ConsistencyProof::<Sha256>::try_from_bytes(proof.to_vec()) else {
        return false;
    };
    ct_root(roots.1, new)
        .verify_consistency(&ct_root(roots.0, old), &proof)
        .is_ok()
}

/// Both trees over leaves `0..n`, and the roots of every prefix as ct-merkle computes them.
fn build(n: u64) -> (MemoryTree, Vec<CtTree>, Vec<Hash>) {
    let mut ours = MemoryTree::new();
    let mut ct = CtTree::new();
    let mut snapshots = Vec::new();
    let mut roots = vec![porchlight_tlog::empty_root()];
    for i in 0..n {
        let data = leaf_data(i);
        ours.push(&data);
        ct.push(data);
        roots.push(ct.root().as_bytes().as_slice().try_into().unwrap());
        snapshots.push(ct.clone());
    }
    (ours, snapshots, roots)
}

/// Every index (or old size) of trees up to 160 leaves; above that the edges, the powers of
/// two and a spread between, so the suite stays fast in a debug build.
fn exhaustive_or_sampled(i: u64, size: u64) -> bool {
    size <= 160 || i < 8 || size - i <= 8 || i.is_power_of_two() || i.is_multiple_of(13)
}

#[test]
fn roots_agree_for_every_size_up_to_300() {
    let (ours, _, ct_roots) = build(300);
    for (size, root) in ct_roots.iter().enumerate() {
        assert_eq!(&ours.root_at(size as u64).unwrap(), root, "size {size}");
    }
}

#[test]
fn inclusion_proofs_agree_byte_for_byte_for_sizes_up_to_300() {
    let (ours, ct, roots) = build(300);
    for size in 1..=300u64 {
        let ct_tree = &ct[size as usize - 1];
        let root = &roots[size as usize];
        for index in (0..size).filter(|&i| exhaustive_or_sampled(i, size)) {
            let data = leaf_data(index);
            let mine = concat(&ours.inclusion_proof(index, size).unwrap());
            let theirs = ct_tree.prove_inclusion(index as usize);
            assert_eq!(mine, theirs.as_bytes(), "index {index} of {size}");
            assert!(ours_accept_inclusion(index, size, &data, &mine, root));
            // The bytes are ct-merkle's own, so its verifier is sampled (it is slow unoptimised).
            if index % 4 == 0 {
                assert!(ct_accepts_inclusion(index, size, &data, &mine, root));
            }
        }
    }
}

#[test]
fn consistency_proofs_agree_byte_for_byte_for_sizes_up_to_300() {
    let (ours, ct, roots) = build(300);
    for new in 1..=300u64 {
        let ct_tree = &ct[new as usize - 1];
        for old in (1..=new).filter(|&m| exhaustive_or_sampled(m, new)) {
            let mine = concat(&ours.consistency_proof(old, new).unwrap());
            let theirs = ct_tree.prove_consistency((new - old) as usize);
            assert_eq!(mine, theirs.as_bytes(), "{old} -> {new}");
            let pair = (&roots[old as usize], &roots[new as usize]);
            assert!(ours_accept_consistency(old, new, pair, &mine));
            if old % 4 == 0 {
                assert!(ct_accepts_consistency(old, new, pair, &mine));
            }
        }
    }
}

#[test]
fn large_trees_agree() {
    // Sizes around powers of two and odd ones, with sampled indices and old sizes.
    let n = 5000u64;
    let mut ours = MemoryTree::new();
    let mut ct = CtTree::new();
    let mut roots = vec![porchlight_tlog::empty_root()];
    let sizes = [1023u64, 1024, 1025, 2047, 3000, 4096, 4097, 4999, 5000];
    let mut snapshots = Vec::new();
    for i in 0..n {
        let data = leaf_data(i);
        ours.push(&data);
        ct.push(data);
        roots.push(ct.root().as_bytes().as_slice().try_into().unwrap());
        if sizes.contains(&(i + 1)) {
            snapshots.push(ct.clone());
        }
    }
    for (size, ct_tree) in sizes.iter().copied().zip(&snapshots) {
        assert_eq!(ours.root_at(size).unwrap(), roots[size as usize]);
        let picks = pseudo_random(64, size);
        for pair in picks.chunks(2) {
            let index = u64::from(u16::from_le_bytes([pair[0], pair[1]])) % size;
            let mine = concat(&ours.inclusion_proof(index, size).unwrap());
            assert_eq!(mine, ct_tree.prove_inclusion(index as usize).as_bytes());
            let old = index + 1;
            let mine = concat(&ours.consistency_proof(old, size).unwrap());
            assert_eq!(
                mine,
                ct_tree.prove_consistency((size - old) as usize).as_bytes()
            );
            let pair = (&roots[old as usize], &roots[size as usize]);
            assert!(ours_accept_consistency(old, size, pair, &mine));
            assert!(ct_accepts_consistency(old, size, pair, &mine));
        }
    }
}

#[test]
fn tampered_inclusion_proofs_are_refused_by_both() {
    let (ours, _, roots) = build(130);
    for size in (1..=130u64).step_by(3) {
        let root = &roots[size as usize];
        for index in (0..size).step_by(5) {
            let data = leaf_data(index);
            let good = concat(&ours.inclusion_proof(index, size).unwrap());
            let mut tampered = Vec::new();
            for byte in (0..good.len()).step_by(11) {
                let mut p = good.clone();
                p[byte] ^= 0x40;
                tampered.push(p);
            }
            if !good.is_empty() {
                tampered.push(good[..good.len() - 32].to_vec());
                tampered.push(good[..good.len() - 1].to_vec());
            }
            tampered.push([good.as_slice(), &[0u8; 32]].concat());
            tampered.push([good.as_slice(), &[0u8; 5]].concat());
            for p in &tampered {
                assert!(!ours_accept_inclusion(index, size, &data, p, root));
                assert!(!ct_accepts_inclusion(index, size, &data, p, root));
            }
            // Another leaf's position, or another leaf at this one.
            for other in [index ^ 1, index + 1, size] {
                if other == index {
                    continue;
                }
                assert!(!ours_accept_inclusion(other, size, &data, &good, root));
                assert!(!ct_accepts_inclusion(other, size, &data, &good, root));
            }
            let wrong = leaf_data(index + 1000);
            assert!(!ours_accept_inclusion(index, size, &wrong, &good, root));
            assert!(!ct_accepts_inclusion(index, size, &wrong, &good, root));
            // A claimed size that changes the path's shape is refused by both; one that
            // keeps it (size 3 vs 4 for leaf 0) is judged the same by both: the signed
            // checkpoint, not the path, binds the size to the root.
            for claimed in [size - 1, size + 1, size * 2] {
                assert_eq!(
                    ours_accept_inclusion(index, claimed, &data, &good, root),
                    ct_accepts_inclusion(index, claimed, &data, &good, root),
                    "leaf {index}, size {size} claimed as {claimed}"
                );
            }
            let mut shape_changed = size * 4 + 1;
            while porchlight_tlog::inclusion_proof_len(index, shape_changed) * 32 == good.len() {
                shape_changed += 1;
            }
            assert!(!ours_accept_inclusion(
                index,
                shape_changed,
                &data,
                &good,
                root
            ));
            assert!(!ct_accepts_inclusion(
                index,
                shape_changed,
                &data,
                &good,
                root
            ));
        }
    }
}

#[test]
fn tampered_consistency_proofs_are_refused_by_both() {
    let (ours, _, roots) = build(130);
    for new in (2..=130u64).step_by(4) {
        for old in (1..new).step_by(5) {
            let pair = (&roots[old as usize], &roots[new as usize]);
            let good = concat(&ours.consistency_proof(old, new).unwrap());
            let mut tampered = Vec::new();
            for byte in (0..good.len()).step_by(13) {
                let mut p = good.clone();
                p[byte] ^= 0x01;
                tampered.push(p);
            }
            tampered.push(good[..good.len() - 32].to_vec());
            tampered.push([good.as_slice(), &[7u8; 32]].concat());
            tampered.push(good[1..].to_vec());
            for p in &tampered {
                assert!(!ours_accept_consistency(old, new, pair, p));
                assert!(!ct_accepts_consistency(old, new, pair, p));
            }
            // Roots swapped for others of the log.
            let other_old = &roots[old as usize - 1];
            let other_new = &roots[new as usize - 1];
            for swapped in [(other_old, pair.1), (pair.0, other_new)] {
                assert!(!ours_accept_consistency(old, new, swapped, &good));
                assert!(!ct_accepts_consistency(old, new, swapped, &good));
            }
            // Other sizes: the verdicts agree, and old > new is refused by both.
            for (o, n) in [(old + 1, new), (old, new + 1), (old.max(2) - 1, new)] {
                assert_eq!(
                    ours_accept_consistency(o, n, pair, &good),
                    ct_accepts_consistency(o, n, pair, &good),
                    "{old}->{new} claimed as {o}->{n}"
                );
            }
            assert!(!ours_accept_consistency(new + 1, new, pair, &good));
            assert!(!ct_accepts_consistency(new + 1, new, pair, &good));
        }
    }
}
