//! What the native tests of this crate share: a chain with a hub, a real fragmented MP4 from
//! the synthetic camera, and a clip sealed and signed the way a hub makes one, with the
//! detail the server would serve for it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{
    ChainBuilder, ChainOp, ClipStatement, DeviceSecret, HubSecret, Name, RecoveryKey,
    VerifiedChain, seal, sign_clip,
};
use sha2::{Digest, Sha256};

/// A chain whose one device is `device`, with `hub` added when given.
pub(crate) fn chain_of(device: &DeviceSecret, hub: Option<&HubSecret>) -> VerifiedChain {
    let (recovery, _) = RecoveryKey::generate();
    let mut builder =
        ChainBuilder::genesis(device, Name::new("laptop").unwrap(), recovery.public()).unwrap();
    if let Some(hub) = hub {
        builder
            .append(
                ChainOp::AddHub {
                    name: Name::new("porch hub").unwrap(),
                    hub: hub.public(),
                },
                device,
            )
            .unwrap();
    }
    builder.chain().clone()
}

/// 15 s of the synthetic camera as a clip: init segment, the sealed event list `events_json`,
/// a muxer's `udta` when `with_udta`, then the fragments.
pub(crate) fn synthetic_clip(events_json: &[u8], with_udta: bool) -> Vec<u8> {
    let camera = porchlight_media::SyntheticCamera::new(10).unwrap();
    let params = camera.params().clone();
    let mut mp4 = Vec::new();
    let mut writer = porchlight_media::ClipWriter::new(&mut mp4, &params).unwrap();
    for frame in camera.take(150) {
        writer.push(frame).unwrap();
    }
    writer.finish().unwrap();
    let moov = &porchlight_media::boxes::find(&mp4, b"moov").unwrap()[0];
    let moov_end = (moov.offset + moov.size) as usize;
    let mut plain = mp4[..moov_end].to_vec();
    plain.extend(porchlight_media::fmp4::metadata_box(events_json).unwrap());
    if with_udta {
        let udta_body = b"\x00\x00\x00\x1e\xa9tooLavf60 camera-firmware";
        plain.extend((8 + udta_body.len() as u32).to_be_bytes());
        plain.extend(b"udta");
        plain.extend(udta_body);
    }
    plain.extend_from_slice(&mp4[moov_end..]);
    plain
}

/// `plaintext` sealed to `chain`'s recipients and signed by `hub` as camera "porch": the clip
/// detail the server would serve, and the payload.
pub(crate) fn sealed_clip(
    chain: &VerifiedChain,
    hub: &HubSecret,
    plaintext: &[u8],
    start_ms: i64,
    duration_ms: u64,
) -> (serde_json::Value, Vec<u8>) {
    let (mut header, mut payload) = (Vec::new(), Vec::new());
    let sizes = seal(plaintext, &mut header, &mut payload, &chain.recipients()).unwrap();
    let statement = ClipStatement::new(
        "porch",
        start_ms,
        duration_ms,
        sizes.payload_sha256,
        [0; 32],
    )
    .unwrap();
    let signature = sign_clip(&statement, hub);
    let detail = serde_json::json!({
        "id": "clip-1",
        "camera_id": "cam-1",
        "camera_name": "porch",
        "start_ms": start_ms,
        "duration_ms": duration_ms,
        "payload_size": payload.len(),
        "header_size": header.len(),
        "header": STANDARD.encode(&header),
        "header_sha256": hex::encode(Sha256::digest(&header)),
        "payload_sha256": hex::encode(sizes.payload_sha256),
        "statement": STANDARD.encode(statement.to_bytes()),
        "signature": STANDARD.encode(signature.to_bytes()),
        "hub_key": hub.public().to_hex(),
    });
    (detail, payload)
}
