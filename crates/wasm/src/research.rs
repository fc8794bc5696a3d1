//! The owner's side of research in the browser (DESIGN §9), as `porchlight-client`'s
//! `research` module does it for the CLI: consent receipts signed with this device's key, the
//! withdrawal key of a clip (which only the account's devices can compute, from the clip's
//! file key) and its public tag, and research items made on this device.
//!
//! A research item is made as the clip downloads: each age chunk is authenticated and opened
//! ([`ClipOpener`]), cut into whole top-level MP4 boxes ([`Mp4Feed`]), each box stripped of
//! container metadata ([`porchlight_media::strip_metadata`] works box by box at the top
//! level, so stripping a box at a time gives what stripping the whole file gives) and
//! written to an age stream sealed to the research program's recipient. The plaintext is
//! never held whole; the sealed item is, because the browser uploads it as one request body.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::age;
use porchlight_crypto::{
    ConsentAction, ConsentReceipt, ConsentScope, DeviceSecret, VerifiedChain, WithdrawalKey,
    research_withdrawal_key,
};
use serde::Deserialize;

use crate::clip::ClipOpener;
use crate::mp4::Mp4Feed;

type Result<T> = std::result::Result<T, String>;

fn device(secret: &[u8]) -> Result<DeviceSecret> {
    DeviceSecret::from_bytes(secret).map_err(|e| format!("this browser's device key: {e}"))
}

/// A consent receipt signed by this device for the account whose chain is `chain`: `action`
/// is `give` or `withdraw`, `scope_kind` `camera` or `clip`. Base64 of its bytes, for
/// `POST /api/consents`.
pub fn consent_receipt(
    chain: &VerifiedChain,
    secret: &[u8],
    action: &str,
    scope_kind: &str,
    scope_id: &str,
    now_ms: i64,
) -> Result<String> {
    let action = match action {
        "give" => ConsentAction::Give,
        "withdraw" => ConsentAction::Withdraw,
        _ => return Err("a consent is given or withdrawn".to_owned()),
    };
    let scope = match scope_kind {
        "camera" => ConsentScope::Camera(scope_id.to_owned()),
        "clip" => ConsentScope::Clip(scope_id.to_owned()),
        _ => return Err("a consent is for a camera or a clip".to_owned()),
    };
    let me = device(secret)?;
    if !chain
        .recipients()
        .iter()
        .any(|d| d.sign_hex() == me.public().sign_hex())
    {
        return Err("this browser is not an approved device of the account".to_owned());
    }
    let receipt = ConsentReceipt::sign(action, scope, chain.root(), now_ms, &me)
        .map_err(|e| format!("the consent receipt: {e}"))?;
    Ok(STANDARD.encode(receipt.to_bytes()))
}

/// The research withdrawal key of the clip whose header (base64) is `header`, computed with
/// this device's key: an error when this device cannot open the clip.
fn key_of(header: &str, secret: &[u8]) -> Result<WithdrawalKey> {
    let bytes = STANDARD
        .decode(header)
        .map_err(|_| "the clip's header is not base64".to_owned())?;
    research_withdrawal_key(&bytes, &device(secret)?)
        .map_err(|e| format!("this browser cannot open the clip: {e}"))
}

/// The withdrawal key (hex) of a clip: sent only to withdraw its research item.
pub fn withdrawal_key(header: &str, secret: &[u8]) -> Result<String> {
    Ok(key_of(header, secret)?.to_hex().to_string())
}

/// The withdrawal tag (hex) of a clip: what the server stores its research item under and
/// what this device asks the server about.
pub fn withdrawal_tag(header: &str, secret: &[u8]) -> Result<String> {
    Ok(key_of(header, secret)?.tag().to_hex())
}

/// `plaintext` sealed as one age file to the research `recipient`: the research copy of a
/// video this device has already opened and stripped (a feed post's).
pub fn seal_to_research(plaintext: &[u8], recipient: &str) -> Result<Vec<u8>> {
    let recipient: age::x25519::Recipient = recipient.trim().parse().map_err(|_| {
        "the server's research recipient is not an age recipient: nothing was sent".to_owned()
    })?;
    let fail = |e: &dyn std::fmt::Display| format!("sealing the research item: {e}");
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| fail(&e))?;
    let mut writer = encryptor.wrap_output(Vec::new()).map_err(|e| fail(&e))?;
    writer.write_all(plaintext).map_err(|e| fail(&e))?;
    writer.finish().map_err(|e| fail(&e))
}

