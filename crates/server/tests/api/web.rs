//! The browser app: its files served from the binary with ETags, the security headers on
//! every answer, and cookie sessions with their CSRF defences, over real sockets.

use porchlight_client::proto::{
    CsrfToken, EVENTS_LIVE_PATH, ErrorBody, ErrorCode, LogoutRequest, PasswordChangeRequest,
    SessionCreated, SignupConfirmRequest, WebSessionCreated,
};
use porchlight_server::web::WebApp;
use reqwest::header::HeaderMap;
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{Account, PASSWORD, TestApp, both_backends};
use crate::homes::owner;

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
                "camera=(), microphone=(), geolocation=(self)",
            ),
            ("cache-control", cache),
        ] {
            assert_eq!(header(headers, name), value, "{name} on {path}");
        }
    }
    app.stop().await;
}

// ---- cookie sessions ----

const WEB_DEVICE: &str = "browser-device-0123456789";

/// What a browser sign-in answered.
struct WebSession {
    status: u16,
    cookie: String,
    body: String,
}

impl WebSession {
    /// The `name=value` a browser sends back.
    fn cookie_pair(&self) -> String {
        self.cookie.split(';').next().unwrap().to_owned()
    }

    fn token(&self) -> String {
        self.cookie_pair()
            .strip_prefix("porchlight_session=")
            .unwrap()
            .to_owned()
    }

    fn created(&self) -> WebSessionCreated {
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn answer_of(response: reqwest::Response) -> WebSession {
    let status = response.status().as_u16();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(cookies.len() <= 1, "{cookies:?}");
    WebSession {
        status,
        cookie: cookies.into_iter().next().unwrap_or_default(),
        body: response.text().await.unwrap(),
    }
}

/// Signs `account` in as the browser app does, from `device`, with extra headers.
async fn web_login(
    app: &TestApp,
    account: &Account,
    device: &str,
    headers: &[(&str, &str)],
) -> WebSession {
    app.next_step();
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/login", app.url))
        .header("porchlight-device", device)
        .header("porchlight-web", "1")
        .json(&app.login_request(account, &app.code(&account.totp_secret)));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer_of(request.send().await.unwrap()).await
}

/// A request as the browser app makes it: the cookie, the device header, and the app's own
/// origin (the server is on 127.0.0.1, which the `Host` header names).
fn from_app(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    session: &WebSession,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}{path}", app.url))
        .header("cookie", format!("theme=dark; {}", session.cookie_pair()))
        .header("porchlight-device", WEB_DEVICE)
        .header("origin", app.url.as_str())
        .header("sec-fetch-site", "same-origin")
}

async fn status_and_code(request: reqwest::RequestBuilder) -> (u16, Option<ErrorCode>) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let code = response
        .json::<ErrorBody>()
        .await
        .ok()
        .map(|b| b.error.code);
    (status, code)
}

const CSRF: (u16, Option<ErrorCode>) = (403, Some(ErrorCode::Csrf));
const UNAUTHENTICATED: (u16, Option<ErrorCode>) = (401, Some(ErrorCode::Unauthenticated));

