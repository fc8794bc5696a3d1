//! What a browser session needs beyond a bearer token: the session cookie (set, cleared, and
//! read strictly), whether a request came from the app's own origin, and the device id a
//! WebSocket names among its subprotocols (a browser cannot set headers on one).
//!
//! A cookie goes with every request the browser makes to this host, whoever's page made it,
//! so a request that rides one must also show it came from the app: `SameSite=Strict` on the
//! cookie; on every write a CSRF token the page holds (it got it in a body, never from the
//! cookie); and what the browser itself says of the request's origin (`Sec-Fetch-Site`,
//! `Origin`), which another site's page cannot change. Only customer sessions ride a cookie:
//! staff and hub tokens are bearer-only.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::{HeaderMap, HeaderValue, Method, header};
use porchlight_proto::{SESSION_COOKIE, WEBSOCKET_DEVICE_PREFIX, WEBSOCKET_PROTOCOL};
use zeroize::Zeroizing;

use crate::auth::secrets::{looks_like_token, valid_device_id};

/// The `Set-Cookie` value of a new browser session, living as long as the session may.
/// `secure` is false only for a loopback host (see [`is_loopback_host`]).
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> Option<HeaderValue> {
    let text = Zeroizing::new(format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}; Max-Age={}",
        if secure { "; Secure" } else { "" },
        max_age_secs.max(0)
    ));
    let mut value = HeaderValue::from_str(&text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The `Set-Cookie` value that makes the browser forget its session cookie.
pub fn cleared_cookie(secure: bool) -> HeaderValue {
    if secure {
        HeaderValue::from_static(
            "porchlight_session=; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0",
        )
    } else {
        HeaderValue::from_static(
            "porchlight_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        )
    }
}

/// What the request's `Cookie` headers say of the session cookie.
#[derive(PartialEq, Eq)]
pub enum CookieToken {
    Absent,
    /// One session cookie, shaped like a token this server issues.
    Token(Zeroizing<String>),
    /// The cookie is there but is not one token: malformed, or sent twice (a sibling host may
    /// have planted a second one; neither is trusted).
    Unusable,
}

impl std::fmt::Debug for CookieToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Absent => "Absent",
            Self::Token(_) => "Token(..)",
            Self::Unusable => "Unusable",
        })
    }
}

/// Reads the session cookie from `name=value` pairs separated by `;`. Other cookies on the
/// host are skipped whatever their bytes; ours must appear once, as a bare token.
pub fn cookie_token(headers: &HeaderMap) -> CookieToken {
    let mut found: Option<&[u8]> = None;
    for value in headers.get_all(header::COOKIE) {
        for pair in value.as_bytes().split(|&b| b == b';') {
            let mut parts = pair.trim_ascii().splitn(2, |&b| b == b'=');
            let (Some(name), Some(value)) = (parts.next(), parts.next()) else {
                continue;
            };
            if name != SESSION_COOKIE.as_bytes() {
                continue;
            }
            if found.replace(value).is_some() {
                return CookieToken::Unusable;
            }
        }
    }
    let Some(raw) = found else {
        return CookieToken::Absent;
    };
    match std::str::from_utf8(raw) {
        Ok(token) if looks_like_token(token) => {
            CookieToken::Token(Zeroizing::new(token.to_owned()))
        }
        _ => CookieToken::Unusable,
    }
}

/// True for a method that changes something: everything but GET, HEAD and OPTIONS.
pub fn writes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// True for a WebSocket handshake (`GET` with `Upgrade: websocket`).
pub fn is_websocket_upgrade(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get(header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// The one `Host` header of the request, if it has exactly one in text.
pub fn request_host(headers: &HeaderMap) -> Option<&str> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => host.to_str().ok(),
        _ => None,
    }
}

