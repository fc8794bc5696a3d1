//! Property tests: the note and checkpoint parsers on random and mutated input never panic,
//! and whatever they accept re-encodes to the same bytes; generated proofs verify, and every
//! mutation of one is refused; the verifiers take any input without panicking.

use std::sync::LazyLock;

use porchlight_tlog::{
    Checkpoint, Hash, KeyName, MemoryTree, NoteSigner, NoteVerifier, SignedNote, SigningKey,
    open_checkpoint, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

const ORIGIN: &str = "porch.example/log";

struct Fixture {
    log: NoteVerifier,
    checkpoint: Checkpoint,
    /// A checkpoint signed by the log and cosigned by a witness.
    signed: Vec<u8>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let log = NoteSigner::new(
        KeyName::new(ORIGIN).unwrap(),
        SigningKey::from_bytes(&[1; 32]),
    );
    let witness = NoteSigner::new(
        KeyName::new("witness.example").unwrap(),
        SigningKey::from_bytes(&[2; 32]),
    );
    let checkpoint = Checkpoint::new(ORIGIN, 123_456, TREE.root_at(1234).unwrap()).unwrap();
    let mut note = checkpoint.sign(&log).unwrap();
    note.add_signature(&witness).unwrap();
    Fixture {
        log: log.verifier(),
        checkpoint,
        signed: note.to_bytes(),
    }
});

const TREE_SIZE: u64 = 1500;

static TREE: LazyLock<MemoryTree> = LazyLock::new(|| {
    let mut tree = MemoryTree::new();
    for i in 0..TREE_SIZE {
        tree.push(&crate::leaf_data(i));
    }
    tree
});

#[derive(Debug, Clone)]
enum Edit {
    FlipBit(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::FlipBit(at, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = bytes.len().max(1);
        match *e {
            Edit::FlipBit(at, bit) if !bytes.is_empty() => bytes[at % len] ^= 1 << bit,
            Edit::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
            Edit::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at % len);
            }
            Edit::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
            _ => {}
        }
    }
    bytes
}

