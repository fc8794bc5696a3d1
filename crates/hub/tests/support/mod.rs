//! Test helpers: a real GStreamer RTSP server (`rtsp_server.py`) and fake broken cameras.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// Debian's interpreter: the `python3` first on PATH may be a build without `gi`.
const PYTHON: &str = "/usr/bin/python3";
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A GStreamer RTSP server on 127.0.0.1, killed when dropped.
pub struct RtspServer {
    child: Option<Child>,
    args: Vec<String>,
    pub port: u16,
    pub mount: String,
}

impl RtspServer {
    /// Starts a server with one of `rtsp_server.py`'s presets (`ball`, `h265`, `jpeg`, `audio`),
    /// or returns `None` after printing `rtsp leg skipped: <why>` if GStreamer's RTSP server or
    /// the preset's elements are not installed.
    pub fn preset(preset: &str) -> Option<Self> {
        Self::start(vec!["--preset".into(), preset.into()])
    }

    /// Like [`preset`](Self::preset), with credentials required (HTTP Basic).
    pub fn preset_with_user(preset: &str, user: &str, password: &str) -> Option<Self> {
        Self::start(vec![
            "--preset".into(),
            preset.into(),
            "--user".into(),
            format!("{user}:{password}"),
        ])
    }

    /// Starts a server with a launch line.
    pub fn launch(line: &str) -> Option<Self> {
        Self::start(vec!["--launch".into(), line.into()])
    }

    fn start(args: Vec<String>) -> Option<Self> {
        if let Err(why) = gstreamer_available() {
            println!("rtsp leg skipped: {why}");
            return None;
        }
        let mut server = Self {
            child: None,
            args,
            port: 0,
            mount: "/cam".into(),
        };
        match server.spawn(0) {
            Ok(port) => {
                server.port = port;
                Some(server)
            }
            Err(Spawn::Missing(why)) => {
                println!("rtsp leg skipped: {why}");
                None
            }
            Err(Spawn::Failed(why)) => panic!("the RTSP server did not start: {why}"),
        }
    }

    /// `rtsp://127.0.0.1:PORT/cam`.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}{}", self.port, self.mount)
    }

    /// Kills the server (as a camera losing power would vanish).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        // The port may linger briefly; retry a few times.
        let mut last = String::new();
        for _ in 0..20 {
            match self.spawn(self.port) {
                Ok(_) => return,
                Err(Spawn::Missing(why) | Spawn::Failed(why)) => last = why,
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "the RTSP server did not restart on port {}: {last}",
            self.port
        );
    }

    fn spawn(&mut self, port: u16) -> Result<u16, Spawn> {
        let mut child = Command::new(PYTHON)
            .arg(script())
            .args(["--port", &port.to_string(), "--mount", &self.mount])
            .args(&self.args)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Spawn::Failed(format!("cannot run {PYTHON}: {e}")))?;
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("ready") {
                    let _ = tx.send(line);
                }
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => {
                let port = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("port="))
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| Spawn::Failed(format!("odd ready line {line:?}")))?;
                self.child = Some(child);
                Ok(port)
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                let stderr = err_rx
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                let why = format!("exit {status:?}: {}", stderr.trim());
                if status.and_then(|s| s.code()) == Some(3) {
                    Err(Spawn::Missing(stderr.trim().to_owned()))
                } else {
                    Err(Spawn::Failed(why))
                }
            }
        }
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.kill();
    }
}

enum Spawn {
    /// A GStreamer element is not installed.
    Missing(String),
    Failed(String),
}

/// Next to this file, whichever crate's tests include it.
fn script() -> PathBuf {
    PathBuf::from(file!())
        .parent()
        .map(|dir| dir.join("rtsp_server.py"))
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| {
            // `file!()` is relative to the workspace root.
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(file!())
                .with_file_name("rtsp_server.py")
        })
}

/// Whether `/usr/bin/python3` can import GStreamer's RTSP server; checked once.
fn gstreamer_available() -> Result<(), String> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            let out = Command::new(PYTHON)
                .args([
                    "-c",
                    "import gi; gi.require_version('Gst', '1.0'); \
                     gi.require_version('GstRtspServer', '1.0'); \
                     from gi.repository import Gst, GstRtspServer",
                ])
                .output()
                .map_err(|e| format!("cannot run {PYTHON}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let last = stderr.lines().last().unwrap_or("").trim().to_owned();
                Err(format!(
                    "{PYTHON} cannot import GstRtspServer ({last}); install python3-gi \
                     gir1.2-gst-rtsp-server-1.0 and the gstreamer1.0-plugins packages"
                ))
            }
        })
        .clone()
}

/// How a fake camera misbehaves after accepting a TCP connection.
#[derive(Debug, Clone, Copy)]
pub enum Fake {
    /// Closes the connection at once.
    Close,
    /// Reads the request and never answers.
    Stall,
    /// Answers with bytes that are not RTSP.
    Garbage,
}

/// Listens on 127.0.0.1 and misbehaves with every connection; returns the port and a counter of
/// connections seen. Runs until the runtime ends.
pub async fn fake_camera(kind: Fake) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                match kind {
                    Fake::Close => drop(socket),
                    Fake::Stall => {
                        while let Ok(n) = socket.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                    Fake::Garbage => {
                        let _ = socket.read(&mut buf).await;
                        let garbage: Vec<u8> = (0..2048u32)
                            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                            .collect();
                        let _ = socket.write_all(b"\x00\xffNOT RTSP AT ALL\r\n\r\n").await;
                        let _ = socket.write_all(&garbage).await;
                        // Keep the connection open so the client must judge the bytes.
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                }
            });
        }
    });
    (port, seen)
}
