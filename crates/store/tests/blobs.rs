//! The blob store against a fresh folder per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use porchlight_store::{BlobError, BlobKey, BlobKeyError, BlobStore, FolderBlobs};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// An upload arriving in small chunks, optionally cut off after `fail_after` bytes (an error,
/// as a dropped connection gives) or stalling there forever (a client that goes quiet).
struct Body {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    stop_after: Option<(usize, Stop)>,
}

#[derive(Clone, Copy)]
enum Stop {
    Fail,
    Stall,
}

impl Body {
    fn new(data: Vec<u8>, chunk: usize) -> Self {
        Self {
            data,
            pos: 0,
            chunk,
            stop_after: None,
        }
    }

    fn stopping(mut self, after: usize, how: Stop) -> Self {
        self.stop_after = Some((after, how));
        self
    }
}

impl AsyncRead for Body {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let mut end = this.data.len();
        if let Some((after, how)) = this.stop_after {
            if this.pos >= after {
                return match how {
                    Stop::Fail => Poll::Ready(Err(io::ErrorKind::ConnectionReset.into())),
                    Stop::Stall => Poll::Pending,
                };
            }
            end = end.min(after);
        }
        let n = this.chunk.min(buf.remaining()).min(end - this.pos);
        buf.put_slice(&this.data[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// Bytes that differ at every offset a bug might confuse (not a repeated short pattern).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).unwrap()
}

async fn fresh() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_folder(dir.path().join("blobs"))
        .await
        .unwrap();
    (dir, store)
}

fn root(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("blobs")
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push(entry.path());
        }
    }
    out
}

fn temp_files_under(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_str().unwrap().contains(".tmp-"))
        .collect()
}

async fn read_all(mut r: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    out
}

async fn assert_absent(store: &BlobStore, k: &BlobKey) {
    assert!(!store.exists(k).await.unwrap());
    assert!(matches!(store.get(k).await, Err(BlobError::NotFound)));
    assert!(matches!(store.size(k).await, Err(BlobError::NotFound)));
}

#[tokio::test]
async fn a_multi_megabyte_blob_round_trips_in_small_chunks() {
    let (dir, store) = fresh().await;
    let data = pattern(5 * 1024 * 1024 + 7, 1);
    let k = key("clip-0001_payload");

    let stored = store
        .put(&k, Body::new(data.clone(), 1000), 10 << 20)
        .await
        .unwrap();
    assert_eq!(stored, data.len() as u64);
    assert!(store.exists(&k).await.unwrap());
    assert_eq!(store.size(&k).await.unwrap(), data.len() as u64);

    let (size, reader) = store.get(&k).await.unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(reader.remaining_bytes(), size);
    assert!(read_all(reader).await == data);

    // Stored two fan-out levels down, under the key's own name, with nothing else beside it.
    let files = files_under(&root(&dir));
    assert_eq!(files.len(), 1);
    let rel = files[0].strip_prefix(root(&dir)).unwrap();
    assert_eq!(rel.iter().count(), 3);
    assert_eq!(rel.file_name().unwrap(), "clip-0001_payload");
}

#[tokio::test]
async fn empty_blobs_and_blobs_exactly_at_the_limit_are_stored() {
    let (_dir, store) = fresh().await;
    assert_eq!(
        store
            .put(&key("empty"), Body::new(vec![], 8), 0)
            .await
            .unwrap(),
        0
    );
    let (size, r) = store.get(&key("empty")).await.unwrap();
    assert_eq!(size, 0);
    assert!(read_all(r).await.is_empty());

    let data = pattern(100_000, 2);
    let n = store
        .put(&key("exact"), Body::new(data.clone(), 4096), 100_000)
        .await
        .unwrap();
    assert_eq!(n, 100_000);
}

#[tokio::test]
async fn range_reads_at_the_edges() {
    let (_dir, store) = fresh().await;
    let data = pattern(300_000, 3);
    let k = key("ranged");
    store
        .put(&k, Body::new(data.clone(), 777), u64::MAX)
        .await
        .unwrap();
    let last = data.len() as u64 - 1;

    for (start, end) in [
        (0, 0),
        (0, last),
        (last, last),
        (1, last - 1),
        (65_535, 65_536),
        (123_456, 234_567),
    ] {
        let (size, r) = store.get_range(&k, start, end).await.unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(r.remaining_bytes(), end - start + 1);
        let got = read_all(r).await;
        assert!(
            got == data[start as usize..=end as usize],
            "range {start}-{end}"
        );
    }

    for (start, end) in [
        (0, last + 1),
        (last + 1, last + 1),
        (10, 9),
        (0, u64::MAX),
        (u64::MAX, u64::MAX),
    ] {
        assert!(
            matches!(
                store.get_range(&k, start, end).await,
                Err(BlobError::RangeNotSatisfiable {
                    size_bytes: 300_000
                })
            ),
            "range {start}-{end}"
        );
    }

    store
        .put(&key("empty"), Body::new(vec![], 1), 10)
        .await
        .unwrap();
    assert!(matches!(
        store.get_range(&key("empty"), 0, 0).await,
        Err(BlobError::RangeNotSatisfiable { size_bytes: 0 })
    ));
    assert!(matches!(
        store.get_range(&key("missing"), 0, 0).await,
        Err(BlobError::NotFound)
    ));
}

