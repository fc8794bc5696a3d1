//! Container metadata stripping, for clips that leave their owner (research items): a pure
//! function from MP4 bytes to MP4 bytes that keeps the samples and drops everything that could
//! say when, where, or with what a clip was made.
//!
//! [`strip_metadata`] rebuilds the box tree with [`crate::boxes`]:
//!
//! - drops `udta`, `meta`, every `uuid` box (Porchlight's sealed event list included) and
//!   `prft` (a producer wall-clock time), wherever they are;
//! - zeroes the creation and modification times of `mvhd`, `tkhd` and `mdhd` (versions 0 and 1);
//! - blanks the `hdlr` name and the compressor name of visual sample entries (`avc1`, ...).
//!
//! Container sizes are recomputed. Fragment sample offsets (`trun` data offsets, relative to
//! their `moof`) stay valid because nothing inside a `moof` changes size unless it held one of
//! the dropped boxes; a file with chunk offsets (`stco`/`co64` entries, a non-fragmented MP4)
//! is refused rather than silently broken.

use crate::Error;
use crate::boxes::{Mp4Box, top_level};

/// Boxes removed wherever they appear.
const DROPPED: [&[u8; 4]; 4] = [b"udta", b"meta", b"uuid", b"prft"];
/// Offset of the 32-byte compressor name in a visual sample entry's body.
const COMPRESSOR_NAME: std::ops::Range<usize> = 42..74;

/// `data` without container metadata (see the module documentation).
pub fn strip_metadata(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(data.len());
    strip_level(top_level(data), 0, &mut out)?;
    Ok(out)
}

fn strip_level<'a>(
    boxes: impl Iterator<Item = Result<Mp4Box<'a>, Error>>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    for item in boxes {
        let b = item?;
        if DROPPED.contains(&&b.kind) {
            continue;
        }
        strip_box(&b, depth, out)?;
    }
    Ok(())
}

fn strip_box(b: &Mp4Box<'_>, depth: usize, out: &mut Vec<u8>) -> Result<(), Error> {
    let invalid = |reason| Error::InvalidBox {
        offset: b.offset,
        reason,
    };
    let mut body = Vec::with_capacity(b.body.len());
    if let Some(children) = b.children() {
        if depth >= crate::boxes::MAX_DEPTH {
            return Err(invalid("boxes nested too deeply"));
        }
        let children = children?;
        let fixed = crate::boxes::children_offset(&b.kind, b.body).unwrap_or(0);
        let mut prefix = b.body.get(..fixed).unwrap_or_default().to_vec();
        if is_visual_sample_entry(&b.kind)
            && let Some(name) = prefix.get_mut(COMPRESSOR_NAME)
        {
            name.fill(0);
        }
        body.extend_from_slice(&prefix);
        strip_level(children, depth + 1, &mut body)?;
    } else {
        body.extend_from_slice(b.body);
        match &b.kind {
            b"mvhd" | b"tkhd" | b"mdhd" => {
                zero_times(&mut body).ok_or(invalid("truncated header box"))?
            }
            b"hdlr" => {
                // version/flags (4), pre_defined (4), handler_type (4), reserved (12), name.
                if body.len() < 24 {
                    return Err(invalid("truncated hdlr"));
                }
                body.truncate(24);
                body.push(0);
            }
            b"stco" | b"co64" if body.get(4..8).is_some_and(|n| n != [0, 0, 0, 0]) => {
                return Err(invalid("chunk offsets: only fragmented MP4 is stripped"));
            }
            _ => {}
        }
    }
    write_box(out, &b.kind, &body);
    Ok(())
}

fn is_visual_sample_entry(kind: &[u8; 4]) -> bool {
    matches!(kind, b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"encv")
}

/// Zeroes creation and modification time of a full box whose body starts with them.
fn zero_times(body: &mut [u8]) -> Option<()> {
    let version = *body.first()?;
    let range = if version == 1 { 4..20 } else { 4..12 };
    body.get_mut(range)?.fill(0);
    Some(())
}

fn write_box(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    let size = body.len() as u64 + 8;
    match u32::try_from(size) {
        Ok(size32) if size32 > 1 => {
            out.extend_from_slice(&size32.to_be_bytes());
            out.extend_from_slice(kind);
        }
        _ => {
            out.extend_from_slice(&1u32.to_be_bytes());
            out.extend_from_slice(kind);
            out.extend_from_slice(&(size + 8).to_be_bytes());
        }
    }
    out.extend_from_slice(body);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::boxes::{find, walk};
    use crate::fmp4::metadata_box;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_box(&mut out, kind, body);
        out
    }

    fn clip() -> Vec<u8> {
        let camera = crate::SyntheticCamera::new(10).unwrap();
        let params = camera.params().clone();
        let mut file = Vec::new();
        let mut writer = crate::ClipWriter::new(&mut file, &params).unwrap();
        for frame in camera.take(20) {
            writer.push(frame).unwrap();
        }
        writer.finish().unwrap();
        file
    }

    #[test]
    fn drops_metadata_and_zeroes_times() {
        let plain = clip();
        let moov_end = {
            let moov = &find(&plain, b"moov").unwrap()[0];
            (moov.offset + moov.size) as usize
        };
        // A file as another muxer might write it: times, names, udta, meta, uuid.
        let mut dirty = plain[..moov_end].to_vec();
        dirty.extend(metadata_box(b"{\"events\":[]}").unwrap());
        dirty.extend(boxed(
            b"udta",
            &boxed(b"\xa9too", b"Lavf60 camera-firmware"),
        ));
        dirty.extend(boxed(b"prft", &[7; 20]));
        dirty.extend_from_slice(&plain[moov_end..]);
        for kind in [b"mvhd", b"tkhd", b"mdhd"] {
            let off = find(&dirty, kind).unwrap()[0].body_offset as usize;
            dirty[off + 4..off + 12].fill(0xab);
        }
        let stripped = strip_metadata(&dirty).unwrap();
        let all = walk(&stripped).unwrap();
        for kind in [b"udta", b"meta", b"uuid", b"prft"] {
            assert!(all.iter().all(|b| &b.kind != kind), "{kind:?} left");
        }
        for kind in [b"mvhd", b"tkhd", b"mdhd"] {
            let b = &find(&stripped, kind).unwrap()[0];
            assert_eq!(&b.body[4..12], &[0; 8]);
        }
        let hdlr = &find(&stripped, b"hdlr").unwrap()[0];
        assert_eq!(&hdlr.body[24..], &[0]);
        // The media is untouched: same moof and mdat bytes, in the same order.
        let media = |d: &[u8]| {
            top_level(d)
                .map(Result::unwrap)
                .filter(|b| matches!(&b.kind, b"moof" | b"mdat"))
                .map(|b| b.body.to_vec())
                .collect::<Vec<_>>()
        };
        assert_eq!(media(&stripped), media(&plain));
        assert_eq!(strip_metadata(&stripped).unwrap(), stripped);
    }

    proptest::proptest! {
        /// Total on any input, and a fixed point: what it returns, it returns unchanged.
        #[test]
        fn strip_is_total_and_idempotent(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            if let Ok(once) = strip_metadata(&data) {
                proptest::prop_assert_eq!(strip_metadata(&once).ok(), Some(once.clone()));
            }
        }
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(strip_metadata(&[0, 0, 0, 9, b'm', b'o', b'o', b'v']).is_err());
        assert!(strip_metadata(&boxed(b"hdlr", &[0; 3])).is_err());
    }
}
