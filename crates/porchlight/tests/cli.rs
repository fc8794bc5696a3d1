//! The binary end to end: `porchlight serve` as a real process, the CLI as a script would drive
//! it (secrets on stdin, `--json` out), codes from `oathtool`, and a graceful stop on SIGTERM.
//! End-to-end encryption (keys, chain, hubs, clips) is in `cli/e2e.rs`; `porchlight demo`, which
//! drives all of it as child processes, in `cli/demo.rs`; the account's ways back by email (a
//! verified address, a forgotten password, a changed address) in `cli/lifecycle.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "cli/access_log.rs"]
mod access_log;
#[path = "cli/demo.rs"]
mod demo;
#[path = "cli/e2e.rs"]
mod e2e;
#[path = "cli/feed.rs"]
mod feed;
#[path = "cli/household.rs"]
mod household;
#[path = "cli/hub_run.rs"]
mod hub_run;
#[path = "cli/lifecycle.rs"]
mod lifecycle;
#[path = "cli/listing.rs"]
mod listing;
#[path = "cli/research.rs"]
mod research;
#[path = "cli/settings.rs"]
mod settings;
#[path = "cli/shares.rs"]
mod shares;
#[path = "cli/staff.rs"]
mod staff;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_porchlight");
const PASSWORD: &str = "correct horse battery staple 42";

