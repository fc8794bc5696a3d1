//! Consent and the research dataset (DESIGN §9, issue 7): receipts checked and logged, items
//! made on the owner's device with the container metadata stripped, withdrawn by a key only
//! the owner can compute (the server keeps only its hash), and annotators who reach the items and nothing that leads to an
//! owner.

use std::sync::LazyLock;

use porchlight_client::proto::ErrorCode;
use porchlight_client::research;
use porchlight_crypto::age::x25519::Identity;
use porchlight_crypto::{ChainOp, ConsentAction, ConsentReceipt, ConsentScope, DeviceSecret, Name};
use porchlight_media::boxes::{find, walk};
use serde_json::{Value, json};
use sqlx::Row;

use crate::harness::{TestApp, both_backends, code_of};
use crate::homes::{Owner, owner, pair_hub, upload};
use crate::staff::staff;

/// The research program's key, held here as the program would hold it.
static RESEARCH: LazyLock<Identity> = LazyLock::new(Identity::generate);

pub fn research_on(c: &mut porchlight_server::config::Config) {
    c.research.recipient = Some(RESEARCH.to_public().to_string());
}

/// Strings a muxer might leave in a file, planted in the clip so stripping has work to do.
const PLANTED: &[&str] = &["Lavf60.3.100", "Acme DoorCam 3000", "+51.5072-000.1276/"];

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len() + 8)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A real clip (the synthetic camera's H.264) as another muxer might have written it:
/// creation times, a handler name, `udta` with software, device and location, a `uuid`.
pub fn dirty_mp4() -> Vec<u8> {
    let camera = porchlight_media::SyntheticCamera::new(10).unwrap();
    let params = camera.params().clone();
    let mut plain = Vec::new();
    let mut writer = porchlight_media::ClipWriter::new(&mut plain, &params).unwrap();
    for frame in camera.take(20) {
        writer.push(frame).unwrap();
    }
    writer.finish().unwrap();
    let moov = &find(&plain, b"moov").unwrap()[0];
    let moov_end = usize::try_from(moov.offset + moov.size).unwrap();
    let mut udta = boxed(b"\xa9too", PLANTED[0].as_bytes());
    udta.extend(boxed(b"\xa9mod", PLANTED[1].as_bytes()));
    udta.extend(boxed(b"\xa9xyz", PLANTED[2].as_bytes()));
    let mut dirty = plain[..moov_end].to_vec();
    dirty.extend(porchlight_media::fmp4::metadata_box(b"{\"events\":[\"person\"]}").unwrap());
    dirty.extend(boxed(b"udta", &udta));
    dirty.extend_from_slice(&plain[moov_end..]);
    for kind in [b"mvhd", b"tkhd", b"mdhd"] {
        let off = usize::try_from(find(&dirty, kind).unwrap()[0].body_offset).unwrap();
        dirty[off + 4..off + 12].copy_from_slice(&[0xe1, 0x2b, 0x3c, 0x4d, 0xe1, 0x2b, 0x3c, 0x4d]);
    }
    dirty
}

fn receipt(
    owner: &Owner,
    device: &DeviceSecret,
    action: ConsentAction,
    scope: ConsentScope,
    at_ms: i64,
) -> Vec<u8> {
    ConsentReceipt::sign(action, scope, owner.root(), at_ms, device)
        .unwrap()
        .to_bytes()
}

pub async fn log_count(app: &TestApp, kind: &str, with_account: bool) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT kind, account_id FROM log_queue UNION ALL \
         SELECT kind, account_id FROM log_entries) t WHERE kind = $1 AND account_id IS {} NULL",
        if with_account { "NOT" } else { "" }
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(kind)
        .fetch_one(app.server.state.store.pool_for_tests())
        .await
        .unwrap()
        .try_get::<i64, _>("n")
        .unwrap()
}

