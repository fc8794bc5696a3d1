//! The browser's check of the account's own transparency-log entries (DESIGN §8), the checks
//! `porchlight access-log verify` makes (`porchlight-client`'s `access_log.rs`, whose problem
//! codes these are), in two steps around the fetching the page does:
//!
//! 1. [`LogCheck::begin`]: the log key against the pin kept in this browser (pinned on first
//!    use), the latest checkpoint's signature and origin, no rollback below the checkpoint kept;
//!    then which proofs to fetch: a consistency proof from the kept checkpoint, and an
//!    inclusion proof for every listed entry the checkpoint covers.
//! 2. [`LogCheck::finish`]: the consistency proof, every entry's leaf recomputed here from its
//!    body and salt (never a hash from the server) and proven in the signed tree, entries
//!    listed twice, listed with another kind or time than their bytes say, changed or no longer
//!    listed since this browser verified them, or listed beyond the checkpoint. The new pin is
//!    handed back only when nothing is wrong.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_tlog::commit::SALT_LEN;
use porchlight_tlog::{
    Checkpoint, Hash, NoteVerifier, commitment_leaf_hash, open_checkpoint, verify_consistency,
    verify_inclusion,
};
use serde::{Deserialize, Serialize};

type Result<T> = std::result::Result<T, String>;

/// What the browser keeps per account between checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pin {
    origin: String,
    vkey: String,
    checkpoint: Option<Kept>,
    /// Entries verified so far, by index.
    verified: BTreeMap<u64, Remembered>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kept {
    size: u64,
    root: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Remembered {
    leaf: String,
    kind: String,
    at_ms: i64,
}

#[derive(Deserialize)]
struct Key {
    origin: String,
    vkey: String,
}

#[derive(Deserialize)]
struct Listing {
    entries: Vec<WireEntry>,
    pending: u64,
}

#[derive(Deserialize, Clone)]
struct WireEntry {
    index: u64,
    kind: String,
    at_ms: i64,
    body: String,
    salt: String,
}

#[derive(Deserialize)]
struct Proof {
    proof: Vec<String>,
}

#[derive(Serialize, Clone)]
struct Problem {
    code: &'static str,
    index: Option<u64>,
    message: String,
}

#[derive(Serialize)]
struct CheckedEntry {
    index: u64,
    kind: String,
    at_ms: i64,
    verified: bool,
    /// The signed body, when it is a JSON object.
    fields: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Report {
    passed: bool,
    key_pinned_now: bool,
    size: Option<u64>,
    pending_on_server: u64,
    problems: Vec<Problem>,
    entries: Vec<CheckedEntry>,
    /// The pin to keep; present only when the check passed.
    pin: Option<Pin>,
}

#[derive(Serialize)]
struct Needs {
    consistency: Option<(u64, u64)>,
    inclusion: Vec<(u64, u64)>,
}

struct Decoded {
    wire: WireEntry,
    leaf: Result<Hash>,
    fields: Option<serde_json::Value>,
}

fn decode_entry(wire: WireEntry) -> Decoded {
    let leaf = (|| {
        let body = STANDARD
            .decode(&wire.body)
            .map_err(|_| "its body is not base64".to_owned())?;
        let salt: [u8; SALT_LEN] = hex::decode(&wire.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| format!("its salt is not {SALT_LEN} bytes of hex"))?;
        Ok(commitment_leaf_hash(salt, &body))
    })();
    let fields = STANDARD
        .decode(&wire.body)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .filter(serde_json::Value::is_object);
    Decoded { wire, leaf, fields }
}

fn hash32(text: &str) -> Option<Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

fn hashes(texts: &[String]) -> Option<Vec<Hash>> {
    texts.iter().map(|t| hash32(t)).collect()
}

fn describe(index: u64, kind: &str) -> String {
    format!("entry {index} ({kind})")
}

/// A check between its two steps.
pub struct LogCheck {
    pin: Pin,
    key_pinned_now: bool,
    checkpoint: Option<Checkpoint>,
    entries: Vec<Decoded>,
    pending: u64,
    problems: Vec<Problem>,
}

impl std::fmt::Debug for LogCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCheck")
            .field("problems", &self.problems.len())
            .finish_non_exhaustive()
    }
}

