//! Sealing clips in the age v1 format, stored as two blobs: the header (the recipient
//! stanzas and the MAC) and the payload (the 16-byte nonce and the 64 KiB
//! ChaCha20-Poly1305 STREAM chunks). `header ‖ payload` is a standard age file.
//!
//! Everything streams: [`seal`] copies through `age`'s writer, [`open`] returns `age`'s
//! reader (seekable when the payload is), and neither holds a whole clip in memory.

use std::fmt;
use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use crate::header::{ClipHeader, HeaderError, MAX_HEADER_BYTES, read_header};
use crate::keys::DevicePublic;

/// Most recipients one clip may be sealed to (keeps every header far below
/// [`MAX_HEADER_BYTES`]).
pub const MAX_RECIPIENTS: usize = 256;

/// What went wrong sealing, opening or re-wrapping a clip.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClipError {
    #[error("bad clip header: {0}")]
    Header(#[from] HeaderError),
    #[error("a clip needs at least one recipient")]
    NoRecipients,
    #[error("{count} recipients is more than the {MAX_RECIPIENTS} a clip may have")]
    TooManyRecipients { count: usize },
    #[error("this key is not a recipient of the clip")]
    NoMatchingKey,
    #[error("a recipient stanza for this key is malformed")]
    StanzaRejected,
    #[error("the header MAC does not match: the header was altered")]
    HeaderMacMismatch,
    #[error("the file key could not be wrapped to a recipient")]
    Wrap,
    #[error("the clip payload is truncated")]
    PayloadTruncated,
    #[error("the clip could not be encrypted")]
    Encrypt,
    #[error("the clip could not be decrypted")]
    Decrypt,
    #[error("the age writer did not produce a complete header")]
    HeaderIncomplete,
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl From<age::DecryptError> for ClipError {
    fn from(e: age::DecryptError) -> Self {
        match e {
            age::DecryptError::InvalidMac => ClipError::HeaderMacMismatch,
            age::DecryptError::NoMatchingKeys => ClipError::NoMatchingKey,
            age::DecryptError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                ClipError::PayloadTruncated
            }
            age::DecryptError::Io(e) => ClipError::Io(e),
            _ => ClipError::Decrypt,
        }
    }
}

/// Refuses an empty or over-large recipient list, and drops repeated keys.
pub(crate) fn checked_recipients(
    recipients: &[DevicePublic],
) -> Result<Vec<&DevicePublic>, ClipError> {
    let mut unique: Vec<&DevicePublic> = Vec::with_capacity(recipients.len());
    for r in recipients {
        if !unique.iter().any(|u| u.age() == r.age()) {
            unique.push(r);
        }
    }
    match unique.len() {
        0 => Err(ClipError::NoRecipients),
        count if count > MAX_RECIPIENTS => Err(ClipError::TooManyRecipients { count }),
        _ => Ok(unique),
    }
}

// ---- hashing while writing ----

/// Passes writes through to `inner` and hashes them (SHA-256): the hub hashes a clip's
/// payload for its [`crate::ClipStatement`] as it uploads it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The inner writer, the SHA-256 of everything written, and its length.
    pub fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.hasher.finalize().into(), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let written = buf.get(..n).unwrap_or(buf);
        self.hasher.update(written);
        self.bytes += written.len() as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> fmt::Debug for HashingWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashingWriter")
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

/// SHA-256 and length of everything `input` yields (a stored payload, a downloaded one).
pub fn sha256_reader<R: Read>(mut input: R) -> io::Result<([u8; 32], u64)> {
    let mut sink = HashingWriter::new(io::sink());
    io::copy(&mut input, &mut sink)?;
    let (_, digest, bytes) = sink.finish();
    Ok((digest, bytes))
}

// ---- sealing ----

/// Sizes and the payload hash of a sealed clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedSizes {
    pub header_bytes: u64,
    pub payload_bytes: u64,
    pub plaintext_bytes: u64,
    /// SHA-256 of the payload blob: what the clip statement signs.
    pub payload_sha256: [u8; 32],
}

/// Sends the bytes age writes up to and including the header's MAC line to one writer,
/// and the rest to another.
struct SplitWriter<H, P> {
    header_out: H,
    header: Vec<u8>,
    line_start: usize,
    done: bool,
    payload: P,
}

impl<H: Write, P: Write> SplitWriter<H, P> {
    fn finish(mut self) -> Result<(u64, P), ClipError> {
        if !self.done {
            return Err(ClipError::HeaderIncomplete);
        }
        self.header_out.flush()?;
        self.payload.flush()?;
        Ok((self.header.len() as u64, self.payload))
    }
}

impl<H: Write, P: Write> Write for SplitWriter<H, P> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.done {
            return self.payload.write(buf);
        }
        for (i, &b) in buf.iter().enumerate() {
            self.header.push(b);
            if self.header.len() > MAX_HEADER_BYTES {
                return Err(io::Error::other("age header larger than the limit"));
            }
            if b != b'\n' {
                continue;
            }
            // Stanza lines start with "->", body lines are base64: only the MAC line
            // starts with "---".
            if self.header[self.line_start..].starts_with(b"---") {
                self.done = true;
                self.header_out.write_all(&self.header)?;
                self.payload.write_all(&buf[i + 1..])?;
                return Ok(buf.len());
            }
            self.line_start = self.header.len();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.header_out.flush()?;
        self.payload.flush()
    }
}

