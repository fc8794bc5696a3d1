//! The OpenAPI document's structure, checked without Python: what a client generated from it
//! needs to be right (parameter locations, error answers, binary bodies, the security
//! schemes). `scripts/api-conformance.sh` (schemathesis) checks it against the running
//! server's answers.

use porchlight_proto::ErrorCode;
use serde_json::Value;

use crate::harness::TestApp;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of the document: (method, path template, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                METHODS.contains(&method.as_str()),
                "{path}: `{method}` is not an operation"
            );
            out.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    assert!(out.len() >= 80, "{} operations", out.len());
    out
}

fn documents(operation: &Value, status: u16) -> bool {
    operation["responses"].get(status.to_string()).is_some()
}

fn parameters<'a>(operation: &'a Value, location: &str) -> Vec<&'a str> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == location)
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

fn template_names(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .map(|rest| rest.split('}').next().unwrap())
        .collect()
}

#[test]
fn path_parameters_are_the_template_s_and_only_those() {
    let doc = porchlight_server::openapi();
    for (method, path, operation) in operations(&doc) {
        let mut declared = parameters(&operation, "path");
        let mut named = template_names(&path);
        declared.sort_unstable();
        named.sort_unstable();
        assert_eq!(declared, named, "{method} {path}: path parameters");
        for p in operation["parameters"].as_array().into_iter().flatten() {
            assert!(
                matches!(
                    p["in"].as_str(),
                    Some("path" | "query" | "header" | "cookie")
                ),
                "{method} {path}: {p}"
            );
            if p["in"] == "path" {
                assert_eq!(p["required"], true, "{method} {path}: {p}");
            }
        }
    }
}

#[test]
fn the_query_parameters_are_in_the_query() {
    let doc = porchlight_server::openapi();
    let query = |method: &str, path: &str| {
        let operation = &doc["paths"][path][method];
        let mut names = parameters(operation, "query");
        names.sort_unstable();
        names
    };
    assert_eq!(query("get", "/api/activity"), ["limit"]);
    assert_eq!(query("get", "/api/notifications"), ["limit"]);
    assert_eq!(
        query("get", "/api/clips"),
        [
            "camera",
            "camera_name",
            "cursor",
            "from_ms",
            "limit",
            "to_ms"
        ]
    );
    assert_eq!(
        query("get", "/api/feed"),
        ["area", "before", "limit", "neighbourhood"]
    );
    assert_eq!(
        query("post", "/api/feed/posts"),
        ["area", "clip_id", "neighbourhood"]
    );
    assert_eq!(query("get", "/api/log/proof/inclusion"), ["index", "size"]);
    assert_eq!(query("get", "/api/log/proof/consistency"), ["old", "size"]);
    assert_eq!(
        query("post", "/api/research/items"),
        ["day", "withdrawal_tag"]
    );
    let limit = &doc["paths"]["/api/activity"]["get"]["parameters"][0]["schema"];
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&1.into(), &1000.into())
    );
}

#[test]
fn every_refusal_a_route_is_built_to_give_is_documented() {
    let doc = porchlight_server::openapi();
    for (method, path, operation) in operations(&doc) {
        let has = |status| documents(&operation, status);
        let json_body = operation
            .pointer("/requestBody/content/application~1json")
            .is_some();
        if json_body {
            for status in [400, 413, 415] {
                assert!(
                    has(status),
                    "{method} {path}: a JSON body route answers {status}"
                );
            }
        }
        let secured = operation["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty());
        if secured {
            assert!(has(401), "{method} {path}: a secured route answers 401");
        }
        let cookie = operation["security"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s.get("cookie").is_some());
        if cookie && method != "get" {
            assert!(
                has(403),
                "{method} {path}: a cookie write can be refused 403 csrf"
            );
        }
        if !parameters(&operation, "path").is_empty() || !parameters(&operation, "query").is_empty()
        {
            assert!(has(400), "{method} {path}: its parameters can be malformed");
        }
        for status in [500, 503] {
            assert!(
                has(status),
                "{method} {path}: every route can answer {status}"
            );
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: no description"
            );
            if status == "429" {
                assert_eq!(
                    response.pointer("/headers/Retry-After/required"),
                    Some(&Value::Bool(true)),
                    "{method} {path}: a 429 says when to try again"
                );
            }
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response.pointer("/content/application~1json/schema/$ref"),
                    Some(&Value::from("#/components/schemas/ErrorBody")),
                    "{method} {path} {status}: errors have the error shape"
                );
            }
        }
    }
}

