//! The account's own entries in the transparency log (DESIGN §8), and the check that the
//! server has not edited, reordered, inserted or deleted any of them.
//!
//! The server gives the owner each of their entries with its salt; the public log holds only
//! the commitment `commit(salt, body)` (docs/TLOG.md). A home verifies:
//!
//! 1. **The log's key**, pinned in `log.json` the first time a checkpoint verifies under it
//!    (trust on first use); a different key later is [`ProblemKind::LogKeyChanged`] and
//!    nothing else is believed.
//! 2. **The latest checkpoint**: a C2SP signed note by that key, for the pinned origin; then,
//!    against the checkpoint this home kept last time, no smaller size
//!    ([`ProblemKind::LogRolledBack`]) and a consistency proof from the old tree to the new
//!    one ([`ProblemKind::LogInconsistent`]).
//! 3. **Every entry the server lists**: the client recomputes the leaf from the body and salt
//!    it was given — never taking a hash from the server — and checks its inclusion proof
//!    against the checkpoint's root ([`ProblemKind::EntryNotInLog`]). Entries still queued
//!    for the tree (appends are batched) are not listed, only counted
//!    ([`Verification::pending_on_server`]): the server lists an entry once it is appended,
//!    in the transaction that signs the checkpoint covering it, and the list is fetched
//!    before the checkpoint, so a listed entry at or beyond the checkpoint's size is one the
//!    signed log does not hold (inserted, or the log was cut).
//! 4. **What it verified before**: each verified entry's leaf hash is remembered per account,
//!    so an entry that the server stops listing ([`ProblemKind::EntryMissing`]) or lists with
//!    other bytes ([`ProblemKind::EntryChanged`]) is caught even though a deleted row leaves
//!    nothing to check a proof for.
//!
//! Every problem is collected and named ([`Verification::problems`]); the new checkpoint and
//! the verified entries are kept only when there is none.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures::stream::{self, StreamExt as _};
use porchlight_proto as proto;
use porchlight_tlog::commit::SALT_LEN;
use porchlight_tlog::{
    Checkpoint, Hash, NoteVerifier, commitment_leaf_hash, open_checkpoint, verify_consistency,
    verify_inclusion,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::client::Client;
use crate::error::ClientError;
use crate::files::PrivateDir;
use crate::home::{Home, HomeError, StoredSession};

/// The pinned log key, the last verified checkpoint and the entries verified so far.
pub const LOG_FILE: &str = "log.json";
const FORMAT_VERSION: u32 = 1;
/// Inclusion proofs asked for at once.
const PROOF_CONCURRENCY: usize = 8;

/// A failure that stops the check before it can judge the log: the home folder, or the
/// server not answering. What the check finds wrong with the log is a [`Problem`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessLogError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One of the account's entries as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub index: u64,
    /// The kind and time the listing gives; the signed ones are in the body.
    pub kind: String,
    pub at_ms: i64,
    /// The exact entry bytes and salt, or why the server's encoding of them is malformed.
    pub content: Result<EntryContent, String>,
}

/// An entry's bytes and salt, and the leaf hash this client computed from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryContent {
    pub body: Vec<u8>,
    pub salt: [u8; SALT_LEN],
    /// `leaf_hash(commit(salt, body))`: what the log must hold at the entry's index.
    pub leaf_hash: Hash,
}

impl Entry {
    /// Decodes the listing's base64 body and hex salt and computes the leaf hash.
    pub fn decode(wire: &proto::LogEntry) -> Self {
        let content = decode_content(&wire.body, &wire.salt);
        Self {
            index: wire.index,
            kind: wire.kind.clone(),
            at_ms: wire.at_ms,
            content,
        }
    }

    /// The body as a JSON object (`kind`, `at_ms`, `device`, `detail`, …, or for chain heads
    /// `kind`, `root`, `length`, `head`), if it is one.
    pub fn fields(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let content = self.content.as_ref().ok()?;
        match serde_json::from_slice(&content.body).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// `entry 17 (sign_in at 2025-01-02T03:04:05Z)`, as the server lists it.
    pub fn describe(&self) -> String {
        describe(self.index, &self.kind, self.at_ms)
    }

    /// How the listing's kind or time disagrees with the signed body, if it does.
    fn metadata_mismatch(&self) -> Option<String> {
        let fields = self.fields()?;
        if let Some(kind) = fields.get("kind").and_then(|v| v.as_str())
            && kind != self.kind
        {
            return Some(format!("kind {kind:?}"));
        }
        if let Some(at_ms) = fields.get("at_ms").and_then(serde_json::Value::as_i64)
            && at_ms != self.at_ms
        {
            return Some(format!("time {}", rfc3339(at_ms)));
        }
        None
    }
}

fn decode_content(body: &str, salt: &str) -> Result<EntryContent, String> {
    let body = BASE64
        .decode(body)
        .map_err(|_| "its body is not base64".to_owned())?;
    let salt: [u8; SALT_LEN] = hex::decode(salt)
        .ok()
        .and_then(|salt| salt.try_into().ok())
        .ok_or_else(|| format!("its salt is not {SALT_LEN} bytes of hex"))?;
    let leaf_hash = commitment_leaf_hash(salt, &body);
    Ok(EntryContent {
        body,
        salt,
        leaf_hash,
    })
}

/// The account's entries, oldest first, and how many are queued for the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// Entries the server has queued but not yet appended (appends are batched).
    pub pending: u64,
}

