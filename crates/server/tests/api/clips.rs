//! Sealed clips through the API: upload, list, download, re-wrap for a device approved
//! later, removal, retention — and everything a bad upload or pairing can try.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_client::ClipFilter;
use porchlight_client::proto::{CameraUpdate, ErrorCode, HubPairRequest, PairingRequest};
use porchlight_crypto::{
    ChainOp, ClipHeader, ClipSignature, ClipStatement, DeviceSecret, HubKey, Name, PairingCode,
    verify_clip_in_chain,
};

use crate::harness::{TestApp, both_backends, code_of};
use crate::homes::{
    Household, household_with_camera, hub_client, open_clip, owner, pair_hub, post_links,
    registration, seal_clip, served_chain, upload,
};

/// 64 bytes that must never appear in anything the server stores.
pub const MARKER: &[u8; 64] = b"PORCHLIGHT-PLAINTEXT-MARKER-0123456789-abcdefghijklmnopqrstuvwx!";

fn footage(len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    out[len / 2..len / 2 + 64].copy_from_slice(MARKER);
    out
}

both_backends!(clip_round_trip, clip_round_trip);
async fn clip_round_trip(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "porch hub").await;
    let start = app.clock_now() - 60_000;
    let plaintext = footage(300_000);
    let clip = upload(&ann, &hub, "front door", start, &plaintext).await;
    upload(&ann, &hub, "garden", start + 1, b"garden footage").await;
    upload(&ann, &hub, "front door", start + 2, b"later footage").await;

    // Listing: by camera name, time range, and page by page.
    let front = ann
        .client()
        .all_clips(&ClipFilter {
            camera_name: Some("front door".into()),
            limit: Some(1),
            ..ClipFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(front.len(), 2);
    assert_eq!(front[0].id, clip.id);
    assert_eq!((front[0].start_ms, front[0].duration_ms), (start, 4_000));
    let window = ann
        .client()
        .all_clips(&ClipFilter {
            from_ms: Some(start + 1),
            to_ms: Some(start + 2),
            ..ClipFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].camera_name, "garden");
    let cameras = ann.client().cameras().await.unwrap().cameras;
    assert_eq!(cameras.len(), 2);
    assert!(
        cameras
            .iter()
            .all(|c| c.owned && c.retention_days == 30 && c.hub_id == hub.id)
    );

    // The device opens it; the statement verifies under a hub in the verified chain.
    let chain = served_chain(ann.client(), &ann.root()).await;
    let detail = ann.client().clip(&clip.id).await.unwrap();
    let statement =
        ClipStatement::from_bytes(&STANDARD.decode(&detail.summary.statement).unwrap()).unwrap();
    let signature: [u8; 64] = STANDARD
        .decode(&detail.summary.signature)
        .unwrap()
        .try_into()
        .unwrap();
    verify_clip_in_chain(
        &chain,
        &statement,
        &ClipSignature::from_bytes(signature),
        &HubKey::from_bytes(hex_32(&detail.summary.hub_key)).unwrap(),
    )
    .unwrap();
    // The listing carries what the hub signed, so a device checks a page of clips without
    // fetching each one's detail.
    assert_eq!(front[0], detail.summary);
    assert_eq!(
        open_clip(ann.client(), &clip.id, ann.device.age_identity()).await,
        plaintext
    );

    // A byte range of the payload.
    let response = ann
        .client()
        .clip_payload(&clip.id, Some((10, 19)))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 206);
    let ranged = response.bytes().await.unwrap();
    let mut whole = Vec::new();
    ann.client()
        .download_payload(&clip.id, &mut whole)
        .await
        .unwrap();
    assert_eq!(&ranged[..], &whole[10..20]);

    // A retried upload (same key, same statement) is the same clip; another statement under
    // the key is refused.
    let sealed = seal_clip(
        ann.chain.chain(),
        &hub.secret,
        "front door",
        start + 5,
        b"retry me",
    );
    let open = || async { tokio::fs::File::open(sealed.file.path()).await.unwrap() };
    let (created, first) = hub
        .client
        .upload_clip("retry-key-1", &sealed.statement, open().await)
        .await
        .unwrap();
    let (again, second) = hub
        .client
        .upload_clip("retry-key-1", &sealed.statement, open().await)
        .await
        .unwrap();
    assert!(created && !again);
    assert_eq!(first.id, second.id);
    let other = seal_clip(
        ann.chain.chain(),
        &hub.secret,
        "front door",
        start + 6,
        b"another",
    );
    let file = tokio::fs::File::open(other.file.path()).await.unwrap();
    assert_eq!(
        code_of(
            hub.client
                .upload_clip("retry-key-1", &other.statement, file)
                .await
        ),
        ErrorCode::Conflict
    );

    // A second device: pending, so refused clips; approved, and old clips re-wrapped for it.
    let phone_client = app.login(&ann.account).await.unwrap();
    let phone = DeviceSecret::generate();
    phone_client
        .register_device(&registration("phone", &phone))
        .await
        .unwrap();
    assert_eq!(
        code_of(phone_client.clips(&ClipFilter::default()).await),
        ErrorCode::DeviceNotApproved
    );
    assert_eq!(
        code_of(phone_client.clip(&clip.id).await),
        ErrorCode::DeviceNotApproved
    );
    ann.append(ChainOp::AddDevice {
        name: Name::new("phone").unwrap(),
        device: phone.public(),
    })
    .await;
    let recipients = ann.chain.chain().recipients();
    let header = STANDARD.decode(&detail.header).unwrap();
    let rewrapped =
        porchlight_crypto::rewrap(&header, ann.device.age_identity(), &recipients).unwrap();
    // If-Match must name the header being replaced.
    assert_eq!(
        ann.client()
            .replace_header(&clip.id, &"0".repeat(64), rewrapped.clone())
            .await
            .unwrap_err()
            .status(),
        Some(412)
    );
    ann.client()
        .replace_header(&clip.id, &detail.header_sha256, rewrapped)
        .await
        .unwrap();
    assert_eq!(
        open_clip(&phone_client, &clip.id, phone.age_identity()).await,
        plaintext
    );

    // Removal ends the phone's sessions at once, and its stanza is dropped by a re-wrap.
    ann.append(ChainOp::RemoveDevice {
        device_sign_key: *phone.public().sign(),
    })
    .await;
    assert_eq!(code_of(phone_client.me().await), ErrorCode::Unauthenticated);
    let detail = ann.client().clip(&clip.id).await.unwrap();
    let header = STANDARD.decode(&detail.header).unwrap();
    let without = porchlight_crypto::rewrap(
        &header,
        ann.device.age_identity(),
        &ann.chain.chain().recipients(),
    )
    .unwrap();
    ann.client()
        .replace_header(&clip.id, &detail.header_sha256, without)
        .await
        .unwrap();
    let mut payload = Vec::new();
    ann.client()
        .download_payload(&clip.id, &mut payload)
        .await
        .unwrap();
    let header = STANDARD
        .decode(&ann.client().clip(&clip.id).await.unwrap().header)
        .unwrap();
    assert!(porchlight_crypto::open(&header, payload.as_slice(), phone.age_identity()).is_err());
    // Owner + recovery key + grease.
    assert_eq!(ClipHeader::parse(&header).unwrap().stanzas().len(), 3);
    // The recovery key opens everything.
    assert_eq!(
        open_clip(
            ann.client(),
            &clip.id,
            ann.recovery.as_device().age_identity()
        )
        .await,
        plaintext
    );

    // A header with a wrong MAC: well-formed, so the server (which holds no file key) cannot
    // tell and stores it; the device refuses it before any plaintext, naming the MAC.
    let detail = ann.client().clip(&clip.id).await.unwrap();
    let mut forged = STANDARD.decode(&detail.header).unwrap();
    let mac_at = forged.len() - 5;
    forged[mac_at] = if forged[mac_at] == b'A' { b'B' } else { b'A' };
    ann.client()
        .replace_header(&clip.id, &detail.header_sha256, forged.clone())
        .await
        .unwrap();
    let refused = porchlight_crypto::open(&forged, payload.as_slice(), ann.device.age_identity());
    assert!(matches!(
        refused.err(),
        Some(porchlight_crypto::ClipError::HeaderMacMismatch)
    ));
    let forged_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&forged));
    ann.client()
        .replace_header(&clip.id, &forged_sha, header.clone())
        .await
        .unwrap();

    // Retention is the owner's to set; deletion removes the clip everywhere.
    let camera = &cameras[0];
    let updated = ann
        .client()
        .update_camera(
            &camera.id,
            &CameraUpdate {
                retention_days: Some(7),
                label: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.retention_days, 7);
    assert_eq!(
        code_of(
            ann.client()
                .update_camera(
                    &camera.id,
                    &CameraUpdate {
                        retention_days: Some(0),
                        label: None
                    }
                )
                .await
        ),
        ErrorCode::InvalidInput
    );
    ann.client().delete_clip(&clip.id).await.unwrap();
    assert_eq!(
        code_of(ann.client().clip(&clip.id).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code_of(ann.client().clip_payload(&clip.id, None).await),
        ErrorCode::NotFound
    );
}

fn hex_32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).unwrap();
    out
}

