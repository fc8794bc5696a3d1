//! Who may call what, walked over every route of the OpenAPI document × every kind of
//! caller: the owner, a household member, another account, nobody, the owner's hub and
//! another account's hub. A new route fails here until it is classified, and a route whose
//! check is missing fails its row.
//!
//! Every route is walked twice: once with bearer tokens, once with the same tokens in the
//! browser's session cookie (with the session's CSRF token). A customer's cookie must get
//! the bearer's answers; a hub's or a staff member's token in the cookie opens nothing; and
//! a customer's cookie write without its CSRF token is refused `csrf`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_client::proto::{ErrorBody, ErrorCode, PairingRequest};
use porchlight_crypto::{ChainOp, Name, PairingCode};

use crate::harness::{TestApp, both_backends};
use crate::homes::{owner, pair_hub, upload};

/// Routes anyone may call. Everything else must declare the bearer scheme and enforce it.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/signup"),
    ("POST", "/api/signup/confirm"),
    ("POST", "/api/login"),
    // The emailed token is the authority (and the second factor, for a reset).
    ("POST", "/api/password/forgot"),
    ("POST", "/api/password/reset"),
    ("POST", "/api/email/confirm"),
    ("POST", "/api/email/undo"),
    ("POST", "/api/hub/pair"),
    ("POST", "/api/hub/challenge"),
    ("POST", "/api/hub/token"),
    ("GET", "/api/log/key"),
    ("GET", "/api/push/key"),
    ("GET", "/api/log/checkpoint"),
    ("GET", "/api/log/proof/inclusion"),
    ("GET", "/api/log/proof/consistency"),
    ("POST", "/api/staff/login"),
];

/// What a route serves, which decides who may reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The caller's own account (sessions, chain, devices, …): any signed-in person, about
    /// themselves only.
    Own,
    /// One of Ann's sessions or pairings, by id: Ann only.
    AnnsOnly,
    /// Listing cameras and clips: anyone signed in, seeing their own and their households'.
    ViewList,
    /// Reading one of Ann's clips: Ann and her household.
    View,
    /// Changing or deleting Ann's clips and cameras: Ann only; her household may see but not
    /// change (403).
    OwnerWrite,
    /// The hub routes: hub tokens only, each hub for its own account.
    Hub,
    /// The staff API: staff sessions only (roles and grants: `staff.rs`).
    Staff,
    /// One of Ann's clips shared with Meg, by share id: Meg only (Ann shares, she does not
    /// open through the share).
    SharedWith,
    /// The neighbourhood feed's public side: anyone signed in, shown nothing of whose.
    Feed,
}

