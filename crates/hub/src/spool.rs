//! The durable upload queue: sealed clips wait here, on the hub's disk, until the server has
//! acknowledged them.
//!
//! One clip is two files named by a sequence number, so the directory listing is the queue in
//! order: `00000000000000000042.age` (the sealed clip, header ‖ payload) and
//! `00000000000000000042.json` (its upload key, signed statement and the few facts the hub
//! shows). A clip is added by writing each file under a temporary name, syncing it, renaming
//! it into place — the `.json` last, so its presence marks a complete entry — and syncing the
//! directory; only then is it queued. It leaves only after the server acknowledged it: the
//! `.json` is removed first (the entry is gone in one rename-free step), then the `.age`.
//! At [`Spool::open`], leftovers of an interrupted add or remove (temporary files, an `.age`
//! without its `.json`, a `.json` without its `.age`) are deleted.
//!
//! The spool is bounded: when a new clip takes it past `max_bytes`, the oldest clips are
//! evicted until it fits, and the number evicted is kept in `evicted` (shown by the hub) so
//! a loss is never silent. A clip larger than the whole spool is refused.
//!
//! Every method does blocking file I/O; async callers use `spawn_blocking`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

const CLIP_EXT: &str = "age";
const META_EXT: &str = "json";
const TEMP_PREFIX: &str = ".tmp-";
const EVICTED_FILE: &str = "evicted";
const REJECTED_DIR: &str = "rejected";
/// Digits of a sequence number in a file name: the listing sorts as the queue.
const SEQ_DIGITS: usize = 20;
/// Largest `.json` the spool reads back.
const MAX_META_BYTES: u64 = 64 * 1024;

/// What the hub keeps beside a sealed clip: everything the upload needs, and what the hub
/// shows. Nothing here is secret beyond what the server will see anyway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipMeta {
    /// The idempotency key of the upload: a retry after a crash or a cut connection names
    /// the same clip, so the server keeps it once.
    pub upload_key: String,
    /// The hub-signed clip statement, as sent in the upload header.
    pub statement: String,
    pub camera: String,
    pub start_ms: i64,
    pub duration_ms: u64,
}

/// A complete clip in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolEntry {
    pub seq: u64,
    pub meta: ClipMeta,
    /// The sealed clip.
    pub path: PathBuf,
    pub bytes: u64,
}

/// How full the spool is, and what it has lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SpoolStats {
    pub clips: u64,
    pub bytes: u64,
    pub max_bytes: u64,
    /// Clips evicted, oldest first, to make room (since the spool was made).
    pub evicted: u64,
    /// Clips the server refused for good, moved to `rejected/` (since the hub started).
    pub rejected: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("a {bytes}-byte clip is larger than the whole spool ({max} bytes)")]
    TooLarge { bytes: u64, max: u64 },
    #[error("spool entry {path} is damaged: {reason}")]
    Damaged { path: String, reason: String },
    #[error("writing the clip: {0}")]
    Write(String),
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Debug, Default)]
struct Index {
    /// seq → bytes of the sealed clip, for every complete entry.
    sizes: BTreeMap<u64, u64>,
    next_seq: u64,
    evicted: u64,
    /// Refused by the server since the spool was opened.
    rejected: u64,
}

/// The upload queue in a directory of the hub's state folder.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
}

fn seq_name(seq: u64, ext: &str) -> String {
    format!("{seq:0width$}.{ext}", width = SEQ_DIGITS)
}

fn parse_name(name: &str) -> Option<(u64, &str)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != SEQ_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((stem.parse().ok()?, ext))
}

/// Makes `dir`'s entries durable (a rename or unlink is only on disk once its directory is).
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

fn remove_if_present(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(path)(e)),
        _ => Ok(()),
    }
}

