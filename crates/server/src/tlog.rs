//! The transparency log on the server: its signing key, the batched appender, and proofs
//! made from the hashes in the store.
//!
//! Handlers never wait for the tree. Whatever must be logged is queued in the same
//! transaction as the change it records (every activity entry is queued by the store; chain
//! heads here); the appender takes the queue in order every `log.batch_interval_ms`,
//! numbers the entries, computes each leaf (`leaf_hash(commit(salt, body))`: the public tree
//! holds salted commitments only) and the perfect-subtree hashes each one completes, signs a
//! checkpoint for the new size, and stores all of it in one transaction that succeeds only if
//! the tree is still the size it started from — so several server nodes can run appenders.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use porchlight_store::{AppendedEntry, LogBatch, Store, StoreError};
use porchlight_tlog::{
    Checkpoint, Hash, HashReader, KeyName, NoteSigner, ProofError, SigningKey, Subtree,
    commitment_leaf_hash, consistency_proof, hashes_to_store, inclusion_proof, tree_root,
};
use tokio::sync::watch;

use crate::auth::secrets::load_or_create_key_file;
use crate::state::AppState;

/// The log's file in the data folder: the Ed25519 seed checkpoints are signed with. Several
/// server nodes share one log, so they share this file.
pub const LOG_KEY_FILE: &str = "log-key";
/// Most entries one append takes: small enough that a batch holds SQLite's write lock only
/// briefly, so sign-ins queueing their own entries are not kept waiting behind a backlog.
pub const BATCH_LIMIT: i64 = 500;
/// The pause between full batches while a backlog drains: room for other writers.
const BACKLOG_PAUSE: Duration = Duration::from_millis(20);

