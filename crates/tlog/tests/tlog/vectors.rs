//! Known answers: the RFC 6962 reference tree of certificate-transparency and
//! transparency-dev/merkle (`testonly/constants.go`, `testonly/reference_test.go`), and
//! Go's sumdb record hash.

use porchlight_tlog::{
    MemoryTree, empty_root, leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion,
};

use crate::{h, proof};

/// The eight leaf inputs of the reference tree, in hex.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Roots of the reference tree's first 0..=8 leaves.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, PATH) of the reference tree.
const INCLUSION: [(u64, u64, &str); 7] = [
    (0, 1, ""),
    (
        0,
        2,
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    ),
    (
        1,
        2,
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    ),
    (
        2,
        3,
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    ),
    (
        1,
        5,
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d\
         5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e\
         bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ),
    (
        0,
        8,
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7\
         5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e\
         6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ),
    (
        5,
        8,
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b\
         ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0\
         d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ),
];

/// (old size, new size, PROOF) of the reference tree.
const CONSISTENCY: [(u64, u64, &str); 4] = [
    (1, 1, ""),
    (
        1,
        8,
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7\
         5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e\
         6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ),
    (
        2,
        5,
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e\
         bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ),
    (
        6,
        8,
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a\
         ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0\
         d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ),
];

fn reference_tree() -> MemoryTree {
    let mut tree = MemoryTree::new();
    for leaf in LEAVES {
        tree.push(&hex::decode(leaf).unwrap());
    }
    tree
}

#[test]
fn rfc6962_reference_roots_for_sizes_0_to_8() {
    let tree = reference_tree();
    let leaves: Vec<_> = LEAVES
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).unwrap()))
        .collect();
    assert_eq!(empty_root(), h(ROOTS[0]));
    for (size, root) in ROOTS.iter().enumerate() {
        assert_eq!(tree.root_at(size as u64).unwrap(), h(root), "size {size}");
        assert_eq!(
            root_from_leaf_hashes(&leaves[..size]),
            h(root),
            "size {size}"
        );
    }
}

#[test]
fn rfc6962_reference_inclusion_proofs() {
    let tree = reference_tree();
    for (index, size, path) in INCLUSION {
        let want = proof(path);
        assert_eq!(
            tree.inclusion_proof(index, size).unwrap(),
            want,
            "{index}/{size}"
        );
        let leaf = tree.leaf_hash(index).unwrap();
        verify_inclusion(index, size, &leaf, &want, &h(ROOTS[size as usize])).unwrap();
    }
}

#[test]
fn rfc6962_reference_consistency_proofs() {
    let tree = reference_tree();
    for (old, new, path) in CONSISTENCY {
        let want = proof(path);
        assert_eq!(
            tree.consistency_proof(old, new).unwrap(),
            want,
            "{old}->{new}"
        );
        verify_consistency(
            old,
            new,
            &h(ROOTS[old as usize]),
            &h(ROOTS[new as usize]),
            &want,
        )
        .unwrap();
    }
}

#[test]
fn every_reference_proof_verifies() {
    let tree = reference_tree();
    for new in 0..=8u64 {
        let root = h(ROOTS[new as usize]);
        for index in 0..new {
            let path = tree.inclusion_proof(index, new).unwrap();
            verify_inclusion(index, new, &tree.leaf_hash(index).unwrap(), &path, &root).unwrap();
        }
        for old in 0..=new {
            let path = tree.consistency_proof(old, new).unwrap();
            verify_consistency(old, new, &h(ROOTS[old as usize]), &root, &path).unwrap();
        }
    }
}

#[test]
fn go_sumdb_record_hash() {
    // golang.org/x/mod/sumdb/tlog TestFormatTree: RecordHash("hello world") is an RFC 6962
    // leaf hash, shown in base64 as TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=.
    assert_eq!(
        leaf_hash(b"hello world"),
        h("4eccf34608d31bac5c7becf6006df59005d828181056d092084e341e6bb005bd")
    );
}