/// Every file under the data folder, for "nothing was left behind" checks.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn blob_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    files_under(
        &app.server
            .state
            .config
            .data_dir
            .join(porchlight_server::app::BLOB_DIR),
    )
}

/// Sends a raw upload and returns the status and error code.
async fn raw_upload(
    app: &TestApp,
    token_client: &porchlight_client::Client,
    key: &str,
    statement: &str,
    body: Vec<u8>,
) -> u16 {
    let _ = app;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let handle = tokio::fs::File::open(file.path()).await.unwrap();
    match token_client.upload_clip(key, statement, handle).await {
        Ok(_) => 200,
        Err(e) => e.status().unwrap(),
    }
}

both_backends!(bad_uploads_leave_nothing, bad_uploads_leave_nothing, |c| {
    c.clips.max_clip_bytes = 1024 * 1024;
});
async fn bad_uploads_leave_nothing(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "hub").await;
    let chain = ann.chain.chain().clone();
    let start = app.clock_now();
    let good = seal_clip(&chain, &hub.secret, "cam", start, &footage(200_000));
    let mut age_file = good.header.clone();
    age_file.extend_from_slice(&good.payload);

    let cases: Vec<(&str, Vec<u8>, String, u16)> = vec![
        // Cut inside the header, and inside the payload.
        (
            "truncated header",
            age_file[..good.header.len() / 2].to_vec(),
            good.statement.clone(),
            400,
        ),
        (
            "truncated payload",
            age_file[..age_file.len() - 1000].to_vec(),
            good.statement.clone(),
            400,
        ),
        // A flipped payload byte no longer hashes to the statement.
        (
            "corrupted payload",
            {
                let mut b = age_file.clone();
                let at = b.len() - 50;
                b[at] ^= 1;
                b
            },
            good.statement.clone(),
            400,
        ),
        // Not an age header at all.
        (
            "garbage",
            b"GIF89a not a clip\n--- x\n".to_vec(),
            good.statement.clone(),
            400,
        ),
        // A 1 MB header is refused before it is read whole.
        (
            "1 MB header",
            {
                let mut b = b"age-encryption.org/v1\n-> X25519 AAAA\n".to_vec();
                b.extend(std::iter::repeat_n(b'A', 1024 * 1024));
                b
            },
            good.statement.clone(),
            413,
        ),
        // The statement signed by another key, or not a statement at all.
        (
            "foreign signature",
            age_file.clone(),
            {
                let other = porchlight_crypto::HubSecret::generate();
                seal_clip(&chain, &other, "cam", start, b"x").statement
            },
            400,
        ),
        (
            "bad statement",
            age_file.clone(),
            STANDARD.encode(b"nonsense"),
            400,
        ),
    ];
    for (what, body, statement, want) in cases {
        let status = raw_upload(app, &hub.client, "bad-upload-key", &statement, body).await;
        assert_eq!(status, want, "{what}");
    }
    // Over the size limit: sealed bigger than 1 MiB.
    let big = seal_clip(
        &chain,
        &hub.secret,
        "cam",
        start,
        &vec![7u8; 2 * 1024 * 1024],
    );
    let file = tokio::fs::File::open(big.file.path()).await.unwrap();
    assert_eq!(
        hub.client
            .upload_clip("big-upload-key", &big.statement, file)
            .await
            .unwrap_err()
            .status(),
        Some(413)
    );

    // A connection cut mid-stream.
    cut_upload(app, &hub, &good.statement, &age_file).await;

    // None of it became a clip, and nothing of it is stored.
    assert!(
        ann.client()
            .all_clips(&ClipFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
    // The cut upload's temp file goes when the server notices the connection is gone.
    for _ in 0..100 {
        if blob_files(app).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(blob_files(app), Vec::<std::path::PathBuf>::new());

    // The good upload under the key the bad ones used still works.
    let file = tokio::fs::File::open(good.file.path()).await.unwrap();
    let (created, _) = hub
        .client
        .upload_clip("bad-upload-key", &good.statement, file)
        .await
        .unwrap();
    assert!(created);
}

/// Sends half an upload on a raw socket and closes it.
async fn cut_upload(app: &TestApp, hub: &crate::homes::PairedHub, statement: &str, body: &[u8]) {
    // The client library keeps its token private; take one the raw way.
    let token = crate::homes::hub_token(app, &hub.secret).await.unwrap();
    let addr = app.server.addr;
    tokio::task::spawn_blocking({
        let statement = statement.to_owned();
        let body = body.to_vec();
        move || {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            write!(
                stream,
                "PUT /api/hub/clips/cut-upload-key HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
                 porchlight-clip-statement: {statement}\r\ncontent-type: application/octet-stream\r\n\
                 content-length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            stream.write_all(&body[..body.len() / 2]).unwrap();
            stream.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            stream.shutdown(std::net::Shutdown::Both).unwrap();
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
    })
    .await
    .unwrap();
}

both_backends!(
    pairing_codes_are_single_use_and_short_lived,
    pairing_codes_are_single_use_and_short_lived
);
async fn pairing_codes_are_single_use_and_short_lived(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let anon = app.client();
    let redeem = |code: &PairingCode, hub: &porchlight_crypto::HubSecret| HubPairRequest {
        verifier: hex::encode(code.secret().verifier()),
        hub_key: hub.public().to_hex(),
        proof: hex::encode(code.secret().hub_proof(&hub.public())),
    };
    let open = |code: &PairingCode| PairingRequest {
        verifier: hex::encode(code.secret().verifier()),
        name: "hub".into(),
    };

    // Used once: a second redemption, even by the same hub, is refused.
    let code = PairingCode::new(&app.url, ann.root()).unwrap();
    ann.client().create_pairing(&open(&code)).await.unwrap();
    let hub = porchlight_crypto::HubSecret::generate();
    anon.hub_pair(&redeem(&code, &hub)).await.unwrap();
    let again = anon
        .hub_pair(&redeem(&code, &porchlight_crypto::HubSecret::generate()))
        .await;
    assert_eq!(code_of(again), ErrorCode::InvalidCode);

    // Expired after ten minutes.
    let late = PairingCode::new(&app.url, ann.root()).unwrap();
    ann.client().create_pairing(&open(&late)).await.unwrap();
    app.clock.advance_ms(10 * 60 * 1000 + 1);
    let expired = anon
        .hub_pair(&redeem(&late, &porchlight_crypto::HubSecret::generate()))
        .await;
    assert_eq!(code_of(expired), ErrorCode::InvalidCode);

    // A code never opened, and malformed fields.
    let unknown = PairingCode::new(&app.url, ann.root()).unwrap();
    assert_eq!(
        code_of(anon.hub_pair(&redeem(&unknown, &hub)).await),
        ErrorCode::InvalidCode
    );
    let mut bad = redeem(&unknown, &hub);
    bad.hub_key = "00".repeat(32);
    assert_eq!(code_of(anon.hub_pair(&bad).await), ErrorCode::InvalidInput);

    // A paired hub has no token until the owner signs it into the chain.
    assert_eq!(
        code_of(hub_client(app, &hub).await),
        ErrorCode::DeviceNotApproved
    );
    ann.append(ChainOp::AddHub {
        name: Name::new("hub").unwrap(),
        hub: hub.public(),
    })
    .await;
    let client = hub_client(app, &hub).await.unwrap();
    assert!(client.hub_chain().await.unwrap().links.len() >= 2);
    // Removed from the chain: its token stops working and it gets no new one.
    ann.append(ChainOp::RemoveHub {
        hub_key: *hub.public().as_bytes(),
    })
    .await;
    assert_eq!(
        code_of(client.hub_chain().await),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code_of(hub_client(app, &hub).await),
        ErrorCode::Unauthenticated
    );
}

both_backends!(
    the_server_refuses_links_that_do_not_verify,
    the_server_refuses_links_that_do_not_verify
);
async fn the_server_refuses_links_that_do_not_verify(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    // A ghost: a device signed in by a key the chain never had.
    let ghost = DeviceSecret::generate();
    let mut forged = ann.chain.clone();
    let stranger = DeviceSecret::generate();
    let link = porchlight_crypto::Link::sign(
        forged.chain().len(),
        forged.chain().head(),
        ChainOp::AddDevice {
            name: Name::new("ghost").unwrap(),
            device: ghost.public(),
        },
        &stranger,
    );
    let post = |links: Vec<porchlight_crypto::Link>| porchlight_client::proto::ChainLinks {
        links: links
            .iter()
            .map(|l| STANDARD.encode(l.to_bytes()))
            .collect(),
    };
    assert_eq!(
        code_of(ann.client().append_chain(&post(vec![link])).await),
        ErrorCode::ChainInvalid
    );
    // Bob's link on Ann's chain, a second genesis, garbage: all refused.
    let bobs = bob.chain.links()[0].clone();
    assert_eq!(
        code_of(ann.client().append_chain(&post(vec![bobs])).await),
        ErrorCode::ChainInvalid
    );
    let garbage = porchlight_client::proto::ChainLinks {
        links: vec!["AAAA".into()],
    };
    assert_eq!(
        code_of(ann.client().append_chain(&garbage).await),
        ErrorCode::ChainInvalid
    );
    // A real link appended twice: the second is a stale sequence number.
    let real = forged
        .append(
            ChainOp::AddDevice {
                name: Name::new("tablet").unwrap(),
                device: DeviceSecret::generate().public(),
            },
            &ann.device,
        )
        .unwrap();
    post_links(ann.client(), std::slice::from_ref(&real)).await;
    assert_eq!(
        code_of(ann.client().append_chain(&post(vec![real])).await),
        ErrorCode::ChainInvalid
    );
    ann.chain = forged;
    // The served chain still verifies from the pinned root, and names no ghost.
    let chain = served_chain(ann.client(), &ann.root()).await;
    assert!(
        chain
            .recipients()
            .iter()
            .all(|r| r.sign() != ghost.public().sign())
    );
    assert_eq!(chain.devices().len(), 2);
}

/// Zero plaintext at rest: a clip carrying a 64-byte marker is uploaded, opened, re-wrapped;
/// then every byte under the data folder (database, its WAL, blobs) is searched for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_at_rest() {
    let app = TestApp::sqlite(|c| c.database_url = String::new()).await;
    let mut ann = owner(&app, "ann@example.com").await;
    let hub = pair_hub(&app, &mut ann, "hub").await;
    let plaintext = footage(500_000);
    let clip = upload(&ann, &hub, "cam", app.clock_now(), &plaintext).await;
    assert_eq!(
        open_clip(ann.client(), &clip.id, ann.device.age_identity()).await,
        plaintext
    );
    let files = files_under(&app.server.state.config.data_dir);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with(porchlight_server::app::DATABASE_FILE))
    );
    assert!(!blob_files(&app).is_empty());
    let mut scanned = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        scanned += bytes.len();
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER),
            "plaintext marker found in {}",
            file.display()
        );
    }
    assert!(scanned > 500_000, "scanned only {scanned} bytes");
    app.stop().await;
}