impl Spool {
    /// Opens (creating, 0700) the spool in `dir`, deleting what an interrupted add or remove
    /// left behind.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Self, SpoolError> {
        let dir = dir.into();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_error(&dir))?;
        let mut clips = BTreeMap::new();
        let mut metas = BTreeMap::new();
        let mut leftovers = Vec::new();
        for item in fs::read_dir(&dir).map_err(io_error(&dir))? {
            let item = item.map_err(io_error(&dir))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TEMP_PREFIX) {
                leftovers.push(item.path());
                continue;
            }
            match parse_name(name) {
                Some((seq, CLIP_EXT)) => {
                    let bytes = item.metadata().map_err(io_error(&item.path()))?.len();
                    clips.insert(seq, bytes);
                }
                Some((seq, META_EXT)) => {
                    metas.insert(seq, item.path());
                }
                _ => {}
            }
        }
        let mut index = Index::default();
        for (seq, bytes) in &clips {
            if metas.contains_key(seq) {
                index.sizes.insert(*seq, *bytes);
            } else {
                leftovers.push(dir.join(seq_name(*seq, CLIP_EXT)));
            }
        }
        for (seq, path) in metas {
            if !clips.contains_key(&seq) {
                leftovers.push(path);
            }
        }
        let had_leftovers = !leftovers.is_empty();
        for path in leftovers {
            tracing::info!(path = %path.display(), "removing an incomplete spool file");
            remove_if_present(&path)?;
        }
        if had_leftovers {
            sync_dir(&dir)?;
        }
        index.next_seq = clips.keys().next_back().map_or(1, |s| s + 1);
        index.evicted = read_evicted(&dir)?;
        Ok(Self {
            dir,
            max_bytes,
            index: Mutex::new(index),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves the index as consistent as the files it
        // mirrors; carry on with it.
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile, SpoolError> {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(&self.dir)
            .map_err(io_error(&self.dir))
    }

    /// Adds a clip: `write` fills the sealed file (it is synced here) and answers the
    /// clip's [`ClipMeta`] (sealing makes the statement), which is written beside it.
    /// Returns the entry once both are durable. May evict the oldest clips to stay within
    /// the bound.
    pub fn add<E: std::fmt::Display>(
        &self,
        write: impl FnOnce(&File) -> Result<ClipMeta, E>,
    ) -> Result<SpoolEntry, SpoolError> {
        let clip = self.temp_file()?;
        let meta = write(clip.as_file()).map_err(|e| SpoolError::Write(e.to_string()))?;
        let file = clip.as_file();
        file.sync_all().map_err(io_error(clip.path()))?;
        let bytes = file.metadata().map_err(io_error(clip.path()))?.len();
        if bytes > self.max_bytes {
            return Err(SpoolError::TooLarge {
                bytes,
                max: self.max_bytes,
            });
        }
        let mut meta_file = self.temp_file()?;
        let text = serde_json::to_vec(&meta).map_err(|e| SpoolError::Write(e.to_string()))?;
        meta_file
            .write_all(&text)
            .and_then(|()| meta_file.as_file().sync_all())
            .map_err(io_error(meta_file.path()))?;

        let mut index = self.lock();
        // Never over another entry, even one another process (`hub enqueue` beside
        // `hub run`) added since this spool was opened: take the next free number.
        let mut clip = clip;
        let (seq, path) = loop {
            let seq = index.next_seq;
            index.next_seq += 1;
            let path = self.dir.join(seq_name(seq, CLIP_EXT));
            match clip.persist_noclobber(&path) {
                Ok(_) => break (seq, path),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => clip = e.file,
                Err(e) => return Err(io_error(&path)(e.error)),
            }
        };
        let meta_path = self.dir.join(seq_name(seq, META_EXT));
        meta_file
            .persist(&meta_path)
            .map_err(|e| io_error(&meta_path)(e.error))?;
        sync_dir(&self.dir)?;
        index.sizes.insert(seq, bytes);
        self.evict_to_fit(&mut index, seq)?;
        Ok(SpoolEntry {
            seq,
            meta,
            path,
            bytes,
        })
    }

    /// Evicts the oldest entries (never `keep`) until the spool is within its bound.
    fn evict_to_fit(&self, index: &mut Index, keep: u64) -> Result<(), SpoolError> {
        let mut total: u64 = index.sizes.values().sum();
        let mut evicted = 0;
        while total > self.max_bytes {
            let Some((&seq, &bytes)) = index.sizes.iter().find(|(s, _)| **s != keep) else {
                break;
            };
            self.delete(seq)?;
            index.sizes.remove(&seq);
            total -= bytes;
            evicted += 1;
            tracing::warn!(seq, bytes, "spool full: evicted the oldest clip");
        }
        if evicted > 0 {
            index.evicted += evicted;
            write_evicted(&self.dir, index.evicted)?;
        }
        Ok(())
    }

    /// Deletes an entry's files: the `.json` first, so a crash in between leaves only an
    /// orphan `.age` that the next open removes.
    fn delete(&self, seq: u64) -> Result<(), SpoolError> {
        remove_if_present(&self.dir.join(seq_name(seq, META_EXT)))?;
        remove_if_present(&self.dir.join(seq_name(seq, CLIP_EXT)))?;
        sync_dir(&self.dir)
    }

    /// The queued clips, oldest first.
    pub fn entries(&self) -> Result<Vec<SpoolEntry>, SpoolError> {
        let sizes: Vec<(u64, u64)> = self.lock().sizes.iter().map(|(s, b)| (*s, *b)).collect();
        sizes
            .into_iter()
            .filter_map(|(seq, bytes)| self.read_entry(seq, bytes).transpose())
            .collect()
    }

    /// The oldest queued clip.
    pub fn oldest(&self) -> Result<Option<SpoolEntry>, SpoolError> {
        loop {
            let first = self.lock().sizes.iter().next().map(|(s, b)| (*s, *b));
            let Some((seq, bytes)) = first else {
                return Ok(None);
            };
            match self.read_entry(seq, bytes)? {
                Some(entry) => return Ok(Some(entry)),
                // Evicted or removed since: look again.
                None => continue,
            }
        }
    }

    /// Reads an entry's `.json`; `None` if it is no longer there. A damaged `.json` (it was
    /// synced before it was renamed into place, so only outside interference makes one) is
    /// moved out of the queue so it cannot block the clips behind it.
    fn read_entry(&self, seq: u64, bytes: u64) -> Result<Option<SpoolEntry>, SpoolError> {
        let meta_path = self.dir.join(seq_name(seq, META_EXT));
        let text = match read_capped(&meta_path, MAX_META_BYTES) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.lock().sizes.remove(&seq);
                return Ok(None);
            }
            Err(e) => return Err(io_error(&meta_path)(e)),
        };
        match serde_json::from_slice::<ClipMeta>(&text) {
            Ok(meta) => Ok(Some(SpoolEntry {
                seq,
                meta,
                path: self.dir.join(seq_name(seq, CLIP_EXT)),
                bytes,
            })),
            Err(e) => {
                let mut index = self.lock();
                self.delete(seq)?;
                index.sizes.remove(&seq);
                Err(SpoolError::Damaged {
                    path: meta_path.display().to_string(),
                    reason: format!("{e}; the entry was removed"),
                })
            }
        }
    }

    /// Removes a clip the server has acknowledged. Removing one that is already gone (say,
    /// evicted while it uploaded) is not an error.
    pub fn remove(&self, entry: &SpoolEntry) -> Result<(), SpoolError> {
        let mut index = self.lock();
        self.delete(entry.seq)?;
        index.sizes.remove(&entry.seq);
        Ok(())
    }

    /// Moves a clip the server refused for good (not a failure to reach it) out of the queue
    /// into `rejected/`, where it stays for the owner to look at; returns where it went.
    pub fn reject(&self, entry: &SpoolEntry) -> Result<PathBuf, SpoolError> {
        let rejected = self.dir.join(REJECTED_DIR);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&rejected)
            .map_err(io_error(&rejected))?;
        let mut index = self.lock();
        let clip = rejected.join(seq_name(entry.seq, CLIP_EXT));
        let meta = rejected.join(seq_name(entry.seq, META_EXT));
        fs::rename(&entry.path, &clip).map_err(io_error(&clip))?;
        fs::rename(self.dir.join(seq_name(entry.seq, META_EXT)), &meta).map_err(io_error(&meta))?;
        sync_dir(&rejected)?;
        sync_dir(&self.dir)?;
        index.sizes.remove(&entry.seq);
        index.rejected += 1;
        Ok(clip)
    }

    pub fn stats(&self) -> SpoolStats {
        let index = self.lock();
        SpoolStats {
            clips: index.sizes.len() as u64,
            bytes: index.sizes.values().sum(),
            max_bytes: self.max_bytes,
            evicted: index.evicted,
            rejected: index.rejected,
        }
    }
}

