//! Listings check every clip (issue 15): a file sealed by Go `age -r` to the account's real
//! recipients and slipped into the store as a row copied from a real clip — its blob in the
//! blob folder, its statement signed by a key no hub of the chain holds — is left out of
//! `clips list` and named below it with the reason, and set apart in `clips list --json` as
//! `unverified` with `"verified": false` and the refusal's code and reason, while the real
//! clip is still listed, verified. `clips get` refuses the planted clip with the same reason.

use std::path::Path;
use std::process::Command;

use porchlight_client::crypto::{ClipStatement, HubSecret, sign_clip};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::e2e::{database, failure, pair_hub, sample, server, sign_up, tamper, upload};
use super::{cli, json};

const AGE: &str = "/usr/bin/age";

/// The real clip's row, as the attacker reads it from the database.
struct Row {
    account_id: String,
    camera_id: String,
    hub_id: String,
    start_ms: i64,
    duration_ms: i64,
}

fn read_row(db: &Path, id: &str) -> Row {
    let mut row = None;
    tamper(db, async |conn| {
        let (account_id, camera_id, hub_id, start_ms, duration_ms) =
            sqlx::query_as::<_, (String, String, String, i64, i64)>(
                "SELECT account_id, camera_id, hub_id, start_ms, duration_ms FROM clips \
                 WHERE id = ?",
            )
            .bind(id)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        row = Some(Row {
            account_id,
            camera_id,
            hub_id,
            start_ms,
            duration_ms,
        });
    });
    row.unwrap()
}

/// Where the folder blob store keeps `id`: two fan-out levels by the key's SHA-256.
fn blob_path(blobs: &Path, id: &str) -> std::path::PathBuf {
    let hash = Sha256::digest(id.as_bytes());
    blobs
        .join(format!("{:02x}", hash[0]))
        .join(format!("{:02x}", hash[1]))
        .join(id)
}

/// An age file split as the server stores it: the header through the `---` line, the payload.
fn split_age(file: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut at = 0;
    for line in file.split_inclusive(|b| *b == b'\n') {
        at += line.len();
        if line.starts_with(b"--- ") {
            break;
        }
    }
    (file[..at].to_vec(), file[at..].to_vec())
}

struct Plant<'a> {
    id: &'a str,
    /// The hub row the planted clip names (the listing shows that hub's key).
    hub_id: &'a str,
    start_ms: i64,
    signer: &'a HubSecret,
}

/// Inserts a clip row copied from `real`, with the `age -r` file's header and payload (the
/// payload into the blob folder) and a statement for it signed by `plant.signer`.
fn plant(dir: &Path, real: &Row, sealed: &[u8], plant: &Plant<'_>) {
    let (header, payload) = split_age(sealed);
    let payload_sha256: [u8; 32] = Sha256::digest(&payload).into();
    let statement = ClipStatement::new(
        "front door",
        plant.start_ms,
        u64::try_from(real.duration_ms).unwrap(),
        payload_sha256,
        [0; 32],
    )
    .unwrap();
    let signature = sign_clip(&statement, plant.signer);
    let blob = blob_path(&dir.join("data").join("blobs"), plant.id);
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, &payload).unwrap();
    tamper(&database(dir), async |conn| {
        sqlx::query(
            "INSERT INTO clips (id, account_id, camera_id, hub_id, upload_key, start_ms, \
             duration_ms, payload_size, payload_sha256, header, statement, signature, \
             created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        )
        .bind(plant.id)
        .bind(&real.account_id)
        .bind(&real.camera_id)
        .bind(plant.hub_id)
        .bind(format!("planted-{}", plant.id))
        .bind(plant.start_ms)
        .bind(real.duration_ms)
        .bind(i64::try_from(payload.len()).unwrap())
        .bind(payload_sha256.to_vec())
        .bind(header)
        .bind(statement.to_bytes())
        .bind(signature.to_bytes().to_vec())
        .execute(&mut *conn)
        .await
        .unwrap();
    });
}

fn entry<'v>(list: &'v [Value], id: &str) -> &'v Value {
    list.iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list:?}"))
}