/// Fetches the signed-in account's entries. Nothing is verified: see [`AccessLog::verify`].
pub async fn list(client: &Client) -> Result<Listing, ClientError> {
    let listing = client.log_entries().await?;
    Ok(Listing {
        entries: listing.entries.iter().map(Entry::decode).collect(),
        pending: listing.pending,
    })
}

/// A checkpoint this home verified and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The signed note, as the server served it.
    pub note: String,
}

/// An entry verified in the log before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub leaf_hash: Hash,
    pub kind: String,
    pub at_ms: i64,
}

/// What `log.json` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedLog {
    /// The server the key was first seen at.
    pub server_url: String,
    pub origin: String,
    /// The checkpoint key, as a C2SP / Go note verifier key string.
    pub vkey: String,
    pub checkpoint: Option<KeptCheckpoint>,
    /// Per account id, the entries verified so far, by index.
    pub verified: BTreeMap<String, BTreeMap<u64, Remembered>>,
}

/// What is wrong with the log, one kind per cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The server's log key or origin is not the one this home pinned.
    LogKeyChanged,
    /// The server's log key is not a verifier key.
    BadLogKey,
    /// The checkpoint is malformed, for another origin, or not signed by the log's key.
    BadCheckpoint,
    /// The signed tree is smaller than one this home verified before.
    LogRolledBack,
    /// The signed tree does not extend the one this home verified before.
    LogInconsistent,
    /// The server did not give a proof it was asked for.
    ProofUnavailable,
    /// An entry's leaf is not at its index in the signed tree.
    EntryNotInLog,
    /// An entry verified before is no longer listed, or no longer in the signed tree.
    EntryMissing,
    /// An entry verified before is listed with other bytes.
    EntryChanged,
    /// The listing itself is malformed: bad encoding, an index twice, metadata that
    /// disagrees with the signed body.
    BadEntry,
}

impl ProblemKind {
    /// snake_case, for scripts.
    pub fn code(self) -> &'static str {
        match self {
            Self::LogKeyChanged => "log_key_changed",
            Self::BadLogKey => "bad_log_key",
            Self::BadCheckpoint => "bad_checkpoint",
            Self::LogRolledBack => "log_rolled_back",
            Self::LogInconsistent => "log_inconsistent",
            Self::ProofUnavailable => "proof_unavailable",
            Self::EntryNotInLog => "entry_not_in_log",
            Self::EntryMissing => "entry_missing",
            Self::EntryChanged => "entry_changed",
            Self::BadEntry => "bad_entry",
        }
    }
}

/// One thing wrong, in words that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The entry it is about, if it is about one.
    pub index: Option<u64>,
    pub message: String,
}

impl Problem {
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How one listed entry fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryStatus {
    /// In the signed tree at its index, with these bytes.
    Verified,
    /// See [`Verification::problems`].
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEntry {
    pub entry: Entry,
    pub status: EntryStatus,
}

/// A checkpoint's size and root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// The outcome of [`AccessLog::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub origin: String,
    pub vkey: String,
    /// This check pinned the log's key (the first time this home saw it).
    pub key_pinned_now: bool,
    /// The checkpoint checked against, if one verified.
    pub checkpoint: Option<TreeHead>,
    /// The checkpoint this home kept from before, if any.
    pub previous: Option<TreeHead>,
    /// The listed entries, by index.
    pub entries: Vec<CheckedEntry>,
    /// The account's entries the server says it has queued for the tree (not listed yet).
    pub pending_on_server: u64,
    /// Everything wrong; empty when the check passed.
    pub problems: Vec<Problem>,
    /// The new checkpoint and the verified entries were kept.
    pub saved: bool,
}

impl Verification {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// Entries in the signed tree at their index, with the bytes listed.
    pub fn verified(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.status == EntryStatus::Verified)
            .count()
    }

    fn problem(&mut self, kind: ProblemKind, index: Option<u64>, message: String) {
        self.problems.push(Problem {
            kind,
            index,
            message,
        });
    }
}

/// Where a verification gets the log from: the server, or a fake in tests.
pub(crate) trait LogSource {
    async fn key(&self) -> Result<proto::LogKey, ClientError>;
    async fn checkpoint(&self) -> Result<Vec<u8>, ClientError>;
    async fn inclusion(&self, index: u64, size: u64) -> Result<proto::InclusionProof, ClientError>;
    async fn consistency(
        &self,
        old: u64,
        size: u64,
    ) -> Result<proto::ConsistencyProof, ClientError>;
    async fn entries(&self) -> Result<proto::LogEntryList, ClientError>;
    /// Asks the log to append what is queued for this account and sign a checkpoint now.
    async fn sign_now(&self) -> Result<(), ClientError>;
}

