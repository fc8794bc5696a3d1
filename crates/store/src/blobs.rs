//! The blob store: clip headers and payloads, kept as opaque bytes the server cannot read.
//!
//! One [`BlobStore`] fronts every backend. Today there is one, [`FolderBlobs`] (the embedded
//! default, `<data>/blobs`); an S3-compatible backend is meant to join it as a second variant.
//!
//! `BlobStore` is an enum rather than a trait object because the set of backends is closed and
//! picked once from configuration: an enum keeps `async fn` and the concrete reader type
//! ([`BlobReader`], itself an enum over backends) without boxing every future and stream, and
//! adding a backend is one variant plus one arm per method, checked by the compiler.
//!
//! Blobs are immutable once visible: [`BlobStore::put`] never overwrites, and the one way to
//! change a blob, [`BlobStore::replace`] (for re-wrapped clip headers), swaps the whole of it
//! atomically. Bytes stream through a fixed buffer in both directions; a blob is never held in
//! memory whole. The store owns no policy: callers pass the size limit in, and the metadata
//! store decides which blobs ought to exist.

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::fs::{self, File};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, ReadBuf, Take};

/// The longest [`BlobKey`], in bytes (keys are ASCII).
pub const MAX_BLOB_KEY_LEN: usize = 128;

/// Bytes copied per read while storing a blob: the most of one upload held in memory.
const COPY_BUF_BYTES: usize = 64 * 1024;

/// Marks a temporary file. Keys cannot contain `.`, so no blob is ever mistaken for one.
const TEMP_MARKER: &str = ".tmp-";

/// The name of a blob: 1 to [`MAX_BLOB_KEY_LEN`] characters from `[a-z0-9_-]`.
///
/// The alphabet has no path separator and no `.`, so a key is always a single, ordinary file
/// name (never `..`, never hidden, never a temporary file); and no upper case, so two keys
/// never collide on a case-insensitive file system or object store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

/// Why a string is not a [`BlobKey`]. Deliberately does not echo the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobKeyError {
    #[error("blob key is empty")]
    Empty,
    #[error("blob key is longer than {MAX_BLOB_KEY_LEN} characters")]
    TooLong,
    #[error("blob key may contain only a-z, 0-9, '_' and '-'")]
    BadCharacter,
}

impl BlobKey {
    pub fn parse(s: &str) -> Result<Self, BlobKeyError> {
        if s.is_empty() {
            return Err(BlobKeyError::Empty);
        }
        if s.len() > MAX_BLOB_KEY_LEN {
            return Err(BlobKeyError::TooLong);
        }
        let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-');
        if !s.bytes().all(allowed) {
            return Err(BlobKeyError::BadCharacter);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BlobKey {
    type Err = BlobKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for BlobKey {
    type Error = BlobKeyError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl AsRef<str> for BlobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What can go wrong storing or reading a blob. Messages never name the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("no such blob")]
    NotFound,
    /// `put` refuses to overwrite; use `replace` to swap a blob on purpose.
    #[error("a blob with that key already exists")]
    AlreadyExists,
    /// The upload crossed the caller's limit; nothing was stored.
    #[error("blob is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    /// The requested byte range does not lie within the blob (an HTTP `416`).
    #[error("range not satisfiable for a blob of {size_bytes} bytes")]
    RangeNotSatisfiable { size_bytes: u64 },
    /// Reading the incoming bytes failed, e.g. the client's connection was cut; nothing was
    /// stored. The caller's fault, unlike [`BlobError::Io`].
    #[error("reading the upload failed: {0}")]
    Upload(#[source] io::Error),
    /// The storage itself failed.
    #[error("blob storage error: {0}")]
    Io(#[from] io::Error),
}

/// The blob store, over whichever backend the configuration names. Cheap to clone.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BlobStore {
    /// Files under a local folder: the embedded default.
    Folder(FolderBlobs),
}

impl BlobStore {
    /// A folder-backed store at `dir` (see [`FolderBlobs::open`]).
    pub async fn open_folder(dir: impl Into<PathBuf>) -> Result<Self, BlobError> {
        Ok(Self::Folder(FolderBlobs::open(dir).await?))
    }

    /// Stores a new blob from `body`, returning its size. Fails with
    /// [`BlobError::AlreadyExists`] if the key is taken, and with [`BlobError::TooLarge`] as
    /// soon as `body` yields more than `max_bytes`. On any error nothing is stored.
    pub async fn put(
        &self,
        key: &BlobKey,
        body: impl AsyncRead + Unpin,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        match self {
            Self::Folder(f) => f.put(key, body, max_bytes).await,
        }
    }

    /// Stores `body` under `key`, creating the blob or atomically swapping out the old one:
    /// readers see the old bytes or the new, never a mix. Readers that opened the old blob
    /// keep reading it whole.
    pub async fn replace(
        &self,
        key: &BlobKey,
        body: impl AsyncRead + Unpin,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        match self {
            Self::Folder(f) => f.replace(key, body, max_bytes).await,
        }
    }

    /// The whole blob: its size in bytes and a reader over it.
    pub async fn get(&self, key: &BlobKey) -> Result<(u64, BlobReader), BlobError> {
        match self {
            Self::Folder(f) => f.get(key).await,
        }
    }

    /// Bytes `start..=end_inclusive` of the blob, as an HTTP `Range` asks: the whole blob's
    /// size and a reader over just that range. [`BlobError::RangeNotSatisfiable`] unless
    /// `start <= end_inclusive < size`.
    pub async fn get_range(
        &self,
        key: &BlobKey,
        start: u64,
        end_inclusive: u64,
    ) -> Result<(u64, BlobReader), BlobError> {
        match self {
            Self::Folder(f) => f.get_range(key, start, end_inclusive).await,
        }
    }

    pub async fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        match self {
            Self::Folder(f) => f.size(key).await,
        }
    }

    pub async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        match self {
            Self::Folder(f) => f.exists(key).await,
        }
    }

    /// Removes the blob; `Ok(false)` if there was none.
    pub async fn delete(&self, key: &BlobKey) -> Result<bool, BlobError> {
        match self {
            Self::Folder(f) => f.delete(key).await,
        }
    }
}

impl From<FolderBlobs> for BlobStore {
    fn from(f: FolderBlobs) -> Self {
        Self::Folder(f)
    }
}

/// A reader over a blob or a range of one, yielding exactly the bytes asked for.
#[derive(Debug)]
pub struct BlobReader {
    inner: ReaderInner,
}

#[derive(Debug)]
enum ReaderInner {
    File(Take<File>),
}

impl BlobReader {
    fn file(file: File, len_bytes: u64) -> Self {
        Self {
            inner: ReaderInner::File(file.take(len_bytes)),
        }
    }

    /// Bytes still to come (a `Content-Length` before any are read).
    pub fn remaining_bytes(&self) -> u64 {
        match &self.inner {
            ReaderInner::File(f) => f.limit(),
        }
    }
}

impl AsyncRead for BlobReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            ReaderInner::File(f) => Pin::new(f).poll_read(cx, buf),
        }
    }
}

