//! Sealed event notices: a doorbell press (or another event) told to the owner's devices in
//! real time, through a server that can neither read nor forge one.
//!
//! ```text
//! notice = age file (header ‖ payload, to the chain's recipients) ‖ hub key (32) ‖ signature (64)
//! signed message = "porchlight event notice v1\0" ‖ age file ‖ hub key
//! ```
//!
//! The plaintext is a small JSON, [`NoticeBody`] (camera, kind, time, a random id); the hub
//! writes it and every device reads it with [`open_event_notice`]. The server sees that a notice exists, its size and which hub sent it; the device
//! checks the hub key is a current hub of its own verified chain and the signature under it
//! before opening, so a server cannot make up a doorbell press, nor pass off one hub's notice
//! as another's. A replayed notice opens to its old time and id: the reader judges freshness.

use crate::chain::VerifiedChain;
use crate::clip::{ClipError, open_file, seal};
use crate::keys::{DevicePublic, HubKey, HubSecret, verify_strict};

pub const NOTICE_SIGNATURE_DOMAIN: &[u8] = b"porchlight event notice v1\0";
/// A notice's plaintext is small: this bounds what a device decrypts for one.
pub const MAX_NOTICE_PLAINTEXT: usize = 4096;
/// The largest sealed notice accepted (the age header grows with the number of devices).
pub const MAX_NOTICE_BYTES: usize = 64 * 1024;

const TRAILER: usize = 32 + 64;

/// Why a notice did not open.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("the notice is too short or too long")]
    BadLength,
    #[error("the notice comes from a hub that is not in the account's chain")]
    HubNotInChain,
    #[error("the notice's signature does not verify under its hub's key")]
    BadSignature,
    #[error("the notice's plaintext is larger than {MAX_NOTICE_PLAINTEXT} bytes")]
    TooLarge,
    #[error(transparent)]
    Clip(#[from] ClipError),
    #[error("the notice's sealed details are not readable")]
    Unreadable,
}

/// What a hub says in a notice (its sealed plaintext, JSON, version 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NoticeBody {
    /// A random id, the same on every device that opens it.
    pub id: String,
    /// The camera's name on its hub.
    pub camera: String,
    /// `doorbell`, `motion`, `manual`…
    pub kind: String,
    /// When it happened, by the hub's clock.
    pub at_ms: i64,
}

#[derive(serde::Serialize)]
struct VersionedBody<'a> {
    version: u32,
    #[serde(flatten)]
    body: &'a NoticeBody,
}

impl NoticeBody {
    /// The plaintext to seal.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and numbers always serialises.
        serde_json::to_vec(&VersionedBody {
            version: 1,
            body: self,
        })
        .unwrap_or_default()
    }
}

/// A notice checked and opened on a device: which hub of the chain sent it, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNotice {
    pub hub: HubKey,
    /// The hub's name in the chain.
    pub hub_name: String,
    pub body: NoticeBody,
}

fn signed_message(sealed: &[u8], hub: &[u8; 32]) -> Vec<u8> {
    [NOTICE_SIGNATURE_DOMAIN, sealed, hub.as_slice()].concat()
}

/// Seals `plaintext` to `recipients` and signs it with the hub's key.
pub fn seal_notice(
    hub: &HubSecret,
    recipients: &[DevicePublic],
    plaintext: &[u8],
) -> Result<Vec<u8>, NoticeError> {
    if plaintext.len() > MAX_NOTICE_PLAINTEXT {
        return Err(NoticeError::TooLarge);
    }
    let mut sealed = Vec::new();
    let mut payload = Vec::new();
    seal(plaintext, &mut sealed, &mut payload, recipients)?;
    sealed.extend_from_slice(&payload);
    let key = *hub.public().as_bytes();
    let signature = hub.sign(&signed_message(&sealed, &key));
    sealed.extend_from_slice(&key);
    sealed.extend_from_slice(&signature);
    Ok(sealed)
}

/// Checks a notice's hub against `chain` and its signature, then opens it with `identity`.
/// Returns the hub that sent it and the plaintext.
pub fn open_notice(
    notice: &[u8],
    chain: &VerifiedChain,
    identity: &dyn age::Identity,
) -> Result<(HubKey, Vec<u8>), NoticeError> {
    if notice.len() <= TRAILER || notice.len() > MAX_NOTICE_BYTES {
        return Err(NoticeError::BadLength);
    }
    let (sealed, trailer) = notice.split_at(notice.len() - TRAILER);
    let (key, signature) = trailer.split_at(32);
    let key: [u8; 32] = key.try_into().map_err(|_| NoticeError::BadLength)?;
    let signature: [u8; 64] = signature.try_into().map_err(|_| NoticeError::BadLength)?;
    let hub = HubKey::from_bytes(key).map_err(|_| NoticeError::HubNotInChain)?;
    if !chain.has_hub(&hub) {
        return Err(NoticeError::HubNotInChain);
    }
    if !verify_strict(
        hub.verifying_key(),
        &signed_message(sealed, &key),
        &signature,
    ) {
        return Err(NoticeError::BadSignature);
    }
    let mut reader = open_file(sealed, identity)?;
    let mut plaintext = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut reader, MAX_NOTICE_PLAINTEXT as u64 + 1),
        &mut plaintext,
    )
    .map_err(|e| NoticeError::Clip(ClipError::from(e)))?;
    if plaintext.len() > MAX_NOTICE_PLAINTEXT {
        return Err(NoticeError::TooLarge);
    }
    Ok((hub, plaintext))
}