impl LogSource for Client {
    async fn key(&self) -> Result<proto::LogKey, ClientError> {
        self.log_key().await
    }
    async fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        self.log_checkpoint().await
    }
    async fn inclusion(&self, index: u64, size: u64) -> Result<proto::InclusionProof, ClientError> {
        self.log_inclusion_proof(index, size).await
    }
    async fn consistency(
        &self,
        old: u64,
        size: u64,
    ) -> Result<proto::ConsistencyProof, ClientError> {
        self.log_consistency_proof(old, size).await
    }
    async fn entries(&self) -> Result<proto::LogEntryList, ClientError> {
        self.log_entries().await
    }
    async fn sign_now(&self) -> Result<(), ClientError> {
        self.log_sign_checkpoint().await.map(drop)
    }
}

/// The log pin in a home folder.
#[derive(Debug, Clone)]
pub struct AccessLog {
    dir: PrivateDir,
}

impl AccessLog {
    pub fn open(home: &Home) -> Result<Self, HomeError> {
        Ok(Self {
            dir: PrivateDir::open(home.dir())?,
        })
    }

    /// What this home has pinned and verified, if it has checked the log before.
    pub fn pinned(&self) -> Result<Option<PinnedLog>, HomeError> {
        let Some(file) = self.dir.read_json::<LogFile>(LOG_FILE)? else {
            return Ok(None);
        };
        file.into_pinned()
            .map(Some)
            .ok_or_else(|| self.dir.damaged(LOG_FILE))
    }

    fn save(&self, pinned: &PinnedLog) -> Result<(), HomeError> {
        self.dir.write_json(LOG_FILE, &LogFile::from(pinned))
    }

    /// Verifies the log and the session's account's entries in it (see the module
    /// documentation); keeps the new checkpoint and the verified entries if nothing is wrong.
    pub async fn verify(
        &self,
        client: &Client,
        session: &StoredSession,
    ) -> Result<Verification, AccessLogError> {
        self.verify_with(client, &session.server_url, &session.account_id)
            .await
    }

    pub(crate) async fn verify_with<S: LogSource>(
        &self,
        source: &S,
        server_url: &str,
        account_id: &str,
    ) -> Result<Verification, AccessLogError> {
        let pinned = self.pinned()?;
        let key = source.key().await?;
        let mut report = Verification {
            origin: key.origin.clone(),
            vkey: key.vkey.clone(),
            key_pinned_now: false,
            checkpoint: None,
            previous: None,
            entries: Vec::new(),
            pending_on_server: 0,
            problems: Vec::new(),
            saved: false,
        };

        // 1. The key: the pinned one, or the served one on first use.
        let (verifier, mut pin) = match pinned {
            Some(pin) => {
                if pin.origin != key.origin || pin.vkey != key.vkey {
                    report.problem(
                        ProblemKind::LogKeyChanged,
                        None,
                        format!(
                            "the log's key changed: this home pinned {} for the log {:?} (first \
                             seen at {}), and the server now signs with {} for {:?}; nothing it \
                             serves can be checked against the pinned key",
                            pin.vkey, pin.origin, pin.server_url, key.vkey, key.origin
                        ),
                    );
                    return Ok(report);
                }
                let verifier =
                    NoteVerifier::parse(&pin.vkey).map_err(|_| self.dir.damaged(LOG_FILE))?;
                (verifier, pin)
            }
            None => match NoteVerifier::parse(&key.vkey) {
                Ok(verifier) => {
                    report.key_pinned_now = true;
                    let pin = PinnedLog {
                        server_url: server_url.to_owned(),
                        origin: key.origin.clone(),
                        vkey: key.vkey.clone(),
                        checkpoint: None,
                        verified: BTreeMap::new(),
                    };
                    (verifier, pin)
                }
                Err(error) => {
                    report.problem(
                        ProblemKind::BadLogKey,
                        None,
                        format!("the server's log key is not a verifier key: {error}"),
                    );
                    return Ok(report);
                }
            },
        };

        // The listing before the checkpoint: whatever was in the tree when it was listed is
        // covered by a checkpoint fetched afterwards.
        let mut listing = source.entries().await?;
        if listing.pending > 0 {
            // Entries wait for the next batch; have them signed now rather than report them
            // unchecked. If the log still cannot take them, they stay counted as pending.
            source.sign_now().await?;
            listing = source.entries().await?;
        }
        report.pending_on_server = listing.pending;

        // 2. The checkpoint.
        let note = source.checkpoint().await?;
        let checkpoint = match open_checkpoint(&note, &pin.origin, std::slice::from_ref(&verifier))
        {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                report.problem(
                    ProblemKind::BadCheckpoint,
                    None,
                    format!(
                        "the log's latest checkpoint does not verify under the pinned key \
                             for {:?}: {error}",
                        pin.origin
                    ),
                );
                return Ok(report);
            }
        };
        // open_checkpoint took it as UTF-8 already.
        let note = String::from_utf8_lossy(&note).into_owned();
        if report.key_pinned_now {
            // A key pinned only once a checkpoint verified under it.
            self.save(&pin)?;
        }
        let head = TreeHead {
            size: checkpoint.size(),
            root: *checkpoint.root(),
        };
        report.checkpoint = Some(head);
        report.previous = pin.checkpoint.as_ref().map(|kept| TreeHead {
            size: kept.size,
            root: kept.root,
        });
        if let Some(previous) = report.previous {
            check_consistency(source, previous, &checkpoint, &mut report).await;
        }

