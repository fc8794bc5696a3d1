//! Differential: Porchlight's inclusion and consistency proofs against `ct-merkle` 0.3, an
//! independent RFC 6962 implementation. For a tree the input sizes, both make byte-identical
//! proofs; then the proof bytes are tampered with (bytes changed, cut or added) and the claim
//! moved (another index, another old size), and both verifiers must agree on every result.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use libfuzzer_sys::fuzz_target;
use porchlight_tlog::{Hash, MemoryTree, leaf_hash, verify_consistency, verify_inclusion};
use sha2_011::Sha256;

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;

#[derive(Debug, Arbitrary)]
struct Input {
    size: u16,
    index: u16,
    old: u16,
    claimed_index: Option<u16>,
    claimed_old: Option<u16>,
    edits: Vec<(u16, u8)>,
    cut: u8,
    extra: Vec<u8>,
}

fn ct_root(root: &Hash, size: u64) -> RootHash<Sha256> {
    RootHash::new(ct_merkle::digest::Output::<Sha256>::from(*root), size)
}

fn path(proof: &[u8]) -> Option<Vec<Hash>> {
    if !proof.len().is_multiple_of(32) {
        return None;
    }
    proof.chunks(32).map(|c| c.try_into().ok()).collect()
}

fn tamper(proof: &[u8], input: &Input) -> Vec<u8> {
    let mut out = proof.to_vec();
    for (at, xor) in &input.edits {
        if !out.is_empty() {
            let i = usize::from(*at) % out.len();
            out[i] ^= xor;
        }
    }
    out.truncate(out.len().saturating_sub(usize::from(input.cut) * 16));
    out.extend_from_slice(&input.extra);
    out
}

fn leaf(i: u64) -> Vec<u8> {
    i.to_be_bytes()[..(i % 9) as usize].to_vec()
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let size = u64::from(input.size % 300) + 1;
    let mut ours = MemoryTree::new();
    let mut ct = CtTree::new();
    for i in 0..size {
        ours.push(&leaf(i));
        ct.push(leaf(i));
    }
    let Ok(root) = <Hash>::try_from(ct.root().as_bytes().as_slice()) else {
        return;
    };
    assert_eq!(ours.root(), root, "the roots agree");

    // Inclusion.
    let index = u64::from(input.index) % size;
    let Ok(mine) = ours.inclusion_proof(index, size) else {
        panic!("inclusion proof")
    };
    let theirs = ct.prove_inclusion(index as usize);
    assert_eq!(
        mine.concat(),
        theirs.as_bytes(),
        "inclusion proofs agree byte for byte"
    );
    let bytes = tamper(theirs.as_bytes(), &input);
    let claimed = input
        .claimed_index
        .map_or(index, |i| u64::from(i) % (size + 2));
    let data = leaf(index);
    let ours_ok = path(&bytes)
        .is_some_and(|p| verify_inclusion(claimed, size, &leaf_hash(&data), &p, &root).is_ok());
    let ct_ok = InclusionProof::<Sha256>::try_from_bytes(bytes.clone()).is_ok_and(|p| {
        ct_root(&root, size)
            .verify_inclusion(&data, claimed, &p)
            .is_ok()
    });
    assert_eq!(
        ours_ok, ct_ok,
        "the verifiers disagree on inclusion of {claimed} in {size}"
    );

    // Consistency, between two non-empty trees.
    if size < 2 {
        return;
    }
    let old = u64::from(input.old) % (size - 1) + 1;
    let Ok(mine) = ours.consistency_proof(old, size) else {
        panic!("consistency proof")
    };
    let theirs = ct.prove_consistency((size - old) as usize);
    assert_eq!(
        mine.concat(),
        theirs.as_bytes(),
        "consistency proofs agree byte for byte"
    );
    let bytes = tamper(theirs.as_bytes(), &input);
    let claimed_old = input
        .claimed_old
        .map_or(old, |o| u64::from(o) % (size - 1) + 1);
    let Ok(claimed_root) = ours.root_at(claimed_old) else {
        panic!("claimed root")
    };
    let ours_ok = path(&bytes)
        .is_some_and(|p| verify_consistency(claimed_old, size, &claimed_root, &root, &p).is_ok());
    let ct_ok = ConsistencyProof::<Sha256>::try_from_bytes(bytes).is_ok_and(|p| {
        ct_root(&root, size)
            .verify_consistency(&ct_root(&claimed_root, claimed_old), &p)
            .is_ok()
    });
    assert_eq!(
        ours_ok, ct_ok,
        "the verifiers disagree on consistency {claimed_old} -> {size}"
    );
});
