//! Writes the seed corpora under `fuzz/corpus/<target>/` from the project's real formats:
//! the fixture account's chain links, clips and notices sealed to it, statements, settings
//! and receipts it signs, a signed checkpoint, a live handshake, and the media test data
//! (`crates/media/assets/sample.h264`, `crates/porchlight/tests/fixtures/sample.mp4`).
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --bin fuzz-seeds` (from the repository root).
//! Seeds are small on purpose: libFuzzer grows the corpus from them.

use std::fs;
use std::path::{Path, PathBuf};

use porchlight_crypto::{
    CameraSettings, ClipStatement, ConsentAction, ConsentReceipt, ConsentScope, HubSettings,
    OfferWindow, PairingCode, PairingSecret, PendingView, RecoveryKey, SignedHubSettings,
    answer_offer, seal, seal_notice, sign_clip,
};
use porchlight_fuzz::{ACCOUNT, join_u16_prefixed};
use porchlight_media::SyntheticCamera;
use porchlight_media::fmp4::{FragmentEnd, fragment, init_segment, metadata_box};
use porchlight_media::h264::{nal_unit_type, split_annex_b};
use porchlight_tlog::{Checkpoint, KeyName, MemoryTree, NoteSigner, SigningKey};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Corpus {
    root: PathBuf,
}

impl Corpus {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) -> Result<()> {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), bytes)?;
        Ok(())
    }
}

fn with_mode(mode: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(rest);
    out
}

fn main() -> Result<()> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let c = Corpus {
        root: repo.join("fuzz/corpus"),
    };
    let account = &*ACCOUNT;
    let recipients = account.chain.recipients();

    // clip_header: headers of clips sealed to one and to all of the account's devices.
    for (i, to) in [&recipients[..1], &recipients[..]].iter().enumerate() {
        let (mut header, mut payload) = (Vec::new(), Vec::new());
        seal(&b"a clip"[..], &mut header, &mut payload, to)?;
        c.put("clip_header", &format!("sealed-{}", i + 1), &header)?;
    }

    // chain: the fixture links raw (mode 0), and a few signed steps (mode 1).
    let links: Vec<Vec<u8>> = account.links.iter().map(|l| l.to_bytes()).collect();
    let refs: Vec<&[u8]> = links.iter().map(Vec::as_slice).collect();
    c.put("chain", "links", &with_mode(0, &join_u16_prefixed(&refs)))?;
    c.put(
        "chain",
        "genesis",
        &with_mode(0, &join_u16_prefixed(&refs[..1])),
    )?;
    c.put("chain", "signed-steps", &with_mode(1, &[0x55; 96]))?;

    // clip_statement: a statement, the hub's signature, a flip byte.
    let statement = ClipStatement::new("front", 1_800_000_000_000, 12_000, [1; 32], [2; 32])?;
    let signature = sign_clip(&statement, &account.hub);
    let mut s = statement.to_bytes();
    s.extend_from_slice(&signature.to_bytes());
    s.push(3);
    c.put("clip_statement", "signed", &s)?;

    // event_notice: a whole notice (0), its sealed part (1), a plaintext (2).
    let body = br#"{"version":1,"id":"n1","camera":"front","kind":"motion","at_ms":1800000000000}"#;
    let notice = seal_notice(&account.hub, &recipients, body)?;
    c.put("event_notice", "notice", &with_mode(0, &notice))?;
    let sealed = &notice[..notice.len() - 96];
    c.put("event_notice", "sealed", &with_mode(1, sealed))?;
    c.put("event_notice", "plaintext", &with_mode(2, body))?;

    // hub_settings: a signed statement (0), structured (1).
    let mut settings = HubSettings {
        hub_key: *account.hub.public().as_bytes(),
        chain_root: account.chain.root(),
        counter: 3,
        issued_at_ms: 1_800_000_000_000,
        cameras: Vec::new(),
    };
    settings.set_camera(CameraSettings::new("front"));
    settings.set_camera(CameraSettings::new("garden"));
    let signed = SignedHubSettings::sign(settings, &account.phone)?;
    c.put("hub_settings", "signed", &with_mode(0, &signed.to_bytes()))?;
    c.put("hub_settings", "structured", &with_mode(1, &[0x21; 80]))?;

    // codes: a pairing code's and a recovery code's text (0), structured (1, 2).
    let pairing = PairingCode::from_parts(
        "https://porchlight.example",
        PairingSecret::from_bytes([9; 16]),
        account.chain.root(),
    )?;
    c.put(
        "codes",
        "pairing",
        &with_mode(0, pairing.encode().as_bytes()),
    )?;
    let (_, recovery) = RecoveryKey::generate();
    c.put(
        "codes",
        "recovery",
        &with_mode(0, recovery.expose().as_bytes()),
    )?;
    let mut structured = b"https://porchlight.example".to_vec();
    structured.extend_from_slice(&[7; 64]);
    c.put("codes", "pairing-parts", &with_mode(1, &structured))?;
    c.put("codes", "recovery-typo", &with_mode(2, &[5; 16]))?;

    // consent: receipts for a camera and a clip (0), structured (1).
    for (name, scope) in [
        ("camera", ConsentScope::Camera("front".into())),
        ("clip", ConsentScope::Clip("c0ffee".into())),
    ] {
        let r = ConsentReceipt::sign(
            ConsentAction::Give,
            scope,
            account.chain.root(),
            1_800_000_000_000,
            &account.laptop,
        )?;
        c.put("consent", name, &with_mode(0, &r.to_bytes()))?;
    }
    c.put("consent", "structured", &with_mode(1, &[0x31; 80]))?;

    // tlog_note: a signed checkpoint of a real tree (0), its text, the key string, structured.
    let signer = NoteSigner::new(
        KeyName::new("porchlight.example/log")?,
        SigningKey::from_bytes(&[7; 32]),
    );
    let mut tree = MemoryTree::new();
    for i in 0u64..5 {
        tree.push(&i.to_be_bytes());
    }
    let checkpoint = Checkpoint::new("porchlight.example/log", 5, tree.root())?;
    let note = checkpoint.sign(&signer)?;
    c.put("tlog_note", "checkpoint", &with_mode(0, &note.to_bytes()))?;
    c.put(
        "tlog_note",
        "checkpoint-text",
        &with_mode(0, checkpoint.to_text().as_bytes()),
    )?;
    c.put(
        "tlog_note",
        "vkey",
        &with_mode(0, signer.verifier().to_vkey().as_bytes()),
    )?;
    c.put("tlog_note", "structured", &with_mode(1, &[0x41; 96]))?;

    // tlog_proofs: a forged proof of 3 hashes (0), honest trees (1).
    c.put("tlog_proofs", "forged", &with_mode(0, &[0x13; 200]))?;
    c.put(
        "tlog_proofs",
        "honest",
        &with_mode(
            1,
            &[
                0x07, 0x01, 0x05, 0x00, 0x06, 0x00, 0x03, 0x00, 0x02, 0x00, 0x09,
            ],
        ),
    )?;

    // tlog_ct_merkle: a tree of 37 leaves, index 11, old size 20, untampered.
    c.put(
        "tlog_ct_merkle",
        "honest",
        &[37, 0, 11, 0, 20, 0, 0, 0, 0, 0, 0],
    )?;
    c.put(
        "tlog_ct_merkle",
        "tampered",
        &[200, 0, 99, 0, 64, 0, 1, 5, 0, 0, 1, 3, 0, 7, 1, 0],
    )?;

    // live: a real offer (0), a real answer (1), frames (2).
    let view = PendingView::start(&account.phone, "front", 1_800_000_000_000)?;
    c.put("live", "offer", &with_mode(0, view.offer_bytes()))?;
    let accepted = answer_offer(
        &account.hub,
        &account.chain,
        view.offer_bytes(),
        Some("front"),
        1_800_000_000_000,
        OfferWindow::default(),
    )?;
    c.put("live", "answer", &with_mode(1, &accepted.answer))?;
    let mut sealer = accepted.sealer;
    let frame = sealer.seal(porchlight_crypto::FrameKind::Init, b"init segment")?;
    c.put(
        "live",
        "frame",
        &with_mode(2, &join_u16_prefixed(&[&frame])),
    )?;
    c.put("live", "frames-structured", &with_mode(2, &[0x02; 64]))?;

    // mp4_boxes: the test clip, a synthetic init segment and fragment, a metadata box.
    let mp4 = fs::read(repo.join("crates/porchlight/tests/fixtures/sample.mp4"))?;
    c.put("mp4_boxes", "sample-mp4", &with_mode(0, &mp4))?;
    let mut camera = SyntheticCamera::new(15)?;
    let init = init_segment(camera.params())?;
    let frames: Vec<_> = camera.by_ref().take(3).collect();
    let frag = fragment(1, &frames, FragmentEnd::LastDuration(6000))?;
    let meta = metadata_box(br#"{"events":[{"kind":"motion","at_ms":1200}]}"#)?;
    c.put("mp4_boxes", "init", &with_mode(0, &init))?;
    c.put(
        "mp4_boxes",
        "init-meta-fragment",
        &with_mode(0, &[init.clone(), meta, frag].concat()),
    )?;
    c.put("mp4_boxes", "metadata", &with_mode(1, br#"{"events":[]}"#))?;

    // h264: the sample stream's parameter sets and first units (0), the same length-prefixed
    // (1), the SPS and PPS (2), the avcC record (1).
    let sample = fs::read(repo.join("crates/media/assets/sample.h264"))?;
    let nals = split_annex_b(&sample)?;
    let sps = nals
        .iter()
        .find(|n| nal_unit_type(n) == Some(7))
        .ok_or("no SPS")?;
    let pps = nals
        .iter()
        .find(|n| nal_unit_type(n) == Some(8))
        .ok_or("no PPS")?;
    let head: Vec<&[u8]> = nals
        .iter()
        .take(4)
        .map(|n| &n[..n.len().min(600)])
        .collect();
    let mut annex_b = Vec::new();
    for n in &head {
        annex_b.extend_from_slice(&[0, 0, 0, 1]);
        annex_b.extend_from_slice(n);
    }
    c.put("h264", "annex-b", &with_mode(0, &annex_b))?;
    let prefixed = porchlight_media::h264::to_length_prefixed(head.iter().copied())?;
    c.put("h264", "length-prefixed", &with_mode(1, &prefixed))?;
    c.put(
        "h264",
        "avcc",
        &with_mode(1, &camera.params().config_record),
    )?;
    c.put(
        "h264",
        "sps-pps",
        &with_mode(2, &join_u16_prefixed(&[sps, pps])),
    )?;

    println!("seeds written under {}", c.root.display());
    Ok(())
}