/// True when the request's host is this machine's loopback: `localhost`, an address in
/// 127.0.0.0/8 or `[::1]`, with or without a port. Anything else, or anything unreadable,
/// is false.
pub fn is_loopback_host(host: &str) -> bool {
    let Some((name, _)) = split_host_port(host) else {
        return false;
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// `name` and the optional port of a `host[:port]` authority (`[v6]:port` too). `None` for
/// an empty name or a port that is not 1 to 5 digits.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (name, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (name, rest) = authority.split_at(end + 1);
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    (!name.is_empty() && port_ok).then_some((name, port))
}

/// True when `origin` (an `Origin` header: `scheme://host[:port]`) names the same host and
/// port as `host` (a `Host` header), the scheme's default port standing in for a missing one.
pub fn origin_matches_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else if scheme.eq_ignore_ascii_case("http") {
        "80"
    } else {
        return false;
    };
    let normal = |authority: &str| {
        split_host_port(authority).map(|(name, port)| {
            (
                name.to_ascii_lowercase(),
                port.unwrap_or(default_port).to_owned(),
            )
        })
    };
    match (normal(authority), normal(host)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// False when the browser says the request came from elsewhere: a `Sec-Fetch-Site` other
/// than `same-origin`, or an `Origin` whose host and port are not the request's `Host`.
/// Either may be missing (older browsers, other clients) unless `require_origin`: a
/// browser's WebSocket handshake always has an `Origin`.
pub fn from_same_origin(headers: &HeaderMap, require_origin: bool) -> bool {
    if headers
        .get_all("sec-fetch-site")
        .iter()
        .any(|site| site.as_bytes() != b"same-origin")
    {
        return false;
    }
    let mut origins = headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (None, _) => !require_origin,
        (Some(origin), None) => match (origin.to_str(), request_host(headers)) {
            (Ok(origin), Some(host)) => origin_matches_host(origin, host),
            _ => false,
        },
        (Some(_), Some(_)) => false,
    }
}

/// The device id a browser's WebSocket names among its subprotocols:
/// `Sec-WebSocket-Protocol: porchlight, porchlight-device.<id>`. Exactly one device, well
/// formed, offered beside `porchlight` (the protocol the server selects).
pub fn websocket_device(headers: &HeaderMap) -> Option<String> {
    let mut offers_porchlight = false;
    let mut device = None;
    for value in headers.get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        for protocol in value.to_str().ok()?.split(',').map(str::trim) {
            if protocol == WEBSOCKET_PROTOCOL {
                offers_porchlight = true;
            } else if let Some(id) = protocol.strip_prefix(WEBSOCKET_DEVICE_PREFIX)
                && device.replace(id).is_some()
            {
                return None;
            }
        }
    }
    device
        .filter(|id| offers_porchlight && valid_device_id(id))
        .map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const TOKEN: &str = "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cookies_carry_the_attributes_the_browser_needs() {
        let set = session_cookie(TOKEN, 3600, true).unwrap();
        assert_eq!(
            set.to_str().unwrap(),
            format!(
                "porchlight_session={TOKEN}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=3600"
            )
        );
        assert!(set.is_sensitive());
        let local = session_cookie(TOKEN, -5, false).unwrap();
        assert_eq!(
            local.to_str().unwrap(),
            format!("porchlight_session={TOKEN}; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
        );
        assert!(
            cleared_cookie(true)
                .to_str()
                .unwrap()
                .ends_with("; Secure; Max-Age=0")
        );
        assert!(!cleared_cookie(false).to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn the_session_cookie_is_read_strictly() {
        let token = |pairs: &[(&'static str, &str)]| cookie_token(&headers(pairs));
        assert_eq!(token(&[]), CookieToken::Absent);
        assert_eq!(
            token(&[("cookie", "other=1; theme=dark")]),
            CookieToken::Absent
        );
        let good = CookieToken::Token(Zeroizing::new(TOKEN.to_owned()));
        assert_eq!(
            token(&[("cookie", &format!("porchlight_session={TOKEN}"))]),
            good
        );
        assert_eq!(
            token(&[(
                "cookie",
                &format!("a=\"x\"; porchlight_session={TOKEN};b=2")
            )]),
            good
        );
        // Another cookie on the host with odd bytes is none of our business.
        let mut odd = headers(&[("cookie", &format!("porchlight_session={TOKEN}"))]);
        odd.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"x=\xff\xfe").unwrap(),
        );
        assert_eq!(cookie_token(&odd), good);
        for bad in [
            format!("porchlight_session={TOKEN}; porchlight_session={TOKEN}"),
            format!("porchlight_session=\"{TOKEN}\""),
            format!("porchlight_session={TOKEN}x"),
            "porchlight_session=".to_owned(),
            "porchlight_session=short".to_owned(),
            format!("porchlight_session= {TOKEN}"),
        ] {
            assert_eq!(token(&[("cookie", &bad)]), CookieToken::Unusable, "{bad}");
        }
        // Twice across two headers is twice.
        let twice = [
            ("cookie", format!("porchlight_session={TOKEN}")),
            ("cookie", format!("porchlight_session={TOKEN}")),
        ];
        let twice: Vec<(&'static str, &str)> =
            twice.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(token(&twice), CookieToken::Unusable);
        // Names are exact.
        assert_eq!(
            token(&[("cookie", &format!("Porchlight_Session={TOKEN}"))]),
            CookieToken::Absent
        );
        assert_eq!(format!("{good:?}"), "Token(..)");
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LocalHost:8080",
            "127.0.0.1",
            "127.0.0.1:3000",
            "127.255.0.9:1",
            "[::1]",
            "[::1]:8443",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "example.com",
            "localhost.example.com",
            "evil-localhost",
            "128.0.0.1",
            "10.0.0.1:80",
            "[::2]:80",
            "::1",
            "[::1",
            "localhost:",
            "localhost:abc",
            "127.0.0.1:123456",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn origins_match_hosts_by_host_and_port() {
        for (origin, host) in [
            ("https://porch.example", "porch.example"),
            ("https://porch.example", "porch.example:443"),
            ("http://Porch.Example:8080", "porch.example:8080"),
            ("http://127.0.0.1:3000", "127.0.0.1:3000"),
            ("http://[::1]:3000", "[::1]:3000"),
        ] {
            assert!(origin_matches_host(origin, host), "{origin} {host}");
        }
        for (origin, host) in [
            ("https://evil.example", "porch.example"),
            ("https://porch.example:8443", "porch.example"),
            ("http://porch.example", "porch.example:443"),
            ("null", "porch.example"),
            ("https://porch.example/", "porch.example"),
            ("https://user@porch.example", "porch.example"),
            ("file://porch.example", "porch.example"),
            ("porch.example", "porch.example"),
            ("https://", ""),
        ] {
            assert!(!origin_matches_host(origin, host), "{origin} {host}");
        }
    }

    #[test]
    fn same_origin_as_the_browser_says_it() {
        let host = ("host", "porch.example");
        assert!(from_same_origin(&headers(&[host]), false));
        assert!(!from_same_origin(&headers(&[host]), true));
        assert!(from_same_origin(
            &headers(&[
                host,
                ("origin", "https://porch.example"),
                ("sec-fetch-site", "same-origin")
            ]),
            true
        ));
        for refused in [
            vec![host, ("sec-fetch-site", "cross-site")],
            vec![host, ("sec-fetch-site", "same-site")],
            vec![host, ("sec-fetch-site", "none")],
            vec![host, ("origin", "https://evil.example")],
            vec![host, ("origin", "null")],
            vec![("origin", "https://porch.example")],
            vec![
                host,
                ("origin", "https://porch.example"),
                ("origin", "https://porch.example"),
            ],
            vec![
                host,
                ("host", "evil.example"),
                ("origin", "https://porch.example"),
            ],
        ] {
            assert!(!from_same_origin(&headers(&refused), false), "{refused:?}");
        }
    }

    #[test]
    fn websocket_devices_come_from_the_subprotocols() {
        let id = "0123456789abcdef";
        let protocols =
            |value: &str| websocket_device(&headers(&[("sec-websocket-protocol", value)]));
        assert_eq!(
            protocols(&format!("porchlight, porchlight-device.{id}")).as_deref(),
            Some(id)
        );
        assert_eq!(
            protocols(&format!("porchlight-device.{id},porchlight")).as_deref(),
            Some(id)
        );
        let split = headers(&[
            ("sec-websocket-protocol", "porchlight"),
            ("sec-websocket-protocol", &format!("porchlight-device.{id}")),
        ]);
        assert_eq!(websocket_device(&split).as_deref(), Some(id));
        for bad in [
            format!("porchlight-device.{id}"),
            "porchlight".to_owned(),
            "porchlight, porchlight-device.short".to_owned(),
            format!("porchlight, porchlight-device.{id}, porchlight-device.{id}"),
            format!("porchlight, porchlight-device.{id}!"),
        ] {
            assert_eq!(protocols(&bad), None, "{bad}");
        }
        assert_eq!(websocket_device(&HeaderMap::new()), None);
    }

    #[test]
    fn writes_and_upgrades() {
        assert!(!writes(&Method::GET) && !writes(&Method::HEAD) && !writes(&Method::OPTIONS));
        assert!(writes(&Method::POST) && writes(&Method::DELETE) && writes(&Method::PATCH));
        assert!(writes(&Method::PUT));
        let upgrade = headers(&[("upgrade", "WebSocket")]);
        assert!(is_websocket_upgrade(&Method::GET, &upgrade));
        assert!(!is_websocket_upgrade(&Method::POST, &upgrade));
        assert!(!is_websocket_upgrade(&Method::GET, &HeaderMap::new()));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_headers_never_panic(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..120), text in ".{0,80}") {
            if let Ok(value) = HeaderValue::from_bytes(&raw) {
                let mut map = HeaderMap::new();
                for name in [header::COOKIE, header::ORIGIN, header::HOST, header::SEC_WEBSOCKET_PROTOCOL] {
                    map.insert(name, value.clone());
                }
                map.insert("sec-fetch-site", value);
                let _ = cookie_token(&map);
                let _ = from_same_origin(&map, true);
                if let Some(id) = websocket_device(&map) {
                    proptest::prop_assert!(valid_device_id(&id));
                }
            }
            let _ = is_loopback_host(&text);
            let _ = origin_matches_host(&text, &text);
        }
    }
}
