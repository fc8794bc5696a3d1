//! age v1 headers, read and written by this crate so a stored clip's header can be re-wrapped
//! without touching its payload.
//!
//! The format is the age specification's (C2SP `age`): the version line
//! `age-encryption.org/v1`, one or more stanzas (`-> TAG ARG…` then the body in canonical
//! unpadded base64, 64 columns, ending with a short line), then `--- ` and the header MAC in
//! base64. The MAC is HMAC-SHA256 keyed with HKDF-SHA256(ikm = file key, salt = empty,
//! info = `"header"`) over the header up to and including `---`.
//!
//! The parser only accepts the canonical form, within [`MAX_HEADER_BYTES`].

use std::io::{BufRead, Read};

use age::Recipient as _;
use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza, grease_the_joint};
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clip::{ClipError, checked_recipients};
use crate::keys::DevicePublic;
use crate::wire::hkdf_sha256;

/// The largest header this crate reads or writes (far above what 256 recipients need).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
const AGE_PREFIX: &[u8] = b"age-encryption.org/";
const VERSION_LINE: &[u8] = b"age-encryption.org/v1";
const STANZA_PREFIX: &[u8] = b"-> ";
const MAC_PREFIX: &[u8] = b"---";
const MAC_LINE_PREFIX: &[u8] = b"--- ";
const ENCODED_MAC_CHARS: usize = 43;
const BODY_COLUMNS: usize = 64;
const HEADER_KEY_INFO: &[u8] = b"header";
const SCRYPT_TAG: &str = "scrypt";

/// What is wrong with an age header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    #[error("the header is larger than {MAX_HEADER_BYTES} bytes")]
    TooLarge,
    #[error("not an age file")]
    NotAge,
    #[error("an age format version other than v1")]
    UnsupportedVersion,
    #[error("the header ends early")]
    Truncated,
    #[error("header line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    #[error("the header has no recipient stanzas")]
    NoStanzas,
    /// The age specification: a passphrase (`scrypt`) stanza must be the only stanza.
    #[error("the header has a passphrase (scrypt) stanza among other stanzas")]
    ScryptNotAlone,
    #[error("{0} bytes follow the header's MAC line")]
    TrailingBytes(usize),
}

fn malformed(line: usize, reason: &'static str) -> HeaderError {
    HeaderError::Malformed { line, reason }
}

/// A parsed age v1 header (its MAC not yet checked: that needs the file key).
#[derive(Debug, PartialEq, Eq)]
pub struct ClipHeader {
    stanzas: Vec<Stanza>,
    mac: [u8; 32],
    /// Bytes the MAC covers: up to and including `---`.
    mac_input_len: usize,
    bytes: Vec<u8>,
}

struct Lines<'a> {
    input: &'a [u8],
    pos: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    /// The next line without its `\n`, and where it starts.
    fn next(&mut self) -> Result<(usize, &'a [u8]), HeaderError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(HeaderError::Truncated)?;
        let start = self.pos;
        self.pos += len + 1;
        self.number += 1;
        Ok((start, &rest[..len]))
    }
}

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// An age "arbitrary string": one or more ASCII characters 33 to 126.
fn is_arbitrary_string(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| (33..=126).contains(b))
}

impl ClipHeader {
    /// Parses a complete header: exactly the bytes up to and including the MAC line.
    pub fn parse(bytes: &[u8]) -> Result<Self, HeaderError> {
        if bytes.len() > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLarge);
        }
        if !bytes.starts_with(AGE_PREFIX) {
            return Err(HeaderError::NotAge);
        }
        let mut lines = Lines {
            input: bytes,
            pos: 0,
            number: 0,
        };
        let (_, version) = lines.next()?;
        if version != VERSION_LINE {
            return Err(HeaderError::UnsupportedVersion);
        }
        let mut stanzas = Vec::new();
        loop {
            let (start, line) = lines.next()?;
            if let Some(rest) = line.strip_prefix(STANZA_PREFIX) {
                stanzas.push(parse_stanza(rest, &mut lines)?);
            } else if line.starts_with(MAC_PREFIX) {
                let mac = parse_mac_line(line, lines.number)?;
                if stanzas.is_empty() {
                    return Err(HeaderError::NoStanzas);
                }
                let trailing = bytes.len() - lines.pos;
                if trailing != 0 {
                    return Err(HeaderError::TrailingBytes(trailing));
                }
                // As the age crate's decryptor refuses it: a clip it would not open is not
                // one Porchlight opens either.
                if stanzas.len() > 1 && stanzas.iter().any(|s| s.tag == SCRYPT_TAG) {
                    return Err(HeaderError::ScryptNotAlone);
                }
                return Ok(Self {
                    stanzas,
                    mac,
                    mac_input_len: start + MAC_PREFIX.len(),
                    bytes: bytes.to_vec(),
                });
            } else {
                return Err(malformed(lines.number, "expected a stanza or the MAC line"));
            }
        }
    }

    pub fn stanzas(&self) -> &[Stanza] {
        &self.stanzas
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Unwraps the file key with `identity` and checks the header MAC with it: only then
    /// is the header (and the key) to be trusted.
    pub(crate) fn file_key(&self, identity: &dyn age::Identity) -> Result<FileKey, ClipError> {
        let file_key = match identity.unwrap_stanzas(&self.stanzas) {
            None => return Err(ClipError::NoMatchingKey),
            Some(Err(_)) => return Err(ClipError::StanzaRejected),
            Some(Ok(key)) => key,
        };
        let mut mac = header_mac(&file_key);
        mac.update(&self.bytes[..self.mac_input_len]);
        mac.verify_slice(&self.mac)
            .map_err(|_| ClipError::HeaderMacMismatch)?;
        Ok(file_key)
    }
}

