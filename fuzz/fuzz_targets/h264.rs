//! H.264 parameter sets and NAL framing, from cameras (RTSP) and uploads. Nothing panics on
//! any input: `SpsInfo::parse`, `AvcConfig::parse` (the `avcC` record), `split_annex_b`,
//! `split_length_prefixed`, `VideoParams::h264`. Round trips: Annex B → length-prefixed →
//! Annex B keeps the NAL units; length-prefixed → Annex B → length-prefixed is the identity
//! when the units hold no start code; an `avcC` record built from an SPS and PPS parses back
//! to the same SPS and PPS and profile.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porchlight_fuzz::split_u16_prefixed;
use porchlight_media::VideoParams;
use porchlight_media::h264::{
    AvcConfig, SpsInfo, annex_b_to_length_prefixed, avc_decoder_config, length_prefixed_to_annex_b,
    split_annex_b, split_length_prefixed,
};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            // An Annex B stream.
            let Ok(nals) = split_annex_b(rest) else {
                return;
            };
            if nals.is_empty() {
                return;
            }
            let Ok(prefixed) = annex_b_to_length_prefixed(rest) else {
                panic!("Annex B that splits does not convert")
            };
            let Ok(back) = length_prefixed_to_annex_b(&prefixed) else {
                panic!("converted NAL units do not convert back")
            };
            match split_annex_b(&back) {
                Ok(again) => assert_eq!(again, nals, "the NAL units survive the round trip"),
                Err(e) => panic!("converted Annex B does not split: {e}"),
            }
        }
        1 => {
            // Length-prefixed samples, and an avcC record.
            let _ = AvcConfig::parse(rest);
            let Ok(nals) = split_length_prefixed(rest) else {
                return;
            };
            if nals.is_empty() {
                return;
            }
            let Ok(annex_b) = length_prefixed_to_annex_b(rest) else {
                panic!("length-prefixed units that split do not convert")
            };
            let clean = nals.iter().all(|n| {
                !n.windows(3).any(|w| w[..2] == [0, 0] && w[2] <= 1) && n.last() != Some(&0)
            });
            if clean {
                assert_eq!(
                    annex_b_to_length_prefixed(&annex_b).ok().as_deref(),
                    Some(rest),
                    "length-prefixed → Annex B → length-prefixed is the identity"
                );
            }
        }
        _ => {
            // An SPS and a PPS.
            let pieces = split_u16_prefixed(rest);
            let (Some(sps), Some(pps)) = (pieces.first(), pieces.get(1)) else {
                if let Some(sps) = pieces.first() {
                    let _ = SpsInfo::parse(sps);
                }
                return;
            };
            let info = SpsInfo::parse(sps);
            if let Ok(info) = &info {
                let _ = info.rfc6381();
            }
            let _ = VideoParams::h264(sps, pps);
            let Ok(record) = avc_decoder_config(sps, pps) else {
                return;
            };
            assert!(
                info.is_ok(),
                "a record built from an SPS that does not parse"
            );
            match AvcConfig::parse(&record) {
                Ok(config) => {
                    assert_eq!(config.sps, vec![*sps]);
                    assert_eq!(config.pps, vec![*pps]);
                    assert_eq!(config.nal_length_size, 4);
                }
                Err(e) => panic!("a built avcC record does not parse: {e}"),
            }
        }
    }
});
