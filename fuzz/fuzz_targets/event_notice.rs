//! Event notices (`open_event_notice`), the push payload a hub seals and signs. Mode 0: the
//! input is a whole notice; nothing panics, and an accepted notice names a hub of the chain.
//! Mode 1: the input is the sealed part, signed by the fixture hub's own key (a hub that
//! sends garbage): the age header, STREAM payload and JSON body readers see fuzzed bytes
//! past the signature. Mode 2: the input is a plaintext; `seal_notice` then `open_notice`
//! gives it back, and one flipped bit anywhere in the notice makes it refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porchlight_crypto::notice::NOTICE_SIGNATURE_DOMAIN;
use porchlight_crypto::{open_event_notice, open_notice, seal_notice};
use porchlight_fuzz::{ACCOUNT, hub_sign};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let account = &*ACCOUNT;
    let identity = account.phone.age_identity();
    match mode % 3 {
        0 => {
            if let Ok(opened) = open_event_notice(rest, &account.chain, identity) {
                assert_eq!(opened.hub, account.hub.public());
                assert_eq!(opened.hub_name, "porch");
            }
        }
        1 => {
            let key = *account.hub.public().as_bytes();
            let message = [NOTICE_SIGNATURE_DOMAIN, rest, key.as_slice()].concat();
            let signature = hub_sign(1, &message);
            let notice = [rest, key.as_slice(), signature.as_slice()].concat();
            let _ = open_notice(&notice, &account.chain, identity);
            let _ = open_event_notice(&notice, &account.chain, identity);
        }
        _ => {
            let recipients = account.chain.recipients();
            let Ok(notice) = seal_notice(&account.hub, &recipients, rest) else {
                assert!(rest.len() > porchlight_crypto::notice::MAX_NOTICE_PLAINTEXT);
                return;
            };
            match open_notice(&notice, &account.chain, identity) {
                Ok((hub, plaintext)) => {
                    assert_eq!(hub, account.hub.public());
                    assert_eq!(plaintext, rest, "open(seal(x)) = x");
                }
                Err(e) => panic!("a sealed notice does not open: {e}"),
            }
            let laptop = account.laptop.age_identity();
            assert!(open_notice(&notice, &account.chain, laptop).is_ok());
            let at = rest.first().map_or(0, |b| usize::from(*b)) * 7919 % (notice.len() * 8);
            let mut flipped = notice.clone();
            flipped[at / 8] ^= 1 << (at % 8);
            assert!(
                open_notice(&flipped, &account.chain, identity).is_err(),
                "a notice with bit {at} flipped opened"
            );
        }
    }
});
