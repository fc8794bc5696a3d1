//! The server binary as a child process, and what `/proc` says about a process.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

/// `given`, or the workspace's release build of `porchlight` (`cargo build --release -p
/// porchlight` first).
pub fn porchlight_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    const NOT_BUILT: &str =
        "build the binary first with `cargo build --release -p porchlight`, or name one";
    let bin = match given {
        Some(path) => path.to_path_buf(),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/release/porchlight")
            .canonicalize()
            .context(NOT_BUILT)?,
    };
    ensure!(
        bin.is_file(),
        "{} is not a file: {NOT_BUILT}",
        bin.display()
    );
    Ok(bin)
}

/// How long the server may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server may take to stop after SIGTERM before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Server log lines at WARN or ERROR kept for the report.
pub const KEPT_LOG_LINES: usize = 20;

/// The server binary running as a child process; killed when dropped, so an error anywhere
/// does not leave it behind.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
    drain: Option<JoinHandle<()>>,
}

impl ServerProcess {
    pub fn start(bin: &Path, data_dir: &Path) -> anyhow::Result<Self> {
        Self::start_at(bin, data_dir, "127.0.0.1:0")
    }

    /// [`Self::start`] on `listen` (a restart on the address clients were given).
    pub fn start_at(bin: &Path, data_dir: &Path, listen: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--listen")
            .arg(listen)
            .arg("--data")
            .arg(data_dir)
            .env("PORCHLIGHT_LOG_FORMAT", "json")
            .env("PORCHLIGHT_LOG_FILTER", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the server's standard output was not captured");
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let drain = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || drain_log(stdout, &addr_tx, &log))
        };
        let mut server = Self {
            child,
            pid,
            addr: String::new(),
            log,
            drain: Some(drain),
        };
        match addr_rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => server.addr = addr,
            Err(_) => bail!(
                "the server did not report listening within {} s ({}); its last warnings: {}",
                START_TIMEOUT.as_secs(),
                server.exit_state(),
                server.log_lines().join(" | ")
            ),
        }
        Ok(server)
    }

    pub fn exit_state(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => format!("exited: {status}"),
            Ok(None) => "still running".into(),
            Err(e) => format!("state unknown: {e}"),
        }
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// SIGTERM (graceful shutdown), then SIGKILL if it has not exited in time.
    pub fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        let termed = Command::new("/bin/kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if termed.is_ok_and(|s| s.success()) {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if let Some(status) = self.child.try_wait().context("waiting for the server")? {
                    self.join_drain();
                    return Ok(status);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.child.kill().context("killing the server")?;
        let status = self.child.wait().context("waiting for the server")?;
        self.join_drain();
        bail!("the server did not stop on SIGTERM within {STOP_TIMEOUT:?}; killed ({status})")
    }

    /// SIGKILL: a crash, with no graceful shutdown.
    pub fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        self.child.kill().context("killing the server")?;
        let status = self.child.wait().context("waiting for the server")?;
        self.join_drain();
        Ok(status)
    }

    fn join_drain(&mut self) {
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads the server's JSON log lines until it exits: sends the address from the "porchlight
/// serving" line, keeps the first WARN and ERROR lines.
fn drain_log(
    stdout: std::process::ChildStdout,
    addr: &mpsc::Sender<String>,
    log: &Mutex<Vec<String>>,
) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if event["message"] == "porchlight serving"
            && let Some(a) = event["addr"].as_str()
        {
            let _ = addr.send(a.to_owned());
        }
        if matches!(event["level"].as_str(), Some("WARN" | "ERROR")) {
            let mut kept = log.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() < KEPT_LOG_LINES {
                kept.push(line);
            }
        }
    }
}

/// A number from `/proc/PID/status` (`VmRSS` and `VmHWM` are in KiB, `Threads` a count), if
/// the process exists.
pub fn read_status(pid: u32, field: &str) -> Option<u64> {
    status_field(
        &fs::read_to_string(format!("/proc/{pid}/status")).ok()?,
        field,
    )
}

pub fn status_field(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// User + system CPU seconds of every thread of a process (`/proc/PID/stat`; `self` for this
/// one), in the kernel's clock ticks of 1/100 s (`USER_HZ`, 100 on every Linux port that
/// matters here).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; fields 14 and 15
    // (utime, stime) are the 12th and 13th after it.
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS_PER_SECOND)
}