async fn send(app: &TestApp, method: &str, path: &str, token: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.url),
        )
        .header("porchlight-device", "annotator-console")
        .bearer_auth(token)
        .json(&json!({"label": "person"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

both_backends!(
    consent_research_and_annotators,
    consent_research_and_annotators,
    crate::research::research_on
);
async fn consent_research_and_annotators(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let meg = owner(app, "meg@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    ann.append(ChainOp::AddMember {
        root: meg.root(),
        label: Name::new("Meg").unwrap(),
    })
    .await;
    let hub = pair_hub(app, &mut ann, "ann hub").await;
    let porch = upload(&ann, &hub, "porch", app.clock_now(), &dirty_mp4()).await;
    let garden = upload(&ann, &hub, "garden", app.clock_now(), &dirty_mp4()).await;
    let chain = ann.chain.chain().clone();
    let now = app.clock_now();

    // Bad input, each refused with its own code.
    let not_owned = [
        (&bob, ConsentScope::Clip(porch.id.clone())),
        (&bob, ConsentScope::Camera(porch.camera_id.clone())),
        // Meg sees Ann's cameras through the household, but only Ann consents for them.
        (&meg, ConsentScope::Camera(porch.camera_id.clone())),
        (&meg, ConsentScope::Clip(porch.id.clone())),
    ];
    for (who, scope) in not_owned {
        let bytes = receipt(who, &who.device, ConsentAction::Give, scope, now);
        assert_eq!(
            code_of(who.client().record_consent(&bytes).await),
            ErrorCode::NotOwned
        );
    }
    let scope = ConsentScope::Camera(porch.camera_id.clone());
    let mut forged = receipt(&ann, &ann.device, ConsentAction::Give, scope.clone(), now);
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    assert_eq!(
        code_of(ann.client().record_consent(&forged).await),
        ErrorCode::ReceiptInvalid
    );
    let stranger = DeviceSecret::generate();
    let foreign = receipt(&ann, &stranger, ConsentAction::Give, scope.clone(), now);
    assert_eq!(
        code_of(ann.client().record_consent(&foreign).await),
        ErrorCode::SignerNotInChain
    );
    let stale = receipt(
        &ann,
        &ann.device,
        ConsentAction::Give,
        scope.clone(),
        now - 11 * 60_000,
    );
    assert_eq!(
        code_of(ann.client().record_consent(&stale).await),
        ErrorCode::ReceiptStale
    );
    let withdraw_first = receipt(
        &ann,
        &ann.device,
        ConsentAction::Withdraw,
        scope.clone(),
        now,
    );
    assert_eq!(
        code_of(ann.client().record_consent(&withdraw_first).await),
        ErrorCode::NoConsent
    );
    // No consent yet: no research item.
    let work = tempfile::tempdir().unwrap();
    let refused =
        research::add_item(ann.client(), &chain, &ann.device, &porch.id, work.path()).await;
    assert_eq!(refused.unwrap_err().code(), "no_consent");

    // Consent for the porch camera, once; the same receipt again is a replay.
    let give = receipt(&ann, &ann.device, ConsentAction::Give, scope.clone(), now);
    let recorded = ann.client().record_consent(&give).await.unwrap();
    assert_eq!(
        (recorded.action.as_str(), recorded.scope_kind.as_str()),
        ("give", "camera")
    );
    assert_eq!(
        code_of(ann.client().record_consent(&give).await),
        ErrorCode::ReceiptReplayed
    );
    assert_eq!(log_count(app, "consent_given", true).await, 1);
    let listed = ann.client().consents().await.unwrap();
    assert_eq!(listed.live.len(), 1);
    assert!(bob.client().consents().await.unwrap().receipts.is_empty());

    // The item, made on Ann's device; the garden clip is not covered.
    let added = research::add_item(ann.client(), &chain, &ann.device, &porch.id, work.path())
        .await
        .unwrap();
    let uncovered =
        research::add_item(ann.client(), &chain, &ann.device, &garden.id, work.path()).await;
    assert_eq!(uncovered.unwrap_err().code(), "no_consent");
    assert_eq!(added.item.day, research::utc_day(porch.start_ms));
    let again = research::add_item(ann.client(), &chain, &ann.device, &porch.id, work.path()).await;
    assert_eq!(again.unwrap_err().code(), "conflict");
    assert!(
        std::fs::read_dir(work.path()).unwrap().next().is_none(),
        "plaintext left behind"
    );

    // "What of mine is in research", on each owner's device.
    let mine = research::my_items(ann.client(), &ann.device).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].clip_id, porch.id);
    assert!(
        research::my_items(bob.client(), &bob.device)
            .await
            .unwrap()
            .is_empty()
    );

    // The annotator: every staff and research route, with every id it might try.
    let ada = staff(app, "ada@porchlight.example", "annotator").await;
    let items: Value = serde_json::from_str(
        &send(app, "GET", "/api/staff/research/items", &ada.token)
            .await
            .1,
    )
    .unwrap();
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
    let item_id = items["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(item_id, added.item.id);
    let devices = ann.client().devices().await.unwrap().devices;
    let mut secrets: Vec<String> = vec![
        ann.account.session.account_id.clone(),
        porch.id.clone(),
        porch.camera_id.clone(),
        garden.id.clone(),
        garden.camera_id.clone(),
        hub.id.clone(),
        "ann@example.com".into(),
        "porch".into(),
        "garden".into(),
        hub.secret.public().to_hex(),
        ann.device.public().sign_hex(),
        added.withdrawal_tag.clone(),
    ];
    secrets.extend(devices.iter().map(|d| d.id.clone()));
    let openapi: Value = reqwest::get(format!("{}/api/openapi.json", app.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut walked = 0;
    for (path, ops) in openapi["paths"].as_object().unwrap() {
        let research_route = path.starts_with("/api/research/") || path == "/api/consents";
        if !path.starts_with("/api/staff/") && !research_route {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            for target in [
                &item_id,
                &porch.id,
                &garden.id,
                &porch.camera_id,
                &added.withdrawal_tag,
            ] {
                let concrete = path.replace("{id}", target);
                let (status, body) = send(app, &method, &concrete, &ada.token).await;
                walked += 1;
                for s in &secrets {
                    assert!(
                        !body.contains(s.as_str()),
                        "{method} {concrete}: {status} names {s}"
                    );
                }
                let reached_item = target == &item_id
                    && path.starts_with("/api/staff/research/items")
                    && status < 300;
                if !reached_item
                    && path != "/api/staff/research/items"
                    && path != "/api/staff/login"
                {
                    assert!(
                        [401, 403, 404, 405, 422].contains(&status),
                        "{method} {concrete} as an annotator: {status} {body}"
                    );
                }
            }
        }
    }
    assert!(walked >= 5 * 12, "walked {walked}");
    // The view was logged, under no account, before it was served.
    assert!(log_count(app, "research_view", false).await >= 1);
    assert_eq!(log_count(app, "research_view", true).await, 0);
    let labelled: Value = serde_json::from_str(
        &send(app, "GET", "/api/staff/research/items", &ada.token)
            .await
            .1,
    )
    .unwrap();
    assert_eq!(labelled["items"][0]["labels"], json!(["person"]));

    // The item as the research program opens it: no metadata left.
    let sealed = porchlight_client::Client::new(&app.url, porchlight_client::DeviceId::generate())
        .unwrap()
        .with_token(porchlight_client::Secret::new(ada.token.clone()))
        .staff_research_item(&item_id)
        .await
        .unwrap();
    let mut opened = porchlight_crypto::open_file(&sealed[..], &*RESEARCH).unwrap();
    let mut mp4 = Vec::new();
    std::io::Read::read_to_end(&mut opened, &mut mp4).unwrap();
    assert_metadata_stripped(&mp4);

    // Withdrawing consent for the camera withdraws the item everywhere.
    app.next_step();
    let (info, withdrawn) = research::record_consent(
        ann.client(),
        &chain,
        &ann.device,
        ConsentAction::Withdraw,
        scope.clone(),
        app.clock_now(),
    )
    .await
    .unwrap();
    assert_eq!((info.action.as_str(), withdrawn), ("withdraw", 1));
    assert_eq!(log_count(app, "consent_withdrawn", true).await, 1);
    let after: Value = serde_json::from_str(
        &send(app, "GET", "/api/staff/research/items", &ada.token)
            .await
            .1,
    )
    .unwrap();
    assert_eq!(after["items"], json!([]));
    let (status, _) = send(
        app,
        "GET",
        &format!("/api/staff/research/items/{item_id}"),
        &ada.token,
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        ann.client()
            .research_tags_present(std::slice::from_ref(&added.withdrawal_tag))
            .await
            .unwrap()
            .present
            .is_empty()
    );
    assert!(
        research::my_items(ann.client(), &ann.device)
            .await
            .unwrap()
            .is_empty()
    );
    let blobs = std::fs::read_dir(app.server.state.config.data_dir.join("blobs"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("research-"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(blobs, 0, "the item's blob is gone");
    assert_eq!(
        code_of(
            ann.client()
                .record_consent(&receipt(
                    &ann,
                    &ann.device,
                    ConsentAction::Withdraw,
                    scope,
                    app.clock_now()
                ))
                .await
        ),
        ErrorCode::NoConsent
    );
    // No live consent: no new items at all.
    let (status, _) = {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/api/research/items?day=2026-01-01&withdrawal_tag={}",
                app.url,
                "ab".repeat(32)
            ))
            .header("porchlight-device", ann.client().device_id().as_str())
            .bearer_auth(&ann.account.session.token)
            .body("age-encryption.org/v1\n")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 403);

    // Per clip: consent for the garden clip alone puts that clip in, and its withdrawal
    // takes it out; the porch clip stays out.
    let garden_scope = ConsentScope::Clip(garden.id.clone());
    research::record_consent(
        ann.client(),
        &chain,
        &ann.device,
        ConsentAction::Give,
        garden_scope.clone(),
        app.clock_now(),
    )
    .await
    .unwrap();
    research::add_item(ann.client(), &chain, &ann.device, &garden.id, work.path())
        .await
        .unwrap();
    let refused =
        research::add_item(ann.client(), &chain, &ann.device, &porch.id, work.path()).await;
    assert_eq!(refused.unwrap_err().code(), "no_consent");
    let mine = research::my_items(ann.client(), &ann.device).await.unwrap();
    assert_eq!(
        mine.iter().map(|m| m.clip_id.as_str()).collect::<Vec<_>>(),
        [garden.id.as_str()]
    );
    let (_, withdrawn) = research::record_consent(
        ann.client(),
        &chain,
        &ann.device,
        ConsentAction::Withdraw,
        garden_scope,
        app.clock_now(),
    )
    .await
    .unwrap();
    assert_eq!(withdrawn, 1);
    let after: Value = serde_json::from_str(
        &send(app, "GET", "/api/staff/research/items", &ada.token)
            .await
            .1,
    )
    .unwrap();
    assert_eq!(after["items"], json!([]));
}

/// The MP4 boxes hold no creation time, location, device or software name, by the box walker
/// and by ffprobe (when installed).
pub fn assert_metadata_stripped(mp4: &[u8]) {
    let boxes = walk(mp4).unwrap();
    for b in &boxes {
        assert!(
            !matches!(&b.kind, b"udta" | b"meta" | b"uuid" | b"prft" | b"ilst"),
            "{} box left",
            b.kind_str()
        );
    }
    for kind in [b"mvhd", b"tkhd", b"mdhd"] {
        for b in find(mp4, kind).unwrap() {
            assert_eq!(&b.body[4..12], &[0; 8], "{} times", b.kind_str());
        }
    }
    for b in find(mp4, b"hdlr").unwrap() {
        assert!(b.body[24..].iter().all(|&c| c == 0), "hdlr name");
    }
    let text = String::from_utf8_lossy(mp4);
    for planted in PLANTED.iter().chain(&["VideoHandler", "events"]) {
        assert!(!text.contains(planted), "{planted} left in the file");
    }
    ffprobe_check(mp4);
}

/// ffprobe's tags of `mp4` (format and streams, as `format|stream key=value`), or `None` when
/// ffprobe is not installed.
fn ffprobe_tags(mp4: &[u8]) -> Option<(Value, Vec<String>)> {
    let file = tempfile::Builder::new().suffix(".mp4").tempfile().unwrap();
    std::fs::write(file.path(), mp4).unwrap();
    let output = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(file.path())
        .output()
        .ok()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let probe: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut tags = Vec::new();
    if let Some(t) = probe["format"]["tags"].as_object() {
        tags.extend(t.iter().map(|(k, v)| format!("format {k}={v}")));
    }
    for stream in probe["streams"].as_array().unwrap() {
        if let Some(t) = stream["tags"].as_object() {
            tags.extend(t.iter().map(|(k, v)| format!("stream {k}={v}")));
        }
    }
    Some((probe, tags))
}

/// Tags that name a time, a place, a device or software.
fn revealing(tag: &str) -> bool {
    let lower = tag.to_lowercase();
    [
        "creation_time",
        "location",
        "encoder",
        "make",
        "model",
        "software",
        "handler_name=\"v",
        "com.apple",
    ]
    .iter()
    .any(|banned| lower.contains(banned))
        || PLANTED.iter().any(|p| tag.contains(p))
}

fn ffprobe_check(mp4: &[u8]) {
    let Some((clean, tags)) = ffprobe_tags(mp4) else {
        println!("ffprobe is not installed: the ffprobe leg of the metadata check was skipped");
        return;
    };
    // The check sees what it looks for: the clip as planted shows it.
    let (_, dirty) = ffprobe_tags(&dirty_mp4()).unwrap();
    assert!(
        dirty.iter().any(|t| revealing(t)),
        "ffprobe shows nothing planted: {dirty:?}"
    );
    assert_eq!(clean["streams"][0]["codec_name"], "h264");
    for tag in &tags {
        assert!(!revealing(tag), "ffprobe shows {tag}");
    }
    let all = clean.to_string();
    for planted in PLANTED {
        assert!(!all.contains(planted), "ffprobe shows {planted}");
    }
}

both_backends!(
    research_tables_have_no_linking_column,
    research_tables_have_no_linking_column
);
async fn research_tables_have_no_linking_column(app: &TestApp) {
    let store = &app.server.state.store;
    let linking = [
        "account",
        "camera",
        "hub",
        "device",
        "clip",
        "user",
        "owner",
        "email",
        "session",
        "created_at",
        "time",
        "_ms",
        "addr",
        "ip",
    ];
    for table in ["research_items", "research_labels"] {
        let columns = store.table_columns(table).await.unwrap();
        assert!(
            !columns.is_empty(),
            "{table} has no columns: is it still there?"
        );
        for column in &columns {
            let lower = column.to_lowercase();
            for word in linking {
                assert!(
                    !lower.contains(word),
                    "{table}.{column} could lead back to an owner or an exact time ({word})"
                );
            }
        }
    }
    // A research role reads no other table: the list above is all it is served from.
    let stored = store.table_columns("research_items").await.unwrap();
    assert_eq!(stored, ["id", "withdrawal_tag", "day", "size_bytes"]);
}

both_backends!(
    research_is_off_without_a_recipient,
    research_is_off_without_a_recipient
);
async fn research_is_off_without_a_recipient(app: &TestApp) {
    let ann = owner(app, "ann@example.com").await;
    assert_eq!(
        code_of(ann.client().research_tags_present(&["ab".repeat(32)]).await),
        ErrorCode::ResearchOff
    );
    assert_eq!(
        code_of(ann.client().withdraw_research_item(&"ab".repeat(32)).await),
        ErrorCode::ResearchOff
    );
    assert_eq!(
        code_of(ann.client().research_recipient().await),
        ErrorCode::ResearchOff
    );
    let ada = staff(app, "ada@porchlight.example", "annotator").await;
    let (status, body) = send(app, "GET", "/api/staff/research/items", &ada.token).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("research_off"));
}

/// Every research item's stored tag, straight from the database (as an insider reads it).
async fn stored_tags(app: &TestApp) -> Vec<String> {
    sqlx::query("SELECT withdrawal_tag FROM research_items ORDER BY withdrawal_tag")
        .fetch_all(app.server.state.store.pool_for_tests())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>("withdrawal_tag").unwrap())
        .collect()
}

async fn withdraw_raw(app: &TestApp, who: &Owner, key: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/api/research/withdrawals", app.url))
        .header("porchlight-device", who.client().device_id().as_str())
        .bearer_auth(&who.account.session.token)
        .json(&json!({ "withdrawal_key": key }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends!(
    another_account_cannot_learn_or_use_a_withdrawal_key,
    another_account_cannot_learn_or_use_a_withdrawal_key,
    crate::research::research_on
);
/// Issue 15, defect 1: withdrawal ids were listed to every account and withdrew anything.
/// Now the server keeps and answers only tags (one-way hashes of the keys); Bob, signed in,
/// finds no key of Ann's in any answer, cannot withdraw with a tag or a made-up key, and Ann
/// still withdraws with the key her device computes.
async fn another_account_cannot_learn_or_use_a_withdrawal_key(app: &TestApp) {
    let mut ann = owner(app, "ann@example.com").await;
    let bob = owner(app, "bob@example.com").await;
    let hub = pair_hub(app, &mut ann, "ann hub").await;
    let porch = upload(&ann, &hub, "porch", app.clock_now(), &dirty_mp4()).await;
    let garden = upload(&ann, &hub, "garden", app.clock_now(), &dirty_mp4()).await;
    let chain = ann.chain.chain().clone();
    let work = tempfile::tempdir().unwrap();
    for clip in [&porch, &garden] {
        let give = receipt(
            &ann,
            &ann.device,
            ConsentAction::Give,
            ConsentScope::Clip(clip.id.clone()),
            app.clock_now(),
        );
        ann.client().record_consent(&give).await.unwrap();
        research::add_item(ann.client(), &chain, &ann.device, &clip.id, work.path())
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    for clip in [&porch, &garden] {
        keys.push(
            research::clip_withdrawal_key(ann.client(), &clip.id, &ann.device)
                .await
                .unwrap(),
        );
    }
    let key_hex: Vec<String> = keys.iter().map(|k| k.to_hex().to_string()).collect();
    let tags: Vec<String> = keys.iter().map(|k| k.tag().to_hex()).collect();

    // The database holds the tags, and no key.
    let mut sorted = tags.clone();
    sorted.sort();
    assert_eq!(stored_tags(app).await, sorted);

    // Bob, signed in, asks every research route he can reach: no answer names a key.
    let openapi: Value = reqwest::get(format!("{}/api/openapi.json", app.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut asked = 0;
    for (path, ops) in openapi["paths"].as_object().unwrap() {
        if !path.starts_with("/api/research/") && path != "/api/consents" {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let response = reqwest::Client::new()
                .request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    format!("{}{path}", app.url),
                )
                .header("porchlight-device", bob.client().device_id().as_str())
                .bearer_auth(&bob.account.session.token)
                .json(&json!({ "withdrawal_tags": [], "withdrawal_key": "00".repeat(32) }))
                .send()
                .await
                .unwrap();
            let body = response.text().await.unwrap();
            asked += 1;
            for secret in &key_hex {
                assert!(
                    !body.contains(secret.as_str()),
                    "{method} {path} names a key"
                );
            }
            for tag in &tags {
                assert!(!body.contains(tag.as_str()), "{method} {path} names a tag");
            }
        }
    }
    assert!(asked >= 5, "asked {asked}");
    // The listing that gave the ids away is gone, and so is the withdrawal by URL.
    for (method, path) in [
        ("GET", "/api/research/withdrawal-ids".to_owned()),
        (
            "DELETE",
            format!("/api/research/items/withdraw/{}", key_hex[0]),
        ),
    ] {
        let status = reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", app.url),
            )
            .header("porchlight-device", bob.client().device_id().as_str())
            .bearer_auth(&bob.account.session.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!([404, 405].contains(&status), "{method} {path}: {status}");
    }
    // Bob's own matching finds nothing of Ann's: he cannot compute her tags.
    assert!(
        research::my_items(bob.client(), &bob.device)
            .await
            .unwrap()
            .is_empty()
    );
    let guessed: Vec<String> = (0..50u8).map(|i| format!("{i:02x}").repeat(32)).collect();
    assert!(
        bob.client()
            .research_tags_present(&guessed)
            .await
            .unwrap()
            .present
            .is_empty()
    );
    // Even holding the tags (an insider's copy of the table), Bob withdraws nothing: a tag is
    // not a key, and neither is a made-up one. A malformed key is refused as such.
    for tag in &tags {
        assert_eq!(withdraw_raw(app, &bob, tag).await, 404);
    }
    assert_eq!(withdraw_raw(app, &bob, &"5a".repeat(32)).await, 404);
    assert_eq!(withdraw_raw(app, &bob, "not hex").await, 422);
    assert_eq!(withdraw_raw(app, &bob, &"5a".repeat(33)).await, 422);
    assert_eq!(stored_tags(app).await, sorted, "nothing was withdrawn");
    // Too many tags in one question is refused, not answered in part.
    let many: Vec<String> = (0..=porchlight_client::proto::MAX_MATCH_TAGS)
        .map(|i| format!("{:064x}", i))
        .collect();
    assert_eq!(
        code_of(bob.client().research_tags_present(&many).await),
        ErrorCode::InvalidInput
    );

    // Ann still finds both on her device and withdraws one with the key it computes.
    let mine = research::my_items(ann.client(), &ann.device).await.unwrap();
    assert_eq!(mine.len(), 2);
    research::withdraw_item(ann.client(), &porch.id, &ann.device)
        .await
        .unwrap();
    assert_eq!(stored_tags(app).await, [tags[1].clone()]);
    let mine = research::my_items(ann.client(), &ann.device).await.unwrap();
    assert_eq!(
        mine.iter().map(|m| m.clip_id.as_str()).collect::<Vec<_>>(),
        [garden.id.as_str()]
    );
    // A key withdraws once.
    assert_eq!(withdraw_raw(app, &ann, &key_hex[0]).await, 404);
}

both_backends!(
    items_stored_by_key_are_hashed_into_tags_at_start,
    items_stored_by_key_are_hashed_into_tags_at_start,
    crate::research::research_on
);
/// Items stored before withdrawal tags kept the key itself; migration 0010 marks them
/// `key:` and the server hashes each into its tag as it starts, so the owner still withdraws
/// them and no key stays in the database.
async fn items_stored_by_key_are_hashed_into_tags_at_start(app: &TestApp) {
    let key = porchlight_crypto::WithdrawalKey::from_bytes([7; 32]);
    let pool = app.server.state.store.pool_for_tests();
    sqlx::query(
        "INSERT INTO research_items (id, withdrawal_tag, day, size_bytes) VALUES ($1, $2, $3, $4)",
    )
    .bind("legacy-item")
    .bind(format!("key:{}", *key.to_hex()))
    .bind("2026-01-01")
    .bind(10_i64)
    .execute(pool)
    .await
    .unwrap();
    let store = &app.server.state.store;
    let converted = porchlight_server::routes::research::tag_items_stored_by_key(store)
        .await
        .unwrap();
    assert_eq!(converted, 1);
    assert_eq!(stored_tags(app).await, [key.tag().to_hex()]);
    // Run again (a second node starting): nothing left to do.
    assert_eq!(
        porchlight_server::routes::research::tag_items_stored_by_key(store)
            .await
            .unwrap(),
        0
    );
    let ann = owner(app, "ann@example.com").await;
    assert_eq!(withdraw_raw(app, &ann, &key.tag().to_hex()).await, 404);
    assert_eq!(withdraw_raw(app, &ann, &key.to_hex()).await, 204);
    assert!(stored_tags(app).await.is_empty());
}
