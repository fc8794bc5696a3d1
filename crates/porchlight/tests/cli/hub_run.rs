//! `porchlight hub run` as a real process: a real RTSP camera (GStreamer) recorded into sealed
//! clips that open on the owner's device and play, and watched live through the server's
//! relay with `porchlight live`; a hub killed with SIGKILL while clips
//! wait, and a server stopped while the hub records: every clip arrives exactly once; and a
//! household member watching and opening only the camera given, until removed.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::e2e::{Owner, clip_ids, pair_hub, sample, server, sign_up};
use super::{BIN, Server, cli, json, serve_at};

#[path = "../../../hub/tests/support/mod.rs"]
mod rtsp;

/// A free port on 127.0.0.1 (released for the caller to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client process killed if the test ends before it does.
struct KillOnDrop(Child);

impl KillOnDrop {
    /// Its output, once it exits; killed (and the test failed) if that takes longer than
    /// `within`.
    fn output_within(mut self, within: Duration) -> std::process::Output {
        let deadline = Instant::now() + within;
        while self.0.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the process did not finish in time"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        use std::io::Read;
        if let Some(mut out) = self.0.stdout.take() {
            out.read_to_end(&mut stdout).unwrap();
        }
        if let Some(mut err) = self.0.stderr.take() {
            err.read_to_end(&mut stderr).unwrap();
        }
        std::process::Output {
            status: self.0.wait().unwrap(),
            stdout,
            stderr,
        }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `hub run`, killed (SIGKILL) when dropped.
struct RunningHub {
    child: Child,
    local: String,
    log: std::sync::mpsc::Receiver<String>,
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RunningHub {
    fn start(state: &Path, config: &Path, local: String) -> Self {
        let mut child = Command::new(BIN)
            .args(["hub", "run", "--state"])
            .arg(state)
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, log) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, local, log }
    }

    /// The hub's log so far (for failure messages).
    fn log_text(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }

    fn status(&self) -> Option<Value> {
        let out = Command::new(BIN)
            .args(["--json", "hub", "status", "--local", &self.local])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    /// Polls the status until `done` holds, for at most `within`.
    fn wait_for(&mut self, what: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.status()
                && done(&status)
            {
                return status;
            }
            if let Some(exit) = self.child.try_wait().unwrap() {
                panic!(
                    "the hub exited ({exit}) waiting for {what}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; status {:?}\n{}",
                self.status(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `POST path` to the local endpoint; the status code.
    fn post(&self, path: &str) -> u16 {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.local).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.local
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    /// Stops the hub as an operator would (SIGTERM) and waits.
    fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the hub did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn write_config(dir: &Path, local: &str, cameras: &str) -> PathBuf {
    let path = dir.join("hub.toml");
    std::fs::write(
        &path,
        format!(
            "[recording]\npre_roll_secs = 2\npost_roll_secs = 3\nmax_clip_secs = 60\n\
             [local]\nlisten = \"{local}\"\n{cameras}"
        ),
    )
    .unwrap();
    path
}

fn have_ffprobe() -> bool {
    let ok = Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("ffprobe leg skipped: ffprobe is not installed");
    }
    ok
}

/// `clips list --json` for the owner: the clips the server knows.
fn clips(server: &Server, owner: &Owner) -> Vec<Value> {
    json(&cli(server, &owner.home, &["--json", "clips", "list"], ""))["clips"]
        .as_array()
        .unwrap()
        .clone()
}

/// ffprobe's duration (s) of a file, insisting on a clean read.
fn probe_duration(file: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probe: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(probe["streams"][0]["codec_name"], "h264", "{probe}");
    assert_eq!(probe["streams"][0]["width"], 640);
    probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_hub_records_a_real_rtsp_camera_into_clips_that_play_and_survives_its_restart() {
    let Some(mut camera) = rtsp::RtspServer::preset("ball") else {
        return;
    };
    if !have_ffprobe() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let owner = sign_up(&server, &dir.path().join("ann"), "ann@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");
    let local = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &local,
        &format!(
            "[[cameras]]\nname = \"front door\"\nurl = \"{}\"\nmotion = false\n",
            camera.url()
        ),
    );
    let mut hub = RunningHub::start(&state, &config, local);
    hub.wait_for("the camera to stream", Duration::from_secs(20), |s| {
        s["cameras"]["front door"]["state"] == "streaming"
    });
    // The owner follows events: the press arrives as it happens, sealed by the hub.
    hub.wait_for("the live connection", Duration::from_secs(20), |s| {
        s["live"]["state"] == "connected"
    });
    let follower = Command::new(BIN)
        .args(["--server", &server.url, "--home"])
        .arg(&owner.home)
        .args(["--json", "events", "--follow", "--count", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let follower = KillOnDrop(follower);
    // Let the pre-roll fill (and the follower connect), then ring the bell.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(hub.post("/cameras/front%20door/doorbell"), 202);
    let followed = follower.output_within(Duration::from_secs(20));
    let notice: Value = serde_json::from_slice(&followed.stdout).unwrap_or_else(|_| {
        panic!(
            "events --follow printed {} / {}",
            String::from_utf8_lossy(&followed.stdout),
            String::from_utf8_lossy(&followed.stderr)
        )
    });
    assert_eq!(notice["kind"], "doorbell", "{notice}");
    assert_eq!(notice["camera"], "front door", "{notice}");
    assert_eq!(hub.post("/cameras/nobody/doorbell"), 404);
    hub.wait_for("the clip to upload", Duration::from_secs(30), |s| {
        s["upload"]["uploaded"] == 1
    });

    let listed = clips(&server, &owner);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let clip = &listed[0];
    assert!(
        clip["camera_name"] == "front door" || clip["camera_id"] == "front door",
        "{clip}"
    );
    let signed_ms = clip["duration_ms"].as_u64().unwrap();
    // 2 s of pre-roll (rounded out to the 1 s GOP) and 3 s after the press.
    assert!((5_000..=7_500).contains(&signed_ms), "{clip}");
    let out = dir.path().join("clip.mp4");
    let id = clip["id"].as_str().unwrap();
    json(&cli(
        &server,
        &owner.home,
        &["--json", "clips", "get", id, "-o", out.to_str().unwrap()],
        "",
    ));
    let probed = probe_duration(&out);
    assert!(
        (probed - signed_ms as f64 / 1000.0).abs() <= 1.0,
        "ffprobe says {probed} s, the statement {signed_ms} ms"
    );
    // The event is sealed inside the clip; the server holds no trace of it.
    let plain = std::fs::read(&out).unwrap();
    let meta = porchlight_media::fmp4::read_metadata(&plain)
        .unwrap()
        .unwrap();
    let meta: Value = serde_json::from_slice(&meta).unwrap();
    assert_eq!(meta["events"][0]["kind"], "doorbell", "{meta}");
    for entry in walk(&dir.path().join("data")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(8).any(|w| w == b"doorbell"),
            "{} names the event",
            entry.display()
        );
    }

    // Live, through the relay: the owner's device opens the stream the hub sealed for it.
    let live = dir.path().join("live.mp4");
    let watched = json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "live",
            "front door",
            "-o",
            live.to_str().unwrap(),
            "--frames",
            "45",
        ],
        "",
    ));
    assert_eq!(watched["frames"], 45, "{watched}");
    assert_eq!(watched["init_segments"], 1, "{watched}");
    // 45 frames of a 15 fps camera: three seconds that ffprobe reads cleanly.
    let probed = probe_duration(&live);
    assert!(
        (2.5..=3.5).contains(&probed),
        "live: ffprobe says {probed} s"
    );
    // To standard output, for a player: the stream itself, the report on standard error.
    let piped = cli(
        &server,
        &owner.home,
        &["live", "front door", "-o", "-", "--frames", "3"],
        "",
    );
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(&piped.stdout[4..8], b"ftyp");
    assert!(String::from_utf8_lossy(&piped.stderr).contains("3 frames"));
    let unknown = cli(&server, &owner.home, &["live", "back door", "-o", "-"], "");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("camera_not_found"));

    // A recording on the owner's request, through the server: a clip marked manual.
    json(&cli(
        &server,
        &owner.home,
        &["--json", "events", "trigger", "--camera", "front door"],
        "",
    ));
    hub.wait_for("the requested clip", Duration::from_secs(30), |s| {
        s["upload"]["uploaded"] == 2
    });
    let listed = clips(&server, &owner);
    let newest = listed
        .iter()
        .find(|c| c["id"] != clip["id"])
        .unwrap()
        .clone();
    let requested = dir.path().join("requested.mp4");
    json(&cli(
        &server,
        &owner.home,
        &[
            "--json",
            "clips",
            "get",
            newest["id"].as_str().unwrap(),
            "-o",
            requested.to_str().unwrap(),
        ],
        "",
    ));
    let meta = porchlight_media::fmp4::read_metadata(&std::fs::read(&requested).unwrap())
        .unwrap()
        .unwrap();
    let meta: Value = serde_json::from_slice(&meta).unwrap();
    assert_eq!(meta["events"][0]["kind"], "manual", "{meta}");

    // The camera restarts mid-stream: the hub reconnects and keeps recording.
    camera.kill();
    hub.wait_for("the hub to notice", Duration::from_secs(15), |s| {
        s["cameras"]["front door"]["state"]
            .as_str()
            .is_some_and(|t| t.starts_with("failed"))
    });
    camera.restart();
    hub.wait_for("the camera to stream again", Duration::from_secs(30), |s| {
        s["cameras"]["front door"]["state"] == "streaming"
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(hub.post("/cameras/front%20door/trigger"), 202);
    hub.wait_for("the third clip", Duration::from_secs(30), |s| {
        s["upload"]["uploaded"] == 3
    });
    assert_eq!(clips(&server, &owner).len(), 3);
    assert!(hub.terminate().success());
    // No plaintext recording is left behind.
    assert_eq!(
        std::fs::read_dir(state.join("recording")).unwrap().count(),
        0
    );
}

#[test]
fn a_killed_hub_and_a_stopped_server_lose_no_clip_and_duplicate_none() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let env = [("PORCHLIGHT_SIGNIN__PER_SOURCE_PER_MINUTE", "100000")];
    let data = dir.path().join("data");
    let server = serve_at(&data, &listen, &env);
    let owner = sign_up(&server, &dir.path().join("ann"), "ann@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &owner.home, &state, "porch");
    drop(server);

    // 50 clips queued while the server is down: sealed to the chain the hub verified last.
    let recordings = dir.path().join("recordings");
    std::fs::create_dir(&recordings).unwrap();
    let sample_bytes = std::fs::read(sample()).unwrap();
    let files: Vec<String> = (0..50)
        .map(|i| {
            let path = recordings.join(format!("clip{i}.mp4"));
            std::fs::write(&path, &sample_bytes).unwrap();
            path.to_str().unwrap().to_owned()
        })
        .collect();
    let mut args = vec![
        "--json",
        "hub",
        "enqueue",
        "--state",
        state.to_str().unwrap(),
        "--camera",
        "porch",
        "--duration-ms",
        "3000",
    ];
    args.extend(files.iter().map(String::as_str));
    let out = Command::new(BIN).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(spooled(&state), 50);

    // The hub runs, cannot upload, and is killed outright.
    let local = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &local,
        "[[cameras]]\nname = \"porch\"\nurl = \"synthetic\"\nmotion = false\n",
    );
    let mut hub = RunningHub::start(&state, &config, local.clone());
    hub.wait_for("the hub to try the server", Duration::from_secs(20), |s| {
        s["upload"]["state"]
            .as_str()
            .is_some_and(|t| t.contains("unreachable"))
    });
    drop(hub); // SIGKILL
    assert_eq!(spooled(&state), 50);

    // The server returns; a new hub uploads everything. Killed again as soon as the first
    // clips land, it starts once more and finishes.
    let server = serve_at(&data, &listen, &env);
    let mut hub = RunningHub::start(&state, &config, local.clone());
    hub.wait_for("uploads to start", Duration::from_secs(30), |s| {
        s["upload"]["uploaded"].as_u64().unwrap_or(0) >= 1
    });
    drop(hub);
    let mut hub = RunningHub::start(&state, &config, local.clone());
    hub.wait_for("the queue to drain", Duration::from_secs(60), |s| {
        s["spool"]["clips"] == 0
    });
    let listed = clips(&server, &owner);
    assert_eq!(listed.len(), 50, "every clip exactly once");

    // The server stops for 30 s while the hub records: the clips wait and then arrive.
    drop(server);
    for _ in 0..3 {
        assert_eq!(hub.post("/cameras/porch/trigger"), 202);
        std::thread::sleep(Duration::from_secs(7));
    }
    hub.wait_for(
        "clips to queue while the server is away",
        Duration::from_secs(20),
        |s| s["spool"]["clips"].as_u64().unwrap_or(0) >= 1,
    );
    std::thread::sleep(Duration::from_secs(9));
    let server = serve_at(&data, &listen, &env);
    hub.wait_for("the queue to drain again", Duration::from_secs(60), |s| {
        s["spool"]["clips"] == 0 && s["cameras"]["porch"]["recording"] == false
    });
    let ids = clip_ids(&server, &owner.home);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no clip twice");
    let recorded = hub.status().unwrap()["cameras"]["porch"]["clips_recorded"]
        .as_u64()
        .unwrap();
    assert!(recorded >= 1);
    assert_eq!(
        ids.len() as u64,
        50 + recorded,
        "every recorded clip arrived"
    );
    assert!(hub.terminate().success());
}

/// Complete clips in the hub's spool.
fn spooled(state: &Path) -> usize {
    std::fs::read_dir(state.join("spool"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
        .count()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map_while(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `clips get` on `home` into `dir`: the clip's recipient count.
fn recipients_of(server: &Server, home: &Path, dir: &Path, id: &str) -> u64 {
    let out = dir.join(format!("{id}.mp4"));
    json(&cli(
        server,
        home,
        &["--json", "clips", "get", id, "-o", out.to_str().unwrap()],
        "",
    ))["recipients"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_household_member_watches_and_opens_only_the_camera_given() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let ann = sign_up(&server, &dir.path().join("ann"), "ann@example.com");
    let meg = sign_up(&server, &dir.path().join("meg"), "meg@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &ann.home, &state, "porch");
    let local = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &local,
        "[[cameras]]\nname = \"front door\"\nurl = \"synthetic\"\nmotion = false\n\
         [[cameras]]\nname = \"garden\"\nurl = \"synthetic\"\nmotion = false\n",
    );
    let mut hub = RunningHub::start(&state, &config, local);
    hub.wait_for("the live connection", Duration::from_secs(20), |s| {
        s["live"]["state"] == "connected"
    });
    let meg_root = json(&cli(
        &server,
        &meg.home,
        &["--json", "household", "list"],
        "",
    ))["root"]
        .as_str()
        .unwrap()
        .to_owned();
    json(&cli(
        &server,
        &ann.home,
        &[
            "--json",
            "household",
            "add",
            &meg_root,
            "--label",
            "Meg",
            "--camera",
            "front door",
        ],
        "",
    ));

    // Live: the hub answers Meg's device for the front door, and she has no garden.
    let live = dir.path().join("meg-live.mp4");
    let watched = json(&cli(
        &server,
        &meg.home,
        &[
            "--json",
            "live",
            "front door",
            "-o",
            live.to_str().unwrap(),
            "--frames",
            "5",
        ],
        "",
    ));
    assert_eq!(watched["frames"], 5, "{watched}");
    let garden = cli(&server, &meg.home, &["live", "garden", "-o", "-"], "");
    assert_eq!(garden.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&garden.stderr).contains("camera_not_found"));

    // Recorded: the running hub seals the front door's next clip to Meg's device too.
    assert_eq!(hub.post("/cameras/front%20door/trigger"), 202);
    hub.wait_for("the clip", Duration::from_secs(30), |s| {
        s["upload"]["uploaded"] == 1
    });
    let megs = clip_ids(&server, &meg.home);
    assert_eq!(megs.len(), 1, "{}", hub.log_text());
    // Ann's device, her recovery key, Meg's device.
    assert_eq!(recipients_of(&server, &meg.home, dir.path(), &megs[0]), 3);

    // Removed: no live view, and the hub's next clip names only Ann's keys.
    json(&cli(
        &server,
        &ann.home,
        &["--json", "household", "remove", &meg_root],
        "",
    ));
    let refused = cli(&server, &meg.home, &["live", "front door", "-o", "-"], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("camera_not_found"));
    assert_eq!(hub.post("/cameras/front%20door/trigger"), 202);
    hub.wait_for("the next clip", Duration::from_secs(30), |s| {
        s["upload"]["uploaded"] == 2
    });
    let newest = clip_ids(&server, &ann.home)
        .into_iter()
        .find(|id| *id != megs[0])
        .unwrap();
    assert_eq!(recipients_of(&server, &ann.home, dir.path(), &newest), 2);
    assert!(clip_ids(&server, &meg.home).is_empty());
    assert!(hub.terminate().success());
}

/// `hub settings` on the owner's device against a running hub (synthetic camera, whose
/// picture moves for 3 s in every 6): at sensitivity 1 the movement makes no clip, at 8 it
/// does, without a restart. A statement written into the server's database by hand, signed
/// by a key outside the chain, is refused by the hub, which keeps the settings it had and
/// says so; a restarted hub keeps the signed settings.
#[test]
fn signed_settings_change_a_running_hub_and_a_forged_one_is_refused() {
    use porchlight_client::crypto::{DeviceSecret, SignedHubSettings};
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let ann = sign_up(&server, &dir.path().join("ann"), "ann@example.com");
    let state = dir.path().join("hub");
    pair_hub(&server, &ann.home, &state, "hall");
    let local = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        dir.path(),
        &local,
        "[[cameras]]\nname = \"porch\"\nurl = \"synthetic\"\n",
    );
    let mut hub = RunningHub::start(&state, &config, local.clone());
    hub.wait_for("the control connection", Duration::from_secs(30), |s| {
        s["live"]["state"] == "connected" && s["cameras"]["porch"]["state"] == "streaming"
    });
    let set = |args: &[&str]| {
        let mut all = vec!["hub", "settings", "hall", "--camera", "porch"];
        all.extend_from_slice(args);
        let out = cli(&server, &ann.home, &all, "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let shown = || json(&cli(&server, &ann.home, &["--json", "hub", "settings"], ""));

    // Least sensitive: the synthetic movement (P-frames about 11 times the baseline) is not
    // motion.
    set(&["--sensitivity", "1", "--post-roll", "2"]);
    let status = hub.wait_for("settings number 1", Duration::from_secs(10), |s| {
        s["settings"]["counter"] == 1 && s["cameras"]["porch"]["recording"] == false
    });
    let before = status["cameras"]["porch"]["clips_recorded"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_secs(14));
    let status = hub.status().unwrap();
    assert_eq!(
        status["cameras"]["porch"]["clips_recorded"]
            .as_u64()
            .unwrap(),
        before,
        "no clip at sensitivity 1: {status}"
    );
    assert_eq!(status["cameras"]["porch"]["recording"], false);
    let after_one = shown();
    assert_eq!(after_one["counter"], 1);
    assert_eq!(after_one["applied_counter"], 1);
    assert_eq!(after_one["cameras"][0]["sensitivity"], 1);

    // More sensitive: the same movement makes clips, within a loop of the sample.
    set(&["--sensitivity", "8"]);
    hub.wait_for("settings number 2", Duration::from_secs(10), |s| {
        s["settings"]["counter"] == 2
    });
    hub.wait_for("a motion clip", Duration::from_secs(30), |s| {
        s["cameras"]["porch"]["clips_recorded"]
            .as_u64()
            .unwrap_or(0)
            > before
    });

    // Written into the database by hand: number 3, signed by a key that is no device of
    // the chain. The hub refuses it at its next check and keeps number 2.
    let db = super::e2e::database(dir.path());
    let stored: Vec<u8> = sql(&db, async |conn| {
        sqlx::query_scalar("SELECT statement FROM hub_settings")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
    });
    let mut forged = SignedHubSettings::from_bytes(&stored)
        .unwrap()
        .settings()
        .clone();
    forged.counter = 3;
    forged.cameras[0].enabled = false;
    let forged = SignedHubSettings::sign(forged, &DeviceSecret::generate()).unwrap();
    sql(&db, async |conn| {
        sqlx::query("UPDATE hub_settings SET statement = ?1, counter = 3")
            .bind(forged.to_bytes())
            .execute(&mut *conn)
            .await
            .unwrap();
    });
    let status = hub.wait_for(
        "the forged settings refused",
        Duration::from_secs(25),
        |s| {
            s["settings"]["refused"]
                .as_str()
                .is_some_and(|r| r.starts_with("wrong_signer"))
        },
    );
    assert_eq!(status["settings"]["counter"], 2);
    assert_eq!(status["cameras"]["porch"]["off"], false);
    let log = hub.log_text();
    assert!(log.contains("hub settings refused"), "{log}");
    let seen = shown();
    assert_eq!(seen["applied_counter"], 2);
    assert_eq!(
        seen["counter"],
        serde_json::Value::Null,
        "not shown: {seen}"
    );
    assert!(
        seen["not_verified"]
            .as_str()
            .is_some_and(|t| t.contains("not a current device")),
        "{seen}"
    );
    assert!(
        seen["refused"]
            .as_str()
            .is_some_and(|t| t.starts_with("wrong_signer (number 3)")),
        "{seen}"
    );

    // A restart keeps number 2 (from the hub's state folder), and still refuses number 3.
    assert!(hub.terminate().success());
    let mut hub = RunningHub::start(&state, &config, local.clone());
    let status = hub.wait_for("the restarted hub", Duration::from_secs(30), |s| {
        s["settings"]["counter"] == 2 && s["settings"]["refused"].is_string()
    });
    assert_eq!(status["settings"]["source"], "signed");
    assert!(hub.terminate().success());
}

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