/// [`open_notice`], then the hub's [`NoticeBody`] read: what the CLI and the browser show.
pub fn open_event_notice(
    notice: &[u8],
    chain: &VerifiedChain,
    identity: &dyn age::Identity,
) -> Result<OpenedNotice, NoticeError> {
    let (hub, plaintext) = open_notice(notice, chain, identity)?;
    let body: NoticeBody =
        serde_json::from_slice(&plaintext).map_err(|_| NoticeError::Unreadable)?;
    let hub_name = chain
        .hubs()
        .iter()
        .find(|entry| entry.key == hub)
        .map(|entry| entry.name.as_str().to_owned())
        .ok_or(NoticeError::HubNotInChain)?;
    Ok(OpenedNotice {
        hub,
        hub_name,
        body,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::chain::{ChainBuilder, ChainOp, Name};
    use crate::keys::DeviceSecret;
    use crate::recovery::RecoveryKey;

    struct Home {
        phone: DeviceSecret,
        hub: HubSecret,
        chain: ChainBuilder,
    }

    fn home() -> Home {
        let phone = DeviceSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let mut chain =
            ChainBuilder::genesis(&phone, Name::new("phone").unwrap(), recovery.public()).unwrap();
        let hub = HubSecret::generate();
        chain
            .append(
                ChainOp::AddHub {
                    name: Name::new("hub").unwrap(),
                    hub: hub.public(),
                },
                &phone,
            )
            .unwrap();
        Home { phone, hub, chain }
    }

    #[test]
    fn a_notice_opens_on_a_device_of_the_chain() {
        let h = home();
        let notice = seal_notice(
            &h.hub,
            &h.chain.chain().recipients(),
            b"{\"kind\":\"doorbell\"}",
        )
        .unwrap();
        let (hub, plain) = open_notice(&notice, h.chain.chain(), &h.phone).unwrap();
        assert_eq!(hub, h.hub.public());
        assert_eq!(plain, b"{\"kind\":\"doorbell\"}");
    }

    #[test]
    fn an_event_notice_reads_as_the_hub_wrote_it() {
        let h = home();
        let body = NoticeBody {
            id: "ab12".into(),
            camera: "front door".into(),
            kind: "doorbell".into(),
            at_ms: 1_765_000_000_000,
        };
        let json = body.to_json();
        assert!(json.starts_with(br#"{"version":1,"#));
        let notice = seal_notice(&h.hub, &h.chain.chain().recipients(), &json).unwrap();
        let opened = open_event_notice(&notice, h.chain.chain(), &h.phone).unwrap();
        assert_eq!(opened.body, body);
        assert_eq!(opened.hub, h.hub.public());
        assert_eq!(opened.hub_name, "hub");
        let garbled = seal_notice(&h.hub, &h.chain.chain().recipients(), b"ring").unwrap();
        assert!(matches!(
            open_event_notice(&garbled, h.chain.chain(), &h.phone),
            Err(NoticeError::Unreadable)
        ));
    }

    #[test]
    fn forged_altered_and_foreign_notices_are_refused() {
        let h = home();
        let recipients = h.chain.chain().recipients();
        let notice = seal_notice(&h.hub, &recipients, b"ring").unwrap();
        // Every single-byte change is refused before or while opening.
        for i in (0..notice.len()).step_by(7) {
            let mut bad = notice.clone();
            bad[i] ^= 0x01;
            assert!(
                open_notice(&bad, h.chain.chain(), &h.phone).is_err(),
                "byte {i}"
            );
        }
        // A hub outside the chain (the server's own key, say) cannot make one.
        let rogue = HubSecret::generate();
        let forged = seal_notice(&rogue, &recipients, b"ring").unwrap();
        assert!(matches!(
            open_notice(&forged, h.chain.chain(), &h.phone),
            Err(NoticeError::HubNotInChain)
        ));
        // The rogue signs, then claims the real hub's key.
        let mut claimed = forged.clone();
        let at = claimed.len() - TRAILER;
        claimed[at..at + 32].copy_from_slice(h.hub.public().as_bytes());
        assert!(matches!(
            open_notice(&claimed, h.chain.chain(), &h.phone),
            Err(NoticeError::BadSignature)
        ));
        // Not sealed to this device.
        let stranger = DeviceSecret::generate();
        assert!(open_notice(&notice, h.chain.chain(), &stranger).is_err());
        // Too short, too long, too much plaintext.
        assert!(matches!(
            open_notice(&notice[..50], h.chain.chain(), &h.phone),
            Err(NoticeError::BadLength)
        ));
        assert!(matches!(
            open_notice(&vec![0; MAX_NOTICE_BYTES + 1], h.chain.chain(), &h.phone),
            Err(NoticeError::BadLength)
        ));
        assert!(matches!(
            seal_notice(&h.hub, &recipients, &[0; MAX_NOTICE_PLAINTEXT + 1]),
            Err(NoticeError::TooLarge)
        ));
    }
}