fn kind(method: &str, path: &str) -> Kind {
    match (method, path) {
        ("DELETE", "/api/sessions/{id}") | ("GET", "/api/pairings/{id}") => Kind::AnnsOnly,
        // A hub's signed settings: its owner's devices only (a household member does not
        // even learn the hub's id).
        ("GET" | "PUT", "/api/hubs/{id}/settings") => Kind::AnnsOnly,
        (
            "POST",
            "/api/access-requests/{id}/approve"
            | "/api/access-requests/{id}/deny"
            | "/api/access-requests/{id}/revoke",
        ) => Kind::AnnsOnly,
        (_, p) if p.starts_with("/api/staff/") => Kind::Staff,
        (_, "/api/clips/{id}/shares" | "/api/clips/{id}/shares/{share_id}") => Kind::AnnsOnly,
        ("GET", "/api/shared/{share_id}" | "/api/shared/{share_id}/payload") => Kind::SharedWith,
        ("GET", "/api/feed" | "/api/feed/posts/{id}/video") => Kind::Feed,
        ("POST", "/api/feed/posts") | ("GET", "/api/feed/mine") => Kind::Own,
        ("DELETE", "/api/feed/posts/{id}") => Kind::AnnsOnly,
        ("GET", "/api/cameras" | "/api/clips") => Kind::ViewList,
        ("GET", "/api/household/members" | "/api/household/owners") => Kind::Own,
        ("GET", "/api/clips/{id}" | "/api/clips/{id}/payload" | "/api/cameras/{id}/live") => {
            Kind::View
        }
        ("PATCH", "/api/cameras/{id}")
        | ("POST", "/api/cameras/{id}/trigger")
        | ("PUT", "/api/clips/{id}/header")
        | ("DELETE", "/api/clips/{id}") => Kind::OwnerWrite,
        (_, p) if p.starts_with("/api/hub/") => Kind::Hub,
        (
            _,
            "/api/me"
            | "/api/logout"
            | "/api/sessions"
            | "/api/session/csrf"
            | "/api/password"
            | "/api/email"
            | "/api/totp/reset"
            | "/api/totp/reset/confirm"
            | "/api/activity"
            | "/api/notifications"
            | "/api/notifications/read"
            | "/api/chain"
            | "/api/devices"
            | "/api/hubs"
            | "/api/pairings"
            | "/api/log/entries"
            | "/api/access-requests"
            | "/api/events/live"
            | "/api/consents"
            | "/api/research/recipient"
            | "/api/research/items"
            | "/api/research/withdrawals"
            | "/api/research/items/match"
            | "/api/shared"
            | "/api/push/subscription"
            | "/api/accounts/{root}/chain",
        )
        | ("POST", "/api/log/checkpoint") => Kind::Own,
        _ => panic!("{method} {path}: a new route; classify it here"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Member,
    Other,
    Anonymous,
    OwnHub,
    OtherHub,
    /// A signed-in staff member: walked only with the cookie (the staff API's own table is
    /// in `staff.rs`), where the staff token must open nothing.
    Staff,
}

/// How the caller's token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Bearer,
    /// `Cookie: porchlight_session=…` and, for a customer, `x-csrf-token`.
    Cookie,
}

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::OwnHub,
    Who::OtherHub,
    Who::Other,
    Who::Member,
    Who::Owner,
];

/// What a caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Past the access check: any status but 401, 403 and 404.
    Reached,
    Unauthenticated,
    NotFound,
    Forbidden,
    /// A cookie write without the session's CSRF token.
    Csrf,
}

fn expected(kind: Kind, who: Who) -> Answer {
    use Answer::*;
    match (kind, who) {
        (_, Who::Anonymous) | (Kind::Staff, _) => Unauthenticated,
        (Kind::Hub, Who::OwnHub | Who::OtherHub) => Reached,
        (Kind::Hub, _) => Unauthenticated,
        (_, Who::OwnHub | Who::OtherHub) => Unauthenticated,
        (Kind::Own | Kind::ViewList | Kind::Feed, _) => Reached,
        (Kind::AnnsOnly, Who::Owner) => Reached,
        (Kind::AnnsOnly, _) => NotFound,
        (Kind::View, Who::Owner | Who::Member) => Reached,
        (Kind::OwnerWrite, Who::Owner) => Reached,
        (Kind::OwnerWrite, Who::Member) => Forbidden,
        (Kind::View | Kind::OwnerWrite, Who::Other) => NotFound,
        (Kind::SharedWith, Who::Member) => Reached,
        (Kind::SharedWith, Who::Owner | Who::Other) => NotFound,
        (_, Who::Staff) => Unauthenticated,
    }
}

/// What a caller must get with its token in the cookie: a customer, what the bearer gets; a
/// hub or a staff member, nothing (their extractors never read a cookie).
fn expected_by_cookie(kind: Kind, who: Who) -> Answer {
    match who {
        Who::OwnHub | Who::OtherHub | Who::Staff => Answer::Unauthenticated,
        _ => expected(kind, who),
    }
}

struct Caller {
    token: Option<String>,
    device: String,
    via: Via,
    /// Sent as `x-csrf-token` with a cookie.
    csrf: Option<String>,
}

impl Caller {
    fn bearer(token: Option<&str>, device: &str) -> Self {
        Self {
            token: token.map(str::to_owned),
            device: device.to_owned(),
            via: Via::Bearer,
            csrf: None,
        }
    }