fn parse_stanza(first_line: &[u8], lines: &mut Lines<'_>) -> Result<Stanza, HeaderError> {
    let number = lines.number;
    let mut words = Vec::new();
    for word in first_line.split(|&b| b == b' ') {
        if !is_arbitrary_string(word) {
            return Err(malformed(
                number,
                "a stanza tag or argument is not an age string",
            ));
        }
        // Arbitrary strings are ASCII, so this cannot fail.
        words.push(String::from_utf8_lossy(word).into_owned());
    }
    let tag = words.remove(0);
    let mut encoded = Vec::new();
    loop {
        let (_, line) = lines.next()?;
        if line.len() > BODY_COLUMNS || !line.iter().copied().all(is_base64_char) {
            return Err(malformed(
                lines.number,
                "a stanza body line is not base64 in 64 columns",
            ));
        }
        encoded.extend_from_slice(line);
        if line.len() < BODY_COLUMNS {
            break;
        }
    }
    let body = BASE64_STANDARD_NO_PAD
        .decode(&encoded)
        .map_err(|_| malformed(lines.number, "a stanza body is not canonical base64"))?;
    Ok(Stanza {
        tag,
        args: words,
        body,
    })
}

fn parse_mac_line(line: &[u8], number: usize) -> Result<[u8; 32], HeaderError> {
    let encoded = line
        .strip_prefix(MAC_LINE_PREFIX)
        .filter(|e| e.len() == ENCODED_MAC_CHARS)
        .ok_or(malformed(
            number,
            "the MAC line is not `--- ` and 43 base64 characters",
        ))?;
    let mut mac = [0u8; 32];
    match BASE64_STANDARD_NO_PAD.decode_slice(encoded, &mut mac) {
        Ok(32) => Ok(mac),
        _ => Err(malformed(
            number,
            "the MAC is not canonical base64 of 32 bytes",
        )),
    }
}

#[allow(clippy::expect_used, reason = "HMAC accepts a key of any length")]
fn header_mac(file_key: &FileKey) -> Hmac<Sha256> {
    let key = hkdf_sha256(&[], file_key.expose_secret(), HEADER_KEY_INFO);
    <Hmac<Sha256> as Mac>::new_from_slice(key.as_slice()).expect("HMAC takes any key length")
}

fn write_stanza(out: &mut Vec<u8>, stanza: &Stanza) {
    out.extend_from_slice(STANZA_PREFIX);
    out.extend_from_slice(stanza.tag.as_bytes());
    for arg in &stanza.args {
        out.push(b' ');
        out.extend_from_slice(arg.as_bytes());
    }
    out.push(b'\n');
    let encoded = BASE64_STANDARD_NO_PAD.encode(&stanza.body);
    let mut lines = encoded.as_bytes().chunks(BODY_COLUMNS).peekable();
    while let Some(line) = lines.next() {
        out.extend_from_slice(line);
        out.push(b'\n');
        if lines.peek().is_none() && line.len() == BODY_COLUMNS {
            // The last body line must be short: add an empty one.
            out.push(b'\n');
        }
    }
    if encoded.is_empty() {
        out.push(b'\n');
    }
}

