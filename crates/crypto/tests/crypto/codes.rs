use porchlight_crypto::pairing::{MAX_URL_BYTES, encode_raw_for_tests};
use porchlight_crypto::{
    LinkHash, PairingCode, PairingError, PairingSecret, RecoveryCodeError, RecoveryKey,
};

// The code of the secret [0x42; 32] (pinned, with its keys, in the crate's unit tests).
const CODE: &str = "8914-4GJ2-8914-4GJ2-8914-4GJ2-8914-4GJ2-8914-4GJ2-8914-4GJ2-8915-SXSQ";
const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[test]
fn recovery_code_round_trip_and_tolerance() {
    let (key, code) = RecoveryKey::generate();
    let back = RecoveryKey::from_code(code.expose()).unwrap();
    assert_eq!(back.public(), key.public());

    let pinned = RecoveryKey::from_code(CODE).unwrap().public();
    for typed in [
        CODE.to_lowercase(),
        CODE.replace('-', " "),
        CODE.replace('-', ""),
        format!("  {}\n", CODE.replace('-', "  ")),
        // Look-alikes: 1 read as I or L, 0 as O.
        CODE.replace('1', "I"),
        CODE.to_lowercase().replace('1', "l"),
    ] {
        assert_eq!(
            RecoveryKey::from_code(&typed).unwrap().public(),
            pinned,
            "{typed}"
        );
    }
}

#[test]
fn every_single_typo_and_swap_is_caught() {
    let chars: Vec<char> = CODE.chars().filter(|c| *c != '-').collect();
    let mut tried = 0;
    for i in 0..chars.len() {
        for replacement in ALPHABET.chars().filter(|c| *c != chars[i]) {
            let mut typo = chars.clone();
            typo[i] = replacement;
            let typo: String = typo.into_iter().collect();
            assert!(RecoveryKey::from_code(&typo).is_err(), "{typo}");
            tried += 1;
        }
        if i + 1 < chars.len() && chars[i] != chars[i + 1] {
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            let swapped: String = swapped.into_iter().collect();
            assert_eq!(
                RecoveryKey::from_code(&swapped).unwrap_err(),
                RecoveryCodeError::BadChecksum
            );
        }
    }
    assert_eq!(tried, 56 * 31);
}

#[test]
fn recovery_code_errors() {
    assert_eq!(
        RecoveryKey::from_code(&CODE[..CODE.len() - 5]).unwrap_err(),
        RecoveryCodeError::WrongLength { found: 52 }
    );
    assert!(matches!(
        RecoveryKey::from_code(&format!("{CODE}-0000")).unwrap_err(),
        RecoveryCodeError::WrongLength { found: 60 }
    ));
    assert_eq!(
        RecoveryKey::from_code(&CODE.replacen('8', "U", 1)).unwrap_err(),
        RecoveryCodeError::InvalidCharacter { position: 0 }
    );
    assert_eq!(
        RecoveryKey::from_code("8914-4GJ2!").unwrap_err(),
        RecoveryCodeError::InvalidCharacter { position: 9 }
    );
    assert!(RecoveryKey::from_code("").is_err());
    assert!(RecoveryKey::from_code("ÿÿÿÿ").is_err());
}

fn sample_code() -> PairingCode {
    PairingCode::from_parts(
        "https://porchlight.example.net",
        PairingSecret::from_bytes([0xab; 16]),
        LinkHash::from_bytes([0x11; 32]),
    )
    .unwrap()
}

/// The body of a pairing code (before its check bytes), to build codes with a valid check
/// that are wrong in some other way.
fn body(version: u8, url: &[u8], url_len: u8) -> Vec<u8> {
    let mut b = vec![version];
    b.extend_from_slice(&[0xab; 16]);
    b.extend_from_slice(&[0x11; 32]);
    b.push(url_len);
    b.extend_from_slice(url);
    b
}

#[test]
fn pairing_code_round_trip() {
    let code = sample_code();
    let text = code.encode();
    assert_eq!(
        text.as_str(),
        encode_raw_for_tests(&body(1, b"https://porchlight.example.net", 30))
    );
    let back = PairingCode::parse(&text).unwrap();
    assert_eq!(back, code);
    assert_eq!(back.server_url(), "https://porchlight.example.net");
    assert_eq!(back.owner_root(), &LinkHash::from_bytes([0x11; 32]));
    assert_eq!(back.secret().expose(), &[0xab; 16]);
    assert_ne!(back.secret().verifier(), [0; 32]);
    // Case and grouping a person may add do not matter.
    let grouped: String = text
        .to_lowercase()
        .chars()
        .collect::<Vec<_>>()
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-");
    assert_eq!(PairingCode::parse(&grouped).unwrap(), code);
    // Fresh codes get fresh secrets.
    let root = LinkHash::from_bytes([1; 32]);
    assert_ne!(
        PairingCode::new("https://a.example", root)
            .unwrap()
            .secret(),
        PairingCode::new("https://a.example", root)
            .unwrap()
            .secret()
    );
    let qr = code.to_qr_text().unwrap();
    assert!(qr.lines().count() > 10);
}

