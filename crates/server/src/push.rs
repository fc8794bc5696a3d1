//! Web Push: the server's VAPID identity (RFC 8292), message encryption to a browser's
//! subscription (RFC 8291, `aes128gcm` of RFC 8188), and one push request to a push service.
//!
//! What is pushed is a hub's sealed, signed event notice, so the encryption here only keeps
//! the push service from seeing even the sealed bytes; the server could not read the notice
//! either way. Every primitive comes from RustCrypto (`p256` ECDH and ECDSA, `hkdf`,
//! `aes-gcm`); this module only composes them as the RFCs say.
//!
//! A subscription's endpoint is a URL a browser chose, which the server will POST to: to keep
//! that from reaching into the operator's network (SSRF), an endpoint must be `https` on port
//! 443 with a public DNS name, answers are never followed on redirect, and the names are
//! resolved only to public addresses. Hosts the operator lists in `notify.push_allow_hosts`
//! are exempt (a local push service, or tests on loopback).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// RFC 8291's uncompressed P-256 point.
pub const P256DH_BYTES: usize = 65;
/// RFC 8291's authentication secret.
pub const AUTH_BYTES: usize = 16;
/// The longest endpoint accepted (push services' are a few hundred characters).
pub const MAX_ENDPOINT_CHARS: usize = 1024;
/// The largest push message body push services must accept (RFC 8030 §7.2).
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// `salt (16) ‖ rs (4) ‖ idlen (1) ‖ keyid (65)` before the one record.
const HEADER_BYTES: usize = 16 + 4 + 1 + P256DH_BYTES;
const TAG_BYTES: usize = 16;
/// The most plaintext one message carries: the rest is header, delimiter and tag.
pub const MAX_PLAINTEXT_BYTES: usize = MAX_MESSAGE_BYTES - HEADER_BYTES - 1 - TAG_BYTES;
/// Plaintext is padded to a multiple of this, so a message's size tells less about the notice
/// (whose size grows with the number of devices it is sealed to).
const PAD_TO: usize = 256;
/// A VAPID token's lifetime (RFC 8292 allows at most 24 hours).
const VAPID_TOKEN_SECS: i64 = 12 * 3600;

/// The server's VAPID key pair. Derived from the server's secret, so every node sharing the
/// secret file (and so the database) signs with the same key the browsers subscribed with.
#[derive(Clone)]
pub struct VapidKey {
    secret: SecretKey,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VapidKey(..)")
    }
}

impl VapidKey {
    /// The key whose scalar is `seed`, if `seed` is one (all but about 2⁻³² of 32-byte values).
    pub fn from_seed(seed: &[u8; 32]) -> Option<Self> {
        SecretKey::from_slice(seed)
            .ok()
            .map(|secret| Self { secret })
    }

