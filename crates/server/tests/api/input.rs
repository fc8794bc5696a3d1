//! Bad input: every malformed request gets a 4xx in the one error shape, and nothing panics.

use porchlight_client::proto::{ErrorBody, ErrorCode};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};

use crate::harness::{TestApp, both_backends};

const DEVICE: &str = "0123456789abcdef0123456789abcdef";

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
    token: Option<(&str, &str)>,
) -> (u16, Vec<u8>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let device = token.map_or(DEVICE, |(_, device)| device);
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.url))
        .header("porchlight-device", device)
        .body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    if let Some((token, _)) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.bytes().await.unwrap().to_vec(),
    )
}

fn error_code(status: u16, body: &[u8]) -> ErrorCode {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_else(|e| {
        panic!(
            "status {status}: body is not the error shape ({e}): {}",
            String::from_utf8_lossy(body)
        )
    });
    parsed.error.code
}

both_backends!(malformed_requests_get_one_error_shape, malformed, |c| c
    .max_body_bytes =
    4096);
async fn malformed(app: &TestApp) {
    let json = Some("application/json");
    // method, path, content type, body, expected status and code
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Vec<u8>,
        u16,
        ErrorCode,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/signup",
            json,
            b"{not json".to_vec(),
            400,
            ErrorCode::MalformedRequest,
        ),
        (
            "POST",
            "/api/signup",
            json,
            b"[]".to_vec(),
            400,
            ErrorCode::MalformedRequest,
        ),
        (
            "POST",
            "/api/signup",
            json,
            br#"{"email":"a@example.com"}"#.to_vec(),
            400,
            ErrorCode::MalformedRequest,
        ),
        (
            "POST",
            "/api/signup",
            json,
            br#"{"email":"a@example.com","password":"x","admin":true}"#.to_vec(),
            400,
            ErrorCode::UnknownField,
        ),
        (
            "POST",
            "/api/signup",
            json,
            br#"{"email":"a@example.com","password":123}"#.to_vec(),
            400,
            ErrorCode::MalformedRequest,
        ),
        (
            "POST",
            "/api/signup",
            Some("text/plain"),
            br#"{"email":"a@example.com","password":"x"}"#.to_vec(),
            415,
            ErrorCode::UnsupportedMediaType,
        ),
        (
            "POST",
            "/api/signup",
            None,
            br#"{"email":"a@example.com","password":"x"}"#.to_vec(),
            415,
            ErrorCode::UnsupportedMediaType,
        ),
        (
            "POST",
            "/api/signup",
            json,
            format!(
                r#"{{"email":"a@example.com","password":"{}"}}"#,
                "x".repeat(5000)
            )
            .into_bytes(),
            413,
            ErrorCode::PayloadTooLarge,
        ),
        (
            "POST",
            "/api/signup",
            json,
            br#"{"email":"not-an-address","password":"correct horse battery staple 42"}"#.to_vec(),
            422,
            ErrorCode::InvalidEmail,
        ),
        (
            "POST",
            "/api/signup",
            json,
            br#"{"email":"a@localhost","password":"correct horse battery staple 42"}"#.to_vec(),
            422,
            ErrorCode::InvalidEmail,
        ),
        (
            "POST",
            "/api/signup",
            json,
            br#"{"email":"a@example.com","password":"password123"}"#.to_vec(),
            422,
            ErrorCode::WeakPassword,
        ),
        (
            "POST",
            "/api/signup",
            json,
            br#"{"email":"a@example.com","password":"short"}"#.to_vec(),
            422,
            ErrorCode::WeakPassword,
        ),
        (
            "POST",
            "/api/login",
            json,
            br#"{"email":"a@example.com","password":"x"}"#.to_vec(),
            422,
            ErrorCode::InvalidInput,
        ),
        (
            "POST",
            "/api/login",
            json,
            "\u{0}\u{ffff}".as_bytes().to_vec(),
            400,
            ErrorCode::MalformedRequest,
        ),
        (
            "GET",
            "/api/me",
            None,
            vec![],
            401,
            ErrorCode::Unauthenticated,
        ),
        (
            "GET",
            "/api/nowhere",
            None,
            vec![],
            404,
            ErrorCode::NotFound,
        ),
        (
            "DELETE",
            "/api/signup",
            None,
            vec![],
            405,
            ErrorCode::MethodNotAllowed,
        ),
        (
            "GET",
            "/api/activity?limit=lots",
            None,
            vec![],
            401,
            ErrorCode::Unauthenticated,
        ),
    ];
    for (method, path, ct, body, status, code) in cases {
        let (got_status, got_body) = send(app, method, path, ct, body, None).await;
        assert_eq!(
            got_status,
            status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&got_body)
        );
        assert_eq!(error_code(got_status, &got_body), code, "{method} {path}");
    }
    // Values never come back in error messages.
    let (_, body) = send(
        app,
        "POST",
        "/api/signup",
        json,
        br#"{"email":"a@example.com","password":["hunter2-secret"]}"#.to_vec(),
        None,
    )
    .await;
    assert!(!String::from_utf8_lossy(&body).contains("hunter2"));
    // A signed-in request with a bad query gets the shape too.
    let ann = app.account("ann@example.com").await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/activity?limit=lots", app.url))
        .header("porchlight-device", ann.client.device_id().as_str())
        .bearer_auth(&ann.session.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    assert_eq!(
        (status, error_code(status, &body)),
        (400, ErrorCode::MalformedRequest)
    );
    // A missing device header is refused before anything else.
    let response = reqwest::Client::new()
        .post(format!("{}/api/login", app.url))
        .json(&serde_json::json!({"email":"a@example.com","password":"x","totp_code":"123456"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
}

/// Every route of the OpenAPI document, with every method it takes.
fn routes(openapi: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.push((method.to_uppercase(), path.replace("{id}", "abc")));
        }
    }
    out
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        ".{0,40}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("email"),
            Just("password"),
            Just("totp_code"),
            Just("recovery_code"),
            Just("enrolment_token"),
            Just("code")
        ]
        .prop_map(|s| serde_json::Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("email".to_owned()),
                    Just("password".to_owned()),
                    Just("totp_code".to_owned()),
                    Just("code".to_owned()),
                    Just("everywhere".to_owned()),
                    "[a-z_]{1,12}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json")),
        Just(Some("text/plain")),
        Just(Some("application/json; charset=utf-8"))
    ]
}

