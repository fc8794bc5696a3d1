//! Pairing and recovery codes, the strings people type. Raw mode (first byte 0): any text is
//! read by `PairingCode::parse` and `RecoveryKey::from_code` without panicking, and a pairing
//! code read from text re-encodes to a string that reads back to the same code. Structured
//! modes: a pairing code made from arbitrary parts (1), or a fresh recovery code (2),
//! round-trips through its text, and one character changed (as a typo would) is either
//! refused or read as the very same code (the tolerated look-alikes, case).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use porchlight_crypto::{LinkHash, PairingCode, PairingSecret, RecoveryKey};

#[derive(Debug, Arbitrary)]
struct Pairing {
    url: String,
    secret: [u8; 16],
    root: [u8; 32],
    typo_at: usize,
    typo: char,
}

#[derive(Debug, Arbitrary)]
struct Typo {
    at: usize,
    with: char,
}

fn with_typo(text: &str, at: usize, with: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if !chars.is_empty() {
        let i = at % chars.len();
        chars[i] = with;
    }
    chars.into_iter().collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    match mode % 3 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            if let Ok(code) = PairingCode::parse(&text) {
                let again = PairingCode::parse(&code.encode());
                assert!(
                    again.is_ok_and(|a| a == code),
                    "a pairing code's text reads back"
                );
            }
            if let Ok(key) = RecoveryKey::from_code(&text) {
                let _ = key.public();
            }
        }
        1 => {
            let Ok(p) = Pairing::arbitrary(&mut u) else {
                return;
            };
            let mut root = String::new();
            for b in p.root {
                root.push_str(&format!("{b:02x}"));
            }
            let Ok(root) = LinkHash::from_hex(&root) else {
                return;
            };
            let Ok(code) =
                PairingCode::from_parts(&p.url, PairingSecret::from_bytes(p.secret), root)
            else {
                return;
            };
            let text = code.encode();
            match PairingCode::parse(&text) {
                Ok(read) => assert!(read == code, "parse(encode(code)) = code"),
                Err(e) => panic!("a pairing code does not read back: {e}"),
            }
            let typo = with_typo(&text, p.typo_at, p.typo);
            if let Ok(read) = PairingCode::parse(&typo) {
                assert!(
                    read == code,
                    "a typo read as another pairing code: {typo:?}"
                );
            }
        }
        _ => {
            let Ok(t) = Typo::arbitrary(&mut u) else {
                return;
            };
            let (key, code) = RecoveryKey::generate();
            match RecoveryKey::from_code(code.expose()) {
                Ok(read) => assert_eq!(read.public(), key.public(), "a recovery code reads back"),
                Err(e) => panic!("a recovery code does not read back: {e}"),
            }
            let typo = with_typo(code.expose(), t.at, t.with);
            if let Ok(read) = RecoveryKey::from_code(&typo) {
                assert_eq!(
                    read.public(),
                    key.public(),
                    "a typo read as another recovery key"
                );
            }
        }
    }
});