#[tokio::test]
async fn crossing_the_limit_is_too_large_and_leaves_nothing() {
    let (dir, store) = fresh().await;
    let k = key("too-big");
    let err = store
        .put(&k, Body::new(pattern(1_000_001, 4), 10_000), 1_000_000)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        BlobError::TooLarge {
            max_bytes: 1_000_000
        }
    ));
    assert_absent(&store, &k).await;
    assert!(files_under(&root(&dir)).is_empty());

    // Stops reading at the limit: an endless body is refused, not drained.
    let endless = tokio::io::repeat(7);
    let err = store.put(&k, endless, 1 << 20).await.unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { .. }));
    assert!(files_under(&root(&dir)).is_empty());

    // The same limit applies to replace, and the old version survives.
    store
        .put(&k, Body::new(vec![1, 2, 3], 1), 10)
        .await
        .unwrap();
    let err = store
        .replace(&k, Body::new(vec![0; 11], 1), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { max_bytes: 10 }));
    assert_eq!(read_all(store.get(&k).await.unwrap().1).await, [1, 2, 3]);
    assert!(temp_files_under(&root(&dir)).is_empty());
}

#[tokio::test]
async fn a_cut_connection_is_an_upload_error_and_leaves_nothing() {
    let (dir, store) = fresh().await;
    let k = key("cut");
    let body = Body::new(pattern(2_000_000, 5), 1500).stopping(1_000_000, Stop::Fail);
    let err = store.put(&k, body, u64::MAX).await.unwrap_err();
    match err {
        BlobError::Upload(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset),
        other => panic!("expected Upload, got {other:?}"),
    }
    assert_absent(&store, &k).await;
    assert!(files_under(&root(&dir)).is_empty());

    // The key is still free.
    store.put(&k, Body::new(vec![9], 1), 1).await.unwrap();
}

#[tokio::test]
async fn an_abandoned_upload_leaves_no_temporary_file() {
    let (dir, store) = fresh().await;
    let k = key("abandoned");
    let body = Body::new(pattern(500_000, 6), 1000).stopping(200_000, Stop::Stall);
    let put = store.put(&k, body, u64::MAX);
    // The future is dropped mid-upload, as a server drops a handler when the client leaves.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), put)
            .await
            .is_err()
    );
    for _ in 0..100 {
        if temp_files_under(&root(&dir)).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(temp_files_under(&root(&dir)).is_empty());
    assert_absent(&store, &k).await;
}

#[tokio::test]
async fn put_never_overwrites() {
    let (dir, store) = fresh().await;
    let k = key("once");
    store
        .put(&k, Body::new(b"first".to_vec(), 2), 100)
        .await
        .unwrap();
    let err = store
        .put(&k, Body::new(b"second".to_vec(), 2), 100)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::AlreadyExists));
    assert_eq!(read_all(store.get(&k).await.unwrap().1).await, b"first");
    assert_eq!(files_under(&root(&dir)).len(), 1);
}