both_backends!(retention_deletes_old_clips, retention_deletes_old_clips);
async fn retention_deletes_old_clips(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let hub = pair_hub(app, &mut ann, "hub").await;
    let day = 24 * 3600 * 1000;
    let now = app.clock_now();
    let old = upload(&ann, &hub, "cam", now - 3 * day, b"old").await;
    let recent = upload(&ann, &hub, "cam", now - day / 2, b"recent").await;
    let camera = ann.client().cameras().await.unwrap().cameras.remove(0);
    ann.client()
        .update_camera(
            &camera.id,
            &CameraUpdate {
                retention_days: Some(2),
                label: None,
            },
        )
        .await
        .unwrap();
    let deleted = porchlight_server::routes::clips::sweep_retention(&app.server.state)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let left: Vec<String> = ann
        .client()
        .all_clips(&ClipFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, vec![recent.id.clone()]);
    assert_eq!(
        code_of(ann.client().clip_payload(&old.id, None).await),
        ErrorCode::NotFound
    );
    assert_eq!(blob_files(app).len(), 1);
}

/// Random damage to a sealed clip, sent as uploads: the server never fails (5xx) or
/// panics, stores only uploads whose payload matches the signed statement, and whatever
/// it stored either opens to the original or fails to open with an error — never other
/// plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_uploads_never_break_the_server() {
    use rand::{Rng, SeedableRng};
    let app = TestApp::sqlite(|_| {}).await;
    let mut ann = owner(&app, "ann@example.com").await;
    let hub = pair_hub(&app, &mut ann, "hub").await;
    let plaintext = footage(70_000);
    let good = seal_clip(
        ann.chain.chain(),
        &hub.secret,
        "cam",
        app.clock_now(),
        &plaintext,
    );
    let mut original = good.header.clone();
    original.extend_from_slice(&good.payload);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x9e3779b97f4a7c15);
    let mut refused = 0;
    for round in 0..120 {
        let mut body = original.clone();
        match round % 4 {
            0 => {
                let at = rng.random_range(0..body.len());
                body[at] ^= 1 << rng.random_range(0..8);
            }
            1 => body.truncate(rng.random_range(0..body.len())),
            2 => {
                let at = rng.random_range(0..good.header.len());
                let junk: Vec<u8> = (0..rng.random_range(1..40)).map(|_| rng.random()).collect();
                body.splice(at..at, junk);
            }
            _ => {
                let at = rng.random_range(0..good.header.len());
                body[at] = rng.random();
            }
        }
        let key = format!("damaged-{round:04}");
        let status = raw_upload(&app, &hub.client, &key, &good.statement, body.clone()).await;
        assert!(status < 500, "round {round}: {status}");
        if status >= 400 {
            refused += 1;
            continue;
        }
        // Accepted: only a header change the server cannot see (it holds no file key).
        assert_eq!(&body[body.len() - good.payload.len()..], &good.payload[..]);
        let clip = ann
            .client()
            .all_clips(&ClipFilter::default())
            .await
            .unwrap()
            .into_iter()
            .max_by_key(|c| c.start_ms)
            .unwrap();
        let detail = ann.client().clip(&clip.id).await.unwrap();
        let header = STANDARD.decode(&detail.header).unwrap();
        // A header the server could not check opens to the original or not at all.
        if let Ok(mut reader) =
            porchlight_crypto::open(&header, good.payload.as_slice(), ann.device.age_identity())
        {
            let mut out = Vec::new();
            if reader.read_to_end(&mut out).is_ok() {
                assert_eq!(out, plaintext, "round {round}: other plaintext");
            }
        }
        ann.client().delete_clip(&clip.id).await.unwrap();
    }
    assert!(
        refused > 60,
        "only {refused} of 120 damaged uploads refused"
    );
    assert_eq!(blob_files(&app), Vec::<std::path::PathBuf>::new());
    app.stop().await;
}