struct Server {
    child: Child,
    url: String,
    log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Server {
    /// A test that fails midway still leaves no server running.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `porchlight serve` on a free port with JSON logs and waits until it says where.
fn serve(data: &Path) -> Server {
    serve_with(data, &[])
}

/// [`serve`] with extra `PORCHLIGHT_*` configuration.
fn serve_with(data: &Path, env: &[(&str, &str)]) -> Server {
    serve_at(data, "127.0.0.1:0", env)
}

/// [`serve_with`] on a chosen address (a server restarted where its clients expect it).
#[allow(clippy::zombie_processes)] // the child is owned by `Server`, whose drop reaps it
fn serve_at(data: &Path, listen: &str, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", listen, "--data"])
        .arg(data)
        .env("PORCHLIGHT_LOG_FORMAT", "json")
        .env("PORCHLIGHT_LOG_FILTER", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, log) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server did not say where it listens");
        let entry: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
        if entry["message"] == "porchlight serving" {
            let addr = entry["addr"].as_str().unwrap().to_owned();
            return Server {
                child,
                url: format!("http://{addr}"),
                log,
            };
        }
    }
}

fn cli(server: &Server, home: &Path, args: &[&str], stdin: &str) -> Output {
    cli_at(&server.url, home, args, stdin)
}

/// A client command against the server at `url` (one this file did not start), with its home
/// in `home` and `stdin` as its input.
fn cli_at(url: &str, home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(["--server", url, "--home"])
        .arg(home)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A TOTP code, from oathtool when installed (an independent implementation), else ours.
fn code(secret: &str, at_secs: u64) -> String {
    match Command::new("oathtool")
        .args(["--totp", "-b", "--now", &format!("@{at_secs}"), secret])
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        _ => {
            eprintln!("oathtool not installed: codes from porchlight's own TOTP");
            let ms = i64::try_from(at_secs).unwrap() * 1000;
            porchlight_server::auth::totp::code_for_base32(secret, ms).unwrap()
        }
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn scripted_account_life_and_graceful_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(&dir.path().join("data"));
    let (home_a, home_b) = (dir.path().join("a"), dir.path().join("b"));

    let started = json(&cli(
        &server,
        &home_a,
        &[
            "--json",
            "signup",
            "--email",
            "ann@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    ));
    assert!(
        started["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let recovery: Vec<String> = serde_json::from_value(started["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    let secret = started["totp_secret"].as_str().unwrap().to_owned();

    // A wrong code fails with the error on stderr and nothing on stdout.
    let wrong = cli(
        &server,
        &home_a,
        &["--json", "totp", "confirm", "000000"],
        "",
    );
    if code(&secret, now_secs()) != "000000" {
        assert!(!wrong.status.success());
        assert!(wrong.stdout.is_empty());
        assert!(String::from_utf8_lossy(&wrong.stderr).contains("invalid_code"));
    }
    let confirmed = json(&cli(
        &server,
        &home_a,
        &["--json", "totp", "confirm", &code(&secret, now_secs())],
        "",
    ));
    let me = json(&cli(&server, &home_a, &["--json", "whoami"], ""));
    assert_eq!(me["email"], "ann@example.com");
    assert_eq!(me["account_id"], confirmed["account_id"]);

    // The server keeps its data private: the database holds password hashes and TOTP secrets.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let data = dir.path().join("data");
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for entry in std::fs::read_dir(&data).unwrap() {
            let entry = entry.unwrap();
            let metadata = entry.metadata().unwrap();
            let mode = metadata.permissions().mode() & 0o777;
            // Files (the database) are 0600; folders (the blob store) 0700.
            let private = if metadata.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode, private, "{}", entry.path().display());
        }
    }

    // The client keeps its files private.
    #[cfg(unix)]
    for entry in std::fs::read_dir(&home_a).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // A second device signs in with a recovery code (the authenticator's code for this window
    // is spent), then a password change from the first ends it.
    json(&cli(
        &server,
        &home_b,
        &[
            "--json",
            "login",
            "--email",
            "ann@example.com",
            "--password-stdin",
            "--recovery-code-stdin",
        ],
        &format!("{PASSWORD}\n{}\n", recovery[0]),
    ));
    let sessions = json(&cli(&server, &home_a, &["--json", "sessions"], ""));
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 2);
    let changed = json(&cli(
        &server,
        &home_a,
        &["--json", "password", "change"],
        &format!("{PASSWORD}\na different long passphrase 88\n"),
    ));
    assert_eq!(changed["revoked_sessions"], 1);
    let refused = cli(&server, &home_b, &["--json", "whoami"], "");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unauthenticated"));

    let activity = json(&cli(&server, &home_a, &["--json", "activity"], ""));
    let kinds: Vec<&str> = activity["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "account_created",
        "sign_in",
        "new_device",
        "password_changed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    json(&cli(
        &server,
        &home_a,
        &["--json", "logout", "--everywhere"],
        "",
    ));

    // SIGTERM: the server stops accepting, finishes, and exits cleanly.
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");

    // Nothing secret reached the log.
    let log: Vec<String> = server.log.try_iter().collect();
    let log = log.join("\n");
    assert!(log.contains("shutting down"));
    for secret_text in [
        PASSWORD,
        "a different long passphrase 88",
        &secret,
        &recovery[0],
    ] {
        assert!(
            !log.contains(secret_text),
            "a secret reached the server log"
        );
    }
}

#[test]
fn usage_errors_exit_2_and_missing_server_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--home"])
        .arg(dir.path())
        .arg("no-such-command")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(BIN)
        .args(["--server", "http://127.0.0.1:9", "--home"])
        .arg(dir.path())
        .args(["--json", "whoami"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn serve_check_config_says_what_it_found_and_fails_on_a_broken_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--check-config")
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok   data folder"), "{text}");
    assert!(text.contains("will be made at start"), "{text}");
    assert!(
        !data.join("porchlight.db").exists(),
        "a check makes no database"
    );

    // A certificate file that holds no key, named as the key: the check fails and says why.
    let pem = dir.path().join("cert.pem");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let config = dir.path().join("porchlight.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert_file = \"{0}\"\nkey_file = \"{0}\"\n",
            pem.display()
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--check-config")
        .arg("--data")
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL tls.key_file"), "{text}");

    // The reference it prints is the committed one.
    let out = Command::new(BIN)
        .args(["serve", "--print-config-reference"])
        .output()
        .unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md"))
            .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}
