//! Signed notes: Go's `golang.org/x/mod/sumdb/note` test vectors (keys, a signature made here
//! byte-identical to Go's, notes Go signed), and each refusal as its own error.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use porchlight_tlog::note::{MAX_NOTE_BYTES, MAX_SIGNATURES, MAX_TEXT_BYTES};
use porchlight_tlog::{
    KeyError, KeyName, NoteError, NoteSigner, NoteVerifier, SignedNote, SigningKey, open_note,
};

pub const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
pub const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
pub const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// Go's signer key string, read the way Go reads it: `PRIVATE+KEY+<name>+<id>+<base64(0x01 ‖
/// seed)>`.
pub fn peter_signer() -> NoteSigner {
    let data = PETER_SKEY.splitn(5, '+').nth(4).unwrap();
    let data = BASE64.decode(data).unwrap();
    assert_eq!(data[0], 0x01);
    let seed: [u8; 32] = data[1..].try_into().unwrap();
    NoteSigner::new(
        KeyName::new("PeterNeumann").unwrap(),
        SigningKey::from_bytes(&seed),
    )
}

fn peter() -> NoteVerifier {
    NoteVerifier::parse(PETER_VKEY).unwrap()
}

fn enoch() -> NoteVerifier {
    NoteVerifier::parse(ENOCH_VKEY).unwrap()
}

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(
        KeyName::new(name).unwrap(),
        SigningKey::from_bytes(&[seed; 32]),
    )
}

#[test]
fn go_verifier_keys_parse_and_re_encode() {
    for vkey in [PETER_VKEY, ENOCH_VKEY] {
        assert_eq!(NoteVerifier::parse(vkey).unwrap().to_vkey(), vkey);
    }
    assert_eq!(peter().key_id().to_string(), "c74f20a3");
    assert_eq!(peter_signer().verifier(), peter());
}

#[test]
fn go_mangled_verifier_keys_are_refused() {
    // As Go's TestNewVerifier: every proper substring, and every single-byte increment.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if (i, j) != (0, b.len()) {
                let s = String::from_utf8_lossy(&b[i..j]);
                assert!(NoteVerifier::parse(&s).is_err(), "{s}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(NoteVerifier::parse(&s).is_err(), "{s}");
    }
    // Wrong key length and unknown algorithm, each with its key id adjusted. (Go refuses the
    // first for its length; its last base64 digit has stray low bits, which Go's lenient
    // decoder ignores and the strict one here refuses first.)
    assert_eq!(
        NoteVerifier::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(KeyError::BadBase64)
    );
    let long_key = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAAAA";
    assert_eq!(
        NoteVerifier::parse(&format!("PeterNeumann+c74f20a3+{long_key}")),
        Err(KeyError::BadKeyLength(36))
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(KeyError::UnsupportedAlgorithm(0x65))
    );
}