/// Random bodies to every route, signed in and not: never a 5xx, always the error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_to_every_route() {
    let app = TestApp::sqlite(|_| {}).await;
    let ann = app.account("ann@example.com").await;
    let openapi: serde_json::Value = reqwest::get(format!("{}/api/openapi.json", app.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let routes = routes(&openapi);
    assert!(routes.len() >= 16, "{routes:?}");
    let handle = tokio::runtime::Handle::current();
    let token = ann.session.token.clone();
    let device = ann.client.device_id().as_str().to_owned();
    let app_ref = &app;
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(
            &(
                body(),
                content_type(),
                any::<bool>(),
                any::<prop::sample::Index>(),
            ),
            |(body, ct, signed_in, pick)| {
                let (method, path) = pick.get(&routes).clone();
                // Never sign out the session the other cases use.
                let token = (signed_in && path != "/api/logout" && method != "DELETE")
                    .then_some((token.as_str(), device.as_str()));
                let (status, response) =
                    handle.block_on(send(app_ref, &method, &path, ct, body, token));
                if status >= 500 {
                    return Err(TestCaseError::fail(format!(
                        "{method} {path} answered {status}"
                    )));
                }
                if status >= 400 {
                    serde_json::from_slice::<ErrorBody>(&response).map_err(|e| {
                        TestCaseError::fail(format!(
                            "{method} {path} {status}: not the error shape: {e}"
                        ))
                    })?;
                }
                Ok(())
            },
        )
    });
    result.unwrap();
    // The session the signed-in cases used is still good: they reached the handlers.
    assert!(ann.client.me().await.is_ok());
    app.stop().await;
}
