use std::io::{Cursor, Read, Seek, SeekFrom};

use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use porchlight_crypto::{
    ChainBuilder, ChainOp, ClipError, ClipHeader, ClipStatement, DevicePublic, DeviceSecret,
    HeaderError, HubSecret, MAX_HEADER_BYTES, MAX_RECIPIENTS, RecoveryKey, StatementError, open,
    open_file, rewrap, seal, sha256_reader, sign_clip, verify_clip_in_chain,
};

use crate::{name, pseudo_random};

const CHUNK: usize = 64 * 1024;

struct Sealed {
    header: Vec<u8>,
    payload: Vec<u8>,
    plaintext: Vec<u8>,
}

fn seal_to(plaintext: Vec<u8>, recipients: &[DevicePublic]) -> Sealed {
    let mut header = Vec::new();
    let mut payload = Vec::new();
    let sizes = seal(&plaintext[..], &mut header, &mut payload, recipients).unwrap();
    assert_eq!(sizes.header_bytes, header.len() as u64);
    assert_eq!(sizes.payload_bytes, payload.len() as u64);
    assert_eq!(sizes.plaintext_bytes, plaintext.len() as u64);
    assert_eq!(sizes.payload_sha256, sha256_reader(&payload[..]).unwrap().0);
    Sealed {
        header,
        payload,
        plaintext,
    }
}

fn open_all(header: &[u8], payload: &[u8], identity: &dyn age::Identity) -> Vec<u8> {
    let mut out = Vec::new();
    open(header, payload, identity)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn seal_open_multi_chunk() {
    let device = DeviceSecret::generate();
    let (recovery, _) = RecoveryKey::generate();
    let len = (1 << 20) + 12_345;
    let s = seal_to(pseudo_random(len, 1), &[device.public(), recovery.public()]);

    // Header: version line … MAC line; payload: nonce and 17 chunks with their tags.
    assert!(s.header.starts_with(b"age-encryption.org/v1\n"));
    assert!(s.header.ends_with(b"\n"));
    let last_line = s.header[..s.header.len() - 1]
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap();
    assert!(last_line.starts_with(b"--- "));
    let chunks = len.div_ceil(CHUNK);
    assert_eq!(s.payload.len(), 16 + len + chunks * 16);
    assert_eq!(ClipHeader::parse(&s.header).unwrap().stanzas().len(), 3);

    assert_eq!(open_all(&s.header, &s.payload, &device), s.plaintext);
    assert_eq!(open_all(&s.header, &s.payload, &recovery), s.plaintext);

    // header ‖ payload is one age file.
    let mut file = s.header.clone();
    file.extend_from_slice(&s.payload);
    let mut out = Vec::new();
    open_file(&file[..], &device)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, s.plaintext);
}

#[test]
fn empty_and_exact_chunk_clips() {
    let device = DeviceSecret::generate();
    for len in [0, 1, CHUNK, 2 * CHUNK] {
        let s = seal_to(pseudo_random(len, 2), &[device.public()]);
        assert_eq!(
            open_all(&s.header, &s.payload, &device),
            s.plaintext,
            "{len}"
        );
    }
}