impl LogCheck {
    fn problem(&mut self, code: &'static str, index: Option<u64>, message: String) {
        self.problems.push(Problem {
            code,
            index,
            message,
        });
    }

    /// Step 1: `pin` as a previous check returned it (or none), `GET /api/log/key`,
    /// `GET /api/log/entries` and `GET /api/log/checkpoint` (fetched in that order, the
    /// checkpoint after the listing).
    pub fn begin(pin: Option<&str>, key: &str, listing: &str, note: &str) -> Result<Self> {
        let key: Key =
            serde_json::from_str(key).map_err(|_| "the log key is not in the expected form")?;
        let listing: Listing = serde_json::from_str(listing)
            .map_err(|_| "the log listing is not in the expected form")?;
        let kept: Option<Pin> = match pin {
            Some(text) => Some(
                serde_json::from_str(text)
                    .map_err(|_| "the log pin kept in this browser is damaged")?,
            ),
            None => None,
        };
        let key_pinned_now = kept.is_none();
        let pin = kept.unwrap_or_else(|| Pin {
            origin: key.origin.clone(),
            vkey: key.vkey.clone(),
            checkpoint: None,
            verified: BTreeMap::new(),
        });
        let mut entries: Vec<Decoded> = listing.entries.into_iter().map(decode_entry).collect();
        entries.sort_by_key(|e| e.wire.index);
        let mut check = Self {
            pin,
            key_pinned_now,
            checkpoint: None,
            entries,
            pending: listing.pending,
            problems: Vec::new(),
        };
        if check.pin.origin != key.origin || check.pin.vkey != key.vkey {
            let message = format!(
                "the log's key changed: this browser pinned {} for {:?}, and the server now signs \
                 with {} for {:?}; nothing it serves can be checked against the pinned key",
                check.pin.vkey, check.pin.origin, key.vkey, key.origin
            );
            check.problem("log_key_changed", None, message);
            return Ok(check);
        }
        let verifier = match NoteVerifier::parse(&check.pin.vkey) {
            Ok(v) => v,
            Err(e) => {
                check.problem(
                    "bad_log_key",
                    None,
                    format!("the log key is not a verifier key: {e}"),
                );
                return Ok(check);
            }
        };
        match open_checkpoint(
            note.as_bytes(),
            &check.pin.origin,
            std::slice::from_ref(&verifier),
        ) {
            Ok(c) => check.checkpoint = Some(c),
            Err(e) => {
                let message = format!(
                    "the log's latest checkpoint does not verify under the pinned key: {e}"
                );
                check.problem("bad_checkpoint", None, message);
                return Ok(check);
            }
        }
        if let (Some(kept), Some(now)) = (&check.pin.checkpoint, &check.checkpoint)
            && now.size() < kept.size
        {
            let message = format!(
                "the log's signed size went down from {} (verified here before) to {}: the log \
                 was rolled back",
                kept.size,
                now.size()
            );
            check.problem("log_rolled_back", None, message);
        }
        Ok(check)
    }

    /// What to fetch: `{consistency: [old, size] | null, inclusion: [[index, size], ...]}`.
    pub fn needs(&self) -> String {
        let Some(checkpoint) = &self.checkpoint else {
            return r#"{"consistency":null,"inclusion":[]}"#.to_owned();
        };
        let size = checkpoint.size();
        let consistency = self
            .pin
            .checkpoint
            .as_ref()
            .filter(|k| k.size != 0 && k.size < size)
            .map(|k| (k.size, size));
        let inclusion = self
            .entries
            .iter()
            .filter(|e| e.wire.index < size && e.leaf.is_ok())
            .map(|e| (e.wire.index, size))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        serde_json::to_string(&Needs {
            consistency,
            inclusion,
        })
        .unwrap_or_default()
    }

