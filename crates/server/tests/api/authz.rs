//! Who may call what, walked over every route of the OpenAPI document, so a new route that
//! forgets its check — or forgets to say it needs a session — fails here.

use porchlight_client::proto::{ErrorBody, ErrorCode};

use crate::harness::{TestApp, both_backends};

/// Routes anyone may call. Everything else must declare the bearer scheme and enforce it.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/signup"),
    ("POST", "/api/signup/confirm"),
    ("POST", "/api/login"),
];

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    device: &str,
) -> (u16, Option<ErrorCode>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.url))
        .header("porchlight-device", device)
        .header("content-type", "application/json")
        .body("{}");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let code = serde_json::from_slice::<ErrorBody>(&response.bytes().await.unwrap())
        .ok()
        .map(|b| b.error.code);
    (status, code)
}

both_backends!(
    every_route_checks_who_is_asking,
    every_route_checks_who_is_asking
);
async fn every_route_checks_who_is_asking(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let bob = app.account("bob@example.com").await;
    let ann_device = ann.client.device_id().as_str().to_owned();
    let bob_device = bob.client.device_id().as_str().to_owned();
    let openapi: serde_json::Value = reqwest::get(format!("{}/api/openapi.json", app.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut guarded = 0;
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            let declared = operation.get("security").is_some();
            let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
            assert_eq!(
                declared, !public,
                "{method} {path}: the document and the public list disagree"
            );
            if public {
                continue;
            }
            guarded += 1;
            // The target of a path parameter is always Ann's: her current session.
            let concrete = path.replace("{id}", &ann.session.session_id);
            // Nobody, a stolen token on another device, and a made-up token: all refused.
            for (token, device) in [
                (None, ann_device.as_str()),
                (Some(ann.session.token.as_str()), bob_device.as_str()),
                (Some("A".repeat(43).as_str()), ann_device.as_str()),
            ] {
                let token = token.map(str::to_owned);
                let (status, code) = call(app, &method, &concrete, token.as_deref(), device).await;
                assert_eq!(
                    (status, code),
                    (401, Some(ErrorCode::Unauthenticated)),
                    "{method} {concrete} with {token:?}"
                );
            }
            // Another account, properly signed in, never reaches Ann's things.
            if path.contains("{id}") {
                let (status, code) = call(
                    app,
                    &method,
                    &concrete,
                    Some(&bob.session.token),
                    &bob_device,
                )
                .await;
                assert_eq!(
                    (status, code),
                    (404, Some(ErrorCode::NotFound)),
                    "{method} {concrete} as Bob"
                );
            }
        }
    }
    assert!(guarded >= 10, "only {guarded} guarded routes found");
    // After all of that, Ann's session is untouched and Bob sees only his own.
    assert!(ann.client.me().await.is_ok());
    let bobs = bob.client.sessions().await.unwrap().sessions;
    assert!(bobs.iter().all(|s| s.id != ann.session.session_id));
}
