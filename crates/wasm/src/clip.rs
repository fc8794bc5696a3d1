//! Opening a recorded clip in the browser as its bytes arrive, and pairing a hub.
//!
//! The clip's details are checked against the verified chain first (the crypto crate's one
//! listing check: the statement signed by a hub the chain names, saying what the server's
//! listing says), then the age payload is
//! opened chunk by chunk as it downloads: each 64 KiB chunk is authenticated before a byte of
//! it is handed out, and when the download ends the payload's SHA-256 must be the one the hub
//! signed, or [`ClipOpener::finish`] fails and the app raises an alarm.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Read};
use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{ClipHeader, ClipReader, DeviceSecret, HubKey, PairingCode, VerifiedChain};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, String>;

/// The fields of `GET /api/clips/{id}` the check needs.
#[derive(Deserialize)]
struct Detail {
    id: String,
    camera_name: String,
    start_ms: i64,
    duration_ms: u64,
    payload_size: u64,
    header: String,
    payload_sha256: String,
    statement: String,
    signature: String,
    hub_key: String,
}

/// What the app may show about a clip once it is checked.
#[derive(Serialize)]
struct Checked<'a> {
    id: &'a str,
    camera: &'a str,
    start_ms: i64,
    duration_ms: u64,
    hub_name: String,
}

/// Bytes pushed from JavaScript, read by age's stream reader. Empty before the end is
/// `WouldBlock`, which age's reader treats as "not yet" and resumes from (it keeps the part
/// of a chunk it already has); empty after the end is the end.
#[derive(Default)]
struct Feed {
    bytes: VecDeque<u8>,
    ended: bool,
}

#[derive(Clone, Default)]
struct FeedReader(Rc<RefCell<Feed>>);

impl Read for FeedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut feed = self.0.borrow_mut();
        if feed.bytes.is_empty() {
            return if feed.ended {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = feed.bytes.read(buf)?;
        Ok(n)
    }
}

const NONCE_BYTES: usize = 16;
/// Plaintext handed out per pull: age's chunk size.
const OUT_CHUNK: usize = 64 * 1024;

/// A clip being opened as it downloads.
pub struct ClipOpener {
    checked: String,
    header: Vec<u8>,
    /// Kept only until the stream reader exists (the nonce has arrived); wiped on drop.
    identity: Option<DeviceSecret>,
    feed: FeedReader,
    reader: Option<ClipReader<FeedReader>>,
    hasher: Sha256,
    received: u64,
    expected_sha256: [u8; 32],
    expected_size: u64,
    failed: bool,
}

impl std::fmt::Debug for ClipOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipOpener")
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

fn decode(text: &str, what: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(text)
        .map_err(|_| format!("the clip's {what} is not base64"))
}

impl ClipOpener {
    /// Checks `detail_json` against `chain` and prepares to open the payload with `secret`.
    pub fn new(chain: &VerifiedChain, detail_json: &str, secret: &[u8]) -> Result<Self> {
        let d: Detail = serde_json::from_str(detail_json)
            .map_err(|_| "the clip's details are not in the expected form".to_owned())?;
        let header = decode(&d.header, "header")?;
        ClipHeader::parse(&header).map_err(|e| format!("the clip's header: {e}"))?;
        let listed = porchlight_crypto::check_wire_listed_clip(
            chain,
            &porchlight_crypto::WireListedClip {
                camera: &d.camera_name,
                start_ms: d.start_ms,
                duration_ms: d.duration_ms,
                payload_sha256: &d.payload_sha256,
                statement: &d.statement,
                signature: &d.signature,
                hub_key: &d.hub_key,
            },
        )
        .map_err(|refusal| format!("this clip failed verification: {refusal}"))?;
        let statement = listed.statement;
        let identity = DeviceSecret::from_bytes(secret)
            .map_err(|e| format!("this browser's device key: {e}"))?;
        let hub_name = listed.hub_name;
        let checked = serde_json::to_string(&Checked {
            id: &d.id,
            camera: statement.camera_id(),
            start_ms: statement.start_ms(),
            duration_ms: statement.duration_ms(),
            hub_name,
        })
        .map_err(|e| e.to_string())?;
        Ok(Self {
            checked,
            header,
            identity: Some(identity),
            feed: FeedReader::default(),
            reader: None,
            hasher: Sha256::new(),
            received: 0,
            expected_sha256: *statement.payload_sha256(),
            expected_size: d.payload_size,
            failed: false,
        })
    }