#[test]
fn seek_and_range_reads() {
    let device = DeviceSecret::generate();
    let len = 5 * CHUNK + 777;
    let s = seal_to(pseudo_random(len, 3), &[device.public()]);
    let mut reader = open(&s.header, Cursor::new(&s.payload), &device).unwrap();

    for (offset, want) in [
        (3 * CHUNK - 10, 100),
        (0, 10),
        (len - 5, 5),
        (CHUNK, CHUNK),
        (4 * CHUNK + 1, 2000),
    ] {
        let at = reader.seek(SeekFrom::Start(offset as u64)).unwrap();
        assert_eq!(at, offset as u64);
        let mut buf = vec![0; want];
        reader.read_exact(&mut buf).unwrap();
        assert_eq!(buf, s.plaintext[offset..offset + want], "at {offset}");
    }
    assert_eq!(reader.seek(SeekFrom::End(-3)).unwrap(), (len - 3) as u64);
    let mut tail = Vec::new();
    reader.read_to_end(&mut tail).unwrap();
    assert_eq!(tail, s.plaintext[len - 3..]);
    reader.seek(SeekFrom::Start(100)).unwrap();
    assert_eq!(reader.seek(SeekFrom::Current(50)).unwrap(), 150);
    let mut byte = [0];
    reader.read_exact(&mut byte).unwrap();
    assert_eq!(byte[0], s.plaintext[150]);

    // A payload read from the middle of a larger seekable stream.
    let mut blob = b"unrelated prefix".to_vec();
    blob.extend_from_slice(&s.payload);
    let mut cursor = Cursor::new(blob);
    cursor.seek(SeekFrom::Start(16)).unwrap();
    let mut reader = open(&s.header, cursor, &device).unwrap();
    reader.seek(SeekFrom::Start(2 * CHUNK as u64 + 3)).unwrap();
    reader.read_exact(&mut byte).unwrap();
    assert_eq!(byte[0], s.plaintext[2 * CHUNK + 3]);
}

#[test]
fn rewrap_adds_and_drops_recipients() {
    let phone = DeviceSecret::generate();
    let laptop = DeviceSecret::generate();
    let (recovery, _) = RecoveryKey::generate();
    let s = seal_to(
        pseudo_random(3 * CHUNK + 5, 4),
        &[phone.public(), recovery.public()],
    );
    assert!(matches!(
        open(&s.header, &s.payload[..], &laptop).unwrap_err(),
        ClipError::NoMatchingKey
    ));

    // Add the laptop: the unchanged payload now opens for it.
    let added = rewrap(
        &s.header,
        &phone,
        &[phone.public(), laptop.public(), recovery.public()],
    )
    .unwrap();
    assert_ne!(added, s.header);
    assert_eq!(open_all(&added, &s.payload, &laptop), s.plaintext);
    assert_eq!(open_all(&added, &s.payload, &phone), s.plaintext);
    assert_eq!(open_all(&added, &s.payload, &recovery), s.plaintext);

    // Drop it again (the recovery key does the re-wrap this time).
    let dropped = rewrap(&added, &recovery, &[phone.public(), recovery.public()]).unwrap();
    assert!(matches!(
        open(&dropped, &s.payload[..], &laptop).unwrap_err(),
        ClipError::NoMatchingKey
    ));
    assert!(matches!(
        rewrap(&dropped, &laptop, &[laptop.public()]).unwrap_err(),
        ClipError::NoMatchingKey
    ));
    assert_eq!(open_all(&dropped, &s.payload, &phone), s.plaintext);

    assert!(matches!(
        rewrap(&s.header, &phone, &[]).unwrap_err(),
        ClipError::NoRecipients
    ));
}

fn with_flipped_mac(header: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(header).unwrap();
    let at = text.rfind("--- ").unwrap() + 4;
    let mut mac = BASE64_STANDARD_NO_PAD
        .decode(&text[at..text.len() - 1])
        .unwrap();
    mac[0] ^= 1;
    format!("{}{}\n", &text[..at], BASE64_STANDARD_NO_PAD.encode(mac)).into_bytes()
}

#[test]
fn altered_headers_are_refused() {
    let phone = DeviceSecret::generate();
    let s = seal_to(pseudo_random(1000, 5), &[phone.public()]);

    let wrong_mac = with_flipped_mac(&s.header);
    assert!(matches!(
        open(&wrong_mac, &s.payload[..], &phone).unwrap_err(),
        ClipError::HeaderMacMismatch
    ));
    assert!(matches!(
        rewrap(&wrong_mac, &phone, &[phone.public()]).unwrap_err(),
        ClipError::HeaderMacMismatch
    ));

    // The server slips in a stanza of its own: the MAC no longer matches.
    let text = String::from_utf8(s.header.clone()).unwrap();
    let planted = text.replacen(
        "age-encryption.org/v1\n",
        "age-encryption.org/v1\n-> X25519 CJM36AHmTbdHSuOQL+NESqyVQE75f2e610iRdLPEN20\nC3ZAeY64NXS4QFrksLm3EGz+uPRyI0eQsWw7LWbbYig\n",
        1,
    );
    assert!(matches!(
        open(planted.as_bytes(), &s.payload[..], &phone).unwrap_err(),
        ClipError::HeaderMacMismatch
    ));

    // A header from another clip sealed to the same device does not open this payload.
    let other = seal_to(pseudo_random(1000, 6), &[phone.public()]);
    let mut reader = open(&other.header, &s.payload[..], &phone).unwrap();
    assert!(reader.read_to_end(&mut Vec::new()).is_err());
}

