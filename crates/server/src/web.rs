//! The browser app, served by the router's fallback from files embedded in the binary
//! (`build.rs` turns `crates/server/webapp/` into a table): `/` and any path that is not the
//! API's and does not look like a file (`/cameras/abc`, a route of the app itself) answer
//! `index.html`; `/<file>` answers that file; everything else is the API's `404`.
//!
//! Every file has a strong ETag (the SHA-256 of its bytes, computed once) and
//! `Cache-Control: no-cache`, so a browser keeps its copy and asks each time whether it is
//! still current (`304`), and a new release is never hidden behind a stale cache.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/webapp.rs"));
}

/// The page every app route answers.
pub const INDEX: &str = "index.html";

/// The policy of the app's HTML: its own scripts, styles and WebAssembly only; nothing inline,
/// nothing from another origin, never framed.
pub const APP_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; \
    worker-src 'self'; manifest-src 'self'; font-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// The policy of every other answer (JSON, scripts, images): it is no document, so it may do
/// nothing as one, and is never framed.
pub const NONE_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The service worker's policy: a worker's own script answer sets what it may do, and this one
/// only fetches the app's files from here (to keep them for when the network is gone, and the
/// chain to check a pushed notice against) and compiles the project's WebAssembly crypto, which
/// opens that notice. No script from anywhere, no other host.
pub const WORKER_CSP: &str =
    "default-src 'none'; connect-src 'self'; script-src 'wasm-unsafe-eval'; frame-ancestors 'none'";

/// The service worker's file: served with [`WORKER_CSP`].
const WORKER: &str = "sw.js";

/// Path prefixes that belong to the API and the operator routes: never the app's.
const NOT_THE_APP: &[&str] = &["/api/", "/healthz", "/readyz", "/metrics"];

/// The app's files by path (`app.js`, `icons/bell.svg`: relative, `/`-separated).
#[derive(Clone)]
pub struct WebApp {
    files: Arc<HashMap<String, AppFile>>,
}

struct AppFile {
    bytes: Bytes,
    content_type: &'static str,
    csp: &'static str,
    etag: HeaderValue,
}

impl std::fmt::Debug for WebApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApp")
            .field("files", &self.names())
            .finish()
    }
}

impl WebApp {
    /// An app of these files. A leading `/` on a path is dropped.
    pub fn new<N: AsRef<str>, B: Into<Bytes>>(files: impl IntoIterator<Item = (N, B)>) -> Self {
        let files = files
            .into_iter()
            .map(|(name, bytes)| {
                let name = name.as_ref().trim_start_matches('/').to_owned();
                let bytes = bytes.into();
                let etag = format!("\"{}\"", hex::encode(Sha256::digest(&bytes)));
                let file = AppFile {
                    content_type: content_type(&name),
                    csp: policy(&name),
                    // Quoted hex is always a valid header value.
                    etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
                    bytes,
                };
                (name, file)
            })
            .collect();
        Self {
            files: Arc::new(files),
        }
    }

    /// The files built into this binary, hashed on first use.
    pub fn embedded() -> Self {
        static APP: OnceLock<WebApp> = OnceLock::new();
        APP.get_or_init(|| {
            Self::new(
                embedded::FILES
                    .iter()
                    .map(|(name, bytes)| (*name, Bytes::from_static(bytes))),
            )
        })
        .clone()
    }

    /// The paths of the files, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.files.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The answer to a request the API's routes did not take.
    pub fn answer(&self, method: &Method, path: &str, headers: &HeaderMap) -> Response {
        let file = match *method {
            Method::GET | Method::HEAD => self.file_for(path),
            _ => None,
        };
        match file {
            Some(file) => serve(file, method == Method::HEAD, headers),
            None => ApiError::not_found().into_response(),
        }
    }

    fn file_for(&self, path: &str) -> Option<&AppFile> {
        if let Some(file) = path.strip_prefix('/').and_then(|name| self.files.get(name)) {
            return Some(file);
        }
        is_app_route(path).then(|| self.files.get(INDEX)).flatten()
    }
}

/// `/`, and any path that is not the API's and whose last segment has no dot: a route of
/// the app, for the app's own router to show. A missing `/app.js` stays a `404`.
fn is_app_route(path: &str) -> bool {
    path.starts_with('/')
        && path != "/api"
        && !NOT_THE_APP.iter().any(|prefix| path.starts_with(prefix))
        && !path.rsplit('/').next().unwrap_or_default().contains('.')
}

fn serve(file: &AppFile, head: bool, headers: &HeaderMap) -> Response {
    let mut response = if etag_matches(headers, &file.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = if head {
            Body::empty()
        } else {
            Body::from(file.bytes.clone())
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(file.content_type),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.bytes.len()));
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, file.etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Set here, not from the content type by the headers layer, so that a `304` (which has
    // none) refreshes a cached page with the page's own policy.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(file.csp),
    );
    response
}

/// The policy a file is served with: the app's for its page, the worker's for the service
/// worker, and for everything else none at all.
fn policy(name: &str) -> &'static str {
    if name == WORKER {
        WORKER_CSP
    } else if content_type(name).starts_with("text/html") {
        APP_CSP
    } else {
        NONE_CSP
    }
}

