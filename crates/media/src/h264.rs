//! H.264 byte-stream helpers: NAL units in Annex B and length-prefixed form, the
//! AVCDecoderConfigurationRecord (`avcC`), and the few SPS fields a muxer needs.
//!
//! The SPS is read with `h264-reader` 0.8 — the version `retina` 0.4 depends on, so the hub
//! builds one copy — rather than a hand-written exp-Golomb parser: the SPS has scaling lists,
//! cropping and VUI before and after the fields we want, and a maintained, fuzzed parser gets
//! those right. Everything here is total: malformed input is an [`Error`], never a panic.

use h264_reader::nal::sps::{ChromaFormat, SeqParameterSet};
use h264_reader::nal::{Nal, RefNal};

use crate::{Codec, Error, VideoParams};

/// NAL unit types (ITU-T H.264 table 7-1) this crate looks at.
pub mod nal_type {
    /// Coded slice of a non-IDR picture.
    pub const NON_IDR_SLICE: u8 = 1;
    /// Coded slice of an IDR picture (a keyframe).
    pub const IDR_SLICE: u8 = 5;
    /// Supplemental enhancement information (can carry encoder names and user data).
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
}

/// The type of a NAL unit (the low five bits of its header byte), or `None` for an empty slice.
pub fn nal_unit_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|header| header & 0x1f)
}

/// Splits an Annex B byte stream (NAL units each after a `00 00 01` or `00 00 00 01` start
/// code) into NAL units, without their start codes and trailing zero bytes.
///
/// Leading zero bytes are allowed; anything else before the first start code is an error.
/// Empty NAL units (two start codes in a row) are skipped.
pub fn split_annex_b(stream: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let first = find_start_code(stream, 0).ok_or(Error::NoStartCode)?;
    if stream[..first].iter().any(|&b| b != 0) {
        return Err(Error::NoStartCode);
    }
    let mut nals = Vec::new();
    let mut pos = first + 3;
    while pos <= stream.len() {
        let end = find_start_code(stream, pos).unwrap_or(stream.len());
        let nal = trim_trailing_zeros(&stream[pos..end]);
        if !nal.is_empty() {
            nals.push(nal);
        }
        pos = end + 3;
    }
    Ok(nals)
}

/// Position of the next `00 00 01` at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(3)
        .position(|w| w == [0, 0, 1])
        .map(|p| p + from)
}

/// A NAL unit never ends in a zero byte (its RBSP ends with a stop bit, or with
/// `cabac_zero_word`s ending `03`), so trailing zeros belong to the next start code.
fn trim_trailing_zeros(nal: &[u8]) -> &[u8] {
    let len = nal.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    &nal[..len]
}

/// Splits length-prefixed NAL units (4-byte big-endian lengths, the form [`crate::Frame::data`]
/// and MP4 samples use).
pub fn split_length_prefixed(data: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let mut nals = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or(Error::TruncatedNal)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| Error::TruncatedNal)?;
        if len == 0 {
            return Err(Error::EmptyNal);
        }
        if len > tail.len() {
            return Err(Error::TruncatedNal);
        }
        let (nal, tail) = tail.split_at(len);
        nals.push(nal);
        rest = tail;
    }
    Ok(nals)
}

/// Joins NAL units with 4-byte big-endian length prefixes.
pub fn to_length_prefixed<'a>(nals: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for nal in nals {
        if nal.is_empty() {
            return Err(Error::EmptyNal);
        }
        let len = u32::try_from(nal.len()).map_err(|_| Error::NalTooLarge)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(nal);
    }
    Ok(out)
}

/// Converts an Annex B byte stream to length-prefixed NAL units.
pub fn annex_b_to_length_prefixed(stream: &[u8]) -> Result<Vec<u8>, Error> {
    to_length_prefixed(split_annex_b(stream)?)
}

/// Converts length-prefixed NAL units to an Annex B byte stream (4-byte start codes).
pub fn length_prefixed_to_annex_b(data: &[u8]) -> Result<Vec<u8>, Error> {
    let nals = split_length_prefixed(data)?;
    let mut out = Vec::with_capacity(data.len());
    for nal in nals {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(nal);
    }
    Ok(out)
}

