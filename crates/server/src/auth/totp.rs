//! TOTP (RFC 6238) second factor: SHA-1, six digits, 30-second steps, one step of skew — what
//! every authenticator app speaks. Codes are checked by `totp-rs` in constant time; refusing a
//! replay is the store's job (`consume_totp_step`), given the step returned here.

use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

pub const ISSUER: &str = "Porchlight";
const STEP_SECS: u64 = 30;
const SECRET_BYTES: usize = 20;

/// A fresh 160-bit secret (RFC 4226's recommendation).
pub fn generate_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; SECRET_BYTES]);
    rand::RngCore::fill_bytes(&mut rand::rng(), secret.as_mut_slice());
    secret
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, totp_rs::TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(Secret::from(secret))
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', ""))
        .build()
}

/// The enrolment for an authenticator app: `otpauth://` URI and the base32 secret.
pub fn enrolment(secret: &[u8], account: &str) -> Result<(String, String), totp_rs::TotpError> {
    let t = totp(secret, account)?;
    Ok((t.to_url()?, t.secret().to_base32()))
}

/// The time step a code is valid for at `now_ms` (current step ± 1), or `None`.
pub fn matching_step(secret: &[u8], code: &str, now_ms: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now_secs = u64::try_from(now_ms / 1000).ok()?;
    let t = totp(secret, "check").ok()?;
    t.check(code, now_secs)
        .and_then(|step| i64::try_from(step).ok())
}

/// The code for `now_ms` (for tests and the benchmark client).
pub fn code_at(secret: &[u8], now_ms: i64) -> Option<String> {
    let t = totp(secret, "gen").ok()?;
    Some(t.generate(u64::try_from(now_ms / 1000).ok()?).to_string())
}

/// The code for `now_ms` from a base32 secret, as an authenticator app would show it.
pub fn code_for_base32(secret_b32: &str, now_ms: i64) -> Option<String> {
    let secret = Secret::try_from_base32(secret_b32).ok()?;
    code_at(secret.as_ref(), now_ms)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// RFC 6238 appendix B: the reference secrets are the ASCII digits repeated to the hash's
    /// block size; codes have eight digits.
    #[test]
    fn rfc6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let cases: &[(u64, &str, &str, &str)] = &[
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        let make = |alg, secret: &Vec<u8>| {
            Builder::new()
                .with_algorithm(alg)
                .with_digits(8)
                .with_step_duration(30)
                .with_secret(Secret::from(secret.clone()))
                .with_account_name("rfc")
                .build()
                .unwrap()
        };
        for &(time, c1, c256, c512) in cases {
            assert_eq!(
                make(Algorithm::SHA1, &sha1).generate(time).to_string(),
                c1,
                "sha1 at {time}"
            );
            assert_eq!(
                make(Algorithm::SHA256, &sha256).generate(time).to_string(),
                c256,
                "sha256 at {time}"
            );
            assert_eq!(
                make(Algorithm::SHA512, &sha512).generate(time).to_string(),
                c512,
                "sha512 at {time}"
            );
        }
        // And a wrong code fails.
        assert_ne!(
            make(Algorithm::SHA1, &sha1).generate(59).to_string(),
            "94287083"
        );
    }

    #[test]
    fn codes_match_their_step_with_one_step_of_skew() {
        let secret = generate_secret();
        let now = 1_700_000_000_000;
        let code = code_at(&secret, now).unwrap();
        let step = now / 1000 / 30;
        assert_eq!(matching_step(&secret, &code, now), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 30_000), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 90_000), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_codes_and_times_never_panic(code in ".{0,12}", now_ms in proptest::prelude::any::<i64>()) {
            let secret = [7u8; 20];
            if let Some(step) = matching_step(&secret, &code, now_ms) {
                proptest::prop_assert!(step >= 0);
            }
            let _ = code_for_base32(&code, now_ms);
        }
    }

    #[test]
    fn enrolment_uri_names_the_issuer() {
        let secret = generate_secret();
        let (uri, b32) = enrolment(&secret, "ann@example.com").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Porchlight:ann%40example.com?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={b32}")));
    }
}
