//! `porchlight demo` as a person runs it: one command; then the browser's part, done by the
//! client over HTTP with only what the demo printed (sign in, restore with the key recovery
//! code, find the camera and a clip and open it); then SIGTERM, which stops every process the
//! demo started and keeps its data; then the demo again on that folder, which brings back the
//! same account, hub and clips. And the ways it refuses to start, leaving nothing running.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use porchlight_client::crypto::RecoveryKey;
use porchlight_client::{Client, Home};
use serde_json::Value;

use super::{BIN, code, json, now_secs};

/// A `porchlight demo` process. Dropped while running (a failed test), it is stopped, and
/// anything it left behind is killed.
struct Demo {
    child: Child,
    data: PathBuf,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Demo {
    fn start(args: &[&str], data: &Path) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .arg("--data")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Self {
            child,
            data: data.to_owned(),
            stdout,
            stderr,
            stderr_seen: Vec::new(),
        }
    }

    /// What it said on stderr so far (for failure messages).
    fn stderr_text(&mut self) -> String {
        self.stderr_seen.extend(self.stderr.try_iter());
        self.stderr_seen.join("\n")
    }

    /// The one line of JSON it prints once everything runs.
    fn ready(&mut self, within: Duration) -> Value {
        let line = self
            .stdout
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("the demo printed nothing:\n{}", self.stderr_text()));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Waits for it to exit; kills it (and fails) after `within`.
    fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the demo did not exit in time:\n{}", self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn terminate(&mut self, within: Duration) -> ExitStatus {
        signal(self.child.id(), "-TERM");
        self.wait(within)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal(self.child.id(), "-TERM");
            let deadline = Instant::now() + Duration::from_secs(60);
            while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for (pid, _) in processes_using(&self.data) {
            signal(pid, "-KILL");
        }
    }
}

fn signal(pid: u32, which: &str) {
    let _ = Command::new("kill")
        .args([which, &pid.to_string()])
        .status();
}

fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Running processes whose command line names `dir` (the demo's children all do: the
/// server's data, the hub's state, the device's home are in it). A zombie has no command line.
fn processes_using(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.to_str().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().map_while(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// The clips the server lists for `home`.
fn clips(url: &str, home: &Path) -> Vec<Value> {
    let listed = json(&super::cli_at(url, home, &["--json", "clips", "list"], ""));
    listed["clips"].as_array().unwrap().clone()
}

#[test]
fn demo_runs_until_sigterm_and_a_browser_signs_in_with_what_it_printed_and_sees_clips() {
    let dir = tempfile::tempdir().unwrap();
    // A folder that exists and is empty is taken as it is.
    let data = dir.path().join("demo");
    std::fs::create_dir(&data).unwrap();
    let data = data.canonicalize().unwrap();
    let mut demo = Demo::start(&["--json", "demo", "--listen", "127.0.0.1:0"], &data);
    let ready = demo.ready(Duration::from_secs(180));

    let url = ready["url"].as_str().unwrap();
    let port = url.strip_prefix("http://127.0.0.1:").unwrap();
    assert_ne!(port.parse::<u16>().unwrap(), 0, "the port the server took");
    let email = ready["email"].as_str().unwrap();
    let local = email
        .strip_prefix("demo-")
        .and_then(|e| e.strip_suffix("@porchlight.invalid"))
        .unwrap();
    assert!(local.bytes().all(|c| c.is_ascii_hexdigit()), "{email}");
    let password = ready["password"].as_str().unwrap();
    assert!(password.len() >= 20);
    let secret = ready["totp_secret"].as_str().unwrap();
    let otpauth = ready["otpauth_uri"].as_str().unwrap();
    assert!(otpauth.starts_with("otpauth://totp/"), "{otpauth}");
    assert!(otpauth.contains(&format!("secret={secret}")), "{otpauth}");
    let key_recovery_code = ready["key_recovery_code"].as_str().unwrap();
    assert!(RecoveryKey::from_code(key_recovery_code).is_ok());
    assert_eq!(ready["cameras"][0], "front door");
    assert_eq!(ready["data_dir"], data.to_str().unwrap());
    assert_eq!(ready["home"], data.join("device").to_str().unwrap());

    // The browser's part, with the code an authenticator shows now: the demo confirmed
    // sign-up with the step before, so the current one is not spent.
    let browser = dir.path().join("browser");
    let signed_in = json(&super::cli_at(
        url,
        &browser,
        &[
            "--json",
            "login",
            "--email",
            email,
            "--password-stdin",
            "--totp",
            &code(secret, now_secs()),
            "--device-name",
            "browser",
        ],
        &format!("{password}\n"),
    ));
    assert_eq!(signed_in["device_state"], "pending");
    assert_eq!(signed_in["account_id"], ready["account_id"]);
    let restored = json(&super::cli_at(
        url,
        &browser,
        &["--json", "recovery", "restore"],
        &format!("{key_recovery_code}\n"),
    ));
    assert_eq!(restored["rewrap_failed"].as_array().unwrap().len(), 0);

    let restored_at = Instant::now();

    // Within 90 s the camera's motion has made a clip.
    let deadline = restored_at + Duration::from_secs(90);
    let first = loop {
        let listed = clips(url, &browser);
        if !listed.is_empty() {
            break listed;
        }
        assert!(
            Instant::now() < deadline,
            "no clip within 90 s:\n{}",
            demo.stderr_text()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let clip = &first[0];
    assert!(
        clip["camera_name"] == "front door" || clip["camera_id"] == "front door",
        "{clip}"
    );
    let home = Home::open(&browser).unwrap();
    let session = home.load_session().unwrap().unwrap();
    let api = Client::new(&session.server_url, home.device_id().unwrap())
        .unwrap()
        .with_token(session.token);
    let cameras = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(api.cameras())
        .unwrap();
    assert!(
        cameras.cameras.iter().any(|c| c.name == "front door"),
        "{cameras:?}"
    );

    // Every clip opens on the restored device, those the hub sealed before it saw the new
    // device too: the demo re-wraps them once the hub has caught up (a minute and a bit).
    std::thread::sleep(
        (restored_at + Duration::from_secs(100)).saturating_duration_since(Instant::now()),
    );
    let deadline = restored_at + Duration::from_secs(160);
    let mut opened = std::collections::HashSet::new();
    loop {
        let listed = clips(url, &browser);
        for clip in &listed {
            let id = clip["id"].as_str().unwrap().to_owned();
            if opened.contains(&id) {
                continue;
            }
            let out = dir.path().join(format!("{id}.mp4"));
            let got = super::cli_at(
                url,
                &browser,
                &["--json", "clips", "get", &id, "-o", out.to_str().unwrap()],
                "",
            );
            if got.status.success() {
                assert_eq!(&std::fs::read(&out).unwrap()[4..8], b"ftyp");
                opened.insert(id);
            }
        }
        if opened.len() == listed.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} clips open for the restored device:\n{}",
            opened.len(),
            listed.len(),
            demo.stderr_text()
        );
        std::thread::sleep(Duration::from_secs(3));
    }
    assert!(opened.len() >= 5, "a clip every 12 s: {}", opened.len());
    let said = demo.stderr_text();
    assert!(said.contains("the account's devices changed"), "{said}");
    assert!(said.contains("re-wrapped"), "{said}");
    assert!(
        !processes_using(&data).is_empty(),
        "the demo and its children run"
    );

    // SIGTERM: the hub, then the server, then the demo; nothing is left and the data stays.
    let status = demo.terminate(Duration::from_secs(90));
    assert!(status.success(), "{status}:\n{}", demo.stderr_text());
    let left = processes_using(&data);
    assert!(left.is_empty(), "still running: {left:?}");
    for kept in [
        "server/porchlight.db",
        "device",
        "hub",
        "hub.toml",
        "hub.log",
    ] {
        assert!(data.join(kept).exists(), "{kept} is gone");
    }
    let server_log = std::fs::read_to_string(data.join("server.log")).unwrap();
    assert!(server_log.contains("shutting down"), "{server_log}");
    assert!(
        !server_log.contains(password),
        "the password reached the log"
    );
    let said = demo.stderr_text();
    assert!(said.contains("SIGTERM"), "{said}");
    assert!(said.contains(data.to_str().unwrap()), "{said}");
    assert!(said.contains("brings it back"), "{said}");
    drop(demo);

    // Again on the same folder, without --listen: the same account, hub and address, and
    // the clips recorded before are still there and still open.
    let mut again = Demo::start(&["--json", "demo"], &data);
    let back = again.ready(Duration::from_secs(120));
    assert_eq!(back["resumed"], true);
    for same in [
        "url",
        "email",
        "account_id",
        "device_id",
        "hub_id",
        "totp_secret",
    ] {
        assert_eq!(back[same], ready[same], "{same}");
    }
    let device = data.join("device");
    let listed: std::collections::HashSet<String> = clips(url, &device)
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        opened.iter().all(|id| listed.contains(id)),
        "clips of the first run are gone"
    );
    let first_id = opened.iter().next().unwrap();
    let out = dir.path().join("again.mp4");
    let got = super::cli_at(
        url,
        &browser,
        &[
            "--json",
            "clips",
            "get",
            first_id,
            "-o",
            out.to_str().unwrap(),
        ],
        "",
    );
    assert!(got.status.success(), "{got:?}");
    // A different address is refused: the hub was paired with this one.
    let status = again.terminate(Duration::from_secs(90));
    assert!(status.success(), "{status}:\n{}", again.stderr_text());
    drop(again);
    let mut moved = Demo::start(&["demo", "--listen", "127.0.0.1:1"], &data);
    assert_eq!(moved.wait(Duration::from_secs(30)).code(), Some(2));
    assert!(moved.stderr_text().contains("paired with the server at"));
    assert!(processes_using(&data).is_empty());
}

#[test]
fn demo_on_a_taken_address_or_a_used_folder_fails_clearly_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("demo");
    let mut demo = Demo::start(&["demo", "--listen", &addr], &data);
    let status = demo.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1));
    let said = demo.stderr_text();
    assert!(
        said.contains(&format!("could not listen on {addr}")),
        "{said}"
    );
    assert!(said.contains("--listen"), "the hint names the flag: {said}");
    assert!(demo.stdout.try_recv().is_err(), "nothing on stdout");
    let left = processes_using(&data);
    assert!(left.is_empty(), "still running: {left:?}");
    drop(demo);

    // The folder has the failed run's log in it now: a new demo does not mix into it.
    let mut again = Demo::start(&["demo", "--listen", "127.0.0.1:0"], &data);
    assert_eq!(again.wait(Duration::from_secs(30)).code(), Some(2));
    assert!(again.stderr_text().contains("no demo was made in it"));
    assert!(processes_using(&data).is_empty());

    // What is not an address is a usage error before anything starts.
    let never = dir.path().join("never");
    let out = Command::new(BIN)
        .args(["demo", "--listen", "localhost:http", "--data"])
        .arg(&never)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    assert!(!never.exists());
}