        // 3 and 4. The entries, and what was verified before.
        let remembered = pin.verified.get(account_id).cloned().unwrap_or_default();
        let verified = check_entries(source, listing, head, &remembered, &mut report).await;

        if report.passed() {
            pin.checkpoint = Some(KeptCheckpoint {
                size: head.size,
                root: head.root,
                note,
            });
            pin.verified.insert(account_id.to_owned(), verified);
            self.save(&pin)?;
            report.saved = true;
        }
        Ok(report)
    }
}

/// The tree kept from before must be a prefix of the new one.
async fn check_consistency<S: LogSource>(
    source: &S,
    previous: TreeHead,
    checkpoint: &Checkpoint,
    report: &mut Verification,
) {
    let (old, new) = (previous.size, checkpoint.size());
    if new < old {
        report.problem(
            ProblemKind::LogRolledBack,
            None,
            format!(
                "the log's signed size went down from {old} (verified here before) to {new}: \
                 the log was rolled back, entries were removed from it"
            ),
        );
        return;
    }
    // Equal sizes and the empty tree need no proof (and the server is not asked for one).
    let proof = if old == new || old == 0 {
        Vec::new()
    } else {
        match source.consistency(old, new).await {
            Ok(answer) => match decode_hashes(&answer.proof) {
                Some(proof) => proof,
                None => {
                    report.problem(
                        ProblemKind::LogInconsistent,
                        None,
                        format!(
                            "the server's consistency proof from size {old} to {new} is malformed"
                        ),
                    );
                    return;
                }
            },
            Err(error) => {
                report.problem(
                    ProblemKind::ProofUnavailable,
                    None,
                    format!(
                        "the server gave no consistency proof from the checkpoint verified \
                         here before (size {old}) to its latest (size {new}): {error}"
                    ),
                );
                return;
            }
        }
    };
    if let Err(error) = verify_consistency(old, new, &previous.root, checkpoint.root(), &proof) {
        report.problem(
            ProblemKind::LogInconsistent,
            None,
            format!(
                "the log's checkpoint of size {new} does not extend the one of size {old} \
                 verified here before ({error}): the log's history was rewritten"
            ),
        );
    }
}

