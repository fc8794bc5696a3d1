//! The age v1 clip header: `ClipHeader::parse` never panics; what it accepts it keeps byte
//! for byte; `read_header` finds the same header at the start of a stream; and the `age`
//! crate's own header reader accepts every header Porchlight accepts (a differential check:
//! Porchlight is the stricter of the two, never the looser).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use porchlight_crypto::age;
use porchlight_crypto::{ClipHeader, read_header};

fuzz_target!(|data: &[u8]| {
    let parsed = ClipHeader::parse(data);
    if let Ok(header) = &parsed {
        assert_eq!(header.as_bytes(), data, "a parsed header keeps its bytes");
        assert!(!header.stanzas().is_empty());
        // The header followed by a payload: read_header stops exactly at the MAC line.
        let mut stream = data.to_vec();
        stream.extend_from_slice(&[0u8; 16]);
        stream.extend_from_slice(b"payload");
        let mut cursor = Cursor::new(&stream[..]);
        match read_header(&mut cursor) {
            Ok(read) => assert_eq!(read, data, "read_header takes exactly the header"),
            Err(e) => panic!("read_header refused a header parse accepted: {e}"),
        }
        // Differential: the age crate reads the same header (and the 16-byte nonce after it).
        let mut file = data.to_vec();
        file.extend_from_slice(&[0u8; 16]);
        if let Err(e) = age::Decryptor::new(&file[..]) {
            panic!("the age crate refused a header Porchlight accepted: {e}");
        }
    }
    // read_header on arbitrary input never panics, and what it returns parses or is refused
    // cleanly.
    let mut cursor = Cursor::new(data);
    if let Ok(read) = read_header(&mut cursor) {
        let _ = ClipHeader::parse(&read);
    }
});