/// Blobs as files under one folder, fanned out two levels deep by a hash of the key
/// (`<dir>/3f/a0/<key>`) so no directory grows past a few entries per 65 536 blobs, whatever
/// shape the keys have.
///
/// Writes go to a temporary file beside the final one (`<key>.tmp-…`, same directory so the
/// rename is atomic), are fsynced, then linked or renamed into place and the directory fsynced.
/// Temporary files a crash leaves behind are removed by [`FolderBlobs::open`], so one folder
/// must be served by one process at a time.
#[derive(Debug, Clone)]
pub struct FolderBlobs {
    root: Arc<Path>,
}

impl FolderBlobs {
    /// Opens the store at `dir`, creating it (mode 0700) if needed and removing temporary
    /// files left by writes that never finished.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root: PathBuf = dir.into();
        create_private_dirs(&root).await?;
        let swept = {
            let root = root.clone();
            tokio::task::spawn_blocking(move || sweep_temp_files(&root))
                .await
                .map_err(io::Error::other)??
        };
        if swept > 0 {
            tracing::info!(
                swept,
                "removed temporary blob files left by unfinished writes"
            );
        }
        Ok(Self { root: root.into() })
    }

    /// The folder this store keeps its blobs in.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    pub async fn put(
        &self,
        key: &BlobKey,
        body: impl AsyncRead + Unpin,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        let path = self.path_of(key);
        // Not the guard (the link below is), just a refusal before reading a doomed upload.
        if fs::try_exists(&path).await? {
            return Err(BlobError::AlreadyExists);
        }
        let (temp, size_bytes) = self.write_temp(key, body, max_bytes).await?;
        // A hard link, unlike a rename, refuses to replace an existing file: two racing puts
        // cannot both win.
        let linked = fs::hard_link(temp.path(), &path).await;
        temp.remove().await;
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(BlobError::AlreadyExists);
            }
            Err(e) => return Err(e.into()),
        }
        if let Err(e) = sync_dir(&self.leaf_dir(key)).await {
            // Not known to be durable, so not stored: keep "on error nothing is visible".
            let _ = fs::remove_file(&path).await;
            return Err(e.into());
        }
        Ok(size_bytes)
    }

    pub async fn replace(
        &self,
        key: &BlobKey,
        body: impl AsyncRead + Unpin,
        max_bytes: u64,
    ) -> Result<u64, BlobError> {
        let (temp, size_bytes) = self.write_temp(key, body, max_bytes).await?;
        if let Err(e) = fs::rename(temp.path(), self.path_of(key)).await {
            temp.remove().await;
            return Err(e.into());
        }
        temp.disarm();
        sync_dir(&self.leaf_dir(key)).await?;
        Ok(size_bytes)
    }

    pub async fn get(&self, key: &BlobKey) -> Result<(u64, BlobReader), BlobError> {
        let file = open_blob(&self.path_of(key)).await?;
        let size_bytes = file.metadata().await?.len();
        Ok((size_bytes, BlobReader::file(file, size_bytes)))
    }

    pub async fn get_range(
        &self,
        key: &BlobKey,
        start: u64,
        end_inclusive: u64,
    ) -> Result<(u64, BlobReader), BlobError> {
        let mut file = open_blob(&self.path_of(key)).await?;
        let size_bytes = file.metadata().await?.len();
        if start > end_inclusive || end_inclusive >= size_bytes {
            return Err(BlobError::RangeNotSatisfiable { size_bytes });
        }
        file.seek(io::SeekFrom::Start(start)).await?;
        let len_bytes = end_inclusive - start + 1;
        Ok((size_bytes, BlobReader::file(file, len_bytes)))
    }

    pub async fn size(&self, key: &BlobKey) -> Result<u64, BlobError> {
        match fs::metadata(self.path_of(key)).await {
            Ok(m) => Ok(m.len()),
            Err(e) => Err(not_found_or_io(e)),
        }
    }

    pub async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        Ok(fs::try_exists(self.path_of(key)).await?)
    }

    /// Removes the blob; `Ok(false)` if there was none. Fan-out directories stay: a put may
    /// be about to use them.
    pub async fn delete(&self, key: &BlobKey) -> Result<bool, BlobError> {
        match fs::remove_file(self.path_of(key)).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        sync_dir(&self.leaf_dir(key)).await?;
        Ok(true)
    }

    fn leaf_dir(&self, key: &BlobKey) -> PathBuf {
        let hash = Sha256::digest(key.as_str().as_bytes());
        self.root
            .join(format!("{:02x}", hash[0]))
            .join(format!("{:02x}", hash[1]))
    }

    fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.leaf_dir(key).join(key.as_str())
    }

    /// Streams `body` into a fresh, fsynced temporary file beside `key`'s final place. On
    /// error the temporary file is gone when this returns.
    async fn write_temp(
        &self,
        key: &BlobKey,
        mut body: impl AsyncRead + Unpin,
        max_bytes: u64,
    ) -> Result<(TempFile, u64), BlobError> {
        let leaf = self.leaf_dir(key);
        self.ensure_leaf_dir(&leaf).await?;
        let (temp, file) = TempFile::create(&leaf, key).await?;
        match fill_and_sync(&mut body, file, max_bytes).await {
            Ok(size_bytes) => Ok((temp, size_bytes)),
            Err(e) => {
                temp.remove().await;
                Err(e)
            }
        }
    }

    async fn ensure_leaf_dir(&self, leaf: &Path) -> Result<(), BlobError> {
        if fs::try_exists(leaf).await? {
            return Ok(());
        }
        create_private_dirs(leaf).await?;
        // New directory entries must be durable too, or a synced blob could vanish with them.
        if let Some(middle) = leaf.parent() {
            sync_dir(middle).await?;
        }
        sync_dir(&self.root).await?;
        Ok(())
    }
}