/// Seals `plaintext` to `recipients` (each device's age key) in the age v1 format, writing
/// the header and the payload to separate writers as it goes.
pub fn seal<R: Read, H: Write, P: Write>(
    mut plaintext: R,
    out_header: H,
    out_payload: P,
    recipients: &[DevicePublic],
) -> Result<SealedSizes, ClipError> {
    let recipients = checked_recipients(recipients)?;
    let encryptor = age::Encryptor::with_recipients(
        recipients
            .iter()
            .map(|r| r.recipient_ref() as &dyn age::Recipient),
    )
    .map_err(|e| match e {
        age::EncryptError::Io(e) => ClipError::Io(e),
        _ => ClipError::Encrypt,
    })?;
    let split = SplitWriter {
        header_out: out_header,
        header: Vec::new(),
        line_start: 0,
        done: false,
        payload: HashingWriter::new(out_payload),
    };
    let mut writer = encryptor.wrap_output(split)?;
    let plaintext_bytes = io::copy(&mut plaintext, &mut writer)?;
    let (header_bytes, payload) = writer.finish()?.finish()?;
    let (_, payload_sha256, payload_bytes) = payload.finish();
    Ok(SealedSizes {
        header_bytes,
        payload_bytes,
        plaintext_bytes,
        payload_sha256,
    })
}

// ---- opening ----

/// The header bytes followed by the payload reader, as one age file; seekable when the
/// payload is. The payload's own position where reading began counts as the payload's
/// first byte.
struct Joined<R> {
    header: Vec<u8>,
    header_pos: usize,
    payload: R,
    /// Payload bytes read before the first seek, to find where the payload starts.
    payload_read: u64,
    payload_start: Option<u64>,
}

impl<R: Read> Read for Joined<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(rest) = self.header.get(self.header_pos..).filter(|r| !r.is_empty()) {
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.header_pos += n;
            return Ok(n);
        }
        let n = self.payload.read(buf)?;
        self.payload_read += n as u64;
        Ok(n)
    }
}

fn seek_error(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

impl<R: Read + Seek> Joined<R> {
    fn payload_start(&mut self) -> io::Result<u64> {
        if let Some(start) = self.payload_start {
            return Ok(start);
        }
        let now = self.payload.stream_position()?;
        let start = now
            .checked_sub(self.payload_read)
            .ok_or_else(|| seek_error("payload position went backwards"))?;
        self.payload_start = Some(start);
        Ok(start)
    }

    fn position(&mut self, start: u64) -> io::Result<u64> {
        let header_len = self.header.len() as u64;
        if self.header_pos < self.header.len() {
            return Ok(self.header_pos as u64);
        }
        let now = self.payload.stream_position()?;
        let into_payload = now
            .checked_sub(start)
            .ok_or_else(|| seek_error("payload position before its start"))?;
        header_len
            .checked_add(into_payload)
            .ok_or_else(|| seek_error("position overflows"))
    }
}

impl<R: Read + Seek> Seek for Joined<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let start = self.payload_start()?;
        let header_len = self.header.len() as u64;
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(delta) => self.position(start)?.checked_add_signed(delta),
            SeekFrom::End(delta) => {
                let end = self.payload.seek(SeekFrom::End(0))?;
                let payload_len = end
                    .checked_sub(start)
                    .ok_or_else(|| seek_error("payload ends before its start"))?;
                header_len
                    .checked_add(payload_len)
                    .and_then(|len| len.checked_add_signed(delta))
            }
        }
        .ok_or_else(|| seek_error("seek before the start or past u64"))?;
        if let Some(in_header) = usize::try_from(target)
            .ok()
            .filter(|t| *t < self.header.len())
        {
            self.header_pos = in_header;
            self.payload.seek(SeekFrom::Start(start))?;
        } else {
            self.header_pos = self.header.len();
            let offset = start
                .checked_add(target - header_len)
                .ok_or_else(|| seek_error("position overflows"))?;
            self.payload.seek(SeekFrom::Start(offset))?;
        }
        Ok(target)
    }
}

/// The plaintext of an opened clip. Reads stream chunk by chunk; a chunk that fails its
/// authentication tag, or a truncated payload, is an `io::Error` (never a panic, never
/// unauthenticated bytes). Seekable when the payload is, for range reads.
pub struct ClipReader<R> {
    inner: age::stream::StreamReader<Joined<R>>,
}

impl<R: Read> Read for ClipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R: Read + Seek> Seek for ClipReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl<R> fmt::Debug for ClipReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClipReader").finish_non_exhaustive()
    }
}

/// Opens a clip stored as `header` and `payload` with `identity` (a [`crate::DeviceSecret`],
/// a [`crate::RecoveryKey`] or any age identity). The header is parsed with a size limit and
/// its MAC checked before the payload is touched.
pub fn open<R: Read>(
    header: &[u8],
    payload: R,
    identity: &dyn age::Identity,
) -> Result<ClipReader<R>, ClipError> {
    let parsed = ClipHeader::parse(header)?;
    drop(parsed.file_key(identity)?);
    let joined = Joined {
        header: header.to_vec(),
        header_pos: 0,
        payload,
        payload_read: 0,
        payload_start: None,
    };
    let decryptor = age::Decryptor::new(joined)?;
    let inner = decryptor.decrypt(std::iter::once(identity))?;
    Ok(ClipReader { inner })
}

/// Opens a whole age file (`header ‖ payload`, e.g. one made by `age -r`).
pub fn open_file<R: BufRead>(
    mut file: R,
    identity: &dyn age::Identity,
) -> Result<ClipReader<R>, ClipError> {
    let header = read_header(&mut file)?;
    open(&header, file, identity)
}