/// Checks every listed entry and what was verified before; returns the entries verified
/// now, for remembering.
async fn check_entries<S: LogSource>(
    source: &S,
    listing: proto::LogEntryList,
    head: TreeHead,
    remembered: &BTreeMap<u64, Remembered>,
    report: &mut Verification,
) -> BTreeMap<u64, Remembered> {
    let mut entries: Vec<Entry> = listing.entries.iter().map(Entry::decode).collect();
    entries.sort_by_key(|entry| entry.index);
    // Failed until proven, or failed for a reason found before the proof.
    let mut status = vec![None; entries.len()];
    let mut listed = BTreeSet::new();
    let mut to_prove = Vec::new();

    for (i, entry) in entries.iter().enumerate() {
        let what = entry.describe();
        if !listed.insert(entry.index) {
            report.problem(
                ProblemKind::BadEntry,
                Some(entry.index),
                format!("the server lists entry {} more than once", entry.index),
            );
            status[i] = Some(EntryStatus::Failed);
        }
        let content = match &entry.content {
            Ok(content) => content,
            Err(why) => {
                report.problem(
                    ProblemKind::BadEntry,
                    Some(entry.index),
                    format!("{what} is malformed: {why}"),
                );
                status[i] = Some(EntryStatus::Failed);
                continue;
            }
        };
        if let Some(mismatch) = entry.metadata_mismatch() {
            report.problem(
                ProblemKind::BadEntry,
                Some(entry.index),
                format!(
                    "{what} is listed with another kind or time than its bytes say: {mismatch}"
                ),
            );
            status[i] = Some(EntryStatus::Failed);
        }
        if let Some(before) = remembered.get(&entry.index)
            && before.leaf_hash != content.leaf_hash
        {
            report.problem(
                ProblemKind::EntryChanged,
                Some(entry.index),
                format!(
                    "{what} is not the entry verified here before at that index ({}): its \
                     bytes were changed or another entry was put in its place",
                    describe_short(&before.kind, before.at_ms)
                ),
            );
            status[i] = Some(EntryStatus::Failed);
        }
        if entry.index < head.size {
            to_prove.push(i);
        } else {
            let message = if remembered.contains_key(&entry.index) {
                format!(
                    "{what} was verified in the log here before, and the signed log (size {}) \
                     no longer includes it",
                    head.size
                )
            } else {
                format!(
                    "{what} is listed, but the log's latest signed checkpoint (size {}, fetched \
                     after the list) does not include it: inserted",
                    head.size
                )
            };
            let kind = if remembered.contains_key(&entry.index) {
                ProblemKind::EntryMissing
            } else {
                ProblemKind::EntryNotInLog
            };
            report.problem(kind, Some(entry.index), message);
            status[i] = Some(EntryStatus::Failed);
        }
    }

    for (index, before) in remembered {
        if !listed.contains(index) {
            report.problem(
                ProblemKind::EntryMissing,
                Some(*index),
                format!(
                    "{}, verified in the log here before, is no longer listed: the server deleted \
                     or hid it",
                    describe(*index, &before.kind, before.at_ms)
                ),
            );
        }
    }

    let entries_ref = &entries;
    let proofs: Vec<(usize, Result<proto::InclusionProof, ClientError>)> = stream::iter(to_prove)
        .map(|i| async move { (i, source.inclusion(entries_ref[i].index, head.size).await) })
        .buffered(PROOF_CONCURRENCY)
        .collect()
        .await;
    let mut verified = BTreeMap::new();
    for (i, answer) in proofs {
        let entry = &entries[i];
        let Ok(content) = &entry.content else {
            continue;
        };
        let outcome = match answer {
            Err(error) => Err((
                ProblemKind::ProofUnavailable,
                format!(
                    "{}: the server gave no proof that it is in the signed log (size {}): {error}",
                    entry.describe(),
                    head.size
                ),
            )),
            Ok(answer) => match decode_hashes(&answer.proof) {
                None => Err((
                    ProblemKind::EntryNotInLog,
                    format!(
                        "{}: the server's inclusion proof is malformed",
                        entry.describe()
                    ),
                )),
                Some(proof) => verify_inclusion(
                    entry.index,
                    head.size,
                    &content.leaf_hash,
                    &proof,
                    &head.root,
                )
                .map_err(|error| {
                    (
                        ProblemKind::EntryNotInLog,
                        format!(
                            "{} does not match the signed log (size {}): edited, \
                                     reordered or inserted ({error})",
                            entry.describe(),
                            head.size
                        ),
                    )
                }),
            },
        };
        match outcome {
            Ok(()) => {
                if status[i].is_none() {
                    status[i] = Some(EntryStatus::Verified);
                }
                verified.insert(
                    entry.index,
                    Remembered {
                        leaf_hash: content.leaf_hash,
                        kind: entry.kind.clone(),
                        at_ms: entry.at_ms,
                    },
                );
            }
            Err((kind, message)) => {
                report.problem(kind, Some(entry.index), message);
                status[i] = Some(EntryStatus::Failed);
            }
        }
    }

    report.entries = entries
        .into_iter()
        .zip(status)
        .map(|(entry, status)| CheckedEntry {
            entry,
            status: status.unwrap_or(EntryStatus::Failed),
        })
        .collect();
    report.problems.sort_by_key(|p| p.index);
    verified
}

fn decode_hashes(hexes: &[String]) -> Option<Vec<Hash>> {
    hexes
        .iter()
        .map(|h| hex::decode(h).ok().and_then(|bytes| bytes.try_into().ok()))
        .collect()
}

fn describe(index: u64, kind: &str, at_ms: i64) -> String {
    format!("entry {index} ({})", describe_short(kind, at_ms))
}

fn describe_short(kind: &str, at_ms: i64) -> String {
    format!("{kind} at {}", rfc3339(at_ms))
}

