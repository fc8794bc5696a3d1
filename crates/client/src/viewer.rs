//! What a viewer device does with sealed clips: believe a clip only if its statement is
//! signed by a hub in the verified chain and its payload hashes to what the hub signed; open
//! it with the device's identity; export it as a standard age file; and re-wrap headers when
//! the set of devices changes.
//!
//! Downloads stream to a temporary file beside the output and are hashed as they arrive;
//! nothing is decrypted before the whole payload matched the statement, and the plaintext
//! appears under its final name only once complete (a rename).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::age::Identity;
use porchlight_crypto::{
    CheckedListing, ClipError, ClipHeader, ClipStatement, DevicePublic, HeaderError, HubKey,
    ListingRefusal, VerifiedChain, WireListedClip, check_wire_listed_clip, open, open_file, rewrap,
};
use porchlight_proto::{self as proto, ErrorCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

use crate::client::{Client, ClipFilter};
use crate::e2e_error::E2eError;

/// How often a re-wrap is tried again when the header changed under it.
const REWRAP_ATTEMPTS: usize = 3;
const COPY_BUFFER: usize = 64 * 1024;

/// A clip whose statement verified under a hub of the verified chain. Its payload is not
/// checked yet: that happens as it is downloaded.
#[derive(Debug, Clone)]
pub struct VerifiedClip {
    pub summary: proto::ClipSummary,
    pub header: Vec<u8>,
    /// Hex SHA-256 of `header`, computed here (for `If-Match` on re-wrap).
    pub header_sha256: String,
    pub statement: ClipStatement,
    pub hub: HubKey,
    pub hub_name: String,
    /// X25519 stanzas in the header: one per recipient.
    pub recipient_stanzas: usize,
}

/// A clip downloaded, checked and opened.
#[derive(Debug, Clone)]
pub struct OpenedClip {
    pub clip: VerifiedClip,
    pub plaintext_bytes: u64,
    pub output: PathBuf,
}

/// A clip exported as a standard age file (`header ‖ payload`).
#[derive(Debug, Clone)]
pub struct ExportedClip {
    pub clip: VerifiedClip,
    pub file: PathBuf,
    /// SHA-256 of the whole `.age` file.
    pub file_sha256: [u8; 32],
    pub file_bytes: u64,
}

/// What a re-wrap of many clips did.
#[derive(Debug, Clone, Default)]
pub struct RewrapReport {
    pub rewrapped: Vec<String>,
    pub failed: Vec<RewrapFailure>,
}

#[derive(Debug, Clone)]
pub struct RewrapFailure {
    pub clip_id: String,
    pub code: &'static str,
    pub message: String,
}

fn subject(id: &str) -> String {
    format!("clip {id}")
}

/// Checks a listed clip against `chain` with the crypto crate's one listing check
/// ([`check_listed_clip`]): the statement parses, is signed by a hub that is in the chain
/// now, and says what the server's listing says. A field that is not base64 or hex is passed
/// on empty, so the check refuses it as malformed.
pub fn check_listed(
    chain: &VerifiedChain,
    clip: &proto::ClipSummary,
) -> Result<CheckedListing, ListingRefusal> {
    check_wire_listed_clip(
        chain,
        &WireListedClip {
            camera: &clip.camera_name,
            start_ms: clip.start_ms,
            duration_ms: clip.duration_ms,
            payload_sha256: &clip.payload_sha256,
            statement: &clip.statement,
            signature: &clip.signature,
            hub_key: &clip.hub_key,
        },
    )
}

/// Checks a clip's details against the chain: the listing check ([`check_listed`]) and a
/// header that parses.
pub fn verify_detail(
    chain: &VerifiedChain,
    detail: proto::ClipDetail,
) -> Result<VerifiedClip, E2eError> {
    let id = detail.summary.id.clone();
    let header = STANDARD
        .decode(&detail.header)
        .map_err(|_| E2eError::BadClipDetail {
            subject: subject(&id),
            what: "header",
        })?;
    let parsed = ClipHeader::parse(&header).map_err(|e| E2eError::Clip {
        subject: subject(&id),
        source: ClipError::Header(e),
    })?;
    let checked = check_listed(chain, &detail.summary).map_err(|refusal| E2eError::Unverified {
        subject: subject(&id),
        refusal,
    })?;
    let recipient_stanzas = x25519_stanzas(&parsed);
    Ok(VerifiedClip {
        summary: detail.summary,
        header_sha256: hex::encode(Sha256::digest(&header)),
        header,
        statement: checked.statement,
        hub: checked.hub,
        hub_name: checked.hub_name,
        recipient_stanzas,
    })
}

fn x25519_stanzas(header: &ClipHeader) -> usize {
    header
        .stanzas()
        .iter()
        .filter(|s| s.tag == "X25519")
        .count()
}

/// Fetches a clip's details and verifies them against the chain.
pub async fn fetch_verified(
    client: &Client,
    chain: &VerifiedChain,
    id: &str,
) -> Result<VerifiedClip, E2eError> {
    verify_detail(chain, client.clip(id).await?)
}

/// Downloads clip `id`, checks it against the chain and the hub's statement, opens it with
/// `identity` and writes the plaintext to `output` (atomically: a rename once complete).
pub async fn download_and_open<I>(
    client: &Client,
    chain: &VerifiedChain,
    id: &str,
    identity: I,
    output: &Path,
) -> Result<OpenedClip, E2eError>
where
    I: Identity + Send + 'static,
{
    let clip = fetch_verified(client, chain, id).await?;
    open_verified(client, clip, PayloadFrom::Clip(id), identity, output).await
}

/// Where a verified clip's payload is downloaded from: the clip (its owner and household) or
/// a share of it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PayloadFrom<'a> {
    Clip(&'a str),
    Share(&'a str),
}

/// Downloads a verified clip's payload, checks it against the hub's statement, opens it with
/// `identity` and writes the plaintext to `output` (atomically: a rename once complete).
pub(crate) async fn open_verified<I>(
    client: &Client,
    clip: VerifiedClip,
    from: PayloadFrom<'_>,
    identity: I,
    output: &Path,
) -> Result<OpenedClip, E2eError>
where
    I: Identity + Send + 'static,
{
    let dir = parent_dir(output);
    let payload = download_checked(client, &clip, from, &dir).await?;
    let output = output.to_owned();
    let header = clip.header.clone();
    let who = subject(&clip.summary.id);
    let target = output.clone();
    let plaintext_bytes = tokio::task::spawn_blocking(move || {
        let reader = payload
            .reopen()
            .map_err(|e| E2eError::io("read", payload.path(), e))?;
        let opened =
            open(&header, BufReader::new(reader), &identity).map_err(|source| E2eError::Clip {
                subject: who.clone(),
                source,
            })?;
        write_atomically(&target, |out| decrypt_into(opened, out, &who, &target))
    })
    .await
    .map_err(|e| E2eError::io("decrypt into", &output, io::Error::other(e)))??;
    Ok(OpenedClip {
        clip,
        plaintext_bytes,
        output,
    })
}

/// Streams the clip's payload into a temporary file in `dir`, hashing it as it arrives, and
/// refuses it unless it is exactly what the hub signed.
async fn download_checked(
    client: &Client,
    clip: &VerifiedClip,
    from: PayloadFrom<'_>,
    dir: &Path,
) -> Result<tempfile::NamedTempFile, E2eError> {
    let id = &clip.summary.id;
    let temp = tempfile::Builder::new()
        .prefix(".porchlight-")
        .suffix(".payload")
        .tempfile_in(dir)
        .map_err(|e| E2eError::io("create a temporary file in", dir, e))?;
    let file = temp
        .reopen()
        .map_err(|e| E2eError::io("write", temp.path(), e))?;
    let mut sink = HashingSink::new(tokio::fs::File::from_std(file));
    match from {
        PayloadFrom::Clip(id) => client.download_payload(id, &mut sink).await?,
        PayloadFrom::Share(id) => client.download_shared_payload(id, &mut sink).await?,
    };
    if sink.digest() != *clip.statement.payload_sha256() {
        return Err(E2eError::PayloadMismatch {
            subject: subject(id),
        });
    }
    Ok(temp)
}

/// Copies plaintext out of an opened clip. A read error is the clip's fault (a chunk that
/// fails its tag, a cut payload); a write error is the output's.
fn decrypt_into<R: Read>(
    mut reader: R,
    out: &mut File,
    who: &str,
    output: &Path,
) -> Result<u64, E2eError> {
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Err(E2eError::Corrupt {
                    subject: who.to_owned(),
                });
            }
            Err(e) => return Err(E2eError::io("read the clip for", output, e)),
        };
        out.write_all(&buf[..n])
            .map_err(|e| E2eError::io("write", output, e))?;
        total += n as u64;
    }
}

