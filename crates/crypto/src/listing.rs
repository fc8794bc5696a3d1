//! Whether a clip a listing shows may be shown: the one decision the CLI, the library and the
//! browser make for every clip of a page, before any payload is read.
//!
//! A listing is the server's word (camera, start, duration, payload hash) beside what the hub
//! signed (the statement, its signature and the hub's key). A clip is shown only when the
//! statement parses, its hub is a current hub of the verified chain, the signature verifies,
//! and the server's fields say what the hub signed. Anything else is refused with a
//! [`ListingRefusal`] that names why, in words fit to show the owner.
//!
//! The payload itself is checked when it is downloaded (its SHA-256 against the statement);
//! a listing check costs one Ed25519 verification and no download.

use std::fmt;

use crate::chain::VerifiedChain;
use crate::keys::HubKey;
use crate::statement::{ClipSignature, ClipStatement, StatementError, verify_clip_in_chain};

/// A listed clip's fields as bytes (the caller decodes base64 and hex; a field that does not
/// decode is passed empty and refused here as malformed).
#[derive(Debug, Clone, Copy)]
pub struct ListedClip<'a> {
    /// The camera's name as the server lists it (hubs sign the camera by its name).
    pub camera: &'a str,
    pub start_ms: i64,
    pub duration_ms: u64,
    /// SHA-256 of the sealed payload, as the server lists it.
    pub payload_sha256: &'a [u8],
    /// The hub's statement bytes.
    pub statement: &'a [u8],
    /// The hub's 64-byte Ed25519 signature over the statement.
    pub signature: &'a [u8],
    /// The 32-byte key of the hub the server says uploaded the clip.
    pub hub_key: &'a [u8],
}

/// A field of a listing: what is malformed, or what disagrees with the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListingField {
    Statement,
    Signature,
    HubKey,
    Camera,
    StartTime,
    Duration,
    PayloadHash,
}

impl ListingField {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Statement => "statement",
            Self::Signature => "signature",
            Self::HubKey => "hub key",
            Self::Camera => "camera",
            Self::StartTime => "start time",
            Self::Duration => "duration",
            Self::PayloadHash => "payload hash",
        }
    }
}

/// Why a listed clip is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListingRefusal {
    /// A field does not parse: a statement that is not one, a signature that is not 64
    /// bytes, a hub key that is not a key.
    Malformed {
        field: ListingField,
        /// Why the statement did not parse, when that is the field.
        statement: Option<StatementError>,
    },
    /// The hub the listing names is not a current hub of the chain: anyone may seal a file to
    /// the account's public keys, so a clip no hub of the chain signed may be planted.
    NotSignedByChainHub,
    /// The hub is in the chain but did not sign this statement.
    BadSignature,
    /// The hub signed a statement, but the server lists the clip as something else (another
    /// camera, time, length or payload).
    ListingMismatch { field: ListingField },
}

impl ListingRefusal {
    /// A stable snake_case code for scripts and the browser.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "statement_malformed",
            Self::NotSignedByChainHub => "not_signed_by_chain_hub",
            Self::BadSignature => "bad_signature",
            Self::ListingMismatch { .. } => "listing_mismatch",
        }
    }
}

impl ListingRefusal {
    /// The reason as said of a clip checked under another account's chain (a share's owner, a
    /// household's owner), where "your device chain" would be wrong.
    pub fn reason_under_owner(&self) -> String {
        match self {
            Self::NotSignedByChainHub => {
                "it is not signed by a hub of its owner's device chain".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl fmt::Display for ListingRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed {
                statement: Some(e), ..
            } => write!(f, "the hub's statement is malformed ({e})"),
            Self::Malformed { field, .. } => {
                write!(
                    f,
                    "the hub's statement is malformed (its {})",
                    field.as_str()
                )
            }
            Self::NotSignedByChainHub => {
                f.write_str("it is not signed by a hub of your device chain")
            }
            Self::BadSignature => f.write_str("the hub's signature does not verify"),
            Self::ListingMismatch { field } => write!(
                f,
                "the server's listing does not match what the hub signed ({})",
                field.as_str()
            ),
        }
    }
}

impl std::error::Error for ListingRefusal {}

/// A listed clip's fields as the HTTP API sends them: the statement and signature in base64,
/// the hub key and payload hash in hex. What the CLI and the browser both read.
#[derive(Debug, Clone, Copy)]
pub struct WireListedClip<'a> {
    pub camera: &'a str,
    pub start_ms: i64,
    pub duration_ms: u64,
    pub payload_sha256: &'a str,
    pub statement: &'a str,
    pub signature: &'a str,
    pub hub_key: &'a str,
}

/// [`check_listed_clip`] over the API's encodings: a field that is not base64 or hex is passed
/// on empty, and so refused as malformed.
pub fn check_wire_listed_clip(
    chain: &VerifiedChain,
    clip: &WireListedClip<'_>,
) -> Result<CheckedListing, ListingRefusal> {
    use base64::Engine as _;
    let base64 = |text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_default()
    };
    let hex = |text: &str| hex::decode(text).unwrap_or_default();
    let (statement, signature) = (base64(clip.statement), base64(clip.signature));
    let (hub_key, payload_sha256) = (hex(clip.hub_key), hex(clip.payload_sha256));
    check_listed_clip(
        chain,
        &ListedClip {
            camera: clip.camera,
            start_ms: clip.start_ms,
            duration_ms: clip.duration_ms,
            payload_sha256: &payload_sha256,
            statement: &statement,
            signature: &signature,
            hub_key: &hub_key,
        },
    )
}

