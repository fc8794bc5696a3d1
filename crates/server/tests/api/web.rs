//! The browser app: its files served from the binary with ETags, and the security headers
//! on every answer, over real sockets.

use porchlight_client::proto::{ErrorBody, ErrorCode};
use porchlight_server::web::WebApp;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};

use crate::harness::TestApp;

// ---- the app's files ----

const INDEX: &[u8] =
    b"<!doctype html><title>Porchlight</title><script type=module src=/app.js></script>";
const APP_JS: &[u8] = b"import init from './porchlight_bg.js'; await init();";

/// A built app in a temporary folder, read into a file table the way the build embeds one.
fn app_in_folder() -> (tempfile::TempDir, WebApp) {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[
        ("index.html", INDEX),
        ("app.js", APP_JS),
        ("app.css", b"body { margin: 0 }"),
        ("porchlight_bg.wasm", b"\0asm\x01\0\0\0"),
        ("site.webmanifest", b"{}"),
        (
            "icons/bell.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        ),
    ];
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let mut table = Vec::new();
    read_folder(dir.path(), "", &mut table);
    (dir, WebApp::new(table))
}

fn read_folder(dir: &std::path::Path, prefix: &str, table: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_str().unwrap());
        if entry.path().is_dir() {
            read_folder(&entry.path(), &format!("{name}/"), table);
        } else {
            table.push((name, std::fs::read(entry.path()).unwrap()));
        }
    }
}

async fn get(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", app.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
        .to_str()
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> ErrorCode {
    response.json::<ErrorBody>().await.unwrap().error.code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_served_with_etags_and_client_routes() {
    let (_dir, web) = app_in_folder();
    let app = TestApp::with_web(web).await;
    use reqwest::Method;

    for page in [
        "/",
        "/cameras",
        "/cameras/abc",
        "/settings/sessions/",
        "/index.html",
    ] {
        let response = get(&app, Method::GET, page, &[]).await;
        assert_eq!(response.status(), 200, "{page}");
        assert_eq!(
            header(response.headers(), "content-type"),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(response.headers(), "cache-control"), "no-cache");
        assert_eq!(response.bytes().await.unwrap(), INDEX, "{page}");
    }
    for (path, content_type) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/porchlight_bg.wasm", "application/wasm"),
        ("/site.webmanifest", "application/manifest+json"),
        ("/icons/bell.svg", "image/svg+xml"),
    ] {
        let response = get(&app, Method::GET, path, &[]).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(response.headers(), "content-type"),
            content_type,
            "{path}"
        );
    }

    // A strong ETag of the bytes; the same tag back is a 304 with no body.
    let js = get(&app, Method::GET, "/app.js", &[]).await;
    let etag = header(js.headers(), "etag").to_owned();
    assert_eq!(etag, format!("\"{}\"", hex::encode(Sha256::digest(APP_JS))));
    let again = get(&app, Method::GET, "/app.js", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(again.headers(), "etag"), etag);
    assert_eq!(header(again.headers(), "cache-control"), "no-cache");
    assert!(again.bytes().await.unwrap().is_empty());
    let changed = get(
        &app,
        Method::GET,
        "/app.js",
        &[("if-none-match", "\"stale\"")],
    )
    .await;
    assert_eq!(changed.status(), 200);
    // A cached page refreshed by a 304 keeps the page's policy.
    let index_tag = header(get(&app, Method::GET, "/", &[]).await.headers(), "etag").to_owned();
    let page = get(
        &app,
        Method::GET,
        "/cameras/abc",
        &[("if-none-match", &index_tag)],
    )
    .await;
    assert_eq!(page.status(), 304);
    assert!(header(page.headers(), "content-security-policy").contains("script-src 'self'"));

    // HEAD: the headers, no body.
    let head = get(&app, Method::HEAD, "/", &[]).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(head.headers(), "etag"), index_tag);
    assert!(head.bytes().await.unwrap().is_empty());

    // Not the app's: the API's 404, in the error shape.
    for (method, path) in [
        (Method::GET, "/missing.js"),
        (Method::GET, "/icons/missing.png"),
        (Method::GET, "/api/nothing"),
        (Method::GET, "/api/cameras/abc/nothing"),
        (Method::GET, "/healthz/x"),
        (Method::POST, "/"),
        (Method::DELETE, "/cameras/abc"),
        (Method::POST, "/app.js"),
    ] {
        let response = get(&app, method.clone(), path, &[]).await;
        assert_eq!(response.status(), 404, "{method} {path}");
        assert_eq!(
            error_code(response).await,
            ErrorCode::NotFound,
            "{method} {path}"
        );
    }
    // The API and the operator routes are still theirs.
    let health = get(&app, Method::GET, "/healthz", &[]).await;
    assert_eq!(header(health.headers(), "content-type"), "application/json");
    app.stop().await;
}

const APP_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let (_dir, web) = app_in_folder();
    let app = TestApp::with_web(web).await;
    use reqwest::Method;
    // path, status, HTML, cache-control
    let cases = [
        ("/", 200, true, "no-cache"),
        ("/cameras/abc", 200, true, "no-cache"),
        ("/app.js", 200, false, "no-cache"),
        ("/api/log/key", 200, false, "no-store"),
        ("/api/me", 401, false, "no-store"),
        ("/api/nothing", 404, false, "no-store"),
        ("/missing.js", 404, false, "no-store"),
    ];
    for (path, status, html, cache) in cases {
        let response = get(&app, Method::GET, path, &[]).await;
        assert_eq!(response.status(), status, "{path}");
        let headers = response.headers();
        let csp = header(headers, "content-security-policy");
        if html {
            assert_eq!(csp, APP_CSP, "{path}");
            assert!(
                !csp.contains("unsafe-inline") && !csp.contains("http"),
                "{path}"
            );
        } else {
            assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
        }
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            (
                "permissions-policy",
                "camera=(), microphone=(), geolocation=()",
            ),
            ("cache-control", cache),
        ] {
            assert_eq!(header(headers, name), value, "{name} on {path}");
        }
    }
    app.stop().await;
}