/// Note-shaped text: the characters a note is made of, so parsing gets past the first checks.
fn noteish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("\u{2014} ".to_owned()),
            Just(" ".to_owned()),
            Just("porch.example/log".to_owned()),
            Just("AAAA".to_owned()),
            Just("=".to_owned()),
            "[a-zA-Z0-9+/=]{1,12}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn checkpointish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\n".to_owned()),
            Just("0".to_owned()),
            "[0-9]{1,21}",
            "[a-zA-Z0-9+/=]{1,44}",
            Just("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=".to_owned()),
            Just(ORIGIN.to_owned()),
        ],
        0..10,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn note_parser_takes_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(note) = SignedNote::parse(&bytes) {
            prop_assert_eq!(note.to_bytes(), bytes);
        }
    }

    #[test]
    fn note_parser_takes_note_shaped_text(text in noteish()) {
        if let Ok(note) = SignedNote::parse(text.as_bytes()) {
            prop_assert_eq!(note.encode(), text);
        }
    }

    #[test]
    fn mutated_notes_never_verify_other_text(edits in proptest::collection::vec(edit(), 1..4)) {
        let f = &*FIXTURE;
        let msg = apply(f.signed.clone(), &edits);
        if let Ok(note) = SignedNote::parse(&msg) {
            prop_assert_eq!(note.to_bytes(), msg.clone());
            if let Ok(verified) = note.verify(std::slice::from_ref(&f.log)) {
                prop_assert_eq!(verified.text(), f.checkpoint.to_text());
            }
        }
        if let Ok(c) = open_checkpoint(&msg, ORIGIN, std::slice::from_ref(&f.log)) {
            prop_assert_eq!(c, f.checkpoint.clone());
        }
    }

    #[test]
    fn checkpoint_parser_takes_random_text(text in checkpointish()) {
        if let Ok(c) = Checkpoint::parse_text(&text) {
            prop_assert_eq!(c.to_text(), text);
        }
    }

    #[test]
    fn checkpoint_parser_takes_mutated_text(edits in proptest::collection::vec(edit(), 1..4)) {
        let text = apply(FIXTURE.checkpoint.to_text().into_bytes(), &edits);
        if let Ok(text) = std::str::from_utf8(&text)
            && let Ok(c) = Checkpoint::parse_text(text)
        {
            prop_assert_eq!(c.to_text(), text);
        }
    }

    #[test]
    fn inclusion_proofs_verify_and_mutations_fail(
        size in 1..=TREE_SIZE,
        index_seed in any::<u64>(),
        mutation in 0u8..6,
        at in any::<usize>(),
        bit in 0u8..8,
    ) {
        let tree = &*TREE;
        let index = index_seed % size;
        let leaf = tree.leaf_hash(index).unwrap();
        let root = tree.root_at(size).unwrap();
        let path = tree.inclusion_proof(index, size).unwrap();
        prop_assert!(verify_inclusion(index, size, &leaf, &path, &root).is_ok());

        let (mut leaf2, mut root2, mut path2, mut index2) = (leaf, root, path.clone(), index);
        match mutation {
            0 if !path2.is_empty() => {
                let i = at % path2.len();
                path2[i][(at / 7) % 32] ^= 1 << bit;
            }
            1 if !path2.is_empty() => {
                path2.remove(at % path2.len());
            }
            2 => path2.insert(at % (path2.len() + 1), [bit; 32]),
            3 => leaf2[at % 32] ^= 1 << bit,
            4 => root2[at % 32] ^= 1 << bit,
            _ => index2 = index ^ 1,
        }
        if (leaf2, root2, &path2, index2) != (leaf, root, &path, index) {
            prop_assert!(verify_inclusion(index2, size, &leaf2, &path2, &root2).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_mutations_fail(
        new in 1..=TREE_SIZE,
        old_seed in any::<u64>(),
        mutation in 0u8..5,
        at in any::<usize>(),
        bit in 0u8..8,
    ) {
        let tree = &*TREE;
        let old = old_seed % (new + 1);
        let (old_root, new_root) = (tree.root_at(old).unwrap(), tree.root_at(new).unwrap());
        let path = tree.consistency_proof(old, new).unwrap();
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &path).is_ok());

        let (mut r1, mut r2, mut p) = (old_root, new_root, path.clone());
        match mutation {
            0 if !p.is_empty() => {
                let i = at % p.len();
                p[i][(at / 7) % 32] ^= 1 << bit;
            }
            1 if !p.is_empty() => {
                p.remove(at % p.len());
            }
            2 => p.insert(at % (p.len() + 1), [bit; 32]),
            3 => r1[at % 32] ^= 1 << bit,
            // An empty tree is consistent with every tree, so only a real old tree binds the
            // new root.
            4 if old > 0 => r2[at % 32] ^= 1 << bit,
            _ => p.push([0xee; 32]),
        }
        prop_assert!(verify_consistency(old, new, &r1, &r2, &p).is_err());
    }

    #[test]
    fn verifiers_take_any_input(
        a in any::<u64>(),
        b in any::<u64>(),
        small in 0u64..64,
        path in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        leaf in any::<[u8; 32]>(),
        root in any::<[u8; 32]>(),
    ) {
        let path: Vec<Hash> = path;
        for (x, y) in [(a, b), (small, b), (a, small), (small, small + a % 64)] {
            let _ = verify_inclusion(x, y, &leaf, &path, &root);
            let _ = verify_consistency(x, y, &leaf, &root, &path);
        }
    }

    #[test]
    fn verifier_keys_never_panic(s in "[ -~]{0,80}") {
        if let Ok(v) = NoteVerifier::parse(&s) {
            prop_assert_eq!(v.to_vkey(), s);
        }
    }
}