/// Serialises a header for `stanzas` and computes its MAC under `file_key`.
fn write_header(stanzas: &[Stanza], file_key: &FileKey) -> Vec<u8> {
    let mut out = VERSION_LINE.to_vec();
    out.push(b'\n');
    for stanza in stanzas {
        write_stanza(&mut out, stanza);
    }
    out.extend_from_slice(MAC_PREFIX);
    let mut mac = header_mac(file_key);
    mac.update(&out);
    let tag = mac.finalize().into_bytes();
    out.push(b' ');
    out.extend_from_slice(BASE64_STANDARD_NO_PAD.encode(tag).as_bytes());
    out.push(b'\n');
    out
}

/// Re-wraps a clip's header to a new recipient set; the payload is untouched and still
/// opens, now for exactly `new_recipients`.
///
/// The input header is parsed (bounded, canonical), its file key unwrapped with `identity`,
/// and its MAC checked before anything is trusted. The new header gets one fresh X25519
/// stanza per recipient (plus a random "grease" stanza, as age writes) and a new MAC.
pub fn rewrap(
    header: &[u8],
    identity: &dyn age::Identity,
    new_recipients: &[DevicePublic],
) -> Result<Vec<u8>, ClipError> {
    let recipients = checked_recipients(new_recipients)?;
    let parsed = ClipHeader::parse(header)?;
    let file_key = parsed.file_key(identity)?;
    let mut stanzas = Vec::with_capacity(recipients.len() + 1);
    for recipient in recipients {
        let (mut wrapped, _labels) = recipient
            .recipient_ref()
            .wrap_file_key(&file_key)
            .map_err(|_| ClipError::Wrap)?;
        stanzas.append(&mut wrapped);
    }
    stanzas.push(grease_the_joint());
    Ok(write_header(&stanzas, &file_key))
}