    /// The uncompressed public key: the browser's `applicationServerKey`.
    pub fn public_bytes(&self) -> Vec<u8> {
        self.secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    /// `vapid t=…, k=…` for a push to `audience` (the endpoint's origin), valid until
    /// `now_secs` plus twelve hours.
    pub fn authorization(&self, audience: &str, subject: &str, now_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({
            "aud": audience,
            "exp": now_secs + VAPID_TOKEN_SECS,
            "sub": subject,
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let key = p256::ecdsa::SigningKey::from(&self.secret);
        let signature: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
        format!(
            "vapid t={signing_input}.{}, k={}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes()),
            URL_SAFE_NO_PAD.encode(self.public_bytes())
        )
    }
}

/// A browser's subscription keys, parsed.
#[derive(Debug, Clone)]
pub struct SubscriptionKeys {
    p256dh: PublicKey,
    p256dh_bytes: [u8; P256DH_BYTES],
    auth: [u8; AUTH_BYTES],
}

/// Why a subscription was refused. Each says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    #[error("p256dh must be base64url of a 65-byte uncompressed P-256 public key")]
    BadP256dh,
    #[error("auth must be base64url of 16 bytes")]
    BadAuth,
    #[error("endpoint must be a URL of at most {MAX_ENDPOINT_CHARS} characters")]
    BadUrl,
    #[error("endpoint must be https on port 443 with a public host name, without user or fragment")]
    NotAllowed,
}

impl SubscriptionKeys {
    /// Keys from their stored bytes.
    pub fn from_bytes(p256dh: &[u8], auth: &[u8]) -> Result<Self, SubscriptionError> {
        let p256dh_bytes: [u8; P256DH_BYTES] = p256dh
            .try_into()
            .map_err(|_| SubscriptionError::BadP256dh)?;
        if p256dh_bytes[0] != 0x04 {
            return Err(SubscriptionError::BadP256dh);
        }
        let public =
            PublicKey::from_sec1_bytes(&p256dh_bytes).map_err(|_| SubscriptionError::BadP256dh)?;
        let auth: [u8; AUTH_BYTES] = auth.try_into().map_err(|_| SubscriptionError::BadAuth)?;
        Ok(Self {
            p256dh: public,
            p256dh_bytes,
            auth,
        })
    }

    /// Keys as a browser gives them: base64url, padded or not.
    pub fn parse(p256dh: &str, auth: &str) -> Result<Self, SubscriptionError> {
        let p256dh = decode_b64url(p256dh, P256DH_BYTES).ok_or(SubscriptionError::BadP256dh)?;
        let auth = decode_b64url(auth, AUTH_BYTES).ok_or(SubscriptionError::BadAuth)?;
        Self::from_bytes(&p256dh, &auth)
    }

    pub fn p256dh_bytes(&self) -> &[u8] {
        &self.p256dh_bytes
    }

    pub fn auth_bytes(&self) -> &[u8] {
        &self.auth
    }
}

fn decode_b64url(text: &str, len: usize) -> Option<Vec<u8>> {
    // Base64 of `len` bytes is at most this long with padding; longer text is not decoded.
    if text.len() > len.div_ceil(3) * 4 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    (bytes.len() == len).then_some(bytes)
}

/// An endpoint the server may POST to: see the module's note on SSRF.
pub fn check_endpoint(
    endpoint: &str,
    allow_hosts: &[String],
) -> Result<url::Url, SubscriptionError> {
    if endpoint.len() > MAX_ENDPOINT_CHARS {
        return Err(SubscriptionError::BadUrl);
    }
    let url = url::Url::parse(endpoint).map_err(|_| SubscriptionError::BadUrl)?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(SubscriptionError::NotAllowed);
    }
    let Some(host) = url.host_str() else {
        return Err(SubscriptionError::NotAllowed);
    };
    if allow_hosts
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(host))
        && matches!(url.scheme(), "https" | "http")
    {
        return Ok(url);
    }
    let public_name = match url.host() {
        Some(url::Host::Domain(name)) => is_public_name(name),
        _ => false,
    };
    if url.scheme() == "https" && url.port().is_none() && public_name {
        Ok(url)
    } else {
        Err(SubscriptionError::NotAllowed)
    }
}

/// A name that could be on the public Internet: dotted, and not a local-only suffix.
fn is_public_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    const LOCAL: [&str; 6] = [
        "localhost",
        "local",
        "internal",
        "lan",
        "home.arpa",
        "intranet",
    ];
    name.contains('.')
        && !LOCAL
            .iter()
            .any(|suffix| name == *suffix || name.ends_with(&format!(".{suffix}")))
}

