//! Porchlight's transparency log, as pure functions over bytes: no I/O, no clock, no
//! threads, no async (so it builds for `wasm32-unknown-unknown`, for the web app).
//!
//! What it owns (formats and algorithms in `docs/TLOG.md`):
//!
//! - **Merkle tree hashing** ([`hash`]): RFC 6962 / RFC 9162 leaf and node hashes and the
//!   Merkle Tree Hash, with SHA-256.
//! - **Proofs**: roots, inclusion and consistency proofs made from stored perfect-subtree
//!   hashes through a [`HashReader`] in O(log n) reads ([`tree`]), the in-memory
//!   [`MemoryTree`], and verification that takes untrusted input and never panics
//!   ([`verify`]).
//! - **Signed notes and checkpoints** ([`note`], [`checkpoint`]): the C2SP `signed-note` and
//!   `tlog-checkpoint` formats with Ed25519 keys, compatible with
//!   `golang.org/x/mod/sumdb/note` and its verifier key strings.
//! - **Commitment leaves** ([`mod@commit`]): the salted hash that a public leaf holds instead of
//!   the entry.
//!
//! What it does not own: where hashes, entries and salts are stored (the server's store backs
//! a [`HashReader`]), what an entry's bytes are (server and client agree on that), which
//! checkpoint a client last saw and when it asks for the next (the client).

pub mod checkpoint;
pub mod commit;
pub mod hash;
pub mod memory;
pub mod note;
pub mod tree;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, open_checkpoint};
pub use commit::{COMMITMENT_DOMAIN, commit, commitment_leaf_hash, commitment_matches};
pub use hash::{HASH_LEN, Hash, empty_root, leaf_hash, node_hash, root_from_leaf_hashes};
pub use memory::{MemoryTree, MissingSubtree};
pub use note::{
    KeyError, KeyId, KeyName, NoteError, NoteSignature, NoteSigner, NoteVerifier, SignedNote,
    VerifiedNote, open_note,
};
pub use tree::{
    HashReader, ProofError, Subtree, consistency_proof, hashes_to_store, inclusion_proof, tree_root,
};
pub use verify::{
    VerifyError, consistency_proof_len, inclusion_proof_len, root_from_inclusion_proof,
    verify_consistency, verify_inclusion,
};

/// Re-exported so callers can make a [`NoteSigner`] without naming the crate themselves.
pub use ed25519_dalek::SigningKey;
