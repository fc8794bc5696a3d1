//! End-to-end encryption through the binary: sign-up makes the device's keys and the chain,
//! `pair` and `hub pair` run side by side as processes, `hub upload` seals a real fMP4, and
//! the clip comes back through `clips get`, `clips export` and Debian's `age`. Then what the
//! server cannot do: add a ghost device or roll the chain back (by writing to its database
//! directly), pair a hub of its own; and what re-wrapping and the recovery code do.
//!
//! Each test has its own server and one account (Argon2 is the slow part); second devices
//! sign in with the account's one-time recovery codes so no TOTP code is ever reused.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use porchlight_client::crypto::{
    ChainOp, DeviceSecret, HubSecret, Link, LinkHash, Name, PairingCode, RecoveryKey,
};
use porchlight_client::proto::HubPairRequest;
use porchlight_client::{Client, DeviceId};
use serde_json::Value;

use super::{BIN, PASSWORD, Server, cli, code, json, now_secs, serve_with};

const AGE: &str = "/usr/bin/age";

pub(super) fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample.mp4")
}

/// A server whose per-address sign-in allowance does not get in the way: every process in
/// these tests (hubs included) comes from 127.0.0.1.
pub(super) fn server(dir: &Path) -> Server {
    serve_with(
        &dir.join("data"),
        &[("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000")],
    )
}

/// The database file of the server whose data folder is in `dir`.
pub(super) fn database(dir: &Path) -> PathBuf {
    dir.join("data").join("porchlight.db")
}

/// An account's first device, signed up and confirmed in `home`.
pub(super) struct Owner {
    pub(super) home: PathBuf,
    email: String,
    pub(super) account_id: String,
    /// One-time sign-in codes (second factor), for signing in other devices.
    signin_codes: Vec<String>,
    /// The key recovery code shown once at sign-up.
    key_recovery_code: String,
}