/// Opens a whole age file (e.g. one sealed by `age -r`, binary or armored with `age -a`) with
/// `identity` into `output`. The file is the user's own, not a hub's clip: a damaged or
/// foreign file is said to be that (`age_file_invalid`), not an untrusted recording.
pub fn open_age_file(
    input: &Path,
    identity: &dyn Identity,
    output: &Path,
) -> Result<u64, E2eError> {
    let who = input.display().to_string();
    let file = File::open(input).map_err(|e| E2eError::io("open", input, e))?;
    // Armored input is decoded as it is read; binary input passes through unchanged.
    let reader = age::armor::ArmoredReader::new(file);
    let invalid = |what: String| E2eError::AgeFile {
        subject: who.clone(),
        what,
    };
    let opened = open_file(reader, identity).map_err(|source| match source {
        ClipError::NoMatchingKey | ClipError::Io(_) => E2eError::Clip {
            subject: who.clone(),
            source,
        },
        ClipError::Header(HeaderError::NotAge) => invalid(
            "not an age file (neither binary age nor armored \"BEGIN AGE ENCRYPTED FILE\")"
                .to_owned(),
        ),
        ClipError::Header(HeaderError::Truncated) => invalid(
            "not a whole age file: its header is cut short, or its armor is damaged".to_owned(),
        ),
        other => invalid(format!("not a valid age file: {other}")),
    })?;
    write_atomically(output, |out| decrypt_into(opened, out, &who, output)).map_err(|e| match e {
        E2eError::Corrupt { .. } => invalid(
            "the payload does not decrypt: the file is damaged or cut short (a chunk failed \
             authentication or is missing)"
                .to_owned(),
        ),
        other => other,
    })
}

