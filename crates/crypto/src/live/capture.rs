//! The search a thief with stolen long-term keys would run against a recorded live capture,
//! for tests here and in the relay's crates: every key the device's and hub's long-term
//! secrets (and everything the relay saw) could derive. A capture must open with none of
//! them; the search opens one when handed an ephemeral secret, which shows it is sound.
//! Compiled for tests and with the `test-support` feature only.

#![allow(clippy::expect_used)]

use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::Zeroizing;

use super::{
    Answer, FrameCipher, FrameOpener, Offer, STREAM_KEY_INFO_DOMAIN, StreamId, stream_key,
};
use crate::keys::{DevicePublic, DeviceSecret, HubKey, HubSecret};
use crate::wire::hkdf_sha256;

/// Every 32-byte key someone holding `secrets` (and everything the relay saw) could derive
/// for the stream: each secret as an X25519 scalar with every public key in sight
/// (both ephemeral keys, the device's age key, both Ed25519 keys as Montgomery points),
/// each result and each secret put through the module's HKDF (with and without the
/// transcript) and used raw.
pub fn keys_from(
    secrets: &[[u8; 32]],
    offer_bytes: &[u8],
    answer_bytes: &[u8],
    device: &DevicePublic,
    hub: &HubKey,
) -> Vec<[u8; 32]> {
    let offer = Offer::from_bytes(offer_bytes).expect("a valid key");
    let answer = Answer::from_bytes(answer_bytes).expect("a valid key");
    let montgomery = |key: &[u8; 32]| {
        ed25519_dalek::VerifyingKey::from_bytes(key)
            .expect("a valid key")
            .to_montgomery()
            .to_bytes()
    };
    let publics = [
        *offer.ephemeral(),
        *answer.ephemeral(),
        *device.age(),
        montgomery(device.sign()),
        montgomery(hub.as_bytes()),
    ];
    let mut ikms = secrets.to_vec();
    for secret in secrets {
        for public in &publics {
            let shared = StaticSecret::from(*secret).diffie_hellman(&XPublic::from(*public));
            ikms.push(shared.to_bytes());
        }
    }
    let stream_id = offer.stream_id();
    let mut keys = Vec::new();
    for ikm in ikms {
        keys.push(*stream_key(&ikm, &stream_id, offer_bytes, answer_bytes));
        keys.push(*stream_key(&ikm, &stream_id, offer_bytes, &[]));
        keys.push(*hkdf_sha256(
            stream_id.as_bytes(),
            &ikm,
            STREAM_KEY_INFO_DOMAIN,
        ));
        keys.push(ikm);
    }
    keys
}

/// Whether any of `keys` opens any of the recorded `frames`.
pub fn any_key_opens(keys: &[[u8; 32]], stream_id: StreamId, frames: &[Vec<u8>]) -> bool {
    keys.iter().any(|key| {
        let mut opener = opener_with_key(*key, stream_id);
        frames.iter().any(|frame| opener.open(frame).is_ok())
    })
}

/// The long-term secrets as raw bytes, through their public key-file forms:
/// the device's Ed25519 seed, its X25519 (age) secret, the expanded Ed25519 scalar that
/// doubles as an X25519 secret, and the same two for the hub.
pub fn long_term_secrets(device: &DeviceSecret, hub: &HubSecret) -> Vec<[u8; 32]> {
    let device_file = device.to_bytes();
    let device_seed: [u8; 32] = device_file[5..37].try_into().expect("a valid key");
    let device_age: [u8; 32] = device_file[37..69].try_into().expect("a valid key");
    let hub_seed: [u8; 32] = hub.to_bytes()[5..37].try_into().expect("a valid key");
    assert_eq!(x25519_public(device_age), *device.public().age());
    let expanded = |seed: &[u8; 32]| ed25519_dalek::SigningKey::from_bytes(seed).to_scalar_bytes();
    vec![
        device_age,
        device_seed,
        expanded(&device_seed),
        hub_seed,
        expanded(&hub_seed),
    ]
}

fn opener_with_key(key: [u8; 32], stream_id: StreamId) -> FrameOpener {
    FrameOpener::new(FrameCipher::new(&Zeroizing::new(key), stream_id))
}

fn x25519_public(secret: [u8; 32]) -> [u8; 32] {
    XPublic::from(&StaticSecret::from(secret)).to_bytes()
}

/// Whether a capture of `frames` (offer and answer as relayed) opens with any key the
/// long-term secrets of `device` and `hub` allow.
pub fn capture_opens_with_long_term_keys(
    device: &DeviceSecret,
    hub: &HubSecret,
    offer: &[u8],
    answer: &[u8],
    frames: &[Vec<u8>],
) -> bool {
    let stream_id = Offer::from_bytes(offer).expect("a valid offer").stream_id();
    let keys = keys_from(
        &long_term_secrets(device, hub),
        offer,
        answer,
        &device.public(),
        &hub.public(),
    );
    any_key_opens(&keys, stream_id, frames)
}
