//! Live view: offers, answers and sealed frames. Mode 0: an offer's bytes go to the hub's
//! `answer_offer` (fixture chain and hub), and `Offer::from_bytes` re-encodes what it
//! accepts. Mode 1: an answer's bytes go to a real pending view's `finish`, and
//! `Answer::from_bytes` re-encodes what it accepts. Mode 2: a real handshake, then frames:
//! fuzzed bytes handed to the opener never panic or open (no key), frames sealed from fuzzed
//! payloads open in order to the same payload and kind, a replayed frame is refused, and a
//! frame with one bit flipped never opens.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use porchlight_crypto::{
    Answer, FrameHeader, FrameKind, Offer, OfferWindow, PendingView, answer_offer,
};
use porchlight_fuzz::{ACCOUNT, split_u16_prefixed};

const NOW_MS: u64 = 1_800_000_000_000;

#[derive(Debug, Arbitrary)]
struct Frames {
    frames: Vec<(u8, Vec<u8>)>,
    flip: u32,
    garbage: Vec<u8>,
}

fn offer(data: &[u8]) {
    let account = &*ACCOUNT;
    if let Ok(offer) = Offer::from_bytes(data) {
        assert_eq!(offer.to_bytes(), data, "an offer re-encodes to its bytes");
    }
    if let Ok(accepted) = answer_offer(
        &account.hub,
        &account.chain,
        data,
        None,
        NOW_MS,
        OfferWindow::default(),
    ) {
        assert_eq!(accepted.offer.to_bytes(), data);
        assert!(
            account
                .chain
                .devices()
                .iter()
                .any(|d| d.key.sign() == accepted.offer.device_key()),
            "an offer from outside the chain was answered"
        );
    }
}

fn answer(data: &[u8]) {
    let account = &*ACCOUNT;
    if let Ok(answer) = Answer::from_bytes(data) {
        assert_eq!(answer.to_bytes(), data, "an answer re-encodes to its bytes");
    }
    let Ok(view) = PendingView::start(&account.phone, "front", NOW_MS) else {
        panic!("a pending view for a valid camera")
    };
    assert!(
        view.finish(data, &account.chain, &account.hub.public())
            .is_err(),
        "a forged answer"
    );
}

fn frames(data: &[u8]) {
    let account = &*ACCOUNT;
    let Ok(input) = Frames::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let view = match PendingView::start(&account.laptop, "front", NOW_MS) {
        Ok(v) => v,
        Err(e) => panic!("start: {e}"),
    };
    let accepted = match answer_offer(
        &account.hub,
        &account.chain,
        view.offer_bytes(),
        Some("front"),
        NOW_MS,
        OfferWindow::default(),
    ) {
        Ok(a) => a,
        Err(e) => panic!("the hub refused a real offer: {e}"),
    };
    let mut opener = match view.finish(&accepted.answer, &account.chain, &account.hub.public()) {
        Ok(o) => o,
        Err(e) => panic!("the viewer refused a real answer: {e}"),
    };
    let mut sealer = accepted.sealer;
    assert!(
        opener.open(&input.garbage).is_err(),
        "an unsealed frame opened"
    );
    let mut last: Option<Vec<u8>> = None;
    for (i, (kind, payload)) in input.frames.iter().take(8).enumerate() {
        let kind = match kind % 3 {
            0 => FrameKind::Init,
            1 => FrameKind::Fragment { keyframe: true },
            _ => FrameKind::Fragment { keyframe: false },
        };
        let Ok(sealed) = sealer.seal(kind, payload) else {
            continue;
        };
        let header = match FrameHeader::parse(&sealed) {
            Ok(h) => h,
            Err(e) => panic!("a sealed frame's header does not parse: {e}"),
        };
        assert_eq!(header.kind, kind);
        if i == 0 {
            let at = input.flip as usize % (sealed.len() * 8);
            let mut flipped = sealed.clone();
            flipped[at / 8] ^= 1 << (at % 8);
            assert!(
                opener.open(&flipped).is_err(),
                "a frame with bit {at} flipped opened"
            );
        }
        match opener.open(&sealed) {
            Ok(opened) => {
                assert_eq!(opened.kind, kind);
                assert_eq!(&opened.payload, payload, "open(seal(x)) = x");
                assert_eq!(opened.seq, header.seq);
            }
            Err(e) => panic!("a sealed frame does not open: {e}"),
        }
        if let Some(previous) = &last {
            assert!(opener.open(previous).is_err(), "a replayed frame opened");
        }
        last = Some(sealed);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => offer(rest),
        1 => answer(rest),
        _ => {
            frames(rest);
            for piece in split_u16_prefixed(rest) {
                let _ = FrameHeader::parse(piece);
            }
        }
    }
});
