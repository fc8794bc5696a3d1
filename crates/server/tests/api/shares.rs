//! Sharing a clip with another account (DESIGN §6): the owner's device wraps the clip's key
//! to the sharee's chain, verified from the root the sharee gave; the sharee opens it with
//! its own key; nobody else reaches it; the owner's re-wraps leave it alone; revoking ends it.
//! Bad input is refused with a clear error and changes nothing.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_client::proto::{ErrorBody, ErrorCode, ShareRequest};
use porchlight_client::shares::{self, ShareTarget};
use porchlight_client::viewer::rewrap_clips;
use porchlight_crypto::{ChainOp, DeviceSecret, LinkHash, Name};
use serde_json::{Value, json};
use sqlx::Row;

use crate::harness::{TestApp, both_backends, code_of};
use crate::homes::{Owner, owner, pair_hub, upload};

/// A call by `who`'s session (or none), answering its status and body.
async fn call(
    app: &TestApp,
    who: Option<&Owner>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut request = reqwest::Client::new().request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{path}", app.url),
    );
    if let Some(who) = who {
        request = request
            .header("porchlight-device", who.client().device_id().as_str())
            .bearer_auth(&who.account.session.token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn code(body: &str) -> ErrorCode {
    serde_json::from_str::<ErrorBody>(body)
        .unwrap_or_else(|_| panic!("not an error body: {body}"))
        .error
        .code
}

fn key_copy(device: &DeviceSecret) -> DeviceSecret {
    DeviceSecret::from_bytes(&device.to_bytes()).unwrap()
}

async fn log_count(app: &TestApp, kind: &str) -> i64 {
    sqlx::query(
        "SELECT COUNT(*) AS n FROM (SELECT kind FROM log_queue UNION ALL \
         SELECT kind FROM log_entries) t WHERE kind = $1",
    )
    .bind(kind)
    .fetch_one(app.server.state.store.pool_for_tests())
    .await
    .unwrap()
    .try_get::<i64, _>("n")
    .unwrap()
}

/// Opens share `id` on `who`'s device into a fresh file, pinning `owner_root`.
async fn open_as(
    who: &Owner,
    id: &str,
    owner_root: &LinkHash,
) -> Result<Vec<u8>, porchlight_client::E2eError> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let opened = shares::open_shared(
        who.client(),
        id,
        Some(owner_root),
        key_copy(&who.device),
        &out,
    )
    .await;
    match opened {
        Ok(opened) => {
            assert_eq!(opened.owner_root, *owner_root);
            Ok(std::fs::read(&out).unwrap())
        }
        Err(e) => {
            assert!(!out.exists(), "a refused open left {}", out.display());
            Err(e)
        }
    }
}

both_backends!(share_open_and_revoke, share_open_and_revoke);
async fn share_open_and_revoke(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    let cat = owner(app, "cat@example.com").await;
    let hub = pair_hub(app, &mut ann, "porch").await;
    let plaintext: Vec<u8> = (0..150_000u32).map(|i| (i % 251) as u8).collect();
    let clip = upload(&ann, &hub, "front door", app.clock_now(), &plaintext).await;

    // The sharee's chain, found by the root Bob gave Ann, verifies from that root.
    let bobs = shares::chain_of_root(ann.client(), &bob.root())
        .await
        .unwrap();
    assert_eq!(bobs.root(), bob.root());

    let shared = shares::share_clip(
        ann.client(),
        ann.chain.chain(),
        &ann.device,
        &clip.id,
        &bob.root(),
    )
    .await
    .unwrap();
    // Bob's one device and his recovery key.
    assert_eq!(shared.recipients, 2);
    assert_eq!(shared.share.sharee_root, bob.root().to_hex());
    let share_id = shared.share.id.clone();
    assert_eq!(log_count(app, "clip_shared").await, 1);

    // Bob sees it, named by Ann's root only, and opens it with his own key.
    let (status, listed) = call(app, Some(&bob), "GET", "/api/shared", None).await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        !listed.contains("ann@example.com") && !listed.contains(&ann.account.session.account_id)
    );
    let listed = bob.client().shared_with_me().await.unwrap();
    assert_eq!(listed.clips.len(), 1);
    let entry = &listed.clips[0];
    assert_eq!(entry.share_id, share_id);
    assert_eq!(entry.owner_root, ann.root().to_hex());
    assert_eq!(entry.camera_name, "front door");
    assert_eq!(entry.start_ms, clip.start_ms);
    assert_eq!(entry.payload_size, clip.payload_size);
    assert_eq!(
        open_as(&bob, &share_id, &ann.root()).await.unwrap(),
        plaintext
    );

    // One range of the payload, as for the owner.
    let mut whole = Vec::new();
    ann.client()
        .download_payload(&clip.id, &mut whole)
        .await
        .unwrap();
    let ranged = reqwest::Client::new()
        .get(format!("{}/api/shared/{share_id}/payload", app.url))
        .header("porchlight-device", bob.client().device_id().as_str())
        .bearer_auth(&bob.account.session.token)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &whole[10..20]);

    // Pinning another owner's root refuses the chain and writes nothing.
    let wrong = open_as(&bob, &share_id, &cat.root()).await.unwrap_err();
    assert_eq!(wrong.code(), "chain_invalid", "{wrong}");

    // Bob reaches the share and nothing else of Ann's; Cat reaches nothing at all.
    assert_eq!(
        code_of(bob.client().clip(&clip.id).await),
        ErrorCode::NotFound
    );
    for (who, method, path) in [
        (&bob, "GET", format!("/api/clips/{}/shares", clip.id)),
        (
            &bob,
            "DELETE",
            format!("/api/clips/{}/shares/{share_id}", clip.id),
        ),
        (&cat, "GET", format!("/api/shared/{share_id}")),
        (&cat, "GET", format!("/api/shared/{share_id}/payload")),
        (&cat, "GET", format!("/api/clips/{}/shares", clip.id)),
        (
            &cat,
            "DELETE",
            format!("/api/clips/{}/shares/{share_id}", clip.id),
        ),
        (&ann, "GET", format!("/api/shared/{share_id}")),
    ] {
        let (status, body) = call(app, Some(who), method, &path, None).await;
        assert_eq!(
            (status, code(&body)),
            (404, ErrorCode::NotFound),
            "{method} {path}"
        );
        assert!(!body.contains(&clip.id), "{body}");
    }
    assert!(
        cat.client()
            .shared_with_me()
            .await
            .unwrap()
            .clips
            .is_empty()
    );

    // Ann re-wraps her clip (as when she approves a device): the share is untouched and opens.
    let before = ann.client().clip(&clip.id).await.unwrap().header_sha256;
    let report = rewrap_clips(
        ann.client(),
        std::slice::from_ref(&clip),
        &ann.device,
        &ann.chain.chain().recipients(),
        &mut |_, _| {},
    )
    .await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_ne!(
        ann.client().clip(&clip.id).await.unwrap().header_sha256,
        before
    );
    assert_eq!(
        open_as(&bob, &share_id, &ann.root()).await.unwrap(),
        plaintext
    );

    // Sharing again replaces the header and keeps the one share.
    let again = shares::share_clip(
        ann.client(),
        ann.chain.chain(),
        &ann.device,
        &clip.id,
        &bob.root(),
    )
    .await
    .unwrap();
    assert_eq!(again.share.id, share_id);
    assert_eq!(
        ann.client()
            .clip_shares(&clip.id)
            .await
            .unwrap()
            .shares
            .len(),
        1
    );

    // Revoke: Bob loses it, Ann's list is empty, a second revoke finds nothing.
    let revoked = shares::unshare(ann.client(), &clip.id, &ShareTarget::With(bob.root()))
        .await
        .unwrap();
    assert_eq!(revoked.id, share_id);
    assert_eq!(log_count(app, "clip_unshared").await, 1);
    assert!(
        bob.client()
            .shared_with_me()
            .await
            .unwrap()
            .clips
            .is_empty()
    );
    for path in [
        format!("/api/shared/{share_id}"),
        format!("/api/shared/{share_id}/payload"),
    ] {
        let (status, body) = call(app, Some(&bob), "GET", &path, None).await;
        assert_eq!((status, code(&body)), (404, ErrorCode::NotFound), "{path}");
    }
    assert!(
        ann.client()
            .clip_shares(&clip.id)
            .await
            .unwrap()
            .shares
            .is_empty()
    );
    assert_eq!(
        code_of(ann.client().revoke_share(&clip.id, &share_id).await),
        ErrorCode::NotFound
    );
    // Ann's own clip is as it was.
    let mut still = Vec::new();
    ann.client()
        .download_payload(&clip.id, &mut still)
        .await
        .unwrap();
    assert_eq!(still, whole);

    // Deleting the clip ends its shares with it.
    shares::share_clip(
        ann.client(),
        ann.chain.chain(),
        &ann.device,
        &clip.id,
        &cat.root(),
    )
    .await
    .unwrap();
    assert_eq!(cat.client().shared_with_me().await.unwrap().clips.len(), 1);
    ann.client().delete_clip(&clip.id).await.unwrap();
    assert!(
        cat.client()
            .shared_with_me()
            .await
            .unwrap()
            .clips
            .is_empty()
    );
}