#[test]
fn oversized_header_is_refused_cleanly() {
    let phone = DeviceSecret::generate();
    let mut huge = b"age-encryption.org/v1\n".to_vec();
    while huge.len() < 1 << 20 {
        huge.extend_from_slice(b"-> X25519 AAAA\n");
        huge.extend_from_slice(&[b'A'; 64]);
        huge.extend_from_slice(b"\n\n");
    }
    assert!(matches!(
        open(&huge, &b""[..], &phone).unwrap_err(),
        ClipError::Header(HeaderError::TooLarge)
    ));
    assert!(matches!(
        rewrap(&huge, &phone, &[phone.public()]).unwrap_err(),
        ClipError::Header(HeaderError::TooLarge)
    ));
    let mut file = huge.clone();
    file.extend_from_slice(b"--- AAAA\npayload");
    assert!(matches!(
        open_file(&file[..], &phone).unwrap_err(),
        ClipError::Header(HeaderError::TooLarge)
    ));
    assert!(huge.len() > MAX_HEADER_BYTES);
}

#[test]
fn damaged_payloads_are_errors_not_panics() {
    let phone = DeviceSecret::generate();
    let len = 2 * CHUNK + 99;
    let s = seal_to(pseudo_random(len, 7), &[phone.public()]);

    // Too short for the nonce.
    assert!(matches!(
        open(&s.header, &s.payload[..10], &phone).unwrap_err(),
        ClipError::PayloadTruncated
    ));
    // Cut inside the last chunk, at a chunk boundary, or just after the nonce.
    for cut in [
        s.payload.len() - 50,
        16 + CHUNK + 16,
        16 + 2 * (CHUNK + 16),
        16,
    ] {
        let mut reader = open(&s.header, &s.payload[..cut], &phone).unwrap();
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err(), "cut at {cut}");
    }
    // One flipped bit in the first or the last chunk, or in the nonce.
    for at in [100, s.payload.len() - 1, 3] {
        let mut bad = s.payload.clone();
        bad[at] ^= 0x20;
        let mut reader = open(&s.header, &bad[..], &phone).unwrap();
        assert!(reader.read_to_end(&mut Vec::new()).is_err(), "flip at {at}");
    }
    // Extra bytes after the end.
    let mut longer = s.payload.clone();
    longer.extend_from_slice(&[0; 40]);
    let mut reader = open(&s.header, &longer[..], &phone).unwrap();
    assert!(reader.read_to_end(&mut Vec::new()).is_err());
    // A damaged chunk is also an error when reached by seeking.
    let mut bad = s.payload.clone();
    bad[16 + CHUNK + 16 + 5] ^= 1;
    let mut reader = open(&s.header, Cursor::new(&bad), &phone).unwrap();
    let reached = reader
        .seek(SeekFrom::Start(CHUNK as u64 + 1))
        .and_then(|_| reader.read_exact(&mut [0; 10]));
    assert!(reached.is_err());
}

