//! Inclusion and consistency proofs (RFC 9162). Forged mode (first byte even): arbitrary
//! sizes, indices, hashes and proofs never make the verifiers panic, and a proof of the wrong
//! length is always refused. Honest mode (odd): a real tree of up to 1024 leaves; its proofs
//! verify for every index and size the input picks, their lengths are the ones
//! `inclusion_proof_len`/`consistency_proof_len` give, and a proof with any one hash changed,
//! one hash dropped, or claimed for a neighbouring index or size, is refused.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use porchlight_tlog::{
    Hash, MemoryTree, consistency_proof_len, inclusion_proof_len, leaf_hash,
    root_from_inclusion_proof, verify_consistency, verify_inclusion,
};

#[derive(Debug, Arbitrary)]
struct Forged {
    index: u64,
    size: u64,
    old_size: u64,
    leaf: Hash,
    root: Hash,
    old_root: Hash,
    proof: Vec<Hash>,
}

#[derive(Debug, Arbitrary)]
struct Honest {
    leaves: u16,
    index: u16,
    size: u16,
    old_size: u16,
    tamper: u16,
    bit: u8,
}

fn forged(data: &[u8]) {
    let Ok(f) = Forged::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let inclusion = verify_inclusion(f.index, f.size, &f.leaf, &f.proof, &f.root);
    if f.index < f.size && f.proof.len() != inclusion_proof_len(f.index, f.size) {
        assert!(
            inclusion.is_err(),
            "an inclusion proof of the wrong length was accepted"
        );
    }
    let _ = root_from_inclusion_proof(f.index, f.size, &f.leaf, &f.proof);
    let consistency = verify_consistency(f.old_size, f.size, &f.old_root, &f.root, &f.proof);
    if f.old_size <= f.size && f.proof.len() != consistency_proof_len(f.old_size, f.size) {
        assert!(
            consistency.is_err(),
            "a consistency proof of the wrong length was accepted"
        );
    }
}

fn honest(data: &[u8]) {
    let Ok(h) = Honest::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let n = u64::from(h.leaves % 1024) + 1;
    let mut tree = MemoryTree::new();
    for i in 0..n {
        tree.push(&i.to_be_bytes());
    }
    let size = u64::from(h.size) % n + 1;
    let index = u64::from(h.index) % size;
    let old_size = u64::from(h.old_size) % (size + 1);
    let Ok(root) = tree.root_at(size) else {
        panic!("root of size {size} of {n}")
    };
    let Ok(old_root) = tree.root_at(old_size) else {
        panic!("root of size {old_size}")
    };
    let leaf = leaf_hash(&index.to_be_bytes());

    let Ok(proof) = tree.inclusion_proof(index, size) else {
        panic!("inclusion proof")
    };
    assert_eq!(proof.len(), inclusion_proof_len(index, size));
    assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));
    let other_leaf = leaf_hash(&(index + 1).to_be_bytes());
    assert!(verify_inclusion(index, size, &other_leaf, &proof, &root).is_err());
    if index + 1 < size {
        assert!(verify_inclusion(index + 1, size, &leaf, &proof, &root).is_err());
    }
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let i = usize::from(h.tamper) % bad.len();
        bad[i][usize::from(h.bit % 32)] ^= 1 << (h.bit % 8);
        assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
        bad = proof.clone();
        bad.remove(i);
        assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
    }

    let Ok(proof) = tree.consistency_proof(old_size, size) else {
        panic!("consistency proof")
    };
    assert_eq!(proof.len(), consistency_proof_len(old_size, size));
    assert_eq!(
        verify_consistency(old_size, size, &old_root, &root, &proof),
        Ok(())
    );
    if !proof.is_empty() {
        let mut bad = proof.clone();
        let i = usize::from(h.tamper) % bad.len();
        bad[i][usize::from(h.bit % 32)] ^= 1 << (h.bit % 8);
        assert!(verify_consistency(old_size, size, &old_root, &root, &bad).is_err());
        bad = proof.clone();
        bad.remove(i);
        assert!(verify_consistency(old_size, size, &old_root, &root, &bad).is_err());
    }
    if old_size > 0 && old_size < size {
        let mut wrong_old = old_root;
        wrong_old[0] ^= 1;
        assert!(verify_consistency(old_size, size, &wrong_old, &root, &proof).is_err());
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => honest(rest),
        Some((_, rest)) => forged(rest),
        None => {}
    }
});