pub(super) fn sign_up(server: &Server, home: &Path, email: &str) -> Owner {
    let started = json(&cli(
        server,
        home,
        &["--json", "signup", "--email", email, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    ));
    let secret = started["totp_secret"].as_str().unwrap().to_owned();
    let confirmed = cli(
        server,
        home,
        &["--json", "totp", "confirm", &code(&secret, now_secs())],
        "",
    );
    // The code's warning goes to stderr, the code itself into the JSON.
    assert!(
        String::from_utf8_lossy(&confirmed.stderr).contains("KEY RECOVERY CODE"),
        "{}",
        String::from_utf8_lossy(&confirmed.stderr)
    );
    let confirmed = json(&confirmed);
    assert_eq!(confirmed["device_state"], "active");
    assert_eq!(confirmed["chain"]["length"], 1);
    assert_eq!(confirmed["chain_pinned_now"], true);
    let key_recovery_code = confirmed["key_recovery_code"].as_str().unwrap().to_owned();
    assert!(RecoveryKey::from_code(&key_recovery_code).is_ok());
    Owner {
        home: home.to_owned(),
        email: email.to_owned(),
        account_id: confirmed["account_id"].as_str().unwrap().to_owned(),
        signin_codes: serde_json::from_value(started["recovery_codes"].clone()).unwrap(),
        key_recovery_code,
    }
}

/// Signs another device of `owner`'s account in on `home`; it is pending.
fn sign_in_another(server: &Server, owner: &Owner, home: &Path, code_index: usize) -> Value {
    let answer = json(&cli(
        server,
        home,
        &[
            "--json",
            "login",
            "--email",
            &owner.email,
            "--password-stdin",
            "--recovery-code-stdin",
            "--device-name",
            &format!("device {code_index}"),
        ],
        &format!("{PASSWORD}\n{}\n", owner.signin_codes[code_index]),
    ));
    assert_eq!(answer["device_state"], "pending");
    assert_eq!(answer["chain_pinned_now"], true);
    assert!(answer.get("key_recovery_code").is_none());
    answer
}

/// A failed command: exit 1, nothing on stdout; returns stderr.
pub(super) fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a failure; stdout: {} stderr: {stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// A hub command (no --server, no --home: the state folder holds everything).
pub(super) fn hub(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub(super) fn upload(state: &Path, camera: &str, file: &Path) -> Value {
    json(&hub(&[
        "--json",
        "hub",
        "upload",
        "--state",
        state.to_str().unwrap(),
        "--camera",
        camera,
        "--duration-ms",
        "3000",
        file.to_str().unwrap(),
    ]))
}

/// `pair` on the owner's device and `hub pair` on the hub, as two processes at once: the hub
/// gets the code from the first line `pair --json` prints.
pub(super) fn pair_hub(server: &Server, owner: &Path, state: &Path, name: &str) -> (Value, Value) {
    let (pair, code) = start_pairing(server, owner, name);
    let paired = json(&hub(&[
        "--json",
        "hub",
        "pair",
        &code,
        "--state",
        state.to_str().unwrap(),
        "--timeout",
        "60",
    ]));
    let signed = pair.finish();
    assert!(signed.0.success(), "pair failed: {}", signed.2);
    let signed: Value = serde_json::from_str(signed.1.trim()).unwrap();
    (signed, paired)
}

/// A running `pair --json` whose first line (the code) has been read.
struct Pairing {
    child: std::process::Child,
    stdout: BufReader<std::process::ChildStdout>,
    stderr: std::thread::JoinHandle<String>,
}

impl Pairing {
    /// Waits for the command to end: its status, the rest of stdout, and stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        (status, rest, self.stderr.join().unwrap())
    }
}

fn start_pairing(server: &Server, owner: &Path, name: &str) -> (Pairing, String) {
    let mut child = Command::new(BIN)
        .args(["--server", &server.url, "--home"])
        .arg(owner)
        .args(["--json", "pair", "--name", name, "--timeout", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let shown: Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("first line of pair is not JSON ({e}): {first:?}"));
    assert_eq!(shown["name"], name);
    let code = shown["code"].as_str().unwrap().to_owned();
    (
        Pairing {
            child,
            stdout,
            stderr,
        },
        code,
    )
}

pub(super) fn clip_ids(server: &Server, home: &Path) -> Vec<String> {
    json(&cli(server, home, &["--json", "clips", "list"], ""))["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `clips get`, checked against the original bytes; returns the command's answer.
fn get_clip(server: &Server, home: &Path, id: &str, original: &[u8]) -> Value {
    let out = home.join(format!("{id}.mp4"));
    let got = json(&cli(
        server,
        home,
        &["--json", "clips", "get", id, "-o", out.to_str().unwrap()],
        "",
    ));
    assert!(
        std::fs::read(&out).unwrap() == original,
        "the clip's bytes differ"
    );
    got
}

fn export_identity(server: &Server, home: &Path, to: &Path) {
    let out = cli(server, home, &["identity", "export"], "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("AGE-SECRET-KEY-1"));
    std::fs::write(to, &out.stdout).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn have_age() -> bool {
    let present = Path::new(AGE).exists();
    if !present {
        eprintln!("{AGE} is not installed: skipping the interop checks with Go age");
    }
    present
}

/// Runs a future on a fresh runtime (tests talk to the server directly only to play the
/// attacker).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs SQL against the server's database behind its back, as an attacker with the disk.
pub(super) fn tamper(db: &Path, f: impl AsyncFnOnce(&mut sqlx::SqliteConnection)) {
    use sqlx::Connection;
    block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        f(&mut conn).await;
        conn.close().await.unwrap();
    });
}

/// The account's last chain row: `(seq, link bytes, hash)`.
fn last_link(db: &Path, account: &str) -> (i64, Vec<u8>, Vec<u8>) {
    let mut row = None;
    tamper(db, async |conn| {
        row = Some(
            sqlx::query_as::<_, (i64, Vec<u8>, Vec<u8>)>(
                "SELECT seq, link, hash FROM chain_links WHERE account_id = ? \
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(account)
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        );
    });
    row.unwrap()
}

fn insert_link(db: &Path, account: &str, seq: i64, link: &[u8], hash: &[u8]) {
    tamper(db, async |conn| {
        sqlx::query(
            "INSERT INTO chain_links (account_id, seq, link, hash, added_at_ms) \
             VALUES (?, ?, ?, ?, 0)",
        )
        .bind(account)
        .bind(seq)
        .bind(link)
        .bind(hash)
        .execute(&mut *conn)
        .await
        .unwrap();
    });
}

fn delete_link(db: &Path, account: &str, seq: i64) {
    tamper(db, async |conn| {
        sqlx::query("DELETE FROM chain_links WHERE account_id = ? AND seq = ?")
            .bind(account)
            .bind(seq)
            .execute(&mut *conn)
            .await
            .unwrap();
    });
}

#[test]
fn pair_upload_get_export_and_open_with_age() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let owner = sign_up(&server, &dir.path().join("owner"), "eve@example.com");
    for name in ["device.key", "chain.json", "session.json", "device-id"] {
        assert_eq!(mode(&owner.home.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode(&owner.home), 0o700);

    let state = dir.path().join("hub");
    let (signed, paired) = pair_hub(&server, &owner.home, &state, "porch");
    assert_eq!(signed["hub_id"], paired["hub_id"]);
    assert_eq!(signed["chain"]["length"], 2);
    assert_eq!(paired["root"], signed["chain"]["root"]);
    assert_eq!(mode(&state), 0o700);
    for name in ["hub.key", "hub.json", "token.json"] {
        assert_eq!(mode(&state.join(name)), 0o600, "{name}");
    }

    let original = std::fs::read(sample()).unwrap();
    let uploaded = upload(&state, "front door", &sample());
    assert_eq!(uploaded["created"], true);
    assert_eq!(
        uploaded["recipients"], 2,
        "the owner's device and the recovery key"
    );
    let id = uploaded["clip_id"].as_str().unwrap().to_owned();
    let spooled: Vec<_> = std::fs::read_dir(state.join("spool")).unwrap().collect();
    assert!(spooled.is_empty(), "the spool is emptied after upload");

    let listed = json(&cli(
        &server,
        &owner.home,
        &["--json", "clips", "list", "--camera", "front door"],
        "",
    ));
    let clips = listed["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 1);
    assert_eq!(clips[0]["id"], id.as_str());
    assert_eq!(clips[0]["duration_ms"], 3000);
    let none = json(&cli(
        &server,
        &owner.home,
        &["--json", "clips", "list", "--camera", "back yard"],
        "",
    ));
    assert!(none["clips"].as_array().unwrap().is_empty());

    let got = get_clip(&server, &owner.home, &id, &original);
    assert_eq!(got["camera"], "front door");
    assert_eq!(got["hub"], "porch");
    assert_eq!(got["recipients"], 2);

    // Export: standard age files and an index.
    let exported = dir.path().join("export");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "clips",
            "export",
            "--out",
            exported.to_str().unwrap(),
        ],
        "",
    ));
    let index: Value =
        serde_json::from_slice(&std::fs::read(exported.join("index.json")).unwrap()).unwrap();
    let entry = &index["clips"][0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["camera"], "front door");
    assert_eq!(entry["duration_ms"], 3000);
    let age_file = exported.join(format!("{id}.age"));
    let age_bytes = std::fs::read(&age_file).unwrap();
    assert!(age_bytes.starts_with(b"age-encryption.org/v1\n"));
    assert_eq!(
        entry["sha256"].as_str().unwrap(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&age_bytes))
    );

    // `open` opens an exported clip with this device's key; a damaged one is refused.
    let opened = dir.path().join("opened.mp4");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "open",
            age_file.to_str().unwrap(),
            "-o",
            opened.to_str().unwrap(),
        ],
        "",
    ));
    assert_eq!(std::fs::read(&opened).unwrap(), original);
    let damaged = dir.path().join("damaged.age");
    let mut bytes = age_bytes.clone();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(&damaged, bytes).unwrap();
    let refused = cli(
        &server,
        &owner.home,
        &[
            "open",
            damaged.to_str().unwrap(),
            "-o",
            dir.path().join("never").to_str().unwrap(),
        ],
        "",
    );
    // The user's own file, damaged: said to be a damaged age file, not an untrusted clip.
    let said = failure(&refused);
    assert!(said.contains("age_file_invalid"), "{said}");
    assert!(said.contains("damaged"), "{said}");
    assert!(!said.contains("hub"), "{said}");
    assert!(!dir.path().join("never").exists(), "no partial plaintext");

    if !have_age() {
        return;
    }
    let identity = dir.path().join("identity.txt");
    export_identity(&server, &owner.home, &identity);
    let decrypted = Command::new(AGE)
        .args(["-d", "-i"])
        .arg(&identity)
        .arg(&age_file)
        .output()
        .unwrap();
    assert!(decrypted.status.success(), "{decrypted:?}");
    assert!(decrypted.stdout == original, "age -d gives the original");

    // A file sealed by `age -r` to this device opens with the client.
    let recipient = json(&cli(
        &server,
        &owner.home,
        &["--json", "identity", "export"],
        "",
    ))["recipient"]
        .as_str()
        .unwrap()
        .to_owned();
    let sealed = dir.path().join("by-age.age");
    let status = Command::new(AGE)
        .args(["-r", &recipient, "-o"])
        .arg(&sealed)
        .arg(sample())
        .status()
        .unwrap();
    assert!(status.success());
    let opened = dir.path().join("by-age.mp4");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "open",
            sealed.to_str().unwrap(),
            "-o",
            opened.to_str().unwrap(),
        ],
        "",
    ));
    assert_eq!(std::fs::read(&opened).unwrap(), original);

    // Armored (`age -a`), as a user might keep or mail it: it opens the same.
    let armored = dir.path().join("by-age-armored.age");
    let status = Command::new(AGE)
        .args(["-a", "-r", &recipient, "-o"])
        .arg(&armored)
        .arg(sample())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        std::fs::read(&armored)
            .unwrap()
            .starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    );
    let opened = dir.path().join("by-age-armored.mp4");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "open",
            armored.to_str().unwrap(),
            "-o",
            opened.to_str().unwrap(),
        ],
        "",
    ));
    assert_eq!(std::fs::read(&opened).unwrap(), original);

    // One sealed to a stranger's key is "not a recipient", not a crash.
    let stranger = DeviceSecret::generate();
    let foreign = dir.path().join("foreign.age");
    let status = Command::new(AGE)
        .args(["-r", &stranger.public().age_string(), "-o"])
        .arg(&foreign)
        .arg(sample())
        .status()
        .unwrap();
    assert!(status.success());
    let refused = cli(
        &server,
        &owner.home,
        &[
            "open",
            foreign.to_str().unwrap(),
            "-o",
            dir.path().join("never").to_str().unwrap(),
        ],
        "",
    );
    assert!(failure(&refused).contains("not_a_recipient"));
}