/// Copies `body` into `file` through a fixed buffer, stopping with `TooLarge` before writing
/// the chunk that crosses `max_bytes`; then flushes and fsyncs. Closes `file` either way.
async fn fill_and_sync(
    body: &mut (impl AsyncRead + Unpin),
    mut file: File,
    max_bytes: u64,
) -> Result<u64, BlobError> {
    let mut buf = vec![0u8; COPY_BUF_BYTES];
    let mut size_bytes: u64 = 0;
    loop {
        let n = body.read(&mut buf).await.map_err(BlobError::Upload)?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        size_bytes = size_bytes.saturating_add(chunk.len() as u64);
        if size_bytes > max_bytes {
            return Err(BlobError::TooLarge { max_bytes });
        }
        file.write_all(chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await?;
    Ok(size_bytes)
}

/// A temporary file that is removed unless disarmed, even if the writing future is dropped
/// (an HTTP server drops a handler's future when the client goes away).
#[derive(Debug)]
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    async fn create(dir: &Path, key: &BlobKey) -> Result<(Self, File), BlobError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        // A name can only be taken by a file a crashed process with the same pid left behind.
        for _ in 0..16 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{key}{TEMP_MARKER}{pid}-{n}"));
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            options.mode(0o600);
            match options.open(&path).await {
                Ok(file) => return Ok((Self { path, armed: true }, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary file name").into())
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the file now. A failure is only logged: the sweep on open catches it.
    async fn remove(mut self) {
        self.armed = false;
        match fs::remove_file(&self.path).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "could not remove a temporary blob file"),
        }
    }

    /// The file was renamed into place; there is nothing left to remove.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let path = std::mem::take(&mut self.path);
        // Only reached when the writing future was dropped; unlink off the runtime's threads.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = fs::remove_file(path).await;
                });
            }
            Err(_) => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