/// Unix milliseconds as RFC 3339 in UTC, to the second.
fn rfc3339(at_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at_ms.div_euclid(1000))
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{at_ms}ms"))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFile {
    version: u32,
    server_url: String,
    origin: String,
    vkey: String,
    checkpoint: Option<CheckpointFile>,
    /// account id → index → entry.
    verified: BTreeMap<String, BTreeMap<u64, RememberedFile>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile {
    size: u64,
    root: String,
    note: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RememberedFile {
    leaf_hash: String,
    kind: String,
    at_ms: i64,
}

impl LogFile {
    fn into_pinned(self) -> Option<PinnedLog> {
        if self.version != FORMAT_VERSION {
            return None;
        }
        let hash = |text: &str| -> Option<Hash> { hex::decode(text).ok()?.try_into().ok() };
        let checkpoint = match self.checkpoint {
            Some(kept) => Some(KeptCheckpoint {
                size: kept.size,
                root: hash(&kept.root)?,
                note: kept.note,
            }),
            None => None,
        };
        let mut verified = BTreeMap::new();
        for (account, entries) in self.verified {
            let mut map = BTreeMap::new();
            for (index, entry) in entries {
                map.insert(
                    index,
                    Remembered {
                        leaf_hash: hash(&entry.leaf_hash)?,
                        kind: entry.kind,
                        at_ms: entry.at_ms,
                    },
                );
            }
            verified.insert(account, map);
        }
        Some(PinnedLog {
            server_url: self.server_url,
            origin: self.origin,
            vkey: self.vkey,
            checkpoint,
            verified,
        })
    }
}

impl From<&PinnedLog> for LogFile {
    fn from(pinned: &PinnedLog) -> Self {
        Self {
            version: FORMAT_VERSION,
            server_url: pinned.server_url.clone(),
            origin: pinned.origin.clone(),
            vkey: pinned.vkey.clone(),
            checkpoint: pinned.checkpoint.as_ref().map(|kept| CheckpointFile {
                size: kept.size,
                root: hex::encode(kept.root),
                note: kept.note.clone(),
            }),
            verified: pinned
                .verified
                .iter()
                .map(|(account, entries)| {
                    let entries = entries
                        .iter()
                        .map(|(index, entry)| {
                            let file = RememberedFile {
                                leaf_hash: hex::encode(entry.leaf_hash),
                                kind: entry.kind.clone(),
                                at_ms: entry.at_ms,
                            };
                            (*index, file)
                        })
                        .collect();
                    (account.clone(), entries)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use porchlight_tlog::{KeyName, MemoryTree, NoteSigner, SigningKey};

    use super::*;

    const ORIGIN: &str = "porch.test/log";
    const ACCOUNT: &str = "acc_1";

    /// A log as an honest server keeps it, with knobs for a dishonest one.
    struct FakeLog {
        signer: NoteSigner,
        tree: MemoryTree,
        /// The account's entries, as listed.
        entries: Vec<proto::LogEntry>,
        /// The checkpoint's size, when not the whole tree.
        signed_size: Option<u64>,
        key: Option<proto::LogKey>,
        note: Option<Vec<u8>>,
        no_proofs: bool,
        list_unsigned: bool,
        counter: u8,
    }

    impl FakeLog {
        fn new() -> Self {
            Self::with_key(1)
        }

        fn with_key(seed: u8) -> Self {
            Self {
                signer: NoteSigner::new(
                    KeyName::new(ORIGIN).unwrap(),
                    SigningKey::from_bytes(&[seed; 32]),
                ),
                tree: MemoryTree::new(),
                entries: Vec::new(),
                signed_size: None,
                key: None,
                note: None,
                no_proofs: false,
                list_unsigned: false,
                counter: 0,
            }
        }

        /// Appends an entry; `mine` ones are listed to the account.
        fn append(&mut self, kind: &str, mine: bool) -> u64 {
            self.counter += 1;
            let at_ms = 1_700_000_000_000 + i64::from(self.counter) * 1000;
            let body = format!(r#"{{"kind":"{kind}","at_ms":{at_ms},"device":"cli"}}"#);
            let salt = [self.counter; 32];
            let index = self
                .tree
                .push(&porchlight_tlog::commit(salt, body.as_bytes()));
            if mine {
                self.entries.push(proto::LogEntry {
                    index,
                    kind: kind.to_owned(),
                    at_ms,
                    body: BASE64.encode(&body),
                    salt: hex::encode(salt),
                });
            }
            index
        }

        fn signed_note(&self) -> Vec<u8> {
            let size = self.signed_size.unwrap_or(self.tree.len());
            Checkpoint::new(ORIGIN, size, self.tree.root_at(size).unwrap())
                .unwrap()
                .sign(&self.signer)
                .unwrap()
                .to_bytes()
        }
    }

    fn refused() -> ClientError {
        ClientError::Api {
            status: 500,
            code: proto::ErrorCode::Internal,
            message: "no".into(),
            retry_after_secs: None,
        }
    }

    impl LogSource for FakeLog {
        async fn key(&self) -> Result<proto::LogKey, ClientError> {
            Ok(self.key.clone().unwrap_or_else(|| proto::LogKey {
                origin: ORIGIN.into(),
                vkey: self.signer.verifier().to_vkey(),
            }))
        }
        async fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
            Ok(self.note.clone().unwrap_or_else(|| self.signed_note()))
        }
        async fn inclusion(
            &self,
            index: u64,
            size: u64,
        ) -> Result<proto::InclusionProof, ClientError> {
            if self.no_proofs {
                return Err(refused());
            }
            let proof = self
                .tree
                .inclusion_proof(index, size)
                .map_err(|_| refused())?;
            Ok(proto::InclusionProof {
                index,
                size,
                proof: proof.iter().map(hex::encode).collect(),
            })
        }
        async fn consistency(
            &self,
            old: u64,
            size: u64,
        ) -> Result<proto::ConsistencyProof, ClientError> {
            let proof = self
                .tree
                .consistency_proof(old, size)
                .map_err(|_| refused())?;
            Ok(proto::ConsistencyProof {
                old,
                size,
                proof: proof.iter().map(hex::encode).collect(),
            })
        }
        /// A log that never signs on demand: queued entries stay queued.
        async fn sign_now(&self) -> Result<(), ClientError> {
            Ok(())
        }
        /// Entries beyond the signed size are queued: counted, not listed (unless a
        /// dishonest server lists them).
        async fn entries(&self) -> Result<proto::LogEntryList, ClientError> {
            let size = self.signed_size.unwrap_or(self.tree.len());
            let (listed, queued): (Vec<_>, Vec<_>) = self
                .entries
                .iter()
                .cloned()
                .partition(|e| e.index < size || self.list_unsigned);
            Ok(proto::LogEntryList {
                entries: listed,
                pending: queued.len() as u64,
            })
        }
    }

    fn home() -> (tempfile::TempDir, AccessLog) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path().join("home")).unwrap();
        (dir, AccessLog::open(&home).unwrap())
    }

    async fn verify(log: &AccessLog, fake: &FakeLog) -> Verification {
        log.verify_with(fake, "http://127.0.0.1:1", ACCOUNT)
            .await
            .unwrap()
    }

    fn codes(report: &Verification) -> Vec<&'static str> {
        report.problems.iter().map(Problem::code).collect()
    }

    /// A log with entries of this account and another, verified once.
    async fn verified_once() -> (tempfile::TempDir, AccessLog, FakeLog) {
        let (dir, log) = home();
        let mut fake = FakeLog::new();
        for i in 0..7 {
            fake.append(if i % 2 == 0 { "sign_in" } else { "chain_head" }, i != 3);
        }
        let report = verify(&log, &fake).await;
        assert!(report.passed(), "{:?}", report.problems);
        assert!(report.key_pinned_now && report.saved);
        assert_eq!(report.verified(), 6);
        (dir, log, fake)
    }

    #[tokio::test]
    async fn an_honest_log_verifies_and_grows_consistently() {
        let (_dir, log, mut fake) = verified_once().await;
        let pinned = log.pinned().unwrap().unwrap();
        assert_eq!(pinned.checkpoint.as_ref().unwrap().size, 7);
        assert_eq!(pinned.verified[ACCOUNT].len(), 6);

        // More entries, two of them not yet in the signed tree.
        for _ in 0..5 {
            fake.append("password_changed", true);
        }
        fake.signed_size = Some(10);
        let report = verify(&log, &fake).await;
        assert!(report.passed(), "{:?}", report.problems);
        assert!(!report.key_pinned_now);
        assert_eq!(report.previous.unwrap().size, 7);
        assert_eq!(report.checkpoint.unwrap().size, 10);
        assert_eq!((report.verified(), report.pending_on_server), (9, 2));

        fake.signed_size = None;
        let report = verify(&log, &fake).await;
        assert!(report.passed(), "{:?}", report.problems);
        assert_eq!((report.verified(), report.pending_on_server), (11, 0));
        assert_eq!(log.pinned().unwrap().unwrap().verified[ACCOUNT].len(), 11);
    }

    #[tokio::test]
    async fn an_edited_body_or_salt_fails_and_names_the_entry() {
        let (_dir, log, mut fake) = verified_once().await;
        let edited = fake.entries[2].clone();
        fake.entries[2].body = BASE64.encode(br#"{"kind":"sign_in","at_ms":1,"device":"x"}"#);
        let report = verify(&log, &fake).await;
        assert_eq!(
            codes(&report),
            ["bad_entry", "entry_changed", "entry_not_in_log"]
        );
        assert!(report.problems.iter().all(|p| p.index == Some(2)));
        assert!(
            report.problems[2]
                .message
                .starts_with("entry 2 (sign_in at 2023-"),
            "{}",
            report.problems[2]
        );
        assert!(!report.saved);

        fake.entries[2] = edited;
        fake.entries[2].salt = hex::encode([0xee; 32]);
        let report = verify(&log, &fake).await;
        assert_eq!(codes(&report), ["entry_changed", "entry_not_in_log"]);
    }

    #[tokio::test]
    async fn reordered_deleted_and_inserted_entries_fail() {
        let (_dir, log, mut fake) = verified_once().await;
        let honest = fake.entries.clone();

        // Two entries swap places.
        let (a, b) = (fake.entries[0].index, fake.entries[1].index);
        fake.entries[0].index = b;
        fake.entries[1].index = a;
        let report = verify(&log, &fake).await;
        assert_eq!(
            codes(&report),
            [
                "entry_changed",
                "entry_not_in_log",
                "entry_changed",
                "entry_not_in_log"
            ]
        );

        // One is deleted.
        fake.entries = honest.clone();
        fake.entries.remove(4);
        let report = verify(&log, &fake).await;
        assert_eq!(codes(&report), ["entry_missing"]);
        assert!(report.problems[0].message.contains("no longer listed"));

        // A made-up entry where another account's leaf is.
        fake.entries = honest;
        let mut fake_entry = fake.entries[0].clone();
        fake_entry.index = 3;
        fake_entry.salt = hex::encode([0x33; 32]);
        fake.entries.push(fake_entry);
        let report = verify(&log, &fake).await;
        assert_eq!(codes(&report), ["entry_not_in_log"]);
        assert_eq!(report.problems[0].index, Some(3));

        // A made-up entry past the signed tree, listed as if it were in it.
        fake.entries.pop();
        fake.append("sign_in", true);
        fake.signed_size = Some(7);
        fake.list_unsigned = true;
        let report = verify(&log, &fake).await;
        assert_eq!(codes(&report), ["entry_not_in_log"]);
        assert!(report.problems[0].message.contains("inserted"));
        fake.list_unsigned = false;
        assert!(verify(&log, &fake).await.passed());
    }

    #[tokio::test]
    async fn rollbacks_forks_and_rewritten_history_fail() {
        let (_dir, log, mut fake) = verified_once().await;
        fake.signed_size = Some(5);
        fake.list_unsigned = true;
        let report = verify(&log, &fake).await;
        assert_eq!(
            codes(&report),
            ["log_rolled_back", "entry_missing", "entry_missing"]
        );
        fake.list_unsigned = false;
        // Also when the server stops listing them.
        let report = verify(&log, &fake).await;
        assert_eq!(
            codes(&report),
            ["log_rolled_back", "entry_missing", "entry_missing"]
        );

        // Another tree of the same size: a fork.
        let mut fork = FakeLog::new();
        for _ in 0..7 {
            fork.append("sign_in", false);
        }
        fork.entries = fake.entries.clone();
        let report = verify(&log, &fork).await;
        assert_eq!(codes(&report)[0], "log_inconsistent");

        // A longer tree whose first leaf was rewritten.
        let mut rewritten = FakeLog::new();
        rewritten.append("staff_access", false);
        for i in 1..7 {
            rewritten
                .tree
                .push_leaf_hash(fake.tree.leaf_hash(i).unwrap());
        }
        rewritten.append("sign_in", false);
        rewritten.entries = fake.entries.clone();
        let report = verify(&log, &rewritten).await;
        assert_eq!(codes(&report)[0], "log_inconsistent");
        assert!(report.problems[0].message.contains("history was rewritten"));
        assert_eq!(log.pinned().unwrap().unwrap().checkpoint.unwrap().size, 7);
    }

    #[tokio::test]
    async fn another_key_or_a_bad_signature_fails_loudly() {
        let (_dir, log, mut fake) = verified_once().await;
        let mut other = FakeLog::with_key(2);
        other.tree = fake.tree.clone();
        other.entries = fake.entries.clone();
        let report = verify(&log, &other).await;
        assert_eq!(codes(&report), ["log_key_changed"]);
        assert!(report.checkpoint.is_none());

        // The pinned key served, but the checkpoint signed by another.
        other.key = Some(proto::LogKey {
            origin: ORIGIN.into(),
            vkey: fake.signer.verifier().to_vkey(),
        });
        let report = verify(&log, &other).await;
        assert_eq!(codes(&report), ["bad_checkpoint"]);

        // A checkpoint whose root was replaced, signature kept.
        let note = String::from_utf8(fake.signed_note()).unwrap();
        let root_line = note.lines().nth(2).unwrap().to_owned();
        fake.note = Some(
            note.replace(&root_line, &BASE64.encode([7u8; 32]))
                .into_bytes(),
        );
        let report = verify(&log, &fake).await;
        assert_eq!(codes(&report), ["bad_checkpoint"]);
    }

    #[tokio::test]
    async fn missing_proofs_are_problems_and_a_first_failure_pins_only_the_key() {
        let (_dir, log) = home();
        let mut fake = FakeLog::new();
        fake.append("sign_in", true);
        fake.no_proofs = true;
        let report = verify(&log, &fake).await;
        assert_eq!(codes(&report), ["proof_unavailable"]);
        let pinned = log.pinned().unwrap().unwrap();
        assert!(pinned.checkpoint.is_none());
        assert_eq!(pinned.vkey, fake.signer.verifier().to_vkey());
    }

    #[tokio::test]
    async fn malformed_listings_are_named() {
        let (_dir, log) = home();
        let mut fake = FakeLog::new();
        fake.append("sign_in", true);
        fake.append("sign_in", true);
        fake.entries[0].salt = "zz".into();
        fake.entries[1].kind = "signin_failed".into();
        let report = verify(&log, &fake).await;
        assert_eq!(codes(&report), ["bad_entry", "bad_entry"]);
        assert!(report.problems[0].message.contains("salt"));
        assert!(report.problems[1].message.contains("another kind"));
    }

    #[test]
    fn a_rewritten_entry_cannot_keep_its_leaf() {
        // The leaf is recomputed from body and salt: whatever salt a forger tries, an edited
        // body gives another leaf (short of a SHA-256 second preimage).
        let salt = [9u8; 32];
        let body = br#"{"kind":"staff_access","at_ms":1,"who":"s1"}"#;
        let leaf = commitment_leaf_hash(salt, body);
        let forged = br#"{"kind":"staff_access","at_ms":1,"who":"s2"}"#;
        for i in 0..=u16::MAX {
            let mut salt = [0u8; 32];
            salt[..2].copy_from_slice(&i.to_le_bytes());
            assert_ne!(commitment_leaf_hash(salt, forged), leaf);
        }
    }
}