/// Groups NAL units in decoding order into access units (pictures), following H.264 §7.4.1.2.3
/// in the simple form a single-layer stream needs: a new access unit starts at an AUD, SEI,
/// SPS or PPS after a picture's slices, or at a slice whose `first_mb_in_slice` is 0.
pub(crate) fn access_units<'a>(nals: &[&'a [u8]]) -> Vec<Vec<&'a [u8]>> {
    let mut units: Vec<Vec<&'a [u8]>> = Vec::new();
    let mut current: Vec<&'a [u8]> = Vec::new();
    let mut current_has_slice = false;
    for &nal in nals {
        let kind = nal_unit_type(nal).unwrap_or(0);
        let is_slice = (nal_type::NON_IDR_SLICE..=nal_type::IDR_SLICE).contains(&kind);
        // first_mb_in_slice is ue(v) and comes first: its value is 0 exactly when the first
        // bit after the header is 1.
        let first_slice_of_picture = is_slice && nal.get(1).is_some_and(|b| b & 0x80 != 0);
        let starts_new = current_has_slice
            && (first_slice_of_picture || matches!(kind, 6..=9) || (14..=18).contains(&kind));
        if starts_new {
            units.push(std::mem::take(&mut current));
            current_has_slice = false;
        }
        current_has_slice |= is_slice;
        current.push(nal);
    }
    if !current.is_empty() {
        units.push(current);
    }
    units
}

/// What a muxer needs from a sequence parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpsInfo {
    /// Displayed width in pixels, after cropping.
    pub width: u16,
    /// Displayed height in pixels, after cropping.
    pub height: u16,
    /// `profile_idc` (66 Baseline, 77 Main, 100 High, ...).
    pub profile_idc: u8,
    /// The byte of `constraint_set` flags that follows `profile_idc`.
    pub constraint_flags: u8,
    /// `level_idc` (31 for level 3.1, ...).
    pub level_idc: u8,
    /// `chroma_format_idc` (1 for 4:2:0).
    pub chroma_format_idc: u8,
    /// `bit_depth_luma_minus8`.
    pub bit_depth_luma_minus8: u8,
    /// `bit_depth_chroma_minus8`.
    pub bit_depth_chroma_minus8: u8,
}

impl SpsInfo {
    /// Parses an SPS NAL unit (header byte included, no start code or length prefix).
    pub fn parse(sps_nal: &[u8]) -> Result<Self, Error> {
        expect_nal_type(sps_nal, nal_type::SPS)?;
        let nal = RefNal::new(sps_nal, &[], true);
        let sps = SeqParameterSet::from_bits(nal.rbsp_bits())
            .map_err(|e| Error::InvalidSps(format!("{e:?}")))?;
        let (width, height) = sps
            .pixel_dimensions()
            .map_err(|e| Error::InvalidSps(format!("{e:?}")))?;
        let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
            return Err(Error::UnsupportedPictureSize { width, height });
        };
        if w == 0 || h == 0 {
            return Err(Error::UnsupportedPictureSize { width, height });
        }
        let chroma_format_idc = match sps.chroma_info.chroma_format {
            ChromaFormat::Monochrome => 0,
            ChromaFormat::YUV420 => 1,
            ChromaFormat::YUV422 => 2,
            ChromaFormat::YUV444 => 3,
            ChromaFormat::Invalid(_) => {
                return Err(Error::InvalidSps("chroma_format_idc out of range".into()));
            }
        };
        Ok(SpsInfo {
            width: w,
            height: h,
            profile_idc: sps.profile_idc.into(),
            constraint_flags: sps.constraint_flags.into(),
            level_idc: sps.level_idc,
            chroma_format_idc,
            bit_depth_luma_minus8: sps.chroma_info.bit_depth_luma_minus8,
            bit_depth_chroma_minus8: sps.chroma_info.bit_depth_chroma_minus8,
        })
    }

    /// The RFC 6381 codec string, `avc1.PPCCLL` in lowercase hex (profile, constraint flags,
    /// level), as a browser's `MediaSource.isTypeSupported` expects.
    pub fn rfc6381(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile_idc, self.constraint_flags, self.level_idc
        )
    }

    /// Whether the avcC record carries the chroma and bit-depth extension: ISO/IEC 14496-15
    /// §5.3.3.1.2 requires it for the High profiles; like FFmpeg, write it for every profile
    /// other than Baseline (66), Main (77) and Extended (88).
    fn needs_avcc_extension(&self) -> bool {
        !matches!(self.profile_idc, 66 | 77 | 88)
    }
}

