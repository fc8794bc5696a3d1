//! A camera's RTSP URL, with its credentials kept apart so they are never shown.

use std::fmt;
use std::str::FromStr;

use percent_encoding::percent_decode_str;
use url::Url;
use zeroize::Zeroizing;

/// Query parameters whose values some cameras use for credentials or tokens; their values are
/// hidden wherever the URL is shown.
const SECRET_QUERY_KEYS: [&str; 7] = ["pass", "pwd", "user", "token", "auth", "key", "secret"];

const HIDDEN: &str = "***";

/// An `rtsp://` URL of a camera. Credentials written in it (`rtsp://user:password@host/path`)
/// are taken out at parse time and sent only when the camera asks for them; the URL shows (via
/// `Display` and `Debug`) as `rtsp://***@host/path`.
#[derive(Clone)]
pub struct CameraUrl {
    /// Without userinfo and fragment.
    url: Url,
    credentials: Option<Credentials>,
    /// Strings to hide in any text that came from the camera or the RTSP library.
    secrets: Vec<String>,
}

#[derive(Clone)]
struct Credentials {
    username: Zeroizing<String>,
    password: Zeroizing<String>,
}

/// Why a camera URL was refused. Never contains the URL itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CameraUrlError {
    /// Not a URL at all.
    #[error("not a valid URL: {0}")]
    Invalid(url::ParseError),
    /// A scheme other than `rtsp`.
    #[error("a camera URL must start with rtsp:// (found the scheme {0:?})")]
    Scheme(String),
    /// No host to connect to.
    #[error("the camera URL has no host")]
    NoHost,
    /// The user name or password is not valid percent-encoded UTF-8.
    #[error("the credentials in the camera URL are not valid percent-encoded UTF-8")]
    Credentials,
}

impl CameraUrl {
    /// Parses a camera URL, taking out its credentials.
    pub fn parse(text: &str) -> Result<Self, CameraUrlError> {
        let mut url = Url::parse(text).map_err(CameraUrlError::Invalid)?;
        if url.scheme() != "rtsp" {
            return Err(CameraUrlError::Scheme(url.scheme().to_owned()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(CameraUrlError::NoHost);
        }
        let mut secrets = Vec::new();
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let username = decode(url.username())?;
            let password = decode(url.password().unwrap_or_default())?;
            secrets.extend([url.username().to_owned(), username.to_string()]);
            secrets.extend([url.password().unwrap_or_default().to_owned()]);
            secrets.push(password.to_string());
            url.set_username("").map_err(|()| CameraUrlError::NoHost)?;
            url.set_password(None)
                .map_err(|()| CameraUrlError::NoHost)?;
            Some(Credentials { username, password })
        };
        url.set_fragment(None);
        for (key, value) in url.query_pairs() {
            if is_secret_key(&key) && !value.is_empty() {
                secrets.push(value.into_owned());
            }
        }
        if let Some(query) = url.query() {
            for pair in query.split('&') {
                if let Some((key, value)) = pair.split_once('=')
                    && is_secret_key(key)
                    && !value.is_empty()
                {
                    secrets.push(value.to_owned());
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first, so a secret that contains another is hidden whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Ok(Self {
            url,
            credentials,
            secrets,
        })
    }

    /// The URL without credentials, as the RTSP requests carry it.
    pub(crate) fn without_credentials(&self) -> &Url {
        &self.url
    }

    /// The credentials, in the form the RTSP library takes them.
    pub(crate) fn retina_credentials(&self) -> Option<retina::client::Credentials> {
        self.credentials
            .as_ref()
            .map(|c| retina::client::Credentials {
                username: c.username.to_string(),
                password: c.password.to_string(),
            })
    }

    /// Hides this URL's credentials, and any `scheme://user:password@` userinfo at all, in text
    /// that came from elsewhere (an error message, a camera's answer).
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = redact_userinfo(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), HIDDEN);
            }
        }
        out
    }
}

fn decode(text: &str) -> Result<Zeroizing<String>, CameraUrlError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| Zeroizing::new(s.into_owned()))
        .map_err(|_| CameraUrlError::Credentials)
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_QUERY_KEYS.iter().any(|k| key.contains(k))
}

/// Replaces the userinfo of every `scheme://userinfo@host` in `text` with `***`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_len = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..authority_len];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                out.push_str(HIDDEN);
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_len..];
    }
    out.push_str(rest);
    out
}

impl FromStr for CameraUrl {
    type Err = CameraUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        if self.url.query().is_some() {
            let pairs: Vec<(String, String)> = self
                .url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) {
                        HIDDEN.to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let shown = shown.as_str();
        match (&self.credentials, shown.split_once("://")) {
            (Some(_), Some((scheme, rest))) => write!(f, "{scheme}://{HIDDEN}@{rest}"),
            _ => f.write_str(shown),
        }
    }
}

impl fmt::Debug for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CameraUrl")
            .field(&format_args!("{self}"))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_taken_out_and_decoded() {
        let url = CameraUrl::parse("rtsp://ad%40min:p%3Ass@cam.local:8554/live?ch=1#x").unwrap();
        assert_eq!(
            url.without_credentials().as_str(),
            "rtsp://cam.local:8554/live?ch=1"
        );
        let creds = url.retina_credentials().unwrap();
        assert_eq!(creds.username, "ad@min");
        assert_eq!(creds.password, "p:ss");
        assert_eq!(url.to_string(), "rtsp://***@cam.local:8554/live?ch=1");
        assert_eq!(
            format!("{url:?}"),
            "CameraUrl(rtsp://***@cam.local:8554/live?ch=1)"
        );
    }

    #[test]
    fn no_credentials_shows_plainly() {
        let url = CameraUrl::parse("rtsp://10.0.0.5/stream1").unwrap();
        assert!(url.retina_credentials().is_none());
        assert_eq!(url.to_string(), "rtsp://10.0.0.5/stream1");
    }

    #[test]
    fn secret_query_values_are_hidden() {
        let url = CameraUrl::parse("rtsp://cam/live?user=bob&password=hunter22&channel=2").unwrap();
        let shown = url.to_string();
        assert!(
            !shown.contains("hunter22") && !shown.contains("bob"),
            "{shown}"
        );
        assert!(shown.contains("channel=2"));
        assert_eq!(
            url.redact("GET ...password=hunter22"),
            "GET ...password=***"
        );
    }

    #[test]
    fn redact_hides_the_secrets_and_any_userinfo() {
        let url = CameraUrl::parse("rtsp://alice:s3cr%21t@cam/x").unwrap();
        let text = "401 for rtsp://alice:s3cr!t@cam/x and rtsp://eve:pw@other:1/y; pw was s3cr!t \
                    or s3cr%21t";
        let redacted = url.redact(text);
        assert!(!redacted.contains("s3cr"), "{redacted}");
        assert!(!redacted.contains("eve:pw"), "{redacted}");
        assert!(redacted.contains("rtsp://***@other:1/y"), "{redacted}");
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for (text, want) in [
            ("http://u:secretpw@cam/x", "scheme"),
            ("rtsp://", "URL"),
            ("not a url secretpw", "valid"),
            ("rtsp://u:%ff%fe@cam/", "UTF-8"),
        ] {
            let err = CameraUrl::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains("secretpw"), "{err}");
        }
    }
}