    /// Step 2: the consistency proof asked for (or none) and the inclusion proofs by index
    /// (`{"17": {"index", "size", "proof"}}`; a missing one is a problem). Returns the report.
    pub fn finish(mut self, consistency: Option<&str>, inclusion: &str) -> String {
        let proofs: BTreeMap<String, Proof> = serde_json::from_str(inclusion).unwrap_or_default();
        let Some(checkpoint) = self.checkpoint.take() else {
            return self.report(None, Vec::new(), BTreeMap::new());
        };
        let (size, root) = (checkpoint.size(), *checkpoint.root());

        if let Some(kept) = self.pin.checkpoint.clone()
            && kept.size < size
            && kept.size != 0
        {
            let proof = consistency
                .and_then(|t| serde_json::from_str::<Proof>(t).ok())
                .and_then(|p| hashes(&p.proof));
            let kept_root = hash32(&kept.root);
            match (proof, kept_root) {
                (Some(proof), Some(kept_root)) => {
                    if let Err(e) = verify_consistency(kept.size, size, &kept_root, &root, &proof) {
                        let message = format!(
                            "the log's checkpoint of size {size} does not extend the one of \
                             size {} verified here before ({e}): its history was rewritten",
                            kept.size
                        );
                        self.problem("log_inconsistent", None, message);
                    }
                }
                _ => {
                    let message = format!(
                        "the server gave no usable consistency proof from size {} to {size}",
                        kept.size
                    );
                    self.problem("proof_unavailable", None, message);
                }
            }
        }

        let remembered = self.pin.verified.clone();
        let mut listed = BTreeSet::new();
        let mut verified_now = BTreeMap::new();
        let mut out = Vec::new();
        let entries = std::mem::take(&mut self.entries);
        for entry in &entries {
            let index = entry.wire.index;
            let what = describe(index, &entry.wire.kind);
            let mut ok = true;
            if !listed.insert(index) {
                self.problem(
                    "bad_entry",
                    Some(index),
                    format!("the server lists entry {index} more than once"),
                );
                ok = false;
            }
            let leaf = match &entry.leaf {
                Ok(leaf) => Some(*leaf),
                Err(why) => {
                    self.problem(
                        "bad_entry",
                        Some(index),
                        format!("{what} is malformed: {why}"),
                    );
                    ok = false;
                    None
                }
            };
            if let Some(fields) = &entry.fields {
                let kind_differs = fields
                    .get("kind")
                    .and_then(|v| v.as_str())
                    .is_some_and(|k| k != entry.wire.kind);
                let time_differs = fields
                    .get("at_ms")
                    .and_then(serde_json::Value::as_i64)
                    .is_some_and(|t| t != entry.wire.at_ms);
                if kind_differs || time_differs {
                    let message =
                        format!("{what} is listed with another kind or time than its bytes say");
                    self.problem("bad_entry", Some(index), message);
                    ok = false;
                }
            }
            if let (Some(before), Some(leaf)) = (remembered.get(&index), leaf)
                && before.leaf != hex::encode(leaf)
            {
                let message = format!(
                    "{what} is not the entry verified here before at that index ({}): its bytes \
                     were changed or another entry was put in its place",
                    before.kind
                );
                self.problem("entry_changed", Some(index), message);
                ok = false;
            }
            if index >= size {
                let (code, message) = if remembered.contains_key(&index) {
                    (
                        "entry_missing",
                        format!(
                            "{what} was verified here before, and the signed log (size {size}) no longer includes it"
                        ),
                    )
                } else {
                    (
                        "entry_not_in_log",
                        format!(
                            "{what} is listed, but the signed log (size {size}) does not include it: inserted"
                        ),
                    )
                };
                self.problem(code, Some(index), message);
                ok = false;
            } else if let Some(leaf) = leaf {
                let proof = proofs
                    .get(&index.to_string())
                    .and_then(|p| hashes(&p.proof));
                match proof {
                    None => {
                        let message = format!(
                            "{what}: the server gave no usable proof that it is in the signed log"
                        );
                        self.problem("proof_unavailable", Some(index), message);
                        ok = false;
                    }
                    Some(proof) => {
                        if let Err(e) = verify_inclusion(index, size, &leaf, &proof, &root) {
                            let message = format!(
                                "{what} does not match the signed log (size {size}): edited, \
                                 reordered or inserted ({e})"
                            );
                            self.problem("entry_not_in_log", Some(index), message);
                            ok = false;
                        } else {
                            verified_now.insert(
                                index,
                                Remembered {
                                    leaf: hex::encode(leaf),
                                    kind: entry.wire.kind.clone(),
                                    at_ms: entry.wire.at_ms,
                                },
                            );
                        }
                    }
                }
            }
            out.push(CheckedEntry {
                index,
                kind: entry.wire.kind.clone(),
                at_ms: entry.wire.at_ms,
                verified: ok && verified_now.contains_key(&index),
                fields: entry.fields.clone(),
            });
        }
        for (index, before) in &remembered {
            if !listed.contains(index) {
                let message = format!(
                    "{}, verified here before, is no longer listed: the server deleted or hid it",
                    describe(*index, &before.kind)
                );
                self.problem("entry_missing", Some(*index), message);
            }
        }
        let mut verified = remembered;
        verified.extend(verified_now);
        self.report(Some((size, root)), out, verified)
    }