    /// `{id, camera, start_ms, duration_ms, hub_name}` as the hub signed them.
    pub fn checked(&self) -> &str {
        &self.checked
    }

    /// Takes the next downloaded bytes; returns the plaintext that is now authenticated.
    pub fn push(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        if self.failed {
            return Err("this clip already failed to open".to_owned());
        }
        self.received += ciphertext.len() as u64;
        if self.received > self.expected_size {
            return self.fail("the download is longer than the clip".to_owned());
        }
        self.hasher.update(ciphertext);
        self.feed.0.borrow_mut().bytes.extend(ciphertext);
        self.pull()
    }

    /// The download ended: opens what is left and checks the whole payload is the one the hub
    /// signed.
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        if self.failed {
            return Err("this clip already failed to open".to_owned());
        }
        self.feed.0.borrow_mut().ended = true;
        let rest = self.pull()?;
        if self.reader.is_none() {
            return self.fail("the clip is truncated".to_owned());
        }
        let digest: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        if self.received != self.expected_size || digest != self.expected_sha256 {
            return self.fail(
                "the downloaded clip is not the one its hub signed: do not trust what was shown"
                    .to_owned(),
            );
        }
        Ok(rest)
    }

    fn fail<T>(&mut self, message: String) -> Result<T> {
        self.failed = true;
        self.identity = None;
        self.reader = None;
        Err(message)
    }

    fn start(&mut self) -> Result<bool> {
        if self.reader.is_some() {
            return Ok(true);
        }
        let feed = self.feed.0.borrow();
        if feed.bytes.len() < NONCE_BYTES && !feed.ended {
            return Ok(false);
        }
        drop(feed);
        let Some(identity) = self.identity.take() else {
            return self.fail("this clip already failed to open".to_owned());
        };
        let opened = porchlight_crypto::open(&self.header, self.feed.clone(), &identity)
            .map_err(|e| e.to_string());
        match opened {
            Ok(reader) => {
                self.reader = Some(reader);
                Ok(true)
            }
            Err(e) => self.fail(format!("this browser cannot open the clip: {e}")),
        }
    }

    fn pull(&mut self) -> Result<Vec<u8>> {
        if !self.start()? {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; OUT_CHUNK];
        loop {
            let Some(reader) = self.reader.as_mut() else {
                return Ok(out);
            };
            match reader.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(out),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(format!("the clip failed its integrity check: {e}")),
            }
        }
    }
}

/// A pairing in progress: the code shown to the hub, and the check of the hub's proof.
pub struct Pairing {
    code: PairingCode,
}

impl std::fmt::Debug for Pairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pairing").finish_non_exhaustive()
    }
}

impl Pairing {
    pub fn new(server_url: &str, chain: &VerifiedChain) -> Result<Self> {
        let code = PairingCode::new(server_url, chain.root()).map_err(|e| e.to_string())?;
        Ok(Self { code })
    }

    /// What the hub is given (`porchlight hub pair CODE`, or scanned from the QR).
    pub fn code(&self) -> String {
        self.code.encode().to_string()
    }

    /// The verifier the server keeps (never the secret).
    pub fn verifier(&self) -> String {
        hex::encode(self.code.secret().verifier())
    }

