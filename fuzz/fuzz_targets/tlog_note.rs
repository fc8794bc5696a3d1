//! The transparency log's signed notes and checkpoints (C2SP `signed-note`,
//! `tlog-checkpoint`). Raw mode (first byte even): `SignedNote::parse`, `open_note`,
//! `Checkpoint::parse_text` and `open_checkpoint` never panic; a parsed note and a parsed
//! checkpoint re-encode to their bytes; `NoteVerifier::parse` on a key string never panics
//! and re-encodes. Signed mode (odd): an arbitrary checkpoint or note text signed by the
//! fixture log key opens, round-trips, and with one bit flipped never opens.
#![no_main]

use std::sync::LazyLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use porchlight_tlog::{
    Checkpoint, KeyName, NoteSigner, NoteVerifier, SignedNote, SigningKey, open_checkpoint,
    open_note,
};

const ORIGIN: &str = "porchlight.example/log";

static SIGNER: LazyLock<NoteSigner> = LazyLock::new(|| match KeyName::new(ORIGIN) {
    Ok(name) => NoteSigner::new(name, SigningKey::from_bytes(&[7; 32])),
    Err(e) => panic!("fixture key name: {e}"),
});

#[derive(Debug, Arbitrary)]
struct Input {
    text: Option<String>,
    size: u64,
    root: [u8; 32],
    extension: Option<String>,
    flip: u16,
}

fn raw(data: &[u8]) {
    let verifier = SIGNER.verifier();
    if let Ok(note) = SignedNote::parse(data) {
        assert_eq!(note.to_bytes(), data, "a note re-encodes to its bytes");
    }
    if let Ok(opened) = open_note(data, std::slice::from_ref(&verifier)) {
        assert_eq!(opened.note().to_bytes(), data);
    }
    if let Ok(checkpoint) = open_checkpoint(data, ORIGIN, std::slice::from_ref(&verifier)) {
        assert_eq!(checkpoint.origin(), ORIGIN);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(checkpoint) = Checkpoint::parse_text(text) {
            assert_eq!(
                checkpoint.to_text(),
                text,
                "a checkpoint re-encodes to its text"
            );
        }
        if let Ok(v) = NoteVerifier::parse(text) {
            assert_eq!(v.to_vkey(), text, "a verifier key re-encodes to its string");
        }
    }
}

fn signed(data: &[u8]) {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let verifier = SIGNER.verifier();
    let verifiers = std::slice::from_ref(&verifier);
    let note = match &input.text {
        Some(text) => match SignedNote::sign(text, &[&SIGNER]) {
            Ok(note) => note,
            Err(_) => return,
        },
        None => {
            let Ok(mut checkpoint) = Checkpoint::new(ORIGIN, input.size, input.root) else {
                return;
            };
            if let Some(line) = &input.extension {
                let Ok(c) = checkpoint.with_extension(line) else {
                    return;
                };
                checkpoint = c;
            }
            assert_eq!(
                Checkpoint::parse_text(&checkpoint.to_text()),
                Ok(checkpoint.clone())
            );
            let Ok(note) = checkpoint.sign(&SIGNER) else {
                return;
            };
            let opened = open_checkpoint(&note.to_bytes(), ORIGIN, verifiers);
            if input.extension.is_none() {
                assert_eq!(
                    opened,
                    Ok(checkpoint),
                    "open(sign(checkpoint)) = checkpoint"
                );
            } else {
                assert!(
                    opened.is_err(),
                    "a checkpoint with an extension line was opened"
                );
            }
            note
        }
    };
    let bytes = note.to_bytes();
    match open_note(&bytes, verifiers) {
        Ok(opened) => assert_eq!(opened.note(), &note, "open(sign(text)) = note"),
        Err(e) => panic!("a signed note does not open: {e}"),
    }
    let at = usize::from(input.flip) % (bytes.len() * 8);
    let mut flipped = bytes.clone();
    flipped[at / 8] ^= 1 << (at % 8);
    assert!(
        open_note(&flipped, verifiers).is_err(),
        "a note with bit {at} flipped opened"
    );
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => signed(rest),
        Some((_, rest)) => raw(rest),
        None => {}
    }
});