both_backends!(sharing_refuses_bad_input, sharing_refuses_bad_input);
async fn sharing_refuses_bad_input(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let meg = owner(app, "meg@example.com").await;
    let mut bob = owner(app, "bob@example.com").await;
    ann.append(ChainOp::AddMember {
        root: meg.root(),
        label: Name::new("Meg").unwrap(),
    })
    .await;
    let hub = pair_hub(app, &mut ann, "porch").await;
    let bob_hub = pair_hub(app, &mut bob, "bob porch").await;
    let clip = upload(&ann, &hub, "front door", app.clock_now(), b"ann's clip").await;
    let bobs_clip = upload(&bob, &bob_hub, "bob cam", app.clock_now(), b"bob's clip").await;
    let header = STANDARD.encode(
        STANDARD
            .decode(ann.client().clip(&clip.id).await.unwrap().header)
            .unwrap(),
    );
    let good = |root: &LinkHash| json!({"root": root.to_hex(), "header": header});
    let path = format!("/api/clips/{}/shares", clip.id);

    // A clip of another account, and one a household shows but does not own: 404, on the
    // server and, before any key work, in the client.
    for (who, clip_id) in [(&ann, &bobs_clip.id), (&bob, &clip.id), (&meg, &clip.id)] {
        let (status, body) = call(
            app,
            Some(who),
            "POST",
            &format!("/api/clips/{clip_id}/shares"),
            Some(good(&meg.root())),
        )
        .await;
        assert_eq!((status, code(&body)), (404, ErrorCode::NotFound), "{body}");
    }
    let refused = shares::share_clip(
        meg.client(),
        meg.chain.chain(),
        &meg.device,
        &clip.id,
        &bob.root(),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), "not_owned", "{refused}");
    assert!(
        refused
            .to_string()
            .contains("not a clip or camera of this account")
    );

    // An unknown root, on the share and on the chain lookup; this account's own root.
    let nobody = LinkHash::from_bytes([7; 32]);
    let (status, body) = call(app, Some(&ann), "POST", &path, Some(good(&nobody))).await;
    assert_eq!(
        (status, code(&body)),
        (404, ErrorCode::UnknownAccount),
        "{body}"
    );
    assert!(body.contains("no account has a device chain with that root"));
    let (status, body) = call(
        app,
        Some(&ann),
        "GET",
        &format!("/api/accounts/{}/chain", nobody.to_hex()),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (404, ErrorCode::UnknownAccount),
        "{body}"
    );
    let (status, body) = call(app, Some(&ann), "POST", &path, Some(good(&ann.root()))).await;
    assert_eq!(
        (status, code(&body)),
        (400, ErrorCode::InvalidInput),
        "{body}"
    );
    assert!(body.contains("your own account"), "{body}");
    let own = shares::share_clip(
        ann.client(),
        ann.chain.chain(),
        &ann.device,
        &clip.id,
        &ann.root(),
    )
    .await
    .unwrap_err();
    assert_eq!(own.code(), "invalid_input", "{own}");

    // Malformed roots and headers.
    for (case, (body, status, want)) in [
        (json!({"root": "not hex", "header": header}), 422, ErrorCode::InvalidInput),
        (json!({"root": meg.root().to_hex(), "header": "%%%"}), 400, ErrorCode::InvalidClip),
        (
            json!({"root": meg.root().to_hex(), "header": STANDARD.encode("age-encryption.org/v1\n-> X25519 abc\n")}),
            400,
            ErrorCode::InvalidClip,
        ),
        (
            json!({"root": meg.root().to_hex(), "header": STANDARD.encode(vec![b'a'; 70 * 1024])}),
            413,
            ErrorCode::PayloadTooLarge,
        ),
        (json!({"root": meg.root().to_hex()}), 400, ErrorCode::MalformedRequest),
        (
            json!({"root": meg.root().to_hex(), "header": header, "extra": 1}),
            400,
            ErrorCode::UnknownField,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (got, answer) = call(app, Some(&ann), "POST", &path, Some(body)).await;
        assert_eq!((got, code(&answer)), (status, want), "case {case}: {answer}");
    }

    // Nobody signed in: every route 401.
    for (method, path) in [
        (
            "GET",
            format!("/api/accounts/{}/chain", meg.root().to_hex()),
        ),
        ("POST", path.clone()),
        ("GET", path.clone()),
        ("DELETE", format!("{path}/x")),
        ("GET", "/api/shared".to_owned()),
        ("GET", "/api/shared/x".to_owned()),
        ("GET", "/api/shared/x/payload".to_owned()),
    ] {
        let (status, body) = call(app, None, method, &path, Some(good(&meg.root()))).await;
        assert_eq!(
            (status, code(&body)),
            (401, ErrorCode::Unauthenticated),
            "{method} {path}"
        );
    }

    // The store checks the owner again, whatever a route did first.
    let store = &app.server.state.store;
    let forged = porchlight_store::ClipShare {
        id: "forged".into(),
        clip_id: clip.id.clone(),
        sharee_account_id: meg.account.session.account_id.clone(),
        header: b"x".to_vec(),
        created_at_ms: app.clock_now(),
    };
    let bob_id = &bob.account.session.account_id;
    assert_eq!(
        store
            .put_share(bob_id, &forged, "clip_shared", b"{}")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .shares_of_clip(bob_id, &clip.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Nothing of that made a share or a log entry; the good request still works.
    assert!(
        ann.client()
            .clip_shares(&clip.id)
            .await
            .unwrap()
            .shares
            .is_empty()
    );
    assert!(
        meg.client()
            .shared_with_me()
            .await
            .unwrap()
            .clips
            .is_empty()
    );
    assert_eq!(log_count(app, "clip_shared").await, 0);
    let made = ann
        .client()
        .share_clip(
            &clip.id,
            &ShareRequest {
                root: meg.root().to_hex(),
                header: header.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(made.sharee_root, meg.root().to_hex());
    assert!(
        !store
            .delete_share(bob_id, &clip.id, &made.id, "clip_unshared", b"{}", 0)
            .await
            .unwrap()
    );
    assert_eq!(meg.client().shared_with_me().await.unwrap().clips.len(), 1);
}
