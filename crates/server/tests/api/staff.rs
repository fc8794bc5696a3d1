//! Staff access only with the customer's approval: every customer-data route of the staff API
//! walked over grant states and roles, every read on record in the log before the data,
//! break-glass with two people, alerts, and the refusals the issue names.

use porchlight_client::proto::{AccessRequestInfo, AccessRequestState, ErrorBody, ErrorCode};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::harness::{PASSWORD, TestApp, both_backends};
use crate::homes::{owner, pair_hub, upload};

const READS: &[(&str, &str)] = &[
    ("devices:read", "devices"),
    ("cameras:read", "cameras"),
    ("clips:metadata", "clips"),
];

pub(crate) struct Staff {
    pub(crate) token: String,
}

pub(crate) async fn staff(app: &TestApp, email: &str, role: &str) -> Staff {
    let enrolment = porchlight_server::routes::staff::add_staff(
        &app.server.state,
        email,
        role,
        Zeroizing::new(PASSWORD.to_owned()),
    )
    .await
    .unwrap();
    app.next_step();
    let (status, body) = send(
        app,
        "POST",
        "/api/staff/login",
        None,
        Some(json!({"email": email, "password": PASSWORD, "totp_code": app.code(&enrolment.totp_secret)})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    Staff {
        token: body["token"].as_str().unwrap().to_owned(),
    }
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    send_from(app, method, path, token, body, "staff-console-device").await
}

/// As the customer's signed-in device.
async fn as_customer(
    app: &TestApp,
    customer: &crate::homes::Owner,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    send_from(
        app,
        method,
        path,
        Some(&customer.account.session.token),
        body,
        customer.client().device_id().as_str(),
    )
    .await
}

async fn send_from(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    device: &str,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.url),
        )
        .header("porchlight-device", device);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn code_of(body: &Value) -> ErrorCode {
    serde_json::from_value::<ErrorBody>(body.clone())
        .unwrap_or_else(|_| panic!("not an error: {body}"))
        .error
        .code
}

async fn request(
    app: &TestApp,
    staff: &Staff,
    email: &str,
    scopes: &[&str],
    secs: u64,
) -> AccessRequestInfo {
    let (status, body) = send(
        app,
        "POST",
        "/api/staff/access-requests",
        Some(&staff.token),
        Some(json!({"email": email, "scopes": scopes, "justification": "camera offline since Monday", "ticket": "T-1234", "duration_secs": secs})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_value(body).unwrap()
}

/// The customer decides with a fresh second-factor code.
async fn decide(
    app: &TestApp,
    customer: &crate::homes::Owner,
    id: &str,
    verb: &str,
) -> (u16, Value) {
    app.next_step();
    let code = app.code(&customer.account.totp_secret);
    as_customer(
        app,
        customer,
        "POST",
        &format!("/api/access-requests/{id}/{verb}"),
        Some(json!({"totp_code": code})),
    )
    .await
}

async fn read(app: &TestApp, staff: &Staff, grant: &str, what: &str) -> (u16, Value) {
    send(
        app,
        "GET",
        &format!("/api/staff/grants/{grant}/{what}"),
        Some(&staff.token),
        None,
    )
    .await
}

both_backends!(grants_decide_every_read, grants_decide_every_read);
async fn grants_decide_every_read(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "hub").await;
    upload(&ann, &hub, "porch", app.clock_now(), b"footage").await;
    let sam = staff(app, "sam@porchlight.example", "support").await;
    let other = staff(app, "oli@porchlight.example", "support").await;
    let annotator = staff(app, "ada@porchlight.example", "annotator").await;
    let admin = staff(app, "abe@porchlight.example", "admin").await;

    // Without a grant: aggregate figures only.
    let (status, figures) = send(app, "GET", "/api/staff/figures", Some(&sam.token), None).await;
    assert_eq!(status, 200);
    assert!(figures["accounts"].as_u64().unwrap() >= 1);
    assert!(!figures.to_string().contains("ann@"));

    // A grant for devices only, pending: nothing yet, for any scope.
    let grant = request(app, &sam, "ann@example.com", &["devices:read"], 3600).await;
    assert_eq!(grant.state, AccessRequestState::Pending);
    for (_, what) in READS {
        let (status, body) = read(app, &sam, &grant.id, what).await;
        assert_eq!(
            (status, code_of(&body)),
            (403, ErrorCode::Forbidden),
            "pending {what}"
        );
    }
    // The customer sees who asked, why, for what; a wrong code decides nothing.
    let (status, list) = as_customer(app, &ann, "GET", "/api/access-requests", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["requests"][0]["staff_email"], "sam@porchlight.example");
    assert_eq!(list["requests"][0]["ticket"], "T-1234");
    let (status, body) = as_customer(
        app,
        &ann,
        "POST",
        &format!("/api/access-requests/{}/approve", grant.id),
        Some(json!({"totp_code": "000000"})),
    )
    .await;
    assert_eq!((status, code_of(&body)), (403, ErrorCode::InvalidCode));

    // Approved: exactly the granted scope, only for the staff member who asked.
    let (status, approved) = decide(app, &ann, &grant.id, "approve").await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    for (scope, what) in READS {
        let (status, body) = read(app, &sam, &grant.id, what).await;
        if *scope == "devices:read" {
            assert_eq!(status, 200, "{body}");
            assert!(body["devices"][0]["name"].is_string());
            // Public keys of devices, never anything that opens a clip.
            assert_eq!(body["devices"][0]["age_recipient"], "");
        } else {
            assert_eq!(
                (status, code_of(&body)),
                (403, ErrorCode::Forbidden),
                "{what}"
            );
        }
        let (status, body) = read(app, &other, &grant.id, what).await;
        assert_eq!(
            (status, code_of(&body)),
            (404, ErrorCode::NotFound),
            "other staff, {what}"
        );
        for wrong_role in [&annotator, &admin] {
            let (status, body) = read(app, wrong_role, &grant.id, what).await;
            assert_eq!(
                (status, code_of(&body)),
                (403, ErrorCode::Forbidden),
                "role, {what}"
            );
        }
    }
    // Each read is on record in the customer's log, with who, why and which grant.
    porchlight_server::tlog::append_queued(&app.server.state)
        .await
        .unwrap();
    let entries = ann.client().log_entries().await.unwrap().entries;
    let accesses: Vec<Value> = entries
        .iter()
        .filter(|e| e.kind == "staff_access")
        .map(|e| {
            use base64::Engine;
            serde_json::from_slice(
                &base64::engine::general_purpose::STANDARD
                    .decode(&e.body)
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(accesses.len(), 1);
    // So is every grant decision: the request, the approval.
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"access_requested") && kinds.contains(&"access_approved"),
        "{kinds:?}"
    );
    assert_eq!(accesses[0]["staff"], "sam@porchlight.example");
    assert_eq!(accesses[0]["grant"], grant.id.as_str());
    assert_eq!(accesses[0]["ticket"], "T-1234");

    // Revoked: the very next read fails.
    let (status, _) = as_customer(
        app,
        &ann,
        "POST",
        &format!("/api/access-requests/{}/revoke", grant.id),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = read(app, &sam, &grant.id, "devices").await;
    assert_eq!(status, 403);

    // A grant for everything, until it expires.
    let all = request(
        app,
        &sam,
        "ann@example.com",
        &["devices:read", "cameras:read", "clips:metadata"],
        600,
    )
    .await;
    decide(app, &ann, &all.id, "approve").await;
    for (_, what) in READS {
        assert_eq!(read(app, &sam, &all.id, what).await.0, 200, "{what}");
    }
    let (_, clips) = read(app, &sam, &all.id, "clips").await;
    assert!(clips["clips"][0]["payload_size"].as_u64().unwrap() > 0);
    assert!(clips.get("header").is_none() && !clips.to_string().contains("age-encryption"));
    app.clock.advance_ms(600 * 1000 + 1);
    for (_, what) in READS {
        assert_eq!(
            read(app, &sam, &all.id, what).await.0,
            403,
            "expired {what}"
        );
    }

    // Denied stays denied.
    let denied = request(app, &sam, "ann@example.com", &["cameras:read"], 60).await;
    assert_eq!(decide(app, &ann, &denied.id, "deny").await.0, 200);
    assert_eq!(read(app, &sam, &denied.id, "cameras").await.0, 403);
    assert_eq!(decide(app, &ann, &denied.id, "approve").await.0, 409);
}

both_backends!(refusals_and_break_glass, refusals_and_break_glass, |c| {
    c.staff.bulk_alert_accounts_per_hour = 1;
    // Usual hours that exclude the test's clock (it starts at the real time).
    let since_epoch = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs();
    let hour = since_epoch / 3600 % 24;
    c.staff.usual_hours_utc = format!("{:02}:00-{:02}:00", (hour + 2) % 24, (hour + 4) % 24);
});
async fn refusals_and_break_glass(app: &TestApp) {
    let ann = owner(app, "ann@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    let sam = staff(app, "sam@porchlight.example", "support").await;
    let sec1 = staff(app, "sec1@porchlight.example", "security").await;
    let sec2 = staff(app, "sec2@porchlight.example", "security").await;
    let ada = staff(app, "ada@porchlight.example", "annotator").await;

    let make = |token: String, body: Value| async move {
        send(
            app,
            "POST",
            "/api/staff/access-requests",
            Some(&token),
            Some(body),
        )
        .await
    };
    let base = json!({"email": "ann@example.com", "scopes": ["devices:read"], "justification": "j", "ticket": "T-1", "duration_secs": 3600});
    // More than 24 hours, an unknown scope, no justification: refused.
    for (field, value) in [
        ("duration_secs", json!(86_401)),
        ("duration_secs", json!(0)),
        ("scopes", json!(["clips:keys"])),
        ("scopes", json!([])),
        ("justification", json!("  ")),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let (status, answer) = make(sam.token.clone(), body).await;
        assert_eq!(
            (status, code_of(&answer)),
            (422, ErrorCode::InvalidInput),
            "{field}"
        );
    }
    // An address with no account answers exactly like one with an account.
    let mut nobody = base.clone();
    nobody["email"] = json!("nobody@example.com");
    let (status, answer) = make(sam.token.clone(), nobody).await;
    assert_eq!(status, 201);
    assert_eq!(answer["state"], "pending");
    // Roles: an annotator cannot ask, support cannot break glass or see alerts.
    assert_eq!(make(ada.token.clone(), base.clone()).await.0, 403);
    let mut glass = base.clone();
    glass["break_glass"] = json!(true);
    assert_eq!(make(sam.token.clone(), glass.clone()).await.0, 403);
    assert_eq!(
        send(app, "GET", "/api/staff/alerts", Some(&sam.token), None)
            .await
            .0,
        403
    );

    // Break-glass: never approved by the one who asked, nor by the customer; a second
    // security staff member opens it, and the customer is told at once.
    let (status, emergency) = make(sec1.token.clone(), glass).await;
    assert_eq!(status, 201);
    let id = emergency["id"].as_str().unwrap().to_owned();
    let path = format!("/api/staff/access-requests/{id}/break-glass-approval");
    let (status, answer) = send(app, "POST", &path, Some(&sec1.token), None).await;
    assert_eq!((status, code_of(&answer)), (403, ErrorCode::Forbidden));
    assert_eq!(
        send(app, "POST", &path, Some(&sam.token), None).await.0,
        403
    );
    assert_eq!(decide(app, &ann, &id, "approve").await.0, 409);
    let (status, answer) = send(app, "POST", &path, Some(&sec2.token), None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["state"], "approved");
    assert_eq!(answer["staff_email"], "sec1@porchlight.example");
    app.drain_outbox().await;
    let notices = ann.client().notifications().await.unwrap().notifications;
    assert!(
        notices.iter().any(|n| n.kind == "break_glass"),
        "{notices:?}"
    );
    assert_eq!(read(app, &sec1, &id, "devices").await.0, 200);

    // Reading a second account within the hour raises an alert for security staff.
    let bobs = request(app, &sec1, "bob@example.com", &["devices:read"], 60).await;
    decide(app, &bob, &bobs.id, "approve").await;
    assert_eq!(read(app, &sec1, &bobs.id, "devices").await.0, 200);
    let (status, alerts) = send(app, "GET", "/api/staff/alerts", Some(&sec2.token), None).await;
    assert_eq!(status, 200);
    let mut kinds: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert!(a["reason"].as_str().unwrap().contains("sec1@"), "{a}");
            a["kind"].as_str().unwrap()
        })
        .collect();
    kinds.sort_unstable();
    // Each kind once: the second read outside usual hours within the hour adds none.
    assert_eq!(kinds, ["bulk_access", "unusual_hours"], "{alerts}");

    // Staff credentials open no customer route, and customer sessions no staff route.
    assert_eq!(
        send(app, "GET", "/api/me", Some(&sam.token), None).await.0,
        401
    );
    assert_eq!(
        send(
            app,
            "GET",
            "/api/staff/figures",
            Some(&ann.account.session.token),
            None
        )
        .await
        .0,
        401
    );
    // A wrong staff code is the uniform sign-in refusal.
    let (status, answer) = send(
        app,
        "POST",
        "/api/staff/login",
        None,
        Some(
            json!({"email": "sam@porchlight.example", "password": PASSWORD, "totp_code": "000000"}),
        ),
    )
    .await;
    assert_eq!(
        (status, code_of(&answer)),
        (401, ErrorCode::InvalidCredentials)
    );
}

/// Every staff route of the OpenAPI document × every role: a role reaches only its own
/// routes (a refusal is `403 forbidden`; a reached route may still find nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_staff_route_checks_the_role() {
    let app = TestApp::sqlite(|_| {}).await;
    let roles = ["support", "security", "admin", "annotator"];
    let mut tokens = Vec::new();
    for role in roles {
        tokens.push(staff(&app, &format!("{role}@porchlight.example"), role).await);
    }
    let allowed = |method: &str, path: &str| -> &'static [&'static str] {
        match (method, path) {
            ("GET", "/api/staff/figures") | ("GET", "/api/staff/access-requests") => {
                &["support", "security", "admin"]
            }
            (_, p) if p.starts_with("/api/staff/research/") => &["annotator"],
            ("POST", "/api/staff/access-requests") => &["support", "security"],
            ("POST", "/api/staff/access-requests/{id}/break-glass-approval") => &["security"],
            ("GET", "/api/staff/alerts") => &["security", "admin"],
            ("GET", p) if p.starts_with("/api/staff/grants/") => &["support", "security"],
            _ => panic!("{method} {path}: a new staff route; say which roles reach it"),
        }
    };
    let openapi: Value = reqwest::get(format!("{}/api/openapi.json", app.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut walked = 0;
    for (path, item) in openapi["paths"].as_object().unwrap() {
        if !path.starts_with("/api/staff/") || path == "/api/staff/login" {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let concrete = path.replace("{id}", "0123456789abcdef0123456789abcdef");
            for (role, member) in roles.iter().zip(&tokens) {
                let (status, body) = send_from(
                    &app,
                    &method,
                    &concrete,
                    Some(&member.token),
                    Some(json!("not a request")),
                    "staff-console-device",
                )
                .await;
                let refused = status == 403 && code_of(&body) == ErrorCode::Forbidden;
                assert_eq!(
                    refused,
                    !allowed(&method, path).contains(role),
                    "{method} {path} as {role}: {status} {body}"
                );
                walked += 1;
            }
        }
    }
    assert!(walked >= 7 * roles.len(), "walked {walked}");
    app.stop().await;
}
