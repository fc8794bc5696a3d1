//! Checkpoints: a real sum.golang.org checkpoint, Go's tree-note vectors, a checkpoint signed
//! here and opened again, and each refusal as its own error.

use porchlight_tlog::{
    Checkpoint, CheckpointError, KeyName, MemoryTree, NoteError, NoteSigner, NoteVerifier,
    SignedNote, SigningKey, leaf_hash, open_checkpoint,
};

/// Retrieved from https://sum.golang.org/latest on 2024-09-23, as pinned in sigsum-go's
/// `pkg/types/checkpoint_test.go`.
const SUMDB_CHECKPOINT: &str = "go.sum database tree
30055305
mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=

— sum.golang.org Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=
";
/// The Go checksum database's key (`cmd/go/internal/modfetch/key.go`).
const SUMDB_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
const ORIGIN: &str = "porch.example/log";

fn log_signer() -> NoteSigner {
    NoteSigner::new(
        KeyName::new(ORIGIN).unwrap(),
        SigningKey::from_bytes(&[42; 32]),
    )
}

#[test]
fn a_real_sum_golang_org_checkpoint_verifies() {
    let verifier = NoteVerifier::parse(SUMDB_VKEY).unwrap();
    let c = open_checkpoint(
        SUMDB_CHECKPOINT.as_bytes(),
        "go.sum database tree",
        std::slice::from_ref(&verifier),
    )
    .unwrap();
    assert_eq!(c.size(), 30_055_305);
    assert_eq!(
        hex::encode(c.root()),
        "9977e045c2746c6d23dc23dd2b08065ad5330546d7ebbb1a64646616e2461ac3"
    );
    assert_eq!(
        SignedNote::parse(SUMDB_CHECKPOINT.as_bytes())
            .unwrap()
            .encode(),
        SUMDB_CHECKPOINT
    );
    // One changed digit of the size and it no longer does.
    let forged = SUMDB_CHECKPOINT.replace("30055305", "30055306");
    assert_eq!(
        open_checkpoint(forged.as_bytes(), "go.sum database tree", &[verifier]).unwrap_err(),
        CheckpointError::Note(NoteError::BadSignature)
    );
}

#[test]
fn go_tree_note_text() {
    // golang.org/x/mod/sumdb/tlog TestFormatTree.
    let c = Checkpoint::new(
        "go.sum database tree",
        123_456_789_012,
        leaf_hash(b"hello world"),
    )
    .unwrap();
    let golden =
        "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
    assert_eq!(c.to_text(), golden);
    assert_eq!(Checkpoint::parse_text(golden).unwrap(), c);
    // TestParseTree's bad trees.
    assert_eq!(
        Checkpoint::parse_text(
            "go.sum database tree\n0xabcdef\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n"
        ),
        Err(CheckpointError::NonDecimalSize)
    );
    assert!(matches!(
        Checkpoint::parse_text(
            "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBTOOBIG=\n"
        ),
        Err(CheckpointError::BadRootBase64 | CheckpointError::BadRootLength(_))
    ));
}

#[test]
fn a_checkpoint_signed_here_opens_and_proves() {
    let mut tree = MemoryTree::new();
    for i in 0u32..1000 {
        tree.push(&i.to_be_bytes());
    }
    let signer = log_signer();
    let old = Checkpoint::new(ORIGIN, 700, tree.root_at(700).unwrap()).unwrap();
    let new = Checkpoint::new(ORIGIN, 1000, tree.root()).unwrap();
    let old_msg = old.sign(&signer).unwrap().to_bytes();
    let new_msg = new.sign(&signer).unwrap().to_bytes();
    let verifiers = [NoteVerifier::parse(&signer.verifier().to_vkey()).unwrap()];
    let old_seen = open_checkpoint(&old_msg, ORIGIN, &verifiers).unwrap();
    let new_seen = open_checkpoint(&new_msg, ORIGIN, &verifiers).unwrap();
    assert_eq!((old_seen.clone(), new_seen.clone()), (old, new));
    let proof = tree.consistency_proof(700, 1000).unwrap();
    porchlight_tlog::verify_consistency(
        old_seen.size(),
        new_seen.size(),
        old_seen.root(),
        new_seen.root(),
        &proof,
    )
    .unwrap();
    // The empty log has a checkpoint too.
    let empty = Checkpoint::new(ORIGIN, 0, porchlight_tlog::empty_root()).unwrap();
    let msg = empty.sign(&signer).unwrap().to_bytes();
    assert_eq!(open_checkpoint(&msg, ORIGIN, &verifiers).unwrap(), empty);
}