#[tokio::test]
async fn racing_puts_store_exactly_one_whole_blob() {
    let (dir, store) = fresh().await;
    let k = key("raced");
    let mut tasks = Vec::new();
    for seed in 0..8u8 {
        let (store, k) = (store.clone(), k.clone());
        tasks.push(tokio::spawn(async move {
            let data = pattern(200_000, seed);
            let result = store.put(&k, Body::new(data.clone(), 3000), u64::MAX).await;
            (data, result)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (data, Ok(_)) => winners.push(data),
            (_, Err(BlobError::AlreadyExists)) => {}
            (_, Err(e)) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert!(read_all(store.get(&k).await.unwrap().1).await == winners[0]);
    assert_eq!(files_under(&root(&dir)).len(), 1);
}

#[tokio::test]
async fn replace_is_atomic_for_readers() {
    let (dir, store) = fresh().await;
    let k = key("header");
    let old = pattern(1_500_000, 7);
    let new = pattern(900_000, 8);

    // replace also creates.
    assert_eq!(
        store
            .replace(&k, Body::new(old.clone(), 4000), u64::MAX)
            .await
            .unwrap(),
        old.len() as u64
    );

    // A reader that opened the old version, having read part of it...
    let (old_size, mut reader) = store.get(&k).await.unwrap();
    let mut head = vec![0u8; 10_000];
    reader.read_exact(&mut head).await.unwrap();

    store
        .replace(&k, Body::new(new.clone(), 4000), u64::MAX)
        .await
        .unwrap();

    // ...still reads the complete old bytes, while new readers see only the new.
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).await.unwrap();
    head.extend(rest);
    assert_eq!(old_size, old.len() as u64);
    assert!(head == old);

    let (size, reader) = store.get(&k).await.unwrap();
    assert_eq!(size, new.len() as u64);
    assert!(read_all(reader).await == new);
    assert_eq!(files_under(&root(&dir)).len(), 1);

    // A failed replace keeps the current version whole.
    let cut = Body::new(pattern(500_000, 9), 1000).stopping(250_000, Stop::Fail);
    assert!(matches!(
        store.replace(&k, cut, u64::MAX).await,
        Err(BlobError::Upload(_))
    ));
    assert!(read_all(store.get(&k).await.unwrap().1).await == new);
    assert_eq!(files_under(&root(&dir)).len(), 1);
}

#[tokio::test]
async fn delete_is_idempotent() {
    let (dir, store) = fresh().await;
    let k = key("gone");
    assert!(!store.delete(&k).await.unwrap());
    store.put(&k, Body::new(vec![1; 10], 3), 10).await.unwrap();
    assert!(store.delete(&k).await.unwrap());
    assert!(!store.delete(&k).await.unwrap());
    assert_absent(&store, &k).await;
    assert!(files_under(&root(&dir)).is_empty());
    // And the key can be used again.
    store.put(&k, Body::new(vec![2; 5], 3), 10).await.unwrap();
    assert_eq!(store.size(&k).await.unwrap(), 5);
}

#[tokio::test]
async fn stale_temporary_files_are_swept_on_open() {
    let (dir, store) = fresh().await;
    let k = key("kept");
    store
        .put(&k, Body::new(b"keep me".to_vec(), 3), 100)
        .await
        .unwrap();
    let blob = files_under(&root(&dir)).pop().unwrap();
    let leaf = blob.parent().unwrap();

    // What a crash mid-write leaves: temporaries beside a blob and in a fan-out folder of
    // their own, plus one in an unrelated file name that must survive.
    std::fs::write(leaf.join("kept.tmp-999-0"), b"partial").unwrap();
    std::fs::write(leaf.join("other.tmp-1-2"), b"partial").unwrap();
    let lone = root(&dir).join("00").join("00");
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::write(lone.join("x.tmp-3-4"), b"partial").unwrap();
    std::fs::write(root(&dir).join("README"), b"not a blob").unwrap();
    assert_eq!(temp_files_under(&root(&dir)).len(), 3);
    drop(store);

    let store = BlobStore::open_folder(root(&dir)).await.unwrap();
    assert!(temp_files_under(&root(&dir)).is_empty());
    assert_eq!(read_all(store.get(&k).await.unwrap().1).await, b"keep me");
    assert!(root(&dir).join("README").exists());
}

#[cfg(unix)]
#[tokio::test]
async fn the_folder_and_blobs_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, store) = fresh().await;
    store
        .put(&key("private"), Body::new(vec![0; 3], 3), 3)
        .await
        .unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root(&dir)), 0o700);
    let blob = files_under(&root(&dir)).pop().unwrap();
    assert_eq!(mode(&blob), 0o600);
    assert_eq!(mode(blob.parent().unwrap()), 0o700);
    assert_eq!(mode(blob.parent().unwrap().parent().unwrap()), 0o700);
}

#[tokio::test]
async fn folder_blobs_open_creates_nested_folders() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("a").join("b").join("blobs");
    let blobs = FolderBlobs::open(&deep).await.unwrap();
    assert_eq!(blobs.dir(), deep);
    assert!(deep.is_dir());
    // Reopening an existing folder is fine.
    FolderBlobs::open(&deep).await.unwrap();
}

#[test]
fn bad_keys_are_refused() {
    for bad in [
        "",
        "..",
        "../../etc/passwd",
        "a/b",
        "/",
        "a\\b",
        "UPPER",
        "dot.ted",
        "x.tmp-1-1",
        "sp ace",
        "nul\0",
        "ünï",
    ] {
        assert!(BlobKey::parse(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(BlobKey::parse(&"a".repeat(129)), Err(BlobKeyError::TooLong));
    assert!(BlobKey::parse(&"a".repeat(128)).is_ok());
    assert_eq!("A".parse::<BlobKey>(), Err(BlobKeyError::BadCharacter));
}