fn expect_nal_type(nal: &[u8], expected: u8) -> Result<(), Error> {
    let header = *nal.first().ok_or(Error::EmptyNal)?;
    if header & 0x80 != 0 {
        return Err(Error::BadNalHeader);
    }
    let found = header & 0x1f;
    if found != expected {
        return Err(Error::UnexpectedNalType { expected, found });
    }
    Ok(())
}

/// Builds an AVCDecoderConfigurationRecord (the body of an `avcC` box, ISO/IEC 14496-15
/// §5.3.3.1) from one SPS and one PPS NAL unit, with 4-byte NAL lengths.
pub fn avc_decoder_config(sps: &[u8], pps: &[u8]) -> Result<Vec<u8>, Error> {
    let info = SpsInfo::parse(sps)?;
    expect_nal_type(pps, nal_type::PPS)?;
    let sps_len = u16::try_from(sps.len()).map_err(|_| Error::ParameterSetTooLarge)?;
    let pps_len = u16::try_from(pps.len()).map_err(|_| Error::ParameterSetTooLarge)?;
    let mut record = Vec::with_capacity(11 + sps.len() + pps.len() + 4);
    record.extend_from_slice(&[
        1, // configurationVersion
        info.profile_idc,
        info.constraint_flags,
        info.level_idc,
        0xfc | 3, // reserved bits, lengthSizeMinusOne = 3
        0xe0 | 1, // reserved bits, one SPS
    ]);
    record.extend_from_slice(&sps_len.to_be_bytes());
    record.extend_from_slice(sps);
    record.push(1); // one PPS
    record.extend_from_slice(&pps_len.to_be_bytes());
    record.extend_from_slice(pps);
    if info.needs_avcc_extension() {
        record.extend_from_slice(&[
            0xfc | info.chroma_format_idc,
            0xf8 | info.bit_depth_luma_minus8,
            0xf8 | info.bit_depth_chroma_minus8,
            0, // numOfSequenceParameterSetExt
        ]);
    }
    Ok(record)
}

/// The parts of a parsed AVCDecoderConfigurationRecord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig<'a> {
    /// `AVCProfileIndication`.
    pub profile_idc: u8,
    /// `profile_compatibility` (the SPS constraint flags).
    pub constraint_flags: u8,
    /// `AVCLevelIndication`.
    pub level_idc: u8,
    /// Bytes in each NAL length prefix of the samples (1, 2 or 4).
    pub nal_length_size: u8,
    /// The sequence parameter sets.
    pub sps: Vec<&'a [u8]>,
    /// The picture parameter sets.
    pub pps: Vec<&'a [u8]>,
}

impl<'a> AvcConfig<'a> {
    /// Parses an AVCDecoderConfigurationRecord (the body of an `avcC` box). Trailing bytes
    /// (the High-profile extension) are allowed and ignored.
    pub fn parse(record: &'a [u8]) -> Result<Self, Error> {
        let [
            version,
            profile_idc,
            constraint_flags,
            level_idc,
            length_size,
            sps_count,
            rest @ ..,
        ] = record
        else {
            return Err(Error::InvalidAvcConfig("shorter than its fixed fields"));
        };
        if *version != 1 {
            return Err(Error::InvalidAvcConfig("configurationVersion is not 1"));
        }
        let nal_length_size = (length_size & 0x03) + 1;
        if nal_length_size == 3 {
            return Err(Error::InvalidAvcConfig(
                "3-byte NAL lengths are not allowed",
            ));
        }
        let (sps, rest) = read_parameter_sets(rest, usize::from(sps_count & 0x1f))?;
        let (&pps_count, rest) = rest
            .split_first()
            .ok_or(Error::InvalidAvcConfig("missing PPS count"))?;
        let (pps, _extension) = read_parameter_sets(rest, usize::from(pps_count))?;
        Ok(AvcConfig {
            profile_idc: *profile_idc,
            constraint_flags: *constraint_flags,
            level_idc: *level_idc,
            nal_length_size,
            sps,
            pps,
        })
    }
}