/// Reads a whole age file's header from `input`, leaving `input` at the payload's first
/// byte. At most [`MAX_HEADER_BYTES`] are read.
pub fn read_header<R: BufRead>(input: &mut R) -> Result<Vec<u8>, HeaderError> {
    let mut out = Vec::new();
    loop {
        let start = out.len();
        let room = (MAX_HEADER_BYTES + 1 - start) as u64;
        let read = input
            .by_ref()
            .take(room)
            .read_until(b'\n', &mut out)
            .map_err(|_| HeaderError::Truncated)?;
        if out.len() > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLarge);
        }
        if read == 0 || !out.ends_with(b"\n") {
            return Err(HeaderError::Truncated);
        }
        if start == 0 && !out.starts_with(AGE_PREFIX) {
            return Err(HeaderError::NotAge);
        }
        if out[start..].starts_with(MAC_PREFIX) {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    // From age's own format tests (age/src/format.rs): parsing is byte-exact.
    const AGE_HEADER: &str = "age-encryption.org/v1
-> X25519 CJM36AHmTbdHSuOQL+NESqyVQE75f2e610iRdLPEN20
C3ZAeY64NXS4QFrksLm3EGz+uPRyI0eQsWw7LWbbYig
-> X25519 ytazqsbmUnPwVWMVx0c1X9iUtGdY4yAB08UQTY2hNCI
N3pgrXkbIn/RrVt0T0G3sQr1wGWuclqKxTSWHSqGdkc
-> scrypt bBjlhJVYZeE4aqUdmtRHfw 15
ZV/AhotwSGqaPCU43cepl4WYUouAa17a3xpu4G2yi5k
-> some-full-body-recipient BjH7FA 37 mhir0Q
xD7o4VEOu1t7KZQ1gDgq2FPzBEeSRqbnqvQEXdLRYy143BxR6oFxsUUJCRB0ErXA

--- fgMiVLJHMlg9fW7CVG/hPS5EAU4Zeg19LyCP7SoH5nA
";

    /// [`AGE_HEADER`] with its scrypt stanza retagged: the same shapes, but a header the
    /// age specification allows (an scrypt stanza must stand alone).
    fn format_header() -> String {
        AGE_HEADER.replace("-> scrypt ", "-> not-scrypt ")
    }

    #[test]
    fn parses_and_rewrites_byte_exact() {
        let header = format_header();
        let h = ClipHeader::parse(header.as_bytes()).unwrap();
        assert_eq!(h.stanzas().len(), 4);
        assert_eq!(h.stanzas()[2].args, ["bBjlhJVYZeE4aqUdmtRHfw", "15"]);
        assert_eq!(h.stanzas()[3].body.len(), 48);
        let mut out = VERSION_LINE.to_vec();
        out.push(b'\n');
        for s in h.stanzas() {
            write_stanza(&mut out, s);
        }
        assert_eq!(out.len(), h.mac_input_len - MAC_PREFIX.len());
        assert_eq!(&out[..], &header.as_bytes()[..out.len()]);
    }

    /// Found by the `clip_header` fuzz target: an scrypt stanza among other stanzas parsed
    /// here, while the age crate (and the specification) refuse such a header.
    #[test]
    fn refuses_an_scrypt_stanza_that_is_not_alone() {
        assert_eq!(
            ClipHeader::parse(AGE_HEADER.as_bytes()).unwrap_err(),
            HeaderError::ScryptNotAlone
        );
        let found = "age-encryption.org/v1
-> scrypt A0wbPxZ+xGtVo1d0rJqDjxB+9OFt-> X25519 AAAA

-> X25519 CJM36AHmTbdHSuOQL+NESqyVQE75f2e610iRdLPEN20
C3ZAeY64NXS4QFrksLm3EGz+uPRyI0eQsWw7LWbbYig
--- fgMiVLJHMlg9fW7CVG/hPS5EAU4Zeg19LyCP7SoH5nA
";
        assert_eq!(
            ClipHeader::parse(found.as_bytes()).unwrap_err(),
            HeaderError::ScryptNotAlone
        );
        // Alone, an scrypt stanza is well formed (no Porchlight identity opens it).
        let alone = "age-encryption.org/v1
-> scrypt bBjlhJVYZeE4aqUdmtRHfw 15
ZV/AhotwSGqaPCU43cepl4WYUouAa17a3xpu4G2yi5k
--- fgMiVLJHMlg9fW7CVG/hPS5EAU4Zeg19LyCP7SoH5nA
";
        assert_eq!(
            ClipHeader::parse(alone.as_bytes()).unwrap().stanzas().len(),
            1
        );
    }

    #[test]
    fn refuses_non_canonical_headers() {
        let cases: &[(&str, HeaderError)] = &[
            ("", HeaderError::NotAge),
            ("age-encryption.org/v2\n", HeaderError::UnsupportedVersion),
            ("age-encryption.org/v1", HeaderError::Truncated),
            (
                "age-encryption.org/v1\n--- fgMiVLJHMlg9fW7CVG/hPS5EAU4Zeg19LyCP7SoH5nA\n",
                HeaderError::NoStanzas,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ClipHeader::parse(input.as_bytes()).unwrap_err(),
                *expected,
                "{input:?}"
            );
        }
        let trailing = format!("{AGE_HEADER}x");
        assert_eq!(
            ClipHeader::parse(trailing.as_bytes()).unwrap_err(),
            HeaderError::TrailingBytes(1)
        );
        // Padding, trailing bits, a long line, a bad MAC line, a space in a tag.
        for bad in [
            AGE_HEADER.replace("LWbbYig\n", "LWbbYig=\n"),
            AGE_HEADER.replace("LWbbYig\n", "LWbbYih\n"),
            AGE_HEADER.replace("ErXA\n\n", "ErXAAAAA\n"),
            AGE_HEADER.replace("--- fgMi", "---fgMi"),
            AGE_HEADER.replace("H5nA\n", "H5nB\n"),
            AGE_HEADER.replace("-> X25519 CJM", "->  X25519 CJM"),
            AGE_HEADER.replace("-> scrypt", "-> scr\u{7f}pt"),
        ] {
            assert!(
                matches!(
                    ClipHeader::parse(bad.as_bytes()),
                    Err(HeaderError::Malformed { .. })
                ),
                "{bad}"
            );
        }
        let huge = vec![b'a'; MAX_HEADER_BYTES + 1];
        assert_eq!(ClipHeader::parse(&huge).unwrap_err(), HeaderError::TooLarge);
    }

    #[test]
    fn read_header_stops_at_the_mac_line() {
        let mut file = AGE_HEADER.as_bytes().to_vec();
        file.extend_from_slice(b"payload");
        let mut input = &file[..];
        let header = read_header(&mut input).unwrap();
        assert_eq!(header, AGE_HEADER.as_bytes());
        assert_eq!(input, b"payload");

        let mut huge = b"age-encryption.org/v1\n-> X\n".to_vec();
        huge.extend(std::iter::repeat_n(b'A', 1 << 20));
        assert_eq!(
            read_header(&mut &huge[..]).unwrap_err(),
            HeaderError::TooLarge
        );
        assert_eq!(
            read_header(&mut &b"GIF89a\n"[..]).unwrap_err(),
            HeaderError::NotAge
        );
    }
}
