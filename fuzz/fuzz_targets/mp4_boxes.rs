//! The fMP4 box walker and what is built on it, over bytes from cameras and uploads. Mode 0:
//! `boxes::walk` never panics and every box it yields lies inside the input where it says;
//! `read_metadata` never panics; `strip_metadata`, when it accepts, gives a file that walks,
//! holds no `udta`/`meta`/`uuid`/`prft` box, is no larger (but for the terminator a nameless
//! `hdlr` gains), and strips to itself again.
//! Mode 1: the input is a metadata payload; `metadata_box` then `read_metadata` gives it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use porchlight_media::boxes::walk;
use porchlight_media::fmp4::{metadata_box, read_metadata};
use porchlight_media::strip_metadata;

fn walk_and_strip(data: &[u8]) {
    if let Ok(boxes) = walk(data) {
        for b in &boxes {
            let start = usize::try_from(b.body_offset).unwrap_or(usize::MAX);
            let end = start.checked_add(b.body.len());
            assert!(
                end.is_some_and(|end| end <= data.len()),
                "a box body outside the input"
            );
            if let Some(end) = end {
                assert_eq!(&data[start..end], b.body, "a box body is where it says");
            }
            assert!(
                b.offset
                    .checked_add(b.size)
                    .is_some_and(|e| e <= data.len() as u64)
            );
        }
    }
    let _ = read_metadata(data);
    let Ok(stripped) = strip_metadata(data) else {
        return;
    };
    // Dropped boxes are not read, so a file whose malformed boxes all lie inside `udta`,
    // `meta`, `uuid` or `prft` strips but does not walk; what stripping gives always walks.
    let boxes = match walk(&stripped) {
        Ok(boxes) => boxes,
        Err(e) => panic!("a stripped file does not walk: {e}"),
    };
    let mut hdlr = 0;
    for b in &boxes {
        assert!(
            ![b"udta", b"meta", b"uuid", b"prft"].contains(&&b.kind),
            "a {} box survived stripping",
            b.kind_str()
        );
        hdlr += usize::from(&b.kind == b"hdlr");
    }
    // Only a nameless `hdlr` grows: its name becomes the empty, terminated string.
    assert!(
        stripped.len() <= data.len() + hdlr,
        "stripping added to the file"
    );
    match strip_metadata(&stripped) {
        Ok(again) => assert_eq!(again, stripped, "strip(strip(x)) = strip(x)"),
        Err(e) => panic!("a stripped file cannot be stripped again: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        walk_and_strip(rest);
    } else if let Ok(boxed) = metadata_box(rest) {
        match read_metadata(&boxed) {
            Ok(Some(payload)) => assert_eq!(payload, rest, "read(metadata_box(x)) = x"),
            other => panic!("a metadata box does not read back: {other:?}"),
        }
        walk_and_strip(&boxed);
    }
});
