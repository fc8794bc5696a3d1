//! The error of the end-to-end work a client does with keys: the device chain, clips, pairing
//! and the hub. No variant carries a key, a token, a code or plaintext.

use std::path::PathBuf;

use porchlight_crypto::{
    ChainError, ClipError, KeyError, ListingRefusal, NameError, PairingError, StatementError,
};

use crate::error::ClientError;
use crate::home::HomeError;

/// What went wrong verifying, opening, re-wrapping or pairing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum E2eError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The chain the server served does not verify from the pinned root: a ghost device, a
    /// rollback, a fork, a forged or altered link.
    #[error("the device chain does not verify ({name}): {0}", name = chain_error_name(.0))]
    Chain(#[from] ChainError),
    /// A change this device tried to sign does not fit the chain (the device is there
    /// already, it is the last device, …).
    #[error("this change does not fit the device chain: {0}")]
    Refused(ChainError),
    #[error("the server sent link {index} in a form that is not a chain link: {reason}")]
    BadLink { index: usize, reason: String },
    #[error("the account has no device chain yet")]
    NoChain,
    #[error("this folder holds the keys of another account ({pinned}), not {account}")]
    OtherAccount { pinned: String, account: String },
    #[error("this home has no device keys")]
    NoDeviceKeys,
    #[error("a key file in {} is damaged: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
    #[error("this device is not in the account's device chain")]
    NotInChain,
    #[error("this device is in the account's device chain already")]
    AlreadyInChain,
    #[error("the server registered this device with other keys than the ones in this home")]
    RegisteredWithOtherKeys,
    #[error("no device {0} on this account")]
    UnknownDevice(String),
    #[error("device {id} is {state}, so it cannot be {action}")]
    WrongDeviceState {
        id: String,
        state: &'static str,
        action: &'static str,
    },
    #[error("device {0} is this device: remove it from another device")]
    RemovingSelf(String),
    #[error(
        "device {id}'s key fingerprint is {actual}, not {expected}: refusing to add it (someone may \
         have put their own key in its place)"
    )]
    FingerprintMismatch {
        id: String,
        expected: String,
        actual: String,
    },
    #[error(
        "the recovery code is not this account's: the chain's first link names another recovery key"
    )]
    RecoveryKeyMismatch,
    #[error("{subject}: {source}")]
    Clip {
        subject: String,
        #[source]
        source: ClipError,
    },
    #[error(
        "{subject}: the payload does not decrypt (a chunk failed authentication or is missing)"
    )]
    Corrupt { subject: String },
    /// A file given to open is not a whole age file (damaged, cut short, or not age at all).
    #[error("{subject}: {what}")]
    AgeFile { subject: String, what: String },
    /// The clip's listing or detail failed the one check of `check_listed_clip`: it is not to
    /// be shown.
    #[error("{subject} failed verification: {refusal}")]
    Unverified {
        subject: String,
        #[source]
        refusal: ListingRefusal,
    },
    #[error(
        "{subject}: the payload does not hash to what the hub signed (cut, corrupted or swapped on \
         the server)"
    )]
    PayloadMismatch { subject: String },
    #[error("{subject}: the server sent a malformed {what}")]
    BadClipDetail { subject: String, what: &'static str },
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the pairing code: {0}")]
    Pairing(#[from] PairingError),
    #[error(
        "the hub that redeemed the pairing code did not prove it holds the code: someone (perhaps \
         the server) tried to pair a hub of their own; nothing was signed"
    )]
    HubProof,
    #[error("the pairing code expired before a hub used it")]
    PairingExpired,
    #[error("gave up waiting after {secs} s")]
    Timeout { secs: u64 },
    #[error("{} holds no paired hub", path.display())]
    HubNotPaired { path: PathBuf },
    #[error("{} holds a hub paired already (hub {hub_id})", path.display())]
    HubAlreadyPaired { path: PathBuf, hub_id: String },
    #[error("this hub is not in the owner's device chain (yet, or any more)")]
    HubNotInChain,
    #[error("the camera name: {0}")]
    Camera(StatementError),
    #[error("the name {what}: {source}")]
    Name {
        what: &'static str,
        #[source]
        source: NameError,
    },
    #[error("no live consent covers {subject}: give consent for it or its camera first")]
    NoConsent { subject: String },
    #[error("{subject} is not a clip or camera of this account")]
    NotOwned { subject: String },
    #[error("the research item could not be made: {0}")]
    Research(String),
    #[error("the root: {reason}")]
    BadRoot { reason: String },
    #[error("{subject} has no such share")]
    NoSuchShare { subject: String },
    #[error("the feed post could not be made: {0}")]
    Feed(String),
}