/// What a listed clip is, once checked: the statement its hub signed, and that hub.
#[derive(Debug, Clone)]
pub struct CheckedListing {
    pub statement: ClipStatement,
    pub hub: HubKey,
    /// The hub's name in the chain.
    pub hub_name: String,
}

/// Checks a listed clip against `chain` (the account's verified chain, or the chain of the
/// account whose camera it is: a household's owner, a share's owner). See the module doc.
pub fn check_listed_clip(
    chain: &VerifiedChain,
    clip: &ListedClip<'_>,
) -> Result<CheckedListing, ListingRefusal> {
    let malformed = |field| ListingRefusal::Malformed {
        field,
        statement: None,
    };
    let statement =
        ClipStatement::from_bytes(clip.statement).map_err(|e| ListingRefusal::Malformed {
            field: ListingField::Statement,
            statement: Some(e),
        })?;
    let signature: [u8; 64] = clip
        .signature
        .try_into()
        .map_err(|_| malformed(ListingField::Signature))?;
    let hub: [u8; 32] = clip
        .hub_key
        .try_into()
        .map_err(|_| malformed(ListingField::HubKey))?;
    let hub = HubKey::from_bytes(hub).map_err(|_| malformed(ListingField::HubKey))?;
    let listed_hash: [u8; 32] = clip
        .payload_sha256
        .try_into()
        .map_err(|_| malformed(ListingField::PayloadHash))?;
    verify_clip_in_chain(
        chain,
        &statement,
        &ClipSignature::from_bytes(signature),
        &hub,
    )
    .map_err(|e| match e {
        StatementError::HubNotInChain => ListingRefusal::NotSignedByChainHub,
        _ => ListingRefusal::BadSignature,
    })?;
    let mismatch = |field| Err(ListingRefusal::ListingMismatch { field });
    if statement.camera_id() != clip.camera {
        return mismatch(ListingField::Camera);
    }
    if statement.start_ms() != clip.start_ms {
        return mismatch(ListingField::StartTime);
    }
    if statement.duration_ms() != clip.duration_ms {
        return mismatch(ListingField::Duration);
    }
    if &listed_hash != statement.payload_sha256() {
        return mismatch(ListingField::PayloadHash);
    }
    let hub_name = chain
        .hubs()
        .iter()
        .find(|h| h.key == hub)
        .map(|h| h.name.as_str().to_owned())
        .unwrap_or_default();
    Ok(CheckedListing {
        statement,
        hub,
        hub_name,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::chain::{ChainBuilder, ChainOp, Name};
    use crate::keys::{DeviceSecret, HubSecret};
    use crate::recovery::RecoveryKey;
    use crate::statement::sign_clip;

    struct Fixture {
        chain: VerifiedChain,
        statement: Vec<u8>,
        signature: Vec<u8>,
        hub_key: Vec<u8>,
        payload_sha256: Vec<u8>,
    }

    fn fixture() -> (Fixture, HubSecret) {
        let device = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let hub = HubSecret::generate();
        let mut builder =
            ChainBuilder::genesis(&device, Name::new("phone").unwrap(), recovery.public()).unwrap();
        builder
            .append(
                ChainOp::AddHub {
                    name: Name::new("porch").unwrap(),
                    hub: hub.public(),
                },
                &device,
            )
            .unwrap();
        let (chain, _) = builder.into_parts();
        let statement =
            ClipStatement::new("front", 1_700_000_000_000, 12_500, [7; 32], [9; 32]).unwrap();
        let signature = sign_clip(&statement, &hub);
        let fixture = Fixture {
            chain,
            statement: statement.to_bytes(),
            signature: signature.to_bytes().to_vec(),
            hub_key: hub.public().as_bytes().to_vec(),
            payload_sha256: vec![7; 32],
        };
        (fixture, hub)
    }

    fn listed(f: &Fixture) -> ListedClip<'_> {
        ListedClip {
            camera: "front",
            start_ms: 1_700_000_000_000,
            duration_ms: 12_500,
            payload_sha256: &f.payload_sha256,
            statement: &f.statement,
            signature: &f.signature,
            hub_key: &f.hub_key,
        }
    }

    #[test]
    fn a_clip_signed_by_a_hub_of_the_chain_as_listed_is_shown() {
        let (f, _) = fixture();
        let checked = check_listed_clip(&f.chain, &listed(&f)).unwrap();
        assert_eq!(checked.hub_name, "porch");
        assert_eq!(checked.statement.camera_id(), "front");
    }

    #[test]
    fn a_planted_clip_signed_by_another_key_is_not_signed_by_a_hub_of_the_chain() {
        let (mut f, _) = fixture();
        let stranger = HubSecret::generate();
        let statement = ClipStatement::from_bytes(&f.statement).unwrap();
        f.signature = sign_clip(&statement, &stranger).to_bytes().to_vec();
        f.hub_key = stranger.public().as_bytes().to_vec();
        let refused = check_listed_clip(&f.chain, &listed(&f)).unwrap_err();
        assert_eq!(refused, ListingRefusal::NotSignedByChainHub);
        assert_eq!(refused.code(), "not_signed_by_chain_hub");
        assert_eq!(
            refused.to_string(),
            "it is not signed by a hub of your device chain"
        );
        assert_eq!(
            refused.reason_under_owner(),
            "it is not signed by a hub of its owner's device chain"
        );
        assert_eq!(
            ListingRefusal::BadSignature.reason_under_owner(),
            ListingRefusal::BadSignature.to_string()
        );
    }

    #[test]
    fn a_signature_the_chain_hub_did_not_make_does_not_verify() {
        let (mut f, _) = fixture();
        f.signature[0] ^= 1;
        let refused = check_listed_clip(&f.chain, &listed(&f)).unwrap_err();
        assert_eq!(refused, ListingRefusal::BadSignature);
        assert_eq!(refused.code(), "bad_signature");
        // The chain hub's key beside a statement signed by someone else's key.
        let (mut f, _) = fixture();
        let statement = ClipStatement::from_bytes(&f.statement).unwrap();
        f.signature = sign_clip(&statement, &HubSecret::generate())
            .to_bytes()
            .to_vec();
        assert_eq!(
            check_listed_clip(&f.chain, &listed(&f)).unwrap_err(),
            ListingRefusal::BadSignature
        );
    }

    #[test]
    fn a_listing_that_says_other_than_the_statement_is_refused_naming_the_field() {
        let (f, _) = fixture();
        let cases: [(ListedClip<'_>, ListingField); 4] = [
            (
                ListedClip {
                    camera: "garden",
                    ..listed(&f)
                },
                ListingField::Camera,
            ),
            (
                ListedClip {
                    start_ms: 1,
                    ..listed(&f)
                },
                ListingField::StartTime,
            ),
            (
                ListedClip {
                    duration_ms: 99_000,
                    ..listed(&f)
                },
                ListingField::Duration,
            ),
            (
                ListedClip {
                    payload_sha256: &[8; 32],
                    ..listed(&f)
                },
                ListingField::PayloadHash,
            ),
        ];
        for (clip, field) in cases {
            let refused = check_listed_clip(&f.chain, &clip).unwrap_err();
            assert_eq!(refused, ListingRefusal::ListingMismatch { field });
            assert_eq!(refused.code(), "listing_mismatch");
            assert!(refused.to_string().contains(field.as_str()), "{refused}");
        }
    }

    #[test]
    fn malformed_fields_are_refused_naming_the_field() {
        let (f, _) = fixture();
        let short_statement = &f.statement[..f.statement.len() - 1];
        let refused = check_listed_clip(
            &f.chain,
            &ListedClip {
                statement: short_statement,
                ..listed(&f)
            },
        )
        .unwrap_err();
        assert_eq!(
            refused,
            ListingRefusal::Malformed {
                field: ListingField::Statement,
                statement: Some(StatementError::Truncated),
            }
        );
        assert_eq!(refused.code(), "statement_malformed");
        assert!(refused.to_string().contains("truncated"), "{refused}");
        for (clip, field) in [
            (
                ListedClip {
                    signature: &f.signature[..63],
                    ..listed(&f)
                },
                ListingField::Signature,
            ),
            (
                ListedClip {
                    hub_key: &[],
                    ..listed(&f)
                },
                ListingField::HubKey,
            ),
            (
                ListedClip {
                    payload_sha256: &[7; 31],
                    ..listed(&f)
                },
                ListingField::PayloadHash,
            ),
            (
                ListedClip {
                    statement: &[],
                    ..listed(&f)
                },
                ListingField::Statement,
            ),
        ] {
            match check_listed_clip(&f.chain, &clip).unwrap_err() {
                ListingRefusal::Malformed { field: got, .. } => assert_eq!(got, field),
                other => panic!("{field:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_removed_hub_no_longer_vouches_for_its_clips() {
        let device = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let hub = HubSecret::generate();
        let mut builder =
            ChainBuilder::genesis(&device, Name::new("phone").unwrap(), recovery.public()).unwrap();
        for op in [
            ChainOp::AddHub {
                name: Name::new("porch").unwrap(),
                hub: hub.public(),
            },
            ChainOp::RemoveHub {
                hub_key: *hub.public().as_bytes(),
            },
        ] {
            builder.append(op, &device).unwrap();
        }
        let (chain, _) = builder.into_parts();
        let (mut f, _) = fixture();
        let statement = ClipStatement::from_bytes(&f.statement).unwrap();
        f.signature = sign_clip(&statement, &hub).to_bytes().to_vec();
        f.hub_key = hub.public().as_bytes().to_vec();
        f.chain = chain;
        assert_eq!(
            check_listed_clip(&f.chain, &listed(&f)).unwrap_err(),
            ListingRefusal::NotSignedByChainHub
        );
    }
}