/// True for an address on the public Internet (not loopback, private, link-local, shared,
/// documentation, multicast or unspecified).
pub fn is_public_addr(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_addr(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves push service names to public addresses only (names the operator allowed are
/// resolved as they are), so a DNS answer cannot point the server into its own network.
#[derive(Debug)]
struct PublicResolver {
    allow_hosts: Vec<String>,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allowed = self
            .allow_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| allowed || is_public_addr(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err("the push service's name has no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// The HTTP client pushes go through: no redirects, public addresses only, a short timeout.
pub fn client(allow_hosts: &[String]) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(PublicResolver {
            allow_hosts: allow_hosts.to_vec(),
        }))
        .build()
}

/// Encrypts `plaintext` to a subscription (RFC 8291): a fresh ephemeral key and salt each
/// time. `None` if it does not fit one push message ([`MAX_PLAINTEXT_BYTES`]).
pub fn encrypt(plaintext: &[u8], to: &SubscriptionKeys) -> Option<Vec<u8>> {
    let ephemeral = loop {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(seed.as_mut());
        if let Ok(key) = SecretKey::from_slice(seed.as_ref()) {
            break key;
        }
    };
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    encrypt_with(plaintext, to, &ephemeral, &salt)
}

/// [`encrypt`] with the ephemeral key and salt given (RFC 8291 §5's example fixes both).
pub fn encrypt_with(
    plaintext: &[u8],
    to: &SubscriptionKeys,
    ephemeral: &SecretKey,
    salt: &[u8; 16],
) -> Option<Vec<u8>> {
    if plaintext.len() > MAX_PLAINTEXT_BYTES {
        return None;
    }
    let as_public = ephemeral.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(ephemeral.to_nonzero_scalar(), to.p256dh.as_affine());

    // RFC 8291 §3.4: IKM = HKDF(auth, ecdh_secret, "WebPush: info" ‖ 0 ‖ ua_public ‖ as_public).
    let key_info = [
        b"WebPush: info\0".as_slice(),
        &to.p256dh_bytes,
        as_public.as_bytes(),
    ]
    .concat();
    let mut ikm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&to.auth), shared.raw_secret_bytes())
        .expand(&key_info, ikm.as_mut())
        .ok()?;
    // RFC 8188 §2.2–2.3: the content key and nonce from the salt.
    let content = Hkdf::<Sha256>::new(Some(salt), ikm.as_ref());
    let mut cek = Zeroizing::new([0u8; 16]);
    content
        .expand(b"Content-Encoding: aes128gcm\0", cek.as_mut())
        .ok()?;
    let mut nonce = [0u8; 12];
    content
        .expand(b"Content-Encoding: nonce\0", &mut nonce)
        .ok()?;

    // One record, the last: plaintext ‖ 0x02 ‖ zero padding.
    let padded_len = (plaintext.len() + 1)
        .div_ceil(PAD_TO)
        .saturating_mul(PAD_TO)
        .min(MAX_PLAINTEXT_BYTES + 1);
    let mut record = Zeroizing::new(Vec::with_capacity(padded_len));
    record.extend_from_slice(plaintext);
    record.push(0x02);
    record.resize(padded_len, 0);
    let cipher = aes_gcm::Aes128Gcm::new_from_slice(cek.as_ref()).ok()?;
    let sealed = cipher.encrypt((&nonce).into(), record.as_slice()).ok()?;

    let record_size = u32::try_from(MAX_MESSAGE_BYTES).ok()?;
    let mut body = Vec::with_capacity(HEADER_BYTES + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&record_size.to_be_bytes());
    body.push(P256DH_BYTES as u8);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&sealed);
    Some(body)
}

/// What a push service said to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// Accepted (2xx).
    Delivered,
    /// The subscription is no more (404, 410): drop it.
    Gone,
    /// Worth another try later (5xx, 429, a network failure).
    Retry(String),
    /// Refused for good (another 4xx: a VAPID key the subscription was not made with, a
    /// message too large); trying again would be refused again.
    Refused(String),
}

/// One push message to `endpoint`, with its TTL and urgency.
#[derive(Debug)]
pub struct PushMessage<'a> {
    pub endpoint: &'a url::Url,
    pub body: Vec<u8>,
    pub ttl_secs: i64,
    pub urgency: &'static str,
}