#[test]
fn recipient_limits() {
    let mut header = Vec::new();
    let mut payload = Vec::new();
    assert!(matches!(
        seal(&b"x"[..], &mut header, &mut payload, &[]).unwrap_err(),
        ClipError::NoRecipients
    ));
    let many: Vec<DevicePublic> = (0..=MAX_RECIPIENTS)
        .map(|_| DeviceSecret::generate().public())
        .collect();
    assert!(matches!(
        seal(&b"x"[..], &mut header, &mut payload, &many).unwrap_err(),
        ClipError::TooManyRecipients { count: 257 }
    ));
    // The largest allowed set fits well within the header limit; repeats are dropped.
    let mut allowed = many[..MAX_RECIPIENTS].to_vec();
    allowed.push(many[0].clone());
    let s = seal_to(b"x".to_vec(), &allowed);
    assert!(s.header.len() < MAX_HEADER_BYTES / 2);
    assert_eq!(
        ClipHeader::parse(&s.header).unwrap().stanzas().len(),
        MAX_RECIPIENTS + 1
    );
}

/// The hub seals, hashes and signs; a client checks the chain and the signature; re-wrapping
/// keeps the signature valid; the server cannot plant a clip.
#[test]
fn clip_statements_bind_clips_to_hubs_in_the_chain() {
    let phone = DeviceSecret::generate();
    let (recovery, _) = RecoveryKey::generate();
    let hub = HubSecret::generate();
    let mut b = ChainBuilder::genesis(&phone, name("phone"), recovery.public()).unwrap();
    b.append(
        ChainOp::AddHub {
            name: name("porch"),
            hub: hub.public(),
        },
        &phone,
    )
    .unwrap();
    let chain = b.chain().clone();

    // Hub side: seal to the verified chain's recipients, hash the payload while writing.
    let mut header = Vec::new();
    let mut payload = Vec::new();
    let plaintext = pseudo_random(100_000, 8);
    let sizes = seal(
        &plaintext[..],
        &mut header,
        &mut payload,
        &chain.recipients(),
    )
    .unwrap();
    let statement = ClipStatement::new(
        "cam-front",
        1_760_000_000_000,
        15_000,
        sizes.payload_sha256,
        [0; 32],
    )
    .unwrap();
    let signature = sign_clip(&statement, &hub);

    // Client side.
    let (payload_hash, _) = sha256_reader(&payload[..]).unwrap();
    assert_eq!(&payload_hash, statement.payload_sha256());
    verify_clip_in_chain(&chain, &statement, &signature, &hub.public()).unwrap();

    // Re-wrapping changes the header, not the payload hash the hub signed.
    let laptop = DeviceSecret::generate();
    let rewrapped = rewrap(&header, &phone, &[phone.public(), laptop.public()]).unwrap();
    assert_eq!(open_all(&rewrapped, &payload, &laptop), plaintext);
    assert_eq!(sha256_reader(&payload[..]).unwrap().0, payload_hash);

    // The server seals footage of its own to the owner's (public) keys and signs it with a
    // hub key of its own: clients refuse it.
    let fake_hub = HubSecret::generate();
    let mut fake_header = Vec::new();
    let mut fake_payload = Vec::new();
    let fake = seal(
        &b"staged"[..],
        &mut fake_header,
        &mut fake_payload,
        &chain.recipients(),
    )
    .unwrap();
    let fake_statement = ClipStatement::new(
        "cam-front",
        1_760_000_100_000,
        1_000,
        fake.payload_sha256,
        [0; 32],
    )
    .unwrap();
    let fake_signature = sign_clip(&fake_statement, &fake_hub);
    assert_eq!(
        verify_clip_in_chain(&chain, &fake_statement, &fake_signature, &fake_hub.public()),
        Err(StatementError::HubNotInChain)
    );
    // Nor can it reuse the genuine hub's signature for other bytes or another time.
    assert_eq!(
        verify_clip_in_chain(&chain, &fake_statement, &signature, &hub.public()),
        Err(StatementError::BadSignature)
    );
    // A removed hub's signatures are no longer accepted.
    let mut b2 = b.clone();
    b2.append(
        ChainOp::RemoveHub {
            hub_key: *hub.public().as_bytes(),
        },
        &phone,
    )
    .unwrap();
    assert_eq!(
        verify_clip_in_chain(b2.chain(), &statement, &signature, &hub.public()),
        Err(StatementError::HubNotInChain)
    );
}