/// Writes through `fill` into a temporary file beside `path`, then renames it into place.
fn write_atomically<T>(
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<T, E2eError>,
) -> Result<T, E2eError> {
    let dir = parent_dir(path);
    let mut temp = tempfile::Builder::new()
        .prefix(".porchlight-")
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(|e| E2eError::io("create a temporary file in", &dir, e))?;
    let value = fill(temp.as_file_mut())?;
    temp.as_file()
        .sync_all()
        .map_err(|e| E2eError::io("write", path, e))?;
    temp.persist(path)
        .map_err(|e| E2eError::io("write", path, e.error))?;
    Ok(value)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Whether a server-given clip id is safe as a file name.
fn safe_file_stem(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Writes clip `id` to `dir/<id>.age` as a standard age file, after checking its statement
/// against the chain and its payload against the statement.
pub async fn export_clip(
    client: &Client,
    chain: &VerifiedChain,
    id: &str,
    dir: &Path,
) -> Result<ExportedClip, E2eError> {
    if !safe_file_stem(id) {
        return Err(E2eError::BadClipDetail {
            subject: subject(id),
            what: "clip id",
        });
    }
    let clip = fetch_verified(client, chain, id).await?;
    let file = dir.join(format!("{id}.age"));
    let temp = tempfile::Builder::new()
        .prefix(".porchlight-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| E2eError::io("create a temporary file in", dir, e))?;
    let out = temp
        .reopen()
        .map_err(|e| E2eError::io("write", temp.path(), e))?;
    let mut whole = HashingSink::new(tokio::fs::File::from_std(out));
    {
        use tokio::io::AsyncWriteExt;
        whole
            .write_all(&clip.header)
            .await
            .map_err(|e| E2eError::io("write", &file, e))?;
    }
    let mut payload = HashingSink::new(&mut whole);
    client.download_payload(id, &mut payload).await?;
    if payload.digest() != *clip.statement.payload_sha256() {
        return Err(E2eError::PayloadMismatch {
            subject: subject(id),
        });
    }
    let file_bytes = whole.bytes;
    let file_sha256 = whole.digest();
    temp.as_file()
        .sync_all()
        .map_err(|e| E2eError::io("write", &file, e))?;
    temp.persist(&file)
        .map_err(|e| E2eError::io("write", &file, e.error))?;
    Ok(ExportedClip {
        clip,
        file,
        file_sha256,
        file_bytes,
    })
}

/// The clips of cameras this account owns (re-wrapping is the owner's; clips shared by a
/// household are the other account's to re-wrap).
pub async fn owned_clips(client: &Client) -> Result<Vec<proto::ClipSummary>, E2eError> {
    let owned: HashSet<String> = client
        .cameras()
        .await?
        .cameras
        .into_iter()
        .filter(|c| c.owned)
        .map(|c| c.id)
        .collect();
    let clips = client.all_clips(&ClipFilter::default()).await?;
    Ok(clips
        .into_iter()
        .filter(|c| owned.contains(&c.camera_id))
        .collect())
}

/// Who a clip of camera `camera` on hub `hub_key` is for: see
/// [`VerifiedChain::recipients_for_camera`].
pub type RecipientsFor<'a> = dyn Fn(&[u8; 32], &str) -> Vec<DevicePublic> + Sync + 'a;

/// Re-wraps each clip's header to exactly `recipients(hub key, camera)`, opening it with
/// `identity`. A header that changed meanwhile is fetched and re-wrapped again; a clip that
/// still fails is reported, and the others go on.
pub async fn rewrap_clips(
    client: &Client,
    clips: &[proto::ClipSummary],
    identity: &dyn Identity,
    recipients: &RecipientsFor<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> RewrapReport {
    let mut report = RewrapReport::default();
    for (done, clip) in clips.iter().enumerate() {
        progress(done, clips.len());
        match rewrap_one(client, &clip.id, identity, recipients).await {
            Ok(()) => report.rewrapped.push(clip.id.clone()),
            Err(e) => report.failed.push(RewrapFailure {
                clip_id: clip.id.clone(),
                code: e.code(),
                message: e.to_string(),
            }),
        }
    }
    progress(clips.len(), clips.len());
    report
}

async fn rewrap_one(
    client: &Client,
    id: &str,
    identity: &dyn Identity,
    recipients: &RecipientsFor<'_>,
) -> Result<(), E2eError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let detail = client.clip(id).await?;
        let header = STANDARD
            .decode(&detail.header)
            .map_err(|_| E2eError::BadClipDetail {
                subject: subject(id),
                what: "header",
            })?;
        let mut hub_key = [0u8; 32];
        hex::decode_to_slice(&detail.summary.hub_key, &mut hub_key).map_err(|_| {
            E2eError::BadClipDetail {
                subject: subject(id),
                what: "hub key",
            }
        })?;
        let for_clip = recipients(&hub_key, &detail.summary.camera_name);
        let new_header = rewrap(&header, identity, &for_clip).map_err(|source| E2eError::Clip {
            subject: subject(id),
            source,
        })?;
        let previous = hex::encode(Sha256::digest(&header));
        match client.replace_header(id, &previous, new_header).await {
            Ok(_) => return Ok(()),
            Err(e) if e.code() == Some(ErrorCode::Conflict) && attempt < REWRAP_ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// An async writer that hashes and counts what passes through to `inner`.
struct HashingSink<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W> HashingSink<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashingSink<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            let written = buf.get(..*n).unwrap_or(buf);
            this.hasher.update(written);
            this.bytes += written.len() as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn clip_ids_become_file_names_only_when_harmless() {
        assert!(safe_file_stem("0a1b2c-d_e"));
        for bad in ["", "../x", "a/b", "a.b", &"x".repeat(65)] {
            assert!(!safe_file_stem(bad), "{bad}");
        }
    }

    #[test]
    fn parent_of_a_bare_name_is_here() {
        assert_eq!(parent_dir(Path::new("x.mp4")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("/a/x.mp4")), PathBuf::from("/a"));
    }

    #[tokio::test]
    async fn the_sink_hashes_what_it_writes() {
        use tokio::io::AsyncWriteExt;
        let mut sink = HashingSink::new(Vec::new());
        sink.write_all(b"hello ").await.unwrap();
        sink.write_all(b"world").await.unwrap();
        assert_eq!(sink.bytes, 11);
        assert_eq!(
            sink.digest(),
            <[u8; 32]>::from(Sha256::digest(b"hello world"))
        );
        assert_eq!(sink.inner, b"hello world");
    }

    #[test]
    fn a_file_sealed_elsewhere_opens_and_a_stranger_cannot() {
        use porchlight_crypto::{DeviceSecret, seal};
        let dir = tempfile::tempdir().unwrap();
        let me = DeviceSecret::generate();
        let plaintext = vec![7u8; 200_000];
        let mut header = Vec::new();
        let mut payload = Vec::new();
        seal(&plaintext[..], &mut header, &mut payload, &[me.public()]).unwrap();
        let sealed = dir.path().join("x.age");
        std::fs::write(&sealed, [header, payload].concat()).unwrap();
        let out = dir.path().join("x.bin");
        assert_eq!(open_age_file(&sealed, &me, &out).unwrap(), 200_000);
        assert_eq!(std::fs::read(&out).unwrap(), plaintext);

        let stranger = DeviceSecret::generate();
        let err = open_age_file(&sealed, &stranger, &dir.path().join("y")).unwrap_err();
        assert_eq!(err.code(), "not_a_recipient", "{err}");
        assert!(!dir.path().join("y").exists());

        let mut damaged = std::fs::read(&sealed).unwrap();
        let last = damaged.len() - 5;
        damaged[last] ^= 1;
        std::fs::write(&sealed, damaged).unwrap();
        let err = open_age_file(&sealed, &me, &dir.path().join("z")).unwrap_err();
        assert_eq!(err.code(), "age_file_invalid", "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
        assert!(!dir.path().join("z").exists());

        // Not age at all, and age cut inside its header: said plainly, nothing written.
        std::fs::write(&sealed, b"a shopping list, not an encrypted file at all\n").unwrap();
        let err = open_age_file(&sealed, &me, &dir.path().join("z")).unwrap_err();
        assert_eq!(err.code(), "age_file_invalid", "{err}");
        assert!(err.to_string().contains("not an age file"), "{err}");
        std::fs::write(&sealed, b"hi\n").unwrap();
        let err = open_age_file(&sealed, &me, &dir.path().join("z")).unwrap_err();
        assert_eq!(err.code(), "age_file_invalid", "{err}");
        std::fs::write(&sealed, b"age-encryption.org/v1\n-> X25519 abc\n").unwrap();
        let err = open_age_file(&sealed, &me, &dir.path().join("z")).unwrap_err();
        assert_eq!(err.code(), "age_file_invalid", "{err}");
        assert!(!dir.path().join("z").exists());
    }

    /// `age -a` output (armored: PEM-like base64 lines) opens like the binary file; armor
    /// whose base64 is damaged is refused as a damaged age file.
    #[test]
    fn an_armored_file_opens() {
        use porchlight_crypto::{DeviceSecret, age::Recipient};
        let dir = tempfile::tempdir().unwrap();
        let me = DeviceSecret::generate();
        let plaintext: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
        let recipient = me.public().age_recipient();
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn Recipient)).unwrap();
        let mut armored = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut writer = encryptor.wrap_output(armor).unwrap();
        std::io::Write::write_all(&mut writer, &plaintext).unwrap();
        writer.finish().unwrap().finish().unwrap();
        assert!(armored.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
        let sealed = dir.path().join("x.age");
        std::fs::write(&sealed, &armored).unwrap();
        let out = dir.path().join("x.bin");
        assert_eq!(open_age_file(&sealed, &me, &out).unwrap(), 150_000);
        assert_eq!(std::fs::read(&out).unwrap(), plaintext);

        let mut damaged = armored.clone();
        let middle = damaged.len() / 2;
        damaged[middle] = b'!';
        std::fs::write(&sealed, &damaged).unwrap();
        let err = open_age_file(&sealed, &me, &dir.path().join("y")).unwrap_err();
        assert_eq!(err.code(), "age_file_invalid", "{err}");
        assert!(!dir.path().join("y").exists());
    }
}