#[test]
fn extension_lines_parse_but_porchlight_refuses_them() {
    let signer = log_signer();
    let c = Checkpoint::new(ORIGIN, 3, [9; 32])
        .unwrap()
        .with_extension("witness-policy v1")
        .unwrap();
    let msg = c.sign(&signer).unwrap().to_bytes();
    assert_eq!(
        open_checkpoint(&msg, ORIGIN, &[signer.verifier()]).unwrap_err(),
        CheckpointError::UnexpectedExtension
    );
    let note = SignedNote::parse(&msg)
        .unwrap()
        .verify(&[signer.verifier()])
        .unwrap();
    assert_eq!(Checkpoint::parse_text(note.text()).unwrap(), c);
}

/// Signs `text` properly, so that only the checkpoint body can be at fault.
fn signed(text: &str) -> Vec<u8> {
    SignedNote::sign(text, &[&log_signer()]).unwrap().to_bytes()
}

#[test]
fn checkpoint_refusals_are_distinct() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let verifiers = [log_signer().verifier()];
    let stranger = NoteSigner::new(
        KeyName::new("stranger.example").unwrap(),
        SigningKey::from_bytes(&[7; 32]),
    );
    let good = format!("{ORIGIN}\n20852163\n{root}\n");
    open_checkpoint(&signed(&good), ORIGIN, &verifiers).unwrap();

    let cases: Vec<(&str, Vec<u8>, CheckpointError)> = vec![
        (
            "non-decimal size",
            signed(&format!("{ORIGIN}\n2085216x\n{root}\n")),
            CheckpointError::NonDecimalSize,
        ),
        (
            "signed size",
            signed(&format!("{ORIGIN}\n+20852163\n{root}\n")),
            CheckpointError::NonDecimalSize,
        ),
        (
            "leading zeros",
            signed(&format!("{ORIGIN}\n020852163\n{root}\n")),
            CheckpointError::LeadingZeroSize,
        ),
        (
            "size past u64",
            signed(&format!("{ORIGIN}\n18446744073709551616\n{root}\n")),
            CheckpointError::SizeOverflow,
        ),
        (
            "short root",
            signed(&format!(
                "{ORIGIN}\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n"
            )),
            CheckpointError::BadRootLength(31),
        ),
        (
            "long root",
            signed(&format!(
                "{ORIGIN}\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n"
            )),
            CheckpointError::BadRootLength(33),
        ),
        (
            "root not canonical base64",
            signed(&format!(
                "{ORIGIN}\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n"
            )),
            CheckpointError::BadRootBase64,
        ),
        (
            "root unpadded",
            signed(&format!(
                "{ORIGIN}\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n"
            )),
            CheckpointError::BadRootBase64,
        ),
        (
            "missing root line",
            signed(&format!("{ORIGIN}\n5\n")),
            CheckpointError::MissingLines,
        ),
        (
            "empty origin",
            signed(&format!("\n5\n{root}\n")),
            CheckpointError::EmptyLine,
        ),
        (
            "extension line",
            signed(&format!("{good}extra\n")),
            CheckpointError::UnexpectedExtension,
        ),
        (
            "another log",
            signed(&format!("other.example/log\n5\n{root}\n")),
            CheckpointError::OriginMismatch,
        ),
        (
            "unknown key only",
            Checkpoint::parse_text(&good)
                .unwrap()
                .sign(&stranger)
                .unwrap()
                .to_bytes(),
            CheckpointError::Note(NoteError::NoKnownSignature),
        ),
        (
            "no blank line",
            String::from_utf8(signed(&good))
                .unwrap()
                .replacen("\n\n", "\n", 1)
                .into_bytes(),
            CheckpointError::Note(NoteError::MissingBlankLine),
        ),
    ];
    for (what, msg, want) in &cases {
        assert_eq!(
            open_checkpoint(msg, ORIGIN, &verifiers).unwrap_err(),
            *want,
            "{what}"
        );
    }
    // An empty extension line cannot be signed into a checkpoint: it would end the text.
    assert_eq!(
        Checkpoint::parse_text(&format!("{good}\nx\n")),
        Err(CheckpointError::EmptyLine)
    );
    assert_eq!(
        Checkpoint::parse_text(&good[..good.len() - 1]),
        Err(CheckpointError::NotNewlineTerminated)
    );
}