impl E2eError {
    /// A snake_case code for scripts, in the style of the API's error codes.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Home(_) => "home",
            Self::Client(e) => e.code().map_or("client", |c| c.as_str()),
            Self::Chain(_) | Self::BadLink { .. } => "chain_invalid",
            Self::Refused(_) => "chain_refused",
            Self::NoChain => "no_chain",
            Self::OtherAccount { .. } => "other_account",
            Self::NoDeviceKeys => "no_device_keys",
            Self::KeyFile { .. } => "key_file_damaged",
            Self::NotInChain => "device_not_approved",
            Self::AlreadyInChain => "already_in_chain",
            Self::RegisteredWithOtherKeys => "conflict",
            Self::UnknownDevice(_) => "not_found",
            Self::WrongDeviceState { .. } | Self::RemovingSelf(_) => "invalid_input",
            Self::FingerprintMismatch { .. } => "fingerprint_mismatch",
            Self::RecoveryKeyMismatch => "recovery_key_mismatch",
            Self::Clip { source, .. } => match source {
                ClipError::NoMatchingKey => "not_a_recipient",
                ClipError::Io(_) => "io",
                _ => "clip_corrupt",
            },
            Self::Corrupt { .. } | Self::PayloadMismatch { .. } => "clip_corrupt",
            Self::AgeFile { .. } => "age_file_invalid",
            Self::Unverified { .. } => "clip_unverified",
            Self::BadClipDetail { .. } => "bad_response",
            Self::Io { .. } => "io",
            Self::Pairing(_) => "invalid_code",
            Self::HubProof => "pairing_proof_invalid",
            Self::PairingExpired => "pairing_expired",
            Self::Timeout { .. } => "timeout",
            Self::HubNotPaired { .. } => "hub_not_paired",
            Self::HubAlreadyPaired { .. } => "hub_already_paired",
            Self::HubNotInChain => "device_not_approved",
            Self::Camera(_) | Self::Name { .. } => "usage",
            Self::NoConsent { .. } => "no_consent",
            Self::NotOwned { .. } => "not_owned",
            Self::Research(_) => "research_item",
            Self::BadRoot { .. } => "invalid_input",
            Self::NoSuchShare { .. } => "not_found",
            Self::Feed(_) => "feed_post",
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The name of a chain error's rule, as the crypto crate calls it (`Rollback`, `Fork`,
/// `SignerNotMember`, …), so a report names exactly which check failed.
pub fn chain_error_name(error: &ChainError) -> &'static str {
    match error {
        ChainError::Empty => "Empty",
        ChainError::PinMismatch { .. } => "PinMismatch",
        ChainError::FirstLinkNotGenesis => "FirstLinkNotGenesis",
        ChainError::GenesisNotSelfSigned => "GenesisNotSelfSigned",
        ChainError::GenesisNotFirst { .. } => "GenesisNotFirst",
        ChainError::BadSequence { .. } => "BadSequence",
        ChainError::BadPrevHash { .. } => "BadPrevHash",
        ChainError::SignerNotMember { .. } => "SignerNotMember",
        ChainError::SignerRemoved { .. } => "SignerRemoved",
        ChainError::SignerIsHub { .. } => "SignerIsHub",
        ChainError::BadSignature { .. } => "BadSignature",
        ChainError::InvalidOp { .. } => "InvalidOp",
        ChainError::Rollback { .. } => "Rollback",
        ChainError::Fork { .. } => "Fork",
        _ => "ChainError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_errors_name_their_rule() {
        let err = E2eError::from(ChainError::Rollback {
            seen_seq: 3,
            chain_len: 2,
        });
        let text = err.to_string();
        assert!(text.contains("(Rollback)"), "{text}");
        assert!(text.contains("link 3"), "{text}");
        assert_eq!(err.code(), "chain_invalid");
        let ghost = E2eError::from(ChainError::SignerNotMember { seq: 2 });
        assert!(ghost.to_string().contains("SignerNotMember"));
    }

    #[test]
    fn not_a_recipient_has_its_own_code() {
        let err = E2eError::Clip {
            subject: "clip c1".into(),
            source: ClipError::NoMatchingKey,
        };
        assert_eq!(err.code(), "not_a_recipient");
        let err = E2eError::Clip {
            subject: "clip c1".into(),
            source: ClipError::HeaderMacMismatch,
        };
        assert_eq!(err.code(), "clip_corrupt");
    }
}