    /// Whether the hub that redeemed the code proved it holds the secret; the hub key back.
    pub fn check_hub(&self, hub_key: &str, proof: &str) -> Result<String> {
        let refuse =
            || "the hub's proof does not match this pairing code: do not add this hub".to_owned();
        let mut key = [0u8; 32];
        hex::decode_to_slice(hub_key, &mut key).map_err(|_| refuse())?;
        let hub = HubKey::from_bytes(key).map_err(|_| refuse())?;
        let proof = hex::decode(proof).map_err(|_| refuse())?;
        if !self.code.secret().check_hub_proof(&hub, &proof) {
            return Err(refuse());
        }
        Ok(hub.to_hex())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use porchlight_crypto::HubSecret;

    use super::*;

    struct Sealed {
        chain: VerifiedChain,
        device: DeviceSecret,
        detail: serde_json::Value,
        payload: Vec<u8>,
        plaintext: Vec<u8>,
    }

    /// A chain with a device and a hub, and a 300 KB clip the hub sealed and signed.
    fn sealed() -> Sealed {
        let device = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let chain = crate::fixtures::chain_of(&device, Some(&hub));
        let plaintext: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (detail, payload) =
            crate::fixtures::sealed_clip(&chain, &hub, &plaintext, 1_700_000_000_000, 12_000);
        Sealed {
            chain,
            device,
            detail,
            payload,
            plaintext,
        }
    }

    fn open_in_chunks(s: &Sealed, payload: &[u8], step: usize) -> Result<Vec<u8>> {
        let mut opener =
            ClipOpener::new(&s.chain, &s.detail.to_string(), &s.device.to_bytes()).unwrap();
        let mut out = Vec::new();
        for chunk in payload.chunks(step) {
            out.extend(opener.push(chunk)?);
        }
        out.extend(opener.finish()?);
        Ok(out)
    }

    #[test]
    fn a_clip_opens_the_same_whatever_the_download_chunks() {
        let s = sealed();
        for step in [1000, 16, 65_552, 65_553, 100_000, s.payload.len()] {
            assert_eq!(
                open_in_chunks(&s, &s.payload, step).unwrap(),
                s.plaintext,
                "step {step}"
            );
        }
        let opener =
            ClipOpener::new(&s.chain, &s.detail.to_string(), &s.device.to_bytes()).unwrap();
        let checked: serde_json::Value = serde_json::from_str(opener.checked()).unwrap();
        assert_eq!(checked["hub_name"], "porch hub");
    }

    #[test]
    fn a_flipped_bit_a_cut_or_a_longer_download_is_refused() {
        let s = sealed();
        let mut flipped = s.payload.clone();
        flipped[70_000] ^= 1;
        assert!(open_in_chunks(&s, &flipped, 4096).is_err());
        assert!(open_in_chunks(&s, &s.payload[..s.payload.len() - 1], 4096).is_err());
        assert!(open_in_chunks(&s, &s.payload[..65_552 * 2], 4096).is_err());
        let mut longer = s.payload.clone();
        longer.push(0);
        assert!(open_in_chunks(&s, &longer, 4096).is_err());
    }

    #[test]
    fn details_that_disagree_with_the_signed_statement_are_refused() {
        let s = sealed();
        let secret = s.device.to_bytes();
        for (field, value) in [
            ("camera_name", serde_json::json!("garden")),
            ("start_ms", serde_json::json!(1)),
            ("duration_ms", serde_json::json!(1)),
            ("payload_sha256", serde_json::json!(hex::encode([7u8; 32]))),
            (
                "hub_key",
                serde_json::json!(HubSecret::generate().public().to_hex()),
            ),
        ] {
            let mut detail = s.detail.clone();
            detail[field] = value;
            assert!(
                ClipOpener::new(&s.chain, &detail.to_string(), &secret).is_err(),
                "{field}"
            );
        }
        assert!(ClipOpener::new(&s.chain, "{}", &secret).is_err());
        // Another device of no chain cannot open it.
        let stranger = DeviceSecret::generate().to_bytes();
        let mut opener = ClipOpener::new(&s.chain, &s.detail.to_string(), &stranger).unwrap();
        assert!(opener.push(&s.payload[..1000]).is_err());
    }

    #[test]
    fn a_pairing_accepts_only_the_hub_that_holds_its_secret() {
        let s = sealed();
        let pairing = Pairing::new("http://127.0.0.1:8080", &s.chain).unwrap();
        let hub = HubSecret::generate().public();
        let code = PairingCode::parse(&pairing.code()).unwrap();
        let proof = hex::encode(code.secret().hub_proof(&hub));
        assert_eq!(
            pairing.check_hub(&hub.to_hex(), &proof).unwrap(),
            hub.to_hex()
        );
        let other = HubSecret::generate().public();
        assert!(pairing.check_hub(&other.to_hex(), &proof).is_err());
        assert!(pairing.check_hub("zz", "zz").is_err());
        assert_eq!(pairing.verifier(), hex::encode(code.secret().verifier()));
    }
}