#[test]
fn ghost_devices_rollbacks_and_impostor_hubs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let owner = sign_up(&server, &dir.path().join("owner"), "gus@example.com");
    let db = database(dir.path());

    // A hub of the server's (or anyone's) choosing redeems the code first: it cannot prove it
    // holds the code's secret, and the owner's device refuses to sign it in.
    let (pairing, code) = start_pairing(&server, &owner.home, "porch");
    let parsed = PairingCode::parse(&code).unwrap();
    let impostor = HubSecret::generate();
    block_on(async {
        Client::new(&server.url, DeviceId::generate())
            .unwrap()
            .hub_pair(&HubPairRequest {
                verifier: hex::encode(parsed.secret().verifier()),
                hub_key: impostor.public().to_hex(),
                proof: hex::encode([7u8; 32]),
            })
            .await
            .unwrap();
    });
    let (status, stdout, stderr) = pairing.finish();
    assert_eq!(status.code(), Some(1), "{stdout} {stderr}");
    assert!(stderr.contains("pairing_proof_invalid"), "{stderr}");
    let devices = json(&cli(&server, &owner.home, &["--json", "devices"], ""));
    assert_eq!(devices["chain"]["length"], 1, "no hub was signed in");

    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");
    let sample = sample();
    upload(&state, "porch cam", &sample);
    // The owner's device has seen the head too.
    json(&cli(&server, &owner.home, &["--json", "devices"], ""));

    // A ghost device: a well-formed AddDevice link, signed by a key the owner never added.
    let (seq, _, head) = last_link(&db, &owner.account_id);
    let ghost = DeviceSecret::generate();
    let link = Link::sign(
        u64::try_from(seq + 1).unwrap(),
        LinkHash::from_bytes(head.try_into().unwrap()),
        ChainOp::AddDevice {
            name: Name::new("definitely the owner").unwrap(),
            device: ghost.public(),
        },
        &ghost,
    );
    insert_link(
        &db,
        &owner.account_id,
        seq + 1,
        &link.to_bytes(),
        link.hash().as_bytes(),
    );
    let refused = failure(&hub(&[
        "hub",
        "upload",
        "--state",
        state.to_str().unwrap(),
        "--camera",
        "porch cam",
        sample.to_str().unwrap(),
    ]));
    assert!(refused.contains("SignerNotMember"), "{refused}");
    assert!(refused.contains("chain_invalid"), "{refused}");
    for args in [&["clips", "list"][..], &["devices"]] {
        let refused = failure(&cli(&server, &owner.home, args, ""));
        assert!(refused.contains("SignerNotMember"), "{args:?}: {refused}");
    }
    let refused = failure(&cli(&server, &owner.home, &["--json", "devices"], ""));
    let refused: Value = serde_json::from_str(refused.trim()).unwrap();
    assert_eq!(refused["error"]["code"], "chain_invalid");
    let spooled = std::fs::read_dir(state.join("spool")).unwrap().count();
    assert_eq!(spooled, 0, "nothing was sealed to the ghost");

    // Without the ghost, all is well again.
    delete_link(&db, &owner.account_id, seq + 1);
    upload(&state, "porch cam", &sample);
    json(&cli(&server, &owner.home, &["--json", "clips", "list"], ""));

    // A rollback: the server serves the chain without its last link (the hub's AddHub), a
    // link both the hub and the owner's device have seen.
    let (seq, link, hash) = last_link(&db, &owner.account_id);
    delete_link(&db, &owner.account_id, seq);
    let refused = failure(&hub(&[
        "hub",
        "upload",
        "--state",
        state.to_str().unwrap(),
        "--camera",
        "porch cam",
        sample.to_str().unwrap(),
    ]));
    assert!(refused.contains("Rollback"), "{refused}");
    for args in [&["clips", "list"][..], &["devices"]] {
        let refused = failure(&cli(&server, &owner.home, args, ""));
        assert!(refused.contains("Rollback"), "{args:?}: {refused}");
        assert!(refused.contains("chain_invalid"), "{args:?}: {refused}");
    }

    // Put back, the chain verifies again.
    insert_link(&db, &owner.account_id, seq, &link, &hash);
    upload(&state, "porch cam", &sample);
    assert_eq!(clip_ids(&server, &owner.home).len(), 3);
}

