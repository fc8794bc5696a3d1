//! Clips that leave their owner, in the browser: a share (the clip's file key re-wrapped to
//! another account's devices, as that account's verified chain names them) and a feed post
//! (the clip opened and stripped of container metadata, as it downloads).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{DeviceSecret, VerifiedChain};

use crate::clip::ClipOpener;
use crate::mp4::Mp4Feed;

type Result<T> = std::result::Result<T, String>;

/// The header of a share: the clip's header (base64) opened with this device's key and its
/// file key wrapped to every device (and the recovery key) of `sharee`, the other account's
/// chain verified from the root the owner was given. Base64 out.
pub fn share_header(header: &str, secret: &[u8], sharee: &VerifiedChain) -> Result<String> {
    let bytes = STANDARD
        .decode(header)
        .map_err(|_| "the clip's header is not base64".to_owned())?;
    let me =
        DeviceSecret::from_bytes(secret).map_err(|e| format!("this browser's device key: {e}"))?;
    let out = porchlight_crypto::rewrap(&bytes, &me, &sharee.recipients())
        .map_err(|e| format!("sharing the clip: {e}"))?;
    Ok(STANDARD.encode(out))
}

/// A clip opened and stripped of container metadata as it downloads: what a feed post
/// uploads. Each top-level box is stripped as it becomes whole.
#[derive(Debug)]
pub struct StrippedClip {
    opener: ClipOpener,
    feed: Mp4Feed,
    failed: bool,
}

impl StrippedClip {
    /// Checks the clip's details against `chain`, as the player does.
    pub fn new(chain: &VerifiedChain, detail_json: &str, secret: &[u8]) -> Result<Self> {
        Ok(Self {
            opener: ClipOpener::new(chain, detail_json, secret)?,
            feed: Mp4Feed::default(),
            failed: false,
        })
    }

    /// The next downloaded bytes in; the stripped MP4 bytes now ready out.
    pub fn push(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        self.step(|s| {
            let plain = s.opener.push(ciphertext)?;
            s.strip(&plain)
        })
    }

    /// The download ended: the rest, once the whole payload is checked against what the hub
    /// signed.
    pub fn finish(&mut self) -> Result<Vec<u8>> {
        self.step(|s| {
            let plain = s.opener.finish()?;
            let out = s.strip(&plain)?;
            s.feed.finish()?;
            if s.feed.codec().is_none() {
                return Err("the clip holds no video".to_owned());
            }
            Ok(out)
        })
    }

    fn strip(&mut self, plain: &[u8]) -> Result<Vec<u8>> {
        let boxes = self.feed.push(plain)?;
        if boxes.is_empty() {
            return Ok(boxes);
        }
        porchlight_media::strip_metadata(&boxes)
            .map_err(|e| format!("the clip is not an MP4 this can strip: {e}"))
    }

    fn step(&mut self, f: impl FnOnce(&mut Self) -> Result<Vec<u8>>) -> Result<Vec<u8>> {
        if self.failed {
            return Err("this clip already failed to open".to_owned());
        }
        let out = f(self);
        if out.is_err() {
            self.failed = true;
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use porchlight_crypto::{ClipHeader, HubSecret};

    use super::*;

    use crate::fixtures::chain_of;

    fn clip(chain: &VerifiedChain, hub: &HubSecret) -> (serde_json::Value, Vec<u8>, Vec<u8>) {
        let plain = crate::fixtures::synthetic_clip(b"{\"events\":[]}", false);
        let (detail, payload) =
            crate::fixtures::sealed_clip(chain, hub, &plain, 1_700_000_000_000, 15_000);
        (detail, payload, plain)
    }

    #[test]
    fn a_share_opens_on_the_sharees_devices_and_not_on_a_strangers() {
        let owner = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let owner_chain = chain_of(&owner, Some(&hub));
        let (detail, payload, plain) = clip(&owner_chain, &hub);
        let sharee = DeviceSecret::generate();
        let sharee_chain = chain_of(&sharee, None);
        let shared = share_header(
            detail["header"].as_str().unwrap(),
            &owner.to_bytes(),
            &sharee_chain,
        )
        .unwrap();
        ClipHeader::parse(&STANDARD.decode(&shared).unwrap()).unwrap();
        // The sharee opens it with the owner's chain (the hub's statement is checked there).
        let mut share_detail = detail.clone();
        share_detail["header"] = serde_json::json!(shared);
        let mut opener =
            ClipOpener::new(&owner_chain, &share_detail.to_string(), &sharee.to_bytes()).unwrap();
        let mut out = opener.push(&payload).unwrap();
        out.extend(opener.finish().unwrap());
        assert_eq!(out, plain);
        // The owner's own device is not a recipient of the share; a stranger never was.
        for other in [owner.to_bytes(), DeviceSecret::generate().to_bytes()] {
            let mut opener =
                ClipOpener::new(&owner_chain, &share_detail.to_string(), &other).unwrap();
            assert!(opener.push(&payload).and_then(|_| opener.finish()).is_err());
        }
        // Only a device that can open the clip can share it.
        let stranger = DeviceSecret::generate().to_bytes();
        assert!(
            share_header(detail["header"].as_str().unwrap(), &stranger, &sharee_chain).is_err()
        );
        assert!(share_header("!!", &owner.to_bytes(), &sharee_chain).is_err());
    }

    #[test]
    fn a_stripped_clip_is_the_clip_without_its_metadata_and_checked_whole() {
        let owner = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let chain = chain_of(&owner, Some(&hub));
        let (detail, payload, plain) = clip(&chain, &hub);
        let whole = porchlight_media::strip_metadata(&plain).unwrap();
        for step in [1000, 65_536, payload.len()] {
            let mut s = StrippedClip::new(&chain, &detail.to_string(), &owner.to_bytes()).unwrap();
            let mut out = Vec::new();
            for chunk in payload.chunks(step) {
                out.extend(s.push(chunk).unwrap());
            }
            out.extend(s.finish().unwrap());
            assert_eq!(out, whole, "step {step}");
        }
        let mut cut = StrippedClip::new(&chain, &detail.to_string(), &owner.to_bytes()).unwrap();
        let first = cut.push(&payload[..payload.len() - 10]);
        assert!(first.and_then(|_| cut.finish()).is_err());
        assert!(cut.push(&payload).is_err(), "a failed clip stays failed");
    }
}