/// Hubs have their own per-address allowance: a chatty hub is throttled without spending
/// the owner's sign-in attempts from the same home address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_credentials_have_their_own_allowance() {
    let app = TestApp::sqlite(|c| {
        c.signin.hub_per_source_per_minute = 4;
        // Sign-up, its confirmation, the pairing (it checks a secret) and one sign-in.
        c.signin.per_source_per_minute = 4;
    })
    .await;
    let mut ann = owner(&app, "ann@example.com").await;
    let hub = pair_hub(&app, &mut ann, "hub").await;
    // pair_hub took one token (two requests); two more requests are allowed, then 429.
    crate::homes::hub_token(&app, &hub.secret).await.unwrap();
    assert_eq!(
        code_of(crate::homes::hub_token(&app, &hub.secret).await),
        ErrorCode::Throttled
    );
    // The owner still signs in from the same address.
    app.next_step();
    app.login(&ann.account).await.unwrap();
    app.stop().await;
}

both_backends!(
    camera_settings_are_the_owners,
    camera_settings_are_the_owners
);
/// Retention and label are set by the camera's owner only; the label is shown, never
/// checked: the listing keeps the name the hub signs. Bad values are refused, naming why.
async fn camera_settings_are_the_owners(app: &TestApp) {
    let Household { ann, meg, bob, hub } = household_with_camera(app, "cam-1").await;
    let clip = upload(&ann, &hub, "cam-1", app.clock_now(), b"porch").await;
    let update = |retention_days: Option<u32>, label: Option<&str>| CameraUpdate {
        retention_days,
        label: label.map(str::to_owned),
    };

    let set = ann
        .client()
        .update_camera(&clip.camera_id, &update(None, Some("  Front door ")))
        .await
        .unwrap();
    assert_eq!(set.label.as_deref(), Some("Front door"));
    assert_eq!(set.name, "cam-1");
    assert_eq!(set.retention_days, 30, "retention untouched by a label");
    let set = ann
        .client()
        .update_camera(&clip.camera_id, &update(Some(14), None))
        .await
        .unwrap();
    assert_eq!(
        (set.retention_days, set.label.as_deref()),
        (14, Some("Front door")),
        "label untouched by retention"
    );
    let listed = ann.client().cameras().await.unwrap().cameras;
    assert_eq!(listed, vec![set.clone()]);
    // The household sees the label; the listing still carries the signed name.
    let megs = meg.client().cameras().await.unwrap().cameras;
    assert_eq!(megs[0].label.as_deref(), Some("Front door"));
    assert!(!megs[0].owned);
    let clips = ann
        .client()
        .all_clips(&ClipFilter::default())
        .await
        .unwrap();
    assert_eq!(clips[0].camera_name, "cam-1");

    // Out of range or malformed: 422 with the reason, nothing changed.
    for (bad, why) in [
        (update(Some(0), None), "1 to 3650"),
        (update(Some(3651), None), "1 to 3650"),
        (update(None, Some(&"x".repeat(65))), "at most 64"),
        (update(None, Some("front\ndoor")), "control"),
        (update(None, None), "retention_days, label or both"),
    ] {
        let err = ann
            .client()
            .update_camera(&clip.camera_id, &bad)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidInput), "{bad:?}");
        assert!(err.to_string().contains(why), "{bad:?}: {err}");
    }
    assert_eq!(ann.client().cameras().await.unwrap().cameras, vec![set]);

    // A household member may see the camera but not change it; anyone else does not see it.
    assert_eq!(
        code_of(
            meg.client()
                .update_camera(&clip.camera_id, &update(Some(1), Some("mine")))
                .await
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(
            bob.client()
                .update_camera(&clip.camera_id, &update(Some(1), Some("mine")))
                .await
        ),
        ErrorCode::NotFound
    );
    // An empty label clears it: the apps show the name again.
    let cleared = ann
        .client()
        .update_camera(&clip.camera_id, &update(None, Some(" ")))
        .await
        .unwrap();
    assert_eq!((cleared.label, cleared.retention_days), (None, 14));
}