#[test]
fn rewrap_follows_approval_and_removal_and_the_recovery_code_opens_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let owner = sign_up(&server, &dir.path().join("owner"), "ida@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");
    let original = std::fs::read(sample()).unwrap();
    let old = upload(&state, "front door", &sample())["clip_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A second device signs in: pending, so the server does not even hand it clips.
    let second = dir.path().join("second");
    let joined = sign_in_another(&server, &owner, &second, 0);
    let refused = failure(&cli(
        &server,
        &second,
        &[
            "clips",
            "get",
            &old,
            "-o",
            second.join("x").to_str().unwrap(),
        ],
        "",
    ));
    assert!(refused.contains("device_not_approved"), "{refused}");

    // A wrong fingerprint is refused; the right one approves, and the old clip is re-wrapped.
    let id = joined["device_id"].as_str().unwrap();
    let fingerprint = joined["fingerprint"].as_str().unwrap();
    let refused = failure(&cli(
        &server,
        &owner.home,
        &[
            "devices",
            "approve",
            id,
            "--fingerprint",
            "0000-0000-0000-0000-0000",
        ],
        "",
    ));
    assert!(refused.contains("fingerprint_mismatch"), "{refused}");
    let approved = json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "devices",
            "approve",
            id,
            "--fingerprint",
            fingerprint,
        ],
        "",
    ));
    assert_eq!(approved["rewrapped"], 1);
    let got = get_clip(&server, &second, &old, &original);
    assert_eq!(got["recipients"], 3, "owner, second device, recovery key");
    let listed = json(&cli(&server, &second, &["--json", "devices"], ""));
    let me = listed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["current"] == true)
        .unwrap()
        .clone();
    assert_eq!(me["in_chain"], true);
    assert_eq!(me["state"], "active");
    let second_identity = dir.path().join("second.identity");
    export_identity(&server, &second, &second_identity);

    // Removed: the stored clip no longer names it, and new clips do not either.
    let removed = json(&cli(
        &server,
        &owner.home,
        &["--json", "devices", "remove", id],
        "",
    ));
    assert_eq!(removed["rewrapped"], 1);
    let got = get_clip(&server, &owner.home, &old, &original);
    assert_eq!(got["recipients"], 2);
    let new = upload(&state, "front door", &sample());
    assert_eq!(new["recipients"], 2);
    let new = new["clip_id"].as_str().unwrap().to_owned();
    let refused = failure(&cli(
        &server,
        &second,
        &[
            "clips",
            "get",
            &old,
            "-o",
            second.join("x").to_str().unwrap(),
        ],
        "",
    ));
    assert!(
        refused.contains("unauthenticated"),
        "its session ended: {refused}"
    );
    let exported = dir.path().join("export");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "clips",
            "export",
            "--out",
            exported.to_str().unwrap(),
        ],
        "",
    ));
    for clip in [&old, &new] {
        let file = exported.join(format!("{clip}.age"));
        let refused = failure(&cli(
            &server,
            &second,
            &[
                "open",
                file.to_str().unwrap(),
                "-o",
                second.join("x").to_str().unwrap(),
            ],
            "",
        ));
        assert!(refused.contains("not_a_recipient"), "{refused}");
        if have_age() {
            let out = Command::new(AGE)
                .args(["-d", "-i"])
                .arg(&second_identity)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                !out.status.success(),
                "age must not open it with the removed key"
            );
        }
    }

    // A third device restores with the key recovery code: after a wrong code is refused, the
    // right one brings it in and every clip opens for it.
    let third = dir.path().join("third");
    sign_in_another(&server, &owner, &third, 1);
    let (_, someone_elses) = RecoveryKey::generate();
    let refused = failure(&cli(
        &server,
        &third,
        &["recovery", "restore"],
        &format!("{}\n", someone_elses.expose()),
    ));
    assert!(refused.contains("recovery_key_mismatch"), "{refused}");
    let typo = cli(&server, &third, &["recovery", "restore"], "not-a-code\n");
    assert_eq!(typo.status.code(), Some(2));
    let restored = json(&cli(
        &server,
        &third,
        &["--json", "recovery", "restore"],
        &format!("{}\n", owner.key_recovery_code),
    ));
    assert_eq!(restored["rewrapped"], 2);
    for clip in clip_ids(&server, &third) {
        let got = get_clip(&server, &third, &clip, &original);
        assert_eq!(got["recipients"], 3, "owner, third device, recovery key");
    }
    // And the owner's device, which pinned the chain first, still verifies it.
    get_clip(&server, &owner.home, &new, &original);
}

