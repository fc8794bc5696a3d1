//! `porchlight access-log` and `access-log verify` against a real server process: an honest
//! log verifies, and grows consistently from the checkpoint a home kept; then the server's
//! database is tampered with behind its back — an entry's body or salt edited, two entries
//! swapped, one deleted, one made up, a Merkle node deleted, the latest checkpoint replaced
//! (with and without the log's own key, which sits in the data folder) — 30 times, each on a
//! fresh copy of the good data folder and home, with a seeded RNG choosing the operation and
//! the row, and verification fails every time naming what is wrong.
//!
//! One account and one good log serve every round (Argon2 is the slow part); a round costs
//! a server start on the copied folder and one `access-log verify`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use porchlight_client::tlog::{self, Checkpoint, KeyName, NoteSigner, SigningKey};
use serde_json::Value;

use super::{PASSWORD, Server, cli, code, json, now_secs, serve_with};

const ROUNDS: u64 = 30;
const SEED: u64 = 0x5eed_0f10_6106;

fn server(data: &Path) -> Server {
    serve_with(
        data,
        &[
            ("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000"),
            ("PORCHLIGHT_LOG__BATCH_INTERVAL_MS", "100"),
        ],
    )
}

/// Signs up `email` on `home`; returns the one-time sign-in codes.
fn sign_up(server: &Server, home: &Path, email: &str) -> Vec<String> {
    let started = json(&cli(
        server,
        home,
        &["--json", "signup", "--email", email, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    ));
    let secret = started["totp_secret"].as_str().unwrap().to_owned();
    json(&cli(
        server,
        home,
        &["--json", "totp", "confirm", &code(&secret, now_secs())],
        "",
    ));
    serde_json::from_value(started["recovery_codes"].clone()).unwrap()
}

/// A second device signs in with a one-time code, and the first ends its session: sign-in,
/// new device, device registration and session revocation entries.
fn second_device_comes_and_goes(
    server: &Server,
    owner: &Path,
    other: &Path,
    email: &str,
    code: &str,
) {
    let signed_in = json(&cli(
        server,
        other,
        &[
            "--json",
            "login",
            "--email",
            email,
            "--password-stdin",
            "--recovery-code-stdin",
        ],
        &format!("{PASSWORD}\n{code}\n"),
    ));
    let session = signed_in["session_id"].as_str().unwrap();
    json(&cli(
        server,
        owner,
        &["--json", "sessions", "revoke", session],
        "",
    ));
}

/// Polls `access-log --json` until nothing is queued (appends are batched); returns it.
fn settled(server: &Server, home: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listing = json(&cli(server, home, &["--json", "access-log"], ""));
        if listing["pending"] == 0 {
            return listing;
        }
        assert!(
            Instant::now() < deadline,
            "entries still pending after 10 s: {listing}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn verify(server: &Server, home: &Path) -> Value {
    json(&cli(server, home, &["--json", "access-log", "verify"], ""))
}

/// A failed `access-log verify --json`: exit 1, nothing on stdout, one JSON error on stderr.
fn verify_fails(server: &Server, home: &Path) -> (String, String) {
    let out = cli(server, home, &["--json", "access-log", "verify"], "");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "verification passed: {} {stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stdout.is_empty());
    let error: Value = serde_json::from_str(stderr.trim()).unwrap_or_else(|_| {
        panic!("stderr is not one JSON error: {stderr}");
    });
    (
        error["error"]["code"].as_str().unwrap().to_owned(),
        error["error"]["message"].as_str().unwrap().to_owned(),
    )
}

fn kinds(listing: &Value) -> Vec<String> {
    listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn an_honest_log_verifies_and_grows_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(&dir.path().join("data"));
    let (home, other) = (dir.path().join("a"), dir.path().join("b"));
    let email = "lou@example.com";
    let codes = sign_up(&server, &home, email);
    second_device_comes_and_goes(&server, &home, &other, email, &codes[0]);

    let listing = settled(&server, &home);
    let kinds = kinds(&listing);
    for kind in [
        "account_created",
        "sign_in",
        "new_device",
        "session_revoked",
        "chain_head",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
    let entries = listing["entries"].as_array().unwrap();
    let indexes: Vec<u64> = entries
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert!(
        indexes.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {indexes:?}"
    );
    let head = entries.iter().find(|e| e["kind"] == "chain_head").unwrap();
    assert_eq!(head["body"]["length"], 1);
    assert_eq!(head["leaf_hash"].as_str().unwrap().len(), 64);

    // The table names each entry's kind and its details.
    let table = cli(&server, &home, &["access-log"], "");
    assert!(table.status.success());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("INDEX"), "{table}");
    assert!(
        table.contains("session_revoked") && table.contains("device="),
        "{table}"
    );

    // First use: the key is pinned and the checkpoint kept.
    let first = verify(&server, &home);
    assert_eq!(first["key_pinned_now"], true);
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(first["verified"], entries.len());
    assert!(
        first["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "verified")
    );
    let pin = home.join("log.json");
    assert_eq!(mode(&pin), 0o600);
    let kept: Value = serde_json::from_slice(&std::fs::read(&pin).unwrap()).unwrap();
    assert_eq!(kept["vkey"], first["vkey"]);
    assert_eq!(kept["checkpoint"]["size"], first["checkpoint"]["size"]);
    let account_entries = kept["verified"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(account_entries.as_object().unwrap().len(), entries.len());

    // The log grows (a failed sign-in is an entry too); the new checkpoint is checked to
    // extend the kept one by a consistency proof.
    let failed = cli(
        &server,
        &other,
        &[
            "--json",
            "login",
            "--email",
            email,
            "--password-stdin",
            "--recovery-code-stdin",
        ],
        &format!("not the password at all 9\n{}\n", codes[1]),
    );
    assert!(!failed.status.success());
    let grown = settled(&server, &home);
    assert!(grown["entries"].as_array().unwrap().len() > entries.len());
    let second = verify(&server, &home);
    assert_eq!(second["key_pinned_now"], false);
    assert_eq!(second["previous"], first["checkpoint"]);
    assert!(second["checkpoint"]["size"].as_u64() > first["checkpoint"]["size"].as_u64());
    assert_eq!(
        second["verified"],
        grown["entries"].as_array().unwrap().len()
    );

    // Again at the same size, in words.
    let third = cli(&server, &home, &["access-log", "verify"], "");
    let text = String::from_utf8_lossy(&third.stdout);
    assert!(
        third.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&third.stderr)
    );
    assert!(text.contains("The transparency log verifies"), "{text}");
    assert!(text.contains("(as pinned)"), "{text}");
}

// ---- tampering ----

/// SplitMix64: a seeded RNG without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self) -> Vec<u8> {
        (0..4).flat_map(|_| self.next().to_le_bytes()).collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Tamper {
    EditBody,
    EditSalt,
    Swap,
    Delete,
    Insert,
    DeleteNode,
    ForgeCheckpoint,
    ResignCheckpoint,
    RewriteHistory,
}

const TAMPERS: [Tamper; 9] = [
    Tamper::EditBody,
    Tamper::EditSalt,
    Tamper::Swap,
    Tamper::Delete,
    Tamper::Insert,
    Tamper::DeleteNode,
    Tamper::ForgeCheckpoint,
    Tamper::ResignCheckpoint,
    Tamper::RewriteHistory,
];

/// Runs SQL against a stopped server's database, as an attacker with the disk.
fn sql<T>(db: &Path, f: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> T) -> T {
    use sqlx::Connection;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            let out = f(&mut conn).await;
            conn.close().await.unwrap();
            out
        })
}

/// The entries' rows: `(idx, kind, body, salt)`.
fn rows(db: &Path) -> Vec<(i64, String, Vec<u8>, Vec<u8>)> {
    sql(db, async |conn| {
        sqlx::query_as("SELECT idx, kind, body, salt FROM log_entries ORDER BY idx")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    })
}

fn exec(db: &Path, statement: &'static str, binds: Vec<Bind>) {
    sql(db, async move |conn| {
        let mut query = sqlx::query(statement);
        for bind in binds {
            query = match bind {
                Bind::Int(v) => query.bind(v),
                Bind::Blob(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let done = query.execute(&mut *conn).await.unwrap();
        assert!(done.rows_affected() > 0, "{statement} changed nothing");
    });
}

enum Bind {
    Int(i64),
    Blob(Vec<u8>),
    Text(String),
}

/// A body with one field changed: another device, a longer chain, or else one byte more.
fn edited(body: &[u8]) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(body).unwrap();
    if value.get("device").is_some() {
        value["device"] = "somewhere else".into();
    } else if let Some(length) = value.get("length").and_then(Value::as_u64) {
        value["length"] = (length + 1).into();
    } else {
        let mut body = body.to_vec();
        body.push(b' ');
        return body;
    }
    serde_json::to_vec(&value).unwrap()
}

/// Does `tamper` to the database in `data`; returns what the failure must mention.
fn apply(tamper: Tamper, data: &Path, rng: &mut Rng) -> Vec<String> {
    let db = data.join("porchlight.db");
    let rows = rows(&db);
    let (idx, _, body, _) = rows[rng.below(rows.len())].clone();
    let entry = |idx: i64| format!("entry {idx} (");
    match tamper {
        Tamper::EditBody => {
            exec(
                &db,
                "UPDATE log_entries SET body = ? WHERE idx = ?",
                vec![Bind::Blob(edited(&body)), Bind::Int(idx)],
            );
            vec![entry(idx), "does not match the signed log".into()]
        }
        Tamper::EditSalt => {
            exec(
                &db,
                "UPDATE log_entries SET salt = ? WHERE idx = ?",
                vec![Bind::Blob(rng.bytes()), Bind::Int(idx)],
            );
            vec![entry(idx), "does not match the signed log".into()]
        }
        Tamper::Swap => {
            let other = loop {
                let (other, ..) = rows[rng.below(rows.len())];
                if other != idx {
                    break other;
                }
            };
            for (from, to) in [(idx, -1), (other, idx), (-1, other)] {
                exec(
                    &db,
                    "UPDATE log_entries SET idx = ? WHERE idx = ?",
                    vec![Bind::Int(to), Bind::Int(from)],
                );
            }
            vec![
                entry(idx),
                entry(other),
                "does not match the signed log".into(),
            ]
        }
        Tamper::Delete => {
            exec(
                &db,
                "DELETE FROM log_entries WHERE idx = ?",
                vec![Bind::Int(idx)],
            );
            vec![entry(idx), "no longer listed".into()]
        }
        Tamper::Insert => {
            let new = rows.last().unwrap().0 + 1;
            exec(
                &db,
                "INSERT INTO log_entries (idx, account_id, kind, body, salt, leaf_hash, created_at_ms) \
                 SELECT ?, account_id, kind, ?, ?, leaf_hash, created_at_ms FROM log_entries WHERE idx = ?",
                vec![
                    Bind::Int(new),
                    Bind::Blob(edited(&body)),
                    Bind::Blob(rng.bytes()),
                    Bind::Int(idx),
                ],
            );
            vec![entry(new), "inserted".into()]
        }
        Tamper::DeleteNode => {
            let size = rows.len() as i64;
            // Every stored subtree but a whole power-of-two tree is on some entry's path.
            let nodes: Vec<(i64, i64)> = sql(&db, async |conn| {
                sqlx::query_as("SELECT level, idx FROM log_nodes ORDER BY level, idx")
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
            });
            let nodes: Vec<_> = nodes
                .into_iter()
                .filter(|(level, _)| 1i64 << level < size)
                .collect();
            let (level, index) = nodes[rng.below(nodes.len())];
            exec(
                &db,
                "DELETE FROM log_nodes WHERE level = ? AND idx = ?",
                vec![Bind::Int(level), Bind::Int(index)],
            );
            vec!["gave no proof".into()]
        }
        Tamper::RewriteHistory => {
            rewrite_history(&db, data, &rows, idx);
            vec![
                entry(idx),
                "is not the entry verified here before".into(),
                "does not extend".into(),
            ]
        }
        Tamper::ForgeCheckpoint | Tamper::ResignCheckpoint => {
            let (size, note): (i64, String) = sql(&db, async |conn| {
                sqlx::query_as("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap()
            });
            let mut lines: Vec<&str> = note.split('\n').collect();
            let origin = lines[0].to_owned();
            let root: [u8; 32] = rng.bytes().try_into().unwrap();
            let (forged, expect) = if let Tamper::ForgeCheckpoint = tamper {
                // Another root under the old signature.
                let text = Checkpoint::new(&origin, 1, root).unwrap().to_text();
                let root_line = text.lines().nth(2).unwrap().to_owned();
                lines[2] = &root_line;
                (lines.join("\n"), "does not verify under the pinned key")
            } else {
                // Properly signed for another root, with the key from the data folder.
                let seed: [u8; 32] = std::fs::read(data.join("log-key"))
                    .unwrap()
                    .try_into()
                    .unwrap();
                let signer = NoteSigner::new(
                    KeyName::new(&origin).unwrap(),
                    SigningKey::from_bytes(&seed),
                );
                let checkpoint =
                    Checkpoint::new(&origin, u64::try_from(size).unwrap(), root).unwrap();
                (
                    checkpoint.sign(&signer).unwrap().encode(),
                    "does not extend",
                )
            };
            exec(
                &db,
                "UPDATE log_checkpoints SET note = ? WHERE size = ?",
                vec![Bind::Text(forged), Bind::Int(size)],
            );
            vec![expect.into()]
        }
    }
}

/// The most thorough forgery an attacker with the disk can make: entry `idx` edited, its
/// leaf, every Merkle node and the latest checkpoint recomputed to match, and the checkpoint
/// signed with the log's own key. Only the checkpoint the home kept can tell.
fn rewrite_history(db: &Path, data: &Path, rows: &[(i64, String, Vec<u8>, Vec<u8>)], idx: i64) {
    let mut leaves = Vec::new();
    let mut edited_leaf = Vec::new();
    for (row_idx, _, body, salt) in rows {
        let body = if *row_idx == idx {
            edited(body)
        } else {
            body.clone()
        };
        let leaf = tlog::commitment_leaf_hash(salt.as_slice().try_into().unwrap(), &body);
        if *row_idx == idx {
            exec(
                db,
                "UPDATE log_entries SET body = ?, leaf_hash = ? WHERE idx = ?",
                vec![Bind::Blob(body), Bind::Blob(leaf.to_vec()), Bind::Int(idx)],
            );
            edited_leaf = leaf.to_vec();
        }
        leaves.push(leaf);
    }
    assert!(!edited_leaf.is_empty());
    let size = leaves.len();
    let mut nodes = Vec::new();
    for level in 0..usize::BITS {
        let width = 1usize << level;
        if width > size {
            break;
        }
        for k in 0..size / width {
            let hash = tlog::root_from_leaf_hashes(&leaves[k * width..(k + 1) * width]);
            nodes.push((i64::from(level), i64::try_from(k).unwrap(), hash.to_vec()));
        }
    }
    let origin = sql(db, async |conn| {
        let (note,): (String,) =
            sqlx::query_as("SELECT note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        note.lines().next().unwrap().to_owned()
    });
    let seed: [u8; 32] = std::fs::read(data.join("log-key"))
        .unwrap()
        .try_into()
        .unwrap();
    let signer = NoteSigner::new(
        KeyName::new(&origin).unwrap(),
        SigningKey::from_bytes(&seed),
    );
    let root = tlog::root_from_leaf_hashes(&leaves);
    let note = Checkpoint::new(&origin, size as u64, root)
        .unwrap()
        .sign(&signer)
        .unwrap()
        .encode();
    sql(db, async move |conn| {
        sqlx::query("DELETE FROM log_nodes")
            .execute(&mut *conn)
            .await
            .unwrap();
        for (level, index, hash) in nodes {
            sqlx::query("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)")
                .bind(level)
                .bind(index)
                .bind(hash)
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        let done = sqlx::query("UPDATE log_checkpoints SET note = ? WHERE size = ?")
            .bind(note)
            .bind(size as i64)
            .execute(&mut *conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
    });
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Stops a server with SIGTERM and waits, so its database is complete on disk.
fn stop(mut server: Server) {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The copied home's session now points at `server` (the token is in the copied database).
fn repoint(home: &Path, server: &Server) {
    let path = home.join("session.json");
    let mut session: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    session["server_url"] = server.url.clone().into();
    std::fs::write(&path, serde_json::to_vec(&session).unwrap()).unwrap();
}

#[test]
fn every_tamper_with_the_database_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let good_data = dir.path().join("data");
    let good_home = dir.path().join("home");
    let email = "tam@example.com";
    {
        let server = server(&good_data);
        let codes = sign_up(&server, &good_home, email);
        second_device_comes_and_goes(&server, &good_home, &dir.path().join("b"), email, &codes[0]);
        settled(&server, &good_home);
        verify(&server, &good_home);
        // A second checkpoint, consistent with the first, kept by the home.
        second_device_comes_and_goes(&server, &good_home, &dir.path().join("c"), email, &codes[1]);
        settled(&server, &good_home);
        assert!(verify(&server, &good_home)["previous"].is_object());
        stop(server);
    }

    // A copy untouched still verifies: the copying and restarting are not what fails.
    let data = dir.path().join("round-untouched/data");
    let home = dir.path().join("round-untouched/home");
    copy_dir(&good_data, &data);
    copy_dir(&good_home, &home);
    let server = server(&data);
    repoint(&home, &server);
    verify(&server, &home);
    drop(server);

    // Every round's tamper and RNG state is drawn here, so the seed alone decides them
    // whichever thread runs the round.
    let mut rng = Rng(SEED);
    let mut plan: Vec<(u64, Tamper, u64)> = Vec::new();
    for round in 0..ROUNDS {
        // Every operation at least once, then at random.
        let tamper = match usize::try_from(round).ok().and_then(|r| TAMPERS.get(r)) {
            Some(tamper) => *tamper,
            None => TAMPERS[rng.below(TAMPERS.len())],
        };
        plan.push((round, tamper, rng.next()));
    }
    let good = (good_data, good_home);
    let root = dir.path().to_owned();
    key_replaced(&good, &root);
    std::thread::scope(|scope| {
        for chunk in plan.chunks(plan.len().div_ceil(4)) {
            let (good, root) = (&good, &root);
            scope.spawn(move || {
                for &(round, tamper, seed) in chunk {
                    run_round(round, tamper, seed, good, root);
                }
            });
        }
    });
}

/// A server that signs with another key (its `log-key` file replaced) is refused loudly, in
/// words on stderr without --json.
fn key_replaced(good: &(PathBuf, PathBuf), root: &Path) {
    let data = root.join("round-key/data");
    let home = root.join("round-key/home");
    copy_dir(&good.0, &data);
    copy_dir(&good.1, &home);
    std::fs::write(data.join("log-key"), [42u8; 32]).unwrap();
    let server = server(&data);
    repoint(&home, &server);
    let (code, message) = verify_fails(&server, &home);
    assert_eq!(code, "log_key_changed", "{message}");
    let out = cli(&server, &home, &["access-log", "verify"], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("problem: the log's key changed") && stderr.contains("hint: "),
        "{stderr}"
    );
}

fn run_round(round: u64, tamper: Tamper, seed: u64, good: &(PathBuf, PathBuf), root: &Path) {
    let data = root.join(format!("round-{round}/data"));
    let home = root.join(format!("round-{round}/home"));
    copy_dir(&good.0, &data);
    copy_dir(&good.1, &home);
    let mut rng = Rng(seed);
    let expected = apply(tamper, &data, &mut rng);
    let server = server(&data);
    repoint(&home, &server);
    let (code, message) = verify_fails(&server, &home);
    eprintln!("round {round} (RNG state {seed:#x}): {tamper:?}: {code}: {message}");
    for phrase in &expected {
        assert!(
            message.contains(phrase.as_str()),
            "round {round}, {tamper:?}: {phrase:?} not in {message}"
        );
    }
    // Nothing was kept from a failed check.
    let before: Value =
        serde_json::from_slice(&std::fs::read(good.1.join("log.json")).unwrap()).unwrap();
    let after: Value =
        serde_json::from_slice(&std::fs::read(home.join("log.json")).unwrap()).unwrap();
    assert_eq!(
        before, after,
        "round {round}: log.json changed after a failure"
    );
}

/// The leaf is recomputed from the body and salt, so a rewritten entry cannot keep its old
/// leaf: whatever salts a forger tries, the edited body commits to other leaves; keeping the
/// stored `leaf_hash` column (or the Merkle nodes) while changing the body changes nothing
/// the client looks at.
#[test]
fn a_rewritten_entry_cannot_keep_the_old_hash() {
    let salt = [7u8; 32];
    let body = br#"{"kind":"staff_access","at_ms":1700000000000,"who":"s-17","why":"ticket 4"}"#;
    let leaf = tlog::commitment_leaf_hash(salt, body);
    let mut tree = tlog::MemoryTree::new();
    tree.push_leaf_hash(tlog::leaf_hash(b"before"));
    tree.push(&tlog::commit(salt, body));
    tree.push_leaf_hash(tlog::leaf_hash(b"after"));
    let (root, proof) = (tree.root(), tree.inclusion_proof(1, 3).unwrap());
    assert!(tlog::verify_inclusion(1, 3, &leaf, &proof, &root).is_ok());

    let forged = br#"{"kind":"staff_access","at_ms":1700000000000,"who":"s-99","why":"ticket 4"}"#;
    let mut tried = 0u32;
    let mut rng = Rng(SEED);
    for _ in 0..100_000 {
        let salt: [u8; 32] = rng.bytes().try_into().unwrap();
        let candidate = tlog::commitment_leaf_hash(salt, forged);
        assert_ne!(candidate, leaf);
        assert!(tlog::verify_inclusion(1, 3, &candidate, &proof, &root).is_err());
        tried += 1;
    }
    // The old salt with the new body, and the old body under a changed domain, fail too.
    assert!(
        tlog::verify_inclusion(
            1,
            3,
            &tlog::commitment_leaf_hash(salt, forged),
            &proof,
            &root
        )
        .is_err()
    );
    assert!(tlog::verify_inclusion(1, 3, &tlog::leaf_hash(body), &proof, &root).is_err());
    assert_eq!(tried, 100_000);
}