both_backends!(deleting_a_clip_is_logged, deleting_a_clip_is_logged);
/// Only the owner deletes a clip; row, header, blob and shares go, and the account's
/// transparency log says so.
async fn deleting_a_clip_is_logged(app: &TestApp) {
    let Household { ann, meg, bob, hub } = household_with_camera(app, "cam-1").await;
    let clip = upload(&ann, &hub, "cam-1", app.clock_now(), b"porch").await;
    let kept = upload(&ann, &hub, "cam-1", app.clock_now() + 1, b"kept").await;
    assert_eq!(blob_files(app).len(), 2);

    assert_eq!(
        code_of(meg.client().delete_clip(&clip.id).await),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code_of(bob.client().delete_clip(&clip.id).await),
        ErrorCode::NotFound
    );
    assert!(deleted_entries(app).await.is_empty());

    assert_eq!(ann.client().delete_clip(&clip.id).await.unwrap().deleted, 1);
    for who in [&ann, &meg] {
        let left: Vec<String> = who
            .client()
            .all_clips(&ClipFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(left, vec![kept.id.clone()]);
        assert_eq!(
            code_of(who.client().clip_payload(&clip.id, None).await),
            ErrorCode::NotFound
        );
    }
    assert_eq!(blob_files(app).len(), 1);
    assert_eq!(
        code_of(ann.client().delete_clip(&clip.id).await),
        ErrorCode::NotFound
    );
    let entries = deleted_entries(app).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        entries[0].0.as_deref(),
        Some(ann.account.session.account_id.as_str())
    );
    assert_eq!(entries[0].1["clip"], clip.id.as_str());
    assert_eq!(entries[0].1["camera"], "cam-1");
}

/// The `clip_deleted` entries, queued or in the log: whose, and the body.
async fn deleted_entries(app: &TestApp) -> Vec<(Option<String>, serde_json::Value)> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT account_id, body FROM log_queue WHERE kind = 'clip_deleted' UNION ALL \
         SELECT account_id, body FROM log_entries WHERE kind = 'clip_deleted'",
    )
    .fetch_all(app.server.state.store.pool_for_tests())
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            let body: Vec<u8> = r.try_get("body").unwrap();
            (
                r.try_get("account_id").unwrap(),
                serde_json::from_slice(&body).unwrap(),
            )
        })
        .collect()
}