both_backends!(browser_sign_in_sets_a_cookie, browser_sign_in_sets_a_cookie);
async fn browser_sign_in_sets_a_cookie(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let absolute_secs = 30 * 24 * 3600;

    // On a loopback host (the test server's 127.0.0.1): no `Secure`, or the browser would
    // not send it back over plain http.
    let local = web_login(app, &ann, WEB_DEVICE, &[]).await;
    assert_eq!(local.status, 201, "{}", local.body);
    let token = local.token();
    assert_eq!(token.len(), 43);
    assert_eq!(
        local.cookie,
        format!(
            "porchlight_session={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={absolute_secs}"
        )
    );
    // The body is the web shape, and the token is nowhere in it.
    assert!(!local.body.contains(&token), "{}", local.body);
    assert!(serde_json::from_str::<SessionCreated>(&local.body).is_err());
    let created = local.created();
    assert_eq!(created.account_id, ann.session.account_id);
    assert_eq!(created.csrf_token.len(), 64);

    for host in ["localhost:8080", "[::1]", "127.1.2.3"] {
        let loopback = web_login(app, &ann, WEB_DEVICE, &[("host", host)]).await;
        assert!(
            !loopback.cookie.contains("Secure"),
            "{host}: {}",
            loopback.cookie
        );
    }
    // Anywhere else, `Secure`.
    for host in [
        "porch.example",
        "porch.example:8443",
        "localhost.porch.example",
        "10.0.0.8",
    ] {
        let remote = web_login(app, &ann, WEB_DEVICE, &[("host", host)]).await;
        assert_eq!(remote.status, 201, "{host}: {}", remote.body);
        assert_eq!(
            remote.cookie,
            format!(
                "porchlight_session={}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age={absolute_secs}",
                remote.token()
            ),
            "{host}"
        );
        assert!(!remote.body.contains(&remote.token()));
    }

    // Without the header, the API answer as before, and no cookie.
    app.next_step();
    let api = answer_of(
        reqwest::Client::new()
            .post(format!("{}/api/login", app.url))
            .header("porchlight-device", WEB_DEVICE)
            .json(&app.login_request(&ann, &app.code(&ann.totp_secret)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(api.status, 201);
    assert!(api.cookie.is_empty());
    let bearer: SessionCreated = serde_json::from_str(&api.body).unwrap();
    assert_eq!(bearer.token.len(), 43);

    // Another value of the header is a mistake; another site's page cannot sign a visitor in.
    app.next_step();
    let response = reqwest::Client::new()
        .post(format!("{}/api/login", app.url))
        .header("porchlight-device", WEB_DEVICE)
        .header("porchlight-web", "yes")
        .json(&app.login_request(&ann, &app.code(&ann.totp_secret)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let forged = web_login(app, &ann, WEB_DEVICE, &[(name, value)]).await;
        assert_eq!(forged.status, 403, "{name}");
        assert!(forged.cookie.is_empty());
        assert_eq!(
            serde_json::from_str::<ErrorBody>(&forged.body)
                .unwrap()
                .error
                .code,
            ErrorCode::Csrf
        );
    }

    // Sign-up's confirmation answers the same way.
    let client = app.client();
    let started = app.signup(&client, "meg@example.com").await;
    let confirmed = answer_of(
        reqwest::Client::new()
            .post(format!("{}/api/signup/confirm", app.url))
            .header("porchlight-device", WEB_DEVICE)
            .header("porchlight-web", "1")
            .header("host", "porch.example")
            .json(&SignupConfirmRequest {
                enrolment_token: started.enrolment_token,
                code: app.code(&started.totp_secret),
                email_code: None,
                device_name: Some("browser".into()),
            })
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(confirmed.status, 201, "{}", confirmed.body);
    assert!(confirmed.cookie.contains("; Secure; "));
    assert!(!confirmed.body.contains(&confirmed.token()));
    let me = from_app(app, reqwest::Method::GET, "/api/me", &confirmed)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

both_backends!(
    cookie_writes_need_the_csrf_token,
    cookie_writes_need_the_csrf_token
);
async fn cookie_writes_need_the_csrf_token(app: &TestApp) {
    use reqwest::Method;
    let ann = app.account("ann@example.com").await;
    let web = web_login(app, &ann, WEB_DEVICE, &[]).await;
    let csrf = web.created().csrf_token;
    let write = || from_app(app, Method::POST, "/api/notifications/read", &web);

    // Reads need only the cookie and the device.
    let me = from_app(app, Method::GET, "/api/me", &web)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let plain_get = reqwest::Client::new()
        .get(format!("{}/api/sessions", app.url))
        .header("cookie", web.cookie_pair())
        .header("porchlight-device", WEB_DEVICE);
    assert_eq!(status_and_code(plain_get).await.0, 200);
    // The device header is still required, and still must be the session's.
    let no_device = reqwest::Client::new()
        .get(format!("{}/api/me", app.url))
        .header("cookie", web.cookie_pair());
    assert_eq!(status_and_code(no_device).await, UNAUTHENTICATED);
    let other_device = reqwest::Client::new()
        .get(format!("{}/api/me", app.url))
        .header("cookie", web.cookie_pair())
        .header("porchlight-device", "some-other-device-0000");
    assert_eq!(status_and_code(other_device).await, UNAUTHENTICATED);
    // The cookie twice, or malformed, is no cookie.
    let twice = reqwest::Client::new()
        .get(format!("{}/api/me", app.url))
        .header("cookie", format!("{0}; {0}", web.cookie_pair()))
        .header("porchlight-device", WEB_DEVICE);
    assert_eq!(status_and_code(twice).await, UNAUTHENTICATED);

    // The same session's token fetched again, by cookie or by nothing else.
    let again: CsrfToken = from_app(app, Method::GET, "/api/session/csrf", &web)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again.csrf_token, csrf);
    let anonymous = reqwest::Client::new().get(format!("{}/api/session/csrf", app.url));
    assert_eq!(status_and_code(anonymous).await, UNAUTHENTICATED);

    // Writes: no token, a wrong one, the right one from another site.
    assert_eq!(status_and_code(write()).await, CSRF);
    assert_eq!(
        status_and_code(write().header("x-csrf-token", "00")).await,
        CSRF
    );
    let wrong = format!("{}0", &csrf[..63]);
    let wrong = if wrong == csrf {
        format!("{}1", &csrf[..63])
    } else {
        wrong
    };
    assert_eq!(
        status_and_code(write().header("x-csrf-token", wrong)).await,
        CSRF
    );
    let cross_site = reqwest::Client::new()
        .post(format!("{}/api/notifications/read", app.url))
        .header("cookie", web.cookie_pair())
        .header("porchlight-device", WEB_DEVICE)
        .header("x-csrf-token", &csrf);
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "http://127.0.0.1:1"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let forged = cross_site.try_clone().unwrap().header(name, value);
        assert_eq!(status_and_code(forged).await, CSRF, "{name}: {value}");
    }
    // Refused before the body is read: a body that is not JSON still gets `csrf`.
    let unread = from_app(app, Method::POST, "/api/password", &web)
        .header("content-type", "application/json")
        .body("{not json");
    assert_eq!(status_and_code(unread).await, CSRF);

    // The right token from the app's own page, and from a client that sends neither
    // `Origin` nor `Sec-Fetch-Site`.
    assert_eq!(
        status_and_code(write().header("x-csrf-token", &csrf))
            .await
            .0,
        204
    );
    assert_eq!(
        status_and_code(cross_site.try_clone().unwrap()).await.0,
        204
    );

    // Another session's token is not this one's.
    let other = web_login(app, &ann, WEB_DEVICE, &[]).await;
    let other_csrf = other.created().csrf_token;
    assert_ne!(other_csrf, csrf);
    assert_eq!(
        status_and_code(write().header("x-csrf-token", &other_csrf)).await,
        CSRF
    );
    let other_write = from_app(app, Method::POST, "/api/notifications/read", &other)
        .header("x-csrf-token", &other_csrf);
    assert_eq!(status_and_code(other_write).await.0, 204);

    // Bearer writes need no CSRF token, and a bearer header is read first: a bad one is not
    // rescued by a good cookie.
    let bearer = reqwest::Client::new()
        .post(format!("{}/api/notifications/read", app.url))
        .bearer_auth(&ann.session.token)
        .header("porchlight-device", ann.client.device_id().as_str())
        .header("origin", "https://evil.example");
    assert_eq!(status_and_code(bearer).await.0, 204);
    let bad_bearer = from_app(app, Method::GET, "/api/me", &web).bearer_auth("A".repeat(43));
    assert_eq!(status_and_code(bad_bearer).await, UNAUTHENTICATED);
    // The bearer's own session's token, for a client that wants it.
    let bearer_csrf: CsrfToken = ann.client.csrf_token().await.unwrap();
    assert_eq!(bearer_csrf.csrf_token.len(), 64);
    assert_ne!(bearer_csrf.csrf_token, csrf);
}

both_backends!(logout_clears_the_cookie, logout_clears_the_cookie);
async fn logout_clears_the_cookie(app: &TestApp) {
    use reqwest::Method;
    let ann = app.account("ann@example.com").await;
    let web = web_login(app, &ann, WEB_DEVICE, &[]).await;
    let csrf = web.created().csrf_token;
    let logout = |token: Option<&str>| {
        let request = from_app(app, Method::POST, "/api/logout", &web)
            .json(&LogoutRequest { everywhere: false });
        match token {
            Some(token) => request.header("x-csrf-token", token),
            None => request,
        }
    };
    assert_eq!(status_and_code(logout(None)).await, CSRF);
    let out = answer_of(logout(Some(&csrf)).send().await.unwrap()).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(
        out.cookie,
        "porchlight_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    );
    let me = from_app(app, Method::GET, "/api/me", &web);
    assert_eq!(status_and_code(me).await, UNAUTHENTICATED);

    // A bearer sign-out sets no cookie.
    let bearer = answer_of(
        reqwest::Client::new()
            .post(format!("{}/api/logout", app.url))
            .bearer_auth(&ann.session.token)
            .header("porchlight-device", ann.client.device_id().as_str())
            .json(&LogoutRequest { everywhere: false })
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bearer.status, 200);
    assert!(bearer.cookie.is_empty());
}

both_backends!(
    password_change_ends_cookie_sessions,
    password_change_ends_cookie_sessions
);
async fn password_change_ends_cookie_sessions(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let web = web_login(app, &ann, WEB_DEVICE, &[]).await;
    let me = || from_app(app, reqwest::Method::GET, "/api/me", &web);
    assert_eq!(status_and_code(me()).await.0, 200);
    let revoked = ann
        .client
        .change_password(&PasswordChangeRequest {
            current_password: PASSWORD.into(),
            new_password: "a different long passphrase 77".into(),
        })
        .await
        .unwrap();
    assert_eq!(revoked.revoked_sessions, 1);
    assert_eq!(status_and_code(me()).await, UNAUTHENTICATED);
}

both_backends!(websockets_by_cookie, websockets_by_cookie);
async fn websockets_by_cookie(app: &TestApp) {
    let ann = owner(app, "ann@example.com").await;
    // The browser signs in as the chain's first device, so it may open the event feed.
    let device = ann.client().device_id().as_str().to_owned();
    let web = web_login(app, &ann.account, &device, &[]).await;
    assert_eq!(web.status, 201);
    let ws_url = app.url.replacen("http", "ws", 1) + EVENTS_LIVE_PATH;
    let request = |origin: Option<&str>, protocols: &str| {
        let mut request = ws_url.as_str().into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert("cookie", web.cookie_pair().parse().unwrap());
        headers.insert("sec-websocket-protocol", protocols.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert("origin", origin.parse().unwrap());
        }
        request
    };
    let protocols = format!("porchlight, porchlight-device.{device}");

    // As a browser opens it: the device among the subprotocols, `porchlight` chosen.
    let (mut socket, response) =
        tokio_tungstenite::connect_async(request(Some(&app.url), &protocols))
            .await
            .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(
        response.headers().get("sec-websocket-protocol").unwrap(),
        "porchlight"
    );
    socket.close(None).await.unwrap();

    // Another site's page, or no origin at all: refused before the upgrade.
    for origin in [Some("https://evil.example"), None] {
        match tokio_tungstenite::connect_async(request(origin, &protocols)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{origin:?}");
                let body: ErrorBody =
                    serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
                assert_eq!(body.error.code, ErrorCode::Csrf);
            }
            other => panic!("{origin:?}: {other:?}"),
        }
    }
    // Another device's id, or none: not this session's.
    for protocols in [
        "porchlight, porchlight-device.another-device-0000",
        "porchlight",
    ] {
        match tokio_tungstenite::connect_async(request(Some(&app.url), protocols)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 401, "{protocols}");
            }
            other => panic!("{protocols}: {other:?}"),
        }
    }
    // The CLI's way is unchanged: bearer and device header, no subprotocol.
    let cli = ann.client().websocket(EVENTS_LIVE_PATH).await;
    assert!(cli.is_ok());
}
