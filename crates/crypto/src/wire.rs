//! The canonical binary encoding shared by the chain link, the pairing code, the clip
//! statement and the secret-key files: fixed field order, big-endian integers, short
//! fields prefixed by a one-byte length. A [`Reader`] parses `&[u8]` and is the only way in,
//! so every format refuses truncation, over-long fields and trailing bytes the same way.

use sha2::{Digest, Sha256};

/// Why bytes could not be read as a canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    /// The input ended inside a field.
    Truncated,
    /// A length-prefixed field is longer than its format allows.
    TooLong { max: usize, found: usize },
    /// Bytes follow the last field.
    Trailing { count: usize },
}

/// Builds a canonical encoding.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn u8(&mut self, value: u8) -> &mut Self {
        self.out.push(value);
        self
    }

    pub(crate) fn u64(&mut self, value: u64) -> &mut Self {
        self.out.extend_from_slice(&value.to_be_bytes());
        self
    }

    pub(crate) fn i64(&mut self, value: i64) -> &mut Self {
        self.out.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// A fixed-size field, written as is.
    pub(crate) fn fixed(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// A short field: one length byte, then the bytes. Callers hold values that were
    /// parsed with a maximum of at most 255 bytes, so the length always fits.
    pub(crate) fn short(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
        self.out.push(len);
        self.out.extend_from_slice(&bytes[..usize::from(len)]);
        self
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// Reads a canonical encoding front to back.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self { rest: input }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// `n` bytes, as they are.
    pub(crate) fn fixed_slice(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        self.take(n)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array::<8>()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array::<8>()?))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A short field of at most `max` bytes (a longer one is refused before its bytes are
    /// looked at).
    pub(crate) fn short(&mut self, max: usize) -> Result<&'a [u8], WireError> {
        let len = usize::from(self.u8()?);
        if len > max {
            return Err(WireError::TooLong { max, found: len });
        }
        self.take(len)
    }

    /// Ends the parse: the input must be used up.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(WireError::Trailing { count }),
        }
    }
}

/// SHA-256 over a domain-separation string and then the parts, in order.
pub(crate) fn sha256_tagged(domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// HKDF-SHA256 (RFC 5869) to one 32-byte key.
#[allow(
    clippy::expect_used,
    reason = "32 bytes is far below HKDF-SHA256's 8160-byte output limit"
)]
pub(crate) fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
    let mut okm = zeroize::Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, okm.as_mut())
        .expect("a 32-byte HKDF-SHA256 output is always possible");
    okm
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut w = Writer::new();
        w.u8(7).u64(1 << 40).i64(-5).fixed(&[1, 2]).short(b"abc");
        let bytes = w.into_bytes();

        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u64(), Ok(1 << 40));
        assert_eq!(r.i64(), Ok(-5));
        assert_eq!(r.array::<2>(), Ok([1, 2]));
        assert_eq!(r.short(3), Ok(&b"abc"[..]));
        assert_eq!(r.finish(), Ok(()));

        let mut r = Reader::new(&bytes[..bytes.len() - 1]);
        r.array::<19>().ok();
        assert_eq!(r.short(3), Err(WireError::Truncated));

        let mut r = Reader::new(&[4, b'a', b'b', b'c', b'd']);
        assert_eq!(r.short(3), Err(WireError::TooLong { max: 3, found: 4 }));

        let r = Reader::new(&[1, 2]);
        assert_eq!(r.finish(), Err(WireError::Trailing { count: 2 }));
    }
}
