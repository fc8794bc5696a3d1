//! Crockford base32 text for codes people copy, type or read aloud: uppercase out; in,
//! case is folded, spaces and dashes are dropped, and Crockford's look-alikes are read as
//! he says (`O` as `0`, `I` and `L` as `1`). The alphabet itself is the `base32` crate's.

use zeroize::Zeroizing;

/// Why text is not Crockford base32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextError {
    /// A character outside the alphabet, at this position of the input (in characters).
    InvalidCharacter { position: usize },
    /// The last character has bits set beyond the data's end: not what we encode.
    NonCanonical,
}

pub(crate) fn encode(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(base32::encode(base32::Alphabet::Crockford, bytes))
}

/// Splits `text` into groups of `group` characters joined by dashes.
pub(crate) fn grouped(text: &str, group: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len() + text.len() / group));
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % group == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

fn fold(c: char) -> char {
    match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    }
}

/// Decodes, tolerating case, spaces, dashes and look-alikes.
pub(crate) fn decode(text: &str) -> Result<Zeroizing<Vec<u8>>, TextError> {
    let mut folded = Zeroizing::new(String::with_capacity(text.len()));
    for (position, c) in text.chars().enumerate() {
        if c == '-' || c.is_ascii_whitespace() {
            continue;
        }
        let c = fold(c);
        if !c.is_ascii_alphanumeric() || c == 'U' {
            return Err(TextError::InvalidCharacter { position });
        }
        folded.push(c);
    }
    let bytes = Zeroizing::new(
        base32::decode(base32::Alphabet::Crockford, &folded)
            .ok_or(TextError::InvalidCharacter { position: 0 })?,
    );
    if encode(&bytes).as_str() != folded.as_str() {
        return Err(TextError::NonCanonical);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn tolerant_but_canonical() {
        let bytes = [0xde, 0xad, 0xbe, 0xef, 0x01];
        let text = encode(&bytes);
        assert_eq!(text.as_str(), "VTPVXVR1");
        assert_eq!(decode("vtpv-xvrl").unwrap().as_slice(), &bytes);
        assert_eq!(decode(" VTPV XVRI ").unwrap().as_slice(), &bytes);
        assert_eq!(
            decode("VTPU"),
            Err(TextError::InvalidCharacter { position: 3 })
        );
        assert_eq!(
            decode("VT*"),
            Err(TextError::InvalidCharacter { position: 2 })
        );
        // Two characters carry 10 bits: one byte and two bits that must be zero.
        assert_eq!(decode("01"), Err(TextError::NonCanonical));
        assert_eq!(decode("04").unwrap().as_slice(), &[0x01]);
        assert_eq!(grouped("ABCDEFGHJ", 4).as_str(), "ABCD-EFGH-J");
    }
}
