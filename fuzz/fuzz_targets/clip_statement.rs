//! Clip statements and their signatures. The input is `statement bytes ‖ 64-byte signature ‖
//! flip`: parsing never panics and a parsed statement re-encodes to its bytes; a fuzzed
//! signature under the fixture hub verifies only if it is the hub's real one (a forgery); the hub's real
//! signature verifies (in the chain too), and with one bit flipped (chosen by `flip`) never.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porchlight_crypto::{
    ClipSignature, ClipStatement, sign_clip, verify_clip, verify_clip_in_chain,
};
use porchlight_fuzz::{ACCOUNT, HUBS};

fuzz_target!(|data: &[u8]| {
    let Some((flip, rest)) = data.split_last() else {
        return;
    };
    let (statement_bytes, signature) = if rest.len() >= 64 {
        let (s, sig) = rest.split_at(rest.len() - 64);
        let mut arr = [0u8; 64];
        arr.copy_from_slice(sig);
        (s, Some(ClipSignature::from_bytes(arr)))
    } else {
        (rest, None)
    };
    let Ok(statement) = ClipStatement::from_bytes(statement_bytes) else {
        return;
    };
    assert_eq!(
        statement.to_bytes(),
        statement_bytes,
        "a statement re-encodes to its bytes"
    );
    assert!(!statement.camera_id().is_empty());
    let account = &*ACCOUNT;
    let hub = account.hub.public();
    let real = sign_clip(&statement, &account.hub);
    if let Some(signature) = signature {
        let ok = verify_clip(&statement, &signature, &hub).is_ok();
        // Another valid signature needs the hub's secret key: the fuzzer's never verify, the
        // real one (signing is deterministic) always does.
        assert_eq!(
            ok,
            signature == real,
            "a signature other than the hub's verified"
        );
    }
    assert!(verify_clip(&statement, &real, &hub).is_ok());
    assert!(verify_clip_in_chain(&account.chain, &statement, &real, &hub).is_ok());
    // Another hub's key (not in the chain, and not the signer) is refused both ways.
    let other = HUBS[2].public();
    assert!(verify_clip(&statement, &real, &other).is_err());
    assert!(verify_clip_in_chain(&account.chain, &statement, &real, &other).is_err());
    let mut forged = real.to_bytes();
    forged[usize::from(*flip % 64)] ^= 1 << (*flip % 8);
    assert!(
        verify_clip(&statement, &ClipSignature::from_bytes(forged), &hub).is_err(),
        "a signature with a flipped bit verified"
    );
});