#[test]
fn pairing_code_parse_errors() {
    let text = sample_code().encode().to_string();
    let url = b"https://porchlight.example.net";

    assert_eq!(PairingCode::parse("").unwrap_err(), PairingError::Empty);
    assert_eq!(
        PairingCode::parse(&format!("{}*", &text[..8])).unwrap_err(),
        PairingError::InvalidCharacter { position: 8 }
    );
    // A typo anywhere is caught by the check bytes.
    let mut typo: Vec<char> = text.chars().collect();
    typo[20] = if typo[20] == 'A' { 'B' } else { 'A' };
    assert_eq!(
        PairingCode::parse(&typo.into_iter().collect::<String>()).unwrap_err(),
        PairingError::BadChecksum
    );
    // Cut at a whole number of bytes (8 characters = 5 bytes).
    assert_eq!(
        PairingCode::parse(&text[..40]).unwrap_err(),
        PairingError::Truncated
    );
    assert!(PairingCode::parse(&text[..text.len() - 8]).is_err());
    assert_eq!(
        PairingCode::parse(&encode_raw_for_tests(&body(2, url, 30))).unwrap_err(),
        PairingError::UnsupportedVersion(2)
    );
    assert_eq!(
        PairingCode::parse(&encode_raw_for_tests(&body(1, url, 31))).unwrap_err(),
        PairingError::Truncated
    );
    assert_eq!(
        PairingCode::parse(&encode_raw_for_tests(&body(1, url, 29))).unwrap_err(),
        PairingError::TrailingBytes(1)
    );
    let long = format!("https://{}", "a".repeat(MAX_URL_BYTES));
    assert_eq!(
        PairingCode::parse(&encode_raw_for_tests(&body(
            1,
            long.as_bytes(),
            long.len() as u8
        )))
        .unwrap_err(),
        PairingError::UrlTooLong
    );
    assert_eq!(
        PairingCode::parse(&encode_raw_for_tests(&body(1, b"file:///etc/passwd", 18))).unwrap_err(),
        PairingError::UrlNotHttp
    );
    assert_eq!(
        PairingCode::parse(&encode_raw_for_tests(&body(1, b"https://a b", 11))).unwrap_err(),
        PairingError::UrlInvalid
    );
    assert_eq!(
        PairingCode::parse(&encode_raw_for_tests(&body(1, b"https://\xff", 9))).unwrap_err(),
        PairingError::UrlInvalid
    );
    // A final character with stray low bits is not a canonical encoding.
    let mut last_changed: Vec<char> = text.chars().collect();
    if let Some(last) = last_changed.last_mut() {
        *last = 'Z';
    }
    let last_changed: String = last_changed.into_iter().collect();
    assert!(matches!(
        PairingCode::parse(&last_changed).unwrap_err(),
        PairingError::NonCanonical | PairingError::BadChecksum
    ));
}

#[test]
fn hub_proof_binds_the_secret_to_the_hub_key() {
    let code = sample_code();
    let hub = porchlight_crypto::HubSecret::generate().public();
    let other_hub = porchlight_crypto::HubSecret::generate().public();
    let proof = code.secret().hub_proof(&hub);
    assert!(code.secret().check_hub_proof(&hub, &proof));
    // Another key, another secret, a flipped bit or a short proof: refused.
    assert!(!code.secret().check_hub_proof(&other_hub, &proof));
    let other_secret = porchlight_crypto::PairingSecret::generate();
    assert!(!other_secret.check_hub_proof(&hub, &proof));
    let mut flipped = proof;
    flipped[7] ^= 1;
    assert!(!code.secret().check_hub_proof(&hub, &flipped));
    assert!(!code.secret().check_hub_proof(&hub, &proof[..31]));
    // The verifier the server keeps is not a proof for any key.
    assert!(
        !code
            .secret()
            .check_hub_proof(&hub, &code.secret().verifier())
    );
}

#[test]
fn hub_auth_signatures_verify_only_for_their_challenge_and_key() {
    let hub = porchlight_crypto::HubSecret::generate();
    let challenge = [7u8; 32];
    let signature = hub.sign_auth_challenge(&challenge);
    assert!(hub.public().verify_auth_challenge(&challenge, &signature));
    assert!(!hub.public().verify_auth_challenge(&[8u8; 32], &signature));
    let other = porchlight_crypto::HubSecret::generate();
    assert!(!other.public().verify_auth_challenge(&challenge, &signature));
    let mut bad = signature;
    bad[0] ^= 1;
    assert!(!hub.public().verify_auth_challenge(&challenge, &bad));
}