/// Bytes are `type: string, format: binary`, never an array of numbers.
#[test]
fn bodies_that_are_not_json_are_binary_or_text() {
    let doc = porchlight_server::openapi();
    let mut binary = 0;
    for (method, path, operation) in operations(&doc) {
        let mut contents: Vec<(String, &Value)> = Vec::new();
        if let Some(content) = operation.pointer("/requestBody/content") {
            for (media, c) in content.as_object().unwrap() {
                contents.push((format!("request {media}"), c));
            }
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            for (media, c) in response["content"].as_object().into_iter().flatten() {
                contents.push((format!("{status} {media}"), c));
            }
        }
        for (what, content) in contents {
            let media = what.split(' ').nth(1).unwrap();
            if media == "application/json" || media.starts_with("text/") {
                continue;
            }
            assert_eq!(
                (&content["schema"]["type"], &content["schema"]["format"]),
                (&Value::from("string"), &Value::from("binary")),
                "{method} {path} {what}"
            );
            binary += 1;
        }
    }
    // Clip, header and research uploads, the feed's MP4; payloads, shared payloads, videos.
    assert!(binary >= 10, "{binary} binary bodies");
    let feed = &doc["paths"]["/api/feed/posts"]["post"]["requestBody"]["content"];
    assert!(feed.get("video/mp4").is_some(), "{feed}");
}

#[test]
fn both_ways_of_carrying_a_session_are_schemes() {
    let doc = porchlight_server::openapi();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["type"], "apiKey");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], porchlight_proto::SESSION_COOKIE);
    // Customer routes take either; hub and staff routes only their bearer tokens.
    for (method, path, operation) in operations(&doc) {
        let names: Vec<&str> = operation["security"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s.as_object().unwrap().keys())
            .map(String::as_str)
            .collect();
        if names.is_empty() {
            continue;
        }
        let bearer_only = path.starts_with("/api/hub/") || path.starts_with("/api/staff/");
        let expected: &[&str] = if bearer_only {
            &["bearer"]
        } else {
            &["bearer", "cookie"]
        };
        assert_eq!(names, expected, "{method} {path}");
    }
}

/// A clip's detail is one object with the summary's fields and its own, as sent.
#[test]
fn flattened_schemas_describe_the_whole_object() {
    let doc = porchlight_server::openapi();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (name, schema) in schemas {
        assert!(schema.get("allOf").is_none(), "{name}: {schema}");
    }
    let detail = &schemas["ClipDetail"];
    for field in [
        "id",
        "camera_id",
        "start_ms",
        "header",
        "header_sha256",
        "payload_sha256",
        "statement",
        "signature",
        "hub_key",
    ] {
        assert!(
            detail["properties"].get(field).is_some(),
            "ClipDetail.{field}"
        );
        assert!(
            detail["required"]
                .as_array()
                .unwrap()
                .contains(&field.into()),
            "ClipDetail.{field} required"
        );
    }
}

/// The documented maxima hold: a list limit outside 1..=1000 is refused in the error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_limits_are_enforced() {
    let app = TestApp::sqlite(|_| {}).await;
    let ann = app.account("ann@example.com").await;
    for path in ["/api/activity", "/api/notifications"] {
        for (limit, status) in [
            ("0", 400),
            ("100000", 400),
            ("-1", 400),
            ("1", 200),
            ("1000", 200),
        ] {
            let response = reqwest::Client::new()
                .get(format!("{}{path}?limit={limit}", app.url))
                .header("porchlight-device", ann.client.device_id().as_str())
                .bearer_auth(&ann.session.token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{path}?limit={limit}");
            if status == 400 {
                let body: Value = response.json().await.unwrap();
                assert_eq!(
                    body["error"]["code"],
                    serde_json::to_value(ErrorCode::MalformedRequest).unwrap(),
                    "{path}?limit={limit}"
                );
            }
        }
    }
    app.stop().await;
}

/// A JSON route that reads its body as bytes (to check who asks first) still wants JSON, and
/// refuses too large a body in the error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_read_json_routes_want_json() {
    let app = TestApp::sqlite(|_| {}).await;
    let ann = app.account("ann@example.com").await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/access-requests/abc/approve", app.url))
        .header("porchlight-device", ann.client.device_id().as_str())
        .header("content-type", "text/plain")
        .bearer_auth(&ann.session.token)
        .body(r#"{"totp_code": "123456"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    // Past the body limit: 413 in the error shape, not the framework's plain text.
    let response = reqwest::Client::new()
        .post(format!("{}/api/access-requests/abc/approve", app.url))
        .header("porchlight-device", ann.client.device_id().as_str())
        .header("content-type", "application/json")
        .bearer_auth(&ann.session.token)
        .body(format!(r#"{{"totp_code": "{}"}}"#, "1".repeat(200 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["code"],
        serde_json::to_value(ErrorCode::PayloadTooLarge).unwrap()
    );
    app.stop().await;
}