fn read_capped(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    File::open(path)?.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "too large"));
    }
    Ok(out)
}

fn read_evicted(dir: &Path) -> Result<u64, SpoolError> {
    let path = dir.join(EVICTED_FILE);
    match read_capped(&path, 64) {
        Ok(text) => {
            String::from_utf8_lossy(&text)
                .trim()
                .parse()
                .map_err(|_| SpoolError::Damaged {
                    path: path.display().to_string(),
                    reason: "not a count".into(),
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_error(&path)(e)),
    }
}

fn write_evicted(dir: &Path, count: u64) -> Result<(), SpoolError> {
    let path = dir.join(EVICTED_FILE);
    let temp = dir.join(format!("{TEMP_PREFIX}{EVICTED_FILE}"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io_error(&temp))?;
    file.write_all(format!("{count}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temp))?;
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    sync_dir(dir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn meta(n: u32) -> ClipMeta {
        ClipMeta {
            upload_key: format!("key{n}"),
            statement: "c3RhdGVtZW50".into(),
            camera: "porch".into(),
            start_ms: i64::from(n) * 1000,
            duration_ms: 5000,
        }
    }

    fn add(spool: &Spool, n: u32, bytes: usize) -> SpoolEntry {
        spool
            .add(|mut f: &File| f.write_all(&vec![n as u8; bytes]).map(|()| meta(n)))
            .unwrap()
    }

    #[test]
    fn clips_queue_in_order_survive_a_reopen_and_leave_when_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let spool = Spool::open(&path, 1 << 20).unwrap();
        for n in 0..5 {
            add(&spool, n, 100);
        }
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(spool);

        let spool = Spool::open(&path, 1 << 20).unwrap();
        let entries = spool.entries().unwrap();
        let keys: Vec<_> = entries.iter().map(|e| e.meta.upload_key.as_str()).collect();
        assert_eq!(keys, ["key0", "key1", "key2", "key3", "key4"]);
        assert_eq!(fs::read(&entries[2].path).unwrap(), vec![2u8; 100]);
        let mode = fs::metadata(&entries[2].path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let oldest = spool.oldest().unwrap().unwrap();
        assert_eq!(oldest.meta, meta(0));
        spool.remove(&oldest).unwrap();
        spool.remove(&oldest).unwrap();
        assert_eq!(spool.oldest().unwrap().unwrap().meta, meta(1));
        // New clips number after the highest, even across a reopen.
        drop(spool);
        let spool = Spool::open(&path, 1 << 20).unwrap();
        let next = add(&spool, 9, 10);
        assert!(next.seq > entries[4].seq);
        assert_eq!(
            spool.stats(),
            SpoolStats {
                clips: 5,
                bytes: 410,
                max_bytes: 1 << 20,
                evicted: 0,
                rejected: 0,
            }
        );
    }

    #[test]
    fn interrupted_adds_and_removes_are_cleaned_up_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let kept = add(&spool, 1, 50);
        let half_removed = add(&spool, 2, 50);
        drop(spool);
        // A crash mid-add: a temporary file, and a renamed clip whose meta never landed.
        fs::write(dir.path().join(".tmp-abc"), b"partial").unwrap();
        fs::write(dir.path().join(seq_name(7, CLIP_EXT)), b"no meta").unwrap();
        // A crash mid-remove: the meta went, the clip stayed.
        fs::remove_file(dir.path().join(seq_name(half_removed.seq, META_EXT))).unwrap();
        // A meta whose clip is gone.
        fs::write(dir.path().join(seq_name(8, META_EXT)), b"{}").unwrap();

        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.entries().unwrap(), vec![kept]);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [seq_name(1, CLIP_EXT), seq_name(1, META_EXT)],
            "only the complete entry is left"
        );
    }

    #[test]
    fn a_full_spool_evicts_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1000).unwrap();
        for n in 0..4 {
            add(&spool, n, 300);
        }
        // 4 × 300 > 1000: the oldest went.
        let keys: Vec<_> = spool
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.meta.upload_key)
            .collect();
        assert_eq!(keys, ["key1", "key2", "key3"]);
        add(&spool, 4, 900);
        let stats = spool.stats();
        assert_eq!((stats.clips, stats.bytes, stats.evicted), (1, 900, 4));
        drop(spool);
        // The count survives a restart.
        let spool = Spool::open(dir.path(), 1000).unwrap();
        assert_eq!(spool.stats().evicted, 4);
        // A clip larger than the spool is refused, and nothing is left of it.
        let err = spool
            .add(|mut f: &File| f.write_all(&[0; 1001]).map(|()| meta(5)))
            .unwrap_err();
        assert!(
            matches!(err, SpoolError::TooLarge { bytes: 1001, .. }),
            "{err}"
        );
        assert_eq!(spool.stats().clips, 1);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            3,
            "clip, meta, evicted"
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_a_damaged_meta_does_not_block_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let err = spool
            .add(|_: &File| Err::<ClipMeta, _>("the camera went away"))
            .unwrap_err();
        assert!(err.to_string().contains("the camera went away"));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        let first = add(&spool, 2, 10);
        let second = add(&spool, 3, 10);
        fs::write(dir.path().join(seq_name(first.seq, META_EXT)), b"{not json").unwrap();
        let err = spool.oldest().unwrap_err();
        assert!(matches!(err, SpoolError::Damaged { .. }), "{err}");
        assert_eq!(spool.oldest().unwrap(), Some(second));
    }

    #[test]
    fn two_spools_on_one_folder_never_overwrite_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let first = Spool::open(dir.path(), 1 << 20).unwrap();
        let second = Spool::open(dir.path(), 1 << 20).unwrap();
        let a = add(&first, 1, 10);
        let b = add(&second, 2, 10);
        assert_ne!(a.seq, b.seq);
        let reopened = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(reopened.entries().unwrap().len(), 2);
    }

    #[test]
    fn a_rejected_clip_leaves_the_queue_but_not_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let refused = add(&spool, 1, 10);
        let next = add(&spool, 2, 10);
        let kept = spool.reject(&refused).unwrap();
        assert_eq!(fs::read(&kept).unwrap(), vec![1u8; 10]);
        assert_eq!(spool.oldest().unwrap(), Some(next.clone()));
        assert_eq!(spool.stats().rejected, 1);
        drop(spool);
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.entries().unwrap(), vec![next]);
    }

    #[test]
    fn names_parse_only_as_written() {
        assert_eq!(parse_name(&seq_name(42, CLIP_EXT)), Some((42, CLIP_EXT)));
        for bad in [
            "42.age",
            "0000000000000000004x.age",
            "evicted",
            ".tmp-1",
            "",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
