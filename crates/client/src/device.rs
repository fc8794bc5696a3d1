//! The client's device id: the value a session is bound to.

use std::fmt;

use rand::RngCore;

/// Random bytes in a device id. 128 bits: unguessable, and not worth more than the token beside it.
const DEVICE_ID_BYTES: usize = 16;

/// A client device id: 32 lowercase hex characters from 16 random bytes.
///
/// Sent in [`porchlight_proto::DEVICE_HEADER`] on every request. It is not a credential on its
/// own, but a stolen token is useless without it, so `Debug` shows only its first characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DeviceId(String);

/// A device id that is not 32 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a device id is 32 lowercase hex characters")]
pub struct InvalidDeviceId;

impl DeviceId {
    /// A new random id from the thread's cryptographically secure generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; DEVICE_ID_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    pub fn parse(value: &str) -> Result<Self, InvalidDeviceId> {
        let well_formed = value.len() == DEVICE_ID_BYTES * 2
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidDeviceId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({}…)", &self.0[..6])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_differ() {
        let a = DeviceId::generate();
        let b = DeviceId::generate();
        assert_ne!(a, b);
        assert_eq!(DeviceId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn parse_refuses_malformed_ids() {
        for bad in [
            "",
            "abc",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcdeg",
            "0123456789abcdef0123456789abcdef0",
            " 0123456789abcdef0123456789abcde",
        ] {
            assert_eq!(DeviceId::parse(bad), Err(InvalidDeviceId), "{bad:?}");
        }
    }

    #[test]
    fn debug_shows_only_a_prefix() {
        let id = DeviceId::parse("0123456789abcdef0123456789abcdef").unwrap_or_else(|_| {
            unreachable!("a well-formed id");
        });
        assert_eq!(format!("{id:?}"), "DeviceId(012345…)");
    }
}