    fn report(
        mut self,
        head: Option<(u64, Hash)>,
        entries: Vec<CheckedEntry>,
        verified: BTreeMap<u64, Remembered>,
    ) -> String {
        self.problems.sort_by_key(|p| p.index);
        let passed = self.problems.is_empty() && head.is_some();
        let pin = passed.then(|| Pin {
            checkpoint: head.map(|(size, root)| Kept {
                size,
                root: hex::encode(root),
            }),
            verified,
            ..self.pin.clone()
        });
        serde_json::to_string(&Report {
            passed,
            key_pinned_now: self.key_pinned_now,
            size: head.map(|(s, _)| s),
            pending_on_server: self.pending,
            problems: self.problems,
            entries,
            pin,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use porchlight_tlog::{KeyName, MemoryTree, NoteSigner, SigningKey, commit};

    use super::*;

    const ORIGIN: &str = "porchlight.test/log";

    /// A log: every entry's body, salt and place, and a signer for checkpoints.
    struct Log {
        tree: MemoryTree,
        entries: Vec<serde_json::Value>,
        signer: NoteSigner,
    }

    impl Log {
        fn new() -> Self {
            let signer = NoteSigner::new(
                KeyName::new(ORIGIN).unwrap(),
                SigningKey::from_bytes(&[7; 32]),
            );
            Self {
                tree: MemoryTree::new(),
                entries: Vec::new(),
                signer,
            }
        }

        fn append(&mut self, kind: &str, at_ms: i64) {
            let body = serde_json::json!({"kind": kind, "at_ms": at_ms}).to_string();
            let salt = [self.entries.len() as u8; SALT_LEN];
            let index = self.tree.push(&commit(salt, body.as_bytes()));
            self.entries.push(serde_json::json!({
                "index": index, "kind": kind, "at_ms": at_ms,
                "body": STANDARD.encode(body), "salt": hex::encode(salt),
            }));
        }

        fn key(&self) -> String {
            serde_json::json!({"origin": ORIGIN, "vkey": self.signer.verifier().to_vkey()})
                .to_string()
        }

        fn note(&self) -> String {
            let checkpoint = Checkpoint::new(ORIGIN, self.tree.len(), self.tree.root()).unwrap();
            checkpoint.sign(&self.signer).unwrap().encode()
        }

        fn listing(&self) -> String {
            serde_json::json!({"entries": self.entries, "pending": 0}).to_string()
        }

        /// Runs both steps as the page does, answering every proof asked for.
        fn check(&self, pin: Option<&str>, listing: &str) -> serde_json::Value {
            let check = LogCheck::begin(pin, &self.key(), listing, &self.note()).unwrap();
            let needs: serde_json::Value = serde_json::from_str(&check.needs()).unwrap();
            let consistency = needs["consistency"].as_array().map(|pair| {
                let (old, new) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
                let proof = self.tree.consistency_proof(old, new).unwrap();
                serde_json::json!({"old": old, "size": new, "proof": proof.iter().map(hex::encode).collect::<Vec<_>>()}).to_string()
            });
            let mut inclusion = serde_json::Map::new();
            for pair in needs["inclusion"].as_array().unwrap() {
                let (index, size) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
                let proof = self.tree.inclusion_proof(index, size).unwrap();
                inclusion.insert(
                    index.to_string(),
                    serde_json::json!({"index": index, "size": size, "proof": proof.iter().map(hex::encode).collect::<Vec<_>>()}),
                );
            }
            let report = check.finish(
                consistency.as_deref(),
                &serde_json::Value::Object(inclusion).to_string(),
            );
            serde_json::from_str(&report).unwrap()
        }
    }

    fn codes(report: &serde_json::Value) -> Vec<String> {
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn an_honest_log_passes_and_grows_consistently() {
        let mut log = Log::new();
        log.append("sign_in", 1);
        log.append("staff_access", 2);
        let first = log.check(None, &log.listing());
        assert_eq!(first["passed"], true, "{first}");
        assert_eq!(first["key_pinned_now"], true);
        assert_eq!(first["entries"][1]["fields"]["kind"], "staff_access");
        let pin = first["pin"].to_string();

        log.append("sign_in", 3);
        let second = log.check(Some(&pin), &log.listing());
        assert_eq!(second["passed"], true, "{second}");
        assert_eq!(second["entries"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn an_edited_a_hidden_or_an_inserted_entry_is_named() {
        let mut log = Log::new();
        log.append("sign_in", 1);
        log.append("staff_access", 2);
        let pin = log.check(None, &log.listing())["pin"].to_string();

        // The database row edited: its body no longer hashes to the leaf.
        let mut listing: serde_json::Value = serde_json::from_str(&log.listing()).unwrap();
        listing["entries"][1]["body"] = serde_json::json!(
            STANDARD.encode(r#"{"kind":"staff_access","at_ms":2,"staff":"someone else"}"#)
        );
        let edited = log.check(Some(&pin), &listing.to_string());
        assert_eq!(edited["passed"], false);
        assert!(
            codes(&edited).contains(&"entry_changed".to_owned()),
            "{edited}"
        );
        assert!(
            codes(&edited).contains(&"entry_not_in_log".to_owned()),
            "{edited}"
        );
        assert!(
            edited["pin"].is_null(),
            "nothing is kept from a failed check"
        );

        // The row deleted.
        let mut listing: serde_json::Value = serde_json::from_str(&log.listing()).unwrap();
        listing["entries"].as_array_mut().unwrap().remove(1);
        let hidden = log.check(Some(&pin), &listing.to_string());
        assert_eq!(codes(&hidden), ["entry_missing"]);

        // A row inserted beyond the signed tree.
        let mut listing: serde_json::Value = serde_json::from_str(&log.listing()).unwrap();
        let mut extra = listing["entries"][0].clone();
        extra["index"] = serde_json::json!(5);
        listing["entries"].as_array_mut().unwrap().push(extra);
        let inserted = log.check(Some(&pin), &listing.to_string());
        assert_eq!(codes(&inserted), ["entry_not_in_log"]);
    }

    #[test]
    fn another_key_a_bad_note_or_a_rollback_is_refused() {
        let mut log = Log::new();
        log.append("sign_in", 1);
        log.append("sign_in", 2);
        let pin = log.check(None, &log.listing())["pin"].to_string();

        let mut other = Log::new();
        other.signer = NoteSigner::new(
            KeyName::new(ORIGIN).unwrap(),
            SigningKey::from_bytes(&[9; 32]),
        );
        other.append("sign_in", 1);
        let changed = other.check(Some(&pin), &other.listing());
        assert_eq!(codes(&changed), ["log_key_changed"]);

        let check = LogCheck::begin(Some(&pin), &log.key(), &log.listing(), "not a note").unwrap();
        let report: serde_json::Value = serde_json::from_str(&check.finish(None, "{}")).unwrap();
        assert_eq!(codes(&report), ["bad_checkpoint"]);

        let mut shorter = Log::new();
        shorter.append("sign_in", 1);
        let rolled = shorter.check(Some(&pin), &shorter.listing());
        assert!(
            codes(&rolled).contains(&"log_rolled_back".to_owned()),
            "{rolled}"
        );

        assert!(LogCheck::begin(Some("{"), &log.key(), &log.listing(), &log.note()).is_err());
    }
}
