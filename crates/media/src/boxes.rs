//! A small, total walker over ISO BMFF (MP4) boxes: type, size and offset of each box, at the
//! top level or nested through the container boxes this crate knows.
//!
//! It exists for tests and for checking files before they leave the hub — for example that a
//! clip carries no `udta` or `meta` box (see [`find`]). It never panics and never recurses
//! deeper than [`MAX_DEPTH`]; anything malformed is an [`Error::InvalidBox`].

use crate::Error;

/// How deep [`walk`] descends before refusing the input.
pub const MAX_DEPTH: usize = 32;

/// One box: where it is and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Box<'a> {
    /// The four-character type, such as `*b"moov"`.
    pub kind: [u8; 4],
    /// Offset of the box's first byte within the buffer given to [`top_level`] or [`walk`].
    pub offset: u64,
    /// Size of the whole box, header included.
    pub size: u64,
    /// Nesting depth: 0 for top-level boxes.
    pub depth: usize,
    /// The box's contents after its header (for a `uuid` box, after the user type too).
    pub body: &'a [u8],
    /// Offset of `body` within the walked buffer.
    pub body_offset: u64,
}

impl<'a> Mp4Box<'a> {
    /// The type as text, for messages (non-ASCII bytes replaced).
    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }

    /// The boxes directly inside this one, if this is a container this walker knows (`moov`,
    /// `trak`, `stbl`, `moof`, `udta`, `meta`, `stsd`, `avc1`, ...); `None` otherwise.
    pub fn children(&self) -> Option<Result<BoxIter<'a>, Error>> {
        let skip = children_offset(&self.kind, self.body)?;
        let Some(body) = self.body.get(skip..) else {
            return Some(Err(Error::InvalidBox {
                offset: self.offset,
                reason: "container shorter than its fixed fields",
            }));
        };
        Some(Ok(BoxIter {
            data: body,
            pos: 0,
            base_offset: self.body_offset.saturating_add(skip as u64),
            depth: self.depth + 1,
            failed: false,
        }))
    }
}

/// Bytes to skip in a container's body before its child boxes, or `None` for a leaf box.
pub(crate) fn children_offset(kind: &[u8; 4], body: &[u8]) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"dinf" | b"mvex" | b"moof" | b"traf"
        | b"edts" | b"udta" | b"mfra" | b"tref" | b"sinf" | b"schi" | b"ilst" => Some(0),
        // ISO `meta` is a full box (4 bytes of version and flags); QuickTime's is not, and
        // starts straight with its `hdlr` child.
        b"meta" => Some(if body.get(4..8) == Some(b"hdlr") {
            0
        } else {
            4
        }),
        // Full box plus a 32-bit entry count.
        b"stsd" | b"dref" => Some(8),
        // A visual sample entry's fixed fields (ISO/IEC 14496-12 §12.1.3).
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"encv" => Some(78),
        _ => None,
    }
}

/// Iterates the boxes laid end to end in one buffer (one level). After the first error it
/// yields nothing more.
#[derive(Debug, Clone)]
pub struct BoxIter<'a> {
    data: &'a [u8],
    pos: usize,
    base_offset: u64,
    depth: usize,
    failed: bool,
}

impl<'a> Iterator for BoxIter<'a> {
    type Item = Result<Mp4Box<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.data.len() {
            return None;
        }
        let result = self.read_box();
        match &result {
            Ok(b) => self.pos += b.size as usize,
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}

impl<'a> BoxIter<'a> {
    fn read_box(&self) -> Result<Mp4Box<'a>, Error> {
        let offset = self.base_offset.saturating_add(self.pos as u64);
        let invalid = |reason| Error::InvalidBox { offset, reason };
        let rest = &self.data[self.pos..];
        let (size32, after) = rest
            .split_first_chunk::<4>()
            .ok_or(invalid("truncated box header"))?;
        let (kind, mut after) = after
            .split_first_chunk::<4>()
            .ok_or(invalid("truncated box header"))?;
        let mut header_len = 8usize;
        let size = match u32::from_be_bytes(*size32) {
            0 => rest.len() as u64,
            1 => {
                let (large, tail) = after
                    .split_first_chunk::<8>()
                    .ok_or(invalid("truncated 64-bit box size"))?;
                after = tail;
                header_len = 16;
                u64::from_be_bytes(*large)
            }
            n => u64::from(n),
        };
        if kind == b"uuid" {
            if after.len() < 16 {
                return Err(invalid("truncated uuid box type"));
            }
            header_len += 16;
        }
        if size < header_len as u64 {
            return Err(invalid("box size smaller than its header"));
        }
        if size > rest.len() as u64 {
            return Err(invalid("box extends past the end of its parent"));
        }
        // size <= rest.len(), so it fits in usize.
        let body = &rest[header_len..size as usize];
        Ok(Mp4Box {
            kind: *kind,
            offset,
            size,
            depth: self.depth,
            body,
            body_offset: offset.saturating_add(header_len as u64),
        })
    }
}

/// The top-level boxes of a file or segment.
pub fn top_level(data: &[u8]) -> BoxIter<'_> {
    BoxIter {
        data,
        pos: 0,
        base_offset: 0,
        depth: 0,
        failed: false,
    }
}