/// Zero plaintext at rest, with real processes: a clip carrying a known 64-byte marker is
/// uploaded by the hub and opened by the owner; then every byte the server stored (the
/// database and its WAL, the blob folder, the server secret) and every line the server
/// logged at debug level is searched for the marker.
#[test]
fn no_plaintext_at_rest_or_in_the_logs() {
    const MARKER: &[u8; 64] = b"PORCHLIGHT-CLI-PLAINTEXT-MARKER-0123456789-abcdefghijklmnopqrstu";
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with(
        &dir.path().join("data"),
        &[
            ("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000"),
            ("PORCHLIGHT_LOG_FILTER", "debug"),
        ],
    );
    let owner = sign_up(&server, &dir.path().join("owner"), "mo@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");

    // The real sample with the marker spliced into its middle, several times over.
    let mut footage = std::fs::read(sample()).unwrap();
    for at in [100, footage.len() / 2, footage.len() - 200] {
        footage.splice(at..at, MARKER.iter().copied());
    }
    let input = dir.path().join("marked.mp4");
    std::fs::write(&input, &footage).unwrap();
    let uploaded = upload(&state, "front door", &input);
    let id = uploaded["clip_id"].as_str().unwrap().to_owned();
    get_clip(&server, &owner.home, &id, &footage);

    let found_in = |bytes: &[u8]| bytes.windows(MARKER.len()).any(|w| w == MARKER);
    let mut scanned = 0;
    let mut stack = vec![dir.path().join("data")];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            assert!(!found_in(&bytes), "plaintext in {}", path.display());
        }
    }
    assert!(scanned > footage.len(), "scanned only {scanned} bytes");
    let lines: Vec<String> = server.log.try_iter().collect();
    assert!(
        lines.len() > 10,
        "the server logged only {} lines",
        lines.len()
    );
    let log = lines.join("\n");
    assert!(!found_in(log.as_bytes()), "plaintext in the server's log");
    // Nor the marker in any encoding a log might use.
    let hex_marker = hex::encode(MARKER);
    assert!(!log.contains(&hex_marker) && !log.contains("PLAINTEXT-MARKER"));
}