#[test]
fn planted_clips_are_left_out_of_listings_and_named_with_why() {
    if !Path::new(AGE).exists() {
        eprintln!("{AGE} is not installed: skipping the planted-clip listing test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let owner = sign_up(&server, &dir.path().join("owner"), "pat@example.com");
    pair_hub(&server, &owner.home, &dir.path().join("hub"), "porch");
    let real_id = upload(&dir.path().join("hub"), "front door", &sample())["clip_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = database(dir.path());
    let real = read_row(&db, &real_id);
    assert!(
        blob_path(&dir.path().join("data").join("blobs"), &real_id).exists(),
        "the test puts planted blobs where the server keeps real ones"
    );

    // Sealed with Go age to every key the account's clips are sealed to.
    let devices = json(&cli(&server, &owner.home, &["--json", "devices"], ""));
    let mut age = Command::new(AGE);
    for device in devices["devices"].as_array().unwrap() {
        if device["in_chain"] == true {
            age.args(["-r", device["age_recipient"].as_str().unwrap()]);
        }
    }
    let sealed_path = dir.path().join("planted.age");
    let status = age
        .arg("-o")
        .arg(&sealed_path)
        .arg(sample())
        .status()
        .unwrap();
    assert!(status.success());
    let sealed = std::fs::read(&sealed_path).unwrap();

    // One names a hub the server added for a key of its own; one names the real hub but is
    // signed by another key.
    let impostor = HubSecret::generate();
    tamper(&db, async |conn| {
        sqlx::query(
            "INSERT INTO hubs (id, account_id, hub_key, name, state, created_at_ms) \
             VALUES ('feedfacefeedfacefeedfacefeedface', ?, ?, 'porch', 'active', 0)",
        )
        .bind(&real.account_id)
        .bind(impostor.public().as_bytes().to_vec())
        .execute(&mut *conn)
        .await
        .unwrap();
    });
    let foreign = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
    let forged = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2";
    plant(
        dir.path(),
        &real,
        &sealed,
        &Plant {
            id: foreign,
            hub_id: "feedfacefeedfacefeedfacefeedface",
            start_ms: real.start_ms + 1_000,
            signer: &impostor,
        },
    );
    plant(
        dir.path(),
        &real,
        &sealed,
        &Plant {
            id: forged,
            hub_id: &real.hub_id,
            start_ms: real.start_ms + 2_000,
            signer: &impostor,
        },
    );

    // The planted file really is openable by the account: only the statement gives it away.
    let opened = dir.path().join("planted.mp4");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "open",
            sealed_path.to_str().unwrap(),
            "-o",
            opened.to_str().unwrap(),
        ],
        "",
    ));

    // --json: `clips` holds the real clip only, verified; `unverified` the planted ones, why.
    let listed = json(&cli(&server, &owner.home, &["--json", "clips", "list"], ""));
    let clips = listed["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 1, "{listed}");
    assert_eq!(clips[0]["id"], real_id.as_str());
    assert_eq!(clips[0]["verified"], true);
    assert_eq!(clips[0]["hub"], "porch");
    let unverified = listed["unverified"].as_array().unwrap();
    assert_eq!(unverified.len(), 2, "{listed}");
    let not_ours = entry(unverified, foreign);
    assert_eq!(not_ours["verified"], false);
    assert_eq!(not_ours["refused"]["code"], "not_signed_by_chain_hub");
    assert_eq!(
        not_ours["refused"]["reason"],
        "it is not signed by a hub of your device chain"
    );
    let bad = entry(unverified, forged);
    assert_eq!(bad["verified"], false);
    assert_eq!(bad["refused"]["code"], "bad_signature");
    assert_eq!(
        bad["refused"]["reason"],
        "the hub's signature does not verify"
    );

    // Human: the table lists the real clip; the planted ones are named below it, with why,
    // and the command still succeeds.
    let human = cli(&server, &owner.home, &["clips", "list"], "");
    assert!(human.status.success(), "{human:?}");
    let text = String::from_utf8_lossy(&human.stdout);
    let (table, below) = text
        .split_once("Not shown — 2 clips failed verification")
        .unwrap_or_else(|| panic!("no refusal section:\n{text}"));
    assert!(table.contains(&real_id), "{text}");
    assert!(
        !table.contains(foreign) && !table.contains(forged),
        "{text}"
    );
    let line = |id: &str| {
        below
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not named:\n{text}"))
            .to_owned()
    };
    assert!(
        line(foreign).ends_with("it is not signed by a hub of your device chain"),
        "{text}"
    );
    assert!(
        line(forged).ends_with("the hub's signature does not verify"),
        "{text}"
    );

    // Shared with another account (a share row inserted beside a real share), the planted clip
    // is set apart from that account's `shared list` too, checked under the owner's chain.
    let sam = sign_up(&server, &dir.path().join("sam"), "sam@example.com");
    let sam_root = json(&cli(
        &server,
        &sam.home,
        &["--json", "identity", "root"],
        "",
    ))["root"]
        .as_str()
        .unwrap()
        .to_owned();
    json(&cli(
        &server,
        &owner.home,
        &["--json", "share", &real_id, "--with", &sam_root],
        "",
    ));
    tamper(&db, async |conn| {
        sqlx::query(
            "INSERT INTO clip_shares (id, clip_id, sharee_account_id, header, created_at_ms) \
             SELECT 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1', id, ?, header, 0 FROM clips WHERE id = ?",
        )
        .bind(&sam.account_id)
        .bind(foreign)
        .execute(&mut *conn)
        .await
        .unwrap();
    });
    let shared = json(&cli(&server, &sam.home, &["--json", "shared", "list"], ""));
    let shown = shared["clips"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{shared}");
    assert_eq!(shown[0]["verified"], true);
    assert_eq!(shown[0]["hub"], "porch");
    let set_apart = shared["unverified"].as_array().unwrap();
    assert_eq!(set_apart.len(), 1, "{shared}");
    assert_eq!(set_apart[0]["share_id"], "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1");
    assert_eq!(set_apart[0]["refused"]["code"], "not_signed_by_chain_hub");
    let human = cli(&server, &sam.home, &["shared", "list"], "");
    assert!(human.status.success(), "{human:?}");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("Not shown — 1 clip failed verification")
            && text.contains("it is not signed by a hub of its owner's device chain"),
        "{text}"
    );

    // Opening it is refused with the same reason; the real clip still opens.
    let refused = failure(&cli(
        &server,
        &owner.home,
        &[
            "clips",
            "get",
            foreign,
            "-o",
            dir.path().join("never.mp4").to_str().unwrap(),
        ],
        "",
    ));
    assert!(refused.contains("clip_unverified"), "{refused}");
    assert!(
        refused.contains("not signed by a hub of your device chain"),
        "{refused}"
    );
    assert!(!dir.path().join("never.mp4").exists());
    let out = dir.path().join("real.mp4");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "clips",
            "get",
            &real_id,
            "-o",
            out.to_str().unwrap(),
        ],
        "",
    ));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(sample()).unwrap()
    );
}