/// Sends one message (RFC 8030 §5) authorised by `vapid` (RFC 8292).
pub async fn send(
    http: &reqwest::Client,
    vapid: &VapidKey,
    subject: &str,
    now_secs: i64,
    message: PushMessage<'_>,
) -> PushOutcome {
    let audience = message.endpoint.origin().ascii_serialization();
    let request = http
        .post(message.endpoint.clone())
        .header("ttl", message.ttl_secs.max(0).to_string())
        .header("urgency", message.urgency)
        .header(
            "authorization",
            vapid.authorization(&audience, subject, now_secs),
        )
        .header("content-encoding", "aes128gcm")
        .header("content-type", "application/octet-stream")
        .body(message.body);
    let response = match request.send().await {
        Ok(response) => response,
        // Without the URL: an endpoint is a capability to push to that browser.
        Err(e) => return PushOutcome::Retry(e.without_url().to_string()),
    };
    let status = response.status();
    match status.as_u16() {
        200..=299 => PushOutcome::Delivered,
        404 | 410 => PushOutcome::Gone,
        429 | 500..=599 => PushOutcome::Retry(format!("push service answered {status}")),
        _ => PushOutcome::Refused(format!("push service answered {status}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    /// RFC 8291 §5 encrypts with a record size of 4096 and no padding: the same steps as
    /// [`encrypt_with`] but for padding, which the RFC's example does not use.
    #[test]
    fn rfc8291_example_decrypts_and_our_messages_round_trip() {
        let ua_private =
            SecretKey::from_slice(&b64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")).unwrap();
        let ua_public = ua_private.public_key().to_encoded_point(false);
        assert_eq!(
            ua_public.as_bytes(),
            b64(
                "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
            )
        );
        let auth = b64("BTBZMqHH6r4Tts7J_aSIgg");
        let keys = SubscriptionKeys::from_bytes(ua_public.as_bytes(), &auth).unwrap();

        // The RFC's message opens with our decryption (the inverse of encrypt_with).
        let rfc_body = b64(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        );
        assert_eq!(
            decrypt(&rfc_body, &ua_private, &auth).unwrap(),
            b"When I grow up, I want to be a watermelon"
        );

        // What we encrypt with the RFC's server key and salt opens to the same words, padded.
        let as_private =
            SecretKey::from_slice(&b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let ours = encrypt_with(
            b"When I grow up, I want to be a watermelon",
            &keys,
            &as_private,
            &salt,
        )
        .unwrap();
        assert_eq!(
            &ours[..HEADER_BYTES],
            &rfc_body[..HEADER_BYTES],
            "the same header"
        );
        assert_eq!(ours.len(), HEADER_BYTES + PAD_TO + TAG_BYTES);
        assert_eq!(
            decrypt(&ours, &ua_private, &auth).unwrap(),
            b"When I grow up, I want to be a watermelon"
        );

        // Fresh keys: random each time, any size up to the limit, and not a byte more.
        for len in [0, 1, 255, 256, 1000, MAX_PLAINTEXT_BYTES] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let a = encrypt(&plaintext, &keys).unwrap();
            let b = encrypt(&plaintext, &keys).unwrap();
            assert_ne!(a, b);
            assert!(a.len() <= MAX_MESSAGE_BYTES);
            assert_eq!(decrypt(&a, &ua_private, &auth).unwrap(), plaintext);
            // Another browser's keys, or one changed byte: it does not open.
            let other = SecretKey::from_slice(&[9u8; 32]).unwrap();
            assert!(decrypt(&a, &other, &auth).is_none());
            let mut bad = a.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(decrypt(&bad, &ua_private, &auth).is_none());
        }
        assert!(encrypt(&vec![0; MAX_PLAINTEXT_BYTES + 1], &keys).is_none());
    }

    /// The receiving side of RFC 8291, for tests only: the browser does this.
    fn decrypt(body: &[u8], ua_private: &SecretKey, auth: &[u8]) -> Option<Vec<u8>> {
        let (salt, rest) = body.split_at(16);
        let (rs, rest) = rest.split_at(4);
        assert_eq!(u32::from_be_bytes(rs.try_into().unwrap()), 4096);
        let (idlen, rest) = rest.split_first()?;
        let (as_public, sealed) = rest.split_at(usize::from(*idlen));
        let as_key = PublicKey::from_sec1_bytes(as_public).ok()?;
        let shared = p256::ecdh::diffie_hellman(ua_private.to_nonzero_scalar(), as_key.as_affine());
        let ua_public = ua_private.public_key().to_encoded_point(false);
        let key_info = [
            b"WebPush: info\0".as_slice(),
            ua_public.as_bytes(),
            as_public,
        ]
        .concat();
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
            .expand(&key_info, &mut ikm)
            .unwrap();
        let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        content
            .expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        let mut nonce = [0u8; 12];
        content
            .expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let cipher = aes_gcm::Aes128Gcm::new_from_slice(&cek).unwrap();
        let mut record = cipher.decrypt((&nonce).into(), sealed).ok()?;
        let end = record.iter().rposition(|&b| b != 0)?;
        assert_eq!(record[end], 0x02, "the last record's delimiter");
        record.truncate(end);
        Some(record)
    }

    #[test]
    fn vapid_token_verifies_under_the_public_key() {
        let key = VapidKey::from_seed(&[7u8; 32]).unwrap();
        let header = key.authorization("https://push.example.net", "mailto:ops@example.net", 1_000);
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (token, k) = rest.split_once(", k=").unwrap();
        assert_eq!(b64(k), key.public_bytes());
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_bytes()).unwrap();
        let signature = p256::ecdsa::Signature::from_slice(&b64(signature)).unwrap();
        verifying
            .verify(signing_input.as_bytes(), &signature)
            .unwrap();
        let mut forged = signing_input.to_owned();
        forged.push('x');
        assert!(verifying.verify(forged.as_bytes(), &signature).is_err());
        let claims: serde_json::Value =
            serde_json::from_slice(&b64(signing_input.split_once('.').unwrap().1)).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["sub"], "mailto:ops@example.net");
        assert_eq!(claims["exp"], 1_000 + VAPID_TOKEN_SECS);
    }

    #[test]
    fn subscription_keys_and_endpoints_are_checked() {
        let good = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        assert!(SubscriptionKeys::parse(good, "BTBZMqHH6r4Tts7J_aSIgg").is_ok());
        assert!(SubscriptionKeys::parse(good, "BTBZMqHH6r4Tts7J_aSIgg==").is_ok());
        assert_eq!(
            SubscriptionKeys::parse(good, "BTBZMqHH").unwrap_err(),
            SubscriptionError::BadAuth
        );
        // Not on the curve, compressed, or not base64url.
        let mut off_curve = b64(good);
        off_curve[64] ^= 1;
        assert!(
            SubscriptionKeys::parse(
                &URL_SAFE_NO_PAD.encode(&off_curve),
                "BTBZMqHH6r4Tts7J_aSIgg"
            )
            .is_err()
        );
        assert!(SubscriptionKeys::parse(&good[..44], "BTBZMqHH6r4Tts7J_aSIgg").is_err());
        assert!(SubscriptionKeys::parse("a+b/", "BTBZMqHH6r4Tts7J_aSIgg").is_err());

        let none: [String; 0] = [];
        assert!(check_endpoint("https://fcm.googleapis.com/fcm/send/abc", &none).is_ok());
        assert!(check_endpoint("https://web.push.apple.com/QGx", &none).is_ok());
        for bad in [
            "http://fcm.googleapis.com/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://10.0.0.1/x",
            "https://localhost/x",
            "https://printer.local/x",
            "https://metadata/x",
            "https://push.example.net:8443/x",
            "https://user:pw@push.example.net/x",
            "https://push.example.net/x#y",
            "ftp://push.example.net/x",
            "not a url",
        ] {
            assert!(check_endpoint(bad, &none).is_err(), "{bad}");
        }
        let local = ["127.0.0.1".to_owned()];
        assert!(check_endpoint("http://127.0.0.1:9000/push/1", &local).is_ok());
        assert!(check_endpoint("http://127.0.0.2:9000/push/1", &local).is_err());
        assert!(check_endpoint(&format!("https://a.example/{}", "x".repeat(1100)), &none).is_err());

        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public_addr(private.parse().unwrap()), "{private}");
        }
        for public in ["142.250.1.1", "2a00:1450::1"] {
            assert!(is_public_addr(public.parse().unwrap()), "{public}");
        }
    }
}