/// Every box, depth first in file order, descending into the containers [`Mp4Box::children`]
/// knows. Fails on the first malformed box or when nesting exceeds [`MAX_DEPTH`].
pub fn walk(data: &[u8]) -> Result<Vec<Mp4Box<'_>>, Error> {
    let mut found = Vec::new();
    // An explicit stack, not recursion: nesting depth is bounded by MAX_DEPTH, not by the
    // input.
    let mut stack = vec![top_level(data)];
    while let Some(iter) = stack.last_mut() {
        let Some(next) = iter.next() else {
            stack.pop();
            continue;
        };
        let b = next?;
        found.push(b);
        if let Some(children) = b.children() {
            if stack.len() >= MAX_DEPTH {
                return Err(Error::InvalidBox {
                    offset: b.offset,
                    reason: "boxes nested too deeply",
                });
            }
            stack.push(children?);
        }
    }
    Ok(found)
}

/// Every box of the given type, at any depth [`walk`] reaches.
pub fn find<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Vec<Mp4Box<'a>>, Error> {
    Ok(walk(data)?
        .into_iter()
        .filter(|b| &b.kind == kind)
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn walks_nested_boxes_with_offsets() {
        let mvhd = boxed(b"mvhd", &[0; 100]);
        let trak = boxed(b"trak", &boxed(b"tkhd", &[0; 84]));
        let moov = boxed(b"moov", &[mvhd, trak].concat());
        let file = [boxed(b"ftyp", b"iso5\0\0\0\0"), moov].concat();
        let all = walk(&file).unwrap();
        let kinds: Vec<String> = all.iter().map(|b| b.kind_str()).collect();
        assert_eq!(kinds, ["ftyp", "moov", "mvhd", "trak", "tkhd"]);
        assert_eq!(all[1].offset, 16);
        assert_eq!(all[2].offset, 24);
        assert_eq!(all[2].depth, 1);
        assert_eq!(all[4].offset, 24 + 108 + 8);
        assert_eq!(all[4].body_offset, all[4].offset + 8);
        assert_eq!(find(&file, b"tkhd").unwrap().len(), 1);
    }

    #[test]
    fn handles_large_size_and_to_end_sizes() {
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&20u64.to_be_bytes());
        large.extend_from_slice(&[7; 4]);
        let mut to_end = 0u32.to_be_bytes().to_vec();
        to_end.extend_from_slice(b"free");
        to_end.extend_from_slice(&[1, 2, 3]);
        let file = [large, to_end].concat();
        let all: Vec<_> = top_level(&file).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].size, 20);
        assert_eq!(all[0].body, &[7; 4]);
        assert_eq!(all[1].size, 11);
        assert_eq!(all[1].body, &[1, 2, 3]);
    }

    #[test]
    fn finds_quicktime_and_iso_meta_children() {
        let hdlr = boxed(b"hdlr", &[0; 25]);
        let qt_meta = boxed(b"meta", &hdlr);
        let iso_meta = boxed(b"meta", &[&[0, 0, 0, 0][..], &hdlr].concat());
        let udta = boxed(b"udta", &[qt_meta, iso_meta].concat());
        assert_eq!(find(&udta, b"hdlr").unwrap().len(), 2);
    }

    #[test]
    fn refuses_malformed_boxes() {
        let cases: [&[u8]; 4] = [
            &[0, 0, 0, 4, b'f', b'r', b'e', b'e'],
            &[0, 0, 0, 9, b'f', b'r', b'e', b'e'],
            &[0, 0, 0, 8, b'm', b'd'],
            &[0, 0, 0, 1, b'm', b'd', b'a', b't', 0, 0],
        ];
        for case in cases {
            assert!(
                matches!(walk(case), Err(Error::InvalidBox { .. })),
                "{case:?}"
            );
        }
        let short_stsd = boxed(b"stsd", &[0; 4]);
        assert!(walk(&short_stsd).is_err());
    }

    #[test]
    fn refuses_absurd_nesting() {
        let mut nested = boxed(b"free", &[]);
        for _ in 0..MAX_DEPTH + 1 {
            nested = boxed(b"moov", &nested);
        }
        assert!(matches!(walk(&nested), Err(Error::InvalidBox { .. })));
    }

    proptest! {
        #[test]
        fn walker_is_total(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
            if let Ok(all) = walk(&data) {
                for b in all {
                    prop_assert!(b.offset + b.size <= data.len() as u64);
                }
            }
        }

        #[test]
        fn walker_is_total_on_container_shaped_input(
            kinds in proptest::collection::vec(0usize..6, 1..12),
            sizes in proptest::collection::vec(any::<u32>(), 1..12),
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            // Headers of known containers with arbitrary sizes reach deep into the walker.
            const KINDS: [&[u8; 4]; 6] = [b"moov", b"trak", b"stsd", b"avc1", b"meta", b"uuid"];
            let mut data = Vec::new();
            for (k, s) in kinds.iter().zip(sizes.iter().cycle()) {
                data.extend_from_slice(&(s % 400).to_be_bytes());
                data.extend_from_slice(KINDS[*k]);
            }
            data.extend_from_slice(&tail);
            let _ = walk(&data);
        }
    }
}