fn read_parameter_sets(mut data: &[u8], count: usize) -> Result<(Vec<&[u8]>, &[u8]), Error> {
    let mut sets = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, rest) = data
            .split_first_chunk::<2>()
            .ok_or(Error::InvalidAvcConfig("truncated parameter set length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 || len > rest.len() {
            return Err(Error::InvalidAvcConfig("parameter set length out of range"));
        }
        let (set, rest) = rest.split_at(len);
        sets.push(set);
        data = rest;
    }
    Ok((sets, data))
}

impl VideoParams {
    /// Describes an H.264 stream from its SPS and PPS NAL units (header byte included, no start
    /// code or length prefix): picture size and codec string from the SPS, and the `avcC`
    /// record holding both.
    pub fn h264(sps: &[u8], pps: &[u8]) -> Result<Self, Error> {
        let info = SpsInfo::parse(sps)?;
        Ok(VideoParams {
            codec: Codec::H264,
            width: info.width,
            height: info.height,
            config_record: avc_decoder_config(sps, pps)?,
            rfc6381: info.rfc6381(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The SPS and PPS x264 wrote for the bundled sample (640x360, Constrained Baseline, level 3.0).
    fn sample_parameter_sets() -> (Vec<u8>, Vec<u8>) {
        let nals = split_annex_b(crate::synthetic::SAMPLE_H264).unwrap();
        let sps = nals
            .iter()
            .find(|n| nal_unit_type(n) == Some(nal_type::SPS))
            .unwrap();
        let pps = nals
            .iter()
            .find(|n| nal_unit_type(n) == Some(nal_type::PPS))
            .unwrap();
        (sps.to_vec(), pps.to_vec())
    }

    /// A 1920x1080 High-profile SPS (level 4.0) with frame cropping (1088 coded rows), as
    /// x264 writes it.
    const SPS_1080P_HIGH: [u8; 27] = [
        0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0xc0, 0x44, 0x00, 0x00,
        0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x78, 0x3c, 0x60, 0xc6, 0x58,
    ];
    const PPS_HIGH: [u8; 6] = [0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    #[test]
    fn splits_annex_b_with_both_start_code_lengths() {
        let stream = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 0,
        ];
        let nals = split_annex_b(&stream).unwrap();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4][..]]
        );
    }

    #[test]
    fn refuses_annex_b_without_start_code() {
        assert!(matches!(split_annex_b(b""), Err(Error::NoStartCode)));
        assert!(matches!(
            split_annex_b(&[0x67, 0, 0, 1, 0x68]),
            Err(Error::NoStartCode)
        ));
        assert!(matches!(split_annex_b(&[0, 0, 0]), Err(Error::NoStartCode)));
    }

    #[test]
    fn annex_b_and_length_prefixed_round_trip() {
        let stream = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3];
        let lp = annex_b_to_length_prefixed(&stream).unwrap();
        assert_eq!(lp, [0, 0, 0, 3, 0x67, 1, 2, 0, 0, 0, 2, 0x68, 3]);
        assert_eq!(length_prefixed_to_annex_b(&lp).unwrap(), stream);
    }

    #[test]
    fn refuses_bad_length_prefixes() {
        assert!(matches!(
            split_length_prefixed(&[0, 0, 0, 5, 1, 2]),
            Err(Error::TruncatedNal)
        ));
        assert!(matches!(
            split_length_prefixed(&[0, 0, 0]),
            Err(Error::TruncatedNal)
        ));
        assert!(matches!(
            split_length_prefixed(&[0, 0, 0, 0]),
            Err(Error::EmptyNal)
        ));
        assert!(matches!(
            to_length_prefixed([&[][..]]),
            Err(Error::EmptyNal)
        ));
    }