    fn cookie(token: Option<&str>, device: &str, csrf: Option<&str>) -> Self {
        Self {
            token: token.map(str::to_owned),
            device: device.to_owned(),
            via: Via::Cookie,
            csrf: csrf.map(str::to_owned),
        }
    }
}

async fn call(app: &TestApp, method: &str, path: &str, caller: &Caller) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.url))
        .header("porchlight-device", &caller.device)
        .header("content-type", "application/json")
        // Not valid for any route: a caller that passes the access check is stopped by
        // validation, so the owner's calls change nothing.
        .body("\"not a request\"");
    match (&caller.token, caller.via) {
        (Some(token), Via::Bearer) => request = request.bearer_auth(token),
        (Some(token), Via::Cookie) => {
            request = request.header("cookie", format!("porchlight_session={token}"));
        }
        (None, _) => {}
    }
    if let Some(csrf) = &caller.csrf {
        request = request.header("x-csrf-token", csrf);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

fn answer_of(status: u16, body: &str) -> Answer {
    let code = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .map(|b| b.error.code);
    match (status, code) {
        (401, Some(ErrorCode::Unauthenticated)) => Answer::Unauthenticated,
        (404, Some(ErrorCode::NotFound)) => Answer::NotFound,
        (403, Some(ErrorCode::Forbidden)) => Answer::Forbidden,
        (403, Some(ErrorCode::Csrf)) => Answer::Csrf,
        (401 | 403 | 404, _) => panic!("unexpected refusal {status} {body}"),
        _ => Answer::Reached,
    }
}

both_backends!(
    every_route_checks_who_is_asking,
    every_route_checks_who_is_asking,
    |c| c.signin.hub_per_source_per_minute = 100_000
);
async fn every_route_checks_who_is_asking(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let meg = owner(app, "meg@example.com").await;
    let mut bob = owner(app, "bob@example.com").await;
    ann.append(ChainOp::AddMember {
        root: meg.root(),
        label: Name::new("Meg").unwrap(),
    })
    .await;
    let mut ann_hub = pair_hub(app, &mut ann, "ann hub").await;
    // Meg is given the camera Ann's clips are of.
    ann.append(ChainOp::MemberCameras {
        root: meg.root(),
        cameras: vec![
            porchlight_crypto::CameraRef::new(*ann_hub.secret.public().as_bytes(), "ann cam")
                .unwrap(),
        ],
    })
    .await;
    let mut bob_hub = pair_hub(app, &mut bob, "bob hub").await;
    let bob_clip = upload(&bob, &bob_hub, "bob cam", app.clock_now(), b"bob").await;

    let pairing_code = PairingCode::new(&app.url, ann.root()).unwrap();
    let pairing = ann
        .client()
        .create_pairing(&PairingRequest {
            verifier: hex::encode(pairing_code.secret().verifier()),
            name: "spare".into(),
        })
        .await
        .unwrap();
    let genesis = STANDARD.encode(ann.chain.links()[0].to_bytes());
    // A staff member's request for access to Ann's account.
    let sam_enrolment = porchlight_server::routes::staff::add_staff(
        &app.server.state,
        "sam@porchlight.example",
        "support",
        zeroize::Zeroizing::new(crate::harness::PASSWORD.to_owned()),
    )
    .await
    .unwrap();
    let sam = app
        .server
        .state
        .store
        .staff_by_email("sam@porchlight.example")
        .await
        .unwrap()
        .unwrap();
    let access_request = porchlight_store::AccessRequest {
        id: porchlight_server::auth::secrets::random_id(),
        staff_id: sam.id.clone(),
        account_id: Some(ann.account.session.account_id.clone()),
        scopes: vec!["devices:read".into()],
        justification: "help".into(),
        ticket: "T-1".into(),
        duration_ms: 60_000,
        break_glass: false,
        state: porchlight_store::REQUEST_PENDING.into(),
        second_staff_id: None,
        created_at_ms: app.clock_now(),
        decided_at_ms: None,
        expires_at_ms: None,
    };
    app.server
        .state
        .store
        .create_access_request(&access_request)
        .await
        .unwrap();

    app.next_step();
    let sam_token = reqwest::Client::new()
        .post(format!("{}/api/staff/login", app.url))
        .json(&serde_json::json!({
            "email": "sam@porchlight.example",
            "password": crate::harness::PASSWORD,
            "totp_code": app.code(&sam_enrolment.totp_secret),
        }))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Each customer session's CSRF token, as the browser app would hold it.
    let ann_csrf = ann.client().csrf_token().await.unwrap().csrf_token;
    let meg_csrf = meg.client().csrf_token().await.unwrap().csrf_token;
    let bob_csrf = bob.client().csrf_token().await.unwrap().csrf_token;

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
            let kind = kind(&method, path);
            for via in [Via::Bearer, Via::Cookie] {
                // Each route, once per way of carrying the token, gets its own targets, so an
                // owner's delete cannot disturb the next; and the hubs fresh tokens, since
                // every pass moves the clock a TOTP step.
                ann_hub.refresh(app).await;
                bob_hub.refresh(app).await;
                let clip = upload(&ann, &ann_hub, "ann cam", app.clock_now(), b"ann").await;
                app.next_step();
                let spare_session = app.login(&ann.account).await.unwrap();
                let spare_session_id = spare_session
                    .sessions()
                    .await
                    .unwrap()
                    .sessions
                    .into_iter()
                    .find(|s| s.current)
                    .unwrap()
                    .id;
                let target = match path.as_str() {
                    "/api/sessions/{id}" => spare_session_id.clone(),
                    "/api/pairings/{id}" => pairing.id.clone(),
                    "/api/hubs/{id}/settings" => ann_hub.id.clone(),
                    p if p.starts_with("/api/access-requests/") => access_request.id.clone(),
                    "/api/cameras/{id}"
                    | "/api/cameras/{id}/live"
                    | "/api/cameras/{id}/trigger" => clip.camera_id.clone(),
                    p if p.starts_with("/api/feed/posts/") => {
                        crate::feed::post_raw(app, &ann, &clip.id).await
                    }
                    _ => clip.id.clone(),
                };
                // A share of the clip with Meg, for the routes that name one.
                let share = if path.contains("{share_id}") {
                    let header = ann.client().clip(&clip.id).await.unwrap().header;
                    let request = porchlight_client::proto::ShareRequest {
                        root: meg.root().to_hex(),
                        header,
                    };
                    ann.client()
                        .share_clip(&clip.id, &request)
                        .await
                        .unwrap()
                        .id
                } else {
                    String::new()
                };
                let concrete = path
                    .replace("{id}", &target)
                    .replace(
                        "{key}",
                        &format!("key-{}", porchlight_server::auth::secrets::random_id()),
                    )
                    .replace("{share_id}", &share)
                    .replace("{root}", &bob.root().to_hex());
                // What must never reach anyone but Ann (and, for footage, her household).
                let anns = [
                    clip.id.as_str(),
                    clip.camera_id.as_str(),
                    spare_session_id.as_str(),
                    pairing.id.as_str(),
                    access_request.id.as_str(),
                    "ann@example.com",
                    genesis.as_str(),
                ];

                let ann_device = ann.client().device_id().as_str();
                let meg_device = meg.client().device_id().as_str();
                let bob_device = bob.client().device_id().as_str();
                if via == Via::Cookie {
                    // Ann's own cookie without her CSRF token: every customer write is refused
                    // `csrf` before it does anything; reads and other principals' routes answer
                    // as they would.
                    let bare = Caller::cookie(Some(&ann.account.session.token), ann_device, None);
                    let (status, body) = call(app, &method, &concrete, &bare).await;
                    let writes = !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
                    let want = match expected_by_cookie(kind, Who::Owner) {
                        Answer::Reached if writes => Answer::Csrf,
                        other => other,
                    };
                    assert_eq!(
                        answer_of(status, &body),
                        want,
                        "{method} {path} by Ann's cookie without the CSRF token: {status} {body}"
                    );
                }
                let everyone: &[Who] = match via {
                    Via::Bearer => &EVERYONE,
                    Via::Cookie => &[
                        Who::Anonymous,
                        Who::OwnHub,
                        Who::OtherHub,
                        Who::Staff,
                        Who::Other,
                        Who::Member,
                        Who::Owner,
                    ],
                };
                for &who in everyone {
                    let (token, device, csrf) = match who {
                        Who::Owner => (
                            Some(ann.account.session.token.as_str()),
                            ann_device,
                            Some(ann_csrf.as_str()),
                        ),
                        Who::Member => (
                            Some(meg.account.session.token.as_str()),
                            meg_device,
                            Some(meg_csrf.as_str()),
                        ),
                        Who::Other => (
                            Some(bob.account.session.token.as_str()),
                            bob_device,
                            Some(bob_csrf.as_str()),
                        ),
                        Who::Anonymous => (None, ann_device, Some(ann_csrf.as_str())),
                        // The owner's CSRF token with them, so that only the token can be why
                        // they are refused.
                        Who::OwnHub => (
                            Some(ann_hub.token.as_str()),
                            ann_device,
                            Some(ann_csrf.as_str()),
                        ),
                        Who::OtherHub => (
                            Some(bob_hub.token.as_str()),
                            bob_device,
                            Some(bob_csrf.as_str()),
                        ),
                        Who::Staff => (
                            Some(sam_token.as_str()),
                            "staff-console-device",
                            Some(ann_csrf.as_str()),
                        ),
                    };
                    let (caller, want) = match via {
                        Via::Bearer => (Caller::bearer(token, device), expected(kind, who)),
                        Via::Cookie => (
                            Caller::cookie(token, device, csrf),
                            expected_by_cookie(kind, who),
                        ),
                    };
                    let (status, body) = call(app, &method, &concrete, &caller).await;
                    let got = answer_of(status, &body);
                    assert_eq!(
                        got, want,
                        "{method} {path} as {who:?} by {via:?}: {status} {body}"
                    );
                    let may_see_anns = match who {
                        Who::Owner => true,
                        Who::OwnHub => via == Via::Bearer,
                        // A member's device reads the owner's chain to check her hubs.
                        Who::Member => {
                            matches!(kind, Kind::View | Kind::ViewList | Kind::SharedWith)
                                || path == "/api/household/owners"
                        }
                        _ => false,
                    };
                    if !may_see_anns {
                        for secret in anns {
                            assert!(
                                !body.contains(secret),
                                "{method} {path} as {who:?} by {via:?} shows Ann's {secret}: {body}"
                            );
                        }
                    }
                }
                // Stolen credentials: Ann's token from another device, a made-up token.
                let made_up = "A".repeat(43);
                let stolen = match via {
                    Via::Bearer => [
                        Caller::bearer(Some(&ann.account.session.token), bob_device),
                        Caller::bearer(Some(&made_up), ann_device),
                    ],
                    Via::Cookie => [
                        Caller::cookie(
                            Some(&ann.account.session.token),
                            bob_device,
                            Some(&ann_csrf),
                        ),
                        Caller::cookie(Some(&made_up), ann_device, Some(&ann_csrf)),
                    ],
                };
                for caller in stolen {
                    let (status, body) = call(app, &method, &concrete, &caller).await;
                    assert_eq!(
                        answer_of(status, &body),
                        Answer::Unauthenticated,
                        "{method} {path} by {via:?}: {body}"
                    );
                }
            }
        }
    }
    assert!(guarded >= 25, "only {guarded} guarded routes found");

    // After all of that Ann is still signed in, her household sees her clips, Bob sees only
    // his, and Bob's hub's clip is in Bob's account.
    assert!(ann.client().me().await.is_ok());
    let megs = meg.client().all_clips(&Default::default()).await.unwrap();
    assert!(!megs.is_empty() && megs.iter().all(|c| c.camera_name == "ann cam"));
    let bobs = bob.client().all_clips(&Default::default()).await.unwrap();
    assert_eq!(
        bobs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![bob_clip.id.as_str()]
    );
    assert!(
        ann.client()
            .all_clips(&Default::default())
            .await
            .unwrap()
            .iter()
            .all(|c| c.id != bob_clip.id)
    );
}