#[test]
fn verifier_key_refusals_are_distinct() {
    let cases = [
        ("PeterNeumann", KeyError::Malformed),
        ("PeterNeumann+c74f20a3", KeyError::Malformed),
        (
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            KeyError::Malformed,
        ),
        (
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            KeyError::BadKeyName,
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            KeyError::BadBase64,
        ),
        (
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            KeyError::KeyIdMismatch,
        ),
    ];
    for (vkey, want) in cases {
        assert_eq!(NoteVerifier::parse(vkey), Err(want), "{vkey}");
    }
    // The identity point is a small-order key: refused even with a matching id.
    let name = KeyName::new("weak").unwrap();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let ed25519 = porchlight_tlog::note::ED25519_SIGNATURE_TYPE;
    let data = BASE64.encode([&[ed25519][..], &identity].concat());
    let id = {
        use sha2::{Digest, Sha256};
        let d = Sha256::new()
            .chain_update(b"weak\n\x01")
            .chain_update(identity)
            .finalize();
        format!("{:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3])
    };
    assert_eq!(
        NoteVerifier::parse(&format!("{name}+{id}+{data}")),
        Err(KeyError::BadPublicKey)
    );
}

#[test]
fn signing_reproduces_go_byte_for_byte() {
    let note = SignedNote::sign(TEXT, &[&peter_signer()]).unwrap();
    assert_eq!(note.encode(), format!("{TEXT}\n{PETER_SIG}"));
}

#[test]
fn go_signed_notes_verify() {
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    // One known key: Peter's signature counts, Enoch's is kept but ignored.
    let n = open_note(msg.as_bytes(), &[peter()]).unwrap();
    assert_eq!(n.text(), TEXT);
    let names: Vec<&str> = n.verified_signatures().map(|s| s.name().as_str()).collect();
    assert_eq!(names, ["PeterNeumann"]);
    assert_eq!(n.note().signatures().len(), 2);
    assert_eq!(n.note().to_bytes(), msg.as_bytes());
    // Both known.
    let n = open_note(msg.as_bytes(), &[peter(), enoch()]).unwrap();
    assert_eq!(n.verified_signatures().count(), 2);
    // Neither.
    assert_eq!(
        open_note(msg.as_bytes(), &[]).unwrap_err(),
        NoteError::NoKnownSignature
    );
    // The same key listed twice is not ambiguous.
    assert!(open_note(msg.as_bytes(), &[enoch(), peter(), enoch()]).is_ok());
}

#[test]
fn go_malformed_notes_are_refused() {
    let bad = [
        (TEXT.to_owned(), NoteError::MissingBlankLine),
        (format!("{TEXT}\n"), NoteError::NoSignatures),
        (
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            NoteError::MissingFinalNewline,
        ),
        (
            format!("\x01{TEXT}\n{PETER_SIG}"),
            NoteError::ControlCharacter,
        ),
        (
            format!(
                "{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            ),
            NoteError::BadBase64,
        ),
        (
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
            NoteError::BadSignatureLine,
        ),
    ];
    for (msg, want) in bad {
        assert_eq!(
            open_note(msg.as_bytes(), &[peter()]).unwrap_err(),
            want,
            "{msg}"
        );
    }
    let mut not_utf8 = b"\xff".to_vec();
    not_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(
        open_note(&not_utf8, &[peter()]).unwrap_err(),
        NoteError::NotUtf8
    );
}

#[test]
fn note_refusals_are_distinct() {
    let key = signer("porch.example/log", 1);
    let other = signer("porch.example/log", 2);
    let stranger = signer("stranger.example/log", 3);
    let good = SignedNote::sign("hello\n", &[&key]).unwrap().encode();
    let sig_line = good.split_once("\n\n").unwrap().1.to_owned();
    let (prefix, b64) = sig_line.trim_end().rsplit_once(' ').unwrap();
    let mut raw = BASE64.decode(b64).unwrap();

    let forged = good.replace("hello", "jello");
    raw[10] ^= 1;
    let bad_sig = format!("hello\n\n{prefix} {}\n", BASE64.encode(&raw));
    raw[10] ^= 1;
    raw[0] ^= 1;
    let wrong_id = format!("hello\n\n{prefix} {}\n", BASE64.encode(&raw));
    raw[0] ^= 1;
    // The same key, but a signature of another length (the id is right: it must verify).
    let long_sig = format!(
        "hello\n\n{prefix} {}\n",
        BASE64.encode([&raw[..], &[0]].concat())
    );
    let by_stranger = SignedNote::sign("hello\n", &[&stranger]).unwrap().encode();
    let by_other_key = SignedNote::sign("hello\n", &[&other]).unwrap().encode();
    let duplicated = format!("{good}{sig_line}");
    let too_many = {
        let mut msg = String::from("hello\n\n");
        for i in 0..=MAX_SIGNATURES as u8 {
            let note = SignedNote::sign("hello\n", &[&signer(&format!("w{i}"), i)]).unwrap();
            msg.push_str(note.encode().split_once("\n\n").unwrap().1);
        }
        msg
    };
    let big_text = format!("{}\n", "a".repeat(MAX_TEXT_BYTES));
    let text_too_large = format!("{big_text}\n{sig_line}");
    let note_too_large = format!("{good}{}", "x".repeat(MAX_NOTE_BYTES));

    let cases: Vec<(&str, String, NoteError)> = vec![
        ("forged text", forged, NoteError::BadSignature),
        ("flipped signature", bad_sig, NoteError::BadSignature),
        (
            "signature of the wrong length",
            long_sig,
            NoteError::BadSignature,
        ),
        ("wrong key id", wrong_id, NoteError::UnknownKeyId),
        ("rotated key", by_other_key, NoteError::UnknownKeyId),
        ("unknown key only", by_stranger, NoteError::NoKnownSignature),
        (
            "no blank line",
            good.replace("\n\n", "\n"),
            NoteError::MissingBlankLine,
        ),
        ("bad base64", good.replace('=', "-"), NoteError::BadBase64),
        (
            "short signature",
            format!("hello\n\n{prefix} AAAAAA==\n"),
            NoteError::ShortSignature,
        ),
        (
            "no signatures",
            "hello\n\n".to_owned(),
            NoteError::NoSignatures,
        ),
        (
            "no final newline",
            good.trim_end().to_owned(),
            NoteError::MissingFinalNewline,
        ),
        (
            "garbled line",
            good.replace('\u{2014}', "-"),
            NoteError::BadSignatureLine,
        ),
        (
            "bad key name",
            good.replace("porch.example/log", "porch+example"),
            NoteError::BadKeyName,
        ),
        ("duplicate", duplicated, NoteError::DuplicateSignature),
        (
            "too many",
            too_many,
            NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            },
        ),
        (
            "control character",
            good.replace("hello", "hel\tlo"),
            NoteError::ControlCharacter,
        ),
        (
            "text too large",
            text_too_large,
            NoteError::TextTooLarge {
                len: MAX_TEXT_BYTES + 1,
                max: MAX_TEXT_BYTES,
            },
        ),
        (
            "note too large",
            note_too_large.clone(),
            NoteError::TooLarge {
                len: note_too_large.len(),
                max: MAX_NOTE_BYTES,
            },
        ),
    ];
    for (what, msg, want) in &cases {
        assert_eq!(
            open_note(msg.as_bytes(), &[key.verifier()]).unwrap_err(),
            *want,
            "{what}"
        );
    }
    assert_eq!(
        open_note(good.as_bytes(), &[key.verifier()])
            .unwrap()
            .text(),
        "hello\n"
    );
}

#[test]
fn unknown_signatures_are_ignored_but_a_bad_known_one_sinks_the_note() {
    let log = signer("porch.example/log", 1);
    let witness = signer("witness.example", 2);
    let mut note = SignedNote::sign("tree\n", &[&log]).unwrap();
    note.add_signature(&witness).unwrap();
    let msg = note.encode();
    assert!(open_note(msg.as_bytes(), &[log.verifier()]).is_ok());
    assert!(open_note(msg.as_bytes(), &[witness.verifier()]).is_ok());
    // Corrupt the witness's signature: fine for one who does not know the witness, fatal
    // for one who does.
    let lines: Vec<&str> = msg.lines().collect();
    let witness_line = lines[3];
    let (p, b) = witness_line.rsplit_once(' ').unwrap();
    let mut raw = BASE64.decode(b).unwrap();
    raw[20] ^= 0x80;
    let corrupted = msg.replace(witness_line, &format!("{p} {}", BASE64.encode(&raw)));
    assert!(open_note(corrupted.as_bytes(), &[log.verifier()]).is_ok());
    assert_eq!(
        open_note(corrupted.as_bytes(), &[log.verifier(), witness.verifier()]).unwrap_err(),
        NoteError::BadSignature
    );
}

#[test]
fn the_last_blank_line_separates_text_and_signatures() {
    let key = signer("k", 5);
    for text in ["a\n\nb\n", "\n", "a\n\n", "a\n\n\n"] {
        let note = SignedNote::sign(text, &[&key]).unwrap();
        let opened = open_note(&note.to_bytes(), &[key.verifier()]).unwrap();
        assert_eq!(opened.text(), text);
    }
}