/// `YYYY-MM-DD` of a time in ms since the epoch, UTC: the day a research item is filed under.
pub fn utc_day(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The fields of `GET /api/clips/{id}` an item needs beyond what [`ClipOpener`] checks.
#[derive(Deserialize)]
struct Detail {
    header: String,
    start_ms: i64,
}

/// A research item being made from a clip as it downloads.
pub struct ResearchItem {
    opener: ClipOpener,
    feed: Mp4Feed,
    writer: Option<age::stream::StreamWriter<Vec<u8>>>,
    withdrawal_tag: String,
    day: String,
    failed: bool,
}

impl std::fmt::Debug for ResearchItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResearchItem")
            .field("day", &self.day)
            .finish_non_exhaustive()
    }
}

impl ResearchItem {
    /// Checks the clip's details against `chain` (as the player does), computes its withdrawal
    /// tag with this device's key, and starts an age stream to the research `recipient`.
    pub fn new(
        chain: &VerifiedChain,
        detail_json: &str,
        secret: &[u8],
        recipient: &str,
    ) -> Result<Self> {
        let opener = ClipOpener::new(chain, detail_json, secret)?;
        // The opener checked start_ms against the hub's statement.
        let d: Detail = serde_json::from_str(detail_json)
            .map_err(|_| "the clip's details are not in the expected form".to_owned())?;
        let withdrawal_tag = withdrawal_tag(&d.header, secret)?;
        let recipient: age::x25519::Recipient = recipient.trim().parse().map_err(|_| {
            "the server's research recipient is not an age recipient: nothing was sent".to_owned()
        })?;
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| format!("sealing the research item: {e}"))?;
        let writer = encryptor
            .wrap_output(Vec::new())
            .map_err(|e| format!("sealing the research item: {e}"))?;
        Ok(Self {
            opener,
            feed: Mp4Feed::default(),
            writer: Some(writer),
            withdrawal_tag,
            day: utc_day(d.start_ms),
            failed: false,
        })
    }

    /// The clip's withdrawal tag (hex), sent with the item; the key that withdraws it stays
    /// on the account's devices.
    pub fn withdrawal_tag(&self) -> &str {
        &self.withdrawal_tag
    }

    /// The clip's UTC day, the only time the item carries.
    pub fn day(&self) -> &str {
        &self.day
    }

    /// The next downloaded bytes of the sealed payload.
    pub fn push(&mut self, ciphertext: &[u8]) -> Result<()> {
        let plain = self.guard(|s| s.opener.push(ciphertext))?;
        self.seal(&plain)
    }

    /// The download ended: the whole payload is checked against what the hub signed, and the
    /// sealed research item (one age file) is returned.
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        let plain = self.guard(|s| s.opener.finish())?;
        self.seal(&plain)?;
        self.guard(|s| s.feed.finish())?;
        if self.feed.codec().is_none() {
            return self.fail("the clip holds no video to put in research".to_owned());
        }
        let Some(writer) = self.writer.take() else {
            return self.fail("this research item was finished already".to_owned());
        };
        writer
            .finish()
            .map_err(|e| format!("sealing the research item: {e}"))
    }

    fn seal(&mut self, plain: &[u8]) -> Result<()> {
        let boxes = self.guard(|s| s.feed.push(plain))?;
        if boxes.is_empty() {
            return Ok(());
        }
        let stripped = self.guard(|_| {
            porchlight_media::strip_metadata(&boxes)
                .map_err(|e| format!("the clip is not an MP4 this can strip: {e}"))
        })?;
        let result = match self.writer.as_mut() {
            Some(w) => w
                .write_all(&stripped)
                .map_err(|e| format!("sealing the research item: {e}")),
            None => Err("this research item was finished already".to_owned()),
        };
        self.guard(|_| result)
    }

    fn guard<T>(&mut self, step: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.failed {
            return Err("this research item already failed".to_owned());
        }
        match step(self) {
            Ok(v) => Ok(v),
            Err(e) => self.fail(e),
        }
    }

    fn fail<T>(&mut self, message: String) -> Result<T> {
        self.failed = true;
        self.writer = None;
        Err(message)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Read;

    use porchlight_crypto::HubSecret;
    use porchlight_media::boxes::walk;

    use super::*;

    struct Sealed {
        chain: VerifiedChain,
        device: DeviceSecret,
        detail: serde_json::Value,
        payload: Vec<u8>,
        plaintext: Vec<u8>,
    }

    /// A real fragmented MP4 from the synthetic camera, with the hub's sealed event list and
    /// a muxer's `udta`, sealed and signed by a hub of a one-device chain.
    fn sealed() -> Sealed {
        let plaintext =
            crate::fixtures::synthetic_clip(b"{\"events\":[{\"kind\":\"motion\"}]}", true);
        let device = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let chain = crate::fixtures::chain_of(&device, Some(&hub));
        // 2024-02-29T23:59:59.999Z: the day is the UTC one.
        let (detail, payload) =
            crate::fixtures::sealed_clip(&chain, &hub, &plaintext, 1_709_251_199_999, 2_500);
        Sealed {
            chain,
            device,
            detail,
            payload,
            plaintext,
        }
    }

    fn make(s: &Sealed, payload: &[u8], recipient: &str, step: usize) -> Result<Vec<u8>> {
        let mut item = ResearchItem::new(
            &s.chain,
            &s.detail.to_string(),
            &s.device.to_bytes(),
            recipient,
        )?;
        for chunk in payload.chunks(step) {
            item.push(chunk)?;
        }
        item.finish()
    }

    fn open_item(sealed: &[u8], identity: &age::x25519::Identity) -> Vec<u8> {
        let decryptor = age::Decryptor::new(sealed).unwrap();
        let mut reader = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn an_item_is_the_stripped_clip_sealed_to_the_research_key_only() {
        let s = sealed();
        let research = age::x25519::Identity::generate();
        let recipient = research.to_public().to_string();
        let whole = porchlight_media::strip_metadata(&s.plaintext).unwrap();
        assert!(
            s.payload.len() > 3 * 65_536,
            "the clip spans several age chunks"
        );
        for step in [1000, 65_536, 200_000, s.payload.len()] {
            let item = make(&s, &s.payload, &recipient, step).unwrap();
            let opened = open_item(&item, &research);
            assert_eq!(opened, whole, "step {step}");
        }
        let opened = open_item(&make(&s, &s.payload, &recipient, 4096).unwrap(), &research);
        let kinds: Vec<[u8; 4]> = walk(&opened).unwrap().iter().map(|b| b.kind).collect();
        for dropped in [b"udta", b"uuid", b"meta"] {
            assert!(!kinds.contains(dropped), "{dropped:?} left in the item");
        }
        assert!(kinds.contains(b"moof") && kinds.contains(b"mdat"));
        // The device that made it cannot open it: it is sealed to the research key only.
        let item = make(&s, &s.payload, &recipient, 4096).unwrap();
        let decryptor = age::Decryptor::new(&item[..]).unwrap();
        assert!(
            decryptor
                .decrypt(std::iter::once(&s.device as &dyn age::Identity))
                .is_err()
        );

        let made = ResearchItem::new(
            &s.chain,
            &s.detail.to_string(),
            &s.device.to_bytes(),
            &recipient,
        )
        .unwrap();
        assert_eq!(made.day(), "2024-02-29");
        assert_eq!(
            made.withdrawal_tag(),
            withdrawal_tag(s.detail["header"].as_str().unwrap(), &s.device.to_bytes()).unwrap()
        );
    }

    #[test]
    fn a_tampered_download_or_a_bad_recipient_makes_no_item() {
        let s = sealed();
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        let mut flipped = s.payload.clone();
        flipped[s.payload.len() / 2] ^= 1;
        assert!(make(&s, &flipped, &recipient, 4096).is_err());
        assert!(make(&s, &s.payload[..s.payload.len() - 1], &recipient, 4096).is_err());
        let refused = make(&s, &s.payload, "age1notarecipient", 4096).unwrap_err();
        assert!(refused.contains("not an age recipient"), "{refused}");
        // A failed item stays failed.
        let mut item = ResearchItem::new(
            &s.chain,
            &s.detail.to_string(),
            &s.device.to_bytes(),
            &recipient,
        )
        .unwrap();
        let refused = match item.push(&flipped) {
            Ok(()) => item.finish().map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(refused.is_err());
        assert!(item.push(&s.payload).is_err());
        assert!(item.finish().is_err());
        // Another browser, of no chain, cannot compute the key or make the item.
        let stranger = DeviceSecret::generate().to_bytes();
        assert!(withdrawal_key(s.detail["header"].as_str().unwrap(), &stranger).is_err());
        assert!(withdrawal_key("not base64!", &s.device.to_bytes()).is_err());
        assert!(ResearchItem::new(&s.chain, &s.detail.to_string(), &stranger, &recipient).is_err());
    }

    #[test]
    fn the_withdrawal_key_and_tag_are_the_crypto_crates() {
        let s = sealed();
        let header64 = s.detail["header"].as_str().unwrap();
        let header = STANDARD.decode(header64).unwrap();
        let key = research_withdrawal_key(&header, &s.device).unwrap();
        let ours = withdrawal_key(header64, &s.device.to_bytes()).unwrap();
        assert_eq!(ours, *key.to_hex());
        assert_eq!(
            withdrawal_tag(header64, &s.device.to_bytes()).unwrap(),
            key.tag().to_hex()
        );
        assert_ne!(ours, key.tag().to_hex());
        assert_eq!(ours.len(), 64);
    }

    #[test]
    fn a_receipt_is_signed_by_this_device_for_this_chain() {
        let s = sealed();
        let secret = s.device.to_bytes();
        let b64 = consent_receipt(
            &s.chain,
            &secret,
            "give",
            "camera",
            "cam-1",
            1_700_000_000_000,
        )
        .unwrap();
        let receipt = ConsentReceipt::from_bytes(&STANDARD.decode(b64).unwrap()).unwrap();
        receipt.verify(&s.chain).unwrap();
        assert_eq!(receipt.action(), ConsentAction::Give);
        assert_eq!(receipt.scope(), &ConsentScope::Camera("cam-1".into()));
        assert_eq!(receipt.issued_at_ms(), 1_700_000_000_000);
        let withdrawn =
            consent_receipt(&s.chain, &secret, "withdraw", "clip", "clip-1", 5).unwrap();
        let receipt = ConsentReceipt::from_bytes(&STANDARD.decode(withdrawn).unwrap()).unwrap();
        assert_eq!(receipt.action(), ConsentAction::Withdraw);
        assert_eq!(receipt.scope(), &ConsentScope::Clip("clip-1".into()));

        for (action, kind, id) in [
            ("maybe", "camera", "cam-1"),
            ("give", "account", "cam-1"),
            ("give", "camera", ""),
            ("give", "clip", "a\nb"),
        ] {
            assert!(
                consent_receipt(&s.chain, &secret, action, kind, id, 1).is_err(),
                "{action} {kind} {id:?}"
            );
        }
        // A device that is not in the chain signs nothing for it.
        let stranger = DeviceSecret::generate().to_bytes();
        let refused = consent_receipt(&s.chain, &stranger, "give", "camera", "cam-1", 1);
        assert!(refused.unwrap_err().contains("not an approved device"));
    }

    #[test]
    fn a_research_copy_opens_with_the_research_key_only() {
        let research = age::x25519::Identity::generate();
        let sealed =
            seal_to_research(b"stripped video", &research.to_public().to_string()).unwrap();
        assert_eq!(open_item(&sealed, &research), b"stripped video");
        let other = age::x25519::Identity::generate();
        let decryptor = age::Decryptor::new(&sealed[..]).unwrap();
        assert!(
            decryptor
                .decrypt(std::iter::once(&other as &dyn age::Identity))
                .is_err()
        );
        assert!(seal_to_research(b"x", "age1nope").is_err());
    }

    #[test]
    fn days_are_utc_and_rounded_down() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(86_399_999), "1970-01-01");
        assert_eq!(utc_day(1_709_164_800_000), "2024-02-29");
        assert_eq!(utc_day(-1), "1969-12-31");
    }
}
