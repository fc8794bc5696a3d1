//! Signed hub settings (`crates/crypto/src/hub_settings.rs`). Raw mode (first byte even):
//! `check_hub_settings` on fuzzed bytes never panics and a parsed statement re-encodes to its
//! bytes. Signed mode (odd): arbitrary settings signed by a fixture device; what signs
//! verifies (for this chain and hub, above the applied counter, by a current device) and
//! round-trips, and one flipped bit anywhere makes it refused.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use porchlight_crypto::{CameraSettings, HubSettings, SignedHubSettings, check_hub_settings};
use porchlight_fuzz::{ACCOUNT, DEVICES, HUBS};

#[derive(Debug, Arbitrary)]
struct Input {
    signer: u8,
    hub: u8,
    counter: u64,
    applied: Option<u64>,
    issued_at_ms: i64,
    cameras: Vec<(String, bool, u8, u64, u64)>,
    flip: u16,
}

fn raw(data: &[u8]) {
    let account = &*ACCOUNT;
    let hub = account.hub.public();
    if let Ok(parsed) = SignedHubSettings::from_bytes(data) {
        assert_eq!(parsed.to_bytes(), data, "settings re-encode to their bytes");
    }
    if let Ok(checked) = check_hub_settings(data, &account.chain, &hub, None) {
        assert_eq!(checked.settings().hub_key, *hub.as_bytes());
        assert_eq!(checked.settings().chain_root, account.chain.root());
    }
}

fn signed(data: &[u8]) {
    let account = &*ACCOUNT;
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    // The hub the settings name; the fixture hub is the one that checks them.
    let named = HUBS[usize::from(input.hub % 3)].public();
    let hub = account.hub.public();
    let device = match input.signer % 3 {
        0 => &account.phone,
        1 => &account.laptop,
        _ => &DEVICES[5],
    };
    let settings = HubSettings {
        hub_key: *named.as_bytes(),
        chain_root: account.chain.root(),
        counter: input.counter,
        issued_at_ms: input.issued_at_ms,
        cameras: input
            .cameras
            .into_iter()
            .map(
                |(camera, enabled, sensitivity, pre_roll_ms, post_roll_ms)| CameraSettings {
                    camera,
                    enabled,
                    sensitivity,
                    pre_roll_ms,
                    post_roll_ms,
                },
            )
            .collect(),
    };
    let Ok(signed) = SignedHubSettings::sign(settings, device) else {
        return;
    };
    let bytes = signed.to_bytes();
    let checked = check_hub_settings(&bytes, &account.chain, &hub, input.applied);
    let should =
        named == hub && input.signer % 3 != 2 && input.applied.is_none_or(|a| input.counter > a);
    match checked {
        Ok(checked) => {
            assert!(
                should,
                "settings accepted that must be refused: {checked:?}"
            );
            assert_eq!(checked.to_bytes(), bytes, "decode(encode(x)) = x");
        }
        Err(e) => assert!(!should, "signed settings refused: {e}"),
    }
    if should {
        let at = usize::from(input.flip) % (bytes.len() * 8);
        let mut flipped = bytes.clone();
        flipped[at / 8] ^= 1 << (at % 8);
        assert!(
            check_hub_settings(&flipped, &account.chain, &hub, input.applied).is_err(),
            "settings with bit {at} flipped were accepted"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => signed(rest),
        Some((_, rest)) => raw(rest),
        None => {}
    }
});