    #[test]
    fn reads_the_sample_sps() {
        let (sps, _) = sample_parameter_sets();
        let info = SpsInfo::parse(&sps).unwrap();
        assert_eq!((info.width, info.height), (640, 360));
        assert_eq!(info.profile_idc, 66);
        assert_eq!(info.chroma_format_idc, 1);
        // Constrained Baseline: constraint_set1 set (0xc0 with set0).
        assert_eq!(
            info.rfc6381(),
            format!("avc1.42{:02x}{:02x}", info.constraint_flags, info.level_idc)
        );
        assert!(info.rfc6381().starts_with("avc1.42c0"));
    }

    #[test]
    fn reads_a_cropped_high_profile_sps() {
        let info = SpsInfo::parse(&SPS_1080P_HIGH).unwrap();
        assert_eq!((info.width, info.height), (1920, 1080));
        assert_eq!(info.rfc6381(), "avc1.640028");
    }

    #[test]
    fn builds_avcc_for_baseline_without_extension() {
        let (sps, pps) = sample_parameter_sets();
        let record = avc_decoder_config(&sps, &pps).unwrap();
        assert_eq!(record.len(), 6 + 2 + sps.len() + 1 + 2 + pps.len());
        assert_eq!(&record[..4], &[1, 66, sps[2], sps[3]]);
        assert_eq!(record[4], 0xff);
        assert_eq!(record[5], 0xe1);
        let parsed = AvcConfig::parse(&record).unwrap();
        assert_eq!(parsed.sps, vec![&sps[..]]);
        assert_eq!(parsed.pps, vec![&pps[..]]);
        assert_eq!(parsed.nal_length_size, 4);
    }

    #[test]
    fn builds_avcc_for_high_with_extension() {
        let record = avc_decoder_config(&SPS_1080P_HIGH, &PPS_HIGH).unwrap();
        assert_eq!(record.len(), 6 + 2 + 27 + 1 + 2 + 6 + 4);
        assert_eq!(&record[record.len() - 4..], &[0xfd, 0xf8, 0xf8, 0]);
        let parsed = AvcConfig::parse(&record).unwrap();
        assert_eq!(parsed.profile_idc, 100);
    }

    #[test]
    fn video_params_from_parameter_sets() {
        let (sps, pps) = sample_parameter_sets();
        let params = VideoParams::h264(&sps, &pps).unwrap();
        assert_eq!(params.codec, Codec::H264);
        assert_eq!((params.width, params.height), (640, 360));
        assert_eq!(
            params.config_record,
            avc_decoder_config(&sps, &pps).unwrap()
        );
        assert!(params.rfc6381.starts_with("avc1.42"));
    }

    #[test]
    fn refuses_wrong_nal_types() {
        let (sps, pps) = sample_parameter_sets();
        assert!(matches!(
            SpsInfo::parse(&pps),
            Err(Error::UnexpectedNalType {
                expected: 7,
                found: 8
            })
        ));
        assert!(matches!(
            avc_decoder_config(&sps, &sps),
            Err(Error::UnexpectedNalType {
                expected: 8,
                found: 7
            })
        ));
        assert!(matches!(SpsInfo::parse(&[]), Err(Error::EmptyNal)));
        assert!(matches!(SpsInfo::parse(&[0xe7]), Err(Error::BadNalHeader)));
        assert!(matches!(SpsInfo::parse(&[0x67]), Err(Error::InvalidSps(_))));
        // Truncated in the middle.
        assert!(SpsInfo::parse(&sps[..sps.len() / 2]).is_err());
    }