/// `If-None-Match` names this ETag (or `*`). Weak comparison, as RFC 9110 asks for this header.
fn etag_matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").as_bytes() == etag.as_bytes())
}

fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn app() -> WebApp {
        WebApp::new([
            ("index.html", b"<!doctype html>".to_vec()),
            ("app.js", b"export {}".to_vec()),
            ("/icons/bell.svg", b"<svg/>".to_vec()),
        ])
    }

    fn served(app: &WebApp, path: &str) -> Option<&'static str> {
        app.file_for(path).map(|f| f.content_type)
    }

    #[test]
    fn paths_map_to_files_or_the_page() {
        let app = app();
        assert_eq!(app.names(), ["app.js", "icons/bell.svg", "index.html"]);
        let html = Some("text/html; charset=utf-8");
        for page in [
            "/",
            "/index.html",
            "/cameras",
            "/cameras/abc",
            "/a/b/c/",
            "/app.js/",
        ] {
            assert_eq!(served(&app, page), html, "{page}");
        }
        assert_eq!(
            served(&app, "/app.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(served(&app, "/icons/bell.svg"), Some("image/svg+xml"));
        for missing in [
            "/api/me",
            "/api/",
            "/api",
            "/healthz",
            "/readyz",
            "/metrics",
            "/metricsfoo",
            "/missing.js",
            "/icons/missing.png",
            "/cameras/v1.2",
            "//app.js",
            "",
        ] {
            assert_eq!(served(&app, missing), None, "{missing}");
        }
    }

    #[test]
    fn an_app_without_a_page_serves_only_its_files() {
        let app = WebApp::new([("app.css", b"body{}".to_vec())]);
        assert_eq!(served(&app, "/"), None);
        assert_eq!(served(&app, "/cameras"), None);
        assert_eq!(served(&app, "/app.css"), Some("text/css; charset=utf-8"));
    }

    #[test]
    fn the_service_worker_may_fetch_the_app_and_nothing_else_may_run() {
        assert_eq!(policy("sw.js"), WORKER_CSP);
        assert!(WORKER_CSP.contains("connect-src 'self'"));
        // WebAssembly only: no script source, no eval, no host.
        assert!(WORKER_CSP.contains("script-src 'wasm-unsafe-eval';"));
        assert!(
            !WORKER_CSP.contains("'self' 'wasm")
                && !WORKER_CSP.contains("'unsafe-eval'")
                && !WORKER_CSP.contains("http")
        );
        assert_eq!(policy("index.html"), APP_CSP);
        assert_eq!(policy("app.js"), NONE_CSP);
        assert_eq!(policy("manifest.webmanifest"), NONE_CSP);
        assert_eq!(
            content_type("manifest.webmanifest"),
            "application/manifest+json"
        );
    }

    #[test]
    fn content_types_by_extension() {
        for (name, expected) in [
            ("a.html", "text/html; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("porchlight_bg.wasm", "application/wasm"),
            ("a.svg", "image/svg+xml"),
            ("a.PNG", "image/png"),
            ("a.json", "application/json"),
            ("site.webmanifest", "application/manifest+json"),
            ("favicon.ico", "image/x-icon"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("LICENSE", "application/octet-stream"),
        ] {
            assert_eq!(content_type(name), expected, "{name}");
        }
    }

    #[test]
    fn etags_are_strong_hashes_and_match_loosely() {
        let app = app();
        let file = app.file_for("/app.js").unwrap();
        let expected = format!("\"{}\"", hex::encode(Sha256::digest(b"export {}")));
        assert_eq!(file.etag.to_str().unwrap(), expected);
        let mut headers = HeaderMap::new();
        assert!(!etag_matches(&headers, &file.etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!etag_matches(&headers, &file.etag));
        for value in [
            expected.clone(),
            format!("\"x\", W/{expected}"),
            "*".to_owned(),
        ] {
            headers.insert(
                header::IF_NONE_MATCH,
                HeaderValue::from_str(&value).unwrap(),
            );
            assert!(etag_matches(&headers, &file.etag), "{value}");
        }
    }

    /// WEBAPP-BUNDLE: the bundle built from `web/` and committed to `crates/server/webapp/` is
    /// in the binary. Fails until that bundle is there.
    #[test]
    fn webapp_bundle_is_embedded() {
        let app = WebApp::embedded();
        let names = app.names();
        assert!(names.contains(&INDEX), "no index.html in {names:?}");
        assert!(names.contains(&"app.js"), "no app.js in {names:?}");
        assert!(
            names.iter().any(|n| n.ends_with(".wasm")),
            "no .wasm in {names:?}"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_paths_never_panic(path in ".{0,60}", inm in "[ -~]{0,60}") {
            let app = app();
            if app.file_for(&path).is_some() {
                proptest::prop_assert!(!path.starts_with("/api/"));
            }
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&inm) {
                headers.insert(header::IF_NONE_MATCH, value);
            }
            let _ = app.answer(&Method::GET, &path, &headers);
        }
    }
}
