//! An event notice (a doorbell press) opened in the browser: the crypto crate's one notice
//! check and reading (`porchlight_crypto::open_event_notice`, as `porchlight events --follow`
//! runs it: the hub a current hub of the verified chain, its signature, sealed to this device,
//! the hub's sealed details readable). A notice that fails answers a refusal with a code and a
//! reason, never any of its content. The TypeScript keeps the connection and draws the alert;
//! it decides nothing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{ClipError, DeviceSecret, NoticeError, VerifiedChain, open_event_notice};
use serde::Serialize;

/// The answer for one notice.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Opened {
    /// Checked and opened: what the hub said, and which hub of the chain said it.
    Notice {
        opened: bool,
        id: String,
        kind: String,
        camera: String,
        hub_name: String,
        hub_key: String,
        /// The hub's clock.
        at_ms: i64,
    },
    /// Refused: nothing of the notice is passed on.
    Refused {
        opened: bool,
        code: &'static str,
        reason: String,
    },
}

fn refused(code: &'static str, reason: impl Into<String>) -> Opened {
    Opened::Refused {
        opened: false,
        code,
        reason: reason.into(),
    }
}

fn refusal(e: &NoticeError) -> Opened {
    let code = match e {
        NoticeError::BadLength => "malformed",
        NoticeError::HubNotInChain => "hub_not_in_chain",
        NoticeError::BadSignature => "bad_signature",
        NoticeError::TooLarge => "too_large",
        NoticeError::Unreadable => "unreadable",
        NoticeError::Clip(ClipError::NoMatchingKey) => "not_for_this_device",
        NoticeError::Clip(_) => "unopenable",
    };
    refused(code, e.to_string())
}

/// Checks and opens one notice (base64, as `AccountEvent::Notice` carries it) with this
/// device's `secret` against `chain`.
pub fn open(chain: &VerifiedChain, notice_b64: &str, secret: &DeviceSecret) -> Opened {
    let Ok(bytes) = STANDARD.decode(notice_b64) else {
        return refused("malformed", "the notice is not base64");
    };
    match open_event_notice(&bytes, chain, secret) {
        Ok(opened) => Opened::Notice {
            opened: true,
            id: opened.body.id,
            kind: opened.body.kind,
            camera: opened.body.camera,
            hub_name: opened.hub_name,
            hub_key: opened.hub.to_hex(),
            at_ms: opened.body.at_ms,
        },
        Err(e) => refusal(&e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::fixtures::chain_of;
    use porchlight_crypto::{HubSecret, seal_notice};

    const BODY: &[u8] =
        br#"{"version":1,"id":"ab12","camera":"front door","kind":"doorbell","at_ms":1765000000000}"#;

    fn code_of(opened: &Opened) -> &'static str {
        match opened {
            Opened::Refused { code, .. } => code,
            Opened::Notice { .. } => "opened",
        }
    }

    #[test]
    fn a_hub_of_the_chain_rings_the_doorbell() {
        let device = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let chain = chain_of(&device, Some(&hub));
        let notice = seal_notice(&hub, &chain.recipients(), BODY).unwrap();
        let opened = open(&chain, &STANDARD.encode(&notice), &device);
        assert_eq!(
            opened,
            Opened::Notice {
                opened: true,
                id: "ab12".into(),
                kind: "doorbell".into(),
                camera: "front door".into(),
                hub_name: "porch hub".into(),
                hub_key: hub.public().to_hex(),
                at_ms: 1_765_000_000_000,
            }
        );
        let text = serde_json::to_string(&opened).unwrap();
        assert!(text.contains(r#""opened":true"#), "{text}");
    }

    /// What a server could deliver: a notice signed by its own key, one claiming the real
    /// hub's key, one not sealed to this browser, bytes that are not a notice. Each is a
    /// refusal with its code, and no field of the notice comes through.
    #[test]
    fn forged_and_foreign_notices_are_refused_without_content() {
        let device = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let chain = chain_of(&device, Some(&hub));
        let recipients = chain.recipients();

        let rogue = HubSecret::generate();
        let forged = seal_notice(&rogue, &recipients, BODY).unwrap();
        let mut claimed = forged.clone();
        let at = claimed.len() - 96;
        claimed[at..at + 32].copy_from_slice(hub.public().as_bytes());
        let stranger = DeviceSecret::generate();
        let elsewhere = chain_of(&stranger, None).recipients();
        let not_mine = seal_notice(&hub, &elsewhere, BODY).unwrap();
        let not_json = seal_notice(&hub, &recipients, b"ring ring").unwrap();

        for (notice, code) in [
            (STANDARD.encode(&forged), "hub_not_in_chain"),
            (STANDARD.encode(&claimed), "bad_signature"),
            (STANDARD.encode(&not_mine), "not_for_this_device"),
            (STANDARD.encode(&not_json), "unreadable"),
            (STANDARD.encode(b"short"), "malformed"),
            ("%%%".to_owned(), "malformed"),
        ] {
            let opened = open(&chain, &notice, &device);
            assert_eq!(code_of(&opened), code);
            let text = serde_json::to_string(&opened).unwrap();
            assert!(text.contains(r#""opened":false"#), "{text}");
            assert!(
                !text.contains("front door") && !text.contains("doorbell"),
                "{text}"
            );
        }
    }
}