/// Signs the log's checkpoints.
#[derive(Debug)]
pub struct LogSigner {
    signer: NoteSigner,
    origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log key {path}: {source}")]
    Key {
        path: String,
        source: std::io::Error,
    },
    #[error("log origin {0:?} is not a valid key name (no spaces, no '+')")]
    Origin(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store lacks subtree hash (level {level}, index {index})")]
    MissingHash { level: u8, index: u64 },
    #[error("the store holds a hash of the wrong length")]
    BadHash,
    #[error("proof: {0}")]
    Proof(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl LogSigner {
    /// The key in `data_dir/log-key` (made on first start), signing as `origin`.
    pub fn load(data_dir: &Path, origin: &str) -> Result<Self, LogError> {
        let path = data_dir.join(LOG_KEY_FILE);
        let seed = load_or_create_key_file(&path).map_err(|source| LogError::Key {
            path: path.display().to_string(),
            source,
        })?;
        let name = KeyName::new(origin).map_err(|_| LogError::Origin(origin.to_owned()))?;
        Ok(Self {
            signer: NoteSigner::new(name, SigningKey::from_bytes(&seed)),
            origin: origin.to_owned(),
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key string clients pin.
    pub fn vkey(&self) -> String {
        self.signer.verifier().to_vkey()
    }

    fn sign(&self, size: u64, root: Hash) -> Result<String, LogError> {
        let checkpoint = Checkpoint::new(&self.origin, size, root)
            .map_err(|e| LogError::Checkpoint(e.to_string()))?;
        let note = checkpoint
            .sign(&self.signer)
            .map_err(|e| LogError::Checkpoint(e.to_string()))?;
        Ok(note.encode())
    }
}

// ---- hashes from the store ----

/// A [`HashReader`] over hashes fetched beforehand.
#[derive(Debug, Default)]
struct Fetched(HashMap<(u8, u64), Hash>);

#[derive(Debug, thiserror::Error)]
#[error("subtree (level {level}, index {index}) was not fetched")]
struct NotFetched {
    level: u8,
    index: u64,
}

impl HashReader for Fetched {
    type Error = NotFetched;

    fn read_hashes(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, NotFetched> {
        subtrees
            .iter()
            .map(|s| {
                self.0
                    .get(&(s.level(), s.index()))
                    .copied()
                    .ok_or(NotFetched {
                        level: s.level(),
                        index: s.index(),
                    })
            })
            .collect()
    }
}

/// Records which subtrees a computation reads (answering zeros): the proof algorithms read
/// the same subtrees whatever their hashes, so a dry run tells what to fetch.
#[derive(Debug, Default)]
struct Recorder(RefCell<Vec<Subtree>>);

impl HashReader for Recorder {
    type Error = NotFetched;

    fn read_hashes(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, NotFetched> {
        self.0.borrow_mut().extend_from_slice(subtrees);
        Ok(vec![[0u8; 32]; subtrees.len()])
    }
}

fn proof_error(e: ProofError<NotFetched>) -> LogError {
    LogError::Proof(e.to_string())
}

/// Runs `compute` once against a [`Recorder`] to learn the subtrees it needs, fetches them,
/// and runs it again on the real hashes.
async fn with_stored_hashes<T>(
    store: &Store,
    compute: impl Fn(&dyn Reader) -> Result<T, ProofError<NotFetched>>,
) -> Result<T, LogError> {
    let recorder = Recorder::default();
    compute(&recorder).map_err(proof_error)?;
    let wanted = recorder.0.into_inner();
    let fetched = fetch(store, &wanted).await?;
    compute(&fetched).map_err(proof_error)
}

/// Object-safe view of the two readers above.
trait Reader {
    fn read(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, NotFetched>;
}

impl<R: HashReader<Error = NotFetched>> Reader for R {
    fn read(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, NotFetched> {
        self.read_hashes(subtrees)
    }
}

impl HashReader for dyn Reader + '_ {
    type Error = NotFetched;

    fn read_hashes(&self, subtrees: &[Subtree]) -> Result<Vec<Hash>, NotFetched> {
        self.read(subtrees)
    }
}

async fn fetch(store: &Store, subtrees: &[Subtree]) -> Result<Fetched, LogError> {
    let keys: Vec<(u8, i64)> = subtrees
        .iter()
        .map(|s| (s.level(), i64::try_from(s.index()).unwrap_or(i64::MAX)))
        .collect();
    let hashes = store.log_hashes(&keys).await?;
    let mut fetched = Fetched::default();
    for (subtree, hash) in subtrees.iter().zip(hashes) {
        let hash = hash.ok_or(LogError::MissingHash {
            level: subtree.level(),
            index: subtree.index(),
        })?;
        let hash: Hash = hash.as_slice().try_into().map_err(|_| LogError::BadHash)?;
        fetched.0.insert((subtree.level(), subtree.index()), hash);
    }
    Ok(fetched)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub async fn prove_inclusion(store: &Store, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
    with_stored_hashes(store, |r| inclusion_proof(&r, index, size)).await
}

/// The consistency proof from the tree of `old` leaves to the tree of `size` leaves.
pub async fn prove_consistency(store: &Store, old: u64, size: u64) -> Result<Vec<Hash>, LogError> {
    with_stored_hashes(store, |r| consistency_proof(&r, old, size)).await
}

// ---- appending ----

/// The perfect subtrees that make up a tree of `size` leaves, largest first: the only stored
/// hashes an append can need.
fn frontier(size: u64) -> Vec<Subtree> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size & (1u64 << level) != 0 {
            if let Some(subtree) = Subtree::new(level, start >> level) {
                out.push(subtree);
            }
            start += 1u64 << level;
        }
    }
    out
}

/// Appends what is queued (up to one batch) and signs a checkpoint; returns how many entries
/// were appended. Signs a first checkpoint for the empty tree if there is none.
pub async fn append_queued(state: &AppState) -> Result<usize, LogError> {
    let store = &state.store;
    let queued = store.queued_log_entries(BATCH_LIMIT).await?;
    let old_size = u64::try_from(store.log_size().await?).unwrap_or(0);
    if queued.is_empty() && store.latest_checkpoint().await?.is_some() {
        return Ok(0);
    }
    let mut known = fetch(store, &frontier(old_size)).await?;
    let mut entries = Vec::with_capacity(queued.len());
    let mut nodes = Vec::new();
    for (k, entry) in queued.into_iter().enumerate() {
        let index = old_size + k as u64;
        let salt: [u8; 32] = entry
            .salt
            .as_slice()
            .try_into()
            .map_err(|_| LogError::BadHash)?;
        let leaf = commitment_leaf_hash(salt, &entry.body);
        for (subtree, hash) in hashes_to_store(&known, index, leaf).map_err(proof_error)? {
            known.0.insert((subtree.level(), subtree.index()), hash);
            nodes.push((
                subtree.level(),
                i64::try_from(subtree.index()).unwrap_or(i64::MAX),
                hash.to_vec(),
            ));
        }
        entries.push(AppendedEntry {
            entry,
            index: i64::try_from(index).unwrap_or(i64::MAX),
            leaf_hash: leaf.to_vec(),
        });
    }
    let new_size = old_size + entries.len() as u64;
    let root = tree_root(&known, new_size).map_err(proof_error)?;
    let appended = entries.len();
    let batch = LogBatch {
        old_size: i64::try_from(old_size).unwrap_or(i64::MAX),
        entries,
        nodes,
        checkpoint_note: state.log.sign(new_size, root)?,
    };
    match store.append_log_batch(&batch, state.now_ms()).await {
        Ok(()) => {
            metrics::counter!("porchlight_log_entries_appended_total").increment(appended as u64);
            metrics::gauge!("porchlight_log_size").set(new_size as f64);
            Ok(appended)
        }
        // Another node appended first; the next pass starts from its tree.
        Err(StoreError::Conflict) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Runs the appender until shutdown: a pass every `log.batch_interval_ms`, and after a short
/// pause while passes fill whole batches.
pub async fn run_appender(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_millis(state.config.log.batch_interval_ms);
    loop {
        let pause = match append_queued(&state).await {
            Ok(n) if n as i64 >= BATCH_LIMIT => BACKLOG_PAUSE,
            Ok(_) => every,
            Err(e) => {
                tracing::error!(cause = %e, "transparency log append failed");
                every.max(Duration::from_secs(1))
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {
                // What was queued before the stop still gets in.
                if let Err(e) = append_queued(&state).await {
                    tracing::warn!(cause = %e, "final transparency log append failed");
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_covers_the_tree_with_perfect_subtrees() {
        for size in [0u64, 1, 2, 3, 5, 8, 13, 1000, (1 << 40) + 7] {
            let parts = frontier(size);
            assert_eq!(parts.iter().map(|s| s.size()).sum::<u64>(), size);
            let mut next = 0;
            for s in &parts {
                assert_eq!(s.start(), next);
                next = s.end();
            }
        }
    }
}
