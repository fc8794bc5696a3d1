//! C2SP `tlog-checkpoint` (<https://c2sp.org/tlog-checkpoint>): a signed note whose text is
//! a log's origin, its tree size and its root hash, each on its own line.
//!
//! ```text
//! porch.example/log
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//!
//! — porch.example/log <base64(key id ‖ Ed25519 signature)>
//! ```
//!
//! Parsing is strict: a non-empty origin, the size in decimal without leading zeros (`0` for
//! the empty tree) and within `u64`, the root in canonical base64 of exactly 32 bytes, then
//! optional non-empty extension lines. [`open_checkpoint`], which Porchlight's clients use,
//! also refuses extension lines (its log writes none, and they are not auditable); read a
//! third-party checkpoint that has some with [`SignedNote::verify`] and
//! [`Checkpoint::parse_text`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::hash::{HASH_LEN, Hash};
use crate::note::{NoteError, NoteSigner, NoteVerifier, SignedNote, check_chars};

/// Why a checkpoint cannot be made, read or believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("a checkpoint text ends with a newline")]
    NotNewlineTerminated,
    #[error("a checkpoint has an origin, a tree size and a root hash line")]
    MissingLines,
    #[error("a checkpoint line is empty")]
    EmptyLine,
    #[error("a checkpoint line has a control character")]
    ControlCharacter,
    #[error("the tree size is not a decimal number")]
    NonDecimalSize,
    #[error("the tree size has a leading zero")]
    LeadingZeroSize,
    #[error("the tree size does not fit in 64 bits")]
    SizeOverflow,
    #[error("the root hash is not canonical base64")]
    BadRootBase64,
    #[error("the root hash is {0} bytes, not 32")]
    BadRootLength(usize),
    #[error("the checkpoint has extension lines, which this log does not write")]
    UnexpectedExtension,
    #[error("the checkpoint is for another log")]
    OriginMismatch,
}

/// A log's tree head: its origin, size and root, and any extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint of the tree of `size` leaves with root `root` in the log `origin`.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        check_line(origin)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (not recommended by the spec: monitors cannot audit it).
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        check_line(line)?;
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size: the number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &Hash {
        &self.root
    }

    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text: origin, size, root and extension lines, each ending in a newline.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        );
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Parses a checkpoint's note text strictly; verifies nothing.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::NotNewlineTerminated)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::MissingLines);
        };
        check_line(origin)?;
        let size = parse_size(size)?;
        let root = parse_root(root)?;
        let extensions = lines
            .map(|line| check_line(line).map(|()| line.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// This checkpoint as a signed note, signed by `signer`.
    pub fn sign(&self, signer: &NoteSigner) -> Result<SignedNote, CheckpointError> {
        Ok(SignedNote::sign(&self.to_text(), &[signer])?)
    }
}

/// Parses and verifies a signed checkpoint of the log `origin`, as Porchlight's clients take
/// it: a strict signed note that at least one of `verifiers` signed, whose text is a strict
/// checkpoint of that origin without extension lines.
pub fn open_checkpoint(
    msg: &[u8],
    origin: &str,
    verifiers: &[NoteVerifier],
) -> Result<Checkpoint, CheckpointError> {
    let note = SignedNote::parse(msg)?.verify(verifiers)?;
    let checkpoint = Checkpoint::parse_text(note.text())?;
    if !checkpoint.extensions.is_empty() {
        return Err(CheckpointError::UnexpectedExtension);
    }
    if checkpoint.origin != origin {
        return Err(CheckpointError::OriginMismatch);
    }
    Ok(checkpoint)
}

fn check_line(line: &str) -> Result<(), CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::EmptyLine);
    }
    if line.contains('\n') || check_chars(line).is_err() {
        return Err(CheckpointError::ControlCharacter);
    }
    Ok(())
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::EmptyLine);
    }
    if !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CheckpointError::NonDecimalSize);
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(CheckpointError::LeadingZeroSize);
    }
    line.bytes().try_fold(0u64, |n, digit| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(digit - b'0')))
            .ok_or(CheckpointError::SizeOverflow)
    })
}

fn parse_root(line: &str) -> Result<Hash, CheckpointError> {
    if line.is_empty() {
        return Err(CheckpointError::EmptyLine);
    }
    let bytes = BASE64
        .decode(line)
        .map_err(|_| CheckpointError::BadRootBase64)?;
    <[u8; HASH_LEN]>::try_from(bytes.as_slice())
        .map_err(|_| CheckpointError::BadRootLength(bytes.len()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_size("18446744073709551616"),
            Err(CheckpointError::SizeOverflow)
        );
        assert_eq!(parse_size("00"), Err(CheckpointError::LeadingZeroSize));
        assert_eq!(parse_size("012"), Err(CheckpointError::LeadingZeroSize));
        for bad in ["+1", "-1", "1 ", " 1", "0x10", "١"] {
            assert_eq!(
                parse_size(bad),
                Err(CheckpointError::NonDecimalSize),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_round_trip_with_extensions() {
        let c = Checkpoint::new("porch.example/log", 5, [1; 32])
            .unwrap()
            .with_extension("ext one")
            .unwrap();
        let text = c.to_text();
        assert_eq!(Checkpoint::parse_text(&text).unwrap(), c);
        assert_eq!(
            Checkpoint::new("a\nb", 1, [0; 32]).unwrap_err(),
            CheckpointError::ControlCharacter
        );
        assert_eq!(
            Checkpoint::new("", 1, [0; 32]).unwrap_err(),
            CheckpointError::EmptyLine
        );
    }
}
