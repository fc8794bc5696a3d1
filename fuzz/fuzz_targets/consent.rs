//! Consent receipts. Raw mode (first byte even): `ConsentReceipt::from_bytes` never panics, a
//! parsed receipt re-encodes to its bytes, and `verify` against the fixture chain never
//! panics. Signed mode (odd): an arbitrary receipt signed by a fixture device verifies exactly
//! when the signer is a current device of the chain it names, round-trips through bytes, and
//! with one bit flipped anywhere never verifies.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use porchlight_crypto::{ConsentAction, ConsentReceipt, ConsentScope, LinkHash};
use porchlight_fuzz::{ACCOUNT, DEVICES};

#[derive(Debug, Arbitrary)]
struct Input {
    give: bool,
    clip: bool,
    id: String,
    own_chain: bool,
    other_root: [u8; 32],
    signer: u8,
    issued_at_ms: i64,
    flip: u16,
}

fn raw(data: &[u8]) {
    let Ok(receipt) = ConsentReceipt::from_bytes(data) else {
        return;
    };
    assert_eq!(
        receipt.to_bytes(),
        data,
        "a receipt re-encodes to its bytes"
    );
    let _ = receipt.verify(&ACCOUNT.chain);
}

fn signed(data: &[u8]) {
    let account = &*ACCOUNT;
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let action = if input.give {
        ConsentAction::Give
    } else {
        ConsentAction::Withdraw
    };
    let scope = if input.clip {
        ConsentScope::Clip(input.id)
    } else {
        ConsentScope::Camera(input.id)
    };
    let root = if input.own_chain {
        account.chain.root()
    } else {
        let hex: String = input
            .other_root
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let Ok(root) = LinkHash::from_hex(&hex) else {
            return;
        };
        root
    };
    let device = match input.signer % 3 {
        0 => &account.phone,
        1 => &account.laptop,
        _ => &DEVICES[6],
    };
    let Ok(receipt) = ConsentReceipt::sign(action, scope, root, input.issued_at_ms, device) else {
        return;
    };
    let bytes = receipt.to_bytes();
    let read = match ConsentReceipt::from_bytes(&bytes) {
        Ok(r) => r,
        Err(e) => panic!("a signed receipt does not parse: {e}"),
    };
    assert_eq!(read, receipt, "decode(encode(receipt)) = receipt");
    let should = root == account.chain.root() && input.signer % 3 != 2;
    assert_eq!(
        read.verify(&account.chain).is_ok(),
        should,
        "verify(sign(x))"
    );
    if should {
        let at = usize::from(input.flip) % (bytes.len() * 8);
        let mut flipped = bytes.clone();
        flipped[at / 8] ^= 1 << (at % 8);
        if let Ok(forged) = ConsentReceipt::from_bytes(&flipped) {
            assert!(
                forged.verify(&account.chain).is_err(),
                "a receipt with bit {at} flipped verified"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => signed(rest),
        Some((_, rest)) => raw(rest),
        None => {}
    }
});
