//! The opened clip, split into whole top-level MP4 boxes for the browser's `MediaSource`: the
//! init segment and the fragments pass through; the clip-metadata `uuid` box (the events the
//! hub saw, sealed with the clip) is taken out and handed to the app; the codec string the
//! `SourceBuffer` needs is read from the `moov`. Boxes are held only until they are whole
//! (a fragment at a time), never the whole clip.

use porchlight_media::boxes;
use porchlight_media::fmp4::{MAX_METADATA_BYTES, METADATA_UUID};

type Result<T> = std::result::Result<T, String>;

/// The largest box taken: a fragment is one GOP, far below this.
pub const MAX_BOX_BYTES: u64 = 64 * 1024 * 1024;

/// Splits a byte stream into top-level boxes.
#[derive(Debug, Default)]
pub struct Mp4Feed {
    buffer: Vec<u8>,
    codec: Option<String>,
    metadata: Option<Vec<u8>>,
    failed: bool,
}

/// The declared size of the box starting `data`, once its header is there.
fn declared_size(data: &[u8]) -> Result<Option<u64>> {
    let Some(head) = data.get(..8) else {
        return Ok(None);
    };
    let size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
    let size = match size {
        0 => return Err("an MP4 box without a size (to the end of the file)".to_owned()),
        1 => match data.get(8..16) {
            None => return Ok(None),
            Some(large) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(large);
                u64::from_be_bytes(b)
            }
        },
        n => n,
    };
    if size < 8 {
        return Err("an MP4 box shorter than its header".to_owned());
    }
    if size > MAX_BOX_BYTES {
        return Err("an MP4 box larger than this player takes".to_owned());
    }
    Ok(Some(size))
}

impl Mp4Feed {
    /// Takes the next plaintext bytes; returns the whole boxes now ready for the player.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>> {
        if self.failed {
            return Err("the clip's video is malformed".to_owned());
        }
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let size = match declared_size(&self.buffer) {
                Ok(Some(size)) => size,
                Ok(None) => return Ok(out),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            };
            let Ok(len) = usize::try_from(size) else {
                self.failed = true;
                return Err("an MP4 box larger than this player takes".to_owned());
            };
            if self.buffer.len() < len {
                return Ok(out);
            }
            let whole: Vec<u8> = self.buffer.drain(..len).collect();
            if let Err(e) = self.take(&whole, &mut out) {
                self.failed = true;
                return Err(e);
            }
        }
    }

    /// The stream ended: anything left over is a cut box.
    pub fn finish(&self) -> Result<()> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            Err("the clip's video ends in the middle of a box".to_owned())
        }
    }

    fn take(&mut self, whole: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let b = boxes::top_level(whole)
            .next()
            .ok_or_else(|| "an empty MP4 box".to_owned())?
            .map_err(|e| e.to_string())?;
        match &b.kind {
            b"uuid" => {
                let end = usize::try_from(b.body_offset).ok();
                let user_type = end.and_then(|e| whole.get(e.checked_sub(16)?..e));
                if user_type == Some(&METADATA_UUID[..]) && b.body.len() <= MAX_METADATA_BYTES {
                    self.metadata = Some(b.body.to_vec());
                }
            }
            b"moov" => {
                self.codec = codec_of(whole)?;
                out.extend_from_slice(whole);
            }
            b"free" | b"skip" | b"udta" | b"meta" => {}
            _ => out.extend_from_slice(whole),
        }
        Ok(())
    }

    /// The RFC 6381 codec string (`avc1.PPCCLL`), once the `moov` has passed.
    pub fn codec(&self) -> Option<String> {
        self.codec.clone()
    }

    /// The events the hub sealed in the clip, as the JSON it wrote.
    pub fn metadata(&self) -> Option<String> {
        self.metadata
            .as_ref()
            .map(|m| String::from_utf8_lossy(m).into_owned())
    }
}

/// `avc1.PPCCLL` from the first `avcC` box (profile, constraints, level).
fn codec_of(moov: &[u8]) -> Result<Option<String>> {
    let found = boxes::find(moov, b"avcC").map_err(|e| e.to_string())?;
    Ok(found
        .first()
        .and_then(|b| b.body.get(1..4))
        .map(|p| format!("avc1.{:02x}{:02x}{:02x}", p[0], p[1], p[2])))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn boxes_pass_whole_whatever_the_chunking_and_the_metadata_is_taken_out() {
        let mut uuid_body = METADATA_UUID.to_vec();
        uuid_body.extend_from_slice(br#"{"events":[]}"#);
        let stream = [
            boxed(b"ftyp", b"isom\0\0\0\0"),
            boxed(b"uuid", &uuid_body),
            boxed(b"moof", &[1; 40]),
            boxed(b"mdat", &[2; 3000]),
        ]
        .concat();
        for step in [1, 7, 64, stream.len()] {
            let mut feed = Mp4Feed::default();
            let mut out = Vec::new();
            for chunk in stream.chunks(step) {
                out.extend(feed.push(chunk).unwrap());
            }
            feed.finish().unwrap();
            let expected = [
                boxed(b"ftyp", b"isom\0\0\0\0"),
                boxed(b"moof", &[1; 40]),
                boxed(b"mdat", &[2; 3000]),
            ]
            .concat();
            assert_eq!(out, expected, "chunks of {step}");
            assert_eq!(feed.metadata().unwrap(), r#"{"events":[]}"#);
        }
    }

    #[test]
    fn malformed_and_cut_streams_are_errors() {
        let mut feed = Mp4Feed::default();
        assert!(feed.push(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']).is_err());
        assert!(feed.push(&[]).is_err(), "a failed feed stays failed");
        let mut feed = Mp4Feed::default();
        assert!(feed.push(&[0, 0, 0, 0, b'm', b'd', b'a', b't']).is_err());
        let mut feed = Mp4Feed::default();
        assert!(
            feed.push(&[0xff, 0xff, 0xff, 0xff, b'm', b'd', b'a', b't'])
                .is_err()
        );
        let mut feed = Mp4Feed::default();
        feed.push(&boxed(b"mdat", &[0; 10])[..12]).unwrap();
        assert!(feed.finish().is_err());
    }
}