async fn open_blob(path: &Path) -> Result<File, BlobError> {
    File::open(path).await.map_err(not_found_or_io)
}

fn not_found_or_io(e: io::Error) -> BlobError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobError::NotFound
    } else {
        BlobError::Io(e)
    }
}

async fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await
}

/// Makes a directory's entries (a rename, link or unlink in it) durable.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir).await?.sync_all().await?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes temporary files under the two fan-out levels of `root`; returns how many. Blocking:
/// run it on the blocking pool.
fn sweep_temp_files(root: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for middle in subdirs(root)? {
        for leaf in subdirs(&middle)? {
            for entry in std::fs::read_dir(&leaf)? {
                let entry = entry?;
                if is_temp_name(&entry.file_name()) && entry.file_type()?.is_file() {
                    match std::fs::remove_file(entry.path()) {
                        Ok(()) => removed += 1,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    Ok(removed)
}

fn subdirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}

fn is_temp_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| n.contains(TEMP_MARKER))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_accept_the_alphabet_up_to_the_limit() {
        for good in [
            "a",
            "0",
            "_",
            "-",
            "clip_0f3a-hdr",
            &"z".repeat(MAX_BLOB_KEY_LEN),
        ] {
            let key = BlobKey::parse(good).unwrap();
            assert_eq!(key.as_str(), good);
            assert_eq!(key.to_string(), good);
        }
    }

    #[test]
    fn keys_refuse_anything_else() {
        use BlobKeyError::*;
        let cases: &[(&str, BlobKeyError)] = &[
            ("", Empty),
            (&"a".repeat(MAX_BLOB_KEY_LEN + 1), TooLong),
            ("..", BadCharacter),
            (".", BadCharacter),
            ("../etc/passwd", BadCharacter),
            ("a/b", BadCharacter),
            ("a\\b", BadCharacter),
            ("/abs", BadCharacter),
            ("a.tmp-1", BadCharacter),
            ("ABC", BadCharacter),
            ("a b", BadCharacter),
            ("a\0b", BadCharacter),
            ("é", BadCharacter),
            ("a\n", BadCharacter),
        ];
        for (bad, why) in cases {
            assert_eq!(BlobKey::parse(bad), Err(*why), "{bad:?}");
        }
        assert!("x/y".parse::<BlobKey>().is_err());
        assert!(BlobKey::try_from("..").is_err());
    }

    #[test]
    fn keys_fan_out_two_levels_under_the_root() {
        let blobs = FolderBlobs {
            root: Arc::from(Path::new("/data/blobs")),
        };
        let key = BlobKey::parse("abc").unwrap();
        let path = blobs.path_of(&key);
        let rel = path.strip_prefix("/data/blobs").unwrap();
        let parts: Vec<_> = rel.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(parts.len(), 3);
        // SHA-256("abc") = ba7816bf…
        assert_eq!(parts, ["ba", "78", "abc"]);
        assert!(!is_temp_name(OsStr::new("abc")));
        assert!(is_temp_name(OsStr::new("abc.tmp-1-2")));
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_strings_never_yields_a_path(s in any::<String>()) {
            if let Ok(key) = BlobKey::parse(&s) {
                prop_assert_eq!(key.as_str(), s.as_str());
                prop_assert!(!key.as_str().contains('/'));
                prop_assert!(!key.as_str().contains('\\'));
                prop_assert!(!key.as_str().contains(".."));
                prop_assert!(!key.as_str().contains('.'));
                prop_assert!((1..=MAX_BLOB_KEY_LEN).contains(&key.as_str().len()));
                prop_assert_eq!(Path::new(key.as_str()).components().count(), 1);
            }
        }

        #[test]
        fn keyish_strings_parse_exactly_when_in_the_alphabet(s in "[a-z0-9_./A-Z-]{0,140}") {
            let valid = !s.is_empty()
                && s.len() <= MAX_BLOB_KEY_LEN
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            prop_assert_eq!(BlobKey::parse(&s).is_ok(), valid);
        }
    }
}