    #[test]
    fn groups_slices_into_access_units() {
        let sps: &[u8] = &[0x67, 0x42];
        let pps: &[u8] = &[0x68, 0xce];
        let idr_a: &[u8] = &[0x65, 0x88, 0x01]; // first_mb_in_slice = 0
        let idr_b: &[u8] = &[0x65, 0x40, 0x01]; // first_mb_in_slice != 0: same picture
        let p: &[u8] = &[0x41, 0x9a];
        let p2: &[u8] = &[0x41, 0x9b];
        let units = access_units(&[sps, pps, idr_a, idr_b, p, pps, p2]);
        assert_eq!(
            units,
            vec![vec![sps, pps, idr_a, idr_b], vec![p], vec![pps, p2]]
        );
    }

    proptest! {
        #[test]
        fn annex_b_split_is_total(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(nals) = split_annex_b(&data) {
                for nal in nals {
                    prop_assert!(!nal.is_empty());
                }
            }
        }

        #[test]
        fn length_prefixed_split_is_total(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(nals) = split_length_prefixed(&data) {
                let joined = to_length_prefixed(nals).unwrap();
                prop_assert_eq!(joined, data);
            }
        }

        #[test]
        fn nals_round_trip_through_both_forms(
            nals in proptest::collection::vec(
                // Real NAL units contain no 00 00 0x (emulation prevention) and end non-zero.
                proptest::collection::vec(1u8..=255, 1..64), 0..8)
        ) {
            let refs: Vec<&[u8]> = nals.iter().map(|n| &n[..]).collect();
            let lp = to_length_prefixed(refs.iter().copied()).unwrap();
            let annex_b = length_prefixed_to_annex_b(&lp).unwrap();
            if !refs.is_empty() {
                prop_assert_eq!(split_annex_b(&annex_b).unwrap(), refs);
                prop_assert_eq!(annex_b_to_length_prefixed(&annex_b).unwrap(), lp);
            }
        }

        #[test]
        fn sps_parser_is_total(tail in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut nal = vec![0x67];
            nal.extend_from_slice(&tail);
            let _ = SpsInfo::parse(&nal);
            let _ = avc_decoder_config(&nal, &[0x68, 0xce, 0x38, 0x80]);
        }

        #[test]
        fn mutated_sps_never_panics(index in 1usize..27, value in any::<u8>(), cut in 1usize..=27) {
            let mut nal = SPS_1080P_HIGH.to_vec();
            nal[index] = value;
            nal.truncate(cut);
            let _ = SpsInfo::parse(&nal);
        }

        #[test]
        fn avcc_parser_is_total(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = AvcConfig::parse(&data);
        }

        #[test]
        fn mutated_avcc_never_panics(index in 0usize..48, value in any::<u8>()) {
            // Valid records with one byte changed reach every branch of the parser.
            let mut record = avc_decoder_config(&SPS_1080P_HIGH, &PPS_HIGH).unwrap();
            let at = index % record.len();
            record[at] = value;
            if let Ok(parsed) = AvcConfig::parse(&record) {
                prop_assert!(matches!(parsed.nal_length_size, 1 | 2 | 4));
                for set in parsed.sps.iter().chain(&parsed.pps) {
                    prop_assert!(!set.is_empty());
                }
            }
        }

        #[test]
        fn video_params_are_total(
            sps_tail in proptest::collection::vec(any::<u8>(), 0..64),
            pps in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut sps = vec![0x67];
            sps.extend_from_slice(&sps_tail);
            if let Ok(params) = VideoParams::h264(&sps, &pps) {
                prop_assert!(params.width > 0 && params.height > 0);
                prop_assert!(AvcConfig::parse(&params.config_record).is_ok());
            }
        }

        #[test]
        fn stream_conversions_are_total(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(lp) = annex_b_to_length_prefixed(&data) {
                prop_assert!(split_length_prefixed(&lp).is_ok());
            }
            if let Ok(annex_b) = length_prefixed_to_annex_b(&data) {
                prop_assert!(annex_b.len() >= data.len());
            }
        }

        #[test]
        fn access_unit_grouping_keeps_every_nal(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(nals) = split_annex_b(&data) {
                let units = access_units(&nals);
                let flat: Vec<&[u8]> = units.into_iter().flatten().collect();
                prop_assert_eq!(flat, nals);
            }
        }
    }
}
